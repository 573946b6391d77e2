"""Measured decode throughput of :mod:`aichip.decoder` against the roofline's prediction.

A decode step for ``B`` sequences with ``L`` cached tokens each reads every weight matrix once and
each sequence's keys and values once. With ``P`` the decoder's matrix weights (all but the
embedding table), ``w`` bytes per number, ``n`` layers and ``kv`` the key (or value) width:

    bytes(B, L) = w * (P + B * d_model + 2 n kv * B * (L + 1) + 2 n kv * B)
                  (weights, embedding rows, cache reads, cache writes)
    flops(B, L) = 2 P B + 4 n d_model B (L + 1)
                  (one multiply-add per weight per token; q.k and p.v over L + 1 positions)

and the roofline bounds the step's time below by ``max(flops / peak, bytes / bandwidth)``, so the
predicted throughput is ``B`` tokens over that time. At small ``B`` the weights dominate the bytes
and the step is memory-bound: its time hardly grows with ``B``, so tokens/s grows in proportion;
past the batch where ``flops / peak`` overtakes ``bytes / bandwidth`` (:func:`turnover_batch`)
tokens/s levels off at the compute roof. Activations between the products (a few ``B d_model``
vectors per layer) are left out of the byte count.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .decoder import DecoderConfig, decode_step, init_weights, new_cache
from .roofline import Roofline
from .serving.model import DecoderShape, decode_work
from .threads import blas_threads, numba_threads
from .timing import time_call
from .validation import check_int, check_threads

__all__ = ["DecodePrediction", "serving_shape", "decode_step_bytes", "decode_step_flops",
           "predict_decode", "turnover_batch", "measure_decode", "summarize_decode",
           "CHAPTER_CONFIG"]

#: the serving chapter's decoder: 76 M matrix weights, 304 MB in float32, far above any CPU's
#: last-level cache, so a batch-1 step streams them from DRAM
CHAPTER_CONFIG = DecoderConfig(n_layers=6, d_model=1024, n_heads=16, n_kv_heads=4, d_ff=2816,
                               vocab=8192)


def _check_shape(config, batch, context):
    if not isinstance(config, DecoderConfig):
        raise TypeError("config must be a DecoderConfig")
    return check_int("batch", batch, minimum=1), check_int("context", context, minimum=0)


def serving_shape(config: DecoderConfig) -> DecoderShape:
    """``config`` as the serving model's :class:`~aichip.serving.DecoderShape` (SwiGLU, untied
    embedding), so that this decoder's step is counted by the same
    :func:`~aichip.serving.decode_work` as the serving chapter's models."""
    if not isinstance(config, DecoderConfig):
        raise TypeError("config must be a DecoderConfig")
    return DecoderShape("chapter decoder", n_layers=config.n_layers, hidden=config.d_model,
                        n_heads=config.n_heads, n_kv_heads=config.n_kv_heads,
                        ffn_hidden=config.d_ff, vocab=config.vocab, gated_mlp=True,
                        tied_embeddings=False)


def decode_step_bytes(config: DecoderConfig, batch: int, context: int,
                      bytes_per_number: int = 4) -> int:
    """Compulsory bytes of one decode step (module docstring), ``batch`` sequences each holding
    ``context`` cached tokens before the step: :func:`aichip.serving.decode_work`'s weights,
    cache reads and writes, plus what this implementation also moves, the embedding rows of the
    new tokens and the new token's keys and values read back from the cache by the attention."""
    batch, context = _check_shape(config, batch, context)
    w = check_int("bytes_per_number", bytes_per_number, minimum=1)
    shape = serving_shape(config)
    work = decode_work(shape, batch, context, weight_bytes=w, kv_bytes=w)
    read_back = shape.kv_bytes_per_token(w) * batch
    return int(work.bytes + w * batch * config.d_model + read_back)


def decode_step_flops(config: DecoderConfig, batch: int, context: int) -> int:
    """Floating-point operations of one decode step (two per multiply-add; module docstring):
    :func:`aichip.serving.decode_work`'s count."""
    batch, context = _check_shape(config, batch, context)
    return int(decode_work(serving_shape(config), batch, context).flops)


class DecodePrediction(NamedTuple):
    """The roofline's bound on one decode step."""

    step_s: float  # max(flops / peak, bytes / bandwidth)
    tokens_per_s: float  # batch / step_s
    bound: str  # "memory" or "compute"
    intensity: float  # FLOP/byte


def predict_decode(roof: Roofline, config: DecoderConfig, batch: int, context: int,
                   bytes_per_number: int = 4) -> DecodePrediction:
    """Fastest step the roofline ``roof`` allows for ``batch`` sequences at ``context`` tokens."""
    if not isinstance(roof, Roofline):
        raise TypeError("roof must be a Roofline (aichip.roofline.from_measurements)")
    moved = decode_step_bytes(config, batch, context, bytes_per_number)
    work = decode_step_flops(config, batch, context)
    memory_s, compute_s = moved / (roof.bw_GBps * 1e9), work / (roof.peak_GFLOPs * 1e9)
    step_s = max(memory_s, compute_s)
    bound = "compute" if compute_s >= memory_s else "memory"
    return DecodePrediction(step_s, batch / step_s, bound, work / moved)


def turnover_batch(roof: Roofline, config: DecoderConfig, context: int,
                   bytes_per_number: int = 4, max_batch: int = 1 << 20) -> int | None:
    """Smallest batch whose step the roofline calls compute-bound, or None when none up to
    ``max_batch`` is (long contexts: the cache's bytes grow with the batch as fast as the flops)."""
    batch = 1
    while batch <= max_batch:  # the bound changes once: double, then bisect
        if predict_decode(roof, config, batch, context, bytes_per_number).bound == "compute":
            break
        batch *= 2
    else:
        return None
    low, high = batch // 2, batch  # low is memory-bound (or 0), high compute-bound
    while high - low > 1:
        mid = (low + high) // 2
        bound = predict_decode(roof, config, mid, context, bytes_per_number).bound
        low, high = (low, mid) if bound == "compute" else (mid, high)
    return high


def _filled_cache(config, batch, context, dtype, rng):
    """A cache whose ``batch`` sequences hold ``context`` tokens each: random keys and values for
    one sequence (as a prefill would leave them, in scale), copied to all; room for one more."""
    cache = new_cache(config, batch, context + 1, dtype)
    shape = (config.n_layers, 1, config.n_kv_heads, context, config.head_dim)
    cache.k[:, :, :, :context] = rng.standard_normal(shape, dtype=np.float32)
    cache.v[:, :, :, :context] = rng.standard_normal(shape, dtype=np.float32)
    cache.lengths[:] = context
    return cache


def _one_sequence(cache, b):
    """A batch-1 copy of sequence ``b`` of ``cache``."""
    return type(cache)(cache.k[:, b:b + 1].copy(), cache.v[:, b:b + 1].copy(),
                       cache.lengths[b:b + 1].copy())


def measure_decode(roof: Roofline, batches=(1, 2, 4, 8, 16, 32, 64), context: int = 128,
                   config: DecoderConfig = CHAPTER_CONFIG, threads: int | None = None,
                   repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """Time a float32 decode step at each batch size and set it against the roofline's bound.

    Each batch's sequences hold ``context`` cached tokens; the timed call resets their lengths
    and runs one step (attention over ``context + 1`` tokens), with BLAS and numba both limited to
    ``threads``. Correctness travels with performance: the last sequence's logits in the batched
    step must equal a batch-1 step on a copy of its cache (relative error at most 1e-4: BLAS sums
    the products of a batch in a different order than those of one vector).

    Returns
    -------
    pandas.DataFrame, one row per batch: ``batch``, ``context``, ``best_s``, ``median_s``,
    ``tokens_per_s`` (from the best step), ``GFLOPs``, ``GBps`` (achieved), ``intensity``
    (FLOP/byte), ``predicted_s``, ``predicted_tokens_per_s``, ``bound``, ``ratio`` (measured /
    predicted tokens/s, at most about 1), ``max_rel_error``.

    Raises
    ------
    ValueError
        When a batched step's logits differ from the batch-1 step's.
    """
    if not isinstance(roof, Roofline):
        raise TypeError("roof must be a Roofline (aichip.roofline.from_measurements)")
    batches = [check_int("batch", b, minimum=1) for b in batches]
    if not batches:
        raise ValueError("batches must name at least one batch size")
    threads = check_threads(threads)
    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    weights = init_weights(config, seed, "float32")
    rows = []
    with blas_threads(threads), numba_threads(threads):
        for batch in batches:
            cache = _filled_cache(config, batch, context, "float32", rng)
            tokens = rng.integers(0, config.vocab, size=batch)
            single = _one_sequence(cache, batch - 1)

            def step(cache=cache, tokens=tokens):
                cache.lengths[:] = context
                return decode_step(weights, cache, tokens)

            timing = time_call(step, repeats=repeats, warmup=1)
            logits, alone = step()[-1], decode_step(weights, single, tokens[-1:])[0]
            error = float(np.max(np.abs(logits - alone)) / np.max(np.abs(alone)))
            if not error <= 1e-4:
                raise ValueError(f"batch {batch}: batched logits differ from a batch-1 step by "
                                 f"{error:.2e} (relative); the timing is not valid")
            rows.append(_row(roof, config, batch, context, timing, error))
    return pd.DataFrame(rows)


def _row(roof, config, batch, context, timing, error) -> dict:
    predicted = predict_decode(roof, config, batch, context)
    moved = decode_step_bytes(config, batch, context)
    work = decode_step_flops(config, batch, context)
    return {"batch": batch, "context": context, "best_s": timing.best_s,
            "median_s": timing.median_s, "tokens_per_s": batch / timing.best_s,
            "GFLOPs": work / timing.best_s / 1e9, "GBps": moved / timing.best_s / 1e9,
            "intensity": work / moved, "predicted_s": predicted.step_s,
            "predicted_tokens_per_s": predicted.tokens_per_s, "bound": predicted.bound,
            "ratio": predicted.step_s / timing.best_s, "max_rel_error": error}


def summarize_decode(table: pd.DataFrame, roof: Roofline) -> dict:
    """What a :func:`measure_decode` table says about the turnover, as numbers a chapter can quote.

    With ``m`` the largest batch the bound calls memory-bound and ``M`` the largest batch
    measured: ``last_memory_batch`` (``m``), ``growth_before`` / ``predicted_growth_before``
    (tokens/s at ``m`` over tokens/s at batch 1, measured / bound), ``growth_after`` /
    ``predicted_growth_after`` (tokens/s at ``M`` over ``m``), ``batch_growth_after`` (``M / m``),
    ``gain_fell`` (whether the measured tokens/s per added sequence fell after ``m``, as the
    bound's does), ``ratio_between_min`` / ``ratio_between_max`` (the measured/bound ratio over
    batches 2 to ``m``), ``largest_batch``, ``largest_GFLOPs`` and ``largest_of_peak`` (its
    GFLOP/s over the roof's peak).
    The table must hold batch 1 and at least one memory-bound and one compute-bound batch.
    """
    if not isinstance(roof, Roofline):
        raise TypeError("roof must be a Roofline (aichip.roofline.from_measurements)")
    rows = table.set_index("batch").sort_index()
    memory = rows.index[rows["bound"] == "memory"]
    if 1 not in rows.index or not len(memory) or memory.max() == rows.index.max():
        raise ValueError("table must hold batch 1 and batches on both sides of the turnover")
    m, largest = int(memory.max()), int(rows.index.max())
    tok, bound = rows["tokens_per_s"], rows["predicted_tokens_per_s"]
    between = rows.loc[2:m, "ratio"] if m >= 2 else rows.loc[[1], "ratio"]
    growth_before, growth_after = tok[m] / tok[1], tok[largest] / tok[m]
    return {"last_memory_batch": m, "largest_batch": largest,
            "growth_before": float(growth_before), "growth_after": float(growth_after),
            "predicted_growth_before": float(bound[m] / bound[1]),
            "predicted_growth_after": float(bound[largest] / bound[m]),
            "batch_growth_after": largest / m,
            "gain_fell": bool(growth_after / (largest / m) < growth_before / m),
            "ratio_between_min": float(between.min()), "ratio_between_max": float(between.max()),
            "largest_GFLOPs": float(rows.loc[largest, "GFLOPs"]),
            "largest_of_peak": float(rows.loc[largest, "GFLOPs"] / roof.peak_GFLOPs)}
