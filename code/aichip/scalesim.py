"""SCALE-Sim's recorded cycle counts, and our systolic-array simulator run against them.

SCALE-Sim (Samajdar et al., ISPASS 2020) is the reference simulator for systolic arrays; its
3.0.0 release was run by ``bench/scalesim_runner.py`` on GEMM layers, arrays and dataflows, and
its results are kept in ``data/scalesim_reference.csv`` with their source. The chapter on
systolic arrays calls both.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .systolic import simulate_gemm
from .tables import load_table
from .timing import time_call
from .validation import check_int

__all__ = ["scalesim_reference", "compare_with_scalesim"]


def scalesim_reference() -> pd.DataFrame:
    """SCALE-Sim 3.0.0's compute cycles, mapping efficiency and run time on GEMM layers.

    Recorded by ``bench/scalesim_runner.py`` (``data/scalesim_reference.csv``, one row per layer,
    array and dataflow, with its source); ``make bench`` re-measures them when SCALE-Sim is
    installed.
    """
    return load_table("scalesim_reference")


def compare_with_scalesim(repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """Simulate every run of :func:`scalesim_reference` with random operands and compare.

    Returns one row per run: ``layer, M, N, K, rows, cols, dataflow``, our ``cycles`` and
    ``mapping_efficiency`` beside SCALE-Sim's, ``cycle_difference`` (ours minus SCALE-Sim's),
    ``product_correct`` (``allclose`` to NumPy's ``A @ B``), our best and median run time over
    ``repeats`` timed calls after the checked one (:func:`aichip.timing.time_call`) and SCALE-Sim's
    recorded time, all in seconds. SCALE-Sim's schedule is the one with no fold overlap.
    """
    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    records = []
    for row in scalesim_reference().itertuples():
        A = rng.standard_normal((row.M, row.K))
        B = rng.standard_normal((row.K, row.N))
        sim = simulate_gemm(A, B, row.rows, row.cols, row.dataflow)  # also the warm-up
        run = functools.partial(simulate_gemm, A, B, row.rows, row.cols, row.dataflow)
        t = time_call(run, repeats, warmup=0)
        records.append({
            "layer": row.layer, "M": row.M, "N": row.N, "K": row.K, "rows": row.rows,
            "cols": row.cols, "dataflow": row.dataflow, "cycles": sim.compute_cycles,
            "scalesim_cycles": row.scalesim_cycles,
            "cycle_difference": sim.compute_cycles - row.scalesim_cycles,
            "mapping_efficiency": sim.mapping_efficiency,
            "scalesim_mapping_efficiency": row.scalesim_mapping_efficiency,
            "product_correct": bool(np.allclose(sim.product, A @ B)),
            "best_s": t.best_s, "median_s": t.median_s, "scalesim_s": row.scalesim_s})
    return pd.DataFrame.from_records(records)
