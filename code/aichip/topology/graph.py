"""The topology container (:class:`Topology`), the helpers that wire its graph, and the checks every
metric applies to its arguments.

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
import numpy as np

from ..links import link_GBps_per_dir
from ..validation import check_int

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


def _add_links(g: nx.Graph, a, b, tech: str, links: int = 1, per_link_GBps: float | None = None):
    """Add ``links`` parallel links of ``tech`` between ``a`` and ``b`` (accumulating)."""
    bw = link_GBps_per_dir(tech) if per_link_GBps is None else per_link_GBps
    if g.has_edge(a, b):
        e = g.edges[a, b]
        if e["link_GBps_per_dir"] != bw:
            raise ValueError(f"links {a}-{b} mix bandwidths {e['link_GBps_per_dir']} and {bw}")
        e["links"] += links
        e["GBps_per_dir"] = e["links"] * bw
    else:
        g.add_edge(a, b, links=links, tech=tech, link_GBps_per_dir=bw, GBps_per_dir=links * bw)


def _gpu_graph(n: int, prefix: str = "GPU", gpus_forward: bool = False) -> tuple[nx.Graph, tuple]:
    g = nx.Graph()
    gpus = tuple(f"{prefix}{i}" for i in range(n))
    g.add_nodes_from(gpus, kind="gpu", forwards=gpus_forward)
    return g, gpus


def _check_topology(topo) -> Topology:
    if not isinstance(topo, Topology):
        raise TypeError(f"topo must be a Topology, got {type(topo).__name__}")
    return topo


def _gpu_name(topo: Topology, x, name: str):
    """A GPU node name from a node name or a GPU index (ValueError naming ``name`` otherwise)."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        check_int(name, x, minimum=0, maximum=topo.n_gpus - 1)
        return topo.gpus[x]
    if x not in topo.gpus:
        raise ValueError(f"{name} must be a GPU index or one of {topo.gpus[:4]}..., got {x!r}")
    return x


def _is_host_edge(g: nx.Graph, a, b) -> bool:
    return g.nodes[a].get("kind") == "host" or g.nodes[b].get("kind") == "host"
