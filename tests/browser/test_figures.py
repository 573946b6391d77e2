"""Chapter pages teach on their own: numbered figures with captions and alt text, no table cut off.

On each chapter page of the built book, in headless Chromium:

- every figure made by a notebook cell is a ``<figure>`` with a number ("Fig. 5.2", 图 5.2) and a
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

from .conftest import CHROMIUM_ARGS, HTML, SCREENSHOTS, chapter_pages, chromium_path

CHAPTERS = chapter_pages()  # both editions

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
        if not re.match(r"(Fig\.|图) \d+\.\d+", fig["number"]):  # English or Chinese edition
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


# -- legibility: every figure is shown at a size where its text can be read ---------------------
#: the least a figure's point (1/72 inch at the resolution it was saved at) may shrink to on the
#: page, in CSS pixels: matplotlib's 10-point labels then show at least 8 pixels high
MIN_PX_PER_POINT = 0.8

# every shown PNG in the page's content: its natural and displayed widths, and the resolution
# matplotlib wrote into it (the pHYs chunk, pixels per metre)
_IMAGES = """async () => {
    const main = document.querySelector('main') || document.body;
    const out = [];
    for (const img of main.querySelectorAll('img')) {
        if (!img.offsetParent || !img.complete || !img.naturalWidth) continue;
        let dpi = null;
        try {
            const b = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            for (let i = 8; i + 12 <= b.length; ) {
                const len = ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
                const type = String.fromCharCode(b[i + 4], b[i + 5], b[i + 6], b[i + 7]);
                if (type === 'pHYs') {
                    const ppm = ((b[i + 8] << 24) | (b[i + 9] << 16) | (b[i + 10] << 8)
                                 | b[i + 11]) >>> 0;
                    if (b[i + 16] === 1) dpi = ppm * 0.0254;
                    break;
                }
                if (type === 'IDAT') break;
                i += 12 + len;
            }
        } catch (e) { dpi = null; }
        out.push({src: (img.getAttribute('src') || '').slice(0, 60), natural: img.naturalWidth,
                  shown: img.getBoundingClientRect().width, dpi,
                  widget: !!img.closest('.jupyter-widgets, .widget-output')});
    }
    return out;
}"""


def legibility_problems(images: list[dict]) -> list[str]:
    """What is wrong with each image's size on the page: shrunk so far that a point is below
    :data:`MIN_PX_PER_POINT` CSS pixels, or enlarged beyond its pixels (blurred)."""
    problems = []
    for img in images:
        where = ("explorer view " if img["widget"] else "figure ") + img["src"]
        if img["shown"] > img["natural"] + 1:
            problems.append(f"{where}: {img['natural']} px wide, enlarged to {img['shown']:.0f}")
        if img["dpi"]:
            width_pt = img["natural"] / img["dpi"] * 72
            px_per_pt = img["shown"] / width_pt
            if px_per_pt < MIN_PX_PER_POINT:
                problems.append(
                    f"{where}: {width_pt / 72:.1f} inches at {img['dpi']:.0f} dpi shown "
                    f"{img['shown']:.0f} px wide, {px_per_pt:.2f} px per point (< "
                    f"{MIN_PX_PER_POINT}): make the figure narrower (at most "
                    f"{img['shown'] / MIN_PX_PER_POINT / 72:.1f} inches) or its text larger")
    return problems


def test_legibility_check_fails_on_a_shrunk_figure():
    """The check itself: a 16-inch explorer figure at 72 dpi shown 684 px wide (chapter 11's
    before this check) fails; a 10-inch one at 100 dpi passes; a blown-up one fails."""
    shrunk = {"src": "a", "natural": 1152, "shown": 684, "dpi": 72.0, "widget": True}
    fits = {"src": "b", "natural": 1000, "shown": 684, "dpi": 100.0, "widget": True}
    blown = {"src": "c", "natural": 300, "shown": 684, "dpi": 100.0, "widget": False}
    assert legibility_problems([fits]) == []
    assert "0.59 px per point" in legibility_problems([shrunk])[0]
    assert "enlarged" in legibility_problems([blown])[0]


@pytest.mark.skipif(not CHAPTERS, reason="the book is not built: run 'make book' first")
@pytest.mark.parametrize("page_name", CHAPTERS)
def test_figures_legible_at_the_size_shown(browser, book_url, page_name):
    """Every figure and every explorer's shown view, in a 1280-pixel-wide window."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("data:", "blob:", "http://127.0.0.1")) else route.abort())
    page.goto(f"{book_url}/{page_name}", wait_until="load")
    html = (HTML / page_name).read_text(encoding="utf-8")
    n_explorers = html.count("aichip-static-explorer")
    if n_explorers:   # the widget manager renders the explorers after the page has loaded
        try:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.aichip-static-explorer')].every("
                "e => e.querySelector('img, pre')) && document.querySelector("
                "'.aichip-static-explorer')", timeout=60_000)
        except Exception:  # noqa: BLE001 - the explorer test reports explorers that do not render
            pass
    images = page.evaluate(_IMAGES)
    context.close()
    assert images, f"{page_name}: no image shown"
    problems = legibility_problems(images)
    assert not problems, f"{page_name}:\n" + "\n".join(problems)
