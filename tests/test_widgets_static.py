"""The explorer mechanism of aichip.widgets.static: grid, nested stacks, links, and that every
precomputed view equals what the live explorer draws for the same values."""

from __future__ import annotations

import base64
import io
import itertools
import os
import sys

import matplotlib

matplotlib.use("Agg")
import ipywidgets as w  # noqa: E402
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from ipywidgets.widgets.widget import _instances  # noqa: E402
from ipywidgets.widgets.widget_link import Link  # noqa: E402

from aichip import arith  # noqa: E402
from aichip.widgets import static  # noqa: E402
from aichip.widgets.arithmetic import multiplier_explorer  # noqa: E402


def _controls():
    return {"shape": w.Dropdown(options=[("sine", "sin"), ("cosine", "cos")], value="cos",
                                description="shape"),
            "freq": w.IntSlider(value=2, min=1, max=9, description="frequency"),
            "gain": w.FloatLogSlider(value=10.0, base=10, min=-1, max=2, description="gain"),
            "grid_on": w.Checkbox(value=False, description="grid lines")}


def _draw(shape, freq, gain, grid_on):
    x = np.linspace(0, 1, 50)
    _, ax = plt.subplots(figsize=(3, 2))
    ax.plot(x, gain * getattr(np, shape)(2 * np.pi * freq * x))
    ax.grid(grid_on)
    plt.show()
    print(f"{shape} at {freq} Hz, gain {gain:g}")


GRID = {"shape": ["sin", "cos"], "freq": [1, 2, 5], "gain": [1.0, 10.0]}
AXES = {"grid_on": [False, True]}      # every control on the grid or the axes


def _links():
    return [m for m in list(_instances.values()) if isinstance(m, Link)]


@pytest.fixture(autouse=True)
def _clean_widgets():
    yield
    w.Widget.close_all()
    plt.close("all")


def _png_pixels(output: dict) -> np.ndarray:
    return mpimg.imread(io.BytesIO(base64.b64decode(output["data"]["image/png"])), format="png")


def _own_rendering(shape, freq, gain, grid_on) -> tuple[np.ndarray, str]:
    """The figure and text of one view, drawn here, independently of static.render."""
    x = np.linspace(0, 1, 50)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(x, gain * getattr(np, shape)(2 * np.pi * freq * x))
    ax.grid(grid_on)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=static.DPI, bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    return mpimg.imread(buf, format="png"), f"{shape} at {freq} Hz, gain {gain:g}\n"


def _own_png(draw, dpi) -> str:
    """The PNG matplotlib saves of the figure ``draw`` leaves, alone, as render() encodes it
    (``plt.show`` must do nothing meanwhile)."""
    draw()
    fig = plt.gcf()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def test_static_mode_reads_the_environment(monkeypatch):
    for value, expected in (("1", True), ("yes", True), ("TRUE", True), ("0", False), ("", False)):
        monkeypatch.setenv(static.ENV, value)
        assert static.static_mode() is expected
    monkeypatch.delenv(static.ENV)
    assert static.static_mode() is False            # live is the default
    assert static.static_mode(True) is True
    with pytest.raises(TypeError, match="static"):
        static.static_mode("yes")


def test_live_explorer_recomputes_for_any_value(monkeypatch):
    monkeypatch.delenv(static.ENV, raising=False)
    calls = []
    controls = _controls()
    box = static.explorer(lambda **kw: calls.append(kw), controls, GRID, axes=AXES)
    assert isinstance(box.children[1], w.Output)          # interactive_output, no stacks
    assert not any(isinstance(c, w.Stack) for c in box.children)
    controls["freq"].value = 7                             # a value off the grid
    controls["gain"].value = 3.3
    assert calls[-1] == {"shape": "cos", "freq": 7, "gain": 3.3, "grid_on": False}


def test_grid_builds_nested_stacks_linked_to_their_control():
    controls = _controls()
    box = static.explorer(_draw, controls, GRID, axes=AXES, static=True)
    shown, note, root = box.children
    names = [*GRID, *AXES]
    # one stand-in control per grid entry, offering exactly the grid's values, at the initial one
    stand_ins = {c.description: c for c in shown.children}
    assert stand_ins["shape"].options == ("sine", "cosine") and stand_ins["shape"].index == 1
    assert isinstance(stand_ins["frequency"], w.SelectionSlider)
    assert stand_ins["frequency"].options == ("1", "2", "5")
    assert stand_ins["frequency"].index == 1
    assert stand_ins["gain"].options == ("1", "10") and stand_ins["gain"].index == 1
    assert stand_ins["grid lines"].options == ("no", "yes") and stand_ins["grid lines"].index == 0
    assert not any(getattr(c, "disabled", False) for c in shown.children)   # nothing frozen
    # level k has prod(sizes before k) stacks of len(values[k]) children each (one axis: no
    # combination of two moved axes to leave out)
    values = {**GRID, **AXES}
    level, sizes = [root], [len(v) for v in values.values()]
    for depth, size in enumerate(sizes):
        assert all(isinstance(s, w.Stack) and len(s.children) == size for s in level)
        assert len(level) == int(np.prod(sizes[:depth]))
        initial = [list(values[names[depth]]).index(controls[names[depth]].value)]
        assert {s.selected_index for s in level} == set(initial)
        linked = {id(link.target[0]) for link in _links()
                  if link.source[0] is stand_ins[controls[names[depth]].description]
                  and link.source[1] == "index" and link.target[1] == "selected_index"}
        assert linked == {id(s) for s in level}
        level = [child for s in level for child in s.children]
    assert all(isinstance(leaf, w.Output) for leaf in level)
    assert "24 precomputed views" in note.value and "every combination" in note.value
    assert "frequency: 1, 2, 5" in note.value and "grid lines: no, yes" in note.value
    assert "one control at a time" in note.value and "grid lines no" in note.value


def test_each_precomputed_view_equals_the_live_drawing():
    box = static.explorer(_draw, _controls(), GRID, axes=AXES, static=True)
    values = {**GRID, **AXES}
    for indices in itertools.product(*(range(len(v)) for v in values.values())):
        point = {k: values[k][i] for k, i in zip(values, indices, strict=True)}
        outputs = static.stack_view(box, indices).outputs
        pixels, text = _own_rendering(**point)
        assert [o["output_type"] for o in outputs] == ["display_data", "stream"]
        assert np.array_equal(_png_pixels(outputs[0]), pixels), point
        assert outputs[1]["text"] == text


def test_a_real_explorer_precomputes_what_its_model_says(monkeypatch):
    """multiplier_explorer: each view's text is the summary of the multiplier built directly."""
    monkeypatch.setenv(static.ENV, "1")
    box = multiplier_explorer(8, "wallace")
    trees, bits = list(arith.TREES), [4, 8, 12, 16]
    assert "tree: " + ", ".join(trees) in box.children[1].value
    for (i, tree), (j, n) in itertools.product(enumerate(trees), enumerate(bits)):
        outputs = static.stack_view(box, (i, j)).outputs
        assert outputs[-1]["text"] == arith.build_multiplier(n, tree).summary() + "\n"
        assert outputs[0]["output_type"] == "display_data"


def test_identical_views_are_stored_once():
    def draw(shape, freq, gain, grid_on):   # ignores gain
        print(shape, freq)

    box = static.explorer(draw, _controls(), GRID, axes=AXES, static=True)
    assert static.stack_view(box, (0, 1, 0, 0)) is static.stack_view(box, (0, 1, 1, 1))
    assert static.stack_view(box, (0, 1, 0, 0)) is not static.stack_view(box, (1, 1, 0, 0))


def test_points_of_one_same_view_key_are_drawn_once_and_share_its_view():
    """same_view: a point whose key was seen gets the first such point's view, undrawn; the
    result equals drawing every point; a bad same_view is named."""
    calls = []

    def draw(shape, freq, gain, grid_on):   # gain is ignored when freq is 1
        calls.append((shape, freq, gain, grid_on))
        print(shape, freq, gain if freq > 1 else "-", grid_on)

    def key(shape, freq, gain, grid_on):
        return shape, freq, gain if freq > 1 else None, grid_on

    every = static.precompute(draw, _controls(), GRID, axes=AXES)
    n_points = len(calls)
    calls.clear()
    once = static.precompute(draw, _controls(), GRID, axes=AXES, same_view=key)
    assert once == every
    # freq 1: the two gains of each shape and grid setting are one view
    assert len(calls) == len({key(*c) for c in calls}) == n_points - 4
    with pytest.raises(TypeError, match="same_view must be callable"):
        static.precompute(draw, _controls(), GRID, axes=AXES, same_view="shape")
    with pytest.raises(TypeError, match="same_view must return a hashable key"):
        static.precompute(draw, _controls(), GRID, axes=AXES, same_view=lambda **v: [1])


def test_render_keeps_order_and_closes_figures():
    def draw():
        print("before")
        plt.subplots()
        plt.show()
        print("after")
        plt.subplots()        # never shown: still captured

    open_before = plt.get_fignums()
    out = static.render(draw, {})
    assert [o.get("name", o["output_type"]) for o in out] == [
        "stdout", "display_data", "stdout", "display_data"]
    assert [o["text"] for o in out if "text" in o] == ["before\n", "after\n"]
    assert plt.get_fignums() == open_before

    def broken():
        plt.subplots()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        static.render(broken, {})
    assert plt.get_fignums() == open_before
    assert plt.show is not None and plt.show.__module__ == "matplotlib.pyplot"


@pytest.mark.parametrize("grid, error, match", [
    ({"grid_on": [False, True]}, ValueError, "control 'grid_on' is on both the grid and the axes"),
    ({"colour": [1]}, ValueError, "grid key 'colour'"),
    ({"shape": ["sin", "tan"]}, ValueError, r"grid\['shape'\] value 'tan'"),
    ({"freq": [2, 12]}, ValueError, r"grid\['freq'\] value 12 is outside"),
    ({"gain": [10.0, 1000.0]}, ValueError, r"grid\['gain'\] value 1000.0 is outside"),
    ({"freq": [1, 3]}, ValueError, r"grid\['freq'\] must contain the control's initial value 2"),
    ({"freq": [2, 2]}, ValueError, r"grid\['freq'\] has a repeated value"),
    ({"freq": []}, ValueError, r"grid\['freq'\] must be a non-empty list"),
    ({"freq": "2"}, ValueError, r"grid\['freq'\] must be a non-empty list"),
    ({"grid_on": [False, 1]}, ValueError, r"grid\['grid_on'\] values must be True or False"),
    ({"freq": [2, "3"]}, ValueError, r"grid\['freq'\] values must be numbers"),
    ({"freq": list(range(1, 10)), "gain": [0.1 * 2 ** i for i in range(4)] + [10.0],
      "shape": ["sin", "cos"]}, ValueError, "grid and axes give 180 views, more than MAX_VIEWS"),
])
def test_bad_grid_is_rejected_live_and_static(grid, error, match):
    for mode in (False, True):
        with pytest.raises(error, match=match):
            static.explorer(_draw, _controls(), grid, axes=AXES, static=mode)
    with pytest.raises(ValueError, match=r"controls \['grid_on'\] are on neither the grid nor "
                       "the axes: they would be frozen on the static page"):
        static.explorer(_draw, _controls(), GRID)
    with pytest.raises(TypeError, match="grid and axes must not both be empty"):
        static.explorer(_draw, _controls(), {}, axes={})
    with pytest.raises(TypeError, match="axes must be a dict"):
        static.explorer(_draw, _controls(), GRID, axes=[("grid_on", [False])])


def test_bad_draw_controls_and_indices_are_rejected():
    with pytest.raises(TypeError, match="draw must be callable"):
        static.explorer("draw", _controls(), GRID)
    with pytest.raises(TypeError, match="controls must be a non-empty dict"):
        static.explorer(_draw, [w.IntSlider()], GRID)
    with pytest.raises(TypeError, match=r"controls\['x'\] must be an ipywidgets control"):
        static.explorer(_draw, {"x": w.Button(description="x")}, {"x": [1]})
    with pytest.raises(TypeError, match="control 'k' is a Text"):
        static.explorer(_draw, {"k": w.Text(value="a")}, {"k": ["a"]}, static=True)
    single = {"shape": ["cos"], "freq": [2], "gain": [10.0], "grid_on": [False]}
    box = static.explorer(_draw, _controls(), single, static=True)
    with pytest.raises(ValueError, match="indices has more levels"):
        static.stack_view(box, (0, 0, 0, 0, 0))
    box = static.explorer(_draw, _controls(), GRID, axes=AXES, static=True)
    with pytest.raises(ValueError, match="indices has fewer levels"):
        static.stack_view(box, (0,))


def test_book_build_extension_turns_static_on_unless_told_otherwise(monkeypatch):
    """_ext/static_explorers.py: every jupyter-book build precomputes; an explicit value wins."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "_ext" / "static_explorers.py"
    spec = importlib.util.spec_from_file_location("static_explorers", path)
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    assert ext.ENV == static.ENV
    monkeypatch.delenv(static.ENV, raising=False)
    ext.setup(None)
    assert static.static_mode() is True
    monkeypatch.setenv(static.ENV, "0")
    ext.setup(None)
    assert static.static_mode() is False


def test_axes_move_one_control_at_a_time_from_the_initial_values():
    """axes: for each grid point, the base view and each axis moved alone; two moved axes show
    the note that names the base values, stored once. Counted against draw's own calls."""
    calls = []

    def draw(**kw):
        calls.append(kw)
        _draw(**kw)

    axes = {"freq": [1, 2, 5], "gain": [1.0, 10.0], "grid_on": [False, True]}
    box = static.explorer(draw, _controls(), {"shape": ["sin", "cos"]}, axes=axes, static=True)
    # per shape: the base, two other frequencies, one other gain, one other grid setting
    assert len(calls) == 2 * (1 + 2 + 1 + 1)
    assert len({tuple(sorted(c.items())) for c in calls}) == len(calls)
    base = (1, 1, 0)                          # freq 2, gain 10, no grid lines: the controls' values
    values = list(axes.values())
    for s, shape in enumerate(["sin", "cos"]):
        for idx in itertools.product(*(range(len(v)) for v in values)):
            moved = [k for k in range(3) if idx[k] != base[k]]
            outputs = static.stack_view(box, (s, *idx)).outputs
            if len(moved) <= 1:
                point = {k: v[i] for k, v, i in zip(axes, values, idx, strict=True)}
                pixels, text = _own_rendering(shape, **point)
                assert np.array_equal(_png_pixels(outputs[0]), pixels), (shape, point)
                assert outputs[1]["text"] == text
            else:
                assert [o["output_type"] for o in outputs] == ["stream"]
                assert outputs[0]["text"].startswith("Not precomputed")
                assert "frequency 2; gain 10; grid lines no" in outputs[0]["text"]
    missing = {id(static.stack_view(box, (s, 0, 0, 1))) for s in (0, 1)}
    assert len(missing) == 1                                          # stored once
    assert "10 precomputed views" in box.children[1].value
    levels = static.check_grid(_controls(), {"shape": ["cos"]}, axes)
    assert static.grid_points(levels, axes) == [
        ("cos", 2, 10.0, False), ("cos", 1, 10.0, False), ("cos", 5, 10.0, False),
        ("cos", 2, 1.0, False), ("cos", 2, 10.0, True)]


def test_selections_of_several_ranges_and_number_boxes_get_stand_ins():
    controls = {"kinds": w.SelectMultiple(options=["a", "b", "c"], value=["a", "b", "c"],
                                          description="kinds"),
                "years": w.IntRangeSlider(value=(2000, 2020), min=2000, max=2020,
                                          description="years"),
                "n": w.IntText(value=7, description="n")}
    axes = {"kinds": [("a", "b", "c"), ["b"], ("a", "c")], "years": [(2000, 2020), (2010, 2020)],
            "n": [7, 70]}
    seen = []
    box = static.explorer(lambda kinds, years, n: print(kinds, years, n), controls, axes=axes,
                          static=True)
    shown = {c.description: c for c in box.children[0].children}
    assert shown["kinds"].options == ("all", "b", "a, c") and shown["kinds"].index == 0
    assert shown["years"].options == ("2000-2020", "2010-2020")
    assert shown["n"].options == ("7", "70") and isinstance(shown["n"], w.Dropdown)
    seen = static.stack_view(box, (1, 0, 0)).outputs[0]["text"]
    assert seen == "('b',) (2000, 2020) 7\n"
    with pytest.raises(ValueError, match=r"grid\['kinds'\] value 'd' is not an option"):
        static.check_grid(controls, {}, {**axes, "kinds": [("a", "b", "c"), ("d",)]})
    with pytest.raises(ValueError, match=r"grid\['years'\] value \(2020, 2010\) must be a pair"):
        static.check_grid(controls, {}, {**axes, "years": [(2000, 2020), (2020, 2010)]})

def test_grid_limit_is_160_views_inclusive():
    """MAX_VIEWS (160) is the most views a grid may have: 160 pass, 161 do not."""
    slider = {"n": w.IntSlider(value=0, min=0, max=1000)}
    assert len(static.check_grid(slider, {"n": list(range(160))})["n"][0]) == 160
    with pytest.raises(ValueError, match="give 161 views, more than MAX_VIEWS = 160"):
        static.check_grid(slider, {"n": list(range(161))})


def test_a_range_that_reaches_zero_or_below_accepts_its_own_ends():
    # A slider over [-5, 0]: its ends are valid grid values, a step beyond is not (a relative
    # tolerance lo * (1 - 1e-12) once rejected -5, and hi * (1 + 1e-12) is no margin at 0).
    def controls():
        return {"x": w.FloatSlider(value=-2.0, min=-5.0, max=0.0, description="x")}

    box = static.explorer(lambda x: None, controls(), {"x": [-5.0, -2.0, 0.0]}, static=True)
    assert box.children[0].children[0].options == ("-5.00", "-2.00", "0.00")
    for beyond in (-5.01, 0.01):
        with pytest.raises(ValueError, match=rf"value {beyond} is outside the control's range"):
            static.explorer(lambda x: None, controls(), {"x": [-2.0, beyond]}, static=True)


def test_an_option_offered_under_two_labels_shows_the_live_widgets_label():
    # Two labels for one value: ipywidgets shows the first, and so must the static page.
    control = w.Dropdown(options=[("one", 1), ("uno", 1), ("two", 2)], value=1, description="k")
    assert control.label == "one"
    box = static.explorer(lambda k: None, {"k": control}, {"k": [1, 2]}, static=True)
    assert box.children[0].children[0].options == ("one", "two")


def test_figures_are_rendered_at_one_pixel_per_point():
    # DPI's promise: 72 dpi, a typographic point (1/72 inch) of the figure is one pixel of the
    # PNG, so a figure that fits the column is never shrunk. A 4 x 2 inch figure with nothing
    # to trim, plus matplotlib's tight-box pad (savefig.pad_inches, 0.1 inch) on each side, is
    # 4.2 x 2.2 inches: 302 x 158 pixels.
    def draw():
        fig = plt.figure(figsize=(4, 2))
        fig.patch.set_facecolor("black")          # nothing for bbox_inches="tight" to crop
        fig.add_axes((0, 0, 1, 1)).set_axis_off()
        plt.show()

    assert matplotlib.rcParams["savefig.pad_inches"] == 0.1
    (out,) = static.render(draw, {})
    assert _png_pixels(out).shape[:2] == (158, 302)


def test_views_rendered_in_several_processes_equal_those_rendered_in_one(monkeypatch):
    monkeypatch.setenv(static.PROCESSES_ENV, "1")
    alone = static.precompute(_draw, _controls(), GRID, axes=AXES)
    monkeypatch.setenv(static.PROCESSES_ENV, "3")
    assert static.processes() == 3 and static.processes(2) == 2
    shared = static.precompute(_draw, _controls(), GRID, axes=AXES)
    assert list(shared) == list(alone) and shared == alone     # same points, order and bytes


def test_a_failure_in_a_forked_renderer_is_rendered_and_raised_here(monkeypatch, capfd):
    """A view whose draw raises in a copy is drawn again here, so the error is this process's;
    a copy that dies leaves its views to this process; a widget changed in a copy sends nothing
    (the copy shares the kernel's sockets); what a copy writes to stderr comes back."""
    monkeypatch.setenv(static.PROCESSES_ENV, "2")
    parent = os.getpid()
    slider = w.IntSlider(value=0, min=0, max=9)
    controls = {"n": w.IntSlider(value=0, min=0, max=9)}

    def draw(n):
        slider.max = 9 if os.getpid() == parent else 8     # a trait change in the copy
        if n == 3:
            raise RuntimeError(f"boom at {n}")
        if n == 4 and dying and os.getpid() != parent:
            os._exit(3)                                      # the copy of views 4, 5, 6 dies
        print(f"n={n} in {'this process' if os.getpid() == parent else 'a copy'}",
              file=sys.stderr)
        print(n)

    dying = False
    with pytest.raises(RuntimeError, match="boom at 3"):
        static.precompute(draw, controls, {"n": list(range(6))})
    capfd.readouterr()
    for dying in (False, True):
        views = static.precompute(draw, controls, {"n": [0, 1, 2, 4, 5, 6]})
        assert {p: v[0]["text"] for p, v in views.items()} == {
            (n,): f"{n}\n" for n in (0, 1, 2, 4, 5, 6)}
        err = capfd.readouterr().err
        copy = "this process" if dying else "a copy"
        assert "n=0 in this process" in err and f"n=5 in {copy}" in err, err
    assert slider.max == 9
    monkeypatch.setenv(static.PROCESSES_ENV, "0")
    with pytest.raises(ValueError, match="AICHIP_STATIC_PROCESSES must be a positive integer"):
        static.processes()


def _draw_formulas(k):
    """A view with formulas (a log axis's 10^k labels, math in the legend) and non-ASCII text."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = np.logspace(-2, 4, 50)
    ax.loglog(x, x ** (1 + k / 10), label=f"$k={k}$, slope $\\alpha_{{{k}}}$")
    ax.set_xlabel("intensity $I$ (FLOP/byte)")
    ax.set_title(f"view {k}: µ ≤ ≥ → ×")
    ax.legend()
    ax.grid(True, which="both")
    fig.tight_layout()
    plt.show()


def test_a_forked_renderer_opens_its_own_fonts():
    """The formula parser and parses render() shares hold FreeType fonts, which read their files
    through descriptors a forked copy shares with this process (offset included): the copy must
    drop them at the fork and open its own, or the two processes' reads interleave and draw
    corrupt glyphs (see test_views_with_formulas_rendered_in_two_processes_are_not_corrupted)."""
    from aichip.widgets import rendering

    static.render(_draw_formulas, {"k": 1})
    assert rendering._PARSER and rendering._PARSE_CACHE[0].cache_info().currsize > 0
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                  # the copy: report what it inherited
        status = 1
        try:
            os.close(read_end)
            os.write(write_end, f"{len(rendering._PARSER)} {len(rendering._PARSE_CACHE)}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reported = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and reported == "0 0"      # nothing of this process's fonts in the copy
    assert rendering._PARSER and rendering._PARSE_CACHE   # and this process keeps its own


def test_views_with_formulas_rendered_in_two_processes_are_not_corrupted():
    """The race itself: with the parses shared across the fork, 24 of 30 such runs drew a corrupt
    glyph or raised "FT_Load_Glyph ... invalid outline" in one of the processes."""
    from aichip.widgets import rendering

    values = [{"k": k} for k in range(40)]
    alone = rendering.render_views(_draw_formulas, values, static.DPI, 1)
    assert rendering.render_views(_draw_formulas, values, static.DPI, 2) == alone


def test_formulas_are_parsed_once_for_all_renderers_and_the_figure_is_unchanged(monkeypatch):
    """A log axis labels its ticks with formulas (10^k): render() shares one parser and cache
    among matplotlib's renderers; the PNG is the same as matplotlib's own, and matplotlib is left
    as it was."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.mathtext import MathTextParser

    from aichip.widgets import rendering

    def draw():
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.loglog([1e-2, 1e3], [1.0, 1e5])
        ax.grid(True, which="both")
        fig.tight_layout()
        plt.show()

    init, parse = RendererAgg.__init__, MathTextParser.__dict__["_parse_cached"]
    (first,), (second,) = static.render(draw, {}), static.render(draw, {})
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)      # _own_png draws outside render
    assert first["data"]["image/png"] == second["data"]["image/png"] == _own_png(draw, static.DPI)
    assert RendererAgg.__init__ is init and MathTextParser.__dict__["_parse_cached"] is parse
    info = rendering._PARSE_CACHE[0].cache_info()
    assert info.hits > info.misses > 0       # the second view parsed nothing anew


def _draw_labels(dpi_note: str = ""):
    """A view of plain text whose layout rests on measured sizes: centred and right-aligned
    labels, a title, ticks, a legend (its box is sized from its text), a tight layout."""
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [3, 1, 2], label="measured bandwidth")
    ax.set_title(f"A centred title {dpi_note}")
    ax.set_xlabel("message size (bytes)")
    ax.text(1.9, 2.9, "right-aligned note", ha="right", va="top")
    ax.legend(loc="lower left")
    fig.tight_layout()
    plt.show()


def test_plain_text_is_measured_once_among_renderers_and_draws_the_same_bytes(monkeypatch):
    """render() shares plain text's measured sizes among Agg renderers: the figures must be the
    bytes matplotlib saves alone, at every dpi and under every hinting setting the sizes depend
    on (a size reused across dpi or rcParams would place the centred and right-aligned text
    elsewhere), the second view must measure nothing anew, and matplotlib is restored after."""
    from matplotlib import text as mtext

    from aichip.widgets import rendering

    monkeypatch.setattr(plt, "show", lambda *a, **k: None)      # _own_png draws outside render
    measure = mtext._get_text_metrics_with_cache
    rendering._TEXT_METRICS.clear()
    for dpi in (72, 100):
        for hinting in ("default", "no_hinting"):
            with matplotlib.rc_context({"text.hinting": hinting}):
                (view,) = static.render(_draw_labels, {}, dpi=dpi)
                assert view["data"]["image/png"] == _own_png(_draw_labels, dpi), (dpi, hinting)
    assert mtext._get_text_metrics_with_cache is measure
    measured = len(rendering._TEXT_METRICS)
    assert measured > 0
    static.render(_draw_labels, {}, dpi=72)
    assert len(rendering._TEXT_METRICS) == measured               # all of it measured before
