"""The specialisation ladder: one matrix product, five ways, on the reader's own CPU.

Each rung gives the hardware one more kind of freedom, which is the story of AI chips in miniature:

================  ==========================================================================
step              what changes
================  ==========================================================================
``python``        interpreted Python loops over lists: every operation is dispatched by the
                  interpreter, boxed and type-checked
``scalar``        the same loops compiled by numba (LLVM); the inner loop is a floating-point
                  *reduction*, and without permission to reassociate additions LLVM must add
                  the products one at a time, in order: compiled, but one lane wide
``simd``          the identical loop with ``fastmath=True``: LLVM may reorder the sum, so it
                  keeps several partial sums in SIMD registers (8 float32 lanes with AVX2)
``threads``       the SIMD kernel with its outer loop spread over cores (``prange``)
``int8``          the threaded kernel on int8 operands with int32 accumulators: four times as
                  many values per register and per byte of memory traffic
================  ==========================================================================

Every step computes ``C = A @ B`` with ``A`` of shape (m, k) and ``B`` given transposed, ``bt`` of
shape (n, k), so that the inner loop walks both operands contiguously. The operands are integers
in [-127, 127] (the symmetric int8 range) stored as float32 for the float steps. With k <= 1024
every partial sum is an integer of magnitude below ``1024 * 127**2 < 2**24``, which float32
represents exactly, so *every step must return exactly the same matrix*, whatever order it adds in;
that is how :func:`run_ladder` checks the results. One multiply-accumulate counts as two
operations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from .threads import numba_threads
from .timing import time_call
from .validation import check_choice, check_int, check_threads

__all__ = ["STEPS", "MAX_K", "DESCRIPTIONS", "make_operands", "matmul", "LadderStep", "run_ladder"]

STEPS = ("python", "scalar", "simd", "threads", "int8")

#: largest inner dimension for which float32 sums of int8-range products are exact (< 2**24)
MAX_K = 1024

DESCRIPTIONS = {
    "python": "interpreted Python loops",
    "scalar": "compiled numba, scalar (in-order float sum)",
    "simd": "compiled numba, SIMD (fastmath reduction)",
    "threads": "SIMD + all cores (prange)",
    "int8": "int8 operands, int32 accumulation, all cores",
}


def _matmul_python(a: list, bt: list) -> list:
    """Interpreted reference: lists of lists in, list of lists out."""
    out = []
    for row in a:
        out_row = []
        for col in bt:
            acc = 0.0
            for x, y in zip(row, col, strict=True):
                acc += x * y
            out_row.append(acc)
        out.append(out_row)
    return out


@njit(cache=True)
def _matmul_scalar(a, bt, c):
    # No fastmath: IEEE addition is not associative, so LLVM keeps the sum in program order and
    # cannot split it across SIMD lanes.
    for i in range(a.shape[0]):
        for j in range(bt.shape[0]):
            acc = np.float32(0.0)
            for p in range(a.shape[1]):
                acc += a[i, p] * bt[j, p]
            c[i, j] = acc


@njit(fastmath=True, cache=True)
def _rows_simd(a, bt, c, first, last):
    # Same loop as _matmul_scalar; fastmath lets LLVM reassociate the sum and vectorise the
    # reduction over p.
    for i in range(first, last):
        for j in range(bt.shape[0]):
            acc = np.float32(0.0)
            for p in range(a.shape[1]):
                acc += a[i, p] * bt[j, p]
            c[i, j] = acc


@njit(cache=True)
def _matmul_simd(a, bt, c):
    _rows_simd(a, bt, c, 0, a.shape[0])


@njit(parallel=True)  # not cache=True: see below
def _matmul_threads(a, bt, c, n_blocks):
    # Each thread runs the compiled SIMD row kernel on its own block of rows (a parfor body is
    # not vectorised as well as a plain function, so the inner work stays in _rows_simd).
    # Not cached on disk: loaded from numba's cache this function ran 25% slower per thread than
    # freshly compiled (5.4 ms vs 4.3 ms for 512^3 on one thread, numba 0.68, AMD EPYC Zen 5;
    # numba issue 10617 reports cached and fresh parallel code optimised differently). Compiling
    # it costs under a second per process.
    rows = a.shape[0]
    for b in prange(n_blocks):
        _rows_simd(a, bt, c, b * rows // n_blocks, (b + 1) * rows // n_blocks)


@njit(cache=True)
def _rows_int8(a, bt, c, first, last):
    # int8 x int8 products summed in int32, as int8 matrix units do; k <= MAX_K keeps the int32
    # sum far from overflow (1024 * 127 * 128 < 2**31). Integer addition is associative, so LLVM
    # vectorises this reduction without fastmath.
    for i in range(first, last):
        for j in range(bt.shape[0]):
            acc = np.int32(0)
            for p in range(a.shape[1]):
                acc += np.int32(a[i, p]) * np.int32(bt[j, p])
            c[i, j] = acc


@njit(parallel=True, cache=True)
def _matmul_int8(a, bt, c, n_blocks):
    rows = a.shape[0]
    for b in prange(n_blocks):
        _rows_int8(a, bt, c, b * rows // n_blocks, (b + 1) * rows // n_blocks)


_KERNELS = {"scalar": _matmul_scalar, "simd": _matmul_simd}


def make_operands(m: int, k: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded int8 operands: ``a`` of shape (m, k) and ``bt`` (B transposed) of shape (n, k).

    Values are uniform integers in [-127, 127]; ``k`` may be at most :data:`MAX_K`.
    """
    m = check_int("m", m, minimum=1)
    k = check_int("k", k, minimum=1, maximum=MAX_K)
    n = check_int("n", n, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    a = rng.integers(-127, 128, size=(m, k), dtype=np.int8)
    bt = rng.integers(-127, 128, size=(n, k), dtype=np.int8)
    return a, bt


def matmul(step: str, a: np.ndarray, bt: np.ndarray) -> np.ndarray:
    """``a @ bt.T`` computed by one rung of the ladder.

    Parameters
    ----------
    step : one of :data:`STEPS`
    a : int8 array, shape (m, k), k <= :data:`MAX_K`
    bt : int8 array, shape (n, k): the second operand, transposed

    Returns
    -------
    ndarray, shape (m, n): float32 for the float steps, int32 for ``"int8"``; integer-valued and
    identical across steps.
    """
    return _prepare(step, a, bt)()


def _prepare(step: str, a: np.ndarray, bt: np.ndarray) -> Callable[[], np.ndarray]:
    """Validate, convert the operands to the step's type and allocate the output, once; return a
    call that runs only the step's kernel (what :func:`run_ladder` times) and returns the product.
    """
    step = check_choice("step", step, STEPS)
    for name, x in (("a", a), ("bt", bt)):
        if not isinstance(x, np.ndarray) or x.dtype != np.int8 or x.ndim != 2:
            raise TypeError(f"{name} must be a 2-d int8 numpy array (see make_operands)")
    if a.shape[1] != bt.shape[1]:
        raise ValueError(f"a and bt must share their second dimension k, got {a.shape} and "
                         f"{bt.shape}")
    check_int("k", a.shape[1], minimum=1, maximum=MAX_K)
    m, n = a.shape[0], bt.shape[0]
    if step == "python":
        a_list, bt_list = a.astype(np.float32).tolist(), bt.astype(np.float32).tolist()
        return lambda: np.array(_matmul_python(a_list, bt_list), dtype=np.float32).reshape(m, n)
    if step == "int8":
        x, y = np.ascontiguousarray(a), np.ascontiguousarray(bt)
        c = np.empty((m, n), dtype=np.int32)

        def kernel() -> None:
            _matmul_int8(x, y, c, _blocks(m))
    else:
        x = np.ascontiguousarray(a, dtype=np.float32)
        y = np.ascontiguousarray(bt, dtype=np.float32)
        c = np.empty((m, n), dtype=np.float32)
        if step == "threads":
            def kernel() -> None:
                _matmul_threads(x, y, c, _blocks(m))
        else:
            serial = _KERNELS[step]

            def kernel() -> None:
                serial(x, y, c)

    def run() -> np.ndarray:
        kernel()
        return c
    return run


def _blocks(rows: int) -> int:
    """Row blocks for the threaded steps: a few per thread (load balance), never more than rows."""
    return max(1, min(rows, 4 * numba.get_num_threads()))


class LadderStep(NamedTuple):
    """One measured rung. Throughput in GOP/s (1e9 operations per second, a MAC counts as two)."""

    step: str
    description: str
    shape_mkn: tuple[int, int, int]
    threads: int
    best_s: float
    median_s: float
    best_GOPs: float
    speedup_vs_previous: float
    speedup_vs_python: float
    correct: bool


def run_ladder(size: int = 256, python_size: int = 40, repeats: int = 5,
               threads: int | None = None, seed: int = 0) -> list[LadderStep]:
    """Measure every rung of the ladder on square matrices and check that all agree.

    Parameters
    ----------
    size : int in [8, MAX_K]
        m = k = n for the compiled steps (work grows as size**3).
    python_size : int in [2, 128]
        m = k = n for the interpreted step (kept small: it runs about 1e7 times slower per op).
    repeats : int >= 1
        Timed repetitions per step after one warm-up call (which also compiles); best is reported.
    threads : int or None
        numba threads for the threaded steps (None: all).
    seed : int >= 0

    Returns
    -------
    list of :class:`LadderStep`, in the order of :data:`STEPS`. ``correct`` says the step's matrix
    equals the ``scalar`` step's exactly (and, for ``python``, the scalar step on the same small
    operands), and equals NumPy's int64 product.
    """
    size = check_int("size", size, minimum=8, maximum=MAX_K)
    python_size = check_int("python_size", python_size, minimum=2, maximum=128)
    repeats = check_int("repeats", repeats, minimum=1)
    threads = check_threads(threads)
    a, bt = make_operands(size, size, size, seed)
    a_small, bt_small = make_operands(python_size, python_size, python_size, seed + 1)
    exact = a.astype(np.int64) @ bt.astype(np.int64).T
    exact_small = a_small.astype(np.int64) @ bt_small.astype(np.int64).T

    with numba_threads(threads):
        results = []
        for step in STEPS:
            x, y, ref = (a_small, bt_small, exact_small) if step == "python" else (a, bt, exact)
            run = _prepare(step, x, y)  # operand conversion and allocation are not timed
            correct = bool(np.array_equal(run().astype(np.int64), ref))
            timing = time_call(run, repeats=repeats, warmup=1)
            m, k = x.shape
            ops = 2.0 * m * k * y.shape[0]
            results.append((step, (m, k, y.shape[0]), timing, ops / timing.best_s / 1e9, correct))

    out = []
    python_rate = results[0][3]
    for index, (step, shape, timing, rate, correct) in enumerate(results):
        prev_rate = results[index - 1][3] if index else rate
        out.append(LadderStep(
            step=step, description=DESCRIPTIONS[step], shape_mkn=shape,
            threads=threads if step in ("threads", "int8") else 1,
            best_s=timing.best_s, median_s=timing.median_s, best_GOPs=rate,
            speedup_vs_previous=rate / prev_rate, speedup_vs_python=rate / python_rate,
            correct=correct))
    return out
