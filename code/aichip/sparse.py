"""Sparse weights: 2:4 structured sparsity and block sparsity, with a block-sparse CPU matmul.

2:4 structured sparsity (NVIDIA Ampere and later)
-------------------------------------------------
In every group of four consecutive weights along a row, at most two are non-zero. Magnitude pruning
keeps the two of largest magnitude (ties go to the lower column). NVIDIA's compressed format stores
the kept values, half as many as the dense row, and for each kept value a 2-bit index of its
position in its group of four (Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks"):

* ``values``: shape ``(rows, cols / 2)``, the kept values in column order;
* ``metadata``: shape ``(rows, cols / 2)``, each entry in ``0..3``, increasing within a group.

The metadata costs 2 bits per kept value, ``rows * cols / 8`` bytes in all
(:func:`pack_metadata_2_4` packs it four indices per byte). The sparse Tensor Core skips the
zeros and so doubles the math rate on the same matrix shape.

Block sparsity (OpenAI's block-sparse GPU kernels, Gray, Radford and Kingma 2017)
-----------------------------------------------------------------------------------
A weight matrix ``W`` of shape ``(K, N)`` is cut into ``block_size x block_size`` blocks; a 0/1
``layout`` of shape ``(K / block_size, N / block_size)`` says which blocks are stored. ``blocks``
holds the stored blocks, shape ``(nnz, block_size, block_size)``, in row-major order of the layout.
:func:`block_sparse_matmul` computes ``x @ W`` touching only the stored blocks, so its work is
``2 * M * nnz * block_size**2`` FLOP: ``density`` times the dense ``2 * M * K * N``.
"""

from __future__ import annotations

import functools
import sys

import numba
import numpy as np
import pandas as pd
from numba import njit, prange

from . import gemm, machine
from .source import marked_source
from .validation import check_choice, check_int

__all__ = ["prune_2_4", "decompress_2_4", "pack_metadata_2_4", "unpack_metadata_2_4",
           "to_block_sparse", "from_block_sparse", "random_layout", "block_sparse_matmul",
           "benchmark", "sweep", "crossover_density", "BLOCK_SIZES", "KERNEL_PARTS",
           "kernel_source"]

#: block sizes OpenAI's kernels support (Gray, Radford and Kingma 2017)
BLOCK_SIZES = (8, 16, 32)


def _matrix(name: str, a, dtype=None) -> np.ndarray:
    arr = np.asarray(a, dtype=dtype)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers")
    return arr


# --- 2:4 structured sparsity ------------------------------------------------------------------

def prune_2_4(W) -> tuple[np.ndarray, np.ndarray]:
    """Prune ``W`` to 2:4 along its rows and compress it; returns ``(values, metadata)``.

    Parameters
    ----------
    W : array_like, shape (rows, cols), cols a multiple of 4

    Returns
    -------
    values : ndarray, shape (rows, cols // 2), dtype of ``W``
        The two kept values of each group of four, in column order.
    metadata : uint8 ndarray, shape (rows, cols // 2)
        Each kept value's position in its group (0..3), increasing within a group.
    """
    W = _matrix("W", W)
    rows, cols = W.shape
    if cols % 4:
        raise ValueError(f"W must have a multiple of 4 columns for 2:4 sparsity, got {cols}")
    groups = W.reshape(rows, cols // 4, 4)
    # a stable sort on -|w| keeps the lower position first among equal magnitudes
    order = np.argsort(-np.abs(groups), axis=2, kind="stable")[:, :, :2]
    keep = np.sort(order, axis=2)
    values = np.take_along_axis(groups, keep, axis=2).reshape(rows, cols // 2)
    return values, keep.reshape(rows, cols // 2).astype(np.uint8)


def decompress_2_4(values, metadata) -> np.ndarray:
    """The dense pruned matrix, shape ``(rows, 2 * values.shape[1])``, from :func:`prune_2_4`'s
    output."""
    values = _matrix("values", values)
    metadata = np.asarray(metadata)
    if metadata.shape != values.shape:
        raise ValueError(f"metadata must have the shape of values {values.shape}, "
                         f"got {metadata.shape}")
    rows, half = values.shape
    if half % 2:
        raise ValueError(f"values must have an even number of columns (two per group), got {half}")
    if metadata.size and (metadata.min() < 0 or metadata.max() > 3):
        raise ValueError("metadata must hold positions 0..3")
    idx = metadata.reshape(rows, half // 2, 2).astype(np.intp)
    if np.any(idx[:, :, 0] >= idx[:, :, 1]):
        raise ValueError("metadata must hold two different, increasing positions per group")
    dense = np.zeros((rows, half // 2, 4), dtype=values.dtype)
    np.put_along_axis(dense, idx, values.reshape(rows, half // 2, 2), axis=2)
    return dense.reshape(rows, 2 * half)


def pack_metadata_2_4(metadata) -> np.ndarray:
    """Pack 2-bit positions four to a byte, the first in the low bits: ``rows * cols / 8`` bytes.

    Returns a uint8 array of shape ``(rows, metadata.shape[1] // 4)``.
    """
    m = np.asarray(metadata)
    if m.ndim != 2 or m.shape[1] % 4:
        raise ValueError(f"metadata must be 2-D with a multiple of 4 columns, got shape {m.shape}")
    if m.size and (m.min() < 0 or m.max() > 3):
        raise ValueError("metadata must hold positions 0..3")
    m = m.astype(np.uint8).reshape(m.shape[0], -1, 4)
    return (m[:, :, 0] | (m[:, :, 1] << 2) | (m[:, :, 2] << 4) | (m[:, :, 3] << 6)).astype(np.uint8)


def unpack_metadata_2_4(packed) -> np.ndarray:
    """Inverse of :func:`pack_metadata_2_4`."""
    p = np.asarray(packed)
    if p.ndim != 2 or p.dtype != np.uint8:
        raise ValueError(f"packed must be a 2-D uint8 array, got {p.dtype} shape {p.shape}")
    return np.stack([(p >> s) & 3 for s in (0, 2, 4, 6)], axis=2).reshape(p.shape[0], -1)


# --- block sparsity ----------------------------------------------------------------------------

def _check_block(block_size) -> int:
    return check_int("block_size", block_size, minimum=1)


def to_block_sparse(W, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``W`` (K, N) into blocks; keep the blocks with a non-zero. Returns ``(blocks, layout)``.

    ``layout`` is a uint8 array (K / block_size, N / block_size) of 0/1; ``blocks`` has shape
    ``(layout.sum(), block_size, block_size)``, row-major order of the layout.
    """
    W = _matrix("W", W)
    b = _check_block(block_size)
    K, N = W.shape
    if K % b or N % b:
        raise ValueError(f"W's shape {W.shape} must be a multiple of block_size={b}")
    tiles = W.reshape(K // b, b, N // b, b).transpose(0, 2, 1, 3)
    layout = np.any(tiles != 0, axis=(2, 3)).astype(np.uint8)
    return np.ascontiguousarray(tiles[layout.astype(bool)]), layout


def _check_layout(blocks, layout, block_size):
    b = _check_block(block_size)
    layout = np.asarray(layout)
    if layout.ndim != 2 or not np.all((layout == 0) | (layout == 1)):
        raise ValueError("layout must be a 2-D array of 0s and 1s")
    blocks = np.asarray(blocks)
    nnz = int(layout.sum())
    if blocks.shape != (nnz, b, b):
        raise ValueError(f"blocks must have shape (layout.sum(), block_size, block_size) = "
                         f"{(nnz, b, b)}, got {blocks.shape}")
    return blocks, layout.astype(np.uint8), b


def from_block_sparse(blocks, layout, block_size: int) -> np.ndarray:
    """The dense matrix (K, N) that ``blocks`` and ``layout`` describe (zeros elsewhere)."""
    blocks, layout, b = _check_layout(blocks, layout, block_size)
    kb, nb = layout.shape
    tiles = np.zeros((kb, nb, b, b), dtype=blocks.dtype)
    tiles[layout.astype(bool)] = blocks
    return tiles.transpose(0, 2, 1, 3).reshape(kb * b, nb * b)


def random_layout(k_blocks: int, n_blocks: int, density: float, seed: int = 0) -> np.ndarray:
    """A 0/1 layout with ``round(density * k_blocks)`` stored blocks in every block column.

    The same count per column keeps the work balanced across output columns, as a pruned layer
    with a fixed budget per output would be. Seeded ``numpy.random.Generator``.
    """
    k_blocks = check_int("k_blocks", k_blocks, minimum=1)
    n_blocks = check_int("n_blocks", n_blocks, minimum=1)
    if not isinstance(density, (int, float)) or not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    per_col = max(1, round(density * k_blocks))
    rng = np.random.default_rng(seed)
    layout = np.zeros((k_blocks, n_blocks), dtype=np.uint8)
    for j in range(n_blocks):
        layout[rng.choice(k_blocks, per_col, replace=False), j] = 1
    return layout


# magictoken: block_sparse_kernel-begin
@njit(parallel=True, cache=True, boundscheck=False)
def _block_sparse_kernel(x, bp, col_ptr, row_block, block_of, b, mr, block_panels, threads,
                         out):
    # out[:, j*w:(j+1)*w] = x[:, k-blocks stored in block column j] @ those blocks, on the packed
    # GEMM's micro-kernel; bp: each stored block in NR-column micro-panels (nnz, w / NR, b, NR),
    # w = out's columns per block column (b rounded up to whole micro-panels)
    m, k = x.shape
    panels_per_block, nr = bp.shape[1], bp.shape[3]
    n, n_panels = out.shape[1], out.shape[0] // mr   # out: whole MR x NR tiles
    for t in prange(threads):                         # a share of x's MR-row micro-panels each
        q0, q1 = t * n_panels // threads, (t + 1) * n_panels // threads
        xp = np.empty((block_panels, k, mr), dtype=x.dtype)
        for qb in range(q0, q1, block_panels):        # a block of rows of x, packed into L2 ...
            nq = min(q1, qb + block_panels) - qb
            gemm.pack_a(x, qb * mr, min(m - qb * mr, nq * mr), 0, xp[:nq])
            for j in range(col_ptr.size - 1):         # ... meets every block column of W
                for s in range(panels_per_block):     # NR columns of the block column
                    c0 = j * panels_per_block * nr + s * nr
                    for iq in range(nq):              # MR rows of x and out
                        out[(qb + iq) * mr:(qb + iq + 1) * mr, c0:c0 + nr] = 0.0
                        for p in range(col_ptr[j], col_ptr[j + 1]):   # only the stored blocks
                            gemm.micro_kernel(b, xp, (iq * k + row_block[p] * b) * mr,
                                              bp, (block_of[p] * panels_per_block + s) * b * nr,
                                              out, (qb + iq) * mr * n + c0, n)
# magictoken: block_sparse_kernel-end


@njit(parallel=True, cache=True, boundscheck=False)
def _pack_blocks(blocks, bp):
    # every stored block -> NR-column micro-panels, zero-padded to whole panels (gemm's packing)
    for s in prange(blocks.shape[0]):
        gemm.pack_b(blocks[s], 0, 0, bp[s])


#: one core's L2 (bytes) as the OS reports it (512 KiB where it does not): x's row blocks fill half
L2_BYTES = next((c.size_bytes for c in machine.cache_levels() if c.level == 2), 512 * 2**10)


def _x_block_panels(k: int, itemsize: int, mr: int) -> int:
    """MR-row micro-panels of x (all ``k`` columns) that fill at most half of :data:`L2_BYTES`,
    leaving the other half to the stored blocks of a block column of W (at least one panel)."""
    return max(1, L2_BYTES // 2 // (k * itemsize * mr))


def block_sparse_matmul(x, blocks, layout, block_size: int) -> np.ndarray:
    """``x @ W`` for a block-sparse ``W`` given as ``(blocks, layout)`` (:func:`to_block_sparse`).

    Parameters
    ----------
    x : array_like, shape (M, K)
    blocks : ndarray, shape (nnz, block_size, block_size)
    layout : 0/1 array, shape (K / block_size, N / block_size)
    block_size : int

    Returns
    -------
    ndarray (M, N) in the result type of ``x`` and ``blocks`` (float32 stays float32). The kernel
    is :mod:`aichip.gemm`'s packed micro-kernel. Each of numba's threads takes a share of the
    rows of ``x`` and, a block of rows at a time, packs them (all K columns) into MR-row
    micro-panels that fill half of L2, then sweeps every block column of ``W`` over them: for
    each MR x NR tile of the output the micro-kernel adds the product of each stored block of the
    column with the rows of ``x`` it meets (``block_size`` steps a call). So ``x`` is read from
    memory once, each stored block once per row block (from L3, then L2), and nothing the
    kernel writes besides the output leaves L2. A stored block is used as it is when it is
    exactly one NR-column micro-panel (``block_size`` = NR, e.g. 32 in float32 with AVX-512);
    otherwise it is first packed into micro-panels, zero-padded to whole ones.
    """
    blocks, layout, b = _check_layout(blocks, layout, block_size)
    x = _matrix("x", x)
    kb, nb = layout.shape
    if x.shape[1] != kb * b:
        raise ValueError(f"x has {x.shape[1]} columns; layout and block_size need K = {kb * b}")
    dtype = np.result_type(x.dtype, blocks.dtype, np.float32)
    x = np.ascontiguousarray(x, dtype=dtype)
    blocks = np.ascontiguousarray(blocks, dtype=dtype)
    # column-major index of the stored blocks (blocks themselves stay in row-major layout order)
    block_id = np.full(layout.shape, -1, dtype=np.intp)
    block_id[layout.astype(bool)] = np.arange(int(layout.sum()))
    rows_t, cols_t = np.nonzero(layout.T)        # sorted by block column, then block row
    col_ptr = np.zeros(nb + 1, dtype=np.intp)
    np.add.at(col_ptr, rows_t + 1, 1)
    col_ptr = np.cumsum(col_ptr)
    mr, nr = gemm.micro_tile(dtype)
    m = x.shape[0]
    n_panels, panels = -(-m // mr), -(-b // nr)   # micro-panels of x's rows, of a block's columns
    if b == nr:   # a b x b block is already one NR-column micro-panel, row by row
        bp = blocks.reshape(blocks.shape[0], 1, b, nr)
    else:
        bp = np.empty((blocks.shape[0], panels, b, nr), dtype=dtype)
        _pack_blocks(blocks, bp)
    # whole micro-tiles: out padded to MR rows and NR columns per block column where needed;
    # the kernel zeroes each tile before it adds to it (np.zeros would write all of out once more)
    out = np.empty((n_panels * mr, nb * panels * nr), dtype=dtype)
    _block_sparse_kernel(x, bp, col_ptr, cols_t.astype(np.intp),
                         block_id[cols_t, rows_t].astype(np.intp), b, mr,
                         _x_block_panels(kb * b, x.itemsize, mr), numba.get_num_threads(), out)
    if out.shape[1] != nb * b:
        return np.ascontiguousarray(out.reshape(-1, nb, panels * nr)[:m, :, :b].reshape(m, nb * b))
    return out[:m]


def benchmark(n: int = 2048, block_size: int = 32, densities=(1.0, 0.5, 0.25, 0.125),
              repeats: int = 5, dtype=np.float32, seed: int = 0,
              min_time_s: float = 1.0) -> pd.DataFrame:
    """Time :func:`block_sparse_matmul` (n x n times n x n) against its own dense run and NumPy.

    For each density: a random balanced layout (:func:`random_layout`), the best time of at least
    ``repeats`` calls after a warm-up, the time ``density * dense`` would predict, and the result
    checked against NumPy on the dense equivalent. Density 1 (every block stored) is the kernel's
    own dense time. NumPy and every density are timed in turn, round after round, for at least
    ``repeats`` rounds and ``min_time_s`` seconds, so a burst of load from other programs slows
    them alike and a short run gets as many chances at a quiet moment as a long one.

    Returns
    -------
    DataFrame with columns ``density, block_size, n, time_s, median_s, predicted_s, ratio_to_linear,
    numpy_dense_s, speedup_vs_numpy, max_rel_error, machine`` (one row per density).
    """
    from .machine import describe
    from .validation import check_float

    n = check_int("n", n, minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    min_time_s = check_float("min_time_s", min_time_s, minimum=0.0)
    b = _check_block(block_size)
    if n % b:
        raise ValueError(f"n={n} must be a multiple of block_size={b}")
    densities = [float(d) for d in densities]
    if 1.0 not in densities:
        densities = [1.0, *densities]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n)).astype(dtype)
    W = rng.standard_normal((n, n)).astype(dtype)
    runs, dense = {"numpy": lambda: x @ W}, {}
    for d in sorted(densities, reverse=True):
        layout = random_layout(n // b, n // b, d, seed=seed)
        mask = np.kron(layout, np.ones((b, b), dtype=np.uint8)).astype(bool)
        dense[d] = np.where(mask, W, 0).astype(dtype)
        runs[d] = functools.partial(block_sparse_matmul, x, *to_block_sparse(dense[d], b), b)
    times = _interleaved_times(runs, repeats, min_time_s)
    numpy_s = min(times["numpy"])
    rows, dense_s = [], min(times[1.0])
    for d in sorted(densities, reverse=True):
        ref = x.astype(np.float64) @ dense[d].astype(np.float64)
        err = float(np.max(np.abs(runs[d]() - ref)) / np.max(np.abs(ref)))
        best = min(times[d])
        rows.append(dict(density=d, block_size=b, n=n, time_s=best,
                         median_s=float(np.median(times[d])), predicted_s=d * dense_s,
                         ratio_to_linear=best / (d * dense_s), numpy_dense_s=numpy_s,
                         speedup_vs_numpy=numpy_s / best, max_rel_error=err))
    df = pd.DataFrame(rows)
    df["machine"] = describe().cpu_model
    return df


def _interleaved_times(runs: dict, repeats: int, min_time_s: float) -> dict:
    """Seconds of each call of each function in ``runs``, timed in turn, round after round, after
    one warm-up call each: at least ``repeats`` rounds, and until ``min_time_s`` has passed. Before
    each timed call the other library's spinning worker threads are let settle
    (:func:`aichip.timing.wait_until_idle`), as :func:`aichip.gemm.benchmark` does."""
    import time

    from .timing import wait_until_idle

    for fn in runs.values():
        fn()
    times = {k: [] for k in runs}
    start = time.perf_counter()
    while min(len(v) for v in times.values()) < repeats or time.perf_counter() - start < min_time_s:
        for k, fn in runs.items():
            wait_until_idle()
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return times


def sweep(n: int = 512, block_sizes=BLOCK_SIZES, densities=(1.0, 0.5, 0.25, 0.125, 0.0625),
          repeats: int = 3, dtype=np.float32, seed: int = 0,
          min_time_s: float = 0.3) -> pd.DataFrame:
    """:func:`benchmark` for every block size: the data of the speed-up curves.

    Returns the rows of every :func:`benchmark` run, plus ``speedup_vs_own_dense`` (the kernel's
    dense time over its time at that density). Every run multiplies the same matrices, so the
    NumPy time is the best over all runs.
    """
    frames = []
    for b in block_sizes:
        df = benchmark(n=n, block_size=b, densities=densities, repeats=repeats, dtype=dtype,
                       seed=seed, min_time_s=min_time_s)
        df["speedup_vs_own_dense"] = df["time_s"].iloc[0] / df["time_s"]
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    # every run multiplied the same x and W with NumPy: keep the best of all those timings
    out["numpy_dense_s"] = out["numpy_dense_s"].min()
    out["speedup_vs_numpy"] = out["numpy_dense_s"] / out["time_s"]
    return out


def crossover_density(df: pd.DataFrame, block_size: int) -> float | None:
    """Density below which the block-sparse kernel beats NumPy's dense GEMM, from :func:`sweep`.

    Interpolates ``speedup_vs_numpy`` linearly in log(density) between the two densities that
    bracket 1; ``None`` if the kernel wins at every measured density or at none.
    """
    b = _check_block(block_size)
    part = df[df["block_size"] == b].sort_values("density")
    if part.empty:
        raise ValueError(f"block_size={b} is not in the sweep (it has "
                         f"{sorted(df['block_size'].unique())})")
    d = np.log(part["density"].to_numpy())
    s = np.log(part["speedup_vs_numpy"].to_numpy())
    for i in range(len(d) - 1):
        if s[i] >= 0 > s[i + 1]:
            return float(np.exp(d[i] + (d[i + 1] - d[i]) * s[i] / (s[i] - s[i + 1])))
    return None


#: the kernel parts a chapter can show (``# magictoken:`` markers in this file)
KERNEL_PARTS = ("block_sparse_kernel",)


def kernel_source(part: str = "block_sparse_kernel") -> str:
    """Source lines of this module between ``# magictoken: <part>-begin`` and ``-end``, for a
    chapter to show; ``part`` one of :data:`KERNEL_PARTS`."""
    check_choice("part", part, KERNEL_PARTS)
    return marked_source(sys.modules[__name__], part)
