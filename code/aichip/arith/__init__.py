"""Arithmetic for AI: number formats (:mod:`.formats`) and tree multipliers (:mod:`.multiplier`).

``from aichip import arith`` gives the commonly used names directly: ``arith.quantize``,
``arith.wallace_stages``, ``arith.build_multiplier``, ...
"""

from .formats import (FORMATS, Format, QuantStats, decode, dot_with_accumulator, encode,
                      get_format, quantization_error, quantize, representable_values)
from .multiplier import (MAX_EVAL_BITS, TREES, Multiplier, SimResult, Stage, build_multiplier,
                         dadda_sequence, dadda_stages, evaluate, simulate, wallace_stages)

__all__ = [
    "FORMATS", "Format", "QuantStats", "decode", "dot_with_accumulator", "encode", "get_format",
    "quantization_error", "quantize", "representable_values",
    "MAX_EVAL_BITS", "TREES", "Multiplier", "SimResult", "Stage", "build_multiplier",
    "dadda_sequence", "dadda_stages", "evaluate", "simulate", "wallace_stages",
]
