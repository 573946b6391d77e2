"""Timing with warm-up and repetitions: every measurement in the book goes through here.

A single sample of a kernel's run time is noise; we warm up (so compilation and first-touch page
faults are not measured), repeat, and report the best and the median.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import NamedTuple

from .validation import check_float, check_int

__all__ = ["Timing", "time_call", "wait_until_idle"]


class Timing(NamedTuple):
    """Wall-clock times of repeated calls, in seconds."""

    best_s: float
    median_s: float
    samples_s: tuple[float, ...]


def time_call(fn: Callable[[], object], repeats: int = 10, warmup: int = 1,
              min_time_s: float = 0.0, max_repeats: int = 200) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then at least ``repeats`` times timed.

    Parameters
    ----------
    fn : callable taking no arguments
    repeats : int, >= 1
        Timed calls, at least.
    warmup : int, >= 0
    min_time_s : float, >= 0
        Keep timing calls until they add up to this many seconds (a call of microseconds is
        timed many times, so the best is not one lucky sample), but stop at ``max_repeats``
        calls (or ``repeats``, if larger). 0: exactly ``repeats`` calls.
    max_repeats : int, >= 1

    Returns
    -------
    Timing
        best (minimum) and median time per call, in seconds, and every sample.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = check_int("repeats", repeats, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    min_time_s = check_float("min_time_s", min_time_s, minimum=0.0)
    limit = max(repeats, check_int("max_repeats", max_repeats, minimum=1))
    for _ in range(warmup):
        fn()
    samples = []
    while len(samples) < repeats or (sum(samples) < min_time_s and len(samples) < limit):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing(min(samples), statistics.median(samples), tuple(samples))


def wait_until_idle(step_s: float = 0.01, busy_fraction: float = 0.1,
                    max_wait_s: float = 1.0) -> float:
    """Sleep until this process's own threads stop using the CPU, for timing two thread pools in
    turn.

    A BLAS library or an OpenMP runtime does not put its worker threads to sleep when a call
    ends: they spin, waiting for the next call, for a while (OpenBLAS about 2**28 cycles, some
    0.1 s; GNU OpenMP some milliseconds). A kernel timed right after a call to the other library
    shares its cores with those spinning threads, and on a 2-core machine runs at about half
    speed. Sleeping here ``step_s`` at a time until one step's process CPU time
    (:func:`time.process_time`, all threads) is below ``busy_fraction`` of it lets them settle.

    Parameters
    ----------
    step_s : float, > 0
    busy_fraction : float in [0, 1]
    max_wait_s : float, >= 0
        Give up after this long (a thread that never sleeps, the caller's own, keeps it busy).

    Returns
    -------
    float
        Seconds waited.
    """
    step_s = check_float("step_s", step_s, minimum=0.0, strict_minimum=True)
    busy_fraction = check_float("busy_fraction", busy_fraction, minimum=0.0, maximum=1.0)
    max_wait_s = check_float("max_wait_s", max_wait_s, minimum=0.0)
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait_s:
        cpu = time.process_time()
        time.sleep(step_s)
        if time.process_time() - cpu < busy_fraction * step_s:
            break
    return time.perf_counter() - start
