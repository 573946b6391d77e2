"""Arithmetic for AI: number formats (:mod:`.formats`), block-scaled formats (:mod:`.mx`),
DeepSeek-V3's FP8 recipe (:mod:`.fp8_training`) and tree multipliers (:mod:`.multiplier`).

``from aichip import arith`` gives the commonly used names directly: ``arith.quantize``,
``arith.wallace_stages``, ``arith.build_multiplier``, ...
"""

from .formats import (
    FORMATS,
    Format,
    QuantStats,
    absmax_scale,
    accumulation_error,
    compare_formats,
    decode,
    dot_with_accumulator,
    encode,
    format_table,
    get_format,
    quantization_error,
    quantize,
    representable_values,
    spacing,
)
from .fp8_training import (
    ROUNDINGS,
    accumulation_experiment,
    limited_dot,
    limited_matmul,
    quantize_blockwise,
)
from .multiplier import (
    MAX_EVAL_BITS,
    TREES,
    Multiplier,
    SimResult,
    Stage,
    build_multiplier,
    compare_trees,
    dadda_sequence,
    dadda_stages,
    evaluate,
    simulate,
    wallace_early_widths,
    wallace_stages,
)
from .mx import (
    MX_FORMATS,
    NVFP4_BLOCK,
    mx_element_emax,
    mx_shared_exponents,
    nvfp4_scales,
    quantize_groupwise,
    quantize_mx,
    quantize_nvfp4,
)

__all__ = [
    "FORMATS", "Format", "QuantStats", "absmax_scale", "accumulation_error", "compare_formats",
    "decode", "dot_with_accumulator", "encode", "format_table", "get_format", "quantization_error",
    "quantize", "representable_values", "spacing",
    "MAX_EVAL_BITS", "TREES", "Multiplier", "SimResult", "Stage", "build_multiplier",
    "compare_trees", "dadda_sequence", "dadda_stages", "evaluate", "simulate",
    "wallace_early_widths", "wallace_stages",
    "MX_FORMATS", "NVFP4_BLOCK", "mx_element_emax", "mx_shared_exponents", "nvfp4_scales",
    "quantize_groupwise", "quantize_mx", "quantize_nvfp4",
    "ROUNDINGS", "accumulation_experiment", "limited_dot", "limited_matmul", "quantize_blockwise",
]
