"""MPI collective benchmark in the style of nccl-tests, and a launcher for it.

Run it under any MPI launcher, on one machine or a cluster::

    mpiexec -n 4 python -m aichip.mpibench --ops pingpong,allreduce --max-bytes 4M
    srun -N 2 --ntasks-per-node 4 python -m aichip.mpibench --json results.json

For every operation and message size it warms up, times ``--iters`` calls (each rank's time of a
call is taken after a barrier; a call's time is the slowest rank's), checks every element of every
rank's result after every call against the operation's NumPy reference
(:mod:`aichip.collective_specs`; the receive buffer is filled with NaN before each call, so a call
that delivers nothing cannot pass on the previous call's data), and prints a table like
nccl-tests::

    size (B)  count  time (us)  median (us)  algbw (GB/s)  busbw (GB/s)  #wrong

Rank r's element i is ``1000 (r + 1) + i mod 997`` in float64: every sum is exact, so a correct
result is bit-equal to the expected one, and every (rank, position) holds a different value.
``#wrong`` counts wrong elements over all ranks; the program exits with status 1 if any result is
wrong. It then fits the alpha-beta model ``time = alpha + n * beta`` to the
ping-pong sweep (one-way time of a message of ``n`` bytes between ranks 0 and 1) and, for each
collective, reports the line fitted to its sweep.

``--algorithm NAME`` forces MPICH to run the book's algorithm ``NAME`` (``ring``,
``recursive_doubling``, ``rabenseifner``, ``pipelined_tree`` for all-reduce; see
:func:`mpich_environment`) through its ``MPIR_CVAR_*`` control variables, with device collectives
off and fallback to another algorithm made an error, so a measurement can be compared with the model
of the algorithm that actually ran. Other MPI libraries ignore these variables.

:func:`run` launches the benchmark from Python with ``mpiexec`` from the same environment (the one
the ``mpich`` wheel installs next to ``sys.executable``) and returns the parsed results.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import cli
from . import collective_specs as cs
from .cli import parse_size  # noqa: F401  (was defined here; kept for callers)
from .validation import check_choice, check_float, check_int

__all__ = [
    "BENCH_OPS", "ITEM", "TREE_CHUNK_BYTES", "fit_alpha_beta", "MPICH_MIN_COUNT", "forceable",
    "mpich_environment", "inputs", "bench_op", "predicted_times", "model_comparison",
    "summarize_comparison", "parse_args", "main", "mpiexec_path", "launch", "run",
]

BENCH_OPS = ("pingpong", "allreduce", "allgather", "reduce_scatter", "broadcast", "reduce",
             "alltoall")
ITEM = 8  # float64

#: chunk size given to MPICH's pipelined tree all-reduce
#: (MPIR_CVAR_ALLREDUCE_TREE_PIPELINE_CHUNK_SIZE)
TREE_CHUNK_BYTES = 64 * 2**10


def fit_alpha_beta(sizes_bytes, times_s) -> tuple[float, float]:
    """Least-squares fit of ``time = alpha + n * beta`` weighted by ``1/time`` (so that a sweep
    spanning decades fits small and large messages alike). Returns ``(alpha_s, beta_s_per_byte)``,
    both clipped at zero."""
    n = np.asarray(sizes_bytes, dtype=float)
    t = np.asarray(times_s, dtype=float)
    if n.shape != t.shape or n.ndim != 1 or len(n) < 2:
        raise ValueError("sizes_bytes and times_s must be 1-D of the same length >= 2")
    if np.any(n <= 0) or np.any(t <= 0) or not np.all(np.isfinite(t)):
        raise ValueError("sizes_bytes and times_s must be positive and finite")
    w = 1.0 / t
    a = np.column_stack([np.ones_like(n), n]) * w[:, None]
    (alpha, beta), *_ = np.linalg.lstsq(a, t * w, rcond=None)
    return max(float(alpha), 0.0), max(float(beta), 0.0)


#: the smallest element count MPICH accepts for a forced algorithm (its reduce_scatter_allgather
#: all-reduce needs count >= the largest power of two <= p); smaller sizes are not timed
MPICH_MIN_COUNT = {"rabenseifner": lambda p: 1 << (p.bit_length() - 1)}


def forceable(op: str) -> tuple[str, ...]:
    """The book's algorithms of ``op`` that MPICH can be forced to run."""
    return tuple(name for name, spec in cs.REGISTRY[cs.op_spec(op).name].items() if spec.mpich)


def mpich_environment(ops, algorithm: str, tree_chunk_bytes: int = TREE_CHUNK_BYTES) -> dict:
    """Environment variables that make MPICH run ``algorithm`` for every collective in ``ops``
    (pingpong is not a collective and is skipped): the algorithm's ``MPIR_CVAR_*`` settings from
    its record, device-level collectives off (``MPIR_CVAR_DEVICE_COLLECTIVES=none``, else the
    ch4 device may pick its own) and a message on stderr instead of a silent fallback
    (``MPIR_CVAR_COLLECTIVE_FALLBACK=print``; ``error`` would stop MPI_Init, whose own one-integer
    all-reduce Rabenseifner's algorithm cannot take). The benchmark itself only times sizes the
    algorithm accepts (:data:`MPICH_MIN_COUNT`) and keeps its bookkeeping off all-reduce."""
    tree_chunk_bytes = check_int("tree_chunk_bytes", tree_chunk_bytes, minimum=ITEM)
    env = {"MPIR_CVAR_DEVICE_COLLECTIVES": "none", "MPIR_CVAR_COLLECTIVE_FALLBACK": "print"}
    for op in ops:
        if op == "pingpong":
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


def _buffers(op: str, count: int, rank: int, p: int):
    """Send buffer, receive buffer and the expected result (None: nothing to check) of ``rank``;
    the expectation is the operation's NumPy reference on every rank's input."""
    x = inputs(count, p)
    if op == "pingpong":
        return x[0].copy(), np.full(count, np.nan), (x[0].copy() if rank in (0, 1) else None)
    spec = cs.op_spec(op)
    expect = spec.reference(x, 0)[rank]
    send = x[rank].copy()
    n_recv = spec.mpi_recv_len(count, p)
    return send, (np.full(n_recv, np.nan) if n_recv else None), expect


def _call(comm, op, send, recv):
    if op != "pingpong":
        cs.OPERATIONS[op].mpi_call(comm, send, recv)
    elif comm.rank == 0:                              # rank 0 sends to rank 1, which sends it back
        comm.Send(send, dest=1, tag=7)
        comm.Recv(recv, source=1, tag=8)
    elif comm.rank == 1:
        comm.Recv(recv, source=0, tag=7)
        comm.Send(recv, dest=0, tag=8)


def _delivered(op, rank, send, recv):
    """The buffer that holds ``rank``'s result after the call."""
    return send if op == "broadcast" else recv


def _clear(op, rank, send, recv):
    """Fill what the next call must deliver with NaN (a broadcast's non-root ranks receive into
    their send buffer)."""
    if op == "broadcast":
        if rank != 0:
            send.fill(np.nan)
    elif recv is not None:
        recv.fill(np.nan)


def _counts(op: str, sizes, p: int) -> tuple[list[int], int]:
    """Element counts (per the op's record) for the requested sizes in bytes: allgather's size is
    the gathered result; reduce-scatter and all-to-all need a multiple of ``p``."""
    if op == "pingpong":
        blocks, unit = 1, 1
    else:
        spec = cs.OPERATIONS[op]
        blocks = spec.size_blocks(p)
        unit = p if spec.mpi_count_multiple_of_ranks else 1
    return sorted({max(size // (ITEM * blocks * unit), 1) * unit for size in sizes}), blocks


def bench_op(comm, op: str, sizes, iters: int, warmup: int, corrupt: bool = False,
             algorithm: str | None = None) -> list[dict]:
    """Time and check ``op`` for every size in ``sizes`` (bytes); rows are valid on every rank.

    ``corrupt`` changes one element of rank 0's last result of the largest size after the call
    (to show that the checker catches it). ``algorithm`` (the one MPICH was forced to run) drops
    sizes it cannot take."""
    p, rank = comm.size, comm.rank
    rows = []
    counts, blocks = _counts(op, sizes, p)
    if algorithm in MPICH_MIN_COUNT and op != "pingpong":
        counts = [c for c in counts if c >= MPICH_MIN_COUNT[algorithm](p)]
    for count in counts:
        send, recv, expect = _buffers(op, count, rank, p)
        for _ in range(warmup):
            _call(comm, op, send, recv)
        samples = np.empty(iters)
        wrong = 0
        for i in range(iters):
            _clear(op, rank, send, recv)
            comm.Barrier()
            t0 = time.perf_counter()
            _call(comm, op, send, recv)
            samples[i] = time.perf_counter() - t0
            if expect is not None:
                got = _delivered(op, rank, send, recv)
                if corrupt and rank == 0 and count == counts[-1] and i == iters - 1:
                    got[0] += 1.0                       # deliberately wrong (tests the checker)
                wrong += int(np.count_nonzero(got != expect))
        # bookkeeping by allgather, not all-reduce, whose algorithm may be forced
        slowest = np.max(comm.allgather(samples), axis=0)
        if op == "pingpong":
            slowest /= 2                                # one-way time
        wrong = int(sum(comm.allgather(wrong)))
        nbytes = count * blocks * ITEM
        best, median = float(slowest.min()), float(statistics.median(slowest))
        algbw = nbytes / best / 1e9
        busbw = algbw * (cs.OPERATIONS[op].bus_factor(p) if op != "pingpong" else 1.0)
        rows.append({"op": op, "size_B": nbytes, "count": count, "time_us": best * 1e6,
                     "median_us": median * 1e6, "algbw_GBps": algbw, "busbw_GBps": busbw,
                     "wrong": wrong})
    return rows


def _table(rows) -> str:
    head = (f"{'size (B)':>12} {'count':>10} {'time (us)':>11} {'median (us)':>12} "
            f"{'algbw (GB/s)':>13} {'busbw (GB/s)':>13} {'#wrong':>7}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['size_B']:>12d} {r['count']:>10d} {r['time_us']:>11.2f} "
                     f"{r['median_us']:>12.2f} {r['algbw_GBps']:>13.3f} {r['busbw_GBps']:>13.3f} "
                     f"{r['wrong'] if r['wrong'] else 'OK':>7}")
    return "\n".join(lines)


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
    p.add_argument("--min-bytes", type=cli.size_bytes, default="8", help=cli.SIZE_HELP)
    p.add_argument("--max-bytes", type=cli.size_bytes, default="1M", help=cli.SIZE_HELP)
    p.add_argument("--factor", type=cli.int_at_least(2), default=4,
                   help="size multiplier between rows (integer >= 2)")
    p.add_argument("--iters", type=cli.int_at_least(1), default=20)
    p.add_argument("--warmup", type=cli.int_at_least(0), default=3)
    p.add_argument("--algorithm", default=None,
                   help="force MPICH to run this algorithm of the book for every collective in "
                        "--ops (all-reduce: " + ", ".join(forceable("allreduce")) + ")")
    p.add_argument("--tree-chunk-bytes", type=cli.size_bytes, default=str(TREE_CHUNK_BYTES),
                   help="chunk size of MPICH's pipelined tree (with --algorithm pipelined_tree)")
    p.add_argument("--json", default=None, help="also write the results here (rank 0)")
    p.add_argument("--inject-error", action="store_true",
                   help="corrupt one element of the last result (checks the checker)")
    args = cli.parse(p, argv, checks=[
        ("--min-bytes", lambda a: a.min_bytes <= a.max_bytes,
         "must not exceed --max-bytes"),
    ])
    if args.algorithm is not None:
        for op in args.ops:
            if op != "pingpong" and args.algorithm not in forceable(op):
                p.error(f"argument --algorithm: {args.algorithm!r} cannot be forced for {op}; "
                        f"choose from {', '.join(forceable(op)) or 'nothing (drop this op)'}")
    return args


def main(argv=None) -> int:
    """Entry point of ``python -m aichip.mpibench`` (every rank runs it)."""
    args = parse_args(argv)
    ops = list(args.ops)
    sizes = []
    s = args.min_bytes
    while s <= args.max_bytes:
        sizes.append(s)
        s *= args.factor
    forced = {}
    if args.algorithm:
        forced = mpich_environment(ops, args.algorithm, args.tree_chunk_bytes)
        os.environ.update(forced)                    # read by MPICH at MPI_Init (the import below)

    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if "pingpong" in ops and comm.size < 2:
        ops.remove("pingpong")
    result = {"n_ranks": comm.size, "host": MPI.Get_processor_name(),
              "mpi": MPI.Get_library_version().splitlines()[0].strip(),
              "algorithm": args.algorithm, "tree_chunk_bytes": args.tree_chunk_bytes,
              "mpich_cvars": forced, "ops": {}}
    any_wrong = False
    for op in ops:
        rows = bench_op(comm, op, sizes, args.iters, args.warmup, args.inject_error,
                        args.algorithm)
        alpha, beta = fit_alpha_beta([r["size_B"] for r in rows],
                                     [r["time_us"] / 1e6 for r in rows])
        result["ops"][op] = {"rows": rows, "fit_alpha_s": alpha, "fit_beta_s_per_byte": beta}
        any_wrong |= any(r["wrong"] for r in rows)
        if comm.rank == 0:
            what = "one-way, ranks 0 -> 1" if op == "pingpong" else f"{comm.size} ranks"
            if args.algorithm and op != "pingpong":
                what += f", MPICH forced to {args.algorithm}"
            print(f"# {op} ({what}), float64, {args.iters} iterations after {args.warmup} warm-up,"
                  f" every delivery checked")
            print(_table(rows))
            bw_GBps = 1 / beta / 1e9 if beta else float("inf")
            print(f"# fit time = alpha + n*beta: alpha = {alpha * 1e6:.2f} us, "
                  f"beta = {beta * 1e9:.4f} ns/B (1/beta = {bw_GBps:.2f} GB/s)\n")
    result["ok"] = not any_wrong
    if comm.rank == 0:
        print(f"# {result['mpi']} on {result['host']}: "
              f"{'all results correct' if not any_wrong else 'WRONG RESULTS'}")
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
    return 1 if any_wrong else 0


# ----------------------------------------------------------------------------------------------
# launcher


def mpiexec_path() -> str:
    """The ``mpiexec`` of this Python environment (the mpich wheel puts it next to the
    interpreter), else the first one on ``PATH``."""
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError("no mpiexec next to sys.executable or on PATH; "
                                "pip install mpich (or load your cluster's MPI)")
    return found


def launch(module: str, n_ranks: int, args: list[str], env: dict | None = None,
           timeout_s: float = 120.0) -> dict:
    """Run ``python -m <module> <args> --json FILE`` as ``n_ranks`` MPI processes
    (:func:`mpiexec_path`) and return the JSON the program wrote, plus ``stdout`` (its printed
    tables) and ``returncode``.

    Every MPI tool of the book (``mpibench``, ``rmabench``, ``kvstore``) is launched this way: one
    thread per rank for OpenMP and numba (the ranks share the cores), ``env`` added to the
    environment (e.g. MPICH's ``MPIR_CVAR_*`` controls). RuntimeError with the program's output when
    it wrote no JSON (it crashed or could not start).
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [mpiexec_path(), "-n", str(n_ranks), sys.executable, "-m", module, *args,
               "--json", str(out)]
        full_env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
                        UCX_LOG_LEVEL="error")
        full_env.update(env or {})
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env=full_env, check=False)
        if not out.exists():
            raise RuntimeError(f"{module} failed (exit {proc.returncode}):\n{proc.stdout}\n"
                               f"{proc.stderr}")
        result = json.loads(out.read_text())
    result["stdout"], result["returncode"] = proc.stdout, proc.returncode
    return result


def run(n_ranks: int = 2, ops: str = "pingpong,allreduce", min_bytes: int = 8,
        max_bytes: int = 2**20, factor: int = 4, iters: int = 20, warmup: int = 3,
        inject_error: bool = False, timeout_s: float = 120.0, algorithm: str | None = None,
        tree_chunk_bytes: int = TREE_CHUNK_BYTES) -> dict:
    """Run the benchmark with ``n_ranks`` MPI processes and return its results.

    ``algorithm`` forces MPICH to run that algorithm of the book for every collective in ``ops``
    (see :func:`mpich_environment`); None leaves the choice to MPICH.

    Returns the JSON the benchmark writes (``ops`` -> rows and fits, ``ok``) plus ``stdout``
    (the printed tables) and ``returncode`` (1 when a result was wrong).
    """
    n_ranks = check_int("n_ranks", n_ranks, minimum=1, maximum=256)
    min_bytes = check_int("min_bytes", min_bytes, minimum=1)
    max_bytes = check_int("max_bytes", max_bytes, minimum=min_bytes)
    factor = check_int("factor", factor, minimum=2)
    iters = check_int("iters", iters, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    timeout_s = check_float("timeout_s", timeout_s, minimum=0, strict_minimum=True)
    if not isinstance(ops, str):
        raise TypeError(f"ops must be a comma-separated string, got {type(ops).__name__}")
    for op in ops.split(","):
        check_choice("ops", op.strip(), BENCH_OPS)
    if algorithm is not None:
        mpich_environment([o.strip() for o in ops.split(",")], algorithm, tree_chunk_bytes)
    args = ["--ops", ops, "--min-bytes", str(min_bytes), "--max-bytes", str(max_bytes),
            "--factor", str(factor), "--iters", str(iters), "--warmup", str(warmup)]
    if inject_error:
        args.append("--inject-error")
    if algorithm is not None:
        args += ["--algorithm", algorithm, "--tree-chunk-bytes", str(tree_chunk_bytes)]
    return launch("aichip.mpibench", n_ranks, args, timeout_s=timeout_s)


if __name__ == "__main__":
    sys.exit(main())
