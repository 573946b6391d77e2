import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aichip import roofline as rl

positive = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False)


@given(peak=positive, bw=positive, intensity=positive)
def test_attainable_is_min_of_roofs(peak, bw, intensity):
    roof = rl.Roofline("x", peak, bw)
    got = roof.attainable_GFLOPs(intensity)
    assert got == pytest.approx(min(peak, bw * intensity))
    assert got <= peak * (1 + 1e-12)
    assert roof.bound(intensity) == ("memory" if intensity < peak / bw else "compute")


def test_ridge_point_is_where_roofs_meet():
    roof = rl.Roofline("x", 1000.0, 50.0)
    assert roof.ridge_point == 20.0
    assert roof.attainable_GFLOPs(20.0) == pytest.approx(1000.0)
    assert roof.attainable_GFLOPs(10.0) == pytest.approx(500.0)
    np.testing.assert_allclose(roof.attainable_GFLOPs(np.array([1.0, 100.0])), [50.0, 1000.0])


def test_tpu_v1_ridge_point_from_paper_figures():
    # Jouppi et al. 2017, Table 2: 92 TOPS (8-bit) and 34 GB/s of weight-memory bandwidth.
    roof = rl.from_chip("Google TPU v1")
    assert roof.precision == "int8"
    assert roof.peak_GFLOPs == pytest.approx(92_000)
    assert roof.ridge_point == pytest.approx(92_000 / 34)


def test_h100_bf16_roofline_from_datasheet():
    roof = rl.from_chip("NVIDIA H100 SXM5", "bf16")
    assert roof.peak_GFLOPs == pytest.approx(989_500)
    assert roof.bw_GBps == pytest.approx(3350)
    assert roof.source == "nvidia2022h100"


def test_intensities():
    assert rl.stream_intensity("triad") == pytest.approx(2 / 24)
    assert rl.gemm_intensity(1024, 1024, 1024) == pytest.approx(1024 / 12)
    with pytest.raises(ValueError, match="kernel must be one of"):
        rl.stream_intensity("copy")
    with pytest.raises(ValueError, match="m must be >= 1"):
        rl.gemm_intensity(0, 4, 4)


def test_from_measurements():
    bw = rl.measure_bandwidth("triad", n_bytes=3 * 2**20, threads=1, repeats=2)
    peak = rl.measure_peak_flops("float64", threads=1, repeats=2, target_s=0.005)
    roof = rl.from_measurements(bw, peak)
    assert roof.bw_GBps == bw.best_GBps and roof.peak_GFLOPs == peak.best_GFLOPs
    assert roof.precision == "fp64" and roof.source == "measured"
    with pytest.raises(TypeError, match="BandwidthResult"):
        rl.from_measurements(peak, peak)


def test_kernel_point_efficiency():
    roof = rl.Roofline("x", 100.0, 10.0)
    assert rl.KernelPoint("k", 1.0, 5.0).efficiency(roof) == pytest.approx(0.5)


@pytest.mark.parametrize("call, exc, text", [
    (lambda: rl.Roofline("x", 0.0, 1.0), ValueError, "peak_GFLOPs must be > 0"),
    (lambda: rl.Roofline("x", 1.0, -1.0), ValueError, "bw_GBps must be > 0"),
    (lambda: rl.Roofline("x", "fast", 1.0), TypeError, "peak_GFLOPs must be a real number"),
    (lambda: rl.Roofline("x", 1.0, 1.0).attainable_GFLOPs(0.0), ValueError, "intensity"),
    (lambda: rl.Roofline("x", 1.0, 1.0).bound(-1.0), ValueError, "intensity must be > 0"),
    (lambda: rl.KernelPoint("k", 0.0, 1.0), ValueError, "intensity must be > 0"),
    (lambda: rl.from_chip("NVIDIA H200 Ultra"), ValueError, "unknown chip name"),
    (lambda: rl.from_chip("NVIDIA V100 SXM2", "fp8"), ValueError, "has no fp8 figure"),
    (lambda: rl.from_chip("NVIDIA V100 SXM2", "fp128"), ValueError, "precision must be one of"),
    (lambda: rl.plot([]), TypeError, "non-empty sequence"),
    (lambda: rl.plot(rl.Roofline("x", 1.0, 1.0), intensity_range=(4, 1)), ValueError, "low < high"),
])
def test_rejects_bad_input(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_plot_draws_roofs_and_points():
    import matplotlib.pyplot as plt

    roofs = [rl.from_chip("NVIDIA V100 SXM2"), rl.from_chip("NVIDIA A100 SXM4 80GB")]
    ax = rl.plot(roofs, [rl.KernelPoint("k", 2.0, 100.0)])
    assert len(ax.get_lines()) >= 3
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "FLOP/byte" in ax.get_xlabel()
    plt.close(ax.figure)
