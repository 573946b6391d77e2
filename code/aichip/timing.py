"""Timing with warm-up and repetitions: every measurement in the book goes through here.

A single sample of a kernel's run time is noise; we warm up (so compilation and first-touch page
faults are not measured), repeat, and report the best and the median.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import NamedTuple

from .validation import check_int

__all__ = ["Timing", "time_call"]


class Timing(NamedTuple):
    """Wall-clock times of repeated calls, in seconds."""

    best_s: float
    median_s: float
    samples_s: tuple[float, ...]


def time_call(fn: Callable[[], object], repeats: int = 10, warmup: int = 1) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeats`` times timed.

    Parameters
    ----------
    fn : callable taking no arguments
    repeats : int, >= 1
    warmup : int, >= 0

    Returns
    -------
    Timing
        best (minimum) and median time per call, in seconds, and every sample.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = check_int("repeats", repeats, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing(min(samples), statistics.median(samples), tuple(samples))
