"""Explorers for chapter 9: collective time against message size for every algorithm, with the
latency/bandwidth crossovers marked, and a ring all-reduce on real topologies. Controls and plots
only: the costs, the best algorithm and the ring scenarios come from :mod:`aichip.alphabeta` and
:mod:`aichip.collectives`."""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from .. import alphabeta as ab
from .. import collectives as co
from ..validation import check_int
from .static import explorer

__all__ = [
    "SIZES", "PICTURED", "decode_cells", "draw_collectives", "draw_ring_steps", "plot_costs",
    "cost_explorer", "plot_measured_vs_model", "plot_ring_on_systems", "topology_ring_explorer",
    "plot_nvls_vs_ring", "plot_protocols",
]

SIZES = ab.DEFAULT_SIZES   # 1 B .. 2 GiB, three per octave


#: ops in the order the chapter introduces them, each with the algorithm its picture runs
PICTURED = {"broadcast": "binomial_tree", "reduce": "binomial_tree", "allgather": "ring",
            "reduce_scatter": "ring", "allreduce": "ring", "alltoall": "pairwise"}
_LETTERS = "abcdefgh"
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")  # plain text: no mathtext to parse


def _tagged_inputs(op: str, n_ranks: int, root: int = 0):
    """Inputs that let a picture read back where every element came from: ``who[r, j] = 2**r``
    (a sum of them is the set of contributing ranks) and ``pos[r, j] = j`` (the element index);
    broadcast's non-root ranks hold nothing (zeros)."""
    count = 1 if op == "allgather" else n_ranks
    who = np.repeat(2.0 ** np.arange(n_ranks)[:, None], count, axis=1)
    pos = np.repeat(np.arange(count, dtype=float)[None, :], n_ranks, axis=0)
    if op == "broadcast":
        keep = np.arange(n_ranks) == root
        who, pos = who * keep[:, None], pos * keep[:, None]
    return who, pos


def decode_cells(who, pos) -> list[str]:
    """Cell labels from tagged values: the contributing ranks as letters (rank 0 = a) with the
    element index as a subscript digit, ``""`` where a rank holds nothing (0 or ``None``)."""
    out = []
    for w_val, p_val in zip(who, pos, strict=True):
        mask = int(round(w_val))
        if mask <= 0:
            out.append("")
            continue
        ranks = [r for r in range(mask.bit_length()) if mask >> r & 1]
        index = int(round(p_val / len(ranks)))
        out.append("".join(_LETTERS[r] for r in ranks) + str(index).translate(_SUBSCRIPTS))
    return out


def _draw_buffers(ax, rows_who, rows_pos, n_ranks, width, title, changed=None):
    cmap = plt.get_cmap("tab10")
    for r in range(n_ranks):
        who, pos = rows_who[r], rows_pos[r]
        labels = decode_cells(who, pos) if who is not None else []
        for j in range(width):
            label = labels[j] if j < len(labels) else ""
            if label:
                mask = int(round(who[j]))
                ranks = [k for k in range(n_ranks) if mask >> k & 1]
                color = np.mean([cmap(k)[:3] for k in ranks], axis=0)
                alpha = 0.45 + 0.55 * len(ranks) / n_ranks
            else:
                color, alpha = (1.0, 1.0, 1.0), 1.0
            edge = "k" if changed is not None and changed[r, j] else "0.7"
            ax.add_patch(plt.Rectangle((j, -r - 0.45), 0.94, 0.9, facecolor=color, alpha=alpha,
                                       edgecolor=edge, lw=2.2 if edge == "k" else 0.8,
                                       gid=f"cell:{r}:{j}"))
            ax.text(j + 0.47, -r, label, ha="center", va="center", fontsize=8, gid=f"label:{r}:{j}")
    ax.set_xlim(-0.1, width)
    ax.set_ylim(-n_ranks + 0.4, 0.6)
    ax.set_yticks([-r for r in range(n_ranks)], [f"rank {r}" for r in range(n_ranks)], fontsize=8)
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(title, fontsize=9)


def draw_collectives(n_ranks: int = 4, axes=None):
    """Before and after each collective of :data:`PICTURED` on ``n_ranks`` ranks, run by
    :func:`aichip.collectives.execute`: rank r's data is letter r (rank 0 = a), the subscript the
    element index, a cell with several letters holds their sum. Returns the axes (ops x 2)."""
    n_ranks = check_int("n_ranks", n_ranks, minimum=2, maximum=len(_LETTERS))
    if axes is None:
        _, axes = plt.subplots(len(PICTURED), 2, figsize=(9, 1.0 + 0.42 * n_ranks * len(PICTURED)))
    axes = np.asarray(axes)
    if axes.shape != (len(PICTURED), 2):
        raise ValueError(f"axes must have shape ({len(PICTURED)}, 2), got {axes.shape}")
    for (op, alg), (ax_before, ax_after) in zip(PICTURED.items(), axes, strict=True):
        who, pos = _tagged_inputs(op, n_ranks)
        states, _ = co.buffers_by_step(op, alg, who)
        states_pos, _ = co.buffers_by_step(op, alg, pos)
        got_who, _ = co.execute(op, alg, who)
        got_pos, _ = co.execute(op, alg, pos)
        used = int(np.nonzero(states[0].any(axis=0))[0].max()) + 1   # columns the inputs fill
        width = max(used, max(len(g) for g in got_who if g is not None))
        _draw_buffers(ax_before, states[0], states_pos[0], n_ranks, width,
                      f"{op.replace('_', '-')}: before")
        _draw_buffers(ax_after, got_who, got_pos, n_ranks, width,
                      f"{op.replace('_', '-')}: after ({alg.replace('_', ' ')})")
    return axes


def draw_ring_steps(n_ranks: int = 4, axes=None):
    """The ring all-reduce step by step (:func:`aichip.collectives.buffers_by_step`): every rank's
    buffer before the first step and after each of the 2(p-1) steps, the cells a step wrote
    outlined, the messages listed under each panel. Returns the axes (2 rows x ``n_ranks``)."""
    n_ranks = check_int("n_ranks", n_ranks, minimum=2, maximum=len(_LETTERS))
    who, pos = _tagged_inputs("allreduce", n_ranks)
    states, sched = co.buffers_by_step("allreduce", "ring", who)
    states_pos, _ = co.buffers_by_step("allreduce", "ring", pos)
    if axes is None:
        _, axes = plt.subplots(2, n_ranks, figsize=(min(11.0, 2.4 * n_ranks), 2.0 + 0.9 * n_ranks))
    axes = np.asarray(axes)
    if axes.shape != (2, n_ranks):
        raise ValueError(f"axes must have shape (2, {n_ranks}), got {axes.shape}")
    panels = list(axes.flat)
    messages = sched.messages()
    _draw_buffers(panels[0], states[0], states_pos[0], n_ranks, states.shape[2], "before step 1")
    for k in range(1, sched.n_steps + 1):
        step = [m for m in messages if m["step"] == k - 1]
        action = "add (reduce-scatter)" if step[0]["action"] == "add" else "copy (all-gather)"
        changed = states[k] != states[k - 1]
        _draw_buffers(panels[k], states[k], states_pos[k], n_ranks, states.shape[2],
                      f"after step {k}: {action}", changed)
        panels[k].set_xlabel("\n".join(f"{m['src']} -> {m['dst']}: element {m['first']}"
                                        for m in step), fontsize=7)
    for ax in panels[sched.n_steps + 1:]:
        ax.axis("off")
    return axes


def plot_costs(op="allreduce", n_ranks=16, alpha_us=5.0, bw_GBps=25.0, gamma_GBps=0.0,
               ranks_per_node=4, ax=None, chunks=8):
    """Closed-form time against message size for each algorithm; crossovers marked
    (``chunks``: the pipelined tree's chunk count)."""
    ax = ax or plt.gca()
    alpha, beta = alpha_us * 1e-6, 1.0 / (bw_GBps * 1e9)
    gamma = 0.0 if gamma_GBps <= 0 else 1.0 / (gamma_GBps * 1e9)
    for alg, kw in ab.usable_algorithms(op, n_ranks, ranks_per_node=ranks_per_node,
                                        chunks=chunks).items():
        t = [ab.cost(op, alg, n_ranks, n, alpha, beta, gamma, **kw) for n in SIZES]
        ax.loglog(SIZES, np.array(t) * 1e6, label=alg.replace("_", " "))
    for x, was, now in ab.best_algorithm_changes(op, n_ranks, alpha, beta, gamma, SIZES,
                                                 ranks_per_node=ranks_per_node, chunks=chunks):
        ax.axvline(x, color="k", ls=":", lw=1)
        ax.annotate(f"{x:,.0f} B\n{was} -> {now}".replace("_", " "), (x, ax.get_ylim()[0]),
                    xytext=(4, 10), textcoords="offset points", fontsize=7, rotation=90,
                    va="bottom")
    ax.set_xlabel("message size n (bytes)")
    ax.set_ylabel("time (us)")
    ax.set_title(f"{op}, {n_ranks} ranks, alpha = {alpha_us:g} us, {bw_GBps:g} GB/s per direction")
    ax.legend(fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    return ax


def cost_explorer(op="allreduce", n_ranks=16, alpha_us=5.0, bw_GBps=25.0, gamma_GBps=0.0,
                  ranks_per_node=4, chunks=8) -> w.Widget:
    """Pick an op, rank count and link parameters; see every algorithm's time and the crossovers."""
    ab.usable_algorithms(op, n_ranks)          # rejects an unknown op or rank count
    style = {"description_width": "150px"}
    layout = w.Layout(width="480px")
    wop = w.Dropdown(options=tuple(ab.OPS), value=op, description="operation", style=style,
                     layout=layout)
    wp = w.IntSlider(value=n_ranks, min=2, max=256, description="ranks p", style=style,
                     layout=layout)
    wa = w.FloatLogSlider(value=alpha_us, base=10, min=-1, max=2, step=0.05,
                          description="alpha (us)", style=style, layout=layout)
    wb = w.FloatLogSlider(value=bw_GBps, base=10, min=0, max=3, step=0.05,
                          description="link GB/s (1/beta)", style=style, layout=layout)
    wg = w.FloatSlider(value=gamma_GBps, min=0, max=500, step=5,
                       description="reduce GB/s (0: free)", style=style, layout=layout)
    wn = w.IntSlider(value=ranks_per_node, min=1, max=16, description="ranks per node",
                     style=style, layout=layout)
    wk = w.IntSlider(value=chunks, min=1, max=256, description="tree chunks k",
                     style=style, layout=layout)

    def draw(op, p, a, b, g, rpn, k):
        _, ax = plt.subplots(figsize=(8, 4.8))
        plot_costs(op, p, a, b, g, rpn, ax, k)
        plt.show()

    # the static page: every operation; for each, the other controls moved one at a time (ranks
    # and alpha over the values the page offered before, the others to one more value each)
    axes = {"p": sorted({4, 64, 256, n_ranks}), "a": sorted({0.5, 5.0, 50.0, alpha_us}),
            "b": sorted({250.0, bw_GBps}), "g": sorted({50.0, gamma_GBps}),
            "rpn": sorted({8, ranks_per_node}), "k": sorted({64, chunks})}
    return explorer(draw, {"op": wop, "p": wp, "a": wa, "b": wb, "g": wg, "rpn": wn, "k": wk},
                    {"op": list(ab.OPS)}, axes=axes)


def plot_measured_vs_model(comparison, axes):
    """One panel per rank count: measured all-reduce time (markers) and the model of the
    algorithm MPICH ran (dashed, same colour), from :func:`aichip.mpibench.model_comparison` rows
    (a pandas DataFrame)."""
    for ax, (p, part) in zip(axes, comparison.groupby("n_ranks"), strict=True):
        for k, (alg, rows) in enumerate(part.groupby("algorithm", sort=False)):
            colour = f"C{k}"
            ax.loglog(rows["size_B"], rows["measured_us"], "o-", color=colour, ms=4,
                      label=f"{alg.replace('_', ' ')}: measured")
            ax.loglog(rows["size_B"], rows["model_us"], "--", color=colour, label="  model")
        ax.set_title(f"MPI all-reduce, {p} ranks, MPICH forced to each algorithm")
        ax.set_xlabel("message size (bytes)")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("time (us)")
    axes[0].legend(fontsize=7, ncol=2)
    return axes


def plot_ring_on_systems(alpha_us: float = 5.0, ax=None, sizes=None):
    """Bus bandwidth of a simulated 8-GPU ring all-reduce against message size on each of
    :func:`aichip.collectives.ring_scenarios`."""
    ax = ax or plt.gca()
    sizes = np.logspace(10, 30, 11, base=2.0).astype(int) // 64 * 64 if sizes is None else sizes
    curves: dict = {}
    for n in sizes:
        for name, (_, busbw) in co.ring_on_systems(int(n), alpha_us * 1e-6).items():
            curves.setdefault(name, []).append(busbw)
    for name, bw in curves.items():
        ax.semilogx(sizes, bw, marker="o", ms=3, label=name)
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("bus bandwidth (GB/s)")
    ax.set_title(f"Ring all-reduce on 8 GPUs, simulated (alpha = {alpha_us:g} us per step)")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return ax


def topology_ring_explorer(alpha_us: float = 5.0) -> w.Widget:
    """Ring all-reduce bus bandwidth against message size on the DGX-1 V100 and NVSwitch systems."""
    wa = w.FloatLogSlider(value=alpha_us, base=10, min=-1, max=2, step=0.1,
                          description="alpha (us)", style={"description_width": "100px"})

    def draw(a):
        _, ax = plt.subplots(figsize=(8, 4.5))
        plot_ring_on_systems(a, ax)
        plt.show()

    grid = {"a": sorted({0.1, 0.5, 1.0, 5.0, 20.0, 100.0, alpha_us})}
    return explorer(draw, {"a": wa}, grid)


def plot_nvls_vs_ring(alpha_us: float = 5.0, ax=None, sizes=None):
    """Algorithm and bus bandwidth of the simulated 8-GPU all-reduce on a DGX H100, ring against
    NVLink SHARP (:func:`aichip.collectives.nvls_vs_ring`), against message size."""
    ax = ax or plt.gca()
    sizes = np.logspace(16, 32, 9, base=2.0).astype(int) if sizes is None else sizes
    runs = [co.nvls_vs_ring(int(n), alpha_us * 1e-6) for n in sizes]
    for name, color in (("ring", "C0"), ("nvls", "C3")):
        ax.semilogx(sizes, [r[name][2] for r in runs], color=color, marker="o", ms=3,
                    label=f"{name} busbw")
        ax.semilogx(sizes, [r[name][1] for r in runs], color=color, ls="--", marker="s", ms=3,
                    label=f"{name} algbw")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("bandwidth (GB/s)")
    ax.set_title(f"All-reduce on a DGX H100, simulated (alpha = {alpha_us:g} us per step)")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return ax


def plot_protocols(op: str = "allreduce", algorithm: str = "ring", n_ranks: int = 8,
                   link_GBps: float = 370.0, ax=None, sizes=None, **params):
    """Bus bandwidth of ``op`` with ``algorithm`` under each of NCCL's protocols
    (:func:`aichip.alphabeta.protocol_cost`) against message size; dotted lines where the fastest
    protocol changes (:func:`aichip.alphabeta.protocol_changes`)."""
    ax = ax or plt.gca()
    sizes = np.logspace(10, 32, 45, base=2.0) if sizes is None else np.asarray(sizes, dtype=float)
    for pr in ab.PROTOCOLS:
        times = [ab.protocol_cost(op, algorithm, n_ranks, n, link_GBps, pr, **params)
                 for n in sizes]
        ax.semilogx(sizes, [ab.bus_bandwidth(op, n / t / 1e9, n_ranks)
                            for n, t in zip(sizes, times, strict=True)], label=pr)
    for x, _, now in ab.protocol_changes(op, algorithm, n_ranks, link_GBps, sizes=sizes,
                                         **params):
        ax.axvline(x, color="gray", ls=":", lw=1)
        ax.annotate(now, (x, ax.get_ylim()[1]), fontsize=8, rotation=90, va="top", ha="right")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("bus bandwidth (GB/s)")
    ax.set_title(f"{algorithm} {op} on {n_ranks} ranks, {link_GBps:g} GB/s: NCCL's protocols")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return ax
