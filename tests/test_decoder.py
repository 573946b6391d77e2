"""The decoder's cached, one-token-at-a-time steps against an independent NumPy forward pass over
the whole sequence (causal mask, no cache, RoPE written with complex numbers)."""

import inspect

import numpy as np
import pytest

from aichip import decoder

SMALL = decoder.DecoderConfig(n_layers=2, d_model=32, n_heads=4, n_kv_heads=2, d_ff=48, vocab=37)


def reference_forward(weights, tokens):
    """Logits ``(T, vocab)`` of every position of one sequence, computed in float64 from scratch:
    separate q/k/v products, RoPE as a complex rotation, full causal attention with a mask."""
    cfg = weights.config
    hd, n_q, n_kv = cfg.head_dim, cfg.n_heads * cfg.head_dim, cfg.kv_dim
    group = cfg.n_heads // cfg.n_kv_heads
    n = len(tokens)
    half = hd // 2
    rates = cfg.rope_theta ** (-2.0 * np.arange(half) / hd)
    phase = np.exp(1j * np.outer(np.arange(n), rates))  # (T, half)

    def rope(x):  # x (T, heads, hd): pair (i, i + half) is the complex number x_i + 1j x_{i+half}
        z = (x[..., :half] + 1j * x[..., half:]) * phase[:, None, :]
        return np.concatenate([z.real, z.imag], axis=-1)

    def norm(x, gain):
        return x * gain / np.sqrt((x ** 2).mean(axis=1, keepdims=True) + cfg.norm_eps)

    x = weights.embed.astype(np.float64)[tokens]
    mask = np.triu(np.full((n, n), -np.inf), k=1)
    for w in weights.layers:
        wqkv = w.wqkv.astype(np.float64)
        h = norm(x, w.attn_norm)
        q = rope((h @ wqkv[:, :n_q]).reshape(n, cfg.n_heads, hd))
        k = rope((h @ wqkv[:, n_q:n_q + n_kv]).reshape(n, cfg.n_kv_heads, hd))
        v = (h @ wqkv[:, n_q + n_kv:]).reshape(n, cfg.n_kv_heads, hd)
        heads = []
        for head in range(cfg.n_heads):
            kv = head // group
            s = q[:, head] @ k[:, kv].T / np.sqrt(hd) + mask
            p = np.exp(s - s.max(axis=1, keepdims=True))
            heads.append((p / p.sum(axis=1, keepdims=True)) @ v[:, kv])
        x = x + np.concatenate(heads, axis=1) @ w.wo
        h = norm(x, w.mlp_norm)
        gate = h @ w.w_gate_up[:, :cfg.d_ff]
        up = h @ w.w_gate_up[:, cfg.d_ff:]
        x = x + (gate * (1 / (1 + np.exp(-gate))) * up) @ w.w_down
    return norm(x, weights.final_norm) @ weights.lm_head


def decode_all(weights, sequences):
    """Feed equal-length sequences ``(batch, T)`` one token per step; return the logits
    ``(batch, T, vocab)`` and the cache."""
    sequences = np.asarray(sequences)
    cache = decoder.new_cache(weights.config, len(sequences), sequences.shape[1] + 1,
                              str(weights.dtype))
    return np.stack([decoder.decode_step(weights, cache, sequences[:, t])
                     for t in range(sequences.shape[1])], axis=1), cache


def relative_error(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-12), ("float32", 1e-5)])
def test_cached_decode_equals_full_forward_pass(dtype, rtol):
    weights = decoder.init_weights(SMALL, seed=3, dtype=dtype)
    rng = np.random.default_rng(1)
    sequences = rng.integers(0, SMALL.vocab, size=(3, 9))
    logits, cache = decode_all(weights, sequences)
    assert logits.dtype == np.dtype(dtype)
    assert list(cache.lengths) == [9, 9, 9]
    for b in range(3):
        assert relative_error(logits[b], reference_forward(weights, sequences[b])) < rtol


def test_sequences_of_different_lengths_share_a_batch():
    weights = decoder.init_weights(SMALL, seed=4, dtype="float64")
    seq = np.random.default_rng(2).integers(0, SMALL.vocab, size=7)
    cache = decoder.new_cache(SMALL, 2, 8, "float64")
    for t in range(3):  # sequence 1 gets a head start of three tokens
        cache.lengths[0] = 0
        decoder.decode_step(weights, cache, np.array([seq[0], seq[t]]))
    cache.lengths[0] = 0
    ref = reference_forward(weights, seq)
    for t in range(4):
        out = decoder.decode_step(weights, cache, np.array([seq[t], seq[t + 3]]))
        assert relative_error(out[0], ref[t]) < 1e-12
        assert relative_error(out[1], ref[t + 3]) < 1e-12


def test_gqa_with_one_kv_head_and_multi_head_attention():
    for n_kv in (1, 4):
        cfg = decoder.DecoderConfig(n_layers=1, d_model=16, n_heads=4, n_kv_heads=n_kv, d_ff=8,
                                    vocab=11)
        weights = decoder.init_weights(cfg, seed=5, dtype="float64")
        tokens = np.arange(6) % cfg.vocab
        logits, _ = decode_all(weights, tokens[None, :])
        assert relative_error(logits[0], reference_forward(weights, tokens)) < 1e-12


def test_parameter_count_matches_the_arrays():
    weights = decoder.init_weights(SMALL)
    arrays = [weights.embed, weights.final_norm, weights.lm_head]
    for layer in weights.layers:
        arrays += [layer.attn_norm, layer.wqkv, layer.wo, layer.mlp_norm, layer.w_gate_up,
                   layer.w_down]
    assert SMALL.n_params == sum(a.size for a in arrays)
    assert SMALL.matrix_params == SMALL.n_params - weights.embed.size - sum(
        a.size for a in arrays if a.ndim == 1)


def test_attention_source_is_the_kernel():
    source = decoder.attention_source()
    assert source.startswith("@njit(parallel=True, cache=True)")
    assert "def _attention_kernel" in source and "magictoken" not in source


def test_bad_input():
    with pytest.raises(ValueError, match="n_heads must be a multiple of n_kv_heads"):
        decoder.DecoderConfig(n_heads=6, n_kv_heads=4, d_model=48)
    with pytest.raises(ValueError, match="d_model must be n_heads times an even head_dim"):
        decoder.DecoderConfig(d_model=100, n_heads=16)
    with pytest.raises(ValueError, match="n_layers"):
        decoder.DecoderConfig(n_layers=0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        decoder.init_weights(SMALL, dtype="float16")
    with pytest.raises(TypeError, match="config must be a DecoderConfig"):
        decoder.init_weights({"n_layers": 2})
    weights = decoder.init_weights(SMALL)
    cache = decoder.new_cache(SMALL, 2, 1)
    with pytest.raises(ValueError, match="tokens must be 2 integers"):
        decoder.decode_step(weights, cache, np.array([1]))
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 37\)"):
        decoder.decode_step(weights, cache, np.array([1, 37]))
    with pytest.raises(ValueError, match="cache dtype"):
        decoder.decode_step(weights, decoder.new_cache(SMALL, 2, 1, "float64"), np.array([1, 2]))
    decoder.decode_step(weights, cache, np.array([1, 2]))
    with pytest.raises(ValueError, match="cache is full"):
        decoder.decode_step(weights, cache, np.array([1, 2]))


# --- decodebench: the byte and flop counts, the prediction and the measurement --------------------

def test_step_bytes_and_flops_count_the_arrays_a_step_touches():
    from aichip import decodebench as db

    weights = decoder.init_weights(SMALL)
    batch, context = 3, 5
    matrices = [weights.lm_head] + [m for layer in weights.layers
                                    for m in (layer.wqkv, layer.wo, layer.w_gate_up, layer.w_down)]
    cache = decoder.new_cache(SMALL, batch, context + 1)
    # every matrix once, one embedding row per token, the cache up to and including the new token
    # read once, the new token's keys and values written once
    kv_bytes = cache.k.nbytes + cache.v.nbytes
    expected = (sum(m.nbytes for m in matrices) + batch * weights.embed[0].nbytes
                + kv_bytes + kv_bytes // (context + 1))
    assert db.decode_step_bytes(SMALL, batch, context) == expected
    macs = batch * sum(m.size for m in matrices)
    attention_macs = 2 * batch * SMALL.n_layers * SMALL.n_heads * SMALL.head_dim * (context + 1)
    assert db.decode_step_flops(SMALL, batch, context) == 2 * (macs + attention_macs)


def test_prediction_and_turnover_against_a_brute_force_search():
    from aichip import decodebench as db
    from aichip.roofline import Roofline

    roof = Roofline("toy", peak_GFLOPs=20.0, bw_GBps=5.0)
    for context in (0, 100, 2000):
        bounds = [db.predict_decode(roof, db.CHAPTER_CONFIG, b, context).bound
                  for b in range(1, 200)]
        first = bounds.index("compute") + 1 if "compute" in bounds else None
        assert db.turnover_batch(roof, db.CHAPTER_CONFIG, context, max_batch=199) == first
    one = db.predict_decode(roof, db.CHAPTER_CONFIG, 1, 0)
    assert one.bound == "memory"
    # memory-bound: bytes over bandwidth, 1 GB/s = 1e9 B/s exactly
    assert one.step_s == pytest.approx(db.decode_step_bytes(db.CHAPTER_CONFIG, 1, 0) / 5e9,
                                       rel=1e-12)
    assert one.tokens_per_s == pytest.approx(1 / one.step_s)
    # at 4 bytes per weight a batch needs about 2 * ridge tokens (20 / 5 = 4 FLOP/byte -> ~8)
    assert 8 <= db.turnover_batch(roof, db.CHAPTER_CONFIG, 0) <= 9
    # compute-bound: the step is the FLOPs over the peak, 1 GFLOP/s = 1e9 FLOP/s exactly
    big = db.predict_decode(roof, db.CHAPTER_CONFIG, 64, 0)
    assert big.bound == "compute"
    flops = db.decode_step_flops(db.CHAPTER_CONFIG, 64, 0)
    assert big.step_s == pytest.approx(flops / 20e9, rel=1e-12)
    # the chapter's default sweep: powers of two, 1 to 64
    default = inspect.signature(db.measure_decode).parameters["batches"].default
    assert tuple(default) == tuple(2**i for i in range(7))


@pytest.mark.slow_without_jit
def test_measure_decode_checks_and_tabulates():
    from aichip import decodebench as db
    from aichip.roofline import Roofline

    roof = Roofline("toy", peak_GFLOPs=20.0, bw_GBps=5.0)
    df = db.measure_decode(roof, batches=(1, 3), context=4, config=SMALL, threads=1, repeats=1)
    assert list(df["batch"]) == [1, 3]
    assert (df["max_rel_error"] <= 1e-4).all()
    row = df.iloc[1]
    assert row["tokens_per_s"] == pytest.approx(3 / row["best_s"])
    assert row["ratio"] == pytest.approx(row["predicted_s"] / row["best_s"])
    # achieved rates in units of 1e9 exactly
    assert row["GBps"] * row["best_s"] * 1e9 == pytest.approx(db.decode_step_bytes(SMALL, 3, 4),
                                                              rel=1e-12)
    assert row["GFLOPs"] * row["best_s"] * 1e9 == pytest.approx(db.decode_step_flops(SMALL, 3, 4),
                                                                rel=1e-12)


def test_decodebench_bad_input():
    from aichip import decodebench as db
    from aichip.roofline import Roofline

    roof = Roofline("toy", peak_GFLOPs=20.0, bw_GBps=5.0)
    with pytest.raises(TypeError, match="roof must be a Roofline"):
        db.predict_decode("H100", SMALL, 1, 0)
    with pytest.raises(ValueError, match="batch"):
        db.decode_step_bytes(SMALL, 0, 10)
    with pytest.raises(ValueError, match="context"):
        db.decode_step_flops(SMALL, 1, -1)
    with pytest.raises(TypeError, match="config must be a DecoderConfig"):
        db.decode_step_flops({}, 1, 1)
    with pytest.raises(ValueError, match="batches must name at least one"):
        db.measure_decode(roof, batches=(), config=SMALL)


def test_summarize_decode_reads_the_turnover_off_the_table():
    import pandas as pd

    from aichip import decodebench as db
    from aichip.roofline import Roofline

    roof = Roofline("toy", peak_GFLOPs=40.0, bw_GBps=5.0)
    table = pd.DataFrame({"batch": [1, 2, 4, 8], "tokens_per_s": [10.0, 12.0, 30.0, 36.0],
                          "predicted_tokens_per_s": [20.0, 40.0, 50.0, 50.0],
                          "bound": ["memory", "memory", "compute", "compute"],
                          "ratio": [0.5, 0.3, 0.6, 0.72], "GFLOPs": [1.0, 2.0, 5.0, 20.0]})
    summary = db.summarize_decode(table.sample(frac=1, random_state=0), roof)  # any row order
    assert summary["last_memory_batch"] == 2 and summary["largest_batch"] == 8
    assert summary["growth_before"] == pytest.approx(1.2)
    assert summary["predicted_growth_before"] == pytest.approx(2.0)
    assert summary["growth_after"] == pytest.approx(3.0)
    assert summary["batch_growth_after"] == 4
    assert summary["gain_fell"] is False  # 3x for 4x the batch beats 1.2x for 2x
    assert summary["ratio_between_min"] == summary["ratio_between_max"] == 0.3
    assert summary["largest_of_peak"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both sides of the turnover"):
        db.summarize_decode(table[table["bound"] == "memory"], roof)
    # the boundary: tokens/s doubling with each doubling of the batch on both sides is a gain
    # per sequence that did not fall (2x for 2x, then 2x for 2x)
    even = table.iloc[:3].assign(tokens_per_s=[8.0, 16.0, 32.0])
    assert db.summarize_decode(even, roof)["gain_fell"] is False


def test_init_weights_scale_and_default_shape():
    """init_weights' documented scale (each matrix's entries have standard deviation
    1/sqrt(d_in), gains 1 + 0.1 normal) checked from samples, and the default shape's head
    width (1024 / 16 = 64, Llama's head_dim)."""
    cfg = decoder.DecoderConfig(n_layers=1, d_model=64, n_heads=4, n_kv_heads=2, d_ff=96,
                                vocab=128)
    w = decoder.init_weights(cfg, seed=1)
    layer = w.layers[0]
    for m in (layer.wqkv, layer.wo, layer.w_gate_up, layer.w_down, w.lm_head):
        # a sample of >= 6144 normals: its standard deviation within 5% of the stated one
        assert m.std() * np.sqrt(m.shape[0]) == pytest.approx(1.0, rel=0.05)
    assert layer.attn_norm.mean() == pytest.approx(1.0, abs=0.05)
    assert decoder.DecoderConfig().head_dim == 64
    assert decoder.DecoderConfig().n_heads == 16
    # Llama's SwiGLU width rule: 2/3 of 4 d_model, rounded up to a multiple of 256
    default = decoder.DecoderConfig()
    assert default.d_ff == -(-int(2 * 4 * default.d_model / 3) // 256) * 256 == 2816
