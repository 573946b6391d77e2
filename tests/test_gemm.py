"""Every GEMM variant against NumPy, on shapes that are and are not multiples of the tiles."""

import os
import platform

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import gemm


@pytest.mark.parametrize("variant", gemm.VARIANTS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_variant_equals_numpy(variant, dtype, rtol):
    rng = np.random.default_rng(1)
    for m, k, n in [(1, 1, 1), (64, 256, 16), (67, 259, 35), (130, 70, 150)]:
        A = rng.standard_normal((m, k)).astype(dtype)
        B = rng.standard_normal((k, n)).astype(dtype)
        C = gemm.matmul(A, B, variant)
        assert C.dtype == dtype and C.shape == (m, n)
        np.testing.assert_allclose(C, A.astype(np.float64) @ B.astype(np.float64),
                                   rtol=rtol, atol=rtol * np.sqrt(k))


@settings(max_examples=20, deadline=None)
@given(m=st.integers(1, 90), k=st.integers(1, 300), n=st.integers(1, 90),
       variant=st.sampled_from(gemm.VARIANTS), seed=st.integers(0, 2**16))
def test_random_shapes(m, k, n, variant, seed):
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    np.testing.assert_allclose(gemm.matmul(A, B, variant), A @ B, rtol=1e-10, atol=1e-10 * k)


def test_non_contiguous_input():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((40, 30)).T  # Fortran order
    B = rng.standard_normal((40, 20))
    np.testing.assert_allclose(gemm.matmul(A, B), A @ B, rtol=1e-12)


class _LRU:
    """A fully associative LRU cache of ``capacity`` elements (one element per line), counting
    the elements loaded from the level below (read misses) and stored back to it (dirty
    evictions, and every dirty element at the end). A store that overwrites an element
    without reading it allocates its line without a load."""

    def __init__(self, capacity):
        self.capacity, self.lines, self.loads, self.stores = capacity, {}, 0, 0

    def touch(self, key, read=True, write=False):
        if key in self.lines:
            dirty = self.lines.pop(key)
        else:
            dirty = False
            self.loads += read
            if len(self.lines) >= self.capacity:
                oldest = next(iter(self.lines))
                self.stores += self.lines.pop(oldest)
        self.lines[key] = dirty or write

    def traffic(self):
        return self.loads + self.stores + sum(self.lines.values())


def _simulate(n, variant, capacity, tile=4):
    """Elements moved by each loop nest of gemm.py (the kernels' loop orders, written out in
    plain Python) through an LRU cache: an independent count of traffic_bytes' model."""
    cache = _LRU(capacity)
    r = range(n)
    if variant == "naive":
        for i in r:
            for j in r:
                for p in r:
                    cache.touch(("a", i, p))
                    cache.touch(("b", p, j))
                cache.touch(("c", i, j), read=False, write=True)   # c[i, j] = acc
    elif variant == "reordered":
        for i in r:
            for p in r:
                cache.touch(("a", i, p))
                for j in r:
                    cache.touch(("b", p, j))
                    cache.touch(("c", i, j), write=True)             # c[i, j] += ...
    else:  # tiled
        for i0 in range(0, n, tile):
            for p0 in range(0, n, tile):
                for j0 in range(0, n, tile):
                    for i in range(i0, i0 + tile):
                        for p in range(p0, p0 + tile):
                            cache.touch(("a", i, p))
                            for j in range(j0, j0 + tile):
                                cache.touch(("b", p, j))
                                cache.touch(("c", i, j), write=True)
    return cache.traffic()


def test_traffic_counts_match_a_cache_simulation(monkeypatch):
    """traffic_bytes against the loop nests run through a 96-element LRU cache at n = 16: the
    cache holds a row of A or C (reuse distance 2n = 32) and a 4 x 4 tile of A with two steps'
    tiles of B and C (80), not B (n**2 = 256), nor the tiles of C between two visits (112): the
    regime each variant's count assumes. (At 64 elements, LRU loses A's tile now and then.)"""
    n, capacity = 16, 96
    monkeypatch.setattr(gemm, "TILE", 4)
    naive = _simulate(n, "naive", capacity)
    assert naive == n**3 + 2 * n**2                                 # hand count: 4608
    assert gemm.traffic_bytes(n, "naive") == 8 * naive
    # reordered reads C and writes it back (c[i, j] += ...): n**2 each way, besides A and B
    reordered = _simulate(n, "reordered", capacity)
    assert reordered == n**3 + 3 * n**2
    assert gemm.traffic_bytes(n, "reordered") == 8 * reordered
    tiled = _simulate(n, "tiled", capacity, tile=4)
    assert tiled == 3 * n**3 // 4 + n**2                            # 3328
    assert gemm.traffic_bytes(n, "tiled") == 8 * tiled
    assert gemm.traffic_bytes(n, "tiled", bytes_per_elem=4) == 4 * tiled


def _packed_elements(n, mc, kc, nc):
    """Elements the packed schedule moves, counted from its loop nest (gemm._packed_kernel's
    5th, 4th and 3rd loops): each KC x NC panel of B packed once, each MC x KC block of A packed
    once per panel, and each MC x NC block of C read and written once per KC slice."""
    moved = 0
    for j0 in range(0, n, nc):
        ncb = min(nc, n - j0)
        for p0 in range(0, n, kc):
            kcb = min(kc, n - p0)
            moved += kcb * ncb                      # pack B
            for i0 in range(0, n, mc):
                mcb = min(mc, n - i0)
                moved += mcb * kcb                  # pack A
                moved += 2 * mcb * ncb              # C: read, then written back
    return moved


@pytest.mark.parametrize("n, hand", [
    # n = 1024: one NC = 2048 panel, two KC = 512 slices: B n^2 + A n^2 + C 2 n^2 x 2 = 6 n^2
    (1024, 6 * 1024**2),
    # n = 4096: two panels, eight slices: B n^2 + A 2 n^2 + C 2 n^2 x 8 = 19 n^2
    (4096, 19 * 4096**2),
])
def test_packed_traffic_pinned(n, hand, monkeypatch):
    monkeypatch.setattr(gemm, "PACKED_BLOCKING", {"MC": 64, "KC": 512, "NC": 2048})
    assert _packed_elements(n, 64, 512, 2048) == hand
    assert gemm.traffic_bytes(n, "packed") == 8 * hand
    assert gemm.traffic_bytes(n, "packed", bytes_per_elem=4) == 4 * hand


def test_packed_traffic_matches_loop_count_at_ragged_sizes(monkeypatch):
    monkeypatch.setitem(gemm.PACKED_BLOCKING, "KC", 3)
    monkeypatch.setitem(gemm.PACKED_BLOCKING, "NC", 5)
    for n in (1, 2, 3, 4, 7, 10, 11):
        assert gemm.traffic_bytes(n, "packed") == 8 * _packed_elements(n, 2, 3, 5), n


@pytest.mark.parametrize("caches, mr, nr, itemsize, expected", [
    # AVX2 core (32 KiB L1, 512 KiB L2, 32 MiB L3), 6 x 8 float64 tile: an eighth of L2 (64 KiB)
    # holds 1024 rows of 64 B of a B micro-panel (the cap); the rest, 448 KiB, holds 56 rows of
    # 8 KiB of A, 54 as a multiple of 6; a quarter of L3, 8 MiB, holds 1024 columns of 8 KiB
    ((32 * 2**10, 512 * 2**10, 32 * 2**20), 6, 8, 8, {"MC": 54, "KC": 1024, "NC": 1024}),
    # AVX-512 core (48 KiB L1, 2 MiB L2, 32 MiB L3), 14 x 16 float64 tile: 256 KiB / 128 B = 2048
    # rows, capped at 1024; (2 MiB - 128 KiB) / 8 KiB = 240 rows of A, 238 = 17 x 14
    ((48 * 2**10, 2 * 2**20, 32 * 2**20), 14, 16, 8, {"MC": 238, "KC": 1024, "NC": 1024}),
    # float32 and a small L3: 64 KiB / 32 B = 2048 -> 1024; (512 - 32) KiB / 4 KiB = 120 rows;
    # NC = 1 MiB / 4 KiB per column of B = 256
    ((32 * 2**10, 512 * 2**10, 4 * 2**20), 6, 8, 4, {"MC": 120, "KC": 1024, "NC": 256}),
    # a small L2 sets KC below the cap: 192 KiB / 8 / 128 B = 192 rows, a power of two: 128;
    # (192 - 16) KiB / 1 KiB = 176 rows of A, 168 = 12 x 14; NC = 2 MiB / 1 KiB = 2048
    ((32 * 2**10, 192 * 2**10, 8 * 2**20), 14, 16, 8, {"MC": 168, "KC": 128, "NC": 2048}),
])
def test_blocking_for_cache_sizes(caches, mr, nr, itemsize, expected):
    got = gemm.blocking_for(*caches, mr=mr, nr=nr, itemsize=itemsize)
    assert got == expected
    assert all(type(v) is int for v in got.values())  # loop bounds: whole elements


def test_traffic_ordering():
    n = 1024
    for v in gemm.VARIANTS:  # the compulsory traffic (A, B read, C written once) is a floor
        assert gemm.traffic_bytes(n, v) >= 8 * 3 * n**2
    assert gemm.intensity(n, "packed") > gemm.intensity(n, "tiled") > gemm.intensity(n, "naive")
    assert gemm.intensity(n, "naive") == pytest.approx(2 * n**3 / (8 * (n**3 + 2 * n**2)))


@pytest.mark.parametrize("call, match", [
    (lambda: gemm.matmul(np.ones((2, 3)), np.ones((4, 2))), "A's columns"),
    (lambda: gemm.matmul(np.ones((2, 3)), np.ones((3, 2)), variant="strassen"), "variant"),
    (lambda: gemm.matmul(np.ones((2, 3), dtype=int), np.ones((3, 2), dtype=int)), "A must be"),
    (lambda: gemm.matmul(np.ones((2, 3)), np.ones((3, 2), dtype=np.float32)), "A and B"),
    (lambda: gemm.matmul(np.ones(3), np.ones((3, 2))), "A must be 2-D"),
    (lambda: gemm.matmul(np.ones((2, 3)), [[1.0]]), "B must be a numpy"),
    (lambda: gemm.traffic_bytes(0, "naive"), "n must"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 70), k=st.integers(1, 90), n=st.integers(1, 110),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16))
def test_packed_random_shapes_both_dtypes(m, k, n, dtype, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    C = gemm.matmul(A, B, "packed")
    assert C.dtype == dtype
    np.testing.assert_allclose(C, A.astype(np.float64) @ B.astype(np.float64), rtol=tol,
                               atol=tol * np.sqrt(k))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mc, kc, nc", [(8, 5, 48), (16, 64, 96), (24, 13, 2048), (12, 7, 40)])
def test_packed_kernel_any_blocking(dtype, mc, kc, nc):
    # blocks smaller than the operands and not dividing them: every loop of the schedule runs
    # more than once and every edge case (partial MC, KC, NC blocks, partial micro-tiles) occurs;
    # nc = 40 is not a multiple of NR (a micro-panel crosses the NC boundary)
    mr, nr = gemm.micro_tile(dtype)
    rng = np.random.default_rng(5)
    A = rng.standard_normal((61, 47)).astype(dtype)
    B = rng.standard_normal((47, 133)).astype(dtype)
    C = np.zeros((61, 133), dtype=dtype)
    gemm._packed_kernel(A, B, C, mc, kc, nc, mr, nr, 2)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(C, A.astype(np.float64) @ B.astype(np.float64), rtol=tol,
                               atol=tol * 7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_packing_matches_index_formula(dtype):
    # out[q, p, i] = A[i0 + q*MR + i, p0 + p] and out[q, p, j] = B[p0 + p, j0 + q*NR + j], zero
    # outside the block, computed here by NumPy padding, reshaping and transposing
    mr, nr = gemm.micro_tile(dtype)
    rng = np.random.default_rng(3)
    A = rng.standard_normal((50, 40)).astype(dtype)
    i0, mc, p0, kc = 9, 21, 4, 30
    a_out = np.full((-(-mc // mr), kc, mr), np.nan, dtype=dtype)
    gemm._pack_a(A, i0, mc, p0, a_out)
    block = np.zeros((a_out.shape[0] * mr, kc), dtype=dtype)
    block[:mc] = A[i0:i0 + mc, p0:p0 + kc]
    np.testing.assert_array_equal(a_out, block.reshape(-1, mr, kc).transpose(0, 2, 1))

    B = rng.standard_normal((40, 2 * nr + 5)).astype(dtype)
    j0 = 3
    b_out = np.full((3, kc, nr), np.nan, dtype=dtype)
    gemm._pack_b(B, p0, j0, b_out)
    panel = np.zeros((kc, 3 * nr), dtype=dtype)
    panel[:, :B.shape[1] - j0] = B[p0:p0 + kc, j0:]
    np.testing.assert_array_equal(b_out, panel.reshape(kc, 3, nr).transpose(1, 0, 2))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_micro_kernel_adds_the_product(dtype):
    mr, nr = gemm.micro_tile(dtype)
    rng = np.random.default_rng(4)
    kc = 37
    ap = rng.standard_normal((kc, mr)).astype(dtype)
    bp = rng.standard_normal((kc, nr)).astype(dtype)
    c = rng.standard_normal((mr, nr)).astype(dtype)
    expected = c.astype(np.float64) + ap.T.astype(np.float64) @ bp.astype(np.float64)
    gemm._micro_only(kc, ap, bp, c)
    np.testing.assert_allclose(c, expected, rtol=1e-5 if dtype == "float32" else 1e-13,
                               atol=1e-5 if dtype == "float32" else 1e-13)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="no machine code with numba's JIT off")
def test_micro_kernel_asm_keeps_c_in_registers():
    info = gemm.micro_kernel_asm("float64")
    assert info["fma"] >= gemm.MR * gemm.NR_VECTORS and info["steps"] >= 1
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if platform.machine() == "x86_64" and " avx512f" in flags:
        # the whole MR x NR block of C lives in zmm registers: no store in the loop
        assert info["fma_zmm"] == info["fma"] and info["stores"] == 0


@pytest.mark.parametrize("call, match", [
    (lambda: gemm.micro_tile("int8"), "dtype"),
    (lambda: gemm.micro_kernel_asm("float16"), "dtype"),
])
def test_bad_dtype(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_host_blocking_falls_back_to_typical_caches(monkeypatch):
    """Where the OS reports no caches, the blocking is that of a 32 KiB L1, 512 KiB L2, 8 MiB L3."""
    from aichip import machine

    monkeypatch.setattr(machine, "cache_levels", lambda: [])
    assert gemm._host_blocking() == gemm.blocking_for(32 * 2**10, 512 * 2**10, 8 * 2**20)
    reported = [machine.CacheInfo(1, "Instruction", 2**20, 1), machine.CacheInfo(1, "Data",
                64 * 2**10, 1), machine.CacheInfo(2, "Unified", 2**20, 1)]
    monkeypatch.setattr(machine, "cache_levels", lambda: reported)
    assert gemm._host_blocking() == gemm.blocking_for(64 * 2**10, 2**20, 8 * 2**20)


def test_tiled_traffic_is_a_whole_number_of_elements(monkeypatch):
    # n = 10, TILE = 64: 3 n**3 / T = 46.875 -> 46 whole elements, plus n**2
    monkeypatch.setattr(gemm, "TILE", 64)
    assert gemm.traffic_bytes(10, "tiled") == 8 * (46 + 100)
    assert isinstance(gemm.traffic_bytes(10, "tiled"), int)


def test_benchmark_table_layout_and_numpy_row(monkeypatch):
    """Columns in the documented order; NumPy's row at the compulsory intensity 2 n**3 / (8 * 3
    n**2) = n / 12 FLOP/byte, on the thread count its BLAS reports (1 when it reports none)."""
    from contextlib import contextmanager

    from aichip import threads

    df = gemm.benchmark(n=24, variants=("packed",), threads=1, repeats=1)
    assert list(df.columns) == ["variant", "n", "threads", "best_s", "max_rel_err", "intensity",
                                "GFLOPs"]
    numpy_row = df.set_index("variant").loc["numpy"]
    assert numpy_row["intensity"] == pytest.approx(24 / 12, rel=1e-12)

    @contextmanager
    def no_control(threads=None):
        yield None

    monkeypatch.setattr(threads, "blas_threads", no_control)
    df = gemm.benchmark(n=24, variants=("packed",), threads=1, repeats=1)
    assert df.set_index("variant").loc["numpy", "threads"] == 1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_micro_kernel_python_fallback_adds_the_product(dtype):
    """The NumPy stand-in used with NUMBA_DISABLE_JIT=1, called directly: the MR x NR block at
    ``c_off`` of a C wider than NR (row stride ``ldc``) gets the product, nothing else moves."""
    mr, nr = gemm.micro_tile(dtype)
    rng = np.random.default_rng(6)
    kc, ldc, c_off = 5, nr + 3, 2
    ap = rng.standard_normal((kc + 1, mr)).astype(dtype)   # the panel starts one step in
    bp = rng.standard_normal((kc, nr)).astype(dtype)
    c = rng.standard_normal((mr + 1, ldc)).astype(dtype)
    expected = c.astype(np.float64).copy()
    expected.reshape(-1)[c_off:c_off + mr * ldc].reshape(mr, ldc)[:, :nr] += (
        ap[1:].T.astype(np.float64) @ bp.astype(np.float64))
    gemm._micro_kernel_python(kc, ap, mr, bp, 0, c, c_off, ldc)
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)


def test_empty_operands_are_rejected():
    with pytest.raises(ValueError, match="A must have at least one row"):
        gemm.matmul(np.ones((0, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="B must have at least one row"):
        gemm.matmul(np.ones((2, 3)), np.ones((3, 0)))
