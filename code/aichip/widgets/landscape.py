"""Explorers for the chapter on the AI chip landscape: the chip catalogue as a scatter plot, and
efficiency over time."""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import pandas as pd

from .. import chips
from .static import explorer

__all__ = ["FIELDS", "catalogue_scatter", "efficiency_over_time", "landscape_explorer"]

#: fields offered on the axes: catalogue columns plus two derived ones
FIELDS = {
    "year": "year",
    "process_nm": "process node (nm)",
    **{c: f"peak {p} (T{'OP' if p.startswith('int') else 'FLOP'}/s)"
       for p, c in chips.PRECISIONS.items()},
    "peak_TOPs": "best low-precision peak (TOP/s)",
    "mem_GB": "memory capacity (GB)",
    "mem_bw_GBps": "memory bandwidth (GB/s)",
    "tdp_W": "TDP (W)",
    "efficiency_TOPs_per_W": "peak / TDP (TOP/s per W)",
}

# tab10 has ten colours and there are fewer kinds: the colours left over are not used
_COLOURS = dict(zip(chips.KINDS, plt.get_cmap("tab10").colors, strict=False))


def catalogue_scatter(df: pd.DataFrame, x: str = "mem_bw_GBps", y: str = "peak_TOPs",
                      kinds=chips.KINDS, years=(1990, 2030), log_x: bool = True,
                      log_y: bool = True, label: bool = True, ax=None):
    """Scatter two fields of the catalogue, coloured by kind; rows lacking either are left out.

    Returns the axes and the number of devices drawn.
    """
    for name, field in (("x", x), ("y", y)):
        if field not in FIELDS:
            raise ValueError(f"{name} must be one of {tuple(FIELDS)}, got {field!r}")
    data = chips.select(chips.with_derived_fields(df), kinds, years, require=(x, y))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    for kind, group in data.groupby("kind"):
        ax.scatter(group[x], group[y], s=45, color=_COLOURS[kind], label=kind, alpha=0.85,
                   edgecolor="black", linewidth=0.4)
        if label:
            for _, row in group.iterrows():
                ax.annotate(row["name"], (row[x], row[y]), fontsize=6.5, xytext=(3, 3),
                            textcoords="offset points")
    if log_x and x != "year":
        ax.set_xscale("log")
    if log_y and y != "year":
        ax.set_yscale("log")
    ax.set_xlabel(FIELDS[x])
    ax.set_ylabel(FIELDS[y])
    ax.set_title(f"{len(data)} devices of the catalogue: {FIELDS[y]} vs {FIELDS[x]}")
    ax.grid(True, which="both", alpha=0.3)
    if len(data):
        ax.legend(fontsize=8, loc="best")
    return ax, len(data)


def efficiency_over_time(df: pd.DataFrame, kinds=chips.KINDS, ax=None):
    """Peak throughput per watt of TDP against year, log scale, with the best device per year."""
    data = chips.select(chips.with_derived_fields(df), kinds, require=("efficiency_TOPs_per_W",))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for kind, group in data.groupby("kind"):
        ax.scatter(group["year"], group["efficiency_TOPs_per_W"], s=45, color=_COLOURS[kind],
                   label=kind, edgecolor="black", linewidth=0.4)
        for _, row in group.iterrows():
            ax.annotate(row["name"], (row["year"], row["efficiency_TOPs_per_W"]), fontsize=6.5,
                        xytext=(3, 3), textcoords="offset points")
    if len(data):
        best = chips.best_so_far(data, "efficiency_TOPs_per_W")
        ax.step(best.index, best.values, where="post", color="grey", linestyle=":",
                label="best so far")
        ax.legend(fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("year")
    ax.set_ylabel("peak / TDP (TOP/s per W)")
    ax.set_title("Efficiency at the best low precision (datasheet peak over TDP)")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def landscape_explorer(df: pd.DataFrame | None = None, x: str = "mem_bw_GBps",
                       y: str = "peak_TOPs") -> w.Widget:
    """Scatter any two fields (log axes, colour by kind), filter by kind and year; plus a tab with
    efficiency over time for the same selection."""
    df = chips.load() if df is None else df
    for name, field in (("x", x), ("y", y)):
        if field not in FIELDS:
            raise ValueError(f"{name} must be one of {tuple(FIELDS)}, got {field!r}")
    style = {"description_width": "80px"}
    options = [(label, key) for key, label in FIELDS.items()]
    xw = w.Dropdown(options=options, value=x, description="x axis", style=style)
    yw = w.Dropdown(options=options, value=y, description="y axis", style=style)
    logx = w.Checkbox(value=True, description="log x")
    logy = w.Checkbox(value=True, description="log y")
    kinds = w.SelectMultiple(options=list(chips.KINDS), value=list(chips.KINDS),
                             description="kinds", rows=5, style=style)
    lo, hi = int(df["year"].min()), int(df["year"].max())
    years = w.IntRangeSlider(value=(lo, hi), min=lo, max=hi, description="years", style=style)
    view = w.ToggleButtons(options=["scatter", "efficiency over time"], value="scatter")

    def draw(view, x, y, log_x, log_y, kinds, years):
        fig, ax = plt.subplots(figsize=(8.5, 5))
        if view == "scatter":
            _, count = catalogue_scatter(df, x, y, kinds, years, log_x, log_y, ax=ax)
            shown = f"{count} devices shown"
        else:
            efficiency_over_time(chips.select(df, years=years), kinds, ax=ax)
            shown = "devices with both a peak and a TDP"
        plt.show()
        print(f"{shown}; kinds: {', '.join(kinds) or 'none'}; years {years[0]}-{years[1]}")

    controls = {"view": view, "x": xw, "y": yw, "log_x": logx, "log_y": logy, "kinds": kinds,
                "years": years}
    axes = ("mem_bw_GBps", "peak_TOPs", "year", "tdp_W", "efficiency_TOPs_per_W")
    # the static page: for each y, x and the other controls moved one at a time (so every x goes
    # with every y; all kinds, or each of the two commonest alone; two spans of years)
    grid = {"y": sorted({y, *axes[1:]}, key=list(FIELDS).index)}
    common = df["kind"].value_counts().index[:2]
    mid = (lo + hi) // 2
    static_axes = {"x": sorted({x, *axes[:4]}, key=list(FIELDS).index),
                   "view": list(view.options), "log_x": [True, False], "log_y": [True, False],
                   "kinds": [kinds.value, *[(k,) for k in common]],
                   "years": [years.value, (lo, mid), (mid + 1, hi)]}
    return explorer(draw, controls, grid, axes=static_axes, arrange=lambda c: w.HBox([
        w.VBox([c["view"], c["x"], c["y"], w.HBox([c["log_x"], c["log_y"]])]),
        w.VBox([c["kinds"], c["years"]])]))
