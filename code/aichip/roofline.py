"""The roofline model (Williams, Waterman and Patterson, CACM 2009).

A kernel with **arithmetic intensity** ``I`` (operations per byte moved to or from memory) on a
device with peak compute ``P`` (operations/s) and memory bandwidth ``B`` (bytes/s) can reach at most

    attainable(I) = min(P, B * I)

The two roofs meet at the **ridge point** ``I* = P / B``: kernels to its left are memory-bound, to
its right compute-bound. Units here: GFLOP/s (or GOP/s for integer rooflines) and GB/s, GB = 1e9
bytes, so intensity is in FLOP/byte.

Two conventions for intensity meet in the literature. This book counts, like Williams et al., every
operation: a multiply-accumulate (MAC) is two. Jouppi et al. (ISCA 2017) draw the TPU v1's
roofline with one operation per MAC on the x axis ("TPU Ops / Weight Byte", which equals the batch
size for their MLPs and LSTMs) and two per MAC on the y axis (92 TOPS). A :class:`Roofline` with
``intensity_unit="mac"`` uses the paper's x axis: the memory roof is ``2 B I`` and the ridge point
``P / (2 B)``, half the ridge point in operations per byte.

The measurement kernels of this chapter live in :mod:`aichip.membench` (STREAM bandwidth) and
:mod:`aichip.flops` (peak FLOP/s); they are re-exported here so that a chapter can use one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import chips
from .flops import FlopsResult, measure_gemm, measure_gemv, measure_peak_flops
from .membench import KERNELS as STREAM_KERNELS
from .membench import BandwidthResult, measure_bandwidth
from .validation import check_choice, check_float, check_int

__all__ = [
    "Roofline", "KernelPoint", "Assessment", "placement_table", "PublishedKernel", "TPU_V1_APPS",
    "assess",
    "from_chip", "from_measurements", "plot", "measure_bandwidth", "measure_peak_flops",
    "measure_gemm", "measure_gemv", "gemv_intensity", "BandwidthResult", "FlopsResult",
    "gemm_intensity", "critical_batch", "stream_intensity", "tpu_v1_app_points", "INTENSITY_UNITS",
]

#: what one unit of arithmetic intensity counts, and how many operations that is
INTENSITY_UNITS = {"op": 1, "mac": 2}


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
    intensity_unit : {"op", "mac"}
        What the x axis counts per byte: operations (``"op"``, the default: FLOP/byte), or
        multiply-accumulates (``"mac"``, each two operations; the TPU paper's convention). The
        peak is in operations per second either way.
    """

    name: str
    peak_GFLOPs: float
    bw_GBps: float
    precision: str = ""
    source: str = ""
    intensity_unit: str = "op"

    def __post_init__(self):
        check_float("peak_GFLOPs", self.peak_GFLOPs, minimum=0.0, strict_minimum=True)
        check_float("bw_GBps", self.bw_GBps, minimum=0.0, strict_minimum=True)
        check_choice("intensity_unit", self.intensity_unit, INTENSITY_UNITS)

    @property
    def ops_per_unit(self) -> int:
        """Operations in one unit of intensity: 1 for ``"op"``, 2 for ``"mac"``."""
        return INTENSITY_UNITS[self.intensity_unit]

    @property
    def intensity_label(self) -> str:
        """The x axis's unit: ``"FLOP/byte"`` or ``"MAC/byte"``."""
        return "FLOP/byte" if self.intensity_unit == "op" else "MAC/byte"

    @property
    def perf_label(self) -> str:
        """The y axis's unit: ``"GOP/s"`` for integer precisions, ``"GFLOP/s"`` otherwise."""
        return "GOP/s" if self.precision.startswith("int") else "GFLOP/s"

    @property
    def ridge_point(self) -> float:
        """Intensity where the memory roof meets the compute roof, in :attr:`intensity_label`."""
        return self.peak_GFLOPs / (self.ops_per_unit * self.bw_GBps)

    def attainable_GFLOPs(self, intensity):
        """Best achievable GFLOP/s at ``intensity`` (in :attr:`intensity_label`; scalar or array,
        all > 0)."""
        x = np.asarray(intensity, dtype=float)
        if x.size and not np.all(np.isfinite(x) & (x > 0)):
            raise ValueError(f"intensity must be finite and > 0 {self.intensity_label}")
        result = np.minimum(self.peak_GFLOPs, self.ops_per_unit * self.bw_GBps * x)
        return float(result) if result.ndim == 0 else result

    def bound(self, intensity: float) -> str:
        """``"memory"`` left of the ridge point, ``"compute"`` at or right of it."""
        intensity = check_float("intensity", intensity, minimum=0.0, strict_minimum=True)
        return "memory" if intensity < self.ridge_point else "compute"


@dataclass(frozen=True)
class KernelPoint:
    """A kernel placed on a roofline: its intensity (in the roofline's unit, FLOP/byte unless the
    roofline says otherwise) and achieved GFLOP/s."""

    name: str
    intensity: float
    achieved_GFLOPs: float

    def __post_init__(self):
        check_float("intensity", self.intensity, minimum=0.0, strict_minimum=True)
        check_float("achieved_GFLOPs", self.achieved_GFLOPs, minimum=0.0, strict_minimum=True)

    @classmethod
    def at_fraction(cls, roof: Roofline, name: str, intensity: float,
                    fraction_of_roof: float) -> KernelPoint:
        """A kernel at ``intensity`` reaching ``fraction_of_roof`` (0, 1] of ``roof`` there."""
        fraction_of_roof = check_float("fraction_of_roof", fraction_of_roof, minimum=0.0,
                                       maximum=1.0, strict_minimum=True)
        return cls(name, intensity, fraction_of_roof * roof.attainable_GFLOPs(intensity))

    def efficiency(self, roof: Roofline) -> float:
        """Achieved performance as a fraction of what ``roof`` allows at this intensity."""
        return self.achieved_GFLOPs / roof.attainable_GFLOPs(self.intensity)


class Assessment(NamedTuple):
    """Where a kernel lands on a roofline (:func:`assess`)."""

    ceiling_GFLOPs: float  # the roof at the kernel's intensity
    bound: str  # "memory" or "compute"
    fraction_of_roof: float  # achieved / ceiling
    achievable: bool  # False when the kernel claims more than the roof allows


def assess(roof: Roofline, intensity: float, achieved_GFLOPs: float) -> Assessment:
    """Judge a kernel at ``intensity`` (the roof's unit) reaching ``achieved_GFLOPs`` on ``roof``:
    the roof above it, which roof binds, the fraction of it reached, and whether it is possible."""
    if not isinstance(roof, Roofline):
        raise TypeError(f"roof must be a Roofline, got {type(roof).__name__}")
    intensity = check_float("intensity", intensity, minimum=0.0, strict_minimum=True)
    achieved_GFLOPs = check_float("achieved_GFLOPs", achieved_GFLOPs, minimum=0.0)
    ceiling = roof.attainable_GFLOPs(intensity)
    return Assessment(ceiling, roof.bound(intensity), achieved_GFLOPs / ceiling,
                      achieved_GFLOPs <= ceiling * (1 + 1e-9))


def placement_table(roof: Roofline, kernels) -> pd.DataFrame:
    """One row per kernel placed on ``roof``: intensity (the roof's unit), achieved and roof
    performance (GFLOP/s, or GOP/s for an integer roof), the binding roof and the fraction of it
    reached (see :func:`assess`)."""
    kernels = list(kernels)
    if not all(isinstance(k, KernelPoint) for k in kernels):
        raise TypeError("kernels must be a sequence of KernelPoint")
    verdicts = [assess(roof, k.intensity, k.achieved_GFLOPs) for k in kernels]
    return pd.DataFrame({
        "kernel": [k.name for k in kernels],
        f"intensity ({roof.intensity_label})": [k.intensity for k in kernels],
        f"achieved ({roof.perf_label})": [k.achieved_GFLOPs for k in kernels],
        f"roof ({roof.perf_label})": [v.ceiling_GFLOPs for v in verdicts],
        "bound": [v.bound for v in verdicts],
        "of roof": [v.fraction_of_roof for v in verdicts],
    })


def from_chip(name: str, precision: str | None = None, intensity_unit: str = "op") -> Roofline:
    """Roofline of a catalogue device (:mod:`aichip.chips`) at ``precision``.

    ``precision`` defaults to the first of fp32, fp16, bf16, int8 the device supports;
    ``intensity_unit`` as in :class:`Roofline`.
    """
    chip = chips.get(name)
    if precision is None:
        precision = chips.best_precision(chip)
    peak = chip.peak(precision)
    if chip.mem_bw_GBps is None:
        raise ValueError(f"{chip.name} has no memory bandwidth figure")
    return Roofline(chip.name, peak * 1e3, chip.mem_bw_GBps, precision, chip.source,
                    intensity_unit)


class PublishedKernel(NamedTuple):
    """A workload placed on a roofline by its authors, with their figures."""

    name: str
    batch: int
    macs_per_weight_byte: float  # the paper's "TPU Ops / Weight Byte" (one per MAC)
    achieved_TOPs: float  # measured throughput, 1e12 operations/s (two per MAC)
    source: str


#: The six production applications of Jouppi et al. (ISCA 2017): batch size and "TPU Ops / Weight
#: Byte" from their Table 1, measured TOPS on the TPU from their Table 3. The intensity is the
#: paper's, one operation per MAC, so these points belong on a roofline with
#: ``intensity_unit="mac"``.
TPU_V1_APPS = (
    PublishedKernel("MLP0", 200, 200, 12.3, "jouppi2017tpu"),
    PublishedKernel("MLP1", 168, 168, 9.7, "jouppi2017tpu"),
    PublishedKernel("LSTM0", 64, 64, 3.7, "jouppi2017tpu"),
    PublishedKernel("LSTM1", 96, 96, 2.8, "jouppi2017tpu"),
    PublishedKernel("CNN0", 8, 2888, 86.0, "jouppi2017tpu"),
    PublishedKernel("CNN1", 32, 1750, 14.1, "jouppi2017tpu"),
)


def tpu_v1_app_points() -> list[KernelPoint]:
    """:data:`TPU_V1_APPS` as kernel points in MAC per weight byte and GOP/s, for a TPU v1 roofline
    built with ``from_chip("Google TPU v1", "int8", intensity_unit="mac")``."""
    return [KernelPoint(app.name, app.macs_per_weight_byte, app.achieved_TOPs * 1e3)
            for app in TPU_V1_APPS]


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


def critical_batch(ridge_point: float, bytes_per_weight: float = 2, d_in: int | None = None,
                   d_out: int | None = None, bytes_per_activation: float | None = None) -> int:
    """Smallest batch (tokens) at which a linear layer's GEMM reaches ``ridge_point`` FLOP/byte.

    A layer with a ``d_in x d_out`` weight matrix applied to a batch of ``b`` tokens does
    ``2 b d_in d_out`` FLOP and must move the weights once (``w d_in d_out`` bytes) plus the
    activations in and out (``a b (d_in + d_out)`` bytes), so its intensity is

        I(b) = 2 b d_in d_out / (w d_in d_out + a b (d_in + d_out)).

    Without ``d_in``/``d_out`` the activations are neglected (the weight-streaming limit of
    decoding, where the weights dominate the traffic): ``I = 2 b / w`` and the critical batch is
    ``ceil(w I* / 2)``: at 2 bytes per weight, the ridge point itself. With the layer's shape the
    answer solves ``I(b) >= I*``: ``b >= w I* d_in d_out / (2 d_in d_out - a I* (d_in + d_out))``;
    when the denominator is not positive no batch reaches the ridge and ValueError is raised.

    Parameters
    ----------
    ridge_point : float > 0, FLOP/byte (:attr:`Roofline.ridge_point`)
    bytes_per_weight : float > 0, bytes of one weight (2 for bf16, 1 for fp8/int8)
    d_in, d_out : int >= 1 or None (both or neither), the weight matrix's shape
    bytes_per_activation : float > 0 or None (then equal to ``bytes_per_weight``)
    """
    ridge = check_float("ridge_point", ridge_point, minimum=0, strict_minimum=True)
    w = check_float("bytes_per_weight", bytes_per_weight, minimum=0, strict_minimum=True)
    a = w if bytes_per_activation is None else check_float(
        "bytes_per_activation", bytes_per_activation, minimum=0, strict_minimum=True)
    if (d_in is None) != (d_out is None):
        raise ValueError("d_in and d_out must be given together (or neither)")
    if d_in is None:
        return max(1, int(np.ceil(w * ridge / 2 - 1e-9)))
    k = check_int("d_in", d_in, minimum=1)
    n = check_int("d_out", d_out, minimum=1)
    denominator = 2 * k * n - a * ridge * (k + n)
    if denominator <= 0:
        raise ValueError(f"no batch reaches ridge_point {ridge:g} FLOP/byte with d_in={k}, "
                         f"d_out={n}: the intensity never exceeds {2 * k * n / (a * (k + n)):g}")
    return max(1, int(np.ceil(w * ridge * k * n / denominator - 1e-9)))


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
    units = {r.intensity_unit for r in rooflines}
    if len(units) > 1:
        raise ValueError(f"rooflines must share one intensity_unit, got {sorted(units)}")
    low, high = intensity_range
    if not 0 < low < high:
        raise ValueError(f"intensity_range must satisfy 0 < low < high, got {intensity_range}")

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    x = np.geomspace(low, high, 400)
    for i, roof in enumerate(rooflines):
        color = f"C{i}"
        unit = roof.perf_label
        label = (f"{roof.name} ({roof.precision}): {roof.peak_GFLOPs:,.0f} {unit}, "
                 f"{roof.bw_GBps:,.0f} GB/s")
        ax.loglog(x, roof.attainable_GFLOPs(x), color=color, lw=2, label=label)
        if low <= roof.ridge_point <= high:
            ax.axvline(roof.ridge_point, color=color, ls=":", lw=1)
    for j, k in enumerate(kernels):
        ax.plot(k.intensity, k.achieved_GFLOPs, marker="os^Dv<>p"[j % 8], ls="none", ms=8,
                color="k", mfc=f"C{(j + len(rooflines)) % 10}", label=f"{k.name}")
    ax.set_xlabel(f"arithmetic intensity ({rooflines[0].intensity_label})")
    ax.set_ylabel("performance (GFLOP/s)")
    ax.set_title(title or "Roofline")
    ax.grid(True, which="both", alpha=0.3)
    # beside the axes, not inside: a roof's label is long, and a legend in a corner hid the slowest
    # kernels, which sit low on the plot
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax
