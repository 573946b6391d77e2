"""Every explorer on every page of the built book responds to its controls, offline, from file://.

Each chapter page is opened from disk (``file://``) in headless Chromium with every request that is
not ``file:``, ``data:`` or ``blob:`` aborted and recorded. For each explorer (an
``aichip-static-explorer`` box, made by :func:`aichip.widgets.static.explorer`), no control may be
frozen (disabled, or of a kind the static page cannot drive: a checkbox, a text box, a multiple
selection), and every control is moved to another value; the figure or text it shows must change,
and come back when the control is moved back. No console error, no outside request. Screenshots of
each explorer before and after each change are kept in ``_build/screenshots/explorers/``, with
``report.json``: the size of each page and of its widget state, and each explorer's grid.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # a pinned requirement

from .conftest import HTML, ROOT, SCREENSHOTS, chapter_pages, report_name, skip_or_fail

CLASS = "aichip-static-explorer"
STATE = re.compile(r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>',
                   re.S)
SHOTS = SCREENSHOTS / "explorers"
MAX_PAGE_BYTES = 8_000_000
REPORT: dict[str, dict] = {}


# a code line that builds an explorer: `name_explorer(` or `systolic_stepper(`, maybe in display()
CALL = re.compile(r"^(display\()?\w+_(explorer|stepper)\(", re.M)


def explorer_calls(chapter: str) -> int:
    """How many explorers the chapter's notebook builds (its code cells' explorer calls)."""
    name = chapter.rsplit("/", 1)[-1].replace(".html", ".ipynb")
    nb = json.loads((ROOT / "chapters" / name).read_text())
    return sum(len(CALL.findall("".join(c["source"]))) for c in nb["cells"]
               if c["cell_type"] == "code")


def _chapters() -> list[str]:
    """Chapter pages of both editions, relative to HTML (the Chinese ones run the same code)."""
    return chapter_pages()


def widget_state(html: str) -> dict:
    """The widget state embedded in a page: {model id: model}, or {} if none."""
    match = STATE.search(html)
    return json.loads(match.group(1))["state"] if match else {}


def explorer_models(state: dict) -> list[dict]:
    return [m for m in state.values() if CLASS in m["state"].get("_dom_classes", ())]


# the visible view of an explorer: its shown images and text, summarised in the page
_SIGNATURE = """el => {
    const root = el.children[el.children.length - 1];   // the outermost stack of views
    const seen = x => x.offsetParent !== null;
    const imgs = [...root.querySelectorAll('img')].filter(seen)
        .map(i => i.src.length + ':' + i.src.slice(-40));
    const text = [...root.querySelectorAll('pre')].filter(seen).map(p => p.textContent);
    return JSON.stringify({imgs, text});
}"""

# the enabled controls of an explorer, in its first child (the controls' box)
_CONTROLS = """el => {
    const box = el.children[0];
    const out = [];
    box.querySelectorAll('select').forEach((s, i) => {
        if (!s.disabled) out.push({kind: 'select', i, n: s.options.length,
                                   label: s.closest('.widget-inline-hbox, .jupyter-widgets')
                                          .querySelector('label')?.textContent || 'dropdown'});
    });
    box.querySelectorAll('.widget-toggle-buttons').forEach((t, i) => {
        const b = t.querySelectorAll('button');
        if (b.length > 1 && ![...b].some(x => x.disabled))
            out.push({kind: 'toggle', i, n: b.length,
                      label: t.querySelector('label')?.textContent || 'buttons'});
    });
    box.querySelectorAll('.widget-hslider').forEach((s, i) => {
        const handle = s.querySelector('.noUi-handle');
        if (handle && !s.querySelector('[disabled]'))
            out.push({kind: 'slider', i, n: Number(handle.getAttribute('aria-valuemax')) + 1,
                      label: s.querySelector('label')?.textContent || 'slider'});
    });
    return out;
}"""


# the controls of an explorer that a reader cannot move on the static page: disabled ones, and
# kinds that the static mechanism never links (a live control left in place would do nothing)
_FROZEN = """el => {
    const box = el.children[0];
    const label = e => (e.closest('.widget-inline-hbox, .widget-checkbox, .jupyter-widgets')
                        ?.querySelector('label')?.textContent || e.tagName).trim();
    const out = [];
    box.querySelectorAll('select, button, input, textarea, .widget-hslider').forEach(e => {
        if (e.disabled || e.querySelector?.('[disabled]')) out.push('disabled: ' + label(e));
    });
    box.querySelectorAll('input[type=checkbox], input[type=text], input[type=number], textarea,'
                         + ' select[multiple], .widget-hslider .noUi-handle-upper')
        .forEach(e => out.push('not driven by the static page: ' + label(e)));
    return out;
}"""


def _open(browser, path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    seen = {"outside": [], "errors": []}

    def on_request(request):
        if not request.url.startswith(("file:", "data:", "blob:")):
            seen["outside"].append(request.url)

    def route(route):
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    page.on("request", on_request)
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(f"uncaught: {e}"))
    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    return context, page, seen


def _index(explorer, control) -> int:
    """The index of the value a control shows now."""
    box = explorer.locator(":scope > *").first
    kind, i = control["kind"], control["i"]
    if kind == "select":
        return box.locator("select").nth(i).evaluate("s => s.selectedIndex")
    if kind == "toggle":
        buttons = box.locator(".widget-toggle-buttons").nth(i).locator("button")
        return next(k for k in range(control["n"])
                    if "mod-active" in (buttons.nth(k).get_attribute("class") or ""))
    handle = box.locator(".widget-hslider").nth(i).locator(".noUi-handle").first
    return round(float(handle.get_attribute("aria-valuenow")))


def _set(explorer, control, target: int) -> None:
    """Move a control to the value at ``target`` as a reader would: pick it, click it, or press
    the arrow keys on the slider's handle."""
    box = explorer.locator(":scope > *").first
    kind, i = control["kind"], control["i"]
    if kind == "select":
        box.locator("select").nth(i).select_option(index=target)
    elif kind == "toggle":
        box.locator(".widget-toggle-buttons").nth(i).locator("button").nth(target).click()
    else:
        handle = box.locator(".widget-hslider").nth(i).locator(".noUi-handle").first
        handle.focus()
        steps = target - _index(explorer, control)
        for _ in range(abs(steps)):
            handle.press("ArrowRight" if steps > 0 else "ArrowLeft")


def _wait_for_view(page, explorer, unlike: str | None = None, like: str | None = None,
                   timeout_ms: int = 5_000) -> str:
    handle = explorer.element_handle()
    try:
        if unlike is not None:
            page.wait_for_function(f"([el, s]) => ({_SIGNATURE})(el) !== s", arg=[handle, unlike],
                                   timeout=timeout_ms)
        else:
            page.wait_for_function(f"([el, s]) => ({_SIGNATURE})(el) === s", arg=[handle, like],
                                   timeout=timeout_ms)
    except PlaywrightTimeout:
        pass
    return explorer.evaluate(_SIGNATURE)


@pytest.mark.parametrize("chapter", _chapters() or ["(book not built)"])
def test_every_explorer_responds_offline(browser, chapter):
    if not (HTML / chapter).exists():
        skip_or_fail("the book is not built: run 'make book' first (make test does)")
    path = HTML / chapter
    html = path.read_text(encoding="utf-8")
    state = widget_state(html)
    models = explorer_models(state)
    report = REPORT.setdefault(chapter, {"page_bytes": path.stat().st_size,
                                         "widget_state_bytes": len(json.dumps(state)),
                                         "explorers": []})
    assert report["page_bytes"] < MAX_PAGE_BYTES, f"{chapter}: {report['page_bytes']:,} bytes"
    assert len(models) == explorer_calls(chapter), (
        f"{chapter}: the notebook builds {explorer_calls(chapter)} explorers, the page embeds "
        f"{len(models)} static ones")
    if not models:
        pytest.skip(f"{chapter} has no explorer")
    # the state carries the precomputed views: every Output model under an explorer has outputs
    outputs = [m for m in state.values() if m["model_name"] == "OutputModel"]
    assert outputs and all(m["state"]["outputs"] for m in outputs), "empty precomputed views"

    context, page, seen = _open(browser, path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        explorers = page.locator(f".{CLASS}")
        try:
            page.wait_for_function(f"n => document.querySelectorAll('.{CLASS}').length >= n",
                                   arg=len(models), timeout=60_000)
        except PlaywrightTimeout:
            pass
        assert explorers.count() == len(models), (
            f"{explorers.count()} explorers rendered of {len(models)} in the widget state")
        for k in range(explorers.count()):
            explorer = explorers.nth(k)
            explorer.scroll_into_view_if_needed()
            note = explorer.locator(".widget-html").first.inner_text()
            controls = explorer.evaluate(_CONTROLS)
            entry = {"grid": note, "controls": [c["label"] for c in controls], "changed": []}
            report["explorers"].append(entry)
            assert controls, f"explorer {k} of {chapter} has no enabled control"
            frozen = explorer.evaluate(_FROZEN)
            assert not frozen, f"{chapter}: explorer {k} has frozen controls: {frozen}"
            start = explorer.evaluate(_SIGNATURE)
            assert '"imgs":[]' not in start or '"text":[]' not in start, "explorer shows nothing"
            for c, control in enumerate(controls):
                name = f"{chapter[:-5].replace('/', '__')}-{k}-{c}"
                before = explorer.evaluate(_SIGNATURE)
                explorer.screenshot(path=str(SHOTS / f"{name}-before.png"))
                first = _index(explorer, control)
                # the next value first, then the others: at some grid points a control has no
                # effect (a cache-detection threshold that finds the same levels), at others it has
                for target in [(first + j) % control["n"] for j in range(1, control["n"])]:
                    _set(explorer, control, target)
                    after = _wait_for_view(page, explorer, unlike=before)
                    if after != before:
                        break
                explorer.screenshot(path=str(SHOTS / f"{name}-after.png"))
                assert after != before, (
                    f"{chapter}: explorer {k}, control {control['label']!r}: no value changes the "
                    "view")
                _set(explorer, control, first)
                back = _wait_for_view(page, explorer, like=before)
                assert back == before, (
                    f"{chapter}: explorer {k}, control {control['label']!r}: moving it back did "
                    "not restore the view")
                entry["changed"].append(control["label"])
        assert not seen["outside"], f"requests outside file://: {seen['outside']}"
        assert not seen["errors"], f"console errors: {seen['errors']}"
    finally:
        context.close()
        (SHOTS / report_name()).write_text(json.dumps(REPORT, indent=1))
