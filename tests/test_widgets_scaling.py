"""The scaling chapter's explorer: it builds, draws what step_time and scaling_efficiency return,
says when a layout is invalid or does not fit, and its static grid holds its initial view."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from aichip import scaling  # noqa: E402
from aichip.widgets import scaling as ws  # noqa: E402
from aichip.widgets.static import render  # noqa: E402

#: the scaling panel's curves stand-in (the real search takes seconds per cluster)
FAKE = {name: pd.DataFrame({"n_gpus": [8, 64], "total_s": [2.0, 0.5], "efficiency": [1.0, 0.5]})
        for name in scaling.cluster_names()}


def _sweeps(model, global_batch):
    return {(model, global_batch): FAKE}


def test_presets_are_table1_shapes():
    presets = ws.model_presets()
    t1 = scaling.megatron_table1()
    assert len(presets) == len(t1)
    big = presets["1008B"]
    assert (big.n_layers, big.hidden, big.n_heads) == (128, 25600, 160)


def test_breakdown_bars_are_the_step_time_terms():
    cfg = scaling.TransformerConfig(40, 6144, 48)
    st = scaling.step_time(cfg, scaling.ParallelConfig(4, 8, 2, 1, 64), "dgx_a100_hdr")
    ax = ws.plot_breakdown(st)
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([st.compute_s, st.tp_comm_s, st.pp_comm_s, st.dp_exposed_s,
                                    st.bubble_s])
    assert sum(widths) == pytest.approx(st.total_s)
    plt.close("all")


def test_draw_shows_a_fitting_layout():
    out = render(ws.draw_scaling, dict(model="145.6B", cluster="dgx_a100_hdr", n_gpus=1024, tp=8,
                                       pp=8, micro_batch=1, global_batch=1024, interleave=1,
                                       zero_stage=1, recompute="selective",
                                       sweeps=_sweeps("145.6B", 1024)))
    assert [o["output_type"] for o in out] == ["display_data"]


def test_draw_says_when_a_layout_does_not_fit_and_when_it_is_invalid():
    out = render(ws.draw_scaling, dict(model="1008B", cluster="dgx_a100_hdr", n_gpus=8, tp=8,
                                       pp=1, micro_batch=1, global_batch=256, interleave=1,
                                       zero_stage=0, recompute="none",
                                       sweeps=_sweeps("1008B", 256)))
    assert [o["output_type"] for o in out] == ["display_data"]      # memory bar, no timing
    for bad, reason in [(dict(tp=64), "tp must divide n_heads"),
                        (dict(n_gpus=8, pp=2), "must divide the GPU count"),
                        (dict(interleave=2, pp=1), "interleave must be 1")]:
        values = dict(model="145.6B", cluster="dgx_a100_hdr", n_gpus=1024, tp=8, pp=8,
                      micro_batch=1, global_batch=1024, interleave=1, zero_stage=0,
                      recompute="full", sweeps=_sweeps("145.6B", 1024))
        values.update(bad)
        out = render(ws.draw_scaling, values)
        assert len(out) == 1 and out[0]["output_type"] == "stream"
        assert "Not a valid layout" in out[0]["text"] and reason in out[0]["text"]


def test_scaling_panel_plots_the_fitting_counts():
    df = pd.DataFrame({"n_gpus": [8, 64, 512], "total_s": [np.nan, 2.0, 0.5],
                       "efficiency": [np.nan, 1.0, 0.5]})
    ax = ws.plot_scaling_efficiency({"x": df})
    x, y = ax.lines[0].get_data()
    assert list(x) == [64, 512] and list(y) == [100.0, 50.0]
    plt.close("all")


def test_pipeline_schedule_draws_every_pass():
    sched = scaling.simulate_1f1b(3, 4)
    ax = ws.plot_pipeline_schedule(sched)
    assert len(ax.patches) == 2 * 3 * 4
    plt.close("all")


def test_explorer_builds_with_its_grid(monkeypatch):
    calls = []
    monkeypatch.setattr(ws, "draw_scaling", lambda **kw: calls.append(kw))
    box = ws.scaling_explorer(static=False)
    assert isinstance(box, w.Widget)
    controls = {c.description: c for c in box.children[0].children[0].children
                + box.children[0].children[1].children}
    assert controls["cluster"].value == "gb200_nvl72" and controls["model"].value == "1008B"
    assert calls and calls[0]["cluster"] == "gb200_nvl72"
    with pytest.raises(Exception, match="Invalid selection"):
        ws.scaling_explorer(cluster="dgx_z", static=False)


def test_static_explorer_moves_every_control(monkeypatch):
    """On the static page every control offers several values (none frozen), one at a time from
    the initial layout: one view per value off the base, plus the base."""
    calls = []
    monkeypatch.setattr(ws, "draw_scaling", lambda **kw: calls.append(kw) or print(kw))
    box = ws.scaling_explorer(static=True)
    shown = box.children[0].children[0].children + box.children[0].children[1].children
    assert len(shown) == 10
    assert all(len(c.options) > 1 and not c.disabled for c in shown)
    base = calls[0]
    assert all(sum(call[k] != base[k] for k in base if k != "sweeps") == 1 for call in calls[1:])
    assert len(calls) == 1 + sum(len(c.options) - 1 for c in shown)
    assert "one control at a time" in box.children[1].value
