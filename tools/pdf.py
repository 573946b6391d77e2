"""The PDF editions: one book page (Sphinx's singlehtml build) printed by headless Chromium.

``make pdf`` builds each edition as a single HTML page (``jupyter-book build --builder singlehtml``,
reusing the HTML build's executions), then this script opens it from a local server in the
Chromium the browser tests use, waits for MathJax, puts a line under each explorer saying where it
responds, and prints it to PDF with an outline (bookmarks), page numbers and working internal links
(chapter, section, figure, equation and citation links are links inside the PDF). It then reads the
PDF back (pypdf) and fails unless the PDF has the book's chapters in its outline, internal links,
typeset math, and, for the Chinese edition, an embedded CJK font.

    .venv/bin/python tools/pdf.py _build/singlehtml/index.html _build/pdf/book-en.pdf --edition en
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import pathlib
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
img, figure, table, .cell_output { break-inside: avoid; }
h1 { break-before: page; }
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


def print_pdf(html: pathlib.Path, out: pathlib.Path, edition: str) -> None:
    from playwright.sync_api import sync_playwright  # a pinned requirement

    server, url = serve(html.parent)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
                ("http://127.0.0.1", "data:", "blob:")) else route.abort())
            page.goto(f"{url}/{html.name}", wait_until="load")
            page.wait_for_function(
                "() => !window.MathJax || !document.querySelector('.math') || (MathJax.startup"
                " && MathJax.startup.promise && (MathJax.startup.promise.then(() =>"
                " window.__mathjaxDone = true), window.__mathjaxDone === true))", timeout=120_000)
            page.wait_for_timeout(2_000)  # widget snapshots render
            n_notes = page.evaluate(
                """([cls, note]) => {
                    const boxes = [...document.querySelectorAll('.' + cls)];
                    boxes.forEach(box => {
                        const p = document.createElement('p');
                        p.className = 'aichip-pdf-note';
                        p.textContent = note;
                        box.parentNode.insertBefore(p, box.nextSibling);
                    });
                    return boxes.length;
                }""", [EXPLORER, NOTE[edition]])
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(out), format="A4", print_background=True, outline=True, tagged=True,
                     display_header_footer=True, header_template="<span></span>",
                     footer_template=FOOTER, prefer_css_page_size=True)
            browser.close()
    finally:
        server.shutdown()
    print(f"pdf: {out} ({out.stat().st_size / 1e6:.1f} MB), {n_notes} explorers noted")


def verify(out: pathlib.Path, edition: str, chapters: int) -> list[str]:
    """What is wrong with the PDF ``out``: an empty list when nothing is."""
    from pypdf import PdfReader  # a pinned requirement

    reader = PdfReader(out)
    problems = []
    outline = [o for o in reader.outline if not isinstance(o, list)]
    if len(outline) < chapters:
        problems.append(f"the outline has {len(outline)} top-level entries, fewer than the "
                        f"{chapters} chapters")
    internal = 0
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/Subtype") == "/Link" and ("/Dest" in a or a.get("/A", {}).get("/S")
                                                 == "/GoTo"):
                internal += 1
    if internal < 100:
        problems.append(f"only {internal} internal links")
    fonts = set()
    for page in reader.pages[:40]:
        for font in (page.get("/Resources", {}).get("/Font") or {}).values():
            fonts.add(str(font.get_object().get("/BaseFont")))
    if edition == "zh" and not any("CJK" in f or "Han" in f for f in fonts):
        problems.append(f"no CJK font embedded: {sorted(fonts)[:8]}")
    text = "".join(reader.pages[i].extract_text() for i in range(min(30, len(reader.pages))))
    if edition == "zh" and "图" not in text:
        problems.append("no 图 (Chinese figure numbers) in the first 30 pages")
    print(f"pdf: {len(reader.pages)} pages, {len(outline)} outline entries, {internal} internal "
          f"links, fonts {sorted(fonts)[:6]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("html", type=pathlib.Path, help="the singlehtml build's index.html")
    ap.add_argument("out", type=pathlib.Path, help="the PDF to write")
    ap.add_argument("--edition", choices=sorted(NOTE), default="en")
    ap.add_argument("--chapters", type=int, default=12, help="chapters the outline must hold")
    args = ap.parse_args(argv)
    print_pdf(args.html.resolve(), args.out, args.edition)
    problems = verify(args.out, args.edition, args.chapters)
    for p in problems:
        print(f"pdf: {args.out}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
