"""numba.cuda kernels against NumPy; with no GPU they run on numba's CUDA simulator (small n)."""

import numpy as np
import pytest

from aichip import gpu


def test_backend_is_named():
    name = gpu.backend()
    assert isinstance(name, str) and name
    assert gpu.using_simulator() == ("simulator" in name)


@pytest.mark.parametrize("variant", gpu.MATMUL_VARIANTS)
@pytest.mark.parametrize("m,k,n", [(16, 16, 16), (19, 23, 9), (1, 5, 33)])
def test_cuda_matmul_equals_numpy(variant, m, k, n):
    # integer-valued float32: every partial sum is exact, so any summation order gives A @ B
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    A = rng.integers(-5, 6, (m, k)).astype(np.float32)
    B = rng.integers(-5, 6, (k, n)).astype(np.float32)
    C = gpu.cuda_matmul(A, B, variant)
    assert C.dtype == np.float32 and C.shape == (m, n)
    np.testing.assert_array_equal(C, A @ B)


def test_cuda_matmul_float_inputs_close_to_numpy():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((17, 20)), rng.standard_normal((20, 18))
    np.testing.assert_allclose(gpu.cuda_matmul(A, B, "shared"), A @ B, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [1, 127, 128, 300])
def test_cuda_reduce_sum_equals_numpy(n):
    x = np.random.default_rng(n).integers(-9, 10, n).astype(np.float32)
    assert gpu.cuda_reduce_sum(x) == float(x.sum(dtype=np.float64))


def test_cuda_reduce_sum_two_passes():
    # 3 blocks write 3 partial sums; a second launch reduces them
    x = np.arange(600, dtype=np.float32)
    assert gpu.cuda_reduce_sum(x, blocks=3) == 599 * 600 / 2


@pytest.mark.parametrize("call,exc,match", [
    (lambda: gpu.cuda_matmul(np.ones((2, 3)), np.ones((2, 2))), ValueError, "A's columns"),
    (lambda: gpu.cuda_matmul(np.ones(3), np.ones((3, 2))), ValueError, "A"),
    (lambda: gpu.cuda_matmul(np.ones((2, 2)), np.ones((2, 2)), "tiled"), ValueError, "variant"),
    (lambda: gpu.cuda_matmul(np.array([["a"]]), np.ones((1, 1))), TypeError, "A"),
    (lambda: gpu.cuda_reduce_sum([]), ValueError, "x"),
    (lambda: gpu.cuda_reduce_sum([1.0], blocks=0), ValueError, "blocks"),
])
def test_kernels_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_check_kernels_counts_and_times(monkeypatch):
    # under the simulator: every kernel exact on small integers, no timing
    df = gpu.check_kernels(n=8, repeats=1)
    assert list(df["correct"]) == [True, True, True]
    assert (df["max_abs_error"] == 0).all() and df["time_s"].isna().all()
    # timed as on a GPU: an n x n matmul is 2 n^3 FLOPs (n multiply-adds per output element)
    monkeypatch.setattr("aichip.gpu.kernels.using_simulator", lambda: False)
    monkeypatch.setattr("aichip.gpu.kernels.backend", lambda: "timed simulator")
    df = gpu.check_kernels(n=8, repeats=1).set_index("kernel")
    for name in ("matmul naive", "matmul shared"):
        row = df.loc[name]
        assert row["correct"] and row["time_s"] > 0
        assert row["GFLOPs"] * 1e9 * row["time_s"] == pytest.approx(2 * 8**3)
    assert np.isnan(df.loc["reduce sum", "GFLOPs"])
