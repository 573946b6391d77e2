"""GPU hardware data, derived peaks, SIMT counts and the Tensor Core MMA emulation."""

import numpy as np
import pytest

from aichip import chips, gpu

# --- derived peaks against the datasheet peaks of the catalogue (chips.csv) --------------------

# (gpu, precision): the datasheet figure in TFLOP/s, typed from the datasheet it cites
DATASHEET = {
    ("NVIDIA V100 SXM2", "fp16"): 125,        # V100 datasheet, Tensor Core
    ("NVIDIA T4", "fp16"): 65, ("NVIDIA T4", "int8"): 130, ("NVIDIA T4", "int4"): 260,
    ("NVIDIA A100 SXM4 80GB", "fp16"): 312, ("NVIDIA A100 SXM4 80GB", "bf16"): 312,
    ("NVIDIA A100 SXM4 80GB", "tf32"): 156, ("NVIDIA A100 SXM4 80GB", "int8"): 624,
    ("NVIDIA A100 SXM4 80GB", "fp64"): 19.5,
    ("NVIDIA H100 SXM5", "fp16"): 989.5, ("NVIDIA H100 SXM5", "fp8"): 1979,
    ("NVIDIA H100 SXM5", "tf32"): 494.5, ("NVIDIA H100 SXM5", "fp64"): 67,
    # GB300 NVL72 rack figures / 72: the BF16 one fixes the implied clock, the others check it
    ("NVIDIA GB300 B300", "bf16"): 2500, ("NVIDIA GB300 B300", "tf32"): 1250,
    ("NVIDIA GB300 B300", "fp8"): 5000, ("NVIDIA GB300 B300", "fp4"): 15000,
    # DGX B200 datasheet (8 GPUs, sparse) / 8 / 2: FP8 4500, FP4 9000; BF16 fixes the clock
    ("NVIDIA B200 SXM", "bf16"): 2250, ("NVIDIA B200 SXM", "fp8"): 4500,
    ("NVIDIA B200 SXM", "fp4"): 9000,
}


@pytest.mark.parametrize("name,precision", sorted(DATASHEET))
def test_tensor_core_peak_matches_datasheet_within_1_percent(name, precision):
    derived = gpu.tensor_core_peak_TFLOPs(name, precision)
    assert derived == pytest.approx(DATASHEET[name, precision], rel=0.01)
    assert derived == pytest.approx(chips.get(name).peak(precision), rel=0.01)


def test_every_derived_peak_within_1_percent_of_the_catalogue():
    table = gpu.peak_check()
    assert len(table) >= 20
    assert np.all(np.abs(table["ratio"] - 1) < 0.01), table[np.abs(table["ratio"] - 1) >= 0.01]


def test_a100_peak_by_hand():
    # 108 SMs x 4 Tensor Cores x 256 FMA/clock x 2 FLOP x 1.41 GHz (A100 whitepaper)
    assert gpu.tensor_core_peak_TFLOPs("NVIDIA A100 SXM4 80GB", "fp16") == pytest.approx(
        108 * 4 * 256 * 2 * 1.41e9 / 1e12)


def test_h100_quotes_tensor_and_fp64_peaks_at_different_clocks():
    # 989.4 TFLOPs FP16 needs 1830 MHz; 67 TFLOPs FP64 Tensor Core needs 1980 MHz
    assert gpu.tensor_core_peak_TFLOPs("NVIDIA H100 SXM5", "fp16") == pytest.approx(
        132 * 4 * 512 * 2 * 1.83e9 / 1e12)
    assert gpu.tensor_core_peak_TFLOPs("NVIDIA H100 SXM5", "fp64") == pytest.approx(
        132 * 4 * 32 * 2 * 1.98e9 / 1e12)


def test_cuda_core_peaks():
    assert gpu.cuda_core_peak_TFLOPs("NVIDIA P100 SXM2", "fp32") == pytest.approx(10.6, rel=0.01)
    assert gpu.cuda_core_peak_TFLOPs("NVIDIA V100 SXM2", "fp64") == pytest.approx(7.8, rel=0.01)


def test_gpu_names_are_catalogue_names_and_limits_exist():
    for name in gpu.gpu_names():
        chips.get(name)
        gpu.cuda_limits(gpu.gpu_spec(name).compute_capability)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: gpu.tensor_core_peak_TFLOPs("NVIDIA P100 SXM2", "fp16"), ValueError,
     "gpu .* has no Tensor Cores"),
    (lambda: gpu.tensor_core_peak_TFLOPs("NVIDIA V100 SXM2", "bf16"), ValueError, "precision"),
    (lambda: gpu.tensor_core_peak_TFLOPs("NVIDIA B300", "fp16"), ValueError, "gpu"),
    (lambda: gpu.tensor_core_peak_TFLOPs(None, "fp16"), TypeError, "gpu"),
    (lambda: gpu.cuda_core_peak_TFLOPs("NVIDIA T4", "fp16"), ValueError, "precision"),
    (lambda: gpu.cuda_limits("11.0"), ValueError, "compute_capability"),
])
def test_hardware_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- coalescing and divergence, counted by hand ---------------------------------------------

@pytest.mark.parametrize("stride,size,offset,sectors", [
    (1, 4, 0, 4),      # 32 x 4 B consecutive, aligned: 128 B = 4 sectors
    (1, 4, 4, 5),      # shifted by one word: bytes 4..131 straddle 5 sectors
    (2, 4, 0, 8),      # every other word: 256 B span, 8 sectors, half the bytes used
    (8, 4, 0, 32),     # 32 B apart: one sector per thread
    (32, 4, 0, 32),    # 128 B apart: still one sector each, 1024 B moved for 128 used
    (0, 4, 0, 1),      # all threads read the same word (a broadcast)
    (1, 8, 0, 8),      # 32 doubles: 256 B
    (1, 16, 0, 16),    # 32 x 16-byte vectors: 512 B
])
def test_strided_sectors(stride, size, offset, sectors):
    res = gpu.strided_sectors(stride, size, offset)
    assert res.sectors == sectors
    assert res.bytes_moved == 32 * sectors


def test_sector_efficiency():
    assert gpu.strided_sectors(1).efficiency == 1.0
    assert gpu.strided_sectors(32).efficiency == pytest.approx(128 / 1024)


def test_divergence_passes():
    assert gpu.warp_divergence([0] * 32).passes == 1
    halves = gpu.warp_divergence(np.arange(32) % 2)        # if (threadIdx.x % 2)
    assert halves.passes == 2 and halves.efficiency == 0.5
    assert gpu.warp_divergence(np.arange(32) // 16).passes == 2
    assert gpu.warp_divergence(np.arange(32) % 4).passes == 4   # a 4-way switch


@pytest.mark.parametrize("call,match", [
    (lambda: gpu.sectors_per_request(np.arange(33) * 4), "addresses"),
    (lambda: gpu.sectors_per_request([-4, 0]), "addresses"),
    (lambda: gpu.sectors_per_request([0, 4], bytes_per_access=0), "bytes_per_access"),
    (lambda: gpu.strided_sectors(-1), "stride_elements"),
    (lambda: gpu.warp_divergence([0, 1]), "paths"),
])
def test_simt_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- Tensor Core MMA ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["fp16", "bf16"])
def test_mma_exact_on_representable_inputs(fmt):
    # small integers are exact in FP16 and BF16, and every partial sum is exact in FP32
    rng = np.random.default_rng(7)
    A = rng.integers(-8, 9, (16, 16)).astype(np.float32)
    B = rng.integers(-8, 9, (16, 8)).astype(np.float32)
    C = rng.integers(-100, 101, (16, 8)).astype(np.float32)
    np.testing.assert_array_equal(gpu.mma(A, B, C, fmt), A @ B + C)


def test_mma_rounds_inputs_to_nearest_even():
    # 0.1 in binary16 is 0x2E66 = 0.0999755859375; in bfloat16 it is 0x3DCD = 0.10009765625
    assert gpu.mma([[0.1]], [[1.0]], input_format="fp16")[0, 0] == 0.0999755859375
    assert gpu.mma([[0.1]], [[1.0]], input_format="bf16")[0, 0] == 0.10009765625
    # 1 + 2**-8 lies halfway between the BF16 neighbours 1 and 1 + 2**-7: ties to even gives 1
    assert gpu.mma([[1 + 2**-8]], [[1.0]], input_format="bf16")[0, 0] == 1.0
    assert gpu.mma([[1 + 2**-8]], [[1.0]], input_format="fp16")[0, 0] == 1 + 2**-8


def test_mma_accumulates_in_fp32():
    # 2**24 + 1 is not an FP32 number: each +1 is lost (ties to even) while float64 keeps both
    A = np.array([[1.0, 1.0]])
    B = np.array([[1.0], [1.0]])
    D = gpu.mma(A, B, C=[[2.0**24]], input_format="fp16")
    assert D[0, 0] == 2.0**24
    assert (A @ B)[0, 0] + 2.0**24 == 2.0**24 + 2
    # the same sum in float32 NumPy, one addition at a time, agrees
    s = np.float32(2**24)
    for _ in range(2):
        s = np.float32(s + np.float32(1))
    assert D[0, 0] == s


def test_mma_keeps_fp32_precision_in_the_sum():
    # 2**20 + 3 needs 21 significant bits: exact in FP32 (24), lost in an FP16/TF32 sum (11)
    D = gpu.mma([[1.0, 2.0]], [[1.0], [1.0]], C=[[2.0**20]], input_format="fp16")
    assert D[0, 0] == 2.0**20 + 3
    # FP32's last bit: 1 + 2**-23 survives, 1 + 2**-24 does not (tie to even)
    assert gpu.mma([[2.0**-12]], [[2.0**-11]], C=[[1.0]])[0, 0] == 1 + 2.0**-23
    assert gpu.mma([[2.0**-12]], [[2.0**-12]], C=[[1.0]])[0, 0] == 1.0


def test_mma_close_to_float32_for_random_inputs():
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((16, 16)), rng.standard_normal((16, 8))
    exact = A @ B
    d16 = gpu.mma(A, B, input_format="fp16")
    dbf = gpu.mma(A, B, input_format="bf16")
    # input rounding dominates: relative unit roundoff 2**-11 (fp16) and 2**-8 (bf16)
    err16 = np.max(np.abs(d16 - exact)) / np.max(np.abs(exact))
    errbf = np.max(np.abs(dbf - exact)) / np.max(np.abs(exact))
    assert err16 < 16 * 2**-11
    assert errbf < 16 * 2**-8
    assert errbf > err16


@pytest.mark.parametrize("call,exc,match", [
    (lambda: gpu.mma(np.ones((2, 3)), np.ones((2, 2))), ValueError, "A and B"),
    (lambda: gpu.mma(np.ones((2, 2)), np.ones((2, 2)), np.ones((3, 2))), ValueError, "C"),
    (lambda: gpu.mma(np.ones((2, 2)), np.ones((2, 2)), input_format="fp8"), ValueError,
     "input_format"),
    (lambda: gpu.mma([[np.nan]], [[1.0]]), ValueError, "A"),
])
def test_mma_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- the P100 vs V100 comparison --------------------------------------------------------------

def test_roofline_comparison_by_hand():
    df = gpu.roofline_comparison()
    row = df[(df.M == 1760) & (df.N == 16)].iloc[0]
    # 2*1760*16*1760 FLOP over 2 bytes x (1760*1760 + 1760*16 + 1760*16) elements
    intensity = 2 * 1760 * 16 * 1760 / (2 * (1760 * 1760 + 2 * 1760 * 16))
    assert row["intensity_FLOP_per_byte"] == pytest.approx(intensity)
    # both memory-bound: the speed-up is the bandwidth ratio 900/732 (datasheets)
    assert row["speedup"] == pytest.approx(900 / 732)
    big = df[df.M == 3072].iloc[0]
    assert big["speedup"] == pytest.approx(125 / 21.2)   # both compute-bound: the peak ratio
    # ... and each GPU's column is its datasheet peak in TFLOP/s
    assert big["NVIDIA V100 SXM2 TFLOPs"] == pytest.approx(125)
    assert big["NVIDIA P100 SXM2 TFLOPs"] == pytest.approx(21.2)
    with pytest.raises(ValueError, match="gpus"):
        gpu.roofline_comparison(gpus="NVIDIA V100 SXM2")


def test_gemm_shapes_are_the_published_ones():
    """Every (M, N, K) of data/gemm_shapes.csv from its source: DeepBench's training GEMM list
    (Baidu, kernels/gemm_problems: (1760, 16, 1760), (2560, 64, 2560), (4096, 128, 4096)); BERT
    (Devlin et al. 2019, section 3: base hidden H = 768, large H = 1024, feed-forward 4H) over the
    tokens the row names (32 sequences of 128 or 512)."""
    base, large = 768, 1024
    expected = [(1760, 16, 1760), (2560, 64, 2560), (4096, 128, 4096),
                (base, 32 * 128, base), (4 * base, 32 * 128, base),
                (4 * large, 32 * 512, large)]
    got = [(int(r.M), int(r.N), int(r.K)) for r in gpu.gemm_shapes().itertuples()]
    assert got == expected


# --- occupancy sweep and the explorer ------------------------------------------------------

def test_occupancy_sweep_marks_invalid_launches():
    df = gpu.occupancy_sweep("9.0", "registers_per_thread", [32, 64, 65], threads_per_block=1024)
    # 32 regs: 2 blocks of 32 warps (100%); 64: 1 block (50%); 65: 73728 registers > 65536
    assert list(df["blocks_per_sm"]) == [2, 1, 0]
    assert list(df["limiter"]) == ["warps", "registers", "invalid"]
    # 65 registers round up to 2304 per warp (256-register units), x 32 warps = 73728 registers
    # for one block, over the 64 K a block may hold (Programming Guide, Table 21)
    with pytest.raises(ValueError, match="73728 registers per block"):
        gpu.occupancy("9.0", 1024, 65)
    with pytest.raises(ValueError, match="vary"):
        gpu.occupancy_sweep("9.0", "warps", [1])
    with pytest.raises(ValueError, match="compute_capability"):
        gpu.occupancy_sweep("1.0", "threads_per_block", [32])


def test_occupancy_widgets_build():
    import ipywidgets
    import matplotlib.pyplot as plt

    from aichip.widgets import gpu as wg

    axes = wg.plot_occupancy("8.6", 128, 40, 4096)
    assert len(axes) == 3
    plt.close("all")
    assert isinstance(wg.occupancy_explorer(), ipywidgets.Widget)
    with pytest.raises(ValueError, match="compute_capability"):
        wg.occupancy_explorer(compute_capability="6.1")
    with pytest.raises(TypeError, match="df"):
        wg.sparse_explorer([1, 2])


def test_kernel_source_shows_the_kernel():
    src = gpu.kernel_source("tiled_matmul")
    assert src.startswith("@cuda.jit") and "syncthreads" in src and "magictoken" not in src
    with pytest.raises(ValueError, match="part"):
        gpu.kernel_source("no_such_kernel")


# --- gpus.csv cell by cell, typed from each GPU's whitepaper (not read from the CSV) -------------

#: SMs, FP32 and FP64 cores per SM, Tensor Cores per SM, boost clock (MHz), Tensor Core clock
#: (MHz, None without Tensor Cores), L2 (KiB), shared memory per SM (KiB, the largest carve-out),
#: 32-bit registers per SM. P100 whitepaper Table 1; V100 whitepaper Table 1; Turing whitepaper
#: (TU104 SM: 64 FP32, 2 FP64, 8 Tensor Cores; T4 datasheet: 40 SMs, 1590 MHz boost); A100
#: whitepaper Table 3 (40 MB L2, 164 KB shared); H100 whitepaper Table 3 (SXM5: 132 SMs, 50 MB
#: L2, 228 KB shared, FP64 quoted at 1980 MHz and the Tensor Core rates at 1830 MHz).
WHITEPAPER = {
    "NVIDIA P100 SXM2": ("6.0", 56, 64, 32, 0, 1480, None, 4096, 64, 65536),
    "NVIDIA V100 SXM2": ("7.0", 80, 64, 32, 8, 1530, 1530, 6144, 96, 65536),
    "NVIDIA T4": ("7.5", 40, 64, 2, 8, 1590, 1590, 4096, 64, 65536),
    "NVIDIA A100 SXM4 80GB": ("8.0", 108, 64, 32, 4, 1410, 1410, 40960, 164, 65536),
    "NVIDIA H100 SXM5": ("9.0", 132, 128, 64, 4, 1980, 1830, 51200, 228, 65536),
    # Blackwell Ultra blog: 160 SMs, 4 Tensor Cores and 128 CUDA cores per SM; clocks implied
    # (see the row's notes), FP64 units and L2 size not published (0 and NaN)
    "NVIDIA GB300 B300": ("10.3", 160, 128, 0, 4, 2034.5, 1907.3, None, 228, 65536),
    # Chips and Cheese: 148 SMs (74 per die) as the device reports them; clocks implied
    "NVIDIA B200 SXM": ("10.0", 148, 128, 64, 4, 1979.7, 1855.6, None, 228, 65536),
}


@pytest.mark.parametrize("name", sorted(WHITEPAPER))
def test_gpu_spec_matches_the_whitepaper(name):
    s = gpu.gpu_spec(name)
    assert (s.compute_capability, s.sm_count, s.fp32_cores_per_sm, s.fp64_cores_per_sm,
            s.tensor_cores_per_sm, s.boost_clock_MHz, s.tensor_clock_MHz,
            None if np.isnan(s.l2_KiB) else s.l2_KiB,
            s.shared_KiB_per_sm, s.registers_per_sm) == WHITEPAPER[name]
    # the per-SM limits of its compute capability agree with its own figures
    lim = gpu.cuda_limits(s.compute_capability)
    assert lim.registers_per_sm == s.registers_per_sm
    assert lim.shared_bytes_per_sm == 1024 * s.shared_KiB_per_sm


def test_every_gpu_of_the_table_is_checked():
    assert set(gpu.gpu_names()) == set(WHITEPAPER)


#: dense Tensor Core FMA per clock per Tensor Core: V100 whitepaper, "each Tensor Core performs
#: 64 floating point FMA operations per clock" (8 per SM: 512 per SM); Turing whitepaper, the same
#: FP16 rate with INT8 at twice and INT4 at four times it; A100 whitepaper, 256 FP16 FMA per clock
#: per Tensor Core (1024 per SM), TF32 at half, INT8 twice, INT4 four times, FP64 64 per SM over
#: 4 Tensor Cores = 16; H100 whitepaper, twice A100's rate per SM per clock, FP8 twice FP16.
TENSOR_FMA = {
    ("Volta", "fp16"): 64, ("Turing", "fp16"): 64, ("Turing", "int8"): 128,
    ("Turing", "int4"): 256, ("Ampere", "fp16"): 256, ("Ampere", "bf16"): 256,
    ("Ampere", "tf32"): 128, ("Ampere", "int8"): 512, ("Ampere", "int4"): 1024,
    ("Ampere", "fp64"): 16, ("Hopper", "fp16"): 512, ("Hopper", "bf16"): 512,
    ("Hopper", "tf32"): 256, ("Hopper", "fp8"): 1024, ("Hopper", "int8"): 1024,
    ("Hopper", "fp64"): 32,
    # Blackwell Ultra: no per-Tensor-Core figure is published; these are the multiples of the
    # BF16 rate that the GB300's datasheet ratios give (TF32 1/2, FP8 2, NVFP4 6)
    ("Blackwell Ultra", "fp16"): 1024, ("Blackwell Ultra", "bf16"): 1024,
    ("Blackwell Ultra", "tf32"): 512, ("Blackwell Ultra", "fp8"): 2048,
    ("Blackwell Ultra", "fp4"): 6144,
    # Blackwell (B200): the DGX B200 ratios (FP8 2x BF16, FP4 2x FP8, INT8 as FP8)
    ("Blackwell", "fp16"): 1024, ("Blackwell", "bf16"): 1024, ("Blackwell", "tf32"): 512,
    ("Blackwell", "fp8"): 2048, ("Blackwell", "fp4"): 4096, ("Blackwell", "int8"): 2048,
}


@pytest.mark.parametrize("arch, precision", sorted(TENSOR_FMA))
def test_tensor_core_rate_per_clock_from_the_whitepapers(arch, precision):
    name = {"Volta": "NVIDIA V100 SXM2", "Turing": "NVIDIA T4", "Ampere": "NVIDIA A100 SXM4 80GB",
            "Hopper": "NVIDIA H100 SXM5", "Blackwell Ultra": "NVIDIA GB300 B300",
            "Blackwell": "NVIDIA B200 SXM"}[arch]
    s = gpu.gpu_spec(name)
    clock = s.boost_clock_MHz if precision == "fp64" else s.tensor_clock_MHz
    expect = s.sm_count * s.tensor_cores_per_sm * TENSOR_FMA[arch, precision] * 2 * clock / 1e6
    assert gpu.tensor_core_peak_TFLOPs(name, precision) == pytest.approx(expect, rel=1e-12)


def test_one_source_of_truth_for_gpu_peaks():
    """Where both chips.csv and the derived unit counts give a peak, they agree within 1%."""
    table = gpu.peak_check()
    for name in gpu.gpu_names():
        assert name in chips.names()
        assert name in set(table["gpu"]), name


def test_b300_clock_implied_by_one_format_reproduces_the_others():
    # 640 Tensor Cores x 1024 FMA x 2 at the clock implied by 2500 TFLOP/s BF16
    clock = 2500e12 / (160 * 4 * 1024 * 2)
    assert gpu.gpu_spec("NVIDIA GB300 B300").tensor_clock_MHz == pytest.approx(clock / 1e6,
                                                                             rel=1e-4)
    assert gpu.tensor_core_peak_TFLOPs("NVIDIA GB300 B300", "fp4") == pytest.approx(
        160 * 4 * 6144 * 2 * 1907.3e6 / 1e12)
    assert "fp64" not in set(gpu.peak_check().query("gpu == 'NVIDIA GB300 B300'")["precision"])


def test_blackwell_ultra_trades_int8_for_fp4():
    # per Tensor Core per clock: Ultra's NVFP4 is 1.5x Blackwell's, and it has no INT8 row
    b200, b300 = (gpu.tensor_core_precisions(n) for n in ("NVIDIA B200 SXM", "NVIDIA GB300 B300"))
    assert "int8" in b200 and "int8" not in b300
    ratio = (gpu.tensor_core_peak_TFLOPs("NVIDIA GB300 B300", "fp4") / (160 * 4 * 1907.3)) / (
        gpu.tensor_core_peak_TFLOPs("NVIDIA B200 SXM", "fp4") / (148 * 4 * 1855.6))
    assert ratio == pytest.approx(1.5)
