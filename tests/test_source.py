"""aichip.source.marked_source: the lines between two marker comments, on a module, a function
and a numba kernel; every kernel a chapter shows through its markers is found."""

import inspect

import numpy as np
import pytest
from numba import njit

from aichip import flops, gemm, gpu, membench, memory, sparse, systolic_engine
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
    (systolic_engine._pe_update, "pe", "v[now, i + cols] = v_in + h_in * s[i]"),
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


@pytest.mark.parametrize("accessor, part, kernel", [
    *[(membench.kernel_source, k, getattr(membench, f"_{k}_kernel")) for k in membench.KERNELS],
])
def test_whole_kernel_accessors_show_the_function_that_runs(accessor, part, kernel):
    # the markers wrap a whole kernel, decorator included: what inspect reads from the function
    # the package calls (its Python function under numba)
    expected = inspect.getsource(getattr(kernel, "py_func", kernel)).rstrip()
    assert accessor(part) == expected


def test_fma_source_is_the_body_that_emits_the_peak_kernel():
    """flops.kernel_source("fma") is the IR-emitting body the peak kernel's intrinsic calls:
    consecutive lines of that function's source, with the one FMA call the chains repeat."""
    body = [ln.strip() for ln in flops.kernel_source("fma").splitlines()]
    whole = [ln.strip() for ln in inspect.getsource(flops._emit_fma_chains).splitlines()]
    start = whole.index(body[0])
    assert whole[start:start + len(body)] == body and "magictoken" not in "".join(body)
    assert any("llvm.fma.v" in ln for ln in body) and any("builder.call(fma" in ln for ln in body)


@pytest.mark.parametrize("part, kernel", [("naive_matmul", "_matmul_naive"),
                                          ("tiled_matmul", "_matmul_tiled"),
                                          ("reduce", "_reduce_block_sums")])
def test_gpu_kernel_source_shows_each_cuda_kernel_whole(part, kernel):
    src = gpu.kernel_source(part)
    assert src.startswith("@cuda.jit") and f"def {kernel}(" in src and "magictoken" not in src
    assert set(gpu.KERNEL_PARTS) == {"naive_matmul", "tiled_matmul", "reduce"}


@pytest.mark.parametrize("accessor, arg", [(membench.kernel_source, "kernel"),
                                           (flops.kernel_source, "part"),
                                           (gpu.kernel_source, "part")])
def test_kernel_accessor_names_its_argument(accessor, arg):
    with pytest.raises(ValueError, match=arg):
        accessor("no such kernel")



def test_sparse_kernel_source_shows_the_block_sparse_kernel():
    src = sparse.kernel_source()
    assert "def _block_sparse_kernel(" in src and "magictoken" not in src
    with pytest.raises(ValueError, match="part"):
        sparse.kernel_source("no such kernel")
