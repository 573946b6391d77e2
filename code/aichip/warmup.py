"""Compile the book's slowest-compiling kernels ahead, in one process per CPU.

A fresh clone has no numba cache: the first chapter that calls a kernel compiles it, one kernel
after another, while the other cores idle (about 30 s of a book build on 2 cores; the systolic
array's engine alone takes 7 s). ``tools/execute_chapters.py`` runs :func:`main` before it
executes any chapter: each entry of :data:`ENTRIES` makes one small call of a public function with
the argument types the chapters pass, so numba compiles the signature the chapters use and writes
it to its cache (every one of these kernels has ``cache=True``); the chapters then load it. The
entries are shared among processes, each entry in exactly one (two processes writing one kernel's
cache index would race), before any chapter runs, so no chapter's measurement shares the machine
with a compilation.

An entry that no longer matches the chapters' types costs time, never correctness: the chapter
compiles its own signature, as without the warm-up. ``tests/test_warmup.py`` checks that every
entry compiles the kernel it names.

    python -m aichip.warmup                 # every entry, one process per CPU
    python -m aichip.warmup --part 1/2      # the second of two shares, in this process
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np

__all__ = ["ENTRIES", "COMPILE_S", "shares", "run", "main"]


def _systolic():
    from . import systolic
    rng = np.random.default_rng(0)
    systolic.simulate_gemm(rng.random((4, 3)), rng.random((3, 4)), rows=2, cols=2, dataflow="ws")


def _dataflow():
    from . import dataflow
    dataflow.search_mapping(dataflow.conv_shape(K=4, C=4, H=4, W=4, R=3, S=3))


def _gemm():
    from . import gemm
    rng = np.random.default_rng(0)
    gemm.matmul(rng.random((8, 8)), rng.random((8, 8)), "packed")


def _sparse():
    from . import sparse
    rng = np.random.default_rng(0)
    w = rng.random((64, 64), dtype=np.float32)
    blocks, layout = sparse.to_block_sparse(w, 32)
    sparse.block_sparse_matmul(rng.random((8, 64), dtype=np.float32), blocks, layout, 32)


def _incast():
    from . import rdma
    rdma.incast(2, "dcqcn", True, duration_s=1e-5)


def _ladder():
    from . import ladder
    a, bt = ladder.make_operands(8, 8, 8)
    for step in ladder.STEPS[1:]:
        ladder.matmul(step, a, bt)


def _attention():
    from . import attention
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((16, 4)) for _ in range(3))
    attention.naive_attention(q, k, v)
    attention.flash_attention(q, k, v, block_q=8, block_k=8)


def _scaling():
    from . import scaling
    model = scaling.TransformerConfig(n_layers=4, hidden=256, n_heads=4)
    scaling.step_time(model, scaling.ParallelConfig(2, 1, 1, 1, 2), "dgx_a100_hdr")


def _multiplier():
    from .arith import multiplier
    multiplier.simulate(n_bits=4, tree="dadda", pairs=64, repeats=1)


def _max_flow():
    from . import topology
    topology.bandwidth_matrix(next(iter(topology.SYSTEMS.values()))())


#: name -> (call that compiles it, the kernel's compile time in s on the 2-core build machine, for
#: sharing the entries evenly). The kernels named are what tests/test_warmup.py checks.
ENTRIES: dict[str, tuple[Callable[[], None], float, str]] = {
    "systolic": (_systolic, 7.3, "aichip.systolic_engine:systolic_kernel"),
    "dataflow": (_dataflow, 6.5, "aichip.dataflow:_search_kernel"),
    "gemm": (_gemm, 3.8, "aichip.gemm:_packed_kernel"),
    "sparse": (_sparse, 2.5, "aichip.sparse:_block_sparse_kernel"),
    "incast": (_incast, 2.4, "aichip.rdma.congestion_kernel:incast_kernel"),
    "ladder": (_ladder, 2.0, "aichip.ladder:_matmul_int8"),
    "attention": (_attention, 1.4, "aichip.attention:_flash_head"),
    "scaling": (_scaling, 1.4, "aichip.scaling._kernel:step_batch"),
    "max_flow": (_max_flow, 1.2, "aichip.topology._maxflow:pairwise_max_flow"),
    "multiplier": (_multiplier, 1.1, "aichip.arith.multiplier:_eval_kernel"),
}
#: the compile times alone, by entry
COMPILE_S = {name: entry[1] for name, entry in ENTRIES.items()}


def shares(n: int) -> list[list[str]]:
    """:data:`ENTRIES` split into ``n`` shares of about equal compile time (longest first, each to
    the share with the least so far); ``n`` >= 1."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    parts: list[list[str]] = [[] for _ in range(n)]
    loads = [0.0] * n
    for name in sorted(COMPILE_S, key=COMPILE_S.get, reverse=True):
        k = loads.index(min(loads))
        parts[k].append(name)
        loads[k] += COMPILE_S[name]
    return parts


def run(names) -> None:
    """Make the calls of the entries ``names`` (keys of :data:`ENTRIES`) in this process."""
    unknown = [name for name in names if name not in ENTRIES]
    if unknown:
        raise ValueError(f"unknown warm-up entries {unknown}; known: {sorted(ENTRIES)}")
    for name in names:
        ENTRIES[name][0]()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0))
                   if hasattr(os, "sched_getaffinity") else 1)
    p.add_argument("--part", help="k/n: run share k (from 0) of n in this process")
    args = p.parse_args(argv)
    if args.part:
        try:
            k, n = (int(x) for x in args.part.split("/"))
        except ValueError:
            k = n = 0
        if not 0 <= k < n:
            p.error(f"--part must be k/n with integers 0 <= k < n, got {args.part!r}")
        run(shares(n)[k])
        return 0
    n = max(1, min(args.processes, len(ENTRIES)))
    procs = [subprocess.Popen([sys.executable, "-m", "aichip.warmup", "--part", f"{k}/{n}"])
             for k in range(n)]
    return max(proc.wait() for proc in procs)


if __name__ == "__main__":
    sys.exit(main())
