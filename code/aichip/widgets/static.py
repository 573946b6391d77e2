"""One mechanism for every explorer: live in Jupyter, precomputed in the static HTML book.

An explorer is a ``draw(**values)`` function (it plots with matplotlib, calls ``plt.show()`` and may
``print``) and a dict of named ipywidgets controls. :func:`explorer` wires them up:

- **live** (the default, e.g. in JupyterLab or under nbmake): ``ipywidgets.interactive_output``,
  so every value of every control recomputes;
- **static** (when building the HTML book): ``draw`` is run at build time for every point of a small
  ``grid`` of control values; each result (figures as PNG, printed text) goes into an ``Output``
  widget at the bottom of nested ``Stack`` widgets, one level per grid control, and each control is
  replaced by a selection over its grid values whose ``index`` is ``jslink``-ed to the
  ``selected_index`` of every stack of its level. The widget manager in the page switches views in
  the browser with no kernel. Controls not on the grid are shown disabled at their initial value;
  a line under the controls states the grid. Identical views are stored once.

Static or live is decided by the environment variable ``AICHIP_STATIC_EXPLORERS`` (``1``: static),
read when the explorer is built; ``static=True/False`` overrides it. The book's Sphinx extension
``_ext/static_explorers.py`` sets it (unless already set) before any chapter executes, so every
``jupyter-book build`` (``make book``, the build the browser tests read) embeds precomputed
explorers, while JupyterLab and ``pytest --nbmake`` stay live and fast. Because every book build
sets it, jupyter-cache never mixes live and static executions.

Converting an explorer changes a few lines::

    from .static import explorer

    def quantization_explorer(x, fmt="int8", shift=0.0):
        controls = {"fmt": w.Dropdown(options=list(arith.FORMATS), value=fmt),
                    "shift": w.FloatSlider(value=shift, min=-12, max=4, step=0.5)}

        def draw(fmt, shift):
            ...                       # plot, plt.show(), print
        return explorer(draw, controls, grid={"fmt": list(arith.FORMATS),
                                              "shift": [-8.0, -4.0, 0.0, 2.0]})

The grid's first key is the outer stack level. Each grid value must be a value the live control can
take, and the control's initial value must be on the grid (so the page opens on the same view
Jupyter shows).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as w
import matplotlib.pyplot as plt

__all__ = [
    "ENV", "MAX_VIEWS", "DPI", "static_mode", "render", "check_grid", "precompute", "describe_grid",
    "explorer", "stack_view",
]

#: environment variable that turns precomputed (static) explorers on: "1", "true" or "yes"
ENV = "AICHIP_STATIC_EXPLORERS"
#: the most views (grid points) one explorer may precompute: keeps each page small
MAX_VIEWS = 160
#: resolution of the precomputed figures (dots per inch)
DPI = 72

_SELECTIONS = (w.Dropdown, w.ToggleButtons, w.RadioButtons, w.SelectionSlider)
_SLIDERS = (w.IntSlider, w.FloatSlider, w.FloatLogSlider, w.BoundedIntText, w.BoundedFloatText)


def static_mode(static: bool | None = None) -> bool:
    """``static`` if given, else whether the environment variable :data:`ENV` asks for static."""
    if static is not None:
        if not isinstance(static, bool):
            raise TypeError(f"static must be True, False or None, got {static!r}")
        return static
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes")


def _png_output(fig) -> dict:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    width, height = fig.get_size_inches() * fig.dpi
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                     "text/plain": f"<Figure size {width:g}x{height:g} with "
                                   f"{len(fig.axes)} Axes>"}}


def render(draw: Callable, values: Mapping) -> list[dict]:
    """Run ``draw(**values)`` and return what it showed as notebook output dicts, in order:
    printed text as ``stream`` outputs, each figure it showed (or left open) as a PNG."""
    outputs: list[dict] = []
    text = io.StringIO()
    before = set(plt.get_fignums())

    def flush_text():
        if text.getvalue():
            outputs.append({"output_type": "stream", "name": "stdout", "text": text.getvalue()})
            text.seek(0)
            text.truncate()

    def show(*args, **kwargs):
        flush_text()
        for num in plt.get_fignums():
            if num not in before:
                fig = plt.figure(num)
                outputs.append(_png_output(fig))
                plt.close(fig)

    real_show = plt.show
    plt.show = show
    try:
        with contextlib.redirect_stdout(text):
            draw(**values)
        show()
    finally:
        plt.show = real_show
        for num in set(plt.get_fignums()) - before:   # after an exception: leave no figure open
            plt.close(num)
    return outputs


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


def _labels(name: str, control: w.Widget, values: Sequence) -> list[str]:
    """The label each grid value gets in the static control; checks the live control takes it."""
    if isinstance(control, _SELECTIONS):
        labels = []
        for v in values:
            hits = [lab for lab, opt in zip(control._options_labels, control._options_values,
                                            strict=True) if _same(opt, v)]
            if not hits:
                raise ValueError(f"grid[{name!r}] value {v!r} is not an option of the control: "
                                 f"{list(control._options_values)}")
            labels.append(hits[0])
        return labels
    if isinstance(control, w.Checkbox):
        for v in values:
            if not isinstance(v, bool):
                raise ValueError(f"grid[{name!r}] values must be True or False, got {v!r}")
        return ["yes" if v else "no" for v in values]
    if isinstance(control, _SLIDERS):
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"grid[{name!r}] values must be numbers, got {v!r}")
            lo, hi = control.min, control.max
            if isinstance(control, w.FloatLogSlider):   # its min and max are exponents
                lo, hi = control.base ** lo, control.base ** hi
            if not lo * (1 - 1e-12) <= v <= hi * (1 + 1e-12):
                raise ValueError(f"grid[{name!r}] value {v!r} is outside the control's range "
                                 f"[{lo:g}, {hi:g}]")
        fmt = getattr(control, "readout_format", "")
        return [format(v, fmt) if fmt else str(v) for v in values]
    raise TypeError(f"control {name!r} is a {type(control).__name__}; a grid can drive only "
                    "Dropdown, ToggleButtons, RadioButtons, SelectionSlider, Checkbox and "
                    "numeric sliders")


def check_grid(controls: Mapping[str, w.Widget], grid: Mapping[str, Sequence]) -> dict:
    """Validate ``grid`` against ``controls``; return ``{name: (values, labels, initial index)}``
    in the grid's order."""
    if not isinstance(controls, Mapping) or not controls:
        raise TypeError("controls must be a non-empty dict of name -> ipywidgets control")
    for name, control in controls.items():
        if not isinstance(control, w.ValueWidget):
            raise TypeError(f"controls[{name!r}] must be an ipywidgets control with a value, "
                            f"got {type(control).__name__}")
    if not isinstance(grid, Mapping) or not grid:
        raise TypeError("grid must be a non-empty dict of control name -> list of values")
    levels = {}
    n_views = 1
    for name, values in grid.items():
        if name not in controls:
            raise ValueError(f"grid key {name!r} is not a control; controls are {list(controls)}")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
        values = list(values)
        if any(_same(a, b) for a, b in itertools.combinations(values, 2)):
            raise ValueError(f"grid[{name!r}] has a repeated value: {values}")
        labels = _labels(name, controls[name], values)
        initial = [i for i, v in enumerate(values) if _same(v, controls[name].value)]
        if not initial:
            raise ValueError(f"grid[{name!r}] must contain the control's initial value "
                             f"{controls[name].value!r}, got {values}")
        n_views *= len(values)
        levels[name] = (values, labels, initial[0])
    if n_views > MAX_VIEWS:
        raise ValueError(f"grid has {n_views} points, more than MAX_VIEWS = {MAX_VIEWS}: "
                         "offer fewer values so the page stays small")
    return levels


def precompute(draw: Callable, controls: Mapping[str, w.Widget],
               grid: Mapping[str, Sequence]) -> dict[tuple, list[dict]]:
    """``render`` of ``draw`` at every grid point (other controls at their current value).

    Returns ``{tuple of grid values, in grid order: outputs}``.
    """
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {type(draw).__name__}")
    levels = check_grid(controls, grid)
    fixed = {name: c.value for name, c in controls.items() if name not in levels}
    views = {}
    for point in itertools.product(*(values for values, _, _ in levels.values())):
        views[point] = render(draw, {**fixed, **dict(zip(levels, point, strict=True))})
    return views


def describe_grid(levels: Mapping[str, tuple], controls: Mapping[str, w.Widget]) -> str:
    """The sentence under a static explorer that says which values it offers."""
    parts = []
    for name, (_, labels, _) in levels.items():
        label = controls[name].description or name
        parts.append(f"{label}: {', '.join(labels)}")
    n = math.prod(len(values) for values, _, _ in levels.values())
    fixed = [c.description or name for name, c in controls.items() if name not in levels]
    text = f"This page offers {n} precomputed views ({'; '.join(parts)})"
    if fixed:
        text += f"; {', '.join(fixed)} fixed as shown"
    return text + ". Run the notebook to recompute for any value."


def _static_control(control: w.Widget, labels: list[str], index: int) -> w.Widget:
    kw = dict(options=labels, index=index, description=control.description,
              style={"description_width": control.style.description_width},
              layout=w.Layout(width=control.layout.width))
    if isinstance(control, w.Dropdown | w.ToggleButtons | w.RadioButtons):
        return type(control)(**kw)
    if isinstance(control, w.Checkbox):
        return w.ToggleButtons(**kw)
    return w.SelectionSlider(**kw, continuous_update=True)


def explorer(draw: Callable, controls: Mapping[str, w.Widget], grid: Mapping[str, Sequence],
             *, arrange: Callable | None = None, static: bool | None = None) -> w.Widget:
    """An explorer: ``draw(**values of controls)`` under ``controls``, live or precomputed.

    Parameters
    ----------
    draw : callable
        Called with one keyword argument per control; plots (``plt.show()``) and/or prints.
    controls : dict name -> ipywidgets control
        The live controls, at their initial values.
    grid : dict name -> list of values
        The values the static page offers for each control it lets the reader move (first key:
        outer level). Ignored when live. At most :data:`MAX_VIEWS` points in all.
    arrange : callable, optional
        ``arrange(dict name -> control)`` returns the widget that lays out the controls (live
        controls, or their static stand-ins); default a VBox in dict order.
    static : bool, optional
        Force static (True) or live (False); default :func:`static_mode`.

    Returns
    -------
    ipywidgets.VBox
        Controls then output; when static, also the sentence from :func:`describe_grid`.
    """
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {type(draw).__name__}")
    arrange = arrange or (lambda c: w.VBox(list(c.values())))
    if not static_mode(static):
        check_grid(controls, grid)   # a bad grid fails in Jupyter too, not only in the book build
        return w.VBox([arrange(dict(controls)), w.interactive_output(draw, dict(controls))])

    levels = check_grid(controls, grid)
    views = precompute(draw, controls, grid)
    outputs: dict[str, w.Output] = {}   # identical views share one Output widget

    def leaf(point):
        data = views[point]
        key = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        if key not in outputs:
            outputs[key] = w.Output(outputs=tuple(data))
        return outputs[key]

    names = list(levels)
    stacks: list[list[w.Stack]] = [[] for _ in names]

    def build(depth, point):
        if depth == len(names):
            return leaf(point)
        values, _, initial = levels[names[depth]]
        stack = w.Stack([build(depth + 1, point + (v,)) for v in values], selected_index=initial)
        stacks[depth].append(stack)
        return stack

    root = build(0, ())
    shown = {}
    for depth, name in enumerate(names):
        _, labels, initial = levels[name]
        shown[name] = _static_control(controls[name], labels, initial)
        for stack in stacks[depth]:
            w.jslink((shown[name], "index"), (stack, "selected_index"))
    for name, control in controls.items():
        if name not in levels:
            control.disabled = True
            shown[name] = control
    ordered = {name: shown[name] for name in controls}
    note = w.HTML(f"<small>{describe_grid(levels, controls)}</small>")
    box = w.VBox([arrange(ordered), note, root])
    box.add_class("aichip-static-explorer")
    return box


def stack_view(widget: w.Widget, indices: Sequence[int]) -> w.Output:
    """The Output a static explorer shows when its grid controls have the given indices
    (follows the nested stacks; for tests and for checking a page)."""
    node = widget.children[-1]
    for i in indices:
        if not isinstance(node, w.Stack):
            raise ValueError(f"indices has more levels than the explorer's grid: {indices}")
        node = node.children[i]
    if not isinstance(node, w.Output):
        raise ValueError(f"indices has fewer levels than the explorer's grid: {indices}")
    return node
