"""TPU generations: peaks derived from the matrix units against the peaks Google states."""

import math

import numpy as np
import pytest

from aichip import tpu_family

# Google's stated peak per chip, typed from the primary sources (not read from the table):
# Jouppi et al. ISCA 2017 (v1, int8 TOPS), ISCA 2021 "Ten Lessons" (v2, v3), ISCA 2023 (v4),
# the Cloud TPU pages (v5e, v5p, v6e, TPU7x; bf16 TFLOP/s).
STATED = {"TPU v1": 92, "TPU v2": 46, "TPU v3": 123, "TPU v4": 275, "TPU v5e": 197,
          "TPU v5p": 459, "TPU v6e (Trillium)": 918, "TPU7x (Ironwood)": 2307}


def test_table_holds_the_stated_peaks():
    t = tpu_family.tpu_generations().set_index("name")
    assert set(t.index) == set(STATED)
    for name, peak in STATED.items():
        assert t.loc[name, "peak_TFLOPs"] == peak, name


@pytest.mark.parametrize("name", ["TPU v1", "TPU v2", "TPU v3", "TPU v4"])
def test_derived_peak_matches_stated(name):
    d = tpu_family.derived_peaks().set_index("name")
    # the stated figures are rounded to whole TFLOP/s: within 0.5% of the derived ones
    assert d.loc[name, "derived_TFLOPs"] == pytest.approx(STATED[name], rel=5e-3)


def test_hand_worked_peaks():
    # TPU v1: 256 x 256 MACs x 2 x 700 MHz = 91.75 TOP/s; TPU v4: 2 x 4 x 128 x 128 x 2 x 1050 MHz
    assert tpu_family.mxu_peak_TFLOPs(1, 1, 256, 256, 700) == pytest.approx(91.750400)
    assert tpu_family.mxu_peak_TFLOPs(2, 4, 128, 128, 1050) == pytest.approx(275.2512)
    d = tpu_family.derived_peaks().set_index("name")
    # v5e: 197e12 / (4 x 16384 MACs x 2) = 1.503 GHz implied; no published clock, no derived peak
    assert math.isnan(d.loc["TPU v5e", "derived_TFLOPs"])
    assert d.loc["TPU v5e", "implied_clock_MHz"] == pytest.approx(197e6 / (4 * 16384 * 2))


def test_units_grow_as_documented():
    t = tpu_family.tpu_generations().set_index("name")
    assert (t.loc[["TPU v2", "TPU v3", "TPU v4", "TPU v5e", "TPU v5p"], "mxu_rows"] == 128).all()
    assert t.loc["TPU v6e (Trillium)", "mxu_rows"] == 256 == t.loc["TPU v1", "mxu_cols"]
    assert (t.loc[["TPU v4", "TPU v5p", "TPU7x (Ironwood)"], "sparsecores_per_chip"] == 4).all()


def test_bad_input():
    with pytest.raises(ValueError, match="clock_MHz"):
        tpu_family.mxu_peak_TFLOPs(1, 1, 128, 128, 0)
    assert np.isnan(tpu_family.mxu_peak_TFLOPs(1, np.nan, 128, 128, 900))


def _catalogue_name(generation: str) -> str:
    """Chapter 1's catalogue name of a chapter-5 generation ("TPU v6e (Trillium)" -> the row)."""
    return "Google " + generation.replace("(", "").replace(")", "")


def test_generations_agree_with_the_catalogue():
    """One chip, one set of figures: the generation table and chips.csv hold the same peak and HBM
    bandwidth wherever both list the chip (the two tables were written from the same sources)."""
    from aichip import chips

    catalogue = chips.load().set_index("name")
    generations = tpu_family.tpu_generations()
    compared = 0
    for row in generations.itertuples(index=False):
        name = _catalogue_name(row.name)
        assert name in catalogue.index, f"{row.name} ({name}) is missing from chips.csv"
        chip = catalogue.loc[name]
        column = "int8_TOPs" if row.peak_format == "int8" else f"{row.peak_format}_TFLOPs"
        assert chip[column] == pytest.approx(row.peak_TFLOPs, rel=1e-9), row.name
        assert chip["mem_bw_GBps"] == pytest.approx(row.mem_bw_GBps, rel=1e-9), row.name
        compared += 1
    assert compared == len(generations) >= 8
