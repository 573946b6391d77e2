"""The English and Chinese editions in the built book (issue 28, part 3).

Every page links to the same page in the other edition and the link lands there; glossary links
show the other language's term on hover; Chinese figures and tables are numbered 图 and 表; the
Chinese pages' glyphs render in a CJK font (not as boxes); and the Chinese search finds a word
inside a longer phrase (脉动 in 脉动阵列). The rest of the browser suite runs on the Chinese pages
as on the English ones (offline, no console error, math typeset, explorers respond, figures).
"""

from __future__ import annotations

import re
import urllib.parse
from html.parser import HTMLParser

import pytest

from .conftest import HTML, SCREENSHOTS, book_pages, skip_or_fail

CJK = re.compile(r"[\u4e00-\u9fff]")


class _Links(HTMLParser):
    """The counterpart link, the glossary links (href, title) and the <html lang> of a page."""

    def __init__(self):
        super().__init__()
        self.counterpart, self.terms, self.lang = None, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "a" and "aichip-counterpart" in (attrs.get("class") or ""):
            self.counterpart = attrs.get("href")
        if tag == "a" and "glossary.html#term-" in (attrs.get("href") or ""):
            self.terms.append((attrs["href"], attrs.get("title")))


def _links(page: str) -> _Links:
    parsed = _Links()
    parsed.feed((HTML / page).read_text(encoding="utf-8"))
    return parsed


def _need_both():
    if not (HTML / "zh" / "chapters" / "intro.html").exists():
        skip_or_fail("the Chinese edition is not built: run 'make book'")


def test_every_page_links_to_its_counterpart_and_back(book_url):
    _need_both()
    pages = [p for p in book_pages() if not p.endswith(("genindex.html", "search.html"))
             and p not in ("index.html", "zh/index.html")]  # redirects to the intro
    assert sum(p.startswith("zh/") for p in pages) == sum(not p.startswith("zh/") for p in pages)
    for page in pages:
        href = _links(page).counterpart
        assert href, f"{page}: no link to the other edition"
        target = (HTML / page).parent / urllib.parse.unquote(href)
        assert target.resolve().exists(), f"{page}: {href} does not exist"
        other = str(target.resolve().relative_to(HTML))
        assert other == (page[3:] if page.startswith("zh/") else "zh/" + page), (page, other)
        back = (HTML / other).parent / _links(other).counterpart
        assert back.resolve() == (HTML / page).resolve(), f"{other} does not link back to {page}"


def test_pages_declare_their_language(book_url):
    _need_both()
    assert _links("chapters/05_systolic.html").lang.startswith("en")
    assert _links("zh/chapters/05_systolic.html").lang.startswith("zh")


@pytest.mark.parametrize("edition", ["", "zh/"], ids=["English", "Chinese"])
def test_glossary_links_show_the_other_language(book_url, edition):
    _need_both()
    links = [link for page in book_pages() if re.match(rf"{edition}chapters/\d\d_", page)
             for link in _links(page).terms]
    assert len(links) > 100, len(links)
    untitled = [href for href, title in links if not title]
    assert not untitled, f"glossary links with no tooltip: {untitled[:5]}"
    wrong = [(href, title) for href, title in links
             if bool(CJK.search(title)) == bool(edition)]  # English shows Chinese, and back
    assert not wrong, f"tooltips in the page's own language: {wrong[:5]}"


def test_chinese_figures_and_tables_are_numbered_in_chinese(book_url):
    _need_both()
    html = (HTML / "zh" / "chapters" / "03_roofline.html").read_text(encoding="utf-8")
    figures = re.findall(r'<span class="caption-number">([^<]*)</span>', html)
    assert figures and all(f.startswith(("图", "表", "练习")) for f in figures), figures
    assert re.search(r"<span class=\"caption-number\">图 3\.\d", html), figures


def test_language_link_lands_on_the_counterpart(browser, book_url):
    _need_both()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{book_url}/chapters/05_systolic.html", wait_until="domcontentloaded")
    page.locator("a.aichip-counterpart").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.url.endswith("/zh/chapters/05_systolic.html"), page.url
    assert page.evaluate("document.documentElement.lang").startswith("zh")
    assert "脉动阵列" in page.locator("main").inner_text()
    page.locator("a.aichip-counterpart").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.url.endswith("/chapters/05_systolic.html") and "/zh/" not in page.url
    context.close()


# Draw two different characters in the font the page uses for its text: a page without a CJK font
# draws the same box for both (or nothing), one with a CJK font draws two different glyphs.
_GLYPHS = """([a, b]) => {
    const p = document.querySelector('main p');
    const font = getComputedStyle(p).fontSize + ' ' + getComputedStyle(p).fontFamily;
    const draw = ch => {
        const c = document.createElement('canvas');
        c.width = 64; c.height = 64;
        const g = c.getContext('2d');
        g.font = font.replace(/^[0-9.]+px/, '48px');
        g.fillStyle = '#000';
        g.fillText(ch, 4, 52);
        return Array.from(g.getImageData(0, 0, 64, 64).data.filter((_, i) => i % 4 === 3));
    };
    const x = draw(a), y = draw(b);
    const ink = v => v.filter(t => t > 0).length;
    const differ = x.filter((t, i) => t !== y[i]).length;
    return {font, ink_a: ink(x), ink_b: ink(y), differ,
            width: (() => { const s = document.createElement('span'); s.textContent = a + b;
                             p.appendChild(s); const w = s.getBoundingClientRect().width;
                             s.remove(); return w; })(),
            em: parseFloat(getComputedStyle(p).fontSize)};
}"""


def glyphs_render(seen: dict) -> bool:
    """Two different CJK characters drew two different glyphs with ink, about 1 em wide each."""
    return (seen["ink_a"] > 50 and seen["ink_b"] > 50 and seen["differ"] > 50
            and 1.5 * seen["em"] <= seen["width"] <= 2.5 * seen["em"])


def test_glyph_check_fails_on_boxes():
    """The rule above, on what a page without a CJK font measures: two identical boxes."""
    assert not glyphs_render({"ink_a": 400, "ink_b": 400, "differ": 0, "width": 32, "em": 16})
    assert glyphs_render({"ink_a": 380, "ink_b": 420, "differ": 300, "width": 32, "em": 16})


def test_chinese_glyphs_render(browser, book_url):
    _need_both()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{book_url}/zh/chapters/05_systolic.html", wait_until="load")
    seen = page.evaluate(_GLYPHS, ["脉", "阵"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "zh-05_systolic-top.png"))
    context.close()
    assert glyphs_render(seen), (f"Chinese glyphs do not render (no CJK font? Debian's "
                                 f"fonts-noto-cjk; .ci/run installs it): {seen}")


def test_chinese_search_finds_a_word_inside_a_phrase(browser, book_url):
    _need_both()
    systolic = (HTML / "zh" / "chapters" / "05_systolic.html").read_text(encoding="utf-8")
    assert "脉动阵列" in systolic
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{book_url}/zh/search.html?q=" + urllib.parse.quote("脉动"), wait_until="load")
    page.wait_for_function("() => document.querySelectorAll('#search-results li').length > 0 || "
                           "/(没有|did not match)/.test(document.querySelector('#search-results')"
                           "?.textContent || '')", timeout=30_000)
    hits = page.eval_on_selector_all("#search-results li a", "as => as.map(a => a.href)")
    context.close()
    assert any("05_systolic" in h for h in hits), hits


def test_chinese_pages_toggle_code_in_chinese(book_url):
    _need_both()
    html = (HTML / "zh" / "chapters" / "05_systolic.html").read_text(encoding="utf-8")
    assert "显示代码" in html and "Show code cell" not in html
