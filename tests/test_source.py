"""aichip.source.marked_source: the lines between two marker comments, on a module, a function
and a numba kernel; every kernel a chapter shows through its markers is found."""

import numpy as np
import pytest
from numba import njit

from aichip import gemm, gpu, memory, sparse, systolic_engine
from aichip.source import marked_source

SAMPLE = '''
def f(x):
    y = x + 1
    # magictoken: body-begin
    if y > 2:
        y = 2
    # magictoken: body-end
    return y
'''


def test_lines_between_the_markers_dedented(tmp_path, monkeypatch):
    path = tmp_path / "sample_markers.py"
    path.write_text(SAMPLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import sample_markers

    assert marked_source(sample_markers.f, "body") == "if y > 2:\n    y = 2"
    assert marked_source(sample_markers, "body") == "if y > 2:\n    y = 2"


@njit(cache=False)
def _jitted(a):
    s = 0.0
    # magictoken: loop-begin
    for x in a:
        s += x
    # magictoken: loop-end
    return s


def test_numba_kernel_is_read_through_its_python_function():
    assert _jitted(np.ones(3)) == 3.0
    assert marked_source(_jitted, "loop") == "for x in a:\n    s += x"


@pytest.mark.parametrize("obj, token, must_contain", [
    (systolic_engine.systolic_kernel, "pe", "v[r, c] = v_in + h_in * s[r, c]"),
    (gemm._emit_micro_kernel, "micro", "for"),
    (memory._chase_kernel, "chase", "for"),
    (gpu.kernels, "tiled_matmul", "cuda.syncthreads()"),
    (sparse, "block_sparse_kernel", "def "),
])
def test_every_shown_kernel_is_marked_once(obj, token, must_contain):
    src = marked_source(obj, token)
    assert must_contain in src and "magictoken" not in src


@pytest.mark.parametrize("token, exc, match", [
    ("", TypeError, "token must be a non-empty string"),
    (3, TypeError, "token must be a non-empty string"),
    ("no_such_block", ValueError, "token 'no_such_block' must mark exactly one block"),
])
def test_bad_token(token, exc, match):
    with pytest.raises(exc, match=match):
        marked_source(systolic_engine.systolic_kernel, token)
