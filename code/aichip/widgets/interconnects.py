"""Explorer for chapter 8: pick a system, see its graph, its GPU-to-GPU bandwidth and its metrics.

Drawing and controls only: the systems, matrices and metrics come from :mod:`aichip.topology`."""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from .. import topology as tp
from .static import explorer

__all__ = [
    "draw_topology", "FAT_TREE_TIERS", "fat_tree_tier", "draw_fat_tree", "plot_bandwidth_matrix",
    "metrics_text", "default_systems", "interconnect_explorer",
]


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


#: tiers of a two-level fat tree, top to bottom: (name, y position)
FAT_TREE_TIERS = (("spine switches", 3.0), ("leaf switches, one per rail", 2.0),
                  ("GPUs", 1.0), ("NVSwitches inside each node", 0.0))


def fat_tree_tier(topo: tp.Topology, node) -> str:
    """The tier of ``node`` in a :func:`aichip.topology.fat_tree`: a name of
    :data:`FAT_TREE_TIERS`."""
    name = str(node)
    if node in topo.gpus:
        return "GPUs"
    if name.startswith("spine"):
        return "spine switches"
    if name.startswith("leaf"):
        return "leaf switches, one per rail"
    if topo.graph.nodes[node]["kind"] == "switch":
        return "NVSwitches inside each node"
    raise ValueError(f"topo: node {node!r} fits no tier of a fat tree (is it from tp.fat_tree?)")


def draw_fat_tree(topo: tp.Topology, ax=None):
    """A :func:`aichip.topology.fat_tree` drawn in tiers: spines, leaves (one per rail), the nodes'
    GPUs grouped by node, and the NVSwitches inside each node. GPU-leaf links are coloured by rail;
    line width grows with the number of parallel links; each tier's link is labelled with its
    bandwidth. Lines carry ``gid`` ``"edge:a|b"`` and tier markers ``"tier:<name>"``."""
    if not isinstance(topo, tp.Topology):
        raise TypeError(f"topo must be a Topology, got {type(topo).__name__}")
    g = topo.graph
    tiers = {name: [] for name, _ in FAT_TREE_TIERS}
    for v in g:
        tiers[fat_tree_tier(topo, v)].append(v)
    if not tiers["spine switches"] or not tiers["leaf switches, one per rail"]:
        raise ValueError(f"topo must be a fat tree with spine and leaf switches, got {topo.name}")
    ax = ax or plt.gca()
    node_of = {v: str(v).split("/")[0] for v in g if "/" in str(v)}
    nodes = list(dict.fromkeys(node_of[v] for v in topo.gpus))
    per_node = len(topo.gpus) // len(nodes)
    gap = 1.5
    x = {}
    for i, v in enumerate(topo.gpus):
        x[v] = (i // per_node) * (per_node + gap) + i % per_node
    width = len(nodes) * (per_node + gap) - gap - 1
    for name in ("spine switches", "leaf switches, one per rail"):
        members = tiers[name]
        for i, v in enumerate(members):
            x[v] = width * (i + 0.5) / len(members) if name.startswith("spine") else (
                width * i / max(len(members) - 1, 1))
    for node in nodes:
        inner = [v for v in tiers["NVSwitches inside each node"] if node_of.get(v) == node]
        left = min(x[v] for v in topo.gpus if node_of[v] == node)
        for i, v in enumerate(inner):
            x[v] = left + (per_node - 1) * (i + 0.5) / len(inner)
    y = {v: dict(FAT_TREE_TIERS)[fat_tree_tier(topo, v)] for v in g}
    rail = {v: topo.gpus.index(v) % per_node for v in topo.gpus}
    cmap = plt.get_cmap("tab10" if per_node <= 10 else "tab20")
    max_links = max(e["links"] for _, _, e in g.edges(data=True))
    labelled = set()
    for a, b, e in g.edges(data=True):
        ta, tb = fat_tree_tier(topo, a), fat_tree_tier(topo, b)
        gpu = a if a in rail else b if b in rail else None
        leafy = "leaf switches, one per rail" in (ta, tb)
        color = cmap(rail[gpu]) if gpu is not None and leafy else "0.55"
        lw = 0.6 + 2.0 * e["links"] / max_links
        ax.plot([x[a], x[b]], [y[a], y[b]], color=color, lw=lw, alpha=0.75, zorder=1,
                gid=f"edge:{a}|{b}")
        pair = tuple(sorted((ta, tb)))
        if pair not in labelled:
            labelled.add(pair)
            ax.annotate(f"{e['links']} x {e['tech']} = {e['GBps_per_dir']:g} GB/s per direction",
                        ((x[a] + x[b]) / 2, (y[a] + y[b]) / 2), fontsize=7, color="0.2",
                        xytext=(4, 0), textcoords="offset points",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    style = {"spine switches": ("#999", "s", 160),
             "leaf switches, one per rail": ("#999", "s", 110),
             "GPUs": ("#76b900", "o", 70), "NVSwitches inside each node": ("#ccc", "s", 45)}
    for name, ypos in FAT_TREE_TIERS:
        members = tiers[name]
        if not members:
            continue
        color, marker, size = style[name]
        ax.scatter([x[v] for v in members], [ypos] * len(members), c=color, marker=marker,
                   s=size, edgecolors="k", linewidths=0.5, zorder=2, gid=f"tier:{name}")
        ax.text(-1.2, ypos, f"{name} ({len(members)})", ha="right", va="center", fontsize=8)
    for node in nodes:
        left = min(x[v] for v in topo.gpus if node_of[v] == node)
        ax.add_patch(plt.Rectangle((left - 0.5, -0.35), per_node, 1.7, fill=False, ls="--",
                                   ec="0.5", lw=0.8))
        ax.text(left + (per_node - 1) / 2, -0.5, f"node {node[1:]}", ha="center", va="top",
                fontsize=8)
    ax.set_xlim(-1.3 - 0.2 * width, width + 1)
    ax.set_ylim(-0.9, 3.4)
    ax.set_title(f"{topo.name}: {len(nodes)} nodes, {per_node} rails, "
                 f"{len(tiers['spine switches'])} spines (GPU-leaf links coloured by rail)",
                 fontsize=10)
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
        fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.4),
                                 gridspec_kw={"width_ratios": [1.25, 1]})
        draw_topology(topo, axes[0])
        plot_bandwidth_matrix(topo, axes[1], kind)
        fig.tight_layout()
        plt.show()
        print(metrics_text(topo))

    return explorer(draw, {"name": pick, "kind": view},
                    grid={"name": list(systems), "kind": ["max-flow", "direct"]},
                    arrange=lambda c: w.HBox([c["name"], c["kind"]]))
