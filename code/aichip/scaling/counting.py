"""Counting a transformer's training work: parameters, FLOPs per iteration, utilisation, bubble.

Notation (Narayanan et al., SC'21, Section 5.1): ``B`` global batch (sequences), ``s`` sequence
length (tokens), ``l`` layers, ``h`` hidden size, ``V`` vocabulary, ``a`` attention heads. One
multiply-add is two FLOPs.

**FLOPs per iteration.** A layer's forward pass does ``24 B s h**2`` FLOPs in its four weight GEMMs
(QKV ``6``, attention output ``2``, MLP ``8 + 8``, times ``B s h**2``) and ``4 B s**2 h`` in the two
attention products (``Q K^T`` and the scores times ``V``); the logit layer does ``2 B s h V``. A
backward pass costs twice its forward pass. Hence, per iteration:

================================  ==========================================================
``recompute="none"``              ``72 B s l h**2 (1 + s/(6h) + V/(12 l h))``  (3 passes)
``recompute="full"``              ``96 B s l h**2 (1 + s/(6h) + V/(16 l h))``  (the layers run
                                  their forward pass a second time; the logit layer does not)
``recompute="selective"``         ``72 B s l h**2 (1 + s/(3h) + V/(12 l h))``
================================  ==========================================================

The first two are Narayanan et al.'s eq. (3) and the count under it; the third is Korthikanti et
al.'s (MLSys 2023, Section 6.3) hardware count for selective recomputation, their convention: it
reproduces their MFU/HFU pairs (``tests/test_scaling.py``). Counting only the recomputed attention
products (``4 B s**2 h`` per layer) would give ``s/(4.5h)`` instead of ``s/(3h)``; for their models
(``s/h <= 1/3``) the two differ by at most 1.5 % of the iteration's FLOPs.

**Utilisation** (Korthikanti et al., Section 6.3; Chowdhery et al., PaLM, Appendix B). *Model* FLOPs
utilisation (MFU) counts only the work the model needs, the ``"none"`` line, whatever the
implementation does; *hardware* FLOPs utilisation (HFU) counts what the GPUs execute, recomputation
included. With full recomputation the factor between them is the ratio of the ``"full"`` and
``"none"`` lines, about ``4/3`` (a fourth pass over the layers). Narayanan et al.'s "achieved
teraFLOP/s per GPU" is an HFU-style figure: it counts the ``96`` form. PaLM counts ``6 N + 12 L H Q
T`` FLOPs per token (``N`` parameters, ``L`` layers, ``H`` heads, ``Q`` head size, ``T`` sequence
length): ``6 N`` for the weight GEMMs forward and backward, ``12 L H Q T`` for the attention
products, without recomputation.

**Pipeline bubble** (Narayanan et al., Section 2.2). With ``p`` stages, ``m`` micro-batches per
iteration and ``v`` model chunks per GPU (the interleaved schedule), each GPU idles for
``(p - 1)/v`` micro-batch times (forward + backward of its chunk set) while the pipeline fills and
drains, and works for ``m`` of them. The paper states the bubble as a fraction of the *ideal*
time, ``(p - 1)/(v m)`` (:func:`pipeline_bubble_overhead`); as a share of the iteration's
*wall-clock* time it is ``(p - 1)/(v m + p - 1)`` (:func:`pipeline_bubble_fraction`), since the
wall clock is the ideal time plus the bubble: ``(m + (p-1)/v) t``. :func:`simulate_1f1b` runs
the 1F1B schedule event by event, an independent check of the closed form.
"""

from __future__ import annotations

import pandas as pd

from ..training import check_layer_shape, transformer_params
from ..validation import check_choice, check_float, check_int

__all__ = ["transformer_params", "flops_per_iteration", "hardware_flops_per_iteration",
           "utilization", "palm_flops_per_token", "palm_mfu", "pipeline_bubble_fraction",
           "pipeline_bubble_overhead", "simulate_1f1b", "elementwise_bytes_per_layer",
           "RECOMPUTE"]

#: activation recomputation strategies (Korthikanti et al.)
RECOMPUTE = ("none", "selective", "full")


def _check_shape(global_batch, seq_len, n_layers, hidden, vocab):
    return (check_int("global_batch", global_batch, minimum=1),
            check_int("seq_len", seq_len, minimum=1), check_int("n_layers", n_layers, minimum=1),
            check_int("hidden", hidden, minimum=1), check_int("vocab", vocab, minimum=0))


def hardware_flops_per_iteration(global_batch, seq_len, n_layers, hidden, vocab,
                                 recompute="full") -> float:
    """FLOPs the GPUs execute in one training iteration (forward, backward and recomputation).

    Parameters
    ----------
    global_batch, seq_len, n_layers, hidden : int, >= 1
        ``B``, ``s``, ``l``, ``h``.
    vocab : int, >= 0
        ``V`` (the logit layer's width).
    recompute : {"none", "selective", "full"}
        See the module docstring for the three formulas and their sources.

    Returns
    -------
    float
        FLOPs (one multiply-add = 2 FLOPs) for the whole global batch, all GPUs together.
    """
    B, s, L, h, V = _check_shape(global_batch, seq_len, n_layers, hidden, vocab)
    check_choice("recompute", recompute, RECOMPUTE)
    if recompute == "full":
        return 96.0 * B * s * L * h**2 * (1 + s / (6 * h) + V / (16 * L * h))
    attention = s / (3 * h) if recompute == "selective" else s / (6 * h)
    return 72.0 * B * s * L * h**2 * (1 + attention + V / (12 * L * h))


def flops_per_iteration(global_batch, seq_len, n_layers, hidden, vocab, recompute="full") -> float:
    """FLOPs of one training iteration, Narayanan et al. (SC'21) eq. (3) and the line above it.

    ``recompute="full"``: ``96 B s l h**2 (1 + s/(6h) + V/(16 l h))``, the count behind the paper's
    Table 1 throughputs (every layer's forward pass runs twice). ``recompute="none"``:
    ``72 B s l h**2 (1 + s/(6h) + V/(12 l h))``, the *model* FLOPs of MFU. Arguments as for
    :func:`hardware_flops_per_iteration`, which also knows ``"selective"``.
    """
    check_choice("recompute", recompute, ("none", "full"))
    return hardware_flops_per_iteration(global_batch, seq_len, n_layers, hidden, vocab, recompute)


def elementwise_bytes_per_layer(seq_len, micro_batch, hidden, n_heads, tp=1,
                                sequence_parallel=False, recompute="none") -> float:
    """HBM bytes one GPU's memory-bound (element-wise) kernels move in one layer, one micro-batch.

    The FLOP counts above cover the GEMMs only. Between them a layer runs kernels that do a few
    FLOPs per element and are bound by memory bandwidth (the slanted roof of the roofline chapter):
    layer norms, softmax, dropout, GeLU, bias additions and residual additions. Counted here with
    Megatron-LM's fused kernels (Narayanan et al., Section 4.2: scale + mask + softmax, bias + GeLU,
    bias + dropout + residual add are one kernel each), 2-byte activations and 1-byte dropout
    masks, as in Korthikanti et al.'s activation count. ``s b h`` is abbreviated ``x``, ``a s**2 b``
    (the attention scores) ``S``; ``t = tp``.

    ========================================  ======================  =====================
    kernel (per layer)                        forward bytes           backward bytes
    ========================================  ======================  =====================
    2 layer norms (read x, write y; backward  ``2 x 4x``              ``2 x 8x``
    reads x, dy and the residual gradient,
    writes dx)
    2 bias + dropout + residual add (read     ``2 x 7x``              ``2 x 5x``
    the GEMM output and the residual, write
    the sum and the mask; backward reads dy
    and the mask, writes dx)
    bias + GeLU on the ``4h``-wide MLP        ``16x / t``             ``24x / t``
    activation (backward reads the input and
    dy, writes dx)
    scale + mask + softmax on the scores      ``4S / t``              ``6S / t``
    dropout on the attention probabilities    ``5S / t``              ``5S / t``
    ========================================  ======================  =====================

    The layer-norm and dropout/residual rows run on the whole ``x`` on every tensor-parallel GPU,
    or on ``x / t`` with sequence parallelism. Recomputation adds the forward bytes again
    (``"full"``) or those of the attention core (softmax and dropout, ``"selective"``).

    Parameters
    ----------
    seq_len, micro_batch, hidden, n_heads : int >= 1
        ``s``, ``b``, ``h``, ``a``.
    tp : int >= 1
        Tensor-parallel degree; must divide ``n_heads``.
    sequence_parallel : bool
    recompute : {"none", "selective", "full"}

    Returns
    -------
    float
        Bytes read plus bytes written, per GPU, forward + backward (+ recomputation).
    """
    s, b, h, a, t = check_layer_shape(seq_len, micro_batch, hidden, n_heads, tp)
    if not isinstance(sequence_parallel, bool):
        raise TypeError("sequence_parallel must be True or False")
    check_choice("recompute", recompute, RECOMPUTE)
    x, scores = float(s) * b * h, float(a) * s * s * b
    replicated = x / t if sequence_parallel else x   # layer norms, dropout + residual
    forward_scores = 9 * scores / t                  # softmax 4S, dropout 5S
    forward = 22 * replicated + 16 * x / t + forward_scores
    backward = 26 * replicated + 24 * x / t + 11 * scores / t
    extra = {"none": 0.0, "selective": forward_scores, "full": forward}[recompute]
    return forward + backward + extra


def utilization(flops, iteration_s, n_gpus, peak_TFLOPs_per_gpu) -> float:
    """Fraction of the peak: ``flops / (iteration_s * n_gpus * peak)``.

    With model FLOPs (``recompute="none"``) this is MFU, with the FLOPs actually executed HFU.
    ``peak_TFLOPs_per_gpu`` in 1e12 FLOP/s (dense, the training precision's peak).
    """
    flops = check_float("flops", flops, minimum=0.0)
    iteration_s = check_float("iteration_s", iteration_s, minimum=0.0, strict_minimum=True)
    n_gpus = check_int("n_gpus", n_gpus, minimum=1)
    peak = check_float("peak_TFLOPs_per_gpu", peak_TFLOPs_per_gpu, minimum=0.0,
                       strict_minimum=True)
    return flops / (iteration_s * n_gpus * peak * 1e12)


def palm_flops_per_token(n_params, n_layers, n_heads, head_dim, seq_len) -> float:
    """Model FLOPs per token as PaLM counts them (Chowdhery et al., Appendix B):
    ``6 N + 12 L H Q T``."""
    n_params = check_float("n_params", n_params, minimum=0.0, strict_minimum=True)
    L = check_int("n_layers", n_layers, minimum=1)
    H = check_int("n_heads", n_heads, minimum=1)
    Q = check_int("head_dim", head_dim, minimum=1)
    T = check_int("seq_len", seq_len, minimum=1)
    return 6.0 * n_params + 12.0 * L * H * Q * T


def palm_mfu(tokens_per_s, n_params, n_layers, n_heads, head_dim, seq_len, n_chips,
             peak_TFLOPs_per_chip) -> float:
    """Model FLOPs utilisation as PaLM defines it (Chowdhery et al., 2022, Appendix B).

    ``MFU = tokens_per_s * (6 N + 12 L H Q T) / (n_chips * peak)``; ``peak_TFLOPs_per_chip`` in
    1e12 FLOP/s. PaLM 540B: 238.3K tokens/s on 6144 TPU v4 chips of 275 TFLOP/s, ``N = 540.35e9``,
    ``L = 118``, ``H = 48``, ``Q = 256``, ``T = 2048``: 46.2 %.
    """
    tokens_per_s = check_float("tokens_per_s", tokens_per_s, minimum=0.0)
    n_chips = check_int("n_chips", n_chips, minimum=1)
    peak = check_float("peak_TFLOPs_per_chip", peak_TFLOPs_per_chip, minimum=0.0,
                       strict_minimum=True)
    per_token = palm_flops_per_token(n_params, n_layers, n_heads, head_dim, seq_len)
    return tokens_per_s * per_token / (n_chips * peak * 1e12)


def _check_pipeline(p, m, interleave):
    p = check_int("p", p, minimum=1)
    m = check_int("m", m, minimum=1)
    v = check_int("interleave", interleave, minimum=1)
    return p, m, v


def pipeline_bubble_fraction(p, m, interleave=1) -> float:
    """The bubble's share of an iteration's wall-clock time: ``(p - 1) / (v m + p - 1)``.

    ``p`` pipeline stages, ``m`` micro-batches per iteration (per data-parallel replica),
    ``v = interleave`` model chunks per GPU. Derivation: each GPU works ``m`` micro-batch times
    ``t`` and idles ``(p - 1) t / v`` while the pipeline fills and drains, so the bubble is
    ``((p-1)/v) / (m + (p-1)/v)`` of the wall clock. 0 for ``p = 1``.
    """
    p, m, v = _check_pipeline(p, m, interleave)
    return (p - 1) / (v * m + p - 1)


def pipeline_bubble_overhead(p, m, interleave=1) -> float:
    """The bubble as a fraction of the *ideal* (bubble-free) time: ``(p - 1) / (v m)``, the form
    Narayanan et al. give (Section 2.2.1 for ``v = 1``, 2.2.2 for the interleaved schedule)."""
    p, m, v = _check_pipeline(p, m, interleave)
    return (p - 1) / (v * m)


def simulate_1f1b(p, m, t_forward=1.0, t_backward=2.0) -> pd.DataFrame:
    """Run the non-interleaved 1F1B pipeline schedule event by event (PipeDream-Flush, Narayanan
    et al., Figure 4 top).

    Stage ``k`` (0-based) first runs ``min(p - k - 1, m)`` forward passes (warm-up), then
    alternates one forward and one backward pass, then drains the remaining backward passes. A
    forward pass of micro-batch ``i`` on stage ``k`` starts when stage ``k`` is free and stage
    ``k - 1`` finished that forward pass; a backward pass when stage ``k`` is free and stage
    ``k + 1`` finished its backward pass (communication takes no time). No formula is used: the
    times come from these rules only.

    Returns
    -------
    DataFrame
        One row per pass: ``stage``, ``micro_batch``, ``kind`` ("F"/"B"), ``start``, ``end`` (in
        the unit of ``t_forward``/``t_backward``). The makespan is ``end.max()``; each stage is
        busy ``m (t_forward + t_backward)``.
    """
    p = check_int("p", p, minimum=1)
    m = check_int("m", m, minimum=1)
    tf = check_float("t_forward", t_forward, minimum=0.0, strict_minimum=True)
    tb = check_float("t_backward", t_backward, minimum=0.0, strict_minimum=True)
    orders = []
    for k in range(p):
        warm = min(p - k - 1, m)
        order = [("F", i) for i in range(warm)]
        f, b = warm, 0
        while b < m:
            if f < m:
                order.append(("F", f))
                f += 1
            order.append(("B", b))
            b += 1
        orders.append(order)
    done = {}  # (kind, stage, micro_batch) -> end time
    position = [0] * p
    free = [0.0] * p
    rows = []
    remaining = 2 * m * p
    while remaining:
        progressed = False
        for k in range(p):
            while position[k] < len(orders[k]):
                kind, i = orders[k][position[k]]
                if kind == "F":
                    dep = done.get(("F", k - 1, i)) if k > 0 else 0.0
                else:
                    dep = done.get(("B", k + 1, i)) if k < p - 1 else done.get(("F", k, i))
                if dep is None:
                    break
                start = max(free[k], dep)
                end = start + (tf if kind == "F" else tb)
                done[(kind, k, i)] = end
                free[k] = end
                rows.append((k, i, kind, start, end))
                position[k] += 1
                remaining -= 1
                progressed = True
        if not progressed:  # pragma: no cover - the schedule above cannot deadlock
            raise RuntimeError("1F1B schedule deadlocked")
    return pd.DataFrame(rows, columns=["stage", "micro_batch", "kind", "start", "end"])
