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


def test_tpu_v1_ridge_point_in_the_papers_convention():
    # Jouppi et al. 2017, Fig. 5 and text: "the ridge point is far to the right at 1350" operations
    # per weight byte, counting one operation per MAC on the x axis (92 TOPS, 34 GB/s; the paper
    # rounds 92e12 / 2 / 34e9 = 1353 to 1350).
    paper = rl.from_chip("Google TPU v1", "int8", intensity_unit="mac")
    assert paper.peak_GFLOPs == pytest.approx(92_000)
    assert paper.ridge_point == pytest.approx(1350, rel=0.005)
    # the book's convention counts both operations of a MAC: the same roofline, twice the number
    book = rl.from_chip("Google TPU v1")
    assert book.precision == "int8"
    assert book.ridge_point == pytest.approx(2 * 1350, rel=0.005)
    # and both rooflines give the same ceiling to the same kernel (x MAC/byte = 2x op/byte)
    for macs_per_byte in (10.0, 200.0, 1350.0, 5000.0):
        assert paper.attainable_GFLOPs(macs_per_byte) == pytest.approx(
            book.attainable_GFLOPs(2 * macs_per_byte))


# Jouppi et al. 2017, Table 1 ("TPU Ops / Weight Byte", batch) and Table 3 (TOPS on the TPU):
# typed here from the paper, not read from the module
PAPER_APPS = {"MLP0": (200, 12.3), "MLP1": (168, 9.7), "LSTM0": (64, 3.7), "LSTM1": (96, 2.8),
              "CNN0": (2888, 86.0), "CNN1": (1750, 14.1)}


def test_tpu_v1_apps_on_the_papers_roofline():
    roof = rl.from_chip("Google TPU v1", "int8", intensity_unit="mac")
    points = {p.name: p for p in rl.tpu_v1_app_points()}
    assert {n: (p.intensity, p.achieved_GFLOPs / 1e3) for n, p in points.items()} == PAPER_APPS
    for app in rl.TPU_V1_APPS:
        if app.name.startswith(("MLP", "LSTM")):  # their intensity is the batch size
            assert app.macs_per_weight_byte == app.batch
    for name, p in points.items():
        verdict = rl.assess(roof, p.intensity, p.achieved_GFLOPs)
        assert verdict.achievable, name  # every published point lies under the roof
        # the MLPs and LSTMs sit left of the ridge, both CNNs right of it (the paper's Fig. 5)
        assert verdict.bound == ("compute" if name.startswith("CNN") else "memory"), name
    # only CNN0 comes near the flat roof; CNN1 reaches 14.1 of 92 TOPS
    assert rl.assess(roof, 2888, 86_000).fraction_of_roof > 0.9
    assert rl.assess(roof, 1750, 14_100).fraction_of_roof == pytest.approx(14.1 / 92)


def test_placement_table():
    roof = rl.Roofline("x", 1000.0, 50.0)
    table = rl.placement_table(roof, [rl.KernelPoint("a", 10.0, 250.0),
                                      rl.KernelPoint("b", 40.0, 900.0)])
    assert list(table["kernel"]) == ["a", "b"]
    assert list(table["roof (GFLOP/s)"]) == [500.0, 1000.0]
    assert list(table["bound"]) == ["memory", "compute"]
    assert list(table["of roof"]) == [0.5, 0.9]
    int_table = rl.placement_table(rl.Roofline("x", 1.0, 1.0, "int8", intensity_unit="mac"), [])
    assert "intensity (MAC/byte)" in int_table and "roof (GOP/s)" in int_table
    with pytest.raises(TypeError, match="kernels must be a sequence of KernelPoint"):
        rl.placement_table(roof, [(1.0, 2.0)])


def test_assess_and_at_fraction():
    roof = rl.Roofline("x", 1000.0, 50.0)  # ridge at 20 FLOP/byte
    v = rl.assess(roof, 10.0, 250.0)
    assert v == (500.0, "memory", 0.5, True)
    v = rl.assess(roof, 40.0, 1200.0)
    assert v.bound == "compute" and v.ceiling_GFLOPs == 1000.0 and not v.achievable
    p = rl.KernelPoint.at_fraction(roof, "k", 100.0, 0.25)
    assert p.achieved_GFLOPs == pytest.approx(250.0) and p.intensity == 100.0
    mac = rl.Roofline("x", 1000.0, 50.0, intensity_unit="mac")
    assert mac.ridge_point == 10.0 and mac.attainable_GFLOPs(5.0) == pytest.approx(500.0)


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
    with pytest.raises(TypeError, match="bandwidth must be a BandwidthResult"):
        rl.from_measurements(peak, peak)


def test_kernel_point_efficiency():
    roof = rl.Roofline("x", 100.0, 10.0)
    assert rl.KernelPoint("k", 1.0, 5.0).efficiency(roof) == pytest.approx(0.5)


@pytest.mark.parametrize("call, exc, text", [
    (lambda: rl.Roofline("x", 0.0, 1.0), ValueError, "peak_GFLOPs must be > 0"),
    (lambda: rl.Roofline("x", 1.0, -1.0), ValueError, "bw_GBps must be > 0"),
    (lambda: rl.Roofline("x", "fast", 1.0), TypeError, "peak_GFLOPs must be a real number"),
    (lambda: rl.Roofline("x", 1.0, 1.0).attainable_GFLOPs(0.0), ValueError,
     "intensity must be finite and > 0 FLOP/byte"),
    (lambda: rl.Roofline("x", 1.0, 1.0).bound(-1.0), ValueError, "intensity must be > 0"),
    (lambda: rl.KernelPoint("k", 0.0, 1.0), ValueError, "intensity must be > 0"),
    (lambda: rl.from_chip("NVIDIA H200 Ultra"), ValueError, "unknown chip name"),
    (lambda: rl.from_chip("NVIDIA V100 SXM2", "fp8"), ValueError, "has no fp8 figure"),
    (lambda: rl.from_chip("NVIDIA V100 SXM2", "fp128"), ValueError, "precision must be one of"),
    (lambda: rl.plot([]), TypeError, "rooflines must be a Roofline or a non-empty sequence"),
    (lambda: rl.plot(rl.Roofline("x", 1.0, 1.0), intensity_range=(4, 1)), ValueError,
     "intensity_range must satisfy 0 < low < high"),
    (lambda: rl.Roofline("x", 1.0, 1.0, intensity_unit="flop"), ValueError,
     "intensity_unit must be one of"),
    (lambda: rl.plot([rl.Roofline("x", 1.0, 1.0),
                      rl.Roofline("y", 1.0, 1.0, intensity_unit="mac")]),
     ValueError, "rooflines must share one intensity_unit"),
    (lambda: rl.assess("roof", 1.0, 1.0), TypeError, "roof must be a Roofline"),
    (lambda: rl.assess(rl.Roofline("x", 1.0, 1.0), 1.0, -1.0), ValueError,
     "achieved_GFLOPs must be >= 0"),
    (lambda: rl.KernelPoint.at_fraction(rl.Roofline("x", 1.0, 1.0), "k", 1.0, 1.5), ValueError,
     "fraction_of_roof must be <= 1"),
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


def _intensity_by_counting(b, d_in, d_out, w, a):
    # bytes counted operand by operand: weights once, activations in and out once per token
    flops = 2 * b * d_in * d_out
    moved = w * d_in * d_out + a * b * d_in + a * b * d_out
    return flops / moved


@given(ridge=st.floats(1, 2000), w=st.sampled_from([0.5, 1, 2, 4]),
       d_in=st.integers(256, 20000), d_out=st.integers(256, 20000))
def test_critical_batch_is_the_first_batch_past_the_ridge(ridge, w, d_in, d_out):
    try:
        b = rl.critical_batch(ridge, w, d_in, d_out)
    except ValueError:
        assert _intensity_by_counting(10**9, d_in, d_out, w, w) < ridge
        return
    assert _intensity_by_counting(b, d_in, d_out, w, w) >= ridge * (1 - 1e-9)
    if b > 1:
        assert _intensity_by_counting(b - 1, d_in, d_out, w, w) < ridge


def test_critical_batch_weight_streaming_limit():
    # 2 FLOP per weight per token and w bytes per weight: I = 2b/w, so b* = w I*/2
    assert rl.critical_batch(295.4, 2) == 296
    assert rl.critical_batch(295.4, 1) == 148
    assert rl.critical_batch(300.0, 2) == 300
    # a huge layer approaches the limit from above (activations add traffic)
    assert rl.critical_batch(300.0, 2, 10**6, 10**6) in (300, 301)
    assert rl.critical_batch(300.0, 2, 4096, 4096) > 300


def test_critical_batch_rejects_bad_input():
    with pytest.raises(ValueError, match="ridge_point"):
        rl.critical_batch(0)
    with pytest.raises(ValueError, match="bytes_per_weight"):
        rl.critical_batch(100, -1)
    with pytest.raises(ValueError, match="d_in and d_out"):
        rl.critical_batch(100, 2, d_in=64)
    with pytest.raises(ValueError, match="no batch reaches ridge_point"):
        rl.critical_batch(1000, 2, 64, 64)


def test_gemv_intensity_by_hand():
    # n = 4, float64: 2 x 16 flops over 8 x (16 + 2 x 4) bytes = 32 / 192
    assert rl.gemv_intensity(4) == pytest.approx(1 / 6, rel=1e-12)
    # n = 1000, float32: 2e6 / (4 x 1 002 000)
    assert rl.gemv_intensity(1000, 4) == pytest.approx(2e6 / 4_008_000, rel=1e-12)


def test_plot_marks_a_ridge_on_the_range_edge_and_styles_points():
    import matplotlib.pyplot as plt

    roof = rl.Roofline("x", 1000.0, 100.0, intensity_unit="mac")   # ridge at 10 / 2 = 5 MAC/byte
    assert roof.ridge_point == pytest.approx(5.0)
    ax = rl.plot(roof, [rl.KernelPoint("k", 2.0, 100.0)], intensity_range=(5.0, 64.0))
    assert ax.get_xlabel() == "arithmetic intensity (MAC/byte)"   # one roofline: its unit
    vertical = [ln for ln in ax.get_lines() if len(set(ln.get_xdata())) == 1
                and len(ln.get_xdata()) == 2]
    assert [ln.get_xdata()[0] for ln in vertical] == [5.0]        # the ridge, at the range's low
    point = [ln for ln in ax.get_lines() if ln.get_label() == "k"][0]
    assert point.get_markersize() == 8 and point.get_marker() == "o"
    legend = ax.get_legend()
    anchor = legend.get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert 1.0 < anchor.x0 < 1.1                                  # just beside the axes
    plt.close(ax.figure)
    ax = rl.plot(roof, intensity_range=(5.5, 64.0))               # ridge outside: no line
    assert not [ln for ln in ax.get_lines() if len(set(ln.get_xdata())) == 1]
    plt.close(ax.figure)
