"""Parallelism messages, the two-level all-reduce and the overlap rule against independent
references: hand-computed closed forms and the schedule simulator on a two-node fat tree."""

import itertools

import pytest

from aichip import alphabeta as ab
from aichip import collectives as co
from aichip import parallelism as par
from aichip import topology as tp


def test_messages_of_llama2_7b_by_hand():
    # Llama 2 7B: 32 layers, hidden 4096 (Touvron et al. 2023); micro-batch 1 x 4096 tokens, bf16
    df = par.parallelism_messages(6.74e9, 32, 4096, 4096, 1).set_index("parallelism")
    assert df.loc["data", "msg_bytes"] == pytest.approx(2 * 6.74e9)
    assert df.loc["tensor", "msg_bytes"] == 2 * 4096 * 4096        # 32 MiB of activations
    assert df.loc["tensor", "calls_per_step"] == 128                 # 2 fwd + 2 bwd per layer
    assert df.loc["expert", "msg_bytes"] == 2 * 2 * 4096 * 4096      # top-2 routing
    assert df.loc["data", "collective"] == "all-reduce"
    assert df.loc["expert", "collective"] == "all-to-all"


def test_calls_per_zero_stage_by_hand():
    # Rajbhandari et al. (SC'20), one step with one micro-batch: plain data parallelism
    # all-reduces the gradients once; ZeRO 1 and 2 reduce-scatter the gradients and all-gather
    # the updated weights (1 + 1); ZeRO 3 also gathers the weights before the forward and again
    # before the backward pass (1 + 2). Each message is the whole 16-bit vector, 2 N bytes.
    df = par.parallelism_messages(1e9, 24, 2048, 2048, 1).set_index("parallelism")
    calls = {"data": 1, "data, ZeRO-1": 1 + 1, "data, ZeRO-2": 1 + 1, "data, ZeRO-3": 1 + 2}
    for row, n in calls.items():
        assert df.loc[row, "calls_per_step"] == n, row
        assert df.loc[row, "msg_bytes"] == 2e9
    assert df.loc["pipeline", "calls_per_step"] == 2                  # one send each way
    assert df.loc["expert", "calls_per_step"] == 4 * 24               # dispatch, combine, x2


def test_compiled_costs_equal_alphabeta():
    # every kind of compiled cost against alphabeta.cost's closed forms (a send is a broadcast to
    # one other rank: alpha + n beta)
    for p, n, a, b in itertools.product((1, 2, 3, 8, 72), (1.0, 3e6, 7.3e9), (0.0, 5e-6),
                                        (1 / 25e9, 1 / 450e9)):
        assert par.ring_allreduce_s(p, n, a, b) == pytest.approx(
            ab.cost("allreduce", "ring", p, n, a, b), rel=1e-12)
        assert par.ring_reduce_scatter_s(p, n, a, b) == pytest.approx(
            ab.cost("reduce_scatter", "ring", p, n, a, b), rel=1e-12)
        assert par.ring_allgather_s(p, n, a, b) == pytest.approx(
            ab.cost("allgather", "ring", p, n, a, b), rel=1e-12)
        assert par.send_s(n, a, b) == pytest.approx(
            ab.cost("broadcast", "binomial_tree", 2, n, a, b), rel=1e-12)


@pytest.mark.parametrize("g, m", [(1, 1), (8, 1), (1, 4), (8, 4), (2, 3), (72, 2)])
def test_compiled_two_level_costs_equal_alphabeta(g, m):
    # ring inside each node of g GPUs (NVLink), ring across the m nodes of each GPU's 1/g share
    n, inside, across = 5e8, (3.4e-6, 1 / 300e9), (14e-6, 1 / 25e9)
    args = (g, m, n, *inside, *across)

    def ring(op, ranks, size, link):
        return ab.cost(op, "ring", ranks, size, *link)

    assert par.two_level_allreduce_time(*args) == pytest.approx(
        ring("reduce_scatter", g, n, inside) + ring("allreduce", m, n / g, across)
        + ring("allgather", g, n, inside), rel=1e-12)
    assert par.two_level_reduce_scatter_time(*args) == pytest.approx(
        ring("reduce_scatter", g, n, inside) + ring("reduce_scatter", m, n / g, across),
        rel=1e-12)
    assert par.two_level_allgather_time(*args) == pytest.approx(
        ring("allgather", m, n / g, across) + ring("allgather", g, n, inside), rel=1e-12)
    # the validated chapter-9 form (checked against the schedule simulator below) agrees
    assert par.two_level_allreduce_time(*args) == pytest.approx(
        par.two_level_allreduce_s(n, m, g, 300, 25, 3.4e-6, 14e-6), rel=1e-12)


def test_one_node_is_a_ring_by_hand():
    # 8 GPUs at 450 GB/s: 2 * 7/8 * 14 GB / 450 GB/s
    got = par.two_level_allreduce_s(14e9, 1, 8, 450, 50)
    assert got == pytest.approx(2 * 7 / 8 * 14e9 / 450e9)


def test_two_levels_by_hand():
    n, m, g = 8e9, 4, 8
    intra = 2 * (g - 1) / g * n / 450e9                # reduce-scatter + all-gather in the node
    inter = 2 * (m - 1) / m * (n / g) / 50e9           # each rail's ring over 1/g of the vector
    assert par.two_level_allreduce_s(n, m, g, 450, 50) == pytest.approx(intra + inter)


def test_two_levels_match_the_schedule_simulator_on_a_fat_tree():
    # the simulator executes NCCL-style hierarchical schedules on the DGX H100 fat tree, whose
    # per-GPU rates are 18 NVLink 4 links (450 GB/s) and one NDR port (50 GB/s)
    msg = 2**26
    simulated = co.simulate_time("allreduce", "hierarchical", tp.fat_tree(2), 16, msg, 0.0,
                                 ranks_per_node=8)
    assert par.two_level_allreduce_s(msg, 2, 8, 450, 50) == pytest.approx(simulated, rel=1e-6)


def test_backward_and_overlap_by_hand():
    # 4 N T FLOP at 50% of 1000 TFLOP/s
    assert par.backward_time_s(1e9, 1000, 1000, 0.5) == pytest.approx(4e12 / 5e14)
    sync = par.gradient_sync(1e9, 500, 1, 8, 450, 50, 1000, 0.5)     # 4 ms of backward
    assert sync.backward_s == pytest.approx(4e-3)
    assert sync.allreduce_s == pytest.approx(2 * 7 / 8 * 2e9 / 450e9)  # 7.8 ms
    assert not sync.hidden and sync.exposed_s == pytest.approx(sync.allreduce_s - 4e-3)
    assert par.gradient_sync(1e9, 10**5, 1, 8, 450, 50, 1000, 0.5).hidden


def test_min_tokens_is_where_the_times_cross():
    t = par.min_tokens_to_hide(4, 8, 450, 50, 989.5, 0.4)
    for n in (7e9, 70e9):                 # independent of the model size
        at = par.gradient_sync(n, t, 4, 8, 450, 50, 989.5, 0.4)
        assert at.allreduce_s == pytest.approx(at.backward_s)
        assert not par.gradient_sync(n, 0.9 * t, 4, 8, 450, 50, 989.5, 0.4).hidden
        assert par.gradient_sync(n, 1.1 * t, 4, 8, 450, 50, 989.5, 0.4).hidden


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="n_params"):
        par.parallelism_messages(0, 32, 4096, 4096, 1)
    with pytest.raises(ValueError, match="top_k"):
        par.parallelism_messages(1e9, 32, 4096, 4096, 1, top_k=0)
    with pytest.raises(ValueError, match="n_nodes"):
        par.two_level_allreduce_s(1e9, 0, 8, 450, 50)
    with pytest.raises(ValueError, match="inter_GBps"):
        par.two_level_allreduce_s(1e9, 2, 8, 450, 0)
    with pytest.raises(ValueError, match="efficiency"):
        par.backward_time_s(1e9, 1000, 1000, 1.5)
    with pytest.raises(ValueError, match="bytes_per_grad"):
        par.gradient_sync(1e9, 1000, 1, 8, 450, 50, 1000, 0.5, bytes_per_grad=0)
