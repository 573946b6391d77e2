"""One-sided communication measured: MPI RMA windows as the RDMA programming model.

Run it under any MPI launcher (2 or more ranks; rank 0 is the origin, rank 1 the target, the others
take part in collective synchronisation only)::

    mpiexec -n 2 python -m aichip.rmabench --max-bytes 64K --iters 5

For every operation (``put``, ``get``, ``accumulate``, ``get_accumulate``, ``fetch_and_op``,
``compare_and_swap``, and two-sided ``sendrecv`` for comparison), every synchronisation mode
(``fence``; ``pscw``: post-start-complete-wait; ``lock``: passive target, lock-flush-unlock) and
every message size it times ``--iters`` epochs after ``--warmup``, each epoch being one operation
and its synchronisation, and checks the result of every epoch exactly (int64 data)::

    size (B)  time (us)  median (us)  bw (GB/s)  #wrong

``fetch_and_op`` and ``compare_and_swap`` work on one 8-byte element (as RDMA atomics do) and
have one row. ``sendrecv`` is a ping-pong (one-way time = half the round trip). The launcher, the
thread policy, the header, the tables, the ``#wrong`` footer, ``--json`` and the exit status (1 if
any result is wrong) are :mod:`aichip.mpiharness`'s. :func:`run` launches it from Python; its
``env`` argument passes MPICH control variables (for example ``MPIR_CVAR_NOLOCAL=1`` to keep local
ranks off shared memory).
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from . import cli
from .mpiharness import (
    ITEM,
    WRONG_COLUMN,
    Column,
    add_output_arguments,
    add_sweep_arguments,
    check_env,
    check_launch,
    check_sweep,
    finish,
    fit_alpha_beta,
    fit_rows,
    flags,
    header,
    header_line,
    launch,
    run_main,
    size_sweep,
    sweep_checks,
    usage_error,
)
from .mpiharness import table as _harness_table

__all__ = ["RMA_OPS", "SYNCS", "ATOMIC_OPS", "ITEM", "TCP_ENV", "COLUMNS", "bench_rma",
           "bench_sendrecv", "loggp", "table", "main", "compare_paths", "run"]

RMA_OPS = ("put", "get", "accumulate", "get_accumulate", "fetch_and_op", "compare_and_swap",
           "sendrecv")
SYNCS = ("fence", "pscw", "lock")
ATOMIC_OPS = ("fetch_and_op", "compare_and_swap")


class _Epoch:
    """Open and close one access epoch on the origin (rank 0) and exposure on the target (1)."""

    def __init__(self, win, comm, sync):
        from mpi4py import MPI
        self.MPI, self.win, self.comm, self.sync = MPI, win, comm, sync
        self.group = comm.Get_group()

    def begin(self):
        r, w = self.comm.rank, self.win
        if self.sync == "fence":
            w.Fence()
        elif self.sync == "pscw":
            if r == 0:
                w.Start(self.group.Incl([1]))
            elif r == 1:
                w.Post(self.group.Incl([0]))
        elif r == 0:
            w.Lock(1, self.MPI.LOCK_EXCLUSIVE)

    def end(self):
        r, w = self.comm.rank, self.win
        if self.sync == "fence":
            w.Fence()
        elif self.sync == "pscw":
            if r == 0:
                w.Complete()
            elif r == 1:
                w.Wait()
        elif r == 0:
            w.Flush(1)
            w.Unlock(1)


def bench_rma(comm, op: str, sync: str, sizes, iters: int, warmup: int,
              corrupt=False) -> list[dict]:
    """Rows ``size_B, time_us (best), median_us, bw_GBps, wrong`` for one op and sync mode."""
    from mpi4py import MPI
    rank = comm.rank
    rows = []
    for size in ([ITEM] if op in ATOMIC_OPS else sizes):
        count = size // ITEM
        winbuf = np.zeros(count, dtype=np.int64)
        win = MPI.Win.Create(winbuf, disp_unit=ITEM, comm=comm)
        ep = _Epoch(win, comm, sync)
        src = np.zeros(count, dtype=np.int64)
        res = np.zeros(count, dtype=np.int64)
        pattern = np.arange(1, count + 1, dtype=np.int64)
        times, wrong = [], 0
        for it in range(warmup + iters):
            k = it + 1
            src[:] = pattern * k
            # the target's window before this epoch (for get, a fresh pattern written locally)
            if rank == 1 and op == "get":
                win.Lock(1, MPI.LOCK_EXCLUSIVE)
                winbuf[:] = pattern * k
                win.Unlock(1)
            comm.Barrier()
            t0 = time.perf_counter()
            ep.begin()
            if rank == 0:
                if op == "put":
                    win.Put(src, 1)
                elif op == "get":
                    win.Get(res, 1)
                elif op == "accumulate":
                    win.Accumulate(src, 1, op=MPI.SUM)
                elif op == "get_accumulate":
                    win.Get_accumulate(src, res, 1, op=MPI.SUM)
                elif op == "fetch_and_op":
                    win.Fetch_and_op(np.array([1], np.int64), res, 1, op=MPI.SUM)
                elif op == "compare_and_swap":
                    win.Compare_and_swap(np.array([k], np.int64), np.array([k - 1], np.int64),
                                         res, 1)
            ep.end()
            dt = time.perf_counter() - t0
            # exact expected values after epoch k (epochs 1..k so far)
            tri = k * (k + 1) // 2
            if rank == 0:
                if op == "get":
                    wrong += int(np.count_nonzero(res != pattern * k))
                elif op == "get_accumulate":
                    wrong += int(np.count_nonzero(res != pattern * (tri - k)))
                elif op in ATOMIC_OPS:
                    wrong += int(res[0] != k - 1)
                if it >= warmup:
                    times.append(dt)
            comm.Barrier()
            if rank == 1:
                win.Lock(1, MPI.LOCK_SHARED)
                now = winbuf.copy()
                win.Unlock(1)
                if corrupt and it == warmup + iters - 1:
                    now[-1] += 1
                expect = {"put": pattern * k, "get": pattern * k, "accumulate": pattern * tri,
                          "get_accumulate": pattern * tri}.get(op, np.array([k], np.int64))
                wrong += int(np.count_nonzero(now != expect))
        win.Free()
        wrong = comm.allreduce(wrong)
        rows.append(_row(comm, size, times, wrong))
    return rows


def bench_sendrecv(comm, sizes, iters: int, warmup: int, corrupt=False) -> list[dict]:
    """Two-sided ping-pong 0 <-> 1 of the same sizes: one-way time, every byte checked."""
    rank, rows = comm.rank, []
    for size in sizes:
        count = size // ITEM
        buf = np.zeros(count, dtype=np.int64)
        pattern = np.arange(1, count + 1, dtype=np.int64)
        times, sends, wrong = [], [], 0
        for it in range(warmup + iters):
            comm.Barrier()
            t0 = time.perf_counter()
            if rank == 0:
                buf[:] = pattern * (it + 1)
                t1 = time.perf_counter()
                comm.Send(buf, 1)
                if it >= warmup:
                    sends.append(time.perf_counter() - t1)
                comm.Recv(buf, 1)
                wrong += int(np.count_nonzero(buf != pattern * (it + 1) + 1))
            elif rank == 1:
                comm.Recv(buf, 0)
                wrong += int(np.count_nonzero(buf != pattern * (it + 1)))
                if corrupt and it == warmup + iters - 1:
                    buf[-1] += 7
                comm.Send(buf + 1, 0)
            one_way = (time.perf_counter() - t0) / 2         # half the round trip
            if it >= warmup and rank == 0:
                times.append(one_way)
        row = _row(comm, size, times, comm.allreduce(wrong))
        row["send_call_us"] = min(comm.bcast(sends, root=0)) * 1e6
        rows.append(row)
    return rows


def loggp(rows) -> dict:
    """LogGP parameters (Alexandrov et al. 1995) from a ``sendrecv`` sweep: ``G_s_per_byte`` and
    ``L + 2o`` from the alpha-beta fit of the one-way times, the send overhead ``o_s`` as the best
    time spent inside ``Send`` for the smallest message (an eager send returns once the data is
    handed over), and ``L_s = alpha - 2 o`` (clipped at zero)."""
    rows = list(rows)
    if len(rows) < 2 or any("send_call_us" not in r for r in rows):
        raise ValueError("rows must be at least 2 rows of a sendrecv sweep")
    alpha, beta = fit_alpha_beta([r["size_B"] for r in rows], [r["time_us"] / 1e6 for r in rows])
    o = min(rows, key=lambda r: r["size_B"])["send_call_us"] * 1e-6
    return {"alpha_s": alpha, "G_s_per_byte": beta, "o_s": o, "L_s": max(alpha - 2 * o, 0.0)}


def _row(comm, size, times, wrong):
    times = comm.bcast(times, root=0)
    best, med = min(times), statistics.median(times)
    return {"size_B": size, "time_us": best * 1e6, "median_us": med * 1e6,
            "bw_GBps": size / best / 1e9, "wrong": int(wrong)}


#: the table's columns
COLUMNS = (Column("size (B)", 12, "size_B", "d"), Column("time (us)", 11, "time_us", ".2f"),
           Column("median (us)", 12, "median_us", ".2f"), Column("bw (GB/s)", 10, "bw_GBps", ".3f"),
           WRONG_COLUMN)


def table(rows) -> str:
    """The rows as an nccl-tests-style table."""
    return _harness_table(rows, COLUMNS)


def main(argv=None) -> int:
    """Entry point of ``python -m aichip.rmabench`` (every rank runs it)."""
    p = cli.parser("python -m aichip.rmabench", __doc__.split("\n\n")[0])
    p.add_argument("--ops", type=cli.comma_list(RMA_OPS), default=list(RMA_OPS))
    p.add_argument("--sync", type=cli.comma_list(SYNCS), default=list(SYNCS),
                   help="synchronisation modes: fence, pscw, lock")
    add_sweep_arguments(p, factor=8, warmup=2)
    add_output_arguments(p, "corrupt one element of each last result")
    return run_main(_bench_all, cli.parse(p, argv, checks=sweep_checks(ITEM)))


def _bench_all(comm, args, share) -> int:
    """Every operation of ``--ops`` under every mode of ``--sync``, with the harness's report."""
    if comm.size < 2:
        return usage_error(comm, "rmabench needs at least 2 ranks (origin and target)")
    info = header(comm, share)
    result = {**info, "env": info["mpich_cvars"], "ops": {}}
    if comm.rank == 0:
        print(header_line(info))
    sizes = size_sweep(args.min_bytes, args.max_bytes, args.factor)
    wrong = 0
    for op in args.ops:
        for sync in (["two-sided"] if op == "sendrecv" else args.sync):
            rows = (bench_sendrecv(comm, sizes, args.iters, args.warmup, args.inject_error)
                    if op == "sendrecv" else
                    bench_rma(comm, op, sync, sizes, args.iters, args.warmup, args.inject_error))
            result["ops"][f"{op}/{sync}"] = {"rows": rows, **fit_rows(rows)}
            wrong += sum(r["wrong"] for r in rows)
            if comm.rank == 0:
                print(f"# {op} ({sync}), int64, rank 0 -> rank 1, {args.iters} epochs after "
                      f"{args.warmup} warm-up")
                print(table(rows) + "\n")
    return finish(comm, result, args.json, wrong)


#: Environment that keeps two ranks on one machine off shared memory. ``MPIR_CVAR_NOLOCAL=1``
#: makes MPICH treat local ranks as remote (its network module instead of its shared-memory one),
#: and ``UCX_TLS=tcp`` (``FI_PROVIDER=tcp`` when MPICH picked OFI) stops the network library from
#: using shared memory on its own; with MPICH 5.0.2's wheel ``MPIR_CVAR_CH4_SHM_ENABLE=0`` alone
#: still left UCX's shared-memory transports in use.
TCP_ENV = {"MPIR_CVAR_NOLOCAL": "1", "UCX_TLS": "tcp", "FI_PROVIDER": "tcp"}


def compare_paths(min_bytes: int = 8, max_bytes: int = 2**18, factor: int = 8, iters: int = 20,
                  warmup: int = 3) -> dict:
    """The same two-sided ping-pong between 2 local ranks over MPICH's shared-memory path and over
    TCP (:data:`TCP_ENV`). Returns ``{"shared memory": result, "TCP": result}`` as :func:`run`
    gives them; each ``result["ops"]["sendrecv/two-sided"]`` holds the rows and the alpha-beta
    fit."""
    kw = dict(ops=("sendrecv",), min_bytes=min_bytes, max_bytes=max_bytes, factor=factor,
              iters=iters, warmup=warmup)
    return {"shared memory": run(2, **kw), "TCP": run(2, env=TCP_ENV, **kw)}


def run(n_ranks: int = 2, ops=("put", "get", "sendrecv"), syncs=("lock",), min_bytes: int = 8,
        max_bytes: int = 2**16, factor: int = 8, iters: int = 10, warmup: int = 2,
        env: dict | None = None, inject_error: bool = False, timeout_s: float = 120.0) -> dict:
    """Launch the benchmark with ``n_ranks`` processes; return its JSON plus ``stdout`` and
    ``returncode``. ``env``: extra environment variables (MPICH ``MPIR_CVAR_*`` controls)."""
    n_ranks, timeout_s = check_launch(n_ranks, timeout_s, minimum=2, maximum=64)
    for name, val, allowed in (("ops", ops, RMA_OPS), ("syncs", syncs, SYNCS)):
        if isinstance(val, str) or not set(val) <= set(allowed) or not val:
            raise ValueError(f"{name} must be a non-empty sequence drawn from {allowed}, "
                             f"got {val!r}")
    sweep = check_sweep(min_bytes, max_bytes, factor, iters, warmup, multiple=ITEM)
    return launch("aichip.rmabench", n_ranks,
                  flags(ops=ops, sync=syncs, **sweep, inject_error=inject_error),
                  env=check_env(env), timeout_s=timeout_s)

if __name__ == "__main__":
    sys.exit(main())
