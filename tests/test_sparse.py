"""2:4 structured sparsity and block-sparse matmul against plain NumPy references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import sparse


def _prune_reference(W):
    """2:4 by a Python loop: in each group of 4 keep the 2 largest |w| (lower index on a tie)."""
    out = np.zeros_like(W)
    for r in range(W.shape[0]):
        for g in range(0, W.shape[1], 4):
            keep = sorted(range(4), key=lambda i: (-abs(W[r, g + i]), i))[:2]
            for i in keep:
                out[r, g + i] = W[r, g + i]
    return out


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_prune_2_4_round_trip_equals_reference(rows, groups, seed):
    rng = np.random.default_rng(seed)
    W = rng.integers(-3, 4, (rows, 4 * groups)).astype(np.float64)   # many ties and zeros
    values, meta = sparse.prune_2_4(W)
    assert values.shape == meta.shape == (rows, 2 * groups)
    dense = sparse.decompress_2_4(values, meta)
    np.testing.assert_array_equal(dense, _prune_reference(W))
    assert np.all((dense.reshape(rows, groups, 4) != 0).sum(axis=2) <= 2)


def test_prune_keeps_largest_magnitudes_and_known_metadata():
    W = np.array([[0.1, -0.9, 0.5, 0.2, 3.0, 0.0, 0.0, -4.0]])
    values, meta = sparse.prune_2_4(W)
    np.testing.assert_array_equal(values, [[-0.9, 0.5, 3.0, -4.0]])
    np.testing.assert_array_equal(meta, [[1, 2, 0, 3]])


def test_already_2_4_matrix_is_unchanged():
    W = _prune_reference(np.random.default_rng(1).standard_normal((8, 16)))
    np.testing.assert_array_equal(sparse.decompress_2_4(*sparse.prune_2_4(W)), W)


def test_metadata_is_two_bits_per_kept_value():
    rows, cols = 64, 128
    values, meta = sparse.prune_2_4(np.random.default_rng(2).standard_normal((rows, cols)))
    packed = sparse.pack_metadata_2_4(meta)
    # NVIDIA's format: cols/2 kept values per row, 2 bits each -> rows * cols / 8 bytes
    assert packed.nbytes == rows * cols // 8
    assert values.size == rows * cols // 2
    np.testing.assert_array_equal(sparse.unpack_metadata_2_4(packed), meta)
    # the first group's two positions sit in the low four bits of the first byte
    assert packed[0, 0] & 0b1111 == meta[0, 0] | (meta[0, 1] << 2)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([1, 2, 4, 8]), st.integers(1, 5), st.integers(1, 5), st.integers(1, 9),
       st.floats(0.05, 1.0), st.integers(0, 2**32 - 1))
def test_block_sparse_matmul_equals_dense(b, kb, nb, M, density, seed):
    rng = np.random.default_rng(seed)
    layout = (rng.random((kb, nb)) < density).astype(np.uint8)
    W = np.kron(layout, np.ones((b, b))) * rng.integers(-4, 5, (kb * b, nb * b))
    x = rng.integers(-4, 5, (M, kb * b)).astype(np.float64)
    blocks, lay = sparse.to_block_sparse(W, b)
    # an all-zero stored block is dropped, so the layout can only lose blocks
    assert np.all(lay <= layout)
    np.testing.assert_array_equal(sparse.from_block_sparse(blocks, lay, b), W)
    np.testing.assert_array_equal(sparse.block_sparse_matmul(x, blocks, lay, b), x @ W)


@pytest.mark.parametrize("b", sparse.BLOCK_SIZES)
def test_block_sparse_float32_random_layout(b):
    rng = np.random.default_rng(b)
    layout = sparse.random_layout(6, 5, 0.5, seed=b)
    assert np.all(layout.sum(axis=0) == 3)
    W = (np.kron(layout, np.ones((b, b))) * rng.standard_normal((6 * b, 5 * b))).astype(np.float32)
    x = rng.standard_normal((37, 6 * b)).astype(np.float32)
    got = sparse.block_sparse_matmul(x, *sparse.to_block_sparse(W, b), b)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, x.astype(np.float64) @ W.astype(np.float64), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("b", sparse.BLOCK_SIZES)
@pytest.mark.parametrize("l2_bytes", [1, sparse.L2_BYTES])
@pytest.mark.parametrize("threads", [1, None])
def test_block_sparse_row_blocks_threads_and_edges(monkeypatch, dtype, b, l2_bytes, threads):
    """Many MR-row panels (M not a multiple of MR), on one thread or all, one row block of x
    at a time (l2_bytes=1: a single panel per block) or as many as half of L2 holds, with empty
    block columns and block rows: exactly NumPy's product (small integers, exact in float32)."""
    from aichip.threads import numba_threads

    monkeypatch.setattr(sparse, "L2_BYTES", l2_bytes)
    rng = np.random.default_rng(b)
    layout = (rng.random((7, 6)) < 0.4).astype(np.uint8)
    layout[:, 2] = 0           # a block column with no stored block: its output is zero
    layout[3, :] = 0           # a block row of W no column uses
    layout[0, 0] = 1
    W = (np.kron(layout, np.ones((b, b))) * rng.integers(-3, 4, (7 * b, 6 * b))).astype(dtype)
    x = rng.integers(-3, 4, (101, 7 * b)).astype(dtype)
    with numba_threads(threads):
        got = sparse.block_sparse_matmul(x, *sparse.to_block_sparse(W, b), b)
    assert got.dtype == dtype and got.shape == (101, 6 * b)
    np.testing.assert_array_equal(got, x.astype(np.float64) @ W.astype(np.float64))


def test_benchmark_reports_every_density_with_a_checked_result():
    df = sparse.benchmark(n=64, block_size=16, densities=(0.5, 0.25), repeats=1)
    assert list(df["density"]) == [1.0, 0.5, 0.25]
    assert np.all(df["max_rel_error"] < 1e-5)
    assert df["machine"].iloc[0]


@pytest.mark.parametrize("call,exc,match", [
    (lambda: sparse.prune_2_4(np.ones((2, 6))), ValueError, "W"),
    (lambda: sparse.prune_2_4(np.ones(8)), ValueError, "W"),
    (lambda: sparse.prune_2_4([[np.inf, 0, 0, 0]]), ValueError, "W"),
    (lambda: sparse.decompress_2_4(np.ones((1, 2)), np.array([[1, 1]])), ValueError, "metadata"),
    (lambda: sparse.decompress_2_4(np.ones((1, 2)), np.array([[0, 4]])), ValueError, "metadata"),
    (lambda: sparse.decompress_2_4(np.ones((1, 2)), np.zeros((1, 4))), ValueError, "metadata"),
    (lambda: sparse.to_block_sparse(np.ones((6, 8)), 4), ValueError, "block_size"),
    (lambda: sparse.to_block_sparse(np.ones((8, 8)), 0), ValueError, "block_size"),
    (lambda: sparse.block_sparse_matmul(np.ones((2, 8)), np.ones((1, 4, 4)), [[1, 0]], 4),
     ValueError, "x has 8 columns; layout and block_size need K = 4"),
    (lambda: sparse.block_sparse_matmul(np.ones((2, 4)), np.ones((2, 4, 4)), [[1, 0]], 4),
     ValueError, "blocks"),
    (lambda: sparse.block_sparse_matmul(np.ones((2, 4)), np.ones((1, 4, 4)), [[2, 0]], 4),
     ValueError, "layout"),
    (lambda: sparse.random_layout(4, 4, 0.0), ValueError, "density"),
    (lambda: sparse.benchmark(n=100, block_size=32), ValueError, "block_size"),
])
def test_sparse_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_crossover_density_interpolates_in_log_density():
    import pandas as pd

    # speed-up vs NumPy 0.5 at density 1/2 and 2 at density 1/8: log-linear crossing at 1/4
    df = pd.DataFrame(dict(block_size=[32, 32, 32], density=[0.5, 0.125, 1.0],
                           speedup_vs_numpy=[0.5, 2.0, 0.25]))
    assert sparse.crossover_density(df, 32) == pytest.approx(0.25)
    never = df.assign(speedup_vs_numpy=[0.5, 0.9, 0.25])
    assert sparse.crossover_density(never, 32) is None
    with pytest.raises(ValueError, match="block_size"):
        sparse.crossover_density(df, 16)


def test_all_negative_groups_and_blocks_are_kept():
    """Deterministic cases for what random tests catch only sometimes: magnitude, not sign,
    decides. 2:4 groups [-1, -5, -3, -0.5] -> -5, -3 at positions 1, 2; [0, -2, 0, -1] -> 1, 3."""
    W = np.array([[-1.0, -5.0, -3.0, -0.5, 0.0, -2.0, 0.0, -1.0]])
    values, meta = sparse.prune_2_4(W)
    np.testing.assert_array_equal(values, [[-5.0, -3.0, -2.0, -1.0]])
    np.testing.assert_array_equal(meta, [[1, 2, 1, 3]])
    # block sparsity: a 2 x 2 block whose only non-zeros are negative is a non-zero block
    W = np.zeros((4, 4))
    W[0:2, 2:4] = [[-1.0, 0.0], [0.0, -7.0]]
    W[2:4, 0:2] = [[-0.25, -0.5], [-1.0, -2.0]]
    blocks, layout = sparse.to_block_sparse(W, 2)
    np.testing.assert_array_equal(layout, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(blocks, [W[0:2, 2:4], W[2:4, 0:2]])
    np.testing.assert_array_equal(sparse.from_block_sparse(blocks, layout, 2), W)
    x = np.arange(8.0).reshape(2, 4)
    np.testing.assert_allclose(sparse.block_sparse_matmul(x, blocks, layout, 2), x @ W)


def test_block_sizes_are_openais():
    # the block sizes of OpenAI's block-sparse kernels (Gray, Radford and Kingma 2017)
    assert sparse.BLOCK_SIZES == (8, 16, 32)
