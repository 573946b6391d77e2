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
fp8_e5m2    1     5     2     57344                       to inf (IEEE-like)
int8        --    --    --    127                         saturate to [-128, 127]
int4        --    --    --    7                           saturate to [-8, 7]
==========  ====  ====  ====  ==========================  ========================================

E4M3 follows the OCP 8-bit floating point specification: exponent bias 7, no infinities, and only
the bit pattern ``S.1111.111`` is NaN, so the top binade holds 256..448. A non-saturating
conversion sends E4M3 overflow to NaN; ``saturate=True`` clamps any format to its largest finite
value (and infinities with it), which is what inference kernels usually ask for.

Values are *emulated*: results are float64 arrays holding exactly the values the format can
represent; :func:`encode` and :func:`decode` convert to and from the format's bit patterns.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ..validation import check_choice, check_float


class Format(NamedTuple):
    """A number format. Floats: sign + ``exp_bits`` + ``man_bits``; integers: ``int_bits``."""

    name: str
    kind: str          # "float" or "int"
    exp_bits: int
    man_bits: int
    bias: int
    has_inf: bool      # IEEE-style: the all-ones exponent holds inf and NaN
    int_bits: int

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
        # OCP E4M3: the all-ones exponent is a normal binade except its all-ones mantissa (NaN)
        emax = 2 ** self.exp_bits - 1 - self.bias
        return (2.0 - 2.0 ** (1 - self.man_bits)) * 2.0 ** emax

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
    arr = np.asarray(x, dtype=np.float64)
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
    """Values (float64) of the bit patterns ``codes`` in format ``fmt``; inverse of :func:`encode`."""
    f = get_format(fmt)
    c = np.asarray(codes)
    if not np.issubdtype(c.dtype, np.integer) or (c.size and (c.min() < 0 or c.max() >= 2 ** f.bits)):
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
    else:
        value = np.where((exp_field == all_ones) & (man_field == 2 ** f.man_bits - 1), np.nan,
                         value)
    return sign * value


def representable_values(fmt: str) -> np.ndarray:
    """Every finite value of a format of at most 16 bits, sorted (for plots and exhaustive tests)."""
    f = get_format(fmt)
    if f.bits > 16:
        raise ValueError(f"{fmt} has {f.bits} bits; enumerate only formats of at most 16 bits")
    values = decode(np.arange(2 ** f.bits), fmt)
    return np.unique(values[np.isfinite(values)])


class QuantStats(NamedTuple):
    """Error of quantising a tensor: absolute and relative, and how many values clipped or flushed."""

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
    arr = np.asarray(x, dtype=np.float64)
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
    xa = np.ascontiguousarray(x, dtype=np.float64).ravel()
    ya = np.ascontiguousarray(y, dtype=np.float64).ravel()
    if xa.size != ya.size:
        raise ValueError(f"x and y must have the same size, got {xa.size} and {ya.size}")
    return float(_dot_kernel(xa, ya, f.man_bits, 1 - f.bias, f.max_finite, f.has_inf))
