"""In-network all-reduce (NVLink SHARP in the NVSwitch, SHARP in InfiniBand switches) and NCCL's
protocols, against independent references: costs worked by hand, bytes counted from the executed
schedules, the H100's NVLink figures, and NCCL's own time estimate written out by hand.

The generic tests of tests/test_collectives.py also run these records (numpy results, simulated
time on a crossbar equal to the closed form, the displayed formula equal to the cost)."""

import numpy as np
import pytest

from aichip import alphabeta as ab
from aichip import collective_specs as cs
from aichip import collectives as co
from aichip import topology as tp

A, B, C, N = 1e-6, 1e-9, 1e-10, 1e6


def test_in_network_costs_by_hand():
    # NVLS, 4 pieces: piece 0 goes up (step 0), pieces 1-3 go up while 0-2 come down (steps 1-3),
    # piece 3 comes down (step 4): 5 steps of n/4; the switch adds n bytes in all
    assert ab.cost("allreduce", "nvls", 8, N, A, B, C, chunks=4) == pytest.approx(
        5 * (A + N / 4 * B) + N * C)
    # one piece: up, then down
    assert ab.cost("allreduce", "nvls", 64, N, A, B, chunks=1) == pytest.approx(2 * (A + N * B))
    # IB SHARP, 2 nodes of 4: ring reduce-scatter and all-gather in the node (6 steps, 1.5 n),
    # then a quarter of the vector up to the switch and back
    assert ab.cost("allreduce", "ib_sharp", 8, N, A, B, C, ranks_per_node=4) == pytest.approx(
        6 * A + 1.5 * N * B + 0.75 * N * C + 2 * (A + N / 4 * B) + N / 4 * C)
    # ... and the same on 64 nodes: the switch's share does not grow with the node count
    assert ab.cost("allreduce", "ib_sharp", 256, N, A, B, C, ranks_per_node=4) == pytest.approx(
        ab.cost("allreduce", "ib_sharp", 8, N, A, B, C, ranks_per_node=4))


def bytes_per_rank(sched, item=4):
    """Bytes each rank sends and receives over the whole schedule, counted from its messages."""
    p = sched.n_ranks
    sent = np.bincount(sched.src, weights=sched.length, minlength=p + 1)[:p] * item
    received = np.bincount(sched.dst, weights=sched.length, minlength=p + 1)[:p] * item
    return sent, received


@pytest.mark.parametrize("p", [2, 3, 8, 16])
def test_each_rank_sends_and_receives_the_buffer_once(p):
    """The point of in-network reduction: a rank sends its n bytes once and receives the n-byte
    sum once, where the ring sends and receives 2(p-1)/p n."""
    count = 840 * p
    n = 4 * count
    sent, received = bytes_per_rank(co.schedule("allreduce", "nvls", p, count, chunks=5))
    np.testing.assert_array_equal(sent, n)
    np.testing.assert_array_equal(received, n)
    sent, received = bytes_per_rank(co.schedule("allreduce", "ring", p, count))
    np.testing.assert_allclose(sent, 2 * (p - 1) / p * n)
    np.testing.assert_allclose(received, 2 * (p - 1) / p * n)


def test_switch_holds_the_sum_and_multicasts_it():
    """The switch's own buffer (the last row) ends with the sum; in each middle step it receives
    one piece from every rank and sends one piece to every rank."""
    x = np.random.default_rng(5).integers(-9, 9, size=(5, 12)).astype(np.float64)
    states, sched = co.buffers_by_step("allreduce", "nvls", x, chunks=3)
    assert states.shape == (sched.n_steps + 1, 6, 12) and sched.switch
    np.testing.assert_array_equal(states[-1, 5], x.sum(axis=0))
    np.testing.assert_array_equal(states[0, 5], 0.0)
    for k in range(1, sched.n_steps - 1):
        sl = slice(sched.step_start[k], sched.step_start[k + 1])
        assert np.sum(sched.dst[sl] == 5) == 5 and np.sum(sched.src[sl] == 5) == 5
    got, _ = co.execute("allreduce", "ib_sharp", x[:4], ranks_per_node=2)
    assert co.same_results(got, [x[:4].sum(axis=0)] * 4)


def test_nvls_on_dgx_h100_runs_at_the_link_rate():
    """On the DGX H100 (18 NVLink 4 links of 25 GB/s per direction per GPU, split over four
    NVSwitches) the simulated NVLS all-reduce moves n each way at 450 GB/s: algbw 450 GB/s,
    busbw 2(p-1)/p of it by the nccl-tests convention, which the ring's algbw would need
    2(p-1)/p times the link to match."""
    n, k = 2**30, 256
    t = co.simulate_time("allreduce", "nvls", tp.dgx_h100(), 8, n, 0.0, chunks=k)
    assert t == pytest.approx((k + 1) / k * n / (18 * 25e9), rel=1e-12)
    ring = co.simulate_time("allreduce", "ring", tp.dgx_h100(), 8, n, 0.0)
    assert ring / t == pytest.approx(2 * 7 / 8 * k / (k + 1), rel=1e-12)
    assert ab.bus_bandwidth("allreduce", n / t / 1e9, 8) == pytest.approx(
        1.75 * n / t / 1e9)


def test_switch_ports_and_topologies_without_a_switch():
    ports = co.switch_ports(tp.dgx_h100(), tp.dgx_h100().gpus[0])
    assert sorted(s for _, s in ports) == pytest.approx(sorted([5 / 18, 4 / 18, 4 / 18, 5 / 18]))
    with pytest.raises(ValueError, match="no switch next to it"):
        co.simulate_time("allreduce", "nvls", tp.ring(4), 4, 4096, 1e-6)


def test_in_network_offered_only_when_asked():
    assert not {"nvls", "ib_sharp"} & set(ab.usable_algorithms("allreduce", 8, ranks_per_node=4))
    assert {"nvls", "ib_sharp"} <= set(ab.usable_algorithms("allreduce", 8, ranks_per_node=4,
                                                            in_network=True))
    assert all(cs.REGISTRY["allreduce"][a].in_network for a in ("nvls", "ib_sharp"))
    # with it, NVLS is the fastest large all-reduce: n (k+1)/k beta against the ring's 1.75 n beta
    big = ab.best_algorithm("allreduce", 8, 2**30, 5e-6, 1 / 25e9, in_network=True)
    assert list(big) == ["nvls"]
    with pytest.raises(TypeError, match="in_network"):
        ab.usable_algorithms("allreduce", 8, in_network="yes")


def nccl_estimate(p, n, link_GBps, base_us, hop_us, payload):
    """NCCL's ring all-reduce estimate written out: base latency + 2(p-1) hop latencies + the
    bytes on a link, 2(p-1)/p n, over the bandwidth left after the protocol's flags."""
    return (base_us + 2 * (p - 1) * hop_us) * 1e-6 + 2 * (p - 1) / p * n / (
        payload * link_GBps * 1e9)


def test_protocol_costs_against_nccls_form():
    # NCCL's tables (us): LL 6.6 + 0.6/hop, LL128 14.0 + 1.9/hop, Simple 8.4 + 3.4/hop; payload
    # 4 of 8 bytes, 120 of 128, all
    table = {"LL": (6.6, 0.6, 0.5), "LL128": (14.0, 1.9, 120 / 128), "Simple": (8.4, 3.4, 1.0)}
    for name, (base, hop, payload) in table.items():
        for n in (1e3, 1e6, 1e9):
            assert ab.protocol_cost("allreduce", "ring", 8, n, 370.0, name) == pytest.approx(
                nccl_estimate(8, n, 370.0, base, hop, payload), rel=1e-12)
    # the crossovers solved by hand: equal latency gaps over unequal bandwidth terms
    share = 2 * 7 / 8 / 370e9
    ll_ll128 = ((14.0 - 6.6) + 14 * (1.9 - 0.6)) * 1e-6 / (share * (2 - 128 / 120))
    ll128_simple = ((8.4 - 14.0) + 14 * (3.4 - 1.9)) * 1e-6 / (share * (128 / 120 - 1))
    changes = ab.protocol_changes("allreduce", "ring", 8, 370.0)
    assert [(a, b) for _, a, b in changes] == [("LL", "LL128"), ("LL128", "Simple")]
    assert changes[0][0] == pytest.approx(ll_ll128, rel=1e-9)
    assert changes[1][0] == pytest.approx(ll128_simple, rel=1e-9)


def test_best_protocol_by_brute_force():
    sizes = np.logspace(0, 31, 32, base=2.0)
    best = ab.best_protocol("allreduce", "ring", 8, sizes, 370.0)
    for n, name in zip(sizes, best, strict=True):
        t = {pr: nccl_estimate(8, n, 370.0, *{"LL": (6.6, 0.6, 0.5),
                                              "LL128": (14.0, 1.9, 120 / 128),
                                              "Simple": (8.4, 3.4, 1.0)}[pr])
             for pr in ("LL", "LL128", "Simple")}
        assert t[name] == pytest.approx(min(t.values()), rel=1e-12)
    assert best[0] == "LL" and best[-1] == "Simple"


def test_protocol_bad_input():
    with pytest.raises(ValueError, match="protocol must be one of"):
        ab.protocol_cost("allreduce", "ring", 8, 1e6, 370.0, "LL64")
    with pytest.raises(ValueError, match="link_GBps"):
        ab.protocol_cost("allreduce", "ring", 8, 1e6, 0.0, "LL")
    with pytest.raises(ValueError, match="chunks"):
        ab.protocol_cost("allreduce", "nvls", 8, 1e6, 370.0, "Simple", chunks=0)
    with pytest.raises(ValueError, match="ranks_per_node"):
        co.schedule("allreduce", "ib_sharp", 8, 64, ranks_per_node=3)


def test_nvls_vs_ring_reports_algbw_and_busbw():
    """Without latency the best chunk count is the largest allowed; by hand: the ring's algbw is
    450 / (2 * 7/8) GB/s and its busbw the link's 450; NVLS's algbw is 450 k/(k+1) and its busbw
    2 * 7/8 times that (the nccl-tests factor, whatever the algorithm)."""
    out = co.nvls_vs_ring(2**30, 0.0, max_chunks=64)
    assert out["ring"][1] == pytest.approx(450 / 1.75, rel=1e-12)
    assert out["ring"][2] == pytest.approx(450, rel=1e-12)
    assert out["nvls"][1] == pytest.approx(450 * 64 / 65, rel=1e-12)
    assert out["nvls"][2] == pytest.approx(1.75 * 450 * 64 / 65, rel=1e-12)
    assert out["nvls"][0] == pytest.approx(2**30 / out["nvls"][1] / 1e9)
    with pytest.raises(ValueError, match="msg_bytes"):
        co.nvls_vs_ring(2, 5e-6)


def test_chapter_plots_draw_the_package_numbers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aichip.widgets.collectives import plot_nvls_vs_ring, plot_protocols

    fig, (left, right) = plt.subplots(1, 2)
    plot_nvls_vs_ring(alpha_us=0.0, ax=left, sizes=[2**20, 2**30])
    nvls_bus = [ln for ln in left.get_lines() if ln.get_label() == "nvls busbw"][0]
    assert nvls_bus.get_ydata()[1] == pytest.approx(co.nvls_vs_ring(2**30, 0.0)["nvls"][2])
    plot_protocols("allreduce", "ring", 8, 370.0, ax=right, sizes=[1e3, 1e9])
    simple = [ln for ln in right.get_lines() if ln.get_label() == "Simple"][0]
    t = ab.protocol_cost("allreduce", "ring", 8, 1e9, 370.0, "Simple")
    assert simple.get_ydata()[1] == pytest.approx(1.75 * 1e9 / t / 1e9)
    plt.close(fig)


def test_nvls_vs_ring_picks_chunks_at_the_nvlink_rate():
    """With latency (alpha 5 us, 16 MiB) the chunk count matters: it must minimise NVLS's closed
    form at an H100's NVLink rate, 18 links x 25 GB/s = 450 GB/s per direction (NVIDIA's figure),
    found here by brute force over 1..256, and the simulated time is the one at that count."""
    n, a = 2**24, 5e-6
    times = [ab.cost("allreduce", "nvls", 8, n, a, 1 / 450e9, chunks=k) for k in range(1, 257)]
    k = 1 + int(np.argmin(times))
    want = co.simulate_time("allreduce", "nvls", tp.dgx_h100(), 8, n, a, chunks=k)
    assert co.nvls_vs_ring(n, a, max_chunks=256)["nvls"][0] == pytest.approx(want, rel=1e-12)
