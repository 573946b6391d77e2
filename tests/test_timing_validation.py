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
