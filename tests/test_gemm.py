"""Every GEMM variant against NumPy, on shapes that are and are not multiples of the tiles."""

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


def test_traffic_counts():
    n = 1024  # naive: n^3 + 2n^2 elements; tiled with T=64: 3 n^3 / 64 + n^2; compulsory <= all
    assert gemm.traffic_bytes(n, "naive") == 8 * (n**3 + 2 * n**2)
    assert gemm.traffic_bytes(n, "tiled") == 8 * (3 * n**3 // 64 + n**2)
    for v in gemm.VARIANTS:
        assert gemm.traffic_bytes(n, v) >= 8 * 3 * n**2
    assert gemm.intensity(n, "packed") > gemm.intensity(n, "tiled") > gemm.intensity(n, "naive")


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
