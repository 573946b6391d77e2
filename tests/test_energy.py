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
