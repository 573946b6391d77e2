"""Max-flow kernels (numba) on a dense capacity matrix: every GPU pair, and the minimum over
balanced bisections (private to :mod:`aichip.topology`; :mod:`~aichip.topology.metrics` calls them).
The networkx max-flow and minimum cut are the references the metrics are tested against
(``tests/test_topology.py``)."""

from __future__ import annotations

import numpy as np
from numba import njit

from .graph import Topology, forwards

__all__ = ["bisection_kernel", "capacity_matrix", "pairwise_max_flow"]


def capacity_matrix(topo: Topology) -> tuple[np.ndarray, list, np.ndarray]:
    """Per-direction capacities, shape (n_nodes + 2, n_nodes + 2): GPUs first in rank order, then
    the other nodes, then two spare rows (super source and sink). Also the node order and a boolean
    array, True where a node may carry other nodes' traffic."""
    gpus = set(topo.gpus)
    nodes = list(topo.gpus) + [v for v in topo.graph if v not in gpus]
    pos = {v: i for i, v in enumerate(nodes)}
    cap = np.zeros((len(nodes) + 2, len(nodes) + 2))
    for a, b, bw in topo.graph.edges(data="GBps_per_dir"):
        cap[pos[a], pos[b]] = cap[pos[b], pos[a]] = bw
    transit = np.array([forwards(topo.graph, v) for v in nodes] + [True, True])
    return cap, nodes, transit


@njit(cache=True)
def _max_flow_dense(cap, s, t):
    """Edmonds-Karp max-flow on a dense capacity matrix (modified in place into residuals)."""
    n = cap.shape[0]
    total = 0.0
    parent = np.empty(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    while True:
        parent[:] = -1
        parent[s] = s
        head, tail = 0, 0
        queue[tail] = s
        tail += 1
        while head < tail and parent[t] == -1:
            u = queue[head]
            head += 1
            for v in range(n):
                if parent[v] == -1 and cap[u, v] > 1e-12:
                    parent[v] = u
                    queue[tail] = v
                    tail += 1
        if parent[t] == -1:
            return total
        push = np.inf
        v = t
        while v != s:
            u = parent[v]
            push = min(push, cap[u, v])
            v = u
        v = t
        while v != s:
            u = parent[v]
            cap[u, v] -= push
            cap[v, u] += push
            v = u
        total += push


@njit(cache=True)
def _pair_max_flow(cap, transit, s, t):
    """Max-flow from ``s`` to ``t`` when nodes with ``transit[v] == False`` (other than ``s`` and
    ``t``) carry nothing: their rows and columns are cut from a copy of ``cap``."""
    c = cap.copy()
    for v in range(c.shape[0]):
        if not transit[v] and v != s and v != t:
            c[v, :] = 0.0
            c[:, v] = 0.0
    return _max_flow_dense(c, s, t)


@njit(cache=True)
def pairwise_max_flow(cap, transit, n_gpu):
    """Max-flow between every pair of the first ``n_gpu`` nodes, shape (n_gpu, n_gpu), symmetric
    with a zero diagonal (``cap`` and ``transit`` as :func:`capacity_matrix` returns them)."""
    out = np.zeros((n_gpu, n_gpu))
    for i in range(n_gpu):
        for j in range(i + 1, n_gpu):
            out[i, j] = out[j, i] = _pair_max_flow(cap, transit, i, j)
    return out


@njit(cache=True)
def bisection_kernel(cap, halves, big):
    """Min over the rows of ``halves`` (0/1 side of each GPU) of the max-flow between the sides.

    ``cap`` has the GPUs first and two spare rows at the end for the super source and sink.
    """
    n_gpu = halves.shape[1]
    n = cap.shape[0]
    s, t = n - 2, n - 1
    best = np.inf
    best_row = -1
    for r in range(halves.shape[0]):
        c = cap.copy()
        for i in range(n_gpu):
            if halves[r, i] == 0:
                c[s, i] = big
            else:
                c[i, t] = big
        f = _max_flow_dense(c, s, t)
        if f < best:
            best = f
            best_row = r
    return best, best_row
