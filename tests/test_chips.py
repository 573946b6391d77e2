import pathlib
import re

import pandas as pd
import pytest

from aichip import chips

BIB = pathlib.Path(__file__).resolve().parents[1] / "chapters" / "references.bib"


def _cell(name: str, field: str) -> float:
    """One catalogue number: a precision's peak (``"fp16"``) or a column (``"mem_GB"``)."""
    chip = chips.get(name)
    return chip.peak(field) if field in chips.PRECISIONS else getattr(chip, field)


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
    # every row has at least one throughput figure, or says in its notes why it has none
    has_peak = df[list(chips.PRECISIONS.values())].notna().any(axis=1)
    no_peak = df[~has_peak]
    assert set(no_peak["kind"]) <= {"Dataflow", "Neuromorphic", "Photonic"}, list(no_peak["name"])
    assert no_peak["notes"].str.contains("no ").all(), list(no_peak["name"])
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


def test_numeric_columns_are_float_and_years_whole():
    df = chips.load()
    for column in chips.NUMERIC_COLUMNS:
        if column == "year":
            assert pd.api.types.is_integer_dtype(df[column]), column
        else:
            assert pd.api.types.is_float_dtype(df[column]), column


def test_catalogue_covers_every_kind_with_at_least_30_devices():
    df = chips.load()
    assert len(df) >= 30
    assert set(df["kind"]) == set(chips.KINDS)


@pytest.mark.parametrize("name, field, value, source", [
    ("NVIDIA P100 SXM2", "fp64", 5.3, "NVIDIA Tesla P100 whitepaper: 5.3 TFLOPS FP64"),
    ("NVIDIA T4", "int8", 130, "NVIDIA T4 datasheet: 130 INT8 TOPS"),
    ("NVIDIA T4", "int4", 260, "NVIDIA T4 datasheet: 260 INT4 TOPS"),
    ("NVIDIA H200 SXM", "fp8", 1979,
     "NVIDIA H200 datasheet: 3958 TFLOPS FP8 with sparsity, half dense"),
    ("AMD Instinct MI300X", "bf16", 1307.4, "AMD MI300X datasheet: 1307.4 TFLOPS BF16 dense"),
    ("AMD Instinct MI250X", "fp16", 383, "AMD MI250X specifications: 383 TFLOPS FP16"),
    ("Google TPU v3", "bf16", 123, "Jouppi et al. ISCA 2021, Table 1: TPUv3 123 TFLOPS"),
    ("Google TPU v4i", "bf16", 138, "Jouppi et al. ISCA 2021, Table 1: TPUv4i 138 TFLOPS"),
    ("Google TPU v4", "bf16", 275, "Jouppi et al. ISCA 2023: TPU v4 275 TFLOPS BF16"),
    ("HiSilicon Kirin 970 NPU", "fp16", 1.92, "Huawei IFA 2017: NPU 1.92 TFLOPS FP16"),
    ("Groq TSP", "int8", 750, "GroqChip product brief: 750 TOPS INT8"),
    ("Groq TSP", "fp16", 188, "GroqChip product brief: 188 TFLOPS FP16"),
    ("Graphcore Colossus MK2 GC200", "fp16", 250,
     "Graphcore GC200 specifications: 250 TFLOPS FP16"),
    ("Graphcore Colossus MK1 GC2", "fp32", 31.1, "Jia et al. 2019: GC2 31.1 TFLOPS FP32"),
    ("SambaNova SN40L", "bf16", 638, "Prabhakar, Hot Chips 2024: SN40L 638 TFLOPS BF16"),
    ("IBM HERMES PCM chip", "int8", 63.1, "Le Gallo et al. 2023: 63.1 TOPS one-phase 8-bit MVM"),
    ("Cerebras WSE-2", "mem_GB", 40, "Cerebras WSE-2 announcement: 40 GB on-wafer SRAM"),
    ("Cerebras WSE-2", "mem_bw_GBps", 20e6, "Cerebras WSE-2 announcement: 20 PB/s"),
    ("Cerebras WSE", "mem_GB", 18, "Cerebras WSE-2 announcement, WSE-1 column: 18 GB SRAM"),
    ("NVIDIA H200 SXM", "mem_bw_GBps", 4800, "NVIDIA H200 datasheet: 4.8 TB/s"),
    ("AMD Instinct MI300X", "mem_GB", 192, "AMD MI300X datasheet: 192 GB HBM3"),
    ("Google TPU v4i", "tdp_W", 175, "Jouppi et al. ISCA 2021, Table 1: TPUv4i TDP 175 W"),
    ("Groq TSP", "mem_bw_GBps", 80000, "GroqChip product brief: 80 TB/s on-die memory bandwidth"),
    ("IBM HERMES PCM chip", "process_nm", 14, "Le Gallo et al. 2023: 14 nm CMOS"),
])
def test_more_values_against_sources(name, field, value, source):
    assert _cell(name, field) == pytest.approx(value), source


def test_efficiency_is_peak_over_tdp():
    df = chips.load().set_index("name", drop=False)
    eff = chips.efficiency_TOPs_per_W(df)
    # T4: best low-precision rate is INT8 130 TOPS (INT4 is not in the default list) at 70 W
    assert eff["NVIDIA T4"] == pytest.approx(130 / 70)
    assert eff["NVIDIA V100 SXM2"] == pytest.approx(125 / 300)
    assert pd.isna(eff["IBM TrueNorth"])
    only_fp32 = chips.efficiency_TOPs_per_W(df, precisions=("fp32",))
    assert only_fp32["NVIDIA H100 SXM5"] == pytest.approx(67 / 700)


def test_efficiency_rejects_bad_input():
    with pytest.raises(ValueError, match="precisions must be drawn from"):
        chips.peak_TOPs(chips.load(), precisions=("fp12",))
    with pytest.raises(TypeError, match="df must be a catalogue DataFrame"):
        chips.efficiency_TOPs_per_W([1, 2, 3])


def test_fpga_and_edge_values_against_sources():
    # Langhammer et al., FPGA 2021: 143 INT8 TOPS and 286 INT4 TOPS at 600 MHz
    nx = chips.get("Intel Stratix 10 NX")
    assert (nx.peak("int8"), nx.peak("int4")) == (143, 286)
    # Talpes et al., IEEE Micro 2020: two NPUs of 36.86 TOPS at 2 GHz
    assert chips.get("Tesla FSD chip").peak("int8") == pytest.approx(2 * 36.86, abs=0.05)


def test_gib_capacities_are_converted_to_gb():
    # GB = 1e9 bytes throughout; sources that state GiB (Jouppi et al. 2021, 2023; A64FX) are
    # converted: 32 GiB = 34.36 GB, 16 GiB = 17.18 GB, 8 GiB = 8.59 GB
    for name, gib in [("Google TPU v3", 32), ("Google TPU v2", 16), ("Google TPU v4i", 8),
                      ("Google TPU v4", 32), ("Fujitsu A64FX", 32), ("Google TPU v1", 8)]:
        assert chips.get(name).mem_GB == pytest.approx(gib * 2**30 / 1e9, abs=0.01), name


@pytest.mark.parametrize("name, clock_MHz, source", [
    ("Google TPU v1", 700, "Jouppi et al. 2017, Table 2: 700 MHz"),
    ("NVIDIA P100 SXM2", 1480, "NVIDIA P100 whitepaper, Table 1: GPU Boost Clock 1480 MHz"),
    ("Fujitsu A64FX", 2000, "Sato et al. SC 2020: peak rates at 2.0 GHz"),
    ("Tesla FSD chip", 2000, "Talpes et al. IEEE Micro 2020: NPUs at 2 GHz"),
    ("Intel Stratix 10 NX", 600, "Langhammer et al. FPGA 2021: tensor blocks at 600 MHz"),
    ("Groq TSP", 900, "GroqChip product brief: 900 MHz"),
    ("Graphcore Colossus MK1 GC2", 1600, "Jia et al. 2019: 1.6 GHz"),
])
def test_clocks_against_sources(name, clock_MHz, source):
    assert chips.get(name).clock_MHz == clock_MHz, source


@pytest.mark.parametrize("name, precision, units, ops_per_unit_per_cycle", [
    # the peak is units x operations per unit per cycle x clock: an arithmetic check of each row
    ("Google TPU v1", "int8", 256 * 256, 2),  # 65,536 MACs (Jouppi et al. 2017)
    ("NVIDIA P100 SXM2", "fp32", 3584, 2),  # 3,584 FP32 cores, one FMA each (P100 whitepaper)
    ("Tesla FSD chip", "int8", 2 * 96 * 96, 2),  # two NPUs of 96 x 96 MACs (Talpes et al. 2020)
    ("Graphcore Colossus MK1 GC2", "fp32", 1216, 16),  # 1,216 tiles, 16 FP32 flops/cycle (Jia)
])
def test_peak_is_units_times_clock(name, precision, units, ops_per_unit_per_cycle):
    chip = chips.get(name)
    assert chip.peak(precision) == pytest.approx(
        units * ops_per_unit_per_cycle * chip.clock_MHz * 1e6 / 1e12, rel=0.005)


def test_gc2_on_chip_memory_against_source():
    # Jia et al. 2019: 1,216 tiles x 256 KiB = 304 MiB of SRAM, 45 TB/s aggregate bandwidth
    gc2 = chips.get("Graphcore Colossus MK1 GC2")
    assert gc2.mem_GB == pytest.approx(1216 * 256 * 2**10 / 1e9, abs=1e-4)
    assert gc2.mem_GB == pytest.approx(304 * 2**20 / 1e9, abs=1e-4)
    assert gc2.mem_bw_GBps == 45_000


def test_derived_fields_select_and_best_so_far():
    df = pd.DataFrame({
        "name": ["a", "b", "c", "d"], "kind": ["GPU", "ASIC", "GPU", "CPU"],
        "year": [2015, 2016, 2018, 2018], "tdp_W": [100.0, 50.0, None, 200.0],
        **{c: [None] * 4 for c in chips.PRECISIONS.values()}})
    df["fp32_TFLOPs"] = [10.0, 2.0, 30.0, 1.0]
    df["int8_TOPs"] = [None, 40.0, None, 8.0]
    out = chips.with_derived_fields(df)
    assert list(out["peak_TOPs"]) == [10.0, 40.0, 30.0, 8.0]
    assert out["efficiency_TOPs_per_W"].tolist()[:2] == [0.1, 0.8]
    assert pd.isna(out["efficiency_TOPs_per_W"][2]) and out["efficiency_TOPs_per_W"][3] == 0.04
    assert list(chips.select(out, kinds=("GPU",))["name"]) == ["a", "c"]
    assert list(chips.select(out, years=(2016, 2018), require=("tdp_W",))["name"]) == ["b", "d"]
    best = chips.best_so_far(out)
    assert best.to_dict() == {2015: 0.1, 2016: 0.8, 2018: 0.8}
    assert chips.most(out)["name"] == "b"
    assert chips.most(out, "peak_TOPs")["name"] == "b"
    assert chips.peak_precisions(out.iloc[1]) == ["int8"]
    assert chips.peak_precisions(out.iloc[0]) == ["fp32"]
    # H100 datasheet: FP8 and INT8 both 1,979 dense; its fp32 rate is 67
    h100 = chips.load().set_index("name").loc["NVIDIA H100 SXM5"]
    assert chips.peak_precisions(h100) == ["int8", "fp8"]
    assert chips.peak_precisions(h100, ("fp32", "bf16")) == ["bf16"]


@pytest.mark.parametrize("call, exc, text", [
    (lambda: chips.with_derived_fields([1]), TypeError, "df must be a catalogue DataFrame"),
    (lambda: chips.select(chips.load(), kinds=("TPU",)), ValueError, "kinds must be drawn from"),
    (lambda: chips.select(chips.load(), years=(2020, 2010)), ValueError, "years must be a"),
    (lambda: chips.select(chips.load(), require=("price",)), ValueError, "require must name"),
    (lambda: chips.best_so_far(chips.load(), "price"), ValueError, "column must be a column"),
    (lambda: chips.most(chips.load(), "price"), ValueError, "column must be a column"),
    (lambda: chips.peak_precisions({"a": 1}), TypeError, "row must be one catalogue row"),
    (lambda: chips.peak_precisions(chips.load().iloc[0], ("fp12",)), ValueError,
     "precisions must be drawn from"),
])
def test_catalogue_helpers_reject_bad_input(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


# --- the 2026 rows (issue 25), each typed from the source its row cites -------------------------
@pytest.mark.parametrize("name, field, value, source", [
    ("NVIDIA GB300 B300", "fp4", 15000, "GB300 NVL72: 1,080 PFLOPS dense FP4 over 72 GPUs"),
    ("NVIDIA GB300 B300", "bf16", 2500, "GB300 NVL72: 360 PFLOPS dense BF16 / 72"),
    ("NVIDIA HGX B300", "fp4", 13125, "HGX B300 (secondary copy): 105 PFLOPS dense FP4 / 8"),
    ("NVIDIA B200 SXM", "fp4", 9000, "DGX B200: 144 PFLOPS FP4 sparse / 8 / 2"),
    ("NVIDIA H800 SXM5", "fp64", 1, "H800 (secondary reports): FP64 1 TFLOPS"),
    ("NVIDIA H800 SXM5", "bf16", 989.5, "H800 (secondary reports): 1,979 TFLOPS BF16 sparse"),
    ("NVIDIA H20", "bf16", 148, "H20 (secondary reports): 148 TFLOPS BF16"),
    ("AMD Instinct MI325X", "fp8", 2614.9, "MI325X (MI300X rates): 2614.9 TFLOPS FP8"),
    ("AMD Instinct MI355X", "fp4", 10066.3, "MI355X: 256 CUs x 2.4 GHz x 16384 (AMD: 10 PFLOPS)"),
    ("Google TPU v5e", "bf16", 197, "Cloud TPU v5e: 197 TFLOPs BF16"),
    ("Google TPU v5p", "bf16", 459, "Cloud TPU v5p: 459 TFLOPs BF16"),
    ("Google TPU v6e Trillium", "int8", 1836, "Cloud TPU v6e: 1836 TOPs INT8"),
    ("Google TPU7x Ironwood", "fp8", 4614, "Ironwood: 4,614 TFLOPS FP8"),
    ("AWS Trainium2", "fp8", 1299, "Neuron docs: 1,299 FP8 TFLOPS"),
    ("AWS Trainium3", "fp4", 2517, "Neuron docs: 2,517 MXFP8/MXFP4 TFLOPS"),
    ("Intel Gaudi 3", "bf16", 1835, "Hot Chips 2024: 1835 BF16 matrix TFLOPS"),
    ("Huawei Ascend 910", "fp16", 256, "Hot Chips 2019: 256 TFLOPS FP16"),
    ("Huawei Ascend 910C", "bf16", 752, "CloudMatrix384 paper: about 752 TFLOPS dense BF16"),
    ("Cambricon MLU370-X8", "int8", 256, "Cambricon: MLU370-X8 256 TOPS INT8"),
    ("Cerebras WSE-3", "mem_GB", 44, "Cerebras WSE-3: 44 GB on-chip SRAM"),
])
def test_2026_values_against_sources(name, field, value, source):
    assert _cell(name, field) == pytest.approx(value), source


def test_fp4_is_a_precision_and_dense():
    df = chips.load()
    assert chips.PRECISIONS["fp4"] == "fp4_TFLOPs"
    fp4 = df[df["fp4_TFLOPs"].notna()]
    assert len(fp4) >= 5
    # no chip's dense FP4 rate is more than four times its FP8 rate (a sparse figure would be 8x)
    both = fp4[fp4["fp8_TFLOPs"].notna()]
    assert (both["fp4_TFLOPs"] <= 4 * both["fp8_TFLOPs"] + 1e-9).all()


def test_export_variants_cut_what_the_rules_name():
    h100, h800, h20 = (chips.get(n) for n in ("NVIDIA H100 SXM5", "NVIDIA H800 SXM5", "NVIDIA H20"))
    assert h800.peak("bf16") == h100.peak("bf16") and h800.peak("fp64") < h100.peak("fp64") / 50
    assert h20.peak("bf16") < 0.2 * h100.peak("bf16") and h20.mem_bw_GBps > h100.mem_bw_GBps


# Each chip's rates at different precisions are tied by its datapath: halving the operand width
# doubles the MACs a matrix unit does per clock on these designs, and FP16 and BF16 share one
# datapath. The vendors' datasheets print every rate; these are the ratios those rates stand in
# (dense rates throughout), so a changed rate breaks its chip's ladder.
LADDERS = [
    # (chips, higher-rate field, lower-rate field, ratio, where the ratio is stated)
    (["NVIDIA A100 SXM4 80GB", "NVIDIA T4"], "int8", "fp16", 2,
     "A100 and T4 datasheets: INT8 TOPS twice FP16 TFLOPS"),
    (["NVIDIA A100 SXM4 80GB", "NVIDIA T4"], "int4", "int8", 2, "A100 and T4 datasheets"),
    (["NVIDIA A100 SXM4 80GB", "NVIDIA H100 SXM5", "NVIDIA H200 SXM", "NVIDIA H800 SXM5",
      "NVIDIA H20", "NVIDIA GB300 B300", "NVIDIA HGX B300", "AMD Instinct MI300X",
      "AMD Instinct MI325X"], "fp16", "tf32", 2, "NVIDIA and AMD datasheets: TF32 half of FP16"),
    (["NVIDIA H100 SXM5", "NVIDIA H200 SXM", "NVIDIA H800 SXM5", "NVIDIA H20",
      "NVIDIA B200 SXM", "NVIDIA GB200 B200", "NVIDIA GB300 B300", "NVIDIA HGX B300",
      "AMD Instinct MI300X", "AMD Instinct MI325X", "AMD Instinct MI355X"], "fp8", "fp16", 2,
     "Hopper, Blackwell and CDNA 3/4 datasheets: FP8 twice FP16"),
    (["NVIDIA H100 SXM5", "NVIDIA H200 SXM", "NVIDIA H800 SXM5", "NVIDIA H20",
      "AMD Instinct MI300X", "AMD Instinct MI325X", "AMD Instinct MI355X"], "int8", "fp8", 1,
     "Hopper and CDNA 3/4: INT8 TOPS equal FP8 TFLOPS"),
    (["AMD Instinct MI250X"], "int8", "fp16", 1, "AMD MI250X datasheet: 383 TOPS INT8 and FP16"),
    (["NVIDIA B200 SXM", "NVIDIA GB200 B200", "AMD Instinct MI355X"], "fp4", "fp8", 2,
     "Blackwell and MI355X datasheets: FP4 twice FP8"),
    (["NVIDIA GB300 B300"], "fp4", "fp8", 3, "Blackwell Ultra: 1.5 x Blackwell's FP4 (15 PF)"),
    (["Google TPU v5e", "Google TPU v5p", "Google TPU v6e Trillium"], "int8", "bf16", 2,
     "Cloud TPU pages: INT8 TOPS twice BF16 TFLOPS"),
    (["Google TPU v4", "Google TPU v4i"], "int8", "bf16", 1, "Jouppi et al. 2021, 2023"),
    (["Google TPU7x Ironwood"], "fp8", "bf16", 2, "Google's Ironwood announcement"),
    (["Huawei Ascend 910"], "int8", "fp16", 2, "Hot Chips 2019: 256 TFLOPS FP16, 512 TOPS INT8"),
    (["Intel Stratix 10 NX", "Cambricon MLU370-X8"], "int4", "int8", 2, "datasheets"),
    (["Intel Gaudi 3"], "fp8", "bf16", 1, "Intel Gaudi 3 white paper: 1835 TFLOPS each"),
    (["NVIDIA V100 SXM2", "NVIDIA P100 SXM2", "Fujitsu A64FX"], "fp32", "fp64", 2,
     "datasheets: FP64 half of FP32 on these"),
    (["NVIDIA Tesla K80"], "fp32", "fp64", 3, "Kepler GK210: FP64 a third of FP32"),
    (["Fujitsu A64FX"], "fp16", "fp32", 2, "Sato et al. 2020: SVE FP16 at twice FP32"),
    (["Graphcore Colossus MK1 GC2"], "fp16", "fp32", 4,
     "Jia et al. 2019: 124.5 TFLOPS FP16.32, 31.1 FP32"),
    (["AWS Trainium2", "AWS Trainium3"], "tf32", "bf16", 1,
     "Neuron docs: TF32 at the BF16 rate (667 and 671 TFLOPS)"),
    (["AWS Trainium3"], "fp8", "fp4", 1, "Neuron docs: 2,517 TFLOPS MXFP8 and MXFP4 alike"),
    (["Fujitsu A64FX"], "int8", "fp16", 2, "Sato et al. 2020: INT8 dot products at twice FP16"),
    (["AMD Instinct MI250X", "AMD Instinct MI300X", "AMD Instinct MI325X"], "fp32", "fp64", 1,
     "CDNA 2 and 3 matrix cores: FP32 and FP64 matrix rates equal (95.7, 163.4 TFLOPS)"),
]


@pytest.mark.parametrize("names, high, low, ratio, source", LADDERS)
def test_rates_keep_each_chips_precision_ladder(names, high, low, ratio, source):
    # to 1%: the vendors round each rate on its own (V100: 15.7 and 7.8; TPU v5e: 197 and 393)
    for name in names:
        chip = chips.get(name)
        assert chip.peak(high) == pytest.approx(ratio * chip.peak(low), rel=0.01), (name, source)


def test_fp16_and_bf16_run_at_one_rate_wherever_both_are_listed():
    # one datapath for both 16-bit formats on every chip that lists both (15 of them)
    both = [c for c in chips.load().itertuples()
            if c.fp16_TFLOPs == c.fp16_TFLOPs and c.bf16_TFLOPs == c.bf16_TFLOPs]
    assert len(both) >= 15
    for c in both:
        assert c.fp16_TFLOPs == c.bf16_TFLOPs, c.name


@pytest.mark.parametrize("name, field, value, source", [
    ("Google TPU v3", "tdp_W", 450, "Jouppi et al. 2021 (ten lessons), Table 1: TPUv3 450 W"),
    ("Xilinx Alveo U250", "process_nm", 16, "Xilinx Alveo U250 data sheet: 16 nm UltraScale+"),
    ("Mythic M1076", "int8", 25, "Mythic M1076 product brief: up to 25 TOPS"),
    ("Intel Gaudi 3", "process_nm", 5, "Intel Gaudi 3 white paper: TSMC 5 nm"),
    ("Cambricon MLU370-X8", "mem_GB", 48, "Cambricon MLU370-X8 page: 48 GB LPDDR5"),
    ("Xilinx Alveo U280", "mem_GB", 8, "Xilinx Alveo U280 data sheet: 8 GB HBM2"),
    ("Xilinx Alveo U280", "mem_bw_GBps", 460, "Xilinx Alveo U280 data sheet: 460 GB/s"),
    ("AMD Instinct MI355X", "mem_GB", 288, "AMD MI355X: 288 GB HBM3E"),
    ("Huawei Ascend 910C", "mem_GB", 128, "CloudMatrix384 paper: 128 GB of HBM per 910C"),
    ("Huawei Ascend 910C", "mem_bw_GBps", 3200, "CloudMatrix384 paper: 3.2 TB/s per 910C"),
    ("NVIDIA H200 SXM", "process_nm", 4, "NVIDIA H200: TSMC 4N, as H100"),
    ("Google TPU v2", "tdp_W", 280, "Jouppi et al. 2021 (ten lessons), Table 1: TPUv2 280 W"),
    ("Google TPU v4", "mem_bw_GBps", 1200, "Jouppi et al. 2023, Table: TPU v4 HBM 1200 GB/s"),
    ("Xilinx Alveo U280", "process_nm", 16, "Xilinx Alveo U280 data sheet: 16 nm UltraScale+"),
    ("NVIDIA H20", "fp32", 44, "H20 specification sheet (secondary; no NVIDIA datasheet)"),
    ("NVIDIA H20", "mem_GB", 96, "H20 specification sheet: 96 GB HBM3"),
    ("Cambricon MLU370-X8", "mem_bw_GBps", 614.4, "Cambricon MLU370-X8 page: 614.4 GB/s"),
])
def test_remaining_values_against_sources(name, field, value, source):
    assert _cell(name, field) == pytest.approx(value), source


def test_gb300_is_one_seventy_second_of_its_rack():
    # NVIDIA's GB300 NVL72 page gives rack figures for 72 GPUs: 100 TFLOPS FP64, 6 PFLOPS FP32
    gpu = chips.get("NVIDIA GB300 B300")
    assert gpu.peak("fp64") == pytest.approx(100 / 72, abs=0.005)
    assert gpu.peak("fp32") == pytest.approx(6000 / 72, abs=0.05)


def test_mi355x_peak_is_its_cus_times_clock():
    # CDNA 4: 256 CUs, each 4,096 dense FP16 FLOPs per clock (twice CDNA 3's 2,048: MI300X's
    # 304 CUs x 2,048 x 2,100 MHz = 1307.4 TFLOPS), at 2,400 MHz
    mi300x, mi355x = chips.get("AMD Instinct MI300X"), chips.get("AMD Instinct MI355X")
    assert mi300x.peak("fp16") == pytest.approx(304 * 2048 * 2100e6 / 1e12, rel=1e-4)
    assert mi355x.peak("fp16") == pytest.approx(256 * 4096 * mi355x.clock_MHz * 1e6 / 1e12,
                                                rel=1e-4)


# Every remaining number of the catalogue that no test above ties to its source: year, process,
# memory, memory bandwidth, power, clock and the rates the ladders leave out, typed from each row's
# cited source (GiB capacities converted to GB, as the table stores them; year of announcement or,
# for Google's first TPUs, of deployment, as the papers give it).
PRIMARY_CHIPS = {
    "NVIDIA V100 SXM2": ("V100 datasheet", dict(year=2017, process_nm=12, mem_GB=32,
                                                mem_bw_GBps=900, tdp_W=300)),
    "NVIDIA A100 SXM4 80GB": ("A100 datasheet", dict(year=2020, process_nm=7, mem_GB=80,
                                                     mem_bw_GBps=2039, tdp_W=400)),
    "NVIDIA H100 SXM5": ("H100 datasheet", dict(year=2022, process_nm=4, mem_GB=80,
                                                mem_bw_GBps=3350, tdp_W=700)),
    "Google TPU v1": ("Jouppi et al. 2017", dict(year=2015, process_nm=28, mem_GB=8 * 1.073741824,
                                                 mem_bw_GBps=34, tdp_W=75, clock_MHz=700)),
    "NVIDIA Tesla K80": ("K80 datasheet", dict(year=2014, process_nm=28, mem_GB=24,
                                               mem_bw_GBps=480, tdp_W=300)),
    "NVIDIA P100 SXM2": ("P100 whitepaper", dict(year=2016, process_nm=16, mem_GB=16,
                                                 mem_bw_GBps=732, tdp_W=300, clock_MHz=1480)),
    "NVIDIA T4": ("T4 datasheet", dict(year=2018, process_nm=12, mem_GB=16, mem_bw_GBps=320,
                                       tdp_W=70, fp32=8.1)),
    "NVIDIA H200 SXM": ("H200 datasheet", dict(year=2024, mem_GB=141, tdp_W=700)),
    "AMD Instinct MI250X": ("MI250X datasheet", dict(year=2021, process_nm=6, mem_GB=128,
                                                     mem_bw_GBps=3276.8, tdp_W=560)),
    "AMD Instinct MI300X": ("MI300X datasheet", dict(year=2023, process_nm=5, mem_bw_GBps=5300,
                                                     tdp_W=750)),
    "Fujitsu A64FX": ("Sato et al. 2020", dict(year=2019, process_nm=7, mem_GB=32 * 1.073741824,
                                               mem_bw_GBps=1024, clock_MHz=2000)),
    "Google TPU v2": ("Jouppi et al. 2021", dict(year=2017, process_nm=16, bf16=46,
                                                 mem_GB=16 * 1.073741824, mem_bw_GBps=700)),
    "Google TPU v3": ("Jouppi et al. 2021", dict(year=2018, process_nm=16,
                                                 mem_GB=32 * 1.073741824, mem_bw_GBps=900)),
    "Google TPU v4i": ("Jouppi et al. 2021", dict(year=2020, process_nm=7,
                                                  mem_GB=8 * 1.073741824, mem_bw_GBps=614)),
    "Google TPU v4": ("Jouppi et al. 2023", dict(year=2020, process_nm=7,
                                                 mem_GB=32 * 1.073741824)),
    "Google Edge TPU": ("Coral Edge TPU page: 4 TOPS at 2 W", dict(year=2019, tdp_W=2,
                                                                   int8=4)),
    "Tesla FSD chip": ("Talpes et al. 2020", dict(year=2019, process_nm=14, mem_bw_GBps=68)),
    "HiSilicon Kirin 970 NPU": ("Huawei Kirin 970 launch", dict(year=2017, process_nm=10)),
    "Intel Stratix 10 NX": ("Langhammer et al. 2021", dict(year=2020, process_nm=14)),
    "Xilinx Alveo U250": ("Alveo data sheet: 33.3 INT8 TOPS", dict(
        year=2018, mem_GB=64, mem_bw_GBps=77, tdp_W=225, int8=33.3)),
    "Xilinx Alveo U280": ("Alveo data sheet: 24.5 INT8 TOPS", dict(year=2018, tdp_W=225,
                                                                   int8=24.5)),
    "Graphcore Colossus MK1 GC2": ("Jia et al. 2019: 304 MiB, 45 TB/s",
                                   dict(year=2018, process_nm=16, mem_GB=304 * 2**20 / 1e9,
                                        mem_bw_GBps=45000)),
    "Graphcore Colossus MK2 GC200": ("GC200 specifications: 900 MB, 47.5 TB/s",
                                     dict(year=2020, process_nm=7, mem_GB=0.9,
                                          mem_bw_GBps=47500, fp32=62.5)),
    "Cerebras WSE": ("Cerebras: 18 GB, 9 PB/s, 16 nm", dict(year=2019, process_nm=16,
                                                            mem_bw_GBps=9e6)),
    "Cerebras WSE-2": ("Cerebras WSE-2: 7 nm", dict(year=2021, process_nm=7)),
    "SambaNova SN40L": ("Prabhakar et al. 2024: 64 GB HBM, 5 nm", dict(year=2023, process_nm=5,
                                                                       mem_GB=64)),
    "Groq TSP": ("Abts et al. 2020: 230 MB SRAM, 14 nm", dict(year=2020, process_nm=14,
                                                              mem_GB=0.23)),
    "IBM TrueNorth": ("Merolla et al. 2014", dict(year=2014, process_nm=28)),
    "Intel Loihi": ("Davies et al. 2018", dict(year=2018, process_nm=14)),
    "IBM HERMES PCM chip": ("Le Gallo et al. 2023", dict(year=2023)),
    "Mythic M1076": ("Mythic M1076 brief", dict(year=2021, process_nm=40)),
    "MIT coherent nanophotonic processor": ("Shen et al. 2017", dict(year=2017)),
    "NVIDIA B200 SXM": ("DGX B200: 1,440 GB over 8 GPUs, 8 TB/s, 1000 W",
                        dict(year=2024, process_nm=4, mem_GB=180, mem_bw_GBps=8000, tdp_W=1000)),
    "NVIDIA GB200 B200": ("GB200 NVL72: 13.4 TB over 72 GPUs, 8 TB/s",
                          dict(year=2024, process_nm=4, mem_GB=186, mem_bw_GBps=8000)),
    "NVIDIA GB300 B300": ("GB300 NVL72: 288 GB HBM3E, 8 TB/s", dict(year=2025, process_nm=4,
                                                                     mem_GB=288,
                                                                     mem_bw_GBps=8000)),
    "NVIDIA HGX B300": ("HGX B300 (secondary, as the row says): 288 GB, 8 TB/s; the board's "
                        "600 TFLOPS FP32 and 10 TFLOPS FP64 over 8 GPUs",
                        dict(year=2025, process_nm=4, mem_GB=288, mem_bw_GBps=8000,
                             fp32=600 / 8, fp64=10 / 8)),
    "NVIDIA H800 SXM5": ("H800: the H100 SXM5's memory and power", dict(
        year=2023, process_nm=4, mem_GB=80, mem_bw_GBps=3350, tdp_W=700)),
    "NVIDIA H20": ("H20 specification sheet: FP64 1 TFLOPS", dict(
        year=2024, process_nm=4, mem_bw_GBps=4000, tdp_W=400, fp64=1)),
    "AMD Instinct MI325X": ("MI325X datasheet", dict(year=2024, process_nm=5, mem_GB=256,
                                                     mem_bw_GBps=6000, tdp_W=1000,
                                                     clock_MHz=2100)),
    "AMD Instinct MI355X": ("MI355X: FP64 78.6, FP32 157.3 TFLOPS vector", dict(
        year=2025, process_nm=3, mem_bw_GBps=8000, tdp_W=1400, fp64=78.6, fp32=157.3)),
    "Google TPU v5e": ("Cloud TPU v5e page", dict(year=2023, mem_GB=16, mem_bw_GBps=819)),
    "Google TPU v5p": ("Cloud TPU v5p page: HBM2e 95 GB, 2765 GBps (GB as printed)",
                       dict(year=2023, mem_GB=95, mem_bw_GBps=2765)),
    "Google TPU v6e Trillium": ("Cloud TPU v6e page", dict(year=2024, mem_GB=32,
                                                           mem_bw_GBps=1638)),
    "Google TPU7x Ironwood": ("Ironwood announcement", dict(year=2025, mem_GB=192,
                                                            mem_bw_GBps=7380)),
    "AWS Trainium2": ("Neuron docs: 96 GiB, 2.9 TB/s, FP32 181", dict(
        year=2024, mem_GB=96 * 1.073741824, mem_bw_GBps=2900, fp32=181)),
    "AWS Trainium3": ("Neuron docs: 144 GiB, 4.9 TB/s, FP32 183", dict(
        year=2025, mem_GB=144 * 1.073741824, mem_bw_GBps=4900, fp32=183)),
    "Intel Gaudi 3": ("Intel Gaudi 3 white paper: 128 GB HBM2e at 3.67 TB/s, 900 W", dict(
        year=2024, mem_GB=128, mem_bw_GBps=3670, tdp_W=900)),
    "Huawei Ascend 910": ("Liao et al., Hot Chips 2019: 7 nm, 350 W", dict(
        year=2019, process_nm=7, tdp_W=350)),
    "Huawei Ascend 910C": ("Zuo et al. 2025", dict(year=2025)),
    "Cambricon MLU370-X8": ("Cambricon MLU370-X8 page: 7 nm, 250 W, FP32 32 TFLOPS", dict(
        year=2022, process_nm=7, tdp_W=250, fp32=32)),
    "Cerebras WSE-3": ("Cerebras WSE-3: 5 nm, 21 PB/s", dict(year=2024, process_nm=5,
                                                             mem_bw_GBps=21e6)),
}


@pytest.mark.parametrize("name", sorted(PRIMARY_CHIPS))
def test_every_remaining_cell_against_its_source(name):
    source, fields = PRIMARY_CHIPS[name]
    for field, value in fields.items():
        assert _cell(name, field) == pytest.approx(value, rel=1e-3), (name, field, source)


def test_h200_and_h800_compute_is_the_h100s():
    # NVIDIA: the H200 has the H100 SXM's compute with more memory; the H800 is the H100 SXM with
    # NVLink and FP64 cut (its FP64 is tested above), every other rate the H100's
    table = chips.load().set_index("name")
    rates = [c for c in table.columns if c.endswith(("_TFLOPs", "_TOPs"))]
    h100 = table.loc["NVIDIA H100 SXM5", rates]
    for name, cut in (("NVIDIA H200 SXM", []), ("NVIDIA H800 SXM5", ["fp64_TFLOPs"])):
        keep = [c for c in rates if c not in cut]
        assert table.loc[name, keep].equals(h100[keep]), name
