"""The systolic-array simulator against numpy, its analytical model, and SCALE-Sim's counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import scalesim
from aichip import systolic as sy
from aichip.layers import ConvLayer, GemmLayer, conv_layer, conv_layers, layer_table, to_gemm
from aichip.systolic_engine import no_trace, run_engine

shapes = st.tuples(st.integers(1, 13), st.integers(1, 13), st.integers(1, 13),
                   st.integers(1, 6), st.integers(1, 6),
                   st.sampled_from([("os", False), ("ws", False), ("is", False), ("ws", True),
                                    ("is", True)]),
                   st.integers(0, 2**32 - 1))


def _counted_from_trace(trace, rows, cols):
    """Folds and mapping efficiency counted from what the PEs did, not from any formula: a fold is
    a distinct fold tag on a real MAC, its mapped PEs those that did at least one of its MACs."""
    tags = trace.fold[trace.busy]
    folds = np.unique(tags)
    used = [np.any(trace.busy & (trace.fold == f), axis=0).sum() for f in folds]
    return len(folds), float(np.mean(used)) / (rows * cols)


@settings(max_examples=80, deadline=None)
@given(shapes)
def test_product_equals_numpy_and_cycles_equal_model(case):
    M, N, K, rows, cols, (dataflow, pipelined), seed = case
    rng = np.random.default_rng(seed)
    A = rng.integers(-9, 10, (M, K))  # integer-valued: the sum is exact in any order
    B = rng.integers(-9, 10, (K, N))
    res = sy.simulate_gemm(A, B, rows, cols, dataflow, record_activity=True, pipelined=pipelined)
    np.testing.assert_array_equal(res.product, A @ B)
    model = sy.gemm_cycles(M, N, K, rows, cols, dataflow, pipelined)
    assert res.compute_cycles == model.compute_cycles
    assert res.activity.sum() == M * N * K
    assert res.activity.max() <= rows * cols
    assert res.utilization == pytest.approx(M * N * K / (res.compute_cycles * rows * cols))
    # folds and mapping efficiency, counted independently from the cycle-by-cycle trace
    trace = sy.trace_gemm(A, B, rows, cols, dataflow, pipelined=pipelined)
    np.testing.assert_array_equal(trace.product, A @ B)
    assert trace.busy.shape[0] == model.compute_cycles
    assert np.array_equal(trace.busy.sum(axis=(1, 2)), res.activity)
    folds, efficiency = _counted_from_trace(trace, rows, cols)
    assert model.folds == folds == res.folds
    assert model.mapping_efficiency == pytest.approx(efficiency, rel=1e-12)
    assert res.mapping_efficiency == pytest.approx(efficiency, rel=1e-12)
    assert res.utilization <= res.mapping_efficiency + 1e-12


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12), st.integers(1, 5),
       st.integers(1, 5), st.sampled_from(["ws", "is"]))
def test_pipelined_never_slower_and_loads_without_a_bubble(M, N, K, rows, cols, dataflow):
    A = np.ones((M, K))
    B = np.ones((K, N))
    plain = sy.trace_gemm(A, B, rows, cols, dataflow)
    piped = sy.trace_gemm(A, B, rows, cols, dataflow, pipelined=True)
    assert piped.busy.shape[0] <= plain.busy.shape[0]
    # PE (0, 0) works on every fold. With double-buffered weights it waits only for the next tile
    # to shift in: between the end of one fold's steps and the start of the next it idles
    # max(T, rows) - T cycles (none when the fold streams at least `rows` steps); with no overlap
    # it idles while the fold drains and the next tile loads: 2 rows + cols - 2 cycles.
    t_len = {"ws": M, "is": N}[dataflow]
    for trace, gap in ((piped, max(t_len, rows) - t_len), (plain, 2 * rows + cols - 2)):
        busy = np.flatnonzero(trace.busy[:, 0, 0])
        idle = np.diff(busy) - 1
        assert set(idle[idle > 0]) <= {gap}
        assert len(busy) == t_len * len(np.unique(trace.fold[trace.busy]))


@pytest.mark.parametrize("dataflow", ["ws", "is"])
def test_pipelined_schedule_cannot_start_a_cycle_earlier(dataflow):
    """The engine checks the schedule: moving any fold's start or tile load one cycle earlier
    than the pipelined schedule makes some PE mix two folds (or use a tile not yet loaded)."""
    rng = np.random.default_rng(5)
    for M, N, K, rows, cols in ((9, 7, 11, 3, 4), (3, 5, 9, 4, 2)):
        A, B = rng.integers(-5, 6, (M, K)), rng.integers(-5, 6, (K, N))
        *_, left, second, out, _, sched = sy._prepare(A, B, rows, cols, dataflow, True)
        fold_r0, fold_c0, start, load = sched
        assert len(start) > 2
        for f in range(1, len(start)):
            for which in (start, load):
                early = [x.copy() for x in sched]
                (early[2] if which is start else early[3])[f:] -= 1
                n = int(early[2][-1]) + left.shape[1] + rows + cols
                with pytest.raises(sy.ScheduleConflict, match="schedule conflict in cycle") as err:
                    run_engine(left, second, np.zeros_like(out), rows, cols, False, early, n,
                               no_trace())
                assert err.value.cycle >= 0 and 0 <= err.value.pe[0] < rows, (
                    f, "start" if which is start else "load")


def test_float_product_close_to_numpy():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((37, 29)), rng.standard_normal((29, 41))
    for dataflow in sy.DATAFLOWS:
        np.testing.assert_allclose(sy.simulate_gemm(A, B, 8, 8, dataflow).product, A @ B,
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.slow_without_jit  # the SCALE-Sim layers are up to 25 million PE updates each
@pytest.mark.parametrize("row", scalesim.scalesim_reference().to_dict("records"),
                         ids=lambda r: f"{r['layer']}-{r['rows']}x{r['cols']}-{r['dataflow']}")
def test_every_scalesim_reference_run(row):
    """Golden values from SCALE-Sim 3.0.0 (Samajdar et al., ISPASS 2020).

    From data/scalesim_reference.csv: our count is its count plus one (it reports the last cycle's
    index), and the mapping efficiencies are equal."""
    M, N, K, rows, cols, dataflow = (row[k] for k in ("M", "N", "K", "rows", "cols", "dataflow"))
    model = sy.gemm_cycles(M, N, K, rows, cols, dataflow)
    assert model.compute_cycles == row["scalesim_cycles"] + 1
    assert model.mapping_efficiency == pytest.approx(row["scalesim_mapping_efficiency"], rel=1e-12)
    rng = np.random.default_rng(0)
    A, B = rng.integers(-3, 4, (M, K)), rng.integers(-3, 4, (K, N))
    sim = sy.simulate_gemm(A, B, rows, cols, dataflow)
    assert sim.compute_cycles == row["scalesim_cycles"] + 1
    assert sim.mapping_efficiency == pytest.approx(row["scalesim_mapping_efficiency"], rel=1e-12)
    np.testing.assert_array_equal(sim.product, A @ B)


def test_closed_form_single_fold():
    # One fold, os: K + rows + cols - 2 cycles; ws: one more `rows` to load the weights.
    assert sy.gemm_cycles(4, 4, 10, 4, 4, "os").compute_cycles == 10 + 4 + 4 - 2
    assert sy.gemm_cycles(10, 4, 4, 4, 4, "ws").compute_cycles == 2 * 4 + 4 + 10 - 2
    # Folding doubles the count when M needs two passes of the rows.
    assert sy.gemm_cycles(8, 4, 10, 4, 4, "os").folds == 2
    # Pipelined, by hand: 3 folds of K = 12 on 4 rows, T = M = 6 >= 4 rows. The first tile loads
    # in 4 cycles, the folds enter back to back (6 cycles each), and the last drains in
    # 4 + 5 - 2 cycles: 4 + 3 * 6 + 7 = 29 (no overlap: 3 * (8 + 5 + 6 - 2) = 51).
    assert sy.gemm_cycles(6, 5, 12, 4, 5, "ws", pipelined=True).compute_cycles == 29
    assert sy.gemm_cycles(6, 5, 12, 4, 5, "ws").compute_cycles == 51
    # ... and with T = 2 < 4 rows each fold waits for its tile: 4 + 2 * 4 + 2 + 7 = 21.
    assert sy.gemm_cycles(2, 5, 12, 4, 5, "ws", pipelined=True).compute_cycles == 21


def test_utilization_grid_orientation_and_values():
    # M = 8, N = 4, K = 10 in OS. 8 rows x 4 cols: one fold of 10 + 8 + 4 - 2 = 20 cycles on
    # 32 PEs, 320 MACs: 50%. 4 rows x 8 cols: two folds, 40 cycles: 25%.
    grid = sy.utilization_grid(8, 4, 10, "os", sizes=(4, 8))
    assert grid[1, 0] == pytest.approx(0.5)
    assert grid[0, 1] == pytest.approx(0.25)


def test_trace_shows_the_skewed_wavefront():
    A = np.arange(6.0).reshape(2, 3)
    B = np.arange(12.0).reshape(3, 4)
    tr = sy.trace_gemm(A, B, 2, 4, "os")
    np.testing.assert_array_equal(tr.product, A @ B)
    # PE (r, c) is busy exactly at cycles t + r + c, t < K
    for r in range(2):
        for c in range(4):
            assert np.flatnonzero(tr.busy[:, r, c]).tolist() == [t + r + c for t in range(3)]
    # the accumulator of PE (1, 2) ends holding C[1, 2]
    assert tr.stationary[-1, 1, 2] == (A @ B)[1, 2]


def test_im2col_conv_matches_direct_convolution():
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (3, 7, 6)).astype(float)
    w = rng.integers(-3, 4, (5, 3, 3, 2)).astype(float)
    stride = 2
    cols = sy.im2col(x, 3, 2, stride)
    out = sy.simulate_gemm(cols, sy.filters_to_matrix(w), 4, 4, "ws").product
    ho, wo = (7 - 3) // stride + 1, (6 - 2) // stride + 1
    direct = np.zeros((ho * wo, 5))
    for k in range(5):
        for i in range(ho):
            for j in range(wo):
                direct[i * wo + j, k] = np.sum(
                    x[:, i * stride:i * stride + 3, j * stride:j * stride + 2] * w[k])
    np.testing.assert_array_equal(out, direct)


def test_run_layers_conv_and_gemm():
    layers = [GemmLayer("fc", 1, 1000, 4096), ConvLayer("c", 58, 58, 3, 3, 64, 64)]
    df = sy.run_layers(layers, 32, 32, "ws")
    assert list(df["layer"]) == ["fc", "c"]
    assert df.loc[1, "M"] == 56 * 56 and df.loc[1, "K"] == 3 * 3 * 64 and df.loc[1, "N"] == 64
    assert (df["utilization"] <= df["mapping_efficiency"]).all()


@pytest.mark.parametrize("call, exc, match", [
    (lambda: sy.simulate_gemm(np.ones((2, 3)), np.ones((4, 2)), 2, 2), ValueError, "A.shape"),
    (lambda: sy.simulate_gemm(np.ones(3), np.ones((3, 2)), 2, 2), ValueError, "2-D"),
    (lambda: sy.simulate_gemm(np.ones((2, 3)), np.ones((3, 2)), 0, 2), ValueError,
     "rows must be >= 1"),
    (lambda: sy.simulate_gemm(np.ones((2, 3)), np.ones((3, 2)), 2, 2, "os", pipelined=True),
     ValueError, "pipelined=True .* 'ws' or 'is'"),
    (lambda: sy.gemm_cycles(2, 3, 2, 2, 2, "ws", pipelined="yes"), TypeError,
     "pipelined must be True or False"),
    (lambda: sy.utilization_grid(2, 3, 2, "ws", sizes=(4, 0)), ValueError, r"sizes\[i\] must"),
    (lambda: sy.simulate_gemm(np.ones((2, 3)), np.ones((3, 2)), 2, 2, "rs"), ValueError,
     "dataflow"),
    (lambda: sy.simulate_gemm(np.array([["a"]]), np.ones((1, 1)), 2, 2), TypeError, "real"),
    (lambda: sy.gemm_cycles(0, 1, 1, 2, 2), ValueError, "M must be >= 1"),
    (lambda: sy.gemm_cycles(1, 1, 1, 2, 2.5), TypeError, "cols must be an integer"),
    (lambda: sy.trace_gemm(np.ones((50, 50)), np.ones((50, 50)), 8, 8, max_cells=100),
     ValueError, "max_cells"),
    (lambda: sy.run_layers([], 4, 4), ValueError, "at least one"),
    (lambda: sy.run_layers([(1, 2, 3)], 4, 4), TypeError, "layer must be a GemmLayer"),
    (lambda: sy.run_layers([ConvLayer("x", 3, 3, 5, 5, 1, 1)], 4, 4), ValueError,
     "x: filter R x S = 5 x 5 does not fit"),
    (lambda: sy.run_layers([GemmLayer("g", 3, 0, 5)], 4, 4), ValueError, "g.N must be >= 1"),
    (lambda: sy.im2col(np.ones((3, 3)), 1, 1), ValueError, "C, H, W"),
    (lambda: sy.filters_to_matrix(np.ones((3, 3))), ValueError, "K, C, R, S"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_kernel_source_shows_both_update_rules():
    src = sy.kernel_source("pe")
    assert "s[i] += h_in * v_in" in src               # output stationary: accumulate in place
    assert "v[now, i + cols] = v_in + h_in * s[i]" in src  # ws / is: add to the passing partial sum
    assert "magictoken" not in src


def test_to_gemm_matches_the_im2col_matrices():
    """The GEMM of a convolution has the shapes of the matrices im2col actually builds."""
    rng = np.random.default_rng(4)
    conv = conv_layer("c", H=9, W=7, R=3, S=2, C=3, K=5, stride=2)
    cols = sy.im2col(rng.standard_normal((conv.C, conv.H, conv.W)), conv.R, conv.S, conv.stride)
    w = sy.filters_to_matrix(rng.standard_normal((conv.K, conv.C, conv.R, conv.S)))
    gemm = to_gemm(conv)
    assert (gemm.M, gemm.K) == cols.shape and (gemm.K, gemm.N) == w.shape
    assert gemm.macs == conv.macs == cols.shape[0] * cols.shape[1] * w.shape[1]
    assert to_gemm(GemmLayer("g", 2, 3, 4)) == GemmLayer("g", 2, 3, 4)
    batch = to_gemm(conv._replace(N=4))
    assert batch.M == 4 * gemm.M


def test_a_fully_connected_layer_is_a_conv_layer_of_defaults():
    """Every size of conv_layer defaults to 1 (its docstring): ``conv_layer(C=4096, K=1000, N=8)``
    is AlexNet's last layer on a batch of 8, whose im2col product is (8 x 4096) @ (4096 x 1000),
    the product of the layer's weights with the batch, by hand."""
    fc = conv_layer("fc8", C=4096, K=1000, N=8)
    assert (fc.H, fc.W, fc.R, fc.S, fc.stride) == (1, 1, 1, 1, 1)
    assert to_gemm(fc) == GemmLayer("fc8", 8, 1000, 4096)
    assert fc.macs == 8 * 4096 * 1000
    assert conv_layer() == ConvLayer("conv", 1, 1, 1, 1, 1, 1, 1, 1)


def test_conv_layer_table():
    layers = conv_layers()
    assert len(layers) == len(layer_table())
    alexnet = conv_layers("AlexNet", batch=2)
    # AlexNet conv1: 96 filters of 11x11x3, 55x55 outputs (Krizhevsky et al. 2012)
    conv1 = alexnet[0]
    assert (conv1.name, conv1.P, conv1.Q, conv1.K, conv1.N) == ("AlexNet conv1", 55, 55, 96, 2)


#: Every row of data/conv_layers.csv as its paper gives it: (input side before padding, output
#: side, C, K, filter side, stride). AlexNet: Krizhevsky et al. 2012, section 3.5 and figure 2
#: (conv2, conv4 and conv5 see one group of channels: 48 and 192); VGG-16: Simonyan and
#: Zisserman 2015, table 1 (configuration D, 3x3 stride 1 padding 1, 224 halved by each pool);
#: ResNet-50: He et al. 2016, table 1 (stages at 56, 28, 14, 7; bottleneck widths 64 to 512).
PAPER_CONV_LAYERS = {
    "AlexNet conv1": (224, 55, 3, 96, 11, 4),
    "AlexNet conv2": (27, 27, 48, 256, 5, 1),
    "AlexNet conv3": (13, 13, 256, 384, 3, 1),
    "AlexNet conv4": (13, 13, 192, 384, 3, 1),
    "AlexNet conv5": (13, 13, 192, 256, 3, 1),
    "VGG-16 conv1_2": (224, 224, 64, 64, 3, 1),
    "VGG-16 conv2_2": (112, 112, 128, 128, 3, 1),
    "VGG-16 conv3_3": (56, 56, 256, 256, 3, 1),
    "VGG-16 conv4_3": (28, 28, 512, 512, 3, 1),
    "VGG-16 conv5_3": (14, 14, 512, 512, 3, 1),
    "ResNet-50 conv1": (224, 112, 3, 64, 7, 2),
    "ResNet-50 res2a_branch2b": (56, 56, 64, 64, 3, 1),
    "ResNet-50 res3a_branch2a": (56, 28, 256, 128, 1, 2),
    "ResNet-50 res4a_branch2b": (14, 14, 256, 256, 3, 1),
    "ResNet-50 res5a_branch2c": (7, 7, 512, 2048, 1, 1),
}


def test_conv_layer_table_is_the_papers():
    """Each cell of the layer table against its paper: channels, filters, window and stride as
    printed, the output side as printed, and the padded input side: the paper's input plus the
    "same" padding of R - 1 (AlexNet conv1, with no padding in the paper, is padded to the
    (55 - 1) * 4 + 11 = 227 that gives its 55 outputs)."""
    layers = {layer.name: layer for layer in conv_layers()}
    assert set(layers) == set(PAPER_CONV_LAYERS)
    for name, (side, out, c, k, r, stride) in PAPER_CONV_LAYERS.items():
        layer = layers[name]
        padded = (out - 1) * stride + r if name == "AlexNet conv1" else side + r - 1
        assert (layer.C, layer.K, layer.R, layer.S, layer.stride) == (c, k, r, r, stride), name
        assert (layer.H, layer.W, layer.P, layer.Q) == (padded, padded, out, out), name


@pytest.mark.parametrize("call, exc, match", [
    (lambda: conv_layers(batch=0), ValueError, "batch must be >= 1"),
    (lambda: conv_layers("LeNet"), ValueError, "network must be one of"),
    (lambda: to_gemm((1, 2, 3)), TypeError, "layer must be a GemmLayer or a ConvLayer"),
    (lambda: conv_layer("c", H=2, W=2, R=3), ValueError, "c: filter R x S = 3 x 1 does not fit"),
    (lambda: conv_layer("c", H=4, W=4, stride=0), ValueError, "stride must be >= 1"),
    (lambda: conv_layer(3, H=4, W=4), TypeError, "name must be a string"),
    (lambda: scalesim.compare_with_scalesim(repeats=0), ValueError, "repeats must be >= 1"),
    (lambda: sy.kernel_source("all"), ValueError, "part must be one of"),
])
def test_layer_and_helper_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_systolic_widgets_build_and_draw():
    import matplotlib

    matplotlib.use("Agg")
    import ipywidgets as w
    import matplotlib.pyplot as plt

    from aichip.widgets import systolic as ws

    assert isinstance(ws.systolic_stepper(M=4, N=4, K=3, rows=3, cols=3, dataflow="ws"), w.Widget)
    assert isinstance(ws.utilization_explorer({"g": (16, 64, 32)}, dataflow="is"), w.Widget)
    trace = sy.trace_gemm(np.ones((4, 3)), np.ones((3, 4)), 3, 3, "ws", pipelined=True)
    ax = ws.draw_cycle(trace, 5)
    assert "newest fold" in ax.get_title()
    ax = ws.plot_utilization(16, 64, 32, "ws", sizes=(4, 8), pipelined=True)
    plt.close("all")
    with pytest.raises(ValueError, match="cycle must be <="):
        ws.draw_cycle(trace, 10**6)
    with pytest.raises(ValueError, match="layer must be one of"):
        ws.utilization_explorer({"g": (16, 64, 32)}, layer="h")


def test_systolic_explorers_draw_each_distinct_view_once_and_show_the_same_views(monkeypatch):
    """The stepper's and the utilisation explorer's same_view keys (a cycle past a run's end, the
    pipelined box under OS) only skip drawing: every static view equals the one drawn anew, and
    the keys do merge points."""
    from aichip.widgets import static
    from aichip.widgets import systolic as ws

    def explorer(draw, controls, grid=None, *, axes=None, same_view=None, **kwargs):
        levels = static.check_grid(controls, grid, axes)
        points = static.grid_points(levels, axes or {})
        keys = {same_view(**dict(zip(levels, p, strict=True))) for p in points}
        return (len(keys), len(points), static.precompute(draw, controls, grid, axes,
                                                          same_view=same_view),
                static.precompute(draw, controls, grid, axes))

    monkeypatch.setattr(ws, "explorer", explorer)
    for n_keys, n_points, once, every in (
            ws.systolic_stepper(M=2, N=3, K=2, rows=2, cols=2, cycle=2),
            ws.utilization_explorer({"g": (16, 64, 32), "h": (8, 8, 8)}, dataflow="is")):
        assert n_keys < n_points and once == every


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_one_past_a_multiple_of_the_array_costs_a_whole_fold(dataflow):
    # The padding rule of chapter 5, counted from the trace: with 4 x 4 PEs a mapped dimension of
    # 9 = 2*4 + 1 needs 3 folds, the third holding one row of work, so the PEs hold 9/12 of the
    # work a padded 12 would give them; 8 fits exactly. (OS maps M to rows, WS maps K to rows.)
    rows = cols = 4
    for dim, folds, efficiency in ((8, 2, 1.0), (9, 3, 9 / 12)):
        M, K = (dim, 3) if dataflow == "os" else (3, dim)
        A, B = np.ones((M, K)), np.ones((K, cols))
        counted = _counted_from_trace(sy.trace_gemm(A, B, rows, cols, dataflow), rows, cols)
        assert counted == (folds, pytest.approx(efficiency))
        model = sy.gemm_cycles(M, cols, K, rows, cols, dataflow)
        assert (model.folds, model.mapping_efficiency) == (folds, pytest.approx(efficiency))
