"""Topologies against published link counts, per-GPU bandwidths and bisection figures, and the
graph metrics against independent references (networkx, brute force)."""

import itertools

import networkx as nx
import numpy as np
import pytest

from aichip import links
from aichip import topology as tp

# PCIe 3.0 x16 per direction after the 128b/130b line code (PCI-SIG): 16 lanes x 8 GT/s x 128/130
PCIE3_X16 = 16 * 8 * 128 / 130 / 8


def without_other_gpus(t, a, b):
    """Reference view for traffic a -> b: NVLink does not route, so drop every other GPU (by node
    kind, not by the model's forwarding flag)."""
    keep = [v for v in t.graph if v in (a, b) or t.graph.nodes[v]["kind"] != "gpu"]
    return t.graph.subgraph(keep)


# (constructor, GPUs, switches, GPU links, per-GPU GB/s both directions) from the sources:
# DGX-1 P100/V100: NVIDIA DGX-1 V100 system architecture whitepaper (4 x 40 GB/s, 6 x 50 GB/s);
# DGX-2: Ishii & Foley, Hot Chips 2018 (16 GPUs, 12 NVSwitch, 300 GB/s per GPU);
# DGX A100: 6 NVSwitch, 600 GB/s per GPU; DGX H100: 4 NVSwitch, 900 GB/s per GPU;
# GB200 NVL72: 72 GPUs, 1.8 TB/s per GPU, 130 TB/s in all.
SYSTEMS = [
    (tp.dgx1_p100, 8, 0, 16, 160.0),
    (tp.dgx1_v100, 8, 0, 24, 300.0),
    (tp.dgx2, 16, 12, 96, 300.0),
    (tp.dgx_a100, 8, 6, 96, 600.0),
    (tp.dgx_h100, 8, 4, 144, 900.0),
    (tp.nvl72, 72, 18, 1296, 1800.0),
]


@pytest.mark.parametrize("make, gpus, switches, links, per_gpu", SYSTEMS,
                         ids=[s[0].__name__ for s in SYSTEMS])
def test_published_counts_and_per_gpu_bandwidth(make, gpus, switches, links, per_gpu):
    t = make()
    assert t.n_gpus == gpus
    assert len(t.switches) == switches
    assert tp.gpu_link_count(t) == links
    for g in t.gpus:
        assert sum(tp.gpu_links(t, g).values()) * len(t.gpus) == links * (1 if switches else 2)
        bw = tp.gpu_bandwidth_GBps(t, g)
        assert bw.GBps_bidirectional == pytest.approx(per_gpu)
        assert bw.GBps_per_dir == pytest.approx(per_gpu / 2)


def test_nvl72_total_bandwidth_130TBps():
    t = tp.nvl72()
    total = sum(tp.gpu_bandwidth_GBps(t, g).GBps_bidirectional for g in t.gpus)
    assert total / 1e3 == pytest.approx(130, rel=0.01)        # GB200 NVL72 datasheet: 130 TB/s


def test_dgx_totals_4_8_and_7_2_TBps():
    # DGX A100: 4.8 TB/s, DGX H100: 7.2 TB/s of bidirectional GPU-to-GPU bandwidth (datasheets)
    for make, total in ((tp.dgx_a100, 4800), (tp.dgx_h100, 7200)):
        t = make()
        assert sum(tp.gpu_bandwidth_GBps(t, g).GBps_bidirectional for g in t.gpus) == total


def test_dgx1_v100_matches_nvidia_smi_topo_pattern():
    m = tp.link_matrix(tp.dgx1_v100())
    assert (m == m.T).all() and (np.diag(m) == 0).all()
    assert (m.sum(axis=1) == 6).all()                          # six NVLinks per V100
    # GPU0: NV1 to GPU1, GPU2; NV2 to GPU3, GPU4; no NVLink to GPU5-7
    assert list(m[0]) == [0, 1, 1, 2, 2, 0, 0, 0]
    assert (m == 2).sum() // 2 == 8 and (m == 1).sum() // 2 == 8
    assert (m == 0).sum() - 8 == 24                            # 12 pairs without NVLink
    # nvidia-smi topo -m prints SYS (across the CPUs' QPI link) for every pair without NVLink:
    # all of them join the quad 0-3 (CPU0) to the quad 4-7 (CPU1)
    assert all(i // 4 != j // 4 for i, j in zip(*np.nonzero(m == 0), strict=True) if i != j)
    # GPU0's row as nvidia-smi prints it on a DGX-1 with V100 (NVIDIA DGX-1 whitepaper)
    labels = tp.connection_labels(tp.dgx1_v100())
    assert list(labels[0]) == ["X", "NV1", "NV1", "NV2", "NV2", "SYS", "SYS", "SYS"]
    assert (labels == labels.T).all()
    assert ((labels == "SYS") == ((m == 0) & ~np.eye(8, dtype=bool))).all()
    assert (tp.connection_labels(tp.dgx_h100())[~np.eye(8, dtype=bool)] == "SW").all()
    assert tp.connection_labels(tp.ring(6))[0, 3] == "GPU"              # relayed around the ring
    assert tp.connection_labels(tp.dgx1_v100(gpu_relay=True))[0, 5] == "GPU"


@pytest.mark.parametrize("make", [tp.dgx1_p100, tp.dgx1_v100])
def test_dgx1_unlinked_pairs_go_over_pcie_and_qpi(make):
    t = make()
    m = tp.link_matrix(t)
    assert len(t.hosts) == 6 and not t.switches               # 4 PCIe switches, 2 CPUs
    for i, j in itertools.combinations(range(8), 2):
        kinds = tp.path_kinds(t, i, j)
        if m[i, j]:
            assert kinds == ("gpu", "gpu")                     # the direct NVLink, nothing else
        else:                                                  # GPU, PCIe switch, CPU, CPU, ...
            assert kinds == ("gpu", "host", "host", "host", "host", "gpu")
            route = tp.Router(t).routes(t.gpus[i], t.gpus[j])
            assert all(t.graph.edges[u, v]["tech"] != "NVLink 2" for p, _ in route
                       for u, v in itertools.pairwise(p))


@pytest.mark.slow_without_jit
def test_dgx2_bisection_is_2_4_TBps():
    b = tp.bisection_bandwidth(tp.dgx2())                      # Hot Chips 2018: 2.4 TB/s
    assert b.exact
    assert b.GBps_bidirectional == pytest.approx(2400)
    assert b.GBps_per_dir == pytest.approx(1200)


def brute_force_bisection(t):
    """Reference: networkx minimum cut for every balanced split, via a super source and sink."""
    best = np.inf
    n = t.n_gpus
    for combo in itertools.combinations(range(1, n), n // 2 - 1):
        side = {0, *combo}
        g = nx.DiGraph()
        for a, b, bw in t.graph.edges(data="GBps_per_dir"):
            g.add_edge(a, b, capacity=bw)
            g.add_edge(b, a, capacity=bw)
        for i, gpu in enumerate(t.gpus):
            if i in side:
                g.add_edge("S", gpu)            # no capacity attribute: infinite
            else:
                g.add_edge(gpu, "T")
        best = min(best, nx.minimum_cut_value(g, "S", "T"))
    return best


@pytest.mark.parametrize("make", [tp.dgx1_p100, tp.dgx1_v100, tp.dgx_a100, tp.dgx_h100,
                                  lambda: tp.ring(6), lambda: tp.torus((2, 4))])
def test_bisection_kernel_matches_networkx(make):
    t = make()
    assert tp.bisection_bandwidth(t).GBps_per_dir == pytest.approx(brute_force_bisection(t))


@pytest.mark.slow_without_jit
def test_known_bisections():
    assert tp.bisection_bandwidth(tp.ring(8, 10)).GBps_per_dir == 20        # two links cut
    assert tp.bisection_bandwidth(tp.torus((4, 4), 10)).GBps_per_dir == 80  # 2 x 4 links
    # DGX-1 V100: the quads split cuts 6 NVLinks of 25 GB/s and, on the host path, the two PCIe
    # uplinks of one CPU (cheaper than its 2 QPI links of 19.2 GB/s)
    v100 = tp.bisection_bandwidth(tp.dgx1_v100())
    assert v100.GBps_per_dir == pytest.approx(6 * 25 + 2 * PCIE3_X16, rel=1e-4)
    assert set(v100.half) in ({0, 1, 2, 3}, {0, 1, 2, 3} ^ set(range(8)))
    nvl = tp.bisection_bandwidth(tp.nvl72())
    assert not nvl.exact and nvl.GBps_per_dir == pytest.approx(36 * 900)


def test_max_flow_against_networkx_and_degree():
    t = tp.dgx1_v100()
    for a, b in [(0, 3), (0, 5), (2, 7)]:
        view = without_other_gpus(t, t.gpus[a], t.gpus[b])
        ref = nx.maximum_flow_value(view, t.gpus[a], t.gpus[b], capacity="GBps_per_dir")
        assert tp.max_flow(t, a, b).GBps_per_dir == pytest.approx(ref)
        assert ref <= 150 + PCIE3_X16                       # never more than a GPU's links
    # no NVLink between 0 and 5: one PCIe 3.0 x16 slot's worth; 0-3: a double NVLink plus PCIe
    assert tp.max_flow(t, 0, 5).GBps_per_dir == pytest.approx(PCIE3_X16, rel=1e-4)
    assert tp.max_flow(t, 0, 3).GBps_per_dir == pytest.approx(50 + PCIE3_X16, rel=1e-4)
    # with software relaying through GPUs, 0 -> 5 gets all six of GPU 0's links
    relay = tp.dgx1_v100(gpu_relay=True)
    assert tp.max_flow(relay, 0, 5).GBps_per_dir == pytest.approx(150 + PCIE3_X16, rel=1e-4)
    assert tp.max_flow(tp.dgx_h100(), 0, 7).GBps_bidirectional == 900


@pytest.mark.parametrize("make", [tp.dgx1_v100, lambda: tp.dgx1_v100(gpu_relay=True), tp.dgx2,
                                  lambda: tp.torus((2, 3))])
def test_bandwidth_matrix_equals_networkx_max_flow(make):
    t = make()
    m = tp.bandwidth_matrix(t)
    assert (np.diag(m) == 0).all() and np.allclose(m, m.T)
    relay = t.graph.nodes[t.gpus[0]]["forwards"]
    for a, b in itertools.combinations(range(t.n_gpus), 2):
        ga, gb = t.gpus[a], t.gpus[b]
        g = t.graph if relay else without_other_gpus(t, ga, gb)
        ref = nx.maximum_flow_value(g, ga, gb, capacity="GBps_per_dir")
        assert m[a, b] == pytest.approx(ref), (a, b)


def test_diameters():
    assert tp.diameter(tp.dgx1_v100()) == 5                  # GPU-PCIe-CPU-QPI-CPU-PCIe-GPU
    assert tp.diameter(tp.dgx1_v100(gpu_relay=True)) == 2    # through a GPU
    assert tp.diameter(tp.dgx2()) == 3                       # GPU - switch - switch - GPU
    assert tp.diameter(tp.dgx_h100()) == 2
    assert tp.diameter(tp.ring(9)) == 4
    assert tp.diameter(tp.torus((4, 6))) == 2 + 3


def test_dgx2_crosses_one_switch_on_a_baseboard_and_two_between():
    # Ishii & Foley, Hot Chips 2018; Li et al., TPDS 2020: GPUs 0-7 on one baseboard, 8-15 on the
    # other
    t = tp.dgx2()
    hops = tp.hop_matrix(t)
    board = np.arange(16) // 8
    same = board[:, None] == board[None, :]
    off = ~np.eye(16, dtype=bool)
    assert (hops[same & off] == 2).all() and (hops[~same] == 3).all()
    assert tp.path_kinds(t, 0, 1) == ("gpu", "switch", "gpu")
    assert tp.path_kinds(t, 0, 8) == ("gpu", "switch", "switch", "gpu")


@pytest.mark.parametrize("make", [tp.dgx1_v100, tp.dgx2, lambda: tp.fat_tree(2),
                                  lambda: tp.torus((3, 3)), lambda: tp.dgx1_p100(gpu_relay=True)])
def test_hop_matrix_and_routes_against_networkx(make):
    t = make()
    hops = tp.hop_matrix(t)
    router = tp.Router(t)
    for a, b in itertools.combinations(range(t.n_gpus), 2):
        ga, gb = t.gpus[a], t.gpus[b]
        g = t.graph if t.graph.nodes[ga]["forwards"] else without_other_gpus(t, ga, gb)
        assert hops[a, b] == hops[b, a] == nx.shortest_path_length(g, ga, gb)
        paths = sorted(map(tuple, nx.all_shortest_paths(g, ga, gb)))
        routes = router.routes(ga, gb)
        assert sorted(tuple(p) for p, _ in routes) == paths
        assert sum(share for _, share in routes) == pytest.approx(1.0)


def test_dgx1_v100_fast_ring_uses_only_double_links():
    rings = tp.embedded_rings(tp.dgx1_v100())
    best = rings[0]
    m = tp.link_matrix(tp.dgx1_v100())
    hops = list(zip(best.order, best.order[1:] + best.order[:1], strict=True))
    assert all(m[a, b] == 2 for a, b in hops)
    assert best.GBps_per_dir == 50
    assert all(r.GBps_per_dir == 25 for r in rings[1:])     # any other ring has a single link
    # brute force: the number of Hamiltonian cycles of the NVLink graph
    count = sum(1 for perm in itertools.permutations(range(1, 8))
                if perm[0] < perm[-1] and all(m[a, b] for a, b in
                                              zip((0,) + perm, perm + (0,), strict=True)))
    assert len(rings) == count


def test_dgx1_all_to_all_and_gpu_order_ring_use_the_host_path():
    t = tp.dgx1_v100()
    # Each PCIe switch's x16 uplink carries its two GPUs' flows to their three unlinked peers each
    # (6 flows); every NVLink carries one flow. So each flow gets PCIE3_X16 / 6 and a GPU sends
    # 7 of them.
    assert tp.all_to_all_throughput(t).GBps_per_dir == pytest.approx(7 * PCIE3_X16 / 6, rel=1e-4)
    # GPU order 0-1-...-7: hops 3->4 and 7->0 have no NVLink and each takes one PCIe uplink
    assert tp.ring_bandwidth(t, range(8)).GBps_per_dir == pytest.approx(PCIE3_X16, rel=1e-4)
    # the relaying assumption the chapter used to make: 3->4 and 7->0 borrow other GPUs' links
    relay = tp.dgx1_v100(gpu_relay=True)
    assert tp.ring_bandwidth(relay, range(8)).GBps_per_dir > PCIE3_X16
    direct = tp.all_to_all_throughput(t).GBps_per_dir
    assert tp.all_to_all_throughput(relay).GBps_per_dir > 2 * direct


def test_all_to_all_switched_reaches_injection_rate():
    assert tp.all_to_all_throughput(tp.dgx_h100()).GBps_per_dir == pytest.approx(450)
    assert tp.all_to_all_throughput(tp.dgx2()).GBps_per_dir == pytest.approx(150)
    # on a ring of n, average distance n/4 hops: all-to-all gets about 4/n of the link pair
    r = tp.all_to_all_throughput(tp.ring(8, 10)).GBps_per_dir
    assert r < 20


@pytest.mark.slow_without_jit
def test_fat_tree_bisection_is_the_network():
    t = tp.fat_tree(2)                                       # 2 DGX H100, 8 rails of NDR
    assert t.n_gpus == 16
    assert tp.bisection_bandwidth(t).GBps_per_dir == pytest.approx(8 * 50)
    four = tp.fat_tree(4)
    assert tp.bisection_bandwidth(four).GBps_per_dir == pytest.approx(8 * 2 * 50)
    # non-blocking: each leaf has as many uplinks as nodes below it; 2:1 oversubscribed: half
    assert four.graph.edges["leaf0", "spine0"]["links"] * 2 == 4
    over = tp.fat_tree(4, oversubscription=2.0)
    assert over.graph.edges["leaf0", "spine0"]["links"] * 2 == 2


def test_switched_builds_dgx_a100_and_one_switch_h100():
    a100 = tp.switched(8, [2] * 6, "NVLink 3")
    assert (tp.bandwidth_matrix(a100) == tp.bandwidth_matrix(tp.dgx_a100())).all()
    one = tp.switched(8, [18], "NVLink 4")
    dgx = tp.dgx_h100()
    assert tp.bisection_bandwidth(one).GBps_per_dir == tp.bisection_bandwidth(dgx).GBps_per_dir
    with pytest.raises(ValueError, match="links_per_switch"):
        tp.switched(8, [])
    with pytest.raises(ValueError, match="links_per_switch"):
        tp.switched(8, [0, 2])
    with pytest.raises(ValueError, match="name"):
        tp.switched(8, [2], "NVLink 7")


def test_gpu_links_by_technology():
    assert tp.gpu_links(tp.dgx1_v100()) == {"NVLink 2": 6}          # PCIe to the host not counted
    assert tp.gpu_links(tp.dgx_h100(), 3) == {"NVLink 4": 18}
    assert tp.gpu_links(tp.fat_tree(2), 0) == {"NVLink 4": 18, "InfiniBand NDR 4x": 1}
    with pytest.raises(ValueError, match="gpu"):
        tp.gpu_links(tp.dgx2(), 16)


def test_direct_bandwidth_matrix_is_link_count_times_link_rate():
    m = tp.direct_bandwidth_matrix(tp.dgx1_v100())
    assert (m == 25.0 * np.array(tp.DGX1_V100_LINKS)).all()      # NVLink 2: 25 GB/s per link
    assert (tp.direct_bandwidth_matrix(tp.dgx_h100()) == 0).all()  # only switches in between


def test_torus_and_ring_names():
    # a ring is a one-dimensional torus; its name gives the GPU count, not a 1-tuple
    assert tp.ring(8).name == "ring(8)"
    assert tp.torus((8,)).name == "ring(8)"
    assert tp.torus((2, 4)).name == "torus(2, 4)"


def test_hop_matrix_names_the_first_pair_without_a_path():
    # g0 - g1 linked, g2 apart: row-major, the first pair with no path is (g0, g2), then (g1, g2)
    g = nx.Graph()
    g.add_nodes_from(["g0", "g1", "g2"])
    g.add_edge("g0", "g1", links=1, GBps_per_dir=1.0)
    with pytest.raises(ValueError, match="no path from g0 to g2"):
        tp.hop_matrix(tp.Topology("apart", g, ("g0", "g1", "g2"), ""))

def test_bad_input():
    with pytest.raises(TypeError, match="topo"):
        tp.diameter("DGX-2")
    with pytest.raises(ValueError, match="name"):
        links.link("NVLink 9")
    with pytest.raises(ValueError, match="n"):
        tp.ring(2)
    with pytest.raises(ValueError, match="dims"):
        tp.torus((4, 1))
    with pytest.raises(ValueError, match="dims"):
        tp.torus(())
    with pytest.raises(ValueError, match="link_GBps_per_dir"):
        tp.crossbar(4, 0)
    with pytest.raises(ValueError, match="different"):
        tp.max_flow(tp.dgx2(), 3, 3)
    with pytest.raises(ValueError, match="b"):
        tp.max_flow(tp.dgx2(), 0, 16)
    with pytest.raises(ValueError, match="even"):
        tp.bisection_bandwidth(tp.ring(5))
    with pytest.raises(ValueError, match="order"):
        tp.ring_bandwidth(tp.ring(4), [0, 1, 1, 2])
    with pytest.raises(ValueError, match="network"):
        tp.fat_tree(2, network="NVLink 4")
    with pytest.raises(ValueError, match="oversubscription"):
        tp.fat_tree(2, oversubscription=0.5)
    with pytest.raises(TypeError, match="gpu_relay"):
        tp.dgx1_v100(gpu_relay="yes")
    with pytest.raises(ValueError, match="different"):
        tp.path_kinds(tp.dgx2(), 2, 2)
    with pytest.raises(ValueError, match="b must be"):
        tp.path_kinds(tp.dgx2(), 0, 16)
    with pytest.raises(ValueError, match="no ring"):
        line = nx.Graph()
        line.add_edges_from([(0, 1), (1, 2)], links=1, GBps_per_dir=1.0)
        tp.embedded_rings(tp.Topology("line", line, (0, 1, 2), ""))


@pytest.mark.slow_without_jit
def test_interconnect_explorer_and_bad_input():
    from aichip.widgets import interconnects as wi

    box = wi.interconnect_explorer("DGX-2", kind="max-flow")
    assert len(box.children) == 2
    assert set(tp.SYSTEMS) < set(wi.default_systems()) == set(tp.example_systems())
    assert "bisection GB/s (each dir)" in wi.metrics_text(tp.dgx1_v100())
    with pytest.raises(ValueError, match="system"):
        wi.interconnect_explorer("DGX-3")
    with pytest.raises(ValueError, match="kind"):
        wi.interconnect_explorer("DGX-2", kind="both")


@pytest.mark.parametrize("fn", [tp.link_matrix, tp.gpu_bandwidth_GBps, tp.bandwidth_matrix,
                                tp.diameter, tp.bisection_bandwidth, tp.all_to_all_throughput,
                                tp.embedded_rings, tp.summary, tp.gpu_link_count, tp.hop_matrix,
                                tp.direct_bandwidth_matrix, tp.connection_labels, tp.gpu_links])
def test_metrics_reject_non_topologies(fn):
    with pytest.raises(TypeError, match="topo must be a Topology"):
        fn("DGX-2")


def test_more_bad_input():
    with pytest.raises(ValueError, match="gpu"):
        tp.gpu_bandwidth_GBps(tp.dgx2(), "GPU99")
    with pytest.raises(ValueError, match="pairs"):
        tp.concurrent_rate_GBps(tp.dgx2(), [])
    with pytest.raises(ValueError, match="max_exact_splits"):
        tp.bisection_bandwidth(tp.dgx2(), max_exact_splits=0)


def test_every_public_name_of_the_old_module_is_still_importable():
    # collectives.py and the chapters import these from aichip.topology (before the split,
    # topology.py defined them all)
    for name in ["Topology", "Router", "PairBandwidth", "Bisection", "Ring", "SYSTEMS",
                 "DGX1_V100_LINKS", "dgx1_p100", "dgx1_v100", "dgx2", "dgx_a100", "dgx_h100",
                 "nvl72", "switched", "crossbar", "ring", "torus", "fat_tree", "link_matrix",
                 "gpu_bandwidth_GBps", "max_flow", "bandwidth_matrix", "diameter",
                 "bisection_bandwidth", "concurrent_rate_GBps", "all_to_all_throughput",
                 "ring_bandwidth", "embedded_rings", "gpu_link_count", "summary"]:
        assert hasattr(tp, name), name
    # the link table is aichip.links' own: the facade re-exports only its submodules' names
    for name in ["link", "link_GBps_per_dir", "load_links"]:
        assert hasattr(links, name) and not hasattr(tp, name), name
