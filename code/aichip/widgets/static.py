"""One mechanism for every explorer: live in Jupyter, precomputed in the static HTML book.

An explorer is a ``draw(**values)`` function (it plots with matplotlib, calls ``plt.show()`` and may
``print``) and a dict of named ipywidgets controls. :func:`explorer` wires them up:

- **live** (the default, e.g. in JupyterLab or under nbmake): ``ipywidgets.interactive_output``,
  so every value of every control recomputes;
- **static** (when building the HTML book): ``draw`` is run at build time for every point of a
  small set of control values; each result (figures as PNG, printed text) goes into an ``Output``
  widget at the bottom of nested ``Stack`` widgets, one level per control, and each control is
  replaced by a selection over its values whose ``index`` is ``jslink``-ed to the
  ``selected_index`` of every stack of its level. The widget manager in the page switches views in
  the browser with no kernel. Identical views are stored once.

Every control responds on the static page: each one is either on the ``grid`` (every combination of
the grid's values is precomputed) or on the ``axes`` (varied one at a time around its initial
value, the *base*, for every grid point: far fewer views than a full grid when there are many
controls). When the reader moves two axes away from their base at once, the view says that this
combination is not precomputed and which base values to return to. A line under the controls
states what is offered.

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

The grid's first key is the outer stack level, then the rest of the grid, then the axes. Each value
must be a value the live control can take, and the control's initial value must be among them (so
the page opens on the same view Jupyter shows). A control on neither the grid nor the axes is an
error: it would be frozen on the page.

The views are rendered by :mod:`aichip.widgets.rendering` (in one process per CPU).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence

import ipywidgets as w

from .rendering import DPI, PROCESSES_ENV, processes, render, render_views

__all__ = [
    "ENV", "PROCESSES_ENV", "MAX_VIEWS", "NOT_PRECOMPUTED", "DPI", "static_mode", "processes",
    "render", "check_grid", "grid_points", "precompute", "describe_grid", "explorer", "stack_view",
]

#: environment variable that turns precomputed (static) explorers on: "1", "true" or "yes"
ENV = "AICHIP_STATIC_EXPLORERS"
#: the most views (grid points) one explorer may precompute: keeps each page small
MAX_VIEWS = 160
#: CSS class of the view a static explorer shows where two of its axes are moved at once
NOT_PRECOMPUTED = "aichip-not-precomputed"
_SELECTIONS = (w.Dropdown, w.ToggleButtons, w.RadioButtons, w.SelectionSlider)
_SLIDERS = (w.IntSlider, w.FloatSlider, w.FloatLogSlider, w.BoundedIntText, w.BoundedFloatText)
_TEXTS = (w.IntText, w.FloatText)
_TUPLES = (w.SelectMultiple, w.IntRangeSlider, w.FloatRangeSlider)


def static_mode(static: bool | None = None) -> bool:
    """``static`` if given, else whether the environment variable :data:`ENV` asks for static."""
    if static is not None:
        if not isinstance(static, bool):
            raise TypeError(f"static must be True, False or None, got {static!r}")
        return static
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes")


def _same(a, b) -> bool:
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


def _number_labels(name: str, control: w.Widget, values: Sequence) -> list[str]:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"grid[{name!r}] values must be numbers, got {v!r}")
        if isinstance(control, _SLIDERS):
            lo, hi = control.min, control.max
            if isinstance(control, w.FloatLogSlider):   # its min and max are exponents
                lo, hi = control.base ** lo, control.base ** hi
            tol = 1e-12 * max(abs(lo), abs(hi))     # a grid value computed in floating point
            if not lo - tol <= v <= hi + tol:
                raise ValueError(f"grid[{name!r}] value {v!r} is outside the control's range "
                                 f"[{lo:g}, {hi:g}]")
    fmt = getattr(control, "readout_format", "")
    return [format(v, fmt) if fmt else str(v) for v in values]


def _option_label(name: str, control: w.Widget, v) -> str:
    hits = [lab for lab, opt in zip(control._options_labels, control._options_values,
                                    strict=True) if _same(opt, v)]
    if not hits:
        raise ValueError(f"grid[{name!r}] value {v!r} is not an option of the control: "
                         f"{list(control._options_values)}")
    return hits[0]


def _tuple_labels(name: str, control: w.Widget, values: Sequence) -> list[str]:
    """Labels of a SelectMultiple's subsets ("all", "none" or the options) or of a range's pairs."""
    labels = []
    for v in values:
        if isinstance(v, str | bytes) or not isinstance(v, Sequence):
            raise ValueError(f"grid[{name!r}] values must be tuples, got {v!r}")
        if isinstance(control, w.SelectMultiple):
            parts = [_option_label(name, control, x) for x in v]
            everything = len(set(parts)) == len(control.options)
            labels.append("all" if everything else ", ".join(parts) or "none")
            continue
        if len(v) != 2 or not control.min <= v[0] <= v[1] <= control.max:
            raise ValueError(f"grid[{name!r}] value {v!r} must be a pair lo <= hi in the "
                             f"control's range [{control.min}, {control.max}]")
        labels.append(f"{v[0]}-{v[1]}")
    return labels


def _labels(name: str, control: w.Widget, values: Sequence) -> list[str]:
    """The label each grid value gets in the static control; checks the live control takes it."""
    if isinstance(control, _SELECTIONS):
        return [_option_label(name, control, v) for v in values]
    if isinstance(control, w.Checkbox):
        for v in values:
            if not isinstance(v, bool):
                raise ValueError(f"grid[{name!r}] values must be True or False, got {v!r}")
        return ["yes" if v else "no" for v in values]
    if isinstance(control, _SLIDERS + _TEXTS):
        return _number_labels(name, control, values)
    if isinstance(control, _TUPLES):
        return _tuple_labels(name, control, values)
    raise TypeError(f"control {name!r} is a {type(control).__name__}; a grid can drive only "
                    "Dropdown, ToggleButtons, RadioButtons, SelectionSlider, SelectMultiple, "
                    "Checkbox, numeric sliders, range sliders and number boxes")


def _level(name: str, control: w.Widget, values) -> tuple[list, list[str], int]:
    """(values, labels, index of the control's initial value) of one control's offered values."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
    values = [tuple(v) if isinstance(control, _TUPLES) and isinstance(v, list) else v
              for v in values]
    if any(_same(a, b) for a, b in itertools.combinations(values, 2)):
        raise ValueError(f"grid[{name!r}] has a repeated value: {values}")
    labels = _labels(name, control, values)
    initial = [i for i, v in enumerate(values) if _same(v, control.value)]
    if not initial:
        raise ValueError(f"grid[{name!r}] must contain the control's initial value "
                         f"{control.value!r}, got {values}")
    return values, labels, initial[0]


def check_grid(controls: Mapping[str, w.Widget], grid: Mapping[str, Sequence] | None,
               axes: Mapping[str, Sequence] | None = None) -> dict:
    """Validate ``grid`` and ``axes`` against ``controls``.

    Returns ``{name: (values, labels, index of the initial value)}``: the grid's controls in its
    order, then the axes'. Every control must be on one of them, none on both, and the views
    (:func:`grid_points`) must number at most :data:`MAX_VIEWS`.
    """
    if not isinstance(controls, Mapping) or not controls:
        raise TypeError("controls must be a non-empty dict of name -> ipywidgets control")
    for name, control in controls.items():
        if not isinstance(control, w.ValueWidget):
            raise TypeError(f"controls[{name!r}] must be an ipywidgets control with a value, "
                            f"got {type(control).__name__}")
    grid = {} if grid is None else grid
    axes = {} if axes is None else axes
    for what, given in (("grid", grid), ("axes", axes)):
        if not isinstance(given, Mapping):
            raise TypeError(f"{what} must be a dict of control name -> list of values")
    if not grid and not axes:
        raise TypeError("grid and axes must not both be empty: give each control its values")
    levels = {}
    for name, values in [*grid.items(), *axes.items()]:
        if name not in controls:
            raise ValueError(f"grid key {name!r} is not a control; controls are {list(controls)}")
        if name in levels:
            raise ValueError(f"control {name!r} is on both the grid and the axes")
        levels[name] = _level(name, controls[name], values)
    frozen = [name for name in controls if name not in levels]
    if frozen:
        raise ValueError(f"controls {frozen} are on neither the grid nor the axes: they would be "
                         "frozen on the static page")
    n_views = len(grid_points(levels, axes))
    if n_views > MAX_VIEWS:
        raise ValueError(f"grid and axes give {n_views} views, more than MAX_VIEWS = {MAX_VIEWS}:"
                         " offer fewer values, or move controls from the grid to the axes")
    return levels


def grid_points(levels: Mapping[str, tuple], axes: Collection[str] = ()) -> list[tuple]:
    """The points precomputed for ``levels`` (from :func:`check_grid`), as tuples of values in
    the levels' order: every combination of the grid's values, each with the axes at their base
    (initial) values or with one axis moved to another of its values."""
    grid_names = [name for name in levels if name not in axes]
    axis_names = [name for name in levels if name in axes]
    base = tuple(levels[name][0][levels[name][2]] for name in axis_names)
    star = [base]
    for k, name in enumerate(axis_names):
        values, _, initial = levels[name]
        star += [base[:k] + (v,) + base[k + 1:] for i, v in enumerate(values) if i != initial]
    return [g + a for g in itertools.product(*(levels[n][0] for n in grid_names)) for a in star]


def precompute(draw: Callable, controls: Mapping[str, w.Widget],
               grid: Mapping[str, Sequence] | None, axes: Mapping[str, Sequence] | None = None,
               dpi: float = DPI, same_view: Callable | None = None) -> dict[tuple, list[dict]]:
    """``render`` of ``draw`` at every point of :func:`grid_points`.

    The views are rendered by :func:`processes` processes at once: this one and forked copies of
    it, each rendering a run of consecutive points (matplotlib draws in one thread, so a build
    that renders in one process leaves the other cores idle). The result is the same as
    rendering them one after another here; a copy that fails (``draw`` raises, or the copy dies)
    leaves its points to be rendered here, so an error is raised here as without the copies.

    ``same_view(**values)``, if given, returns a hashable key such that points with equal keys
    draw the same view (a control that a setting disables, a step past the end of a shorter
    run): only the first point of each key is drawn, and the others get its view.

    Returns ``{tuple of values, in the order of check_grid's levels: outputs}``.
    """
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {type(draw).__name__}")
    if same_view is not None and not callable(same_view):
        raise TypeError(f"same_view must be callable or None, got {type(same_view).__name__}")
    levels = check_grid(controls, grid, axes)
    points = grid_points(levels, axes or {})
    values = [dict(zip(levels, p, strict=True)) for p in points]
    keys = list(range(len(points))) if same_view is None else [same_view(**v) for v in values]
    first: dict = {}                             # key -> index of its view among those drawn
    drawn = []
    for key, v in zip(keys, values, strict=True):
        try:
            new = key not in first
        except TypeError:
            raise TypeError(f"same_view must return a hashable key, got {key!r}") from None
        if new:
            first[key] = len(drawn)
            drawn.append(v)
    views = render_views(draw, drawn, dpi, processes(len(drawn)))
    return {p: views[first[key]] for p, key in zip(points, keys, strict=True)}


def describe_grid(levels: Mapping[str, tuple], controls: Mapping[str, w.Widget],
                  axes: Collection[str] = ()) -> str:
    """The sentence under a static explorer that says which values it offers."""
    def label(name):
        return controls[name].description or name

    def offered(names):
        return "; ".join(f"{label(n)}: {', '.join(levels[n][1])}" for n in names)

    grid_names = [name for name in levels if name not in axes]
    axis_names = [name for name in levels if name in axes]
    n = len(grid_points(levels, axes))
    text = f"This page offers {n} precomputed views"
    if grid_names:
        text += f" ({offered(grid_names)}{', every combination' if len(grid_names) > 1 else ''})"
    if axis_names:
        base = ", ".join(f"{label(n)} {levels[n][1][levels[n][2]]}" for n in axis_names)
        text += (f"{' and, for each,' if grid_names else ':'} one control at a time moved from "
                 f"its starting value ({base}) to another ({offered(axis_names)})")
    return text + ". Run the notebook to recompute for any value or combination."


def _static_control(control: w.Widget, labels: list[str], index: int) -> w.Widget:
    kw = dict(options=labels, index=index, description=control.description,
              style={"description_width": control.style.description_width},
              layout=w.Layout(width=control.layout.width))
    if isinstance(control, w.Dropdown | w.ToggleButtons | w.RadioButtons):
        return type(control)(**kw)
    if isinstance(control, w.Checkbox):
        return w.ToggleButtons(**kw)
    if isinstance(control, _TEXTS + _TUPLES):
        return w.Dropdown(**kw)
    return w.SelectionSlider(**kw, continuous_update=True)


def _not_precomputed(levels: Mapping[str, tuple], controls: Mapping[str, w.Widget],
                     axis_names: Sequence[str]) -> list[dict]:
    base = "; ".join(f"{controls[n].description or n} {levels[n][1][levels[n][2]]}"
                     for n in axis_names)
    return [{"output_type": "stream", "name": "stdout",
             "text": "Not precomputed: this page moves these controls one at a time from their "
                     f"starting values ({base}). Set all but one of them back to its starting "
                     "value, or run the notebook for any combination.\n"}]


def _stacks(levels: Mapping[str, tuple], axes: Collection[str], leaf: Callable,
            missing: w.Widget) -> tuple[w.Widget, list[list[w.Stack]]]:
    """The nested stacks of a static explorer and, per level, the stacks to link to its control.
    ``leaf(point)`` gives a precomputed view; ``missing`` is shown where two axes are moved."""
    names = list(levels)
    stacks: list[list[w.Stack]] = [[] for _ in names]

    def build(depth, point, moved):
        if depth == len(names):
            return leaf(point)
        values, _, initial = levels[names[depth]]
        on_axis = names[depth] in axes
        children = []
        for i, v in enumerate(values):
            if on_axis and i != initial:
                children.append(missing if moved else build(depth + 1, point + (v,), True))
            else:
                children.append(build(depth + 1, point + (v,), moved))
        stack = w.Stack(children, selected_index=initial)
        stacks[depth].append(stack)
        return stack

    return build(0, (), False), stacks


def explorer(draw: Callable, controls: Mapping[str, w.Widget],
             grid: Mapping[str, Sequence] | None = None, *,
             axes: Mapping[str, Sequence] | None = None, arrange: Callable | None = None,
             static: bool | None = None, dpi: float = DPI,
             same_view: Callable | None = None) -> w.Widget:
    """An explorer: ``draw(**values of controls)`` under ``controls``, live or precomputed.

    Parameters
    ----------
    draw : callable
        Called with one keyword argument per control; plots (``plt.show()``) and/or prints.
    controls : dict name -> ipywidgets control
        The live controls, at their initial values.
    grid : dict name -> list of values, optional
        Controls whose values the static page combines in every way (first key: outer level).
    axes : dict name -> list of values, optional
        Controls the static page moves one at a time from their initial values, for each point
        of the grid. Every control must be on ``grid`` or ``axes``; both are ignored when live
        (but checked). At most :data:`MAX_VIEWS` views in all (:func:`grid_points`).
    arrange : callable, optional
        ``arrange(dict name -> control)`` returns the widget that lays out the controls (live
        controls, or their static stand-ins); default a VBox in dict order.
    static : bool, optional
        Force static (True) or live (False); default :func:`static_mode`.
    dpi : float, optional
        Resolution of the precomputed figures (default :data:`DPI`; lower only to keep a page
        with many views under its size limit).
    same_view : callable, optional
        ``same_view(**values)`` returns a hashable key, equal for points that draw the same
        view; each key's view is drawn once (static only; see :func:`precompute`).

    Returns
    -------
    ipywidgets.VBox
        Controls then output; when static, also the sentence from :func:`describe_grid`.
    """
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {type(draw).__name__}")
    arrange = arrange or (lambda c: w.VBox(list(c.values())))
    axes = axes or {}
    levels = check_grid(controls, grid, axes)   # a bad grid fails in Jupyter too
    if not static_mode(static):
        return w.VBox([arrange(dict(controls)), w.interactive_output(draw, dict(controls))])

    views = precompute(draw, controls, grid, axes, dpi, same_view)
    outputs: dict[str, w.Output] = {}   # identical views share one Output widget

    def output(data):
        key = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        if key not in outputs:
            outputs[key] = w.Output(outputs=tuple(data))
        return outputs[key]

    missing = output(_not_precomputed(levels, controls, [n for n in levels if n in axes]))
    missing.add_class(NOT_PRECOMPUTED)
    root, stacks = _stacks(levels, axes, lambda point: output(views[point]), missing)
    shown = {}
    for depth, name in enumerate(levels):
        _, labels, initial = levels[name]
        shown[name] = _static_control(controls[name], labels, initial)
        for stack in stacks[depth]:
            w.jslink((shown[name], "index"), (stack, "selected_index"))
    ordered = {name: shown[name] for name in controls}
    note = w.HTML(f"<small>{describe_grid(levels, controls, axes)}</small>")
    box = w.VBox([arrange(ordered), note, root])
    box.add_class("aichip-static-explorer")
    return box


def stack_view(widget: w.Widget, indices: Sequence[int]) -> w.Output:
    """The Output a static explorer shows when its controls have the given indices, in the order
    of :func:`check_grid`'s levels (follows the nested stacks; for tests and checking a page)."""
    node = widget.children[-1]
    for i in indices:
        if NOT_PRECOMPUTED in getattr(node, "_dom_classes", ()):
            return node              # two axes moved: the deeper controls change nothing
        if not isinstance(node, w.Stack):
            raise ValueError(f"indices has more levels than the explorer's grid: {indices}")
        node = node.children[i]
    if not isinstance(node, w.Output):
        raise ValueError(f"indices has fewer levels than the explorer's grid: {indices}")
    return node
