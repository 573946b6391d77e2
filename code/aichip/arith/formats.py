"""Bit-exact emulation of the number formats of AI hardware.

A format is described by data (:class:`Format`), and one numba kernel rounds any float64 value to
any format: round to nearest, ties to even (RNE), with gradual underflow (subnormals) and the
overflow rule the format defines:

==========  ====  ====  ====  ==========================  ========================================
format      sign  exp   man   largest finite              overflow (default)
==========  ====  ====  ====  ==========================  ========================================
fp32        1     8     23    (2 - 2**-23) * 2**127       to inf (IEEE 754)
tf32        1     8     10    (2 - 2**-10) * 2**127       to inf (19 bits used of a 32-bit slot)
fp16        1     5     10    65504                       to inf (IEEE 754 binary16)
bf16        1     8     7     (2 - 2**-7) * 2**127        to inf
fp8_e4m3    1     4     3     448                         saturate to +-448 (no inf in E4M3)
fp8_e5m2    1     5     2     57344                       to inf (IEEE-like, not IEEE 754)
fp6_e3m2    1     3     2     28                          saturate (no inf, no NaN)
fp6_e2m3    1     2     3     7.5                         saturate (no inf, no NaN)
fp4_e2m1    1     2     1     6                           saturate (no inf, no NaN)
int8        --    --    --    127                         saturate to [-128, 127]
int4        --    --    --    7                           saturate to [-8, 7]
==========  ====  ====  ====  ==========================  ========================================

Only fp32 and fp16 are IEEE 754 formats (binary32, binary16). bf16, tf32 and E5M2 are
*IEEE-like*: they follow IEEE 754's rules (bias, subnormals, infinities, NaN) with other field
widths, but the standard does not define them.

E4M3 follows the OCP 8-bit floating point specification: exponent bias 7, no infinities, and only
the bit pattern ``S.1111.111`` is NaN, so the top binade holds 256..448. A non-saturating
conversion sends E4M3 overflow to NaN; ``saturate=True`` clamps any format to its largest finite
value (and infinities with it), which is what inference kernels usually ask for.

The 6- and 4-bit floats are the element formats of the OCP Microscaling (MX) specification: every
code is a number (no infinity, no NaN; a block's NaN lives in its shared scale), so they always
saturate. :mod:`aichip.arith.mx` builds the MX and NVFP4 block formats on these entries.

Values are *emulated*: results are float64 arrays holding exactly the values the format can
represent; :func:`encode` and :func:`decode` convert to and from the format's bit patterns.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ..validation import check_choice, check_float, check_int

__all__ = [
    "Format", "FORMATS", "get_format", "quantize", "encode", "decode", "representable_values",
    "QuantStats", "quantization_error", "dot_with_accumulator", "absmax_scale", "spacing",
    "format_table", "compare_formats", "accumulation_error",
]


class Format(NamedTuple):
    """A number format. Floats: sign + ``exp_bits`` + ``man_bits``; integers: ``int_bits``."""

    name: str
    kind: str          # "float" or "int"
    exp_bits: int
    man_bits: int
    bias: int
    has_inf: bool      # IEEE-style: the all-ones exponent holds inf and NaN
    int_bits: int
    has_nan: bool = True   # False: every code is a finite number (the MX 6- and 4-bit elements)

    @property
    def bits(self) -> int:
        """Storage width in bits."""
        return self.int_bits if self.kind == "int" else 1 + self.exp_bits + self.man_bits

    @property
    def max_finite(self) -> float:
        """Largest finite value."""
        if self.kind == "int":
            return float(2 ** (self.int_bits - 1) - 1)
        if self.has_inf:
            emax = 2 ** self.exp_bits - 2 - self.bias
            return (2.0 - 2.0 ** -self.man_bits) * 2.0 ** emax
        # OCP E4M3: the all-ones exponent is a normal binade except its all-ones mantissa (NaN);
        # without NaN (MX FP6/FP4) that mantissa is a number too
        emax = 2 ** self.exp_bits - 1 - self.bias
        top_gap = 2.0 ** (1 - self.man_bits) if self.has_nan else 2.0 ** -self.man_bits
        return (2.0 - top_gap) * 2.0 ** emax

    @property
    def min_value(self) -> float:
        """Most negative finite value."""
        return -float(2 ** (self.int_bits - 1)) if self.kind == "int" else -self.max_finite

    @property
    def min_normal(self) -> float:
        """Smallest positive normal value (1 for integers)."""
        return 1.0 if self.kind == "int" else 2.0 ** (1 - self.bias)

    @property
    def min_subnormal(self) -> float:
        """Smallest positive value (1 for integers)."""
        return 1.0 if self.kind == "int" else 2.0 ** (1 - self.bias - self.man_bits)

    @property
    def epsilon(self) -> float:
        """Distance from 1 to the next larger value: the relative precision (1 for integers)."""
        return 1.0 if self.kind == "int" else 2.0 ** -self.man_bits


FORMATS = {
    "fp32": Format("fp32", "float", 8, 23, 127, True, 0),
    "tf32": Format("tf32", "float", 8, 10, 127, True, 0),
    "fp16": Format("fp16", "float", 5, 10, 15, True, 0),
    "bf16": Format("bf16", "float", 8, 7, 127, True, 0),
    "fp8_e4m3": Format("fp8_e4m3", "float", 4, 3, 7, False, 0),
    "fp8_e5m2": Format("fp8_e5m2", "float", 5, 2, 15, True, 0),
    # OCP MX v1.0 element formats (section 5.3): no inf, no NaN, subnormals kept
    "fp6_e3m2": Format("fp6_e3m2", "float", 3, 2, 3, False, 0, has_nan=False),
    "fp6_e2m3": Format("fp6_e2m3", "float", 2, 3, 1, False, 0, has_nan=False),
    "fp4_e2m1": Format("fp4_e2m1", "float", 2, 1, 1, False, 0, has_nan=False),
    "int8": Format("int8", "int", 0, 0, 0, False, 8),
    "int4": Format("int4", "int", 0, 0, 0, False, 4),
}

#: saturate by default only where the format has no infinity to overflow to
_DEFAULT_SATURATE = {name: (f.kind == "int" or not f.has_inf) for name, f in FORMATS.items()}


def get_format(name: str) -> Format:
    """The :class:`Format` called ``name`` (one of :data:`FORMATS`)."""
    return FORMATS[check_choice("fmt", name, FORMATS)]


@njit(cache=True)
def _round_half_even(r):
    floor_r = math.floor(r)
    diff = r - floor_r
    if diff > 0.5 or (diff == 0.5 and floor_r % 2.0 != 0.0):
        return floor_r + 1.0
    return floor_r


@njit(cache=True)
def _round_float(x, man_bits, emin, max_finite, has_inf, saturate):
    """Round one float64 to the float format (RNE, subnormals, overflow rule)."""
    if x != x:
        return x
    a = abs(x)
    sign = -1.0 if x < 0 else 1.0
    if a == math.inf:
        if saturate:
            return sign * max_finite
        return x if has_inf else math.nan
    if a == 0.0:
        return x
    e = math.frexp(a)[1] - 1          # a = 1.f * 2**e
    if e < emin:
        e = emin                      # subnormal: fixed spacing 2**(emin - man_bits)
    quantum = math.ldexp(1.0, e - man_bits)
    r = _round_half_even(a / quantum) * quantum   # a / quantum is exact: a power-of-2 scaling
    if r > max_finite:
        if saturate:
            r = max_finite
        elif has_inf:
            r = math.inf
        else:
            return math.nan
    return sign * r


@njit(cache=True)
def _round_int(x, lo, hi):
    if x != x:
        return 0.0                    # no NaN in an integer format; callers see it in the error
    r = _round_half_even(x) if abs(x) != math.inf else x
    return min(max(r, lo), hi)


@njit(cache=True)
def _quantize_kernel(x, out, is_int, man_bits, emin, max_finite, has_inf, saturate, lo, hi,
                     scale):
    for i in range(x.size):
        v = x[i] / scale
        if is_int:
            out[i] = _round_int(v, lo, hi) * scale
        else:
            out[i] = _round_float(v, man_bits, emin, max_finite, has_inf, saturate) * scale


def _as_real_array(name: str, x) -> np.ndarray:
    """``x`` as a float64 array, or a TypeError naming ``name`` if it does not hold real numbers."""
    try:
        arr = np.asarray(x)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or \
                np.issubdtype(arr.dtype, np.complexfloating):
            raise TypeError
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or an array of real numbers, "
                        f"got {type(x).__name__}") from None


def _params(f: Format):
    return (f.kind == "int", f.man_bits, 1 - f.bias, f.max_finite, f.has_inf, f.min_value,
            f.max_finite)


def quantize(x, fmt: str, scale: float = 1.0, saturate: bool | None = None) -> np.ndarray:
    """Round ``x / scale`` to format ``fmt`` and multiply back by ``scale``.

    Parameters
    ----------
    x : array_like of real numbers (converted to float64)
    fmt : one of :data:`FORMATS`
    scale : float > 0
        The quantisation scale (a power of two keeps float formats exact; integers are usually
        scaled by ``max|x| / 127``).
    saturate : bool or None
        Clamp overflow (and infinities) to the largest finite value. Default: True for E4M3 (no
        infinity), False for the IEEE-style formats (overflow to inf). Integer formats always
        clamp to their range, whatever ``saturate`` says.

    Returns
    -------
    float64 ndarray of the same shape holding exactly representable values (times ``scale``).
    """
    f = get_format(fmt)
    scale = check_float("scale", scale, minimum=0.0, strict_minimum=True)
    if saturate is None:
        saturate = _DEFAULT_SATURATE[fmt]
    if not isinstance(saturate, (bool, np.bool_)):
        raise TypeError(f"saturate must be True, False or None, got {saturate!r}")
    if not f.has_nan:
        saturate = True           # no code to overflow to: these formats always saturate
    arr = _as_real_array("x", x)
    flat = np.ascontiguousarray(arr).ravel()
    out = np.empty_like(flat)
    is_int, man_bits, emin, max_finite, has_inf, lo, hi = _params(f)
    _quantize_kernel(flat, out, is_int, man_bits, emin, max_finite, has_inf, bool(saturate), lo,
                     hi, scale)
    return out.reshape(arr.shape)


def encode(x, fmt: str, saturate: bool | None = None) -> np.ndarray:
    """Bit patterns (uint32, the format's bits in the low bits) of ``x`` rounded to ``fmt``.

    Integers use two's complement in ``bits`` bits; NaN encodes as the format's canonical quiet NaN
    (exponent all ones, top mantissa bit set; E4M3: ``S.1111.111``).
    """
    f = get_format(fmt)
    values = quantize(x, fmt, saturate=saturate).ravel()
    codes = np.empty(values.size, dtype=np.uint32)
    if f.kind == "int":
        codes[:] = values.astype(np.int64) & (2 ** f.bits - 1)
        return codes.reshape(np.shape(x))
    all_ones = 2 ** f.exp_bits - 1
    if not f.has_nan and np.isnan(values).any():
        raise ValueError(f"x holds NaN, which {fmt} cannot encode (it has no NaN code)")
    for i, v in enumerate(values):
        sign = 1 if math.copysign(1.0, v) < 0 else 0
        a = abs(v)
        if v != v:
            exp_field = all_ones
            man_field = 2 ** f.man_bits - 1 if not f.has_inf else 2 ** (f.man_bits - 1)
        elif a == math.inf:
            exp_field, man_field = all_ones, 0
        elif a == 0:
            exp_field, man_field = 0, 0
        else:
            e = math.frexp(a)[1] - 1
            if e < 1 - f.bias:
                exp_field = 0
                man_field = int(a / 2.0 ** (1 - f.bias - f.man_bits))
            else:
                exp_field = e + f.bias
                man_field = int((a / 2.0 ** e - 1.0) * 2 ** f.man_bits)
        codes[i] = (sign << (f.bits - 1)) | (exp_field << f.man_bits) | man_field
    return codes.reshape(np.shape(x))


def decode(codes, fmt: str) -> np.ndarray:
    """Values (float64) of the bit patterns ``codes`` in format ``fmt``; inverse of
    :func:`encode`."""
    f = get_format(fmt)
    c = np.asarray(codes)
    if not np.issubdtype(c.dtype, np.integer) or (
            c.size and (c.min() < 0 or c.max() >= 2 ** f.bits)):
        raise ValueError(f"codes must be integers in [0, 2**{f.bits}) for {fmt}")
    c = c.astype(np.int64)
    if f.kind == "int":
        return np.where(c >= 2 ** (f.bits - 1), c - 2 ** f.bits, c).astype(np.float64)
    sign = np.where((c >> (f.bits - 1)) & 1, -1.0, 1.0)
    exp_field = (c >> f.man_bits) & (2 ** f.exp_bits - 1)
    man_field = c & (2 ** f.man_bits - 1)
    all_ones = 2 ** f.exp_bits - 1
    normal = np.ldexp(1.0 + man_field / 2.0 ** f.man_bits, (exp_field - f.bias).astype(np.int32))
    subnormal = np.ldexp(man_field / 2.0 ** f.man_bits, 1 - f.bias)
    value = np.where(exp_field == 0, subnormal, normal)
    if f.has_inf:
        value = np.where(exp_field == all_ones, np.where(man_field == 0, np.inf, np.nan), value)
    elif f.has_nan:
        value = np.where((exp_field == all_ones) & (man_field == 2 ** f.man_bits - 1), np.nan,
                         value)
    return sign * value


def representable_values(fmt: str) -> np.ndarray:
    """Every finite value of a format of at most 16 bits, sorted (for plots and exhaustive
    tests)."""
    f = get_format(fmt)
    if f.bits > 16:
        raise ValueError(f"fmt must be a format of at most 16 bits to enumerate, got {fmt!r} "
                         f"({f.bits} bits)")
    values = decode(np.arange(2 ** f.bits), fmt)
    return np.unique(values[np.isfinite(values)])


class QuantStats(NamedTuple):
    """Error of quantising a tensor: absolute and relative, and how many values clipped or
    flushed."""

    fmt: str
    scale: float
    rmse: float
    max_abs_error: float
    sqnr_dB: float
    clipped_fraction: float
    flushed_to_zero_fraction: float


def quantization_error(x, fmt: str, scale: float = 1.0) -> QuantStats:
    """Statistics of ``quantize(x, fmt, scale) - x`` for a finite tensor ``x`` (saturating).

    ``sqnr_dB`` is the signal-to-quantisation-noise ratio ``10 log10(sum x^2 / sum err^2)``;
    ``clipped_fraction`` counts values beyond the largest finite value times ``scale``, and
    ``flushed_to_zero_fraction`` non-zero values that became zero.
    """
    arr = _as_real_array("x", x)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError("x must be a non-empty array of finite numbers")
    q = quantize(arr, fmt, scale, saturate=True)
    err = q - arr
    f = get_format(fmt)
    noise = float(np.sum(err ** 2))
    signal = float(np.sum(arr ** 2))
    sqnr = math.inf if noise == 0 else (10 * math.log10(signal / noise) if signal else -math.inf)
    return QuantStats(
        fmt=fmt, scale=float(scale), rmse=float(np.sqrt(np.mean(err ** 2))),
        max_abs_error=float(np.max(np.abs(err))), sqnr_dB=sqnr,
        clipped_fraction=float(np.mean((arr / scale > f.max_finite) | (arr / scale < f.min_value))),
        flushed_to_zero_fraction=float(np.mean((q == 0) & (arr != 0))))


@njit(cache=True)
def _dot_kernel(x, y, man_bits, emin, max_finite, has_inf):
    acc = 0.0
    for i in range(x.size):
        # the product of two narrow values is exact in float64; only the accumulator rounds
        acc = _round_float(acc + x[i] * y[i], man_bits, emin, max_finite, has_inf, False)
    return acc


def dot_with_accumulator(x, y, accumulator: str) -> float:
    """Dot product whose running sum is rounded to the float format ``accumulator`` after every add.

    Models a multiply-accumulate unit with an ``accumulator``-precision register: products are exact
    (as in hardware that keeps the full product), the sum is not. Compare with ``np.dot`` in float64
    to see how accumulation precision limits long dot products.
    """
    f = get_format(accumulator)
    if f.kind != "float":
        raise ValueError(f"accumulator must be a float format, got {accumulator!r}")
    xa = np.ascontiguousarray(_as_real_array("x", x)).ravel()
    ya = np.ascontiguousarray(_as_real_array("y", y)).ravel()
    if xa.size != ya.size:
        raise ValueError(f"x and y must have the same size, got {xa.size} and {ya.size}")
    return float(_dot_kernel(xa, ya, f.man_bits, 1 - f.bias, f.max_finite, f.has_inf))


def absmax_scale(x, fmt: str, power_of_two: bool | None = None, shift: float = 0.0) -> float:
    """The **absmax** scale of tensor ``x`` for format ``fmt``: ``max|x| / largest finite value``.

    With this scale ``quantize(x, fmt, scale)`` uses the format's whole range and clips nothing.

    Parameters
    ----------
    x : array_like of finite real numbers
    fmt : one of :data:`FORMATS`
    power_of_two : bool or None
        Round the scale *up* to a power of two, so that dividing by it only shifts exponents (exact
        for float formats) and still nothing clips (rounding down would push the largest values past
        the format's range). Default: True for float formats, False for integers (an integer grid
        needs the exact ratio to use all its levels).
    shift : float
        Multiply the scale by ``2**shift`` afterwards (the explorer's slider: negative values clip,
        positive ones waste range).

    Returns
    -------
    float > 0 (1.0 for an all-zero tensor).
    """
    f = get_format(fmt)
    arr = _as_real_array("x", x)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError("x must be a non-empty array of finite numbers")
    if power_of_two is None:
        power_of_two = f.kind == "float"
    if not isinstance(power_of_two, (bool, np.bool_)):
        raise TypeError(f"power_of_two must be True, False or None, got {power_of_two!r}")
    shift = check_float("shift", shift, minimum=-64.0, maximum=64.0)
    peak = float(np.max(np.abs(arr)))
    if peak == 0:
        return 2.0 ** shift
    if power_of_two:
        # the smallest k with 2**k >= peak / max_finite, from the exponents (exact, and no
        # underflow of the ratio itself, unlike ceil(log2(peak / max_finite)))
        m_peak, e_peak = math.frexp(peak)
        m_max, e_max = math.frexp(f.max_finite)
        k = e_peak - e_max + (1 if m_peak > m_max else 0)
        scale = math.ldexp(1.0, k) if k >= -1074 else 0.0
    else:
        scale = peak / f.max_finite
        if scale > 0 and peak / scale > f.max_finite:
            scale = math.nextafter(scale, math.inf)   # the division rounded up: one step more
    if scale == 0.0:
        raise ValueError(f"x is too small to scale onto {fmt}: max|x| = {peak:g} divided by "
                         f"{f.max_finite:g} underflows float64")
    return scale * 2.0 ** shift


def spacing(x, fmt: str, scale: float = 1.0) -> np.ndarray:
    """Gap between neighbouring values of ``fmt`` (times ``scale``) around each value of ``x``.

    For a float format the gap is ``2**(e - man_bits)`` in the binade ``[2**e, 2**(e+1))`` holding
    ``|x| / scale`` (the fixed subnormal gap below the smallest normal); for an integer format it is
    1. Multiplied by ``scale``, it is the step a quantiser with that scale takes near ``x``;
    rounding to nearest errs by at most half of it. At a representable value it equals
    ``numpy.spacing`` of the same value in the same format (the gap to the next value away from
    zero).

    Returns
    -------
    float64 ndarray shaped like ``x``: the gap in the units of ``x``.
    """
    f = get_format(fmt)
    scale = check_float("scale", scale, minimum=0.0, strict_minimum=True)
    arr = _as_real_array("x", x)
    if not np.all(np.isfinite(arr)):
        raise ValueError("x must hold finite numbers")
    if f.kind == "int":
        return np.full(arr.shape, scale)
    a = np.abs(arr) / scale
    _, e = np.frexp(a)                         # a = m * 2**e with m in [0.5, 1)
    # binade exponent, never below emin (subnormals and zero share the smallest gap)
    e = np.where(a == 0, 1 - f.bias, np.maximum(e - 1, 1 - f.bias))
    return np.ldexp(1.0, e - f.man_bits) * scale


def format_table():
    """One row per format of :data:`FORMATS`: bits, fields, range, precision and overflow rule.

    Returns a pandas DataFrame with columns ``format, bits, exponent bits, mantissa bits, largest
    finite, smallest normal, smallest positive, epsilon, decimal digits, overflow`` (the float-only
    columns are NaN / None for integer formats). ``decimal digits`` is ``-log10(epsilon)``.
    """
    import pandas as pd

    rows = []
    for name, f in FORMATS.items():
        is_float = f.kind == "float"
        rows.append({
            "format": name, "bits": f.bits,
            "exponent bits": f.exp_bits if is_float else None,
            "mantissa bits": f.man_bits if is_float else None,
            "largest finite": f.max_finite,
            "smallest normal": f.min_normal if is_float else None,
            "smallest positive": f.min_subnormal, "epsilon": f.epsilon,
            "decimal digits": -math.log10(f.epsilon) if is_float else None,
            "overflow": ("to inf" if f.has_inf else "saturate (or NaN)" if f.has_nan
                         else "saturate") if is_float else "saturate"})
    return pd.DataFrame(rows)


def compare_formats(x, fmts, power_of_two: bool | None = None):
    """Quantise tensor ``x`` to every format in ``fmts``, each with its :func:`absmax_scale`.

    Returns a pandas DataFrame of :class:`QuantStats`, one row per format, in the order given.
    """
    import pandas as pd

    if isinstance(fmts, str) or len(fmts) == 0:
        raise ValueError(f"fmts must be a non-empty list of format names, got {fmts!r}")
    return pd.DataFrame([quantization_error(x, fmt, absmax_scale(x, fmt, power_of_two))
                         for fmt in fmts])


def accumulation_error(lengths, accumulators=("bf16", "fp16", "fp32"), inputs: str = "fp8_e4m3",
                       seed: int = 0) -> dict:
    """Relative error of dot products accumulated in narrow formats, against exact float64 sums.

    For each length ``n`` in ``lengths``, two vectors of ``n`` values drawn uniformly from [0, 1)
    (seeded) are rounded to ``inputs``; their products are exact in float64, so ``np.dot`` in
    float64 is the exact reference (for ``n`` below 2**20 or so with 8-bit inputs). Each
    accumulator's :func:`dot_with_accumulator` is compared with it.

    Returns
    -------
    dict accumulator -> float64 array of ``|dot - exact| / exact``, one entry per length.
    """
    lengths = [check_int("lengths", n, minimum=1) for n in np.asarray(lengths).tolist()]
    if not lengths:
        raise ValueError("lengths must hold at least one dot-product length")
    get_format(inputs)
    for acc in accumulators:
        get_format(acc)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    errors = {acc: np.empty(len(lengths)) for acc in accumulators}
    for i, n in enumerate(lengths):
        x = quantize(rng.uniform(0.0, 1.0, n), inputs)
        y = quantize(rng.uniform(0.0, 1.0, n), inputs)
        exact = float(np.dot(x, y))
        for acc in accumulators:
            errors[acc][i] = abs(dot_with_accumulator(x, y, acc) - exact) / exact
    return errors
