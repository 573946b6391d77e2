"""Collective operations executed step by step on ``p`` simulated ranks, moving and reducing real
data, and timed on an interconnect topology.

An algorithm is expressed as data: a :class:`Schedule`, a list of steps, each a set of messages
``(src, dst, src_off, dst_off, length, reduce)`` that move ``length`` elements of rank ``src``'s
working buffer into rank ``dst``'s (adding them when ``reduce``). Messages of one step run
concurrently: every payload is read before any is written, as on a real network. One numba kernel
(:func:`_run_schedule`) executes any schedule, so each algorithm is just the function that builds
its messages; the builders, buffer layouts and NumPy references are records in
:mod:`aichip.collective_specs`. An in-network algorithm (NVLink SHARP, InfiniBand SHARP) has one
more participant, number ``n_ranks``: a switch whose buffer starts at zero, adds the messages sent
to it and multicasts the ones it sends (:attr:`Schedule.switch`).

Timing (:func:`simulate_time`) charges each step ``alpha`` plus the time the most loaded link needs
to drain the step's bytes (:mod:`aichip.topology` routes them), plus ``gamma`` per reduced byte on
the busiest rank. On :func:`aichip.topology.crossbar` (the uniform fully connected network) this is
exactly the closed form :func:`aichip.alphabeta.cost`, which the tests check.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from . import alphabeta as ab
from . import collective_specs as cs
from . import topology as tp
from .alphabeta import ALGORITHMS, OPS, bus_bandwidth, check_op_algorithm, cost
from .validation import check_float, check_int

__all__ = ["ALGORITHMS", "OPS", "Schedule", "along_ring", "buffers_by_step", "bus_bandwidth",
           "cost", "execute",
           "reference", "ring_on_systems", "ring_scenarios", "same_results", "schedule",
           "simulate_time", "step_times", "switch_ports", "nvls_vs_ring"]


class Schedule(NamedTuple):
    """Messages of a collective, step by step (all arrays int64, one entry per message).

    ``step_start[k]:step_start[k+1]`` are the messages of step ``k``. ``buf_len`` is the length of
    every rank's working buffer in elements. ``switch`` is True for an in-network algorithm:
    participant ``n_ranks`` is then a reducing switch with a working buffer of its own (messages
    to it are added there, messages from it are its multicast), so the buffers have
    ``n_participants = n_ranks + 1`` rows.
    """

    op: str
    algorithm: str
    n_ranks: int
    count: int
    buf_len: int
    step_start: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    src_off: np.ndarray
    dst_off: np.ndarray
    length: np.ndarray
    reduce: np.ndarray
    switch: bool = False

    @property
    def n_steps(self) -> int:
        return len(self.step_start) - 1

    @property
    def n_participants(self) -> int:
        """Rows of the working buffers: the ranks, and the switch of an in-network algorithm."""
        return self.n_ranks + int(self.switch)

    def messages(self) -> list[dict]:
        """One row per message: step, source and destination rank, the destination's element
        range ``[first, last)`` and whether the payload is added or copied."""
        return [{"step": k, "src": int(self.src[m]), "dst": int(self.dst[m]),
                 "first": int(self.dst_off[m]), "last": int(self.dst_off[m] + self.length[m]),
                 "action": "add" if self.reduce[m] else "copy"}
                for k in range(self.n_steps)
                for m in range(self.step_start[k], self.step_start[k + 1])]


# ----------------------------------------------------------------------------------------------
# schedules: the builder of each (op, algorithm) is in its record (aichip.collective_specs)


def schedule(op: str, algorithm: str, n_ranks: int, count: int, root: int = 0,
             **params) -> Schedule:
    """Build the message schedule of ``op`` with ``algorithm`` on ``n_ranks`` ranks.

    ``count`` is the number of elements each rank contributes (allreduce, reduce, reduce_scatter,
    broadcast: the vector length; allgather: each rank's block; alltoall: each rank's send buffer,
    a multiple of ``n_ranks``). ``params`` are the algorithm's extra parameters
    (``ranks_per_node`` for hierarchical, ``chunks`` for pipelined_tree, at most ``count``).
    """
    spec, p, params = check_op_algorithm(op, algorithm, n_ranks, **params)
    ops = cs.op_spec(op)
    count = check_int("count", count, minimum=1)
    root = check_int("root", root, minimum=0, maximum=p - 1)
    if root and not ops.rooted:
        raise ValueError(f"root must be 0 for {op} (only broadcast and reduce take a root), "
                         f"got root={root}")
    if root and not spec.roots:
        raise ValueError(f"root must be 0 for {algorithm} {op} (implemented for root 0 only), "
                         f"got root={root}")
    if ops.count_multiple_of_ranks and count % p:
        raise ValueError(f"count must be a multiple of n_ranks ({p}) for {op}, got {count}")
    if params.get("chunks", 0) * spec.vector_parts > count:
        raise ValueError(f"chunks must be <= {count // spec.vector_parts} for {algorithm} on "
                         f"count={count} (every chunk needs at least one element), "
                         f"got {params['chunks']}")
    steps = [s for s in spec.builder(p, count, root, **params) if s]
    flat = [m for s in steps for m in s]
    cols = np.array(flat, dtype=np.int64).reshape(-1, 6)
    starts = np.cumsum([0] + [len(s) for s in steps]).astype(np.int64)
    return Schedule(op, algorithm, p, count, ops.buf_len(p, count), starts,
                    *(cols[:, i].copy() for i in range(6)), switch=spec.in_network)


# ----------------------------------------------------------------------------------------------
# execution


@njit(cache=True)
def _run_schedule(buf, step_start, src, dst, src_off, dst_off, length, reduce, tmp):
    """Apply every step to ``buf`` (n_ranks, buf_len): read all payloads of a step, then write."""
    for k in range(len(step_start) - 1):
        pos = 0
        for m in range(step_start[k], step_start[k + 1]):
            for i in range(length[m]):
                tmp[pos + i] = buf[src[m], src_off[m] + i]
            pos += length[m]
        pos = 0
        for m in range(step_start[k], step_start[k + 1]):
            if reduce[m]:
                for i in range(length[m]):
                    buf[dst[m], dst_off[m] + i] += tmp[pos + i]
            else:
                for i in range(length[m]):
                    buf[dst[m], dst_off[m] + i] = tmp[pos + i]
            pos += length[m]


def _check_inputs(inputs) -> np.ndarray:
    """One row per rank: a 2-D array, or a list of equally long 1-D buffers."""
    if isinstance(inputs, (list, tuple)) and inputs and all(np.ndim(b) == 1 for b in inputs):
        lengths = [len(b) for b in inputs]
        for r, n in enumerate(lengths):
            if n != lengths[0]:
                raise ValueError(f"inputs: mismatched buffers, rank {r} has {n} elements, rank 0 "
                                 f"has {lengths[0]}; every rank must pass the same count")
    x = np.asarray(inputs)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"inputs must have shape (n_ranks, count) with both >= 1, got {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise TypeError(f"inputs must be real numbers, got dtype {x.dtype}")
    return x


def execute(op: str, algorithm: str, inputs, root: int = 0,
            **params) -> tuple[list[np.ndarray], Schedule]:
    """Run ``op`` with ``algorithm`` on the ranks' ``inputs``: shape (n_ranks, count), or a list of
    ``n_ranks`` 1-D buffers of equal length.

    Returns each rank's result (a list: broadcast/allreduce/allgather/alltoall give every rank an
    array; reduce gives the root the sum and the others ``None``; reduce_scatter gives rank r its
    chunk of the sum, chunks split as evenly as possible) and the schedule that produced it.
    """
    x = _check_inputs(inputs)
    p, count = x.shape
    sched = schedule(op, algorithm, p, count, root, **params)
    ops = cs.op_spec(op)
    dtype = np.result_type(x.dtype, np.float64) if x.dtype.kind != "f" else x.dtype
    buf = np.zeros((sched.n_participants, sched.buf_len), dtype=dtype)
    for r in range(p):
        off = ops.input_offset(p, count, r)
        buf[r, off:off + count] = x[r]
    tmp = np.empty(max(int(sched.length.sum()), 1), dtype=dtype)
    _run_schedule(buf, sched.step_start, sched.src, sched.dst, sched.src_off, sched.dst_off,
                  sched.length, sched.reduce, tmp)
    return ops.result(buf[:p], x, root), sched


def buffers_by_step(op: str, algorithm: str, inputs, root: int = 0,
                    **params) -> tuple[np.ndarray, Schedule]:
    """Every rank's working buffer before the first step and after each step of ``op``.

    Same arguments as :func:`execute`. Returns ``states`` of shape
    (n_steps + 1, n_participants, buf_len) (the switch's buffer last for an in-network
    algorithm), ``states[0]`` holding the inputs at their offsets and
    ``states[k]`` the buffers after step ``k`` (so ``states[-1]`` is what :func:`execute` ends
    with), and the schedule. The same kernel runs the steps, one at a time.
    """
    x = _check_inputs(inputs)
    p, count = x.shape
    sched = schedule(op, algorithm, p, count, root, **params)
    ops = cs.op_spec(op)
    dtype = np.result_type(x.dtype, np.float64) if x.dtype.kind != "f" else x.dtype
    states = np.zeros((sched.n_steps + 1, sched.n_participants, sched.buf_len), dtype=dtype)
    for r in range(p):
        off = ops.input_offset(p, count, r)
        states[0, r, off:off + count] = x[r]
    tmp = np.empty(max(int(sched.length.sum()), 1), dtype=dtype)
    for k in range(sched.n_steps):
        buf = states[k].copy()
        _run_schedule(buf, sched.step_start[k:k + 2], sched.src, sched.dst, sched.src_off,
                      sched.dst_off, sched.length, sched.reduce, tmp)
        states[k + 1] = buf
    return states, sched


def reference(op: str, inputs, root: int = 0) -> list[np.ndarray]:
    """What each rank must end with, computed directly with numpy (the tests' oracle)."""
    ops = cs.op_spec(op)
    x = _check_inputs(inputs)
    p, count = x.shape
    root = check_int("root", root, minimum=0, maximum=p - 1)
    if ops.count_multiple_of_ranks and count % p:
        raise ValueError(f"count must be a multiple of n_ranks ({p}) for {op}, got {count}")
    return ops.reference(x, root)


def same_results(got, want) -> bool:
    """True when two per-rank result lists agree exactly: the same number of ranks, ``None``
    where the other has ``None``, equal arrays elsewhere (a list missing a rank is not the same)."""
    if len(got) != len(want):
        return False
    return all((a is None and b is None)
               or (a is not None and b is not None and np.array_equal(a, b))
               for a, b in zip(got, want, strict=True))


# ----------------------------------------------------------------------------------------------
# timing


def switch_ports(topo: tp.Topology, gpu) -> list[tuple]:
    """The links from ``gpu`` to the switches next to it, as ``(switch node, share)``: the share
    of the GPU's traffic with "the switch" (the reducing switch of an in-network algorithm) each
    link carries, in proportion to its bandwidth, since NVLink SHARP spreads a GPU's traffic over
    all its NVSwitch links. ValueError if the GPU has no switch next to it."""
    g = topo.graph
    near = [(v, g.edges[gpu, v]["GBps_per_dir"]) for v in g.neighbors(gpu)
            if g.nodes[v].get("kind") == "switch"]
    if not near:
        raise ValueError(f"topo: {gpu} of {topo.name} has no switch next to it, so an "
                         "in-network algorithm cannot run there (use a switched topology)")
    total = sum(bw for _, bw in near)
    return [(v, bw / total) for v, bw in near]


def _step_drain_s(router, topo, sched, sl, nbytes) -> float:
    """Time the step's bytes need on the most loaded directed link: rank-to-rank messages routed
    by ``router``, messages to or from the switch over each GPU's own switch links."""
    p, gpus = sched.n_ranks, topo.gpus
    flows, loads = [], {}
    for s, d, b in zip(sched.src[sl], sched.dst[sl], nbytes, strict=True):
        if b <= 0:
            continue
        if s < p and d < p:
            flows.append((gpus[s], gpus[d], float(b)))
            continue
        gpu = gpus[d] if s == p else gpus[s]
        for sw, share in switch_ports(topo, gpu):
            edge = (sw, gpu) if s == p else (gpu, sw)
            loads[edge] = loads.get(edge, 0.0) + b * share
    for edge, load in router.edge_loads(flows).items():
        loads[edge] = loads.get(edge, 0.0) + load
    return max((load / (topo.graph.edges[e]["GBps_per_dir"] * 1e9) for e, load in loads.items()),
               default=0.0)


def step_times(sched: Schedule, topo: tp.Topology, alpha_s: float, itemsize_bytes: int = 4,
               gamma_s_per_byte: float = 0.0) -> np.ndarray:
    """Time of each step (seconds) of ``sched`` with rank r on ``topo.gpus[r]``.

    A step costs ``alpha_s`` + the time its most loaded directed link needs to carry the step's
    bytes (messages routed over all shortest paths, so concurrent messages share links) +
    ``gamma_s_per_byte`` times the bytes reduced by the busiest rank (default 0: reductions
    are free, the alpha-beta model without its gamma term). The switch of an in-network
    algorithm talks to each GPU over the GPU's own switch links (:func:`switch_ports`) and reduces
    its ports' streams side by side, ``gamma_s_per_byte`` per byte of its largest incoming
    message, as a rank adding one message.
    """
    if not isinstance(sched, Schedule):
        raise TypeError(f"sched must be a Schedule, got {type(sched).__name__}")
    if not isinstance(topo, tp.Topology):
        raise TypeError(f"topo must be a Topology, got {type(topo).__name__}")
    if sched.n_ranks > topo.n_gpus:
        raise ValueError(f"sched: its n_ranks={sched.n_ranks} do not fit on {topo.name} "
                         f"({topo.n_gpus} GPUs)")
    alpha = check_float("alpha_s", alpha_s, minimum=0)
    gamma = check_float("gamma_s_per_byte", gamma_s_per_byte, minimum=0)
    item = check_int("itemsize_bytes", itemsize_bytes, minimum=1)
    router = tp.Router(topo)
    p = sched.n_ranks
    times = np.empty(sched.n_steps)
    for k in range(sched.n_steps):
        sl = slice(sched.step_start[k], sched.step_start[k + 1])
        nbytes = sched.length[sl] * item
        added = nbytes * sched.reduce[sl]
        to_rank = sched.dst[sl] < p
        reduced = np.bincount(sched.dst[sl][to_rank], weights=added[to_rank], minlength=p).max()
        at_switch = added[~to_rank].max(initial=0)
        times[k] = (alpha + _step_drain_s(router, topo, sched, sl, nbytes)
                    + gamma * max(reduced, at_switch))
    return times


def simulate_time(op: str, algorithm: str, topo: tp.Topology, n_ranks: int, msg_bytes: int,
                  alpha_s: float, gamma_s_per_byte: float = 0.0, itemsize_bytes: int = 4,
                  **params) -> float:
    """Total time (seconds) of the executed schedule of ``op`` on ``topo`` for ``msg_bytes``
    (the ``n`` of :func:`aichip.alphabeta.cost`; a multiple of ``itemsize_bytes``). ``params``
    are the algorithm's extra parameters (``ranks_per_node``, ``chunks``)."""
    n_ranks = check_int("n_ranks", n_ranks, minimum=1)
    msg_bytes = check_int("msg_bytes", msg_bytes, minimum=1)
    item = check_int("itemsize_bytes", itemsize_bytes, minimum=1)
    if msg_bytes % item:
        raise ValueError(f"msg_bytes ({msg_bytes}) must be a multiple of itemsize_bytes ({item})")
    blocks = cs.op_spec(op).size_blocks(n_ranks)
    elems = msg_bytes // item
    if elems % blocks:
        raise ValueError(f"msg_bytes of {op} must split into {blocks} equal blocks, "
                         f"got {msg_bytes}")
    sched = schedule(op, algorithm, n_ranks, elems // blocks, 0, **params)
    return float(step_times(sched, topo, alpha_s, item, gamma_s_per_byte).sum())


def along_ring(topo: tp.Topology, order) -> tp.Topology:
    """``topo`` with rank r placed on GPU ``topo.gpus[order[r]]`` (e.g. along an embedded ring)."""
    if not isinstance(topo, tp.Topology):
        raise TypeError(f"topo must be a Topology, got {type(topo).__name__}")
    order = [check_int("order", int(i), minimum=0, maximum=topo.n_gpus - 1) for i in order]
    if sorted(order) != list(range(len(order))):
        raise ValueError(f"order must be a permutation of 0..{len(order) - 1}, got {order}")
    return tp.Topology(topo.name, topo.graph, tuple(topo.gpus[i] for i in order), topo.source)


def ring_scenarios() -> dict[str, tp.Topology]:
    """The 8-GPU systems the collectives chapter runs a ring all-reduce on: the DGX-1 V100 three
    times (ranks along its double-link ring; in plain GPU order, where two ring hops have no direct
    NVLink and go over PCIe and QPI, as the hardware routes them; and in GPU order with those hops
    relayed through other GPUs' NVLinks, as software staging would), and the NVSwitch systems."""
    v100 = tp.dgx1_v100()
    return {"DGX-1 V100, GPU order (PCIe/QPI)": v100,
            "DGX-1 V100, GPU order (relayed)": tp.dgx1_v100(gpu_relay=True),
            "DGX-1 V100, double-link ring": along_ring(v100, tp.embedded_rings(v100)[0].order),
            "DGX-2 (8 of 16 GPUs)": tp.dgx2(), "DGX A100": tp.dgx_a100(),
            "DGX H100": tp.dgx_h100()}


def ring_on_systems(msg_bytes: int, alpha_s: float = 5e-6) -> dict[str, tuple[float, float]]:
    """Simulated ring all-reduce of ``msg_bytes`` on 8 GPUs of each :func:`ring_scenarios`
    system: ``name -> (time in s, bus bandwidth in GB/s)``."""
    msg_bytes = check_int("msg_bytes", msg_bytes, minimum=1)
    out = {}
    for name, topo in ring_scenarios().items():
        t = simulate_time("allreduce", "ring", topo, 8, msg_bytes, alpha_s)
        out[name] = (t, bus_bandwidth("allreduce", msg_bytes / t / 1e9, 8))
    return out


def nvls_vs_ring(msg_bytes: int, alpha_s: float,
                 max_chunks: int = 256) -> dict[str, tuple[float, float, float]]:
    """Simulated all-reduce of ``msg_bytes`` on the 8 GPUs of a DGX H100, as a ring and with
    NVLink SHARP (``nvls``, at the chunk count in ``1..max_chunks`` that minimises its closed
    form at the GPU's NVLink bandwidth): ``name -> (time in s, algbw in GB/s, busbw in GB/s)``,
    busbw by the nccl-tests convention (``2(p-1)/p`` algbw for every all-reduce algorithm)."""
    msg_bytes = check_int("msg_bytes", msg_bytes, minimum=4)
    topo = tp.dgx_h100()
    gpu = topo.gpus[0]
    link = sum(topo.graph.edges[gpu, v]["GBps_per_dir"] for v in topo.graph.neighbors(gpu))
    k = ab.best_chunks("allreduce", 8, msg_bytes, alpha_s, 1 / (link * 1e9),
                       max_chunks=min(max_chunks, msg_bytes // 4), algorithm="nvls")
    out = {}
    for name, kw in (("ring", {}), ("nvls", {"chunks": k})):
        t = simulate_time("allreduce", name, topo, 8, msg_bytes // 4 * 4, alpha_s, **kw)
        out[name] = (t, msg_bytes / t / 1e9, bus_bandwidth("allreduce", msg_bytes / t / 1e9, 8))
    return out
