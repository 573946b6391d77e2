"""The decoder being served: its shape, the FLOPs and bytes of one forward step, its KV cache.

A Llama-style decoder (Dubey et al., 2024) differs from the GPT-style model of
:class:`aichip.scaling.TransformerConfig` in two ways that matter for serving:

* **grouped-query attention** (GQA, Ainslie et al., 2023): ``n_kv_heads`` key/value heads shared by
  ``n_heads`` query heads, which shrinks the KV cache by ``n_heads / n_kv_heads``;
* a **gated MLP** (SwiGLU): three ``hidden x ffn_hidden`` matrices instead of two.

Conventions (one forward step over a batch; GB = 1e9 bytes):

* a step processes ``tokens`` new tokens in all (one per sequence when decoding, a whole prompt or a
  chunk of it when prefilling) and every new token attends to the tokens before it in its own
  sequence: ``attended`` (query, key) pairs in all;
* FLOPs: ``2 * matmul_params`` per new token (every weight matrix once, the logit layer included;
  the embedding lookup is a gather and does no arithmetic) plus ``4 * n_layers * n_heads *
  head_dim`` per attended pair (``Q K^T`` and ``P V``, each a multiply-add per element);
* bytes: every weight matrix is read once per step (``matmul_params * weight_bytes``), the cached
  keys and values the step reads (``kv_read`` tokens) and those it writes (``kv_written`` tokens),
  at :meth:`DecoderShape.kv_bytes_per_token` each. Activations, norms and softmax traffic are left
  out: they are small against the weights when decoding and against the FLOPs when prefilling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .. import training
from ..validation import check_float, check_int

__all__ = ["DecoderShape", "StepWork", "llama3_8b", "llama3_70b", "llama3_405b", "step_work",
           "decode_work", "prefill_work"]


@dataclass(frozen=True)
class DecoderShape:
    """A Llama-style decoder-only transformer.

    Attributes
    ----------
    name : str
    n_layers, hidden, n_heads, n_kv_heads, ffn_hidden, vocab : int
        ``n_heads`` divides ``hidden``; ``n_kv_heads`` divides ``n_heads``.
    gated_mlp : bool
        True: three MLP matrices (SwiGLU); False: two (GELU, as GPT).
    tied_embeddings : bool
        True: the logit layer reuses the input embedding (no extra parameters).
    max_context : int
        Longest sequence (prompt + output) the model accepts, tokens.
    """

    name: str
    n_layers: int
    hidden: int
    n_heads: int
    n_kv_heads: int
    ffn_hidden: int
    vocab: int
    gated_mlp: bool = True
    tied_embeddings: bool = False
    max_context: int = 8192

    def __post_init__(self):
        for field in ("n_layers", "hidden", "n_heads", "n_kv_heads", "ffn_hidden", "vocab",
                      "max_context"):
            check_int(field, getattr(self, field), minimum=1)
        if self.hidden % self.n_heads:
            raise ValueError(f"n_heads must divide hidden ({self.hidden}), got {self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_kv_heads must divide n_heads ({self.n_heads}), "
                             f"got {self.n_kv_heads}")

    @property
    def head_dim(self) -> int:
        """Width of one attention head: ``hidden / n_heads``."""
        return self.hidden // self.n_heads

    @property
    def layer_matmul_params(self) -> int:
        """Weights of one layer's matrices: ``Q`` and ``O`` are ``h x h``, ``K`` and ``V`` are
        ``h x (n_kv_heads * head_dim)``, the MLP has 3 (gated) or 2 ``h x ffn_hidden`` matrices."""
        h, kv = self.hidden, self.n_kv_heads * self.head_dim
        return 2 * h * h + 2 * h * kv + (3 if self.gated_mlp else 2) * h * self.ffn_hidden

    @property
    def matmul_params(self) -> int:
        """Weights a forward step multiplies with: every layer's matrices and the logit layer."""
        return self.n_layers * self.layer_matmul_params + self.vocab * self.hidden

    @property
    def n_params(self) -> int:
        """All parameters: matrices, the input embedding (unless tied), two RMSNorm weight vectors
        per layer and a final one."""
        embedding = 0 if self.tied_embeddings else self.vocab * self.hidden
        norms = (2 * self.n_layers + 1) * self.hidden
        return self.matmul_params + embedding + norms

    def kv_bytes_per_token(self, bytes_per_value: float = 2) -> float:
        """Bytes of keys and values one token leaves in the cache: ``2 * n_layers * n_kv_heads *
        head_dim * bytes_per_value`` (:func:`aichip.training.kv_cache_bytes` for one token)."""
        b = check_float("bytes_per_value", bytes_per_value, minimum=0, strict_minimum=True)
        one_byte = training.kv_cache_bytes(self.n_layers, self.n_kv_heads, self.head_dim,
                                           seq_len=1, batch=1, bytes_per_value=1)
        return one_byte * b

    @property
    def attention_flops_per_pair(self) -> int:
        """FLOPs per (query, key) pair over all layers: ``4 * n_layers * n_heads * head_dim``."""
        return 4 * self.n_layers * self.n_heads * self.head_dim


def llama3_8b() -> DecoderShape:
    """Llama 3 8B (Dubey et al., 2024, Table 3; vocabulary 128,256 in the released model)."""
    return DecoderShape("Llama 3 8B", n_layers=32, hidden=4096, n_heads=32, n_kv_heads=8,
                        ffn_hidden=14336, vocab=128256)


def llama3_70b() -> DecoderShape:
    """Llama 3 70B (Dubey et al., 2024, Table 3)."""
    return DecoderShape("Llama 3 70B", n_layers=80, hidden=8192, n_heads=64, n_kv_heads=8,
                        ffn_hidden=28672, vocab=128256)


def llama3_405b() -> DecoderShape:
    """Llama 3 405B (Dubey et al., 2024, Table 3)."""
    return DecoderShape("Llama 3 405B", n_layers=126, hidden=16384, n_heads=128, n_kv_heads=8,
                        ffn_hidden=53248, vocab=128256)


class StepWork(NamedTuple):
    """The work of one forward step: FLOPs and bytes moved (see the module docstring)."""

    flops: float
    weight_bytes: float  # every matrix read once
    kv_bytes: float      # cached keys and values read plus those written

    @property
    def bytes(self) -> float:
        """All bytes moved: weights plus KV cache traffic."""
        return self.weight_bytes + self.kv_bytes

    @property
    def intensity(self) -> float:
        """FLOP per byte moved."""
        return self.flops / self.bytes


def _check_shape(shape) -> DecoderShape:
    if not isinstance(shape, DecoderShape):
        raise TypeError(f"shape must be an aichip.serving.DecoderShape, got {type(shape).__name__}")
    return shape


def step_work(shape: DecoderShape, tokens, attended, kv_read, kv_written, weight_bytes=2,
              kv_bytes=2) -> StepWork:
    """FLOPs and bytes of one forward step (module docstring's conventions).

    Parameters
    ----------
    shape : DecoderShape
    tokens : float >= 0, new tokens processed in the step (all sequences together)
    attended : float >= 0, (query, key) pairs the new tokens attend to
    kv_read, kv_written : float >= 0, cached tokens read, and new tokens whose keys and values are
        written
    weight_bytes, kv_bytes : float > 0, bytes per weight and per cached value (2 for bf16, 1 for
        fp8, 0.5 for fp4)

    Returns
    -------
    StepWork
        ``flops = 2 matmul_params tokens + attention_flops_per_pair attended``; ``weight_bytes =
        matmul_params weight_bytes``; ``kv_bytes = kv_bytes_per_token (kv_read + kv_written)``.
    """
    shape = _check_shape(shape)
    tokens = check_float("tokens", tokens, minimum=0)
    attended = check_float("attended", attended, minimum=0)
    kv_read = check_float("kv_read", kv_read, minimum=0)
    kv_written = check_float("kv_written", kv_written, minimum=0)
    w = check_float("weight_bytes", weight_bytes, minimum=0, strict_minimum=True)
    per_token = shape.kv_bytes_per_token(check_float("kv_bytes", kv_bytes, minimum=0,
                                                     strict_minimum=True))
    flops = 2.0 * shape.matmul_params * tokens + shape.attention_flops_per_pair * attended
    return StepWork(flops, shape.matmul_params * w, per_token * (kv_read + kv_written))


def decode_work(shape: DecoderShape, batch, context, weight_bytes=2, kv_bytes=2) -> StepWork:
    """One decoding step of ``batch`` sequences with ``context`` tokens cached each: every sequence
    adds one token that attends to ``context + 1`` tokens (itself included), reads ``context``
    cached tokens and writes one."""
    batch = check_int("batch", batch, minimum=1)
    context = check_int("context", context, minimum=0)
    return step_work(shape, batch, batch * (context + 1), batch * context, batch, weight_bytes,
                     kv_bytes)


def prefill_work(shape: DecoderShape, prompt_len, batch=1, weight_bytes=2, kv_bytes=2) -> StepWork:
    """Prefill of ``batch`` prompts of ``prompt_len`` tokens each in one step: causal attention,
    ``prompt_len (prompt_len + 1) / 2`` pairs per prompt; the keys and values are written once and
    read back from on-chip memory (FlashAttention-style), so no cached token is read."""
    prompt_len = check_int("prompt_len", prompt_len, minimum=1)
    batch = check_int("batch", batch, minimum=1)
    pairs = batch * prompt_len * (prompt_len + 1) / 2
    return step_work(shape, batch * prompt_len, pairs, 0, batch * prompt_len, weight_bytes,
                     kv_bytes)
