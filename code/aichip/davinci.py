"""Huawei's DaVinci AI core and the Ascend peak it implies (chapter 1).

A DaVinci core has three compute units (Liao et al., Hot Chips 2019; HPCA 2021): a **cube unit**
that multiplies a 16 x 16 matrix by a 16 x 16 matrix every clock (16 x 16 x 16 = 4096 FP16
multiply-accumulates, or 8192 INT8), a 2048-bit **vector unit** for element-wise work
(activations, normalisation) and a **scalar unit** that runs the control flow. An Ascend chip is
many such cores on a network-on-chip, so its matrix peak is

    peak (op/s) = AI cores x cube MACs per clock x 2 x clock.

Huawei quotes the peak but not the clock. :func:`implied_clock_MHz` inverts the formula (the
clock at which the cores reach the datasheet figure at one precision) and
:func:`ascend_peak_TFLOPs` applies it to another precision, which checks the unit counts: the
Ascend 910's FP16 figure fixes the clock, and the cube's INT8 rate must then give its INT8 figure.
"""

from __future__ import annotations

from .validation import check_choice, check_float, check_int

__all__ = ["CUBE_SHAPE", "CUBE_MACS_PER_CLOCK", "cube_macs_per_clock", "ascend_peak_TFLOPs",
           "implied_clock_MHz"]

#: (m, n, k) of the cube unit's matrix product per clock: an (m x k) by (k x n) product
CUBE_SHAPE = (16, 16, 16)

#: multiply-accumulates per clock of one cube unit, by input precision (Hot Chips 2019)
CUBE_MACS_PER_CLOCK = {"fp16": 16 * 16 * 16, "int8": 2 * 16 * 16 * 16}


def cube_macs_per_clock(m: int = 16, n: int = 16, k: int = 16) -> int:
    """Multiply-accumulates of one (m x k) by (k x n) product: ``m * n * k`` (one per clock)."""
    return (check_int("m", m, minimum=1) * check_int("n", n, minimum=1)
            * check_int("k", k, minimum=1))


def ascend_peak_TFLOPs(ai_cores: int, clock_MHz: float, precision: str = "fp16") -> float:
    """Peak of ``ai_cores`` DaVinci cubes at ``clock_MHz``, 1e12 operations per second.

    ``ai_cores x CUBE_MACS_PER_CLOCK[precision] x 2 x clock``: a MAC counts as two operations.

    Raises
    ------
    ValueError
        For a non-positive core count or clock, or a precision not in ``CUBE_MACS_PER_CLOCK``.
    """
    cores = check_int("ai_cores", ai_cores, minimum=1)
    clock = check_float("clock_MHz", clock_MHz, minimum=0, strict_minimum=True)
    check_choice("precision", precision, CUBE_MACS_PER_CLOCK)
    return cores * CUBE_MACS_PER_CLOCK[precision] * 2 * clock * 1e6 / 1e12


def implied_clock_MHz(peak_TFLOPs: float, ai_cores: int, precision: str = "fp16") -> float:
    """The clock (MHz) at which ``ai_cores`` cubes reach ``peak_TFLOPs`` at ``precision``."""
    peak = check_float("peak_TFLOPs", peak_TFLOPs, minimum=0, strict_minimum=True)
    per_MHz = ascend_peak_TFLOPs(ai_cores, 1.0, precision)
    return peak / per_MHz
