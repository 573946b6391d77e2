"""aichip.serving: each model against an independent reference (hand counts, a hand-worked allocator
trace, Pollaczek-Khinchine, Monte Carlo), and bad input rejected with the argument's name."""

import math

import numpy as np
import pytest

from aichip import serving

H100_BF16_RIDGE = 989.5e12 / 3350e9      # chips.csv: dense BF16 peak over HBM3 bandwidth


# -- shapes, intensity, critical batch -------------------------------------------------------
def llama3_8b_hand_counts():
    """Llama 3 8B counted matrix by matrix (Dubey et al., 2024, Table 3)."""
    h, ffn, layers, vocab, kv_width = 4096, 14336, 32, 128256, 8 * 128
    q = o = h * h
    k = v = h * kv_width
    mlp = 3 * h * ffn                    # gate, up, down
    matmul = layers * (q + k + v + o + mlp) + vocab * h            # + logit layer
    params = matmul + vocab * h + (2 * layers + 1) * h             # + embedding, RMSNorms
    return matmul, params


def test_llama3_8b_parameters_match_a_hand_count():
    matmul, params = llama3_8b_hand_counts()
    shape = serving.llama3_8b()
    assert shape.matmul_params == matmul
    assert shape.n_params == params == 8_030_261_248       # the released model's 8.03 B
    assert shape.kv_bytes_per_token(2) == 2 * 32 * 8 * 128 * 2   # K and V, 32 layers, 8 heads


def test_llama3_70b_parameters_and_prefill_kv_by_hand():
    # Dubey et al., 2024, Table 3: 80 layers, model dim 8192, FFN 28672, 64 heads, 8 KV heads;
    # the released vocabulary 128,256; untied embedding and logit layer, 2 RMSNorms a layer + 1
    h, ffn, layers, vocab, kv_width = 8192, 28672, 80, 128256, 8 * 128
    per_layer = 2 * h * h + 2 * h * kv_width + 3 * h * ffn
    shape = serving.llama3_70b()
    assert shape.n_params == layers * per_layer + 2 * vocab * h + (2 * layers + 1) * h \
        == 70_553_706_496                                          # the released 70.6 B
    # a 1000-token prefill writes 1000 tokens of K and V, bf16 by default: 2 x 32 x 8 x 128 x 2 B
    # each for Llama 3 8B, and reads none
    assert serving.prefill_work(serving.llama3_8b(), 1000).kv_bytes == 1000 * 2 * 32 * 8 * 128 * 2


def hand_decode(batch, context, w=2.0, kv=2.0):
    matmul, _ = llama3_8b_hand_counts()
    per_token_kv = 2 * 32 * 8 * 128 * kv
    flops = batch * (2 * matmul + 4 * 32 * 32 * 128 * (context + 1))
    moved = matmul * w + batch * (context + 1) * per_token_kv
    return flops, moved


@pytest.mark.parametrize("batch, context", [(1, 0), (8, 512), (64, 4096)])
def test_decode_intensity_matches_hand_count(batch, context):
    flops, moved = hand_decode(batch, context)
    work = serving.decode_work(serving.llama3_8b(), batch, context)
    assert work.flops == pytest.approx(flops)
    assert work.bytes == pytest.approx(moved)
    assert serving.decode_intensity(serving.llama3_8b(), batch, context) == pytest.approx(
        flops / moved)


def test_prefill_intensity_hand_count():
    matmul, _ = llama3_8b_hand_counts()
    p = 1024
    flops = 2 * matmul * p + 4 * 32 * 32 * 128 * p * (p + 1) / 2
    moved = 2 * matmul + p * 131072
    assert serving.prefill_intensity(serving.llama3_8b(), p) == pytest.approx(flops / moved)
    assert serving.prefill_intensity(serving.llama3_8b(), p) > H100_BF16_RIDGE


@pytest.mark.parametrize("precision, w, kv, context", [("bf16", 2, 2, 0), ("bf16", 2, 2, 64),
                                                        ("fp8", 1, 1, 0), ("fp8", 1, 1, 128)])
def test_critical_batch_is_the_first_batch_past_the_ridge(precision, w, kv, context):
    hw = serving.hardware("NVIDIA H100 SXM5", precision)
    ridge = (989.5e12 if precision == "bf16" else 1979e12) / 3350e9
    brute = next(b for b in range(1, 100_000)
                 if np.divide(*hand_decode(b, context, w, kv)) >= ridge)
    assert serving.critical_batch(serving.llama3_8b(), hw, context, w, kv) == brute


def test_critical_batch_none_when_kv_reads_dominate():
    hw = serving.hardware()
    # the intensity's limit for long contexts is below the ridge: no batch is compute-bound
    assert serving.max_decode_intensity(serving.llama3_8b(), 2048) < hw.ridge_point
    assert serving.critical_batch(serving.llama3_8b(), hw, 2048) is None


def test_ttft_and_tpot_are_the_roofline_bound():
    shape, hw = serving.llama3_8b(), serving.hardware()
    flops, moved = hand_decode(16, 1000)
    assert serving.tpot_s(shape, hw, 16, 1000) == pytest.approx(
        max(flops / 989.5e12, moved / 3350e9))
    matmul, _ = llama3_8b_hand_counts()
    assert serving.ttft_s(shape, hw, 2000) == pytest.approx(
        (2 * matmul * 2000 + 4 * 32 * 32 * 128 * 2000 * 2001 / 2) / 989.5e12)


def test_format_bytes():
    assert [serving.format_bytes(f) for f in ("bf16", "fp8", "fp4", "int8")] == [2, 1, 0.5, 1]
    with pytest.raises(ValueError, match="fmt"):
        serving.format_bytes("fp3")


def test_shape_and_roofline_bad_input():
    with pytest.raises(ValueError, match="n_kv_heads"):
        serving.DecoderShape("x", 2, 64, 8, 3, 128, 100)
    with pytest.raises(ValueError, match="n_heads"):
        serving.DecoderShape("x", 2, 64, 7, 7, 128, 100)
    with pytest.raises(ValueError, match="batch"):
        serving.decode_work(serving.llama3_8b(), 0, 10)
    with pytest.raises(TypeError, match="context"):
        serving.decode_intensity(serving.llama3_8b(), 1, 1.5)
    with pytest.raises(TypeError, match="shape"):
        serving.decode_work("llama", 1, 1)
    with pytest.raises(TypeError, match="hw"):
        serving.critical_batch(serving.llama3_8b(), "H100")
    with pytest.raises(ValueError, match="weight_bytes"):
        serving.tpot_s(serving.llama3_8b(), serving.hardware(), 1, 1, weight_bytes=0)


# -- speculative decoding --------------------------------------------------------------------
@pytest.mark.parametrize("alpha, gamma", [(0.0, 3), (0.6, 4), (0.8, 5), (0.95, 8), (1.0, 4)])
def test_speculative_formula_against_monte_carlo(alpha, gamma):
    draws = serving.speculative_tokens_monte_carlo(alpha, gamma, n_steps=200_000, seed=1)
    expected = serving.speculative_expected_tokens(alpha, gamma)
    stderr = draws.std() / math.sqrt(draws.size)
    assert abs(draws.mean() - expected) <= 4 * stderr + 1e-12


def test_speculative_formula_values():
    # a geometric sum by hand: 1 + a + a^2 + ... + a^gamma
    assert serving.speculative_expected_tokens(0.5, 3) == pytest.approx(1 + 0.5 + 0.25 + 0.125)
    assert serving.speculative_expected_tokens(1.0, 4) == 5
    assert serving.speculative_expected_tokens(0.3, 0) == 1
    assert serving.speculative_speedup(0.8, 4, 0.05) == pytest.approx(
        (1 - 0.8**5) / 0.2 / 1.2)


def test_speculative_roofline_speedup_charges_the_draft():
    target, hw = serving.llama3_70b(), serving.hardware()
    draft = serving.llama3_8b()
    out = serving.speculative_step_speedup(target, draft, hw, 0.8, 4, batch=1, context=512)
    # memory-bound at batch 1: verifying 5 tokens costs about one step; the draft is ~1/8 of it
    assert out["verify_s"] == pytest.approx(out["plain_s"], rel=0.05)
    assert 0.4 < out["draft_s"] / out["plain_s"] < 0.6
    assert out["speedup"] == pytest.approx(
        out["tokens"] * out["plain_s"] / (out["draft_s"] + out["verify_s"]))
    assert 1 < out["speedup"] < out["tokens"]


def test_speculative_bad_input():
    with pytest.raises(ValueError, match="alpha"):
        serving.speculative_expected_tokens(1.2, 3)
    with pytest.raises(ValueError, match="gamma"):
        serving.speculative_expected_tokens(0.5, -1)
    with pytest.raises(TypeError, match="gamma"):
        serving.speculative_expected_tokens(0.5, 2.5)
    with pytest.raises(ValueError, match="cost_ratio"):
        serving.speculative_speedup(0.5, 2, 0)


def test_speculative_sampling_keeps_the_target_distribution_and_the_formula():
    p = np.array([0.5, 0.3, 0.15, 0.05])
    q = np.array([0.25, 0.25, 0.25, 0.25])
    alpha = serving.acceptance_rate(p, q)
    assert alpha == pytest.approx(0.25 + 0.25 + 0.15 + 0.05)      # sum of min(p, q) by hand
    per_step, emitted = serving.speculative_sampling(p, q, 4, n_steps=20_000, seed=1)
    stderr = per_step.std() / math.sqrt(per_step.size)
    assert abs(per_step.mean() - serving.speculative_expected_tokens(alpha, 4)) < 4 * stderr
    # chi-square goodness of fit against p: 3 degrees of freedom, 0.1% critical value 16.27
    counts = np.bincount(emitted, minlength=4)
    chi2 = float(((counts - p * emitted.size) ** 2 / (p * emitted.size)).sum())
    assert chi2 < 16.27
    with pytest.raises(ValueError, match="q must be"):
        serving.speculative_sampling(p, [0.5, 0.6], 2)
    with pytest.raises(ValueError, match="same length"):
        serving.acceptance_rate(p, [0.5, 0.5])
