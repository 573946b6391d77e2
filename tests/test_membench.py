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
    for x, y in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(x, y)


#: McCalpin's STREAM definitions (STREAM's README and its results page, "Bytes/Iter" and
#: "FLOPS/Iter" for 64-bit words): copied here, not imported, so a wrong table in the code fails.
STREAM = {"copy": (16, 0), "scale": (16, 1), "add": (24, 1), "triad": (24, 2)}


@pytest.mark.parametrize("kernel", sorted(STREAM))
def test_kernel_table_matches_stream_definitions(kernel):
    bytes_per_elem, flops_per_elem = STREAM[kernel]
    assert membench.KERNELS[kernel]["bytes_per_elem"] == bytes_per_elem
    assert membench.KERNELS[kernel]["flops_per_elem"] == flops_per_elem


def _arrays_touched(kernel):
    """Which of a, b, c the kernel reads and which it writes, found by running it: an array is
    written when its contents change, read when poisoning it with NaN changes the output."""
    base = [np.full(8, v) for v in (1.0, 2.0, 0.5)]
    out = [x.copy() for x in base]
    membench.run_kernel(kernel, *out)
    written = [i for i in range(3) if not np.array_equal(out[i], base[i])]
    read = []
    for i in range(3):
        poisoned = [x.copy() for x in base]
        poisoned[i][:] = np.nan
        membench.run_kernel(kernel, *poisoned)
        if any(np.isnan(poisoned[j]).all() for j in written if j != i):
            read.append(i)
    return read, written


@pytest.mark.parametrize("kernel", sorted(STREAM))
def test_stream_bytes_are_reads_plus_writes_of_the_kernel(kernel):
    read, written = _arrays_touched(kernel)
    assert len(written) == 1
    assert 8 * (len(read) + len(written)) == STREAM[kernel][0]


@pytest.mark.parametrize("kernel", sorted(STREAM))
def test_measure_bandwidth_small(kernel, monkeypatch):
    from aichip.timing import Timing

    samples = (0.004, 0.005, 0.007, 0.002, 0.009)  # best 0.002 s, median 0.005 s

    def fake_time_call(fn, repeats=10, warmup=1):
        for _ in range(warmup + repeats):
            fn()
        return Timing(min(samples), 0.005, samples)

    monkeypatch.setattr(membench, "time_call", fake_time_call)
    result = membench.measure_bandwidth(kernel, n_bytes=3 * 2**20, threads=1, repeats=5)
    assert result.kernel == kernel and result.threads == 1 and result.correct
    n_arrays = 2 if kernel in ("copy", "scale") else 3
    n = 3 * 2**20 // (8 * n_arrays)
    assert result.n_elems == n
    assert result.n_bytes == n * 8 * n_arrays  # the footprint: every float64 array it streams
    moved = STREAM[kernel][0] * n
    assert result.best_s == 0.002 and result.median_s == 0.005
    assert result.best_GBps == pytest.approx(moved / 0.002 / 1e9)
    assert result.median_GBps == pytest.approx(moved / 0.005 / 1e9)
    # every kernel writes one float64 array; write-allocate reads each of its elements first
    assert result.best_dram_GBps == pytest.approx((moved + 8 * n) / 0.002 / 1e9)


def test_measure_bandwidth_real_timing():
    result = membench.measure_bandwidth("triad", n_bytes=3 * 2**20, threads=1, repeats=3)
    assert result.correct and 0 < result.median_GBps <= result.best_GBps


def test_default_size_exceeds_cache():
    info = membench.machine.describe()
    if info.llc_bytes:
        assert membench.default_n_bytes("triad") >= 3 * 4 * info.llc_bytes


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"kernel": "fma"}, ValueError, "kernel must be one of"),
    ({"kernel": 3}, TypeError, "kernel must be a string"),
    ({"n_bytes": 0}, ValueError, "n_bytes must be >="),
    ({"n_bytes": -5}, ValueError, "n_bytes must be >= 3072"),
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
    with pytest.raises(TypeError, match="a must be a 1-D float64"):
        membench.run_kernel("triad", np.zeros(3, np.float32), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="kernel must be one of"):
        membench.run_kernel("fma", np.zeros(3), np.zeros(3), np.zeros(3))
