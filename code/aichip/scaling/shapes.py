"""How long one GPU takes for the GEMMs of one transformer layer, from their shapes.

One GEMM of ``M x K`` by ``K x N`` (``batch`` of them) is cut into output tiles of ``256 x 128``
(the largest BF16 tile of CUTLASS and cuBLAS on Ampere and Hopper, either orientation; the better
one is taken); each SM computes one tile at a time, so the GPU runs ``ceil(tiles / SMs)`` *waves*
and the last wave may leave SMs idle, and a dimension that is not a multiple of the tile computes
padding (NVIDIA's *Matrix Multiplication Background User's Guide*: tile and wave quantisation).
The GEMM's time is the larger of

* its FLOPs ``2 M N K batch`` over ``peak x ceiling x quantisation``, where ``ceiling`` is the best
  measured GEMM throughput (:func:`~aichip.scaling.clusters.gemm_efficiency`, Bekman's maximum
  achievable matmul FLOPS) divided by the quantisation of the shape it was measured on, so that the
  measured shape is reproduced exactly; and
* its bytes ``2 (M K + K N + M N) batch`` (16-bit operands, each read once, the output written
  once) over the HBM bandwidth: the roofline chapter's two roofs, per GEMM.

A layer's forward GEMMs on one of ``tp`` GPUs, for ``T = b s`` tokens (the whole sequence even
with sequence parallelism, which all-gathers before the GEMMs), ``d = h / a``:

=====================  ==================  ==========================  ===========================
GEMM                   M                   N                           K
=====================  ==================  ==========================  ===========================
QKV                    T                   ``(a + 2 a_kv) d / tp``     h
attention output       T                   h                           ``h / tp``
MLP up (x2 if gated)   T                   ``f / tp``                  h
MLP down               T                   h                           ``f / tp``
scores ``Q K^T``       s                   s                           d, batch ``b a / tp``
scores x ``V``         s                   d                           s, batch ``b a / tp``
=====================  ==================  ==========================  ===========================

The backward pass of each runs two GEMMs: the input gradient ``(M, K, N)`` and the weight (or
second operand's) gradient ``(K, N, M)``, the same FLOPs each as the forward GEMM, with their own
shapes. Recomputation runs the forward GEMMs once more: all of them (``"full"``), or the two
attention products (``"selective"``). The logit layer (``M = T, N = V / tp, K = h``) runs on the
last pipeline stage only. Without a fused attention kernel (the Megatron-LM papers' runs) the two
score GEMMs are separate kernels that write the ``s x s`` scores to HBM, hence memory-bound on an
A100 (their arithmetic intensity is about ``d`` FLOPs per byte).
"""

from __future__ import annotations

import math

from ..validation import check_int

__all__ = ["TILES", "quantisation", "gemm_s", "layer_gemm_s", "logit_gemm_s", "GEMM_BYTES",
           "pass_gemm_s", "layer_gemm_shapes", "fused_attention_s"]

#: output tiles (rows, columns) a GEMM is cut into; the better orientation is taken
TILES = ((256, 128), (128, 256))
#: bytes per GEMM operand element (BF16)
GEMM_BYTES = 2


def quantisation(m: int, n: int, sms: int, batch: int = 1) -> float:
    """Share of the SM-time of a GEMM with an ``m x n`` output (``batch`` of them) that computes
    useful elements: tile and wave quantisation on ``sms`` SMs, the better tile of :data:`TILES`.
    ``sms = 0`` (an SM count not in ``gpus.csv``) gives 1.0, no quantisation."""
    if sms == 0:
        return 1.0
    best = 0.0
    for tm, tn in TILES:
        tiles = math.ceil(m / tm) * math.ceil(n / tn) * batch
        waves = math.ceil(tiles / sms)
        best = max(best, m * n * batch / (waves * sms * tm * tn))
    return best


def gemm_s(m: int, n: int, k: int, cl, batch: int = 1) -> float:
    """Seconds of one ``(m x k) @ (k x n)`` GEMM (``batch`` of them) on one GPU of cluster ``cl``:
    the larger of its compute time (at ``cl.gemm_ceiling`` x :func:`quantisation`) and its
    memory time (operands and result at the HBM bandwidth)."""
    flops = 2.0 * m * n * k * batch
    compute = flops / (cl.peak_TFLOPs * 1e12 * cl.gemm_ceiling * quantisation(m, n, cl.n_sms,
                                                                                 batch))
    memory = GEMM_BYTES * (m * k + k * n + m * n) * batch / (cl.hbm_GBps * 1e9)
    return max(compute, memory)


def pass_gemm_s(shapes, cl, backward: bool) -> float:
    """Seconds of the forward GEMMs ``shapes`` (``(m, n, k, batch)`` each), or of their backward
    GEMMs (input gradient ``(m, k, n)`` and weight gradient ``(k, n, m)``)."""
    if not backward:
        return sum(gemm_s(m, n, k, cl, bt) for m, n, k, bt in shapes)
    return sum(gemm_s(m, k, n, cl, bt) + gemm_s(k, n, m, cl, bt) for m, n, k, bt in shapes)


def layer_gemm_shapes(model, micro_batch: int, tp: int, cp: int = 1, ep: int = 1
                      ) -> tuple[list, list]:
    """``(weights, attention)``: the forward GEMM shapes ``(m, n, k, batch)`` of one layer on one
    of ``tp`` GPUs (the table of the module docstring), with context parallelism ``cp`` (each GPU
    holds ``s / cp`` of the sequence's tokens and attends to all ``s`` keys) and, for a
    mixture-of-experts layer, expert parallelism ``ep``: each GPU holds ``E / ep`` routed experts
    and receives, with balanced routing, ``T top_k ep / E`` tokens per expert; shared experts see
    every token."""
    M = model
    check_int("micro_batch", micro_batch, minimum=1)
    check_int("tp", tp, minimum=1)
    s, h = M.seq_len, M.hidden
    tokens, queries = micro_batch * s // cp, s // cp
    d = h // M.n_heads
    kv = getattr(M, "kv_heads", M.n_heads)
    ups = 2 if getattr(M, "gated_mlp", False) else 1
    weights = [(tokens, (M.n_heads + 2 * kv) * d // tp, h, 1), (tokens, h, h // tp, 1)]
    if getattr(M, "n_experts", 0):
        f, local = M.expert_ffn // tp, M.n_experts // ep
        routed = max(1, tokens * M.top_k * ep // M.n_experts)
        weights += [(routed, f, h, local)] * ups + [(routed, h, f, local)]
        if M.n_shared_experts:
            fs = M.n_shared_experts * f
            weights += [(tokens, fs, h, 1)] * ups + [(tokens, h, fs, 1)]
    else:
        ffn = getattr(M, "ffn", 4 * h)
        weights += [(tokens, ffn // tp, h, 1)] * ups + [(tokens, h, ffn // tp, 1)]
    heads = micro_batch * M.n_heads // tp
    attention = [(queries, s, d, heads), (queries, d, s, heads)]
    return weights, attention


def fused_attention_s(model, micro_batch: int, tp: int, cp: int, cl, passes: float) -> float:
    """Seconds of a fused (flash) attention kernel's two products for one layer on one GPU, over
    ``passes`` forward-pass equivalents (3 for forward and backward): causal masking skips half
    the score blocks; the scores never reach HBM, so the products run at the GEMM ceiling with
    the quantisation of ``128``-query tiles per head."""
    s, d = model.seq_len, model.hidden // model.n_heads
    heads = micro_batch * model.n_heads // tp
    flops = passes * 2 * (2.0 * (s // cp) * s * d) * heads / 2
    q = quantisation(s // cp, 128, cl.n_sms, heads) if cl.n_sms else 1.0
    return flops / (cl.peak_TFLOPs * 1e12 * cl.gemm_ceiling * q)


def layer_gemm_s(model, micro_batch: int, tp: int, recompute: str, cl, cp: int = 1, ep: int = 1,
                 fused_attention: bool = False) -> float:
    """Seconds one of ``tp`` GPUs spends in one layer's GEMMs for one micro-batch: forward,
    backward and recomputation (module docstring); with ``fused_attention`` the two attention
    products as :func:`fused_attention_s`."""
    weights, attention = layer_gemm_shapes(model, micro_batch, tp, cp, ep)
    again = {"none": 0.0, "selective": 1.0, "full": 1.0}[recompute]
    total = pass_gemm_s(weights, cl, False) + pass_gemm_s(weights, cl, True)
    if recompute == "full":
        total += pass_gemm_s(weights, cl, False)
    if fused_attention:
        return total + fused_attention_s(model, micro_batch, tp, cp, cl, 3.0 + again)
    return (total + pass_gemm_s(attention, cl, False) + pass_gemm_s(attention, cl, True)
            + again * pass_gemm_s(attention, cl, False))


def logit_gemm_s(model, micro_batch: int, tp: int, cl, cp: int = 1) -> float:
    """Seconds of the logit layer's GEMMs (forward and backward, never recomputed) on one of ``tp``
    GPUs of the last pipeline stage, one micro-batch."""
    if model.vocab == 0:
        return 0.0
    shape = [(micro_batch * model.seq_len // cp, math.ceil(model.vocab / tp), model.hidden, 1)]
    return pass_gemm_s(shape, cl, False) + pass_gemm_s(shape, cl, True)
