"""Block-scaled formats: OCP Microscaling (MX) v1.0 and NVIDIA's NVFP4, emulated exactly.

A block format stores a block of narrow *elements* and one shared *scale*; an element's value is
``scale * element``. The element formats are entries of :data:`aichip.arith.FORMATS` (the MX FP6
and FP4 elements were added there); this module adds the block rule.

**MX** (OCP Microscaling Formats specification v1.0, section 6.3, as its reference code applies
it): a block of ``block_size`` values (32 in the specification) shares one E8M0 scale, a power of
two ``X = 2**(floor(log2(max|v|)) - emax_elem)`` where ``emax_elem`` is the exponent of the element
format's largest normal binade; each element is ``v / X`` rounded to nearest, ties to even, and
saturated to the element format's largest normal value. E8M0 holds the exponents -127..127 (the code
0xFF is NaN), so a shared exponent below -127 is clamped to -127 and one above 127 makes the scale
NaN. A block holding NaN or an infinity gets a NaN scale: the whole block decodes as NaN. An
all-zero block decodes as zeros.

=============  ===========  =========  ========================================
MX format      element      emax_elem  element's largest normal (times X)
=============  ===========  =========  ========================================
mxfp8_e4m3     fp8_e4m3     8          448
mxfp8_e5m2     fp8_e5m2     15         57344
mxfp6_e3m2     fp6_e3m2     4          28
mxfp6_e2m3     fp6_e2m3     2          7.5
mxfp4          fp4_e2m1     2          6
mxint8         int8 / 2**6  0          127 / 64 (symmetric, as the reference code clamps)
=============  ===========  =========  ========================================

**NVFP4** (NVIDIA's description: blocks of 16 FP4 E2M1 elements, one FP8 E4M3 scale per block, and
one FP32 scale per tensor): the per-tensor scale ``s = max|x| / (6 * 448)`` (rounded to FP32) maps
the largest block scale onto E4M3's top; each block's scale ``e4m3(max|block| / 6 / s)``; each
element ``fp4(v / (block_scale * s))``; the value ``element * block_scale * s``.

All values are emulated in float64: the results hold exactly the numbers the formats can encode.
"""

from __future__ import annotations

import math

import numpy as np

from ..validation import check_choice, check_int
from .formats import get_format, quantize

__all__ = ["MX_FORMATS", "NVFP4_BLOCK", "mx_element_emax", "mx_shared_exponents", "quantize_mx",
           "nvfp4_scales", "quantize_nvfp4", "quantize_groupwise"]

#: MX format -> (element format of aichip.arith.FORMATS, fixed-point shift of the element):
#: an MXINT8 element is an int8 code times 2**-6 (OCP MX v1.0, section 5.3)
MX_FORMATS = {
    "mxfp8_e4m3": ("fp8_e4m3", 0),
    "mxfp8_e5m2": ("fp8_e5m2", 0),
    "mxfp6_e3m2": ("fp6_e3m2", 0),
    "mxfp6_e2m3": ("fp6_e2m3", 0),
    "mxfp4": ("fp4_e2m1", 0),
    "mxint8": ("int8", 6),
}

#: NVFP4's block: 16 elements of FP4 E2M1 share one FP8 E4M3 scale
NVFP4_BLOCK = 16

#: E8M0 scale exponents: 2**-127 .. 2**127 (0xFF is NaN)
_E8M0_MIN, _E8M0_MAX = -127, 127


def mx_element_emax(fmt: str) -> int:
    """``emax_elem`` of an MX format: the exponent of its element format's largest binade."""
    element, shift = MX_FORMATS[check_choice("fmt", fmt, MX_FORMATS)]
    f = get_format(element)
    if f.kind == "int":
        # largest int8 element 127 * 2**-6 lies in the binade [1, 2)
        return math.frexp(f.max_finite * 2.0 ** -shift)[1] - 1
    return math.frexp(f.max_finite)[1] - 1


def _blocks(x, block_size: int):
    """``x`` (float64, last axis blocked) padded with zeros to whole blocks: (..., n_blocks, b)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    n = arr.shape[-1]
    n_blocks = -(-n // block_size)
    pad = n_blocks * block_size - n
    padded = np.concatenate([arr, np.zeros(arr.shape[:-1] + (pad,))], axis=-1) if pad else arr
    return padded.reshape(arr.shape[:-1] + (n_blocks, block_size)), n


def _check_x(x) -> np.ndarray:
    try:
        arr = np.asarray(x)
        ok = np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype,
                                                                        np.complexfloating)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TypeError(f"x must be an array of real numbers, got {type(x).__name__}")
    if arr.size == 0:
        raise ValueError("x must hold at least one value")
    return arr.astype(np.float64)


def mx_shared_exponents(x, fmt: str, block_size: int = 32) -> np.ndarray:
    """The E8M0 exponent of each block's scale (float64; NaN where the scale is NaN).

    Blocks run along the last axis of ``x``; the result has shape ``x.shape[:-1] + (n_blocks,)``.
    """
    emax = mx_element_emax(fmt)
    block_size = check_int("block_size", block_size, minimum=1)
    blocks, _ = _blocks(_check_x(x), block_size)
    with np.errstate(divide="ignore", invalid="ignore"):
        peak = np.max(np.abs(blocks), axis=-1)
        # floor(log2(peak)) from the binary exponent: exact, unlike np.log2 near powers of two
        exponent = (np.frexp(peak)[1] - 1).astype(np.float64)
    shared = exponent - emax
    shared = np.where(peak == 0, _E8M0_MIN, np.maximum(shared, _E8M0_MIN))
    bad = ~np.isfinite(peak) | np.isnan(blocks).any(axis=-1) | (shared > _E8M0_MAX)
    return np.where(bad, np.nan, shared)


def quantize_mx(x, fmt: str, block_size: int = 32) -> np.ndarray:
    """Quantise ``x`` to an MX format and return the dequantised values (float64).

    Parameters
    ----------
    x : array_like of real numbers, any shape
        Blocks run along the last axis; a last partial block is quantised on its own values (as if
        padded with zeros, which do not change its maximum).
    fmt : one of :data:`MX_FORMATS`
    block_size : int >= 1
        Elements per shared scale (32 in OCP MX v1.0).

    Returns
    -------
    float64 ndarray shaped like ``x``: ``X * element`` for each value, NaN for every value of a
    block that holds NaN or an infinity.
    """
    element, shift = MX_FORMATS[check_choice("fmt", fmt, MX_FORMATS)]
    block_size = check_int("block_size", block_size, minimum=1)
    arr = _check_x(x)
    blocks, n = _blocks(arr, block_size)
    shared = mx_shared_exponents(arr, fmt, block_size)[..., None]
    scale = np.ldexp(1.0, np.nan_to_num(shared).astype(np.int64))
    with np.errstate(invalid="ignore"):
        v = np.where(np.isfinite(blocks), blocks, 0.0) / scale      # exact: a power of two
    if shift:                       # MXINT8: an integer grid 2**-shift apart, clamped symmetrically
        f = get_format(element)
        codes = np.clip(quantize(v * 2.0 ** shift, element), -f.max_finite, f.max_finite)
        q = codes * 2.0 ** -shift
    else:
        q = quantize(v, element, saturate=True)
    out = np.where(np.isnan(shared), np.nan, q * scale)
    return out.reshape(out.shape[:-2] + (-1,))[..., :n].reshape(arr.shape)


def nvfp4_scales(x) -> tuple[float, np.ndarray]:
    """NVFP4's two scales for ``x``: the per-tensor FP32 scale and each block's E4M3 scale.

    Returns ``(tensor_scale, block_scales)``; ``block_scales`` has shape ``x.shape[:-1] +
    (n_blocks,)`` (blocks of :data:`NVFP4_BLOCK` along the last axis). A value decodes as
    ``element * block_scale * tensor_scale``. For an all-zero tensor the tensor scale is 1.
    """
    arr = _check_x(x)
    if not np.all(np.isfinite(arr)):
        raise ValueError("x must hold finite numbers for NVFP4 (its scales have no NaN rule here)")
    fp4_max = get_format("fp4_e2m1").max_finite
    e4m3_max = get_format("fp8_e4m3").max_finite
    peak = float(np.max(np.abs(arr)))
    tensor_scale = float(quantize(peak / (fp4_max * e4m3_max), "fp32")) if peak > 0 else 1.0
    if tensor_scale == 0.0:
        raise ValueError(f"x is too small for NVFP4's FP32 tensor scale: max|x| = {peak:g}")
    blocks, _ = _blocks(arr, NVFP4_BLOCK)
    block_peak = np.max(np.abs(blocks), axis=-1)
    block_scales = quantize(block_peak / fp4_max / tensor_scale, "fp8_e4m3", saturate=True)
    return tensor_scale, block_scales


def quantize_nvfp4(x) -> np.ndarray:
    """Quantise ``x`` to NVFP4 and return the dequantised values (float64, shaped like ``x``).

    Blocks of 16 run along the last axis (a last partial block uses its own maximum); see
    :func:`nvfp4_scales` for the two scales. A block whose E4M3 scale underflows to zero decodes as
    zeros.
    """
    arr = _check_x(x)
    tensor_scale, block_scales = nvfp4_scales(arr)
    blocks, n = _blocks(arr, NVFP4_BLOCK)
    scale = block_scales[..., None] * tensor_scale
    safe = np.where(scale > 0, scale, 1.0)
    q = np.where(scale > 0, quantize(blocks / safe, "fp4_e2m1"), 0.0) * scale
    out = q.reshape(q.shape[:-2] + (-1,))[..., :n]
    return out.reshape(arr.shape)


def quantize_groupwise(x, fmt: str = "int4", group_size: int = 128) -> np.ndarray:
    """Per-group absmax quantisation: each group of ``group_size`` values along the last axis gets
    its own scale ``max|group| / largest value of fmt`` (float, not a power of two).

    The usual weight-only INT4 scheme (a group shares an FP16/FP32 scale). Returns the dequantised
    values (float64, shaped like ``x``); an all-zero group stays zero.
    """
    f = get_format(fmt)
    group_size = check_int("group_size", group_size, minimum=1)
    arr = _check_x(x)
    if not np.all(np.isfinite(arr)):
        raise ValueError("x must hold finite numbers")
    blocks, n = _blocks(arr, group_size)
    scale = np.max(np.abs(blocks), axis=-1, keepdims=True) / f.max_finite
    safe = np.where(scale > 0, scale, 1.0)
    q = quantize(blocks / safe, fmt, saturate=True) * safe
    out = q.reshape(q.shape[:-2] + (-1,))[..., :n]
    return out.reshape(arr.shape)
