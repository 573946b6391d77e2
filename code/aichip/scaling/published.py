"""Published training runs and the model's prediction of each: Narayanan et al.'s weak-scaling
table (SC'21, Table 1, ``data/megatron_weak_scaling.csv``) and Korthikanti et al.'s end-to-end
iteration times (MLSys 2023, ``data/korthikanti_iterations.csv``).

Each row is predicted with the layout the paper states (``dp = n_gpus / (tp pp)``) on
``dgx_a100_hdr`` (Selene), sequence 2048, vocabulary 51200, and the model's fixed inputs; nothing is
fitted to these rows. Where the paper does not state a setting the choice is the simplest one and
is named here: micro-batch 1 for Table 1, the non-interleaved 1F1B schedule, ZeRO 0.
"""

from __future__ import annotations

import pandas as pd

from ..tables import load_table
from .clusters import Cluster
from .clusters import cluster as get_cluster
from .counting import hardware_flops_per_iteration
from .model import ParallelConfig, StepTime, TransformerConfig, step_time

__all__ = ["megatron_table1", "korthikanti_table", "predict_megatron_table1",
           "predict_korthikanti", "implied_gemm_efficiency", "VALIDATION_CLUSTER"]

#: the cluster both papers ran on
VALIDATION_CLUSTER = "dgx_a100_hdr"


def implied_gemm_efficiency(result: StepTime, parallel: ParallelConfig, published_s: float,
                            cluster=VALIDATION_CLUSTER) -> float:
    """The GEMM efficiency that would make ``result`` take ``published_s``, every other term kept:
    a diagnostic of the compute term, not a fit (the model always uses the measured value).

    The pipelined part of the iteration is ``(m + (pp-1)/v) (g + e + TP + PP)`` with the GEMM time
    ``g`` inversely proportional to the efficiency; the element-wise time ``e``, the communication
    and the exposed data-parallel time are kept as predicted.
    """
    cl = cluster if isinstance(cluster, Cluster) else get_cluster(cluster)
    m = result.micro_batches
    slots = m + (parallel.pp - 1) / parallel.interleave
    gemm, elementwise = result.gemm_s / m, result.elementwise_s / m
    comm = (result.tp_comm_s + result.pp_comm_s) / m
    gemm_needed = (published_s - result.dp_exposed_s) / slots - comm - elementwise
    return cl.gemm_efficiency * gemm / gemm_needed


def megatron_table1() -> pd.DataFrame:
    """Narayanan et al.'s Table 1 as published (``data/megatron_weak_scaling.csv``)."""
    return load_table("megatron_weak_scaling")


def korthikanti_table() -> pd.DataFrame:
    """Korthikanti et al.'s iteration times as published (``data/korthikanti_iterations.csv``)."""
    return load_table("korthikanti_iterations")


def predict_megatron_table1(micro_batch: int = 1, cluster=VALIDATION_CLUSTER) -> pd.DataFrame:
    """Predict every row of Table 1: full recomputation, no sequence parallelism (2021).

    Returns one row per model with the published and predicted TFLOP/s per GPU (the paper's
    ``96 B s l h**2`` count divided by the iteration time and the GPU count), their relative error
    ``predicted / published - 1``, the predicted iteration time and its breakdown, the published
    iteration time implied by the paper's throughput, and :func:`implied_gemm_efficiency`.
    """
    rows = []
    for r in megatron_table1().itertuples():
        model = TransformerConfig(r.n_layers, r.hidden, r.n_heads)
        dp = r.n_gpus // (r.tp * r.pp)
        par = ParallelConfig(dp, r.tp, r.pp, micro_batch, r.global_batch, recompute="full",
                             sequence_parallel=False)
        st = step_time(model, par, cluster)
        flops = hardware_flops_per_iteration(r.global_batch, model.seq_len, model.n_layers,
                                             model.hidden, model.vocab, "full")
        published_s = flops / (r.tflops_per_gpu * 1e12 * r.n_gpus)
        rows.append({"params_B": r.params_B, "n_gpus": r.n_gpus, "tp": r.tp, "pp": r.pp, "dp": dp,
                     "micro_batches": st.micro_batches,
                     "published_tflops": r.tflops_per_gpu, "predicted_tflops": st.tflops_per_gpu,
                     "error": st.tflops_per_gpu / r.tflops_per_gpu - 1.0,
                     "published_s": published_s, "predicted_s": st.total_s,
                     "compute_s": st.compute_s,
                     "tp_comm_s": st.tp_comm_s, "pp_comm_s": st.pp_comm_s,
                     "dp_exposed_s": st.dp_exposed_s, "bubble_s": st.bubble_s,
                     "memory_GB": st.memory_bytes_per_gpu / 1e9, "fits": st.fits,
                     "implied_gemm_efficiency": implied_gemm_efficiency(st, par, published_s,
                                                                        cluster)})
    return pd.DataFrame(rows)


def predict_korthikanti(cluster=VALIDATION_CLUSTER) -> pd.DataFrame:
    """Predict Korthikanti et al.'s iteration times: full recomputation without sequence
    parallelism, and selective recomputation with sequence parallelism (their "present work").

    Returns one row per (model, recompute) with the published and predicted seconds, the error
    ``predicted / published - 1``, the predicted breakdown and MFU, and
    :func:`implied_gemm_efficiency`.
    """
    rows = []
    for r in korthikanti_table().itertuples():
        model = TransformerConfig(r.n_layers, r.hidden, r.n_heads)
        dp = r.n_gpus // (r.tp * r.pp)
        for recompute, sp, published in (("full", False, r.full_recompute_s),
                                         ("selective", True, r.selective_sp_s)):
            par = ParallelConfig(dp, r.tp, r.pp, r.micro_batch, r.global_batch,
                                 recompute=recompute, sequence_parallel=sp)
            st = step_time(model, par, cluster)
            rows.append({"model": r.model, "recompute": recompute, "sequence_parallel": sp,
                         "published_s": published, "predicted_s": st.total_s,
                         "error": st.total_s / published - 1.0, "compute_s": st.compute_s,
                         "tp_comm_s": st.tp_comm_s, "pp_comm_s": st.pp_comm_s,
                         "dp_exposed_s": st.dp_exposed_s, "bubble_s": st.bubble_s,
                         "predicted_mfu": st.mfu, "memory_GB": st.memory_bytes_per_gpu / 1e9,
                         "fits": st.fits,
                         "implied_gemm_efficiency": implied_gemm_efficiency(st, par, published,
                                                                            cluster)})
    return pd.DataFrame(rows)
