"""Explorers for chapter 9: collective time against message size for every algorithm, with the
latency/bandwidth crossovers marked, and a ring all-reduce on real topologies."""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from .. import alphabeta as ab
from .. import collectives as co
from .. import topology as tp

SIZES = np.logspace(0, 31, 94, base=2.0)   # 1 B .. 2 GiB


def usable_algorithms(op: str, n_ranks: int, ranks_per_node: int = 4) -> dict:
    """Algorithms of ``op`` that accept ``n_ranks``, with the keyword arguments they need."""
    out = {}
    for alg in ab.ALGORITHMS[op]:
        kw = {"ranks_per_node": ranks_per_node} if alg == "hierarchical" else {}
        try:
            ab.check_op_algorithm(op, alg, n_ranks, kw.get("ranks_per_node"))
        except ValueError:
            continue
        out[alg] = kw
    return out


def best_algorithm_changes(op, n_ranks, alpha_s, beta_s_per_byte, gamma_s_per_byte=0.0,
                           ranks_per_node=4, sizes=SIZES) -> list[tuple[float, str, str]]:
    """Message sizes where the fastest algorithm changes: ``(bytes, slower-now, faster-now)``."""
    algs = usable_algorithms(op, n_ranks, ranks_per_node)
    times = {a: np.array([ab.cost(op, a, n_ranks, n, alpha_s, beta_s_per_byte, gamma_s_per_byte,
                                  **kw) for n in sizes]) for a, kw in algs.items()}
    names = list(times)
    best = [names[i] for i in np.argmin(np.vstack([times[a] for a in names]), axis=0)]
    changes = []
    for k in range(1, len(sizes)):
        if best[k] != best[k - 1]:
            x = ab.crossover_bytes(op, best[k - 1], best[k], n_ranks, alpha_s, beta_s_per_byte,
                                   gamma_s_per_byte, sizes[k - 1], sizes[k]) \
                if "hierarchical" not in (best[k - 1], best[k]) else float(sizes[k])
            changes.append((x if x is not None else float(sizes[k]), best[k - 1], best[k]))
    return changes


def plot_costs(op="allreduce", n_ranks=16, alpha_us=5.0, bw_GBps=25.0, gamma_GBps=0.0,
               ranks_per_node=4, ax=None):
    """Closed-form time against message size for each algorithm; crossovers marked."""
    ax = ax or plt.gca()
    alpha, beta = alpha_us * 1e-6, 1.0 / (bw_GBps * 1e9)
    gamma = 0.0 if gamma_GBps <= 0 else 1.0 / (gamma_GBps * 1e9)
    for alg, kw in usable_algorithms(op, n_ranks, ranks_per_node).items():
        t = [ab.cost(op, alg, n_ranks, n, alpha, beta, gamma, **kw) for n in SIZES]
        ax.loglog(SIZES, np.array(t) * 1e6, label=alg.replace("_", " "))
    for x, was, now in best_algorithm_changes(op, n_ranks, alpha, beta, gamma, ranks_per_node):
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
                  ranks_per_node=4) -> w.Widget:
    """Pick an op, rank count and link parameters; see every algorithm's time and the crossovers."""
    ab.check_op_algorithm(op, ab.ALGORITHMS.get(op, ("?",))[0], n_ranks)
    style = {"description_width": "150px"}
    layout = w.Layout(width="480px")
    wop = w.Dropdown(options=ab.OPS, value=op, description="operation", style=style, layout=layout)
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

    def draw(op, p, a, b, g, rpn):
        fig, ax = plt.subplots(figsize=(8, 4.8))
        plot_costs(op, p, a, b, g, rpn, ax)
        plt.show()

    out = w.interactive_output(draw, {"op": wop, "p": wp, "a": wa, "b": wb, "g": wg, "rpn": wn})
    return w.VBox([wop, wp, wa, wb, wg, wn, out])


def ring_on_systems(msg_bytes: int, alpha_s: float = 5e-6) -> dict:
    """Simulated ring all-reduce of ``msg_bytes`` on 8 GPUs of several systems: time (s) and
    bus bandwidth (GB/s). The DGX-1 V100 is run twice: ranks along its double-link ring and in
    plain GPU order."""
    v100 = tp.dgx1_v100()
    fast = tp.embedded_rings(v100)[0].order
    along = tp.Topology(v100.name, v100.graph, tuple(v100.gpus[i] for i in fast), v100.source)
    systems = {"DGX-1 V100, GPU order": v100, "DGX-1 V100, double-link ring": along,
               "DGX-2 (8 of 16 GPUs)": tp.dgx2(), "DGX A100": tp.dgx_a100(),
               "DGX H100": tp.dgx_h100()}
    out = {}
    for name, topo in systems.items():
        t = co.simulate_time("allreduce", "ring", topo, 8, msg_bytes, alpha_s)
        out[name] = (t, ab.bus_bandwidth("allreduce", msg_bytes / t / 1e9, 8))
    return out


def plot_ring_on_systems(alpha_us: float = 5.0, ax=None, sizes=None):
    ax = ax or plt.gca()
    sizes = np.logspace(10, 30, 11, base=2.0).astype(int) // 64 * 64 if sizes is None else sizes
    curves: dict = {}
    for n in sizes:
        for name, (_, busbw) in ring_on_systems(int(n), alpha_us * 1e-6).items():
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
        fig, ax = plt.subplots(figsize=(8, 4.5))
        plot_ring_on_systems(a, ax)
        plt.show()

    return w.VBox([wa, w.interactive_output(draw, {"a": wa})])
