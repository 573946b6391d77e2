"""The topology container (:class:`Topology`), the rule of which nodes forward traffic, and
:func:`add_links`, which wires its graph.

A :class:`Topology` is an undirected :class:`networkx.Graph` whose nodes are GPUs (``kind="gpu"``),
switches (``kind="switch"``: NVSwitch chips, network leaf and spine switches) and the host's PCIe
switches and CPUs (``kind="host"``), which carry GPU traffic only where the model says so (the
DGX-1's pairs without NVLink). One edge stands for all the parallel links between two nodes:

=====================  =============================================================================
edge attribute         meaning
=====================  =============================================================================
``links``              number of parallel physical links (e.g. 2 for a double NVLink)
``tech``               the link technology, a row of ``aichip/data/links.csv``
``link_GBps_per_dir``  data rate of one link in one direction, 1e9 bytes/s
``GBps_per_dir``       ``links * link_GBps_per_dir``: the edge's bandwidth in **each** direction
=====================  =============================================================================

Every node also has ``forwards``: whether traffic between two *other* GPUs may pass through it.
Switches and host nodes forward. A GPU does not: NVLink connects two GPUs' memories and does not
route, so a copy between two GPUs without a direct link goes through switches or over the host's
PCIe and CPU links, unless software stages it through a third GPU (``forwards=True`` on the GPUs
models that software relay, and the chips of :func:`~aichip.topology.ring` and
:func:`~aichip.topology.torus`, which route between their links like TPU interconnects).

Links are full duplex: an edge carries ``GBps_per_dir`` each way at the same time, so its
bidirectional bandwidth is twice that. Vendors usually quote the bidirectional sum (an H100's
"900 GB/s" is 450 GB/s each way).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from ..links import link_GBps_per_dir

__all__ = ["NODE_KINDS", "Topology", "add_links", "forwards"]

#: node kinds a topology may hold
NODE_KINDS = ("gpu", "switch", "host")


@dataclass(frozen=True)
class Topology:
    """A named interconnect graph. ``gpus`` lists the GPU nodes in rank order."""

    name: str
    graph: nx.Graph
    gpus: tuple
    source: str
    description: str = ""

    @property
    def n_gpus(self) -> int:
        return len(self.gpus)

    @property
    def switches(self) -> tuple:
        """The switch nodes (NVSwitch chips, network switches); host nodes are not switches."""
        return tuple(n for n, k in self.graph.nodes(data="kind") if k == "switch")

    @property
    def hosts(self) -> tuple:
        """The host's PCIe switches and CPUs, where the model includes them."""
        return tuple(n for n, k in self.graph.nodes(data="kind") if k == "host")


def forwards(g: nx.Graph, v) -> bool:
    """Whether node ``v`` of ``g`` may carry traffic between two other nodes (default True)."""
    return bool(g.nodes[v].get("forwards", True))


def add_links(g: nx.Graph, a, b, tech: str, links: int = 1, per_link_GBps: float | None = None):
    """Add ``links`` parallel links of ``tech`` between nodes ``a`` and ``b`` of ``g``, accumulating
    onto an edge already there.

    Parameters
    ----------
    g : the graph to wire (modified in place); missing nodes are added without attributes
    a, b : node names
    tech : a row name of ``aichip/data/links.csv`` (the edge's ``tech``); it sets the per-link
        bandwidth unless ``per_link_GBps`` is given
    links : number of parallel links added
    per_link_GBps : data rate of one link in one direction, 1e9 bytes/s (for ``tech="custom"``)

    Raises
    ------
    ValueError when the edge already holds links of another bandwidth, or ``tech`` is unknown.
    """
    bw = link_GBps_per_dir(tech) if per_link_GBps is None else per_link_GBps
    if g.has_edge(a, b):
        e = g.edges[a, b]
        if e["link_GBps_per_dir"] != bw:
            raise ValueError(f"links {a}-{b} mix bandwidths {e['link_GBps_per_dir']} and {bw}")
        e["links"] += links
        e["GBps_per_dir"] = e["links"] * bw
    else:
        g.add_edge(a, b, links=links, tech=tech, link_GBps_per_dir=bw, GBps_per_dir=links * bw)
