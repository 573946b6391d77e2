"""Metrics computed from a topology's graph: per-GPU bandwidth, direct-link and max-flow matrices,
diameter, bisection bandwidth, all-to-all throughput and the rings a collective library can embed.
Each metric says whether it reports one direction or both."""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import networkx as nx
import numpy as np

from ..validation import check_int
from ._checks import check_topology, gpu_name
from ._maxflow import bisection_kernel, capacity_matrix, pairwise_max_flow
from ._paths import routes, transit_view
from .graph import Topology
from .routing import concurrent_rate_GBps, hop_matrix

__all__ = [
    "Bisection", "PairBandwidth", "Ring", "all_to_all_throughput", "bandwidth_matrix",
    "bisection_bandwidth", "connection_labels", "diameter", "direct_bandwidth_matrix",
    "embedded_rings", "gpu_bandwidth_GBps", "gpu_link_count", "gpu_links", "link_matrix",
    "max_flow", "ring_bandwidth", "summary",
]


def link_matrix(topo: Topology) -> np.ndarray:
    """Number of direct links between each pair of GPUs, shape (n_gpus, n_gpus) (0 = none,
    including pairs that talk only through a switch)."""
    return _gpu_pair_matrix(check_topology(topo), "links", np.int64)


def _is_host_edge(g: nx.Graph, a, b) -> bool:
    """Whether the edge ``a``-``b`` touches a host node (PCIe switch or CPU): not a GPU link."""
    return g.nodes[a].get("kind") == "host" or g.nodes[b].get("kind") == "host"


def _gpu_pair_matrix(topo: Topology, attribute: str, dtype) -> np.ndarray:
    """The edge ``attribute`` of the direct edge between each pair of GPUs, 0 where none."""
    m = np.zeros((topo.n_gpus, topo.n_gpus), dtype=dtype)
    pos = {v: i for i, v in enumerate(topo.gpus)}
    for a, b, value in topo.graph.edges(data=attribute):
        if a in pos and b in pos:
            m[pos[a], pos[b]] = m[pos[b], pos[a]] = value
    return m


def direct_bandwidth_matrix(topo: Topology) -> np.ndarray:
    """Per-direction bandwidth of the direct links between each pair of GPUs (1e9 bytes/s), shape
    (n_gpus, n_gpus); 0 where two GPUs share no link (whatever the paths through switches or the
    host)."""
    return _gpu_pair_matrix(check_topology(topo), "GBps_per_dir", np.float64)


def connection_labels(topo: Topology) -> np.ndarray:
    """What ``nvidia-smi topo -m`` prints for each pair of GPUs, shape (n_gpus, n_gpus), dtype str.

    ``X`` on the diagonal; ``NV<k>`` for ``k`` direct NVLinks; otherwise the path the pair's traffic
    takes (:func:`~aichip.topology.routing.path_kinds`): ``SYS`` when it crosses two CPUs (the link
    between the sockets), ``NODE`` through one CPU, ``PIX`` through a PCIe switch only, ``SW``
    through NVSwitch or network switches (nvidia-smi prints ``NV<k>`` there, counting the links to
    the switches); ``GPU`` when other GPUs relay the traffic (a ring or torus, or
    ``gpu_relay=True``).
    """
    topo = check_topology(topo)
    m = link_matrix(topo)
    g = topo.graph
    out = np.full((topo.n_gpus, topo.n_gpus), "X", dtype=object)
    for i, j in itertools.permutations(range(topo.n_gpus), 2):
        if m[i, j]:
            out[i, j] = f"NV{m[i, j]}"
            continue
        path = routes(topo, topo.gpus[i], topo.gpus[j])[0][0]
        cpus = sum(1 for v in path if g.nodes[v].get("kind") == "host" and str(v).startswith("CPU"))
        hosts = sum(1 for v in path if g.nodes[v].get("kind") == "host")
        if any(g.nodes[v].get("kind") == "switch" for v in path):
            out[i, j] = "SW"
        elif hosts:
            out[i, j] = "SYS" if cpus >= 2 else "NODE" if cpus == 1 else "PIX"
        else:
            out[i, j] = "GPU"                     # relayed by other GPUs (rings, tori)
    return out


def gpu_bandwidth_GBps(topo: Topology, gpu=None) -> PairBandwidth:
    """Total NVLink/network bandwidth of one GPU (default the first), per direction and both. The
    GPU's PCIe link to the host, where the model includes it, is not counted."""
    topo = check_topology(topo)
    gpu = topo.gpus[0] if gpu is None else gpu
    if gpu not in topo.gpus:
        raise ValueError(f"gpu must be one of the topology's GPUs, got {gpu!r}")
    g = topo.graph
    per_dir = sum(e["GBps_per_dir"] for a, b, e in g.edges(gpu, data=True)
                  if not _is_host_edge(g, a, b))
    return PairBandwidth(per_dir, 2 * per_dir)


def gpu_links(topo: Topology, gpu=None) -> dict:
    """NVLink/network links of one GPU (default the first) by technology, e.g. ``{"NVLink 2": 6}``;
    the PCIe link to the host, where modelled, is not counted."""
    topo = check_topology(topo)
    gpu = topo.gpus[0] if gpu is None else gpu_name(topo, gpu, "gpu")
    g = topo.graph
    out: dict = {}
    for a, b, e in g.edges(gpu, data=True):
        if not _is_host_edge(g, a, b):
            out[e["tech"]] = out.get(e["tech"], 0) + e["links"]
    return out


class PairBandwidth(NamedTuple):
    """A bandwidth in 1e9 bytes/s, each direction and both directions summed."""

    GBps_per_dir: float
    GBps_bidirectional: float


def max_flow(topo: Topology, a, b) -> PairBandwidth:
    """Largest rate GPU ``a`` can send to GPU ``b`` using every path at once through nodes that
    forward (networkx max-flow on the graph without the other, non-forwarding GPUs; capacities are
    the per-direction edge bandwidths). ``a``, ``b``: node names or GPU indices."""
    topo = check_topology(topo)
    a, b = (gpu_name(topo, x, name) for x, name in ((a, "a"), (b, "b")))
    if a == b:
        raise ValueError("a and b must be different GPUs")
    flow = nx.maximum_flow_value(transit_view(topo, a, b), a, b, capacity="GBps_per_dir")
    return PairBandwidth(float(flow), 2 * float(flow))


def bandwidth_matrix(topo: Topology) -> np.ndarray:
    """GPU-to-GPU max-flow bandwidth per direction (1e9 bytes/s), shape (n_gpus, n_gpus), zero
    diagonal. Pairs with no direct link still get the bandwidth of multi-hop paths through nodes
    that forward (switches, the host; GPUs only where they relay). (The numba Edmonds-Karp kernel;
    :func:`max_flow` is the networkx reference it is tested against.)"""
    topo = check_topology(topo)
    cap, _, transit = capacity_matrix(topo)
    return pairwise_max_flow(cap, transit, topo.n_gpus)


def diameter(topo: Topology) -> int:
    """Largest number of hops between two GPUs on a shortest path through forwarding nodes
    (switches and host nodes count as hops; see :func:`hop_matrix`)."""
    return int(hop_matrix(topo).max())


class Bisection(NamedTuple):
    """Bisection bandwidth: the smallest max-flow between two equal halves of the GPUs."""

    GBps_per_dir: float
    GBps_bidirectional: float
    half: tuple     # GPU indices on one side of the minimising cut
    exact: bool     # True: every balanced split was tried; False: an upper bound from candidates


def bisection_bandwidth(topo: Topology, max_exact_splits: int = 20_000, n_random: int = 64,
                        seed: int = 0) -> Bisection:
    """Bisection bandwidth over balanced splits of the GPUs (switches may fall on either side).

    Every balanced split is tried when there are at most ``max_exact_splits`` of them (8 GPUs: 35,
    16 GPUs: 6435). Larger systems try natural candidates (first half / second half, even / odd)
    and ``n_random`` seeded random splits, and report the smallest as an upper bound
    (``exact=False``). Each split costs one max-flow (numba Edmonds-Karp).

    Whether GPUs forward does not change the result: every GPU is a source or a sink of the split,
    so a flow that would pass through a GPU can start or end there instead.
    """
    topo = check_topology(topo)
    max_exact_splits = check_int("max_exact_splits", max_exact_splits, minimum=1)
    n_random = check_int("n_random", n_random, minimum=0)
    n = topo.n_gpus
    if n < 2 or n % 2:
        raise ValueError(f"bisection needs an even number of GPUs, {topo.name} has {n}")
    n_splits = math.comb(n - 1, n // 2 - 1)   # GPU 0 fixed on side 0
    exact = n_splits <= max_exact_splits
    if exact:
        rows = []
        for combo in itertools.combinations(range(1, n), n // 2 - 1):
            row = np.ones(n, dtype=np.int64)
            row[[0, *combo]] = 0
            rows.append(row)
    else:
        rng = np.random.default_rng(seed)
        rows = [np.repeat([0, 1], n // 2), np.arange(n) % 2]
        for _ in range(n_random):
            rows.append(rng.permutation(np.repeat([0, 1], n // 2)))
    halves = np.array(rows, dtype=np.int64)
    cap, _, _ = capacity_matrix(topo)
    big = float(cap.sum()) + 1.0
    flow, r = bisection_kernel(cap, halves, big)
    half = tuple(int(i) for i in np.flatnonzero(halves[r] == 0))
    return Bisection(float(flow), 2 * float(flow), half, exact)


def all_to_all_throughput(topo: Topology) -> PairBandwidth:
    """Per-GPU send rate of a uniform all-to-all (every GPU sends equally to every other) routed
    over ECMP shortest paths through forwarding nodes (on a DGX-1, pairs without NVLink use the
    PCIe/QPI host path): the sum over a GPU's n-1 destinations, each direction (and both)."""
    topo = check_topology(topo)
    n = topo.n_gpus
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    per_pair = concurrent_rate_GBps(topo, pairs)
    return PairBandwidth((n - 1) * per_pair, 2 * (n - 1) * per_pair)


class Ring(NamedTuple):
    """A ring through every GPU and the rate each ring hop gets when all hops send at once."""

    order: tuple            # GPU indices in ring order
    GBps_per_dir: float     # per-hop rate in one direction around the ring


def ring_bandwidth(topo: Topology, order) -> Ring:
    """Rate of every hop of the ring ``order`` (GPU indices) when all hops send at once."""
    topo = check_topology(topo)
    order = tuple(int(check_int("order[i]", i, minimum=0, maximum=topo.n_gpus - 1)) for i in order)
    if sorted(order) != list(range(topo.n_gpus)):
        raise ValueError(f"order must visit each of the {topo.n_gpus} GPUs once, got {order}")
    pairs = [(order[k], order[(k + 1) % len(order)]) for k in range(len(order))]
    return Ring(order, concurrent_rate_GBps(topo, pairs))


def embedded_rings(topo: Topology, max_gpus: int = 10) -> list[Ring]:
    """Rings over direct GPU-to-GPU links (Hamiltonian cycles of the GPU graph), fastest first.

    This is how NCCL builds rings on a mesh: from direct links only, never through a pair that
    would need the host. Each undirected cycle appears once, starting at GPU 0. On switched systems
    (or with more than ``max_gpus`` GPUs, where enumeration explodes) there is one ring, in GPU
    order, through the switches.
    """
    topo = check_topology(topo)
    n = topo.n_gpus
    m = link_matrix(topo)
    if topo.switches or n > max_gpus:
        return [ring_bandwidth(topo, range(n))]
    rings = []

    def extend(path, used):
        if len(path) == n:
            if m[path[-1], path[0]] and path[1] < path[-1]:
                rings.append(ring_bandwidth(topo, path))
            return
        for v in range(1, n):
            if not used[v] and m[path[-1], v]:
                used[v] = True
                extend(path + [v], used)
                used[v] = False

    extend([0], [True] + [False] * (n - 1))
    if not rings:
        raise ValueError(f"{topo.name} has no ring over direct GPU links")
    return sorted(rings, key=lambda r: -r.GBps_per_dir)


def gpu_link_count(topo: Topology) -> int:
    """Number of NVLink/network links with a GPU at one end (GPU-GPU links counted once; PCIe
    links to the host not counted)."""
    topo = check_topology(topo)
    gpus, g = set(topo.gpus), topo.graph
    return int(sum(e["links"] for a, b, e in g.edges(data=True)
                   if (a in gpus or b in gpus) and not _is_host_edge(g, a, b)))


def summary(topo: Topology) -> dict:
    """The chapter's table row for one system: every metric, each direction stated."""
    topo = check_topology(topo)
    per_gpu = gpu_bandwidth_GBps(topo)
    bis = bisection_bandwidth(topo)
    a2a = all_to_all_throughput(topo)
    best = embedded_rings(topo)[0]
    return {
        "system": topo.name, "GPUs": topo.n_gpus, "switches": len(topo.switches),
        "GPU links": gpu_link_count(topo),
        "per-GPU GB/s (each dir)": per_gpu.GBps_per_dir,
        "per-GPU GB/s (both dirs)": per_gpu.GBps_bidirectional,
        "bisection GB/s (each dir)": bis.GBps_per_dir,
        "bisection GB/s (both dirs)": bis.GBps_bidirectional,
        "diameter (hops)": diameter(topo),
        "all-to-all GB/s per GPU (each dir)": a2a.GBps_per_dir,
        "best ring GB/s (each dir)": best.GBps_per_dir,
        "source": topo.source,
    }
