"""Explorers of chapters 1 and 2: they build, draw their initial state and reject bad input."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from aichip import arith, chips  # noqa: E402
from aichip.widgets import arithmetic, landscape  # noqa: E402


def test_landscape_widgets_build_and_filter():
    assert isinstance(landscape.landscape_explorer(), w.Widget)
    df = chips.load()
    _, n_all = landscape.catalogue_scatter(df, "year", "peak_TOPs")
    _, n_gpu = landscape.catalogue_scatter(df, "year", "peak_TOPs", kinds=("GPU",))
    assert n_gpu == int(((df["kind"] == "GPU") & chips.peak_TOPs(df).notna()).sum())
    assert 0 < n_gpu < n_all
    _, none = landscape.catalogue_scatter(df, "year", "peak_TOPs", years=(1990, 2000))
    assert none == 0
    landscape.efficiency_over_time(df)
    plt.close("all")


def test_landscape_bad_input():
    with pytest.raises(ValueError, match="x must be one of"):
        landscape.catalogue_scatter(chips.load(), x="price")
    with pytest.raises(ValueError, match="kinds must be drawn"):
        landscape.catalogue_scatter(chips.load(), kinds=("TPU",))
    with pytest.raises(ValueError, match="y must be one of"):
        landscape.landscape_explorer(y="speed")


def test_arithmetic_widgets_build():
    assert isinstance(arithmetic.quantization_explorer(), w.Widget)
    assert isinstance(arithmetic.multiplier_explorer(6, "wallace"), w.Widget)
    axes = arithmetic.plot_reduction_tree(arith.build_multiplier(5, "dadda"))
    assert len(axes) == len(arith.build_multiplier(5, "dadda").stages) + 1
    x = np.linspace(-1, 1, 101)
    assert arithmetic.default_scale(x, "int8") == pytest.approx(1 / 127)
    assert arithmetic.default_scale(x, "fp8_e4m3", shift=1) == pytest.approx(2 / 448)
    plt.close("all")


def test_arithmetic_bad_input():
    with pytest.raises(ValueError, match="fmt must be one of"):
        arithmetic.quantization_explorer(fmt="fp7")
    with pytest.raises(ValueError, match="tree must be one of"):
        arithmetic.multiplier_explorer(8, "booth")
