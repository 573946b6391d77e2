"""IO-aware attention: the naive three-pass kernel and FlashAttention's tiled one-pass kernel.

Scaled dot-product attention of queries ``Q`` (N x d), keys ``K`` (M x d) and values ``V``
(M x d_v) is ``O = softmax(Q K^T / sqrt(d)) V``, the softmax taken along each row.

* :func:`naive_attention` does it as written (Dao et al. 2022, Algorithm 0): it materialises the
  N x M score matrix ``S``, turns it into probabilities ``P`` in place, and multiplies by ``V``;
  ``S`` (and ``P``) go to main memory and back.
* :func:`flash_attention` (Dao et al. 2022, Algorithm 1, in the loop order of FlashAttention-2:
  query blocks outside, key blocks inside) never forms ``S``: a ``block_q`` x ``block_k`` tile of
  scores lives only in fast memory and an **online softmax** carries, per query row, the running
  maximum ``m``, the running sum of exponentials ``l`` and the unnormalised output; when a new tile
  raises the maximum, the old sum and output are rescaled by ``exp(m_old - m_new)``. The result
  equals the naive one up to rounding.

Both accept one head, ``(N, d)`` arrays, or a batch of heads, ``(H, N, d)`` arrays (every head
computed independently); ``causal=True`` lets query ``i`` see keys ``j <= i`` only.

:func:`hbm_bytes` counts what each moves between main memory (the GPU's HBM) and the fast memory
(shared memory, the CPU's caches) and :func:`theorem2_bytes` the orders of the paper's Theorem 2:
Theta(N d + N^2) for the naive kernel, Theta(N^2 d^2 / M) for the tiled one with ``M`` bytes of
fast memory.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .source import marked_source
from .validation import check_choice, check_int

__all__ = ["naive_attention", "flash_attention", "attention_reference", "hbm_bytes",
           "flash_blocks", "theorem2_bytes", "attention_flops", "kernel_source", "ALGORITHMS",
           "measure", "roofline_case"]

#: the two kernels :func:`hbm_bytes` counts
ALGORITHMS = ("naive", "flash")


@njit(cache=True)
def _naive_head(q, k, v, out, scale, causal):
    n, m = q.shape[0], k.shape[0]
    # magictoken: naive-begin
    s = np.empty((n, m))                       # the N x M matrix the tiled kernel avoids
    for i in range(n):                         # pass 1: S = Q K^T / sqrt(d)
        for j in range(m):
            acc = 0.0
            for c in range(q.shape[1]):
                acc += q[i, c] * k[j, c]
            s[i, j] = acc * scale if (not causal or j <= i) else -np.inf
    for i in range(n):                         # pass 2: P = softmax(S), row by row, in place
        row_max = -np.inf
        for j in range(m):
            row_max = max(row_max, s[i, j])
        total = 0.0
        for j in range(m):
            s[i, j] = math.exp(s[i, j] - row_max)
            total += s[i, j]
        for j in range(m):
            s[i, j] /= total
    for i in range(n):                         # pass 3: O = P V
        for c in range(v.shape[1]):
            out[i, c] = 0.0
        for j in range(m):
            p = s[i, j]
            for c in range(v.shape[1]):
                out[i, c] += p * v[j, c]
    # magictoken: naive-end


@njit(cache=True, error_model="numpy")   # 0 / 0 is NaN, as in the naive kernel, not an error
def _flash_head(q, k, v, out, scale, causal, block_q, block_k):
    n, m, d, dv = q.shape[0], k.shape[0], q.shape[1], v.shape[1]
    # magictoken: flash-begin
    s = np.empty((block_q, block_k))           # one tile of scores: fast memory only
    acc = np.empty((block_q, dv))              # unnormalised output rows of the query block
    row_max = np.empty(block_q)
    row_sum = np.empty(block_q)
    for i0 in range(0, n, block_q):
        bq = min(block_q, n - i0)
        acc[:bq, :] = 0.0
        row_max[:bq] = -np.inf
        row_sum[:bq] = 0.0
        k_end = min(m, i0 + bq) if causal else m      # causal: later key blocks are all masked
        for j0 in range(0, k_end, block_k):
            bk = min(block_k, k_end - j0)
            for i in range(bq):
                for j in range(bk):
                    t = 0.0
                    for c in range(d):
                        t += q[i0 + i, c] * k[j0 + j, c]
                    s[i, j] = t * scale if (not causal or j0 + j <= i0 + i) else -np.inf
            for i in range(bq):                # online softmax: fold the tile into row i
                tile_max = -np.inf
                for j in range(bk):
                    tile_max = max(tile_max, s[i, j])
                new_max = max(row_max[i], tile_max)
                if new_max == -np.inf:
                    continue                   # every key so far masked for this row
                rescale = math.exp(row_max[i] - new_max)
                row_sum[i] *= rescale
                for c in range(dv):
                    acc[i, c] *= rescale
                for j in range(bk):
                    p = math.exp(s[i, j] - new_max)
                    row_sum[i] += p
                    for c in range(dv):
                        acc[i, c] += p * v[j0 + j, c]
                row_max[i] = new_max
        for i in range(bq):
            for c in range(dv):
                out[i0 + i, c] = acc[i, c] / row_sum[i]
    # magictoken: flash-end


def _prepare(Q, K, V):
    """Q, K, V as float64 (H, N, d) arrays, and whether the caller gave a batch of heads."""
    arrays = []
    for name, x in (("Q", Q), ("K", K), ("V", V)):
        a = np.asarray(x, dtype=np.float64)
        if a.ndim not in (2, 3) or a.size == 0:
            raise ValueError(f"{name} must be a non-empty (N, d) or (H, N, d) array, got shape "
                             f"{a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must hold finite numbers")
        arrays.append(a)
    q, k, v = arrays
    if not q.ndim == k.ndim == v.ndim:
        raise ValueError(f"Q, K and V must all be 2-D or all 3-D, got shapes {q.shape}, "
                         f"{k.shape}, {v.shape}")
    batched = q.ndim == 3
    if not batched:
        q, k, v = q[None], k[None], v[None]
    if q.shape[0] != k.shape[0] or k.shape[0] != v.shape[0]:
        raise ValueError(f"Q, K and V must have the same number of heads, got {q.shape[0]}, "
                         f"{k.shape[0]}, {v.shape[0]}")
    if q.shape[2] != k.shape[2]:
        raise ValueError(f"Q and K must have the same head dimension d, got {q.shape[2]} and "
                         f"{k.shape[2]}")
    if k.shape[1] != v.shape[1]:
        raise ValueError(f"K and V must have the same number of rows, got {k.shape[1]} and "
                         f"{v.shape[1]}")
    return (np.ascontiguousarray(q), np.ascontiguousarray(k), np.ascontiguousarray(v),
            batched)


def naive_attention(Q, K, V, causal: bool = False) -> np.ndarray:
    """``softmax(Q K^T / sqrt(d)) V`` computed in three passes through an N x M score matrix.

    Parameters
    ----------
    Q : (N, d) or (H, N, d) array_like
    K : (M, d) or (H, M, d) array_like
    V : (M, d_v) or (H, M, d_v) array_like
    causal : bool
        Mask key ``j > i`` for query ``i`` (positions counted from the start of both).

    Returns
    -------
    float64 ndarray, (N, d_v) or (H, N, d_v).
    """
    q, k, v, batched = _prepare(Q, K, V)
    out = np.empty((q.shape[0], q.shape[1], v.shape[2]))
    scale = 1.0 / math.sqrt(q.shape[2])
    for h in range(q.shape[0]):
        _naive_head(q[h], k[h], v[h], out[h], scale, bool(causal))
    return out if batched else out[0]


def flash_attention(Q, K, V, block_q: int = 64, block_k: int = 64,
                    causal: bool = False) -> np.ndarray:
    """The same attention as :func:`naive_attention`, tiled with an online softmax.

    ``block_q`` query rows and ``block_k`` key rows form one tile of scores; shapes and
    ``causal`` as in :func:`naive_attention`. Equal to the naive result to about 1e-15 relative in
    float64 (only the order of additions differs).
    """
    block_q = check_int("block_q", block_q, minimum=1)
    block_k = check_int("block_k", block_k, minimum=1)
    q, k, v, batched = _prepare(Q, K, V)
    out = np.empty((q.shape[0], q.shape[1], v.shape[2]))
    scale = 1.0 / math.sqrt(q.shape[2])
    for h in range(q.shape[0]):
        _flash_head(q[h], k[h], v[h], out[h], scale, bool(causal), block_q, block_k)
    return out if batched else out[0]


def attention_reference(Q, K, V, causal: bool = False) -> np.ndarray:
    """NumPy reference: the softmax of the whole score matrix, for tests (one head or a batch)."""
    q, k, v, batched = _prepare(Q, K, V)
    s = q @ np.swapaxes(k, 1, 2) / math.sqrt(q.shape[2])
    if causal:
        s = np.where(np.tril(np.ones(s.shape[1:], dtype=bool)), s, -np.inf)
    p = np.exp(s - s.max(axis=2, keepdims=True))
    out = (p / p.sum(axis=2, keepdims=True)) @ v
    return out if batched else out[0]


def flash_blocks(d: int, sram_bytes: int, bytes_per_element: int = 2) -> tuple[int, int]:
    """The largest square tiles of this module's loop order that fit ``sram_bytes`` of fast memory.

    A query block and its output accumulator (``b x d`` each), one key and one value tile
    (``b x d`` each) and the ``b x b`` score tile must fit: ``b`` is the largest integer with
    ``4 b d + b^2 <= M``, ``M`` counted in elements (at least 1). For ``M >= d^2`` this is
    ``Theta(M / d)``, which gives the tiled kernel the ``Theta(N^2 d^2 / M)`` traffic of Dao et
    al.'s Theorem 2. (Their Algorithm 1, which loops over key blocks outside, uses ``B_c =
    ceil(M / 4d)`` and ``B_r = min(B_c, d)`` instead.) Returns ``(block_q, block_k)``.
    """
    d = check_int("d", d, minimum=1)
    elements = check_int("sram_bytes", sram_bytes, minimum=1) // check_int(
        "bytes_per_element", bytes_per_element, minimum=1)
    # (b + 2d)^2 <= 4 d^2 + M exactly when 4 b d + b^2 <= M: an integer square root solves it
    b = max(1, math.isqrt(4 * d * d + elements) - 2 * d)
    return b, b


def hbm_bytes(n: int, d: int, algorithm: str, block_q: int = 64, bytes_per_element: int = 2,
              causal: bool = False) -> int:
    """Bytes one head's forward pass moves between main memory and fast memory.

    ``naive`` (Algorithm 0, every matrix read or written once per pass): read Q and K, write S;
    read S, write P; read P and V, write O: ``4 N d + 4 N^2`` elements (causal: the same, the
    masked entries are still stored).

    ``flash`` (this module's loop order): each query block is read once and its output written
    once (``2 N d``); for each of the ``ceil(N / block_q)`` query blocks every key and value row
    it may see is read (``2 N d`` per block, fewer when causal: only keys up to the block's end).

    ``n`` is the sequence length of queries and keys alike, ``d`` the head dimension (d_v = d).
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=1)
    check_choice("algorithm", algorithm, ALGORITHMS)
    block_q = check_int("block_q", block_q, minimum=1)
    b = check_int("bytes_per_element", bytes_per_element, minimum=1)
    if algorithm == "naive":
        return b * (4 * n * d + 4 * n * n)
    key_rows = sum(min(n, i0 + block_q) if causal else n for i0 in range(0, n, block_q))
    return b * (2 * n * d + 2 * d * key_rows)


def theorem2_bytes(n: int, d: int, sram_bytes: int, bytes_per_element: int = 2) -> dict:
    """The orders of Dao et al.'s Theorem 2, in bytes: ``naive`` ~ ``N d + N^2`` and ``flash`` ~
    ``N^2 d^2 / M`` (``M`` in elements). Constants are not part of the theorem: compare ratios."""
    m = sram_bytes / bytes_per_element
    return {"naive": bytes_per_element * (n * d + n * n),
            "flash": bytes_per_element * (n * n * d * d / m)}


def attention_flops(n: int, d: int, causal: bool = False) -> float:
    """Floating-point operations of one head's forward pass: ``4 N^2 d`` (Q K^T and P V, two per
    multiply-add), halved for causal attention; the softmax's ``O(N^2)`` is left out."""
    return 4.0 * n * n * d / (2.0 if causal else 1.0)


def kernel_source(name: str) -> str:
    """Body of the numba kernel ``name`` (``"naive"`` or ``"flash"``) for the chapter to show."""
    check_choice("name", name, ALGORITHMS)
    return marked_source(_naive_head if name == "naive" else _flash_head, name)


def measure(sizes=(256, 512, 1024, 2048), d: int = 8, repeats: int = 2,
            block: int | None = None, seed: int = 0):
    """Time both kernels on this machine for each sequence length in ``sizes`` (one head).

    The two kernels are timed alternately, ``repeats`` times each, and the best time kept (a shared
    machine disturbs single runs). Every result is checked against the other (to 1e-12). ``block``
    is the flash kernel's tile (``block_q = block_k``); None runs :func:`flash_attention` with its
    own defaults, the kernel the chapter's traffic counts describe.

    Returns
    -------
    pandas DataFrame, one row per N: ``N``, ``S_bytes`` (the naive kernel's float64 N x N matrix),
    ``naive_s``, ``flash_s`` (best seconds), ``naive_ns_per_score`` and ``flash_ns_per_score``
    (time per entry of the N x N score matrix), ``naive_over_flash``.
    """
    import pandas as pd

    from .timing import time_call

    d = check_int("d", d, minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    tile = {} if block is None else {"block_q": check_int("block", block, minimum=1),
                                     "block_k": block}
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    rows = []
    for n in sizes:
        n = check_int("sizes", n, minimum=1)
        q, k, v = (rng.standard_normal((n, d)) for _ in range(3))
        diff = np.max(np.abs(naive_attention(q, k, v) - flash_attention(q, k, v, **tile)))
        if diff > 1e-12:
            raise RuntimeError(f"the kernels disagree by {diff:g} at N = {n}")
        runs = {"naive": lambda q=q, k=k, v=v: naive_attention(q, k, v),
                "flash": lambda q=q, k=k, v=v: flash_attention(q, k, v, **tile)}
        best = {"naive": np.inf, "flash": np.inf}
        for _ in range(repeats):                  # alternate the two kernels
            for name, run in runs.items():
                best[name] = min(best[name], time_call(run, 1, 0).best_s)
        rows.append({"N": n, "S_bytes": 8 * n * n, "naive_s": best["naive"],
                     "flash_s": best["flash"],
                     "naive_ns_per_score": 1e9 * best["naive"] / n ** 2,
                     "flash_ns_per_score": 1e9 * best["flash"] / n ** 2,
                     "naive_over_flash": best["naive"] / best["flash"]})
    return pd.DataFrame(rows)


def roofline_case(roof, n: int, d: int, sram_bytes: int, bytes_per_element: int = 2,
                  causal: bool = False):
    """Both kernels of one head placed on a device's roofline (:class:`aichip.roofline.Roofline`).

    The flash kernel's query block comes from :func:`flash_blocks` for ``sram_bytes`` of fast
    memory. A third row, ``flash, K/V read once``, is the floor every tiled kernel approaches when
    the keys and values stay in a cache between query blocks (a GPU's L2): Q, K and V read once
    and O written once, ``4 N d`` elements. Returns a pandas DataFrame, one row per case:
    ``hbm_bytes``, ``flops``,
    ``intensity`` (FLOP/byte), ``attainable_TFLOPs`` and ``time_us`` (the roofline's lower bound
    on the run time, microseconds) and ``bound`` (memory or compute).
    """
    import pandas as pd

    block_q, _ = flash_blocks(d, sram_bytes, bytes_per_element)
    flops = attention_flops(n, d, causal)
    rows = []
    cases = [(a, hbm_bytes(n, d, a, block_q, bytes_per_element, causal)) for a in ALGORITHMS]
    cases.append(("flash, K/V read once", bytes_per_element * 4 * n * d))
    for algorithm, moved in cases:
        intensity = flops / moved
        attainable = roof.attainable_GFLOPs(intensity)
        rows.append({"algorithm": algorithm,
                     "block_q": None if algorithm == "naive" else block_q,
                     "hbm_bytes": moved, "flops": flops, "intensity": intensity,
                     "attainable_TFLOPs": attainable / 1e3, "time_us": flops / attainable / 1e3,
                     "bound": roof.bound(intensity)})
    return pd.DataFrame(rows)
