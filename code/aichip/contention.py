"""Measurements that check themselves: was a run disturbed by other programs on the cores?

A rate measured on a shared machine (GB/s, GFLOP/s) is only ever lowered by contention: another
program takes cores or memory bandwidth away, never gives any. Two signs give a disturbed run away:

- **Spread.** Each figure is timed several times; on a quiet machine the median is close to the
  best. A median far below the best (:data:`MIN_STEADINESS`) says that some repeats were slowed.
- **A point above a roof.** A roofline is drawn from two measured figures (STREAM triad bandwidth,
  peak FMA throughput). No kernel can run faster than the roof above it; when one seems to, the
  roof was measured low, and the run was disturbed (or the roof's own kernel fell short of the
  machine's limit: the spreads tell the two apart, see :meth:`Verdict.statement`).
- **Load.** Other programs that hold the cores for the whole run slow every repeat alike, which
  no spread shows: the machine's 1-minute load average above its core count when the run starts
  says so (:data:`MAX_LOAD_PER_CORE`).

:func:`check_roofline` applies both checks to plain numbers (so they can be tested with synthetic
timings), :func:`remeasure` re-runs the suspect figures a bounded number of times, keeping each
figure's best attempt, and :func:`measure_roofline` is the whole measured roofline of the roofline
chapter: STREAM kernels, the FMA peak, DGEMM and DGEMV, checked and re-measured.

Units: figures are rates (higher is better) in the unit they name; fractions are 0..1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import flops, membench
from .roofline import (
    KernelPoint,
    Roofline,
    from_measurements,
    gemm_intensity,
    gemv_intensity,
    stream_intensity,
)
from .validation import check_float, check_int

__all__ = [
    "MIN_STEADINESS", "MAX_LOAD_PER_CORE", "ROOF_TOLERANCE", "DISTRUST", "Figure", "figure_of",
    "Verdict", "check_roofline", "remeasure", "RooflineRun", "roofline_points",
    "measure_roofline", "load_average",
]

#: a figure whose median is below this fraction of its best was disturbed while it was timed
MIN_STEADINESS = 0.8
#: a run that starts with more runnable tasks than this per core (1-minute load average) shares
#: its cores with other programs
MAX_LOAD_PER_CORE = 1.0
#: a kernel point more than this fraction above its roof (after the memory allowance) is "above"
ROOF_TOLERANCE = 0.05
#: the phrase every statement of a disturbed or mismeasured run begins with (the browser test
#: looks for it on a page that shows a kernel above its roof)
DISTRUST = "This run's roofline cannot be trusted"


@dataclass(frozen=True)
class Figure:
    """One measured rate: the best and the median of its repeats.

    Attributes
    ----------
    name : str
        What was measured, e.g. ``"STREAM triad"``.
    unit : str
        e.g. ``"GB/s"``, ``"GFLOP/s"``.
    best, median : float > 0
        Best (highest) and median rate of the repeats; ``median <= best``.
    """

    name: str
    unit: str
    best: float
    median: float

    def __post_init__(self):
        check_float("best", self.best, minimum=0.0, strict_minimum=True)
        check_float("median", self.median, minimum=0.0, maximum=self.best * (1 + 1e-12),
                    strict_minimum=True)

    @property
    def steadiness(self) -> float:
        """Median over best, in (0, 1]: 1 when every repeat ran at the same speed."""
        return self.median / self.best

    def steady(self, min_steadiness: float = MIN_STEADINESS) -> bool:
        """True when the median is at least ``min_steadiness`` of the best."""
        return self.steadiness >= min_steadiness


def figure_of(name: str, result) -> Figure:
    """A :class:`Figure` from a :class:`aichip.membench.BandwidthResult` (GB/s) or a
    :class:`aichip.flops.FlopsResult` (GFLOP/s)."""
    if isinstance(result, membench.BandwidthResult):
        return Figure(name, "GB/s", result.best_GBps, result.median_GBps)
    if isinstance(result, flops.FlopsResult):
        return Figure(name, "GFLOP/s", result.best_GFLOPs, result.median_GFLOPs)
    raise TypeError(f"result must be a BandwidthResult or FlopsResult, got {type(result).__name__}")


@dataclass(frozen=True)
class Verdict:
    """What :func:`check_roofline` found.

    Attributes
    ----------
    figures : tuple of Figure
    unsteady : tuple of str
        Names of the figures whose median was below ``min_steadiness`` of their best.
    above_roof : tuple of (str, float)
        Kernel points above their roof: name and achieved / roof (> 1 + tolerance).
    attempts : int
        How many times the figures were measured (1 without re-measuring).
    min_steadiness : float
    suspects : tuple of str
        Names of the figures to measure again: the unsteady ones and, for a point above its roof,
        the roof's figures and the point's own.
    load_avg : float or None
        The machine's 1-minute load average when the run started (None: not known).
    cores : int or None
        Its logical CPUs.
    """

    figures: tuple
    unsteady: tuple
    above_roof: tuple
    attempts: int = 1
    min_steadiness: float = MIN_STEADINESS
    suspects: tuple = ()
    load_avg: float | None = None
    cores: int | None = None

    @property
    def busy(self) -> bool:
        """True when the run started on a machine whose load average exceeded
        :data:`MAX_LOAD_PER_CORE` per core."""
        return (self.load_avg is not None and self.cores is not None
                and self.load_avg > MAX_LOAD_PER_CORE * self.cores)

    @property
    def disturbed(self) -> bool:
        """True when the machine was busy, any figure unsteady or any kernel above its roof."""
        return bool(self.busy or self.unsteady or self.above_roof)

    def statement(self) -> str:
        """One sentence for the page: the run was undisturbed, or what went wrong, in numbers."""
        tries = f"{self.attempts} attempt" + ("" if self.attempts == 1 else "s")
        spreads = ", ".join(f"{f.name} {f.steadiness:.0%}" for f in self.figures)
        if not self.disturbed:
            return (f"The run was undisturbed ({tries}): every figure's median was within "
                    f"{1 - self.min_steadiness:.0%} of its best (median/best: {spreads}) and every "
                    "kernel sat under its roof.")
        parts = []
        if self.busy:
            steady = "" if self.unsteady else f" (median/best: {spreads})"
            parts.append(f"the machine's 1-minute load average was {self.load_avg:.1f} on "
                         f"{self.cores} logical CPUs as it started, so other programs held the "
                         f"cores and slowed its repeats{steady}")
        if self.unsteady:
            slow = ", ".join(f"{f.name} {f.steadiness:.0%}" for f in self.figures
                             if f.name in self.unsteady)
            parts.append(f"other programs shared the cores while it ran (median/best: {slow})")
        if self.above_roof:
            above = ", ".join(f"{name} at {ratio:.0%} of its roof" for name, ratio in
                              self.above_roof)
            cause = ("so the roof was measured low" if self.unsteady or self.busy else
                     "with steady figures, so the roof's own kernel fell short of this CPU's "
                     "limit rather than being disturbed")
            parts.append(f"{above}, which no kernel can reach, {cause}")
        return (f"{DISTRUST} ({tries}): " + "; ".join(parts) + ". Rerun on a quiet machine, or "
                "compare with the stored runs of other machines.")


def check_roofline(roof: Roofline, points, figures, memory_allowance: float = 1.0,
                   min_steadiness: float = MIN_STEADINESS, tolerance: float = ROOF_TOLERANCE,
                   attempts: int = 1, sources: Mapping | None = None,
                   roof_figures=(), load_avg: float | None = None,
                   cores: int | None = None) -> Verdict:
    """Check a measured roofline and the kernels placed on it for signs of a disturbed run.

    Parameters
    ----------
    roof : Roofline
        Drawn from measured figures.
    points : sequence of KernelPoint
        Kernels placed on it (measured too).
    figures : sequence of Figure
        Every figure the roof and the points came from, with its spread.
    memory_allowance : float >= 1
        How far a memory-bound point may legitimately exceed the memory roof: the roof counts the
        bytes STREAM asks for, while a read-only kernel (GEMV) gets all that DRAM delivers, which
        includes the write-allocate reads the triad pays (32/24 of its useful bytes).
    min_steadiness : float in (0, 1]
        See :meth:`Figure.steady`.
    tolerance : float >= 0
        Timing noise allowed above a roof, as a fraction.
    attempts : int >= 1
        Recorded in the verdict.
    sources : mapping point name -> figure name, optional
        Which figure each point was measured by (a point above its roof makes it a suspect).
    roof_figures : sequence of str
        The figures the roof was drawn from (suspects too when a point is above the roof).
    load_avg : float >= 0, optional
        The machine's 1-minute load average when the run started (``os.getloadavg()[0]``).
    cores : int >= 1, optional
        Its logical CPUs; with ``load_avg``, a run on a busier machine is disturbed.

    Returns
    -------
    Verdict
    """
    if not isinstance(roof, Roofline):
        raise TypeError(f"roof must be a Roofline, got {type(roof).__name__}")
    points, figures = list(points), tuple(figures)
    if not all(isinstance(p, KernelPoint) for p in points):
        raise TypeError("points must be a sequence of KernelPoint")
    if not figures or not all(isinstance(f, Figure) for f in figures):
        raise TypeError("figures must be a non-empty sequence of Figure")
    allowance = check_float("memory_allowance", memory_allowance, minimum=1.0)
    min_steadiness = check_float("min_steadiness", min_steadiness, minimum=0.0, maximum=1.0,
                                 strict_minimum=True)
    tolerance = check_float("tolerance", tolerance, minimum=0.0)
    attempts = check_int("attempts", attempts, minimum=1)
    if load_avg is not None:
        load_avg = check_float("load_avg", load_avg, minimum=0.0)
    if cores is not None:
        cores = check_int("cores", cores, minimum=1)
    above = []
    for p in points:
        ratio = p.efficiency(roof)
        limit = allowance if roof.bound(p.intensity) == "memory" else 1.0
        if ratio > limit * (1 + tolerance):
            above.append((p.name, ratio))
    unsteady = tuple(f.name for f in figures if not f.steady(min_steadiness))
    sources = dict(sources or {})
    suspects = set(unsteady)
    if above:
        suspects |= set(roof_figures) | {sources[n] for n, _ in above if n in sources}
    names = [f.name for f in figures]
    return Verdict(figures, unsteady, tuple(above), attempts, min_steadiness,
                   tuple(n for n in names if n in suspects), load_avg, cores)


def remeasure(measures: Mapping[str, Callable[[], object]],
              check: Callable[[dict, int], Verdict], max_attempts: int):
    """Measure every figure, check, and measure the suspect ones again, at most ``max_attempts``
    times in all.

    Contention only lowers a rate, so each figure keeps its best attempt (highest best rate).

    Parameters
    ----------
    measures : mapping name -> callable
        Each callable measures one figure and returns a result with ``best_GBps`` or
        ``best_GFLOPs`` (:func:`figure_of` accepts it).
    check : callable (results, attempts) -> Verdict
        Judges the current results; :attr:`Verdict.suspects` names the figures to measure again.
    max_attempts : int >= 1

    Returns
    -------
    (dict name -> result, Verdict)
    """
    max_attempts = check_int("max_attempts", max_attempts, minimum=1)
    if not measures or not all(callable(m) for m in measures.values()):
        raise TypeError("measures must be a non-empty mapping of names to callables")
    results = {name: measure() for name, measure in measures.items()}
    verdict = check(results, 1)
    for attempt in range(2, max_attempts + 1):
        if not verdict.suspects:  # undisturbed, or nothing that measuring again would change
            break
        for name in verdict.suspects:
            again = measures[name]()
            if figure_of(name, again).best > figure_of(name, results[name]).best:
                results[name] = again
        verdict = check(results, attempt)
    return results, verdict


def load_average() -> float | None:
    """The machine's 1-minute load average (runnable tasks), or None where the OS has none."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


@dataclass(frozen=True)
class RooflineRun:
    """The measured FP64 roofline of :func:`measure_roofline`: every result, the roof, the kernel
    points on it, and the verdict of its checks."""

    results: dict
    roof: Roofline
    points: list
    verdict: Verdict
    gemm_n: int
    gemv_n: int


def roofline_points(results: Mapping, gemm_n: int, gemv_n: int) -> list:
    """The kernels of :func:`measure_roofline` as points (best rates) on the measured roofline."""
    return [
        KernelPoint("STREAM scale", stream_intensity("scale"),
                    results["STREAM scale"].best_GBps * stream_intensity("scale")),
        KernelPoint("STREAM triad", stream_intensity("triad"),
                    results["STREAM triad"].best_GBps * stream_intensity("triad")),
        KernelPoint(f"DGEMV n={gemv_n}", gemv_intensity(gemv_n), results["DGEMV"].best_GFLOPs),
        KernelPoint(f"DGEMM n={gemm_n}", gemm_intensity(gemm_n, gemm_n, gemm_n),
                    results["DGEMM"].best_GFLOPs),
    ]


def measure_roofline(repeats: int = 5, gemm_n: int = 2000, gemv_n: int = 4000,
                     max_attempts: int = 3, stream_kernels=tuple(membench.KERNELS)) -> RooflineRun:
    """Measure this machine's FP64 roofline and place STREAM, DGEMV and DGEMM on it, re-measuring
    the suspect figures (at most ``max_attempts`` times in all) while :func:`check_roofline` finds
    the run disturbed.

    Parameters
    ----------
    repeats : int >= 2
        Timed repeats of each figure (best and median over them; DGEMM gets ``max(2, repeats-2)``);
        default 5.
    gemm_n, gemv_n : int >= 1
        Matrix sizes of DGEMM and DGEMV (default 2000 and 4000, the sizes the stored reference
        runs name).
    max_attempts : int >= 1
        Measurements of a suspect figure in all, the first included; default 3.
    stream_kernels : sequence of str
        STREAM kernels measured (figures ``"STREAM <kernel>"``); scale and triad are always.

    Returns
    -------
    RooflineRun
        The memory allowance of the check is the triad's DRAM over useful bytes (32/24).
    """
    repeats = check_int("repeats", repeats, minimum=2)
    gemm_n = check_int("gemm_n", gemm_n, minimum=1)
    gemv_n = check_int("gemv_n", gemv_n, minimum=1)
    kernels = [k for k in membench.KERNELS if k in set(stream_kernels) | {"scale", "triad"}]
    measures = {f"STREAM {k}": (lambda k=k: membench.measure_bandwidth(k, repeats=repeats))
                for k in kernels}
    measures.update({
        "FMA peak": lambda: flops.measure_peak_flops("float64", repeats=repeats),
        "DGEMM": lambda: flops.measure_gemm(gemm_n, "float64", repeats=max(2, repeats - 2)),
        "DGEMV": lambda: flops.measure_gemv(gemv_n, "float64", repeats=repeats),
    })
    load, cores = load_average(), os.cpu_count()  # before the run adds its own threads
    sources = {"STREAM scale": "STREAM scale", "STREAM triad": "STREAM triad",
               f"DGEMV n={gemv_n}": "DGEMV", f"DGEMM n={gemm_n}": "DGEMM"}

    def check(results, attempts):
        triad = results["STREAM triad"]
        return check_roofline(from_measurements(triad, results["FMA peak"]),
                              roofline_points(results, gemm_n, gemv_n),
                              [figure_of(n, r) for n, r in results.items()],
                              memory_allowance=triad.best_dram_GBps / triad.best_GBps,
                              attempts=attempts, sources=sources,
                              roof_figures=("STREAM triad", "FMA peak"), load_avg=load,
                              cores=cores)

    results, verdict = remeasure(measures, check, max_attempts)
    return RooflineRun(results, from_measurements(results["STREAM triad"], results["FMA peak"]),
                       roofline_points(results, gemm_n, gemv_n), verdict, gemm_n, gemv_n)
