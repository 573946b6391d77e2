"""MPI collective benchmark in the style of nccl-tests, and a launcher for it.

Run it under any MPI launcher, on one machine or a cluster::

    mpiexec -n 4 python -m aichip.mpibench --ops pingpong,allreduce --max-bytes 4M
    srun -N 2 --ntasks-per-node 4 python -m aichip.mpibench --json results.json

For every operation and message size it warms up, times ``--iters`` calls (each rank's time of a
call is taken after a barrier; a call's time is the slowest rank's), checks every element of every
rank's result against the exact answer, and prints a table like nccl-tests::

    size (B)  count  time (us)  median (us)  algbw (GB/s)  busbw (GB/s)  #wrong

Buffers hold small integers in float64, so every sum is exact and a correct result is bit-equal to
the expected one. ``#wrong`` counts wrong elements over all ranks; the program exits with status 1
if any result is wrong. It then fits the alpha-beta model ``time = alpha + n * beta`` to the
ping-pong sweep (one-way time of a message of ``n`` bytes between ranks 0 and 1) and, for each
collective, reports the line fitted to its sweep.

:func:`run` launches the benchmark from Python with ``mpiexec`` from the same environment (the one
the ``mpich`` wheel installs next to ``sys.executable``) and returns the parsed results.
"""

from __future__ import annotations

import argparse
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

from .alphabeta import bus_bandwidth
from .validation import check_float, check_int

BENCH_OPS = ("pingpong", "allreduce", "allgather", "reduce_scatter", "broadcast", "reduce",
             "alltoall")
ITEM = 8  # float64


def fit_alpha_beta(sizes_bytes, times_s) -> tuple[float, float]:
    """Least-squares fit of ``time = alpha + n * beta`` weighted by ``1/time`` (so that a sweep
    spanning decades fits small and large messages alike). Returns ``(alpha_s, beta_s_per_byte)``,
    both clipped at zero."""
    n = np.asarray(sizes_bytes, dtype=float)
    t = np.asarray(times_s, dtype=float)
    if n.shape != t.shape or n.ndim != 1 or len(n) < 2:
        raise ValueError("sizes_bytes and times_s must be 1-D of the same length >= 2")
    if np.any(n <= 0) or np.any(t <= 0) or not np.all(np.isfinite(t)):
        raise ValueError("sizes and times must be positive and finite")
    w = 1.0 / t
    a = np.column_stack([np.ones_like(n), n]) * w[:, None]
    (alpha, beta), *_ = np.linalg.lstsq(a, t * w, rcond=None)
    return max(float(alpha), 0.0), max(float(beta), 0.0)


def parse_size(text: str) -> int:
    """``"4K"`` -> 4096, ``"1M"`` -> 1048576, ``"512"`` -> 512."""
    text = text.strip().upper()
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    value = int(text[:-1] if scale > 1 else text)
    if value <= 0:
        raise ValueError(f"sizes must be positive, got {text!r}")
    return value * scale


# ----------------------------------------------------------------------------------------------
# the benchmark proper (runs on every rank)


def _buffers(op: str, count: int, rank: int, p: int):
    """Send buffer, receive buffer and the exact expected result for ``op`` on ``rank``."""
    idx = np.arange(count, dtype=np.float64)
    mine = (rank + 1) + idx % 7                       # small integers: sums are exact
    total = p * (p + 1) / 2 + p * (idx % 7)
    if op == "allreduce" or op == "reduce":
        expect = total if (op == "allreduce" or rank == 0) else None
        return mine, np.zeros(count), expect
    if op == "broadcast":
        buf = mine.copy() if rank == 0 else np.zeros(count)
        return buf, None, 1 + idx % 7
    if op == "allgather":                              # count = whole gathered vector
        blk = count // p
        send = (rank + 1) + np.arange(blk, dtype=np.float64) % 7
        expect = np.concatenate([(r + 1) + np.arange(blk, dtype=np.float64) % 7 for r in range(p)])
        return send, np.zeros(blk * p), expect
    if op == "reduce_scatter":                         # count = whole vector being reduced
        blk = count // p
        expect = p * (p + 1) / 2 + p * (np.arange(rank * blk, (rank + 1) * blk) % 7)
        return mine[: blk * p], np.zeros(blk), expect
    if op == "alltoall":                               # block j of rank r holds 100 r + j
        blk = count // p
        send = np.repeat(100.0 * rank + np.arange(p), blk)
        expect = np.repeat(100.0 * np.arange(p) + rank, blk)
        return send, np.zeros(blk * p), expect
    # pingpong: rank 0 sends to rank 1, which sends it back
    return mine, np.zeros(count), (1 + idx % 7) if rank in (0, 1) else None


def _call(comm, op, send, recv):
    if op == "allreduce":
        comm.Allreduce(send, recv)
    elif op == "reduce":
        comm.Reduce(send, recv, root=0)
    elif op == "broadcast":
        comm.Bcast(send, root=0)
    elif op == "allgather":
        comm.Allgather(send, recv)
    elif op == "reduce_scatter":
        comm.Reduce_scatter_block(send, recv)
    elif op == "alltoall":
        comm.Alltoall(send, recv)
    else:                                              # pingpong between ranks 0 and 1
        if comm.rank == 0:
            comm.Send(send, dest=1, tag=7)
            comm.Recv(recv, source=1, tag=8)
        elif comm.rank == 1:
            comm.Recv(recv, source=0, tag=7)
            comm.Send(recv, dest=0, tag=8)


def _result(op, rank, send, recv):
    if op == "broadcast":
        return send
    if op == "pingpong":
        return recv if rank == 0 else (recv if rank == 1 else None)
    if op == "reduce" and rank != 0:
        return None
    return recv


def bench_op(comm, op: str, sizes, iters: int, warmup: int, corrupt: bool = False) -> list[dict]:
    """Time and check ``op`` for every size in ``sizes`` (bytes); rows are valid on every rank."""
    from mpi4py import MPI

    p, rank = comm.size, comm.rank
    rows = []
    unit = ITEM * (p if op in ("allgather", "reduce_scatter", "alltoall") else 1)
    counts = sorted({max(size // unit, 1) * (unit // ITEM) for size in sizes})
    for count in counts:
        send, recv, expect = _buffers(op, count, rank, p)
        for _ in range(warmup):
            _call(comm, op, send, recv)
        samples = np.empty(iters)
        for i in range(iters):
            send_in = send.copy() if op == "broadcast" and rank != 0 else send
            comm.Barrier()
            t0 = time.perf_counter()
            _call(comm, op, send_in, recv)
            samples[i] = time.perf_counter() - t0
            if op == "broadcast":
                send = send_in
        slowest = np.empty_like(samples)
        comm.Allreduce(samples, slowest, op=MPI.MAX)
        if op == "pingpong":
            slowest /= 2                                # one-way time
        got = _result(op, rank, send, recv)
        if corrupt and rank == 0 and got is not None and count == counts[-1]:
            got = got.copy()
            got[0] += 1.0                               # deliberately wrong (tests the checker)
        wrong = 0 if expect is None else int(np.count_nonzero(got != expect))
        wrong = comm.allreduce(wrong, op=MPI.SUM)
        nbytes = count * ITEM
        best, median = float(slowest.min()), float(statistics.median(slowest))
        algbw = nbytes / best / 1e9
        busbw = bus_bandwidth(op, algbw, p) if op != "pingpong" else algbw
        rows.append({"op": op, "size_B": nbytes, "count": count, "time_us": best * 1e6,
                     "median_us": median * 1e6, "algbw_GBps": algbw, "busbw_GBps": busbw,
                     "wrong": wrong})
        if op == "broadcast" and rank != 0:
            send = np.zeros(count)
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


def main(argv=None) -> int:
    """Entry point of ``python -m aichip.mpibench`` (every rank runs it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", default="pingpong,allreduce",
                        help=f"comma-separated, from {','.join(BENCH_OPS)}")
    parser.add_argument("--min-bytes", default="8")
    parser.add_argument("--max-bytes", default="1M")
    parser.add_argument("--factor", type=int, default=4, help="size multiplier between rows")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results here (rank 0)")
    parser.add_argument("--inject-error", action="store_true",
                        help="corrupt one element of the last result (checks the checker)")
    args = parser.parse_args(argv)
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    for o in ops:
        if o not in BENCH_OPS:
            parser.error(f"unknown op {o!r}; choose from {BENCH_OPS}")
    lo, hi = parse_size(args.min_bytes), parse_size(args.max_bytes)
    if hi < lo or args.factor < 2 or args.iters < 1 or args.warmup < 0:
        parser.error("need min-bytes <= max-bytes, factor >= 2, iters >= 1, warmup >= 0")
    sizes = []
    s = lo
    while s <= hi:
        sizes.append(s)
        s *= args.factor

    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if "pingpong" in ops and comm.size < 2:
        ops.remove("pingpong")
    result = {"n_ranks": comm.size, "host": MPI.Get_processor_name(),
              "mpi": MPI.Get_library_version().splitlines()[0].strip(), "ops": {}}
    any_wrong = False
    for op in ops:
        rows = bench_op(comm, op, sizes, args.iters, args.warmup, args.inject_error)
        alpha, beta = fit_alpha_beta([r["size_B"] for r in rows], [r["time_us"] / 1e6 for r in rows])
        result["ops"][op] = {"rows": rows, "fit_alpha_s": alpha, "fit_beta_s_per_byte": beta}
        any_wrong |= any(r["wrong"] for r in rows)
        if comm.rank == 0:
            what = "one-way, ranks 0 -> 1" if op == "pingpong" else f"{comm.size} ranks"
            print(f"# {op} ({what}), float64, {args.iters} iterations after {args.warmup} warm-up")
            print(_table(rows))
            print(f"# fit time = alpha + n*beta: alpha = {alpha * 1e6:.2f} us, "
                  f"beta = {beta * 1e9:.4f} ns/B (1/beta = {1 / beta / 1e9 if beta else float('inf'):.2f} GB/s)\n")
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


def run(n_ranks: int = 2, ops: str = "pingpong,allreduce", min_bytes: int = 8,
        max_bytes: int = 2**20, factor: int = 4, iters: int = 20, warmup: int = 3,
        inject_error: bool = False, timeout_s: float = 120.0) -> dict:
    """Run the benchmark with ``n_ranks`` MPI processes and return its results.

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
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [mpiexec_path(), "-n", str(n_ranks), sys.executable, "-m", "aichip.mpibench",
               "--ops", ops, "--min-bytes", str(min_bytes), "--max-bytes", str(max_bytes),
               "--factor", str(factor), "--iters", str(iters), "--warmup", str(warmup),
               "--json", str(out)] + (["--inject-error"] if inject_error else [])
        env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
        if not out.exists():
            raise RuntimeError(f"mpibench failed (exit {proc.returncode}):\n{proc.stdout}\n"
                               f"{proc.stderr}")
        result = json.loads(out.read_text())
    result["stdout"] = proc.stdout
    result["returncode"] = proc.returncode
    return result


if __name__ == "__main__":
    sys.exit(main())
