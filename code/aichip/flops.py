"""Peak floating-point throughput: a numba kernel that keeps the FMA units busy, and numpy's BLAS
DGEMM/SGEMM as the reference for what the machine really reaches.

Why the peak kernel looks the way it does
-----------------------------------------
A fused multiply-add (FMA) unit finishes one FMA per cycle but each takes several cycles (4 on
AMD Zen 3 and Intel Skylake); two FMA units therefore need at least eight *independent* chains of
FMAs in flight to stay busy, each on the widest vectors the core has. The kernel holds a row of
:data:`LANES` values per thread in vector registers of the width numba's target has
(:func:`vector_bits`: 256 with AVX2, 512 with AVX-512), :func:`accumulator_chains` vectors at a
time (half the vector registers: 8 with AVX2, 16 with AVX-512, each at least the latency x pipes
= 8 that keep two 4-cycle FMA pipes busy), and applies ``x = a*x + b`` ``CHAIN`` times a round to
each, loading and storing each value once per call, so the loop is pure arithmetic.

The vectors are written out explicitly: the kernel is a numba ``@intrinsic`` that emits
``llvm.fma.v8f64`` (or the width the target has) on each accumulator. An auto-vectorised loop would
not do: on Intel's AVX-512 cores LLVM prefers 256-bit vectors when it vectorises by itself
(:mod:`aichip.simd`), which left the earlier, auto-vectorised kernel at 74-79% of DGEMM there.
:func:`kernel_source` shows the Python that emits the IR.

The recurrence ``x <- a*x + b`` has a closed form, ``x_n = a**n x_0 + b (1 - a**n) / (1 - a)``,
which is how :func:`measure_peak_flops` checks that the kernel really did the work it claims.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import machine, simd
from .source import marked_source
from .threads import blas_threads, numba_threads
from .timing import time_call
from .validation import check_choice, check_int, check_threads

__all__ = [
    "CHAIN", "DTYPES", "LANES", "FlopsResult", "accumulator_chains", "fma_flops", "fma_recurrence",
    "kernel_source", "measure_gemm", "measure_gemv", "measure_peak_flops", "vector_bits",
]

DTYPES = ("float64", "float32")

#: FMAs applied to a value between its load and its store; a compile-time constant so that LLVM
#: unrolls the chain and vectorises across the row.
CHAIN = 8
#: accumulators per thread (independent FMA chains); 256 float64 = 64 AVX2 vectors, in L1
LANES = 256


def _emit_fma_chains(context, builder, dtype, row, n_iter, a, b):
    """LLVM IR of the peak kernel on one row of :data:`LANES` values (``row``: element pointer;
    ``n_iter``: int64; ``a``, ``b``: scalars of ``dtype``): ``x <- a*x + b``, ``n_iter * CHAIN``
    times on every value, the values held in vector registers from the first FMA to the last."""
    from llvmlite import ir

    # magictoken: fma-begin
    elem = context.get_data_type(dtype)                   # double or float
    size = context.get_abi_sizeof(elem)                   # bytes per element, 8 or 4
    lanes = simd.vector_bytes() // size                   # elements per register (zmm: 8 doubles)
    chains = accumulator_chains(str(dtype))               # independent accumulator vectors
    vec = ir.VectorType(elem, lanes)
    fma = cgutils.get_or_insert_function(                 # one vfmadd per call
        builder.module, ir.FunctionType(vec, [vec, vec, vec]), f"llvm.fma.v{lanes}f{8 * size}")
    undef, i32 = ir.Constant(vec, ir.Undefined), ir.IntType(32)
    va, vb = (builder.shuffle_vector(builder.insert_element(undef, s, ir.Constant(i32, 0)), undef,
                                     ir.Constant(ir.VectorType(i32, lanes), [0] * lanes))
              for s in (a, b))                            # a and b in every lane
    for group in range(LANES // (lanes * chains)):       # chains x lanes values at a time
        ptrs = [builder.bitcast(builder.gep(row, [ir.Constant(ir.IntType(64), lanes * (
            group * chains + c))]), vec.as_pointer()) for c in range(chains)]
        slots = [cgutils.alloca_once_value(builder, builder.load(p, align=size)) for p in ptrs]
        with cgutils.for_range(builder, n_iter):         # for it in range(n_iter):
            xs = [builder.load(s) for s in slots]        # (registers, after mem2reg)
            for _ in range(CHAIN):                       # CHAIN rounds of `chains` FMAs, each
                xs = [builder.call(fma, [x, va, vb]) for x in xs]  # independent of the others
            for s, x in zip(slots, xs, strict=True):
                builder.store(x, s)
        for p, s in zip(ptrs, slots, strict=True):       # one store per value at the end
            builder.store(builder.load(s), p, align=size)
    # magictoken: fma-end


def vector_bits() -> int:
    """Width of the vectors the peak kernel computes on, in bits: the widest numba's target has
    (:func:`aichip.simd.vector_bytes`; 512 with AVX-512, 256 with AVX2)."""
    return 8 * simd.vector_bytes()


def accumulator_chains(dtype: str = "float64") -> int:
    """Independent accumulator vectors the peak kernel updates in turn: half the vector registers
    (8 of AVX2's 16, 16 of AVX-512's 32), at least the 8 that two FMA pipes of 4-cycle latency
    need in flight, and at most the vectors of a row of :data:`LANES` values."""
    check_choice("dtype", dtype, DTYPES)
    lanes = simd.vector_bytes() // np.dtype(dtype).itemsize
    return min(simd.vector_registers() // 2, LANES // lanes)


@intrinsic
def _fma_chains(typingctx, row, n_iter, a, b):
    # x <- a*x + b, n_iter * CHAIN times, on each of the LANES values of the C-contiguous row
    if not (isinstance(row, types.Array) and row.ndim == 1 and row.layout == "C"
            and row.dtype in (types.float64, types.float32)):
        return None
    if not isinstance(n_iter, types.Integer) or not all(
            isinstance(x, (types.Float, types.Integer)) for x in (a, b)):
        return None

    def codegen(context, builder, signature, args):
        row_v, n_v, a_v, b_v = args
        data = context.make_array(row)(context, builder, row_v).data
        a_v, b_v = (context.cast(builder, v, t, row.dtype) for v, t in ((a_v, a), (b_v, b)))
        _emit_fma_chains(context, builder, row.dtype, data,
                         context.cast(builder, n_v, n_iter, types.int64), a_v, b_v)
        return context.get_dummy_value()

    return types.void(row, n_iter, a, b), codegen


def _fma_chains_python(row, n_iter, a, b):
    """What the intrinsic computes, in NumPy, for ``NUMBA_DISABLE_JIT=1`` (an intrinsic cannot
    run without the JIT)."""
    x = row.copy()
    a, b = row.dtype.type(a), row.dtype.type(b)
    for _ in range(n_iter * CHAIN):
        x = x * a + b
    row[:] = x


if numba.config.DISABLE_JIT:
    _fma_chains = _fma_chains_python  # noqa: F811 - the jitted caller looks it up at run time


@njit(parallel=True, cache=True)
def _fma_kernel(acc, n_iter, a, b):
    """Apply ``x <- a*x + b`` ``n_iter * CHAIN`` times to each element of ``acc`` (threads, lanes).
    """
    for t in prange(acc.shape[0]):
        _fma_chains(acc[t], n_iter, a, b)  # rows 2 KiB apart: each thread's own cache lines


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
    dedented, for a chapter to show; ``part`` one of ("fma",): the Python that emits the LLVM IR
    each thread of the peak kernel runs on its row of :data:`LANES` values (independent
    full-width accumulator vectors, ``CHAIN`` FMAs each a round)."""
    check_choice("part", part, ("fma",))
    return marked_source(sys.modules[__name__], part)
