"""Serving a model: prefill and decode on the roofline, the KV cache as paged memory, batching,
speculative decoding, disaggregated prefill and decode, quantised weights and caches.

* :mod:`~aichip.serving.model`: :class:`DecoderShape` (Llama-style, GQA, gated MLP), the FLOPs and
  bytes of a forward step.
* :mod:`~aichip.serving.roofline`: step times on a chip's roofline, prefill/decode intensity, the
  critical batch, TTFT and TPOT bounds.
* :mod:`~aichip.serving.kvcache`: :class:`PagedKVCache`, :func:`kv_waste`, the batch that fits.
* :mod:`~aichip.serving.traces`: seeded request traces with published length medians.
* :mod:`~aichip.serving.batching`: :func:`simulate`, a SimPy serving simulator (static,
  continuous, chunked-prefill batching).
* :mod:`~aichip.serving.speculative`: expected tokens per verification, speed-up.
* :mod:`~aichip.serving.disaggregation`: the KV cache over RDMA against prefill interference.
* :mod:`~aichip.serving.quantisation`: FP8/FP4 weights and KV cache, the decode bound, the batch.
"""

from .batching import POLICIES, SimConfig, md1_check, simulate, simulate_requests, summarize
from .disaggregation import (
    disaggregation_table,
    kv_transfer_path,
    kv_transfer_s,
    prefill_interference,
)
from .kvcache import (
    KV_POLICIES,
    OutOfBlocksError,
    PagedKVCache,
    admitted_batch,
    kv_budget_bytes,
    kv_waste,
    kv_waste_table,
    reserved_tokens,
)
from .model import (
    DecoderShape,
    StepWork,
    decode_work,
    llama3_8b,
    llama3_70b,
    llama3_405b,
    prefill_work,
    step_work,
)
from .quantisation import SCHEMES, Scheme, max_batch_that_fits, quantisation_table
from .roofline import (
    FORMAT_ALIASES,
    Hardware,
    StepTime,
    critical_batch,
    critical_context,
    decode_intensity,
    format_bytes,
    hardware,
    max_decode_intensity,
    prefill_intensity,
    step_time,
    tpot_s,
    ttft_s,
)
from .speculative import (
    acceptance_rate,
    speculative_expected_tokens,
    speculative_sampling,
    speculative_speedup,
    speculative_step_speedup,
    speculative_tokens_monte_carlo,
)
from .traces import (
    LENGTH_PROFILES,
    LENGTH_SIGMA,
    Trace,
    constant_trace,
    lognormal_lengths,
    request_trace,
)

__all__ = [
    "DecoderShape", "FORMAT_ALIASES", "Hardware", "KV_POLICIES", "LENGTH_PROFILES", "LENGTH_SIGMA",
    "OutOfBlocksError", "POLICIES", "PagedKVCache", "SCHEMES", "Scheme", "SimConfig", "StepTime",
    "StepWork", "Trace", "acceptance_rate", "admitted_batch", "constant_trace", "critical_batch",
    "critical_context", "decode_intensity", "decode_work", "disaggregation_table", "format_bytes",
    "hardware", "kv_budget_bytes", "kv_transfer_path", "kv_transfer_s", "kv_waste",
    "kv_waste_table", "llama3_405b", "llama3_70b", "llama3_8b", "lognormal_lengths",
    "max_batch_that_fits", "max_decode_intensity", "md1_check", "prefill_intensity",
    "prefill_interference", "prefill_work", "quantisation_table", "request_trace",
    "reserved_tokens", "simulate", "simulate_requests", "speculative_expected_tokens",
    "speculative_sampling", "speculative_speedup", "speculative_step_speedup",
    "speculative_tokens_monte_carlo", "step_time", "step_work", "summarize", "tpot_s", "ttft_s",
]
