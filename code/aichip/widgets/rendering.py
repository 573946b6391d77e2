"""Rendering a static explorer's views: ``draw`` run with its figures saved as PNG output dicts,
shared among processes, with matplotlib's formula parses and plain text's measured sizes shared
among renderers.

:func:`render` runs ``draw(**values)`` and returns what it printed and showed as notebook outputs.
:func:`render_views` renders many points' views at once: in one process per CPU (this one and
forked copies of it; matplotlib draws in one thread, so one process leaves the other cores idle),
each taking a run of consecutive points. The views are the same bytes as rendered one after
another in this process. :mod:`aichip.widgets.static` builds the explorers around them.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import os
import pickle
import select
import signal
import sys
import time
from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt

__all__ = ["DPI", "PROCESSES_ENV", "processes", "render", "render_views"]

#: default resolution of the precomputed figures (dots per inch). An explorer's figure must fit the
#: page's column (about 680 CSS pixels: at most ~10.5 inches at 72 dpi) so that it is never shrunk
#: and a point stays at least a pixel (tests/browser/test_figures.py checks it); explorers with
#: few views pass ``dpi=100`` for sharper text, those with many keep 72 for the build's time and
#: the page's size (rendering at 100 dpi costs about 1.5 times as long per view)
DPI = 72

#: environment variable: how many processes render an explorer's views; unset, one per CPU this
#: process may run on (:func:`processes`)
PROCESSES_ENV = "AICHIP_STATIC_PROCESSES"


def _png_output(fig, dpi: float) -> dict:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    width, height = fig.get_size_inches() * fig.dpi
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                     "text/plain": f"<Figure size {width:g}x{height:g} with "
                                   f"{len(fig.axes)} Axes>"}}


def processes(n_views: int | None = None) -> int:
    """How many processes render an explorer's ``n_views`` views: :data:`PROCESSES_ENV` if set,
    else the number of CPUs this process may run on; never more than ``n_views``. Always 1 where
    processes cannot be forked cheaply (only Linux qualifies)."""
    text = os.environ.get(PROCESSES_ENV, "").strip()
    if text:
        try:
            n = int(text)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{PROCESSES_ENV} must be a positive integer, got {text!r}")
    else:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if not sys.platform.startswith("linux"):
        n = 1
    return max(1, n if n_views is None else min(n, n_views))


def _silence_kernel() -> None:
    """In a forked copy of a Jupyter kernel: nothing may reach the kernel's sockets or streams.

    The copy shares the kernel's ZeroMQ connections, which are not fork-safe: a widget that
    changes a trait in ``draw`` (or a ``display``) would send through ``Session.send``, which is
    made a no-op here; text written at the file-descriptor level goes to /dev/null (the copy
    returns what ``draw`` prints, and its Python-level stderr, through its pipe)."""
    session = sys.modules.get("jupyter_client.session")
    if session is not None:
        session.Session.send = lambda *args, **kwargs: None
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    sys.stdout = io.StringIO()
    sys.stderr = io.StringIO()


def _fork_renderer(draw: Callable, values: list[dict], dpi: float) -> tuple[int, int]:
    """Fork a copy that renders ``values`` and writes (outputs, stderr text) pickled to a pipe.
    Returns (process id, read end of the pipe)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    status = 1
    try:                               # the copy: never returns, never runs the kernel's atexit
        os.close(read_end)
        _silence_kernel()
        views = [render(draw, v, dpi) for v in values]
        data = pickle.dumps((views, sys.stderr.getvalue()), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
        status = 0
    finally:
        os._exit(status)


def _collect(pid: int, read_end: int, deadline: float) -> tuple | None:
    """The (views, stderr text) a forked copy sent, or None if it failed or missed ``deadline``
    (a ``time.monotonic`` value; then it is killed)."""
    chunks = []
    try:
        while True:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([read_end], [], [], wait)[0]:
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001  (a truncated message: render here instead)
        return None


def render_views(draw: Callable, values: list[dict], dpi: float, n_processes: int) -> list:
    """``[render(draw, v, dpi) for v in values]``, shared among ``n_processes`` processes, each
    rendering one run of consecutive views: this one the first, forked copies the others.

    Consecutive, not every n-th: neighbouring views share the outer controls' values, and a draw
    that caches what those values cost (the dataflow explorer searches mappings once per layer)
    keeps its cache within one process."""
    if n_processes <= 1 or len(values) < 2:
        return [render(draw, v, dpi) for v in values]
    bounds = [len(values) * k // n_processes for k in range(n_processes + 1)]
    runs = [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    copies = [(run, *_fork_renderer(draw, values[run], dpi)) for run in runs[1:]]
    views: list = [None] * len(values)
    start = time.monotonic()
    views[runs[0]] = [render(draw, v, dpi) for v in values[runs[0]]]
    # a copy renders about as many views as this process did: allow it four times as long, and
    # a minute more
    deadline = time.monotonic() + 60 + 4 * (time.monotonic() - start)
    for run, pid, read_end in copies:
        got = _collect(pid, read_end, deadline)
        if got is None:   # draw raised there, or the copy died: render here (and raise here)
            got = ([render(draw, v, dpi) for v in values[run]], "")
        views[run], errors = got
        if errors:
            sys.stderr.write(errors)
    return views


#: the parse cache of matplotlib's formulas that render() installs (see _formulas_parsed_once)
_PARSE_CACHE: list = []
#: the one formula parser of every Agg renderer while render() runs, once made
_PARSER: list = []


def _forget_fonts() -> None:
    """In a forked copy, right after the fork: drop every formula parse and parser made before it.

    They hold matplotlib's FreeType fonts, and a font reads its file through a file descriptor
    that the copy shares with this process, offset included (it seeks, then reads). A copy drawing
    a formula parsed here moved the offset between this process's seek and read, and one side or
    the other drew a corrupt glyph or failed ("FT_Load_Glyph ... invalid outline", "too many
    hints": 24 of 30 two-process renderings of the 40 views of tests/test_widgets_static.py's
    race check before this).
    matplotlib empties its own font cache at a fork for the same reason; with these gone too, the
    copy opens every font it draws anew."""
    for cache in _PARSE_CACHE:
        cache.cache_clear()
    _PARSE_CACHE.clear()
    _PARSER.clear()
    try:
        from matplotlib.mathtext import MathTextParser
    except ImportError:                         # pragma: no cover (another matplotlib)
        return
    own = MathTextParser.__dict__.get("_parse_cached")
    if hasattr(own, "cache_clear"):             # matplotlib's own parses, keyed by parser
        own.cache_clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_fonts)


@contextlib.contextmanager
def _formulas_parsed_once():
    """While ``draw`` runs and its figures are saved: one formula parser for every Agg renderer,
    with a cache that holds an explorer's labels.

    Every label of a log axis (``10^2``) is a formula, and matplotlib parses it again for every
    renderer (the parser's cache is keyed on the parser, and each renderer makes its own): a
    tight-cropped PNG draws the figure with two renderers, ``tight_layout`` uses a third, and each
    view is a new figure. That was a fifth of a log-log view's time. The parse is a function of
    its key (text, dpi, font, antialiasing, hinting) and of the parser's output type, the same
    for every Agg renderer, and renderers only read what it returns, so the figures are the same
    bytes (tests/test_widgets_static.py compares them). matplotlib is left as it was after."""
    try:
        from matplotlib.backends.backend_agg import RendererAgg
        from matplotlib.mathtext import MathTextParser
    except ImportError:                         # pragma: no cover (another matplotlib)
        yield
        return
    cached = MathTextParser.__dict__.get("_parse_cached")
    if not hasattr(cached, "__wrapped__") or getattr(RendererAgg.__init__, "_aichip", False):
        yield                                   # another matplotlib, or already installed
        return
    if not _PARSE_CACHE:
        _PARSE_CACHE.append(functools.lru_cache(maxsize=2048)(cached.__wrapped__))
    init = RendererAgg.__init__

    def shared_parser(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if not _PARSER:
            _PARSER.append(self.mathtext_parser)
        self.mathtext_parser = _PARSER[0]

    shared_parser._aichip = True
    MathTextParser._parse_cached = _PARSE_CACHE[0]
    RendererAgg.__init__ = shared_parser
    try:
        yield
    finally:
        RendererAgg.__init__ = init
        MathTextParser._parse_cached = cached


#: the rcParams an Agg renderer's measure of plain text depends on besides the text, its font
#: properties and the dpi: how font families resolve to files, and how glyphs are hinted and kerned
_TEXT_RC = ("font.family", "font.sans-serif", "font.serif", "font.monospace", "font.cursive",
            "font.fantasy", "text.hinting", "text.hinting_factor", "text.kerning_factor")
#: plain text's (width, height, descent) in pixels, shared among Agg renderers while render() runs
_TEXT_METRICS: dict = {}


def _frozen(value):
    return tuple(value) if isinstance(value, list) else value


@contextlib.contextmanager
def _text_measured_once():
    """While ``draw`` runs and its figures are saved: every Agg renderer shares one measure of each
    plain-text string.

    matplotlib caches a string's size per renderer, and a view uses three (``tight_layout``, the
    tight crop's sizing pass, the PNG itself), each new for every view, so a tick label or title
    that every view of an explorer shows was measured about three times a view (a tenth of a
    systolic or roofline view's time). The size is a function of the text, its font properties,
    the dpi and the rcParams in :data:`_TEXT_RC` (all in the key) for every Agg renderer, and
    renderers only read it, so the figures are the same bytes (tests/test_widgets_static.py
    compares them). Formulas keep their own shared cache (:func:`_formulas_parsed_once`); other
    renderers and TeX are measured as matplotlib does. matplotlib is left as it was after."""
    try:
        import matplotlib
        from matplotlib import text as mtext
        from matplotlib.backends.backend_agg import RendererAgg
    except ImportError:                         # pragma: no cover (another matplotlib)
        yield
        return
    measure = mtext.__dict__.get("_get_text_metrics_with_cache")
    if measure is None or getattr(measure, "_aichip", False):
        yield                                   # another matplotlib, or already installed
        return
    rc = matplotlib.rcParams

    def shared_measure(renderer, text, fontprop, ismath, dpi):
        if ismath is not False or type(renderer) is not RendererAgg:
            return measure(renderer, text, fontprop, ismath, dpi)
        key = (text, fontprop.copy(), dpi, *(_frozen(dict.get(rc, k)) for k in _TEXT_RC))
        size = _TEXT_METRICS.get(key)
        if size is None:
            if len(_TEXT_METRICS) >= 50_000:
                _TEXT_METRICS.clear()
            size = _TEXT_METRICS[key] = renderer.get_text_width_height_descent(text, fontprop,
                                                                               False)
        return size

    shared_measure._aichip = True
    mtext._get_text_metrics_with_cache = shared_measure
    try:
        yield
    finally:
        mtext._get_text_metrics_with_cache = measure


def render(draw: Callable, values: Mapping, dpi: float = DPI) -> list[dict]:
    """Run ``draw(**values)`` and return what it showed as notebook output dicts, in order:
    printed text as ``stream`` outputs, each figure it showed (or left open) as a PNG at ``dpi``
    dots per inch."""
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
                outputs.append(_png_output(fig, dpi))
                plt.close(fig)

    real_show = plt.show
    plt.show = show
    try:
        with contextlib.redirect_stdout(text), _formulas_parsed_once(), \
                _text_measured_once():
            draw(**values)
            show()
    finally:
        plt.show = real_show
        for num in set(plt.get_fignums()) - before:   # after an exception: leave no figure open
            plt.close(num)
    return outputs
