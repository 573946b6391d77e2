"""Explorers of the serving chapter: they build live and static, draw their initial state, and the
decode figure plots the table it is given."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from aichip.widgets import serving as ws  # noqa: E402
from aichip.widgets.static import MAX_VIEWS  # noqa: E402


def test_decode_measurement_plot_draws_the_table():
    table = pd.DataFrame({"batch": [1, 2, 4], "tokens_per_s": [10.0, 18.0, 30.0],
                          "predicted_tokens_per_s": [12.0, 24.0, 40.0],
                          "bound": ["memory", "memory", "compute"]})
    ax = ws.plot_decode_measurement(table)
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines["roofline bound"] == [12.0, 24.0, 40.0]
    assert lines["measured (memory-bound by the model)"] == [10.0, 18.0]
    assert lines["measured (compute-bound by the model)"] == [30.0]
    plt.close("all")


def test_explorers_build_live_and_draw():
    assert isinstance(ws.decode_explorer(), w.Widget)
    assert isinstance(ws.batching_explorer(), w.Widget)
    ws.draw_decode_step("Llama 3 70B", "NVIDIA H200 SXM", "fp8", 8192)
    ws.draw_batching(rate_per_s=5.0, n_requests=50)
    plt.close("all")


def outputs(widget):
    """Every Output widget under ``widget``."""
    found = [widget] if isinstance(widget, w.Output) else []
    for child in getattr(widget, "children", ()):
        found += outputs(child)
    return found


@pytest.mark.parametrize(("build", "draw", "n_views"), [
    # decode: 2 models x (the base, the other format, 2 other contexts, the other GPU) + the note
    # shown where two controls are moved at once; batching: every rate x every target
    (ws.decode_explorer, "draw_decode_step", 2 * 5 + 1),
    (ws.batching_explorer, "draw_batching", 8)])
def test_static_explorers_offer_one_view_per_grid_point(monkeypatch, build, draw, n_views):
    monkeypatch.setenv("AICHIP_STATIC_EXPLORERS", "1")
    monkeypatch.setattr(ws, draw, lambda **values: print(sorted(values.items())))
    views = {str(o.outputs) for o in outputs(build())}
    assert len(views) == n_views <= MAX_VIEWS   # every grid point shows something different


def test_bad_input():
    with pytest.raises(KeyError):
        ws.draw_decode_step(model="GPT-5")
    with pytest.raises(Exception, match="value|options|grid"):
        ws.batching_explorer(rate_per_s=3.0)
