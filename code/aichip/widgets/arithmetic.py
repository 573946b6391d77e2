"""Explorers for chapter 2: quantisation error of a tensor, and a multiplier's reduction tree."""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from .. import arith
from .static import explorer

__all__ = [
    "default_scale", "plot_quantization", "quantization_explorer", "FIELD_COLORS", "bit_fields",
    "plot_bit_layouts", "plot_reduction_tree", "multiplier_explorer",
]


def default_scale(x: np.ndarray, fmt: str, shift: float = 0.0) -> float:
    """The exact absmax scale times ``2**shift``: :func:`aichip.arith.absmax_scale` without the
    power-of-two rounding (kept for callers of the first release; the explorer uses the rounded
    scale)."""
    return arith.absmax_scale(x, fmt, power_of_two=False, shift=shift)


def plot_quantization(x: np.ndarray, fmt: str, scale: float, axes=None):
    """Histogram of a tensor and of its quantised values, and of the error; returns the stats."""
    q = arith.quantize(x, fmt, scale, saturate=True)
    stats = arith.quantization_error(x, fmt, scale)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    bins = np.linspace(x.min(), x.max(), 120)
    # histograms as one filled outline each ("stepfilled"), which looks as the default's 120
    # edgeless bars do and draws one polygon instead of 120 patches
    axes[0].hist(x, bins=bins, density=True, color="lightgrey", label="original",
                 histtype="stepfilled")
    levels, counts = np.unique(q, return_counts=True)
    if levels.size > 1:
        # each quantised level drawn as a density: its count over the spacing around it. One
        # collection built from an (n, 2, 2) array of segments: a 16-bit format uses tens of
        # thousands of levels, and vlines' masked arrays took half of such a view's time
        height = counts / (x.size * np.gradient(levels))
        segments = np.stack([np.column_stack([levels, np.zeros_like(height)]),
                             np.column_stack([levels, height])], axis=1)
        axes[0].add_collection(LineCollection(segments, colors="tab:red", linewidths=0.8,
                                              alpha=0.7, label="quantised levels"))
        axes[0].autoscale_view()
    axes[0].set_xlim(bins[0], bins[-1])
    axes[0].set_xlabel("value")
    axes[0].set_ylabel("density")
    axes[0].set_title(f"{fmt}, scale {scale:.3g}: {levels.size} distinct values used")
    axes[0].legend(fontsize=8)
    axes[1].hist(q - x, bins=120, color="tab:blue", histtype="stepfilled")
    axes[1].set_xlabel("quantised - original")
    axes[1].set_ylabel("count")
    axes[1].set_title(f"error: RMSE {stats.rmse:.2e}, SQNR {stats.sqnr_dB:.1f} dB")
    return stats


def quantization_explorer(x: np.ndarray | None = None, fmt: str = "int8",
                          shift: float = 0.0, seed: int = 0) -> w.Widget:
    """Quantise a tensor (default: 50,000 Gaussian 'weights' with a few outliers) to a chosen
    format with :func:`aichip.arith.absmax_scale` (a power of two for float formats) times
    ``2**shift``; histograms and error statistics."""
    if x is None:
        rng = np.random.default_rng(seed)
        x = rng.normal(0.0, 0.02, 50_000)
        x[:20] = rng.normal(0.0, 0.3, 20)    # a few outliers, as trained weights have
    x = np.asarray(x, dtype=np.float64).ravel()
    arith.get_format(fmt)
    style = {"description_width": "150px"}
    fw = w.Dropdown(options=list(arith.FORMATS), value=fmt, description="format", style=style)
    sw = w.FloatSlider(value=shift, min=-12, max=4, step=0.5, style=style,
                       description="log2(scale / absmax)")

    def draw(fmt, shift):
        scale = arith.absmax_scale(x, fmt, shift=shift)
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        stats = plot_quantization(x, fmt, scale, axes)
        fig.tight_layout()
        plt.show()
        print(f"max |error| {stats.max_abs_error:.3g}; clipped {stats.clipped_fraction:.2%}; "
              f"non-zero values flushed to zero {stats.flushed_to_zero_fraction:.2%}")

    grid = {"fmt": list(arith.FORMATS), "shift": sorted({-8.0, -4.0, 0.0, 2.0, shift})}
    return explorer(draw, {"fmt": fw, "shift": sw}, grid)


FIELD_COLORS = {"sign": "#e45756", "exponent": "#4c78a8", "mantissa": "#72b7b2",
                "integer": "#bab0ac"}


def bit_fields(fmt: str) -> list[str]:
    """The field of every bit of ``fmt``, most significant first: ``"sign"``, ``"exponent"``,
    ``"mantissa"`` for floats; ``"sign"`` (weight -2**(bits-1)) then ``"integer"`` for integers."""
    f = arith.get_format(fmt)
    if f.kind == "int":
        return ["sign"] + ["integer"] * (f.bits - 1)
    return ["sign"] + ["exponent"] * f.exp_bits + ["mantissa"] * f.man_bits


def plot_bit_layouts(formats=("fp32", "tf32", "bf16", "fp16", "fp8_e5m2", "fp8_e4m3", "int8",
                              "int4"), value: float = -3.0, ax=None):
    """One row of boxes per format, one box per bit (most significant on the left), coloured by
    field (sign | exponent | mantissa), each holding the bit of ``value`` rounded to the format
    (:func:`aichip.arith.encode`). Boxes and bit labels carry ``gid``s ``"fmt:field:i"`` and
    ``"fmt:bit:i"`` (i counted from the most significant bit) so that tests can read them back."""
    formats = list(formats)
    if not formats:
        raise ValueError("formats must name at least one format of aichip.arith.FORMATS")
    for fmt in formats:
        arith.get_format(fmt)  # raises ValueError naming fmt
    if not np.isfinite(value):
        raise ValueError(f"value must be finite, got {value}")
    widest = max(arith.get_format(f).bits for f in formats)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(9.5, 0.3 * widest + 2.5), 0.62 * len(formats) + 0.9))
    for row, fmt in enumerate(formats):
        f = arith.get_format(fmt)
        code = int(arith.encode(value, fmt))
        fields = bit_fields(fmt)
        y = -row
        for i, field in enumerate(fields):
            bit = (code >> (f.bits - 1 - i)) & 1
            ax.add_patch(plt.Rectangle((i, y - 0.4), 1, 0.8, facecolor=FIELD_COLORS[field],
                                       edgecolor="white", lw=1, gid=f"{fmt}:{field}:{i}"))
            ax.text(i + 0.5, y, str(bit), ha="center", va="center", fontsize=8, color="white",
                    fontweight="bold", gid=f"{fmt}:bit:{i}")
        stored = float(arith.quantize(value, fmt))
        widths = {k: fields.count(k) for k in dict.fromkeys(fields)}
        detail = " | ".join(f"{k} {n}" for k, n in widths.items())
        ax.text(-0.4, y, f"{fmt} ({f.bits} bits)", ha="right", va="center", fontsize=9)
        ax.text(f.bits + 0.4, y, f"{detail}   stores {stored:g}", ha="left", va="center",
                fontsize=7.5, color="0.25")
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=c) for c in FIELD_COLORS.values()]
    ax.legend(handles, ["sign", "exponent", "mantissa (fraction)", "integer (two's complement)"],
              loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8, frameon=False)
    ax.set_xlim(-0.2, widest + 0.2)
    ax.set_ylim(-len(formats) + 0.4, 0.6)
    ax.set_title(f"Bit fields of each format, filled with the bits of {value:g} "
                 "(most significant bit on the left)", fontsize=10)
    ax.axis("off")
    return ax


def plot_reduction_tree(mult: arith.Multiplier, axes=None):
    """Dot diagram of the partial products and of the columns after each reduction stage.

    Each row of panels is a stage; a dot is one bit (column weight increases to the left, as bits
    are written); the bar under each column counts the full (F) and half (H) adders that stage puts
    there.
    """
    heights = [mult.initial_heights] + [s.heights_after for s in mult.stages]
    width = max(len(h) for h in heights)
    rows = len(heights)
    if axes is None:
        _, axes = plt.subplots(rows, 1, figsize=(min(10.5, 2 + 0.28 * width), 1.0 + 0.9 * sum(
            max(h) for h in heights) * 0.18 + 0.6 * rows), squeeze=False)
        axes = axes[:, 0]
    for k, (ax, h) in enumerate(zip(axes, heights, strict=True)):
        for col, height in enumerate(h):
            xs = np.full(height, width - 1 - col)
            ax.scatter(xs, np.arange(height), s=14, color="black" if k == 0 else "tab:blue")
        if k < len(mult.stages):
            stage = mult.stages[k]
            for col, (fa, ha) in enumerate(zip(stage.full_adders_per_column,
                                               stage.half_adders_per_column, strict=True)):
                if fa or ha:
                    label = (f"{fa}F" if fa else "") + (f"{ha}H" if ha else "")
                    ax.text(width - 1 - col, -1.2, label,
                            ha="center", va="top", fontsize=6, color="tab:red")
        title = "partial products" if k == 0 else f"after stage {k}"
        if k < len(mult.stages):
            s = mult.stages[k]
            title += f"  (next: {s.full_adders} full, {s.half_adders} half adders)"
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_xlim(-1, width)
        ax.set_ylim(-2.5, max(max(h) for h in heights))
        ax.axis("off")
    return axes


def multiplier_explorer(n_bits: int = 8, tree: str = "dadda") -> w.Widget:
    """Pick a width and a tree; see the reduction stage by stage and the adder counts."""
    arith.build_multiplier(n_bits, tree)
    nw = w.IntSlider(value=n_bits, min=2, max=16, description="bits")
    tw = w.ToggleButtons(options=list(arith.TREES), value=tree)

    def draw(n_bits, tree):
        mult = arith.build_multiplier(n_bits, tree)
        plot_reduction_tree(mult)
        plt.show()
        print(mult.summary())

    grid = {"tree": list(arith.TREES), "n_bits": sorted({4, 8, 12, 16, n_bits})}
    return explorer(draw, {"n_bits": nw, "tree": tw}, grid,
                    arrange=lambda c: w.HBox([c["n_bits"], c["tree"]]))
