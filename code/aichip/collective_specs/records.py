"""The two kinds of record, the registry that holds them, and the checks that read them.

An operation is an :class:`OpSpec`, an (operation, algorithm) pair an :class:`AlgorithmSpec`; both
are frozen and take keyword arguments only, every callable a named function of
:mod:`.operations`, :mod:`.schedules` or :mod:`.costs`. Functions of the buffer layout take
``(p, count)`` first, ``p`` the rank count and ``count`` what
:func:`aichip.collectives.schedule` takes; cost functions take ``(p, n, alpha, beta, gamma)``
with ``n`` in bytes, then the algorithm's extra parameters by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..validation import check_choice, check_int

__all__ = ["OPERATIONS", "REGISTRY", "AlgorithmSpec", "OpSpec", "Param", "algorithm_spec",
           "any_rank_count", "check_params", "op_spec", "register_algorithm",
           "register_operation"]


@dataclass(frozen=True, kw_only=True)
class OpSpec:
    """One collective operation.

    ``count`` is what :func:`aichip.collectives.schedule` takes: the vector length for allreduce,
    reduce, reduce_scatter and broadcast, each rank's block for allgather, each rank's send buffer
    for alltoall. ``n`` (bytes, the nccl-tests "size") is ``count * size_blocks(p)`` elements.

    Attributes
    ----------
    name : str
    buf_len : (p, count) -> int, every rank's working-buffer length (elements)
    input_offset : (p, count, rank) -> int, where ``rank``'s input starts in its buffer
    result : (buf, x, root) -> list, each rank's result read from the final buffers
        ``buf`` (p, buf_len) given the inputs ``x`` (p, count)
    reference : (x, root) -> list, each rank's result computed with NumPy (the tests' oracle)
    bus_factor : p -> float, busbw / algbw as nccl-tests reports it
    size_blocks : p -> int, ``n / count`` in elements (allgather: p; the others 1)
    mpi_call : (comm, send, recv) -> None, the mpi4py call (root 0)
    mpi_recv_elements : (p, count) -> int, the MPI receive buffer's length (0: none)
    count_multiple_of_ranks : bool, ``count`` must be a multiple of ``p`` (alltoall)
    rooted : bool, takes a root rank
    mpi_count_multiple_of_ranks : bool, the MPI call needs equal blocks
    """

    name: str
    buf_len: Callable[[int, int], int]
    input_offset: Callable[[int, int, int], int]
    result: Callable
    reference: Callable
    bus_factor: Callable[[int], float]
    size_blocks: Callable[[int], int]
    mpi_call: Callable
    mpi_recv_elements: Callable[[int, int], int]
    count_multiple_of_ranks: bool = False
    rooted: bool = False
    mpi_count_multiple_of_ranks: bool = False

    @property
    def mpi_recv_len(self) -> Callable[[int, int], int]:
        """:attr:`mpi_recv_elements` with the argument order it had before the rename,
        ``(count, p)``; kept so that callers written against that order still work."""
        elements = self.mpi_recv_elements

        def count_then_ranks(count: int, p: int) -> int:
            return elements(p, count)

        return count_then_ranks


@dataclass(frozen=True, kw_only=True)
class Param:
    """An extra parameter of an algorithm: an integer >= ``minimum``; ``default`` None means
    required; ``rule(p, value)`` returns why ``value`` is refused for ``p`` ranks, or None."""

    name: str
    description: str
    default: int | None = None
    minimum: int = 1
    rule: Callable[[int, int], str | None] | None = None


def any_rank_count(p: int) -> None:
    """The rank rule of an algorithm that runs on any number of ranks: no objection."""
    return None


@dataclass(frozen=True, kw_only=True)
class AlgorithmSpec:
    """One algorithm of one operation.

    Attributes
    ----------
    op, name : str
    builder : (p, count, root, **params) -> list of steps, a step a list of messages
        ``(src, dst, src_off, dst_off, length, reduce)`` in elements of the working buffers
    cost : (p, n, alpha, beta, gamma, **params) -> seconds, the closed form (``n`` in bytes)
    formula : str, ``cost`` as a Python expression in the symbols of
        :data:`aichip.collective_specs.costs.SYMBOLS`; what tables show
        (:func:`~aichip.collective_specs.costs.formula_text`), and what the tests evaluate
        against ``cost`` and against the executed schedule
    rank_rule : p -> why ``p`` ranks are refused, or None
    params : tuple of :class:`Param`
    mpich : MPICH CVARs that force this algorithm (None: MPICH cannot be made to run it)
    roots : bool, accepts any root (rooted ops)
    vector_parts : int, parts the vector is split into before chunking
    in_network : bool, the builder's participant ``p`` (one past the last rank) is a switch that
        reduces what the ranks send it and multicasts what it sends (NVLink SHARP, InfiniBand
        SHARP); its working buffer starts at zero. Such an algorithm needs switch hardware, so
        :func:`aichip.alphabeta.usable_algorithms` offers it only when asked
    """

    op: str
    name: str
    builder: Callable
    cost: Callable
    formula: str
    rank_rule: Callable[[int], str | None] = any_rank_count
    params: tuple[Param, ...] = ()
    mpich: dict | None = None
    roots: bool = True
    vector_parts: int = 1
    in_network: bool = False


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
