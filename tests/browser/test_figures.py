"""Chapter pages teach on their own: numbered figures with captions and alt text, no table cut off.

On each chapter page of the built book, in headless Chromium:

- every figure produced by a notebook cell is a ``<figure>`` with a number ("Fig. 5.2") and a
  caption that says something beyond the number;
- every image in the page's content has alt text that describes it, not a file path (myst-nb's
  default alt text is the image's path); widget snapshots are left to the explorer tests;
- no table is cut off: a table wider than its column sits in a box that scrolls horizontally and
  draws its scroll bar, never in one that hides the overflow or lets it run under the sidebar.

Chromium runs without Playwright's default ``--hide-scrollbars``, so that a scroll bar takes room
on the page as it does for a reader, and the test can see it. A screenshot of every chapter page
is kept in ``_build/screenshots/figures/``.
"""

from __future__ import annotations

import re

import pytest

from .conftest import CHROMIUM_ARGS, HTML, SCREENSHOTS, book_pages, chromium_path

CHAPTERS = [p for p in book_pages() if re.match(r"chapters/\d\d_", p)]

# alt text that is a path or file name rather than a description
PATHLIKE = re.compile(r"(^|/)[^ ]*\.(png|jpe?g|svg|gif|webp)$|^\.{0,2}/|^_images/|^[0-9a-f]{16,}",
                      re.IGNORECASE)

_INSPECT = """() => {
    const main = document.querySelector('main') || document.body;
    const inWidget = e => !!e.closest(
        '.jupyter-widgets, .widget-output, .jupyter-widgets-output-area');
    const visible = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
    const figures = [...main.querySelectorAll('figure')].filter(f => !inWidget(f)).map(f => {
        const cap = f.querySelector('figcaption');
        const number = cap ? (cap.querySelector('.caption-number') || {}).textContent || '' : '';
        const text = cap ? cap.textContent.replace(number, '').trim() : '';
        return {id: f.id, number: number.trim(), caption: text,
                images: f.querySelectorAll('img').length};
    });
    const outputImages = [...main.querySelectorAll('.cell_output img')].filter(i => !inWidget(i))
        .map(i => ({src: i.getAttribute('src'), alt: i.getAttribute('alt') || '',
                    inFigure: !!i.closest('figure'),
                    captioned: !!(i.closest('figure')
                                  && i.closest('figure').querySelector('figcaption'))}));
    const images = [...main.querySelectorAll('img')].filter(i => !inWidget(i))
        .map(i => ({src: i.getAttribute('src'), alt: i.getAttribute('alt') || ''}));
    const article = (main.querySelector('article') || main).getBoundingClientRect();
    const shown = [...main.querySelectorAll('table')].filter(t => visible(t) && !inWidget(t));
    const tables = shown.map((t, n) => {
        const head = (t.querySelector('th, td') || {}).textContent || '';
        const desc = `table ${n} (${t.rows.length} rows, first cell '${head.trim().slice(0, 30)}')`;
        for (let e = t; e && e !== main.parentElement; e = e.parentElement) {
            if (e.scrollWidth <= e.clientWidth + 1) continue;
            const cs = getComputedStyle(e);
            if (cs.overflowX === 'auto' || cs.overflowX === 'scroll') {
                const borders = parseFloat(cs.borderTopWidth) + parseFloat(cs.borderBottomWidth);
                const bar = e.offsetHeight - e.clientHeight - borders;
                const box = e.getBoundingClientRect();
                const state = bar <= 0 ? 'scrolls without a visible bar'
                    : box.height > window.innerHeight
                        ? 'scrolls, but its bar is a screen below its top'
                    : 'scrolls';
                return {desc, state,
                        bar, overflows: box.right > article.right + 1,
                        hidden: e.scrollWidth - e.clientWidth};
            }
            if (cs.overflowX === 'hidden' || cs.overflowX === 'clip') {
                return {desc, state: 'cut off by overflow ' + cs.overflowX + ' on ' + e.tagName,
                        hidden: e.scrollWidth - e.clientWidth};
            }
        }
        const r = t.getBoundingClientRect();
        return {desc, state: r.right > article.right + 1 ? 'runs past the column' : 'fits',
                hidden: Math.max(0, r.right - article.right)};
    });
    return {figures, outputImages, images, tables};
}"""


@pytest.fixture(scope="module")
def reader_browser(browser):
    """Chromium as a reader has it: scroll bars drawn (Playwright hides them by default). Launched
    from the session's Playwright (conftest's ``browser``): one process may run only one."""
    reader = browser.browser_type.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                                         headless=True, ignore_default_args=["--hide-scrollbars"])
    yield reader
    reader.close()


def _inspect(browser, url: str, page_name: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("data:", "blob:", "http://127.0.0.1")) else route.abort())
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    seen = page.evaluate(_INSPECT)
    shots = SCREENSHOTS / "figures"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / (page_name.replace("/", "__") + ".png")), full_page=True)
    context.close()
    return seen


def test_chapter_pages_found(book_url):
    assert len(CHAPTERS) >= 10, f"chapter pages under {HTML}: {CHAPTERS}"


@pytest.mark.skipif(not CHAPTERS, reason="the book is not built: run 'make book' first")
@pytest.mark.parametrize("page_name", CHAPTERS)
def test_figures_captioned_and_tables_not_cut_off(reader_browser, book_url, page_name):
    seen = _inspect(reader_browser, f"{book_url}/{page_name}", page_name)
    problems = []
    assert seen["outputImages"], f"{page_name}: no figure at all (did the chapter execute?)"
    for img in seen["outputImages"]:
        if not img["captioned"]:
            problems.append(f"figure without a caption: {img['src']}")
    for fig in seen["figures"]:
        if not re.match(r"Fig\. \d+\.\d+", fig["number"]):
            problems.append(f"figure {fig['id'] or '?'} has no number "
                            f"(caption: {fig['caption'][:60]!r})")
        if len(fig["caption"]) < 20:
            problems.append(f"figure {fig['id'] or '?'}: caption too short to say what to see: "
                            f"{fig['caption']!r}")
    for img in seen["images"]:
        alt = img["alt"].strip()
        if not alt:
            problems.append(f"image without alt text: {img['src']}")
        elif PATHLIKE.search(alt) or alt == img["src"]:
            problems.append(f"alt text is a path, not a description: {alt!r}")
    for table in seen["tables"]:
        if table["state"] not in ("fits", "scrolls") or table.get("overflows"):
            problems.append(f"{table['desc']} {table['state']} ({table['hidden']:.0f} px hidden)")
    assert not problems, f"{page_name}:\n" + "\n".join(problems)
