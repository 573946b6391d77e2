"""Explorers for chapter 7: occupancy of a kernel launch; block-sparse speed-up curves."""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import gpu, sparse
from ..validation import check_choice, check_int
from .static import explorer

__all__ = ["plot_occupancy", "occupancy_explorer", "plot_sparse_speedup", "sparse_explorer"]

_COLORS = {"warps": "C0", "blocks": "C1", "registers": "C2", "shared": "C3", "invalid": "0.6"}


def plot_occupancy(compute_capability: str = "8.0", threads_per_block: int = 256,
                   registers_per_thread: int = 32, shared_bytes_per_block: int = 0, axes=None):
    """Occupancy vs threads per block, registers per thread and shared memory around one launch.

    Each panel varies one parameter (the others fixed at the launch's values); the points are
    coloured by the limit that binds, and the launch itself is marked.
    """
    now = gpu.occupancy(compute_capability, threads_per_block, registers_per_thread,
                        shared_bytes_per_block)
    lim = gpu.cuda_limits(compute_capability)
    sweeps = [("threads_per_block", np.arange(32, lim.max_threads_per_block + 1, 32),
               threads_per_block, "threads per block"),
              ("registers_per_thread", np.arange(16, lim.max_registers_per_thread + 1, 8),
               registers_per_thread, "registers per thread"),
              ("shared_bytes_per_block",
               np.arange(0, lim.max_shared_bytes_per_block + 1, 2048), shared_bytes_per_block,
               "shared memory per block (bytes)")]
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(10.5, 3.4), sharey=True)
    launch = dict(threads_per_block=threads_per_block, registers_per_thread=registers_per_thread,
                  shared_bytes_per_block=shared_bytes_per_block)
    for ax, (name, values, current, label) in zip(axes, sweeps, strict=True):
        df = gpu.occupancy_sweep(compute_capability, name, [int(v) for v in values],
                                 **{k: v for k, v in launch.items() if k != name})
        ax.step(df[name], df["occupancy"], where="post", color="0.7", lw=1)
        for limiter, part in df.groupby("limiter"):
            ax.scatter(part[name], part["occupancy"], s=10, color=_COLORS[limiter], label=limiter)
        ax.scatter([current], [now.occupancy], s=90, facecolor="none", edgecolor="k", zorder=3)
        ax.set(xlabel=label, ylim=(-0.03, 1.05))
    axes[0].set_ylabel("occupancy (active warps / max)")
    axes[0].legend(title="binding limit", fontsize=8)
    axes[0].figure.suptitle(f"compute capability {compute_capability}: {threads_per_block} "
                            f"threads, {registers_per_thread} registers, {shared_bytes_per_block} "
                            f"B shared per block -> {now.blocks_per_sm} blocks per SM, "
                            f"occupancy {now.occupancy:.0%}, limited by {now.limiter}", fontsize=10)
    return axes


def occupancy_explorer(compute_capability: str = "8.0", threads_per_block: int = 256,
                       registers_per_thread: int = 64, shared_KiB: int = 16) -> w.Widget:
    """Sliders over :func:`aichip.gpu.occupancy`: compute capability, threads, registers, shared."""
    check_choice("compute_capability", compute_capability, gpu.compute_capabilities())
    check_int("threads_per_block", threads_per_block, minimum=32, maximum=1024)
    check_int("registers_per_thread", registers_per_thread, minimum=16, maximum=255)
    check_int("shared_KiB", shared_KiB, minimum=0, maximum=227)
    style = {"description_width": "150px"}
    cc = w.Dropdown(options=list(gpu.compute_capabilities()), value=compute_capability,
                    description="compute capability", style=style)
    threads = w.IntSlider(value=threads_per_block, min=32, max=1024, step=32,
                          description="threads per block", style=style)
    regs = w.IntSlider(value=registers_per_thread, min=16, max=255, description="registers/thread",
                       style=style)
    smem = w.IntSlider(value=shared_KiB, min=0, max=227, description="shared KiB/block",
                       style=style)

    def draw(c, t, r, s):
        try:
            plot_occupancy(c, t, r, s * 1024)
            plt.tight_layout()
            plt.show()
        except ValueError as err:   # a launch the GPU would refuse: say which limit
            print(f"invalid launch: {err}")

    grid = {"c": sorted({"7.0", "8.0", "9.0", compute_capability}),
            "t": sorted({128, 256, 1024, threads_per_block}),
            "r": sorted({32, 64, 128, registers_per_thread}), "s": sorted({16, 96, shared_KiB})}
    return explorer(draw, {"c": cc, "t": threads, "r": regs, "s": smem}, grid,
                    arrange=lambda c: w.VBox([w.HBox([c["c"], c["t"]]), w.HBox([c["r"], c["s"]])]))


def plot_sparse_speedup(df: pd.DataFrame, block_size: int | None = None, ax=None):
    """Speed-up of the block-sparse kernel vs density (from :func:`aichip.sparse.sweep`)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    sizes = sorted(df["block_size"].unique()) if block_size is None else [block_size]
    for i, b in enumerate(sizes):
        part = df[df["block_size"] == b].sort_values("density")
        ax.plot(part["density"], part["speedup_vs_numpy"], "o-", color=f"C{i}",
                label=f"block {b}: vs NumPy dense")
        ax.plot(part["density"], part["speedup_vs_own_dense"], "s:", color=f"C{i}", alpha=0.6,
                label=f"block {b}: vs its own dense run")
        cross = sparse.crossover_density(df, b)
        if cross is not None:
            ax.axvline(cross, color=f"C{i}", ls="--", lw=0.8)
    d = np.sort(df["density"].unique())
    ax.plot(d, 1 / d, color="0.5", lw=1, label="ideal: 1 / density")
    ax.axhline(1, color="k", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="density (fraction of blocks stored)",
           ylabel="speed-up (x)",
           title=f"block-sparse x @ W, n = {int(df['n'].iloc[0])}, float32\n"
                 f"dashed: density below which it beats NumPy")
    ax.legend(fontsize=7)
    return ax


def sparse_explorer(df: pd.DataFrame, block_size: int | None = None) -> w.Widget:
    """Pick a block size (or all: ``None``) and see the measured speed-up curves of
    :func:`sparse.sweep`."""
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise TypeError("df must be the non-empty DataFrame aichip.sparse.sweep returns")
    options = [("all", None)] + [(str(b), int(b)) for b in sorted(df["block_size"].unique())]
    if block_size not in [v for _, v in options]:
        raise ValueError(f"block_size must be one of {[v for _, v in options]}, got {block_size!r}")
    pick = w.ToggleButtons(options=options, value=block_size, description="block size")

    def draw(b):
        plot_sparse_speedup(df, b)
        plt.show()

    return explorer(draw, {"b": pick}, grid={"b": [v for _, v in options]})
