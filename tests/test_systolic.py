"""The systolic-array simulator against numpy, its analytical model, and SCALE-Sim's counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import systolic as sy

shapes = st.tuples(st.integers(1, 13), st.integers(1, 13), st.integers(1, 13),
                   st.integers(1, 6), st.integers(1, 6), st.sampled_from(sy.DATAFLOWS),
                   st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(shapes)
def test_product_equals_numpy_and_cycles_equal_model(case):
    M, N, K, rows, cols, dataflow, seed = case
    rng = np.random.default_rng(seed)
    A = rng.integers(-9, 10, (M, K))  # integer-valued: the sum is exact in any order
    B = rng.integers(-9, 10, (K, N))
    res = sy.simulate_gemm(A, B, rows, cols, dataflow, record_activity=True)
    np.testing.assert_array_equal(res.product, A @ B)
    model = sy.gemm_cycles(M, N, K, rows, cols, dataflow)
    assert res.compute_cycles == model.compute_cycles
    assert res.folds == model.folds
    assert res.utilization == pytest.approx(model.utilization)
    assert res.mapping_efficiency == pytest.approx(model.mapping_efficiency)
    assert res.activity.sum() == M * N * K
    assert res.activity.max() <= rows * cols


def test_float_product_close_to_numpy():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((37, 29)), rng.standard_normal((29, 41))
    for dataflow in sy.DATAFLOWS:
        np.testing.assert_allclose(sy.simulate_gemm(A, B, 8, 8, dataflow).product, A @ B,
                                   rtol=1e-12, atol=1e-12)


# SCALE-Sim 3.0.0 (pip install scalesim), GEMM mode, large SRAMs: its reported total cycles
# (no stalls). Ours are exactly one more on every layer (documented in the module docstring).
SCALESIM = [  # M, N, K, rows, cols, dataflow, SCALE-Sim cycles
    (20, 10, 7, 8, 8, "os", 125), (20, 10, 7, 8, 8, "ws", 83), (20, 10, 7, 8, 8, "is", 95),
    (20, 10, 7, 4, 16, "os", 124), (20, 10, 7, 4, 16, "is", 127),
    (50, 37, 70, 8, 8, "os", 2939), (50, 37, 70, 8, 8, "ws", 3239), (50, 37, 70, 8, 8, "is", 3716),
    (50, 37, 70, 4, 16, "os", 3431), (50, 37, 70, 4, 16, "ws", 3887),
    (50, 37, 70, 4, 16, "is", 4247),
]


@pytest.mark.parametrize("M, N, K, rows, cols, dataflow, scalesim", SCALESIM)
def test_cycles_match_scalesim(M, N, K, rows, cols, dataflow, scalesim):
    assert sy.gemm_cycles(M, N, K, rows, cols, dataflow).compute_cycles == scalesim + 1


def test_closed_form_single_fold():
    # One fold, os: K + rows + cols - 2 cycles; ws: one more `rows` to load the weights.
    assert sy.gemm_cycles(4, 4, 10, 4, 4, "os").compute_cycles == 10 + 4 + 4 - 2
    assert sy.gemm_cycles(10, 4, 4, 4, 4, "ws").compute_cycles == 2 * 4 + 4 + 10 - 2
    # Folding doubles the count when M needs two passes of the rows.
    assert sy.gemm_cycles(8, 4, 10, 4, 4, "os").folds == 2


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
    layers = [sy.GemmLayer("fc", 1, 1000, 4096), sy.ConvLayer("c", 58, 58, 3, 3, 64, 64)]
    df = sy.run_layers(layers, 32, 32, "ws")
    assert list(df["layer"]) == ["fc", "c"]
    assert df.loc[1, "M"] == 56 * 56 and df.loc[1, "K"] == 3 * 3 * 64 and df.loc[1, "N"] == 64
    assert (df["utilization"] <= df["mapping_efficiency"]).all()


@pytest.mark.parametrize("call, exc, match", [
    (lambda: sy.simulate_gemm(np.ones((2, 3)), np.ones((4, 2)), 2, 2), ValueError, "A.shape"),
    (lambda: sy.simulate_gemm(np.ones(3), np.ones((3, 2)), 2, 2), ValueError, "2-D"),
    (lambda: sy.simulate_gemm(np.ones((2, 3)), np.ones((3, 2)), 0, 2), ValueError, "rows"),
    (lambda: sy.simulate_gemm(np.ones((2, 3)), np.ones((3, 2)), 2, 2, "rs"), ValueError,
     "dataflow"),
    (lambda: sy.simulate_gemm(np.array([["a"]]), np.ones((1, 1)), 2, 2), TypeError, "real"),
    (lambda: sy.gemm_cycles(0, 1, 1, 2, 2), ValueError, "M"),
    (lambda: sy.gemm_cycles(1, 1, 1, 2, 2.5), TypeError, "cols"),
    (lambda: sy.trace_gemm(np.ones((50, 50)), np.ones((50, 50)), 8, 8, max_cells=100),
     ValueError, "max_cells"),
    (lambda: sy.run_layers([], 4, 4), ValueError, "at least one"),
    (lambda: sy.run_layers([(1, 2, 3)], 4, 4), TypeError, "GemmLayer"),
    (lambda: sy.run_layers([sy.ConvLayer("x", 3, 3, 5, 5, 1, 1)], 4, 4), ValueError, "larger"),
    (lambda: sy.im2col(np.ones((3, 3)), 1, 1), ValueError, "C, H, W"),
    (lambda: sy.filters_to_matrix(np.ones((3, 3))), ValueError, "K, C, R, S"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
