"""DeepSeek-V3's FP8 recipe, emulated: fine-grained scaling and promoted accumulation.

The DeepSeek-V3 technical report (section 3.3) trains with FP8 E4M3 GEMMs and two fixes:

* **fine-grained quantisation**: activations get one scale per 1 x 128 tile (a token's 128
  channels), weights one per 128 x 128 block, each ``max|tile| / 448``, so an outlier spoils only
  its own tile (:func:`quantize_blockwise`);
* **promotion of the accumulation**: the report measures that the FP8 GEMM of the H800's Tensor
  Cores keeps "around 14 bits" of the running sum; every 128 products (four WGMMA instructions) the
  partial sum is copied to an FP32 register on the CUDA cores and added there
  (:func:`limited_dot`, :func:`limited_matmul`).

The accumulator model: products are exact (an E4M3 x E4M3 product has 8 significant bits); the
running sum keeps ``acc_bits`` significant bits, rounded to nearest-even or truncated toward zero
after every addition (the report does not say which; both are offered), and has no exponent limit;
at a promotion the partial sum is added to an FP32 accumulator (round to nearest even) and reset.
With ``promote_every=None`` the whole sum stays in the narrow accumulator and is rounded to FP32 at
the end.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..validation import check_choice, check_int
from .formats import get_format, quantize

__all__ = ["ROUNDINGS", "quantize_blockwise", "limited_dot", "limited_matmul",
           "accumulation_experiment"]

#: how the narrow accumulator drops bits
ROUNDINGS = ("nearest", "truncate")


@njit(cache=True)
def _keep_bits(v, bits, truncate):
    """``v`` rounded to ``bits`` significant bits (no exponent limit)."""
    if v == 0.0 or not math.isfinite(v):
        return v
    exponent = math.frexp(v)[1]                 # |v| = m * 2**exponent, m in [0.5, 1)
    scaled = math.ldexp(v, bits - exponent)     # |scaled| in [2**(bits-1), 2**bits): exact
    whole = math.trunc(scaled) if truncate else np.rint(scaled)   # rint: ties to even
    return math.ldexp(whole, exponent - bits)


@njit(cache=True)
def _dot(x, y, bits, promote_every, truncate):
    high = np.float32(0.0)
    low = 0.0
    for k in range(x.size):
        low = _keep_bits(low + x[k] * y[k], bits, truncate)
        if promote_every > 0 and (k + 1) % promote_every == 0:
            high = np.float32(high + low)       # the CUDA-core FP32 add (round to nearest)
            low = 0.0
    return float(np.float32(high + low))


@njit(cache=True)
def _matmul(a, b, out, bits, promote_every, truncate):
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            out[i, j] = _dot(a[i, :], b[:, j].copy(), bits, promote_every, truncate)


def _check_accumulator(acc_bits, promote_every, rounding):
    bits = check_int("acc_bits", acc_bits, minimum=2, maximum=53)
    every = 0 if promote_every is None else check_int("promote_every", promote_every, minimum=1)
    check_choice("rounding", rounding, ROUNDINGS)
    return bits, every, rounding == "truncate"


def limited_dot(x, y, acc_bits: int = 14, promote_every: int | None = None,
                rounding: str = "truncate") -> float:
    """Dot product of ``x`` and ``y`` through a ``acc_bits``-bit accumulator.

    Parameters
    ----------
    x, y : 1-D array_like of the same length (the products should be exact in float64, as those
        of FP8 values are)
    acc_bits : int in [2, 53]
        Significant bits the running sum keeps (14 for the H800's FP8 Tensor Core path, by the
        DeepSeek-V3 report).
    promote_every : int >= 1 or None
        Add the partial sum into an FP32 accumulator every this many products (128 in DeepSeek-V3);
        None: never.
    rounding : "truncate" or "nearest"

    Returns
    -------
    float: the sum, an FP32 value.
    """
    bits, every, truncate = _check_accumulator(acc_bits, promote_every, rounding)
    xa = np.ascontiguousarray(np.asarray(x, dtype=np.float64).ravel())
    ya = np.ascontiguousarray(np.asarray(y, dtype=np.float64).ravel())
    if xa.size != ya.size:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    return float(_dot(xa, ya, bits, every, truncate))


def limited_matmul(a, b, acc_bits: int = 14, promote_every: int | None = None,
                   rounding: str = "truncate") -> np.ndarray:
    """``a @ b`` with every output's sum through :func:`limited_dot`'s accumulator.

    ``a`` is (M, K), ``b`` is (K, N); returns an (M, N) float64 array of FP32 values.
    """
    bits, every, truncate = _check_accumulator(acc_bits, promote_every, rounding)
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
    b = np.ascontiguousarray(np.asarray(b, dtype=np.float64))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"a and b must be (M, K) and (K, N) matrices, got shapes {a.shape} "
                         f"and {b.shape}")
    out = np.empty((a.shape[0], b.shape[1]))
    _matmul(a, b, out, bits, every, truncate)
    return out


def quantize_blockwise(x, block=(1, 128), fmt: str = "fp8_e4m3") -> np.ndarray:
    """Quantise a matrix with one absmax scale per ``block`` (rows x columns) tile.

    ``block=(1, 128)`` is DeepSeek-V3's activation tiling, ``(128, 128)`` its weight blocks; the
    scale of a tile is ``max|tile| / largest value of fmt`` rounded to FP32 (not a power of two).
    Edge tiles may be smaller. Returns the dequantised values (float64, shape of ``x``).
    """
    f = get_format(fmt)
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"x must be a non-empty 2-D array of finite numbers, got shape "
                         f"{arr.shape}")
    if len(block) != 2:
        raise ValueError(f"block must be (rows, columns), got {block!r}")
    br, bc = (check_int("block", v, minimum=1) for v in block)
    out = np.empty_like(arr)
    for r in range(0, arr.shape[0], br):
        for c in range(0, arr.shape[1], bc):
            tile = arr[r:r + br, c:c + bc]
            peak = float(np.max(np.abs(tile)))
            scale = float(quantize(peak / f.max_finite, "fp32")) if peak > 0 else 1.0
            out[r:r + br, c:c + bc] = quantize(tile / scale, fmt, saturate=True) * scale
    return out


def accumulation_experiment(k: int = 4096, m: int = 16, n: int = 16, acc_bits: int = 14,
                            promote_every: int = 128, rounding: str = "truncate",
                            seed: int = 0) -> dict:
    """DeepSeek-V3's accumulation test: an FP8 GEMM of two random matrices with inner size ``k``,
    accumulated with and without promotion, against the exact (float64) product of the same FP8
    inputs.

    The inputs are standard normal, each matrix scaled per tensor onto E4M3 and rounded to it
    (so products are exact). Returns a dict with, for ``label`` in ``unpromoted`` and
    ``promoted``, ``max_rel_error_<label>`` (the largest error of an output relative to the largest
    output, ``max|C - C_exact| / max|C_exact|``) and ``rel_error_<label>`` (the relative Frobenius
    norm ``||C - C_exact|| / ||C_exact||``), and the arguments.
    """
    k = check_int("k", k, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    e4m3 = get_format("fp8_e4m3").max_finite
    a = rng.standard_normal((check_int("m", m, minimum=1), k))
    b = rng.standard_normal((k, check_int("n", n, minimum=1)))
    a = quantize(a / np.max(np.abs(a)) * e4m3, "fp8_e4m3")
    b = quantize(b / np.max(np.abs(b)) * e4m3, "fp8_e4m3")
    exact = a @ b                       # exact: 8-bit products, sums far below 2**53
    result = {"k": k, "m": m, "n": n, "acc_bits": acc_bits, "promote_every": promote_every,
              "rounding": rounding}
    for label, every in (("unpromoted", None), ("promoted", promote_every)):
        c = limited_matmul(a, b, acc_bits, every, rounding)
        err = c - exact
        result[f"max_rel_error_{label}"] = float(np.max(np.abs(err)) / np.max(np.abs(exact)))
        result[f"rel_error_{label}"] = float(np.linalg.norm(err) / np.linalg.norm(exact))
    return result
