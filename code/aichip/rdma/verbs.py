"""The verbs programming model, executed: a discrete-event simulation (SimPy) of RDMA adapters.

Objects follow libibverbs (``ibv_alloc_pd``, ``ibv_reg_mr``, ``ibv_create_cq``, ``ibv_create_qp``,
``ibv_modify_qp``, ``ibv_post_send``, ``ibv_post_recv``, ``ibv_poll_cq``), with memory as a NumPy
byte array per :class:`Node`. The rules it enforces, as the InfiniBand specification (IBTA Vol. 1,
chapters 9-11) and libibverbs do:

* **Registration** (``reg_mr``): a region needs ``LOCAL_WRITE`` if it grants ``REMOTE_WRITE`` or
  ``REMOTE_ATOMIC`` (ibv_reg_mr fails with EINVAL); bad arguments raise ``ValueError`` at the call.
* **Queue-pair states** RESET -> INIT -> RTR -> RTS (any state -> RESET or ERR); receives may be
  posted from INIT on, sends only in RTS. A wrong transition or a post in the wrong state raises.
* **Transports**: RC (reliable connected) allows every opcode; UC (unreliable connected) SEND and
  RDMA WRITE (with or without immediate); UD (datagram) only SEND, at most one MTU per message.
* **Protection errors are completions**, not exceptions, as on a real NIC: a local buffer whose lkey
  is unknown, in another protection domain, out of the region's bounds or not writable where it must
  be -> ``LOC_PROT_ERR``; an opcode the transport lacks -> ``LOC_QP_OP_ERR``; a remote key that is
  unknown, in another PD, out of bounds or without the needed remote access -> ``REM_ACCESS_ERR``;
  an atomic at an address not 8-byte aligned -> ``REM_INV_REQ_ERR``; a SEND that finds no posted
  receive -> ``RNR_RETRY_EXC_ERR`` on RC (retry count 0), silently dropped on UC/UD; a receive
  buffer too small -> ``LOC_LEN_ERR`` at the receiver, ``REM_INV_REQ_ERR`` at the sender. After an
  error an RC or UC queue pair enters ERR and every later work request completes with
  ``WR_FLUSH_ERR``.
* **Ordering**: completions of one send queue appear in posting order; an RDMA WRITE or SEND posted
  after an RDMA READ or atomic does *not* wait for the READ's data unless it carries ``fence=True``
  (write-after-read is not guaranteed); packets of one message may be placed out of order (with
  ``adaptive_routing``), so polling the last byte of a buffer is not a completion test.

Timing (:class:`Fabric` parameters, :class:`~aichip.rdma.timing.HostParams`) uses the packet engine
of :mod:`aichip.rdma.timing`: each node has its own PCIe read/write, NIC send/receive and outgoing
wire resources. On an idle fabric, RDMA WRITE of ``n = N * mtu`` bytes on RC completes at::

    T = L + [2L + S_pcie] + [S_nic] + [S_wire + F] + [S_nic] + [S_pcie + L] + (N-1) * max(S)
          + S_nic + h/W + F + S_nic + L

(doorbell; DMA read; NIC; serialisation and flight; NIC; DMA write; the other packets; the ACK
through both NICs and the wire; the completion entry written over PCIe), with ``L`` the PCIe
latency, ``F`` the flight time, ``h`` the header and ``W`` the wire rate; the tests check it.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass

import numpy as np
import simpy

from ..validation import check_choice, check_float, check_int
from .timing import DEFAULT_HOST, HostParams, Stage, packet_sizes, traverse

__all__ = [
    "Access", "OPCODES", "TRANSPORTS", "TRANSPORT_OPCODES", "STATUSES", "QP_STATES",
    "ATOMIC_REQUEST_BYTES", "MemoryRegion", "SGE", "SendWR", "Completion", "CompletionQueue",
    "Fabric", "Node", "QueuePair", "Pair", "connected_pair", "read_then_write",
]


class Access(enum.IntFlag):
    """Memory-region access flags (values as ``enum ibv_access_flags``)."""
    LOCAL_WRITE = 1
    REMOTE_WRITE = 2
    REMOTE_READ = 4
    REMOTE_ATOMIC = 8


OPCODES = ("SEND", "SEND_WITH_IMM", "RDMA_WRITE", "RDMA_WRITE_WITH_IMM", "RDMA_READ",
           "ATOMIC_FETCH_ADD", "ATOMIC_CMP_SWAP")
TRANSPORTS = ("RC", "UC", "UD")
#: opcodes each transport carries (IBTA Vol. 1, table 38 "service types and operations")
TRANSPORT_OPCODES = {
    "RC": frozenset(OPCODES),
    "UC": frozenset({"SEND", "SEND_WITH_IMM", "RDMA_WRITE", "RDMA_WRITE_WITH_IMM"}),
    "UD": frozenset({"SEND", "SEND_WITH_IMM"}),
}
STATUSES = ("SUCCESS", "LOC_LEN_ERR", "LOC_QP_OP_ERR", "LOC_PROT_ERR", "WR_FLUSH_ERR",
            "REM_INV_REQ_ERR", "REM_ACCESS_ERR", "RNR_RETRY_EXC_ERR")
QP_STATES = ("RESET", "INIT", "RTR", "RTS", "ERR")
_NEXT_STATE = {"RESET": "INIT", "INIT": "RTR", "RTR": "RTS"}
_NEEDS_REMOTE = {"RDMA_WRITE": Access.REMOTE_WRITE, "RDMA_WRITE_WITH_IMM": Access.REMOTE_WRITE,
                 "RDMA_READ": Access.REMOTE_READ, "ATOMIC_FETCH_ADD": Access.REMOTE_ATOMIC,
                 "ATOMIC_CMP_SWAP": Access.REMOTE_ATOMIC}
_CONSUMES_RECV = ("SEND", "SEND_WITH_IMM", "RDMA_WRITE_WITH_IMM")
_READS_BACK = ("RDMA_READ", "ATOMIC_FETCH_ADD", "ATOMIC_CMP_SWAP")
ATOMIC_REQUEST_BYTES = 28   # AtomicETH: virtual address 8, rkey 4, swap/add 8, compare 8
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class MemoryRegion:
    """A registered region: ``[addr, addr + length)`` of ``node``'s memory with ``access``."""
    node: Node
    pd: int
    addr: int
    length: int
    access: Access
    lkey: int
    rkey: int


@dataclass(frozen=True)
class SGE:
    """A scatter-gather element: ``length`` bytes at ``addr`` of the region with ``lkey``."""
    addr: int
    length: int
    lkey: int


@dataclass(frozen=True)
class SendWR:
    """A send work request (``struct ibv_send_wr`` with one SGE). For atomics the SGE is the
    8-byte local buffer that receives the old value; ``compare_add`` is the addend (FETCH_ADD) or
    the compare value (CMP_SWAP)."""
    wr_id: int
    opcode: str
    sge: SGE | None = None
    remote_addr: int = 0
    rkey: int = 0
    compare_add: int = 0
    swap: int = 0
    imm: int | None = None
    signaled: bool = True
    fence: bool = False


@dataclass(frozen=True)
class Completion:
    """A work completion (``struct ibv_wc``): ``time_s`` is when it was written to the CQ."""
    wr_id: int
    status: str
    opcode: str
    byte_len: int
    qp_num: int
    time_s: float
    imm: int | None = None


class CompletionQueue:
    """Completions in the order the adapter wrote them; :meth:`poll` removes up to ``n`` (16 by
    default)."""

    def __init__(self):
        self._entries = []

    def _push(self, wc: Completion):
        self._entries.append(wc)

    def poll(self, n: int = 16) -> list[Completion]:
        n = check_int("n", n, minimum=1)
        out, self._entries = self._entries[:n], self._entries[n:]
        return out

    def __len__(self):
        return len(self._entries)


class Fabric:
    """The simulated world: a SimPy environment, nodes, the timing parameters and a seeded RNG.

    ``adaptive_routing_jitter_s`` > 0 gives each packet a random extra flight time in
    ``[0, jitter)`` (packets of one message take different routes and may arrive out of order)."""

    def __init__(self, params: HostParams = DEFAULT_HOST, adaptive_routing_jitter_s: float = 0.0,
                 seed: int = 0):
        if not isinstance(params, HostParams):
            raise TypeError(f"params must be a HostParams, got {type(params).__name__}")
        self.params = params
        self.jitter_s = check_float("adaptive_routing_jitter_s", adaptive_routing_jitter_s,
                                    minimum=0)
        self.rng = np.random.default_rng(check_int("seed", seed, minimum=0))
        self.env = simpy.Environment()
        self.nodes = {}
        self._keys = itertools.count(0x1000)
        self._qpn = itertools.count(2)    # QP0 and QP1 are InfiniBand's management QPs
        pcie = 1 / (params.pcie_GBps * 1e9)
        L = params.pcie_latency_s
        self._stage = {"dma_read": Stage("PCIe DMA read", s_per_byte=pcie, delay_s=2 * L),
                       "nic": Stage("NIC", s_per_packet=params.nic_s),
                       "dma_write": Stage("PCIe DMA write", s_per_byte=pcie, delay_s=L)}

    def add_node(self, name: str, memory_bytes: int = 1 << 16) -> Node:
        if not isinstance(name, str) or name in self.nodes:
            raise ValueError(f"name must be a new string, got {name!r}")
        node = Node(self, name, check_int("memory_bytes", memory_bytes, minimum=1, maximum=1 << 30))
        self.nodes[name] = node
        return node

    def run(self, until: float | None = None):
        """Advance the simulation until nothing is left to do (or ``until`` seconds)."""
        self.env.run(until=until)

    @property
    def now(self) -> float:
        return self.env.now

    def _wire_stage(self) -> Stage:
        p = self.params
        jitter = self.rng.uniform(0, self.jitter_s) if self.jitter_s else 0.0
        return Stage("wire", s_per_byte=1 / (p.wire_GBps * 1e9), delay_s=p.flight_s + jitter,
                     wire=True)

    def _packet(self, src: Node, dst: Node, payload: int, header: int, dma_src=True,
                dma_dst=True):
        """Process body: one packet from ``src``'s memory (or NIC) to ``dst``'s memory (or NIC)."""
        st = self._stage
        hops = ([(src.pcie_read, st["dma_read"])] if dma_src else []) + [
            (src.nic_send, st["nic"]), (src.wire_out, self._wire_stage()),
            (dst.nic_recv, st["nic"])] + ([(dst.pcie_write, st["dma_write"])] if dma_dst else [])
        return traverse(self.env, hops, payload, header)


class Node:
    """A host with memory and an RDMA adapter (create with :meth:`Fabric.add_node`)."""

    def __init__(self, fabric: Fabric, name: str, memory_bytes: int):
        self.fabric, self.name = fabric, name
        self.memory = np.zeros(memory_bytes, dtype=np.uint8)
        env = fabric.env
        self.pcie_read, self.pcie_write = simpy.Resource(env), simpy.Resource(env)
        self.nic_send, self.nic_recv = simpy.Resource(env), simpy.Resource(env)
        self.wire_out = simpy.Resource(env)
        self._pds = set()
        self.mrs = {}             # lkey -> MemoryRegion (rkey == lkey + 1)

    def alloc_pd(self) -> int:
        pd = next(self.fabric._keys)
        self._pds.add(pd)
        return pd

    def reg_mr(self, pd: int, addr: int, length: int, access: Access) -> MemoryRegion:
        """Register ``[addr, addr+length)`` with ``access`` (an :class:`Access` combination)."""
        if pd not in self._pds:
            raise ValueError(f"pd {pd!r} is not a protection domain of node {self.name}")
        addr = check_int("addr", addr, minimum=0, maximum=len(self.memory) - 1)
        length = check_int("length", length, minimum=1, maximum=len(self.memory) - addr)
        if (not isinstance(access, (Access, int)) or isinstance(access, bool)
                or not 0 <= access < 16):
            raise ValueError("access must be a combination of aichip.rdma.Access flags, "
                             f"got {access!r}")
        access = Access(access)
        remote_writes = access & (Access.REMOTE_WRITE | Access.REMOTE_ATOMIC)
        if remote_writes and not access & Access.LOCAL_WRITE:
            raise ValueError("access: REMOTE_WRITE and REMOTE_ATOMIC require LOCAL_WRITE "
                             "(ibv_reg_mr rejects them otherwise)")
        lkey = next(self.fabric._keys) * 2
        mr = MemoryRegion(self, pd, addr, length, access, lkey, lkey + 1)
        self.mrs[lkey] = mr
        return mr

    def dereg_mr(self, mr: MemoryRegion):
        if self.mrs.pop(getattr(mr, "lkey", None), None) is None:
            raise ValueError("mr is not registered on this node")

    def create_qp(self, pd: int, transport: str = "RC", send_cq: CompletionQueue | None = None,
                  recv_cq: CompletionQueue | None = None) -> QueuePair:
        if pd not in self._pds:
            raise ValueError(f"pd {pd!r} is not a protection domain of node {self.name}")
        check_choice("transport", transport, TRANSPORTS)
        send_cq = send_cq if send_cq is not None else CompletionQueue()
        return QueuePair(self, pd, transport, send_cq, recv_cq if recv_cq is not None else send_cq)

    def _mr_for_rkey(self, rkey, pd, addr, length, needs) -> str | None:
        """Remote check: the status string on failure, None when allowed."""
        mr = self.mrs.get(rkey - 1) if rkey % 2 == 1 else None
        if mr is None or mr.pd != pd or addr < mr.addr or addr + length > mr.addr + mr.length \
                or not mr.access & needs:
            return "REM_ACCESS_ERR"
        return None

    def _check_local(self, sge: SGE, pd: int, write: bool) -> bool:
        mr = self.mrs.get(sge.lkey)
        return (mr is not None and mr.pd == pd and sge.addr >= mr.addr
                and sge.addr + sge.length <= mr.addr + mr.length
                and (not write or bool(mr.access & Access.LOCAL_WRITE)))

    def read_u64(self, addr: int) -> int:
        return int(self.memory[addr:addr + 8].view(np.uint64)[0])

    def write_u64(self, addr: int, value: int):
        self.memory[addr:addr + 8] = np.frombuffer(int(value & _MASK64).to_bytes(8, "little"),
                                                   dtype=np.uint8)


class QueuePair:
    """A queue pair (create with :meth:`Node.create_qp`); ``num`` is its QP number, from 2 (QP0
    and QP1 are reserved for subnet management and general services)."""

    def __init__(self, node, pd, transport, send_cq, recv_cq):
        self.node, self.pd, self.transport = node, pd, transport
        self.send_cq, self.recv_cq = send_cq, recv_cq
        self.num = next(node.fabric._qpn)
        self.state = "RESET"
        self.remote: QueuePair | None = None
        self._recvs = []                  # posted receive SGEs with their wr_id
        env = node.fabric.env
        self._sq = simpy.Store(env)
        self._outstanding_reads = []      # events of READs/atomics not yet answered
        self._completions = simpy.Store(env)   # (wr, event) in posting order
        env.process(self._requester())
        env.process(self._completer())

    # -- state machine -------------------------------------------------------------------------
    def modify(self, state: str, remote: QueuePair | None = None):
        """``ibv_modify_qp``: RESET->INIT->RTR->RTS one step at a time, or any state -> RESET/ERR.
        Moving to RTR on RC/UC needs ``remote`` (the peer QP, same transport); UD needs none
        (the destination goes in each work request via :meth:`post_send`'s ``dest``)."""
        check_choice("state", state, QP_STATES)
        if state not in ("RESET", "ERR") and _NEXT_STATE.get(self.state) != state:
            raise ValueError(f"state: cannot go from {self.state} to {state}; "
                             f"the order is RESET -> INIT -> RTR -> RTS")
        if state == "RTR" and self.transport != "UD":
            if not isinstance(remote, QueuePair) or remote.transport != self.transport:
                raise ValueError(f"remote: RTR on {self.transport} needs the peer QueuePair of "
                                 f"the same transport, got {remote!r}")
            self.remote = remote
        if state == "RESET":
            self._recvs.clear()
        self.state = state

    # -- posting -------------------------------------------------------------------------------
    def post_recv(self, wr_id: int, sge: SGE):
        """``ibv_post_recv``: allowed from INIT on."""
        if self.state in ("RESET",):
            raise ValueError(f"post_recv needs the QP in INIT, RTR or RTS, it is in {self.state}")
        _check_sge(sge)
        if self.state == "ERR":
            self._push(self.recv_cq, wr_id, "WR_FLUSH_ERR", "RECV", 0)
            return
        self._recvs.append((wr_id, sge))

    def post_send(self, wr: SendWR, dest: QueuePair | None = None):
        """``ibv_post_send``: the QP must be in RTS. ``dest`` is the target QP on UD."""
        if not isinstance(wr, SendWR):
            raise TypeError(f"wr must be a SendWR, got {type(wr).__name__}")
        check_choice("opcode", wr.opcode, OPCODES)
        if self.state != "RTS":
            raise ValueError(f"post_send needs the QP in RTS, it is in {self.state}")
        if wr.sge is not None:
            _check_sge(wr.sge)
        atomic = wr.opcode in ("ATOMIC_FETCH_ADD", "ATOMIC_CMP_SWAP")
        if atomic and (wr.sge is None or wr.sge.length != 8):
            raise ValueError("sge: an atomic needs an 8-byte local buffer for the old value")
        if wr.opcode.endswith("WITH_IMM") and wr.imm is None:
            raise ValueError("imm: a *_WITH_IMM opcode needs an immediate value")
        if self.transport == "UD" and not isinstance(dest, QueuePair):
            raise ValueError("dest: a UD work request needs the destination QueuePair")
        self._sq.put((wr, dest if self.transport == "UD" else self.remote))

    # -- the adapter ---------------------------------------------------------------------------
    def _push(self, cq, wr_id, status, opcode, byte_len, imm=None):
        cq._push(Completion(wr_id, status, opcode, byte_len, self.num, self.node.fabric.now, imm))

    def _requester(self):
        """Takes work requests in posting order; starts each transfer once the previous one's
        request has left (pipelining), waiting for outstanding READs/atomics only on ``fence``."""
        env, fab = self.node.fabric.env, self.node.fabric
        while True:
            wr, peer = yield self._sq.get()
            yield env.timeout(fab.params.pcie_latency_s)      # doorbell + WQE over PCIe
            done = env.event()
            self._completions.put((wr, done))
            if self.state == "ERR":
                done.succeed(("WR_FLUSH_ERR", 0))
                continue
            status = self._local_check(wr)
            if status:
                self._error()
                done.succeed((status, 0))
                continue
            if wr.fence and self._outstanding_reads:
                yield simpy.AllOf(env, list(self._outstanding_reads))
            sent = env.event()
            proc = env.process(self._transfer(wr, peer, sent, done))
            if wr.opcode in _READS_BACK:
                self._outstanding_reads.append(proc)
            yield sent

    def _local_check(self, wr) -> str | None:
        if wr.opcode not in TRANSPORT_OPCODES[self.transport]:
            return "LOC_QP_OP_ERR"
        if wr.sge is not None and not self.node._check_local(wr.sge, self.pd,
                                                             write=wr.opcode in _READS_BACK):
            return "LOC_PROT_ERR"
        n = wr.sge.length if wr.sge is not None else 0
        if self.transport == "UD" and n > self.node.fabric.params.mtu_bytes:
            return "LOC_LEN_ERR"
        return None

    def _error(self):
        if self.transport != "UD":
            self.state = "ERR"

    def _transfer(self, wr, peer, sent, done):
        fab, env, me = self.node.fabric, self.node.fabric.env, self.node
        p, op = fab.params, wr.opcode
        n = wr.sge.length if wr.sge is not None else 0
        dst = peer.node
        hdr = p.header_bytes
        if op == "RDMA_READ":
            yield env.process(fab._packet(me, dst, 0, hdr + 16, dma_src=False, dma_dst=False))
            sent.succeed()
            status = self._remote_check(wr, peer, n)
            if status is None:
                yield env.timeout(2 * p.pcie_latency_s)          # responder's DMA read starts
                data = dst.memory[wr.remote_addr:wr.remote_addr + n].copy()
                yield from self._move(dst, me, data, wr.sge.addr, hdr)
        elif op in ("ATOMIC_FETCH_ADD", "ATOMIC_CMP_SWAP"):
            yield env.process(fab._packet(me, dst, 0, hdr + ATOMIC_REQUEST_BYTES, dma_src=False,
                                          dma_dst=False))
            sent.succeed()
            status = self._remote_check(wr, peer, 8)
            if status is None and wr.remote_addr % 8:
                status = "REM_INV_REQ_ERR"
            if status is None:
                yield env.timeout(2 * p.pcie_latency_s)          # read-modify-write at the target
                old = dst.read_u64(wr.remote_addr)
                if op == "ATOMIC_FETCH_ADD":
                    dst.write_u64(wr.remote_addr, old + wr.compare_add)
                elif old == wr.compare_add & _MASK64:
                    dst.write_u64(wr.remote_addr, wr.swap)
                yield env.process(fab._packet(dst, me, 8, hdr, dma_src=False))
                me.write_u64(wr.sge.addr, old)
        else:   # SEND, WRITE (with or without immediate)
            status = None
            if op in _NEEDS_REMOTE:
                status = self._remote_check(wr, peer, n)
            data = me.memory[wr.sge.addr:wr.sge.addr + n].copy() if n else np.zeros(0, np.uint8)
            if status is None:
                target = wr.remote_addr
                recv = None
                if op in _CONSUMES_RECV:
                    if peer._recvs and peer.state in ("RTR", "RTS"):
                        recv = peer._recvs.pop(0)
                    if recv is None:
                        status = "RNR_RETRY_EXC_ERR" if self.transport == "RC" else "DROPPED"
                    elif op != "RDMA_WRITE_WITH_IMM":
                        if recv[1].length < n or not peer.node._check_local(recv[1], peer.pd, True):
                            peer._push(peer.recv_cq, recv[0], "LOC_LEN_ERR", "RECV", 0)
                            peer._error()
                            status = "REM_INV_REQ_ERR"
                        target = recv[1].addr
                if status is None:
                    yield from self._move(me, dst, data, target, hdr, sent=sent)
                    if recv is not None:
                        yield env.timeout(p.pcie_latency_s)
                        peer._push(peer.recv_cq, recv[0], "SUCCESS",
                                   "RECV_RDMA_WITH_IMM" if op == "RDMA_WRITE_WITH_IMM" else "RECV",
                                   n, wr.imm)
            if not sent.triggered:
                yield env.timeout(p.nic_s)
                sent.succeed()
            if status == "DROPPED":
                status = None
        if self.transport == "RC":          # ACK, NAK or read response already carried it
            if op not in _READS_BACK or status is not None:
                yield env.process(fab._packet(dst, me, 0, hdr, dma_src=False, dma_dst=False))
        if status is not None:
            self._error()
        done.succeed((status or "SUCCESS", n))

    def _remote_check(self, wr, peer, n) -> str | None:
        if peer.state not in ("RTR", "RTS"):
            return "REM_INV_REQ_ERR"
        return peer.node._mr_for_rkey(wr.rkey, peer.pd, wr.remote_addr, n, _NEEDS_REMOTE[wr.opcode])

    def _move(self, src, dst, data, dst_addr, hdr, sent=None):
        """Packets of ``data`` from ``src`` to ``dst``'s memory at ``dst_addr``; each packet's bytes
        land when it arrives (out of order under adaptive routing)."""
        env, fab = self.node.fabric.env, self.node.fabric
        sizes = packet_sizes(len(data), fab.params.mtu_bytes)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)

        def one(off, size):
            yield env.process(fab._packet(src, dst, size, hdr))
            dst.memory[dst_addr + off:dst_addr + off + size] = data[off:off + size]

        procs = [env.process(one(o, s)) for o, s in zip(offsets, sizes, strict=True)]
        if sent is not None:
            yield env.timeout(0)
            if not sent.triggered:
                sent.succeed()
        yield simpy.AllOf(env, procs)

    def _completer(self):
        """Writes completions in posting order: a later WR's CQE waits for earlier ones."""
        env = self.node.fabric.env
        while True:
            wr, done = yield self._completions.get()
            status, n = yield done
            if status != "SUCCESS" or wr.signaled:
                yield env.timeout(self.node.fabric.params.pcie_latency_s)   # CQE DMA write
                self._push(self.send_cq, wr.wr_id, status, wr.opcode, n)


def _check_sge(sge):
    if not isinstance(sge, SGE):
        raise TypeError(f"sge must be an SGE, got {type(sge).__name__}")
    check_int("sge.addr", sge.addr, minimum=0)
    check_int("sge.length", sge.length, minimum=0)


class Pair:
    """Two nodes with one connected queue pair each (:func:`connected_pair`)."""

    def __init__(self, fabric, a, b, mr_a, mr_b, qp_a, qp_b):
        self.fabric, self.a, self.b = fabric, a, b
        self.mr_a, self.mr_b, self.qp_a, self.qp_b = mr_a, mr_b, qp_a, qp_b

    def post(self, wr_id, opcode, local_addr=0, length=8, remote_addr=0, rkey=None, **kw):
        """Post on ``a``'s queue pair with an SGE in ``a``'s region; the rkey defaults to
        ``b``'s."""
        sge = SGE(local_addr, length, self.mr_a.lkey)
        self.qp_a.post_send(SendWR(wr_id, opcode, sge, remote_addr,
                                   self.mr_b.rkey if rkey is None else rkey, **kw),
                            dest=self.qp_b)

    def run(self) -> list[Completion]:
        """Run the simulation to the end and return ``a``'s send completions."""
        self.fabric.run()
        return self.qp_a.send_cq.poll(1 << 20)


def connected_pair(transport: str = "RC", remote_access: Access = Access.LOCAL_WRITE
                   | Access.REMOTE_WRITE | Access.REMOTE_READ | Access.REMOTE_ATOMIC,
                   region_bytes: int = 1 << 15, params: HostParams = DEFAULT_HOST,
                   adaptive_routing_jitter_s: float = 0.0, seed: int = 0) -> Pair:
    """Nodes ``a`` and ``b``, a protection domain and a region of ``region_bytes`` at address 0 on
    each (``a``'s with LOCAL_WRITE, ``b``'s with ``remote_access``), and queue pairs of
    ``transport`` taken RESET -> INIT -> RTR -> RTS, as an application sets them up."""
    fab = Fabric(params, adaptive_routing_jitter_s, seed)
    a = fab.add_node("a", max(region_bytes, 1 << 16))
    b = fab.add_node("b", max(region_bytes, 1 << 16))
    pa, pb = a.alloc_pd(), b.alloc_pd()
    mr_a = a.reg_mr(pa, 0, region_bytes, Access.LOCAL_WRITE)
    mr_b = b.reg_mr(pb, 0, region_bytes, remote_access)
    qa, qb = a.create_qp(pa, transport), b.create_qp(pb, transport)
    for q, other in ((qa, qb), (qb, qa)):
        q.modify("INIT")
        q.modify("RTR", other)
        q.modify("RTS")
    return Pair(fab, a, b, mr_a, mr_b, qa, qb)


def read_then_write(fence: bool) -> int:
    """The write-after-read hazard in two work requests: ``b[0:8]`` holds 5; ``a`` READs it into
    ``a[0:8]`` and, posted right after, WRITEs ``a[0:8]`` to ``b[100:108]``. Returns the byte that
    arrived at ``b[100]``: 5 with ``fence=True``, the buffer's old 0 without (the WRITE left before
    the READ's data came back)."""
    if not isinstance(fence, bool):
        raise TypeError(f"fence must be True or False, got {fence!r}")
    p = connected_pair()
    p.b.memory[:8] = 5
    p.post(1, "RDMA_READ")
    p.post(2, "RDMA_WRITE", remote_addr=100, fence=fence)
    p.run()
    return int(p.b.memory[100])
