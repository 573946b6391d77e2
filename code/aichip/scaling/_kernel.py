"""The step-time kernel and the one function that builds its inputs, shared by
:func:`~aichip.scaling.model.step_time` (one layout) and
:func:`~aichip.scaling.search.search_layouts` (many). See :mod:`aichip.scaling.model` for the model
the kernel evaluates.

The kernel reads two arrays through named indices, not positional arguments:

* ``layouts``, shape ``(n, len(Layout))``: one row per layout, the columns of :class:`Layout`
  (the parallel degrees, the ZeRO stage, the per-micro-batch compute times and message sizes);
* ``system``, shape ``(len(System),)``: the cluster's NVLink domain and link costs, the gradient
  bucket and whether the data-parallel traffic overlaps the backward pass.

Adding a kind of parallelism or a cluster property is one more member of :class:`Layout` or
:class:`System`, filled in :func:`kernel_inputs` and read in :func:`step_kernel`. The result has the
columns of :class:`Out` (seconds per iteration).

The collective costs are :mod:`aichip.parallelism`'s compiled functions. numba's on-disk cache
checks only this file's timestamp, not that of functions it calls in other files: after editing
them, touch this file (or clear ``__pycache__``) so the kernels recompile.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum

import numpy as np
import pandas as pd
from numba import njit

from .. import chips, training
from ..parallelism import (
    ring_allreduce_s,
    send_s,
    two_level_allgather_time,
    two_level_allreduce_time,
    two_level_reduce_scatter_time,
)
from ..validation import check_choice
from .clusters import Cluster, cluster
from .counting import elementwise_bytes_per_layer
from .shapes import (
    fused_attention_s,
    layer_gemm_s,
    layer_gemm_shapes,
    logit_gemm_s,
    pass_gemm_s,
)

__all__ = ["Layout", "System", "Out", "DP_BUCKET_BYTES", "ACTIVATION_BYTES", "kernel_inputs",
           "evaluate", "step_kernel", "step_batch", "resolve_cluster", "state_bytes_per_param",
           "elementwise_s_per_micro_batch", "LAYOUT_COLUMNS", "system_vector",
           "gemm_s_per_micro_batch", "optimizer_step_bytes_per_param", "DTYPES", "stage_layers",
           "score_bytes_per_layer", "cp_comm_s_per_micro_batch", "ep_comm_s_per_micro_batch",
           "gemm_precision_cluster", "layer_pass_s"]

#: gradient bucket of the overlapped data-parallel reduction: PyTorch DDP's default
#: ``bucket_cap_mb = 25``, which DDP turns into bytes as ``25 * 1024 * 1024`` (25 MiB)
DP_BUCKET_BYTES = 25 * 1024 * 1024
#: bytes per activation element (16-bit training)
ACTIVATION_BYTES = 2
#: the columns a layouts frame needs (as the fields of ParallelConfig)
LAYOUT_COLUMNS = ("dp", "tp", "pp", "micro_batch", "global_batch", "interleave", "zero_stage",
                  "recompute", "sequence_parallel", "cp", "ep", "fused_attention")
#: the GEMM precisions step_time accepts
DTYPES = ("bf16", "fp8")


class Layout(IntEnum):
    """Columns of the kernel's ``layouts`` array (one row per layout; times are per micro-batch)."""

    DP = 0
    TP = 1
    PP = 2
    INTERLEAVE = 3          # v, model chunks per GPU
    ZERO_STAGE = 4
    FULL_RECOMPUTE = 5      # 1.0 with full recomputation (a third forward pass), else 0.0
    MICRO_BATCHES = 6       # m per iteration on each data-parallel replica
    GEMM_S = 7              # GEMM seconds of one micro-batch on one GPU
    ELEMENTWISE_S = 8       # memory-bound kernels' seconds of one micro-batch on one GPU
    TP_MSG_BYTES = 9        # one tensor-parallel all-reduce: 2 b s h bytes
    LAYERS_PER_STAGE = 10   # n_layers / pp
    GRAD_BYTES = 11         # gradient bytes per GPU (its 1/(tp pp) of the model, 1/ep of experts)
    PARAM_BYTES = 12        # 16-bit weight bytes per GPU
    OPTIMIZER_S = 13        # the optimizer step's seconds per iteration
    CP = 14                 # context-parallel degree
    CP_COMM_S = 15          # exposed key/value ring exchange of one micro-batch
    EP_COMM_S = 16          # expert all-to-alls of one micro-batch


class System(IntEnum):
    """Entries of the kernel's ``system`` array."""

    DOMAIN_GPUS = 0
    ALPHA_UP_S = 1          # per message over NVLink
    BETA_UP = 2             # seconds per byte over NVLink, per GPU and direction (NCCL's rate)
    ALPHA_OUT_S = 3         # per message over the network
    BETA_OUT = 4            # seconds per byte through a GPU's own network port
    BUCKET_BYTES = 5        # gradient bucket (DP_BUCKET_BYTES)
    OVERLAP_DP = 6          # 1.0: data-parallel traffic overlaps the backward pass
    ZERO3_FLAT = 7          # 1.0: ZeRO-3's collectives as one ring, each GPU through its port


#: len(Out), a plain constant for the kernel (numba cannot take len of an enum)
N_OUT = 10


class Out(IntEnum):
    """Columns of the kernel's result (seconds per iteration)."""

    COMPUTE = 0
    TP_COMM = 1
    PP_COMM = 2
    BUBBLE = 3
    DP_TOTAL = 4
    DP_EXPOSED = 5
    TOTAL = 6
    OPTIMIZER = 7           # also inside COMPUTE
    CP_COMM = 8
    EP_COMM = 9


assert len(Out) == N_OUT


@njit(cache=True)
def _dp_split(dp, replica_gpus, domain):
    """``(g, n)``: a data-parallel group of ``dp`` model replicas of ``replica_gpus`` GPUs has ``g``
    members in each of the ``n`` NVLink domains it spans (placement: tensor, then pipeline, then
    data parallel)."""
    if dp * replica_gpus <= domain:
        return dp, 1.0
    if domain % replica_gpus == 0 and dp % (domain // replica_gpus) == 0:
        g = domain // replica_gpus
        return g, dp // g
    return 1.0, dp


@njit(cache=True)
def _data_parallel(lay, sy, c, backward):
    """``(total, exposed)`` seconds of one layout's data-parallel traffic per iteration
    (the ZeRO rules of :mod:`aichip.scaling.model`)."""
    g, n = _dp_split(lay[Layout.DP], lay[Layout.TP] * lay[Layout.CP] * lay[Layout.PP],
                     sy[System.DOMAIN_GPUS])
    links = (sy[System.ALPHA_UP_S], sy[System.BETA_UP], sy[System.ALPHA_OUT_S],
             sy[System.BETA_OUT])
    grads, params = lay[Layout.GRAD_BYTES], lay[Layout.PARAM_BYTES]
    m, zero = lay[Layout.MICRO_BATCHES], lay[Layout.ZERO_STAGE]
    end = 0.0  # after the last backward pass, overlapped with it
    after = 0.0  # after the optimizer step, exposed
    per_mb = 0.0  # every micro-batch
    exposed_mb = 0.0  # what of per_mb its micro-batch's compute cannot hide
    last = 0.0  # the last gradient bucket, ready only when the backward pass ends
    bucket = min(sy[System.BUCKET_BYTES], grads)
    if zero == 0:
        end = two_level_allreduce_time(g, n, grads, *links)
        last = two_level_allreduce_time(g, n, bucket, *links)
    elif zero == 1:
        end = two_level_reduce_scatter_time(g, n, grads, *links)
        last = two_level_reduce_scatter_time(g, n, bucket, *links)
        after = two_level_allgather_time(g, n, params, *links)
    elif zero == 2:
        per_mb = two_level_reduce_scatter_time(g, n, grads, *links)
        exposed_mb = max(per_mb - backward, 0.0)
        after = two_level_allgather_time(g, n, params, *links)
    else:
        # layer by layer (as DeepSpeed and FSDP run it): each of the GPU's layers gathers its own
        # weights and reduce-scatters its own gradients, one collective each with its own
        # latency; a layer's forward gather is prefetched under the previous layer's forward
        # compute, its backward gather and reduce-scatter under one layer's backward compute.
        # Full recomputation reruns the layer's forward pass inside the backward pass, and the
        # weights were released after the first one: a third gather (DeepSpeed's hooks refire)
        # (with ZERO3_FLAT, one ring over all dp ranks, each GPU's bytes through its own port)
        layers = lay[Layout.LAYERS_PER_STAGE]
        if sy[System.ZERO3_FLAT] != 0.0:
            g, n = 1.0, lay[Layout.DP]
        gather = two_level_allgather_time(g, n, params / layers, *links)
        scatter = two_level_reduce_scatter_time(g, n, grads / layers, *links)
        backward_gathers = 2.0 if lay[Layout.FULL_RECOMPUTE] != 0.0 else 1.0
        per_mb = layers * (scatter + (1.0 + backward_gathers) * gather)
        exposed_mb = layers * (max(gather - (c - backward) / layers, 0.0)
                               + max(backward_gathers * gather + scatter - backward / layers,
                                     0.0))
    total = end + after + m * per_mb
    if sy[System.OVERLAP_DP] == 0.0:
        return total, total
    exposed = after + m * exposed_mb
    if end > 0.0:
        exposed += max(end - backward, last)
    return total, exposed


@njit(cache=True)
def step_kernel(lay, sy, out):
    """One layout's times (:class:`Out`) into ``out`` from its row ``lay`` (:class:`Layout`) and
    the cluster ``sy`` (:class:`System`)."""
    tp, pp, v = lay[Layout.TP], lay[Layout.PP], lay[Layout.INTERLEAVE]
    m, full = lay[Layout.MICRO_BATCHES], lay[Layout.FULL_RECOMPUTE] != 0.0
    domain = sy[System.DOMAIN_GPUS]
    up = (sy[System.ALPHA_UP_S], sy[System.BETA_UP])
    net = (sy[System.ALPHA_OUT_S], sy[System.BETA_OUT])
    c = lay[Layout.GEMM_S] + lay[Layout.ELEMENTWISE_S]
    # tensor parallel: 4 all-reduces per layer (6 with full recomputation)
    a_tp, b_tp = up if tp <= domain else net
    per_layer = 6.0 if full else 4.0
    tp_mb = (lay[Layout.LAYERS_PER_STAGE] * per_layer
             * ring_allreduce_s(tp, lay[Layout.TP_MSG_BYTES], a_tp, b_tp))
    # pipeline: a send forward and one backward per chunk, of this GPU's 1/tp of the activation
    pp_mb = 0.0
    if pp > 1:
        a_pp, b_pp = up if tp * lay[Layout.CP] * pp <= domain else net
        pp_mb = 2.0 * v * send_s(lay[Layout.TP_MSG_BYTES] / tp, a_pp, b_pp)
    cp_mb, ep_mb = lay[Layout.CP_COMM_S], lay[Layout.EP_COMM_S]
    slot = c + tp_mb + pp_mb + cp_mb + ep_mb
    bubble = (pp - 1.0) / v * slot
    backward = c * (0.75 if full else 2.0 / 3.0)  # backward (+ recomputation) share of c
    dp_total, dp_exposed = _data_parallel(lay, sy, c, backward)
    out[Out.COMPUTE] = m * c + lay[Layout.OPTIMIZER_S]
    out[Out.OPTIMIZER] = lay[Layout.OPTIMIZER_S]
    out[Out.CP_COMM] = m * cp_mb
    out[Out.EP_COMM] = m * ep_mb
    out[Out.TP_COMM] = m * tp_mb
    out[Out.PP_COMM] = m * pp_mb
    out[Out.BUBBLE] = bubble
    out[Out.DP_TOTAL] = dp_total
    out[Out.DP_EXPOSED] = dp_exposed
    out[Out.TOTAL] = m * slot + bubble + dp_exposed + lay[Layout.OPTIMIZER_S]


@njit(cache=True)
def step_batch(layouts, system):
    """:func:`step_kernel` over every row of ``layouts``: shape ``(n, len(Out))``."""
    out = np.empty((layouts.shape[0], N_OUT))
    for i in range(layouts.shape[0]):
        step_kernel(layouts[i], system, out[i])
    return out


def resolve_cluster(cl) -> Cluster:
    """A :class:`Cluster` from itself or its name."""
    if isinstance(cl, Cluster):
        return cl
    if isinstance(cl, str):
        return cluster(cl)
    raise TypeError(f"cluster must be a cluster name or a Cluster, got {type(cl).__name__}")


def state_bytes_per_param():
    """Bytes per gradient and per weight element exchanged (mixed-precision Adam's 16-bit)."""
    t = training.optimizer_table()
    row = t[(t["optimizer"] == "adam") & (t["precision"] == "mixed")].iloc[0]
    return float(row["grad_bytes"]), float(row["param_bytes"])


def elementwise_s_per_micro_batch(model, micro_batch: int, tp: int, pp: int,
                                  sequence_parallel: bool, recompute: str, cl: Cluster) -> float:
    """Seconds the busiest stage's layers (:func:`stage_layers`) spend in memory-bound kernels per
    micro-batch on one GPU:
    :func:`~aichip.scaling.counting.elementwise_bytes_per_layer` at the cluster's HBM bandwidth."""
    per_layer = elementwise_bytes_per_layer(model.seq_len, micro_batch, model.hidden,
                                            model.n_heads, tp, sequence_parallel, recompute)
    return stage_layers(model.n_layers, pp)[0] * per_layer / (cl.hbm_GBps * 1e9)


def stage_layers(n_layers: int, pp: int) -> tuple[int, int]:
    """``(most, last)``: layers of the busiest pipeline stage and of the last stage. With ``pp``
    dividing ``n_layers`` every stage holds ``n_layers / pp``; otherwise (``pp`` divides
    ``n_layers + 2``, :func:`~aichip.scaling.model.layout_error`) the first and last stages hold one
    layer fewer, beside the embedding and the logit layer, as Llama 3 placed its 126 layers on 16
    stages. Any other split (``ParallelConfig(uneven_stages=True)``, as DeepSeek-V2's 60 layers on
    16 stages) gives the stages ``ceil(n_layers / pp)`` layers or one fewer, the last stage a short
    one: ``(ceil(n_layers / pp), floor(n_layers / pp))``, which is the rule above when ``pp``
    divides ``n_layers + 2``."""
    if n_layers % pp == 0:
        return n_layers // pp, n_layers // pp
    if (n_layers + 2) % pp == 0:
        most = (n_layers + 2) // pp
        return most, most - 1
    return -(-n_layers // pp), n_layers // pp


def gemm_s_per_micro_batch(model, micro_batch: int, tp: int, pp: int, recompute: str,
                           cl: Cluster, cp: int = 1, ep: int = 1,
                           fused_attention: bool = False) -> float:
    """GEMM seconds of the slowest pipeline stage per micro-batch: the busiest stage's layers
    (:func:`~aichip.scaling.shapes.layer_gemm_s`), or the last stage's with the logit layer
    (:func:`~aichip.scaling.shapes.logit_gemm_s`), whichever is longer; with ``pp = 1`` the one
    stage holds both."""
    layer = layer_gemm_s(model, micro_batch, tp, recompute, cl, cp, ep, fused_attention)
    most, last = stage_layers(model.n_layers, pp)
    logit = logit_gemm_s(model, micro_batch, tp, cl, cp)
    return max(most * layer, last * layer + logit) if pp > 1 else most * layer + logit


def score_bytes_per_layer(model, micro_batch: int, tp: int, recompute: str) -> float:
    """The attention scores' share of :func:`~aichip.scaling.counting.elementwise_bytes_per_layer`
    (softmax ``4S``/``6S`` and dropout ``5S``/``5S`` forward/backward, the forward again when
    recomputed, ``S = a s**2 b / tp``): what a fused attention kernel keeps out of HBM."""
    scores = float(model.n_heads) * model.seq_len**2 * micro_batch / tp
    return scores * (20.0 + (9.0 if recompute != "none" else 0.0))


def cp_comm_s_per_micro_batch(model, micro_batch: int, tp: int, cp: int, recompute: str,
                              cl: Cluster, gemm_cl: Cluster) -> float:
    """Exposed seconds of context parallelism's ring exchange per micro-batch, busiest stage: each
    layer passes its key and value blocks (``2 b (s/cp) a_kv d / tp`` 16-bit elements) ``cp - 1``
    times around the ring in the forward pass (and the recomputed one), and keys, values and their
    gradients in the backward pass; each step overlaps the attention on the block in hand, so only
    what exceeds the attention's time is exposed (:func:`~aichip.scaling.shapes.fused_attention_s`),
    over NVLink when ``tp cp`` GPUs fit in a domain."""
    if cp == 1:
        return 0.0
    d = model.hidden // model.n_heads
    kv = getattr(model, "kv_heads", model.n_heads)
    block = ACTIVATION_BYTES * 2.0 * micro_batch * (model.seq_len // cp) * kv * d / tp
    fast = tp * cp <= cl.domain_gpus
    alpha = cl.alpha_scaleup_s if fast else cl.alpha_scaleout_s
    rate = (cl.nccl_scaleup_GBps if fast else cl.scaleout_GBps) * 1e9
    ring = (cp - 1) * (alpha + block / rate)
    attention = fused_attention_s(model, micro_batch, tp, cp, gemm_cl, 1.0)
    forwards = 2.0 if recompute != "none" else 1.0
    exposed = forwards * max(ring - attention, 0.0) + max(2.0 * ring - 2.0 * attention, 0.0)
    return stage_layers(model.n_layers, 1)[0] * exposed


def ep_comm_s_per_micro_batch(model, micro_batch: int, tp: int, pp: int, cp: int, ep: int,
                              sequence_parallel: bool, recompute: str, cl: Cluster) -> float:
    """Seconds of expert parallelism's all-to-alls per micro-batch on the busiest stage, not
    overlapped: per MoE layer a dispatch and a combine in the forward pass (and the recomputed
    one) and two in the backward pass, each moving a GPU's ``top_k`` copies of its tokens'
    ``h``-wide 16-bit activations; of each GPU's bytes, ``(g - 1)/ep`` go over NVLink to the
    ``g`` members of its expert group in its domain and ``(ep - g)/ep`` through its own network
    port, the two at once (balanced routing)."""
    if ep == 1 or getattr(model, "n_experts", 0) == 0:
        return 0.0
    tokens = micro_batch * model.seq_len / cp / (tp if sequence_parallel else 1)
    sent = ACTIVATION_BYTES * tokens * model.top_k * model.hidden
    g = min(ep, max(1, cl.domain_gpus // (tp * cp * pp)))
    one = (max(cl.alpha_scaleup_s, cl.alpha_scaleout_s if ep > g else 0.0)
           + max(sent * (g - 1) / ep / (cl.nccl_scaleup_GBps * 1e9),
                 sent * (ep - g) / ep / (cl.scaleout_GBps * 1e9)))
    per_layer = (6.0 if recompute == "full" else 4.0) * one
    return stage_layers(model.n_layers, pp)[0] * per_layer


def layer_pass_s(model, micro_batch: int, tp: int, recompute: str, sequence_parallel: bool,
                 cl: Cluster) -> tuple[float, float]:
    """``(forward, backward)``: seconds one of ``tp`` GPUs spends on one layer of ``model`` for one
    micro-batch, by pass, from the step-time model's own terms (no fused attention, no context or
    expert parallelism). The forward pass: its GEMMs
    (:func:`~aichip.scaling.shapes.layer_gemm_shapes`), its memory-bound kernels' forward bytes
    at the HBM bandwidth and two tensor-parallel all-reduces. The backward pass: its GEMMs, the
    backward bytes and two all-reduces, plus what ``recompute`` runs again inside it (``"full"``:
    the whole forward pass, all-reduces included; ``"selective"``: the two attention products and
    the softmax and dropout on the scores). The element-wise bytes split by pass as
    :func:`~aichip.scaling.counting.elementwise_bytes_per_layer` counts them (its ``"full"``
    count less its ``"none"`` count is the forward pass).

    Summed over a stage's layers, ``forward + backward`` is the step-time kernel's per-micro-batch
    GEMM, element-wise and tensor-parallel time less the logit layer's GEMMs. Korthikanti et
    al.'s Table 4 measured these two times for one layer of their 22B model
    (:func:`~aichip.scaling.published.predict_korthikanti_layer`)."""
    if not isinstance(sequence_parallel, bool):
        raise TypeError("sequence_parallel must be True or False")
    check_choice("recompute", recompute, ("none", "selective", "full"))
    weights, attention = layer_gemm_shapes(model, micro_batch, tp)
    fwd_gemm = pass_gemm_s(weights, cl, False) + pass_gemm_s(attention, cl, False)
    bwd_gemm = pass_gemm_s(weights, cl, True) + pass_gemm_s(attention, cl, True)
    args = (model.seq_len, micro_batch, model.hidden, model.n_heads, tp, sequence_parallel)
    none = elementwise_bytes_per_layer(*args, "none")
    fwd_bytes = elementwise_bytes_per_layer(*args, "full") - none
    again_bytes = elementwise_bytes_per_layer(*args, recompute) - none
    hbm = cl.hbm_GBps * 1e9
    msg = ACTIVATION_BYTES * micro_batch * model.seq_len * model.hidden
    fast = tp <= cl.domain_gpus
    alpha = cl.alpha_scaleup_s if fast else cl.alpha_scaleout_s
    rate = (cl.nccl_scaleup_GBps if fast else cl.scaleout_GBps) * 1e9
    tp_pass = 2.0 * ring_allreduce_s(tp, msg, alpha, 1.0 / rate)
    forward = fwd_gemm + fwd_bytes / hbm + tp_pass
    backward = bwd_gemm + (none - fwd_bytes) / hbm + tp_pass
    if recompute == "full":
        backward += forward
    elif recompute == "selective":
        backward += pass_gemm_s(attention, cl, False) + again_bytes / hbm
    return forward, backward


def gemm_precision_cluster(cl: Cluster, dtype: str) -> Cluster:
    """The cluster the GEMMs run on at ``dtype``: ``cl`` for BF16; for FP8 the same cluster with
    the GPU's FP8 Tensor Core peak (``chips.csv``), ValueError where the GPU has none."""
    check_choice("dtype", dtype, DTYPES)
    if dtype == "bf16":
        return cl
    peak = chips.get(cl.gpu).peak("fp8")
    if not peak or peak != peak:
        raise ValueError(f"dtype 'fp8' needs a GPU with FP8 Tensor Cores; {cl.gpu} has none")
    return dataclasses.replace(cl, peak_TFLOPs=float(peak))


def optimizer_step_bytes_per_param() -> float:
    """HBM bytes mixed-precision Adam's step moves per parameter (``optimizer_states.csv``): it
    reads and writes the fp32 master weight, momentum and variance, reads the gradient and writes
    the 16-bit weight."""
    t = training.optimizer_table()
    row = t[(t["optimizer"] == "adam") & (t["precision"] == "mixed")].iloc[0]
    return (2.0 * float(row["optimizer_bytes"]) + float(row["grad_bytes"])
            + float(row["param_bytes"]))


def system_vector(cl: Cluster, overlap_dp: bool, zero3_flat: bool = False) -> np.ndarray:
    """The kernel's ``system`` array (:class:`System`) of cluster ``cl``."""
    sy = np.empty(len(System))
    sy[System.DOMAIN_GPUS] = cl.domain_gpus
    sy[System.ALPHA_UP_S] = cl.alpha_scaleup_s
    sy[System.BETA_UP] = 1.0 / (cl.nccl_scaleup_GBps * 1e9)
    sy[System.ALPHA_OUT_S] = cl.alpha_scaleout_s
    sy[System.BETA_OUT] = 1.0 / (cl.scaleout_GBps * 1e9)
    sy[System.BUCKET_BYTES] = DP_BUCKET_BYTES
    sy[System.OVERLAP_DP] = 1.0 if overlap_dp else 0.0
    sy[System.ZERO3_FLAT] = 1.0 if zero3_flat else 0.0
    return sy


def kernel_inputs(model, layouts: pd.DataFrame, cl: Cluster, overlap_dp: bool,
                  gemm_cl: Cluster | None = None,
                  zero3_flat: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's ``(layouts, system)`` arrays: the only place they are built.

    Parameters
    ----------
    model : TransformerConfig
    layouts : DataFrame
        One row per valid layout, the columns :data:`LAYOUT_COLUMNS` (the fields of
        :class:`~aichip.scaling.model.ParallelConfig`).
    cl : Cluster
    overlap_dp : bool
    gemm_cl : Cluster or None
        The cluster the GEMMs run on (:func:`gemm_precision_cluster`); ``cl`` when None.
    zero3_flat : bool
        ZeRO-3's gathers and reduce-scatters as one flat ring over the data-parallel group
        (:func:`~aichip.scaling.model.step_time`).

    Returns
    -------
    (ndarray of shape (n, len(Layout)), ndarray of shape (len(System),))
    """
    M, gemm_cl = model, cl if gemm_cl is None else gemm_cl
    col = {k: layouts[k].to_numpy() for k in LAYOUT_COLUMNS}
    dp, tp, pp = (col[k].astype(np.float64) for k in ("dp", "tp", "pp"))
    keys = list(zip(*(col[k] for k in ("micro_batch", "tp", "pp", "sequence_parallel",
                                        "recompute", "cp", "ep", "fused_attention")),
                    strict=True))
    per_key = {k: _per_micro_batch(M, k, cl, gemm_cl) for k in set(keys)}
    grad_b, param_b = state_bytes_per_param()
    n_local = M.n_params / (tp * pp)
    # expert parallelism: each GPU holds 1/ep of the routed experts, so its gradients and weights
    # (what its data-parallel collectives move) are the dense part plus that share; the optimizer
    # step, sharded over dp with ZeRO, covers (dense + routed) / dp per GPU either way
    routed = (getattr(M, "n_experts", 0) * (3 if getattr(M, "gated_mlp", False) else 2)
              * M.hidden * (M.expert_ffn if getattr(M, "n_experts", 0) else 0) * M.n_layers)
    held = (M.n_params - routed + routed / col["ep"].astype(np.float64)) / (tp * pp)
    lay = np.empty((len(layouts), len(Layout)))
    lay[:, Layout.DP], lay[:, Layout.TP], lay[:, Layout.PP] = dp, tp, pp
    lay[:, Layout.CP] = col["cp"]
    lay[:, Layout.INTERLEAVE] = col["interleave"]
    lay[:, Layout.ZERO_STAGE] = col["zero_stage"]
    lay[:, Layout.FULL_RECOMPUTE] = col["recompute"] == "full"
    lay[:, Layout.MICRO_BATCHES] = col["global_batch"] // (col["micro_batch"] * col["dp"])
    for j, column in enumerate((Layout.GEMM_S, Layout.ELEMENTWISE_S, Layout.CP_COMM_S,
                                Layout.EP_COMM_S)):
        lay[:, column] = [per_key[k][j] for k in keys]
    lay[:, Layout.TP_MSG_BYTES] = (ACTIVATION_BYTES * col["micro_batch"] * M.seq_len / col["cp"]
                                   * M.hidden)
    lay[:, Layout.LAYERS_PER_STAGE] = [stage_layers(M.n_layers, int(p))[0] for p in col["pp"]]
    lay[:, Layout.GRAD_BYTES] = held * grad_b
    lay[:, Layout.PARAM_BYTES] = held * param_b
    stepped = np.where(col["zero_stage"] >= 1, n_local / dp, held)
    lay[:, Layout.OPTIMIZER_S] = (stepped * optimizer_step_bytes_per_param()
                                  / (cl.hbm_GBps * 1e9))
    return lay, system_vector(cl, overlap_dp, zero3_flat)


def _per_micro_batch(M, key, cl, gemm_cl) -> tuple[float, float, float, float]:
    """``(GEMM, element-wise, context-parallel, expert-parallel)`` seconds of one micro-batch on
    the busiest stage for one distinct ``(b, tp, pp, sp, recompute, cp, ep, fused)``."""
    b, tp, pp, sp, r, cp, ep, fused = key
    b, tp, pp, cp, ep, sp, fused = int(b), int(tp), int(pp), int(cp), int(ep), bool(sp), bool(fused)
    gemm = gemm_s_per_micro_batch(M, b, tp, pp, r, gemm_cl, cp, ep, fused)
    elem = elementwise_s_per_micro_batch(M, b, tp, pp, sp, r, cl) / cp
    if fused:
        elem -= (stage_layers(M.n_layers, pp)[0] * score_bytes_per_layer(M, b, tp, r)
                 / cp / (cl.hbm_GBps * 1e9))
    return (gemm, elem, cp_comm_s_per_micro_batch(M, b, tp, cp, r, cl, gemm_cl),
            ep_comm_s_per_micro_batch(M, b, tp, pp, cp, ep, sp, r, cl))


def evaluate(model, layouts: pd.DataFrame, cl: Cluster, overlap_dp: bool,
             gemm_cl: Cluster | None = None,
             zero3_flat: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, times)``: :func:`kernel_inputs` of ``layouts`` and the kernel's times for each,
    shapes ``(n, len(Layout))`` and ``(n, len(Out))``."""
    lay, sy = kernel_inputs(model, layouts, cl, overlap_dp, gemm_cl, zero3_flat)
    return lay, step_batch(lay, sy)
