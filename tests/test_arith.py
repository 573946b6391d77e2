import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import arith

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


# ---- formats -------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(x=finite)
def test_fp16_matches_numpy_float16(x):
    with np.errstate(over="ignore"):
        expected = float(np.float16(x))  # NumPy rounds float64 -> binary16 directly, RNE
    assert float(arith.quantize(x, "fp16")) == expected


@settings(max_examples=200, deadline=None)
@given(x=finite)
def test_fp32_matches_numpy_float32(x):
    with np.errstate(over="ignore"):
        assert float(arith.quantize(x, "fp32")) == float(np.float32(x))


def _bf16_reference(x32: np.ndarray) -> np.ndarray:
    """Independent RNE to bfloat16 by integer arithmetic on float32 bits."""
    bits = x32.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return rounded.astype(np.uint32).view(np.float32).astype(np.float64)


@settings(max_examples=200, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_bf16_matches_integer_rounding_of_float32_bits(x):
    x32 = np.array([x], dtype=np.float32)
    assert arith.quantize(x32, "bf16")[0] == _bf16_reference(x32)[0]


@pytest.mark.parametrize("fmt", ["fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "int8", "int4"])
def test_every_code_round_trips(fmt):
    f = arith.get_format(fmt)
    codes = np.arange(2 ** f.bits)
    values = arith.decode(codes, fmt)
    ok = ~np.isnan(values)
    back = arith.encode(values[ok], fmt, saturate=False)
    assert np.array_equal(back, codes[ok])
    # every decoded finite value is a fixed point of quantize
    fin = values[np.isfinite(values)]
    assert np.array_equal(arith.quantize(fin, fmt), fin)


@pytest.mark.parametrize("value, fmt, code", [
    (1.0, "fp16", 0x3C00), (65504.0, "fp16", 0x7BFF), (-2.0, "fp16", 0xC000),
    (2.0 ** -24, "fp16", 0x0001), (math.inf, "fp16", 0x7C00),
    (1.0, "bf16", 0x3F80), (-1.0, "bf16", 0xBF80),
    (448.0, "fp8_e4m3", 0x7E), (2.0 ** -9, "fp8_e4m3", 0x01), (2.0 ** -6, "fp8_e4m3", 0x08),
    (1.0, "fp8_e4m3", 0x38), (57344.0, "fp8_e5m2", 0x7B), (math.inf, "fp8_e5m2", 0x7C),
    (2.0 ** -16, "fp8_e5m2", 0x01), (1.0, "fp32", 0x3F800000), (-128.0, "int8", 0x80),
    (-1.0, "int4", 0xF),
])
def test_known_bit_patterns(value, fmt, code):
    # IEEE 754-2019 binary16/32; OCP FP8 spec Table 1 (E4M3 max 448 = S.1111.110, E5M2 max 57344)
    assert int(arith.encode(value, fmt, saturate=False)) == code
    assert arith.decode(code, fmt) == value


def test_format_constants_against_specs():
    assert arith.get_format("fp16").max_finite == 65504
    assert arith.get_format("fp8_e4m3").max_finite == 448        # OCP FP8 spec
    assert arith.get_format("fp8_e5m2").max_finite == 57344      # OCP FP8 spec
    assert arith.get_format("bf16").max_finite == pytest.approx(3.3895313892515355e38)
    assert arith.get_format("tf32").epsilon == 2.0 ** -10
    assert arith.get_format("fp8_e4m3").min_subnormal == 2.0 ** -9
    assert arith.get_format("fp8_e5m2").min_subnormal == 2.0 ** -16
    assert arith.get_format("int4").min_value == -8


def test_rounding_ties_to_even_and_overflow_rules():
    # fp16: 2049 lies halfway between 2048 and 2050 -> even mantissa (2048); 2051 -> 2052
    assert list(arith.quantize([2049.0, 2051.0], "fp16")) == [2048.0, 2052.0]
    assert arith.quantize(65519.99, "fp16") == 65504 and arith.quantize(65520.0, "fp16") == np.inf
    # E4M3: 464 is halfway 448..480 (480 is not finite): ties to even -> 448; beyond saturates
    assert arith.quantize(464.0, "fp8_e4m3") == 448
    assert arith.quantize(1e6, "fp8_e4m3") == 448 and arith.quantize(-np.inf, "fp8_e4m3") == -448
    assert math.isnan(arith.quantize(1e6, "fp8_e4m3", saturate=False))
    assert arith.quantize(1e6, "fp8_e5m2") == np.inf
    assert arith.quantize(1e6, "fp8_e5m2", saturate=True) == 57344
    assert arith.quantize(1e6, "bf16") < np.inf
    assert list(arith.quantize([2.5, 3.5, -2.5, 300, -300], "int8")) == [2, 4, -2, 127, -128]
    assert list(arith.quantize([7.4, -9, 0.5], "int4")) == [7, -8, 0]
    assert math.isnan(arith.quantize(np.nan, "fp16"))


@settings(max_examples=60, deadline=None)
@given(x=st.floats(-400, 400), fmt=st.sampled_from(["fp16", "bf16", "fp8_e4m3", "fp8_e5m2"]))
def test_quantize_picks_the_nearest_representable_value(x, fmt):
    grid = arith.representable_values(fmt) if fmt.startswith("fp8") else None
    q = float(arith.quantize(x, fmt))
    if grid is not None:
        best = np.min(np.abs(grid - x))
        assert abs(q - x) == best
    else:
        f = arith.get_format(fmt)
        # within half a unit in the last place of the result's binade
        ulp = 2.0 ** (max(math.frexp(abs(q) or f.min_normal)[1] - 1, 1 - f.bias) - f.man_bits)
        assert abs(q - x) <= ulp / 2 * (1 + 1e-12) + 1e-300


def test_scale_and_quantization_error():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.05, 10_000)
    scale = np.max(np.abs(w)) / 127
    stats = arith.quantization_error(w, "int8", scale)
    assert stats.clipped_fraction == 0
    assert stats.max_abs_error <= scale / 2 + 1e-15
    assert stats.sqnr_dB > 30
    # a scale far too small clips most values
    assert arith.quantization_error(w, "int8", scale / 100).clipped_fraction > 0.5
    assert arith.quantization_error(w, "fp16").sqnr_dB > arith.quantization_error(
        w, "fp8_e4m3").sqnr_dB


def test_accumulator_precision():
    x = np.ones(4096)
    # fp16 cannot count past 2048 one at a time: 2048 + 1 rounds back to 2048
    assert arith.dot_with_accumulator(x, x, "fp16") == 2048
    assert arith.dot_with_accumulator(x, x, "fp32") == 4096
    assert arith.dot_with_accumulator(x, x, "bf16") == 256


def test_format_bad_input():
    with pytest.raises(ValueError, match="fmt must be one of"):
        arith.quantize(1.0, "fp12")
    with pytest.raises(ValueError, match="scale must be > 0"):
        arith.quantize(1.0, "int8", scale=0)
    with pytest.raises(TypeError, match="saturate"):
        arith.quantize(1.0, "fp16", saturate="yes")
    with pytest.raises(ValueError, match="codes must be integers"):
        arith.decode(300, "fp8_e4m3")
    with pytest.raises(ValueError, match="finite"):
        arith.quantization_error([1.0, np.inf], "fp16")
    with pytest.raises(ValueError, match="same size"):
        arith.dot_with_accumulator([1.0], [1.0, 2.0], "fp32")
    with pytest.raises(ValueError, match="float format"):
        arith.dot_with_accumulator([1.0], [1.0], "int8")
    with pytest.raises(ValueError, match="at most 16 bits"):
        arith.representable_values("fp32")


# ---- multipliers ---------------------------------------------------------------------------

def _dadda_closed_form(n):
    """Stages = smallest j with d_j >= n, d_0 = 2, d_{j+1} = floor(3 d_j / 2) (Dadda 1965)."""
    d, j = 2, 0
    while d < n:
        d, j = d * 3 // 2, j + 1
    return j


def test_stage_counts_against_closed_form_up_to_256():
    known = {2: 0, 3: 1, 4: 2, 5: 3, 6: 3, 7: 4, 9: 4, 10: 5, 13: 5, 16: 6, 19: 6, 20: 7, 24: 7,
             28: 7, 32: 8, 42: 8, 53: 9, 63: 9, 64: 10, 128: 11}
    for n, stages in known.items():
        assert arith.dadda_stages(n) == stages, n
    for n in range(1, 257):
        assert arith.wallace_stages(n) == arith.dadda_stages(n) == _dadda_closed_form(n), n


@pytest.mark.parametrize("n", range(2, 33))
def test_netlist_stage_counts(n):
    dadda = arith.build_multiplier(n, "dadda")
    wallace = arith.build_multiplier(n, "wallace")
    assert len(dadda.stages) == arith.dadda_stages(n)
    assert len(wallace.stages) <= arith.wallace_stages(n)
    assert max(dadda.stages[-1].heights_after if dadda.stages else dadda.initial_heights) <= 2
    # a reduction of N bits to a two-row result: every FA removes one bit, every HA none
    bits = sum(dadda.initial_heights)
    assert sum(dadda.stages[-1].heights_after if dadda.stages else dadda.initial_heights) == \
        bits - sum(s.full_adders for s in dadda.stages)
    # Dadda's tree for n x n (n >= 3) uses n^2 - 4n + 3 full adders and n - 1 half adders
    if n >= 3:
        assert sum(s.full_adders for s in dadda.stages) == n * n - 4 * n + 3
        assert sum(s.half_adders for s in dadda.stages) == n - 1


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 32), tree=st.sampled_from(arith.TREES), seed=st.integers(0, 10**6))
def test_products_equal_integer_multiplication(n, tree, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2 ** n, size=200, dtype=np.uint64)
    b = rng.integers(0, 2 ** n, size=200, dtype=np.uint64)
    a[:2], b[:2] = 2 ** n - 1, [2 ** n - 1, 0]  # extremes: all ones, and zero
    got = arith.evaluate(arith.build_multiplier(n, tree), a, b)
    assert np.array_equal(got, a * b)


def test_exhaustive_4_bit():
    a, b = np.meshgrid(np.arange(16), np.arange(16))
    for tree in arith.TREES:
        got = arith.evaluate(arith.build_multiplier(4, tree), a.ravel(), b.ravel())
        assert np.array_equal(got, (a * b).ravel().astype(np.uint64))


def test_simulate_reports_all_correct():
    r = arith.simulate(12, "wallace", pairs=1000, repeats=1)
    assert r.all_correct and r.mismatches == 0 and r.pairs == 1000 and r.products_per_s > 0


def test_multiplier_bad_input():
    with pytest.raises(ValueError, match="n must be >= 1"):
        arith.wallace_stages(0)
    with pytest.raises(TypeError, match="n must be an integer"):
        arith.dadda_stages(2.5)
    with pytest.raises(ValueError, match="tree must be one of"):
        arith.build_multiplier(8, "booth")
    with pytest.raises(ValueError, match="n_bits must be <= 64"):
        arith.build_multiplier(65)
    with pytest.raises(ValueError, match=r"must be <= 32"):
        arith.evaluate(arith.build_multiplier(40), [1], [1])
    m = arith.build_multiplier(8)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*8\)"):
        arith.evaluate(m, [256], [1])
    with pytest.raises(ValueError, match="same length"):
        arith.evaluate(m, [1, 2], [1])
    with pytest.raises(TypeError, match="integer arrays"):
        arith.evaluate(m, [1.5], [1.0])
    with pytest.raises(ValueError, match="pairs must be >= 1"):
        arith.simulate(8, pairs=0)
