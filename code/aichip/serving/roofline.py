"""Prefill and decode on the roofline: step times, arithmetic intensity, the critical batch.

A step's time is the roofline's bound ``max(flops / peak, bytes / bandwidth)`` (Williams et al.,
2009) with the work of :mod:`aichip.serving.model`. Prefill multiplies every weight by hundreds or
thousands of prompt tokens (intensity ~ prompt length: compute-bound); a decoding step multiplies
every weight by one token per sequence (intensity ~ batch: memory-bound until the batch reaches the
ridge point). The KV cache each sequence reads grows with its context, so a long context lowers
the intensity a batch can reach, and past a point no batch makes decoding compute-bound.

The chips are the catalogue's (:mod:`aichip.chips`, via :func:`aichip.roofline.from_chip`): dense
peak at the compute precision and HBM bandwidth. Bytes per element of a format come from the
formats of :mod:`aichip.arith` (``fp4`` is the OCP E2M1 element, 4 bits; its per-block scales
are left out).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .. import arith, training
from .. import roofline as chip_roofline
from ..validation import check_choice, check_int
from .model import DecoderShape, StepWork, decode_work, prefill_work

__all__ = ["FORMAT_ALIASES", "Hardware", "StepTime", "hardware", "format_bytes", "step_time",
           "decode_intensity", "prefill_intensity", "critical_batch", "critical_context",
           "max_decode_intensity", "ttft_s", "tpot_s"]

#: short names used for weights and caches -> the format of :mod:`aichip.arith` (or bits)
FORMAT_ALIASES = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp16", "fp8": "fp8_e4m3",
                  "fp8_e4m3": "fp8_e4m3", "fp8_e5m2": "fp8_e5m2", "int8": "int8", "int4": "int4",
                  "fp4": 4}


def format_bytes(fmt: str) -> float:
    """Bytes per element of format ``fmt`` (a key of :data:`FORMAT_ALIASES`): bf16 2, fp8 1,
    fp4 0.5 (OCP Microscaling E2M1 element, 4 bits)."""
    target = FORMAT_ALIASES[check_choice("fmt", fmt, FORMAT_ALIASES)]
    bits = target if isinstance(target, int) else arith.get_format(target).bits
    return bits / 8


class Hardware(NamedTuple):
    """One accelerator as the serving model sees it (SI units)."""

    name: str
    peak_FLOPs: float      # dense peak at the compute precision, FLOP/s
    hbm_Bps: float         # memory bandwidth, bytes/s
    memory_bytes: float    # memory capacity, bytes
    precision: str         # the compute precision of ``peak_FLOPs``

    @property
    def ridge_point(self) -> float:
        """FLOP per byte at which compute and memory time are equal."""
        return self.peak_FLOPs / self.hbm_Bps


def hardware(chip: str = "NVIDIA H100 SXM5", precision: str = "bf16") -> Hardware:
    """The catalogue device ``chip`` computing at ``precision`` (``"bf16"``, ``"fp8"``, ...)."""
    roof = chip_roofline.from_chip(chip, precision)
    return Hardware(roof.name, roof.peak_GFLOPs * 1e9, roof.bw_GBps * 1e9,
                    training.gpu_capacity_GB(chip) * 1e9, precision)


def _check_hw(hw) -> Hardware:
    if not isinstance(hw, Hardware):
        raise TypeError(f"hw must be an aichip.serving.Hardware, got {type(hw).__name__}")
    return hw


class StepTime(NamedTuple):
    """A step on the roofline: its work, the time compute and memory each need, the bound."""

    work: StepWork
    compute_s: float
    memory_s: float

    @property
    def time_s(self) -> float:
        """The roofline's bound: ``max(compute_s, memory_s)``."""
        return max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        """``"compute"`` or ``"memory"``: which term sets the time."""
        return "compute" if self.compute_s >= self.memory_s else "memory"


def step_time(work: StepWork, hw: Hardware) -> StepTime:
    """Time of a step whose work is ``work`` on ``hw``: ``flops / peak`` against ``bytes / bw``."""
    if not isinstance(work, StepWork):
        raise TypeError(f"work must be an aichip.serving.StepWork, got {type(work).__name__}")
    hw = _check_hw(hw)
    return StepTime(work, work.flops / hw.peak_FLOPs, work.bytes / hw.hbm_Bps)


def decode_intensity(shape: DecoderShape, batch, context, weight_bytes=2, kv_bytes=2) -> float:
    """FLOP/byte of a decoding step (:func:`aichip.serving.decode_work`)."""
    return decode_work(shape, batch, context, weight_bytes, kv_bytes).intensity


def prefill_intensity(shape: DecoderShape, prompt_len, batch=1, weight_bytes=2,
                      kv_bytes=2) -> float:
    """FLOP/byte of a prefill step (:func:`aichip.serving.prefill_work`)."""
    return prefill_work(shape, prompt_len, batch, weight_bytes, kv_bytes).intensity


def max_decode_intensity(shape: DecoderShape, context, kv_bytes=2) -> float:
    """The intensity a decoding step tends to as the batch grows (weights amortised away): one
    sequence's FLOPs over its KV traffic, ``(2 P + A (c + 1)) / (K (c + 1))`` with ``P`` the
    matmul parameters, ``A`` the attention FLOPs per pair, ``K`` the KV bytes per token."""
    context = check_int("context", context, minimum=0)
    k = shape.kv_bytes_per_token(kv_bytes)
    return (2 * shape.matmul_params + shape.attention_flops_per_pair * (context + 1)) / (
        k * (context + 1))


def critical_batch(shape: DecoderShape, hw: Hardware, context=0, weight_bytes=2,
                   kv_bytes=2) -> int | None:
    """Smallest batch at which a decoding step with ``context`` cached tokens per sequence reaches
    the ridge point of ``hw`` (compute-bound), or None when no batch does.

    With ``F`` the FLOPs and ``K`` the KV bytes of one sequence's step and ``W`` the weight bytes,
    ``I(b) = b F / (W + b K) >= R`` solves to ``b >= R W / (F - R K)`` when ``F > R K``.
    """
    hw = _check_hw(hw)
    one = decode_work(shape, 1, context, weight_bytes, kv_bytes)
    ridge = hw.ridge_point
    denominator = one.flops - ridge * one.kv_bytes
    if denominator <= 0:
        return None
    return max(1, math.ceil(ridge * one.weight_bytes / denominator - 1e-9))


def critical_context(shape: DecoderShape, hw: Hardware, kv_bytes=2) -> int | None:
    """Longest context (cached tokens per sequence) at which some batch still makes decoding
    compute-bound on ``hw``: the largest ``c`` with :func:`max_decode_intensity` above the ridge,
    ``c + 1 < 2 P / (R K - A)``; None when every context has such a batch (``R K <= A``)."""
    hw = _check_hw(hw)
    k = shape.kv_bytes_per_token(kv_bytes)
    excess = hw.ridge_point * k - shape.attention_flops_per_pair
    if excess <= 0:
        return None
    return max(-1, math.ceil(2 * shape.matmul_params / excess) - 2)


def ttft_s(shape: DecoderShape, hw: Hardware, prompt_len, weight_bytes=2, kv_bytes=2) -> float:
    """Time to first token on an idle GPU: one prefill step of ``prompt_len`` tokens (which also
    yields the first output token), on the roofline."""
    return step_time(prefill_work(shape, prompt_len, 1, weight_bytes, kv_bytes), hw).time_s


def tpot_s(shape: DecoderShape, hw: Hardware, batch, context, weight_bytes=2,
           kv_bytes=2) -> float:
    """Time per output token: one decoding step of ``batch`` sequences of ``context`` cached
    tokens, on the roofline."""
    return step_time(decode_work(shape, batch, context, weight_bytes, kv_bytes), hw).time_s

