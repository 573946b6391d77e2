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
from .static import explorer

SIZES = np.logspace(0, 31, 94, base=2.0)   # 1 B .. 2 GiB


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

    grid = {"op": list(ab.OPS), "p": sorted({4, 64, 256, n_ranks}),
            "a": sorted({0.5, 5.0, 50.0, alpha_us})}
    return explorer(draw, {"op": wop, "p": wp, "a": wa, "b": wb, "g": wg, "rpn": wn, "k": wk},
                    grid)


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
