import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import ladder


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 12), k=st.integers(1, 40), n=st.integers(1, 12), seed=st.integers(0, 99))
def test_every_step_equals_integer_matmul(m, k, n, seed):
    a, bt = ladder.make_operands(m, k, n, seed)
    exact = a.astype(np.int64) @ bt.astype(np.int64).T
    for step in ladder.STEPS:
        c = ladder.matmul(step, a, bt)
        assert c.shape == (m, n)
        assert np.array_equal(c.astype(np.int64), exact), step


def test_worst_case_sums_are_exact_at_max_k():
    # all products +127*127 (or -127*127): the largest partial sums the ladder allows
    k = ladder.MAX_K
    a = np.full((3, k), 127, dtype=np.int8)
    bt = np.full((2, k), -127, dtype=np.int8)
    expected = np.full((3, 2), -127 * 127 * k, dtype=np.int64)
    for step in ("scalar", "simd", "threads", "int8"):
        assert np.array_equal(ladder.matmul(step, a, bt).astype(np.int64), expected), step


def test_run_ladder_reports_every_step_correct():
    steps = ladder.run_ladder(size=16, python_size=4, repeats=1)
    assert [s.step for s in steps] == list(ladder.STEPS)
    assert all(s.correct for s in steps)
    assert steps[0].speedup_vs_python == 1.0
    for s in steps:
        m, k, n = s.shape_mkn
        assert s.best_GOPs == pytest.approx(2 * m * k * n / s.best_s / 1e9)
    assert steps[2].speedup_vs_previous == pytest.approx(steps[2].best_GOPs / steps[1].best_GOPs)


def test_bad_input():
    a, bt = ladder.make_operands(2, 3, 2)
    with pytest.raises(ValueError, match="step must be one of"):
        ladder.matmul("gpu", a, bt)
    with pytest.raises(TypeError, match="a must be a 2-d int8"):
        ladder.matmul("simd", a.astype(np.float32), bt)
    with pytest.raises(TypeError, match="bt must be a 2-d int8"):
        ladder.matmul("simd", a, bt.ravel())
    with pytest.raises(ValueError, match="share their second dimension"):
        ladder.matmul("simd", a, bt[:, :2].copy())
    with pytest.raises(ValueError, match="k must be <= 1024"):
        ladder.make_operands(2, 2000, 2)
    with pytest.raises(ValueError, match="size must be >= 8"):
        ladder.run_ladder(size=4)
    with pytest.raises(ValueError, match="python_size must be <= 128"):
        ladder.run_ladder(python_size=1000)
    with pytest.raises(TypeError, match="repeats must be an integer"):
        ladder.run_ladder(repeats=1.5)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        ladder.run_ladder(threads=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        ladder.make_operands(2, 2, 2, seed=-1)
