"""Quantised weights and KV cache: what FP8 and FP4 do to the decode bound and to the batch that
fits.

A **scheme** names the format of the weights, of the KV cache, and the precision the tensor cores
compute in (:func:`aichip.serving.hardware` takes its peak from the chip catalogue). Decoding is
memory-bound, so halving the bytes per weight nearly halves a small batch's step time; halving the
bytes per cached value doubles the sequences whose caches fit beside the weights. FP4 weights on a
GPU without FP4 tensor cores (H100) are weight-only quantisation: the weights are widened on the
way to FP8 units, so they save bytes and not FLOPs.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from ..validation import check_float, check_int
from .kvcache import kv_budget_bytes
from .model import DecoderShape, decode_work
from .roofline import critical_batch, format_bytes, hardware, step_time

__all__ = ["Scheme", "SCHEMES", "max_batch_that_fits", "quantisation_table"]


class Scheme(NamedTuple):
    """Formats of the weights and KV cache (keys of :data:`aichip.serving.FORMAT_ALIASES`) and
    the compute precision (a precision of :mod:`aichip.chips`)."""

    label: str
    weights: str
    kv: str
    compute: str


#: the schemes compared in the chapter
SCHEMES = (Scheme("BF16", "bf16", "bf16", "bf16"),
           Scheme("FP8 weights", "fp8", "bf16", "fp8"),
           Scheme("FP8 weights + FP8 KV", "fp8", "fp8", "fp8"),
           Scheme("FP4 weights + FP8 KV", "fp4", "fp8", "fp8"))


def max_batch_that_fits(shape: DecoderShape, memory_bytes, context, weight_bytes=2, kv_bytes=2,
                        utilization=0.9) -> int:
    """Sequences of ``context`` tokens whose KV caches fit beside the weights in ``memory_bytes``
    (:func:`aichip.serving.kv_budget_bytes`); 0 when not even the weights fit."""
    context = check_int("context", context, minimum=1)
    w = check_float("weight_bytes", weight_bytes, minimum=0, strict_minimum=True)
    try:
        budget = kv_budget_bytes(memory_bytes, shape.n_params * w, utilization)
    except ValueError:
        return 0
    return int(budget // (context * shape.kv_bytes_per_token(kv_bytes)))


def quantisation_table(shape: DecoderShape, chip="NVIDIA H100 SXM5", batch=64, context=2048,
                       schemes=SCHEMES) -> pd.DataFrame:
    """One row per scheme: ``weights_GB``, ``kv_MB_per_seq`` (at ``context`` tokens),
    ``max_batch`` (that fits), ``tpot_s`` and ``tokens_per_s`` for ``batch`` sequences (the batch
    is capped at ``max_batch``), ``bound``, ``critical_batch`` at context 0 and at ``context``
    (None when no batch is compute-bound)."""
    batch = check_int("batch", batch, minimum=1)
    context = check_int("context", context, minimum=1)
    rows = []
    for s in schemes:
        hw = hardware(chip, s.compute)
        w, kv = format_bytes(s.weights), format_bytes(s.kv)
        fits = max_batch_that_fits(shape, hw.memory_bytes, context, w, kv)
        b = min(batch, fits)
        row = dict(scheme=s.label, weights_GB=shape.n_params * w / 1e9,
                   kv_MB_per_seq=context * shape.kv_bytes_per_token(kv) / 1e6, max_batch=fits,
                   batch=b, tpot_s=float("nan"), tokens_per_s=0.0, bound="does not fit",
                   critical_batch_0=critical_batch(shape, hw, 0, w, kv),
                   critical_batch_ctx=critical_batch(shape, hw, context, w, kv))
        if b:
            t = step_time(decode_work(shape, b, context, w, kv), hw)
            row.update(tpot_s=t.time_s, tokens_per_s=b / t.time_s, bound=t.bound)
        rows.append(row)
    return pd.DataFrame(rows).set_index("scheme")
