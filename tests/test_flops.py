import numpy as np
import pytest

from aichip import flops


@pytest.mark.parametrize("n_iter", [1, 7, 50])
def test_fma_kernel_matches_closed_form(n_iter):
    x0 = np.linspace(-1, 1, 2 * flops.LANES).reshape(2, flops.LANES)
    acc = x0.copy()
    flops._fma_kernel(acc, n_iter, 0.97, 0.01)
    expected = flops.fma_recurrence(x0, n_iter * flops.CHAIN, 0.97, 0.01)
    np.testing.assert_allclose(acc, expected, rtol=1e-12, atol=1e-12)


def test_fma_recurrence_by_iteration():
    x = np.array([0.3, -2.0])
    for _ in range(13):
        x = 0.5 * x + 0.25
    np.testing.assert_allclose(flops.fma_recurrence([0.3, -2.0], 13, 0.5, 0.25), x, rtol=1e-14)


@pytest.mark.parametrize("n_iter", [1, 2, 7, 8, 13])
@pytest.mark.parametrize("threads", [1, 3])
def test_fma_flops_counts_two_per_fma_the_kernel_executes(n_iter, threads):
    # Count the FMAs by running the kernel itself with x <- 1*x + 1 from zero: each FMA adds
    # exactly 1 to its value, so the values sum to the number of FMAs done. One FMA is two flops
    # (a multiply and an add); odd and even iteration counts both, so no factor hides in a parity.
    acc = np.zeros((threads, flops.LANES))
    flops._fma_kernel(acc, n_iter, 1.0, 1.0)
    fmas = int(acc.sum())
    assert fmas > 0
    assert flops.fma_flops(n_iter, threads) == 2 * fmas


@pytest.mark.parametrize("dtype", flops.DTYPES)
def test_measure_peak_flops(dtype, monkeypatch):
    from aichip.timing import Timing

    calls = []

    def fake_time_call(fn, repeats=10, warmup=1):
        # runs the kernel as often as the real one would (the result check depends on it),
        # remembers how many iterations the last call used, and returns known times
        for _ in range(warmup + repeats):
            fn()
        calls.append(repeats)
        return Timing(0.001, 0.004, (0.001, 0.004, 0.006))

    real_kernel = flops._fma_kernel
    seen = []
    monkeypatch.setattr(flops, "_fma_kernel", lambda acc, n, a, b: (seen.append(n),
                                                                     real_kernel(acc, n, a, b)))
    monkeypatch.setattr(flops, "time_call", fake_time_call)
    r = flops.measure_peak_flops(dtype, threads=1, repeats=3, target_s=0.005)
    assert r.dtype == dtype and r.threads == 1 and r.correct
    n_iter = seen[-1]
    per_call = 2 * 8 * n_iter * 256  # two flops per FMA, 8 FMAs per round, 256 values per thread
    assert (flops.CHAIN, flops.LANES) == (8, 256)
    assert r.flops_per_call == per_call
    assert r.best_GFLOPs == pytest.approx(per_call / 0.001 / 1e9, rel=1e-12)
    assert r.median_GFLOPs == pytest.approx(per_call / 0.004 / 1e9, rel=1e-12)


def test_measure_peak_flops_real_timing():
    r = flops.measure_peak_flops("float64", threads=1, repeats=2, target_s=0.005)
    assert r.correct and 0 < r.median_GFLOPs <= r.best_GFLOPs


def test_gemm_reports_one_thread_when_the_blas_library_reports_none(monkeypatch):
    """A BLAS without a thread-count control (threadpoolctl finds none) runs on the calling
    thread as far as the book can tell: the result says 1, not a guess."""
    from contextlib import contextmanager

    @contextmanager
    def no_control(threads=None):
        yield None

    monkeypatch.setattr(flops, "blas_threads", no_control)
    assert flops.measure_gemm(16, repeats=1).threads == 1
    assert flops.measure_gemv(16, repeats=1).threads == 1


def test_measure_gemm_small():
    r = flops.measure_gemm(64, repeats=2, threads=1)
    assert r.kernel == "gemm" and r.flops_per_call == 2 * 64**3
    assert r.best_GFLOPs > 0 and r.correct and r.threads == 1


@pytest.mark.parametrize("i, j", [(0, 0), (17, 40), (63, 63)])
def test_freivalds_check_sees_one_wrong_entry(i, j):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((64, 64)), rng.standard_normal((64, 64))
    good = a @ b
    assert flops._freivalds_error(a, b, good, 0) <= 64 * np.finfo(np.float64).eps
    bad = good.copy()
    bad[i, j] += 1e-6 * np.abs(good).max()
    assert flops._freivalds_error(a, b, bad, 0) > 64 * np.finfo(np.float64).eps


@pytest.mark.parametrize("call, exc, text", [
    (lambda: flops.measure_peak_flops("float16"), ValueError, "dtype must be one of"),
    (lambda: flops.measure_peak_flops(threads=-1), ValueError, "threads must be >= 1"),
    (lambda: flops.measure_peak_flops(repeats=0), ValueError, "repeats must be >= 1"),
    (lambda: flops.measure_peak_flops(target_s=100), ValueError, "target_s"),
    (lambda: flops.measure_gemm(0), ValueError, "n must be >= 1"),
    (lambda: flops.measure_gemm(10, dtype="int8"), ValueError, "dtype must be one of"),
    (lambda: flops.measure_gemm(10, threads=0), ValueError, "threads must be >= 1"),
    (lambda: flops.measure_gemv(10, seed=-1), ValueError, "seed must be >= 0"),
    (lambda: flops.fma_flops(0, 1), ValueError, "n_iter must be >= 1"),
])
def test_rejects_bad_input(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_measure_gemv_small():
    r = flops.measure_gemv(100, repeats=2)
    assert r.kernel == "gemv" and r.flops_per_call == 2 * 100**2
    with pytest.raises(ValueError, match="n must be >= 1"):
        flops.measure_gemv(-3)


@pytest.mark.parametrize("features, width, registers", [
    ("+avx,+avx2,+fma,-avx512f", 32, 16),
    ("+avx2,+fma,+avx512f,+avx512vl,+prefer-256-bit", 64, 32),
    ("+sse2,+sse4.2,-avx", 16, 16),
])
def test_simd_width_follows_the_feature_string(features, width, registers):
    import platform

    from aichip import simd

    assert simd.vector_bytes(features) == width
    if platform.machine() == "x86_64":  # AArch64 has 32 vector registers whatever the string
        assert simd.vector_registers(features) == registers
    assert "avx512f" not in simd.target_features("+avx2,-avx512f")
    with pytest.raises(TypeError, match="features"):
        simd.target_features(512)


@pytest.mark.parametrize("dtype", flops.DTYPES)
def test_accumulator_chains_cover_fma_latency_times_pipes(dtype):
    from aichip import simd

    chains = flops.accumulator_chains(dtype)
    lanes = simd.vector_bytes() // np.dtype(dtype).itemsize
    assert chains >= 8 or chains == flops.LANES // lanes  # 2 pipes x 4 cycles, or the whole row
    assert flops.LANES % (chains * lanes) == 0  # the row splits into whole groups of chains
    assert flops.vector_bits() == 8 * simd.vector_bytes()
    with pytest.raises(ValueError, match="dtype"):
        flops.accumulator_chains("int8")


@pytest.mark.skipif(__import__("numba").config.DISABLE_JIT, reason="machine code needs the JIT")
@pytest.mark.parametrize("dtype", flops.DTYPES)
def test_peak_kernel_machine_code_is_full_width_fmas(dtype):
    """Every FMA of the compiled kernel is on the widest registers the target has (ymm with AVX2,
    zmm with AVX-512), one per accumulator per round, and nothing is spilled to the stack."""
    import re

    from numba import njit, types

    from aichip import simd

    run = njit(lambda row, n, a, b: flops._fma_chains(row, n, a, b))
    ty = getattr(types, dtype)
    sig = (types.Array(ty, 1, "C"), types.int64, ty, ty)
    run.compile(sig)
    fmas = [ln for ln in run.inspect_asm(sig).splitlines() if re.search(r"vfmadd\w*p[sd]", ln)]
    reg = {16: "xmm", 32: "ymm", 64: "zmm"}[simd.vector_bytes()]
    lanes = simd.vector_bytes() // np.dtype(dtype).itemsize
    assert len(fmas) == flops.CHAIN * flops.LANES // lanes  # every FMA of a round, unrolled
    assert all(reg in ln and "rsp" not in ln for ln in fmas)


@pytest.mark.parametrize("measure, n, flops_per_call", [
    (flops.measure_gemm, 64, 2 * 64**3), (flops.measure_gemv, 96, 2 * 96**2)])
def test_gemm_and_gemv_divide_their_flops_by_the_time(measure, n, flops_per_call, monkeypatch):
    """GFLOP/s = flops / seconds / 1e9, from the best and the median call: a fake timer returns
    known times (after running the product, which the correctness check reads)."""
    from aichip.timing import Timing

    def fake_time_call(fn, repeats=10, warmup=1):
        fn()
        return Timing(0.002, 0.008, (0.002, 0.008))

    monkeypatch.setattr(flops, "time_call", fake_time_call)
    r = measure(n, "float64", repeats=2)
    assert r.flops_per_call == flops_per_call
    assert r.best_GFLOPs == pytest.approx(flops_per_call / 0.002 / 1e9, rel=1e-12)
    assert r.median_GFLOPs == pytest.approx(flops_per_call / 0.008 / 1e9, rel=1e-12)
