"""CUDA kernels in numba.cuda: naive and shared-memory tiled matrix multiply, tree reduction.

Where they run
--------------
numba decides once per process, when ``numba.cuda`` is first imported, whether ``numba.cuda`` is the
real CUDA target or its *CUDA simulator* (``NUMBA_ENABLE_CUDASIM=1``: every GPU thread becomes a
Python thread; slow, but it runs the same kernel source, barriers and shared memory included, on
any machine). Importing :mod:`aichip.gpu` makes that choice as follows:

1. if ``numba.cuda`` is already imported, or ``NUMBA_ENABLE_CUDASIM`` is set, that choice stands;
2. otherwise, if the machine shows no NVIDIA driver (no ``libcuda`` library or no ``/dev/nvidia*``
   device), it turns the simulator on before importing ``numba.cuda``;
3. otherwise it uses the real GPU.

To force the simulator on a machine with a GPU, set ``NUMBA_ENABLE_CUDASIM=1`` before importing
:mod:`aichip`. :func:`backend` says which one is in use. The simulator does not implement warp
shuffles, so the reduction uses shared memory only.
"""

from __future__ import annotations

import ctypes.util
import glob
import math
import os
import sys

import numba
import numpy as np

from ..source import marked_source
from ..validation import check_choice, check_int

__all__ = ["backend", "using_simulator", "cuda_matmul", "cuda_reduce_sum", "check_kernels",
           "kernel_source", "KERNEL_PARTS", "TILE", "REDUCE_THREADS", "MATMUL_VARIANTS"]


def _driver_present() -> bool:
    return (ctypes.util.find_library("cuda") is not None
            and bool(glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/dxg")))


if "numba.cuda" not in sys.modules and "NUMBA_ENABLE_CUDASIM" not in os.environ:
    if not _driver_present():
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        numba.config.ENABLE_CUDASIM = 1   # numba read its environment when it was imported

from numba import cuda  # noqa: E402  (after the backend choice above)

#: tile edge of the shared-memory matmul: a compile-time constant, because the size of a
#: ``cuda.shared.array`` must be known when the kernel is compiled
TILE = 16
#: threads per block of the reduction (a power of two for the halving tree)
REDUCE_THREADS = 128
MATMUL_VARIANTS = ("naive", "shared")


def using_simulator() -> bool:
    """True when ``numba.cuda`` is numba's CUDA simulator."""
    return bool(numba.config.ENABLE_CUDASIM)


def backend() -> str:
    """``"numba CUDA simulator (no GPU)"`` or the name of the GPU the kernels run on."""
    if using_simulator():
        return "numba CUDA simulator (no GPU)"
    if not cuda.is_available():
        return "no usable CUDA GPU"
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def _require_backend():
    if not using_simulator() and not cuda.is_available():
        raise RuntimeError("numba.cuda found no usable GPU; set NUMBA_ENABLE_CUDASIM=1 before "
                           "importing aichip to use the CUDA simulator")


# magictoken: naive_matmul-begin
@cuda.jit
def _matmul_naive(A, B, C):
    row, col = cuda.grid(2)               # one thread per element of C
    if row < C.shape[0] and col < C.shape[1]:
        acc = 0.0
        for k in range(A.shape[1]):       # 2K loads from global memory per thread
            acc += A[row, k] * B[k, col]
        C[row, col] = acc
# magictoken: naive_matmul-end


# magictoken: tiled_matmul-begin
@cuda.jit
def _matmul_tiled(A, B, C):
    sA = cuda.shared.array(shape=(TILE, TILE), dtype=numba.float32)
    sB = cuda.shared.array(shape=(TILE, TILE), dtype=numba.float32)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    acc = 0.0
    for t in range((A.shape[1] + TILE - 1) // TILE):
        # each thread loads one element of each tile: the block reads a TILE x TILE tile once
        k = t * TILE + tx
        sA[ty, tx] = A[row, k] if row < A.shape[0] and k < A.shape[1] else 0.0
        k = t * TILE + ty
        sB[ty, tx] = B[k, col] if k < B.shape[0] and col < B.shape[1] else 0.0
        cuda.syncthreads()                # the tiles are complete before anyone reads them
        for kk in range(TILE):            # TILE FMAs per pair of global loads
            acc += sA[ty, kk] * sB[kk, tx]
        cuda.syncthreads()                # everyone is done before the tiles are overwritten
    if row < C.shape[0] and col < C.shape[1]:
        C[row, col] = acc
# magictoken: tiled_matmul-end


# magictoken: reduce-begin
@cuda.jit
def _reduce_block_sums(x, partial):
    s = cuda.shared.array(shape=REDUCE_THREADS, dtype=numba.float32)
    tid = cuda.threadIdx.x
    acc = 0.0
    i = cuda.grid(1)
    while i < x.size:                     # grid-stride loop: any n with a fixed grid
        acc += x[i]
        i += cuda.gridsize(1)
    s[tid] = acc
    cuda.syncthreads()
    step = REDUCE_THREADS // 2
    while step > 0:                       # halve the active threads each round: log2(threads)
        if tid < step:
            s[tid] += s[tid + step]
        cuda.syncthreads()
        step //= 2
    if tid == 0:
        partial[cuda.blockIdx.x] = s[0]
# magictoken: reduce-end


def _as_f32_matrix(name, a) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def cuda_matmul(A, B, variant: str = "shared") -> np.ndarray:
    """``A @ B`` in float32 computed by a numba.cuda kernel, returned as a NumPy array.

    Parameters
    ----------
    A : array_like (m, k), B : array_like (k, n)
    variant : ``"naive"`` (one thread per output, operands from global memory) or ``"shared"``
        (TILE x TILE thread blocks staging tiles of A and B in shared memory)

    Runs on the GPU, or on numba's CUDA simulator (:func:`backend`); keep sizes to a few dozen
    under the simulator.
    """
    check_choice("variant", variant, MATMUL_VARIANTS)
    A = _as_f32_matrix("A", A)
    B = _as_f32_matrix("B", B)
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A's columns must equal B's rows, got {A.shape} and {B.shape}")
    _require_backend()
    m, n = A.shape[0], B.shape[1]
    C = np.zeros((m, n), dtype=np.float32)
    dA, dB, dC = cuda.to_device(A), cuda.to_device(B), cuda.to_device(C)
    if variant == "naive":
        # grid(2) gives (x, y); the kernel reads x as the row
        grid = (math.ceil(m / TILE), math.ceil(n / TILE))
        _matmul_naive[grid, (TILE, TILE)](dA, dB, dC)
    else:
        grid = (math.ceil(n / TILE), math.ceil(m / TILE))
        _matmul_tiled[grid, (TILE, TILE)](dA, dB, dC)
    return dC.copy_to_host()


def cuda_reduce_sum(x, blocks: int | None = None) -> float:
    """Sum of ``x`` (float32) by a shared-memory tree reduction kernel, repeated until one value.

    Each pass launches ``blocks`` blocks of :data:`REDUCE_THREADS` threads (default: enough for one
    element per thread, at most 64); each block writes its partial sum; the partial sums are
    reduced by the next pass.
    """
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"x must hold real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32).ravel()
    if arr.size == 0:
        raise ValueError("x must have at least one element")
    if blocks is not None:
        blocks = check_int("blocks", blocks, minimum=1, maximum=65535)
    _require_backend()
    data = cuda.to_device(arr)
    while True:
        nb = blocks if blocks is not None else min(64, math.ceil(data.size / REDUCE_THREADS))
        nb = min(nb, math.ceil(data.size / REDUCE_THREADS))
        partial = cuda.device_array(nb, dtype=np.float32)
        _reduce_block_sums[nb, REDUCE_THREADS](data, partial)
        if nb == 1:
            return float(partial.copy_to_host()[0])
        data = partial


def check_kernels(n: int | None = None, repeats: int = 3, seed: int = 0):
    """Run every kernel once on ``n x n`` float32 matrices (and ``n * n`` elements to sum), check
    each result against NumPy, and time it on a real GPU.

    ``n`` defaults to 24 under the simulator (seconds) and 2048 on a GPU. Times are best-of-
    ``repeats`` wall-clock seconds including the host-device copies; under the simulator they
    measure Python, not a GPU, and are reported as NaN.

    Returns
    -------
    DataFrame: ``kernel, n, backend, max_abs_error, correct, time_s, GFLOPs`` (GFLOP/s of the
    matmuls; NaN for the reduction and under the simulator).
    """
    import time

    import pandas as pd

    sim = using_simulator()
    n = check_int("n", n if n is not None else (24 if sim else 2048), minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(seed)
    # small integers: every partial sum is exact in float32, so "correct" means equal
    A = rng.integers(-4, 5, (n, n)).astype(np.float32)
    B = rng.integers(-4, 5, (n, n)).astype(np.float32)
    x = rng.integers(-4, 5, n * n).astype(np.float32)
    jobs = [("matmul naive", lambda: cuda_matmul(A, B, "naive"), A.astype(np.float64) @ B,
             2.0 * n**3),
            ("matmul shared", lambda: cuda_matmul(A, B, "shared"), A.astype(np.float64) @ B,
             2.0 * n**3),
            ("reduce sum", lambda: np.float64(cuda_reduce_sum(x)), x.astype(np.float64).sum(),
             np.nan)]
    rows = []
    for name, fn, ref, flops in jobs:
        got = fn()   # also the warm-up: compiles the kernel
        times = []
        if not sim:
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        best = min(times) if times else np.nan
        err = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - ref)))
        rows.append(dict(kernel=name, n=n, backend=backend(), max_abs_error=err,
                         correct=err == 0.0, time_s=best, GFLOPs=flops / best / 1e9))
    return pd.DataFrame(rows)


#: the kernels :func:`kernel_source` shows, by their marker's name
KERNEL_PARTS = ("naive_matmul", "tiled_matmul", "reduce")


def kernel_source(part: str) -> str:
    """Source lines of a CUDA kernel between its ``# magictoken: <part>-begin`` and ``-end``
    markers, decorator included, for a chapter to show; ``part`` one of :data:`KERNEL_PARTS`."""
    check_choice("part", part, KERNEL_PARTS)
    return marked_source(sys.modules[__name__], part)
