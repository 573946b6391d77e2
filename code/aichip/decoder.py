"""A small Llama-style transformer decoder that generates one token per sequence per step, with a
KV cache in memory: the kernel behind the serving chapter's measured decode.

Each layer is pre-norm: ``x += Attention(RMSNorm(x))`` then ``x += SwiGLU(RMSNorm(x))``, with
rotary position embeddings (RoPE) on queries and keys and grouped-query attention (GQA):
``n_heads`` query heads share ``n_kv_heads`` key/value heads, so the cache holds
``2 * n_kv_heads * head_dim`` numbers per token per layer. Weights are random (seeded); the point
is the bytes a step moves, not what it says.

A decode step for a batch of ``B`` sequences reads every weight matrix once (the per-token
products go to NumPy's BLAS, ``(B, d_in) @ (d_in, d_out)``), appends each sequence's new key and
value to the cache, and reads each sequence's cached keys and values once in the attention
kernel, written in numba (:func:`attention_source` shows it): one job per sequence and key/value
head, which computes all the query heads of its group from one pass over the cache.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from .source import marked_source
from .validation import check_choice, check_float, check_int

__all__ = ["DecoderConfig", "LayerWeights", "DecoderWeights", "KVCache", "init_weights",
           "new_cache", "decode_step", "rope_frequencies", "attention_source", "DTYPES"]

#: floating-point types a decoder's weights and cache can have
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class DecoderConfig:
    """Shape of a Llama-style decoder.

    Attributes
    ----------
    n_layers, d_model, n_heads, n_kv_heads, d_ff, vocab : int >= 1
        ``d_model`` divisible by ``n_heads`` (``head_dim = d_model / n_heads``, even, for RoPE)
        and ``n_heads`` by ``n_kv_heads``; ``d_ff`` is the SwiGLU hidden width.
    rope_theta : float > 0
        RoPE base: pair ``i`` of a head rotates by ``position * rope_theta**(-2i / head_dim)``.
    norm_eps : float > 0
        RMSNorm's epsilon.
    """

    n_layers: int = 6
    d_model: int = 1024
    n_heads: int = 16
    n_kv_heads: int = 4
    d_ff: int = 2816
    vocab: int = 8192
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    def __post_init__(self):
        for name in ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_ff", "vocab"):
            check_int(name, getattr(self, name), minimum=1)
        check_float("rope_theta", self.rope_theta, minimum=0.0, strict_minimum=True)
        check_float("norm_eps", self.norm_eps, minimum=0.0, strict_minimum=True)
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model must be n_heads times an even head_dim, got d_model="
                             f"{self.d_model}, n_heads={self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads must be a multiple of n_kv_heads, got {self.n_heads} and "
                             f"{self.n_kv_heads}")

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.d_model // self.n_heads

    @property
    def kv_dim(self) -> int:
        """Width of the keys (or values) of one token in one layer: ``n_kv_heads * head_dim``."""
        return self.n_kv_heads * self.head_dim

    @property
    def matrix_params(self) -> int:
        """Weights a decode step multiplies by every token: all matrices but the embedding table
        (of which a step reads one row per token)."""
        per_layer = (self.d_model * (self.d_model + 2 * self.kv_dim) + self.d_model ** 2
                     + 3 * self.d_model * self.d_ff)
        return self.n_layers * per_layer + self.d_model * self.vocab

    @property
    def n_params(self) -> int:
        """All parameters: matrices, embedding table and RMSNorm gains."""
        gains = (2 * self.n_layers + 1) * self.d_model
        return self.matrix_params + self.vocab * self.d_model + gains


@dataclass(frozen=True)
class LayerWeights:
    """One layer's weights, each matrix ``(d_in, d_out)`` so that a step computes ``x @ W``.

    ``wqkv`` is ``(d_model, (n_heads + 2 n_kv_heads) head_dim)``: queries, then keys, then values;
    ``w_gate_up`` is ``(d_model, 2 d_ff)``: the SwiGLU gate, then the up projection.
    """

    attn_norm: np.ndarray
    wqkv: np.ndarray
    wo: np.ndarray
    mlp_norm: np.ndarray
    w_gate_up: np.ndarray
    w_down: np.ndarray


@dataclass(frozen=True)
class DecoderWeights:
    """All weights: ``embed`` ``(vocab, d_model)``, the layers, ``final_norm`` ``(d_model,)`` and
    ``lm_head`` ``(d_model, vocab)``."""

    config: DecoderConfig
    embed: np.ndarray
    layers: tuple[LayerWeights, ...]
    final_norm: np.ndarray
    lm_head: np.ndarray

    @property
    def dtype(self) -> np.dtype:
        return self.embed.dtype


@dataclass
class KVCache:
    """Keys and values of every cached token: ``k`` and ``v`` are
    ``(n_layers, batch, n_kv_heads, max_len, head_dim)``; ``lengths[b]`` (int64, ``(batch,)``) is
    how many tokens sequence ``b`` holds. A decode step writes position ``lengths[b]`` and then
    increments it."""

    k: np.ndarray
    v: np.ndarray
    lengths: np.ndarray

    @property
    def batch(self) -> int:
        return self.k.shape[1]

    @property
    def max_len(self) -> int:
        return self.k.shape[3]


def init_weights(config: DecoderConfig, seed: int = 0, dtype: str = "float32") -> DecoderWeights:
    """Random weights: each matrix normal with standard deviation ``1/sqrt(d_in)`` (so activations
    keep their scale), RMSNorm gains ``1 + 0.1 * normal``, drawn from
    ``numpy.random.default_rng(seed)``."""
    if not isinstance(config, DecoderConfig):
        raise TypeError("config must be a DecoderConfig")
    check_choice("dtype", dtype, DTYPES)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    d, hd = config.d_model, config.head_dim

    def matrix(d_in, d_out):
        out = rng.standard_normal((d_in, d_out), dtype=np.float32).astype(dtype, copy=False)
        out *= 1 / np.sqrt(d_in)
        return out

    def gain():
        return (1 + 0.1 * rng.standard_normal(d)).astype(dtype)

    layers = tuple(
        LayerWeights(gain(), matrix(d, (config.n_heads + 2 * config.n_kv_heads) * hd), matrix(d, d),
                     gain(), matrix(d, 2 * config.d_ff), matrix(config.d_ff, d))
        for _ in range(config.n_layers))
    embed = rng.standard_normal((config.vocab, d), dtype=np.float32).astype(dtype, copy=False)
    return DecoderWeights(config, embed, layers, gain(), matrix(d, config.vocab))


def new_cache(config: DecoderConfig, batch: int, max_len: int, dtype: str = "float32") -> KVCache:
    """An empty cache for ``batch`` sequences of up to ``max_len`` tokens (zeros, lengths 0)."""
    check_choice("dtype", dtype, DTYPES)
    shape = (config.n_layers, check_int("batch", batch, minimum=1), config.n_kv_heads,
             check_int("max_len", max_len, minimum=1), config.head_dim)
    return KVCache(np.zeros(shape, dtype), np.zeros(shape, dtype), np.zeros(batch, np.int64))


def rope_frequencies(config: DecoderConfig) -> np.ndarray:
    """Rotation rate of each of a head's ``head_dim / 2`` pairs, radians per position."""
    half = config.head_dim // 2
    return config.rope_theta ** (-np.arange(half) / half)


def _rms_norm(x: np.ndarray, gain: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * gain


def _rotate(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """RoPE on ``x`` ``(B, heads, head_dim)``: pair ``(x[i], x[i + half])`` rotates by
    ``angles[b, i]``."""
    half = x.shape[-1] // 2
    cos = np.cos(angles)[:, None, :].astype(x.dtype)
    sin = np.sin(angles)[:, None, :].astype(x.dtype)
    first, second = x[..., :half], x[..., half:]
    return np.concatenate([first * cos - second * sin, first * sin + second * cos], axis=-1)


# magictoken: attention-begin
@njit(parallel=True, cache=True)
def _attention_kernel(q, k_cache, v_cache, lengths, scale, out):
    """Softmax attention of each sequence's queries over its cached keys and values.

    q, out: (B, n_heads, head_dim); k_cache, v_cache: (B, n_kv_heads, max_len, head_dim);
    lengths: (B,) tokens to attend to. One job per (sequence, kv head) reads that head's keys and
    values once for all ``n_heads / n_kv_heads`` query heads of its group.
    """
    n_batch, n_heads, head_dim = q.shape
    n_kv_heads = k_cache.shape[1]
    group = n_heads // n_kv_heads
    for job in prange(n_batch * n_kv_heads):
        b = job // n_kv_heads
        g = job % n_kv_heads
        length = lengths[b]
        scores = np.empty((group, length))
        for t in range(length):  # scores = q . k for every query head of the group
            for j in range(group):
                s = 0.0
                for i in range(head_dim):
                    s += q[b, g * group + j, i] * k_cache[b, g, t, i]
                scores[j, t] = s * scale
        for j in range(group):  # softmax, shifted by the maximum so exp cannot overflow
            top = scores[j, :].max()
            total = 0.0
            for t in range(length):
                scores[j, t] = np.exp(scores[j, t] - top)
                total += scores[j, t]
            scores[j, :] /= total
        acc = np.zeros((group, head_dim))
        for t in range(length):  # weighted sum of the values
            for j in range(group):
                w = scores[j, t]
                for i in range(head_dim):
                    acc[j, i] += w * v_cache[b, g, t, i]
        for j in range(group):
            for i in range(head_dim):
                out[b, g * group + j, i] = acc[j, i]
# magictoken: attention-end


def attention_source() -> str:
    """Source of the numba attention kernel, decorator included, for a chapter to show."""
    return marked_source(sys.modules[__name__], "attention")


def _check_step(weights: DecoderWeights, cache: KVCache, tokens) -> np.ndarray:
    if not isinstance(weights, DecoderWeights):
        raise TypeError("weights must be DecoderWeights from init_weights()")
    if not isinstance(cache, KVCache):
        raise TypeError("cache must be a KVCache from new_cache()")
    config = weights.config
    if cache.k.shape[0::2] != (config.n_layers, config.n_kv_heads, config.head_dim):
        raise ValueError(f"cache shape {cache.k.shape} does not fit the decoder's config")
    if cache.k.dtype != weights.dtype:
        raise ValueError(f"cache dtype {cache.k.dtype} must equal the weights' {weights.dtype}")
    tokens = np.asarray(tokens)
    if tokens.shape != (cache.batch,) or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be {cache.batch} integers (one per cached sequence), got "
                         f"shape {tokens.shape} of {tokens.dtype}")
    if tokens.min() < 0 or tokens.max() >= config.vocab:
        raise ValueError(f"tokens must lie in [0, {config.vocab}), got {tokens.min()} to "
                         f"{tokens.max()}")
    if cache.lengths.max() >= cache.max_len:
        raise ValueError(f"cache is full: a sequence holds {cache.lengths.max()} of max_len "
                         f"{cache.max_len} tokens")
    return tokens


def decode_step(weights: DecoderWeights, cache: KVCache, tokens) -> np.ndarray:
    """One decode step: feed token ``tokens[b]`` to sequence ``b`` at position
    ``cache.lengths[b]``, append its keys and values to the cache, and return the next-token logits.

    Parameters
    ----------
    weights : DecoderWeights
    cache : KVCache, modified in place (one more token per sequence)
    tokens : int array ``(batch,)``, values in ``[0, vocab)``

    Returns
    -------
    numpy.ndarray ``(batch, vocab)``, the weights' dtype
    """
    tokens = _check_step(weights, cache, tokens)
    config = weights.config
    n_batch, hd = cache.batch, config.head_dim
    n_q, n_kv = config.n_heads * hd, config.kv_dim
    positions = cache.lengths.copy()
    angles = positions[:, None] * rope_frequencies(config)[None, :]
    rows = np.arange(n_batch)
    scale = 1 / np.sqrt(hd)
    x = weights.embed[tokens]
    for layer, w in enumerate(weights.layers):
        qkv = _rms_norm(x, w.attn_norm, config.norm_eps) @ w.wqkv
        q = _rotate(qkv[:, :n_q].reshape(n_batch, config.n_heads, hd), angles)
        k = _rotate(qkv[:, n_q:n_q + n_kv].reshape(n_batch, config.n_kv_heads, hd), angles)
        cache.k[layer, rows, :, positions] = k
        cache.v[layer, rows, :, positions] = qkv[:, n_q + n_kv:].reshape(n_batch, -1, hd)
        attended = np.empty_like(q)
        _attention_kernel(q, cache.k[layer], cache.v[layer], positions + 1, scale, attended)
        x = x + attended.reshape(n_batch, n_q) @ w.wo
        gate_up = _rms_norm(x, w.mlp_norm, config.norm_eps) @ w.w_gate_up
        gate, up = gate_up[:, :config.d_ff], gate_up[:, config.d_ff:]
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w.w_down
    cache.lengths += 1
    return _rms_norm(x, weights.final_norm, config.norm_eps) @ weights.lm_head
