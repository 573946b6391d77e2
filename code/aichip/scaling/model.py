"""The step-time model: one training iteration of a GPT-style transformer on a cluster, with data
(``dp``), tensor (``tp``) and pipeline (``pp``) parallelism.

**Placement.** Ranks are numbered tensor-parallel first, then pipeline, then data parallel (as in
Megatron-LM). A tensor-parallel group runs over NVLink when ``tp <= domain_gpus``; two neighbouring
pipeline stages talk over NVLink when ``tp * pp <= domain_gpus`` and over InfiniBand otherwise. A
data-parallel group has ``g = domain_gpus / (tp pp)`` members in each domain it spans (1 when a
model replica fills a domain): its collectives run in two levels, a ring over NVLink among the ``g``
and a ring over the network among the domains, each GPU on its own port (the two-level costs of
:mod:`aichip.parallelism`, e.g. :func:`~aichip.parallelism.two_level_allreduce_time`). Every GPU
of a domain drives its own share of the domain's NICs (rail-optimised, non-blocking fat tree).

**Per micro-batch, per GPU** (``b`` sequences of ``s`` tokens; ``m = global_batch / (b dp)``
micro-batches per iteration; ``v`` model chunks per GPU with the interleaved schedule):

* compute ``c`` = GEMM time + element-wise time, of the slowest pipeline stage. GEMM time: every
  GEMM of the stage's layers timed from its shape (:mod:`aichip.scaling.shapes`: tile and wave
  quantisation on the GPU's SMs at the measured ceiling, and the HBM roof per GEMM), forward,
  backward and recomputed; the last stage also runs the logit layer, and stages hold
  ``n_layers / pp`` layers, or, when ``pp`` divides ``n_layers + 2``, the first and last one fewer
  (:func:`~aichip.scaling.stage_layers`). Element-wise time: the bytes
  the memory-bound kernels of the stage's layers move (layer norm, softmax, dropout, GeLU, bias and
  residual additions; :func:`~aichip.scaling.counting.elementwise_bytes_per_layer`, less the
  scores with a fused attention kernel) at the HBM bandwidth, the roofline chapter's slanted roof,
  reached exactly (a lower bound). Adam's step (28 bytes per parameter at the HBM bandwidth, once
  per iteration) is part of ``compute_s``.
* tensor-parallel communication: per layer, two all-reduces of the ``2 b s h``-byte activation in
  the forward pass, two in the backward pass and, with full recomputation, two more in the
  recomputed forward pass (Narayanan et al., Section 3.2 and Figure 5; Korthikanti et al., Section
  4.2). With sequence parallelism each all-reduce becomes a reduce-scatter and an all-gather, the
  same bytes and the same ring steps, so the same time. Ring algorithm (the closed form of
  :func:`aichip.alphabeta.cost`, compiled as :func:`aichip.parallelism.ring_allreduce_s`); not
  overlapped with compute (as in those papers).
* pipeline communication: a send of ``2 b s h / tp`` bytes per GPU (the scatter/gather
  optimisation of Narayanan et al., Section 4.1, or sequence parallelism) forward and one backward,
  per model chunk: ``2 v (alpha + bytes / bandwidth)``.

**Iteration.** ``compute_s = m c``, ``tp_comm_s = m x TP``, ``pp_comm_s = m x PP``,
``bubble_s = (pp - 1)/v x (c + TP + PP)`` (the 1F1B fill and drain,
:func:`~aichip.scaling.counting.pipeline_bubble_fraction`), plus the data-parallel time that is not
hidden:

* ZeRO 0: gradient all-reduce after the last micro-batch's backward pass, overlapped with it in
  buckets (PyTorch DDP's default ``bucket_cap_mb = 25``, 25 MiB, :data:`DP_BUCKET_BYTES`): what
  exceeds that backward pass is exposed, and at least the last bucket always is;
* ZeRO 1 (Megatron's distributed optimizer): reduce-scatter of the gradients, overlapped as
  above, then an all-gather of the updated 16-bit weights, exposed;
* ZeRO 2: the gradients are kept only as a shard, so they are reduce-scattered after every
  micro-batch (overlapped with that micro-batch's backward pass), and the weights all-gathered once;
* ZeRO 3: per micro-batch and layer, two all-gathers of that layer's weights and a reduce-scatter
  of its gradients (so every micro-batch regathers, and each collective pays its own latency); a
  layer's forward gather is prefetched under the previous layer's forward compute, its backward
  gather and reduce-scatter under one layer's backward compute (recomputation included), and only
  the excess is exposed, layer by layer. With full recomputation the recomputed forward pass
  gathers the layer's weights once more (they were released after the first forward pass;
  DeepSpeed's ZeRO-3 hooks fire again on recomputation, deepspeedai/DeepSpeed pull request 8130),
  in the backward window: three gathers and a reduce-scatter per layer and micro-batch.

Bytes per element from ``optimizer_states.csv`` (16-bit weights and gradients in mixed precision).
``total_s = compute_s + tp_comm_s + pp_comm_s + bubble_s + dp_exposed_s``; ``comm_s`` is the sum of
the three exposed communication terms. Memory per GPU is :func:`aichip.training.training_memory`
plus ZeRO-3's two gathered layers (:func:`zero3_buffer_bytes`); it leaves out the interleaved
schedule's extra micro-batches in flight and communication buffers. A layout that does not fit in
the GPU's memory is not timed: its times, MFU and HFU are NaN.

**Measured rates, not line rates.** Collectives over NVLink run at the bandwidth NCCL's kernels
reach (:attr:`~aichip.scaling.clusters.Cluster.nccl_scaleup_GBps`: about 230 of an A100's 300
GB/s per direction), and GEMMs at the ceiling measured on the cluster's software (the 2021-22 A100
runs: CUDA 11's 230 TFLOP/s, not CUDA 12.1's 268); see :mod:`aichip.scaling.clusters`.

**What the model leaves out** (see :mod:`aichip.scaling.published` for where it still misses):
the gaps between kernels and launch latencies, network collectives slower than their ports' rate,
contention between a collective's kernels and the GEMMs it overlaps, uneven expert load, and ranks
waiting for the slowest. The GEMM ceiling each published run implies
(:func:`~aichip.scaling.published.implied_gemm_efficiency`) lies on both sides of the measured
one; the chapter tabulates it.

**Context and expert parallelism**: ``cp`` GPUs each hold ``seq_len / cp`` of every sequence and
pass key/value blocks around a ring, exposed only beyond the attention they overlap; ``ep`` of the
data-parallel ranks split the routed experts, with a dispatch and a combine all-to-all per MoE
layer and pass (:func:`~aichip.scaling._kernel.ep_comm_s_per_micro_batch`), not overlapped.
``dtype="fp8"`` runs the GEMMs at the FP8 peak.

**Code.** :func:`layout_error` holds the validity rules of a layout (for :class:`ParallelConfig`,
:func:`check_layout` and the search). The arithmetic runs in one numba kernel,
:mod:`aichip.scaling._kernel`, whose inputs (layouts as an array with named columns, the cluster as
a small array with named entries) one function builds; :func:`step_time` evaluates one layout
through it, :func:`~aichip.scaling.search.search_layouts` many.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd

from .. import training
from ..validation import check_choice, check_int
from ._kernel import (
    ACTIVATION_BYTES,
    DP_BUCKET_BYTES,
    DTYPES,
    Layout,
    Out,
    elementwise_s_per_micro_batch,
    evaluate,
    gemm_precision_cluster,
    resolve_cluster,
)
from .counting import RECOMPUTE, hardware_flops_per_iteration

__all__ = ["TransformerConfig", "ParallelConfig", "StepTime", "step_time", "DP_BUCKET_BYTES",
           "zero3_buffer_bytes", "check_layout", "layout_error", "elementwise_s_per_micro_batch",
           "memory_per_gpu"]


@dataclass(frozen=True)
class TransformerConfig:
    """A GPT-style model: ``n_layers`` layers of width ``hidden`` with ``n_heads`` heads (which must
    divide ``hidden``), a ``vocab``-wide logit layer and ``seq_len`` tokens per sequence. Defaults
    as in the Megatron-LM papers (vocabulary 51200, sequence 2048, MLP ``4 h`` wide, one key and
    value head per query head, no gate, no experts).

    Today's runs: ``ffn_hidden`` (the MLP's width, default ``4 h``), ``n_kv_heads`` (grouped-query
    attention: key/value heads, dividing ``n_heads``; default ``n_heads``), ``gated_mlp`` (SwiGLU:
    three MLP matrices instead of two), and mixture of experts: ``n_experts`` routed experts per
    layer (0: a dense MLP), each token sent to ``top_k`` of them, each expert an MLP
    ``expert_ffn_hidden`` wide (default ``ffn_hidden``), plus ``n_shared_experts`` that every token
    passes through.
    """

    n_layers: int
    hidden: int
    n_heads: int
    vocab: int = 51200
    seq_len: int = 2048
    ffn_hidden: int | None = None
    n_kv_heads: int | None = None
    gated_mlp: bool = False
    n_experts: int = 0
    top_k: int = 0
    expert_ffn_hidden: int | None = None
    n_shared_experts: int = 0

    def __post_init__(self):
        for name in ("n_layers", "hidden", "n_heads", "seq_len"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("vocab", self.vocab, minimum=0)
        if self.hidden % self.n_heads:
            raise ValueError(f"n_heads must divide hidden ({self.hidden}), got {self.n_heads}")
        for name in ("ffn_hidden", "n_kv_heads", "expert_ffn_hidden"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=1)
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_kv_heads must divide n_heads ({self.n_heads}), got "
                             f"{self.n_kv_heads}")
        if not isinstance(self.gated_mlp, bool):
            raise TypeError("gated_mlp must be True or False")
        check_int("n_experts", self.n_experts, minimum=0)
        check_int("n_shared_experts", self.n_shared_experts, minimum=0)
        check_int("top_k", self.top_k, minimum=1 if self.n_experts else 0,
                  maximum=self.n_experts)

    @property
    def ffn(self) -> int:
        """The dense MLP's width: ``ffn_hidden``, or ``4 h``."""
        return 4 * self.hidden if self.ffn_hidden is None else self.ffn_hidden

    @property
    def kv_heads(self) -> int:
        """Key/value heads: ``n_kv_heads``, or ``n_heads``."""
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def expert_ffn(self) -> int:
        """One expert's MLP width: ``expert_ffn_hidden``, or :attr:`ffn`."""
        return self.ffn if self.expert_ffn_hidden is None else self.expert_ffn_hidden

    @property
    def is_gpt(self) -> bool:
        """True for the Megatron-LM papers' shape (every new field at its default): the counts are
        then the papers' own formulas."""
        return (self.ffn == 4 * self.hidden and self.kv_heads == self.n_heads
                and not self.gated_mlp and self.n_experts == 0)

    def layer_params(self, active: bool = False) -> float:
        """Weights of one layer (biases and norms left out): attention ``h (a + 2 a_kv) d + h**2``,
        MLP ``(3 if gated else 2) h f``; with experts, every routed and shared expert's MLP
        (``active``: the ``top_k`` routed ones and the shared ones a token passes through) and the
        router's ``h E``."""
        h, d = self.hidden, self.hidden // self.n_heads
        attention = h * (self.n_heads + 2 * self.kv_heads) * d + h * h
        mats = 3 if self.gated_mlp else 2
        if not self.n_experts:
            return attention + mats * h * self.ffn
        experts = (self.top_k if active else self.n_experts) + self.n_shared_experts
        return attention + experts * mats * h * self.expert_ffn + h * self.n_experts

    @property
    def n_params(self) -> float:
        """Megatron-LM's parameter count (:func:`aichip.training.transformer_params`) for the
        papers' shape; otherwise :meth:`layer_params` per layer plus an input embedding and an
        untied output layer of ``V h`` each (rotary positions: no position table)."""
        if self.is_gpt:
            return training.transformer_params(self.n_layers, self.hidden, self.vocab,
                                               self.seq_len)
        return self.n_layers * self.layer_params() + 2 * self.vocab * self.hidden

    @property
    def n_active_params(self) -> float:
        """Parameters one token's forward pass multiplies by (the routed experts it is sent to);
        :attr:`n_params` for a dense model."""
        if self.n_experts == 0:
            return self.n_params
        return self.n_layers * self.layer_params(active=True) + 2 * self.vocab * self.hidden

    def flops_per_iteration(self, global_batch: int, recompute: str = "none") -> float:
        """FLOPs of one iteration of ``global_batch`` sequences. The papers' shape: the papers'
        formulas (:func:`~aichip.scaling.counting.hardware_flops_per_iteration`). Otherwise PaLM's
        count, ``6 N + 12 l a d s`` per token with ``N`` the active weights less the input
        embedding (Chowdhery et al., Appendix B), plus the recomputed forward passes: ``2 N_layers
        + 4 l a d s`` per token (``"full"``) or ``4 l a d s`` (``"selective"``)."""
        check_choice("recompute", recompute, RECOMPUTE)
        if self.is_gpt:
            return hardware_flops_per_iteration(global_batch, self.seq_len, self.n_layers,
                                                self.hidden, self.vocab, recompute)
        layers = self.n_layers * self.layer_params(active=True)
        attention = self.n_layers * self.hidden * self.seq_len
        per_token = 6.0 * (layers + self.vocab * self.hidden) + 12.0 * attention
        per_token += {"none": 0.0, "selective": 4.0 * attention,
                      "full": 2.0 * layers + 4.0 * attention}[recompute]
        return per_token * global_batch * self.seq_len


@dataclass(frozen=True)
class ParallelConfig:
    """A parallel layout: ``dp x tp x pp x cp`` GPUs, micro-batches of ``micro_batch`` sequences,
    ``global_batch`` sequences per iteration (a multiple of ``micro_batch * dp``), ``interleave``
    model chunks per GPU (> 1 needs ``pp > 1``), a ZeRO stage (0-3; 2 and 3 need ``pp == 1``),
    activation recomputation (``"none"``, ``"selective"``, ``"full"``) and sequence parallelism
    (sharding the layer-norm and dropout activations over the ``tp`` GPUs); ``cp``, context
    parallelism (each GPU holds ``seq_len / cp`` of every sequence, keys and values exchanged in a
    ring); ``ep``, expert parallelism (the routed experts split over ``ep`` of the data-parallel
    ranks, tokens sent to them and back by all-to-all); ``fused_attention``: a fused (flash)
    attention kernel, whose scores never reach HBM; ``uneven_stages``: the pipeline stages may
    hold unequal layer counts however ``pp`` splits the layers (``interleave`` 1 only; see
    :func:`layout_error`'s rule 6)."""

    dp: int
    tp: int
    pp: int
    micro_batch: int
    global_batch: int
    interleave: int = 1
    zero_stage: int = 0
    recompute: str = "selective"
    sequence_parallel: bool = True
    cp: int = 1
    ep: int = 1
    fused_attention: bool = False
    uneven_stages: bool = False

    def __post_init__(self):
        for name in ("dp", "tp", "pp", "micro_batch", "global_batch", "interleave", "cp", "ep"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("zero_stage", self.zero_stage, minimum=0, maximum=3)
        check_choice("recompute", self.recompute, RECOMPUTE)
        for name in ("sequence_parallel", "fused_attention", "uneven_stages"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False")
        problem = layout_error(self.dp, self.tp, self.pp, self.micro_batch, self.global_batch,
                               self.interleave, self.zero_stage, cp=self.cp, ep=self.ep,
                               uneven_stages=self.uneven_stages)
        if problem:
            raise ValueError(problem)

    @property
    def n_gpus(self) -> int:
        """``dp x tp x pp x cp`` (expert parallelism runs inside the data-parallel ranks)."""
        return self.dp * self.tp * self.pp * self.cp

    @property
    def micro_batches(self) -> int:
        """``m``: micro-batches per iteration on each data-parallel replica."""
        return self.global_batch // (self.micro_batch * self.dp)


def layout_error(dp: int, tp: int, pp: int, micro_batch: int, global_batch: int,
                 interleave: int = 1, zero_stage: int = 0, model: TransformerConfig | None = None,
                 *, cp: int = 1, ep: int = 1, uneven_stages: bool = False) -> str:
    """The validity rules of a parallel layout, in one place: ``""`` when ``dp x tp x pp x cp``
    GPUs with these settings can run (``model``, when given, too), else a message naming the first
    rule broken. :class:`ParallelConfig`, :func:`check_layout` and
    :func:`~aichip.scaling.search.search_layouts` all decide validity here.

    1. ``global_batch`` is a multiple of ``micro_batch * dp`` (whole micro-batches per replica);
    2. ``interleave > 1`` needs ``pp > 1`` (a pipeline to interleave);
    3. ``interleave > 1`` needs the micro-batches per replica to be a multiple of ``pp``
       (Megatron-LM's interleaved schedule);
    4. ZeRO 2 and 3 need ``pp == 1`` (they shard the gradients that pipeline micro-batches
       accumulate);
    5. ``tp`` divides the model's ``n_heads``;
    6. ``pp * interleave`` divides the model's ``n_layers``, or ``n_layers + 2``: the first and
       last stages then hold one layer fewer (at least one), beside the embedding and the logit
       layer (BLOOM's 70 layers on 12 stages, Llama 3's 126 on 16); with ``uneven_stages`` and
       ``interleave = 1``, any ``pp <= n_layers`` (:func:`~aichip.scaling.stage_layers`:
       DeepSeek-V2's 60 layers on 16 stages);
    7. ``ep`` divides ``dp`` and, with a model, its ``n_experts`` (``ep = 1`` for a dense model);
       ``cp`` divides the model's ``seq_len``.

    The arguments are whole numbers >= 1 (``zero_stage`` in 0..3), unchecked here.
    """
    if global_batch % (micro_batch * dp):
        return (f"global_batch must be a multiple of micro_batch * dp = {micro_batch * dp}, got "
                f"{global_batch}")
    if interleave > 1 and pp == 1:
        return "interleave must be 1 when pp == 1 (no pipeline to interleave)"
    micro_batches = global_batch // (micro_batch * dp)
    if interleave > 1 and micro_batches % pp:
        return (f"interleave > 1 needs micro-batches ({micro_batches}) to be a multiple of pp "
                f"({pp})")
    if zero_stage >= 2 and pp > 1:
        return ("zero_stage must be 0 or 1 when pp > 1 (ZeRO 2 and 3 shard the gradients that "
                "pipeline micro-batches accumulate)")
    if dp % ep:
        return f"ep must divide dp ({dp}), got {ep}"
    if model is None:
        return ""
    if model.n_heads % tp:
        return f"tp must divide n_heads ({model.n_heads}), got {tp}"
    chunks = pp * interleave
    uneven = (model.n_layers + 2) % chunks == 0 and model.n_layers + 2 >= 2 * chunks
    free = uneven_stages and interleave == 1 and pp <= model.n_layers
    if model.n_layers % chunks and (pp == 1 or not uneven) and not free:
        return (f"pp * interleave must divide n_layers ({model.n_layers}) or n_layers + 2, got "
                f"pp={pp}, interleave={interleave}")
    if ep > 1 and (model.n_experts == 0 or model.n_experts % ep):
        return f"ep must divide n_experts ({model.n_experts}), got {ep}"
    if model.seq_len % cp:
        return f"cp must divide seq_len ({model.seq_len}), got {cp}"
    return ""


def check_layout(model: TransformerConfig, parallel: ParallelConfig) -> None:
    """Raise ValueError when ``parallel`` cannot split ``model`` (:func:`layout_error`): ``tp``
    must divide ``n_heads``, ``pp * interleave`` must divide ``n_layers``."""
    if not isinstance(model, TransformerConfig):
        raise TypeError(f"model must be a TransformerConfig, got {type(model).__name__}")
    if not isinstance(parallel, ParallelConfig):
        raise TypeError(f"parallel must be a ParallelConfig, got {type(parallel).__name__}")
    P = parallel
    problem = layout_error(P.dp, P.tp, P.pp, P.micro_batch, P.global_batch, P.interleave,
                           P.zero_stage, model, cp=P.cp, ep=P.ep, uneven_stages=P.uneven_stages)
    if problem:
        raise ValueError(problem)


class StepTime(NamedTuple):
    """One iteration's predicted time and where it goes (seconds, per GPU on the critical path).

    ``total_s = compute_s + comm_s + bubble_s`` and ``comm_s = tp_comm_s + pp_comm_s +
    dp_exposed_s + cp_comm_s + ep_comm_s``; ``compute_s`` includes ``optimizer_s``. ``dp_comm_s``
    is the data-parallel traffic's whole time, ``dp_hidden_s`` the part under compute.
    ``mfu``/``hfu``: model/hardware FLOPs utilisation of the BF16 peak.
    ``memory_bytes_per_gpu`` is :func:`memory_per_gpu`'s total plus, for ZeRO
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
    gemm_s: float         # GEMMs at their shapes' efficiency (aichip.scaling.shapes)
    elementwise_s: float  # memory-bound kernels at the HBM bandwidth
    optimizer_s: float = 0.0  # the optimizer step (inside compute_s)
    cp_comm_s: float = 0.0    # context parallelism's key/value exchange (inside comm_s)
    ep_comm_s: float = 0.0    # expert parallelism's all-to-all (inside comm_s)


def zero3_buffer_bytes(model: TransformerConfig, tp: int, zero_stage: int) -> float:
    """Bytes ZeRO stage 3 needs beyond its sharded model states: the gathered 16-bit weights of the
    layer being computed and of the next one, prefetched while it computes (Rajbhandari et al.,
    Section 7: parameters are all-gathered layer by layer before use). A layer holds ``12 h**2 /
    tp`` weights per GPU. 0 for the other stages."""
    if zero_stage != 3:
        return 0.0
    layer = 12.0 * model.hidden**2 if model.is_gpt else model.layer_params()
    return 2 * layer / tp * ACTIVATION_BYTES


def memory_per_gpu(model: TransformerConfig, parallel: ParallelConfig) -> training.TrainingMemory:
    """Bytes on one GPU of the first (busiest) pipeline stage. The papers' shape without context
    or expert parallelism: :func:`aichip.training.training_memory`. Otherwise the first stage's
    ``ceil(n_layers / pp)`` layers (:meth:`TransformerConfig.layer_params`; routed experts split
    over ``ep``, everything over ``tp``) and the input embedding ``V h / tp`` (and the output layer
    when ``pp = 1``), through :func:`aichip.training.model_state_bytes`, plus Korthikanti et al.'s
    activations (:func:`aichip.training.activation_bytes`) for ``seq_len / cp`` tokens: a
    4h-wide, ungated MLP's count, an approximation for other MLPs, stated."""
    M, P = model, parallel
    if M.is_gpt and P.cp == 1 and P.ep == 1:
        return training.training_memory(
            M.n_layers, M.hidden, M.n_heads, M.vocab, M.seq_len, P.micro_batch,
            zero_stage=P.zero_stage, dp=P.dp, tp=P.tp, pp=P.pp,
            sequence_parallel=P.sequence_parallel, recompute=P.recompute)
    mats = 3 if M.gated_mlp else 2
    routed = M.n_experts * mats * M.hidden * M.expert_ffn
    layer = (M.layer_params() - routed) / P.tp + routed / (P.tp * P.ep)
    embeddings = M.vocab * M.hidden / P.tp * (2 if P.pp == 1 else 1)
    n_local = math.ceil(M.n_layers / P.pp) * layer + embeddings
    states = training.model_state_bytes(n_local, dp=P.dp, zero_stage=P.zero_stage)
    acts = training.activation_bytes(M.seq_len // P.cp, P.micro_batch, M.hidden, M.n_heads,
                                     n_layers=M.n_layers, tp=P.tp,
                                     sequence_parallel=P.sequence_parallel,
                                     recompute=P.recompute)
    return training.TrainingMemory(*states, acts)


def step_time(model: TransformerConfig, parallel: ParallelConfig, cluster, *,
              overlap_dp: bool = True, dtype: str = "bf16", zero3_flat: bool = False) -> StepTime:
    """Predict one training iteration of ``model`` laid out as ``parallel`` on ``cluster``.

    Parameters
    ----------
    model : TransformerConfig
    parallel : ParallelConfig
        ``tp`` must divide ``model.n_heads``; see :func:`layout_error` for the other rules.
    cluster : str or Cluster
        A name from :func:`~aichip.scaling.clusters.cluster_names` (``"dgx_a100_hdr"``,
        ``"dgx_h100_ndr"``, ``"gb200_nvl72"``, ``"h800_ib"``) or a :class:`Cluster` (e.g. from
        :meth:`Cluster.with_bandwidth`).
    overlap_dp : bool
        Overlap the data-parallel gradient traffic with the backward pass (see the module
        docstring); False exposes all of it.
    dtype : {"bf16", "fp8"}
        The GEMMs' precision: ``"fp8"`` runs them at the GPU's FP8 Tensor Core peak (ValueError
        on a GPU without one) at the same fraction of it as BF16 (no FP8 ceiling is measured);
        everything else stays 16-bit. MFU and HFU stay relative to the BF16 peak.
    zero3_flat : bool
        ZeRO stage 3 only: run its gathers and reduce-scatters as one ring over the whole
        data-parallel group, every GPU's bytes through its own network port, instead of the
        two-level collective (NVLink, then one ring per local rank across the domains) whose rate
        NCCL's ring reaches on a DGX node's eight NICs. Narayanan et al.'s ZeRO-3 runs (DeepSpeed,
        2021; :func:`~aichip.scaling.published.predict_zero3_comparison`) imply a rate near one
        port's, not eight.

    Returns
    -------
    StepTime
        Times in seconds; a layout that does not fit in memory has ``fits=False`` and NaN times.
    """
    check_layout(model, parallel)
    cl = resolve_cluster(cluster)
    for name, flag in (("overlap_dp", overlap_dp), ("zero3_flat", zero3_flat)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False")
    check_choice("dtype", dtype, DTYPES)
    M, P = model, parallel
    mem = memory_per_gpu(M, P)
    n_gpus, m = P.n_gpus, P.micro_batches
    memory = mem.total_bytes + zero3_buffer_bytes(M, P.tp, P.zero_stage)
    model_flops = M.flops_per_iteration(P.global_batch, "none")
    hw_flops = M.flops_per_iteration(P.global_batch, P.recompute)
    gemm_cluster = gemm_precision_cluster(cl, dtype)
    if memory > cl.memory_bytes:
        nan = math.nan
        return StepTime(nan, nan, nan, nan, memory, False, nan, nan, nan, nan, nan, nan,
                        nan, cl.memory_bytes, n_gpus, m, model_flops, hw_flops, nan, nan, mem,
                        nan, nan, nan, nan, nan)
    lay, out = evaluate(M, pd.DataFrame([dataclasses.asdict(P)]), cl, overlap_dp, gemm_cluster,
                        zero3_flat)
    lay, out = lay[0], [float(x) for x in out[0]]
    total, dp_total, dp_exposed = out[Out.TOTAL], out[Out.DP_TOTAL], out[Out.DP_EXPOSED]
    tp_s, pp_s = out[Out.TP_COMM], out[Out.PP_COMM]
    cp_s, ep_s = out[Out.CP_COMM], out[Out.EP_COMM]
    peak = cl.peak_TFLOPs * 1e12
    return StepTime(
        total_s=total, compute_s=out[Out.COMPUTE], comm_s=tp_s + pp_s + dp_exposed + cp_s + ep_s,
        bubble_s=out[Out.BUBBLE], memory_bytes_per_gpu=memory, fits=True, tp_comm_s=tp_s,
        pp_comm_s=pp_s, dp_comm_s=dp_total, dp_exposed_s=dp_exposed,
        dp_hidden_s=dp_total - dp_exposed,
        mfu=model_flops / (total * n_gpus * peak), hfu=hw_flops / (total * n_gpus * peak),
        capacity_bytes=cl.memory_bytes, n_gpus=n_gpus, micro_batches=m, model_flops=model_flops,
        hardware_flops=hw_flops, tflops_per_gpu=hw_flops / (total * n_gpus) / 1e12,
        tokens_per_s=P.global_batch * M.seq_len / total, memory=mem,
        gemm_s=m * float(lay[Layout.GEMM_S]), elementwise_s=m * float(lay[Layout.ELEMENTWISE_S]),
        optimizer_s=out[Out.OPTIMIZER], cp_comm_s=cp_s, ep_comm_s=ep_s)
