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


def test_scalar_inputs_give_a_plain_float():
    """Scalars in, a Python float out (arrays in, an array out): the 0-d array NumPy would give
    otherwise is not a float and cannot be written to JSON. TPU v1: 256 x 256 x 2 x 700 MHz."""
    import json

    peak = tpu_family.mxu_peak_TFLOPs(1, 1, 256, 256, 700)
    assert type(peak) is float and peak == pytest.approx(256 * 256 * 2 * 700e6 / 1e12)
    assert json.loads(json.dumps(peak)) == pytest.approx(91.7504)
    both = tpu_family.mxu_peak_TFLOPs(1, 1, 256, 256, np.array([700.0, 1400.0]))
    assert isinstance(both, np.ndarray) and both == pytest.approx([91.7504, 183.5008])


def test_derived_over_stated_by_hand():
    """The ratio column is derived peak / stated peak, with both worked by hand from the papers'
    units (v1: 256 x 256 at 700 MHz; v3: 2 TensorCores x 2 MXUs x 128 x 128 at 940 MHz; v4:
    2 x 4 x 128 x 128 at 1050 MHz) and Google's stated peaks: each a little under or over 1."""
    d = tpu_family.derived_peaks().set_index("name")
    by_hand = {"TPU v1": 256 * 256 * 2 * 700e6 / 1e12,              # 91.75
               "TPU v3": 2 * 2 * 128 * 128 * 2 * 940e6 / 1e12,      # 123.2
               "TPU v4": 2 * 4 * 128 * 128 * 2 * 1050e6 / 1e12}     # 275.3
    for name, derived in by_hand.items():
        ratio = d.loc[name, "derived_over_stated"]
        assert ratio == pytest.approx(derived / STATED[name], rel=1e-9), name
        assert abs(ratio - 1) < 5e-3, name


def test_implied_clock_gives_back_the_stated_peak():
    """The implied clock is, as documented, the clock at which the published units reach the
    stated peak: running the units at it through mxu_peak_TFLOPs gives Google's figure back (to
    double-precision rounding, far below 1e-9). Where Google published a clock (v1 to v4) the
    implied one lies within 0.5% of it. v5e by hand: 197e12 / (4 MXUs x 128 x 128 x 2) = 2^-11 x
    197 x 15625 Hz x 1e6 = 1502.99072265625 MHz, an exact binary fraction."""
    d = tpu_family.derived_peaks().set_index("name")
    t = tpu_family.tpu_generations().set_index("name")
    checked = 0
    for name in STATED:
        clock = d.loc[name, "implied_clock_MHz"]
        if math.isnan(clock):
            continue  # no published unit count (Ironwood)
        row = t.loc[name]
        peak = tpu_family.mxu_peak_TFLOPs(row.tensorcores_per_chip, row.mxus_per_tensorcore,
                                          row.mxu_rows, row.mxu_cols, clock)
        assert peak == pytest.approx(STATED[name], rel=1e-9), name
        checked += 1
    assert checked == 7
    published = {"TPU v1": 700, "TPU v2": 700, "TPU v3": 940, "TPU v4": 1050}
    for name, clock in published.items():
        assert d.loc[name, "implied_clock_MHz"] == pytest.approx(clock, rel=5e-3), name
    assert d.loc["TPU v5e", "implied_clock_MHz"] == pytest.approx(197 * 15625 / 2048, rel=1e-9)


# Every numeric cell of tpu_generations.csv as the primary source gives it, typed from the
# sources (not read from the table): (year, TensorCores per chip, MXUs per TensorCore, MXU rows,
# MXU columns, clock in MHz, peak format, peak TFLOP/s (TOP/s for v1), memory capacity, its unit
# as the source prints it, memory GB/s, ICI links per chip, SparseCores per chip). None where
# the source gives no figure: the blank cells are pinned as blank.
PRIMARY_TPU = {
    # Jouppi et al., ISCA 2017, Sec. 1-2 and Table 2: deployed in Google's datacenters since
    # 2015; one 256 x 256 matrix unit of 8-bit MACs at 700 MHz, 92 TOPS; 8 GiB of DDR3 at
    # 34 GB/s; a PCIe card with no chip-to-chip links; no SparseCore (introduced with v4).
    "TPU v1": (2015, 1, 1, 256, 256, 700, "int8", 92, 8, "GiB", 34, 0, 0),
    # Jouppi et al., ISCA 2021 "Ten Lessons", Table 1 (and CACM 2020 "A Domain-Specific
    # Supercomputer"): TPUv2 deployed 2017; 2 TensorCores of one 128 x 128 MXU at 700 MHz,
    # 46 TFLOP/s bf16; 16 GiB HBM at 700 GB/s; 4 ICI links (2D torus); no SparseCore.
    "TPU v2": (2017, 2, 1, 128, 128, 700, "bf16", 46, 16, "GiB", 700, 4, 0),
    # Same Table 1: TPUv3 deployed 2018; 2 TensorCores of two MXUs at 940 MHz, 123 TFLOP/s;
    # 32 GiB HBM at 900 GB/s; 4 ICI links; no SparseCore.
    "TPU v3": (2018, 2, 2, 128, 128, 940, "bf16", 123, 32, "GiB", 900, 4, 0),
    # Jouppi et al., ISCA 2023, Sec. 1 and Table 1 (TPU v4 vs v3): deployed 2020; 2 TensorCores
    # of four 128 x 128 MXUs at 1050 MHz, 275 TFLOP/s bf16; 32 GiB HBM2 at 1200 GB/s; six ICI
    # links (3D torus); four SparseCores per chip.
    "TPU v4": (2020, 2, 4, 128, 128, 1050, "bf16", 275, 32, "GiB", 1200, 6, 4),
    # Cloud TPU v5e page (cloud.google.com/tpu/docs/v5e), "System architecture": one TensorCore
    # of four MXUs; 197 TFLOP/s bf16; "16 GB" HBM2 at 819 GBps; 4 ICI ports per chip; no clock,
    # no SparseCore count. 128 x 128 MXUs: the TPU architecture page (system-architecture-tpu-vm).
    # Year: Google announced v5e at Cloud Next, Aug. 2023.
    "TPU v5e": (2023, 1, 4, 128, 128, None, "bf16", 197, 16, "GB", 819, 4, None),
    # Cloud TPU v5p page (cloud.google.com/tpu/docs/v5p), spec table: 2 TensorCores and 4
    # SparseCores per chip, four MXUs per TensorCore; 459 TFLOP/s bf16; 95 GiB HBM ("HBM
    # capacity per chip (GiB)") at 2765 GBps; 3D torus, ICI port count not given; no clock.
    # MXU size: TPU architecture page. Year: Google announced v5p in Dec. 2023.
    "TPU v5p": (2023, 2, 4, 128, 128, None, "bf16", 459, 95, "GiB", 2765, None, 4),
    # Cloud TPU v6e page (cloud.google.com/tpu/docs/v6e), "System architecture": one TensorCore
    # of two 256 x 256 MXUs; 918 TFLOP/s bf16; "32 GB" HBM at 1638 GBps; 4 ICI ports per chip;
    # no clock. Two SparseCores per chip: the TPU7x page's comparison table. Year: Trillium
    # announced May 2024 (generally available Dec. 2024).
    "TPU v6e (Trillium)": (2024, 1, 2, 256, 256, None, "bf16", 918, 32, "GB", 1638, 4, 2),
    # Cloud TPU7x page (cloud.google.com/tpu/docs/tpu7x), "System architecture": two
    # TensorCores and four SparseCores per chip; 2307 TFLOP/s bf16 (4614 fp8); 192 GiB HBM at
    # 7380 GBps; MXU count and size, clock and ICI port count not given. Year: Ironwood
    # announced Apr. 2025.
    "TPU7x (Ironwood)": (2025, 2, None, None, None, None, "bf16", 2307, 192, "GiB", 7380, None,
                         4),
}

_TPU_COLUMNS = ["year", "tensorcores_per_chip", "mxus_per_tensorcore", "mxu_rows", "mxu_cols",
                "clock_MHz", "peak_format", "peak_TFLOPs", "mem_capacity", "mem_unit",
                "mem_bw_GBps", "ici_links", "sparsecores_per_chip"]


def test_generation_table_is_the_primary_sources():
    """Every cell of tpu_generations.csv but the prose against the paper or page it cites."""
    t = tpu_family.tpu_generations().set_index("name")
    assert list(t.index) == list(PRIMARY_TPU)

    def cell(value):
        return None if isinstance(value, float) and math.isnan(value) else value

    for name, want in PRIMARY_TPU.items():
        got = tuple(cell(t.loc[name, c]) for c in _TPU_COLUMNS)
        assert got == want, f"{name}: {dict(zip(_TPU_COLUMNS, got, strict=True))}"
    # Where a page prints GB the table keeps GB (v5e, v6e); GiB where the paper or page prints
    # GiB: converting 16 GB to GiB would give 14.9, not a figure any source states.
