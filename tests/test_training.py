"""Tests of aichip.training against published figures and an independent NumPy count."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import training as T


# Rajbhandari et al., SC'20, Figure 1: 7.5B parameters, Nd = 64, K = 12 (mixed-precision Adam):
# baseline 120 GB, P_os 31.4 GB, P_os+g 16.6 GB, P_os+g+p 1.9 GB (GB = 1e9 bytes)
@pytest.mark.parametrize("stage, published_GB", [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_figure1(stage, published_GB):
    total = T.model_state_bytes(7.5e9, dp=64, zero_stage=stage).total_bytes / 1e9
    assert total == pytest.approx(published_GB, abs=0.05)


def test_mixed_adam_is_16_bytes_per_parameter():  # Rajbhandari et al.: 2 + 2 + 12
    s = T.model_state_bytes(1000)
    assert ((s.params_bytes, s.grads_bytes, s.optimizer_bytes, s.total_bytes)
            == (2000, 2000, 12000, 16000))


def test_kv_cache_opt13b_vllm():
    # Kwon et al., SOSP'23, Section 3: OPT-13B needs 2 x 5120 x 40 x 2 bytes = 800 KB per token,
    # and up to 1.6 GB (GiB) for a 2048-token request. OPT-13B: 40 layers, 40 heads of 128.
    assert T.kv_cache_bytes(40, 40, 128, 1, 1) == 800 * 1024
    assert T.kv_cache_bytes(40, 40, 128, 2048, 1) / 2**30 == pytest.approx(1.6, abs=0.05)


def test_gpt3_parameters():  # Brown et al. 2020: 96 layers, h = 12288, 175B parameters
    assert T.transformer_params(96, 12288, 51200, 2048) == pytest.approx(175e9, rel=0.005)


def test_gpt3_attention_ratio():  # Korthikanti et al., Section 4.1: 5as/h = 80 for GPT-3
    s, b, h, a = 2048, 1, 12288, 96
    full = T.activation_bytes(s, b, h, a)
    sel = T.activation_bytes(s, b, h, a, recompute="selective")
    assert (full - sel) / (s * b * h) == pytest.approx(80)


@settings(max_examples=25, deadline=None)
@given(s_mult=st.integers(1, 4), b=st.integers(1, 3), d=st.sampled_from([4, 8]),
       heads_per_gpu=st.integers(1, 3), tp=st.sampled_from([1, 2, 4]), sp=st.booleans(),
       recompute=st.sampled_from(T.RECOMPUTE))
def test_formula_equals_numpy_forward_pass(s_mult, b, d, heads_per_gpu, tp, sp, recompute):
    a = heads_per_gpu * tp
    h, s = a * d, 4 * s_mult
    kept = T.saved_tensors(s, b, h, a, tp=tp, sequence_parallel=sp, recompute=recompute)
    assert sum(kept.values()) == T.activation_bytes(s, b, h, a, tp=tp, sequence_parallel=sp,
                                                    recompute=recompute)


def test_zero_stage_partitions():
    s0, s3 = (T.model_state_bytes(1e9, dp=8, zero_stage=z, optimizer="sgd_momentum")
              for z in (0, 3))
    assert s3.total_bytes * 8 == pytest.approx(s0.total_bytes)


def test_decode_bound():
    # 7e9 params in 2 bytes on a 3350 GB/s GPU: 14 GB read per token -> 3350/14 tokens/s
    bound = T.decode_tokens_per_s_bound(7e9, 3350)
    assert bound.tokens_per_s == pytest.approx(3350 / 14)
    assert bound.intensity == pytest.approx(1.0)  # 2 flops per 2-byte weight


def test_gpt3_stage_parameters_by_hand():
    # GPT-3 175B (96 layers, h = 12288, V = 51200 padded, s = 2048) at tp = pp = 8. A layer:
    # 12 * 12288**2 + 13 * 12288 = 1,812,099,072 parameters; a stage: 12 layers / 8 GPUs =
    # 2,718,148,608. The word table 51200 * 12288 / 8 = 78,643,200 sits on the first stage (input)
    # and the last (output layer); the position table 2048 * 12288 = 25,165,824 is not split.
    kw = dict(n_layers=96, hidden=12288, vocab=51200, seq_len=2048, tp=8, pp=8)
    assert T.stage_params(**kw, stage="middle") == 2_718_148_608
    assert T.stage_params(**kw, stage="first") == 2_718_148_608 + 78_643_200 + 25_165_824
    assert T.stage_params(**kw, stage="last") == 2_718_148_608 + 78_643_200
    assert T.stage_params(**kw, stage="last", tied_embeddings=False) == 2_718_148_608 + 78_643_200
    # training_memory describes a first-stage GPU: 16 bytes per parameter of mixed Adam, which is
    # 93,585,408 * 16 = 1.497 GB more than spreading all parameters evenly over the 64 GPUs
    mem = T.training_memory(96, 12288, 96, 51200, 2048, 1, tp=8, pp=8)
    states = mem.params_bytes + mem.grads_bytes + mem.optimizer_bytes
    assert states == pytest.approx(16 * 2_821_957_632, rel=1e-12)
    even = 16 * T.transformer_params(96, 12288, 51200, 2048) / 64
    assert states - even == pytest.approx(16 * 93_585_408)
    # one stage holds everything; an untied output layer is a second word table
    one = dict(n_layers=2, hidden=64, vocab=1000, seq_len=16)
    assert T.stage_params(**one) == 2 * (12 * 64**2 + 13 * 64) + 1000 * 64 + 16 * 64
    assert T.stage_params(**one) == pytest.approx(T.transformer_params(**one), rel=1e-12)
    assert T.stage_params(**one, tied_embeddings=False) == T.stage_params(**one) + 1000 * 64
    # with one stage, the "last" stage is that stage: the whole model, embeddings included
    assert T.stage_params(**one, stage="last") == 2 * (12 * 64**2 + 13 * 64) + 1000 * 64 + 16 * 64


def test_largest_micro_batch_fits_and_next_does_not():
    kw = dict(n_layers=24, hidden=2048, n_heads=16, vocab=50257, seq_len=2048, zero_stage=1, dp=8)
    b = T.largest_micro_batch(80, **kw)
    assert b >= 1
    assert T.training_memory(micro_batch=b, **kw).total_bytes <= 80e9
    assert T.training_memory(micro_batch=b + 1, **kw).total_bytes > 80e9


def test_largest_micro_batch_is_zero_when_one_sequence_does_not_fit():
    """0, not a negative count, when the model's states fit but one sequence's activations do
    not (half a sequence short), and when not even the states fit (GPT-3 175B on one 80 GB GPU:
    16 bytes x 175e9 parameters = 2.8 TB of states)."""
    kw = dict(n_layers=24, hidden=2048, n_heads=16, vocab=50257, seq_len=2048)
    one = T.training_memory(micro_batch=1, **kw)
    states = one.total_bytes - one.activations_bytes
    assert T.largest_micro_batch((states + 0.5 * one.activations_bytes) / 1e9, **kw) == 0
    assert T.largest_micro_batch((states + 1.5 * one.activations_bytes) / 1e9, **kw) == 1
    assert T.largest_micro_batch(80, 96, 12288, 96, 50257, 2048) == 0


@pytest.mark.parametrize("call, match", [
    (lambda: T.model_state_bytes(1e9, zero_stage=4), "zero_stage"),
    (lambda: T.model_state_bytes(-1), "n_params"),
    (lambda: T.model_state_bytes(1e9, optimizer="lion"), "optimizer"),
    (lambda: T.model_state_bytes(1e9, precision="fp8"), "precision"),
    (lambda: T.model_state_bytes(1e9, dp=0), "dp"),
    (lambda: T.activation_bytes(2048, 1, 4096, 32, tp=3), "tp"),
    (lambda: T.activation_bytes(-1, 1, 4096, 32), "seq_len"),
    (lambda: T.activation_bytes(2048, 1, 4096, 32, recompute="some"), "recompute"),
    (lambda: T.activation_bytes(2048, 1, 4096, 30), "n_heads"),
    (lambda: T.kv_cache_bytes(32, 8, 128, -5, 1), "seq_len"),
    (lambda: T.kv_cache_bytes(32, 8, 128, 5, 1, bytes_per_value=0), "bytes_per_value"),
    (lambda: T.decode_tokens_per_s_bound(7e9, 0), "hbm_GBps"),
    (lambda: T.largest_micro_batch(0, 24, 2048, 16, 50257, 2048), "capacity_GB"),
    (lambda: T.training_flops(0, 1e12), "n_params"),
    (lambda: T.stage_params(96, 12288, 51200, stage="centre"), "stage"),
    (lambda: T.stage_params(96, 12288, 51200, pp=2, stage="middle"), "stage"),
    (lambda: T.stage_params(96, 12288, 51200, tied_embeddings="yes"), "tied_embeddings"),
    (lambda: T.training_flops(7e9, -1), "n_tokens"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_training_flops_against_gpt3s_published_compute():
    # Brown et al. 2020, Table D.1: GPT-3 175B (174.6e9 parameters) on 300e9 tokens took
    # 3.14e23 FLOP ("3.64E+03 petaflop/s-days"), counted as 6 N D
    assert T.training_flops(174.6e9, 300e9) == pytest.approx(3.14e23, rel=0.01)
    assert T.training_flops(174.6e9, 300e9) == pytest.approx(3.64e3 * 1e15 * 86400, rel=0.01)


def test_decode_bound_scales_with_the_batch():
    """Hand numbers: 7e9 weights x 2 bytes + a 2 GB KV cache (all 8 sequences) = 16 GB per step;
    3200 GB/s / 16 GB = 200 steps/s, each a token for each of 8 sequences = 1600 tokens/s; the
    step does 2 x 7e9 x 8 = 112e9 flops over 16e9 bytes = 7 FLOP/byte."""
    bound = T.decode_tokens_per_s_bound(7e9, 3200, kv_bytes=2e9, batch=8)
    assert bound.bytes_per_step == pytest.approx(16e9, rel=1e-12)
    assert bound.steps_per_s == pytest.approx(200.0, rel=1e-12)   # GB/s are 1e9 bytes/s
    assert bound.tokens_per_s == pytest.approx(1600.0, rel=1e-12)
    assert bound.intensity == pytest.approx(7.0, rel=1e-12)
    one = T.decode_tokens_per_s_bound(7e9, 3200, kv_bytes=2e9, batch=1)
    assert bound.tokens_per_s == pytest.approx(8 * one.tokens_per_s)  # same bytes, 8x the tokens
    fp8 = T.decode_tokens_per_s_bound(7e9, 3200, batch=4, bytes_per_param=1)
    assert fp8.tokens_per_s == pytest.approx(4 * 3200 / 7)  # 7 GB per step, 4 tokens per step


#: Bytes per parameter (weights, gradients, optimizer state), worked out from each optimizer's
#: state as its paper defines it: Adam keeps momentum and variance (Kingma and Ba, Algorithm 1);
#: mixed precision adds an fp32 master copy to 16-bit weights and gradients (Micikevicius et al.,
#: 2018; ZeRO's K = 4 + 4 + 4 = 12, Rajbhandari et al. 2020); SGD with momentum keeps one fp32
#: buffer; Adafactor keeps no momentum and factored second moments (counted as 0 per parameter,
#: Shazeer and Stern 2018); 8-bit Adam keeps both moments in one byte each (Dettmers et al. 2022).
OPTIMIZER_BYTES = {
    ("adam", "mixed"): (2, 2, 4 + 4 + 4), ("adam", "fp32"): (4, 4, 4 + 4),
    ("sgd_momentum", "mixed"): (2, 2, 4 + 4), ("sgd_momentum", "fp32"): (4, 4, 4),
    ("adafactor", "mixed"): (2, 2, 4), ("adafactor", "fp32"): (4, 4, 0),
    ("adam8bit", "mixed"): (2, 2, 4 + 1 + 1), ("adam8bit", "fp32"): (4, 4, 1 + 1),
}


@pytest.mark.parametrize("optimizer, precision", sorted(OPTIMIZER_BYTES))
def test_optimizer_state_bytes_per_parameter(optimizer, precision):
    s = T.model_state_bytes(1, optimizer=optimizer, precision=precision)
    assert (s.params_bytes, s.grads_bytes, s.optimizer_bytes) == OPTIMIZER_BYTES[
        optimizer, precision]


def test_every_optimizer_of_the_table_is_checked():
    assert {(o, p) for o in T.optimizers() for p in ("mixed", "fp32")} == set(OPTIMIZER_BYTES)


def test_full_recompute_keeps_the_layer_input_alone():
    """Korthikanti et al., Table 2: full recomputation keeps 2sbh bytes per layer (the fp16
    input). s = 8, b = 2, h = 16: 512 bytes, with or without tensor and sequence parallelism."""
    assert T.saved_tensors(8, 2, 16, 4, recompute="full") == {"layer input": 512}
    assert T.saved_tensors(8, 2, 16, 4, tp=2, recompute="full") == {"layer input": 512}
    assert T.saved_tensors(8, 2, 16, 4, tp=2, sequence_parallel=True,
                           recompute="full") == {"layer input": 512}


def test_largest_micro_batch_stops_at_max_batch():
    # A 1-layer toy model in 1 TB: thousands of sequences would fit; the search stops at
    # max_batch, 4096 by default.
    kw = dict(n_layers=1, hidden=64, n_heads=4, vocab=100, seq_len=16)
    assert T.training_memory(micro_batch=5000, **kw).total_bytes < 1000e9
    assert T.largest_micro_batch(1000, **kw) == 4096
    assert T.largest_micro_batch(1000, **kw, max_batch=10) == 10
