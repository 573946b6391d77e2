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

from enum import IntEnum

import numpy as np
import pandas as pd
from numba import njit

from .. import training
from ..parallelism import (
    ring_allreduce_s,
    send_s,
    two_level_allgather_time,
    two_level_allreduce_time,
    two_level_reduce_scatter_time,
)
from .clusters import Cluster, cluster
from .counting import elementwise_bytes_per_layer
from .shapes import layer_gemm_s, logit_gemm_s

__all__ = ["Layout", "System", "Out", "DP_BUCKET_BYTES", "ACTIVATION_BYTES", "kernel_inputs",
           "evaluate", "step_kernel", "step_batch", "resolve_cluster", "state_bytes_per_param",
           "elementwise_s_per_micro_batch", "LAYOUT_COLUMNS", "system_vector",
           "gemm_s_per_micro_batch", "optimizer_step_bytes_per_param"]

#: gradient bucket of the overlapped data-parallel reduction: PyTorch DDP's default
#: ``bucket_cap_mb = 25``, which DDP turns into bytes as ``25 * 1024 * 1024`` (25 MiB)
DP_BUCKET_BYTES = 25 * 1024 * 1024
#: bytes per activation element (16-bit training)
ACTIVATION_BYTES = 2
#: the columns a layouts frame needs (as the fields of ParallelConfig)
LAYOUT_COLUMNS = ("dp", "tp", "pp", "micro_batch", "global_batch", "interleave", "zero_stage",
                  "recompute", "sequence_parallel")


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
    GRAD_BYTES = 11         # gradient bytes per GPU (its 1/(tp pp) of the model)
    PARAM_BYTES = 12        # 16-bit weight bytes per GPU
    OPTIMIZER_S = 13        # the optimizer step's seconds per iteration


class System(IntEnum):
    """Entries of the kernel's ``system`` array."""

    DOMAIN_GPUS = 0
    ALPHA_UP_S = 1          # per message over NVLink
    BETA_UP = 2             # seconds per byte over NVLink, per GPU and direction
    ALPHA_OUT_S = 3         # per message over the network
    BETA_OUT = 4            # seconds per byte through a GPU's own network port
    BUCKET_BYTES = 5        # gradient bucket (DP_BUCKET_BYTES)
    OVERLAP_DP = 6          # 1.0: data-parallel traffic overlaps the backward pass


#: len(Out), a plain constant for the kernel (numba cannot take len of an enum)
N_OUT = 8


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
    g, n = _dp_split(lay[Layout.DP], lay[Layout.TP] * lay[Layout.PP], sy[System.DOMAIN_GPUS])
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
        # compute, its backward gather and reduce-scatter under one layer's backward compute
        layers = lay[Layout.LAYERS_PER_STAGE]
        gather = two_level_allgather_time(g, n, params / layers, *links)
        scatter = two_level_reduce_scatter_time(g, n, grads / layers, *links)
        per_mb = layers * (scatter + 2.0 * gather)
        exposed_mb = layers * (max(gather - (c - backward) / layers, 0.0)
                               + max(gather + scatter - backward / layers, 0.0))
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
        a_pp, b_pp = up if tp * pp <= domain else net
        pp_mb = 2.0 * v * send_s(lay[Layout.TP_MSG_BYTES] / tp, a_pp, b_pp)
    slot = c + tp_mb + pp_mb
    bubble = (pp - 1.0) / v * slot
    backward = c * (0.75 if full else 2.0 / 3.0)  # backward (+ recomputation) share of c
    dp_total, dp_exposed = _data_parallel(lay, sy, c, backward)
    out[Out.COMPUTE] = m * c + lay[Layout.OPTIMIZER_S]
    out[Out.OPTIMIZER] = lay[Layout.OPTIMIZER_S]
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
    """Seconds one GPU's ``n_layers / pp`` layers spend in memory-bound kernels per micro-batch:
    :func:`~aichip.scaling.counting.elementwise_bytes_per_layer` at the cluster's HBM bandwidth."""
    per_layer = elementwise_bytes_per_layer(model.seq_len, micro_batch, model.hidden,
                                            model.n_heads, tp, sequence_parallel, recompute)
    return model.n_layers / pp * per_layer / (cl.hbm_GBps * 1e9)


def gemm_s_per_micro_batch(model, micro_batch: int, tp: int, pp: int, recompute: str,
                           cl: Cluster) -> float:
    """GEMM seconds of the slowest pipeline stage per micro-batch: its ``n_layers / pp`` layers
    (:func:`~aichip.scaling.shapes.layer_gemm_s`) plus the logit layer, which the last stage holds
    (:func:`~aichip.scaling.shapes.logit_gemm_s`; with ``pp = 1`` the one stage holds both)."""
    return (model.n_layers / pp * layer_gemm_s(model, micro_batch, tp, recompute, cl)
            + logit_gemm_s(model, micro_batch, tp, cl))


def optimizer_step_bytes_per_param() -> float:
    """HBM bytes mixed-precision Adam's step moves per parameter (``optimizer_states.csv``): it
    reads and writes the fp32 master weight, momentum and variance, reads the gradient and writes
    the 16-bit weight."""
    t = training.optimizer_table()
    row = t[(t["optimizer"] == "adam") & (t["precision"] == "mixed")].iloc[0]
    return (2.0 * float(row["optimizer_bytes"]) + float(row["grad_bytes"])
            + float(row["param_bytes"]))


def system_vector(cl: Cluster, overlap_dp: bool) -> np.ndarray:
    """The kernel's ``system`` array (:class:`System`) of cluster ``cl``."""
    sy = np.empty(len(System))
    sy[System.DOMAIN_GPUS] = cl.domain_gpus
    sy[System.ALPHA_UP_S] = cl.alpha_scaleup_s
    sy[System.BETA_UP] = 1.0 / (cl.scaleup_GBps * 1e9)
    sy[System.ALPHA_OUT_S] = cl.alpha_scaleout_s
    sy[System.BETA_OUT] = 1.0 / (cl.scaleout_GBps * 1e9)
    sy[System.BUCKET_BYTES] = DP_BUCKET_BYTES
    sy[System.OVERLAP_DP] = 1.0 if overlap_dp else 0.0
    return sy


def kernel_inputs(model, layouts: pd.DataFrame, cl: Cluster,
                  overlap_dp: bool) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's ``(layouts, system)`` arrays: the only place they are built.

    Parameters
    ----------
    model : TransformerConfig
    layouts : DataFrame
        One row per valid layout, the columns :data:`LAYOUT_COLUMNS` (the fields of
        :class:`~aichip.scaling.model.ParallelConfig`).
    cl : Cluster
    overlap_dp : bool

    Returns
    -------
    (ndarray of shape (n, len(Layout)), ndarray of shape (len(System),))
    """
    M = model
    col = {k: layouts[k].to_numpy() for k in LAYOUT_COLUMNS}
    dp, tp, pp = (col[k].astype(np.float64) for k in ("dp", "tp", "pp"))
    keys = list(zip(col["micro_batch"], col["tp"], col["pp"], col["sequence_parallel"],
                    col["recompute"], strict=True))
    elem = {k: elementwise_s_per_micro_batch(M, int(k[0]), int(k[1]), int(k[2]), bool(k[3]), k[4],
                                             cl) for k in set(keys)}
    gemm = {k: gemm_s_per_micro_batch(M, int(k[0]), int(k[1]), int(k[2]), k[4], cl)
            for k in set(keys)}
    grad_b, param_b = state_bytes_per_param()
    n_local = M.n_params / (tp * pp)
    lay = np.empty((len(layouts), len(Layout)))
    lay[:, Layout.DP], lay[:, Layout.TP], lay[:, Layout.PP] = dp, tp, pp
    lay[:, Layout.INTERLEAVE] = col["interleave"]
    lay[:, Layout.ZERO_STAGE] = col["zero_stage"]
    lay[:, Layout.FULL_RECOMPUTE] = col["recompute"] == "full"
    lay[:, Layout.MICRO_BATCHES] = col["global_batch"] // (col["micro_batch"] * col["dp"])
    lay[:, Layout.GEMM_S] = [gemm[k] for k in keys]
    lay[:, Layout.ELEMENTWISE_S] = [elem[k] for k in keys]
    lay[:, Layout.TP_MSG_BYTES] = ACTIVATION_BYTES * col["micro_batch"] * M.seq_len * M.hidden
    lay[:, Layout.LAYERS_PER_STAGE] = M.n_layers / pp
    lay[:, Layout.GRAD_BYTES] = n_local * grad_b
    lay[:, Layout.PARAM_BYTES] = n_local * param_b
    sharded = np.where(col["zero_stage"] >= 1, dp, 1.0)
    lay[:, Layout.OPTIMIZER_S] = (n_local / sharded * optimizer_step_bytes_per_param()
                                  / (cl.hbm_GBps * 1e9))
    return lay, system_vector(cl, overlap_dp)


def evaluate(model, layouts: pd.DataFrame, cl: Cluster,
             overlap_dp: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, times)``: :func:`kernel_inputs` of ``layouts`` and the kernel's times for each,
    shapes ``(n, len(Layout))`` and ``(n, len(Out))``."""
    lay, sy = kernel_inputs(model, layouts, cl, overlap_dp)
    return lay, step_batch(lay, sy)
