"""The verbs model and the packet engine (aichip.rdma): timing against closed forms written out
here, every protection and ordering rule as the completion a real adapter would give, bad input."""

import numpy as np
import pytest

from aichip import rdma as r

A = r.Access
ALL_REMOTE = A.LOCAL_WRITE | A.REMOTE_WRITE | A.REMOTE_READ | A.REMOTE_ATOMIC


def pair(transport="RC", access=ALL_REMOTE, jitter=0.0, hp=None):
    hp = r.HostParams() if hp is None else hp
    fab = r.Fabric(hp, adaptive_routing_jitter_s=jitter, seed=1)
    a, b = fab.add_node("a"), fab.add_node("b")
    pa, pb = a.alloc_pd(), b.alloc_pd()
    ma = a.reg_mr(pa, 0, 1 << 15, A.LOCAL_WRITE)
    mb = b.reg_mr(pb, 0, 1 << 15, access)
    qa, qb = a.create_qp(pa, transport), b.create_qp(pb, transport)
    for q, o in ((qa, qb), (qb, qa)):
        q.modify("INIT")
        q.modify("RTR", o)
        q.modify("RTS")
    return fab, a, b, ma, mb, qa, qb


# ---- timing --------------------------------------------------------------------------------------
def test_pipeline_matches_hand_closed_form():
    # two stages, 3 full packets: fill (s1+d1+s2+d2) then 2 more behind the slower stage
    s1, s2 = r.Stage("a", s_per_byte=1e-9, delay_s=5e-6), r.Stage("b", s_per_packet=2e-6)
    path = r.Path("p", (s1, s2), start=(("x", 1e-6),), end=(("y", 3e-6),), mtu_bytes=1000)
    expect = 1e-6 + (1e-6 + 5e-6) + 2e-6 + 2 * max(1e-6, 2e-6) + 3e-6
    assert r.message_time(path, 3000) == pytest.approx(expect, rel=1e-12)
    assert sum(r.latency_breakdown(path, 3000).values()) == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("n", [0, 4096, 16 * 4096])
def test_rdma_and_tcp_paths_equal_their_breakdown(n):
    for path in (r.rdma_write_path(), r.tcp_path(r.HostParams(tcp_mss_bytes=4096))):
        assert r.message_time(path, n) == pytest.approx(sum(r.latency_breakdown(path, n).values()))


def test_the_explorers_bandwidth_curves_equal_the_simulation():
    """The path explorer draws bandwidth from the recurrence (fast); at every size it offers,
    up to 4 MiB, and for each path it draws, that is the simulated bandwidth."""
    from aichip.widgets import rdma as wr

    sizes = tuple(int(n) for n in wr.SIZES[::4]) + (int(wr.SIZES[-1]),)
    assert sizes[-1] == 1 << 22
    for hp in (r.HostParams(), r.HostParams(offloads=False, wire_GBps=50.0)):
        for path in (r.tcp_path(hp), r.rdma_write_path(hp)):
            drawn = wr._bandwidths(path, sizes)
            assert drawn == pytest.approx([r.bandwidth_GBps(path, n) for n in sizes], rel=1e-12)


def test_tcp_slower_than_rdma_and_bandwidth_tends_to_wire_rate():
    hp = r.HostParams()
    assert r.message_time(r.tcp_path(hp), 8) > r.message_time(r.rdma_write_path(hp), 8)
    bw = r.bandwidth_GBps(r.rdma_write_path(hp), 1 << 22)
    assert bw == pytest.approx(hp.wire_GBps * 4096 / (4096 + hp.header_bytes), rel=0.01)


@pytest.mark.parametrize("n", [3 * 1448, 100 * 1448 + 7])
def test_offloaded_tcp_simulation_equals_its_recurrence(n):
    # batches make packets unequal: SimPy and the hand-free recurrence must still agree
    path = r.tcp_path()
    assert r.message_time(path, n) == pytest.approx(sum(r.latency_breakdown(path, n).values()),
                                                    rel=1e-12)


# every cost but the kernel's protocol work made negligible, so times can be counted by hand
IDEAL = dict(pcie_GBps=1e12, wire_GBps=1e12, copy_GBps=1e12, nic_s=0.0, cable_s=0.0,
             switch_s=0.0, pcie_latency_s=0.0, syscall_s=0.0, interrupt_s=0.0, wakeup_s=0.0,
             stack_s=1e-6)


@pytest.mark.parametrize("frames, with_offloads, without", [
    (1, 2.0, 2.0),     # one segment: the protocol runs once on each side either way
    (3, 2.0, 4.0),     # without: 3 runs on send, the receiver's last run 1 us after the third
    (45, 2.0, 46.0),   # 45 x 1448 = 65160 B, the largest super-segment in 64 KiB: one run a side
    (46, 3.0, 47.0),   # a second super-segment: send runs at 0-1 and 1-2 us, receive ends at 3
])
def test_tcp_segmentation_offloads_by_hand(frames, with_offloads, without):
    n = frames * 1448
    on, off = r.HostParams(**IDEAL), r.HostParams(**IDEAL, offloads=False)
    assert on.tcp_batch_segments == 45 and off.tcp_batch_segments == 1
    assert r.message_time(r.tcp_path(on), n) == pytest.approx(with_offloads * 1e-6, rel=1e-6)
    assert r.message_time(r.tcp_path(off), n) == pytest.approx(without * 1e-6, rel=1e-6)


def test_tcp_bandwidth_with_and_without_offloads():
    # protocol-bound: 65160 B per us with offloads, 1448 B per us (11.6 Gb/s) without
    n = 1000 * 65160
    assert r.bandwidth_GBps(r.tcp_path(r.HostParams(**IDEAL)), n) == pytest.approx(65.16, rel=1e-3)
    off = r.HostParams(offloads=False)
    assert r.bandwidth_GBps(r.tcp_path(off), 1 << 22) * 8 == pytest.approx(11.58, rel=0.01)
    # with the defaults and offloads the copies (10 GB/s each, on two CPUs) limit TCP: 4 MiB
    # is 2897 frames of 1448/10e9 s behind about 13 us of one-off costs
    hp = r.HostParams()
    assert r.bandwidth_GBps(r.tcp_path(hp), 1 << 22) == pytest.approx(
        (1 << 22) / ((1 << 22) / 10e9 + 13e-6) / 1e9, rel=0.01)
    assert r.bandwidth_GBps(r.tcp_path(hp), 1 << 22) < r.bandwidth_GBps(r.rdma_write_path(hp),
                                                                        1 << 22)


def test_slowest_stage_by_hand():
    # defaults: a copy moves 1448 B at 10 GB/s in 0.1448 us; the wire 1448 + 90 B at 12.5 GB/s in
    # 0.12304 us; the protocol 1 us per 45 segments is 0.0222 us; without offloads 1 us each
    name, s = r.slowest_stage(r.tcp_path())
    assert name == "copy to kernel" and s == pytest.approx(0.1448e-6)
    name, s = r.slowest_stage(r.tcp_path(r.HostParams(offloads=False)))
    assert name == "TCP/IP send" and s == pytest.approx(1e-6)
    name, s = r.slowest_stage(r.tcp_path(r.HostParams(copy_GBps=100.0)))
    assert name == "wire" and s == pytest.approx(1538 / 12.5e9)


def test_headers_come_from_the_network_table():
    assert r.HostParams().header_bytes == r.header_bytes("RoCE v2") == 82
    assert r.HostParams(transport="InfiniBand").header_bytes == 26
    assert r.HostParams().tcp_header_bytes == 20 + 14 + 4 + 20 + 32


@pytest.mark.parametrize("packets", [1, 4])
def test_verbs_write_completion_time_closed_form(packets):
    hp = r.HostParams()
    fab, a, b, ma, mb, qa, qb = pair(hp=hp)
    n = packets * hp.mtu_bytes
    qa.post_send(r.SendWR(1, "RDMA_WRITE", r.SGE(0, n, ma.lkey), remote_addr=0, rkey=mb.rkey))
    fab.run()
    L, W, P, h = hp.pcie_latency_s, hp.wire_GBps * 1e9, hp.pcie_GBps * 1e9, hp.header_bytes
    F = hp.cable_s * (hp.switch_hops + 1) + hp.switch_s * hp.switch_hops
    p = hp.mtu_bytes
    services = [p / P, hp.nic_s, (p + h) / W, hp.nic_s, p / P]
    data = L + (2 * L + p / P) + hp.nic_s + ((p + h) / W + F) + hp.nic_s + (p / P + L) \
        + (packets - 1) * max(services)
    ack = hp.nic_s + h / W + F + hp.nic_s
    (wc,) = qa.send_cq.poll()
    assert wc.status == "SUCCESS" and wc.byte_len == n
    assert wc.time_s == pytest.approx(data + ack + L, rel=1e-9)



def test_default_mtu_is_4096_bytes_by_packet_count():
    # only the adapters' per-packet work costs time (1 us each, send and receive), so a message
    # takes 1 us per packet plus 1 us: InfiniBand's and RoCE's largest MTU, 4096 B, makes 4096 B
    # one packet, 4097 B two and 3 x 4096 B three
    hp = r.HostParams(**{**IDEAL, "stack_s": 0.0, "nic_s": 1e-6})
    for n, packets in ((4096, 1), (4097, 2), (3 * 4096, 3), (3 * 4096 + 1, 4)):
        assert r.message_time(r.rdma_write_path(hp), n) == pytest.approx((packets + 1) * 1e-6,
                                                                         rel=1e-9)

# ---- data movement -------------------------------------------------------------------------------
def test_write_read_atomics_move_the_right_bytes():
    fab, a, b, ma, mb, qa, qb = pair()
    a.memory[:5000] = np.arange(5000) % 251
    b.memory[20000:20100] = 9
    b.write_u64(24000, 10)
    qa.post_send(r.SendWR(1, "RDMA_WRITE", r.SGE(0, 5000, ma.lkey), remote_addr=8, rkey=mb.rkey))
    qa.post_send(r.SendWR(2, "RDMA_READ", r.SGE(10000, 100, ma.lkey), remote_addr=20000,
                          rkey=mb.rkey))
    qa.post_send(r.SendWR(3, "ATOMIC_FETCH_ADD", r.SGE(16000, 8, ma.lkey), remote_addr=24000,
                          rkey=mb.rkey, compare_add=5))
    qa.post_send(r.SendWR(4, "ATOMIC_CMP_SWAP", r.SGE(16008, 8, ma.lkey), remote_addr=24000,
                          rkey=mb.rkey, compare_add=15, swap=99))
    qa.post_send(r.SendWR(5, "ATOMIC_CMP_SWAP", r.SGE(16016, 8, ma.lkey), remote_addr=24000,
                          rkey=mb.rkey, compare_add=15, swap=7))
    fab.run()
    assert [w.status for w in qa.send_cq.poll()] == ["SUCCESS"] * 5
    np.testing.assert_array_equal(b.memory[8:5008], np.arange(5000) % 251)
    assert (a.memory[10000:10100] == 9).all()
    assert (a.read_u64(16000), a.read_u64(16008), a.read_u64(16016)) == (10, 15, 99)
    assert b.read_u64(24000) == 99          # the last CAS compared 15 with 99 and failed


def test_send_recv_and_write_with_imm_consume_receives():
    fab, a, b, ma, mb, qa, qb = pair()
    a.memory[:64] = 3
    qb.post_recv(10, r.SGE(1000, 64, mb.lkey))
    qb.post_recv(11, r.SGE(2000, 64, mb.lkey))
    qa.post_send(r.SendWR(1, "SEND", r.SGE(0, 64, ma.lkey)))
    qa.post_send(r.SendWR(2, "RDMA_WRITE_WITH_IMM", r.SGE(0, 32, ma.lkey), remote_addr=3000,
                          rkey=mb.rkey, imm=42))
    fab.run()
    recv = qb.recv_cq.poll()
    assert [(w.wr_id, w.opcode, w.byte_len, w.imm) for w in recv] == \
        [(10, "RECV", 64, None), (11, "RECV_RDMA_WITH_IMM", 32, 42)]
    assert (b.memory[1000:1064] == 3).all() and (b.memory[3000:3032] == 3).all()


# ---- protection: errors are completions ----------------------------------------------------------
@pytest.mark.parametrize("access, wr, status", [
    # the remote region lacks the access the operation needs
    (A.LOCAL_WRITE | A.REMOTE_WRITE, dict(opcode="RDMA_READ"), "REM_ACCESS_ERR"),
    (A.REMOTE_READ, dict(opcode="RDMA_WRITE"), "REM_ACCESS_ERR"),
    (A.LOCAL_WRITE | A.REMOTE_WRITE, dict(opcode="ATOMIC_FETCH_ADD"), "REM_ACCESS_ERR"),
    # bad rkey, remote bounds, misaligned atomic, bad lkey, local bounds
    (ALL_REMOTE, dict(opcode="RDMA_WRITE", rkey_offset=2), "REM_ACCESS_ERR"),
    (ALL_REMOTE, dict(opcode="RDMA_READ", remote_addr=(1 << 15) - 4), "REM_ACCESS_ERR"),
    (ALL_REMOTE, dict(opcode="ATOMIC_FETCH_ADD", remote_addr=12), "REM_INV_REQ_ERR"),
    (ALL_REMOTE, dict(opcode="RDMA_WRITE", lkey_offset=2), "LOC_PROT_ERR"),
    (ALL_REMOTE, dict(opcode="RDMA_WRITE", local_addr=(1 << 15) - 4), "LOC_PROT_ERR"),
])
def test_protection_errors_complete_with_status(access, wr, status):
    fab, a, b, ma, mb, qa, qb = pair(access=access)
    length = 8
    sge = r.SGE(wr.get("local_addr", 0), length, ma.lkey + wr.get("lkey_offset", 0))
    qa.post_send(r.SendWR(1, wr["opcode"], sge, remote_addr=wr.get("remote_addr", 0),
                          rkey=mb.rkey + wr.get("rkey_offset", 0)))
    qa.post_send(r.SendWR(2, "RDMA_WRITE", r.SGE(0, 8, ma.lkey), remote_addr=0, rkey=mb.rkey))
    fab.run()
    assert [w.status for w in qa.send_cq.poll()] == [status, "WR_FLUSH_ERR"]
    assert qa.state == "ERR"


def test_read_into_region_without_local_write_is_local_protection_error():
    fab, a, b, ma, mb, qa, qb = pair()
    ro = a.reg_mr(qa.pd, 20000, 64, A.REMOTE_READ)
    qa.post_send(r.SendWR(1, "RDMA_READ", r.SGE(20000, 8, ro.lkey), remote_addr=0, rkey=mb.rkey))
    fab.run()
    assert qa.send_cq.poll()[0].status == "LOC_PROT_ERR"


def test_rkey_of_another_protection_domain_is_refused():
    fab, a, b, ma, mb, qa, qb = pair()
    other = b.reg_mr(b.alloc_pd(), 0, 64, ALL_REMOTE)
    qa.post_send(r.SendWR(1, "RDMA_WRITE", r.SGE(0, 8, ma.lkey), remote_addr=0, rkey=other.rkey))
    fab.run()
    assert qa.send_cq.poll()[0].status == "REM_ACCESS_ERR"


@pytest.mark.parametrize("transport, opcode", [("UC", "RDMA_READ"), ("UC", "ATOMIC_CMP_SWAP"),
                                               ("UD", "RDMA_WRITE"), ("UD", "RDMA_READ")])
def test_opcode_the_transport_lacks(transport, opcode):
    fab, a, b, ma, mb, qa, qb = pair(transport)
    qa.post_send(r.SendWR(1, opcode, r.SGE(0, 8, ma.lkey), rkey=mb.rkey), dest=qb)
    fab.run()
    assert qa.send_cq.poll()[0].status == "LOC_QP_OP_ERR"


def test_send_without_receive_rc_fails_ud_drops():
    fab, a, b, ma, mb, qa, qb = pair("RC")
    qa.post_send(r.SendWR(1, "SEND", r.SGE(0, 8, ma.lkey)))
    fab.run()
    assert qa.send_cq.poll()[0].status == "RNR_RETRY_EXC_ERR"
    fab, a, b, ma, mb, qa, qb = pair("UD")
    qa.post_send(r.SendWR(1, "SEND", r.SGE(0, 8, ma.lkey)), dest=qb)
    qa.post_send(r.SendWR(2, "SEND", r.SGE(0, 5000, ma.lkey)), dest=qb)     # more than one MTU
    fab.run()
    assert [w.status for w in qa.send_cq.poll()] == ["SUCCESS", "LOC_LEN_ERR"]
    assert len(qb.recv_cq) == 0


def test_receive_buffer_too_small():
    fab, a, b, ma, mb, qa, qb = pair()
    qb.post_recv(7, r.SGE(0, 16, mb.lkey))
    qa.post_send(r.SendWR(1, "SEND", r.SGE(0, 64, ma.lkey)))
    fab.run()
    assert qa.send_cq.poll()[0].status == "REM_INV_REQ_ERR"
    assert qb.recv_cq.poll()[0].status == "LOC_LEN_ERR"



def test_poll_takes_16_completions_by_default_and_names_the_qp():
    # 20 signalled WRITEs: poll() returns at most 16 (its documented default), in posting order;
    # each completion names its QP, numbered from 2 (InfiniBand reserves QP0 and QP1 for subnet
    # management and general services)
    fab, a, b, ma, mb, qa, qb = pair()
    assert (qa.num, qb.num) == (2, 3)
    for i in range(20):
        qa.post_send(r.SendWR(i, "RDMA_WRITE", r.SGE(0, 8, ma.lkey), remote_addr=0, rkey=mb.rkey))
    fab.run()
    first, rest = qa.send_cq.poll(), qa.send_cq.poll()
    assert [w.wr_id for w in first] == list(range(16)) and [w.wr_id for w in rest] == [16, 17,
                                                                                       18, 19]
    assert {w.qp_num for w in first + rest} == {2}

# ---- ordering ------------------------------------------------------------------------------------
def test_completions_in_posting_order_even_when_a_later_wr_finishes_first():
    fab, a, b, ma, mb, qa, qb = pair()
    qa.post_send(r.SendWR(1, "RDMA_READ", r.SGE(0, 16384, ma.lkey), remote_addr=0, rkey=mb.rkey))
    qa.post_send(r.SendWR(2, "RDMA_WRITE", r.SGE(20000, 8, ma.lkey), remote_addr=20000,
                          rkey=mb.rkey))
    landed = []

    def watch():                       # when does the small WRITE's data reach b?
        while b.memory[20000] == 0 and fab.now < 1e-3:
            yield fab.env.timeout(1e-8)
        landed.append(fab.now)

    a.memory[20000:20008] = 1
    fab.env.process(watch())
    fab.run()
    wcs = qa.send_cq.poll()
    assert [w.wr_id for w in wcs] == [1, 2]
    assert landed[0] < wcs[0].time_s         # the WRITE was done long before the READ completed
    assert wcs[0].time_s <= wcs[1].time_s


@pytest.mark.parametrize("fence, expect_new", [(False, False), (True, True)])
def test_write_after_read_needs_a_fence(fence, expect_new):
    fab, a, b, ma, mb, qa, qb = pair()
    b.memory[0:8] = 5                  # READ b[0:8] -> a[0:8], then WRITE a[0:8] -> b[100:108]
    qa.post_send(r.SendWR(1, "RDMA_READ", r.SGE(0, 8, ma.lkey), remote_addr=0, rkey=mb.rkey))
    qa.post_send(r.SendWR(2, "RDMA_WRITE", r.SGE(0, 8, ma.lkey), remote_addr=100, rkey=mb.rkey,
                          fence=fence))
    fab.run()
    assert [w.status for w in qa.send_cq.poll()] == ["SUCCESS", "SUCCESS"]
    assert bool((b.memory[100:108] == 5).all()) is expect_new


def last_byte_poll(jitter, seed):
    """Bytes of a 7-packet WRITE already placed when the target first sees the last byte set."""
    fab = r.Fabric(adaptive_routing_jitter_s=jitter, seed=seed)
    a, b = fab.add_node("a"), fab.add_node("b")
    pa, pb = a.alloc_pd(), b.alloc_pd()
    ma, mb = a.reg_mr(pa, 0, 1 << 15, A.LOCAL_WRITE), b.reg_mr(pb, 0, 1 << 15, ALL_REMOTE)
    qa, qb = a.create_qp(pa), b.create_qp(pb)
    for q, o in ((qa, qb), (qb, qa)):
        q.modify("INIT")
        q.modify("RTR", o)
        q.modify("RTS")
    n = 7 * 4096
    a.memory[:n] = 1
    seen = []

    def poll_last_byte():
        while b.memory[n - 1] == 0 and fab.now < 1e-3:
            yield fab.env.timeout(1e-9)
        seen.append(int((b.memory[:n] == 1).sum()))

    fab.env.process(poll_last_byte())
    qa.post_send(r.SendWR(1, "RDMA_WRITE", r.SGE(0, n, ma.lkey), remote_addr=0, rkey=mb.rkey))
    fab.run()
    assert (b.memory[:n] == 1).all() and qa.send_cq.poll()[0].status == "SUCCESS"
    return seen[0], n


def test_last_byte_is_not_a_completion_flag_under_adaptive_routing():
    # in order (one route), the last byte does come last; with packets spread over routes it
    # often arrives while earlier packets are still in flight
    placed, n = last_byte_poll(0.0, 0)
    assert placed == n
    early = [last_byte_poll(5e-6, seed)[0] < n for seed in range(8)]
    assert any(early)


# ---- state machine and bad input -----------------------------------------------------------------
def test_qp_state_machine():
    fab = r.Fabric()
    a = fab.add_node("a")
    pd = a.alloc_pd()
    q = a.create_qp(pd)
    mr = a.reg_mr(pd, 0, 64, A.LOCAL_WRITE)
    with pytest.raises(ValueError, match="state: cannot go from RESET to RTS"):
        q.modify("RTS")
    with pytest.raises(ValueError, match="post_recv needs"):
        q.post_recv(1, r.SGE(0, 8, mr.lkey))
    q.modify("INIT")
    q.post_recv(1, r.SGE(0, 8, mr.lkey))          # allowed from INIT
    with pytest.raises(ValueError, match="post_send needs the QP in RTS"):
        q.post_send(r.SendWR(1, "SEND", r.SGE(0, 8, mr.lkey)))
    with pytest.raises(ValueError, match="remote"):
        q.modify("RTR")
    q.modify("RESET")
    assert q.state == "RESET"


@pytest.mark.parametrize("call, match", [
    (lambda n, pd, q, mr: n.reg_mr(pd, 0, 64, A.REMOTE_WRITE),
     "REMOTE_WRITE and REMOTE_ATOMIC require LOCAL_WRITE"),
    (lambda n, pd, q, mr: n.reg_mr(pd, 0, 64, A.REMOTE_ATOMIC | A.REMOTE_READ),
     "require LOCAL_WRITE"),
    (lambda n, pd, q, mr: n.reg_mr(pd, 0, -1, A.LOCAL_WRITE), "length"),
    (lambda n, pd, q, mr: n.reg_mr(pd, 0, 1 << 20, A.LOCAL_WRITE), "length"),
    (lambda n, pd, q, mr: n.reg_mr(pd, 0, 64, 99), "access"),
    (lambda n, pd, q, mr: n.reg_mr(12345, 0, 64, A.LOCAL_WRITE), "pd"),
    (lambda n, pd, q, mr: q.post_send(r.SendWR(1, "RDMA_TELEPORT", r.SGE(0, 8, mr.lkey))),
     "opcode"),
    (lambda n, pd, q, mr: q.post_send(r.SendWR(1, "RDMA_WRITE", r.SGE(0, -8, mr.lkey))),
     "sge.length"),
    (lambda n, pd, q, mr: q.post_send(r.SendWR(1, "ATOMIC_FETCH_ADD", r.SGE(0, 16, mr.lkey))),
     "sge"),
    (lambda n, pd, q, mr: q.post_send(r.SendWR(1, "SEND_WITH_IMM", r.SGE(0, 8, mr.lkey))),
     "imm"),
    (lambda n, pd, q, mr: n.create_qp(pd, "XRC"), "transport"),
    (lambda n, pd, q, mr: q.modify("READY"), "state"),
    (lambda n, pd, q, mr: r.HostParams(wire_GBps=0), "wire_GBps"),
    (lambda n, pd, q, mr: r.HostParams(offloads="yes"), "offloads"),
    (lambda n, pd, q, mr: r.HostParams(transport="Myrinet"), "transport"),
    (lambda n, pd, q, mr: r.Stage("s", batch_packets=0), "batch_packets"),
    (lambda n, pd, q, mr: r.message_time(r.rdma_write_path(), -1), "msg_bytes"),
    (lambda n, pd, q, mr: r.wire_efficiency("Myrinet", 64), "transport"),
    (lambda n, pd, q, mr: r.Fabric(adaptive_routing_jitter_s=-1), "adaptive_routing_jitter_s"),
])
def test_bad_input(call, match):
    fab, a, b, ma, mb, qa, qb = pair()
    with pytest.raises((ValueError, TypeError), match=match):
        call(a, qa.pd, qa, ma)


# ---- networks ------------------------------------------------------------------------------------
def test_header_sizes_from_the_specifications():
    # IB: LRH 8 + BTH 12 + ICRC 4 + VCRC 2 = 26; RoCE v2 over IPv4: 14+4 Ethernet, 20 IP, 8 UDP,
    # 12 BTH, 4 ICRC = 62 bytes of frame plus 20 of preamble and inter-frame gap
    assert r.header_bytes("InfiniBand") == 26
    assert r.header_bytes("RoCE v2") == 62 + 20
    assert r.wire_efficiency("InfiniBand", 4096) == pytest.approx(4096 / 4122)
    assert r.wire_efficiency("RoCE v2", 8192) == pytest.approx(8192 / (8192 + 2 * 82))


def test_gpudirect_path_vs_staging_on_dgx1():
    topo = r.dgx1_with_nics()
    near = r.gpu_nic_path(topo, 0, 0)
    assert near["nodes"] == [["GPU0", "PCIe0", "NIC0"]]       # same PCIe switch: two links
    far = r.gpu_nic_path(topo, 0, 3)
    assert "CPU0" in far["nodes"][0] and "CPU1" in far["nodes"][0]   # crosses QPI
    staged = r.gpu_nic_path(topo, 0, 0, staged=True)
    assert staged["hops"] > near["hops"]
    assert ("PCIe0", "CPU0") in staged["crossings"] and ("CPU0", "PCIe0") in staged["crossings"]


def test_connected_pair_and_lookup_model():
    p = r.connected_pair("UC")
    p.post(1, "RDMA_WRITE", length=16, remote_addr=64)
    p.post(2, "RDMA_READ")
    assert [w.status for w in p.run()] == ["SUCCESS", "LOC_QP_OP_ERR"]
    hp = r.HostParams()
    # one-sided: reads x (empty request + response), each on the RDMA path

    def T(n):
        return r.message_time(r.rdma_write_path(hp), n)

    assert r.lookup_time_s("one-sided", hp, 64, 3) == pytest.approx(3 * (T(0) + T(64)))
    assert r.lookup_time_s("rpc-rdma", hp, 64, server_s=1e-6) == pytest.approx(T(16) + 1e-6 + T(64))
    with pytest.raises(ValueError, match="design"):
        r.lookup_time_s("telepathy")


def test_read_then_write_demo():
    assert r.read_then_write(False) == 0 and r.read_then_write(True) == 5
    with pytest.raises(TypeError, match="fence"):
        r.read_then_write("yes")


def test_public_api_and_shared_default_host():
    # __all__ lists the re-exports, sorted, and each one resolves
    assert r.__all__ == sorted(r.__all__)
    assert all(hasattr(r, name) for name in r.__all__)
    assert {"Fabric", "HostParams", "connected_pair", "lookup_time_s"} <= set(r.__all__)
    # one shared default is safe only because it cannot be changed in place
    assert r.DEFAULT_HOST == r.HostParams()
    with pytest.raises(AttributeError):
        r.DEFAULT_HOST.mtu_bytes = 1024
    # leaving hp/params out is the same as passing a fresh HostParams()
    fresh = r.HostParams()
    assert r.message_time(r.rdma_write_path(), 10_000) == \
        r.message_time(r.rdma_write_path(fresh), 10_000)
    assert r.lookup_time_s("rpc-tcp") == r.lookup_time_s("rpc-tcp", fresh)
    assert r.Fabric().params == fresh and r.connected_pair().fabric.params == fresh


@pytest.mark.parametrize("opcode", ["ATOMIC_FETCH_ADD", "ATOMIC_CMP_SWAP"])
@pytest.mark.parametrize("fence, expect_old", [(False, 0), (True, 5)])
def test_write_after_an_atomic_needs_a_fence_too(opcode, fence, expect_old):
    """The IB spec's fence waits for every prior READ *and atomic*: the atomic's old value (5)
    lands in a[0:8] only when its response returns, so an unfenced WRITE of a[0:8] sends 0."""
    fab, a, b, ma, mb, qa, qb = pair()
    b.write_u64(0, 5)                  # atomic on b[0:8] (old value -> a[0:8]), then WRITE a -> b
    qa.post_send(r.SendWR(1, opcode, r.SGE(0, 8, ma.lkey), remote_addr=0, rkey=mb.rkey,
                          compare_add=5 if opcode == "ATOMIC_CMP_SWAP" else 1, swap=9))
    qa.post_send(r.SendWR(2, "RDMA_WRITE", r.SGE(0, 8, ma.lkey), remote_addr=104, rkey=mb.rkey,
                          fence=fence))
    fab.run()
    assert [w.status for w in qa.send_cq.poll()] == ["SUCCESS", "SUCCESS"]
    assert a.read_u64(0) == 5                                       # the old value came back
    assert b.read_u64(0) == (6 if opcode == "ATOMIC_FETCH_ADD" else 9)
    assert b.read_u64(104) == expect_old


@pytest.mark.parametrize("transport, msg, mtu, expect", [
    # packets = ceil(msg / MTU), each with the transport's header bytes (IB 26, RoCE v2 82 with
    # preamble and gap, iWARP 110: 20 + 18 + 20 + 32 + 6 + 14)
    ("InfiniBand", 100, None, 100 / 126),                # a short message is still one packet
    ("InfiniBand", 4097, None, 4097 / (4097 + 2 * 26)),  # one byte over the MTU: two packets
    ("InfiniBand", 2500, 1000, 2500 / (2500 + 3 * 26)),
    ("RoCE v2", 10_000, None, 10_000 / (10_000 + 3 * 82)),
    ("iWARP", 8928, None, 8928 / (8928 + 110)),          # 9000 - 20 - 32 - 6 - 14 per segment
    ("iWARP", 9000, None, 9000 / (9000 + 2 * 110)),
])
def test_wire_efficiency_counts_a_partial_packet(transport, msg, mtu, expect):
    assert r.wire_efficiency(transport, msg, mtu) == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("gpu, nic, legs", [
    # the staging buffer is in the DRAM of the *adapter's* socket (NIC0, NIC1 on CPU0; NIC2,
    # NIC3 on CPU1, DGX-1 whitepaper figure 4), so a copy to the far socket's NIC crosses QPI
    # on its way into that DRAM, and the adapter reads it locally
    (0, 3, [["GPU0", "PCIe0", "CPU0", "CPU1", "DRAM1"], ["DRAM1", "CPU1", "PCIe3", "NIC3"]]),
    (6, 0, [["GPU6", "PCIe3", "CPU1", "CPU0", "DRAM0"], ["DRAM0", "CPU0", "PCIe0", "NIC0"]]),
    (0, 1, [["GPU0", "PCIe0", "CPU0", "DRAM0"], ["DRAM0", "CPU0", "PCIe1", "NIC1"]]),
])
def test_staging_buffer_is_next_to_the_adapter(gpu, nic, legs):
    path = r.gpu_nic_path(r.dgx1_with_nics(), gpu, nic, staged=True)
    assert path["nodes"] == legs
    assert path["hops"] == sum(len(leg) - 1 for leg in legs)
    assert path["bottleneck_GBps"] == pytest.approx(15.7538)   # PCIe 3.0 x16, once each way
