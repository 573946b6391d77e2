"""The incast of :mod:`aichip.rdma.congestion`, time-stepped in a numba kernel.

Time advances in slots of one packet time at line rate (``mtu_bytes * 8 / link_Gbps`` ns); in a
slot every host link may start one packet, every switch egress sends one, and every delay is a whole
number of slots (``delay_s`` rounded). Within a slot the switch takes arrivals from the ports in a
random order (the event model's jitter). The network, PFC, RED marking and DCQCN are the event
model's, with the same parameters (:class:`~aichip.rdma.congestion.DCQCNParams`), written again
over arrays; the tests check the two against each other on small cases. A run of 256 senders for
40 ms takes well under a second compiled, so the explorer's grid and hundreds of senders use this.
The random draws (the arrival order and the RED marks) come from a seeded
``numpy.random.Generator`` outside the kernel, passed in chunks of slots.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .congestion import DCQCNParams, IncastResult, check_incast_args, pfc_thresholds

__all__ = ["incast", "incast_kernel"]

# columns of the per-flow state array
RC, RT, ALPHA, T, BC, BYTES, NEXT_A, NEXT_R, LAST_CNP, CNP_AT, NEXT_OK, START = range(12)
# columns of the parameter vector
(P_LINE, P_G, P_KMIN, P_KMAX, P_PMAX, P_CNP, P_KA, P_KR, P_B, P_F, P_AI, P_HAI, P_MIN, P_MTU,
 P_SER, P_BUF, P_XOFF, P_XON, P_VICTIM, P_DUR) = range(20)


@numba.njit(cache=True)
def _increase(st, f, prm):
    """Rate increase after a timer or byte-counter expiry (counts already advanced)."""
    fsteps = prm[P_F]
    if st[f, T] >= fsteps and st[f, BC] >= fsteps:
        st[f, RT] += prm[P_HAI]
    elif st[f, T] >= fsteps or st[f, BC] >= fsteps:
        st[f, RT] += prm[P_AI]
    st[f, RT] = min(st[f, RT], prm[P_LINE])
    st[f, RC] = min((st[f, RT] + st[f, RC]) / 2, prm[P_LINE])


@numba.njit(cache=True)
def _reaction_point(st, f, t, dcqcn, prm):
    """CNP arrival, alpha timer and rate timer of flow ``f`` at time ``t``."""
    if not dcqcn or t < st[f, START]:
        return
    if st[f, CNP_AT] >= 0 and st[f, CNP_AT] <= t + 1e-15:
        st[f, CNP_AT] = -1.0
        st[f, RT] = st[f, RC]
        st[f, RC] = max(prm[P_MIN], st[f, RC] * (1 - st[f, ALPHA] / 2))
        st[f, ALPHA] = (1 - prm[P_G]) * st[f, ALPHA] + prm[P_G]
        st[f, T] = 0.0
        st[f, BC] = 0.0
        st[f, BYTES] = 0.0
        st[f, NEXT_A] = t + prm[P_KA]
        st[f, NEXT_R] = t + prm[P_KR]
    while st[f, NEXT_A] <= t + 1e-15:
        st[f, ALPHA] *= 1 - prm[P_G]
        st[f, NEXT_A] += prm[P_KA]
    while st[f, NEXT_R] <= t + 1e-15:
        st[f, T] += 1
        _increase(st, f, prm)
        st[f, NEXT_R] += prm[P_KR]


@numba.njit(cache=True)
def _switch_arrival(port, f, n, q, qhead, qlen, cnt, ingress, sig, s_sig, pfc, dcqcn, prm, u):
    """One packet from ``port`` reaching the switch: drop, or queue (with a RED mark, drawn
    with the uniform ``u``) and maybe send PAUSE. ``cnt``: drops, pauses, dropped bytes, victim
    queue length, queue bytes. ``sig`` (n, 4) per port: host paused, switch has paused it,
    pending frame (1 PAUSE, 2 resume) and the slot it reaches the host."""
    mtu = prm[P_MTU]
    if f == n:                                   # the victim's egress is never congested
        cnt[3] += 1
        ingress[port] += mtu
    else:
        if not pfc and cnt[4] + mtu > prm[P_BUF]:
            cnt[0] += 1
            cnt[2] += mtu
            return qlen
        qb = cnt[4]
        p = 0.0 if qb <= prm[P_KMIN] else (1.0 if qb > prm[P_KMAX] else
                                            prm[P_PMAX] * (qb - prm[P_KMIN])
                                            / (prm[P_KMAX] - prm[P_KMIN]))
        mark = dcqcn and u < p
        slot = (qhead + qlen) % q.shape[0]
        q[slot, 0] = port
        q[slot, 1] = f
        q[slot, 2] = 1 if mark else 0
        qlen += 1
        cnt[4] += mtu
        ingress[port] += mtu
    if pfc and sig[port, 1] == 0 and ingress[port] > prm[P_XOFF]:
        sig[port, 1] = 1                         # switch side: PAUSE sent
        cnt[1] += 1
        sig[port, 2] = 1                         # pending value: pause
        sig[port, 3] = s_sig                     # slot at which it reaches the host
    return qlen


@numba.njit(cache=True)
def _resume_check(port, s_sig, ingress, sig, pfc, prm):
    if pfc and sig[port, 1] == 1 and ingress[port] <= prm[P_XON]:
        sig[port, 1] = 0
        sig[port, 2] = 2                         # pending value: resume
        sig[port, 3] = s_sig


@numba.njit(cache=True)
def _hosts(s, t, n, st, sig, line, D, victim, dcqcn, prm, sent):
    """Every unpaused host link starts one packet of a ready flow; returns the bytes sent by
    incast flows. ``line[(s + 1 + D) % L, port]`` gets the flow id."""
    L = line.shape[0]
    out = 0
    for port in range(n):
        if sig[port, 0] == 1:                    # host side: paused
            continue
        f = -1
        if victim and port == 0 and st[n, NEXT_OK] <= t + 1e-15:
            f = n
            if st[0, NEXT_OK] <= t + 1e-15 and s % 2 == 0:
                f = 0                            # both ready: take turns
        elif st[port, NEXT_OK] <= t + 1e-15 and t >= st[port, START]:
            f = port
        if f < 0:
            continue
        rate = prm[P_VICTIM] if f == n else (st[f, RC] if dcqcn else prm[P_LINE])
        st[f, NEXT_OK] = t + prm[P_MTU] * 8 / (rate * 1e9)
        line[(s + 1 + D) % L, port] = f
        if f < n:
            out += prm[P_MTU]
            sent[f] += prm[P_MTU]
            if dcqcn:
                st[f, BYTES] += prm[P_MTU]
                if st[f, BYTES] >= prm[P_B]:
                    st[f, BYTES] -= prm[P_B]
                    st[f, BC] += 1
                    _increase(st, f, prm)
    return out


@numba.njit(cache=True)
def _egress(s, n, q, qhead, qlen, cnt, ingress, sig, s_sig, dl, D, pfc, prm):
    """Both egress ports send one packet each; returns the new head and length of the queue."""
    L = dl.shape[0]
    at = (s + 1 + D) % L
    if qlen > 0:
        port, f, mark = q[qhead, 0], q[qhead, 1], q[qhead, 2]
        qhead = (qhead + 1) % q.shape[0]
        qlen -= 1
        cnt[4] -= prm[P_MTU]
        ingress[port] -= prm[P_MTU]
        _resume_check(port, s_sig, ingress, sig, pfc, prm)
        dl[at, 0] = f
        dl[at, 1] = mark
    if cnt[3] > 0:                               # the victim's port (ingress 0)
        cnt[3] -= 1
        ingress[0] -= prm[P_MTU]
        _resume_check(0, s_sig, ingress, sig, pfc, prm)
        dl[at, 2] = n
    return qhead, qlen


@numba.njit(cache=True)
def _deliver(s, t, n, st, dl, D, half, dcqcn, prm):
    """Packets reaching the receivers in slot ``s``; a marked one may trigger a CNP. Returns the
    incast bytes delivered."""
    i = s % dl.shape[0]
    out = 0
    f = dl[i, 0]
    if f >= 0:
        out += prm[P_MTU]
        if t >= prm[P_DUR] / 2:
            half[f] += prm[P_MTU]
        if dcqcn and dl[i, 1] == 1 and t - st[f, LAST_CNP] >= prm[P_CNP] - 1e-15:
            st[f, LAST_CNP] = t
            st[f, CNP_AT] = t + 2 * D * prm[P_SER]
    if dl[i, 2] >= 0 and t >= prm[P_DUR] / 2:
        half[n] += prm[P_MTU]
    dl[i, 0] = -1
    dl[i, 1] = 0
    dl[i, 2] = -1
    return out


@numba.njit(cache=True)
def _shuffle(order, u):
    """Shuffle ``order`` in place (Fisher-Yates) with the uniforms ``u`` in [0, 1), one per
    position (``u[0]`` unused)."""
    for i in range(order.shape[0] - 1, 0, -1):
        j = min(int(u[i] * (i + 1)), i)
        order[i], order[j] = order[j], order[i]


@numba.njit(cache=True)
def incast_kernel(s0, n, D, pfc, dcqcn, victim, prm, every, draws, st, line, dl, q, qpos, sig,
                  ingress, cnt, half, sent, totals, qs, rs, order):
    """Advance the time-stepped incast by ``draws.shape[0]`` slots from slot ``s0`` (see the
    module docstring), updating the state arrays in place.

    ``draws`` (slots, 2 n) uniforms in [0, 1), drawn by the caller from a seeded
    ``numpy.random.Generator``: per slot, the first n shuffle the order in which the switch
    takes the ports' arrivals, the next n decide each port's RED mark. ``qpos`` (2,) is the
    queue's head and length. The state (``st`` (n+1, 12) per flow, ``line``, ``dl``, ``q``,
    ``sig``, ``ingress``, ``cnt``) is allocated by :func:`incast`; the results accumulate in
    ``half`` (n+1,) bytes delivered in the second half, ``sent`` (n,), ``totals`` (4,) sent,
    delivered, dropped, in-network bytes, and the samples ``qs`` (m,) queue bytes and ``rs``
    (n, m) rates in Gb/s, one every ``every`` slots."""
    L = D + 2
    qhead, qlen = qpos[0], qpos[1]
    qcap = q.shape[0]
    for k in range(draws.shape[0]):
        s = s0 + k
        t = s * prm[P_SER]
        for port in range(n):                    # PAUSE / resume frames reaching the hosts
            if sig[port, 2] != 0 and sig[port, 3] <= s:
                sig[port, 0] = 1 if sig[port, 2] == 1 else 0
                sig[port, 2] = 0
        for f in range(n):
            _reaction_point(st, f, t, dcqcn, prm)
        totals[1] += _deliver(s, t, n, st, dl, D, half, dcqcn, prm)
        _shuffle(order, draws[k, :n])
        i = s % L
        for port in order:
            f = line[i, port]
            if f >= 0:
                line[i, port] = -1
                if qlen >= qcap:
                    raise ValueError("queue capacity exceeded")
                qlen = _switch_arrival(port, f, n, q, qhead, qlen, cnt, ingress, sig, s + D,
                                       pfc, dcqcn, prm, draws[k, n + port])
        qhead, qlen = _egress(s, n, q, qhead, qlen, cnt, ingress, sig, s + D, dl, D, pfc, prm)
        totals[0] += _hosts(s, t, n, st, sig, line, D, victim, dcqcn, prm, sent)
        if s % every == 0:
            qs[s // every] = cnt[4]
            for f in range(n):
                rs[f, s // every] = st[f, RC] if dcqcn else prm[P_LINE]
    qpos[0], qpos[1] = qhead, qlen


#: slots per call of :func:`incast_kernel` (its random draws, 2 n per slot, come in chunks)
CHUNK_SLOTS = 2048


def _run(n, slots, D, pfc, dcqcn, victim, prm, start, qcap, every, seed):
    """Allocate the kernel's state, run it over ``slots`` slots in chunks with draws from
    ``numpy.random.default_rng(seed)``, and return ``(half, totals, counts, qs, rs)`` (see
    :func:`incast_kernel`; ``counts``: drops and pause frames)."""
    st = np.zeros((n + 1, 12))
    st[:, RC] = prm[P_LINE]
    st[:, RT] = prm[P_LINE]
    st[:, ALPHA] = 1.0
    st[:, LAST_CNP] = -1.0
    st[:, CNP_AT] = -1.0
    st[:n, START] = start
    st[:n, NEXT_OK] = start
    st[:n, NEXT_A] = start + prm[P_KA]
    st[:n, NEXT_R] = start + prm[P_KR]
    L = D + 2
    line = np.full((L, n), -1, np.int64)
    dl = np.full((L, 3), -1, np.int64)
    dl[:, 1] = 0
    q = np.zeros((qcap, 3), np.int64)
    qpos = np.zeros(2, np.int64)
    sig = np.zeros((n, 4), np.int64)
    ingress, cnt, half = np.zeros(n), np.zeros(5), np.zeros(n + 1)
    sent, totals = np.zeros(n), np.zeros(4)
    m = slots // every + 1
    qs, rs = np.zeros(m), np.zeros((n, m))
    order = np.arange(n)
    rng = np.random.default_rng(seed)
    for s0 in range(0, slots, CHUNK_SLOTS):
        draws = rng.random((min(CHUNK_SLOTS, slots - s0), 2 * n))
        incast_kernel(s0, n, D, pfc, dcqcn, victim, prm, every, draws, st, line, dl, q, qpos,
                      sig, ingress, cnt, half, sent, totals, qs, rs, order)
    totals[2] = cnt[2]
    wire = prm[P_MTU] * (np.count_nonzero((line >= 0) & (line < n))
                         + np.count_nonzero(dl[:, 0] >= 0))
    totals[3] = cnt[4] + wire
    return half, totals, np.array([cnt[0], cnt[1]]), qs, rs


def incast(n_senders: int, cc: str = "dcqcn", pfc: bool = True, *, link_Gbps: float = 40.0,
           buffer_bytes: int = 1_000_000, mtu_bytes: int = 4096, duration_s: float = 0.01,
           delay_s: float = 1e-6, stagger_s: float = 0.0, victim_Gbps: float = 0.0,
           params: DCQCNParams | None = None, seed: int = 0) -> IncastResult:
    """N-to-1 incast on one switch with PFC, ECN and DCQCN, time-stepped in numba.

    The arguments and the record are those of :func:`aichip.rdma.congestion.incast_des` (the
    event model, the reference for small cases): ``per_flow_GBps`` (one per sender, over the
    run's second half), ``drops``, ``retransmissions``, ``pause_frames``, ``queue_bytes`` (the
    congested switch queue over time, at ``queue_t_s``) and ``rate_Gbps`` (each sender's rate at
    the same times). Delays are rounded to whole packet times (``mtu_bytes * 8 / link_Gbps``).
    """
    a = check_incast_args(n_senders, cc, pfc, link_Gbps, buffer_bytes, mtu_bytes, duration_s,
                          delay_s, stagger_s, victim_Gbps, params or DCQCNParams())
    seed = int(np.int64(seed)) if isinstance(seed, (int, np.integer)) and seed >= 0 else None
    if seed is None:
        raise ValueError("seed must be a non-negative integer")
    n, p, mtu = a["n_senders"], a["params"], a["mtu_bytes"]
    ser = mtu * 8 / (a["link_Gbps"] * 1e9)
    slots = max(2, int(round(a["duration_s"] / ser)))
    D = int(round(a["delay_s"] / ser))
    xoff, xon = (pfc_thresholds(n, a["buffer_bytes"], mtu, a["link_Gbps"], a["delay_s"])
                 if a["pfc"] else (math.inf, math.inf))
    prm = np.array([a["link_Gbps"], p.g, p.kmin_bytes, p.kmax_bytes, p.pmax, p.cnp_interval_s,
                    p.alpha_timer_s, p.rate_timer_s, p.byte_counter_bytes, p.fast_recovery_steps,
                    p.rai_Gbps, p.rhai_Gbps, p.min_rate_Gbps, mtu, ser, a["buffer_bytes"], xoff,
                    xon, max(a["victim_Gbps"], 1e-9), a["duration_s"]], dtype=np.float64)
    start = np.arange(n) * a["stagger_s"]
    qcap = a["buffer_bytes"] // mtu + 4 * n * (D + 2) + 16
    every = max(1, slots // 500)
    half, tot, counts, qs, rs = _run(n, slots, D, a["pfc"], a["cc"] == "dcqcn",
                                     a["victim_Gbps"] > 0, prm, start, qcap, every, seed)
    span = slots * ser / 2
    return IncastResult(
        per_flow_GBps=half[:n] / span / 1e9,
        victim_GBps=half[n] / span / 1e9 if a["victim_Gbps"] > 0 else math.nan,
        drops=int(counts[0]), retransmissions=int(counts[0]), pause_frames=int(counts[1]),
        queue_t_s=np.arange(len(qs)) * every * ser, queue_bytes=qs, rate_Gbps=rs,
        sent_bytes=int(tot[0]), delivered_bytes=int(tot[1]), dropped_bytes=int(tot[2]),
        in_network_bytes=int(tot[3]), params={k: v for k, v in a.items() if k != "params"})
