import sys

import pytest

from aichip import machine, timing, validation


def test_time_call_counts_calls():
    calls = []
    t = timing.time_call(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(t.samples_s) == 4
    assert t.best_s <= t.median_s


@pytest.mark.parametrize("call, exc, text", [
    (lambda: timing.time_call(3), TypeError, "fn must be callable"),
    (lambda: timing.time_call(lambda: 0, repeats=0), ValueError, "repeats must be >= 1"),
    (lambda: validation.check_int("n", True), TypeError, "n must be an integer"),
    (lambda: validation.check_int("n", 5, maximum=4), ValueError, "n must be <= 4"),
    (lambda: validation.check_float("x", float("nan")), ValueError, "x must be finite"),
    (lambda: validation.check_choice("k", "z", ("a", "b")), ValueError, r"k must be one of \('a', 'b'\)"),
])
def test_validation_messages(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_machine_description_names_cpu_and_threads():
    info = machine.describe()
    assert info.logical_cpus >= 1 and info.numba_threads >= 1
    assert "numba threads" in str(info)


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse sse2 avx fma avx2", (256, "AVX2")),
    ("sse2 avx avx2 avx512f avx512dq", (512, "AVX-512")),
    ("fp asimd evtstrm", (128, "NEON")),
    ("fpu vme", None),
])
def test_cpu_vector_reads_the_widest_flag(flags, expected):
    assert machine.cpu_vector(flags) == expected


def test_cpu_vector_rejects_non_string_flags():
    with pytest.raises(TypeError, match="flags must be a string"):
        machine.cpu_vector(["avx2"])


def test_blas_info_reads_openblas_kernels_on_linux():
    info = machine.blas_info()
    assert info.library and info.library in str(info)
    if sys.platform == "linux" and "openblas" in info.library.lower():
        # NumPy's wheels ship OpenBLAS, which reports the kernel set it picked at start-up
        assert info.core, "could not read OpenBLAS's core name from the loaded library"
        assert info.core in str(info)
    if info.vector_bits is not None:
        assert info.vector_bits in (128, 256, 512)


def test_blas_info_report_names_both_widths():
    info = machine.BlasInfo("openblas", "Haswell", 256, "AVX2", 512, "AVX-512")
    assert str(info) == ("NumPy's BLAS: openblas, Haswell kernels (256-bit AVX2)\n"
                         "CPU's widest vectors: 512-bit AVX-512")
    unknown = machine.BlasInfo("accelerate", None, None, None, None, None)
    assert str(unknown) == "NumPy's BLAS: accelerate (which kernels it chose could not be read)"
