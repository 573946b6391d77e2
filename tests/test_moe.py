"""The MoE dispatch model against independent references: token-by-token loops for the routing and
the send matrices, the Gumbel-max law for the router, conservation of bytes, the node limit, and
the pairwise all-to-all's closed form (aichip.alphabeta) for an even matrix."""

import numpy as np
import pytest

from aichip import alphabeta as ab
from aichip import moe


def brute_node_limited(a, k, experts_per_node, max_nodes):
    """Node-limited routing one token at a time, in plain Python."""
    out = []
    for row in a:
        nodes = [sorted(row[n * experts_per_node:(n + 1) * experts_per_node], reverse=True)
                 for n in range(len(row) // experts_per_node)]
        score = [sum(v[:k // max_nodes]) for v in nodes]
        keep = sorted(range(len(nodes)), key=lambda n: -score[n])[:max_nodes]
        allowed = [e for e in range(len(row)) if e // experts_per_node in keep]
        out.append(sorted(allowed, key=lambda e: -row[e])[:k])
    return np.array(out)


def brute_flat(experts, tokens_per_rank, experts_per_rank, p):
    m = np.zeros((p, p))
    for t, row in enumerate(experts):
        for e in row:
            m[t // tokens_per_rank, e // experts_per_rank] += 1
    return m


def brute_rail(experts, tokens_per_rank, experts_per_rank, rpn, p):
    m = np.zeros((p, p))
    for t, row in enumerate(experts):
        src = t // tokens_per_rank
        for node in {e // experts_per_rank // rpn for e in row} - {src // rpn}:
            m[src, node * rpn + src % rpn] += 1                 # one network crossing per node
        for e in row:
            dst = e // experts_per_rank
            hop = src if dst // rpn == src // rpn else dst // rpn * rpn + src % rpn
            m[hop, dst] += 1                                     # the NVLink copy (or none)
    return m


def test_popularity_is_zipf_over_a_shuffle():
    w = moe.popularity(16, 1.2, seed=3)
    assert w.sum() == pytest.approx(1.0)
    ranked = np.sort(w)[::-1]
    assert ranked / ranked[0] == pytest.approx([(1 + i) ** -1.2 for i in range(16)])
    assert np.all(moe.popularity(16, 0.0) == 1 / 16)
    assert not np.array_equal(moe.popularity(16, 1.0, 0), moe.popularity(16, 1.0, 1))


def test_router_affinities_are_sigmoids_in_0_1():
    """The documented range (0, 1): with 8 even experts log w = -2.08, and a Gumbel draw
    above 2.08 (probability 0.12) would push an unsquashed score over 1."""
    a = moe.router_affinities(2000, 8, 0.0, seed=4)
    assert np.all((a > 0) & (a < 1))
    # and the sigmoid's logit is log(1/8) plus a standard Gumbel: mean Euler's gamma
    logit = np.log(a / (1 - a)) - np.log(1 / 8)
    assert logit.mean() == pytest.approx(0.5772, abs=0.03)


def test_router_top1_follows_popularity():
    """Gumbel-max: the top-1 expert is e with probability popularity[e] (binomial bounds)."""
    n, w = 200_000, moe.popularity(8, 1.0, seed=5)
    top1 = moe.top_k(moe.router_affinities(n, 8, 1.0, seed=5), 1)[:, 0]
    freq = np.bincount(top1, minlength=8) / n
    assert np.all(np.abs(freq - w) < 5 * np.sqrt(w * (1 - w) / n))


def test_top_k_matches_full_sort():
    a = moe.router_affinities(500, 24, 0.7, seed=1)
    assert np.array_equal(moe.top_k(a, 5), np.argsort(-a, axis=1)[:, :5])


@pytest.mark.parametrize("k,epn,max_nodes", [(8, 4, 4), (4, 4, 2), (6, 8, 3), (3, 4, 1)])
def test_node_limited_matches_brute_force_and_the_limit(k, epn, max_nodes):
    a = moe.router_affinities(300, 32, 0.8, seed=k)
    got = moe.node_limited_top_k(a, k, epn, max_nodes)
    assert np.array_equal(np.sort(got, axis=1),
                          np.sort(brute_node_limited(a, k, epn, max_nodes), axis=1))
    assert moe.nodes_reached(got, np.arange(32) // epn).max() <= max_nodes


def test_node_limited_to_one_of_many_nodes_matches_brute_force():
    """Many nodes (300, one expert each) and one allowed: the best node is each token's top
    expert. (numpy sorts short rows whole, so only a long row shows a wrong partition index.)"""
    a = moe.router_affinities(50, 300, 0.8, seed=1)
    got = moe.node_limited_top_k(a, 1, 1, 1)
    assert np.array_equal(got, brute_node_limited(a, 1, 1, 1))
    assert np.array_equal(got[:, 0], a.argmax(axis=1))


def test_node_limit_at_or_above_the_node_count_changes_nothing():
    a = moe.router_affinities(200, 16, 1.0, seed=2)
    assert np.array_equal(moe.node_limited_top_k(a, 4, 4, 4), moe.top_k(a, 4))


def test_node_limited_never_reaches_more_nodes_when_k_over_m_is_at_most_2():
    """With k // M <= 2 (DeepSeek-V3: 8 // 4), a node holding >= k // M of the token's top-k
    experts always outscores a node holding none, so only nodes with one are dropped and each is
    replaced by at most one node: the token reaches no more nodes than with plain top-k."""
    layout = moe.ExpertLayout.make(64, 16, 2)
    for k, m in ((8, 4), (4, 2), (2, 2)):
        a = moe.router_affinities(2000, 64, 0.6, seed=k + m)
        node = layout.expert_node()
        limited = moe.nodes_reached(moe.node_limited_top_k(a, k, layout.experts_per_node, m), node)
        assert np.all(limited <= moe.nodes_reached(moe.top_k(a, k), node))


def test_a_token_can_cross_to_more_remote_nodes_when_its_own_node_is_dropped():
    """What does not hold: a token's *remote* nodes can grow. Token on node 0 (3 nodes of 3
    experts, k = 4, M = 2): plain top-4 uses node 0 and node 1, node-limited drops node 0 (its
    best two add up least) and uses nodes 1 and 2, two node crossings instead of one."""
    a = np.array([[0.95, 0.01, 0.01, 0.90, 0.89, 0.88, 0.87, 0.86, 0.02]])
    plain, limited = moe.top_k(a, 4)[0] // 3, moe.node_limited_top_k(a, 4, 3, 2)[0] // 3
    assert set(plain) == {0, 1} and set(limited) == {1, 2}


def test_send_matrices_match_token_by_token_counts_and_conserve_bytes():
    layout = moe.ExpertLayout.make(32, 8, 4)
    tpr, k, nbytes = 40, 4, 3.0
    a = moe.router_affinities(tpr * 8, 32, 1.0, seed=7)
    for experts in (moe.top_k(a, k), moe.node_limited_top_k(a, k, layout.experts_per_node, 1)):
        flat = moe.send_matrix(experts, layout, nbytes)
        assert flat == pytest.approx(nbytes * brute_flat(experts, tpr, 4, 8))
        assert flat.sum() == flat.T.sum() == tpr * 8 * k * nbytes           # sent = received
        assert np.all(flat.sum(axis=1) == tpr * k * nbytes)
        rail = moe.rail_send_matrix(experts, layout, nbytes)
        assert rail == pytest.approx(nbytes * brute_rail(experts, tpr, 4, 4, 8))
        cross = (np.arange(8)[:, None] // 4) != (np.arange(8)[None, :] // 4)
        assert rail[cross].sum() <= flat[cross].sum()                      # dedup never adds


def test_rail_crossings_are_at_most_m_per_token():
    layout = moe.ExpertLayout.make(64, 16, 2)
    a = moe.router_affinities(16 * 50, 64, 0.5, seed=4)
    experts = moe.node_limited_top_k(a, 8, layout.experts_per_node, 4)
    rail = moe.rail_send_matrix(experts, layout)
    cross = (np.arange(16)[:, None] // 2) != (np.arange(16)[None, :] // 2)
    assert np.all(rail[cross].reshape(16, -1).sum(axis=1) <= 50 * 4)


@pytest.mark.parametrize("p", [2, 4, 8])
def test_even_matrix_on_one_node_is_the_pairwise_closed_form(p):
    n, alpha, bw = 3e6, 2e-6, 40.0
    t = moe.alltoallv_time(moe.uniform_send_matrix(p, n), p, bw, 1.0, alpha, 0.0)
    assert t == pytest.approx(ab.cost("alltoall", "pairwise", p, n, alpha, 1 / (bw * 1e9)))


def test_even_matrix_on_two_levels_is_the_closed_form():
    p, r, n = 16, 4, 8e6
    t = moe.alltoallv_time(moe.uniform_send_matrix(p, n), r, 400, 50, 3e-6, 1e-5)
    by_hand = max(3 * (3e-6 + n / 16 / 400e9), 12 * (1e-5 + n / 16 / 50e9))
    assert t == pytest.approx(by_hand)
    assert moe.uniform_alltoall_time(p, r, n, 400, 50, 3e-6, 1e-5) == pytest.approx(by_hand)
    # latencies default to zero: 7 peers on one node, 1 GB each at 100 GB/s
    assert moe.uniform_alltoall_time(8, 8, 8e9, 100, 1) == pytest.approx(7 * 0.01)


def test_alltoallv_time_units_are_exact():
    """GB/s is 1e9 bytes/s exactly: 1 GB over 100 GB/s is 10 ms to 12 digits, on each level."""
    send = np.array([[0.0, 1e9], [1e9, 0.0]])
    assert moe.alltoallv_time(send, 1, 1, 100) == pytest.approx(0.01, rel=1e-12)
    assert moe.alltoallv_time(send, 2, 100, 1) == pytest.approx(0.01, rel=1e-12)


def test_routed_zero_skew_is_close_to_the_even_all_to_all():
    layout = moe.ExpertLayout.make(32, 8, 8)
    tpr, k = 4000, 2
    flat = moe.send_matrix(moe.top_k(moe.router_affinities(tpr * 8, 32, 0.0, 0), k), layout)
    even = moe.uniform_send_matrix(8, tpr * k)
    assert flat == pytest.approx(even, rel=0.1)
    t, t_even = (moe.alltoallv_time(m, 8, 100, 10) for m in (flat, even))
    assert t_even <= t < 1.1 * t_even


def test_busiest_port_sets_the_time():
    send = np.zeros((4, 4))
    send[0, 1], send[2, 3], send[1, 0] = 5e9, 1e9, 2e9
    assert moe.alltoallv_time(send, 4, 10, 1) == pytest.approx(0.5)
    send[3, 0] = 4e9                               # rank 0 now receives 6e9
    assert moe.alltoallv_time(send, 4, 10, 1) == pytest.approx(0.6)
    assert moe.alltoallv_time(send, 2, 10, 1) == pytest.approx(4.0)   # only 3 -> 0 crosses


def test_alltoallv_counts_are_deterministic_and_conserve():
    # the default is top-2 routing (Mixtral's): each row holds 2 copies of each token
    assert np.all(moe.alltoallv_counts(50, 3, 1.0).sum(axis=1) == 100)
    c = moe.alltoallv_counts(500, 3, 1.0, k=2, seed=1)
    assert np.array_equal(c, moe.alltoallv_counts(500, 3, 1.0, k=2, seed=1))
    assert c.dtype == np.int64 and np.all(c.sum(axis=1) == 1000)
    assert not np.array_equal(c, moe.alltoallv_counts(500, 3, 0.0, k=2, seed=1))


def test_dispatch_summary_deepseek_shape_small():
    layout = moe.ExpertLayout.make(256, 64, 8)
    free = moe.dispatch_summary(layout, 8, 8, 7168.0, 0.0)
    limited = moe.dispatch_summary(layout, 8, 8, 7168.0, 0.0, max_nodes=4)
    assert limited["nodes_max"] <= 4 < free["nodes_max"]
    assert free["total_B"] == limited["total_B"] == 64 * 8 * 8 * 7168
    assert limited["cross_rail_B"] < free["cross_rail_B"] <= free["cross_flat_B"]


@pytest.mark.parametrize("call,message", [
    (lambda: moe.ExpertLayout.make(30, 8, 2), "n_experts must be a multiple"),
    (lambda: moe.ExpertLayout.make(32, 8, 3), "ranks_per_node must divide"),
    (lambda: moe.popularity(8, -1.0), "skew"),
    (lambda: moe.top_k(np.ones(4), 1), "affinities must be 2-D"),
    (lambda: moe.top_k(np.ones((2, 4)), 5), "k"),
    (lambda: moe.node_limited_top_k(np.ones((2, 8)), 4, 3, 1), "divide the 8 experts"),
    (lambda: moe.node_limited_top_k(np.ones((2, 8)), 4, 2, 1), "max_nodes must give room"),
    (lambda: moe.port_loads(np.ones((2, 3)), 1), "send must be a square matrix"),
    (lambda: moe.alltoallv_time(np.ones((2, 2)), 2, 0.0, 1.0), "scaleup_GBps"),
    (lambda: moe.send_matrix(np.zeros((3, 2), int), moe.ExpertLayout.make(4, 2, 1)),
     "experts must be"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()

