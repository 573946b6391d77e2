"""The built HTML book, opened page by page in headless Chromium, works offline.

For every page: no request leaves 127.0.0.1 and none fails; no JavaScript error; every formula is
typeset by MathJax; every image loads; every widget snapshot renders with its controls and output.
Internal links and anchors are checked on the HTML files directly. A screenshot of each page is kept
in _build/screenshots/ and a per-page request count in _build/screenshots/report*.json.
"""

from __future__ import annotations

import json
import urllib.parse
from html.parser import HTMLParser

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # a pinned requirement

from .conftest import HTML, SCREENSHOTS, book_pages, report_name

PAGES = book_pages()
REPORT: dict[str, dict] = {}


def _visit(browser, url: str, page_name: str) -> dict:
    """Open ``url``; return what happened: requests, failures, console errors, and DOM checks."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = {"requests": [], "external": [], "failed": [], "errors": []}

    def on_request(request):
        seen["requests"].append(request.url)

    def route(route):
        host = urllib.parse.urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:  # never let a request out; record it instead
            seen["external"].append(route.request.url)
            route.abort()

    page.on("request", on_request)
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url} ({r.failure})"))
    page.on("response",
            lambda r: r.status >= 400 and seen["failed"].append(f"{r.url} ({r.status})"))
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(f"uncaught: {e}"))
    page.route("**/*", route)

    page.goto(url, wait_until="load")
    try:  # MathJax (if the page uses it) finishes its first typesetting pass
        page.wait_for_function(
            "() => !window.MathJax || !document.querySelector('.math') ||"
            " (MathJax.startup && MathJax.startup.promise && (MathJax.startup.promise.then(() =>"
            " window.__mathjaxDone = true), window.__mathjaxDone === true))", timeout=30_000)
    except PlaywrightTimeout:
        seen["errors"].append("MathJax did not finish typesetting within 30 s")
    n_widget_views = page.locator("script[type='application/vnd.jupyter.widget-view+json']").count()
    if n_widget_views:
        try:  # the widget manager renders every snapshot
            page.wait_for_function(
                "n => document.querySelectorAll('.jupyter-widgets.widget-container, "
                ".jupyter-widgets.widget-box').length >= n", arg=n_widget_views, timeout=30_000)
        except PlaywrightTimeout:
            seen["errors"].append("widget snapshots did not render within 30 s")
    page.wait_for_timeout(500)  # let late font and chunk requests start and settle
    try:  # a settling wait, not a check: the requests themselves are checked below; under two
        # test processes on 2 cores a heavy page once took over 30 s to go quiet
        page.wait_for_load_state("networkidle", timeout=90_000)
    except PlaywrightTimeout:
        pass

    dom = page.evaluate("""() => {
        const maths = [...document.querySelectorAll('.math')];
        const untypeset = maths.filter(m => !m.querySelector('mjx-container'))
            .map(m => m.textContent.slice(0, 80));
        const main = document.querySelector('main');
        const clone = main ? main.cloneNode(true) : document.body.cloneNode(true);
        clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight')
            .forEach(e => e.remove());
        const text = clone.textContent;
        const imgs = [...document.querySelectorAll('main img')]
            .map(i => ({src: i.currentSrc, ok: i.complete && i.naturalWidth > 0}));
        const views = [...document.querySelectorAll(
            "script[type='application/vnd.jupyter.widget-view+json']")];
        const widgets = views.map(s => {
            const box = s.parentElement;
            return {
                rendered: !!box.querySelector('.jupyter-widgets'),
                sliders: box.querySelectorAll(
                    '.widget-slider, .slider-container, .widget-hslider').length,
                dropdowns: box.querySelectorAll('.widget-dropdown select, select').length,
                output_images: box.querySelectorAll(
                    '.widget-output img, .jupyter-widgets-output-area img').length,
            };
        });
        const raw_tex = (text.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || []).length;
        return {n_math: maths.length, untypeset, raw_tex, imgs, widgets};
    }""")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / (page_name.replace("/", "__") + ".png")), full_page=True)
    context.close()
    seen.update(dom)
    return seen


@pytest.mark.skipif(not PAGES, reason="the book is not built: run 'make book' first")
@pytest.mark.parametrize("page_name", PAGES)
def test_page_works_offline(browser, book_url, page_name):
    seen = _visit(browser, f"{book_url}/{page_name}", page_name)
    REPORT[page_name] = {"requests": len(seen["requests"]), "external": len(seen["external"]),
                         "math": seen["n_math"], "images": len(seen["imgs"]),
                         "widgets": len(seen["widgets"])}
    assert not seen["external"], f"requests leaving 127.0.0.1: {seen['external']}"
    assert not seen["failed"], f"failed requests: {seen['failed']}"
    assert not seen["errors"], f"JavaScript errors: {seen['errors']}"
    assert not seen["untypeset"], f"formulas not typeset by MathJax: {seen['untypeset']}"
    assert seen["raw_tex"] == 0, "raw TeX delimiters left in the page text"
    broken = [i["src"] for i in seen["imgs"] if not i["ok"]]
    assert not broken, f"images that did not load: {broken}"
    for i, w in enumerate(seen["widgets"]):
        assert w["rendered"], f"widget snapshot {i} did not render"
    if seen["widgets"]:
        assert sum(w["sliders"] + w["dropdowns"] for w in seen["widgets"]) > 0, "no widget controls"
        assert sum(w["output_images"] for w in seen["widgets"]) > 0, "no widget output figure"


def test_chapters_with_explorers_have_widget_snapshots(book_url):
    """Every executed chapter page made from a notebook with an explorer embeds widget state."""
    chapters = sorted((HTML / "chapters").glob("[0-9][0-9]_*.html"))
    assert chapters, f"no chapter pages under {HTML / 'chapters'}"
    for path in chapters:
        html = path.read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget-state+json" in html, f"{path.name}: no widget state"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


def _parse(path):
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_internal_links_and_anchors_resolve(book_url):  # book_url: skips (or fails) when unbuilt
    parsed = {p: _parse(HTML / p) for p in PAGES}
    broken = []
    for page, links in parsed.items():
        for href in links.hrefs:
            parts = urllib.parse.urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue  # external links are allowed; only requests must stay local
            if parts.path:
                target = (HTML / page).parent / urllib.parse.unquote(parts.path)
            else:
                target = HTML / page
            target = target.resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page}: {href} (no such file)")
                continue
            if parts.fragment and target.suffix == ".html":
                rel = str(target.relative_to(HTML.resolve()))
                ids = parsed[rel].ids if rel in parsed else _parse(target).ids
                if urllib.parse.unquote(parts.fragment) not in ids:
                    broken.append(f"{page}: {href} (no anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def teardown_module(module):
    if REPORT:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / report_name()).write_text(json.dumps(REPORT, indent=2, sort_keys=True))
