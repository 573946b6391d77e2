"""aichip.contention: a disturbed run is flagged and re-measured, a clean one is not.

The timings are synthetic (made-up samples turned into rates by hand here), so each case knows what
the answer must be: the medians and ratios below are computed from the samples with the statistics
module, not with the code under test.
"""

import os
import re
import statistics
import types

import pytest

from aichip import contention as ct
from aichip import flops, machine, membench, refruns
from aichip import roofline as rl

GB = 1e9


def figure_from_samples(name, unit, work, samples_s):
    """A Figure of ``work`` units per call, timed ``samples_s`` seconds per call."""
    rates = [work / t for t in samples_s]
    return ct.Figure(name, unit, max(rates), statistics.median(rates))


# a quiet machine: every repeat within a few per cent
QUIET = {"triad": [0.100, 0.101, 0.102, 0.100, 0.103],   # 24 GB per call -> ~240 GB/s
         "fma": [0.050, 0.050, 0.051, 0.052, 0.050],     # 5000 GFLOP per call -> ~100 TFLOP/s
         "gemm": [0.060, 0.061, 0.062]}                  # 5000 GFLOP per call
# the same machine while another program ran: the triad and the FMA kernel lost most repeats
BUSY = {"triad": [0.100, 0.900, 1.000, 0.950, 0.980],
        "fma": [0.050, 0.400, 0.450, 0.500, 0.420],
        "gemm": [0.060, 0.061, 0.062]}


def run(samples, fma_best=None):
    triad = figure_from_samples("STREAM triad", "GB/s", 24.0, samples["triad"])
    fma = figure_from_samples("FMA peak", "GFLOP/s", 5000.0, samples["fma"])
    gemm = figure_from_samples("DGEMM", "GFLOP/s", 5000.0, samples["gemm"])
    # a disturbed roof: built from the run's median, as a build that lost its best repeat would be
    peak = fma.best if fma_best is None else fma_best
    roof = rl.Roofline("synthetic", peak, triad.best)
    points = [rl.KernelPoint("triad", 1 / 12, triad.best / 12),
              rl.KernelPoint("DGEMM", 500.0, gemm.best)]
    return roof, points, [triad, fma, gemm]


def test_quiet_run_is_not_flagged():
    roof, points, figures = run(QUIET)
    verdict = ct.check_roofline(roof, points, figures)
    assert not verdict.disturbed
    assert verdict.unsteady == () and verdict.above_roof == () and verdict.suspects == ()
    assert verdict.statement().startswith("The run was undisturbed")
    assert ct.DISTRUST not in verdict.statement()


def test_busy_run_is_flagged_by_its_spread():
    roof, points, figures = run(BUSY)
    verdict = ct.check_roofline(roof, points, figures)
    assert verdict.disturbed
    assert verdict.unsteady == ("STREAM triad", "FMA peak")
    # medians by hand: the triad's is 24/0.95 = 25.3 GB/s of a best 240 GB/s
    assert figures[0].steadiness == pytest.approx((24 / 0.95) / 240)
    text = verdict.statement()
    assert text.startswith(ct.DISTRUST)
    assert "STREAM triad 11%" in text and "FMA peak 12%" in text


def test_point_above_the_roof_is_flagged_even_with_steady_figures():
    # chapter 3's built page: the roof measured at a fifth of DGEMM's rate (443% of the roof)
    roof, points, figures = run(QUIET, fma_best=5000.0 / 0.060 / 4.43)
    verdict = ct.check_roofline(roof, points, figures, sources={"DGEMM": "DGEMM"},
                                roof_figures=("STREAM triad", "FMA peak"))
    assert verdict.disturbed and verdict.unsteady == ()
    ((name, ratio),) = verdict.above_roof
    assert name == "DGEMM" and ratio == pytest.approx(4.43)
    assert set(verdict.suspects) == {"STREAM triad", "FMA peak", "DGEMM"}
    assert "443% of its roof" in verdict.statement()
    assert "fell short" in verdict.statement()  # steady figures: the roof's kernel, not contention


def test_a_run_on_a_busy_machine_is_flagged_even_when_every_repeat_was_slowed_alike():
    # the chapter's run at a load average of 20 on 2 cores: steady figures, every kernel under a
    # roof measured low (the triad at a fiftieth of its rate), nothing for the spread to see
    roof, points, figures = run(QUIET)
    quiet = ct.check_roofline(roof, points, figures, load_avg=1.6, cores=2)
    assert not quiet.busy and not quiet.disturbed
    busy = ct.check_roofline(roof, points, figures, load_avg=19.9, cores=2)
    assert busy.busy and busy.disturbed and busy.unsteady == () and busy.above_roof == ()
    assert busy.suspects == ()                 # measuring again on a busy machine changes nothing
    text = busy.statement()
    assert text.startswith(ct.DISTRUST) and "load average was 19.9 on 2 logical CPUs" in text
    # unknown load: judged by the other signs alone
    assert not ct.check_roofline(roof, points, figures, load_avg=19.9).busy
    with pytest.raises(ValueError, match="load_avg"):
        ct.check_roofline(roof, points, figures, load_avg=-1.0, cores=2)
    with pytest.raises(ValueError, match="cores"):
        ct.check_roofline(roof, points, figures, load_avg=1.0, cores=0)


def test_memory_allowance_lets_a_read_only_kernel_pass_the_triad_roof():
    roof = rl.Roofline("m", 1000.0, 24.0)
    gemv = rl.KernelPoint("GEMV", 0.25, 0.25 * 30.0)  # 30 GB/s against a 24 GB/s roof: 125%
    fig = [ct.Figure("GEMV", "GFLOP/s", 7.5, 7.4)]
    assert ct.check_roofline(roof, [gemv], fig).above_roof == (("GEMV", pytest.approx(1.25)),)
    assert not ct.check_roofline(roof, [gemv], fig, memory_allowance=32 / 24).disturbed
    # the allowance never applies to the compute roof
    dgemm = rl.KernelPoint("DGEMM", 500.0, 1300.0)
    assert ct.check_roofline(roof, [dgemm], fig, memory_allowance=32 / 24).above_roof


class FakeResult:
    """A stand-in for a BandwidthResult: figure_of is patched to read it."""

    def __init__(self, best, median):
        self.best_GBps, self.median_GBps = best, median


def test_remeasure_retries_the_suspects_and_keeps_each_best(monkeypatch):
    monkeypatch.setattr(ct, "figure_of", lambda name, r: ct.Figure(name, "GB/s", r.best_GBps,
                                                                   r.median_GBps))
    calls = {"a": 0, "b": 0}
    # "a" is disturbed twice, then quiet; "b" is always quiet
    a_runs = iter([FakeResult(10, 3), FakeResult(8, 2), FakeResult(12, 11.5)])

    def measure_a():
        calls["a"] += 1
        return next(a_runs)

    def measure_b():
        calls["b"] += 1
        return FakeResult(5, 5)

    def check(results, attempts):
        figs = [ct.figure_of(n, r) for n, r in results.items()]
        unsteady = tuple(f.name for f in figs if not f.steady())
        return ct.Verdict(tuple(figs), unsteady, (), attempts, suspects=unsteady)

    results, verdict = ct.remeasure({"a": measure_a, "b": measure_b}, check, max_attempts=5)
    assert calls == {"a": 3, "b": 1}  # only the suspect was measured again, and stopped when clean
    assert not verdict.disturbed and verdict.attempts == 3
    assert results["a"].best_GBps == 12

    # bounded: a run that never calms down stops after max_attempts, still flagged
    calls["a"] = 0
    a_runs = iter([FakeResult(10, 3)] * 2)
    results, verdict = ct.remeasure({"a": measure_a, "b": measure_b}, check, max_attempts=2)
    assert calls["a"] == 2 and verdict.disturbed and verdict.attempts == 2


def test_bad_input():
    with pytest.raises(ValueError, match="median"):
        ct.Figure("x", "GB/s", 1.0, 2.0)
    with pytest.raises(ValueError, match="best"):
        ct.Figure("x", "GB/s", 0.0, 0.0)
    roof, points, figures = run(QUIET)
    with pytest.raises(TypeError, match="roof"):
        ct.check_roofline("roof", points, figures)
    with pytest.raises(TypeError, match="figures"):
        ct.check_roofline(roof, points, [])
    with pytest.raises(ValueError, match="memory_allowance"):
        ct.check_roofline(roof, points, figures, memory_allowance=0.5)
    with pytest.raises(ValueError, match="max_attempts"):
        ct.remeasure({"a": lambda: None}, lambda r, a: None, max_attempts=0)
    with pytest.raises(TypeError, match="result"):
        ct.figure_of("x", 3.0)


def test_the_threshold_in_a_quiet_runs_statement_is_one_minus_the_steadiness_in_percent():
    roof, points, figures = run(QUIET)  # every median within 2% of its best
    # by hand: a median at least 80% (90%) of the best is within 20% (10%) of it
    assert "within 20% of its best" in ct.check_roofline(roof, points, figures).statement()
    strict = ct.check_roofline(roof, points, figures, min_steadiness=0.9)
    assert not strict.disturbed and "within 10% of its best" in strict.statement()


def test_a_verdict_made_without_re_measuring_counts_one_attempt():
    # Verdict's docstring: attempts is 1 without re-measuring
    verdict = ct.Verdict((ct.Figure("STREAM triad", "GB/s", 240.0, 238.0),), (), ())
    assert verdict.attempts == 1
    assert "(1 attempt)" in verdict.statement()


def test_a_load_average_just_above_the_core_count_is_busy_and_one_at_it_is_not():
    # the rule of the module's docstring: a 1-minute load average above the core count
    roof, points, figures = run(QUIET)
    assert ct.check_roofline(roof, points, figures, load_avg=2.5, cores=2).busy
    assert ct.check_roofline(roof, points, figures, load_avg=8.5, cores=8).busy
    assert not ct.check_roofline(roof, points, figures, load_avg=2.0, cores=2).busy
    assert not ct.check_roofline(roof, points, figures, load_avg=7.9, cores=8).busy


def test_load_average_is_the_1_minute_figure(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 2.5, 3.5))  # 1, 5 and 15 minutes
    assert ct.load_average() == 1.5
    monkeypatch.delattr(os, "getloadavg")  # an OS without load averages (Windows)
    assert ct.load_average() is None


def test_roofline_points_place_stream_at_its_rate_times_its_flops_per_byte():
    results = {"STREAM scale": types.SimpleNamespace(best_GBps=160.0),
               "STREAM triad": types.SimpleNamespace(best_GBps=240.0),
               "DGEMV": types.SimpleNamespace(best_GFLOPs=7.0),
               "DGEMM": types.SimpleNamespace(best_GFLOPs=90.0)}
    points = {p.name: p for p in ct.roofline_points(results, gemm_n=600, gemv_n=1000)}
    assert list(points) == ["STREAM scale", "STREAM triad", "DGEMV n=1000", "DGEMM n=600"]
    # by hand: scale does 1 FLOP per 16 bytes, triad 2 FLOP per 24 bytes
    assert points["STREAM scale"].intensity == pytest.approx(1 / 16)
    assert points["STREAM scale"].achieved_GFLOPs == pytest.approx(10.0)   # 160 / 16
    assert points["STREAM triad"].intensity == pytest.approx(1 / 12)
    assert points["STREAM triad"].achieved_GFLOPs == pytest.approx(20.0)   # 240 * 2 / 24
    # GEMM n = 600: 2 * 600**3 flops over 3 * 600**2 * 8 bytes = 50 FLOP/byte
    assert points["DGEMM n=600"].intensity == pytest.approx(50.0)
    assert points["DGEMM n=600"].achieved_GFLOPs == 90.0
    # GEMV n = 1000: 2e6 flops over (1e6 + 2000) * 8 bytes
    assert points["DGEMV n=1000"].intensity == pytest.approx(2e6 / 8.016e6)
    assert points["DGEMV n=1000"].achieved_GFLOPs == 7.0


FAKE_MACHINE = machine.MachineInfo("fake CPU", 2, 2, None, "3", "0", "0")


class FakeLab:
    """measure_roofline's measurements, faked: a quiet machine whose every kernel sits under its
    roof (triad 240 GB/s, FMA 100 GFLOP/s, DGEMM 80, DGEMV 20, each median 1% below its best).
    Each call is recorded as (what, size, repeats)."""

    def __init__(self, monkeypatch, loadavg=(0.5, 0.5, 0.5), cores=2):
        self.calls = []
        monkeypatch.setattr(membench, "measure_bandwidth", self.bandwidth)
        monkeypatch.setattr(flops, "measure_peak_flops", self.peak)
        monkeypatch.setattr(flops, "measure_gemm", self.gemm)
        monkeypatch.setattr(flops, "measure_gemv", self.gemv)
        monkeypatch.setattr(os, "getloadavg", lambda: loadavg)
        monkeypatch.setattr(os, "cpu_count", lambda: cores)

    def bandwidth(self, kernel, repeats):
        self.calls.append((f"STREAM {kernel}", None, repeats))
        return membench.BandwidthResult(kernel, 3 * 2**26, 2**23, 2, 240.0, 237.6, 0.1, 0.101,
                                        FAKE_MACHINE)

    def flops_result(self, kernel, best):
        return flops.FlopsResult(kernel, "float64", 2, best, 0.99 * best, 10**9, FAKE_MACHINE)

    def peak(self, dtype, repeats):
        self.calls.append(("FMA peak", None, repeats))
        return self.flops_result("fma", 100.0)

    def gemm(self, n, dtype, repeats):
        self.calls.append(("DGEMM", n, repeats))
        return self.flops_result("gemm", 80.0)

    def gemv(self, n, dtype, repeats):
        self.calls.append(("DGEMV", n, repeats))
        return self.flops_result("gemv", 20.0)

    def repeats(self):
        return {what: r for what, _, r in self.calls}


def test_measure_roofline_measures_dgemm_and_dgemv_at_the_sizes_the_stored_runs_name(monkeypatch):
    # refruns.record measures with measure_roofline's default sizes and labels the figures
    # "NumPy DGEMM, n = 2000" and "NumPy DGEMV, n = 4000" (chapter 3: "GEMM at n = 2000")
    lab = FakeLab(monkeypatch)
    run = ct.measure_roofline()
    sizes = {what: n for what, n, _ in lab.calls if n is not None}
    for what, key in (("DGEMM", "dgemm_GFLOPs"), ("DGEMV", "dgemv_GFLOPs")):
        label = int(re.search(r"n = (\d+)", refruns.FIGURES[key][0]).group(1))
        assert sizes[what] == label
    assert (run.gemm_n, run.gemv_n) == (sizes["DGEMM"], sizes["DGEMV"])
    assert not run.verdict.disturbed and run.verdict.attempts == 1


def test_measure_roofline_gives_dgemm_two_repeats_fewer_but_at_least_two(monkeypatch):
    lab = FakeLab(monkeypatch)
    ct.measure_roofline(repeats=5, gemm_n=8, gemv_n=8)
    assert lab.repeats() == {"STREAM copy": 5, "STREAM scale": 5, "STREAM add": 5,
                             "STREAM triad": 5, "FMA peak": 5, "DGEMM": 3, "DGEMV": 5}
    lab.calls.clear()
    ct.measure_roofline(repeats=3, gemm_n=8, gemv_n=8)
    assert lab.repeats()["DGEMM"] == 2 and lab.repeats()["DGEMV"] == 3  # 3 - 2 = 1, raised to 2


def test_measure_roofline_judges_the_machine_by_its_1_minute_load(monkeypatch):
    # busy in the last minute (3 runnable tasks on 2 cores), quiet over 5 and 15 minutes
    FakeLab(monkeypatch, loadavg=(3.0, 0.5, 0.25), cores=2)
    verdict = ct.measure_roofline(gemm_n=8, gemv_n=8).verdict
    assert verdict.load_avg == 3.0 and verdict.cores == 2 and verdict.busy
    assert "load average was 3.0 on 2 logical CPUs" in verdict.statement()
    # quiet in the last minute, busy before: not busy
    FakeLab(monkeypatch, loadavg=(0.5, 3.0, 3.0), cores=2)
    verdict = ct.measure_roofline(gemm_n=8, gemv_n=8).verdict
    assert verdict.load_avg == 0.5 and not verdict.disturbed


def test_measure_roofline_defaults_are_its_documented_five_repeats_and_three_attempts(monkeypatch):
    lab = FakeLab(monkeypatch)
    ct.measure_roofline(gemm_n=8, gemv_n=8)
    assert lab.repeats() == {"STREAM copy": 5, "STREAM scale": 5, "STREAM add": 5,
                             "STREAM triad": 5, "FMA peak": 5, "DGEMM": 3, "DGEMV": 5}

    class AboveItsRoof(FakeLab):      # DGEMM at 150 GFLOP/s under a 100 GFLOP/s FMA roof, always
        def gemm(self, n, dtype, repeats):
            self.calls.append(("DGEMM", n, repeats))
            return self.flops_result("gemm", 150.0)

    lab = AboveItsRoof(monkeypatch)
    verdict = ct.measure_roofline(gemm_n=8, gemv_n=8).verdict
    assert verdict.disturbed and verdict.attempts == 3
    assert sum(what == "DGEMM" for what, _, _ in lab.calls) == 3
