import sys

import pytest

from aichip import machine, timing, validation


def test_time_call_counts_calls():
    calls = []
    t = timing.time_call(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(t.samples_s) == 4
    assert t.best_s <= t.median_s


def test_time_call_best_and_median_from_the_clock(monkeypatch):
    # a scripted clock: the five timed calls last 5, 1, 4, 2 and 3 seconds (warm-up untimed)
    ticks = iter([0, 5, 10, 11, 20, 24, 30, 32, 40, 43])
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks))
    t = timing.time_call(lambda: None, repeats=5, warmup=1)
    assert t.samples_s == (5, 1, 4, 2, 3)
    assert t.best_s == 1 and t.median_s == 3


def test_time_call_median_of_an_even_count(monkeypatch):
    ticks = iter([0, 4, 10, 11, 20, 22, 30, 38])  # 4, 1, 2, 8 s: median (2 + 4) / 2
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks))
    assert timing.time_call(lambda: None, repeats=4, warmup=0).median_s == 3


def test_time_call_times_until_min_time(monkeypatch):
    # every call lasts 2 s on a scripted clock: 7 s need 4 calls; 2 repeats alone would give 2
    clock = iter(range(0, 1000, 2))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    assert len(timing.time_call(lambda: None, repeats=2, warmup=0, min_time_s=7).samples_s) == 4
    clock = iter(range(0, 1000, 2))
    assert len(timing.time_call(lambda: None, repeats=2, warmup=0).samples_s) == 2
    # the cap stops a long minimum; repeats above the cap still all run
    clock = iter(range(0, 1000, 2))
    t = timing.time_call(lambda: None, repeats=2, warmup=0, min_time_s=100, max_repeats=3)
    assert len(t.samples_s) == 3
    clock = iter(range(0, 1000, 2))
    t = timing.time_call(lambda: None, repeats=5, warmup=0, min_time_s=100, max_repeats=3)
    assert len(t.samples_s) == 5


class _ScriptedClocks:
    """A wall clock that sleep() advances, and a process CPU clock that advances by a scripted
    amount during each sleep (the busy seconds of the process's other threads)."""

    def __init__(self, busy_per_sleep):
        self.wall, self.cpu, self.sleeps = 0.0, 0.0, 0
        self.busy = list(busy_per_sleep)

    def sleep(self, s):
        self.wall += s
        self.cpu += self.busy[self.sleeps] if self.sleeps < len(self.busy) else 0.0
        self.sleeps += 1


def _patch_clocks(monkeypatch, clocks):
    monkeypatch.setattr(timing.time, "sleep", clocks.sleep)
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clocks.wall)
    monkeypatch.setattr(timing.time, "process_time", lambda: clocks.cpu)


def test_wait_until_idle_sleeps_until_a_quiet_step(monkeypatch):
    # a spinning thread uses the whole 10 ms step three times, then 0.5 ms (under 10 % of it)
    clocks = _ScriptedClocks([0.01, 0.01, 0.01, 0.0005])
    _patch_clocks(monkeypatch, clocks)
    assert timing.wait_until_idle(step_s=0.01, busy_fraction=0.1) == pytest.approx(0.04)
    assert clocks.sleeps == 4
    # an idle process: one step
    clocks = _ScriptedClocks([])
    _patch_clocks(monkeypatch, clocks)
    assert timing.wait_until_idle(step_s=0.01) == pytest.approx(0.01)


def test_wait_until_idle_gives_up_after_max_wait(monkeypatch):
    clocks = _ScriptedClocks([0.02] * 1000)   # two threads spinning for ever
    _patch_clocks(monkeypatch, clocks)
    assert timing.wait_until_idle(step_s=0.01, max_wait_s=0.25) == pytest.approx(0.25)
    assert clocks.sleeps == 25


@pytest.mark.parametrize("call, exc, text", [
    (lambda: timing.time_call(3), TypeError, "fn must be callable"),
    (lambda: timing.time_call(lambda: 0, min_time_s=-1), ValueError, "min_time_s must be >= 0"),
    (lambda: timing.time_call(lambda: 0, max_repeats=0), ValueError, "max_repeats must be >= 1"),
    (lambda: timing.time_call(lambda: 0, repeats=0), ValueError, "repeats must be >= 1"),
    (lambda: timing.time_call(lambda: 0, warmup=-1), ValueError, "warmup must be >= 0"),
    (lambda: timing.wait_until_idle(step_s=0), ValueError, "step_s must be > 0"),
    (lambda: timing.wait_until_idle(busy_fraction=2), ValueError, "busy_fraction must be <= 1"),
    (lambda: timing.wait_until_idle(max_wait_s="1"), TypeError, "max_wait_s must be a real"),
    (lambda: validation.check_int("size", True), TypeError, "size must be an integer"),
    (lambda: validation.check_float("ratio", float("nan")), ValueError, "ratio must be finite"),
    (lambda: validation.check_choice("kind", "z", ("a", "b")), ValueError,
     r"kind must be one of \('a', 'b'\)"),
    (lambda: validation.check_int("count", 5, maximum=4), ValueError, "count must be <= 4"),
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
    import numpy as np
    from threadpoolctl import threadpool_info

    info = machine.blas_info()
    assert info.library and info.library in str(info)
    if sys.platform == "linux" and np.show_config(mode="dicts")["Build Dependencies"]["blas"][
            "name"].endswith("openblas"):
        # NumPy's wheels ship OpenBLAS, which reports the kernel set it picked at start-up
        assert info.library == "openblas"
        assert info.core, "could not read OpenBLAS's kernel set through threadpoolctl"
        assert info.core in str(info)
        assert info.threads in [p["num_threads"] for p in threadpool_info()]
    if info.vector_bits is not None:
        assert info.vector_bits in (128, 256, 512)


def test_blas_threads_limits_and_restores():
    from aichip.threads import blas_threads

    before = machine.blas_info().threads
    with blas_threads(1) as used:
        if before is not None:
            assert used == 1 and machine.blas_info().threads == 1
    assert machine.blas_info().threads == before
    with pytest.raises(ValueError, match="threads must be >= 1"):
        with blas_threads(0):
            pass


def test_numba_threads_sets_and_restores_even_on_error():
    import numba

    from aichip.threads import numba_threads

    before = numba.get_num_threads()
    with numba_threads(1) as used:
        assert used == 1 and numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with pytest.raises(RuntimeError, match="inside"):
        with numba_threads(1):
            raise RuntimeError("inside")
    assert numba.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be <="):
        with numba_threads(numba.config.NUMBA_NUM_THREADS + 1):
            pass


def test_blas_info_report_names_both_widths():
    info = machine.BlasInfo("openblas", "Haswell", 256, "AVX2", 512, "AVX-512")
    assert str(info) == ("NumPy's BLAS: openblas, Haswell kernels (256-bit AVX2)\n"
                         "CPU's widest vectors: 512-bit AVX-512")
    full = machine.BlasInfo("openblas", "SkylakeX", 512, "AVX-512", 512, "AVX-512", "0.3.31", 4)
    assert str(full).startswith("NumPy's BLAS: openblas 0.3.31, 4 threads, SkylakeX kernels")
    unknown = machine.BlasInfo("accelerate", None, None, None, None, None)
    assert str(unknown) == "NumPy's BLAS: accelerate (which kernels it chose could not be read)"


@pytest.mark.parametrize("pool, expected", [
    # threadpoolctl's record of OpenBLAS: its kernel set and what OpenBLAS's TargetList says of it
    ({"internal_api": "openblas", "architecture": "Haswell", "version": "0.3.27", "num_threads": 3},
     ("openblas", "Haswell", 256, "AVX2", "0.3.27", 3)),
    ({"internal_api": "openblas", "architecture": "SkylakeX", "version": "0.3.31",
      "num_threads": 8},
     ("openblas", "SkylakeX", 512, "AVX-512", "0.3.31", 8)),
    # MKL reports no kernel set: nothing is guessed
    ({"internal_api": "mkl", "version": "2024.1", "num_threads": 4},
     ("mkl", None, None, None, "2024.1", 4)),
    (None, ("unknown", None, None, None, None, None)),
])
def test_blas_info_from_threadpoolctl_records(monkeypatch, pool, expected):
    monkeypatch.setattr(machine, "_numpy_blas_pool", lambda: pool)
    info = machine.blas_info()
    assert (info.library, info.core, info.vector_bits, info.vector_isa, info.version,
            info.threads) == expected


def test_both_in_turn_benchmarks_let_the_other_pool_settle_before_every_timed_call(monkeypatch):
    # gemm.benchmark and the block-sparse benchmark time NumPy and a numba kernel in turn: each
    # timed call must come right after a wait_until_idle, or it shares the cores with the other
    # library's spinning threads (on 2 cores, about half speed)
    from aichip import gemm, sparse

    events = []
    monkeypatch.setattr(timing, "wait_until_idle", lambda *a, **k: events.append("wait") or 0.0)
    calls = {"a": lambda: events.append("a"), "b": lambda: events.append("b")}
    sparse._interleaved_times(calls, repeats=3, min_time_s=0.0)
    timed = events[2:]                                  # after one warm-up call each
    assert timed == ["wait", "a", "wait", "b"] * 3

    events.clear()
    real_matmul = gemm.matmul
    monkeypatch.setattr(gemm, "matmul", lambda *a: events.append("packed") or real_matmul(*a))
    gemm.benchmark(n=16, variants=("packed",), repeats=2, threads=1)
    packed_at = [i for i, e in enumerate(events) if e == "packed"]
    # warm-up, two timed calls, then the correctness product: each timed one follows a wait
    assert len(packed_at) == 4
    assert all(events[i - 1] == "wait" for i in packed_at[1:3])
    assert events.count("wait") == 4                    # NumPy's two timed calls waited too
