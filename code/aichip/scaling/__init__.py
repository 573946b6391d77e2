"""Scaling a training job: how long one iteration of a transformer takes on N GPUs, what bounds it,
and which parallel layout is best.

* :mod:`~aichip.scaling.counting`: parameters, FLOPs per iteration (with and without
  recomputation), MFU vs HFU, PaLM's MFU, the pipeline bubble and a 1F1B schedule simulator.
* :mod:`~aichip.scaling.clusters`: clusters as data (``data/clusters.csv``): DGX A100 with HDR
  InfiniBand (Selene), DGX H100 with NDR, GB200 NVL72.
* :mod:`~aichip.scaling.shapes`: a GEMM's time from its shape (tile and wave quantisation, the
  measured ceiling, the HBM roof), one layer's GEMMs and the logit layer's.
* :mod:`~aichip.scaling.model`: :class:`TransformerConfig`, :class:`ParallelConfig` and
  :func:`step_time`, the step-time model (compute, tensor/pipeline/data-parallel communication,
  bubble, memory).
* :mod:`~aichip.scaling.published`: the Megatron-LM papers' runs, predicted row by row.
* :mod:`~aichip.scaling.search`: :func:`search_layouts`, every layout that fits, ranked.
"""

from ._kernel import optimizer_step_bytes_per_param, stage_layers
from .clusters import (
                       PRECISION,
                       Cluster,
                       cluster,
                       cluster_names,
                       gemm_ceiling,
                       gemm_efficiency,
                       scaleup_domain,
                       sm_count,
)
from .counting import (
                       RECOMPUTE,
                       elementwise_bytes_per_layer,
                       flops_per_iteration,
                       hardware_flops_per_iteration,
                       palm_flops_per_token,
                       palm_mfu,
                       pipeline_bubble_fraction,
                       pipeline_bubble_overhead,
                       simulate_1f1b,
                       transformer_params,
                       utilization,
)
from .model import (
                       DP_BUCKET_BYTES,
                       ParallelConfig,
                       StepTime,
                       TransformerConfig,
                       check_layout,
                       layout_error,
                       step_time,
)
from .published import (
                       VALIDATION_CLUSTER,
                       deepseek_v2_estimate,
                       deepseek_v3_estimate,
                       implied_gemm_efficiency,
                       korthikanti_layer_table,
                       korthikanti_table,
                       megatron_table1,
                       predict_bloom,
                       predict_korthikanti,
                       predict_korthikanti_layer,
                       predict_llama3,
                       predict_megatron_table1,
                       predict_nemotron4,
                       predict_zero3_comparison,
)
from .search import scaling_efficiency, search_layouts
from .shapes import gemm_s, layer_gemm_s, logit_gemm_s, quantisation

__all__ = ["PRECISION", "Cluster", "cluster", "cluster_names", "gemm_efficiency", "scaleup_domain",
           "RECOMPUTE",
           "elementwise_bytes_per_layer", "flops_per_iteration", "hardware_flops_per_iteration",
           "palm_flops_per_token",
           "palm_mfu", "pipeline_bubble_fraction", "pipeline_bubble_overhead", "simulate_1f1b",
           "transformer_params", "utilization", "DP_BUCKET_BYTES", "ParallelConfig", "StepTime",
           "TransformerConfig", "check_layout", "layout_error", "step_time", "VALIDATION_CLUSTER",
           "implied_gemm_efficiency", "korthikanti_layer_table", "korthikanti_table",
           "predict_korthikanti_layer", "megatron_table1", "predict_korthikanti",
           "predict_megatron_table1", "scaling_efficiency", "search_layouts", "gemm_ceiling",
           "sm_count", "predict_llama3", "stage_layers", "predict_zero3_comparison",
           "predict_bloom", "predict_nemotron4",
           "optimizer_step_bytes_per_param", "deepseek_v3_estimate", "deepseek_v2_estimate",
           "gemm_s", "layer_gemm_s",
           "logit_gemm_s", "quantisation"]
