import pathlib
import re

import pandas as pd
import pytest

from aichip import chips

BIB = pathlib.Path(__file__).resolve().parents[1] / "chapters" / "references.bib"


def test_schema_and_units():
    df = chips.load()
    expected = {"name", "vendor", "kind", "year", "process_nm", "mem_GB", "mem_bw_GBps", "tdp_W",
                "source", "notes", *chips.PRECISIONS.values()}
    assert expected <= set(df.columns)
    assert df["name"].is_unique
    assert set(df["kind"]) <= set(chips.KINDS)
    assert df["year"].between(1990, 2030).all()
    for column in (*chips.PRECISIONS.values(), "mem_GB", "mem_bw_GBps", "tdp_W", "process_nm"):
        values = df[column].dropna()
        assert (values > 0).all(), column
    # every row has at least one throughput figure and a source
    assert df[list(chips.PRECISIONS.values())].notna().any(axis=1).all()
    assert df["source"].str.len().gt(0).all()


def test_every_source_is_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", BIB.read_text()))
    missing = set(chips.load()["source"]) - keys
    assert not missing, f"sources missing from references.bib: {missing}"


@pytest.mark.parametrize("name, field, value", [
    # NVIDIA V100 datasheet: 15.7 TFLOPS FP32, 900 GB/s, 300 W
    ("NVIDIA V100 SXM2", "fp32", 15.7),
    # NVIDIA A100 datasheet: 312 TFLOPS BF16 dense, 2039 GB/s (80 GB SXM)
    ("NVIDIA A100 SXM4 80GB", "bf16", 312),
    # NVIDIA H100 datasheet: 989.5 TFLOPS BF16 dense (1979 sparse)
    ("NVIDIA H100 SXM5", "bf16", 989.5),
    # Jouppi et al. 2017, Table 2: 92 TOPS 8-bit
    ("Google TPU v1", "int8", 92),
])
def test_values_against_sources(name, field, value):
    assert chips.get(name).peak(field) == pytest.approx(value)


def test_memory_figures_against_sources():
    assert chips.get("NVIDIA A100 SXM4 80GB").mem_bw_GBps == 2039
    assert chips.get("NVIDIA H100 SXM5").mem_bw_GBps == 3350
    assert chips.get("Google TPU v1").mem_bw_GBps == 34
    assert chips.get("NVIDIA V100 SXM2").tdp_W == 300


def test_get_is_case_insensitive_and_load_returns_a_copy():
    assert chips.get("nvidia h100 sxm5").name == "NVIDIA H100 SXM5"
    df = chips.load()
    df.loc[:, "tdp_W"] = 0
    assert (chips.load()["tdp_W"].dropna() > 0).all()


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"did you mean.*H100"):
        chips.get("NVIDIA H100")
    with pytest.raises(TypeError, match="name must be a string"):
        chips.get(100)


def test_numeric_columns_are_float():
    df = chips.load()
    for column in chips.NUMERIC_COLUMNS:
        assert pd.api.types.is_float_dtype(df[column]), column
