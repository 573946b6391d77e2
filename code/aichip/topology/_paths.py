"""Path search shared by the modules of :mod:`aichip.topology` (private to the subpackage).

Traffic between two GPUs takes the shortest (hop-count) paths whose inner nodes all forward (see
:mod:`aichip.topology.graph`); where several tie, it is split in proportion to each path's
narrowest edge. :mod:`~aichip.topology.routing` builds its public functions on these, and
:mod:`~aichip.topology.metrics` its max-flow reference and ``nvidia-smi`` labels.
"""

from __future__ import annotations

import itertools
from collections import deque

import networkx as nx

from .graph import Topology, forwards

__all__ = ["bfs", "paths_back", "relays", "routes", "transit_view", "weighted"]


def transit_view(topo: Topology, a, b) -> nx.Graph:
    """The graph as seen by traffic from ``a`` to ``b``: nodes that do not forward are hidden,
    except ``a`` and ``b`` themselves (what the networkx references of the tests search)."""
    g = topo.graph
    return nx.subgraph_view(g, filter_node=lambda v: v == a or v == b or forwards(g, v))


def bfs(g: nx.Graph, relay: frozenset, a) -> tuple[dict, dict]:
    """Breadth-first search from ``a`` that passes only through the nodes in ``relay``: hop count
    and the list of shortest-path predecessors of every node reached."""
    dist, preds = {a: 0}, {a: []}
    queue = deque([a])
    while queue:
        u = queue.popleft()
        if u != a and u not in relay:
            continue                                  # reached, but not a way through
        for v in g.neighbors(u):
            if v not in dist:
                dist[v] = dist[u] + 1
                preds[v] = [u]
                queue.append(v)
            elif dist[v] == dist[u] + 1:
                preds[v].append(u)
    return dist, preds


def relays(g: nx.Graph) -> frozenset:
    """The nodes of ``g`` that traffic between two other nodes may pass through."""
    return frozenset(v for v in g if forwards(g, v))


def paths_back(preds: dict, a, b) -> list[list]:
    """Every shortest path from ``a`` to ``b``, out of the predecessor lists of a search from ``a``.
    """
    if b == a:
        return [[a]]
    return [p + [b] for u in preds[b] for p in paths_back(preds, a, u)]


def weighted(g: nx.Graph, paths: list) -> list[tuple[list, float]]:
    """Each path with the share of the traffic it carries: proportional to its narrowest edge, so a
    GPU with 5 links to one switch and 4 to another loads them 5:4 (equal shares when all paths are
    alike)."""
    widths = [min(g.edges[u, v]["GBps_per_dir"] for u, v in itertools.pairwise(p)) for p in paths]
    total = sum(widths)
    return [(p, w / total) for p, w in zip(paths, widths, strict=True)]


def routes(topo: Topology, a, b) -> list[tuple[list, float]]:
    """Shortest (hop-count) paths from a to b through forwarding nodes, each with its share of the
    traffic (:func:`weighted`)."""
    dist, preds = bfs(topo.graph, relays(topo.graph), a)
    if b not in dist:
        raise ValueError(f"{topo.name}: no path from {a} to {b} through forwarding nodes")
    return weighted(topo.graph, paths_back(preds, a, b))
