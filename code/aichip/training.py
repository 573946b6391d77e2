"""What fills a GPU's memory when training or serving a transformer.

Bytes are bytes; GB = 1e9 bytes (as GPU datasheets count); the ZeRO and Megatron papers use the same
convention. Per-GPU figures throughout.

**Model states** (:func:`model_state_bytes`, Rajbhandari et al., SC'20): per parameter, the weights,
the gradients and the optimizer's state, as data in ``data/optimizer_states.csv`` (mixed-precision
Adam: 2 + 2 + 12 = 16 bytes). ZeRO partitions them over ``dp`` data-parallel GPUs: stage 1 the
optimizer state, stage 2 also the gradients, stage 3 also the weights.

**Activations** (:func:`activation_bytes`, Korthikanti et al., MLSys 2023, Table 2): the tensors one
transformer layer keeps for the backward pass, with sequence ``s``, micro-batch ``b``, hidden ``h``,
``a`` heads, tensor-parallel degree ``t``. The paper's conventions: activations are 16-bit (2 bytes)
and dropout masks 1 byte per element; the small per-layer terms (layer-norm statistics, biases) are
left out. Per layer, in bytes:

==========================================  ===========================
no parallelism                              ``s b h (34 + 5 a s / h)``
tensor parallel                             ``s b h (10 + 24/t + 5 a s / (h t))``
tensor + sequence parallel                  ``s b h (34/t + 5 a s / (h t))``
tensor parallel, selective recompute        ``s b h (10 + 24/t)``
tensor + sequence parallel, selective       ``s b h (34/t)``
full recomputation                          ``2 s b h``
==========================================  ===========================

:func:`saved_tensors` runs one layer's forward pass in NumPy and keeps exactly those tensors, an
independent count to check the formulas against.

**Inference** (:func:`kv_cache_bytes`, :func:`decode_tokens_per_s_bound`): keys and values of every
layer for every token in flight, ``2 L n_kv d s b`` values; a decoding step reads every weight and
the whole cache, so HBM bandwidth bounds the tokens per second.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import chips
from .tables import load_table
from .validation import check_choice, check_float, check_int

ZERO_STAGES = (0, 1, 2, 3)
RECOMPUTE = ("none", "selective", "full")
PRECISIONS = ("mixed", "fp32")
STAGES = ("first", "middle", "last")

__all__ = ["PRECISIONS", "RECOMPUTE", "STAGES", "ZERO_STAGES", "DecodeBound", "ModelStates",
           "TrainingMemory", "activation_bytes", "check_layer_shape", "decode_tokens_per_s_bound",
           "gpu_capacity_GB", "kv_cache_bytes", "largest_micro_batch", "model_state_bytes",
           "optimizer_table", "optimizers", "saved_tensors", "stage_params", "training_flops",
           "training_memory", "transformer_params"]


def optimizer_table():
    """``data/optimizer_states.csv``: bytes per parameter by optimizer and precision, with
    sources."""
    return load_table("optimizer_states")


def optimizers() -> tuple[str, ...]:
    """Optimizer names the table knows."""
    return tuple(optimizer_table()["optimizer"].unique())


class ModelStates(NamedTuple):
    """Model-state bytes per GPU."""

    params_bytes: float
    grads_bytes: float
    optimizer_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.params_bytes + self.grads_bytes + self.optimizer_bytes


def model_state_bytes(n_params, dp: int = 1, zero_stage: int = 0, optimizer: str = "adam",
                      precision: str = "mixed") -> ModelStates:
    """Bytes of weights, gradients and optimizer state on each GPU.

    Parameters
    ----------
    n_params : number, > 0
        Parameters held by this model replica (already divided by tensor and pipeline degrees).
    dp : int, >= 1
        Data-parallel degree ZeRO partitions over.
    zero_stage : {0, 1, 2, 3}
        0: every GPU holds everything; 1: optimizer state / dp; 2: also gradients / dp; 3: also
        weights / dp (Rajbhandari et al., SC'20, Figure 1).
    optimizer : one of :func:`optimizers` ("adam", "sgd_momentum", "adafactor", "adam8bit")
    precision : {"mixed", "fp32"}

    Returns
    -------
    ModelStates
        ``params_bytes``, ``grads_bytes``, ``optimizer_bytes`` and ``total_bytes``.
    """
    n_params = check_float("n_params", n_params, minimum=0.0, strict_minimum=True)
    dp = check_int("dp", dp, minimum=1)
    if isinstance(zero_stage, bool) or not isinstance(zero_stage, int):
        raise TypeError(f"zero_stage must be an integer, one of {ZERO_STAGES}")
    if zero_stage not in ZERO_STAGES:
        raise ValueError(f"zero_stage must be one of {ZERO_STAGES}, got {zero_stage}")
    check_choice("optimizer", optimizer, optimizers())
    check_choice("precision", precision, PRECISIONS)
    t = optimizer_table()
    row = t[(t["optimizer"] == optimizer) & (t["precision"] == precision)].iloc[0]
    params = n_params * row["param_bytes"] / (dp if zero_stage >= 3 else 1)
    grads = n_params * row["grad_bytes"] / (dp if zero_stage >= 2 else 1)
    opt = n_params * row["optimizer_bytes"] / (dp if zero_stage >= 1 else 1)
    return ModelStates(float(params), float(grads), float(opt))


def check_layer_shape(seq_len, micro_batch, hidden, n_heads, tp):
    """Validate a transformer layer's shape and tensor-parallel degree; return them as ints."""
    seq_len = check_int("seq_len", seq_len, minimum=1)
    micro_batch = check_int("micro_batch", micro_batch, minimum=1)
    hidden = check_int("hidden", hidden, minimum=1)
    n_heads = check_int("n_heads", n_heads, minimum=1)
    tp = check_int("tp", tp, minimum=1)
    if hidden % n_heads:
        raise ValueError(f"n_heads must divide hidden, got hidden={hidden}, n_heads={n_heads}")
    if n_heads % tp:
        raise ValueError(f"tp must divide n_heads ({n_heads}), got tp={tp}")
    return seq_len, micro_batch, hidden, n_heads, tp


def activation_bytes(seq_len, micro_batch, hidden, n_heads, n_layers=1, tp=1,
                     sequence_parallel=False, recompute="none") -> float:
    """Activation bytes per GPU kept for the backward pass by ``n_layers`` transformer layers.

    Korthikanti et al., MLSys 2023, Table 2 (see the module docstring): 16-bit activations, 1-byte
    dropout masks, layer-norm statistics and biases not counted.

    Parameters
    ----------
    seq_len, micro_batch, hidden, n_heads : int, >= 1
        ``s``, ``b``, ``h``, ``a``; ``n_heads`` must divide ``hidden``.
    n_layers : int, >= 1
    tp : int, >= 1, dividing ``n_heads``
        Tensor-parallel degree.
    sequence_parallel : bool
        Shard the layer-norm and dropout regions along the sequence over the ``tp`` GPUs.
    recompute : {"none", "selective", "full"}
        ``"selective"`` recomputes the attention's softmax, dropout mask and dropout output (the
        ``5 a s**2 b`` term); ``"full"`` keeps only each layer's input (``2 s b h``).
    """
    s, b, h, a, t = check_layer_shape(seq_len, micro_batch, hidden, n_heads, tp)
    n_layers = check_int("n_layers", n_layers, minimum=1)
    if not isinstance(sequence_parallel, bool):
        raise TypeError("sequence_parallel must be True or False")
    check_choice("recompute", recompute, RECOMPUTE)
    if recompute == "full":
        per_layer = 2 * s * b * h
    else:
        linear = 34 / t if sequence_parallel else 10 + 24 / t
        attention = 0 if recompute == "selective" else 5 * a * s / (h * t)
        per_layer = s * b * h * (linear + attention)
    return float(per_layer * n_layers)


def saved_tensors(seq_len, micro_batch, hidden, n_heads, tp=1, sequence_parallel=False,
                  recompute="none", seed=0) -> dict[str, int]:
    """Run one transformer layer's forward pass on one of ``tp`` GPUs in NumPy and return the
    tensors it keeps for the backward pass, by name, with their sizes in bytes.

    The layer (pre-layer-norm GPT block as in Korthikanti et al., Figure 2): LayerNorm, QKV
    projection, softmax(Q K^T / sqrt(d)) with dropout, attention over V, output projection,
    dropout, residual; LayerNorm, 4h MLP with GeLU, dropout, residual. Values are float16, dropout
    masks bool (1 byte). Tensor parallelism keeps ``n_heads / tp`` heads and ``4h / tp`` MLP columns
    on this GPU; sequence parallelism keeps ``seq_len / tp`` rows of the tensors outside them
    (``tp`` must then divide ``seq_len``). Intended for small shapes (it allocates the tensors).
    """
    s, b, h, a, t = check_layer_shape(seq_len, micro_batch, hidden, n_heads, tp)
    check_choice("recompute", recompute, RECOMPUTE)
    if sequence_parallel and s % t:
        raise ValueError(f"tp must divide seq_len with sequence_parallel, got {s} and {t}")
    rng = np.random.default_rng(seed)
    f16 = np.float16
    d = h // a
    heads = a // t
    s_local = s // t if sequence_parallel else s

    def layer_norm(x):
        x32 = x.astype(np.float32)
        normed = (x32 - x32.mean(-1, keepdims=True)) / (x32.std(-1, keepdims=True) + 1e-5)
        return normed.astype(f16)

    def gathered(x):  # sequence parallel: the all-gather along s (here: the same rows repeated)
        return np.concatenate([x] * t, axis=0) if sequence_parallel else x

    kept = {}
    x = rng.standard_normal((s_local, b, h)).astype(f16)
    if recompute == "full":
        return {"layer input": x.nbytes * (t if sequence_parallel else 1)}
    kept["layernorm 1 input"] = x
    ln1 = layer_norm(x)
    kept["QKV input"] = ln1  # stored sharded under sequence parallelism, gathered when used
    w_qkv = (rng.standard_normal((h, 3 * heads * d)) / math.sqrt(h)).astype(f16)
    qkv = gathered(ln1) @ w_qkv
    q, k, v = (qkv[..., i * heads * d:(i + 1) * heads * d].reshape(s, b, heads, d)
               .transpose(1, 2, 0, 3) for i in range(3))  # (b, heads, s, d)
    kept["Q"], kept["K"] = q, k
    scores = (q.astype(np.float32) @ k.astype(np.float32).transpose(0, 1, 3, 2)) / math.sqrt(d)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs = (probs / probs.sum(-1, keepdims=True)).astype(f16)
    mask = rng.random(probs.shape) >= 0.1
    dropped = (probs * mask / f16(0.9)).astype(f16)
    if recompute == "none":
        kept["softmax output"], kept["attention dropout mask"] = probs, mask
        kept["attention dropout output"] = dropped
    kept["V"] = v
    context = (dropped @ v).transpose(2, 0, 1, 3).reshape(s, b, heads * d)
    kept["output projection input"] = context
    w_o = (rng.standard_normal((heads * d, h)) / math.sqrt(h)).astype(f16)
    attn_out = (context @ w_o)[:s_local]  # reduce-scatter (or all-reduce) back to this GPU's rows
    mask1 = rng.random(attn_out.shape) >= 0.1
    kept["attention block dropout mask"] = mask1
    y = (x + attn_out * mask1).astype(f16)
    kept["layernorm 2 input"] = y
    ln2 = layer_norm(y)
    kept["MLP input"] = ln2
    w1 = (rng.standard_normal((h, 4 * h // t)) / math.sqrt(h)).astype(f16)
    hid = gathered(ln2) @ w1
    kept["GeLU input"] = hid
    gelu = (0.5 * hid * (1 + np.tanh(0.79788456 * (hid + 0.044715 * hid.astype(np.float32) ** 3)))
            ).astype(f16)
    kept["second linear input"] = gelu
    w2 = (rng.standard_normal((4 * h // t, h)) / math.sqrt(4 * h)).astype(f16)
    mlp_out = (gelu @ w2)[:s_local]
    kept["MLP dropout mask"] = rng.random(mlp_out.shape) >= 0.1
    return {name: int(arr.nbytes) for name, arr in kept.items()}


def transformer_params(n_layers, hidden, vocab, seq_len=0) -> float:
    """Parameters of a GPT-style transformer: ``12 l h**2 (1 + 13/(12 h) + (V + s)/(12 l h))``
    (Narayanan et al., SC'21, eq. 2; ``s`` counts learned position embeddings, 0 for rotary)."""
    n_layers = check_int("n_layers", n_layers, minimum=1)
    hidden = check_int("hidden", hidden, minimum=1)
    vocab = check_int("vocab", vocab, minimum=0)
    seq_len = check_int("seq_len", seq_len, minimum=0)
    return 12 * n_layers * hidden**2 * (1 + 13 / (12 * hidden)
                                        + (vocab + seq_len) / (12 * n_layers * hidden))


def training_flops(n_params, n_tokens) -> float:
    """FLOP to train a dense transformer of ``n_params`` parameters on ``n_tokens`` tokens:
    ``6 N D`` (Kaplan et al., 2020, Section 2.1: ``2 N`` per token forward, twice that backward;
    attention's context-dependent term and the embeddings are left out)."""
    n = check_float("n_params", n_params, minimum=0.0, strict_minimum=True)
    d = check_float("n_tokens", n_tokens, minimum=0.0, strict_minimum=True)
    return 6 * n * d


def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, batch, bytes_per_value=2) -> int:
    """Bytes of the key/value cache: ``2 * n_layers * n_kv_heads * head_dim * seq_len * batch *
    bytes_per_value`` (a key and a value vector per layer, KV head and token). Grouped-query
    attention (Ainslie et al., 2023) shares each KV head among several query heads, so
    ``n_kv_heads`` is smaller than the number of query heads (1 for multi-query attention)."""
    args = dict(n_layers=n_layers, n_kv_heads=n_kv_heads, head_dim=head_dim, seq_len=seq_len,
                batch=batch, bytes_per_value=bytes_per_value)
    for name, value in args.items():
        args[name] = check_int(name, value, minimum=1)
    return 2 * math.prod(args.values())


class DecodeBound(NamedTuple):
    """Upper bound on decoding speed from memory bandwidth alone."""

    bytes_per_step: float  # weights + the whole KV cache, read once per decoding step
    steps_per_s: float  # decoding steps per second (one token per sequence per step)
    tokens_per_s: float  # steps_per_s * batch
    intensity: float  # FLOP per byte read: 2 * n_params * batch / bytes_per_step


def decode_tokens_per_s_bound(n_params, hbm_GBps, kv_bytes=0.0, batch=1,
                              bytes_per_param=2) -> DecodeBound:
    """How fast a GPU with ``hbm_GBps`` can decode at best, when each step reads every weight
    (``n_params * bytes_per_param``) and the KV cache of all ``batch`` sequences (``kv_bytes`` in
    total) once: ``tokens/s <= batch * hbm_GBps * 1e9 / bytes_per_step``."""
    n_params = check_float("n_params", n_params, minimum=0.0, strict_minimum=True)
    hbm_GBps = check_float("hbm_GBps", hbm_GBps, minimum=0.0, strict_minimum=True)
    kv_bytes = check_float("kv_bytes", kv_bytes, minimum=0.0)
    batch = check_int("batch", batch, minimum=1)
    bytes_per_param = check_float("bytes_per_param", bytes_per_param, minimum=0.0,
                                  strict_minimum=True)
    step = n_params * bytes_per_param + kv_bytes
    steps = hbm_GBps * 1e9 / step
    return DecodeBound(step, steps, steps * batch, 2 * n_params * batch / step)


def stage_params(n_layers, hidden, vocab, seq_len=0, *, tp=1, pp=1, stage="first",
                 tied_embeddings=True) -> float:
    """Parameters held by one GPU of a pipeline ``stage`` (``"first"``, ``"middle"``, ``"last"``)
    of a GPT-style model split over ``tp`` tensor-parallel and ``pp`` pipeline-parallel GPUs.

    Every stage holds ``n_layers / pp`` transformer layers of ``12 h**2 + 13 h`` parameters each
    (Narayanan et al., SC'21, eq. 2), split over ``tp``. The **first** stage also holds the input
    embeddings: the word table ``V h`` split over ``tp`` by vocabulary and the position table
    ``s h`` whole on every tensor-parallel GPU (Megatron-LM's vocabulary-parallel word embedding
    and plain position embedding). The **last** stage holds the output layer, ``V h / tp`` either
    way: with ``tied_embeddings`` a copy of the word table whose gradient is summed with the first
    stage's, untied its own matrix. With ``pp = 1`` the one stage holds all of it (the output layer
    adds nothing when tied). The final layer norm (``2 h``) is left out, as eq. 2 leaves it out.
    Middle stages (``pp >= 3``) hold the layers only.
    """
    n_layers = check_int("n_layers", n_layers, minimum=1)
    hidden = check_int("hidden", hidden, minimum=1)
    vocab = check_int("vocab", vocab, minimum=0)
    seq_len = check_int("seq_len", seq_len, minimum=0)
    tp = check_int("tp", tp, minimum=1)
    pp = check_int("pp", pp, minimum=1)
    check_choice("stage", stage, STAGES)
    if not isinstance(tied_embeddings, bool):
        raise TypeError(f"tied_embeddings must be True or False, got {tied_embeddings!r}")
    if stage == "middle" and pp < 3:
        raise ValueError(f"stage='middle' needs pp >= 3, got pp={pp}")
    if stage == "last" and pp < 2:
        stage = "first"                      # one stage is first and last at once
    layers = n_layers * (12 * hidden**2 + 13 * hidden) / (tp * pp)
    word = vocab * hidden / tp
    if stage == "middle":
        return layers
    if stage == "last":
        return layers + word
    output = word if pp == 1 and not tied_embeddings else 0.0
    return layers + word + seq_len * hidden + output


class TrainingMemory(NamedTuple):
    """Where a training job's bytes go on one GPU (the busiest: the first pipeline stage)."""

    params_bytes: float
    grads_bytes: float
    optimizer_bytes: float
    activations_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.params_bytes + self.grads_bytes + self.optimizer_bytes + self.activations_bytes


def training_memory(n_layers, hidden, n_heads, vocab, seq_len, micro_batch, *, optimizer="adam",
                    precision="mixed", zero_stage=0, dp=1, tp=1, pp=1, sequence_parallel=False,
                    recompute="none", tied_embeddings=True) -> TrainingMemory:
    """Bytes per GPU of a GPT-style model trained with tensor (``tp``), pipeline (``pp``) and data
    (``dp``, with ZeRO) parallelism.

    The GPU is one of the first pipeline stage, the busiest. Model states: the parameters of
    :func:`stage_params` for the first stage (its layers and the input embeddings), then
    :func:`model_state_bytes`. Activations: :func:`activation_bytes` for all ``n_layers``: with the
    1F1B pipeline schedule the first stage holds ``pp`` micro-batches in flight of
    ``n_layers / pp`` layers each, the same total as one micro-batch through every layer
    (Korthikanti et al., Section 4.2.3); embeddings and the output layer's activations are left
    out.
    """
    pp = check_int("pp", pp, minimum=1)
    n_params = stage_params(n_layers, hidden, vocab, seq_len, tp=tp, pp=pp, stage="first",
                            tied_embeddings=tied_embeddings)
    states = model_state_bytes(n_params, dp=dp, zero_stage=zero_stage, optimizer=optimizer,
                               precision=precision)
    acts = activation_bytes(seq_len, micro_batch, hidden, n_heads, n_layers=n_layers, tp=tp,
                            sequence_parallel=sequence_parallel, recompute=recompute)
    return TrainingMemory(*states, acts)


def largest_micro_batch(capacity_GB, n_layers, hidden, n_heads, vocab, seq_len, max_batch=4096,
                        **kwargs) -> int:
    """Largest micro-batch whose :func:`training_memory` fits in ``capacity_GB`` (1e9 bytes),
    at most ``max_batch`` (default 4096 sequences); 0 when not even one sequence fits. ``kwargs``
    as for :func:`training_memory`."""
    capacity = check_float("capacity_GB", capacity_GB, minimum=0.0, strict_minimum=True) * 1e9
    max_batch = check_int("max_batch", max_batch, minimum=1)
    fixed = training_memory(n_layers, hidden, n_heads, vocab, seq_len, 1, **kwargs)
    per_sample = fixed.activations_bytes  # activations grow linearly with the micro-batch
    room = capacity - (fixed.total_bytes - per_sample)
    return int(max(0, min(max_batch, math.floor(room / per_sample))))


def gpu_capacity_GB(name: str) -> float:
    """Memory capacity (GB) of a device in the chip catalogue."""
    chip = chips.get(name)
    if chip.mem_GB is None or chip.mem_GB != chip.mem_GB:
        raise ValueError("name must be a device with a memory capacity in the catalogue, "
                         f"got {name!r}")
    return float(chip.mem_GB)
