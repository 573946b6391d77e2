"""Explorer and pictures for the dataflow chapter (ch-dataflow).

Dataflows compared by energy on real layers.
"""

from __future__ import annotations

import functools

import ipywidgets as w
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Rectangle

from .. import dataflow as dfm
from .static import explorer

__all__ = ["LEVEL_COLORS", "plot_taxonomy", "plot_energy_breakdown", "dataflow_explorer"]

LEVEL_COLORS = {"MAC": "0.6", "RF": "C2", "PE": "C4", "GLB": "C1", "DRAM": "C3"}

_PICTURES = {  # dataflow -> (label inside each PE, arrows: (direction, label))
    "ws": ("W", [("right", "inputs"), ("down", "psums")]),
    "os": ("psum", [("right", "inputs"), ("down", "weights")]),
    "is": ("I", [("right", "weights"), ("down", "psums")]),
    "rs": ("W row\nI row", [("diag", "inputs"), ("down", "psums")]),
    "nlr": ("", [("in", "all operands from GLB"), ("down", "psums")]),
}
_TITLES = {"ws": "weight stationary", "os": "output stationary", "is": "input stationary",
           "rs": "row stationary", "nlr": "no local reuse"}


def plot_taxonomy(n: int = 3):
    """Five small PE arrays: what each dataflow keeps in the PE and what moves between PEs."""
    fig, axes = plt.subplots(1, 5, figsize=(11, 2.8))
    for ax, (flow, (label, arrows)) in zip(axes, _PICTURES.items(), strict=True):
        for r in range(n):
            for c in range(n):
                ax.add_patch(Rectangle((c, n - 1 - r), 0.8, 0.8, fc="C0" if label else "0.9",
                                       alpha=0.35, ec="k"))
                ax.text(c + 0.4, n - 1 - r + 0.4, label, ha="center", va="center", fontsize=7)
        for direction, text in arrows:
            if direction == "right":
                start, end, pos = (-0.6, n - 0.6), (n + 0.2, n - 0.6), (n / 2, n + 0.05)
            elif direction == "down":
                start, end, pos = (n + 0.45, n - 0.2), (n + 0.45, -0.4), (n + 0.6, n / 2)
            elif direction == "diag":
                start, end, pos = (-0.4, -0.4), (n - 0.2, n - 0.2), (n / 2 - 0.6, n + 0.05)
            else:
                start, end, pos = (n / 2, n + 0.9), (n / 2, n - 0.1), (n / 2, n + 1.0)
            ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                         color="C3", lw=1.5))
            ax.text(*pos, text, fontsize=8, color="C3",
                    rotation=90 if direction == "down" else 0, ha="center", va="bottom")
        ax.set_xlim(-0.8, n + 1.2)
        ax.set_ylim(-0.6, n + 1.4)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"{flow.upper()}: {_TITLES[flow]}", fontsize=10)
    fig.suptitle("What stays inside each PE (blue) and what moves between PEs (red)")
    plt.tight_layout()
    return fig


def plot_energy_breakdown(table, ax=None, title: str = "", highlight: str | None = None):
    """Stacked bars of energy per MAC by level, one bar per dataflow (from compare_dataflows)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    bottom = [0.0] * len(table)
    for level, color in LEVEL_COLORS.items():
        ax.bar(table["dataflow"].str.upper(), table[level], bottom=bottom, color=color,
               label=level)
        bottom = [b + v for b, v in zip(bottom, table[level], strict=True)]
    if highlight is not None:
        i = list(table["dataflow"]).index(highlight)
        ax.patches[i].set_edgecolor("k")
        ax.get_xticklabels()[i].set_fontweight("bold")
    ax.set(ylabel="energy per MAC (units of one MAC)", title=title)
    ax.legend(ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    return ax


def dataflow_explorer(network: str = "AlexNet", layer: str = "conv3", dataflow: str = "rs",
                      arch: dfm.Architecture | None = None) -> w.Widget:
    """Pick a layer and a dataflow: energy by memory level of every dataflow's best mapping."""
    layers = dfm.load_layers()
    keys = [f"{net} {name}" for net, name in zip(layers["network"], layers["layer"], strict=True)]
    initial = f"{network} {layer}"
    if initial not in keys:
        raise ValueError(f"network/layer must be one of {keys}, got {initial!r}")
    if dataflow not in dfm.DATAFLOWS:
        raise ValueError(f"dataflow must be one of {tuple(dfm.DATAFLOWS)}, got {dataflow!r}")
    pick = w.Dropdown(options=keys, value=initial, description="layer")
    flow = w.ToggleButtons(options=list(dfm.DATAFLOWS), value=dataflow, description="dataflow")

    @functools.cache   # the dataflow only changes the highlight
    def compare(key):
        shape = dfm.layer_shape(layers.iloc[keys.index(key)])
        return shape, dfm.compare_dataflows(shape, arch, orders="fixed")

    def draw(key, chosen):
        shape, table = compare(key)
        plot_energy_breakdown(table, title=f"{key}: K={shape.K} C={shape.C} P={shape.P} "
                              f"Q={shape.Q} R={shape.R} S={shape.S}", highlight=chosen)
        plt.show()
        best = table.loc[table["dataflow"] == chosen].iloc[0]
        print(f"{chosen.upper()}: {best['total']:.2f} MAC-energies per MAC; best mapping found:\n"
              f"  {best['mapping']}")

    # the static page offers AlexNet's layers and one layer of each kind from the deeper networks
    offered = [k for k in keys if k.startswith("AlexNet") or k == initial or k in (
        "VGG-16 conv4_3", "ResNet-50 res3a_branch2a", "ResNet-50 res5a_branch2c")]
    return explorer(draw, {"key": pick, "chosen": flow},
                    grid={"key": offered, "chosen": list(dfm.DATAFLOWS)})
