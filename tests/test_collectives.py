"""Executed collectives against numpy, simulated times against the closed forms, and the closed
forms against hand-derived values from Thakur, Rabenseifner and Gropp (2005)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import alphabeta as ab
from aichip import collectives as co
from aichip import topology as tp

PAIRS = [(op, alg) for op, algs in co.ALGORITHMS.items() for alg in algs]


def allowed_ranks(alg, p):
    if alg in ab.POWER_OF_TWO:
        return 1 << (p.bit_length() - 1)
    if alg == "double_binary_tree":
        return p + (p % 2)
    return p


def extra(alg, p):
    if alg != "hierarchical":
        return {}
    divisors = [d for d in range(1, p + 1) if p % d == 0]
    return {"ranks_per_node": divisors[len(divisors) // 2]}


def same(got, want):
    return all((a is None and b is None) or (a is not None and b is not None
                                             and np.array_equal(a, b)) for a, b in zip(got, want))


@settings(max_examples=60, deadline=None)
@given(pair=st.sampled_from(PAIRS), p=st.integers(1, 12), count=st.integers(1, 40),
       seed=st.integers(0, 2**16))
def test_results_equal_numpy(pair, p, count, seed):
    op, alg = pair
    p = allowed_ranks(alg, p)
    if op == "alltoall":
        count *= p
    # small integers in float64: every order of summation gives the exact sum
    x = np.random.default_rng(seed).integers(-50, 50, size=(p, count)).astype(np.float64)
    got, sched = co.execute(op, alg, x, **extra(alg, p))
    assert same(got, co.reference(op, x))


@settings(max_examples=25, deadline=None)
@given(op=st.sampled_from(["broadcast", "reduce"]), alg=st.sampled_from(["binomial_tree",
                                                                          "binary_tree"]),
       p=st.integers(2, 11), root=st.integers(0, 10))
def test_rooted_ops_any_root(op, alg, p, root):
    root %= p
    x = np.arange(p * 6, dtype=np.float64).reshape(p, 6)
    got, _ = co.execute(op, alg, x, root=root)
    assert same(got, co.reference(op, x, root=root))


def test_float32_sums_close_to_numpy():
    x = np.random.default_rng(1).standard_normal((8, 1000)).astype(np.float32)
    got, _ = co.execute("allreduce", "ring", x)
    assert got[0].dtype == np.float32
    np.testing.assert_allclose(got[3], x.sum(axis=0), rtol=1e-4, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(pair=st.sampled_from(PAIRS), p=st.integers(2, 16), blocks=st.integers(1, 8),
       alpha=st.floats(0, 1e-4), bw=st.floats(1, 100), gamma=st.floats(0, 1e-9))
def test_simulated_time_on_crossbar_equals_closed_form(pair, p, blocks, alpha, bw, gamma):
    op, alg = pair
    p = allowed_ranks(alg, p)
    kw = extra(alg, p)
    msg = 4 * 2 * p * blocks                    # float32 elements, divisible into halves and chunks
    sim = co.simulate_time(op, alg, tp.crossbar(max(p, 2), bw), p, msg, alpha, gamma, 4, **kw)
    closed = ab.cost(op, alg, p, msg, alpha, 1 / (bw * 1e9), gamma, **kw)
    assert sim == pytest.approx(closed, rel=1e-9, abs=1e-18)


def test_closed_forms_by_hand():
    a, b, n = 1e-6, 1e-9, 1e6
    assert ab.cost("allreduce", "ring", 4, n, a, b) == pytest.approx(6 * a + 1.5 * n * b)
    assert ab.cost("allreduce", "recursive_doubling", 8, n, a, b) == pytest.approx(3 * (a + n * b))
    assert ab.cost("allreduce", "rabenseifner", 8, n, a, b) == pytest.approx(6 * a + 1.75 * n * b)
    assert ab.cost("allgather", "ring", 4, n, a, b) == pytest.approx(3 * a + 0.75 * n * b)
    assert ab.cost("broadcast", "binomial_tree", 5, n, a, b) == pytest.approx(3 * (a + n * b))
    assert ab.cost("alltoall", "pairwise", 4, n, a, b) == pytest.approx(3 * (a + n / 4 * b))
    # S(p): 2 ranks -> 1 round, 3 -> 2, 4 -> 3 (root to 1, 2; 1 to 3), 7 -> 4, 8 -> 5
    assert [ab.binary_tree_rounds(p) for p in (1, 2, 3, 4, 7, 8)] == [0, 1, 2, 3, 4, 5]


def test_ring_allreduce_is_bandwidth_optimal_for_large_messages():
    # Patarasuk & Yuan: the ring moves 2(p-1)/p n per rank, the lower bound; recursive doubling
    # moves n log p, so for large n the ring wins, for small n the latency-optimal one does
    big = [ab.cost("allreduce", alg, 16, 1e9, 5e-6, 1e-10) for alg in ("ring", "recursive_doubling")]
    small = [ab.cost("allreduce", alg, 16, 8, 5e-6, 1e-10) for alg in ("ring", "recursive_doubling")]
    assert big[0] < big[1] and small[0] > small[1]
    x = ab.crossover_bytes("allreduce", "ring", "recursive_doubling", 16, 5e-6, 1e-10)
    assert ab.cost("allreduce", "ring", 16, x, 5e-6, 1e-10) == pytest.approx(
        ab.cost("allreduce", "recursive_doubling", 16, x, 5e-6, 1e-10))
    assert ab.crossover_bytes("allreduce", "ring", "rabenseifner", 16, 5e-6, 1e-10) is None


def test_bus_bandwidth_factors_nccl_tests():
    assert ab.bus_bandwidth("allreduce", 100, 8) == pytest.approx(175)
    assert ab.bus_bandwidth("allgather", 100, 8) == pytest.approx(87.5)
    assert ab.bus_bandwidth("reduce_scatter", 100, 4) == pytest.approx(75)
    assert ab.bus_bandwidth("alltoall", 100, 2) == pytest.approx(50)
    assert ab.bus_bandwidth("broadcast", 100, 8) == 100
    assert ab.bus_bandwidth("reduce", 100, 8) == 100


def test_ring_on_dgx1_v100_double_links_vs_nvswitch():
    """A ring all-reduce over the DGX-1's double-link ring runs at 50 GB/s per hop; on a DGX A100
    NVSwitch every hop gets the GPU's 300 GB/s per direction."""
    n = 8 * 2**20
    fast = tp.embedded_rings(tp.dgx1_v100())[0]
    assert fast.GBps_per_dir == 50
    # reorder ranks along the fast ring: rank r on GPU fast.order[r]
    t = tp.dgx1_v100()
    ordered = tp.Topology(t.name, t.graph, tuple(t.gpus[i] for i in fast.order), t.source)
    dgx1 = co.simulate_time("allreduce", "ring", ordered, 8, n, 0.0)
    a100 = co.simulate_time("allreduce", "ring", tp.dgx_a100(), 8, n, 0.0)
    assert dgx1 == pytest.approx(2 * 7 / 8 * n / 50e9)
    assert a100 == pytest.approx(2 * 7 / 8 * n / 300e9)
    naive = co.simulate_time("allreduce", "ring", t, 8, n, 0.0)   # GPU order has 2-hop pairs
    assert naive > dgx1


def test_bad_input():
    x = np.ones((4, 8))
    with pytest.raises(ValueError, match="op"):
        co.execute("allsum", "ring", x)
    with pytest.raises(ValueError, match="algorithm"):
        co.execute("allreduce", "butterfly", x)
    with pytest.raises(ValueError, match="power-of-two"):
        co.execute("allreduce", "recursive_doubling", np.ones((6, 8)))
    with pytest.raises(ValueError, match="even"):
        co.execute("allreduce", "double_binary_tree", np.ones((5, 8)))
    with pytest.raises(ValueError, match="ranks_per_node"):
        co.execute("allreduce", "hierarchical", x)
    with pytest.raises(ValueError, match="divide"):
        co.execute("allreduce", "hierarchical", np.ones((6, 8)), ranks_per_node=4)
    with pytest.raises(ValueError, match="ranks_per_node"):
        co.execute("allreduce", "ring", x, ranks_per_node=2)
    with pytest.raises(ValueError, match="mismatched buffers: rank 2"):
        co.execute("allreduce", "ring", [np.ones(4), np.ones(4), np.ones(3)])
    got, _ = co.execute("allreduce", "ring", [np.ones(4), 2 * np.ones(4)])
    assert (got[1] == 3).all()
    with pytest.raises(ValueError, match="shape"):
        co.execute("allreduce", "ring", np.ones(8))
    with pytest.raises(ValueError, match="shape"):
        co.execute("allreduce", "ring", np.ones((4, 0)))
    with pytest.raises(TypeError, match="dtype"):
        co.execute("allreduce", "ring", np.array([["a"], ["b"]]))
    with pytest.raises(ValueError, match="multiple"):
        co.execute("alltoall", "pairwise", np.ones((4, 6)))
    with pytest.raises(ValueError, match="root"):
        co.execute("allreduce", "ring", x, root=1)
    with pytest.raises(ValueError, match="root"):
        co.execute("broadcast", "binomial_tree", x, root=4)
    with pytest.raises(ValueError, match="msg_bytes"):
        ab.cost("allreduce", "ring", 4, 0, 1e-6, 1e-9)
    with pytest.raises(ValueError, match="alpha_s"):
        ab.cost("allreduce", "ring", 4, 8, -1, 1e-9)
    with pytest.raises(ValueError, match="n_ranks"):
        ab.cost("allreduce", "ring", 0, 8, 1e-6, 1e-9)
    with pytest.raises(ValueError, match="op"):
        ab.bus_bandwidth("gather", 1, 2)
    with pytest.raises(ValueError, match="algbw_GBps"):
        ab.bus_bandwidth("allreduce", -1, 2)
    with pytest.raises(ValueError, match="fit"):
        co.simulate_time("allreduce", "ring", tp.dgx_h100(), 16, 64, 0.0)
    with pytest.raises(ValueError, match="multiple"):
        co.simulate_time("allreduce", "ring", tp.dgx_h100(), 8, 66, 0.0)
    with pytest.raises(TypeError, match="topo"):
        co.step_times(co.schedule("allreduce", "ring", 2, 4), "dgx", 0.0)


def test_cost_explorer_crossovers_and_bad_input():
    from aichip.widgets import collectives as wc

    changes = wc.best_algorithm_changes("allreduce", 16, 5e-6, 1 / 25e9)
    assert [(a, b) for _, a, b in changes] == [("recursive_doubling", "rabenseifner")]
    x = changes[0][0]
    assert ab.cost("allreduce", "recursive_doubling", 16, x, 5e-6, 1 / 25e9) == pytest.approx(
        ab.cost("allreduce", "rabenseifner", 16, x, 5e-6, 1 / 25e9))
    assert set(wc.usable_algorithms("allreduce", 6)) == {"ring", "binary_tree",
                                                         "double_binary_tree"}
    assert wc.cost_explorer("allgather", 8).children
    with pytest.raises(ValueError, match="op"):
        wc.cost_explorer("gather")


def test_more_bad_input():
    with pytest.raises(ValueError, match="count"):
        co.schedule("allreduce", "ring", 4, 0)
    with pytest.raises(ValueError, match="op"):
        co.reference("gather", np.ones((2, 2)))
    with pytest.raises(ValueError, match="n_ranks"):
        ab.binary_tree_rounds(0)
    with pytest.raises(ValueError, match="hi_bytes"):
        ab.crossover_bytes("allreduce", "ring", "recursive_doubling", 4, 1e-6, 1e-9,
                           lo_bytes=100, hi_bytes=10)
    with pytest.raises(TypeError, match="sched"):
        co.step_times("ring", tp.dgx_h100(), 0.0)
