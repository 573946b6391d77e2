"""Explorers on the static page: every control offered with several values, none frozen, and
what chapter 3's roofline explorer shows (intensities from 1/4 to 4096; the verdict whole)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from aichip import roofline as rl  # noqa: E402
from aichip.widgets import static  # noqa: E402
from aichip.widgets.roofline import describe_point, roofline_explorer  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_widgets():
    yield
    w.Widget.close_all()
    plt.close("all")


def _stand_ins(box):
    found = []
    for child in getattr(box, "children", ()):
        if isinstance(child, w.ValueWidget):
            found.append(child)
        else:
            found += _stand_ins(child)
    return found


def test_static_roofline_explorer_offers_every_octave_and_wraps_its_verdict(monkeypatch):
    monkeypatch.setenv(static.ENV, "1")
    roof = rl.Roofline("test device", 400e3, 2000)
    box = roofline_explorer({"test device": roof}, intensity=64, fraction_of_roof=0.6)
    shown = {c.description: c for c in _stand_ins(box.children[0])}
    assert set(shown) == {"device", "intensity (FLOP/byte)", "achieved / roof"}
    assert all(not c.disabled for c in shown.values())
    assert len(shown["achieved / roof"].options) == 3
    offered = [float(x) for x in shown["intensity (FLOP/byte)"].options]
    assert offered == [4.0**k for k in range(-1, 7)]           # 1/4 ... 4096, factors of 4
    assert "one control at a time" in box.children[1].value
    for i in range(len(offered)):                                # device 0, intensity i, 60%
        outputs = static.stack_view(box, (0, i, 1)).outputs
        text = outputs[-1]["text"]
        assert all(len(line) <= 72 for line in text.splitlines()), text
        words = describe_point(roof, offered[i], 0.6 * roof.attainable_GFLOPs(offered[i])).split()
        assert text.split() == words                             # the whole verdict, not cut
