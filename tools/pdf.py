"""The PDF editions: one book page (Sphinx's singlehtml build) printed by headless Chromium.

``make pdf`` builds each edition as a single HTML page (``jupyter-book build --builder singlehtml``,
reusing the HTML build's executions), then this script opens it from a local server in the
Chromium the browser tests use, waits for MathJax, puts in each widget's place (a single page
carries no widget state) a picture of it as the HTML book first shows it, with a line saying where
it responds, and prints it to PDF with an outline (bookmarks), page numbers and working internal
links (chapter, section, figure, equation and citation links are links inside the PDF). It reads the
PDF back (pypdf) and fails unless the PDF has the book's chapters in its outline, internal links,
typeset math, and, for the Chinese edition, an embedded CJK font.

    .venv/bin/python tools/pdf.py _build/singlehtml/chapters/intro.html _build/html \\
        _build/pdf/book.pdf --edition en
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import pathlib
import re
import shutil
import sys
import threading

EXPLORER = "aichip-static-explorer"
NOTE = {
    "en": "Interactive explorer, shown here in its initial view: it responds in the HTML book "
          "(_build/html, no kernel needed) and in Jupyter (make lab).",
    "zh": "交互式探索器，此处为初始视图；在 HTML 版（_build/html/zh，无需内核）和 "
          "Jupyter（make lab）中可以操作。",
}
FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#555">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')
# print layout: the page's text only (no sidebars, header or buttons), figures kept on one page
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .bd-footer,
.bd-footer-article, .prev-next-area, .aichip-edition-switch, .headerlink, .toggle-button,
.tag_remove-input .cell_input { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-page-width { max-width: none !important;
  width: 100% !important; margin: 0 !important; padding: 0 !important; }
img, figure { break-inside: avoid; }
pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
h1 { break-before: page; }
.aichip-pdf-widget { max-width: 100%; break-inside: avoid; }
.aichip-pdf-note { font-style: italic; font-size: 0.85em; color: #444; margin: 0.3em 0 1em; }
"""


def chromium() -> str:
    exe = os.environ.get("AICHIP_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if exe is None:
        raise SystemExit("pdf: no Chromium (Debian's 'chromium' package, or AICHIP_CHROMIUM)")
    return exe


def serve(directory: pathlib.Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


WAIT_MATHJAX = ("() => !window.MathJax || !document.querySelector('.math') || (MathJax.startup"
                " && MathJax.startup.promise && (MathJax.startup.promise.then(() =>"
                " window.__mathjaxDone = true), window.__mathjaxDone === true))")
VIEW = "script[type='application/vnd.jupyter.widget-view+json']"


def _local_only(page) -> None:
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("http://127.0.0.1", "data:", "blob:")) else route.abort())


def widget_snapshots(browser, url: str, pages: list[str]) -> dict[str, str]:
    """{widget model id: PNG data URL} of every widget view of ``pages`` as the HTML book first
    shows it (an explorer's controls and initial view). A single-page build carries no widget
    state, so the PDF shows these pictures in the widgets' places."""
    shots = {}
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    _local_only(page)
    for path in pages:
        page.goto(f"{url}/{path}", wait_until="load")
        n = page.locator(VIEW).count()
        if not n:
            continue
        page.wait_for_function(
            "n => document.querySelectorAll('.jupyter-widgets.widget-container, "
            ".jupyter-widgets.widget-box').length >= n", arg=n, timeout=60_000)
        page.wait_for_timeout(500)
        for k in range(n):
            script = page.locator(VIEW).nth(k)
            model = json.loads(script.text_content())["model_id"]
            box = script.locator("xpath=..")
            box.scroll_into_view_if_needed()
            png = box.screenshot(animations="disabled")
            shots[model] = "data:image/png;base64," + base64.b64encode(png).decode()
    page.close()
    return shots


def print_pdf(single: pathlib.Path, pages: list[pathlib.Path], out: pathlib.Path,
              edition: str) -> int:
    """Print the single-page book ``single`` to ``out``, the widgets of the HTML book's ``pages``
    in their places; returns how many widget views it placed."""
    from playwright.sync_api import sync_playwright  # a pinned requirement

    # Sphinx writes the single page at the root document's path (chapters/intro.html) but links
    # its assets as if it were at the top: a copy at the top is the page as meant
    site = next(d for d in single.parents if (d / "_static").is_dir())
    shutil.copy(single, site / "book.html")
    single = site / "book.html"
    root = pathlib.Path(os.path.commonpath([single, *pages]))
    server, url = serve(root)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            shots = widget_snapshots(browser, url, [str(q.relative_to(root)) for q in pages])
            page = browser.new_page()
            _local_only(page)
            page.goto(f"{url}/{single.relative_to(root)}", wait_until="load")
            page.wait_for_function(WAIT_MATHJAX, timeout=120_000)
            placed = page.evaluate(
                """([selector, shots, note]) => {
                    let placed = 0;
                    for (const script of [...document.querySelectorAll(selector)]) {
                        const model = JSON.parse(script.textContent).model_id;
                        if (!(model in shots)) continue;
                        const img = document.createElement('img');
                        img.src = shots[model];
                        img.className = 'aichip-pdf-widget';
                        const p = document.createElement('p');
                        p.className = 'aichip-pdf-note';
                        p.textContent = note;
                        script.replaceWith(img, p);
                        placed += 1;
                    }
                    return placed;
                }""", [VIEW, shots, NOTE[edition]])
            page.wait_for_function("() => [...document.images].every(i => i.complete)")
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(out), format="A4", print_background=True, outline=True, tagged=True,
                     display_header_footer=True, header_template="<span></span>",
                     footer_template=FOOTER, prefer_css_page_size=True)
            browser.close()
    finally:
        server.shutdown()
    print(f"pdf: {out} ({out.stat().st_size / 1e6:.1f} MB), {placed} of {len(shots)} widget "
          "views placed, each with its note")
    if placed != len(shots):
        raise SystemExit(f"pdf: {len(shots) - placed} widget views have no place in {single}")
    return placed


def verify(out: pathlib.Path, edition: str, chapters: int, min_links: int = 100,
           min_chinese: int = 5000) -> list[str]:
    """What is wrong with the PDF ``out``: an empty list when nothing is."""
    from pypdf import PdfReader  # a pinned requirement

    reader = PdfReader(out)
    problems = []
    def entries(items, depth=0):  # the outline's titles down to the chapters' level
        for item in items:
            if isinstance(item, list):
                yield from entries(item, depth + 1) if depth < 1 else ()
            else:
                yield item.title
    outline = list(entries(reader.outline))
    numbered = [t for t in outline if re.match(r"\d+\. ", t)]
    if len(numbered) < chapters:
        problems.append(f"the outline has {len(numbered)} numbered chapters, not {chapters}: "
                        f"{outline[:20]}")
    internal = 0
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/Subtype") == "/Link" and ("/Dest" in a or a.get("/A", {}).get("/S")
                                                 == "/GoTo"):
                internal += 1
    if internal < min_links:
        problems.append(f"only {internal} internal links")
    fonts = set()
    for page in reader.pages[:40]:
        for font in (page.get("/Resources", {}).get("/Font") or {}).values():
            font = font.get_object()  # Chromium embeds the .ttc Noto CJK glyphs as Type3 outlines
            fonts.add(str(font.get("/BaseFont") or font.get("/Subtype")))
    text = "".join(reader.pages[i].extract_text() for i in range(min(40, len(reader.pages))))
    if edition == "zh":
        if not any("CJK" in f or "Type3" in f for f in fonts):
            problems.append(f"no CJK font embedded: {sorted(fonts)}")
        if len(re.findall(r"[\u4e00-\u9fff]", text)) < min_chinese:
            problems.append(f"fewer than {min_chinese:,} Chinese characters in the first 40 pages")
        if not re.search(r"图\s*\d+\.\d+", text):
            problems.append("no figure numbered 图 N.M in the first 40 pages")
    print(f"pdf: {len(reader.pages)} pages, {len(numbered)} numbered chapters in the outline, "
          f"{internal} internal "
          f"links, fonts {sorted(fonts)[:6]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("single", type=pathlib.Path, help="the singlehtml build's chapters/intro.html")
    ap.add_argument("html", type=pathlib.Path, help="the HTML build of the same edition (its "
                    "chapter pages' widgets are pictured in the PDF)")
    ap.add_argument("out", type=pathlib.Path, help="the PDF to write")
    ap.add_argument("--edition", choices=sorted(NOTE), default="en")
    ap.add_argument("--chapters", type=int, default=12, help="chapters the outline must hold")
    args = ap.parse_args(argv)
    pages = sorted(args.html.resolve().glob("chapters/[0-9][0-9]_*.html"))
    print_pdf(args.single.resolve(), pages, args.out, args.edition)
    problems = verify(args.out, args.edition, args.chapters)
    for p in problems:
        print(f"pdf: {args.out}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
