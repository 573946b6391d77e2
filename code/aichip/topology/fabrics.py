"""Topologies of today's large systems, built as graphs: the TPU's 3D torus (plain or twisted) and a
3D mesh, cut along its axes; the torus all-reduce that runs one ring phase per dimension; a
rail-optimised multi-tier fat tree (a DGX SuperPOD's compute fabric) with its switch counts and the
oversubscription of each tier; and the data each GPU moves in an all-reduce with and without
reduction in the switches (NVLink SHARP).

Chips of a torus or mesh forward traffic between their links (``forwards=True``), as the routers of
the TPU's inter-chip interconnect (ICI) do; GPUs on a fat tree do not.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np

from .. import alphabeta
from ..links import load_links
from ..validation import check_choice, check_float, check_int
from ._checks import check_topology
from .graph import Topology, add_links
from .routing import concurrent_rate_GBps

__all__ = [
    "allreduce_bytes_per_gpu", "axis_halves", "cut_bandwidth", "mesh", "rail_fat_tree",
    "switch_counts", "tier_oversubscription", "torus_allreduce_s", "tpu_torus",
]


def _check_dims(dims) -> tuple:
    dims = tuple(check_int("dims[i]", d, minimum=2) for d in dims)
    if not dims:
        raise ValueError("dims must name at least one dimension")
    return dims


def _chip_grid(dims, link: str, wrap: bool, twist: dict, name: str, description: str) -> Topology:
    """Chips at every coordinate of ``dims``, one ``link`` to the next chip along each axis;
    the last chip of an axis links back to the first only if ``wrap`` (a torus), and then lands
    ``twist[axis]`` positions further along the twisted axis (see :func:`tpu_torus`)."""
    source = _link_source(link)
    coords = list(itertools.product(*(range(d) for d in dims)))
    index = {c: i for i, c in enumerate(coords)}
    g = nx.Graph()
    chips = tuple(f"chip{i}" for i in range(len(coords)))
    g.add_nodes_from(chips, kind="gpu", forwards=True)
    for c in coords:
        for axis, d in enumerate(dims):
            if c[axis] + 1 < d:
                nb = list(c)
                nb[axis] += 1
            elif wrap:
                nb = list(c)
                nb[axis] = 0
                if axis in twist:
                    along, shift = twist[axis]
                    nb[along] = (nb[along] + shift) % dims[along]
            else:
                continue
            add_links(g, chips[index[c]], chips[index[tuple(nb)]], link, 1)
    return Topology(name, g, chips, source, description)


def _link_source(link: str) -> str:
    table = load_links().set_index("name")
    check_choice("link", link, list(table.index))
    return str(table.loc[link, "source"])


def _twists(dims) -> dict:
    """``axis -> (twisted axis, shift)`` for a twisted torus: every axis half as long as the
    longest gets its wraparound shifted by its own length along the last longest axis."""
    longest = max(dims)
    along = max(i for i, d in enumerate(dims) if d == longest)
    twist = {i: (along, d) for i, d in enumerate(dims) if 2 * d == longest}
    if not twist or any(d not in (longest, longest // 2) for d in dims):
        raise ValueError(f"a twisted torus needs every dimension equal to the longest or half of "
                         f"it, at least one half (as 4x4x8 or 4x8x8), got dims={dims}")
    return twist


def tpu_torus(dims=(4, 4, 4), twisted: bool = False, link: str = "TPU v4 ICI") -> Topology:
    """A TPU slice: a torus of shape ``dims`` with one ``link`` to each neighbour, wraparound
    links on every axis (six links per chip in 3D), chips that route.

    ``twisted=True`` builds the twisted torus of Camara et al. that TPU v4 offers for shapes whose
    dimensions are the longest or half of it (``k x k x 2k``, ``k x 2k x 2k``): the wraparound of
    each short axis (length ``k``) does not return to its own row but lands ``k`` positions further
    along the last long axis. A dimension of size 2 gives a double link, as in
    :func:`aichip.topology.torus`.

    Parameters
    ----------
    dims : tuple of int >= 2, chips along each axis (4 x 4 x 4 = one TPU v4 cube)
    twisted : bool
    link : a row of ``aichip/data/links.csv`` (``"TPU v4 ICI"``, ``"TPU v5p ICI"``)
    """
    dims = _check_dims(dims)
    if not isinstance(twisted, bool):
        raise TypeError(f"twisted must be True or False, got {twisted!r}")
    twist = _twists(dims) if twisted else {}
    shape = "x".join(map(str, dims))
    kind = "twisted torus" if twisted else "torus"
    return _chip_grid(dims, link, True, twist, f"{kind} {shape} ({link})",
                      f"{shape} {kind}, {2 * len(dims)} {link} links per chip")


def mesh(dims=(4, 4, 4), link: str = "TPU v4 ICI") -> Topology:
    """A mesh of shape ``dims``: the torus without its wraparound links (an edge chip has fewer
    links); what a TPU v4 slice smaller than a cube gets."""
    dims = _check_dims(dims)
    shape = "x".join(map(str, dims))
    return _chip_grid(dims, link, False, {}, f"mesh {shape} ({link})", f"{shape} mesh")


def axis_halves(dims) -> list:
    """For each axis of even length, the chips (indices in :func:`tpu_torus` order) whose
    coordinate on that axis is in its first half: the cuts that halve a torus or mesh."""
    dims = _check_dims(dims)
    coords = np.array(list(itertools.product(*(range(d) for d in dims))))
    return [tuple(int(i) for i in np.flatnonzero(coords[:, a] < d // 2))
            for a, d in enumerate(dims) if d % 2 == 0]


def cut_bandwidth(topo: Topology, half) -> float:
    """Per-direction bandwidth (1e9 bytes/s) of the links between the GPUs ``half`` (indices) and
    all other nodes of a switchless topology: the capacity of that cut, an upper bound on the
    bisection (and equal to it on even tori, whose axis cuts are minimal)."""
    topo = check_topology(topo)
    if topo.switches or topo.hosts:
        raise ValueError("cut_bandwidth counts GPU-to-GPU links only; use bisection_bandwidth "
                         "for topologies with switches")
    side = {topo.gpus[int(check_int("half[i]", i, minimum=0, maximum=topo.n_gpus - 1))]
            for i in half}
    return float(sum(e["GBps_per_dir"] for a, b, e in topo.graph.edges(data=True)
                     if (a in side) != (b in side)))


def _axis_ring_rate(topo: Topology, dims, axis: int) -> float:
    """Rate (1e9 bytes/s) of each flow when the chips of one line along ``axis`` send to both
    ring neighbours at once (the two rings of a bidirectional ring phase), over the graph's
    shortest paths: a torus line is a cycle, so every flow has a link of its own; on a mesh the
    closing hop shares the line's links."""
    coords = list(itertools.product(*(range(d) for d in dims)))
    index = {c: i for i, c in enumerate(coords)}
    line = [index[tuple(k if a == axis else 0 for a in range(len(dims)))]
            for k in range(dims[axis])]
    pairs = [(line[k], line[(k + 1) % len(line)]) for k in range(len(line))]
    pairs += [(b, a) for a, b in pairs]
    return concurrent_rate_GBps(topo, pairs)


def torus_allreduce_s(topo: Topology, dims, msg_bytes: float, alpha_s: float = 0.0) -> float:
    """Time (s) of the dimension-by-dimension ring all-reduce on a torus or mesh of shape ``dims``.

    A reduce-scatter along axis 0 (every line of chips a ring), then along axis 1 on the share
    each chip holds, and so on; then all-gathers in reverse order (the bucket algorithm of Jain and
    Sabharwal). Each phase is a bidirectional ring: half the data goes each way, so a chip sends at
    twice the per-flow rate measured on the graph (:func:`_axis_ring_rate`). Each phase's time is
    :func:`aichip.alphabeta.cost` of a ring reduce-scatter or all-gather on ``dims[axis]`` ranks.

    Parameters
    ----------
    topo : the :func:`tpu_torus` (untwisted) or :func:`mesh` of shape ``dims``
    dims : tuple of int, the shape the topology was built with
    msg_bytes : float > 0, the buffer every chip all-reduces
    alpha_s : float >= 0, latency per ring step
    """
    topo = check_topology(topo)
    dims = _check_dims(dims)
    if math.prod(dims) != topo.n_gpus:
        raise ValueError(f"dims {dims} do not match the {topo.n_gpus} chips of {topo.name}")
    n = check_float("msg_bytes", msg_bytes, minimum=0, strict_minimum=True)
    total, share = 0.0, n
    for axis, d in enumerate(dims):
        beta = 1.0 / (2 * _axis_ring_rate(topo, dims, axis) * 1e9)
        total += alphabeta.cost("reduce_scatter", "ring", d, share, alpha_s, beta)
        total += alphabeta.cost("allgather", "ring", d, share, alpha_s, beta)
        share /= d
    return total


def allreduce_bytes_per_gpu(n_ranks: int, msg_bytes: float, in_network: bool = False) -> float:
    """Bytes each GPU sends in an all-reduce of ``msg_bytes``: ``2 (p - 1) / p`` times the buffer
    with a ring (each GPU forwards the other GPUs' partial sums), once the buffer when the switches
    reduce (NVLink SHARP: each GPU sends its buffer to the switch once and receives the sum once,
    as a multicast)."""
    p = check_int("n_ranks", n_ranks, minimum=1)
    n = check_float("msg_bytes", msg_bytes, minimum=0)
    if not isinstance(in_network, bool):
        raise TypeError(f"in_network must be True or False, got {in_network!r}")
    return n if in_network else 2 * (p - 1) / p * n


def _tier_switches(g: nx.Graph, tier: int, count: int, prefix: str) -> list:
    names = [f"{prefix}{i}" for i in range(count)]
    g.add_nodes_from(names, kind="switch", forwards=True, tier=tier)
    return names


def _spread(g, lower, upper, per_lower: int, link: tuple) -> None:
    """Each switch of ``lower`` sends ``per_lower`` links of ``link`` (technology, rate or None)
    round-robin over ``upper``."""
    for i, sw in enumerate(lower):
        for u in range(per_lower):
            add_links(g, sw, upper[(i * per_lower + u) % len(upper)], link[0], 1, link[1])


def rail_fat_tree(n_nodes: int = 32, gpus_per_node: int = 8, nodes_per_unit: int = 32,
                  radix: int = 64, oversubscription: float = 1.0,
                  network: str = "InfiniBand NDR 4x", tiers: int | None = None,
                  link_GBps_per_dir: float | None = None) -> Topology:
    """A rail-optimised fat tree: the compute fabric of a DGX SuperPOD.

    Nodes are grouped in scalable units (SU) of ``nodes_per_unit``; in each SU, GPU ``r`` of every
    node has one port to leaf ``r`` of that SU (rail ``r``), so ``gpus_per_node`` leaves per SU.
    A leaf has ``nodes_per_unit`` ports down and ``nodes_per_unit / oversubscription`` up. Two
    tiers while every leaf can reach every spine (at most ``radix`` leaves): spines have ``radix``
    ports down. Beyond that, three tiers: pods of ``radix / 2`` leaves with as many spines as a
    leaf has uplinks, spines with ``radix / 2`` ports each way, and core switches with ``radix``
    ports down. Uplinks are spread round-robin. Switches carry a ``tier`` attribute (1 leaf,
    2 spine, 3 core). The NVLink inside each node is left out: GPUs do not forward, so traffic
    between rails goes up to a spine.

    Parameters
    ----------
    n_nodes : int >= 1, nodes (e.g. DGX H100) in all
    gpus_per_node : int >= 1, GPUs (and rails) per node
    nodes_per_unit : int >= 1, nodes per scalable unit (NVIDIA's SU: 32 DGX H100)
    radix : int, ports per switch (NVIDIA Quantum-2 QM9700: 64 NDR ports)
    oversubscription : float >= 1, leaf down-ports over up-ports
    network : an InfiniBand or Ethernet row of ``aichip/data/links.csv``
    tiers : 2 or 3, default the fewest that fit
    link_GBps_per_dir : float > 0, optional: every port at this rate (1e9 bytes/s each way)
        instead of ``network``'s, to compare with another fabric at equal bandwidth per GPU
    """
    n_nodes = check_int("n_nodes", n_nodes, minimum=1)
    rails = check_int("gpus_per_node", gpus_per_node, minimum=1)
    per_unit = check_int("nodes_per_unit", nodes_per_unit, minimum=1)
    radix = check_int("radix", radix, minimum=2)
    over = check_float("oversubscription", oversubscription, minimum=1.0)
    check_choice("network", network, [n for n in load_links()["name"]
                                      if n.startswith(("InfiniBand", "Ethernet"))])
    rate = None if link_GBps_per_dir is None else check_float(
        "link_GBps_per_dir", link_GBps_per_dir, minimum=0, strict_minimum=True)
    tech = network if rate is None else "custom"
    up = math.ceil(per_unit / over)
    if per_unit + up > radix:
        raise ValueError(f"a leaf needs nodes_per_unit + uplinks = {per_unit + up} ports, more "
                         f"than radix={radix}")
    units = math.ceil(n_nodes / per_unit)
    g = nx.Graph()
    gpus = []
    leaves = _tier_switches(g, 1, units * rails, "leaf")
    for k in range(n_nodes):
        for r in range(rails):
            gpu = f"n{k}/GPU{r}"
            g.add_node(gpu, kind="gpu", forwards=False)
            add_links(g, gpu, leaves[(k // per_unit) * rails + r], tech, 1, rate)
            gpus.append(gpu)
    fit = 2 if len(leaves) <= radix else 3
    tiers = fit if tiers is None else check_int("tiers", tiers, minimum=fit, maximum=3)
    _upper_tiers(g, leaves, up, radix, tiers, (tech, rate))
    return Topology(f"rail fat tree: {n_nodes} x {rails} GPUs, {tiers} tiers", g, tuple(gpus),
                    "nvidia2023superpodh100",
                    f"{units} SU of {per_unit} nodes, {len(leaves)} leaves, {up} uplinks per leaf, "
                    f"{network}")


def _upper_tiers(g, leaves, up, radix, tiers, link) -> None:
    if tiers == 2:
        spines = _tier_switches(g, 2, math.ceil(len(leaves) * up / radix), "spine")
        _spread(g, leaves, spines, up, link)
        return
    pod = radix // 2
    spines = []
    for p in range(math.ceil(len(leaves) / pod)):
        pod_spines = _tier_switches(g, 2, up, f"pod{p}/spine")
        _spread(g, leaves[p * pod:(p + 1) * pod], pod_spines, up, link)
        spines += pod_spines
    cores = _tier_switches(g, 3, math.ceil(len(spines) * pod / radix), "core")
    for i, sw in enumerate(spines):
        j = i % up                                   # the spine's place in its pod
        for u in range(pod):
            add_links(g, sw, cores[(j * pod + u) % len(cores)], link[0], 1, link[1])


def switch_counts(topo: Topology) -> dict:
    """Switches per tier, ``{1: leaves, 2: spines, 3: cores}``, read from the graph's ``tier``
    attributes (tiers without switches are left out)."""
    topo = check_topology(topo)
    out: dict = {}
    for _, tier in topo.graph.nodes(data="tier"):
        if tier is not None:
            out[tier] = out.get(tier, 0) + 1
    return dict(sorted(out.items()))


def tier_oversubscription(topo: Topology) -> dict:
    """For each tier below the top, the bandwidth its switches have down (towards the GPUs) over
    the bandwidth they have up, summed over the tier from the graph's edges (1.0 = non-blocking)."""
    topo = check_topology(topo)
    g = topo.graph
    level = {v: g.nodes[v].get("tier", 0) for v in g}
    down: dict = {}
    upward: dict = {}
    for a, b, e in g.edges(data=True):
        lo, hi = sorted((a, b), key=level.get)
        if level[lo] == level[hi]:
            continue
        upward[level[lo]] = upward.get(level[lo], 0.0) + e["GBps_per_dir"]
        down[level[hi]] = down.get(level[hi], 0.0) + e["GBps_per_dir"]
    return {t: down[t] / upward[t] for t in sorted(down) if t in upward}
