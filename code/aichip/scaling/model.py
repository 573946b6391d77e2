"""The step-time model: one training iteration of a GPT-style transformer on a cluster, with data
(``dp``), tensor (``tp``) and pipeline (``pp``) parallelism.

**Placement.** Ranks are numbered tensor-parallel first, then pipeline, then data parallel (as in
Megatron-LM). A tensor-parallel group runs over NVLink when ``tp <= domain_gpus``; two neighbouring
pipeline stages talk over NVLink when ``tp * pp <= domain_gpus`` and over InfiniBand otherwise. A
data-parallel group has ``g = domain_gpus / (tp pp)`` members in each domain it spans (1 when a
model replica fills a domain): its collectives run in two levels, a ring over NVLink among the ``g``
and a ring over the network among the domains, each GPU on its own port (``_dp_coll``). Every GPU
of a domain drives its own share of the domain's NICs (rail-optimised, non-blocking fat tree).

**Per micro-batch, per GPU** (``b`` sequences of ``s`` tokens; ``m = global_batch / (b dp)``
micro-batches per iteration; ``v`` model chunks per GPU with the interleaved schedule):

* compute ``c`` = GEMM time + element-wise time. GEMM time: hardware FLOPs of one micro-batch
  (:func:`~aichip.scaling.counting.hardware_flops_per_iteration`, recomputation included)
  ``/ (tp pp)`` ``/ (peak x GEMM efficiency)`` (:class:`~aichip.scaling.clusters.Cluster`).
  Element-wise time: the bytes the memory-bound kernels of the GPU's ``l / pp`` layers move
  (layer norm, softmax, dropout, GeLU, bias and residual additions;
  :func:`~aichip.scaling.counting.elementwise_bytes_per_layer`) at the HBM bandwidth, the roofline
  chapter's slanted roof, reached exactly (a lower bound). The optimizer step and the logit
  layer's softmax take no time.
* tensor-parallel communication: per layer, two all-reduces of the ``2 b s h``-byte activation in
  the forward pass, two in the backward pass and, with full recomputation, two more in the
  recomputed forward pass (Narayanan et al., Section 3.2 and Figure 5; Korthikanti et al., Section
  4.2). With sequence parallelism each all-reduce becomes a reduce-scatter and an all-gather, the
  same bytes and the same ring steps, so the same time. Ring algorithm (the closed form of
  :func:`aichip.alphabeta.cost`); not overlapped with compute (as in those papers).
* pipeline communication: a send of ``2 b s h / tp`` bytes per GPU (the scatter/gather
  optimisation of Narayanan et al., Section 4.1, or sequence parallelism) forward and one backward,
  per model chunk: ``2 v (alpha + bytes / bandwidth)``.

**Iteration.** ``compute_s = m c``, ``tp_comm_s = m x TP``, ``pp_comm_s = m x PP``,
``bubble_s = (pp - 1)/v x (c + TP + PP)`` (the 1F1B fill and drain,
:func:`~aichip.scaling.counting.pipeline_bubble_fraction`), plus the data-parallel time that is not
hidden:

* ZeRO 0: gradient all-reduce after the last micro-batch's backward pass, overlapped with it in
  buckets (PyTorch DDP's default 25 MB): what exceeds that backward pass is exposed, and at least
  the last bucket always is;
* ZeRO 1 (Megatron's distributed optimizer): reduce-scatter of the gradients, overlapped as
  above, then an all-gather of the updated 16-bit weights, exposed;
* ZeRO 2: the gradients are kept only as a shard, so they are reduce-scattered after every
  micro-batch (overlapped with that micro-batch's backward pass), and the weights all-gathered once;
* ZeRO 3: per micro-batch, two all-gathers of the weights and a reduce-scatter of the gradients;
  the forward gather is prefetched under the forward pass, the backward gather and the
  reduce-scatter under the backward pass (recomputation included), and only the excess is exposed.

Bytes per element from ``optimizer_states.csv`` (16-bit weights and gradients in mixed precision).
``total_s = compute_s + tp_comm_s + pp_comm_s + bubble_s + dp_exposed_s``; ``comm_s`` is the sum of
the three exposed communication terms. Memory per GPU is :func:`aichip.training.training_memory`
plus ZeRO-3's two gathered layers (:func:`zero3_buffer_bytes`); it leaves out the interleaved
schedule's extra micro-batches in flight and communication buffers. A layout that does not fit in
the GPU's memory is not timed: its times, MFU and HFU are NaN.

**What the model leaves out** (and why it is faster than every published run, see
:mod:`aichip.scaling.published`): element-wise kernels slower than the HBM roof, kernel launches,
the optimizer step, GEMMs slower than the best measured shape (the largest term at scale: the
published runs imply 0.6-0.75 of the peak instead of the measured 0.86), collectives slower than
the link rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from .. import training
from ..validation import check_choice, check_int
from .clusters import Cluster, cluster
from .counting import RECOMPUTE, elementwise_bytes_per_layer, hardware_flops_per_iteration

__all__ = ["TransformerConfig", "ParallelConfig", "StepTime", "step_time", "DP_BUCKET_BYTES",
           "zero3_buffer_bytes",
           "check_layout"]

#: gradient bucket size for the overlapped data-parallel reduction (PyTorch DDP's bucket_cap_mb)
DP_BUCKET_BYTES = 25e6
#: bytes per activation element (16-bit training)
ACTIVATION_BYTES = 2


@dataclass(frozen=True)
class TransformerConfig:
    """A GPT-style model: ``n_layers`` layers of width ``hidden`` with ``n_heads`` heads (which must
    divide ``hidden``), a ``vocab``-wide logit layer and ``seq_len`` tokens per sequence. Defaults
    as in the Megatron-LM papers (vocabulary 51200, sequence 2048)."""

    n_layers: int
    hidden: int
    n_heads: int
    vocab: int = 51200
    seq_len: int = 2048

    def __post_init__(self):
        for name in ("n_layers", "hidden", "n_heads", "seq_len"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("vocab", self.vocab, minimum=0)
        if self.hidden % self.n_heads:
            raise ValueError(f"n_heads must divide hidden ({self.hidden}), got {self.n_heads}")

    @property
    def n_params(self) -> float:
        """Megatron-LM's parameter count (:func:`aichip.training.transformer_params`)."""
        return training.transformer_params(self.n_layers, self.hidden, self.vocab, self.seq_len)


@dataclass(frozen=True)
class ParallelConfig:
    """A parallel layout: ``dp x tp x pp`` GPUs, micro-batches of ``micro_batch`` sequences,
    ``global_batch`` sequences per iteration (a multiple of ``micro_batch * dp``), ``interleave``
    model chunks per GPU (> 1 needs ``pp > 1``), a ZeRO stage (0-3; 2 and 3 need ``pp == 1``),
    activation recomputation (``"none"``, ``"selective"``, ``"full"``) and sequence parallelism
    (sharding the layer-norm and dropout activations over the ``tp`` GPUs)."""

    dp: int
    tp: int
    pp: int
    micro_batch: int
    global_batch: int
    interleave: int = 1
    zero_stage: int = 0
    recompute: str = "selective"
    sequence_parallel: bool = True

    def __post_init__(self):
        for name in ("dp", "tp", "pp", "micro_batch", "global_batch", "interleave"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("zero_stage", self.zero_stage, minimum=0, maximum=3)
        check_choice("recompute", self.recompute, RECOMPUTE)
        if not isinstance(self.sequence_parallel, bool):
            raise TypeError("sequence_parallel must be True or False")
        if self.global_batch % (self.micro_batch * self.dp):
            raise ValueError(f"global_batch must be a multiple of micro_batch * dp = "
                             f"{self.micro_batch * self.dp}, got {self.global_batch}")
        if self.interleave > 1 and self.pp == 1:
            raise ValueError("interleave must be 1 when pp == 1 (no pipeline to interleave)")
        if self.interleave > 1 and self.micro_batches % self.pp:
            raise ValueError(f"interleave > 1 needs micro-batches ({self.micro_batches}) to be a "
                             f"multiple of pp ({self.pp})")
        if self.zero_stage >= 2 and self.pp > 1:
            raise ValueError("zero_stage must be 0 or 1 when pp > 1 (ZeRO 2 and 3 shard the "
                             "gradients that pipeline micro-batches accumulate)")

    @property
    def n_gpus(self) -> int:
        return self.dp * self.tp * self.pp

    @property
    def micro_batches(self) -> int:
        """``m``: micro-batches per iteration on each data-parallel replica."""
        return self.global_batch // (self.micro_batch * self.dp)


def check_layout(model: TransformerConfig, parallel: ParallelConfig) -> None:
    """Raise ValueError when ``parallel`` cannot split ``model``: ``tp`` must divide ``n_heads``,
    ``pp * interleave`` must divide ``n_layers``."""
    if not isinstance(model, TransformerConfig):
        raise TypeError(f"model must be a TransformerConfig, got {type(model).__name__}")
    if not isinstance(parallel, ParallelConfig):
        raise TypeError(f"parallel must be a ParallelConfig, got {type(parallel).__name__}")
    if model.n_heads % parallel.tp:
        raise ValueError(f"tp must divide n_heads ({model.n_heads}), got {parallel.tp}")
    if model.n_layers % (parallel.pp * parallel.interleave):
        raise ValueError(f"pp * interleave must divide n_layers ({model.n_layers}), got "
                         f"pp={parallel.pp}, interleave={parallel.interleave}")


class StepTime(NamedTuple):
    """One iteration's predicted time and where it goes (seconds, per GPU on the critical path).

    ``total_s = compute_s + comm_s + bubble_s`` and ``comm_s = tp_comm_s + pp_comm_s +
    dp_exposed_s``. ``dp_comm_s`` is the data-parallel traffic's whole time, ``dp_hidden_s`` the
    part under compute. ``mfu``/``hfu``: model/hardware FLOPs utilisation of the BF16 peak.
    ``memory_bytes_per_gpu`` is :func:`aichip.training.training_memory`'s total plus, for ZeRO
    stage 3, its gathered layers (:func:`zero3_buffer_bytes`); ``capacity_bytes``
    the GPU's memory; when ``fits`` is False every time, rate and utilisation is NaN.
    """

    total_s: float
    compute_s: float      # gemm_s + elementwise_s
    comm_s: float
    bubble_s: float
    memory_bytes_per_gpu: float
    fits: bool
    tp_comm_s: float
    pp_comm_s: float
    dp_comm_s: float
    dp_exposed_s: float
    dp_hidden_s: float
    mfu: float
    hfu: float
    capacity_bytes: float
    n_gpus: int
    micro_batches: int
    model_flops: float
    hardware_flops: float
    tflops_per_gpu: float  # hardware FLOPs per GPU per second, as Narayanan et al. report it
    tokens_per_s: float
    memory: training.TrainingMemory
    gemm_s: float         # GEMMs at peak x GEMM efficiency
    elementwise_s: float  # memory-bound kernels at the HBM bandwidth


# ----------------------------------------------------------------------------------------------
# the numba core (shared by step_time and search_layouts)

@njit(cache=True)
def _ring(kind, ranks, n_bytes, alpha, beta):
    """Ring collective time (alphabeta's table): 0 all-reduce, 1 reduce-scatter, 2 all-gather,
    3 point-to-point send."""
    if kind == 3:
        return alpha + n_bytes * beta
    if ranks <= 1:
        return 0.0
    steps = ranks - 1.0
    if kind == 0:
        return 2.0 * steps * alpha + 2.0 * steps / ranks * n_bytes * beta
    return steps * alpha + steps / ranks * n_bytes * beta


@njit(cache=True)
def _dp_coll(kind, n_bytes, dpc):
    """A data-parallel collective (0 all-reduce, 1 reduce-scatter, 2 all-gather) of ``n_bytes`` per
    GPU over ``g`` replicas in each of ``n`` NVLink domains, two-level as NCCL runs it on a
    rail-optimised cluster: a ring inside each domain over NVLink, then a ring across the domains of
    each GPU's ``1/g`` share on its own network port (all ``g`` rails at once). For the all-reduce:
    reduce-scatter in the domain, all-reduce across, all-gather in the domain. With ``g = 1`` it is
    one ring over the network, with ``n = 1`` one ring over NVLink."""
    g, n, a_up, beta_up, a_out, beta_out = dpc
    if kind == 0:
        return (_ring(1, g, n_bytes, a_up, beta_up) + _ring(0, n, n_bytes / g, a_out, beta_out)
                + _ring(2, g, n_bytes, a_up, beta_up))
    return _ring(kind, g, n_bytes, a_up, beta_up) + _ring(kind, n, n_bytes / g, a_out, beta_out)


@njit(cache=True)
def _step_kernel(c, m, dp, tp, pp, v, zero, full, msg_bytes, n_layers, grad_bytes, param_bytes,
                 domain, a_up, beta_up, a_out, beta_out, bucket, overlap, out):
    """One layout's times into ``out``: compute, tp, pp, bubble, dp total, dp exposed, total."""
    # tensor parallel: 4 all-reduces per layer (6 with full recomputation)
    if tp <= domain:
        a_tp, b_tp = a_up, beta_up
    else:
        a_tp, b_tp = a_out, beta_out
    per_layer = 6.0 if full else 4.0
    tp_mb = (n_layers / pp) * per_layer * _ring(0, tp, msg_bytes, a_tp, b_tp)
    # pipeline: a send forward and one backward per chunk
    pp_mb = 0.0
    if pp > 1:
        if tp * pp <= domain:
            a_pp, b_pp = a_up, beta_up
        else:
            a_pp, b_pp = a_out, beta_out
        pp_mb = 2.0 * v * _ring(3, 2, msg_bytes / tp, a_pp, b_pp)
    slot = c + tp_mb + pp_mb
    bubble = (pp - 1.0) / v * slot
    # data parallel: the replicas of one domain (g of them) and the n domains they span
    if dp * tp * pp <= domain:
        g, n = dp, 1
    elif domain % (tp * pp) == 0 and dp % (domain // (tp * pp)) == 0:
        g = domain // (tp * pp)
        n = dp // g
    else:
        g, n = 1, dp
    dpc = (g, n, a_up, beta_up, a_out, beta_out)
    backward = c * (0.75 if full else 2.0 / 3.0)  # backward (+ recomputation) share of c
    end = 0.0  # after the last backward pass, overlapped with it
    after = 0.0  # after the optimizer step, exposed
    per_mb = 0.0  # every micro-batch
    exposed_mb = 0.0  # what of per_mb its micro-batch's compute cannot hide
    if zero == 0:
        end = _dp_coll(0, grad_bytes, dpc)
    elif zero == 1:
        end = _dp_coll(1, grad_bytes, dpc)
        after = _dp_coll(2, param_bytes, dpc)
    elif zero == 2:
        per_mb = _dp_coll(1, grad_bytes, dpc)
        exposed_mb = max(per_mb - backward, 0.0)
        after = _dp_coll(2, param_bytes, dpc)
    else:
        gather = _dp_coll(2, param_bytes, dpc)
        scatter = _dp_coll(1, grad_bytes, dpc)
        per_mb = scatter + 2.0 * gather
        # the forward gather hides under the forward pass, the backward gather and the gradient
        # reduce-scatter under the backward pass
        exposed_mb = max(gather - (c - backward), 0.0) + max(gather + scatter - backward, 0.0)
    dp_total = end + after + m * per_mb
    if overlap:
        exposed = after + m * exposed_mb
        if end > 0.0:
            last = _dp_coll(0 if zero == 0 else 1, min(bucket, grad_bytes), dpc)
            exposed += max(end - backward, last)
    else:
        exposed = dp_total
    out[0] = m * c
    out[1] = m * tp_mb
    out[2] = m * pp_mb
    out[3] = bubble
    out[4] = dp_total
    out[5] = exposed
    out[6] = m * slot + bubble + exposed


@njit(cache=True)
def _step_batch(c, m, dp, tp, pp, v, zero, full, msg_bytes, n_layers, grad_bytes, param_bytes,
                domain, a_up, beta_up, a_out, beta_out, bucket, overlap):
    n = c.shape[0]
    out = np.empty((n, 7))
    for i in range(n):
        _step_kernel(c[i], m[i], dp[i], tp[i], pp[i], v[i], zero[i], full[i], msg_bytes[i],
                     n_layers, grad_bytes[i], param_bytes[i], domain, a_up, beta_up, a_out,
                     beta_out, bucket, overlap, out[i])
    return out


def zero3_buffer_bytes(model: TransformerConfig, tp: int, zero_stage: int) -> float:
    """Bytes ZeRO stage 3 needs beyond its sharded model states: the gathered 16-bit weights of the
    layer being computed and of the next one, prefetched while it computes (Rajbhandari et al.,
    Section 7: parameters are all-gathered layer by layer before use). A layer holds ``12 h**2 /
    tp`` weights per GPU. 0 for the other stages."""
    if zero_stage != 3:
        return 0.0
    return 2 * 12.0 * model.hidden**2 / tp * ACTIVATION_BYTES


def elementwise_s_per_micro_batch(model: TransformerConfig, micro_batch: int, tp: int, pp: int,
                                  sequence_parallel: bool, recompute: str, cl: Cluster) -> float:
    """Seconds one GPU's ``n_layers / pp`` layers spend in memory-bound kernels per micro-batch:
    :func:`~aichip.scaling.counting.elementwise_bytes_per_layer` at the cluster's HBM bandwidth."""
    per_layer = elementwise_bytes_per_layer(model.seq_len, micro_batch, model.hidden,
                                            model.n_heads, tp, sequence_parallel, recompute)
    return model.n_layers / pp * per_layer / (cl.hbm_GBps * 1e9)


def _resolve_cluster(cl) -> Cluster:
    if isinstance(cl, Cluster):
        return cl
    if isinstance(cl, str):
        return cluster(cl)
    raise TypeError(f"cluster must be a cluster name or a Cluster, got {type(cl).__name__}")


def _state_bytes_per_param():
    """Bytes per gradient and per weight element exchanged (mixed-precision Adam's 16-bit)."""
    t = training.optimizer_table()
    row = t[(t["optimizer"] == "adam") & (t["precision"] == "mixed")].iloc[0]
    return float(row["grad_bytes"]), float(row["param_bytes"])


def _cluster_args(cl: Cluster):
    return (cl.domain_gpus, cl.alpha_scaleup_s, 1.0 / (cl.scaleup_GBps * 1e9), cl.alpha_scaleout_s,
            1.0 / (cl.scaleout_GBps * 1e9), DP_BUCKET_BYTES)


def step_time(model: TransformerConfig, parallel: ParallelConfig, cluster, *,
              overlap_dp: bool = True) -> StepTime:
    """Predict one training iteration of ``model`` laid out as ``parallel`` on ``cluster``.

    Parameters
    ----------
    model : TransformerConfig
    parallel : ParallelConfig
        ``tp`` must divide ``model.n_heads``, ``pp * interleave`` must divide ``model.n_layers``.
    cluster : str or Cluster
        A name from :func:`~aichip.scaling.clusters.cluster_names` (``"dgx_a100_hdr"``,
        ``"dgx_h100_ndr"``, ``"gb200_nvl72"``) or a :class:`Cluster` (e.g. from
        :meth:`Cluster.with_bandwidth`).
    overlap_dp : bool
        Overlap the data-parallel gradient traffic with the backward pass (see the module
        docstring); False exposes all of it.

    Returns
    -------
    StepTime
        Times in seconds; a layout that does not fit in memory has ``fits=False`` and NaN times.
    """
    check_layout(model, parallel)
    cl = _resolve_cluster(cluster)
    if not isinstance(overlap_dp, bool):
        raise TypeError("overlap_dp must be True or False")
    M, P = model, parallel
    mem = training.training_memory(
        M.n_layers, M.hidden, M.n_heads, M.vocab, M.seq_len, P.micro_batch,
        zero_stage=P.zero_stage, dp=P.dp, tp=P.tp, pp=P.pp,
        sequence_parallel=P.sequence_parallel, recompute=P.recompute)
    n_gpus, m = P.n_gpus, P.micro_batches
    memory = mem.total_bytes + zero3_buffer_bytes(M, P.tp, P.zero_stage)
    fits = memory <= cl.memory_bytes
    model_flops = hardware_flops_per_iteration(P.global_batch, M.seq_len, M.n_layers, M.hidden,
                                               M.vocab, "none")
    hw_flops = hardware_flops_per_iteration(P.global_batch, M.seq_len, M.n_layers, M.hidden,
                                            M.vocab, P.recompute)
    nan = math.nan
    if not fits:
        return StepTime(nan, nan, nan, nan, memory, False, nan, nan, nan, nan, nan, nan,
                        nan, cl.memory_bytes, n_gpus, m, model_flops, hw_flops, nan, nan, mem,
                        nan, nan)
    c_gemm = hw_flops / (P.global_batch / P.micro_batch) / (P.tp * P.pp) / cl.effective_FLOPs
    c_elem = elementwise_s_per_micro_batch(M, P.micro_batch, P.tp, P.pp, P.sequence_parallel,
                                           P.recompute, cl)
    c = c_gemm + c_elem
    grad_b, param_b = _state_bytes_per_param()
    n_local = M.n_params / (P.tp * P.pp)
    msg = ACTIVATION_BYTES * P.micro_batch * M.seq_len * M.hidden
    out = np.empty(7)
    _step_kernel(c, m, P.dp, P.tp, P.pp, P.interleave, P.zero_stage, P.recompute == "full", msg,
                 M.n_layers, n_local * grad_b, n_local * param_b, *_cluster_args(cl), overlap_dp,
                 out)
    compute, tp_s, pp_s, bubble, dp_total, dp_exposed, total = (float(x) for x in out)
    peak = cl.peak_TFLOPs * 1e12
    return StepTime(
        total_s=total, compute_s=compute, comm_s=tp_s + pp_s + dp_exposed, bubble_s=bubble,
        memory_bytes_per_gpu=memory, fits=True, tp_comm_s=tp_s, pp_comm_s=pp_s,
        dp_comm_s=dp_total, dp_exposed_s=dp_exposed, dp_hidden_s=dp_total - dp_exposed,
        mfu=model_flops / (total * n_gpus * peak), hfu=hw_flops / (total * n_gpus * peak),
        capacity_bytes=cl.memory_bytes, n_gpus=n_gpus, micro_batches=m, model_flops=model_flops,
        hardware_flops=hw_flops, tflops_per_gpu=hw_flops / (total * n_gpus) / 1e12,
        tokens_per_s=P.global_batch * M.seq_len / total, memory=mem, gemm_s=m * c_gemm,
        elementwise_s=m * c_elem)
