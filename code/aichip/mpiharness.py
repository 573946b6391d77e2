"""The harness every MPI program of the book runs in, after nccl-tests' ``common.cu``.

``python -m aichip.mpibench`` (collectives and ping-pong), ``aichip.rmabench`` (one-sided
operations), ``aichip.kvstore`` (a key-value store) and ``aichip.ddp`` (data-parallel training)
differ only in what they measure. What they share lives here:

* **launch**: :func:`launch` runs ``python -m <module>`` as ``n`` MPI processes with this
  environment's ``mpiexec`` (:func:`mpiexec_path`) and returns the JSON the program wrote; every
  program's ``run()`` goes through it, and :func:`flags` turns keyword arguments into its flags;
* **one thread policy**: every rank of every program runs inside :func:`rank_threads` (through
  :func:`run_main`), whether ``mpiexec``, ``srun`` or :func:`launch` started it: the cores of a node
  are shared among the ranks on that node (:func:`thread_share`), each rank limiting its BLAS
  library and numba to its share with :mod:`aichip.threads`, so that ranks' spinning thread pools
  do not fight over the same cores;
* **arguments**: :func:`add_sweep_arguments` and :func:`add_output_arguments` give the programs
  the same flags for the same things, and :func:`check_sweep`, :func:`check_launch` and
  :func:`check_env` the same checks of ``run()``'s arguments (a bad command-line argument is a
  usage error, exit status 2; a bad ``run()`` argument a ValueError or TypeError naming it);
* **size sweep** (:func:`size_sweep`) and the **alpha-beta fit** of a sweep (:func:`fit_alpha_beta`,
  :func:`fit_rows`);
* **report**: a header (:func:`header`, :func:`header_line`: MPI library, host, ranks, threads per
  rank and the policy that chose them, every ``MPIR_CVAR_*`` in force), nccl-tests-style tables
  (:func:`table` with :class:`Column`; a ``#wrong`` column reads ``OK`` when nothing was wrong), a
  ``#wrong`` footer and the ``--json`` file (:func:`finish`);
* **exit status**: :data:`EXIT_OK` (every result checked and correct), :data:`EXIT_WRONG` (a wrong
  result), :data:`EXIT_USAGE` (a bad argument, :func:`usage_error`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import cli
from .threads import blas_threads, numba_threads
from .validation import check_float, check_int

__all__ = ["ITEM", "EXIT_OK", "EXIT_WRONG", "EXIT_USAGE", "Column", "WRONG_COLUMN", "ThreadShare",
           "size_sweep", "fit_alpha_beta", "fit_rows", "thread_share", "rank_threads", "run_main",
           "placement", "header", "header_line", "table", "footer", "finish", "usage_error",
           "add_sweep_arguments", "add_output_arguments", "sweep_checks", "check_sweep",
           "check_launch", "check_env", "flags", "mpiexec_path", "launch"]

ITEM = 8                      # bytes per element: every program moves float64 or int64
EXIT_OK, EXIT_WRONG, EXIT_USAGE = 0, 1, 2


# ----------------------------------------------------------------------------------------------
# sizes and fits


def size_sweep(min_bytes: int, max_bytes: int, factor: int) -> list[int]:
    """``min_bytes, min_bytes * factor, ...`` up to ``max_bytes`` (bytes; included when reached)."""
    min_bytes = check_int("min_bytes", min_bytes, minimum=1)
    max_bytes = check_int("max_bytes", max_bytes, minimum=min_bytes)
    factor = check_int("factor", factor, minimum=2)
    out, size = [], min_bytes
    while size <= max_bytes:
        out.append(size)
        size *= factor
    return out


def fit_alpha_beta(sizes_bytes, times_s) -> tuple[float, float]:
    """Least-squares fit of ``time = alpha + n * beta`` weighted by ``1/time`` (so that a sweep
    spanning decades fits small and large messages alike).

    Parameters
    ----------
    sizes_bytes, times_s : array_like, shape (k,), k >= 2, positive and finite

    Returns
    -------
    (alpha_s, beta_s_per_byte), both clipped at zero.
    """
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


def fit_rows(rows) -> dict:
    """``{fit_alpha_s, fit_beta_s_per_byte}`` of a sweep's rows (``size_B``, ``time_us``); empty
    for fewer than 2 rows (nothing to fit)."""
    rows = list(rows)
    if len(rows) < 2:
        return {}
    alpha, beta = fit_alpha_beta([r["size_B"] for r in rows], [r["time_us"] / 1e6 for r in rows])
    return {"fit_alpha_s": alpha, "fit_beta_s_per_byte": beta}


# ----------------------------------------------------------------------------------------------
# the thread policy


class ThreadShare(NamedTuple):
    """The threads one rank runs its BLAS and numba with, and why."""

    threads: int               # threads per rank
    cores: int                 # the cores shared (the node's, or those the launcher bound)
    local_ranks: int           # ranks on this rank's node
    bound: bool                # the launcher bound the rank to fewer cores than the node has

    @property
    def policy(self) -> str:
        """The policy in words, for the header."""
        if self.bound:
            return f"the {self.cores} cores the launcher bound the rank to"
        return f"the node's {self.cores} cores shared among its {self.local_ranks} ranks"


def thread_share(local_ranks: int, cpus: int | None = None,
                 allowed: int | None = None) -> ThreadShare:
    """The one thread policy of the MPI programs: a node's ``cpus`` cores are shared among the
    ``local_ranks`` ranks on it, ``max(1, cpus // local_ranks)`` threads each; a rank that the
    launcher bound to fewer cores (``allowed < cpus``, e.g. ``srun --cpus-per-task``) already has
    its share and uses all of those.

    ``cpus`` defaults to ``os.cpu_count()``, ``allowed`` to the cores this process may run on.
    """
    local_ranks = check_int("local_ranks", local_ranks, minimum=1)
    cpus = check_int("cpus", (os.cpu_count() or 1) if cpus is None else cpus, minimum=1)
    if allowed is None:
        allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    allowed = check_int("allowed", allowed, minimum=1)
    if allowed < cpus:
        return ThreadShare(allowed, allowed, local_ranks, True)
    return ThreadShare(max(1, cpus // local_ranks), cpus, local_ranks, False)


@contextmanager
def rank_threads(comm) -> Iterator[ThreadShare]:
    """Run the ``with`` block with this rank's BLAS and numba limited to its :func:`thread_share`
    (the ranks on its node counted with ``Split_type(COMM_TYPE_SHARED)``), then restore them."""
    import numba
    from mpi4py import MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    share = thread_share(node.size)
    node.Free()
    with blas_threads(share.threads), \
            numba_threads(min(share.threads, numba.config.NUMBA_NUM_THREADS)):
        yield share


def run_main(body: Callable, args) -> int:
    """Run ``body(comm, args, share)`` on ``MPI.COMM_WORLD`` inside :func:`rank_threads`; return its
    exit status. Every program's ``main`` ends here (MPI starts at this import: environment
    variables MPI reads at start-up must be set before)."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    with rank_threads(comm) as share:
        return body(comm, args, share)


# ----------------------------------------------------------------------------------------------
# the report


class Column(NamedTuple):
    """One table column: its title, width (characters), value (a row's key, or a function of the
    row) and format spec."""

    title: str
    width: int
    value: str | Callable[[dict], object]
    fmt: str = ""

    def cell(self, row: dict) -> str:
        v = row[self.value] if isinstance(self.value, str) else self.value(row)
        return f"{format(v, self.fmt):>{self.width}}"


#: the correctness column: the number of wrong elements, ``OK`` when there are none
WRONG_COLUMN = Column("#wrong", 7, lambda r: r["wrong"] or "OK")


def table(rows, columns) -> str:
    """The rows as an nccl-tests-style table: a header line of titles, one line per row."""
    lines = [" ".join(f"{c.title:>{c.width}}" for c in columns)]
    lines += [" ".join(c.cell(r) for c in columns) for r in rows]
    return "\n".join(lines)


def placement(local_ranks: int, cores: int, load_avg: float | None = None) -> str:
    """The sentence a page prints beside a measured number: how many ranks ran on how many cores
    of a node, whether that oversubscribed them (more ranks than cores: a waiting rank spins on a
    core another rank needs, and a message costs a scheduler time slice), and the node's 1-minute
    load average when the run started (other programs competing for the same cores)."""
    local_ranks = check_int("local_ranks", local_ranks, minimum=1)
    cores = check_int("cores", cores, minimum=1)
    text = f"{local_ranks} ranks on {cores} cores per node"
    if local_ranks > cores:
        text += f", oversubscribed {local_ranks / cores:.1f} times"
    else:
        text += ", one core or more per rank"
    if load_avg is not None:
        load_avg = check_float("load_avg", load_avg, minimum=0.0)
        busy = (f", more than its {cores} cores: other programs competed for them"
                if load_avg > cores else "")
        text += f"; the node's 1-minute load average was {load_avg:.1f} around the run{busy}"
    return text


def header(comm, share: ThreadShare) -> dict:
    """What every program's JSON starts with: ``n_ranks``, ``host`` (rank 0's), ``mpi`` (the
    library's first version line), ``threads_per_rank``, ``thread_policy``, ``mpich_cvars``
    (every ``MPIR_CVAR_*`` in this rank's environment), ``cores`` and ``local_ranks`` (per node),
    ``oversubscribed`` (more ranks than cores on the node), ``load_avg_1min`` (None where the OS
    has none) and ``placement`` (:func:`placement`'s sentence)."""
    from mpi4py import MPI

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"n_ranks": comm.size, "host": MPI.Get_processor_name(),
            "mpi": MPI.Get_library_version().splitlines()[0].strip(),
            "threads_per_rank": share.threads, "thread_policy": share.policy,
            "mpich_cvars": {k: os.environ[k] for k in sorted(os.environ)
                            if k.startswith("MPIR_CVAR_")},
            "cores": share.cores, "local_ranks": share.local_ranks,
            "oversubscribed": share.local_ranks > share.cores, "load_avg_1min": load,
            "placement": placement(share.local_ranks, share.cores, load)}


def header_line(info: dict) -> str:
    """:func:`header`'s fields as two ``#`` lines."""
    cvars = " ".join(f"{k}={v}" for k, v in info["mpich_cvars"].items()) or "none"
    where = f"\n# {info['placement']}" if "placement" in info else ""
    return (f"# {info['mpi']} on {info['host']}: {info['n_ranks']} ranks, "
            f"{info['threads_per_rank']} thread(s) per rank ({info['thread_policy']})\n"
            f"# MPIR_CVAR_*: {cvars}" + where)


def footer(wrong: int, good: str = "all results correct", bad: str = "WRONG RESULTS") -> str:
    """The last line: the number of wrong results and the verdict."""
    return f"# #wrong {wrong}: {bad if wrong else good}"


def finish(comm, result: dict | None, json_path: str | None, wrong: int, **verdict) -> int:
    """End a program on every rank: rank 0 sets ``result["ok"]``, prints :func:`footer` (with
    ``verdict``'s ``good``/``bad`` texts) and writes ``result`` to ``json_path``; every rank returns
    rank 0's exit status (:data:`EXIT_WRONG` when ``wrong`` there is nonzero)."""
    status = EXIT_WRONG if wrong else EXIT_OK
    if comm.rank == 0:
        result["ok"] = not wrong
        print(footer(int(wrong), **verdict), flush=True)
        if json_path:
            Path(json_path).write_text(json.dumps(result, indent=1))
    return int(comm.bcast(status, root=0))


def usage_error(comm, message: str) -> int:
    """A bad argument found only once MPI runs (it depends on the rank count): rank 0 prints
    ``error: <message>`` on stderr; every rank returns :data:`EXIT_USAGE`."""
    if comm.rank == 0:
        print(f"error: {message}", file=sys.stderr, flush=True)
    return EXIT_USAGE


# ----------------------------------------------------------------------------------------------
# arguments


def add_sweep_arguments(p, factor: int = 4, warmup: int = 3) -> None:
    """``--min-bytes``, ``--max-bytes``, ``--factor``, ``--iters`` and ``--warmup``: by default a
    sweep from 8 B to 1 MiB by ``factor``, each size timed 20 times after ``warmup`` untimed
    repetitions (3 unless the program says otherwise)."""
    p.add_argument("--min-bytes", type=cli.size_bytes, default="8", help=cli.SIZE_HELP)
    p.add_argument("--max-bytes", type=cli.size_bytes, default="1M", help=cli.SIZE_HELP)
    p.add_argument("--factor", type=cli.int_at_least(2), default=factor,
                   help="size multiplier between rows (integer >= 2)")
    p.add_argument("--iters", type=cli.int_at_least(1), default=20, help="timed repetitions")
    p.add_argument("--warmup", type=cli.int_at_least(0), default=warmup,
                   help="untimed repetitions first")


def add_output_arguments(p, inject: str) -> None:
    """``--json FILE`` and ``--inject-error`` (whose effect ``inject`` describes)."""
    p.add_argument("--json", default=None, help="also write the results here (rank 0)")
    p.add_argument("--inject-error", action="store_true",
                   help=f"{inject} (checks the checker)")


def sweep_checks(multiple: int = 1) -> list:
    """:func:`aichip.cli.parse` checks of the sweep's sizes (whole ``multiple``-byte elements)."""
    checks = [("--min-bytes", lambda a: a.min_bytes <= a.max_bytes, "must not exceed --max-bytes")]
    if multiple > 1:
        checks.append(("--min-bytes", lambda a: a.min_bytes % multiple == 0,
                       f"must be a multiple of {multiple} (one {multiple}-byte element)"))
    return checks


def check_sweep(min_bytes, max_bytes, factor, iters, warmup, multiple: int = 1) -> dict:
    """``run()``'s sweep arguments checked (ValueError/TypeError naming the argument), as the
    keyword arguments of :func:`flags`."""
    min_bytes = check_int("min_bytes", min_bytes, minimum=multiple)
    if min_bytes % multiple:
        raise ValueError(f"min_bytes must be a multiple of {multiple}, got {min_bytes}")
    return {"min_bytes": min_bytes,
            "max_bytes": check_int("max_bytes", max_bytes, minimum=min_bytes),
            "factor": check_int("factor", factor, minimum=2),
            "iters": check_int("iters", iters, minimum=1),
            "warmup": check_int("warmup", warmup, minimum=0)}


def check_launch(n_ranks, timeout_s, minimum: int = 1, maximum: int = 256) -> tuple[int, float]:
    """``run()``'s rank count (in ``[minimum, maximum]``) and time limit (seconds, > 0) checked."""
    return (check_int("n_ranks", n_ranks, minimum=minimum, maximum=maximum),
            check_float("timeout_s", timeout_s, minimum=0, strict_minimum=True))


def check_env(env) -> dict:
    """Extra environment variables for :func:`launch`: a mapping of strings to strings."""
    if env is None:
        return {}
    if not hasattr(env, "items") or not all(isinstance(k, str) and isinstance(v, str)
                                            for k, v in env.items()):
        raise TypeError("env must map strings to strings")
    return dict(env)


def flags(**kwargs) -> list[str]:
    """Command-line flags of keyword arguments: ``max_bytes=64`` -> ``--max-bytes 64``, a true
    ``bool`` -> the bare flag (a false one and None -> nothing), a list or tuple -> its items
    comma-separated, a float -> its ``repr`` (no digits lost)."""
    out = []
    for key, value in kwargs.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            out += [flag, ",".join(map(str, value))]
        else:
            out += [flag, repr(value) if isinstance(value, float) else str(value)]
    return out


# ----------------------------------------------------------------------------------------------
# launch


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
    report) and ``returncode``. A run that takes longer than ``timeout_s`` (default two minutes)
    is killed (subprocess.TimeoutExpired).

    ``env`` is added to the environment (e.g. MPICH's ``MPIR_CVAR_*`` controls). The thread counts
    are left to the programs, which apply :func:`rank_threads` however they were started. A
    RuntimeError carries the program's output when it wrote no JSON (it crashed or could not
    start).
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [mpiexec_path(), "-n", str(n_ranks), sys.executable, "-m", module, *args,
               "--json", str(out)]
        full_env = dict(os.environ, UCX_LOG_LEVEL="error")
        full_env.update(env or {})
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env=full_env, check=False)
        if not out.exists():
            raise RuntimeError(f"{module} failed (exit {proc.returncode}):\n{proc.stdout}\n"
                               f"{proc.stderr}")
        result = json.loads(out.read_text())
    result["stdout"], result["returncode"] = proc.stdout, proc.returncode
    return result
