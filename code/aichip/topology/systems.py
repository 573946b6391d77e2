"""Real multi-GPU systems (DGX-1 P100/V100, DGX-2, DGX A100/H100, GB200 NVL72) and generic
topologies (a single level of switches, a crossbar, ring, torus, a rail-optimised fat tree), each
built as a :class:`~aichip.topology.graph.Topology` from the link table and its published wiring."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np

from ..links import link, load_links
from ..validation import check_choice, check_float, check_int
from .graph import Topology, add_links

__all__ = [
    "DGX1_V100_LINKS", "SYSTEMS", "crossbar", "dgx1_p100", "dgx1_v100", "dgx2", "dgx_a100",
    "dgx_h100", "example_systems", "fat_tree", "nvl72", "ring", "switched", "torus",
]


def _gpu_graph(n: int, prefix: str = "GPU", gpus_forward: bool = False) -> tuple[nx.Graph, tuple]:
    """A graph of ``n`` GPU nodes ``<prefix>0``... and no edges; the GPUs forward other GPUs'
    traffic only if ``gpus_forward``. Returns the graph and the GPU names in rank order."""
    g = nx.Graph()
    gpus = tuple(f"{prefix}{i}" for i in range(n))
    g.add_nodes_from(gpus, kind="gpu", forwards=gpus_forward)
    return g, gpus


def _from_link_counts(name, counts, tech, source, description, gpus_forward=False) -> Topology:
    counts = np.asarray(counts)
    g, gpus = _gpu_graph(len(counts), gpus_forward=gpus_forward)
    for i, j in zip(*np.nonzero(np.triu(counts, 1)), strict=True):
        add_links(g, gpus[i], gpus[j], tech, int(counts[i, j]))
    return Topology(name, g, gpus, source, description)


def _switched(name, n_gpus, n_switches, links_per_switch, tech, source, description,
              switch_prefix="NVSwitch", per_link_GBps=None) -> Topology:
    """Every GPU has ``links_per_switch[s]`` links to each switch ``s`` (single-level crossbar)."""
    g, gpus = _gpu_graph(n_gpus)
    for s in range(n_switches):
        sw = f"{switch_prefix}{s}"
        g.add_node(sw, kind="switch", forwards=True)
        for gpu in gpus:
            add_links(g, gpu, sw, tech, links_per_switch[s], per_link_GBps)
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


def _add_dgx1_host_path(g: nx.Graph, gpus: tuple) -> None:
    """The DGX-1's PCIe tree and CPUs: two GPUs on each of four PCIe 3.0 switches, two switches on
    each of the two Xeon E5-2698 v4 CPUs (one x16 link each), the CPUs joined by their two QPI links
    at 9.6 GT/s (NVIDIA DGX-1 whitepaper, figure 4; Li et al., TPDS 2020, figure 1; Intel ark).

    GPUs ``2s`` and ``2s + 1`` share PCIe switch ``s``; GPUs 0-3 hang off CPU0 and 4-7 off CPU1, so
    every GPU pair without NVLink (all of them across the two quads) crosses QPI, which
    ``nvidia-smi topo -m`` prints as ``SYS``. The network adapters on these switches are left out.
    """
    for cpu in range(2):
        g.add_node(f"CPU{cpu}", kind="host", forwards=True)
    add_links(g, "CPU0", "CPU1", "QPI 9.6 GT/s", 2)
    for s in range(4):
        sw = f"PCIe{s}"
        g.add_node(sw, kind="host", forwards=True)
        add_links(g, sw, f"CPU{s // 2}", "PCIe 3.0 x16", 1)
        for gpu in gpus[2 * s: 2 * s + 2]:
            add_links(g, gpu, sw, "PCIe 3.0 x16", 1)


def _dgx1(name, counts, tech, description, gpu_relay) -> Topology:
    if not isinstance(gpu_relay, bool):
        raise TypeError(f"gpu_relay must be True or False, got {gpu_relay!r}")
    topo = _from_link_counts(name, counts, tech, "nvidia2017dgx1", description,
                             gpus_forward=gpu_relay)
    _add_dgx1_host_path(topo.graph, topo.gpus)
    if gpu_relay:
        return Topology(f"{name}, GPU relay", topo.graph, topo.gpus, topo.source,
                        description + "; software relays traffic through GPUs")
    return topo


def dgx1_p100(gpu_relay: bool = False) -> Topology:
    """DGX-1 with 8 P100: hybrid cube mesh of NVLink 1, 4 links per GPU, and the PCIe/QPI host path.

    Two fully connected quads (GPUs 0-3 and 4-7) plus one link from each GPU to its twin in the
    other quad: 16 links in all, 80 GB/s per direction per GPU. NVLink does not route, so the 12
    pairs without a link communicate over PCIe and QPI (:func:`_add_dgx1_host_path`).
    ``gpu_relay=True`` lets traffic pass through GPUs instead, as software that stages a copy in a
    third GPU's memory would; the hardware does not do it on its own.
    """
    counts = np.zeros((8, 8), dtype=int)
    for quad in (range(4), range(4, 8)):
        for i, j in itertools.combinations(quad, 2):
            counts[i, j] = counts[j, i] = 1
    for i in range(4):
        counts[i, i + 4] = counts[i + 4, i] = 1
    return _dgx1("DGX-1 (P100)", counts, "NVLink 1",
                 "hybrid cube mesh, 8 P100, 4 NVLink 1 links each; PCIe/QPI between unlinked pairs",
                 gpu_relay)


def dgx1_v100(gpu_relay: bool = False) -> Topology:
    """DGX-1 with 8 V100: hybrid cube mesh of NVLink 2 with the double/single pattern
    :data:`DGX1_V100_LINKS` (24 links, 8 pairs doubled), plus the PCIe/QPI host path that the 12
    pairs without NVLink use. ``gpu_relay``: as in :func:`dgx1_p100`."""
    return _dgx1("DGX-1 (V100)", DGX1_V100_LINKS, "NVLink 2",
                 "hybrid cube mesh, 8 V100, 6 NVLink 2 links each; PCIe/QPI between unlinked pairs",
                 gpu_relay)


def dgx2() -> Topology:
    """DGX-2: 16 V100 on two baseboards, 6 first-generation NVSwitches per baseboard.

    Each GPU has one NVLink 2 link to each of its baseboard's 6 switches; each switch has 8 links
    to its twin on the other baseboard (the other 2 of its 18 ports are unused). Ishii and Foley,
    Hot Chips 2018. Two GPUs on one baseboard are one switch apart (2 hops); two on different
    baseboards are two switches apart (3 hops: GPU, switch, its twin, GPU).
    """
    g, gpus = _gpu_graph(16)
    for board in range(2):
        for s in range(6):
            sw = f"NVSwitch{6 * board + s}"
            g.add_node(sw, kind="switch", forwards=True)
            for gpu in gpus[8 * board: 8 * board + 8]:
                add_links(g, gpu, sw, "NVLink 2", 1)
    for s in range(6):
        add_links(g, f"NVSwitch{s}", f"NVSwitch{6 + s}", "NVLink 2", 8)
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
    return _switched(name, n_gpus, len(links), links, tech, "",
                     f"{sum(links)} {tech} links per GPU")


def crossbar(n: int, link_GBps_per_dir: float = 25.0) -> Topology:
    """``n`` GPUs on one non-blocking switch, one link each: the uniform fully connected network of
    the alpha-beta model (every pair one switch away, each GPU sends and receives at the link
    rate)."""
    n = check_int("n", n, minimum=2)
    bw = check_float("link_GBps_per_dir", link_GBps_per_dir, minimum=0, strict_minimum=True)
    return _switched(f"crossbar({n})", n, 1, [1], "custom", "", "uniform non-blocking switch",
                     switch_prefix="switch", per_link_GBps=bw)


def ring(n: int, link_GBps_per_dir: float = 25.0) -> Topology:
    """``n`` GPUs in a bidirectional ring, one link between neighbours (chips forward traffic, as in
    :func:`torus`)."""
    n = check_int("n", n, minimum=3)
    return torus((n,), link_GBps_per_dir)


def torus(dims, link_GBps_per_dir: float = 25.0) -> Topology:
    """A torus (wrap-around mesh) of shape ``dims``, one link to each neighbour in every dimension.

    A dimension of size 2 gives a double link (both neighbours are the same GPU). The chips forward
    traffic between their links (``forwards=True``), as the routers of torus networks do.
    """
    dims = tuple(check_int("dims[i]", d, minimum=2) for d in dims)
    if not dims:
        raise ValueError("dims must name at least one dimension")
    bw = check_float("link_GBps_per_dir", link_GBps_per_dir, minimum=0, strict_minimum=True)
    n = math.prod(dims)
    g, gpus = _gpu_graph(n, gpus_forward=True)
    coords = list(itertools.product(*(range(d) for d in dims)))
    index = {c: i for i, c in enumerate(coords)}
    for c in coords:
        for axis, d in enumerate(dims):
            nb = list(c)
            nb[axis] = (c[axis] + 1) % d
            add_links(g, gpus[index[c]], gpus[index[tuple(nb)]], "custom", 1, bw)
    name = "ring" if len(dims) == 1 else "torus"
    return Topology(f"{name}{dims if len(dims) > 1 else f'({n})'}", g, gpus, "",
                    f"{'x'.join(map(str, dims))} {name}")


def fat_tree(n_nodes: int = 4, node=dgx_h100, n_spines: int = 2,
             network: str = "InfiniBand NDR 4x", oversubscription: float = 1.0) -> Topology:
    """Two-level fat tree of ``n_nodes`` copies of ``node()`` over a rail-optimised network.

    GPU ``k`` of every node has one NIC port to leaf switch ``k`` (rail ``k``); every leaf has
    ``ceil(n_nodes / oversubscription / n_spines)`` links to each of the ``n_spines`` spines, so the
    tree is non-blocking at ``oversubscription=1``. GPUs forward traffic only if the node's GPUs
    do (not in the DGX systems): a GPU reaches another node's GPU on a different rail through the
    spines, not through a GPU of either node.
    """
    n_nodes = check_int("n_nodes", n_nodes, minimum=1)
    n_spines = check_int("n_spines", n_spines, minimum=1)
    over = check_float("oversubscription", oversubscription, minimum=1.0)
    check_choice("network", network, [n for n in load_links()["name"]
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
        g.add_node(f"leaf{r}", kind="switch", forwards=True)
        for k in range(n_nodes):
            add_links(g, f"n{k}/{template.gpus[r]}", f"leaf{r}", network, 1)
        for s in range(n_spines):
            g.add_node(f"spine{s}", kind="switch", forwards=True)
            add_links(g, f"leaf{r}", f"spine{s}", network, up)
    return Topology(f"fat tree: {n_nodes} x {template.name}", g, tuple(gpus), template.source,
                    f"{n_nodes} nodes, {rails} rails, {n_spines} spines over {network}")


SYSTEMS = {"DGX-1 (P100)": dgx1_p100, "DGX-1 (V100)": dgx1_v100, "DGX-2": dgx2,
           "DGX A100": dgx_a100, "DGX H100": dgx_h100, "GB200 NVL72": nvl72}


def example_systems() -> dict:
    """Name -> constructor of every system the chapter's explorer offers: :data:`SYSTEMS`, the DGX-1
    with software relay through GPUs, a ring of 8, a 4 x 4 torus and two DGX H100 over NDR."""
    systems = dict(SYSTEMS)
    systems["DGX-1 (V100), GPU relay"] = lambda: dgx1_v100(gpu_relay=True)
    systems["ring of 8"] = lambda: ring(8, 25.0)
    systems["torus 4x4"] = lambda: torus((4, 4), 25.0)
    systems["fat tree: 2 x DGX H100 over NDR"] = lambda: fat_tree(2)
    return systems
