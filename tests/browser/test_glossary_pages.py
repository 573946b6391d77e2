"""The glossary and the reading list in the built book (issue 17, parts 3 and 4).

The HTML checks read _build/html directly; the last test follows a term link in headless Chromium
and keeps screenshots of both pages in _build/screenshots/. Like the other browser tests they skip
when the book is not built (and fail under CI=true).
"""

from __future__ import annotations

import csv
import re
import urllib.parse
from html.parser import HTMLParser

import pytest

from .conftest import HTML, ROOT, SCREENSHOTS, skip_or_fail

GLOSSARY = HTML / "chapters" / "glossary.html"
READING = HTML / "chapters" / "reading_list.html"
AWAITING_SCALING: set[str] = set()  # as in tests/test_glossary.py


class _Page(HTMLParser):
    """Ids, term definitions (dt ids) and links of a page."""

    def __init__(self):
        super().__init__()
        self.ids, self.terms, self.links = set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
            if tag == "dt" and attrs["id"].startswith("term-"):
                self.terms.append(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def _parse(path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_glossary_page_defines_the_terms(book_url):
    page = _parse(GLOSSARY)
    assert len(page.terms) >= 80, len(page.terms)
    html = GLOSSARY.read_text(encoding="utf-8")
    # every definition carries its Chinese term and a resolved link to a chapter section
    for dd in re.findall(r"<dd>(.*?)</dd>", html, re.S):
        assert re.search(r"<strong>[^<]*[\u4e00-\u9fff][^<]*</strong>", dd), dd[:200]
        assert re.search(r'<a class="reference internal" href="\d\d_[a-z_]+\.html#sec-', dd), \
            dd[:300]


@pytest.mark.parametrize("edition", ["", "zh/"], ids=["English", "Chinese"])
def test_chapter_term_links_land_on_glossary_terms(book_url, edition):
    glossary = HTML / edition / "chapters" / "glossary.html"
    if not glossary.exists():
        skip_or_fail(f"no {edition or 'English '}glossary page: run 'make book'")
    # {dt id: term}: the English terms (the Chinese glossary defines each of them beside its
    # Chinese term; Sphinx may give it another id there when the two terms' ids collide)
    terms = dict(re.findall(r'<dt id="(term-[^"]+)">([^<]*)', glossary.read_text("utf-8")))
    english = {t.lower() for t in re.findall(r'<dt id="term-[^"]+">([^<]*)',
                                              GLOSSARY.read_text("utf-8"))}
    assert english <= {t.lower() for t in terms.values()}, "terms missing from the glossary"
    linked = set()
    for chapter in sorted((HTML / edition / "chapters").glob("[0-9][0-9]_*.html")):
        for href in _parse(chapter).links:
            parts = urllib.parse.urlsplit(href)
            if parts.path == "glossary.html" and parts.fragment.startswith("term-"):
                assert parts.fragment in terms, f"{chapter.name}: {href} names no glossary term"
                linked.add(terms[parts.fragment].lower())
    missing = {t for t in english - linked if t not in AWAITING_SCALING}
    assert not missing, f"glossary terms no chapter page links to: {sorted(missing)}"


def test_reading_list_page_links_every_article(book_url):
    with (ROOT / "chapters" / "reading_list.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    links = _parse(READING).links
    for row in rows:
        assert row["address"] in links, row["title"]
    html = READING.read_text(encoding="utf-8")
    assert "not covered" in html.lower()
    assert len(re.findall(r'class="reference internal" href="\d\d_', html)) >= len(rows) // 2


def test_term_link_opens_the_glossary_entry(browser, book_url):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{book_url}/chapters/05_systolic.html", wait_until="load")
    link = page.locator("a[href^='glossary.html#term-']").first
    target = urllib.parse.urlsplit(link.get_attribute("href")).fragment
    link.click()
    page.wait_for_load_state("load")
    assert page.url.split("#")[0].endswith("/chapters/glossary.html"), page.url
    assert page.url.endswith("#" + target)
    entry = page.locator(f"dt#{target}")
    assert entry.is_visible()
    box = entry.bounding_box()
    assert box is not None and 0 <= box["y"] < 900, f"{target} is not scrolled into view: {box}"
    page.screenshot(path=str(SCREENSHOTS / "glossary-after-term-click.png"))
    page.goto(f"{book_url}/chapters/reading_list.html", wait_until="load")
    page.screenshot(path=str(SCREENSHOTS / "reading_list-top.png"))
    context.close()
