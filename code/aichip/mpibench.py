"""MPI collective benchmark in the style of nccl-tests.

Run it under any MPI launcher, on one machine or a cluster::

    mpiexec -n 4 python -m aichip.mpibench --ops pingpong,allreduce --max-bytes 4M
    srun -N 2 --ntasks-per-node 4 python -m aichip.mpibench --json results.json

Every benchmark is a :class:`Benchmark` record: the collectives are built from the records of
:mod:`aichip.collective_specs`, the point-to-point ping-pong is a record of
:data:`POINT_TO_POINT`, and one loop runs them all. For every operation and message size it warms
up, times ``--iters`` calls (each rank's time of a call is taken after a barrier; a call's time is
the slowest rank's, divided by the messages on its path: a ping-pong's round trip is two one-way
messages), checks every element of every rank's result after every call against the record's
NumPy reference (the buffer a result lands in is filled with NaN before each call, so a call that
delivers nothing cannot pass on the previous call's data), and prints a table like nccl-tests::

    size (B)  count  time (us)  median (us)  algbw (GB/s)  busbw (GB/s)  #wrong

Rank r's element i is ``1000 (r + 1) + i mod 997`` in float64: every sum is exact, so a correct
result is bit-equal to the expected one, and every (rank, position) holds a different value.
``#wrong`` counts wrong elements over all ranks; the program exits with status 1 if any result is
wrong. Each sweep gets the alpha-beta line ``time = alpha + n * beta`` fitted to it (for the
ping-pong, the one-way time of a message of ``n`` bytes between ranks 0 and 1).

``alltoallv`` is the mixture-of-experts dispatch: ``count / 2`` tokens per rank, each routed to
its top 2 of ``2 p`` experts (2 per rank) by :mod:`aichip.moe`'s seeded router with Zipf skew
``--skew`` (0: every expert equally likely), each token copy one element; the send counts are
the same on every rank (same seed), so each rank knows what every other rank must deliver, and
every received element is checked against the sender and offset it must come from. Its table adds
the busiest rank's bytes (sent to or received from other ranks) over an even all-to-all's
(``busiest/even``) and, when ``pingpong`` ran first in the same command, the model's time: the
busiest rank's ``(p - 1) alpha + bytes * beta`` with the ping-pong's fitted alpha and beta
(:func:`alltoallv_model_us`).

``--algorithm NAME`` forces MPICH to run the book's algorithm ``NAME`` (``ring``,
``recursive_doubling``, ``rabenseifner``, ``pipelined_tree`` for all-reduce; see
:func:`mpich_environment`) through its ``MPIR_CVAR_*`` control variables, with device collectives
off and any fallback to another algorithm reported on stderr, so a measurement can be compared with
the model of the algorithm that actually ran (the header lists every ``MPIR_CVAR_*`` in force).
Other MPI libraries ignore these variables.

The launcher, the thread policy, the header, the tables, the ``#wrong`` footer, ``--json`` and the
exit status are :mod:`aichip.mpiharness`'s, shared with the book's other MPI programs. :func:`run`
launches the benchmark from Python and returns the parsed results.
"""

from __future__ import annotations

import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import cli, moe
from . import collective_specs as cs
from .cli import parse_size
from .mpiharness import (
    ITEM,
    WRONG_COLUMN,
    Column,
    add_output_arguments,
    add_sweep_arguments,
    check_launch,
    check_sweep,
    finish,
    fit_alpha_beta,
    fit_rows,
    flags,
    header,
    header_line,
    launch,
    mpiexec_path,
    run_main,
    size_sweep,
    sweep_checks,
)
from .mpiharness import table as _harness_table
from .validation import check_choice, check_float, check_int

__all__ = ["Benchmark", "POINT_TO_POINT", "BENCHMARKS", "BENCH_OPS", "TREE_CHUNK_BYTES",
           "MPICH_MIN_COUNT", "COLUMNS", "benchmark", "collective_benchmark", "forceable",
           "mpich_environment", "inputs", "buffers", "bench_op", "table", "predicted_times",
           "model_comparison", "summarize_comparison", "parse_args", "main", "run",
           "ALLTOALLV_K", "ALLTOALLV_SKEW", "ALLTOALLV_COLUMNS", "MODEL_COLUMN",
           "alltoallv_benchmark", "alltoallv_counts", "alltoallv_model_us",
           # kept for callers: they lived here before aichip.mpiharness and aichip.cli
           "ITEM", "fit_alpha_beta", "launch", "mpiexec_path", "parse_size"]

#: chunk size given to MPICH's pipelined tree all-reduce
#: (MPIR_CVAR_ALLREDUCE_TREE_PIPELINE_CHUNK_SIZE)
TREE_CHUNK_BYTES = 64 * 2**10

#: the smallest element count MPICH accepts for a forced algorithm (its reduce_scatter_allgather
#: all-reduce needs count >= the largest power of two <= p); smaller sizes are not timed
MPICH_MIN_COUNT = {"rabenseifner": lambda p: 1 << (p.bit_length() - 1)}


class Benchmark(NamedTuple):
    """One benchmarked operation, collective or point-to-point, as the benchmark loop reads it.

    ``count`` is each rank's send-buffer length in float64 elements; the reported size is
    ``count * size_blocks(p) * 8`` bytes (nccl-tests' convention: all-gather's size is the gathered
    result).
    """

    name: str
    layout: Callable[[int], str]                # p -> who takes part, for the table's title
    reference: Callable                         # (x (p, count), root) -> per-rank results or None
    mpi_call: Callable                          # (comm, send, recv) -> None
    mpi_recv_len: Callable[[int, int], int]     # (count, p) -> receive buffer length (0: none)
    size_blocks: Callable[[int], int]           # p -> size in bytes / (count * 8)
    bus_factor: Callable[[int], float]          # p -> busbw / algbw
    count_multiple_of_ranks: bool = False       # the call needs count to be a multiple of p
    messages: int = 1                           # one-way messages one timed call is made of
    min_ranks: int = 1
    collective: bool = True                     # MPICH's algorithm choice applies to it
    count_multiple: int = 1                     # the count must also be a multiple of this


# ----------------------------------------------------------------------------------------------
# the point-to-point benchmarks


def _pingpong_reference(x, root):
    """Ranks 0 and 1 both end up with rank 0's vector; the others take no part."""
    return [x[0].copy() if r < 2 else None for r in range(x.shape[0])]


def _pingpong_call(comm, send, recv):
    """Rank 0 sends its vector to rank 1, which sends back what it received."""
    if comm.rank == 0:
        comm.Send(send, dest=1, tag=7)
        comm.Recv(recv, source=1, tag=8)
    elif comm.rank == 1:
        comm.Recv(recv, source=0, tag=7)
        comm.Send(recv, dest=0, tag=8)


#: the point-to-point benchmarks, records shaped like the collectives'
POINT_TO_POINT = {
    "pingpong": Benchmark("pingpong", lambda p: "one-way, ranks 0 -> 1", _pingpong_reference,
                          _pingpong_call, lambda count, p: count, lambda p: 1, lambda p: 1.0,
                          messages=2, min_ranks=2, collective=False),
}


def collective_benchmark(spec: cs.OpSpec) -> Benchmark:
    """The :class:`Benchmark` of a collective operation's record."""
    return Benchmark(spec.name, lambda p: f"{p} ranks", spec.reference, spec.mpi_call,
                     spec.mpi_recv_len, spec.size_blocks, spec.bus_factor,
                     spec.mpi_count_multiple_of_ranks)


# ----------------------------------------------------------------------------------------------
# the mixture-of-experts all-to-all-v

#: experts each token goes to in the alltoallv benchmark (top-k), and experts per rank
ALLTOALLV_K, _EXPERTS_PER_RANK = 2, 2
#: the alltoallv's router skew when none is given (``--skew``)
ALLTOALLV_SKEW = 1.0


@functools.lru_cache(maxsize=64)
def alltoallv_counts(count: int, p: int, skew: float, seed: int = 0) -> np.ndarray:
    """Elements rank ``i`` sends rank ``j`` (``(p, p)``, rows summing to ``count``): ``count / 2``
    tokens per rank routed top-2 by :func:`aichip.moe.alltoallv_counts`, one element a copy."""
    c = moe.alltoallv_counts(count // ALLTOALLV_K, p, skew, ALLTOALLV_K, _EXPERTS_PER_RANK, seed)
    c.setflags(write=False)
    return c


def _displacements(counts: np.ndarray) -> np.ndarray:
    """Offsets of each block in a row-major packing, same shape as ``counts``."""
    return np.cumsum(counts, axis=-1) - counts


@functools.lru_cache(maxsize=64)
def _plan(count: int, p: int, skew: float, seed: int, rank: int) -> tuple:
    """``rank``'s send counts and displacements, then its receive counts and displacements (made
    once per size, not on every timed call)."""
    c = alltoallv_counts(count, p, skew, seed)
    return c[rank], _displacements(c[rank]), c[:, rank].copy(), _displacements(c[:, rank])


def alltoallv_benchmark(skew: float = ALLTOALLV_SKEW, seed: int = 0) -> Benchmark:
    """The :class:`Benchmark` of the skewed all-to-all-v (counts :func:`alltoallv_counts`): rank
    ``i`` sends its elements ``sdispl[i, j] ...`` to rank ``j``, which stores the blocks in rank
    order; its reference is those slices of every rank's input, concatenated."""
    skew = check_float("skew", skew, minimum=0.0)

    def counts(count, p):
        return alltoallv_counts(count, p, skew, seed)

    def reference(x, root):
        c = counts(x.shape[1], x.shape[0])
        d = _displacements(c)
        return [np.concatenate([x[i, d[i, j]:d[i, j] + c[i, j]] for i in range(x.shape[0])])
                for j in range(x.shape[0])]

    def mpi_call(comm, send, recv):
        from mpi4py import MPI

        plan = _plan(send.size, comm.size, skew, seed, comm.rank)
        comm.Alltoallv([send, plan[:2], MPI.DOUBLE], [recv, plan[2:], MPI.DOUBLE])

    return Benchmark("alltoallv", lambda p: f"{p} ranks, top-{ALLTOALLV_K} routing, skew {skew:g}",
                     reference, mpi_call, lambda count, p: counts(count, p).sum(axis=0),
                     lambda p: 1, lambda p: (p - 1) / p, count_multiple=ALLTOALLV_K)


def alltoallv_model_us(rows, n_ranks: int, alpha_s: float, beta_s_per_byte: float,
                       skew: float = ALLTOALLV_SKEW, seed: int = 0) -> np.ndarray:
    """The model's time (microseconds) of each alltoallv row (its ``count``) on ``n_ranks`` ranks
    of one machine: the busiest rank's ``(p - 1) alpha`` plus its larger direction's bytes times
    ``beta`` (:func:`aichip.moe.alltoallv_time` with one node); with ``skew = 0`` and an even
    matrix it is the pairwise all-to-all's closed form."""
    if beta_s_per_byte <= 0:
        raise ValueError(f"beta_s_per_byte must be > 0, got {beta_s_per_byte}")
    return np.array([1e6 * moe.alltoallv_time(alltoallv_counts(r["count"], n_ranks, skew, seed)
                                              * ITEM, n_ranks, 1e-9 / beta_s_per_byte, 1.0,
                                              alpha_s) for r in rows])


def _busiest_bytes(counts: np.ndarray) -> int:
    """The most bytes one rank sends to or receives from the other ranks."""
    off = counts * (1 - np.eye(len(counts), dtype=np.int64))
    return int(max(off.sum(axis=0).max(), off.sum(axis=1).max())) * ITEM


_ORDER = ("allreduce", "allgather", "reduce_scatter", "broadcast", "reduce", "alltoall")
#: every benchmark by name: the point-to-point ones, every registered collective, then the
#: skewed all-to-all-v (at the default skew; ``--skew`` sets another)
BENCHMARKS = {**POINT_TO_POINT,
              **{op: collective_benchmark(cs.OPERATIONS[op])
                 for op in dict.fromkeys((*_ORDER, *cs.OPERATIONS)) if op in cs.OPERATIONS},
              "alltoallv": alltoallv_benchmark()}
BENCH_OPS = tuple(BENCHMARKS)


def benchmark(op: str, skew: float | None = None) -> Benchmark:
    """The record of ``op``; ValueError naming the allowed ones otherwise. ``skew`` (None: the
    default) sets the alltoallv's router skew and is ignored by the other operations."""
    if op == "alltoallv" and skew is not None:
        return alltoallv_benchmark(skew)
    return BENCHMARKS[check_choice("op", op, BENCH_OPS)]


def forceable(op: str) -> tuple[str, ...]:
    """The book's algorithms of ``op`` that MPICH can be forced to run (none for point-to-point)."""
    if not benchmark(op).collective or op not in cs.REGISTRY:
        return ()
    return tuple(name for name, spec in cs.REGISTRY[op].items() if spec.mpich)


def mpich_environment(ops, algorithm: str, tree_chunk_bytes: int = TREE_CHUNK_BYTES) -> dict:
    """Environment variables that make MPICH run ``algorithm`` for every collective in ``ops``
    (point-to-point benchmarks have no algorithm and are skipped): the algorithm's ``MPIR_CVAR_*``
    settings from its record, device-level collectives off (``MPIR_CVAR_DEVICE_COLLECTIVES=none``,
    else the ch4 device may pick its own) and a message on stderr instead of a silent fallback
    (``MPIR_CVAR_COLLECTIVE_FALLBACK=print``; ``error`` would stop MPI_Init, whose own one-integer
    all-reduce Rabenseifner's algorithm cannot take). The benchmark itself only times sizes the
    algorithm accepts (:data:`MPICH_MIN_COUNT`) and keeps its bookkeeping off all-reduce."""
    tree_chunk_bytes = check_int("tree_chunk_bytes", tree_chunk_bytes, minimum=ITEM)
    env = {"MPIR_CVAR_DEVICE_COLLECTIVES": "none", "MPIR_CVAR_COLLECTIVE_FALLBACK": "print"}
    for op in ops:
        if not benchmark(op).collective:
            continue
        check_choice("algorithm", algorithm, forceable(op))
        env.update(cs.REGISTRY[op][algorithm].mpich)
        if algorithm == "pipelined_tree":
            env["MPIR_CVAR_ALLREDUCE_TREE_PIPELINE_CHUNK_SIZE"] = str(tree_chunk_bytes)
    return env


# ----------------------------------------------------------------------------------------------
# the benchmark proper (runs on every rank)


def inputs(count: int, p: int) -> np.ndarray:
    """Every rank's input, shape ``(p, count)``: ``1000 (r + 1) + i mod 997``, exact in float64."""
    return (1000.0 * np.arange(1, p + 1)[:, None]
            + (np.arange(count) % 997).astype(np.float64)[None, :])


def buffers(bench: Benchmark, count: int, rank: int, p: int):
    """``rank``'s send buffer (its input), receive buffer (NaN; None when the call takes none)
    and expected result (None: nothing to check), the record's reference on every rank's input."""
    x = inputs(count, p)
    n_recv = bench.mpi_recv_len(count, p)
    if np.ndim(n_recv):                # one length per rank (an all-to-all-v), 0 included
        recv = np.full(int(n_recv[rank]), np.nan)
    else:
        recv = np.full(n_recv, np.nan) if n_recv else None
    return x[rank].copy(), recv, bench.reference(x, 0)[rank]


def _counts(bench: Benchmark, sizes, p: int) -> tuple[list[int], int]:
    """Element counts for the requested sizes in bytes (all-gather's size is the gathered result;
    some calls need a multiple of ``p``) and the record's ``size_blocks(p)``."""
    blocks = bench.size_blocks(p)
    unit = (p if bench.count_multiple_of_ranks else 1) * bench.count_multiple
    return sorted({max(size // (ITEM * blocks * unit), 1) * unit for size in sizes}), blocks


def _time_size(comm, bench: Benchmark, count: int, iters: int, warmup: int, corrupt: bool):
    """This rank's times of ``iters`` calls (seconds, shape ``(iters,)``) and its wrong elements.

    The result lands in the receive buffer, or in place in the send buffer when there is none (a
    broadcast); it is set to NaN before each call unless it already holds the rank's result (the
    broadcast's root). ``corrupt`` changes one element of rank 0's last result."""
    send, recv, expect = buffers(bench, count, comm.rank, comm.size)
    got = send if recv is None else recv
    clear = recv is not None or (expect is not None and not np.array_equal(send, expect))
    for _ in range(warmup):
        bench.mpi_call(comm, send, recv)
    samples, wrong = np.empty(iters), 0
    for i in range(iters):
        if clear:
            got.fill(np.nan)
        comm.Barrier()
        t0 = time.perf_counter()
        bench.mpi_call(comm, send, recv)
        samples[i] = time.perf_counter() - t0
        if expect is not None:
            if corrupt and comm.rank == 0 and i == iters - 1 and got.size:
                got[0] += 1.0                       # deliberately wrong (tests the checker)
            wrong += int(np.count_nonzero(got != expect))
    return samples, wrong


def bench_op(comm, op: str, sizes, iters: int, warmup: int, corrupt: bool = False,
             algorithm: str | None = None, skew: float | None = None) -> list[dict]:
    """Time and check ``op`` for every size in ``sizes`` (bytes); rows are valid on every rank.

    A row: ``size_B``, ``count``, ``time_us`` (best) and ``median_us`` of the slowest rank's time
    per one-way message, ``algbw_GBps`` (size / best time), ``busbw_GBps`` (algbw times the
    record's bus factor) and ``wrong`` (elements, all ranks). ``corrupt`` changes one element of
    rank 0's last result of the largest size (to show that the checker catches it).
    ``algorithm`` (the one MPICH was forced to run) drops sizes it cannot take. An alltoallv
    (router skew ``skew``) row adds ``busiest_B`` (the most bytes a rank sends to or receives
    from the others) and ``busiest_over_even`` (over an even all-to-all's ``(p-1)/p`` of them)."""
    bench, p = benchmark(op, skew), comm.size
    counts, blocks = _counts(bench, sizes, p)
    if algorithm in MPICH_MIN_COUNT and bench.collective:
        counts = [c for c in counts if c >= MPICH_MIN_COUNT[algorithm](p)]
    rows = []
    for count in counts:
        samples, wrong = _time_size(comm, bench, count, iters, warmup,
                                    corrupt and count == counts[-1])
        # bookkeeping by allgather, not all-reduce, whose algorithm may be forced
        slowest = np.max(comm.allgather(samples), axis=0) / bench.messages
        wrong = int(sum(comm.allgather(wrong)))
        nbytes = count * blocks * ITEM
        best, median = float(slowest.min()), float(statistics.median(slowest))
        algbw = nbytes / best / 1e9
        rows.append({"op": op, "size_B": nbytes, "count": count, "time_us": best * 1e6,
                     "median_us": median * 1e6, "algbw_GBps": algbw,
                     "busbw_GBps": algbw * bench.bus_factor(p), "wrong": wrong})
        if op == "alltoallv" and p > 1:
            skew_used = ALLTOALLV_SKEW if skew is None else skew
            busiest = _busiest_bytes(alltoallv_counts(count, p, skew_used))
            rows[-1].update(busiest_B=busiest, busiest_over_even=busiest / (nbytes * (p - 1) / p))
    return rows


#: the table's columns (nccl-tests')
COLUMNS = (Column("size (B)", 12, "size_B", "d"), Column("count", 10, "count", "d"),
           Column("time (us)", 11, "time_us", ".2f"), Column("median (us)", 12, "median_us", ".2f"),
           Column("algbw (GB/s)", 13, "algbw_GBps", ".3f"),
           Column("busbw (GB/s)", 13, "busbw_GBps", ".3f"), WRONG_COLUMN)


#: the alltoallv's extra columns (the model's only when a ping-pong fit gave it)
ALLTOALLV_COLUMNS = (Column("busiest (B)", 12, "busiest_B", "d"),
                     Column("busiest/even", 13, "busiest_over_even", ".3f"))
MODEL_COLUMN = Column("model (us)", 11, "model_us", ".2f")


def table(rows) -> str:
    """The rows of :func:`bench_op` as an nccl-tests table (an alltoallv's with its busiest
    rank's bytes, and the model's time when the rows have it)."""
    rows = list(rows)
    extra = ALLTOALLV_COLUMNS if rows and "busiest_B" in rows[0] else ()
    extra += (MODEL_COLUMN,) if rows and "model_us" in rows[0] else ()
    return _harness_table(rows, COLUMNS[:-1] + extra + COLUMNS[-1:])


def predicted_times(rows, n_ranks: int, algorithm: str, alpha_s: float, beta_s_per_byte: float,
                    gamma_s_per_byte: float = 0.0, op: str = "allreduce",
                    tree_chunk_bytes: int = TREE_CHUNK_BYTES) -> np.ndarray:
    """The alpha-beta-gamma model's time (seconds) of ``op`` with ``algorithm`` for each measured
    row (its ``size_B``): the prediction to set beside a run MPICH was forced to make. A chunked
    algorithm gets the chunk count MPICH's chunk size gives, ``ceil(size / tree_chunk_bytes)``
    (at most the element count)."""
    from .alphabeta import check_op_algorithm, cost

    spec, n_ranks, _ = check_op_algorithm(op, algorithm, n_ranks)
    tree_chunk_bytes = check_int("tree_chunk_bytes", tree_chunk_bytes, minimum=ITEM)
    chunked = any(q.name == "chunks" for q in spec.params)
    out = []
    for r in rows:
        kw = {"chunks": max(1, min(-(-r["size_B"] // tree_chunk_bytes), r["count"]))} \
            if chunked else {}
        out.append(cost(op, algorithm, n_ranks, r["size_B"], alpha_s, beta_s_per_byte,
                        gamma_s_per_byte, **kw))
    return np.array(out)


def model_comparison(result: dict, alpha_s: float, beta_s_per_byte: float,
                     gamma_s_per_byte: float = 0.0, op: str = "allreduce") -> list[dict]:
    """Rows ``{n_ranks, algorithm, size_B, measured_us, model_us, ratio, busbw_GBps}`` for a
    :func:`run` made with ``algorithm=...``: each measured best time beside the model's time of
    the algorithm MPICH was forced to run (:func:`predicted_times`)."""
    if not isinstance(result, dict) or not result.get("algorithm"):
        raise ValueError("result must be what run(..., algorithm=NAME) returns (a forced run)")
    rows = result["ops"][op]["rows"]
    model = predicted_times(rows, result["n_ranks"], result["algorithm"], alpha_s,
                            beta_s_per_byte, gamma_s_per_byte, op,
                            result.get("tree_chunk_bytes", TREE_CHUNK_BYTES))
    return [{"n_ranks": result["n_ranks"], "algorithm": result["algorithm"], "size_B": r["size_B"],
             "measured_us": r["time_us"], "model_us": m * 1e6, "ratio": r["time_us"] / (m * 1e6),
             "busbw_GBps": r["busbw_GBps"]} for r, m in zip(rows, model, strict=True)]


def summarize_comparison(comparison, largest_ranks: int = 2) -> dict:
    """Figures chapter 9 quotes from a :func:`model_comparison` table (a pandas DataFrame):
    ``ratio_median_<p>`` and ``ratio_max_<p>`` (measured / model) per rank count; on
    ``largest_ranks`` ranks the highest bus bandwidth (``peak_busbw``, its ``peak_alg`` and
    ``peak_MiB``), and at the largest size (``largest_MiB``) the fastest algorithm measured
    (``measured_best_big``), the model's fastest (``model_best_big``, ties joined by "and") and
    the pipelined tree's time over the ring's, measured and modelled."""
    out = {}
    for p, part in comparison.groupby("n_ranks"):
        out[f"ratio_median_{p}"] = float(part["ratio"].median())
        out[f"ratio_max_{p}"] = float(part["ratio"].max())
    part = comparison[comparison["n_ranks"] == largest_ranks]
    if part.empty:
        raise ValueError(f"largest_ranks: no rows with n_ranks={largest_ranks}")
    peak = part.loc[part["busbw_GBps"].idxmax()]
    out.update(peak_busbw=float(peak["busbw_GBps"]), peak_alg=peak["algorithm"].replace("_", " "),
               peak_MiB=float(peak["size_B"] / 2**20))
    big = part[part["size_B"] == part["size_B"].max()].set_index("algorithm")
    ties = big.index[big["model_us"] <= big["model_us"].min() * (1 + 1e-9)]
    out.update(largest_MiB=float(part["size_B"].max() / 2**20),
               measured_best_big=big["measured_us"].idxmin().replace("_", " "),
               model_best_big=" and ".join(t.replace("_", " ") for t in ties))
    if {"pipelined_tree", "ring"} <= set(big.index):
        for col, key in (("measured_us", "measured"), ("model_us", "model")):
            out[f"tree_vs_ring_{key}"] = float(big.loc["pipelined_tree", col]
                                               / big.loc["ring", col])
    return out


def parse_args(argv=None):
    """The command line of ``python -m aichip.mpibench``; a bad argument is a usage error."""
    p = cli.parser("python -m aichip.mpibench", __doc__.split("\n\n")[0])
    p.add_argument("--ops", type=cli.comma_list(BENCH_OPS), default="pingpong,allreduce",
                   help=f"comma-separated, from {','.join(BENCH_OPS)}")
    add_sweep_arguments(p, factor=4, warmup=3)
    p.add_argument("--skew", type=_skew, default=ALLTOALLV_SKEW,
                   help="alltoallv: Zipf skew of the router's expert popularity (real >= 0; "
                        "0: every expert equally likely)")
    p.add_argument("--algorithm", default=None,
                   help="force MPICH to run this algorithm of the book for every collective in "
                        "--ops (all-reduce: " + ", ".join(forceable("allreduce")) + ")")
    p.add_argument("--tree-chunk-bytes", type=cli.size_bytes, default=str(TREE_CHUNK_BYTES),
                   help="chunk size of MPICH's pipelined tree (with --algorithm pipelined_tree)")
    add_output_arguments(p, "corrupt one element of the last result")
    args = cli.parse(p, argv, checks=sweep_checks())
    if args.algorithm is not None:
        for op in args.ops:
            if benchmark(op).collective and args.algorithm not in forceable(op):
                p.error(f"argument --algorithm: {args.algorithm!r} cannot be forced for {op}; "
                        f"choose from {', '.join(forceable(op)) or 'nothing (drop this op)'}")
    return args


def _skew(text: str) -> float:
    """argparse ``type`` of ``--skew``: a finite real number >= 0."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a skew; write a real number >= 0")
    return value


def main(argv=None) -> int:
    """Entry point of ``python -m aichip.mpibench`` (every rank runs it)."""
    args = parse_args(argv)
    if args.algorithm:                  # read by MPICH at MPI_Init (in run_main)
        os.environ.update(mpich_environment(args.ops, args.algorithm, args.tree_chunk_bytes))
    return run_main(_bench_all, args)


def _bench_all(comm, args, share) -> int:
    """Every benchmark of ``--ops`` in turn, with the harness's header, tables and footer."""
    info = header(comm, share)
    result = {**info, "algorithm": args.algorithm, "tree_chunk_bytes": args.tree_chunk_bytes,
              "ops": {}}
    if comm.rank == 0:
        print(header_line(info))
    sizes = size_sweep(args.min_bytes, args.max_bytes, args.factor)
    wrong = 0
    for op in args.ops:
        bench = benchmark(op, args.skew)
        if comm.size < bench.min_ranks:
            if comm.rank == 0:
                print(f"# {op} skipped: it needs {bench.min_ranks} ranks\n")
            continue
        rows = bench_op(comm, op, sizes, args.iters, args.warmup, args.inject_error,
                        args.algorithm, args.skew)
        fit = result["ops"].get("pingpong", {})
        if op == "alltoallv" and fit.get("fit_beta_s_per_byte", 0) > 0 and comm.size > 1:
            for r, m in zip(rows, alltoallv_model_us(rows, comm.size, fit["fit_alpha_s"],
                                                     fit["fit_beta_s_per_byte"], args.skew),
                            strict=True):
                r["model_us"] = float(m)
        result["ops"][op] = {"rows": rows, **fit_rows(rows)}
        wrong += sum(r["wrong"] for r in rows)
        if comm.rank == 0:
            what = bench.layout(comm.size)
            if args.algorithm and bench.collective:
                what += f", MPICH forced to {args.algorithm}"
            print(f"# {op} ({what}), float64, {args.iters} iterations after {args.warmup} warm-up,"
                  f" every delivery checked")
            print(table(rows))
            print(_fit_line(result["ops"][op]) + "\n")
    return finish(comm, result, args.json, wrong)


def _fit_line(entry: dict) -> str:
    if "fit_beta_s_per_byte" not in entry:
        return "# (one size: no fit)"
    alpha, beta = entry["fit_alpha_s"], entry["fit_beta_s_per_byte"]
    bw_GBps = 1 / beta / 1e9 if beta else float("inf")
    return (f"# fit time = alpha + n*beta: alpha = {alpha * 1e6:.2f} us, "
            f"beta = {beta * 1e9:.4f} ns/B (1/beta = {bw_GBps:.2f} GB/s)")


def run(n_ranks: int = 2, ops: str = "pingpong,allreduce", min_bytes: int = 8,
        max_bytes: int = 2**20, factor: int = 4, iters: int = 20, warmup: int = 3,
        inject_error: bool = False, timeout_s: float = 120.0, algorithm: str | None = None,
        tree_chunk_bytes: int = TREE_CHUNK_BYTES, skew: float = ALLTOALLV_SKEW) -> dict:
    """Run the benchmark with ``n_ranks`` MPI processes and return its results.

    ``skew`` is the alltoallv's router skew (ignored by the other operations).

    ``algorithm`` forces MPICH to run that algorithm of the book for every collective in ``ops``
    (see :func:`mpich_environment`); None leaves the choice to MPICH.

    Returns the JSON the benchmark writes (the header's fields, ``ops`` -> rows and fits, ``ok``)
    plus ``stdout`` (the printed tables) and ``returncode`` (1 when a result was wrong).
    """
    n_ranks, timeout_s = check_launch(n_ranks, timeout_s)
    sweep = check_sweep(min_bytes, max_bytes, factor, iters, warmup)
    if not isinstance(ops, str):
        raise TypeError(f"ops must be a comma-separated string, got {type(ops).__name__}")
    names = [check_choice("ops", op.strip(), BENCH_OPS) for op in ops.split(",")]
    forced = {}
    if algorithm is not None:
        mpich_environment(names, algorithm, tree_chunk_bytes)
        forced = {"algorithm": algorithm, "tree_chunk_bytes": tree_chunk_bytes}
    skew = check_float("skew", skew, minimum=0.0)
    return launch("aichip.mpibench", n_ranks,
                  flags(ops=names, **sweep, inject_error=inject_error, skew=skew, **forced),
                  timeout_s=timeout_s)


if __name__ == "__main__":
    sys.exit(main())
