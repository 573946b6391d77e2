import numpy as np
import pytest

from aichip import membench


@pytest.mark.parametrize("kernel", list(membench.KERNELS))
def test_kernel_matches_numpy(kernel):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(1001) for _ in range(3)]
    ours = [x.copy() for x in arrays]
    ref = [x.copy() for x in arrays]
    membench.run_kernel(kernel, *ours, scalar=1.7)
    membench.reference(kernel, *ref, scalar=1.7)
    for x, y in zip(ours, ref):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kernel", list(membench.KERNELS))
def test_measure_bandwidth_small(kernel):
    result = membench.measure_bandwidth(kernel, n_bytes=3 * 2**20, threads=1, repeats=3)
    assert result.kernel == kernel
    assert result.threads == 1
    n_arrays = membench.KERNELS[kernel]["arrays"]
    assert result.n_elems == 3 * 2**20 // (8 * n_arrays)
    assert 0 < result.median_GBps <= result.best_GBps
    # bandwidth is bytes moved over the best time
    moved = membench.KERNELS[kernel]["bytes_per_elem"] * result.n_elems
    assert result.best_GBps == pytest.approx(moved / result.best_s / 1e9)
    # every kernel writes one float64 array; write-allocate reads each of its elements first
    assert result.best_dram_GBps == pytest.approx((moved + 8 * result.n_elems) / result.best_s / 1e9)


def test_default_size_exceeds_cache():
    info = membench.machine.describe()
    if info.llc_bytes:
        assert membench.default_n_bytes("triad") >= 3 * 4 * info.llc_bytes


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"kernel": "fma"}, ValueError, "kernel must be one of"),
    ({"kernel": 3}, TypeError, "kernel must be a string"),
    ({"n_bytes": 0}, ValueError, "n_bytes must be >="),
    ({"n_bytes": -5}, ValueError, "n_bytes"),
    ({"n_bytes": 1.5e6}, TypeError, "n_bytes must be an integer"),
    ({"threads": 0}, ValueError, "threads must be >= 1"),
    ({"threads": 10_000}, ValueError, "threads must be <="),
    ({"repeats": 0}, ValueError, "repeats must be >= 1"),
])
def test_measure_bandwidth_rejects_bad_input(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        membench.measure_bandwidth(**kwargs)


def test_run_kernel_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="same shape"):
        membench.run_kernel("triad", np.zeros(3), np.zeros(4), np.zeros(3))
    with pytest.raises(TypeError, match="float64"):
        membench.run_kernel("triad", np.zeros(3, np.float32), np.zeros(3), np.zeros(3))
