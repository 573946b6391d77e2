import numpy as np
import pytest

from aichip import flops


@pytest.mark.parametrize("n_iter", [1, 7, 50])
def test_fma_kernel_matches_closed_form(n_iter):
    x0 = np.linspace(-1, 1, 2 * flops._LANES).reshape(2, flops._LANES)
    acc = x0.copy()
    flops._fma_kernel(acc, n_iter, 0.97, 0.01)
    expected = flops.fma_recurrence(x0, n_iter * flops._CHAIN, 0.97, 0.01)
    np.testing.assert_allclose(acc, expected, rtol=1e-12, atol=1e-12)


def test_fma_recurrence_by_iteration():
    x = np.array([0.3, -2.0])
    for _ in range(13):
        x = 0.5 * x + 0.25
    np.testing.assert_allclose(flops.fma_recurrence([0.3, -2.0], 13, 0.5, 0.25), x, rtol=1e-14)


@pytest.mark.parametrize("dtype", flops.DTYPES)
def test_measure_peak_flops(dtype):
    r = flops.measure_peak_flops(dtype, threads=1, repeats=2, target_s=0.005)
    assert r.dtype == dtype and r.threads == 1
    assert 0 < r.median_GFLOPs <= r.best_GFLOPs
    assert r.flops_per_call % (2 * flops._CHAIN * flops._LANES) == 0


def test_measure_gemm_small():
    r = flops.measure_gemm(64, repeats=2)
    assert r.kernel == "gemm" and r.flops_per_call == 2 * 64**3
    assert r.best_GFLOPs > 0


@pytest.mark.parametrize("call, exc, text", [
    (lambda: flops.measure_peak_flops("float16"), ValueError, "dtype must be one of"),
    (lambda: flops.measure_peak_flops(threads=-1), ValueError, "threads must be >= 1"),
    (lambda: flops.measure_peak_flops(repeats=0), ValueError, "repeats must be >= 1"),
    (lambda: flops.measure_peak_flops(target_s=100), ValueError, "target_s"),
    (lambda: flops.measure_gemm(0), ValueError, "n must be >= 1"),
    (lambda: flops.measure_gemm(10, dtype="int8"), ValueError, "dtype must be one of"),
])
def test_rejects_bad_input(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_measure_gemv_small():
    r = flops.measure_gemv(100, repeats=2)
    assert r.kernel == "gemv" and r.flops_per_call == 2 * 100**2
    with pytest.raises(ValueError, match="n must be >= 1"):
        flops.measure_gemv(-3)
