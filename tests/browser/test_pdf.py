"""The PDF path on this machine (``make pdf``; issue 28, part 2): a Chinese chapter page printed by
the same Chromium, read back by ``tools/pdf.py``'s checks: Chinese text extracted, figures numbered
图, and CJK glyphs embedded (the font that `.ci/run` installs). ``make pdf`` prints the whole book
this way; this test keeps the toolchain it needs honest in CI, where printing the book is too slow.
"""

from __future__ import annotations

import importlib.util
import sys

from .conftest import HTML, ROOT, skip_or_fail

_spec = importlib.util.spec_from_file_location("pdf", ROOT / "tools" / "pdf.py")
pdf = importlib.util.module_from_spec(_spec)
sys.modules["pdf"] = pdf
_spec.loader.exec_module(pdf)


def test_a_chinese_page_prints_with_its_glyphs(browser, book_url, tmp_path):
    if not (HTML / "zh" / "chapters" / "03_roofline.html").exists():
        skip_or_fail("the Chinese edition is not built: run 'make book'")
    page = browser.new_page()
    page.goto(f"{book_url}/zh/chapters/03_roofline.html", wait_until="load")
    page.wait_for_function(pdf.WAIT_MATHJAX, timeout=60_000)
    page.add_style_tag(content=pdf.PRINT_CSS)
    page.emulate_media(media="print")
    out = tmp_path / "03.pdf"
    page.pdf(path=str(out), format="A4", outline=True, tagged=True)
    page.close()
    assert pdf.verify(out, "zh", chapters=0, min_links=1, min_chinese=2000) == []


def test_the_check_fails_on_an_english_page_called_chinese(browser, book_url, tmp_path):
    page = browser.new_page()
    page.goto(f"{book_url}/chapters/03_roofline.html", wait_until="load")
    out = tmp_path / "03-en.pdf"
    page.pdf(path=str(out), format="A4")
    page.close()
    problems = pdf.verify(out, "zh", chapters=1, min_links=10_000)
    assert any("numbered chapters" in p for p in problems)
    assert any("internal links" in p for p in problems)
    assert any("Chinese characters" in p for p in problems)
