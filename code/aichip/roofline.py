"""The roofline model (Williams, Waterman and Patterson, CACM 2009).

A kernel with **arithmetic intensity** ``I`` (operations per byte moved to or from memory) on a
device with peak compute ``P`` (operations/s) and memory bandwidth ``B`` (bytes/s) can reach at most

    attainable(I) = min(P, B * I)

The two roofs meet at the **ridge point** ``I* = P / B``: kernels to its left are memory-bound, to
its right compute-bound. Units here: GFLOP/s (or GOP/s for integer rooflines) and GB/s, GB = 1e9
bytes, so intensity is in FLOP/byte.

The measurement kernels of this chapter live in :mod:`aichip.membench` (STREAM bandwidth) and
:mod:`aichip.flops` (peak FLOP/s); they are re-exported here so that a chapter can use one module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import chips
from .flops import FlopsResult, measure_gemm, measure_gemv, measure_peak_flops
from .membench import KERNELS as STREAM_KERNELS
from .membench import BandwidthResult, measure_bandwidth
from .validation import check_float, check_int

__all__ = [
    "Roofline", "KernelPoint", "from_chip", "from_measurements", "plot", "measure_bandwidth",
    "measure_peak_flops", "measure_gemm", "measure_gemv", "gemv_intensity", "BandwidthResult", "FlopsResult", "gemm_intensity",
    "stream_intensity",
]


@dataclass(frozen=True)
class Roofline:
    """A device's roofline: peak compute and memory bandwidth.

    Attributes
    ----------
    name : str
    peak_GFLOPs : float
        Peak compute, 1e9 operations/s (floating-point or integer as ``precision`` says).
    bw_GBps : float
        Memory bandwidth, 1e9 bytes/s.
    precision : str
        e.g. ``"fp64"``, ``"int8"``.
    source : str
        BibTeX key of the datasheet or paper, or ``"measured"``.
    """

    name: str
    peak_GFLOPs: float
    bw_GBps: float
    precision: str = ""
    source: str = ""

    def __post_init__(self):
        check_float("peak_GFLOPs", self.peak_GFLOPs, minimum=0.0, strict_minimum=True)
        check_float("bw_GBps", self.bw_GBps, minimum=0.0, strict_minimum=True)

    @property
    def ridge_point(self) -> float:
        """Intensity where the memory roof meets the compute roof, in FLOP/byte."""
        return self.peak_GFLOPs / self.bw_GBps

    def attainable_GFLOPs(self, intensity):
        """Best achievable GFLOP/s at ``intensity`` FLOP/byte (scalar or array, all > 0)."""
        x = np.asarray(intensity, dtype=float)
        if x.size and not np.all(np.isfinite(x) & (x > 0)):
            raise ValueError("intensity must be finite and > 0 FLOP/byte")
        result = np.minimum(self.peak_GFLOPs, self.bw_GBps * x)
        return float(result) if result.ndim == 0 else result

    def bound(self, intensity: float) -> str:
        """``"memory"`` left of the ridge point, ``"compute"`` at or right of it."""
        intensity = check_float("intensity", intensity, minimum=0.0, strict_minimum=True)
        return "memory" if intensity < self.ridge_point else "compute"


@dataclass(frozen=True)
class KernelPoint:
    """A kernel placed on a roofline: its intensity (FLOP/byte) and achieved GFLOP/s."""

    name: str
    intensity: float
    achieved_GFLOPs: float

    def __post_init__(self):
        check_float("intensity", self.intensity, minimum=0.0, strict_minimum=True)
        check_float("achieved_GFLOPs", self.achieved_GFLOPs, minimum=0.0, strict_minimum=True)

    def efficiency(self, roof: Roofline) -> float:
        """Achieved performance as a fraction of what ``roof`` allows at this intensity."""
        return self.achieved_GFLOPs / roof.attainable_GFLOPs(self.intensity)


def from_chip(name: str, precision: str | None = None) -> Roofline:
    """Roofline of a catalogue device (:mod:`aichip.chips`) at ``precision``.

    ``precision`` defaults to the first of fp32, fp16, bf16, int8 the device supports.
    """
    chip = chips.get(name)
    if precision is None:
        precision = chips.best_precision(chip)
    peak = chip.peak(precision)
    if chip.mem_bw_GBps is None:
        raise ValueError(f"{chip.name} has no memory bandwidth figure")
    return Roofline(chip.name, peak * 1e3, chip.mem_bw_GBps, precision, chip.source)


def from_measurements(bandwidth: BandwidthResult, peak: FlopsResult,
                      name: str = "this machine (measured)") -> Roofline:
    """Roofline from a STREAM measurement and a peak-FLOP measurement (best of each)."""
    if not isinstance(bandwidth, BandwidthResult):
        raise TypeError("bandwidth must be a BandwidthResult from measure_bandwidth()")
    if not isinstance(peak, FlopsResult):
        raise TypeError("peak must be a FlopsResult from measure_peak_flops()")
    precision = {"float64": "fp64", "float32": "fp32"}[peak.dtype]
    return Roofline(name, peak.best_GFLOPs, bandwidth.best_GBps, precision, "measured")


def stream_intensity(kernel: str) -> float:
    """FLOP/byte of a STREAM kernel under STREAM's byte counting (copy has 0 and is rejected)."""
    if kernel not in STREAM_KERNELS or STREAM_KERNELS[kernel]["flops_per_elem"] == 0:
        allowed = [k for k, v in STREAM_KERNELS.items() if v["flops_per_elem"]]
        raise ValueError(f"kernel must be one of {allowed}, got {kernel!r}")
    spec = STREAM_KERNELS[kernel]
    return spec["flops_per_elem"] / spec["bytes_per_elem"]


def gemm_intensity(m: int, n: int, k: int, bytes_per_elem: int = 8) -> float:
    """Best-case intensity of ``C = A @ B`` (m x k times k x n): ``2mnk`` flops over compulsory
    traffic (read A and B once, write C once), in FLOP/byte. For square ``n``: ``n / (12 bytes)``
    in float64."""
    m, n, k = (check_int(s, v, minimum=1) for s, v in (("m", m), ("n", n), ("k", k)))
    bytes_per_elem = check_int("bytes_per_elem", bytes_per_elem, minimum=1)
    return 2 * m * n * k / (bytes_per_elem * (m * k + k * n + m * n))


def gemv_intensity(n: int, bytes_per_elem: int = 8) -> float:
    """Best-case intensity of ``y = A @ x`` with ``A`` n x n: ``2 n**2`` flops over reading A and x
    and writing y once, in FLOP/byte (about 1/4 in float64)."""
    n = check_int("n", n, minimum=1)
    bytes_per_elem = check_int("bytes_per_elem", bytes_per_elem, minimum=1)
    return 2 * n * n / (bytes_per_elem * (n * n + 2 * n))


def plot(rooflines, kernels=(), ax=None, intensity_range=(1 / 32, 4096), title=None):
    """Draw one or several rooflines on log-log axes, with kernels as points.

    Parameters
    ----------
    rooflines : Roofline or sequence of Roofline
    kernels : sequence of KernelPoint
    ax : matplotlib Axes, optional
    intensity_range : (low, high) FLOP/byte shown on the x axis, 0 < low < high

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if isinstance(rooflines, Roofline):
        rooflines = [rooflines]
    rooflines = list(rooflines)
    if not rooflines or not all(isinstance(r, Roofline) for r in rooflines):
        raise TypeError("rooflines must be a Roofline or a non-empty sequence of Roofline")
    kernels = list(kernels)
    if not all(isinstance(k, KernelPoint) for k in kernels):
        raise TypeError("kernels must be a sequence of KernelPoint")
    low, high = intensity_range
    if not 0 < low < high:
        raise ValueError(f"intensity_range must satisfy 0 < low < high, got {intensity_range}")

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    x = np.geomspace(low, high, 400)
    for i, roof in enumerate(rooflines):
        color = f"C{i}"
        unit = "GOP/s" if roof.precision.startswith("int") else "GFLOP/s"
        label = (f"{roof.name} ({roof.precision}): {roof.peak_GFLOPs:,.0f} {unit}, "
                 f"{roof.bw_GBps:,.0f} GB/s")
        ax.loglog(x, roof.attainable_GFLOPs(x), color=color, lw=2, label=label)
        if low <= roof.ridge_point <= high:
            ax.axvline(roof.ridge_point, color=color, ls=":", lw=1)
    for j, k in enumerate(kernels):
        ax.plot(k.intensity, k.achieved_GFLOPs, marker="os^Dv<>p"[j % 8], ls="none", ms=8,
                color="k", mfc=f"C{(j + len(rooflines)) % 10}", label=f"{k.name}")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("performance (GFLOP/s)")
    ax.set_title(title or "Roofline")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return ax
