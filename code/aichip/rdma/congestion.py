"""Incast on a lossless Ethernet switch: PFC, ECN marking and DCQCN, as a discrete-event model.

The network is one switch. ``n`` senders, each on its own host link, send long flows to one
receiver, so the switch's port towards that receiver (the *congested egress*) gets ``n`` times the
traffic it can send: **incast**. Optionally a **victim** flow shares sender 0's host link but goes
to another receiver through an idle egress port; it never crosses the congested port, yet PFC can
stall it. Every link runs at ``link_Gbps``; every hop (host to switch, switch to receiver, and the
way back for pause frames and congestion notifications) adds ``delay_s``. Packets are all
``mtu_bytes`` long.

- **No flow control** (``pfc=False``): the congested egress queue holds at most ``buffer_bytes``;
  a packet that does not fit is dropped, and its sender sends it again (counted in
  ``retransmissions``; the model retransmits the lost packet only, as a selective-repeat transport
  would). Arrivals from different ports get up to a tenth of a packet time of random jitter,
  so that no port wins every tie.
- **PFC** (IEEE 802.1Qbb, ``pfc=True``): the switch counts the bytes each ingress port has queued;
  above ``xoff`` it sends that port's upstream a PAUSE frame (one per pause), below ``xon`` it
  resumes it. The upstream stops between packets once the frame arrives. The thresholds leave
  headroom for what is already on the wire, so nothing is dropped.
- **ECN and DCQCN** (``cc="dcqcn"``; Zhu et al., SIGCOMM 2015): the switch marks packets on
  enqueue with RED's probability (0 below ``kmin_bytes`` of queue, rising linearly to ``pmax`` at
  ``kmax_bytes``, 1 above); the receiver (the *notification point*) answers a marked packet with a
  congestion notification packet (CNP), at most one per flow every ``cnp_interval_s``; the sender
  (the *reaction point*, :class:`ReactionPoint`) cuts its rate on a CNP and raises it again on
  timers and byte counts.

The model is SimPy processes: one per host link, one per switch egress, one per timer. It is the
reference for small cases; :mod:`aichip.rdma.congestion_kernel` runs the same network time-stepped
in numba for the explorer's grid and for hundreds of senders, and the tests compare the two.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import simpy

from ..validation import check_choice, check_float, check_int

__all__ = ["CC_MODES", "DCQCNParams", "IncastResult", "ReactionPoint", "check_incast_args",
           "ecn_probability", "incast_des", "jain_index", "pfc_thresholds"]

#: congestion control at the senders: none (line rate always) or DCQCN
CC_MODES = ("none", "dcqcn")


@dataclass(frozen=True)
class DCQCNParams:
    """DCQCN's parameters (rates in Gb/s, times in s, sizes in bytes).

    Defaults are the values Zhu et al. (SIGCOMM 2015) give for their 40 Gb/s deployment: RED
    marking from ``kmin`` = 5 KB to ``kmax`` = 200 KB with ``pmax`` = 1%, ``g`` = 1/256, a CNP at
    most every 50 µs per flow, alpha and rate-increase timers of 55 µs, a byte counter of 10 MB,
    ``F`` = 5 steps of fast recovery and additive increase ``R_AI`` = 40 Mb/s. The hyper-increase
    step ``rhai_Gbps`` is 10 times ``R_AI`` (model choice), and ``min_rate_Gbps`` is a floor so a
    rate never reaches zero (model choice)."""

    kmin_bytes: int = 5_000
    kmax_bytes: int = 200_000
    pmax: float = 0.01
    g: float = 1 / 256
    cnp_interval_s: float = 50e-6
    alpha_timer_s: float = 55e-6
    rate_timer_s: float = 55e-6
    byte_counter_bytes: int = 10_000_000
    fast_recovery_steps: int = 5
    rai_Gbps: float = 0.04
    rhai_Gbps: float = 0.4
    min_rate_Gbps: float = 0.01

    def __post_init__(self):
        check_int("kmin_bytes", self.kmin_bytes, minimum=0)
        check_int("kmax_bytes", self.kmax_bytes, minimum=self.kmin_bytes + 1)
        check_float("pmax", self.pmax, minimum=0.0, maximum=1.0)
        check_float("g", self.g, minimum=0.0, maximum=1.0, strict_minimum=True)
        for name in ("cnp_interval_s", "alpha_timer_s", "rate_timer_s", "rai_Gbps", "rhai_Gbps",
                     "min_rate_Gbps"):
            check_float(name, getattr(self, name), minimum=0.0, strict_minimum=True)
        check_int("byte_counter_bytes", self.byte_counter_bytes, minimum=1)
        check_int("fast_recovery_steps", self.fast_recovery_steps, minimum=1)


def ecn_probability(queue_bytes: float, p: DCQCNParams) -> float:
    """RED marking probability for a packet enqueued behind ``queue_bytes`` (0 to 1)."""
    if queue_bytes <= p.kmin_bytes:
        return 0.0
    if queue_bytes > p.kmax_bytes:
        return 1.0
    return p.pmax * (queue_bytes - p.kmin_bytes) / (p.kmax_bytes - p.kmin_bytes)


@dataclass
class ReactionPoint:
    """DCQCN's sender state for one flow: current rate ``rc`` and target ``rt`` (Gb/s), ``alpha``,
    and the counts of rate-timer expiries ``t`` and byte-counter expiries ``bc`` since the last CNP.

    - CNP: ``rt = rc``, ``rc = rc (1 - alpha/2)``, ``alpha = (1 - g) alpha + g``, counts reset;
    - alpha timer with no CNP: ``alpha = (1 - g) alpha``;
    - increase event (a timer or byte-counter expiry): fast recovery while both counts are below
      ``F`` (``rt`` kept), additive increase ``rt += R_AI`` when one has reached ``F``, hyper
      increase ``rt += R_HAI`` when both have; then ``rc = (rt + rc) / 2``, capped at the line rate.
    """

    line_Gbps: float
    p: DCQCNParams = field(default_factory=DCQCNParams)
    rc: float = math.nan
    rt: float = math.nan
    alpha: float = 1.0
    t: int = 0
    bc: int = 0

    def __post_init__(self):
        if math.isnan(self.rc):
            self.rc = self.line_Gbps
        if math.isnan(self.rt):
            self.rt = self.line_Gbps

    def on_cnp(self) -> None:
        """A congestion notification arrived: cut the rate by ``alpha / 2``."""
        self.rt = self.rc
        self.rc = max(self.p.min_rate_Gbps, self.rc * (1 - self.alpha / 2))
        self.alpha = (1 - self.p.g) * self.alpha + self.p.g
        self.t = self.bc = 0

    def on_alpha_timer(self) -> None:
        """``alpha_timer_s`` passed with no CNP: alpha decays."""
        self.alpha = (1 - self.p.g) * self.alpha

    def on_increase(self, kind: str) -> str:
        """A rate-timer (``kind="timer"``) or byte-counter (``"bytes"``) expiry; returns the
        phase applied: ``"fast recovery"``, ``"additive"`` or ``"hyper"``."""
        check_choice("kind", kind, ("timer", "bytes"))
        if kind == "timer":
            self.t += 1
        else:
            self.bc += 1
        f = self.p.fast_recovery_steps
        if self.t >= f and self.bc >= f:
            phase, self.rt = "hyper", self.rt + self.p.rhai_Gbps
        elif self.t >= f or self.bc >= f:
            phase, self.rt = "additive", self.rt + self.p.rai_Gbps
        else:
            phase = "fast recovery"
        self.rt = min(self.rt, self.line_Gbps)
        self.rc = min((self.rt + self.rc) / 2, self.line_Gbps)
        return phase


def pfc_thresholds(n_ports: int, buffer_bytes: int, mtu_bytes: int, link_Gbps: float,
                   delay_s: float) -> tuple[int, int]:
    """PFC's per-ingress ``(xoff, xon)`` in bytes: the buffer shared equally by ``n_ports``
    ingress ports, each keeping headroom for what arrives after it sends PAUSE (the frame's flight
    and the data on the wire back, ``2 delay_s`` at line rate, plus two packets: one being
    received, one the upstream had started). ``xon`` is two packets below ``xoff``.

    Raises ValueError when the buffer leaves less than one packet above the headroom."""
    headroom = 2 * delay_s * link_Gbps / 8 * 1e9 + 2 * mtu_bytes
    xoff = int(buffer_bytes / n_ports - headroom)
    if xoff < mtu_bytes:
        raise ValueError(f"buffer_bytes={buffer_bytes} is too small for PFC with {n_ports} ingress "
                         f"ports: each needs {headroom + mtu_bytes:.0f} bytes (headroom and one "
                         f"packet)")
    return xoff, max(0, xoff - 2 * mtu_bytes)


def jain_index(x) -> float:
    """Jain's fairness index ``(sum x)^2 / (n sum x^2)``: 1 for equal shares, ``1/n`` for one
    flow taking everything."""
    x = np.asarray(x, dtype=float)
    if x.size == 0 or np.any(x < 0):
        raise ValueError("x must be a non-empty sequence of non-negative numbers")
    s2 = float(np.sum(x * x))
    return 1.0 if s2 == 0 else float(np.sum(x) ** 2 / (x.size * s2))


@dataclass
class IncastResult:
    """What one incast run returns (both models return this record).

    ``per_flow_GBps`` (n,): each sender's goodput (bytes delivered to the receiver, GB/s) over the
    run's second half; ``victim_GBps``: the victim flow's, NaN without one; ``drops`` and
    ``retransmissions``: packets; ``pause_frames``: PAUSE frames the switch sent;
    ``queue_t_s``, ``queue_bytes`` (m,): the congested egress queue sampled over time;
    ``rate_Gbps`` (n, m): each sender's current rate at the same times; ``sent_bytes``,
    ``delivered_bytes``, ``dropped_bytes``, ``in_network_bytes``: totals over the whole run for
    the incast flows (sent counts retransmissions), which must add up:
    ``sent = delivered + dropped + in_network``."""

    per_flow_GBps: np.ndarray
    victim_GBps: float
    drops: int
    retransmissions: int
    pause_frames: int
    queue_t_s: np.ndarray
    queue_bytes: np.ndarray
    rate_Gbps: np.ndarray
    sent_bytes: int
    delivered_bytes: int
    dropped_bytes: int
    in_network_bytes: int
    params: dict


def check_incast_args(n_senders, cc, pfc, link_Gbps, buffer_bytes, mtu_bytes, duration_s,
                      delay_s, stagger_s, victim_Gbps, params) -> dict:
    """Validate the arguments shared by both incast models; returns them as a dict."""
    n = check_int("n_senders", n_senders, minimum=1, maximum=4096)
    cc = check_choice("cc", cc, CC_MODES)
    if not isinstance(pfc, bool):
        raise TypeError(f"pfc must be True or False, got {pfc!r}")
    link = check_float("link_Gbps", link_Gbps, minimum=0.0, strict_minimum=True)
    mtu = check_int("mtu_bytes", mtu_bytes, minimum=64, maximum=65536)
    buf = check_int("buffer_bytes", buffer_bytes, minimum=mtu)
    dur = check_float("duration_s", duration_s, minimum=0.0, maximum=1.0, strict_minimum=True)
    delay = check_float("delay_s", delay_s, minimum=0.0, maximum=1e-3)
    stagger = check_float("stagger_s", stagger_s, minimum=0.0, maximum=dur / 2)
    victim = check_float("victim_Gbps", victim_Gbps, minimum=0.0, maximum=link)
    if not isinstance(params, DCQCNParams):
        raise TypeError(f"params must be an aichip.rdma.DCQCNParams, got {type(params).__name__}")
    return dict(n_senders=n, cc=cc, pfc=pfc, link_Gbps=link, buffer_bytes=buf, mtu_bytes=mtu,
                duration_s=dur, delay_s=delay, stagger_s=stagger, victim_Gbps=victim,
                params=params)


class _Incast:
    """The network of the module docstring as SimPy processes (see :func:`incast_des`)."""

    def __init__(self, a: dict, seed: int):
        self.a, self.p, n = a, a["params"], a["n_senders"]
        self.env = env = simpy.Environment()
        self.rng = random.Random(seed)
        self.n, self.mtu = n, a["mtu_bytes"]
        self.ser = self.mtu * 8 / (a["link_Gbps"] * 1e9)
        has_victim = a["victim_Gbps"] > 0
        self.flows_on = [[i] for i in range(n)]
        if has_victim:
            self.flows_on[0].append(n)                # the victim shares sender 0's host link
        self.rp = [ReactionPoint(a["link_Gbps"], self.p) for _ in range(n)]
        self.start = [i * a["stagger_s"] for i in range(n)] + [0.0]
        self.next_ok = list(self.start)
        self.paused, self.pause_sent = [False] * n, [False] * n
        self.wake = [None] * n
        self.queues = [simpy.Store(env), simpy.Store(env)]   # congested egress, victim's egress
        self.serving = [None, None]
        self.qbytes, self.ingress = [0, 0], [0] * n
        self.wire = 0                                  # incast packets on a wire
        self.bytes_ctr = [0] * n
        self.last_cnp = [-math.inf] * n
        self.gen = [0] * n
        self.half = [0] * (n + 1)                      # bytes delivered in the second half
        self.sent = self.delivered = self.dropped = self.drops = self.pauses = 0
        if a["pfc"]:
            self.xoff, self.xon = pfc_thresholds(n, a["buffer_bytes"], self.mtu, a["link_Gbps"],
                                                 a["delay_s"])
        self.samples: list[tuple] = []

    def rate_Gbps(self, f: int) -> float:
        if f == self.n:
            return self.a["victim_Gbps"]
        return self.rp[f].rc if self.a["cc"] == "dcqcn" else self.a["link_Gbps"]

    def host(self, port: int):
        """A host link: sends, between packets, the next ready flow (paced at its rate) unless
        paused."""
        env, flows, turn = self.env, self.flows_on[port], 0
        while True:
            if self.paused[port]:
                self.wake[port] = env.event()
                yield self.wake[port]
                continue
            ready = [f for f in flows if self.next_ok[f] <= env.now + 1e-15]
            if not ready:
                yield env.timeout(min(self.next_ok[f] for f in flows) - env.now)
                continue
            f, turn = ready[turn % len(ready)], turn + 1
            self.next_ok[f] = env.now + self.mtu * 8 / (self.rate_Gbps(f) * 1e9)
            yield env.timeout(self.ser)
            if f < self.n:
                self.sent += self.mtu
                self.wire += 1
                self.count_bytes(f)
            env.process(self.to_switch(port, f))

    def count_bytes(self, f: int) -> None:
        if self.a["cc"] == "dcqcn":
            self.bytes_ctr[f] += self.mtu
            if self.bytes_ctr[f] >= self.p.byte_counter_bytes:
                self.bytes_ctr[f] -= self.p.byte_counter_bytes
                self.rp[f].on_increase("bytes")

    def to_switch(self, port: int, f: int):
        # up to a tenth of a packet time of jitter: packets that would reach the switch at the
        # same instant from different ports are taken in random order (no phase lock-out)
        yield self.env.timeout(self.a["delay_s"] + 0.1 * self.ser * self.rng.random())
        e = 0 if f < self.n else 1
        if f < self.n:
            self.wire -= 1
        if e == 0 and not self.a["pfc"] and self.qbytes[0] + self.mtu > self.a["buffer_bytes"]:
            self.drops += 1
            self.dropped += self.mtu
            return
        mark = (self.a["cc"] == "dcqcn" and e == 0
                and self.rng.random() < ecn_probability(self.qbytes[0], self.p))
        self.qbytes[e] += self.mtu
        self.ingress[port] += self.mtu
        self.queues[e].put((port, f, mark))
        if self.a["pfc"] and not self.pause_sent[port] and self.ingress[port] > self.xoff:
            self.pause_sent[port] = True
            self.pauses += 1
            self.env.process(self.signal(port, True))

    def signal(self, port: int, pause: bool):
        """A PAUSE (or resume) frame reaching the upstream of ``port``."""
        yield self.env.timeout(self.a["delay_s"])
        self.paused[port] = pause
        if not pause and self.wake[port] is not None and not self.wake[port].triggered:
            self.wake[port].succeed()

    def egress(self, e: int):
        env = self.env
        while True:
            port, f, mark = yield self.queues[e].get()
            self.serving[e] = f
            yield env.timeout(self.ser)
            self.serving[e] = None
            self.qbytes[e] -= self.mtu
            self.ingress[port] -= self.mtu
            if self.a["pfc"] and self.pause_sent[port] and self.ingress[port] <= self.xon:
                self.pause_sent[port] = False
                env.process(self.signal(port, False))
            if f < self.n:
                self.wire += 1
            env.process(self.deliver(f, mark))

    def deliver(self, f: int, mark: bool):
        """Arrival at the receiver; a marked packet may make it send a CNP."""
        env = self.env
        yield env.timeout(self.a["delay_s"])
        if env.now >= self.a["duration_s"] / 2:
            self.half[f] += self.mtu
        if f == self.n:
            return
        self.wire -= 1
        self.delivered += self.mtu
        if mark and env.now - self.last_cnp[f] >= self.p.cnp_interval_s - 1e-15:
            self.last_cnp[f] = env.now
            env.process(self.cnp(f))

    def cnp(self, f: int):
        yield self.env.timeout(2 * self.a["delay_s"])    # receiver -> switch -> sender
        self.rp[f].on_cnp()
        self.gen[f] += 1
        self.bytes_ctr[f] = 0
        self.env.process(self.timers(f, self.gen[f], 0.0))

    def timers(self, f: int, gen: int, wait: float):
        """The alpha timer and the rate-increase timer of flow ``f``, restarted by each CNP."""
        env, p = self.env, self.p
        yield env.timeout(wait)
        next_a, next_r = env.now + p.alpha_timer_s, env.now + p.rate_timer_s
        while True:
            yield env.timeout(min(next_a, next_r) - env.now)
            if gen != self.gen[f]:
                return
            if next_a <= env.now + 1e-15:
                self.rp[f].on_alpha_timer()
                next_a += p.alpha_timer_s
            if next_r <= env.now + 1e-15:
                self.rp[f].on_increase("timer")
                next_r += p.rate_timer_s

    def sampler(self, every: float):
        while True:
            self.samples.append((self.env.now, self.qbytes[0],
                                 [self.rate_Gbps(f) for f in range(self.n)]))
            yield self.env.timeout(every)

    def run(self) -> IncastResult:
        env, a, n = self.env, self.a, self.n
        for port in range(n):
            env.process(self.host(port))
        for e in (0, 1):
            env.process(self.egress(e))
        if a["cc"] == "dcqcn":
            for f in range(n):
                env.process(self.timers(f, 0, self.start[f]))
        env.process(self.sampler(a["duration_s"] / 500))
        env.run(until=a["duration_s"])
        half = a["duration_s"] / 2
        queued = sum(self.mtu for _, f, _ in self.queues[0].items if f < n)
        serving = self.mtu if self.serving[0] is not None else 0
        t, q, r = zip(*self.samples, strict=True)
        return IncastResult(
            per_flow_GBps=np.array(self.half[:n]) / half / 1e9,
            victim_GBps=self.half[n] / half / 1e9 if a["victim_Gbps"] > 0 else math.nan,
            drops=self.drops, retransmissions=self.drops, pause_frames=self.pauses,
            queue_t_s=np.array(t), queue_bytes=np.array(q, dtype=float),
            rate_Gbps=np.array(r).T, sent_bytes=self.sent, delivered_bytes=self.delivered,
            dropped_bytes=self.dropped,
            in_network_bytes=queued + serving + self.wire * self.mtu,
            params={k: v for k, v in a.items() if k != "params"})


def incast_des(n_senders: int, cc: str = "dcqcn", pfc: bool = True, *, link_Gbps: float = 40.0,
               buffer_bytes: int = 1_000_000, mtu_bytes: int = 4096, duration_s: float = 0.01,
               delay_s: float = 1e-6, stagger_s: float = 0.0, victim_Gbps: float = 0.0,
               params: DCQCNParams | None = None, seed: int = 0) -> IncastResult:
    """N-to-1 incast on one switch, simulated event by event (SimPy).

    Parameters
    ----------
    n_senders : int, 1..4096
        Senders, each on its own host link, all sending to one receiver.
    cc : {"none", "dcqcn"}
    pfc : bool
        Priority flow control on (lossless) or off (drop-tail).
    link_Gbps : float > 0
        Every link's rate (40 Gb/s: the DCQCN paper's testbed).
    buffer_bytes : int >= mtu_bytes
        Switch buffer for the congested port (model choice, default 1 MB).
    mtu_bytes : int, 64..65536
        Bytes per packet (4096: RoCE's largest MTU).
    duration_s : float, (0, 1]
    delay_s : float, [0, 1e-3]
        Propagation and forwarding delay of each hop (model choice, default 1 µs).
    stagger_s : float, [0, duration_s/2]
        Sender ``i`` starts at ``i * stagger_s``.
    victim_Gbps : float, [0, link_Gbps]
        Demand of a victim flow sharing sender 0's link towards an idle port; 0: no victim.
    params : DCQCNParams, optional
    seed : int
        Seed of the ECN marking draws.

    Returns
    -------
    IncastResult
    """
    a = check_incast_args(n_senders, cc, pfc, link_Gbps, buffer_bytes, mtu_bytes, duration_s,
                          delay_s, stagger_s, victim_Gbps, params or DCQCNParams())
    return _Incast(a, check_int("seed", seed, minimum=0)).run()
