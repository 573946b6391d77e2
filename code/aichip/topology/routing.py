"""Routing on a topology: hop counts and the shortest paths traffic takes between two GPUs, with
the rule that a node which does not forward (a GPU, see :mod:`aichip.topology.graph`) is never in
the middle of a path; and the load that concurrent flows put on each directed link."""

from __future__ import annotations

import itertools

import numpy as np

from ._checks import check_topology, gpu_name
from ._paths import bfs, paths_back, relays, routes, weighted
from .graph import Topology

__all__ = ["Router", "concurrent_rate_GBps", "hop_matrix", "path_kinds"]


def hop_matrix(topo: Topology) -> np.ndarray:
    """Hops on a shortest path between each pair of GPUs, shape (n_gpus, n_gpus), zero diagonal.

    A hop is one edge; switches and host nodes on the way count, and only nodes that forward are
    passed through (a breadth-first search that does not expand a non-forwarding node other than
    its start). ValueError if some pair has no path.
    """
    topo = check_topology(topo)
    g, relay = topo.graph, relays(topo.graph)
    out = np.full((topo.n_gpus, topo.n_gpus), -1, dtype=np.int64)
    for i, a in enumerate(topo.gpus):
        dist, _ = bfs(g, relay, a)
        for j, b in enumerate(topo.gpus):
            out[i, j] = dist.get(b, -1)
    if (out < 0).any():
        i, j = np.argwhere(out < 0)[0]
        raise ValueError(f"{topo.name}: no path from {topo.gpus[i]} to {topo.gpus[j]}")
    return out


class Router:
    """Multipath routing over all shortest paths (ECMP, weighted by path width), cached per pair.
    Paths pass only through nodes that forward (switches, host nodes; GPUs only where the topology
    says they relay)."""

    def __init__(self, topo: Topology):
        self.topo = check_topology(topo)
        self._relay = relays(topo.graph)
        self._searches: dict = {}
        self._cache: dict = {}

    def routes(self, a, b) -> list[tuple[list, float]]:
        """The paths from node ``a`` to node ``b`` and the share of the traffic each carries."""
        key = (a, b)
        if key not in self._cache:
            if a not in self._searches:
                self._searches[a] = bfs(self.topo.graph, self._relay, a)
            dist, preds = self._searches[a]
            if b not in dist:
                raise ValueError(f"{self.topo.name}: no path from {a} to {b} through forwarding "
                                 "nodes")
            self._cache[key] = weighted(self.topo.graph, paths_back(preds, a, b))
        return self._cache[key]

    def edge_loads(self, flows) -> dict:
        """Bytes (or rates) on each directed edge ``(u, v)``; ``flows`` = [(src, dst, amount)]."""
        loads: dict = {}
        for a, b, amount in flows:
            for path, share in self.routes(a, b):
                for u, v in itertools.pairwise(path):
                    loads[(u, v)] = loads.get((u, v), 0.0) + share * amount
        return loads

    def drain_time_s(self, flows) -> float:
        """Time for all ``flows`` (bytes) to cross their links concurrently: the most loaded
        directed edge sets it (load / per-direction bandwidth)."""
        worst = 0.0
        for (u, v), load in self.edge_loads(flows).items():
            worst = max(worst, load / (self.topo.graph.edges[u, v]["GBps_per_dir"] * 1e9))
        return worst


def concurrent_rate_GBps(topo: Topology, pairs) -> float:
    """Rate each of the flows ``pairs`` = [(src_gpu, dst_gpu), ...] gets when all run at once at
    the same rate over ECMP shortest paths, 1e9 bytes/s per flow."""
    topo = check_topology(topo)
    flows = [(gpu_name(topo, a, "src"), gpu_name(topo, b, "dst"), 1.0) for a, b in pairs]
    if not flows:
        raise ValueError("pairs must hold at least one (src, dst) pair")
    return 1.0 / (Router(topo).drain_time_s(flows) * 1e9)


def path_kinds(topo: Topology, a, b) -> tuple:
    """The kinds of the nodes on the first shortest path from GPU ``a`` to GPU ``b`` (indices or
    names), ends included: ``("gpu", "switch", "switch", "gpu")`` across DGX-2's baseboards."""
    topo = check_topology(topo)
    a, b = gpu_name(topo, a, "a"), gpu_name(topo, b, "b")
    if a == b:
        raise ValueError("a and b must be different GPUs")
    path = routes(topo, a, b)[0][0]
    return tuple(topo.graph.nodes[v].get("kind") for v in path)
