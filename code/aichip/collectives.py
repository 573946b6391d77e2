"""Collective operations executed step by step on ``p`` simulated ranks, moving and reducing real
data, and timed on an interconnect topology.

An algorithm is expressed as data: a :class:`Schedule`, a list of steps, each a set of messages
``(src, dst, src_off, dst_off, length, reduce)`` that move ``length`` elements of rank ``src``'s
working buffer into rank ``dst``'s (adding them when ``reduce``). Messages of one step run
concurrently: every payload is read before any is written, as on a real network. One numba kernel
(:func:`_run_schedule`) executes any schedule, so each algorithm is just the function that builds
its messages.

Timing (:func:`simulate_time`) charges each step ``alpha`` plus the time the most loaded link needs
to drain the step's bytes (:mod:`aichip.topology` routes them), plus ``gamma`` per reduced byte on
the busiest rank. On :func:`aichip.topology.crossbar` (the uniform fully connected network) this is
exactly the closed form :func:`aichip.alphabeta.cost`, which the tests check.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from . import topology as tp
from .alphabeta import ALGORITHMS, OPS, bus_bandwidth, check_op_algorithm, cost  # noqa: F401
from .validation import check_float, check_int

__all__ = ["OPS", "ALGORITHMS", "cost", "bus_bandwidth", "Schedule", "schedule", "execute",
           "reference", "simulate_time", "step_times"]


class Schedule(NamedTuple):
    """Messages of a collective, step by step (all arrays int64, one entry per message).

    ``step_start[k]:step_start[k+1]`` are the messages of step ``k``. ``buf_len`` is the length of
    every rank's working buffer in elements.
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

    @property
    def n_steps(self) -> int:
        return len(self.step_start) - 1


# ----------------------------------------------------------------------------------------------
# building blocks: each returns a list of steps, a step being a list of message tuples


def _bounds(start: int, length: int, parts: int) -> list[int]:
    """Split ``[start, start+length)`` into ``parts`` nearly equal chunks; return the boundaries."""
    base, extra = divmod(length, parts)
    return [start + i * base + min(i, extra) for i in range(parts + 1)]


def _ring(group, start, length, reduce):
    """One pass around the ring ``group`` over the region ``[start, start+length)`` in chunks.

    ``reduce=1``: reduce-scatter; member q sends chunk q-s-1 at step s and ends with chunk q
    summed. ``reduce=0``: all-gather; member q starts with chunk q and sends chunk q-s at step s.
    """
    k = len(group)
    b = _bounds(start, length, k)
    steps = []
    for s in range(k - 1):
        msgs = []
        for q in range(k):
            c = (q - s - reduce) % k
            msgs.append((group[q], group[(q + 1) % k], b[c], b[c], b[c + 1] - b[c], reduce))
        steps.append(msgs)
    return steps


def _ring_reduce_scatter(group, start, length):
    """Ring reduce-scatter over ``group``: member q ends with chunk q of the region reduced."""
    return _ring(group, start, length, 1)


def _ring_allgather(group, start, length):
    """Ring all-gather over ``group``: member q starts with chunk q of the region."""
    return _ring(group, start, length, 0)


def _halving_reduce_scatter(p, count):
    """Recursive halving: after log2 p steps rank r holds chunk r reduced (p a power of two)."""
    b = _bounds(0, count, p)
    steps = []
    d = p // 2
    while d >= 1:
        msgs = []
        for r in range(p):
            partner = r ^ d
            lo = (r // (2 * d)) * 2 * d          # first chunk of the range both still share
            send_lo = lo + d if r & d == 0 else lo  # send the half that holds the partner's chunk
            msgs.append((r, partner, b[send_lo], b[send_lo], b[send_lo + d] - b[send_lo], 1))
        steps.append(msgs)
        d //= 2
    return steps


def _doubling_allgather(p, count, block_bounds=None):
    """Recursive doubling all-gather of chunks: rank r starts with chunk r (p a power of two)."""
    b = _bounds(0, count, p) if block_bounds is None else block_bounds
    steps = []
    d = 1
    while d < p:
        msgs = []
        for r in range(p):
            lo = (r // d) * d                   # chunks [lo, lo + d) are held by r
            msgs.append((r, r ^ d, b[lo], b[lo], b[lo + d] - b[lo], 0))
        steps.append(msgs)
        d *= 2
    return steps


def _binomial(p, root, count, reduce):
    """Binomial tree rooted at ``root``: broadcast (reduce=0) or reduce (reduce=1)."""
    steps = []
    d = 1
    while d < p:
        msgs = []
        for v in range(d):                      # relative ranks that already hold the data
            if v + d < p:
                a, b_ = (v + root) % p, (v + d + root) % p
                msgs.append((a, b_, 0, 0, count, 0))
        steps.append(msgs)
        d *= 2
    if reduce:                                  # the same tree, run backwards, adding
        steps = [[(b_, a, 0, 0, n, 1) for a, b_, _, _, n, _ in msgs] for msgs in steps[::-1]]
    return steps


def _binary_tree(p, rank_of, start, length, reduce):
    """Heap-ordered binary tree (node i has children 2i+1, 2i+2), node i played by rank_of(i).

    Broadcast: level by level, each parent sends to its left child, then to its right child.
    Reduce: the same rounds backwards, children adding into their parent."""
    rounds = []
    depth = p.bit_length() - 1
    for level in range(1, depth + 1):
        first, last = 2 ** level - 1, min(2 ** (level + 1) - 2, p - 1)
        for side in (1, 2):                     # left children are odd, right children even
            kids = [i for i in range(first, last + 1) if (i - side) % 2 == 0]
            if kids:
                rounds.append([(rank_of((i - 1) // 2), rank_of(i), start, start, length, 0)
                               for i in kids])
    if reduce:
        rounds = [[(b_, a, so, do, n, 1) for a, b_, so, do, n, _ in msgs] for msgs in rounds[::-1]]
    return rounds


def _merge(*phases):
    """Run several step lists side by side (step k of each in the same step)."""
    n = max((len(ph) for ph in phases), default=0)
    return [[m for ph in phases if k < len(ph) for m in ph[k]] for k in range(n)]


# ----------------------------------------------------------------------------------------------
# schedules of every (op, algorithm)


def schedule(op: str, algorithm: str, n_ranks: int, count: int, root: int = 0,
             ranks_per_node: int | None = None) -> Schedule:
    """Build the message schedule of ``op`` with ``algorithm`` on ``n_ranks`` ranks.

    ``count`` is the number of elements each rank contributes (allreduce, reduce, reduce_scatter,
    broadcast: the vector length; allgather: each rank's block; alltoall: each rank's send buffer,
    a multiple of ``n_ranks``).
    """
    op, algorithm, p = check_op_algorithm(op, algorithm, n_ranks, ranks_per_node)
    count = check_int("count", count, minimum=1)
    root = check_int("root", root, minimum=0, maximum=p - 1)
    if root and op not in ("broadcast", "reduce"):
        raise ValueError(f"root applies only to broadcast and reduce, not {op}")
    if op == "alltoall" and count % p:
        raise ValueError(f"alltoall needs count to be a multiple of n_ranks ({p}), got {count}")
    buf_len = {"allgather": p * count, "alltoall": 2 * count}.get(op, count)
    if op == "reduce" and algorithm == "rabenseifner" and root:
        raise ValueError("rabenseifner reduce is implemented for root 0 only")

    if op in ("broadcast", "reduce") and algorithm == "binomial_tree":
        steps = _binomial(p, root, count, op == "reduce")
    elif op in ("broadcast", "reduce") and algorithm == "binary_tree":
        steps = _binary_tree(p, lambda i: (i + root) % p, 0, count, op == "reduce")
    elif op == "reduce":                                      # rabenseifner
        b = _bounds(0, count, p)
        gather, d = [], 1
        while d < p:
            gather.append([(r, r - d, b[r], b[r], b[r + d] - b[r], 0)
                           for r in range(d, p, 2 * d)])
            d *= 2
        steps = _halving_reduce_scatter(p, count) + gather
    elif op == "allgather":
        if algorithm == "ring":
            steps = _ring_allgather(list(range(p)), 0, p * count)
        else:
            steps = _doubling_allgather(p, p * count)
    elif op == "reduce_scatter":
        if algorithm == "ring":
            steps = _ring_reduce_scatter(list(range(p)), 0, count)
        else:
            steps = _halving_reduce_scatter(p, count)
    elif op == "alltoall":                                    # pairwise exchange
        blk = count // p
        steps = [[(r, (r + k) % p, ((r + k) % p) * blk, count + r * blk, blk, 0) for r in range(p)]
                 for k in range(1, p)]
    elif algorithm == "ring":
        group = list(range(p))
        steps = _ring_reduce_scatter(group, 0, count) + _ring_allgather(group, 0, count)
    elif algorithm == "recursive_doubling":
        steps, d = [], 1
        while d < p:
            steps.append([(r, r ^ d, 0, 0, count, 1) for r in range(p)])
            d *= 2
    elif algorithm == "rabenseifner":
        steps = _halving_reduce_scatter(p, count) + _doubling_allgather(p, count)
    elif algorithm == "binary_tree":
        steps = (_binary_tree(p, lambda i: i, 0, count, True)
                 + _binary_tree(p, lambda i: i, 0, count, False))
    elif algorithm == "double_binary_tree":
        half = count // 2
        # tree B plays node i on rank p-1-i (the mirror image, Sanders, Speck and Traeff 2009):
        # A's leaves are B's inner nodes, and for even p no rank sends or receives in both trees in
        # the same round
        other = (lambda i: p - 1 - i)
        up = _merge(_binary_tree(p, lambda i: i, 0, half, True),
                    _binary_tree(p, other, half, count - half, True))
        down = _merge(_binary_tree(p, lambda i: i, 0, half, False),
                      _binary_tree(p, other, half, count - half, False))
        steps = up + down
    else:                                                     # hierarchical
        g, m = ranks_per_node, p // ranks_per_node
        nodes = [list(range(k * g, (k + 1) * g)) for k in range(m)]
        b = _bounds(0, count, g)
        intra_rs = _merge(*(_ring_reduce_scatter(nd, 0, count) for nd in nodes))
        inter = _merge(*(_ring_reduce_scatter([k * g + i for k in range(m)], b[i], b[i + 1] - b[i])
                         + _ring_allgather([k * g + i for k in range(m)], b[i], b[i + 1] - b[i])
                         for i in range(g)))
        intra_ag = _merge(*(_ring_allgather(nd, 0, count) for nd in nodes))
        steps = intra_rs + inter + intra_ag

    steps = [s for s in steps if s]
    flat = [m for s in steps for m in s]
    cols = np.array(flat, dtype=np.int64).reshape(-1, 6)
    starts = np.cumsum([0] + [len(s) for s in steps]).astype(np.int64)
    return Schedule(op, algorithm, p, count, buf_len, starts, *(cols[:, i].copy() for i in range(6)))


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
                raise ValueError(f"mismatched buffers: rank {r} has {n} elements, rank 0 has "
                                 f"{lengths[0]}; every rank must pass the same count")
    x = np.asarray(inputs)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"inputs must have shape (n_ranks, count) with both >= 1, got {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise TypeError(f"inputs must be real numbers, got dtype {x.dtype}")
    return x


def execute(op: str, algorithm: str, inputs, root: int = 0,
            ranks_per_node: int | None = None) -> tuple[list[np.ndarray], Schedule]:
    """Run ``op`` with ``algorithm`` on the ranks' ``inputs``: shape (n_ranks, count), or a list of
    ``n_ranks`` 1-D buffers of equal length.

    Returns each rank's result (a list: broadcast/allreduce/allgather/alltoall give every rank an
    array; reduce gives the root the sum and the others ``None``; reduce_scatter gives rank r its
    chunk of the sum, chunks split as evenly as possible) and the schedule that produced it.
    """
    x = _check_inputs(inputs)
    p, count = x.shape
    sched = schedule(op, algorithm, p, count, root, ranks_per_node)
    dtype = np.result_type(x.dtype, np.float64) if x.dtype.kind != "f" else x.dtype
    buf = np.zeros((p, sched.buf_len), dtype=dtype)
    if op == "allgather":
        for r in range(p):
            buf[r, r * count:(r + 1) * count] = x[r]
    else:
        buf[:, :count] = x
    tmp = np.empty(max(int(sched.length.sum()), 1), dtype=dtype)
    _run_schedule(buf, sched.step_start, sched.src, sched.dst, sched.src_off, sched.dst_off,
                  sched.length, sched.reduce, tmp)
    if op == "reduce":
        out = [buf[r].copy() if r == root else None for r in range(p)]
    elif op == "reduce_scatter":
        b = _bounds(0, count, p)
        out = [buf[r, b[r]:b[r + 1]].copy() for r in range(p)]
    elif op == "alltoall":
        out = [buf[r, count:].copy() for r in range(p)]
        for r in range(p):                       # a rank's own block never crosses the network
            blk = count // p
            out[r][r * blk:(r + 1) * blk] = x[r, r * blk:(r + 1) * blk]
    else:
        out = [buf[r].copy() for r in range(p)]
    return out, sched


def reference(op: str, inputs, root: int = 0) -> list[np.ndarray]:
    """What each rank must end with, computed directly with numpy (the tests' oracle)."""
    x = _check_inputs(inputs)
    p, count = x.shape
    total = x.sum(axis=0)
    if op == "broadcast":
        return [x[root].copy() for _ in range(p)]
    if op == "reduce":
        return [total if r == root else None for r in range(p)]
    if op == "allreduce":
        return [total.copy() for _ in range(p)]
    if op == "allgather":
        return [x.reshape(-1).copy() for _ in range(p)]
    if op == "reduce_scatter":
        return [c.copy() for c in np.array_split(total, p)]
    if op == "alltoall":
        blocks = x.reshape(p, p, count // p)          # [src, dst, :]
        return [blocks[:, r, :].reshape(-1).copy() for r in range(p)]
    raise ValueError(f"op must be one of {OPS}, got {op!r}")


# ----------------------------------------------------------------------------------------------
# timing


def step_times(sched: Schedule, topo: tp.Topology, alpha_s: float, itemsize_bytes: int = 4,
               gamma_s_per_byte: float = 0.0) -> np.ndarray:
    """Time of each step (seconds) of ``sched`` with rank r on ``topo.gpus[r]``.

    A step costs ``alpha_s`` + the time its most loaded directed link needs to carry the step's
    bytes (messages routed over all shortest paths, so concurrent messages share links) +
    ``gamma_s_per_byte`` times the bytes reduced by the busiest rank.
    """
    if not isinstance(sched, Schedule):
        raise TypeError(f"sched must be a Schedule, got {type(sched).__name__}")
    if not isinstance(topo, tp.Topology):
        raise TypeError(f"topo must be a Topology, got {type(topo).__name__}")
    if sched.n_ranks > topo.n_gpus:
        raise ValueError(f"{sched.n_ranks} ranks do not fit on {topo.name} ({topo.n_gpus} GPUs)")
    alpha = check_float("alpha_s", alpha_s, minimum=0)
    gamma = check_float("gamma_s_per_byte", gamma_s_per_byte, minimum=0)
    item = check_int("itemsize_bytes", itemsize_bytes, minimum=1)
    router = tp.Router(topo)
    gpus = topo.gpus
    times = np.empty(sched.n_steps)
    for k in range(sched.n_steps):
        sl = slice(sched.step_start[k], sched.step_start[k + 1])
        nbytes = sched.length[sl] * item
        flows = [(gpus[s], gpus[d], float(b)) for s, d, b in zip(sched.src[sl], sched.dst[sl], nbytes)
                 if b > 0]
        reduced = np.bincount(sched.dst[sl], weights=nbytes * sched.reduce[sl],
                              minlength=sched.n_ranks)
        times[k] = alpha + router.drain_time_s(flows) + gamma * reduced.max()
    return times


def simulate_time(op: str, algorithm: str, topo: tp.Topology, n_ranks: int, msg_bytes: int,
                  alpha_s: float, gamma_s_per_byte: float = 0.0, itemsize_bytes: int = 4,
                  ranks_per_node: int | None = None) -> float:
    """Total time (seconds) of the executed schedule of ``op`` on ``topo`` for ``msg_bytes``
    (the ``n`` of :func:`aichip.alphabeta.cost`; a multiple of ``itemsize_bytes``)."""
    n_ranks = check_int("n_ranks", n_ranks, minimum=1)
    msg_bytes = check_int("msg_bytes", msg_bytes, minimum=1)
    item = check_int("itemsize_bytes", itemsize_bytes, minimum=1)
    if msg_bytes % item:
        raise ValueError(f"msg_bytes ({msg_bytes}) must be a multiple of itemsize_bytes ({item})")
    elems = msg_bytes // item
    if op == "allgather":
        if elems % n_ranks:
            raise ValueError(f"allgather msg_bytes must split into {n_ranks} equal blocks")
        elems //= n_ranks
    sched = schedule(op, algorithm, n_ranks, elems, 0, ranks_per_node)
    return float(step_times(sched, topo, alpha_s, item, gamma_s_per_byte).sum())
