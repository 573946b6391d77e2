import pathlib
import re

import pytest

from aichip import energy

BIB = pathlib.Path(__file__).resolve().parents[1] / "chapters" / "references.bib"


def test_table_schema_and_source():
    df = energy.load()
    assert list(df.columns) == ["operation", "precision", "energy_pJ", "source", "notes"]
    assert (df["energy_pJ"] > 0).all()
    assert not df.duplicated(["operation", "precision"]).any()
    keys = set(re.findall(r"@\w+\{([^,]+),", BIB.read_text()))
    assert set(df["source"]) <= keys
    for op in ("add", "mult"):
        for p in ("int8", "int32", "fp16", "fp32"):
            assert energy.op_energy_pJ(op, p) > 0


@pytest.mark.parametrize("operation, precision, pJ", [
    ("add", "int8", 0.03), ("add", "int32", 0.1), ("add", "fp16", 0.4), ("add", "fp32", 0.9),
    ("mult", "int8", 0.2), ("mult", "int32", 3.1), ("mult", "fp16", 1.1), ("mult", "fp32", 3.7),
    ("sram_8KB_read", "64bit", 10), ("sram_32KB_read", "64bit", 20),
    ("sram_1MB_read", "64bit", 100), ("dram_read", "64bit", 1300),
])
def test_values_from_horowitz_isscc_2014(operation, precision, pJ):
    assert energy.op_energy_pJ(operation, precision) == pytest.approx(pJ), \
        "Horowitz, ISSCC 2014, 45 nm energy table"


def test_table_holds_only_the_entries_of_horowitz_figure():
    # Horowitz's figure gives integer add and multiply at 8 and 32 bits, float add and multiply at
    # 16 and 32 bits, three SRAM sizes and DRAM; a row beyond those would have no source
    expected = {("add", "int8"), ("add", "int32"), ("add", "fp16"), ("add", "fp32"),
                ("mult", "int8"), ("mult", "int32"), ("mult", "fp16"), ("mult", "fp32"),
                ("sram_8KB_read", "64bit"), ("sram_32KB_read", "64bit"),
                ("sram_1MB_read", "64bit"), ("dram_read", "64bit")}
    df = energy.load()
    assert set(zip(df["operation"], df["precision"], strict=True)) == expected


def test_dot_product_energy_closed_form():
    e = energy.dot_product_energy(1000, "int8", "sram_8KB")
    # 1000 * (0.2 + 0.1) + 2000 bytes / 8 * 10 pJ
    assert e.total_pJ == pytest.approx(1000 * 0.3 + 250 * 10)
    assert e.pJ_per_mac == pytest.approx(e.total_pJ / 1000)
    fp32 = energy.dot_product_energy(1000, "fp32", "dram")
    assert fp32.memory_pJ == pytest.approx(1000 * 1300)
    assert fp32.accumulate_pJ == pytest.approx(900)


def test_lower_precision_and_nearer_memory_cost_less():
    levels = [energy.dot_product_energy(64, "fp16", m).total_pJ for m in energy.MEMORY_LEVELS]
    assert levels == sorted(levels)
    per_precision = [energy.dot_product_energy(64, p, "sram_8KB").total_pJ
                     for p in ("int8", "fp16", "fp32")]
    assert per_precision == sorted(per_precision)


def test_bad_input():
    with pytest.raises(ValueError, match="operation must be one of"):
        energy.op_energy_pJ("divide", "fp32")
    with pytest.raises(ValueError, match="precision must be one of"):
        energy.op_energy_pJ("mult", "int4")
    with pytest.raises(ValueError, match="n must be >= 1"):
        energy.dot_product_energy(0)
    with pytest.raises(ValueError, match="memory must be one of"):
        energy.dot_product_energy(8, "int8", "hbm")
    with pytest.raises(ValueError, match="precision must be one of"):
        energy.dot_product_energy(8, "int32")


def test_dot_energy_table_against_the_closed_form():
    table = energy.dot_energy_table(4096).set_index(["precision", "operands from"])
    assert len(table) == len(energy.DOT_PRECISIONS) * len(energy.MEMORY_LEVELS)
    # per MAC: multiply + accumulate + (2 operands x bytes / 8) 64-bit reads, Horowitz's numbers
    # typed here from the paper, not read from the package's table
    int8_sram = table.loc[("int8", "sram_8KB")]
    assert int8_sram["arithmetic (pJ/MAC)"] == pytest.approx(0.2 + 0.1)
    assert int8_sram["memory (pJ/MAC)"] == pytest.approx(2 * 1 / 8 * 10)
    fp32_dram = table.loc[("fp32", "dram")]
    assert fp32_dram["total (pJ/MAC)"] == pytest.approx(3.7 + 0.9 + 2 * 4 / 8 * 1300)
    fp16_1mb = table.loc[("fp16", "sram_1MB")]
    assert fp16_1mb["total (pJ/MAC)"] == pytest.approx(1.1 + 0.9 + 2 * 2 / 8 * 100)


def test_module_docstring_ratios_follow_the_table():
    # energy.py's docstring states these ratios; they must stay true of the data
    dram = energy.op_energy_pJ("dram_read", "64bit")
    mult8 = energy.op_energy_pJ("mult", "int8")
    assert round(dram / (mult8 + energy.op_energy_pJ("add", "int32")), -2) == 4300
    assert round(dram / (mult8 + energy.op_energy_pJ("add", "int8")), -2) == 5700
    assert 18 <= energy.op_energy_pJ("mult", "fp32") / mult8 < 19      # "about 18 times"
    assert "4,300" in energy.__doc__ and "5,700" in energy.__doc__


def test_dot_energy_table_bad_input():
    with pytest.raises(TypeError, match="precisions and memories must be lists"):
        energy.dot_energy_table(8, precisions="int8")
    with pytest.raises(ValueError, match="precisions and memories must each name"):
        energy.dot_energy_table(8, precisions=[])
    with pytest.raises(ValueError, match="memory must be one of"):
        energy.dot_energy_table(8, memories=["hbm"])
    with pytest.raises(ValueError, match="n must be >= 1"):
        energy.dot_energy_table(0)
