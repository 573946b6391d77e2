"""Arithmetic for AI: number formats (:mod:`.formats`) and tree multipliers (:mod:`.multiplier`).

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

__all__ = [
    "FORMATS", "Format", "QuantStats", "absmax_scale", "accumulation_error", "compare_formats",
    "decode", "dot_with_accumulator", "encode", "format_table", "get_format", "quantization_error",
    "quantize", "representable_values", "spacing",
    "MAX_EVAL_BITS", "TREES", "Multiplier", "SimResult", "Stage", "build_multiplier",
    "compare_trees", "dadda_sequence", "dadda_stages", "evaluate", "simulate",
    "wallace_early_widths", "wallace_stages",
]
