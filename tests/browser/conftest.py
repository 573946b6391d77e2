"""Fixtures for the browser tests: the built book served on 127.0.0.1 and a headless Chromium.

These tests need ``_build/html`` (``make book``) and a Chromium binary (Debian package
``chromium``; set ``AICHIP_CHROMIUM`` to use another). Playwright drives it; ``playwright install``
is never needed. Without Chromium or a built book the tests skip and say how to enable them;
under ``CI=true`` they fail instead, so that CI never passes with the browser tests unrun.
"""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
import re
import shutil
import threading

import pytest
from playwright.sync_api import sync_playwright  # a pinned requirement; needs no browser download

ROOT = pathlib.Path(__file__).resolve().parents[2]
# AICHIP_BOOK_HTML tests another build of the book (e.g. one made with --path-output)
HTML = pathlib.Path(os.environ.get("AICHIP_BOOK_HTML", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = HTML.parent / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--disable-quic"]


def chromium_path() -> str | None:
    return os.environ.get("AICHIP_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")


def book_pages() -> list[str]:
    """Every HTML page of the built book, as paths relative to _build/html."""
    if not HTML.is_dir():
        return []
    skip = {"_static", "_sources", "_images", "vendor", "_downloads", "jupyter_execute"}
    return sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html")
                  if not skip & set(p.relative_to(HTML).parts)
                  and not any(part.startswith(".") for part in p.relative_to(HTML).parts))


def report_name() -> str:
    """report.json, or report-gwN.json in pytest-xdist worker gwN (when run with -n)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"report-{worker}.json" if worker else "report.json"


def chapter_pages() -> list[str]:
    """The chapter pages of both editions (English, then Chinese under zh/), relative to HTML."""
    return [p for p in book_pages() if re.match(r"(zh/)?chapters/\d\d_", p)]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


def skip_or_fail(why: str) -> None:
    """Skip with ``why``, or fail under CI, where the browser tests must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{why}; CI must run the browser tests, not skip them", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def book_url():
    if not (HTML / "index.html").exists():
        skip_or_fail("the book is not built: run 'make book' first (make test does)")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    exe = chromium_path()
    if exe is None:
        skip_or_fail("no Chromium found: install Debian's 'chromium' package (apt-get install "
                     "chromium; .ci/run does this) or set AICHIP_CHROMIUM=/path/to/chrome")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
