"""Tensor Core arithmetic: one matrix multiply-accumulate (MMA) emulated bit for bit, and where
Tensor Cores pay off on the roofline.

**The MMA model.** ``D = A @ B + C`` with ``A`` (m, k) and ``B`` (k, n) rounded to the input format
(FP16 or BF16, round to nearest even, :func:`aichip.arith.quantize`), every product ``a * b`` kept
exactly (a product of two 11-bit significands fits in FP32's 24), and the sum accumulated in FP32:
starting from ``C`` (rounded to FP32), each product is added in order of ``k`` and the running sum
rounded to FP32 after every addition (:func:`aichip.arith.dot_with_accumulator`). This is the
textbook mixed-precision MMA the Volta whitepaper describes. Real Tensor Cores add several
products at once and, on V100, align and truncate rather than round inside that group (Fasi et al.
2021), so their last bit can differ from this model where a sum is inexact; wherever every partial
sum is exactly representable in FP32 the two agree exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import arith, chips
from ..roofline import from_chip, gemm_intensity
from ..tables import load_table
from ..validation import check_choice

__all__ = ["mma", "MMA_INPUT_FORMATS", "gemm_shapes", "roofline_comparison"]

MMA_INPUT_FORMATS = ("fp16", "bf16", "tf32")


def mma(A, B, C=None, input_format: str = "fp16") -> np.ndarray:
    """Emulate one Tensor Core MMA ``A @ B + C``: narrow inputs, exact products, FP32 accumulation.

    Parameters
    ----------
    A : array_like (m, k), B : array_like (k, n), real numbers (rounded to ``input_format``)
    C : array_like (m, n) or None (zeros), rounded to FP32
    input_format : ``"fp16"``, ``"bf16"`` or ``"tf32"``

    Returns
    -------
    float64 ndarray (m, n) holding FP32 values: ``D.astype(np.float32)`` is exact.
    """
    check_choice("input_format", input_format, MMA_INPUT_FORMATS)
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"A and B must be matrices with A's columns = B's rows, got {A.shape} "
                         f"and {B.shape}")
    m, n = A.shape[0], B.shape[1]
    C = np.zeros((m, n)) if C is None else np.asarray(C, dtype=np.float64)
    if C.shape != (m, n):
        raise ValueError(f"C must have shape {(m, n)}, got {C.shape}")
    for name, X in (("A", A), ("B", B), ("C", C)):
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{name} must hold finite numbers")
    a = arith.quantize(A, input_format)
    b = arith.quantize(B, input_format)
    c = arith.quantize(C, "fp32")
    D = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            # C enters first: a leading product C[i, j] * 1 is exact and starts the FP32 sum
            D[i, j] = arith.dot_with_accumulator(np.r_[c[i, j], a[i]], np.r_[1.0, b[:, j]], "fp32")
    return D


def gemm_shapes() -> pd.DataFrame:
    """GEMM shapes from published networks (``gemm_shapes.csv``: DeepBench RNNs, BERT)."""
    return load_table("gemm_shapes")


def roofline_comparison(gpus=("NVIDIA P100 SXM2", "NVIDIA V100 SXM2"), precision: str = "fp16",
                        shapes: pd.DataFrame | None = None,
                        bytes_per_element: int = 2) -> pd.DataFrame:
    """Attainable throughput of each GEMM shape on each GPU's roofline at ``precision``.

    Each GEMM's intensity is ``2MNK / (bytes_per_element (MK + KN + MN))`` FLOP/byte (every matrix
    moved once, :func:`aichip.roofline.gemm_intensity`); its attainable rate on a GPU is
    ``min(peak, bandwidth x intensity)`` with the catalogue's datasheet peak and bandwidth.

    Returns
    -------
    DataFrame: the shapes' columns, ``intensity_FLOP_per_byte``, one ``<gpu> TFLOPs`` column per GPU
    and ``speedup`` (last GPU over first).
    """
    if isinstance(gpus, str) or len(gpus) < 2:
        raise ValueError("gpus must name at least two catalogue GPUs")
    check_choice("precision", precision, tuple(chips.PRECISIONS))
    roofs = [from_chip(g, precision) for g in gpus]
    df = (gemm_shapes() if shapes is None else shapes).copy()
    df["intensity_FLOP_per_byte"] = [gemm_intensity(int(r.M), int(r.N), int(r.K),
                                                    bytes_per_elem=bytes_per_element)
                                     for r in df.itertuples()]
    intensity = df["intensity_FLOP_per_byte"].values
    for roof in roofs:
        df[f"{roof.name} TFLOPs"] = roof.attainable_GFLOPs(intensity) / 1e3
    df["speedup"] = df[f"{roofs[-1].name} TFLOPs"] / df[f"{roofs[0].name} TFLOPs"]
    return df
