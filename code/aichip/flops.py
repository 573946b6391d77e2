"""Peak floating-point throughput: a numba kernel that keeps the FMA units busy, and numpy's BLAS
DGEMM/SGEMM as the reference for what the machine really reaches.

Why the peak kernel looks the way it does
-----------------------------------------
A fused multiply-add (FMA) unit finishes one FMA per cycle but each takes several cycles (4 on
AMD Zen 3 and Intel Skylake); two FMA units therefore need at least eight *independent* chains of
FMAs in flight to stay busy. The kernel updates ``lanes`` independent accumulators (a row of 256
values, many SIMD vectors), and applies ``x = a*x + b`` ``CHAIN`` times to each value before
storing it back, so each load and store is amortised over eight FMAs and the loop is limited by
arithmetic, not by the load/store ports. ``fastmath=True`` lets LLVM contract ``a*x + b`` into one
FMA instruction and vectorise across the row.

The recurrence ``x <- a*x + b`` has a closed form, ``x_n = a**n x_0 + b (1 - a**n) / (1 - a)``,
which is how :func:`measure_peak_flops` checks that the kernel really did the work it claims.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import machine
from .source import marked_source
from .threads import blas_threads, numba_threads
from .timing import time_call
from .validation import check_choice, check_int, check_threads

__all__ = [
    "CHAIN", "DTYPES", "LANES", "FlopsResult", "fma_flops", "fma_recurrence", "kernel_source",
    "measure_gemm", "measure_gemv", "measure_peak_flops",
]

DTYPES = ("float64", "float32")

#: FMAs applied to a value between its load and its store; a compile-time constant so that LLVM
#: unrolls the chain and vectorises across the row.
CHAIN = 8
#: accumulators per thread (independent FMA chains); 256 float64 = 64 AVX2 vectors, in L1
LANES = 256


# magictoken: fma-begin
@njit(fastmath=True, cache=True)
def _fma_rows_serial(acc, n_iter, a, b):
    for _it in range(n_iter):
        for j in range(acc.shape[0]):
            x = acc[j]
            for _ in range(CHAIN):
                x = x * a + b
            acc[j] = x
# magictoken: fma-end


@njit(fastmath=True, parallel=True, cache=True)
def _fma_kernel(acc, n_iter, a, b):
    """Apply ``x <- a*x + b`` ``n_iter * CHAIN`` times to each element of ``acc`` (threads, lanes).
    """
    for t in prange(acc.shape[0]):
        row = acc[t].copy()  # thread-private copy: no false sharing, no aliasing for LLVM
        _fma_rows_serial(row, n_iter, a, b)
        acc[t, :] = row


def fma_recurrence(x0: np.ndarray, n_steps: int, a: float, b: float) -> np.ndarray:
    """Closed form of ``n_steps`` applications of ``x <- a*x + b`` (float64), for checking."""
    an = a ** n_steps
    return an * np.asarray(x0, dtype=np.float64) + b * (1.0 - an) / (1.0 - a)


class FlopsResult(NamedTuple):
    """Result of a throughput measurement, in GFLOP/s (1e9 floating-point operations per second)."""

    kernel: str
    dtype: str
    threads: int
    best_GFLOPs: float
    median_GFLOPs: float
    flops_per_call: int
    machine: machine.MachineInfo
    #: largest relative difference between the result and an independent check (see each
    #: function), and the tolerance it was held to; a function raises rather than return a
    #: result that fails its check
    max_rel_error: float = 0.0
    rtol: float = 0.0

    @property
    def correct(self) -> bool:
        """True when the measured computation's result passed its check."""
        return self.max_rel_error <= self.rtol


def measure_peak_flops(dtype: str = "float64", threads: int | None = None, repeats: int = 10,
                       target_s: float = 0.05) -> FlopsResult:
    """Measure the peak arithmetic throughput numba reaches on this CPU.

    Parameters
    ----------
    dtype : {"float64", "float32"}
    threads : int, optional
        numba threads, 1 to ``numba.config.NUMBA_NUM_THREADS``; default all.
    repeats : int, >= 1
        Timed repetitions after one warm-up call.
    target_s : float
        Approximate duration of one timed call, in seconds (the iteration count is calibrated).

    Returns
    -------
    FlopsResult
        Each FMA counts as two flops. ``best_GFLOPs`` from the fastest call, ``median_GFLOPs`` from
        the median.
    """
    check_choice("dtype", dtype, DTYPES)
    threads = check_threads(threads)
    repeats = check_int("repeats", repeats, minimum=1)
    if not isinstance(target_s, (int, float)) or not 1e-4 <= target_s <= 10:
        raise ValueError(f"target_s must be a number of seconds in [1e-4, 10], got {target_s!r}")

    np_dtype = np.dtype(dtype)
    a, b = np_dtype.type(0.999), np_dtype.type(0.001)
    x0 = np.linspace(0.0, 1.0, threads * LANES).reshape(threads, LANES)
    acc = x0.astype(np_dtype)

    with numba_threads(threads):
        # Calibrate the iteration count so one call lasts about target_s.
        probe = 2000
        t = time_call(lambda: _fma_kernel(acc, probe, a, b), repeats=1, warmup=1).best_s
        n_iter = max(1, int(probe * target_s / max(t, 1e-9)))
        acc[:] = x0
        timing = time_call(lambda: _fma_kernel(acc, n_iter, a, b), repeats=repeats, warmup=1)

    calls = repeats + 1
    expected = fma_recurrence(x0, calls * n_iter * CHAIN, float(a), float(b))
    rtol = 1e-9 if dtype == "float64" else 1e-3
    error = float(np.max(np.abs(acc - expected) / np.maximum(np.abs(expected), 1.0)))
    if not error <= rtol:
        raise ValueError("peak-FLOP kernel produced a wrong result; the throughput is not valid")

    flops = fma_flops(n_iter, threads)
    return FlopsResult("fma", dtype, threads, flops / timing.best_s / 1e9,
                       flops / timing.median_s / 1e9, flops, machine.describe(), error, rtol)


def fma_flops(n_iter: int, threads: int) -> int:
    """Flops of one call of the peak kernel: ``n_iter`` rounds of ``CHAIN`` FMAs on each of
    ``LANES`` values per thread, two flops (a multiply and an add) per FMA."""
    n_iter = check_int("n_iter", n_iter, minimum=1)
    threads = check_int("threads", threads, minimum=1)
    return 2 * CHAIN * n_iter * threads * LANES


def _freivalds_error(a: np.ndarray, b: np.ndarray, product: np.ndarray, seed: int) -> float:
    """Relative error of ``product`` against ``a @ b`` seen through random vectors (Freivalds):
    ``product @ r`` against ``a @ (b @ r)``, computed in float64 with matrix-vector products only,
    so a wrong entry anywhere in ``product`` shows up without a second matrix product."""
    r = np.random.default_rng(seed).standard_normal((product.shape[1], 2))
    lhs = product.astype(np.float64) @ r
    rhs = a.astype(np.float64) @ (b.astype(np.float64) @ r)
    scale = np.abs(a.astype(np.float64)) @ (np.abs(b.astype(np.float64)) @ np.abs(r))
    return float(np.max(np.abs(lhs - rhs) / np.maximum(scale, np.finfo(np.float64).tiny)))


def measure_gemm(n: int = 2000, dtype: str = "float64", repeats: int = 5, seed: int = 0,
                 threads: int | None = None) -> FlopsResult:
    """Measure numpy's matrix product (BLAS DGEMM/SGEMM) on two random ``n x n`` matrices.

    This is the practical ceiling a tuned library reaches, the reference for
    :func:`measure_peak_flops`, but only as fast as the kernels the library chose for this CPU
    (:func:`aichip.machine.blas_info` names them): kernels with narrower vectors than the CPU's
    leave part of the peak unused. ``2 n**3`` flops per product. The BLAS library uses its own
    threads: ``threads`` limits them (:func:`aichip.threads.blas_threads`; default the library's
    own setting), and the result reports the count it ran with.

    The product is checked with Freivalds' method (:func:`_freivalds_error`): relative error at
    most ``n`` units in the last place of ``dtype``, otherwise ValueError.
    """
    n = check_int("n", n, minimum=1)
    check_choice("dtype", dtype, DTYPES)
    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    x = rng.standard_normal((n, n)).astype(dtype)
    y = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    with blas_threads(threads) as used:
        timing = time_call(lambda: np.matmul(x, y, out=out), repeats=repeats, warmup=1)
    rtol = n * float(np.finfo(dtype).eps)
    error = _freivalds_error(x, y, out, seed + 1)
    if not error <= rtol:
        raise ValueError(f"matrix product produced a wrong result (relative error {error:.1e})")
    flops = 2 * n**3
    return FlopsResult("gemm", dtype, used or 1, flops / timing.best_s / 1e9,
                       flops / timing.median_s / 1e9, flops, machine.describe(), error, rtol)


def measure_gemv(n: int = 4000, dtype: str = "float64", repeats: int = 10, seed: int = 0,
                 threads: int | None = None) -> FlopsResult:
    """Measure numpy's matrix-vector product ``y = A @ x`` (BLAS DGEMV) with ``A`` of shape (n, n).

    ``2 n**2`` flops per product while reading ``n**2`` matrix elements once: about 1/4 FLOP/byte
    in float64, so GEMV is memory-bound on every machine in this book, unlike GEMM. ``threads``
    limits the BLAS library's threads as in :func:`measure_gemm`. Every entry is checked against
    a float64 product (relative error at most ``n`` units in the last place of ``dtype``).
    """
    n = check_int("n", n, minimum=1)
    check_choice("dtype", dtype, DTYPES)
    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    a = rng.standard_normal((n, n)).astype(dtype)
    x = rng.standard_normal(n).astype(dtype)
    y = np.empty(n, dtype=dtype)
    with blas_threads(threads) as used:
        timing = time_call(lambda: np.matmul(a, x, out=y), repeats=repeats, warmup=1)
    a64, x64 = a.astype(np.float64), x.astype(np.float64)
    scale = np.abs(a64) @ np.abs(x64)
    error = float(np.max(np.abs(y - a64 @ x64) / np.maximum(scale, np.finfo(np.float64).tiny)))
    rtol = n * float(np.finfo(dtype).eps)
    if not error <= rtol:
        raise ValueError(f"matrix-vector product produced a wrong result (relative error "
                         f"{error:.1e})")
    flops = 2 * n**2
    return FlopsResult("gemv", dtype, used or 1, flops / timing.best_s / 1e9,
                       flops / timing.median_s / 1e9, flops, machine.describe(), error, rtol)


def kernel_source(part: str = "fma") -> str:
    """Source lines of a kernel between its ``# magictoken: <part>-begin`` and ``-end`` markers,
    dedented, for a chapter to show; ``part`` one of ("fma",): the serial FMA chains over one row of
    :data:`LANES` accumulators that each thread of the peak kernel runs."""
    check_choice("part", part, ("fma",))
    return marked_source(sys.modules[__name__], part)
