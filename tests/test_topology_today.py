"""Topologies of today (aichip.topology.fabrics): tori, twisted tori and meshes against hand counts
and an independent lattice computation of distances; the torus all-reduce against the telescoped
closed form; rail-optimised fat trees against NVIDIA's published switch counts and hand-counted
hops and cuts; the in-switch reduction's traffic against the ring's alpha-beta cost."""

import itertools
import math

import numpy as np
import pytest

from aichip import alphabeta as ab
from aichip import links
from aichip import topology as tp

ICI = links.link_GBps_per_dir("TPU v4 ICI")
NDR = links.link_GBps_per_dir("InfiniBand NDR 4x")


@pytest.mark.parametrize("dims", [(4,), (4, 4), (4, 4, 4), (3, 5), (2, 4)])
def test_torus_diameter_is_the_sum_of_half_the_sides(dims):
    assert tp.diameter(tp.tpu_torus(dims)) == sum(d // 2 for d in dims)


@pytest.mark.parametrize("dims", [(4, 4), (4, 4, 4), (3, 4)])
def test_mesh_diameter_is_the_sum_of_the_sides_minus_one(dims):
    assert tp.diameter(tp.mesh(dims)) == sum(d - 1 for d in dims)


def test_every_torus_chip_has_two_links_per_axis():
    t = tp.tpu_torus((4, 4, 4))
    assert all(tp.gpu_links(t, g) == {"TPU v4 ICI": 6} for g in t.gpus)
    assert tp.gpu_link_count(t) == 3 * 64               # 6 link ends per chip, 2 per link
    tw = tp.tpu_torus((4, 4, 8), twisted=True)
    assert all(tp.gpu_links(tw, g) == {"TPU v4 ICI": 6} for g in tw.gpus)
    m = tp.mesh((4, 4, 4))
    assert tp.gpu_link_count(m) == 3 * 3 * 16           # 3 links per line of 4, 16 lines per axis


@pytest.mark.slow_without_jit
def test_bisection_of_a_4x4_torus_is_2k_links_by_every_split():
    """k-ary n-cube, k even: bisection 2 k^(n-1) links; 16 chips are split every possible way."""
    t = tp.tpu_torus((4, 4))
    bis = tp.bisection_bandwidth(t)
    assert bis.exact
    assert bis.GBps_per_dir == pytest.approx(2 * 4 * ICI)


@pytest.mark.parametrize("dims", [(4, 4, 4), (6, 6), (4, 4, 8)])
def test_axis_cuts_of_a_torus_count_2k_n_minus_1_links(dims):
    t = tp.tpu_torus(dims)
    n = math.prod(dims)
    for half, d in zip(tp.axis_halves(dims), [d for d in dims if d % 2 == 0], strict=True):
        assert len(half) == n // 2
        assert tp.cut_bandwidth(t, half) == pytest.approx(2 * (n // d) * ICI)
        mesh_cut = tp.cut_bandwidth(tp.mesh(dims), half)
        assert mesh_cut == pytest.approx((n // d) * ICI)   # no wraparound: one link per line


def _lattice_distance_table(dims, generators):
    """Hops from the origin to every point of the quotient of Z^n by the lattice spanned by
    ``generators``: the L1 norm of the shortest representative (independent of the graph)."""
    gens = np.array(generators)
    reach = range(-2, 3)
    shifts = np.array([np.dot(c, gens) for c in itertools.product(reach, repeat=len(gens))])
    out = {}
    for p in itertools.product(*(range(d) for d in dims)):
        out[p] = int(np.abs(np.array(p) - shifts).sum(axis=1).min())
    return out


@pytest.mark.parametrize("dims, generators", [
    ((4, 4, 8), [(4, 0, 4), (0, 4, 4), (0, 0, 8)]),       # short axes wrap 4 further along z
    ((4, 8, 8), [(4, 0, 4), (0, 8, 0), (0, 0, 8)]),       # the short axis wraps along z
    ((4, 8), [(4, 4), (0, 8)]),                           # Camara et al.'s 2D twisted torus
    ((4, 4, 8), [(4, 0, 0), (0, 4, 0), (0, 0, 8)]),       # untwisted, same method
])
def test_twisted_torus_hops_match_the_lattice_quotient(dims, generators):
    twisted = generators[0] != (4, 0, 0)
    t = tp.tpu_torus(dims, twisted=twisted)
    hops = tp.hop_matrix(t)[0]
    table = _lattice_distance_table(dims, generators)
    coords = list(itertools.product(*(range(d) for d in dims)))
    assert [table[c] for c in coords] == list(hops)


def test_twist_shortens_the_4x4x8_torus_and_widens_its_thinnest_cut():
    plain, twisted = tp.tpu_torus((4, 4, 8)), tp.tpu_torus((4, 4, 8), twisted=True)
    assert tp.diameter(plain) == 2 + 2 + 4
    assert tp.diameter(twisted) == 6          # lattice table above; the 4x4x4 cube's diameter
    cuts = [min(tp.cut_bandwidth(t, h) for h in tp.axis_halves((4, 4, 8)))
            for t in (plain, twisted)]
    assert cuts == [pytest.approx(32 * ICI), pytest.approx(64 * ICI)]


@pytest.mark.parametrize("dims", [(4, 4, 4), (4, 8), (8,), (2, 4)])   # a side of 2: double link
def test_torus_allreduce_telescopes_to_a_ring_at_twice_the_link_rate(dims):
    """Bucket algorithm on a torus: 2 sum(d_i - 1) steps; bandwidth term 2 (P-1)/P N / (2 B)."""
    n, alpha, p = 1e9, 2e-6, math.prod(dims)
    expected = 2 * sum(d - 1 for d in dims) * alpha + 2 * (p - 1) / p * n / (2 * ICI * 1e9)
    got = tp.torus_allreduce_s(tp.tpu_torus(dims), dims, n, alpha)
    assert got == pytest.approx(expected, rel=1e-12)


def test_mesh_allreduce_has_half_the_torus_bandwidth():
    dims, n, p = (4, 4, 4), 1e9, 64
    got = tp.torus_allreduce_s(tp.mesh(dims), dims, n)
    assert got == pytest.approx(2 * (p - 1) / p * n / (ICI * 1e9))


def test_one_dimensional_torus_allreduce_is_the_alphabeta_ring():
    n, alpha = 3e8, 1e-5
    got = tp.torus_allreduce_s(tp.tpu_torus((8,)), (8,), n, alpha)
    assert got == pytest.approx(ab.cost("allreduce", "ring", 8, n, alpha, 1 / (2 * ICI * 1e9)))


# NVIDIA DGX SuperPOD reference architecture (B200 edition, same 32-node SU and 64-port NDR
# switches as the DGX H100 edition): SU count -> leaf, spine, core switches
PUBLISHED_COUNTS = {2: (16, 8, 0), 4: (32, 16, 0), 8: (64, 32, 0), 16: (128, 128, 64)}


@pytest.mark.parametrize("units", sorted(PUBLISHED_COUNTS))
def test_superpod_switch_counts_match_nvidia(units):
    f = tp.rail_fat_tree(32 * units)
    counts = tp.switch_counts(f)
    leaf, spine, core = PUBLISHED_COUNTS[units]
    assert (counts[1], counts[2], counts.get(3, 0)) == (leaf, spine, core)
    assert f.n_gpus == 256 * units
    assert all(v == 1.0 for v in tp.tier_oversubscription(f).values())
    ports = dict(f.graph.degree(weight="links"))
    assert max(ports[s] for s in f.switches) <= 64


def test_rail_fat_tree_hops_by_hand():
    f = tp.rail_fat_tree(8, gpus_per_node=2, nodes_per_unit=4, radix=8)   # 2 SU, 2 tiers
    h = tp.hop_matrix(f)
    idx = {g: i for i, g in enumerate(f.gpus)}
    assert h[idx["n0/GPU0"], idx["n1/GPU0"]] == 2          # same rail, same SU: one leaf
    assert h[idx["n0/GPU0"], idx["n0/GPU1"]] == 4          # other rail: up to a spine
    assert h[idx["n0/GPU0"], idx["n4/GPU0"]] == 4          # other SU
    big = tp.rail_fat_tree(40, gpus_per_node=2, nodes_per_unit=4, radix=8)  # 20 leaves > 8
    assert tp.switch_counts(big)[3] > 0 and tp.diameter(big) == 6


@pytest.mark.slow_without_jit
def test_oversubscribed_leaves_halve_the_bisection_between_units():
    kw = dict(n_nodes=8, gpus_per_node=2, nodes_per_unit=4, radix=8)
    full, half = tp.rail_fat_tree(**kw), tp.rail_fat_tree(**kw, oversubscription=2)
    assert tp.tier_oversubscription(half) == {1: 2.0}
    b_full, b_half = tp.bisection_bandwidth(full), tp.bisection_bandwidth(half)
    assert b_full.exact and b_half.exact
    assert b_full.GBps_per_dir == pytest.approx(8 * NDR)   # 16 GPUs, 8 each way at line rate
    assert b_half.GBps_per_dir == pytest.approx(4 * NDR)   # 2 leaves x 2 uplinks per SU


@pytest.mark.parametrize("p", [2, 8, 72])
def test_in_switch_reduction_sends_the_buffer_once(p):
    n = 1e6
    ring = ab.cost("allreduce", "ring", p, n, 0.0, 1.0)    # beta = 1 s/byte: seconds = bytes
    assert tp.allreduce_bytes_per_gpu(p, n) == pytest.approx(ring)
    assert tp.allreduce_bytes_per_gpu(p, n, in_network=True) == n


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="twisted torus"):
        tp.tpu_torus((4, 4, 4), twisted=True)
    with pytest.raises(ValueError, match="dims"):
        tp.tpu_torus(())
    with pytest.raises(ValueError, match="link"):
        tp.tpu_torus((4, 4), link="nope")
    with pytest.raises(TypeError, match="twisted"):
        tp.tpu_torus((4, 8), twisted=1)
    with pytest.raises(ValueError, match="oversubscription"):
        tp.rail_fat_tree(oversubscription=0.5)
    with pytest.raises(ValueError, match="radix"):
        tp.rail_fat_tree(radix=16)
    with pytest.raises(ValueError, match="tiers"):
        tp.rail_fat_tree(40, gpus_per_node=2, nodes_per_unit=4, radix=8, tiers=2)
    with pytest.raises(ValueError, match="dims"):
        tp.torus_allreduce_s(tp.tpu_torus((4, 4)), (4, 8), 1e6)
    with pytest.raises(ValueError, match="cut_bandwidth"):
        tp.cut_bandwidth(tp.rail_fat_tree(2, nodes_per_unit=2, radix=4, gpus_per_node=1), [0])


@pytest.mark.slow_without_jit
def test_fat_tree_at_a_given_port_rate_rings_and_halves_at_that_rate():
    f = tp.rail_fat_tree(16, gpus_per_node=1, nodes_per_unit=4, radix=8, link_GBps_per_dir=300.0)
    assert tp.switch_counts(f) == {1: 4, 2: 2}
    assert tp.ring_bandwidth(f, range(16)).GBps_per_dir == pytest.approx(300.0)
    bis = tp.bisection_bandwidth(f)
    assert bis.exact and bis.GBps_per_dir == pytest.approx(8 * 300.0)   # non-blocking
    with pytest.raises(ValueError, match="link_GBps_per_dir"):
        tp.rail_fat_tree(link_GBps_per_dir=0)
