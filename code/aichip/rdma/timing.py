"""The timing engine: a message cut into packets that flow through a pipeline of stages.

A **path** is data: fixed costs paid once before the first packet (``start``: a system call, a
doorbell), a chain of :class:`Stage` objects every packet passes in order, and fixed costs paid once
after the last packet (``end``: an interrupt and a context switch, a completion written over PCIe).
A stage serves one packet at a time for ``s_per_packet + bytes * s_per_byte`` seconds (that part is
its throughput limit: a copy, a DMA, serialisation onto the wire) and then delays it by ``delay_s``
without holding the stage (a latency: PCIe or cable flight, a switch's cut-through time).

The engine is a discrete-event simulation on SimPy: each packet is a process, each stage a
``simpy.Resource`` of capacity one. For a message of ``N`` equal packets of ``p`` payload bytes on
an idle path the simulation must equal the closed form of a linear pipeline::

    T(n) = sum(start) + sum_k (S_k(p) + d_k) + (N - 1) * max_k S_k(p) + sum(end)
    S_k(p) = s_per_packet_k + (p + h_k) * s_per_byte_k

where ``h_k`` is the header size when the stage moves whole packets (``wire=True``) and 0 when it
moves only the payload. A stage with ``batch_packets = b > 1`` pays its ``s_per_packet`` once per
``b`` consecutive packets (on the first of each batch): that is how segmentation offloads work, the
kernel running its protocol once per super-segment of up to 64 KiB and the adapter cutting it into
frames (TSO/GSO on send) or merging frames before the kernel sees them (GRO/LRO on receive)
(Linux ``Documentation/networking/segmentation-offloads.rst``). Packets are then no longer equal,
so :func:`latency_breakdown` takes its ``pipeline`` term from the recurrence of a line of
first-come first-served stages (packet ``i`` starts stage ``k`` when it has arrived there and packet
``i - 1`` has left), which is the closed form above for equal packets. :func:`message_time` runs
the simulation, :func:`latency_breakdown` gives the terms (the explorer stacks them), and the tests
check one against the other and both against hand-worked numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from ..validation import check_choice, check_float, check_int
from .networks import HEADERS
from .networks import header_bytes as transport_header_bytes

__all__ = ["DEFAULT_HOST", "KV_DESIGNS", "HostParams", "Path", "Stage", "bandwidth_GBps",
           "latency_breakdown", "lookup_time_s", "message_time", "packet_sizes", "rdma_write_path",
           "slowest_stage", "sweep", "tcp_path", "traverse"]

#: bytes a TCP segment carries on Ethernet beyond its payload: preamble and gap, Ethernet and FCS,
#: IPv4, TCP with the timestamp option (the same fields as iWARP's, from one table)
TCP_FRAME_HEADER_BYTES = sum(HEADERS["iWARP"][k] for k in ("preamble+gap", "Ethernet+FCS", "IPv4",
                                                             "TCP"))
#: largest super-segment the kernel hands to a segmentation offload (GSO_MAX_SIZE, 64 KiB)
OFFLOAD_BYTES = 65536

@dataclass(frozen=True)
class Stage:
    """One pipeline stage: service ``s_per_packet + bytes * s_per_byte`` (held), then
    ``delay_s``; with ``batch_packets = b`` the ``s_per_packet`` is paid by packets ``0, b, 2b,
    ...`` only (work done once per batch, as the kernel's per super-segment protocol work)."""

    name: str
    s_per_byte: float = 0.0
    s_per_packet: float = 0.0
    delay_s: float = 0.0
    wire: bool = False          # True: the stage moves headers too (serialisation onto a link)
    batch_packets: int = 1

    def __post_init__(self):
        check_int("batch_packets", self.batch_packets, minimum=1)

    def service_s(self, payload_bytes: int, header_bytes: int, index: int = 0) -> float:
        """Service time (s) of packet number ``index`` (0-based) of a message."""
        moved = payload_bytes + (header_bytes if self.wire else 0)
        per_packet = self.s_per_packet if index % self.batch_packets == 0 else 0.0
        return per_packet + moved * self.s_per_byte


@dataclass(frozen=True)
class Path:
    """A message's way from one application buffer to another (see the module docstring)."""

    name: str
    stages: tuple
    start: tuple = ()           # ((label, seconds), ...) before the first packet
    end: tuple = ()             # ((label, seconds), ...) after the last packet
    mtu_bytes: int = 4096       # payload bytes per packet
    header_bytes: int = 0       # per packet, on wire stages only


def packet_sizes(msg_bytes: int, mtu_bytes: int) -> list[int]:
    """Payload of each packet: full MTUs and a remainder; a 0-byte message is one empty packet."""
    msg_bytes = check_int("msg_bytes", msg_bytes, minimum=0)
    mtu_bytes = check_int("mtu_bytes", mtu_bytes, minimum=1)
    if msg_bytes == 0:
        return [0]
    full, rest = divmod(msg_bytes, mtu_bytes)
    return [mtu_bytes] * full + ([rest] if rest else [])


def traverse(env: simpy.Environment, hops, payload_bytes: int, header_bytes: int, index: int = 0):
    """SimPy process body: packet number ``index`` through ``hops``, a sequence of
    ``(resource or None, Stage)``.

    Shared by :func:`message_time` and the verbs model, so both use one engine."""
    for resource, stage in hops:
        service = stage.service_s(payload_bytes, header_bytes, index)
        if resource is None:
            yield env.timeout(service)
        else:
            with resource.request() as req:
                yield req
                yield env.timeout(service)
        if stage.delay_s:
            yield env.timeout(stage.delay_s)


def _check_path(path: Path) -> Path:
    if not isinstance(path, Path):
        raise TypeError(f"path must be an aichip.rdma.Path, got {type(path).__name__}")
    return path


def message_time(path: Path, msg_bytes: int) -> float:
    """Simulated time (s) for one message of ``msg_bytes`` along ``path`` on an idle system."""
    path = _check_path(path)
    sizes = packet_sizes(msg_bytes, path.mtu_bytes)
    env = simpy.Environment()
    hops = [(simpy.Resource(env, capacity=1), st) for st in path.stages]
    done = []

    def message():
        yield env.timeout(sum(s for _, s in path.start))
        packets = [env.process(traverse(env, hops, p, path.header_bytes, i))
                   for i, p in enumerate(sizes)]
        yield simpy.AllOf(env, packets)
        yield env.timeout(sum(s for _, s in path.end))
        done.append(env.now)

    env.process(message())
    env.run()
    return done[0]


def _last_departure_s(path: Path, sizes: list[int]) -> float:
    """Time (s, from the first packet's start) at which the last packet leaves the last stage and
    its delay: the first-come first-served recurrence ``D_k(i) = max(D_{k-1}(i) + d_{k-1},
    D_k(i-1)) + S_k(i)``, written without the simulator."""
    arrive = [0.0] * len(sizes)
    for st in path.stages:
        free = 0.0
        for i, p in enumerate(sizes):
            free = max(arrive[i], free) + st.service_s(p, path.header_bytes, i)
            arrive[i] = free + st.delay_s
    return max(arrive)


def latency_breakdown(path: Path, msg_bytes: int) -> dict:
    """The message time's terms (s), in path order: each start item, each stage's service of the
    first packet plus its delay, ``pipeline`` (what the other packets add behind the first; for
    ``N`` equal packets ``(N - 1) max_k S_k``) and each end item. Their sum is the message time."""
    path = _check_path(path)
    sizes = packet_sizes(msg_bytes, path.mtu_bytes)
    out = {label: s for label, s in path.start}
    first = 0.0
    for st in path.stages:
        out[st.name] = st.service_s(sizes[0], path.header_bytes) + st.delay_s
        first += out[st.name]
    out["pipeline"] = max(_last_departure_s(path, sizes) - first, 0.0)
    for label, s in path.end:
        out[label] = out.get(label, 0.0) + s
    return out


@dataclass(frozen=True)
class HostParams:
    """Parameters of the two paths compared in the chapter (seconds, 1e9 bytes/s). Defaults are a
    plausible server with one 100 Gb/s Ethernet adapter that carries both TCP and RDMA (RoCE v2);
    the explorer lets the reader change every one.

    ``pcie_GBps`` and ``wire_GBps`` are data rates after the line code (the PCIe 3.0 x16 and
    Ethernet 100G rows of :mod:`aichip.links`). ``transport`` names the RDMA transport whose headers
    (:data:`aichip.rdma.networks.HEADERS`) every RDMA packet carries: :attr:`header_bytes`.
    ``offloads`` turns on the segmentation offloads of the TCP path: the kernel runs its protocol
    (``stack_s``) once per super-segment of up to ``offload_bytes`` (whole MSS segments) on send
    (TSO/GSO: the adapter cuts it into frames) and on receive (GRO/LRO: frames merged before the
    protocol runs); with ``offloads=False`` it runs once per ``tcp_mss_bytes`` segment."""

    pcie_GBps: float = 15.75
    pcie_latency_s: float = 0.5e-6
    wire_GBps: float = 12.5
    nic_s: float = 0.1e-6           # adapter processing per packet
    cable_s: float = 25e-9          # ~5 m of cable at 2e8 m/s
    switch_s: float = 0.1e-6        # cut-through switch latency
    switch_hops: int = 1
    mtu_bytes: int = 4096
    transport: str = "RoCE v2"      # a key of aichip.rdma.networks.HEADERS
    syscall_s: float = 1.0e-6       # kernel path: system call entry and exit
    copy_GBps: float = 10.0         # memcpy between user and kernel buffers
    stack_s: float = 1.0e-6         # kernel protocol processing per packet (TCP/IP)
    tcp_mss_bytes: int = 1448       # TCP payload per 1500-byte Ethernet frame with timestamps
    tcp_header_bytes: int = TCP_FRAME_HEADER_BYTES   # 20 + 18 + 20 + 32 = 90
    interrupt_s: float = 2.0e-6     # interrupt and softirq at the receiver
    wakeup_s: float = 3.0e-6        # context switch to wake the receiving process
    offloads: bool = True           # TSO/GSO and GRO, on by default in Linux
    offload_bytes: int = OFFLOAD_BYTES

    def __post_init__(self):
        for name in ("pcie_GBps", "wire_GBps", "copy_GBps"):
            check_float(name, getattr(self, name), minimum=0, strict_minimum=True)
        for name in ("pcie_latency_s", "nic_s", "cable_s", "switch_s", "syscall_s", "stack_s",
                     "interrupt_s", "wakeup_s"):
            check_float(name, getattr(self, name), minimum=0)
        check_int("switch_hops", self.switch_hops, minimum=0, maximum=64)
        check_int("mtu_bytes", self.mtu_bytes, minimum=1)
        check_int("tcp_mss_bytes", self.tcp_mss_bytes, minimum=1)
        check_int("tcp_header_bytes", self.tcp_header_bytes, minimum=0)
        check_choice("transport", self.transport, HEADERS)
        if not isinstance(self.offloads, bool):
            raise TypeError(f"offloads must be True or False, got {self.offloads!r}")
        check_int("offload_bytes", self.offload_bytes, minimum=1)

    @property
    def header_bytes(self) -> int:
        """Bytes of headers on every RDMA packet: :func:`aichip.rdma.header_bytes` of
        ``transport``."""
        return transport_header_bytes(self.transport)

    @property
    def tcp_batch_segments(self) -> int:
        """MSS segments per protocol run on the TCP path: whole segments in ``offload_bytes``
        with offloads (at least one), else 1."""
        return max(1, self.offload_bytes // self.tcp_mss_bytes) if self.offloads else 1

    @property
    def flight_s(self) -> float:
        """Cable and switches between the two adapters."""
        return self.cable_s * (self.switch_hops + 1) + self.switch_s * self.switch_hops


# the default of every ``hp``/``params`` argument: one shared instance (HostParams is frozen)
DEFAULT_HOST = HostParams()


def _wire_stages(hp: HostParams) -> list[Stage]:
    return [Stage("NIC send", s_per_packet=hp.nic_s),
            Stage("wire", s_per_byte=1 / (hp.wire_GBps * 1e9), delay_s=hp.flight_s, wire=True),
            Stage("NIC receive", s_per_packet=hp.nic_s)]


def rdma_write_path(hp: HostParams = DEFAULT_HOST) -> Path:
    """RDMA WRITE, zero copy and no kernel: doorbell, NIC DMA-reads the user buffer, wire, remote
    NIC DMA-writes the user buffer; the receiver learns of it by polling (no interrupt)."""
    pcie = 1 / (hp.pcie_GBps * 1e9)
    stages = [Stage("PCIe DMA read", s_per_byte=pcie, delay_s=2 * hp.pcie_latency_s),
              *_wire_stages(hp),
              Stage("PCIe DMA write", s_per_byte=pcie, delay_s=hp.pcie_latency_s)]
    return Path("RDMA (kernel bypass, zero copy)", tuple(stages),
                start=(("doorbell", hp.pcie_latency_s),), end=(),
                mtu_bytes=hp.mtu_bytes, header_bytes=hp.header_bytes)


def tcp_path(hp: HostParams = DEFAULT_HOST) -> Path:
    """Kernel TCP: system call, copy into kernel buffers, protocol processing, DMA, wire, DMA,
    interrupt, protocol processing, copy to the user buffer, wake the receiver. Packets are wire
    frames of ``tcp_mss_bytes``; the protocol runs once per ``hp.tcp_batch_segments`` of them (one
    super-segment with offloads, each segment without)."""
    pcie, copy = 1 / (hp.pcie_GBps * 1e9), 1 / (hp.copy_GBps * 1e9)
    batch = hp.tcp_batch_segments
    stages = [Stage("copy to kernel", s_per_byte=copy),
              Stage("TCP/IP send", s_per_packet=hp.stack_s, batch_packets=batch),
              Stage("PCIe DMA read", s_per_byte=pcie, delay_s=2 * hp.pcie_latency_s),
              *_wire_stages(hp),
              Stage("PCIe DMA write", s_per_byte=pcie, delay_s=hp.pcie_latency_s),
              Stage("TCP/IP receive", s_per_packet=hp.stack_s, batch_packets=batch),
              Stage("copy to user", s_per_byte=copy)]
    name = "TCP (kernel, two copies" + (")" if hp.offloads else ", no offloads)")
    return Path(name, tuple(stages),
                start=(("system call", hp.syscall_s),),
                end=(("interrupt", hp.interrupt_s), ("wake-up", hp.wakeup_s),
                     ("system call", hp.syscall_s)),
                mtu_bytes=hp.tcp_mss_bytes, header_bytes=hp.tcp_header_bytes)


def slowest_stage(path: Path) -> tuple[str, float]:
    """The stage that limits a long message, and its mean service (s) per full packet: a stage
    with ``batch_packets = b`` spends ``s_per_packet / b + (mtu + h) * s_per_byte`` per packet on
    average. A long message's bandwidth tends to ``mtu_bytes`` over that time."""
    path = _check_path(path)

    def mean_s(st: Stage) -> float:
        return sum(st.service_s(path.mtu_bytes, path.header_bytes, i)
                   for i in range(st.batch_packets)) / st.batch_packets

    worst = max(path.stages, key=mean_s)
    return worst.name, mean_s(worst)


def bandwidth_GBps(path: Path, msg_bytes: int) -> float:
    """Effective bandwidth of one message: ``msg_bytes / message_time``, 1e9 bytes/s."""
    return msg_bytes / message_time(path, msg_bytes) / 1e9


def sweep(path: Path, sizes) -> list[tuple[int, float]]:
    """``(msg_bytes, seconds)`` for every size in ``sizes``."""
    return [(int(n), message_time(path, int(n))) for n in sizes]


KV_DESIGNS = ("one-sided", "rpc-rdma", "rpc-tcp")


def lookup_time_s(design: str, hp: HostParams = DEFAULT_HOST, value_bytes: int = 64,
                  reads: int = 2, server_s: float = 2e-6) -> float:
    """Model of one key-value lookup (s) for the designs the key-value store section compares.

    ``one-sided``: ``reads`` dependent RDMA READs (find the bucket, then the value, as Pilaf does),
    each a request of headers only followed by the response: ``reads * (T(0) + T(value))`` on
    :func:`rdma_write_path`. ``rpc-rdma``: a 16-byte request, ``server_s`` of the owner's CPU, the
    reply, both as RDMA messages: ``T(16) + server_s + T(value)``. ``rpc-tcp``: the same over
    :func:`tcp_path`."""
    check_choice("design", design, KV_DESIGNS)
    value_bytes = check_int("value_bytes", value_bytes, minimum=0)
    reads = check_int("reads", reads, minimum=1)
    server_s = check_float("server_s", server_s, minimum=0)
    if design == "one-sided":
        path = rdma_write_path(hp)
        return reads * (message_time(path, 0) + message_time(path, value_bytes))
    path = rdma_write_path(hp) if design == "rpc-rdma" else tcp_path(hp)
    return message_time(path, 16) + server_s + message_time(path, value_bytes)
