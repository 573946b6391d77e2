"""Explorer for chapter 8: pick a system, see its graph, its GPU-to-GPU bandwidth and its metrics.

Drawing and controls only: the systems, matrices and metrics come from :mod:`aichip.topology`."""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from .. import topology as tp
from .static import explorer


def _layout(topo: tp.Topology) -> dict:
    """Positions: the DGX-1 cube mesh as two squares (its PCIe switches and CPUs in rows below),
    switched systems as GPU and switch rows."""
    g = topo.graph
    if not topo.switches and topo.n_gpus == 8 and topo.name.startswith("DGX-1"):
        # a cube seen at an angle: GPUs 0-3 on the front face, 4-7 on the back face
        square = [(0, 1), (1, 1), (0, 0), (1, 0)]
        pos = {topo.gpus[i]: (x, y) for i, (x, y) in enumerate(square)}
        pos.update({topo.gpus[4 + i]: (x + 0.55, y + 0.4) for i, (x, y) in enumerate(square)})
        hosts = list(topo.hosts)
        pcie = [v for v in hosts if str(v).startswith("PCIe")]
        cpus = [v for v in hosts if v not in pcie]
        pos.update({v: (-0.1 + 0.55 * i, -0.55) for i, v in enumerate(pcie)})
        pos.update({v: (0.175 + 1.1 * i, -1.0) for i, v in enumerate(cpus)})
        return pos
    if not topo.switches:
        return nx.circular_layout(g)
    gpus, sws = list(topo.gpus), list(topo.switches)
    if topo.n_gpus <= 16 and not any(name.startswith(("leaf", "spine")) for name in sws):
        pos = {v: (i / max(len(gpus) - 1, 1), 0.0) for i, v in enumerate(gpus)}
        pos.update({v: (i / max(len(sws) - 1, 1), 1.0) for i, v in enumerate(sws)})
        return pos
    return nx.spring_layout(g, seed=1, weight=None)


def draw_topology(topo: tp.Topology, ax=None, labels: bool | None = None):
    """Draw the graph: GPUs green, switches grey, the host's PCIe switches and CPUs blue with dashed
    links; edge width grows with the number of links."""
    ax = ax or plt.gca()
    g = topo.graph
    pos = _layout(topo)
    labels = topo.n_gpus <= 16 if labels is None else labels
    hosts = set(topo.hosts)
    edges = [(a, b) for a, b in g.edges() if a not in hosts and b not in hosts]
    host_edges = [(a, b) for a, b in g.edges() if a in hosts or b in hosts]
    links = np.array([g.edges[e]["links"] for e in edges], dtype=float)
    widths = 0.6 + 2.4 * np.log2(links) / max(np.log2(links.max()), 1) if len(links) else []
    nx.draw_networkx_edges(g, pos, edgelist=edges, ax=ax, width=widths, edge_color="#555",
                           alpha=0.6)
    if host_edges:
        nx.draw_networkx_edges(g, pos, edgelist=host_edges, ax=ax, width=0.8, style="dashed",
                               edge_color="#4a7ab5", alpha=0.7)
    palette = {"gpu": "#76b900", "switch": "#999", "host": "#9cc3e6"}
    colors = [palette[g.nodes[v]["kind"]] for v in g]
    size = 380 if g.number_of_nodes() <= 32 else 40
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colors, node_size=size,
                           node_shape="o", edgecolors="k", linewidths=0.5)
    if labels:
        short = {v: str(v).replace("NVSwitch", "S").replace("GPU", "").replace("PCIe", "P")
                 for v in g}
        nx.draw_networkx_labels(g, pos, short, ax=ax, font_size=7)
    if not topo.switches and topo.n_gpus <= 16:
        nx.draw_networkx_edge_labels(
            g, pos, {(a, b): str(e["links"]) for a, b, e in g.edges(data=True) if e["links"] > 1},
            ax=ax, font_size=7, label_pos=0.3)
    title = f"{topo.name}: {topo.n_gpus} GPUs (green), {len(topo.switches)} switches (grey)"
    if hosts:
        title += f",\n{len(hosts)} PCIe switches and CPUs (blue, dashed links)"
    ax.set_title(title)
    ax.axis("off")
    return ax


def plot_bandwidth_matrix(topo: tp.Topology, ax=None, kind: str = "max-flow"):
    """Heat map of GPU-to-GPU bandwidth per direction: ``kind="direct"`` counts only direct links,
    ``"max-flow"`` every path at once."""
    ax = ax or plt.gca()
    if kind == "direct":
        m = tp.direct_bandwidth_matrix(topo)
    elif kind == "max-flow":
        m = tp.bandwidth_matrix(topo)
    else:
        raise ValueError(f"kind must be 'direct' or 'max-flow', got {kind!r}")
    im = ax.imshow(m, cmap="viridis", vmin=0)
    plt.colorbar(im, ax=ax, label="GB/s, each direction")
    ax.set_xlabel("to GPU")
    ax.set_ylabel("from GPU")
    ax.set_title(f"GPU-to-GPU bandwidth ({kind})")
    if topo.n_gpus <= 16:
        for i in range(topo.n_gpus):
            for j in range(topo.n_gpus):
                if i != j:
                    value = m[i, j]
                    label = f"{value:.0f}" if value >= 10 or value == 0 else f"{value:.1f}"
                    ax.text(j, i, label, ha="center", va="center", fontsize=6,
                            color="w" if value < 0.6 * m.max() else "k")
    return ax


def metrics_text(topo: tp.Topology) -> str:
    s = tp.summary(topo)
    rows = [(k, v) for k, v in s.items() if k not in ("system", "source")]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v:,.1f}" if isinstance(v, float) else f"{k:<{width}}  {v}"
             for k, v in rows]
    ring = tp.embedded_rings(topo)[0]
    if topo.n_gpus <= 16:
        lines.append(f"{'fastest embedded ring':<{width}}  {'-'.join(map(str, ring.order))}")
    return "\n".join(lines)


def default_systems() -> dict:
    """The explorer's choices: :func:`aichip.topology.example_systems`."""
    return tp.example_systems()


def interconnect_explorer(system: str = "DGX-1 (V100)", kind: str = "max-flow",
                          systems: dict | None = None) -> w.Widget:
    """Pick a system and a bandwidth view; see the graph, the GPU-to-GPU matrix and the metrics."""
    systems = default_systems() if systems is None else systems
    if system not in systems:
        raise ValueError(f"system must be one of {list(systems)}, got {system!r}")
    if kind not in ("direct", "max-flow"):
        raise ValueError(f"kind must be 'direct' or 'max-flow', got {kind!r}")
    style = {"description_width": "120px"}
    pick = w.Dropdown(options=list(systems), value=system, description="system", style=style,
                      layout=w.Layout(width="420px"))
    view = w.ToggleButtons(options=["max-flow", "direct"], value=kind, description="matrix",
                           style=style)
    cache: dict = {}

    def draw(name, kind):
        topo = cache.setdefault(name, systems[name]())
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.6),
                                 gridspec_kw={"width_ratios": [1.25, 1]})
        draw_topology(topo, axes[0])
        plot_bandwidth_matrix(topo, axes[1], kind)
        fig.tight_layout()
        plt.show()
        print(metrics_text(topo))

    return explorer(draw, {"name": pick, "kind": view},
                    grid={"name": list(systems), "kind": ["max-flow", "direct"]},
                    arrange=lambda c: w.HBox([c["name"], c["kind"]]))
