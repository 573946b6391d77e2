"""Google's TPU generations, v1 to Ironwood: their matrix units and the peak those units give.

Every TPU since v1 computes its matrix products on systolic arrays, the matrix-multiply units
(MXUs) of :mod:`aichip.systolic`: one ``256 x 256`` array of 8-bit MACs in v1, ``128 x 128``
arrays of bf16 multipliers with fp32 accumulators from v2 to v5p, ``256 x 256`` again in v6e
(Trillium). A chip holds one or two TensorCores (the MXUs with a vector and a scalar unit) and,
from v4, SparseCores for embedding lookups. The table ``aichip/data/tpu_generations.csv`` (schema in
:mod:`aichip.tables`) keeps, per generation, what Google published: unit counts, clock, the stated
peak per chip, memory, inter-chip links; a cell is empty where no primary source gives the number.

:func:`derived_peaks` recomputes each generation's peak from its units,

``TensorCores x MXUs per TensorCore x rows x cols x 2 operations per MAC x clock``,

and sets it beside Google's stated figure. Where Google has not published the clock (v5e onward) it
gives instead the clock that the stated peak implies for the published units, a number to read
with care: it assumes one MAC per PE per cycle in the stated format.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .tables import load_table

__all__ = ["tpu_generations", "mxu_peak_TFLOPs", "derived_peaks"]


def tpu_generations() -> pd.DataFrame:
    """The TPU generations table (``aichip/data/tpu_generations.csv``), one row per generation.

    Columns: ``name, year, tensorcores_per_chip, mxus_per_tensorcore, mxu_rows, mxu_cols,
    clock_MHz, peak_format, peak_TFLOPs`` (Google's stated peak per chip, in tera-operations per
    second of ``peak_format``), ``mem_capacity, mem_unit, mem_bw_GBps, ici_links,
    sparsecores_per_chip, source, notes``; NaN where unpublished.
    """
    return load_table("tpu_generations")


def mxu_peak_TFLOPs(tensorcores, mxus_per_tensorcore, rows, cols, clock_MHz):
    """Peak of a chip's matrix units in tera-operations per second (a MAC counts two).

    ``tensorcores * mxus_per_tensorcore * rows * cols * 2 * clock_MHz * 1e6 / 1e12``; NumPy
    arrays broadcast, and a NaN input (an unpublished number) gives NaN.

    Raises
    ------
    ValueError
        If a given count or the clock is not positive.
    """
    values = [np.asarray(v, dtype=float) for v in
              (tensorcores, mxus_per_tensorcore, rows, cols, clock_MHz)]
    names = ("tensorcores", "mxus_per_tensorcore", "rows", "cols", "clock_MHz")
    for name, v in zip(names, values, strict=True):
        if np.any(v[~np.isnan(v)] <= 0):
            raise ValueError(f"{name} must be positive (NaN where unknown), got {v}")
    tc, mxus, r, c, clock = values
    result = tc * mxus * r * c * 2 * clock * 1e6 / 1e12
    return float(result) if result.ndim == 0 else result


def derived_peaks() -> pd.DataFrame:
    """Each generation's peak derived from its units beside the peak Google states.

    Returns one row per generation: ``name, year, peak_format, macs_per_cycle`` (all MXUs of the
    chip), ``clock_MHz``, ``derived_TFLOPs`` (:func:`mxu_peak_TFLOPs`, NaN without a published
    clock or unit count), ``stated_TFLOPs``, ``derived_over_stated`` and ``implied_clock_MHz``
    (the clock at which the published units reach the stated peak).
    """
    t = tpu_generations()
    macs = t["tensorcores_per_chip"] * t["mxus_per_tensorcore"] * t["mxu_rows"] * t["mxu_cols"]
    derived = mxu_peak_TFLOPs(t["tensorcores_per_chip"].to_numpy(),
                              t["mxus_per_tensorcore"].to_numpy(), t["mxu_rows"].to_numpy(),
                              t["mxu_cols"].to_numpy(), t["clock_MHz"].to_numpy())
    return pd.DataFrame({
        "name": t["name"], "year": t["year"], "peak_format": t["peak_format"],
        "macs_per_cycle": macs, "clock_MHz": t["clock_MHz"], "derived_TFLOPs": derived,
        "stated_TFLOPs": t["peak_TFLOPs"], "derived_over_stated": derived / t["peak_TFLOPs"],
        "implied_clock_MHz": t["peak_TFLOPs"] * 1e12 / (2 * macs) / 1e6})
