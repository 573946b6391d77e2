"""One matrix product, ``C = A @ B``, written four ways to show what reuse buys.

=============  ==============================================================  ==============
variant        what it does                                                    threads
=============  ==============================================================  ==============
``naive``      the textbook ``i, j, k`` loops: the inner loop walks a column   1
               of ``B``, one cache line per element
``reordered``  ``i, k, j`` loops: the inner loop walks a row of ``B`` and of    1
               ``C`` contiguously (vectorisable), but a row of ``B`` is reused
               only while it stays in cache
``tiled``      ``reordered`` over ``T x T`` blocks of A, B, C, so the three     1
               blocks stay in L1/L2 while each is reused ``T`` times
``packed``     Goto & van de Geijn / BLIS: panels of ``B`` (``KC x NC``) and    all (numba)
               blocks of ``A`` (``MC x KC``) are copied ("packed") into
               contiguous micro-panels, and a ``MR x NR`` micro-kernel keeps a
               block of ``C`` in an L1-resident buffer while it streams them
               (BLIS keeps it in registers; see below)
=============  ==============================================================  ==============

The blocking constants of ``packed`` are :data:`PACKED_BLOCKING` (passed to the kernel as
arguments); the micro-kernel's loops have run-time lengths on purpose: with literal lengths LLVM
unrolls them fully and then leaves the 16 multiply-adds scalar (it cannot prove the accumulator
block and the packed panels do not overlap), while a loop of run-time length gets LLVM's loop
vectoriser, which checks for overlap at run time and emits vector FMAs
(``_micro_kernel.inspect_asm()`` shows them).

:func:`traffic_bytes` counts the bytes each variant moves between the cache level that holds its
blocks and the level below, from the loop structure (not just the compulsory bytes of reading A
and B and writing C once), which is the operational intensity that places each variant on a
roofline.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

from .source import marked_source
from .validation import check_choice, check_int

VARIANTS = ("naive", "reordered", "tiled", "packed")

#: Tile edge of ``tiled`` (elements): three 64 x 64 float64 tiles are 96 KiB, within a 1 MiB L2.
TILE = 64
#: ``packed``'s blocks (elements): MC x KC of A (256 KiB in float64, within a 1 MiB L2), KC x NC
#: of B (8 MiB, in L3), and the MR x NR block of C the micro-kernel accumulates (4 KiB, in L1).
#: Chosen by measurement at n = 1024 on a 2-core AVX-512 machine (NR = 64 beat 16 and 32: LLVM's
#: vector loop body covers 32 doubles, so a row of 16 ran in its narrow remainder loop).
PACKED_BLOCKING = {"MC": 64, "KC": 512, "NC": 2048, "MR": 8, "NR": 64}


@njit(cache=True)
def _naive_kernel(a, b, c):
    # magictoken: naive-begin
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for p in range(k):
                acc += a[i, p] * b[p, j]  # b[p, j] strides down a column: a new line each time
            c[i, j] = acc
    # magictoken: naive-end


@njit(cache=True, fastmath=True)
def _reordered_kernel(a, b, c):
    # magictoken: reordered-begin
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        for p in range(k):
            aip = a[i, p]
            for j in range(n):
                c[i, j] += aip * b[p, j]  # rows of B and C, contiguous
    # magictoken: reordered-end


@njit(cache=True, fastmath=True)
def _tiled_kernel(a, b, c, tile):
    # magictoken: tiled-begin
    m, k = a.shape
    n = b.shape[1]
    for i0 in range(0, m, tile):
        for p0 in range(0, k, tile):
            for j0 in range(0, n, tile):
                j1 = min(j0 + tile, n)
                for i in range(i0, min(i0 + tile, m)):
                    crow = c[i, j0:j1]  # row views: indices from range(0, ...) vectorise
                    for p in range(p0, min(p0 + tile, k)):
                        aip = a[i, p]
                        brow = b[p, j0:j1]
                        for j in range(crow.shape[0]):
                            crow[j] += aip * brow[j]
    # magictoken: tiled-end


@njit(cache=True)
def _pack_b(b, p0, j0, out):
    # KC x NC panel of B -> out[panel, p, j]: micro-panels of NR columns, each row-major,
    # zero-padded
    n_panels, kc, nr = out.shape
    n = b.shape[1]
    for q in range(n_panels):
        for p in range(kc):
            for j in range(nr):
                jj = j0 + q * nr + j
                out[q, p, j] = b[p0 + p, jj] if jj < n else 0.0


@njit(cache=True)
def _pack_a(a, i0, mc, p0, out):
    # MC x KC block of A -> out[panel, p, i]: micro-panels of MR rows, column by column, zero-padded
    n_panels, kc, mr = out.shape
    for q in range(n_panels):
        for p in range(kc):
            for i in range(mr):
                r = q * mr + i
                out[q, p, i] = a[i0 + r, p0 + p] if r < mc else 0.0


@njit(cache=True, fastmath=True)
def _micro_kernel(ap, bp, acc):
    # magictoken: micro-begin
    # ap: (KC, MR) micro-panel of A; bp: (KC, NR) micro-panel of B; acc: the MR x NR block of C.
    # Every index is a range variable (numba adds no negative-index checks) and the loop lengths
    # are run-time values, so LLVM's loop vectoriser turns the j loop into vector FMAs.
    mr, nr = acc.shape
    acc[:, :] = 0.0
    for p in range(ap.shape[0]):
        for i in range(mr):
            aval = ap[p, i]
            for j in range(nr):
                acc[i, j] += aval * bp[p, j]  # one broadcast, NR FMAs
    # magictoken: micro-end


@njit(cache=True, parallel=True)
def _packed_kernel(a, b, c, mc, kc, nc, mr, nr):
    # magictoken: packed-begin
    m, k = a.shape
    n = b.shape[1]
    n_iblocks = (m + mc - 1) // mc
    for j0 in range(0, n, nc):                      # 5th loop: NC columns of B and C
        ncb = min(nc, n - j0)
        for p0 in range(0, k, kc):                  # 4th loop: KC-deep slice of A and B
            kcb = min(kc, k - p0)
            bpack = np.empty(((ncb + nr - 1) // nr, kcb, nr), dtype=a.dtype)
            _pack_b(b, p0, j0, bpack)               # B panel: shared by all threads
            for ib in prange(n_iblocks):            # 3rd loop: MC rows of A, one per thread
                i0 = ib * mc
                mcb = min(mc, m - i0)
                apack = np.empty(((mcb + mr - 1) // mr, kcb, mr), dtype=a.dtype)
                _pack_a(a, i0, mcb, p0, apack)
                acc = np.empty((mr, nr), dtype=a.dtype)
                for jq in range(bpack.shape[0]):    # 2nd loop: NR columns (a B micro-panel)
                    for iq in range(apack.shape[0]):  # 1st loop: MR rows (an A micro-panel)
                        _micro_kernel(apack[iq], bpack[jq], acc)
                        for i in range(min(mr, mcb - iq * mr)):
                            for j in range(min(nr, ncb - jq * nr)):
                                c[i0 + iq * mr + i, j0 + jq * nr + j] += acc[i, j]
    # magictoken: packed-end


def _check_operands(A, B) -> tuple[np.ndarray, np.ndarray]:
    for name, x in (("A", A), ("B", B)):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {x.ndim}-D")
        if x.dtype not in (np.float64, np.float32):
            raise TypeError(f"{name} must be float64 or float32, got {x.dtype}")
        if 0 in x.shape:
            raise ValueError(f"{name} must have at least one row and column, got {x.shape}")
    if A.dtype != B.dtype:
        raise TypeError(f"A and B must have the same dtype, got {A.dtype} and {B.dtype}")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A's columns ({A.shape[1]}) must equal B's rows ({B.shape[0]})")
    return np.ascontiguousarray(A), np.ascontiguousarray(B)


def matmul(A: np.ndarray, B: np.ndarray, variant: str = "packed") -> np.ndarray:
    """``A @ B`` computed by one of :data:`VARIANTS` (see the module docstring).

    Parameters
    ----------
    A : ndarray, shape (m, k), float64 or float32
    B : ndarray, shape (k, n), same dtype as ``A``
    variant : {"naive", "reordered", "tiled", "packed"}
        ``packed`` runs on numba's current thread count (see :func:`aichip.threads.numba_threads`);
        the others on one thread.

    Returns
    -------
    ndarray, shape (m, n), dtype of ``A``
    """
    check_choice("variant", variant, VARIANTS)
    A, B = _check_operands(A, B)
    C = np.zeros((A.shape[0], B.shape[1]), dtype=A.dtype)
    if variant == "naive":
        _naive_kernel(A, B, C)
    elif variant == "reordered":
        _reordered_kernel(A, B, C)
    elif variant == "tiled":
        _tiled_kernel(A, B, C, TILE)
    else:
        blk = PACKED_BLOCKING
        _packed_kernel(A, B, C, blk["MC"], blk["KC"], blk["NC"], blk["MR"], blk["NR"])
    return C


def traffic_bytes(n: int, variant: str, bytes_per_elem: int = 8) -> int:
    """Bytes moved between the cache that holds a variant's reused data and the level below it,
    for square ``n x n`` matrices, counted from the loops (each count is stated in its branch).

    * ``naive``: every ``b[p, j]`` load misses (a column walk touches a new line each time, and
      the ``n`` lines of a column are evicted before the next column reuses them once ``n`` lines
      exceed the cache): ``n**3`` elements of B, plus A's row (reused from cache) and C: about
      ``n**3 + 2 n**2`` elements.
    * ``reordered``: for each of the ``n`` rows of C, all of B streams by (B does not fit in
      cache for large ``n``): ``n**3`` elements of B, plus A and C once each.
    * ``tiled`` with tile ``T``: each of the ``(n/T)**3`` block steps loads a tile of B and reads
      and writes a tile of C (``3 T**2``), while the tile of A is loaded once per ``(i0, p0)``:
      ``3 n**3 / T + n**2`` elements.
    * ``packed`` (Goto's schedule): B is read once (packed once per KC x NC panel, ``n**2``), A once
      per NC-wide column panel (``n**2 * ceil(n / NC)``), and C read and written once per KC-deep
      slice (``2 n**2 * ceil(n / KC)``).
    """
    n = check_int("n", n, minimum=1)
    check_choice("variant", variant, VARIANTS)
    bytes_per_elem = check_int("bytes_per_elem", bytes_per_elem, minimum=1)
    if variant in ("naive", "reordered"):
        elems = n**3 + 2 * n**2
    elif variant == "tiled":
        elems = 3 * n**3 // TILE + n**2
    else:
        blk = PACKED_BLOCKING
        n_col_panels = -(-n // blk["NC"])
        n_k_slices = -(-n // blk["KC"])
        elems = n**2 * n_col_panels + n**2 + 2 * n**2 * n_k_slices
    return elems * bytes_per_elem


def intensity(n: int, variant: str, bytes_per_elem: int = 8) -> float:
    """Operational intensity (FLOP/byte) of a square ``n x n`` product by ``variant``:
    ``2 n**3`` flops over :func:`traffic_bytes`."""
    return 2 * n**3 / traffic_bytes(n, variant, bytes_per_elem)


def benchmark(n: int = 1024, variants=VARIANTS, dtype: str = "float64", threads: int | None = None,
              repeats: int = 3, seed: int = 0):
    """Time each variant and NumPy's BLAS (``"numpy"``) on the same ``n x n`` operands, side by
    side.

    ``packed`` and NumPy run on ``threads`` threads (numba's and the BLAS library's, default all);
    the other variants on one. Best of ``repeats`` timed calls after one warm-up call.

    Returns
    -------
    pandas.DataFrame
        Columns ``variant``, ``n``, ``threads``, ``best_s``, ``GFLOPs`` (``2 n**3`` over the best
        time), ``intensity`` (FLOP/byte from :func:`traffic_bytes`; compulsory traffic for NumPy),
        ``max_rel_err`` (against NumPy's product, so every timing carries its correctness check).
    """
    import pandas as pd

    from .threads import blas_threads, numba_threads
    from .timing import time_call
    from .validation import check_threads

    n = check_int("n", n, minimum=1)
    for v in variants:
        check_choice("variants", v, VARIANTS)
    check_choice("dtype", dtype, ("float64", "float32"))
    threads = check_threads(threads)
    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    size = np.dtype(dtype).itemsize
    with blas_threads(threads):
        ref_t = time_call(lambda: A @ B, repeats=repeats)
        ref = A @ B
    scale = np.abs(ref).max()
    rows = [("numpy", threads, ref_t.best_s, 0.0, 2 * n**3 / (size * 3 * n**2))]
    for v in variants:
        with numba_threads(threads if v == "packed" else 1):
            t = time_call(functools.partial(matmul, A, B, v), repeats=repeats)
            err = float(np.abs(matmul(A, B, v) - ref).max() / scale)
        rows.append((v, threads if v == "packed" else 1, t.best_s, err, intensity(n, v, size)))
    df = pd.DataFrame(rows, columns=["variant", "threads", "best_s", "max_rel_err", "intensity"])
    df.insert(1, "n", n)
    df["GFLOPs"] = 2 * n**3 / df["best_s"] / 1e9
    return df


def kernel_source(part: str) -> str:
    """Source lines of a kernel between its ``# magictoken: <part>-begin`` and ``-end`` markers,
    dedented, for a chapter to show; ``part`` one of ("naive", "reordered", "tiled", "micro",
    "packed")."""
    kernels = {"naive": _naive_kernel, "reordered": _reordered_kernel, "tiled": _tiled_kernel,
               "micro": _micro_kernel, "packed": _packed_kernel}
    check_choice("part", part, tuple(kernels))
    return marked_source(kernels[part], part)
