"""Explorer for the roofline chapter: place a kernel on the roofline of a chosen device."""

from __future__ import annotations

import textwrap

import ipywidgets as w
import matplotlib.pyplot as plt

from .. import roofline as rl
from .static import explorer

__all__ = ["describe_point", "roofline_explorer"]


def describe_point(roof: rl.Roofline, intensity: float, achieved_GFLOPs: float) -> str:
    """One-paragraph verdict on a kernel at ``intensity`` achieving ``achieved_GFLOPs`` on ``roof``:
    the words around :func:`aichip.roofline.assess`, which does the judging."""
    verdict = rl.assess(roof, intensity, achieved_GFLOPs)
    unit = roof.intensity_label
    if not verdict.achievable:
        return (f"{achieved_GFLOPs:,.1f} GFLOP/s is above this device's roof of "
                f"{verdict.ceiling_GFLOPs:,.1f} GFLOP/s at {intensity:g} {unit}: not achievable.")
    limit = "memory bandwidth" if verdict.bound == "memory" else "peak compute"
    advice = ("raise intensity (reuse data: tiling, fusion) to climb the slanted roof"
              if verdict.bound == "memory"
              else "use the compute units better (vectorise, use matrix units)")
    return (f"{verdict.bound.capitalize()}-bound: the ridge point is "
            f"{roof.ridge_point:,.1f} {unit}. "
            f"The roof here is {verdict.ceiling_GFLOPs:,.1f} GFLOP/s, set by {limit}; the kernel "
            f"reaches {verdict.fraction_of_roof:.0%} of it. To go faster, {advice}.")


def roofline_explorer(rooflines: dict[str, rl.Roofline], device: str | None = None,
                      intensity: float = 1.0, fraction_of_roof: float = 0.5) -> w.Widget:
    """Pick a device, move a kernel's intensity and achieved performance, see where it lands.

    Parameters
    ----------
    rooflines : dict name -> Roofline
        The devices offered (e.g. the catalogue's GPUs and the reader's measured machine).
    device : str, optional
        Initially selected key of ``rooflines``; default the first.
    intensity : float
        Initial intensity, FLOP/byte, in [1/32, 4096].
    fraction_of_roof : float
        Initial achieved performance as a fraction (0, 1] of the roof at that intensity.
    """
    if not isinstance(rooflines, dict) or not rooflines:
        raise TypeError("rooflines must be a non-empty dict of name -> Roofline")
    device = device if device is not None else next(iter(rooflines))
    if device not in rooflines:
        raise ValueError(f"device must be one of {list(rooflines)}, got {device!r}")
    if not 1 / 32 <= intensity <= 4096:
        raise ValueError(f"intensity must be in [1/32, 4096] FLOP/byte, got {intensity}")
    if not 0 < fraction_of_roof <= 1:
        raise ValueError(f"fraction_of_roof must be in (0, 1], got {fraction_of_roof}")

    style = {"description_width": "170px"}
    layout = w.Layout(width="520px")
    pick = w.Dropdown(options=list(rooflines), value=device, description="device",
                      style=style, layout=layout)
    x = w.FloatLogSlider(value=intensity, base=2, min=-5, max=12, step=0.25,
                         description="intensity (FLOP/byte)", style=style, layout=layout,
                         readout_format=".4g")
    frac = w.FloatSlider(value=fraction_of_roof, min=0.01, max=1.0, step=0.01,
                         description="achieved / roof", style=style, layout=layout,
                         readout_format=".0%")

    def draw(name, intensity, fraction):
        roof = rooflines[name]
        point = rl.KernelPoint.at_fraction(roof, "your kernel", intensity, fraction)
        fig, ax = plt.subplots(figsize=(6, 4))
        rl.plot(roof, [point], ax=ax,
                title=f"{name}: a kernel at {intensity:g} {roof.intensity_label}")
        plt.show()
        # wrapped to fit the page's column in the monospaced output, never cut off
        print(textwrap.fill(describe_point(roof, intensity, point.achieved_GFLOPs), width=72))

    # the static page: every device; for each, the intensity moved alone over 1/4 to 4096
    # FLOP/byte in factors of 4, and the achieved fraction moved alone
    octaves = [4.0**k for k in range(-1, 7)]
    grid = {"name": list(rooflines)}
    axes = {"intensity": sorted({*octaves, intensity}),
            "fraction": sorted({0.3, 1.0, fraction_of_roof})}
    return explorer(draw, {"name": pick, "intensity": x, "fraction": frac}, grid, axes=axes)
