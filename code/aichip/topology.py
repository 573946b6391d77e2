"""Interconnect topologies of multi-GPU systems as graphs, and metrics computed from the graphs.

A :class:`Topology` is an undirected :class:`networkx.Graph` whose nodes are GPUs (``kind="gpu"``)
and switches (``kind="switch"``). One edge stands for all the parallel links between two nodes:

=====================  =============================================================================
edge attribute         meaning
=====================  =============================================================================
``links``              number of parallel physical links (e.g. 2 for a double NVLink)
``tech``               the link technology, a row of ``aichip/data/links.csv``
``link_GBps_per_dir``  bandwidth of one link in one direction, 1e9 bytes/s
``GBps_per_dir``       ``links * link_GBps_per_dir``: the edge's bandwidth in **each** direction
=====================  =============================================================================

Links are full duplex: an edge carries ``GBps_per_dir`` each way at the same time, so its
bidirectional bandwidth is twice that. Every metric below says which of the two it reports; vendors
usually quote the bidirectional sum (an H100's "900 GB/s" is 450 GB/s each way).

Graph algorithms (shortest paths, max-flow, diameter) come from networkx; the one heavy numeric
loop, the exhaustive search over balanced bisections, is a numba kernel checked against networkx.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import NamedTuple

import networkx as nx
import numpy as np
from numba import njit

from .links import _links_cached, link, link_GBps_per_dir, load_links  # noqa: F401
from .validation import check_choice, check_float, check_int


# ----------------------------------------------------------------------------------------------
# the topology container and its builder


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
        return tuple(n for n, k in self.graph.nodes(data="kind") if k == "switch")


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


def _gpu_graph(n: int, prefix: str = "GPU") -> tuple[nx.Graph, tuple]:
    g = nx.Graph()
    gpus = tuple(f"{prefix}{i}" for i in range(n))
    g.add_nodes_from(gpus, kind="gpu")
    return g, gpus


def _from_link_counts(name, counts, tech, source, description) -> Topology:
    counts = np.asarray(counts)
    g, gpus = _gpu_graph(len(counts))
    for i, j in zip(*np.nonzero(np.triu(counts, 1))):
        _add_links(g, gpus[i], gpus[j], tech, int(counts[i, j]))
    return Topology(name, g, gpus, source, description)


def _switched(name, n_gpus, n_switches, links_per_switch, tech, source, description,
              switch_prefix="NVSwitch", per_link_GBps=None) -> Topology:
    """Every GPU has ``links_per_switch[s]`` links to each switch ``s`` (single-level crossbar)."""
    g, gpus = _gpu_graph(n_gpus)
    for s in range(n_switches):
        sw = f"{switch_prefix}{s}"
        g.add_node(sw, kind="switch")
        for gpu in gpus:
            _add_links(g, gpu, sw, tech, links_per_switch[s], per_link_GBps)
    return Topology(name, g, gpus, source, description)


# ----------------------------------------------------------------------------------------------
# real systems

#: NVLink link counts between the 8 GPUs of a DGX-1 with V100, as ``nvidia-smi topo -m`` prints
#: them (NV2 = two links, NV1 = one, 0 = no NVLink, "SYS" in the tool's output). Each row sums to
#: the V100's 6 links. NVIDIA, DGX-1 with Tesla V100 system architecture, 2017, figure 4.
DGX1_V100_LINKS = (
    (0, 1, 1, 2, 2, 0, 0, 0),
    (1, 0, 2, 1, 0, 2, 0, 0),
    (1, 2, 0, 2, 0, 0, 1, 0),
    (2, 1, 2, 0, 0, 0, 0, 1),
    (2, 0, 0, 0, 0, 1, 1, 2),
    (0, 2, 0, 0, 1, 0, 2, 1),
    (0, 0, 1, 0, 1, 2, 0, 2),
    (0, 0, 0, 1, 2, 1, 2, 0),
)


def dgx1_p100() -> Topology:
    """DGX-1 with 8 P100: hybrid cube mesh of NVLink 1, 4 links per GPU.

    Two fully connected quads (GPUs 0-3 and 4-7) plus one link from each GPU to its twin in the
    other quad: 16 links in all, 80 GB/s per direction per GPU.
    """
    counts = np.zeros((8, 8), dtype=int)
    for quad in (range(4), range(4, 8)):
        for i, j in itertools.combinations(quad, 2):
            counts[i, j] = counts[j, i] = 1
    for i in range(4):
        counts[i, i + 4] = counts[i + 4, i] = 1
    return _from_link_counts("DGX-1 (P100)", counts, "NVLink 1", "nvidia2017dgx1",
                             "hybrid cube mesh, 8 P100, 4 NVLink 1 links each")


def dgx1_v100() -> Topology:
    """DGX-1 with 8 V100: hybrid cube mesh of NVLink 2 with the double/single pattern
    :data:`DGX1_V100_LINKS`; 24 links of which 8 pairs are doubled."""
    return _from_link_counts("DGX-1 (V100)", DGX1_V100_LINKS, "NVLink 2", "nvidia2017dgx1",
                             "hybrid cube mesh, 8 V100, 6 NVLink 2 links each")


def dgx2() -> Topology:
    """DGX-2: 16 V100 on two baseboards, 6 first-generation NVSwitches per baseboard.

    Each GPU has one NVLink 2 link to each of its baseboard's 6 switches; each switch has 8 links
    to its twin on the other baseboard (the other 2 of its 18 ports are unused). Ishii and Foley,
    Hot Chips 2018.
    """
    g, gpus = _gpu_graph(16)
    for board in range(2):
        for s in range(6):
            sw = f"NVSwitch{6 * board + s}"
            g.add_node(sw, kind="switch")
            for gpu in gpus[8 * board: 8 * board + 8]:
                _add_links(g, gpu, sw, "NVLink 2", 1)
    for s in range(6):
        _add_links(g, f"NVSwitch{s}", f"NVSwitch{6 + s}", "NVLink 2", 8)
    return Topology("DGX-2", g, gpus, "ishii2018nvswitch",
                    "16 V100, 12 NVSwitch (gen 1) on two baseboards")


def dgx_a100() -> Topology:
    """DGX A100: 8 A100, 6 second-generation NVSwitches, 2 NVLink 3 links from each GPU to each."""
    return _switched("DGX A100", 8, 6, [2] * 6, "NVLink 3", "nvidia2020dgxa100",
                     "8 A100, 6 NVSwitch (gen 2), 12 NVLink 3 links per GPU")


def dgx_h100() -> Topology:
    """DGX H100: 8 H100, 4 third-generation NVSwitches; each GPU's 18 NVLink 4 links are split over
    the four switches (5, 4, 4, 5 as NVIDIA's HGX H100 baseboard diagrams draw it; per-GPU,
    bisection and all-to-all figures do not depend on the split)."""
    return _switched("DGX H100", 8, 4, [5, 4, 4, 5], "NVLink 4", "nvidia2022dgxh100",
                     "8 H100, 4 NVSwitch (gen 3), 18 NVLink 4 links per GPU")


def nvl72() -> Topology:
    """GB200 NVL72: 72 Blackwell GPUs, 18 NVSwitch chips (9 trays); one NVLink 5 link from every
    GPU to every switch chip."""
    return _switched("GB200 NVL72", 72, 18, [1] * 18, "NVLink 5", "nvidia2024gb200",
                     "72 Blackwell GPUs, 18 NVSwitch (gen 4) chips, 18 NVLink 5 links per GPU")


# ----------------------------------------------------------------------------------------------
# generic topologies


def switched(n_gpus: int, links_per_switch, tech: str = "NVLink 4",
             name: str | None = None) -> Topology:
    """A single level of switches: every GPU has ``links_per_switch[s]`` links of ``tech`` to
    switch ``s`` (``[2] * 6`` with NVLink 3 is a DGX A100)."""
    n_gpus = check_int("n_gpus", n_gpus, minimum=2)
    links = [check_int("links_per_switch[s]", k, minimum=1) for k in links_per_switch]
    if not links:
        raise ValueError("links_per_switch must name at least one switch")
    link(tech)
    name = name or f"{n_gpus} GPUs on {len(links)} switches"
    return _switched(name, n_gpus, len(links), links, tech, "", f"{sum(links)} {tech} links per GPU")


def crossbar(n: int, link_GBps_per_dir: float = 25.0) -> Topology:
    """``n`` GPUs on one non-blocking switch, one link each: the uniform fully connected network of
    the alpha-beta model (every pair one switch away, each GPU sends and receives at the link
    rate)."""
    n = check_int("n", n, minimum=2)
    bw = check_float("link_GBps_per_dir", link_GBps_per_dir, minimum=0, strict_minimum=True)
    return _switched(f"crossbar({n})", n, 1, [1], "custom", "", "uniform non-blocking switch",
                     switch_prefix="switch", per_link_GBps=bw)


def ring(n: int, link_GBps_per_dir: float = 25.0) -> Topology:
    """``n`` GPUs in a bidirectional ring, one link between neighbours."""
    n = check_int("n", n, minimum=3)
    return torus((n,), link_GBps_per_dir)


def torus(dims, link_GBps_per_dir: float = 25.0) -> Topology:
    """A torus (wrap-around mesh) of shape ``dims``, one link to each neighbour in every dimension.

    A dimension of size 2 gives a double link (both neighbours are the same GPU).
    """
    dims = tuple(check_int("dims[i]", d, minimum=2) for d in dims)
    if not dims:
        raise ValueError("dims must name at least one dimension")
    bw = check_float("link_GBps_per_dir", link_GBps_per_dir, minimum=0, strict_minimum=True)
    n = math.prod(dims)
    g, gpus = _gpu_graph(n)
    coords = list(itertools.product(*(range(d) for d in dims)))
    index = {c: i for i, c in enumerate(coords)}
    for c in coords:
        for axis, d in enumerate(dims):
            nb = list(c)
            nb[axis] = (c[axis] + 1) % d
            _add_links(g, gpus[index[c]], gpus[index[tuple(nb)]], "custom", 1, bw)
    name = "ring" if len(dims) == 1 else "torus"
    return Topology(f"{name}{dims if len(dims) > 1 else f'({n})'}", g, gpus, "",
                    f"{'x'.join(map(str, dims))} {name}")


def fat_tree(n_nodes: int = 4, node=dgx_h100, n_spines: int = 2,
             network: str = "InfiniBand NDR 4x", oversubscription: float = 1.0) -> Topology:
    """Two-level fat tree of ``n_nodes`` copies of ``node()`` over a rail-optimised network.

    GPU ``k`` of every node has one NIC port to leaf switch ``k`` (rail ``k``); every leaf has
    ``ceil(n_nodes / oversubscription / n_spines)`` links to each of the ``n_spines`` spines, so the
    tree is non-blocking at ``oversubscription=1``.
    """
    n_nodes = check_int("n_nodes", n_nodes, minimum=1)
    n_spines = check_int("n_spines", n_spines, minimum=1)
    over = check_float("oversubscription", oversubscription, minimum=1.0)
    check_choice("network", network, [n for n in _links_cached()["name"]
                                      if n.startswith(("InfiniBand", "Ethernet"))])
    template = node()
    if not isinstance(template, Topology):
        raise TypeError("node must be a function returning a Topology")
    g = nx.Graph()
    gpus = []
    for k in range(n_nodes):
        h = nx.relabel_nodes(template.graph, {v: f"n{k}/{v}" for v in template.graph})
        g.update(h)
        gpus += [f"n{k}/{v}" for v in template.gpus]
    rails = template.n_gpus
    up = math.ceil(n_nodes / over / n_spines)
    for r in range(rails):
        g.add_node(f"leaf{r}", kind="switch")
        for k in range(n_nodes):
            _add_links(g, f"n{k}/{template.gpus[r]}", f"leaf{r}", network, 1)
        for s in range(n_spines):
            g.add_node(f"spine{s}", kind="switch")
            _add_links(g, f"leaf{r}", f"spine{s}", network, up)
    return Topology(f"fat tree: {n_nodes} x {template.name}", g, tuple(gpus), template.source,
                    f"{n_nodes} nodes, {rails} rails, {n_spines} spines over {network}")


SYSTEMS = {"DGX-1 (P100)": dgx1_p100, "DGX-1 (V100)": dgx1_v100, "DGX-2": dgx2,
           "DGX A100": dgx_a100, "DGX H100": dgx_h100, "GB200 NVL72": nvl72}


# ----------------------------------------------------------------------------------------------
# metrics


def _check_topology(topo) -> Topology:
    if not isinstance(topo, Topology):
        raise TypeError(f"topo must be a Topology, got {type(topo).__name__}")
    return topo


def link_matrix(topo: Topology) -> np.ndarray:
    """Number of direct links between each pair of GPUs, shape (n_gpus, n_gpus) (0 = none,
    including pairs that talk only through a switch)."""
    topo = _check_topology(topo)
    m = np.zeros((topo.n_gpus, topo.n_gpus), dtype=np.int64)
    pos = {v: i for i, v in enumerate(topo.gpus)}
    for a, b, links in topo.graph.edges(data="links"):
        if a in pos and b in pos:
            m[pos[a], pos[b]] = m[pos[b], pos[a]] = links
    return m


def gpu_bandwidth_GBps(topo: Topology, gpu=None) -> "PairBandwidth":
    """Total NVLink/network bandwidth of one GPU (default the first), per direction and both."""
    topo = _check_topology(topo)
    gpu = topo.gpus[0] if gpu is None else gpu
    if gpu not in topo.gpus:
        raise ValueError(f"gpu must be one of the topology's GPUs, got {gpu!r}")
    per_dir = sum(e["GBps_per_dir"] for _, _, e in topo.graph.edges(gpu, data=True))
    return PairBandwidth(per_dir, 2 * per_dir)


class PairBandwidth(NamedTuple):
    """A bandwidth in 1e9 bytes/s, each direction and both directions summed."""

    GBps_per_dir: float
    GBps_bidirectional: float


def max_flow(topo: Topology, a, b) -> PairBandwidth:
    """Largest rate GPU ``a`` can send to GPU ``b`` using every path at once (networkx max-flow;
    capacities are the per-direction edge bandwidths). ``a``, ``b``: node names or GPU indices."""
    topo = _check_topology(topo)
    a, b = (_gpu_name(topo, x, name) for x, name in ((a, "a"), (b, "b")))
    if a == b:
        raise ValueError("a and b must be different GPUs")
    flow = nx.maximum_flow_value(topo.graph, a, b, capacity="GBps_per_dir")
    return PairBandwidth(float(flow), 2 * float(flow))


def bandwidth_matrix(topo: Topology) -> np.ndarray:
    """GPU-to-GPU max-flow bandwidth per direction (1e9 bytes/s), shape (n_gpus, n_gpus), zero
    diagonal. Pairs with no direct link still get the bandwidth of multi-hop paths. (The numba
    Edmonds-Karp kernel; :func:`max_flow` is the networkx reference it is tested against.)"""
    topo = _check_topology(topo)
    cap, _ = _capacity_matrix(topo)
    return _pairwise_max_flow(cap, topo.n_gpus)


def _gpu_name(topo: Topology, x, name: str):
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        check_int(name, x, minimum=0, maximum=topo.n_gpus - 1)
        return topo.gpus[x]
    if x not in topo.gpus:
        raise ValueError(f"{name} must be a GPU index or one of {topo.gpus[:4]}..., got {x!r}")
    return x


def diameter(topo: Topology) -> int:
    """Largest number of hops between two GPUs on a shortest path (switches count as hops)."""
    topo = _check_topology(topo)
    dist = dict(nx.all_pairs_shortest_path_length(topo.graph))
    return max(dist[a][b] for a in topo.gpus for b in topo.gpus)


class Bisection(NamedTuple):
    """Bisection bandwidth: the smallest max-flow between two equal halves of the GPUs."""

    GBps_per_dir: float
    GBps_bidirectional: float
    half: tuple     # GPU indices on one side of the minimising cut
    exact: bool     # True: every balanced split was tried; False: an upper bound from candidates


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
def _bisection_kernel(cap, halves, big):
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


@njit(cache=True)
def _pairwise_max_flow(cap, n_gpu):
    out = np.zeros((n_gpu, n_gpu))
    for i in range(n_gpu):
        for j in range(i + 1, n_gpu):
            out[i, j] = out[j, i] = _max_flow_dense(cap.copy(), i, j)
    return out


def _capacity_matrix(topo: Topology) -> tuple[np.ndarray, list]:
    nodes = list(topo.gpus) + [v for v in topo.graph if v not in set(topo.gpus)]
    pos = {v: i for i, v in enumerate(nodes)}
    cap = np.zeros((len(nodes) + 2, len(nodes) + 2))
    for a, b, bw in topo.graph.edges(data="GBps_per_dir"):
        cap[pos[a], pos[b]] = cap[pos[b], pos[a]] = bw
    return cap, nodes


def bisection_bandwidth(topo: Topology, max_exact_splits: int = 20_000, n_random: int = 64,
                        seed: int = 0) -> Bisection:
    """Bisection bandwidth over balanced splits of the GPUs (switches may fall on either side).

    Every balanced split is tried when there are at most ``max_exact_splits`` of them (8 GPUs: 35,
    16 GPUs: 6435). Larger systems try natural candidates (first half / second half, even / odd)
    and ``n_random`` seeded random splits, and report the smallest as an upper bound
    (``exact=False``). Each split costs one max-flow (numba Edmonds-Karp).
    """
    topo = _check_topology(topo)
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
    cap, _ = _capacity_matrix(topo)
    big = float(cap.sum()) + 1.0
    flow, r = _bisection_kernel(cap, halves, big)
    half = tuple(int(i) for i in np.flatnonzero(halves[r] == 0))
    return Bisection(float(flow), 2 * float(flow), half, exact)


def _routes(topo: Topology, a, b) -> list[tuple[list, float]]:
    """Shortest (hop-count) paths from a to b, each with the share of the traffic it carries:
    proportional to the path's narrowest edge, so a GPU with 5 links to one switch and 4 to
    another loads them 5:4 (equal shares when all paths are alike)."""
    g = topo.graph
    paths = list(nx.all_shortest_paths(g, a, b))
    widths = [min(g.edges[u, v]["GBps_per_dir"] for u, v in zip(p[:-1], p[1:])) for p in paths]
    total = sum(widths)
    return [(p, w / total) for p, w in zip(paths, widths)]


class Router:
    """Multipath routing over all shortest paths (ECMP, weighted by path width), cached per pair."""

    def __init__(self, topo: Topology):
        self.topo = topo
        self._cache: dict = {}

    def edge_loads(self, flows) -> dict:
        """Bytes (or rates) on each directed edge ``(u, v)`` for ``flows`` = [(src, dst, amount)]."""
        loads: dict = {}
        for a, b, amount in flows:
            key = (a, b)
            if key not in self._cache:
                self._cache[key] = _routes(self.topo, a, b)
            for path, share in self._cache[key]:
                for u, v in zip(path[:-1], path[1:]):
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
    topo = _check_topology(topo)
    flows = [(_gpu_name(topo, a, "src"), _gpu_name(topo, b, "dst"), 1.0) for a, b in pairs]
    if not flows:
        raise ValueError("pairs must hold at least one (src, dst) pair")
    return 1.0 / (Router(topo).drain_time_s(flows) * 1e9)


def all_to_all_throughput(topo: Topology) -> PairBandwidth:
    """Per-GPU send rate of a uniform all-to-all (every GPU sends equally to every other) routed
    over ECMP shortest paths: the sum over a GPU's n-1 destinations, each direction (and both)."""
    topo = _check_topology(topo)
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
    topo = _check_topology(topo)
    order = tuple(int(check_int("order[i]", i, minimum=0, maximum=topo.n_gpus - 1)) for i in order)
    if sorted(order) != list(range(topo.n_gpus)):
        raise ValueError(f"order must visit each of the {topo.n_gpus} GPUs once, got {order}")
    pairs = [(order[k], order[(k + 1) % len(order)]) for k in range(len(order))]
    return Ring(order, concurrent_rate_GBps(topo, pairs))


def embedded_rings(topo: Topology, max_gpus: int = 10) -> list[Ring]:
    """Rings over direct GPU-to-GPU links (Hamiltonian cycles of the GPU graph), fastest first.

    Each undirected cycle appears once, starting at GPU 0. On switched systems (or with more than
    ``max_gpus`` GPUs, where enumeration explodes) there is one ring, in GPU order, through the
    switches.
    """
    topo = _check_topology(topo)
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
    """Number of physical links with a GPU at one end (GPU-GPU links counted once)."""
    topo = _check_topology(topo)
    gpus = set(topo.gpus)
    return int(sum(e["links"] for a, b, e in topo.graph.edges(data=True) if a in gpus or b in gpus))


def summary(topo: Topology) -> dict:
    """The chapter's table row for one system: every metric, each direction stated."""
    topo = _check_topology(topo)
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
