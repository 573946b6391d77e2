"""Collective operations and their algorithms as data.

Every operation is one :class:`OpSpec` record (its buffer layout, its NumPy reference, its
bus-bandwidth factor, its MPI call) and every (operation, algorithm) pair is one
:class:`AlgorithmSpec` record (its schedule builder, its closed-form cost, its rank-count rule, its
extra parameters). :func:`aichip.collectives.schedule`, :func:`~aichip.collectives.execute`,
:func:`~aichip.collectives.reference`, :func:`aichip.alphabeta.cost`, :mod:`aichip.mpibench`, the
chapter-9 explorers and the parametrised tests all read these records, so adding an operation or
an algorithm is one record and one builder (:func:`register_operation`,
:func:`register_algorithm`).

A builder returns a list of steps; a step is a list of messages
``(src, dst, src_off, dst_off, length, reduce)`` in elements of the ranks' working buffers. A cost
function takes ``(p, n, alpha, beta, gamma, **params)`` with ``n`` in bytes and returns seconds.
This module is pure Python (no numba) so that the cost model can be used without the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .validation import check_choice, check_int

__all__ = [
    "OpSpec", "Param", "AlgorithmSpec", "OPERATIONS", "REGISTRY", "register_operation",
    "register_algorithm", "op_spec", "algorithm_spec", "check_params", "bounds", "merge",
    "tree_pipeline_period", "pipeline", "build_binomial", "build_binary_tree",
    "build_pipelined_tree", "build_reduce_rabenseifner", "build_alltoall_pairwise",
    "build_allreduce_recursive_doubling", "build_allreduce_double_binary_tree",
    "build_allreduce_pipelined_double_binary_tree", "build_allreduce_hierarchical",
    "binary_tree_rounds", "CHUNKS", "RANKS_PER_NODE",
]

# ----------------------------------------------------------------------------------------------
# records


class OpSpec(NamedTuple):
    """One collective operation.

    ``count`` is what :func:`aichip.collectives.schedule` takes: the vector length for allreduce,
    reduce, reduce_scatter and broadcast, each rank's block for allgather, each rank's send buffer
    for alltoall. ``n`` (bytes, the nccl-tests "size") is ``count * size_blocks(p)`` elements.
    """

    name: str
    description: str
    buf_len: Callable[[int, int], int]          # (p, count) -> working-buffer length (elements)
    input_offset: Callable[[int, int], int]     # (rank, count) -> where its input starts
    result: Callable                            # (buf, x, root) -> list of per-rank results
    reference: Callable                         # (x, root) -> list of per-rank results (NumPy)
    bus_factor: Callable[[int], float]          # p -> busbw / algbw (nccl-tests)
    size_blocks: Callable[[int], int]           # p -> n / count (allgather: p; others 1)
    count_multiple_of_ranks: bool               # count must be a multiple of p (alltoall)
    rooted: bool                                # takes a root rank
    mpi_call: Callable                          # (comm, send, recv) -> None, root 0
    mpi_recv_len: Callable[[int, int], int]     # (count, p) -> receive buffer length (0: none)
    mpi_send_len: Callable[[int, int], int]     # (count, p) -> send buffer length
    mpi_count_multiple_of_ranks: bool = False   # the MPI call needs equal blocks


class Param(NamedTuple):
    """An extra parameter of an algorithm: an integer >= ``minimum``; ``default`` None means
    required; ``rule(p, value)`` returns why ``value`` is refused for ``p`` ranks, or None."""

    name: str
    description: str
    default: int | None = None
    minimum: int = 1
    rule: Callable[[int, int], str | None] | None = None


class AlgorithmSpec(NamedTuple):
    """One algorithm of one operation."""

    op: str
    name: str
    builder: Callable                 # (p, count, root, **params) -> list of steps
    cost: Callable                    # (p, n, alpha, beta, gamma, **params) -> seconds
    formula: str                      # the closed form, for tables
    rank_rule: Callable[[int], str | None] = lambda p: None
    params: tuple = ()
    mpich: dict | None = None         # MPICH CVARs that force this algorithm (None: cannot)
    roots: bool = True                # accepts any root (rooted ops)
    vector_parts: int = 1             # parts the vector is split into before chunking


OPERATIONS: dict[str, OpSpec] = {}
REGISTRY: dict[str, dict[str, AlgorithmSpec]] = {}


def register_operation(spec: OpSpec) -> OpSpec:
    """Add an operation (it then has no algorithms until :func:`register_algorithm`)."""
    OPERATIONS[spec.name] = spec
    REGISTRY.setdefault(spec.name, {})
    return spec


def register_algorithm(spec: AlgorithmSpec) -> AlgorithmSpec:
    """Add an algorithm of a registered operation."""
    if spec.op not in OPERATIONS:
        raise ValueError(f"op {spec.op!r} is not registered; register_operation first")
    REGISTRY[spec.op][spec.name] = spec
    return spec


def op_spec(op: str) -> OpSpec:
    """The record of ``op``; ValueError naming the allowed ops otherwise."""
    check_choice("op", op, tuple(OPERATIONS))
    return OPERATIONS[op]


def algorithm_spec(op: str, algorithm: str) -> AlgorithmSpec:
    """The record of ``(op, algorithm)``; ValueError naming the allowed algorithms otherwise."""
    op_spec(op)
    check_choice("algorithm", algorithm, tuple(REGISTRY[op]))
    return REGISTRY[op][algorithm]


def check_params(spec: AlgorithmSpec, n_ranks: int, params: dict) -> dict:
    """Validate ``n_ranks`` against the algorithm's rule and ``params`` against its parameters;
    return the parameters with defaults filled in."""
    why = spec.rank_rule(n_ranks)
    if why:
        raise ValueError(f"{spec.name} {spec.op} {why}, got n_ranks={n_ranks}")
    known = {q.name for q in spec.params}
    for key in params:
        if key not in known:
            raise ValueError(f"{key} applies only to algorithms that take it, not to {spec.name} "
                             f"{spec.op} (whose parameters are {sorted(known) or 'none'})")
    out = {}
    for q in spec.params:
        value = params.get(q.name, q.default)
        if value is None:
            raise ValueError(f"{spec.name} needs {q.name} ({q.description})")
        value = check_int(q.name, value, minimum=q.minimum)
        why = q.rule(n_ranks, value) if q.rule else None
        if why:
            raise ValueError(f"{q.name} {why}, got {q.name}={value} with n_ranks={n_ranks}")
        out[q.name] = value
    return out


# ----------------------------------------------------------------------------------------------
# schedule building blocks (lists of steps, a step being a list of message tuples)


def bounds(start: int, length: int, parts: int) -> list[int]:
    """Split ``[start, start+length)`` into ``parts`` nearly equal chunks; return the boundaries."""
    base, extra = divmod(length, parts)
    return [start + i * base + min(i, extra) for i in range(parts + 1)]


def _ring(group, start, length, reduce):
    """One pass around the ring ``group`` over ``[start, start+length)`` in ``len(group)`` chunks.

    ``reduce=1``: reduce-scatter; member q sends chunk q-s-1 at step s and ends with chunk q
    summed. ``reduce=0``: all-gather; member q starts with chunk q and sends chunk q-s at step s.
    """
    k = len(group)
    b = bounds(start, length, k)
    steps = []
    for s in range(k - 1):
        msgs = []
        for q in range(k):
            c = (q - s - reduce) % k
            msgs.append((group[q], group[(q + 1) % k], b[c], b[c], b[c + 1] - b[c], reduce))
        steps.append(msgs)
    return steps


def _halving_reduce_scatter(p, count):
    """Recursive halving: after log2 p steps rank r holds chunk r reduced (p a power of two)."""
    b = bounds(0, count, p)
    steps = []
    d = p // 2
    while d >= 1:
        msgs = []
        for r in range(p):
            lo = (r // (2 * d)) * 2 * d            # first chunk of the range both still share
            send_lo = lo + d if r & d == 0 else lo  # send the half that holds the partner's chunks
            msgs.append((r, r ^ d, b[send_lo], b[send_lo], b[send_lo + d] - b[send_lo], 1))
        steps.append(msgs)
        d //= 2
    return steps


def _doubling_allgather(p, count):
    """Recursive doubling all-gather of chunks: rank r starts with chunk r (p a power of two)."""
    b = bounds(0, count, p)
    steps = []
    d = 1
    while d < p:
        steps.append([(r, r ^ d, b[(r // d) * d], b[(r // d) * d],
                       b[(r // d) * d + d] - b[(r // d) * d], 0) for r in range(p)])
        d *= 2
    return steps


def _binomial(p, root, count, reduce):
    """Binomial tree rooted at ``root``: broadcast (reduce=0) or reduce (reduce=1)."""
    steps = []
    d = 1
    while d < p:
        steps.append([((v + root) % p, (v + d + root) % p, 0, 0, count, 0)
                      for v in range(d) if v + d < p])
        d *= 2
    if reduce:                                    # the same tree, run backwards, adding
        steps = [[(b, a, 0, 0, n, 1) for a, b, _, _, n, _ in msgs] for msgs in steps[::-1]]
    return steps


def _binary_tree(p, rank_of, start, length, reduce):
    """Heap-ordered binary tree (node i has children 2i+1, 2i+2), node i played by rank_of(i).

    Broadcast: level by level, each parent sends to its left child, then to its right child.
    Reduce: the same rounds backwards, children adding into their parent."""
    rounds = []
    for level in range(1, p.bit_length()):
        first, last = 2 ** level - 1, min(2 ** (level + 1) - 2, p - 1)
        for side in (1, 2):                      # left children are odd, right children even
            kids = [i for i in range(first, last + 1) if (i - side) % 2 == 0]
            if kids:
                rounds.append([(rank_of((i - 1) // 2), rank_of(i), start, start, length, 0)
                               for i in kids])
    if reduce:
        rounds = [[(b, a, so, do, n, 1) for a, b, so, do, n, _ in msgs] for msgs in rounds[::-1]]
    return rounds


def merge(*phases):
    """Run several step lists side by side (step k of each in the same step)."""
    n = max((len(ph) for ph in phases), default=0)
    return [[m for ph in phases if k < len(ph) for m in ph[k]] for k in range(n)]


def tree_pipeline_period(n_ranks: int) -> int:
    """Steps between successive chunks entering a pipelined binary tree.

    An inner node receives from (or sends to) its two children in two consecutive rounds, so a new
    chunk can enter every 2 steps without any rank sending or receiving two messages in one step;
    with 2 ranks the tree is a single edge and a chunk can enter every step."""
    return 1 if check_int("n_ranks", n_ranks, minimum=1) <= 2 else 2


def pipeline(one_chunk, n_chunks: int, period: int, start: int, length: int):
    """Chunked pipeline: ``one_chunk(start, length)`` is the step list for one region; chunk j of
    ``[start, start+length)`` runs its round r at step ``r + period * j``."""
    b = bounds(start, length, n_chunks)
    per = [one_chunk(b[j], b[j + 1] - b[j]) for j in range(n_chunks)]
    n_steps = max((len(ph) + period * j for j, ph in enumerate(per)), default=0)
    steps = [[] for _ in range(n_steps)]
    for j, ph in enumerate(per):
        for r, msgs in enumerate(ph):
            steps[r + period * j].extend(msgs)
    return steps


# ----------------------------------------------------------------------------------------------
# builders: (p, count, root, **params) -> steps


def _root_of(p, root):
    return lambda i: (i + root) % p


def build_binomial(reduce):
    return lambda p, count, root: _binomial(p, root, count, reduce)


def build_binary_tree(reduce):
    return lambda p, count, root: _binary_tree(p, _root_of(p, root), 0, count, reduce)


def build_pipelined_tree(phases):
    """Pipelined (chunked) binary tree: ``phases`` is (True,) for reduce, (False,) for broadcast,
    (True, False) for all-reduce (reduce up the tree, then broadcast down)."""
    def build(p, count, root, chunks):
        period = tree_pipeline_period(p)
        steps = []
        for reduce in phases:
            def tree(s, n, red=reduce):
                return _binary_tree(p, _root_of(p, root), s, n, red)
            steps += pipeline(tree, chunks, period, 0, count)
        return steps
    return build


def build_reduce_rabenseifner(p, count, root):
    """Recursive halving reduce-scatter, then a binomial gather of the chunks to rank 0."""
    b = bounds(0, count, p)
    gather, d = [], 1
    while d < p:
        gather.append([(r, r - d, b[r], b[r], b[r + d] - b[r], 0) for r in range(d, p, 2 * d)])
        d *= 2
    return _halving_reduce_scatter(p, count) + gather


def build_alltoall_pairwise(p, count, root):
    """Step k: rank r sends its block for rank r+k into that rank's receive half."""
    blk = count // p
    return [[(r, (r + k) % p, ((r + k) % p) * blk, count + r * blk, blk, 0) for r in range(p)]
            for k in range(1, p)]


def build_allreduce_recursive_doubling(p, count, root):
    steps, d = [], 1
    while d < p:
        steps.append([(r, r ^ d, 0, 0, count, 1) for r in range(p)])
        d *= 2
    return steps


def _two_trees(p, start, length, reduce):
    """Both trees of the double binary tree, each on its half of ``[start, start+length)``.

    Tree B plays node i on rank p-1-i (the mirror image, Sanders, Speck and Traeff 2009): A's
    leaves are B's inner nodes, and for even p no rank sends or receives in both trees in the
    same round."""
    half = length // 2
    return merge(_binary_tree(p, lambda i: i, start, half, reduce),
                 _binary_tree(p, lambda i: p - 1 - i, start + half, length - half, reduce))


def build_allreduce_double_binary_tree(p, count, root):
    return _two_trees(p, 0, count, True) + _two_trees(p, 0, count, False)


def build_allreduce_pipelined_double_binary_tree(p, count, root, chunks):
    """Each half of the vector cut into ``chunks`` pieces that follow each other up (reduce) and
    then down (broadcast) their tree, a new piece every :func:`tree_pipeline_period` steps; the
    mirrored trees keep every rank to one send and one receive per step (the tests check it)."""
    half = count // 2
    period = tree_pipeline_period(p)
    steps = []
    for reduce in (True, False):
        a = pipeline(lambda s, n, red=reduce: _binary_tree(p, lambda i: i, s, n, red),
                     chunks, period, 0, half)
        b = pipeline(lambda s, n, red=reduce: _binary_tree(p, lambda i: p - 1 - i, s, n, red),
                     chunks, period, half, count - half)
        steps += merge(a, b)
    return steps


def build_allreduce_hierarchical(p, count, root, ranks_per_node):
    """Ring reduce-scatter inside each node; ring all-reduce of each chunk across the nodes (one
    ring per local rank, a "rail"); ring all-gather inside each node."""
    g, m = ranks_per_node, p // ranks_per_node
    nodes = [list(range(k * g, (k + 1) * g)) for k in range(m)]
    b = bounds(0, count, g)
    rails = [[k * g + i for k in range(m)] for i in range(g)]
    return (merge(*(_ring(nd, 0, count, 1) for nd in nodes))
            + merge(*(_ring(rails[i], b[i], b[i + 1] - b[i], 1)
                      + _ring(rails[i], b[i], b[i + 1] - b[i], 0) for i in range(g)))
            + merge(*(_ring(nd, 0, count, 0) for nd in nodes)))


# ----------------------------------------------------------------------------------------------
# closed-form costs: (p, n, a, b, c, **params) -> seconds.  L = log2 p, C = ceil(log2 p),
# S = binary_tree_rounds(p), f = (p-1)/p


def binary_tree_rounds(n_ranks: int) -> int:
    """``S(p)``: sending rounds of a heap-ordered binary tree, left child first then right."""
    p = check_int("n_ranks", n_ranks, minimum=1)
    if p == 1:
        return 0
    depth = p.bit_length() - 1          # floor(log2 p)
    return 2 * depth if p > 2 ** depth else 2 * depth - 1


def _log2(p):
    return math.log2(p)


def _ceil_log2(p):
    return (p - 1).bit_length()


def _pipelined_tree_steps(p, chunks):
    """Steps of one pipelined tree phase: S(p) for the first chunk, then one period per chunk."""
    return binary_tree_rounds(p) + tree_pipeline_period(p) * (chunks - 1) if p > 1 else 0


def _power_of_two(p):
    return None if p & (p - 1) == 0 else ("needs a power-of-two n_ranks (it pairs rank r with "
                                          "r XOR 2^k); use ring or a tree for other counts")


def _even(p):
    return None if p % 2 == 0 else ("needs an even n_ranks (its second tree mirrors the first, "
                                    "rank p-1-i; for odd p ranks collide)")


def _divides(p, g):
    return None if g <= p and p % g == 0 else "must divide n_ranks"


CHUNKS = Param("chunks", "pieces the vector is cut into for the pipeline (<= count)", 8)
RANKS_PER_NODE = Param("ranks_per_node", "ranks in one node", None, 1, _divides)


# ----------------------------------------------------------------------------------------------
# operations


def _same_for_all(buf, x, root):
    return [row.copy() for row in buf]


def _reduce_result(buf, x, root):
    return [buf[r].copy() if r == root else None for r in range(len(buf))]


def _reduce_scatter_result(buf, x, root):
    p, count = x.shape
    b = bounds(0, count, p)
    return [buf[r, b[r]:b[r + 1]].copy() for r in range(p)]


def _alltoall_result(buf, x, root):
    p, count = x.shape
    blk = count // p
    out = [buf[r, count:].copy() for r in range(p)]
    for r in range(p):                           # a rank's own block never crosses the network
        out[r][r * blk:(r + 1) * blk] = x[r, r * blk:(r + 1) * blk]
    return out


def _alltoall_reference(x, root):
    p, count = x.shape
    blocks = x.reshape(p, p, count // p)         # [src, dst, :]
    return [blocks[:, r, :].reshape(-1).copy() for r in range(x.shape[0])]


def _mpi_allreduce(comm, send, recv):
    comm.Allreduce(send, recv)


def _mpi_reduce(comm, send, recv):
    comm.Reduce(send, recv, root=0)


def _mpi_bcast(comm, send, recv):
    comm.Bcast(send, root=0)


def _mpi_allgather(comm, send, recv):
    comm.Allgather(send, recv)


def _mpi_reduce_scatter(comm, send, recv):
    comm.Reduce_scatter_block(send, recv)


def _mpi_alltoall(comm, send, recv):
    comm.Alltoall(send, recv)


def _one(p):
    return 1.0


def _f(p):
    return (p - 1) / p


for _spec in (
    OpSpec("broadcast", "the root's vector ends up on every rank",
           lambda p, c: c, lambda r, c: 0, _same_for_all,
           lambda x, root: [x[root].copy() for _ in range(x.shape[0])],
           _one, lambda p: 1, False, True, _mpi_bcast, lambda c, p: 0, lambda c, p: c),
    OpSpec("reduce", "the element-wise sum ends up on the root",
           lambda p, c: c, lambda r, c: 0, _reduce_result,
           lambda x, root: [x.sum(axis=0) if r == root else None for r in range(x.shape[0])],
           _one, lambda p: 1, False, True, _mpi_reduce, lambda c, p: c, lambda c, p: c),
    OpSpec("allgather", "every rank ends up with every rank's block",
           lambda p, c: p * c, lambda r, c: r * c, _same_for_all,
           lambda x, root: [x.reshape(-1).copy() for _ in range(x.shape[0])],
           _f, lambda p: p, False, False, _mpi_allgather, lambda c, p: c * p, lambda c, p: c),
    OpSpec("reduce_scatter", "rank r ends up with chunk r of the sum",
           lambda p, c: c, lambda r, c: 0, _reduce_scatter_result,
           lambda x, root: [c.copy() for c in np.array_split(x.sum(axis=0), x.shape[0])],
           _f, lambda p: 1, False, False, _mpi_reduce_scatter, lambda c, p: c // p,
           lambda c, p: c, True),
    OpSpec("allreduce", "the sum ends up on every rank",
           lambda p, c: c, lambda r, c: 0, _same_for_all,
           lambda x, root: [x.sum(axis=0) for _ in range(x.shape[0])],
           lambda p: 2 * (p - 1) / p, lambda p: 1, False, False, _mpi_allreduce,
           lambda c, p: c, lambda c, p: c),
    OpSpec("alltoall", "block j of rank i ends up as block i of rank j",
           lambda p, c: 2 * c, lambda r, c: 0, _alltoall_result, _alltoall_reference,
           _f, lambda p: 1, True, False, _mpi_alltoall, lambda c, p: c, lambda c, p: c, True),
):
    register_operation(_spec)


# ----------------------------------------------------------------------------------------------
# algorithms


def _ring_rs_cost(p, n, a, b, c):
    return (p - 1) * a + _f(p) * n * (b + c)


def _pipelined_tree_cost(phases):
    def cost(p, n, a, b, c, chunks):
        t = _pipelined_tree_steps(p, chunks)
        return sum(t * (a + n / chunks * (b + (c if red else 0.0))) for red in phases)
    return cost


def _hierarchical_cost(p, n, a, b, c, ranks_per_node):
    g = ranks_per_node
    m = p // g
    intra = 2 * (g - 1) * a + 2 * (g - 1) / g * n * b + (g - 1) / g * n * c
    inter = 2 * (m - 1) * (a + n / p * b) + (m - 1) * n / p * c
    return intra + inter


_RS = "reduce_scatter_allgather"
for _spec in (
    AlgorithmSpec("broadcast", "binomial_tree", build_binomial(False),
                  lambda p, n, a, b, c: _ceil_log2(p) * (a + n * b), "C (alpha + n beta)",
                  mpich={"MPIR_CVAR_BCAST_INTRA_ALGORITHM": "binomial"}),
    AlgorithmSpec("broadcast", "binary_tree", build_binary_tree(False),
                  lambda p, n, a, b, c: binary_tree_rounds(p) * (a + n * b),
                  "S(p) (alpha + n beta)"),
    AlgorithmSpec("broadcast", "pipelined_tree", build_pipelined_tree((False,)),
                  _pipelined_tree_cost((False,)), "(S(p) + P(k-1)) (alpha + n/k beta)",
                  params=(CHUNKS,)),
    AlgorithmSpec("reduce", "binomial_tree", build_binomial(True),
                  lambda p, n, a, b, c: _ceil_log2(p) * (a + n * b + n * c),
                  "C (alpha + n beta + n gamma)",
                  mpich={"MPIR_CVAR_REDUCE_INTRA_ALGORITHM": "binomial"}),
    AlgorithmSpec("reduce", "binary_tree", build_binary_tree(True),
                  lambda p, n, a, b, c: binary_tree_rounds(p) * (a + n * b + n * c),
                  "S(p) (alpha + n beta + n gamma)"),
    AlgorithmSpec("reduce", "pipelined_tree", build_pipelined_tree((True,)),
                  _pipelined_tree_cost((True,)), "(S(p) + P(k-1)) (alpha + n/k (beta + gamma))",
                  params=(CHUNKS,)),
    AlgorithmSpec("reduce", "rabenseifner", build_reduce_rabenseifner,
                  lambda p, n, a, b, c: 2 * _log2(p) * a + 2 * _f(p) * n * b + _f(p) * n * c,
                  "2 L alpha + 2 (p-1)/p n beta + (p-1)/p n gamma", _power_of_two,
                  mpich={"MPIR_CVAR_REDUCE_INTRA_ALGORITHM": "reduce_scatter_gather"},
                  roots=False),
    AlgorithmSpec("allgather", "ring",
                  lambda p, count, root: _ring(list(range(p)), 0, p * count, 0),
                  lambda p, n, a, b, c: (p - 1) * a + _f(p) * n * b,
                  "(p-1) alpha + (p-1)/p n beta",
                  mpich={"MPIR_CVAR_ALLGATHER_INTRA_ALGORITHM": "ring"}),
    AlgorithmSpec("allgather", "recursive_doubling",
                  lambda p, count, root: _doubling_allgather(p, p * count),
                  lambda p, n, a, b, c: _log2(p) * a + _f(p) * n * b,
                  "L alpha + (p-1)/p n beta", _power_of_two,
                  mpich={"MPIR_CVAR_ALLGATHER_INTRA_ALGORITHM": "recursive_doubling"}),
    AlgorithmSpec("reduce_scatter", "ring",
                  lambda p, count, root: _ring(list(range(p)), 0, count, 1),
                  _ring_rs_cost, "(p-1) alpha + (p-1)/p n (beta + gamma)"),
    AlgorithmSpec("reduce_scatter", "recursive_halving",
                  lambda p, count, root: _halving_reduce_scatter(p, count),
                  lambda p, n, a, b, c: _log2(p) * a + _f(p) * n * (b + c),
                  "L alpha + (p-1)/p n (beta + gamma)", _power_of_two,
                  mpich={"MPIR_CVAR_REDUCE_SCATTER_BLOCK_INTRA_ALGORITHM": "recursive_halving"}),
    AlgorithmSpec("allreduce", "ring",
                  lambda p, count, root: (_ring(list(range(p)), 0, count, 1)
                                          + _ring(list(range(p)), 0, count, 0)),
                  lambda p, n, a, b, c: 2 * (p - 1) * a + 2 * _f(p) * n * b + _f(p) * n * c,
                  "2 (p-1) alpha + 2 (p-1)/p n beta + (p-1)/p n gamma",
                  mpich={"MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM": "ring"}),
    AlgorithmSpec("allreduce", "recursive_doubling", build_allreduce_recursive_doubling,
                  lambda p, n, a, b, c: _log2(p) * (a + n * b + n * c),
                  "L (alpha + n beta + n gamma)", _power_of_two,
                  mpich={"MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM": "recursive_doubling"}),
    AlgorithmSpec("allreduce", "rabenseifner",
                  lambda p, count, root: (_halving_reduce_scatter(p, count)
                                          + _doubling_allgather(p, count)),
                  lambda p, n, a, b, c: 2 * _log2(p) * a + 2 * _f(p) * n * b + _f(p) * n * c,
                  "2 L alpha + 2 (p-1)/p n beta + (p-1)/p n gamma", _power_of_two,
                  mpich={"MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM": _RS}),
    AlgorithmSpec("allreduce", "binary_tree",
                  lambda p, count, root: (_binary_tree(p, lambda i: i, 0, count, True)
                                          + _binary_tree(p, lambda i: i, 0, count, False)),
                  lambda p, n, a, b, c: (2 * binary_tree_rounds(p) * (a + n * b)
                                         + binary_tree_rounds(p) * n * c),
                  "2 S(p) (alpha + n beta) + S(p) n gamma"),
    AlgorithmSpec("allreduce", "pipelined_tree", build_pipelined_tree((True, False)),
                  _pipelined_tree_cost((True, False)),
                  "2 (S(p) + P(k-1)) (alpha + n/k beta) + (S(p) + P(k-1)) n/k gamma",
                  params=(CHUNKS,),
                  mpich={"MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM": "tree",
                         "MPIR_CVAR_ALLREDUCE_TREE_TYPE": "kary",
                         "MPIR_CVAR_ALLREDUCE_TREE_KVAL": "2"}),
    AlgorithmSpec("allreduce", "double_binary_tree", build_allreduce_double_binary_tree,
                  lambda p, n, a, b, c: (2 * binary_tree_rounds(p) * (a + n / 2 * b)
                                         + binary_tree_rounds(p) * n / 2 * c),
                  "2 S(p) (alpha + n/2 beta) + S(p) n/2 gamma", _even),
    AlgorithmSpec("allreduce", "pipelined_double_binary_tree",
                  build_allreduce_pipelined_double_binary_tree,
                  lambda p, n, a, b, c, chunks: _pipelined_tree_cost((True, False))(
                      p, n / 2, a, b, c, chunks),
                  "2 (S(p) + P(k-1)) (alpha + n/(2k) beta) + (S(p) + P(k-1)) n/(2k) gamma",
                  _even, params=(CHUNKS,), vector_parts=2),
    AlgorithmSpec("allreduce", "hierarchical", build_allreduce_hierarchical, _hierarchical_cost,
                  "ring inside nodes of g ranks, ring across p/g nodes", params=(RANKS_PER_NODE,)),
    AlgorithmSpec("alltoall", "pairwise", build_alltoall_pairwise,
                  lambda p, n, a, b, c: (p - 1) * (a + n / p * b), "(p-1) (alpha + n/p beta)",
                  mpich={"MPIR_CVAR_ALLTOALL_INTRA_ALGORITHM": "pairwise"}),
):
    register_algorithm(_spec)
