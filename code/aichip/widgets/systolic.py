"""Explorers for the systolic-array chapter (ch-systolic).

Step through a small array; utilisation over array shapes.
"""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from .. import systolic as sy
from ..validation import check_choice, check_int
from .static import explorer

__all__ = [
    "draw_cycle", "draw_wavefront", "systolic_stepper", "plot_utilization", "utilization_explorer",
]

_WHAT = {"os": ("A[m,k] →", "B[k,n] ↓", "acc C[m,n]"),
         "ws": ("A[m,k] →", "psum ↓", "B[k,n]"),
         "is": ("B[k,n] →", "psum ↓", "A[m,k]")}


def draw_cycle(trace: sy.Trace, cycle: int, ax=None):
    """Draw the array at ``cycle``: busy PEs shaded, the values each PE holds written inside."""
    n_cycles, rows, cols = trace.busy.shape
    cycle = check_int("cycle", cycle, minimum=0, maximum=n_cycles - 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * cols + 1, 1.3 * rows + 1))
    ax.imshow(trace.busy[cycle], cmap="Oranges", vmin=0, vmax=1.6, aspect="auto")
    h_name, v_name, s_name = _WHAT[trace.dataflow]
    for r in range(rows):
        for c in range(cols):
            lines = []
            if trace.busy[cycle, r, c]:
                lines += [f"h {trace.horizontal[cycle, r, c]:g}",
                          f"v {trace.vertical[cycle, r, c]:g}"]
            s = trace.stationary[cycle, r, c]
            if not np.isnan(s):
                lines.append(f"s {s:g}")
            ax.text(c, r, "\n".join(lines), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(cols), [f"col {c}" for c in range(cols)])
    ax.set_yticks(range(rows), [f"row {r}" for r in range(rows)])
    busy = int(trace.busy[cycle].sum())
    ax.set_title(f"{trace.dataflow.upper()} cycle {cycle + 1}/{n_cycles}, newest fold "
                 f"{trace.fold_of_cycle[cycle] + 1}: {busy} of {rows * cols} PEs busy\n"
                 f"h = {h_name}, v = {v_name}, s = {s_name}", fontsize=9)
    return ax


def draw_wavefront(trace: sy.Trace, first_cycle: int, n_cycles: int = 4, axes=None):
    """:func:`draw_cycle` for ``n_cycles`` consecutive cycles from ``first_cycle``, side by side:
    the wavefront of busy PEs moving through the array. Returns the axes."""
    total = trace.busy.shape[0]
    n_cycles = check_int("n_cycles", n_cycles, minimum=1, maximum=total)
    first_cycle = check_int("first_cycle", first_cycle, minimum=0, maximum=total - n_cycles)
    if axes is None:
        rows, cols = trace.busy.shape[1:]
        width, height = n_cycles * (1.2 * cols + 0.8), 1.1 * rows + 1.4
        shrink = min(1.0, 10.5 / width)   # at most 10.5 inches: legible at the page's width
        _, axes = plt.subplots(1, n_cycles, figsize=(width * shrink, height * max(shrink, 0.7)))
    axes = np.atleast_1d(axes)
    if axes.size != n_cycles:
        raise ValueError(f"axes must hold n_cycles={n_cycles} axes, got {axes.size}")
    for ax, cycle in zip(axes.flat, range(first_cycle, first_cycle + n_cycles),
                         strict=True):
        draw_cycle(trace, cycle, ax)
        ax.title.set_fontsize(8)
    return axes


def _overlaps(dataflow: str, pipelined: bool) -> bool:
    """Whether a run overlaps its folds: the explorers' pipelined box means nothing under OS,
    whose folds never overlap (:func:`aichip.systolic.trace_gemm` refuses it there)."""
    return bool(pipelined) and dataflow != "os"


def systolic_stepper(M: int = 4, N: int = 4, K: int = 3, rows: int = 3, cols: int = 3,
                     dataflow: str = "os", cycle: int = 4, seed: int = 0) -> w.Widget:
    """Step through the cycles of a small array computing ``A @ B`` (small integer operands)."""
    for name, v in (("M", M), ("N", N), ("K", K)):
        check_int(name, v, minimum=1, maximum=12)
    check_int("rows", rows, minimum=1, maximum=6)
    check_int("cols", cols, minimum=1, maximum=6)
    check_choice("dataflow", dataflow, sy.DATAFLOWS)
    rng = np.random.default_rng(seed)
    style = {"description_width": "80px"}
    pick = w.ToggleButtons(options=list(sy.DATAFLOWS), value=dataflow, description="dataflow",
                           style=style)
    step = w.IntSlider(value=cycle, min=0, max=200, description="cycle", style=style)
    A = rng.integers(1, 10, (M, K))
    B = rng.integers(1, 10, (K, N))

    overlap = w.Checkbox(value=False, description="pipelined (double-buffered; ws, is)",
                         style={"description_width": "initial"})

    # every trace the controls can ask for, computed once: each view draws one, and the static
    # page's extent and same_view need their lengths
    traces = {(df, p): sy.trace_gemm(A, B, rows, cols, df, pipelined=p)
              for df in sy.DATAFLOWS for p in (False, True) if not (p and df == "os")}

    def draw(df, cyc, pipelined):
        overlap.disabled = df == "os"
        trace = traces[df, _overlaps(df, pipelined)]
        step.max = trace.busy.shape[0] - 1
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), width_ratios=[1.4, 1])
        draw_cycle(trace, min(cyc, trace.busy.shape[0] - 1), axes[0])
        activity = trace.busy.sum(axis=(1, 2))
        axes[1].step(np.arange(1, len(activity) + 1), activity, where="mid")
        axes[1].axvline(min(cyc, len(activity) - 1) + 1, color="C3", ls=":")
        axes[1].set(xlabel="cycle", ylabel="busy PEs", ylim=(0, rows * cols + 0.5),
                    title=f"activity: {int(activity.sum())} MACs in {len(activity)} cycles")
        plt.tight_layout()
        plt.show()
        print(f"A ({M}x{K}) =\n{A}\nB ({K}x{N}) =\n{B}\nproduct correct: "
              f"{np.array_equal(trace.product, A @ B)}")

    # the static page offers every cycle of the longest trace (shorter ones stop at their last);
    # at each cycle the dataflow and pipelining move one at a time (a full grid of all three
    # would pass MAX_VIEWS for the chapter's product)
    longest = max(t.busy.shape[0] for t in traces.values())
    step.max = max(longest - 1, cycle)
    grid = {"cyc": sorted(set(range(longest)) | {cycle})}
    axes = {"df": list(sy.DATAFLOWS), "pipelined": [False, True]}

    def same_view(df, cyc, pipelined):   # draw's view: a cycle past the end shows the last one
        key = df, _overlaps(df, pipelined)
        return (*key, min(cyc, traces[key].busy.shape[0] - 1))

    return explorer(draw, {"df": pick, "cyc": step, "pipelined": overlap}, grid, axes=axes,
                    arrange=lambda c: w.VBox([c["df"], c["pipelined"], c["cyc"]]),
                    same_view=same_view)


def plot_utilization(M: int, N: int, K: int, dataflow: str, sizes=(4, 8, 16, 32, 64, 128, 256),
                     ax=None, title: str | None = None, pipelined: bool = False):
    """Heat map of :func:`aichip.systolic.utilization_grid` with the values written in the cells."""
    grid = sy.utilization_grid(M, N, K, dataflow, sizes, pipelined)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, origin="lower")
    for i in range(len(sizes)):
        for j in range(len(sizes)):
            ax.text(j, i, f"{grid[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="w" if grid[i, j] < 0.6 else "k")
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set_yticks(range(len(sizes)), sizes)
    ax.set(xlabel="array columns", ylabel="array rows",
           title=title or f"{dataflow.upper()} utilisation, GEMM M={M} N={N} K={K}, "
                          f"{'pipelined' if pipelined else 'no fold overlap'}")
    plt.colorbar(im, ax=ax, label="utilisation (useful MACs / PE-cycles)")
    return ax


def utilization_explorer(layers: dict, layer: str | None = None, dataflow: str = "ws") -> w.Widget:
    """Pick a layer (name -> (M, N, K)) and a dataflow; see utilisation over array shapes."""
    if not isinstance(layers, dict) or not layers:
        raise TypeError("layers must be a non-empty dict of name -> (M, N, K)")
    layer = layer if layer is not None else next(iter(layers))
    if layer not in layers:
        raise ValueError(f"layer must be one of {list(layers)}, got {layer!r}")
    check_choice("dataflow", dataflow, sy.DATAFLOWS)
    pick = w.Dropdown(options=list(layers), value=layer, description="layer")
    df = w.ToggleButtons(options=list(sy.DATAFLOWS), value=dataflow, description="dataflow")
    overlap = w.Checkbox(value=False, description="pipelined (double-buffered; ws, is)",
                         style={"description_width": "initial"})

    def draw(name, flow, pipelined):
        overlap.disabled = flow == "os"
        pipelined = _overlaps(flow, pipelined)
        M, N, K = layers[name]
        schedule = "pipelined" if pipelined else "no fold overlap"
        plot_utilization(M, N, K, flow, pipelined=pipelined,
                         title=f"{name} (M={M}, N={N}, K={K}), {flow.upper()}, {schedule}")
        plt.show()

    grid = {"name": list(layers), "flow": list(sy.DATAFLOWS), "pipelined": [False, True]}
    return explorer(draw, {"name": pick, "flow": df, "pipelined": overlap}, grid,
                    same_view=lambda name, flow, pipelined: (name, flow,
                                                             _overlaps(flow, pipelined)))
