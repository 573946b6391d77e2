"""Incast with PFC, ECN and DCQCN: the event model, the numba kernel and the copy kernel.

References: DCQCN's reaction point worked by hand with the parameters of Zhu et al. (SIGCOMM
2015); conservation of bytes; the event model and the time-stepped kernel (two implementations)
against each other; PFC's promise (no drops) and the link's capacity as bounds."""

import math

import numpy as np
import pytest

from aichip import rdma
from aichip.rdma import congestion

P = rdma.DCQCNParams()


def test_params_are_the_papers():
    # Zhu et al. 2015: Kmin 5 KB, Kmax 200 KB, Pmax 1%, g 1/256, 50 us CNP interval, 55 us timers,
    # 10 MB byte counter, F = 5, R_AI 40 Mb/s
    assert (P.kmin_bytes, P.kmax_bytes, P.pmax, P.g) == (5000, 200000, 0.01, 1 / 256)
    assert (P.cnp_interval_s, P.alpha_timer_s, P.rate_timer_s) == (50e-6, 55e-6, 55e-6)
    assert (P.byte_counter_bytes, P.fast_recovery_steps, P.rai_Gbps) == (10_000_000, 5, 0.04)


def test_dcqcn_rate_trace_by_hand():
    rp = rdma.ReactionPoint(40.0)
    rp.on_cnp()                                  # alpha = 1: the rate halves, alpha stays 1
    assert (rp.rt, rp.rc, rp.alpha) == (40.0, 20.0, 1.0)
    rp.on_cnp()
    assert (rp.rt, rp.rc) == (20.0, 10.0)
    rp.on_alpha_timer()
    assert rp.alpha == pytest.approx(255 / 256)
    # four timer expiries: fast recovery halves the distance to the target each time
    for want in (15.0, 17.5, 18.75, 19.375):
        assert rp.on_increase("timer") == "fast recovery"
        assert rp.rc == pytest.approx(want)
    assert rp.on_increase("timer") == "additive"  # T = 5 = F: target + 40 Mb/s
    assert (rp.rt, rp.rc) == (pytest.approx(20.04), pytest.approx(19.7075))
    for _ in range(4):
        assert rp.on_increase("bytes") == "additive"
    assert rp.rt == pytest.approx(20.04 + 4 * 0.04)
    assert rp.on_increase("bytes") == "hyper"     # T and BC both at F: target + R_HAI
    assert rp.rt == pytest.approx(20.2 + 0.4)
    rc = rp.rc
    rp.on_cnp()                                  # alpha 255/256 -> cut by 255/512
    assert rp.rc == pytest.approx(rc * (1 - 255 / 512))
    assert rp.alpha == pytest.approx(255 / 256 * 255 / 256 + 1 / 256)
    assert (rp.t, rp.bc) == (0, 0)


def test_ecn_probability_is_red():
    assert rdma.ecn_probability(5000, P) == 0.0
    assert rdma.ecn_probability(102500, P) == pytest.approx(0.005)   # halfway: Pmax / 2
    assert rdma.ecn_probability(200000, P) == pytest.approx(0.01)
    assert rdma.ecn_probability(200001, P) == 1.0


def test_jain_and_pfc_thresholds():
    assert rdma.jain_index([1, 1, 1, 1]) == 1.0
    assert rdma.jain_index([1, 0, 0, 0]) == 0.25
    # 4 ports, 1 MB: 250000 - (2 * 1 us * 5 GB/s + 2 * 4096) = 231808
    assert rdma.pfc_thresholds(4, 1_000_000, 4096, 40.0, 1e-6) == (231808, 231808 - 8192)


def check_conservation(r):
    assert r.sent_bytes == r.delivered_bytes + r.dropped_bytes + r.in_network_bytes
    assert r.dropped_bytes == 4096 * r.drops


CASES = {"none": ("none", False), "pfc": ("none", True), "dcqcn": ("dcqcn", True)}


@pytest.fixture(scope="module")
def des():
    return {k: rdma.incast_des(4, cc, pfc, duration_s=0.01, victim_Gbps=10.0)
            for k, (cc, pfc) in CASES.items()}


@pytest.fixture(scope="module")
def kernel():
    return {k: rdma.incast(4, cc, pfc, duration_s=0.01, victim_Gbps=10.0)
            for k, (cc, pfc) in CASES.items()}


def test_des_conservation_and_bounds(des):
    line_GBps = 40 / 8
    for k, r in des.items():
        check_conservation(r)
        # the congested port sends at most its line rate (one packet of slack at the window's
        # edge); the victim, on its own port, at most its demand
        assert r.per_flow_GBps.sum() <= line_GBps + 4096 / 0.005 / 1e9, k
        assert r.victim_GBps <= 1.25 + 4096 / 0.005 / 1e9, k
    assert des["none"].drops > 0 and des["none"].pause_frames == 0
    assert des["pfc"].drops == 0 and des["pfc"].pause_frames > 0
    assert des["dcqcn"].drops == 0
    # PFC alone stalls the victim (demand 1.25 GB/s); with DCQCN it gets its demand
    assert des["pfc"].victim_GBps < 0.5 * 1.25 < 0.95 * 1.25 < des["dcqcn"].victim_GBps
    # DCQCN keeps the queue short
    assert des["dcqcn"].queue_bytes.mean() < 0.1 * des["pfc"].queue_bytes.mean()


@pytest.mark.slow_without_jit
def test_kernel_matches_event_model(des, kernel):
    for k in CASES:
        d, g = des[k], kernel[k]
        check_conservation(g)
        # totals of the incast flows within 10%, victim within 20%, drops within 2%; pause
        # frames within 40%: the time-stepped PAUSE/resume (whole-slot delays) sends more of
        # them, systematically (PFC alone: 1805-2100 over seeds 0-3 against the event model's
        # 1533), so the 25% this test once used held for one seed only
        assert g.per_flow_GBps.sum() == pytest.approx(d.per_flow_GBps.sum(), rel=0.1), k
        assert g.victim_GBps == pytest.approx(d.victim_GBps, rel=0.2), k
        assert g.drops == pytest.approx(d.drops, rel=0.02), k
        assert g.pause_frames == pytest.approx(d.pause_frames, rel=0.4, abs=5), k
        assert g.queue_bytes.mean() == pytest.approx(d.queue_bytes.mean(), rel=0.3), k


@pytest.mark.slow_without_jit
def test_kernel_pfc_never_drops_and_dcqcn_converges():
    r = rdma.incast(64, "none", True, buffer_bytes=4_000_000, duration_s=0.005)
    assert r.drops == 0 and r.pause_frames > 0
    check_conservation(r)
    # staggered starts: the first flow alone at line rate, then 7 more join; fair shares later
    r = rdma.incast(8, "dcqcn", True, stagger_s=1e-3, duration_s=0.06)
    assert rdma.jain_index(r.per_flow_GBps) > 0.95
    assert r.drops == 0
    check_conservation(r)


@pytest.mark.parametrize("kw, exc", [
    (dict(n_senders=0), ValueError), (dict(cc="timely"), ValueError), (dict(pfc=1), TypeError),
    (dict(buffer_bytes=10), ValueError), (dict(link_Gbps=0), ValueError),
    (dict(n_senders=64, buffer_bytes=500_000), ValueError),    # too small for PFC's headroom
    (dict(params={"g": 0.5}), TypeError), (dict(victim_Gbps=50.0), ValueError),
])
def test_bad_input(kw, exc):
    args = dict(n_senders=2, cc="dcqcn", pfc=True, duration_s=1e-4) | kw
    for f in (rdma.incast, rdma.incast_des):
        with pytest.raises(exc):
            f(**args)
    with pytest.raises(ValueError, match="kind"):
        rdma.ReactionPoint(40.0).on_increase("packets")
    with pytest.raises(ValueError, match="kmax_bytes"):
        rdma.DCQCNParams(kmin_bytes=10, kmax_bytes=10)


def test_copy_kernel_copies_and_costs():
    src = np.arange(1001, dtype=np.uint8)
    dst = np.zeros_like(src)
    rdma.copy_kernel(dst, src)
    assert np.array_equal(dst, src)
    c = rdma.copy_cost(1_000_000, 10.0)
    assert c["measured_s"] == pytest.approx(2e-4) and c["model_s"] == pytest.approx(2e-4)
    assert c["wire_s"] == pytest.approx(1e6 / 12.5e9)
    assert rdma.measure_copy_GBps(1 << 16, repeats=2) > 0
    with pytest.raises(ValueError, match="measured_GBps"):
        rdma.copy_cost(10, 0.0)
    assert math.isnan(congestion.incast_des(1, "none", False, duration_s=1e-4).victim_GBps)


@pytest.mark.slow_without_jit
def test_incast_explorer_shows_the_kernels_numbers(monkeypatch, capsys):
    from aichip.widgets import rdma as wr
    from aichip.widgets import static

    monkeypatch.setenv(static.ENV, "0")
    box = wr.incast_explorer(senders=4, cc="none", pfc=False, buffer_MB=3)
    assert box is not None
    assert 4 * 2 * 2 * 2 <= static.MAX_VIEWS
    out = capsys.readouterr().out
    r = rdma.incast(4, "none", False, buffer_bytes=3_000_000, duration_s=0.02, victim_Gbps=10.0)
    assert f"drops {r.drops:,}" in out and "PAUSE frames 0" in out


@pytest.mark.slow_without_jit
def test_kernel_lone_sender_delivers_one_packet_per_slot():
    # one sender, 40 Gb/s, 4096 B: a slot is 819.2 ns, 0.01 s is 12207 slots (12207.03 rounded);
    # the second half (t >= 5 ms) is slots 6104..12206, each delivering one packet: 6103 x 4096 B
    # over half of 12207 slots
    r = rdma.incast(1, "none", False, duration_s=0.01)
    slot = 4096 * 8 / 40e9
    assert r.per_flow_GBps[0] == pytest.approx(6103 * 4096 / (12207 * slot / 2) / 1e9, rel=1e-12)


@pytest.mark.slow_without_jit
def test_kernel_no_sender_slows_before_a_round_trip():
    # every packet marked (kmin 0, kmax 1 B, pmax 1): a data packet crosses two links (host to
    # switch, switch to receiver) and its CNP two back, each 10 us = 12 slots of 819.2 ns, so no
    # rate can be cut before slot 4 x 12 = 48; the first mark (at slot 13, the first packets
    # meeting in the queue) makes it by slot 4 x 13 = 52
    p = rdma.DCQCNParams(kmin_bytes=0, kmax_bytes=1, pmax=1.0)
    r = rdma.incast(2, "dcqcn", True, duration_s=100e-6, delay_s=10e-6, params=p)
    slot = 4096 * 8 / 40e9
    first_cut = r.queue_t_s[np.argmax(r.rate_Gbps.min(axis=0) < 40.0)] / slot
    assert 48 <= round(first_cut) <= 52
    assert r.rate_Gbps[:, -1].max() < 40.0
