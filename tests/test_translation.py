"""The Chinese edition (zh/) against the English book: provenance, parity and the tools for it.

The first tests check the repository as it is: every English page has a Chinese translation whose
provenance matches the English source (or that says it is behind), with the same code cells,
headings, labels, cross-reference targets, glossary links, links and numbers. The rest check
``tools/translation.py`` on small pages made here, each planting one disagreement and asserting
that it is reported, so that the first tests cannot pass by the checker seeing nothing.
"""

from __future__ import annotations

import copy
import importlib.util
import pathlib
import re
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("translation", ROOT / "tools" / "translation.py")
tr = importlib.util.module_from_spec(_spec)
sys.modules["translation"] = tr
_spec.loader.exec_module(tr)
sys.path.insert(0, str(ROOT / "_ext"))
import editions  # noqa: E402  (the Sphinx extension, importable from _ext/)

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_PAGES = [p.relative_to(ROOT) for p in tr.english_pages()]


# ---------------------------------------------------------------- the edition as committed


@pytest.mark.parametrize("page", ENGLISH_PAGES, ids=str)
def test_every_page_has_a_translation_in_step(page):
    zh = tr.ZH / page
    assert zh.exists(), f"{page} has no Chinese translation at zh/{page} (zh/README.md says how)"
    assert tr.check_page(zh) == []


def test_toc_lists_the_same_pages():
    assert tr.check_toc() == []


@pytest.mark.parametrize("page", ENGLISH_PAGES, ids=str)
def test_translation_is_chinese(page):
    """Most of each page's prose is Chinese: a page left in English fails."""
    text = re.sub(r"^(```|:::).*$", "", tr.page_markdown(tr.ZH / page), flags=re.M)
    text = re.sub(r"`[^`\n]*`|\$[^$\n]*\$|\]\([^)\n]*\)|<[^>\n]*>", "", text)
    letters = re.findall(r"[A-Za-z]", text)
    chinese = CJK.findall(text)
    assert len(chinese) > 0.6 * len(letters), (
        f"zh/{page}: {len(chinese)} Chinese characters against {len(letters)} Latin letters")


def test_notebooks_committed_stripped_with_provenance():
    for page in tr.translated_pages():
        if page.suffix == ".ipynb":
            nb = tr.read_nb(page)
            assert all(not c.get("outputs") for c in nb["cells"]), page.name
            prov = nb["metadata"][tr.KEY]
            assert prov["source"] == f"chapters/{page.name}"
            assert len(prov["source_sha256"]) == 64 and prov["headings"], page.name


def glossary_terms(text: str) -> list[list[str]]:
    """The term lines of each entry of a glossary directive, in order."""
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S).group(1)
    entries, terms = [], []
    for line in block.splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if line.startswith(" "):
            if terms:
                entries.append(terms)
            terms = []
        else:
            terms.append(line.strip())
    return entries


def test_chinese_glossary_pairs_every_term():
    """Each Chinese entry is [Chinese term, English term], the pair the English glossary gives,
    ordered by English term, so that {term} links resolve in both editions."""
    zh_text = tr.split_front_matter((tr.ZH / "chapters" / "glossary.md").read_text("utf-8"))[1]
    entries = glossary_terms(zh_text)
    assert all(len(e) == 2 for e in entries), [e for e in entries if len(e) != 2][:3]
    pairs = {en.lower(): zh for zh, en in entries}
    assert pairs == editions.chinese_terms()
    english = [en for _, en in entries]
    assert english == sorted(english, key=str.lower)
    assert all(CJK.search(zh) for zh, _ in entries)


# ---------------------------------------------------------------- the tools, on planted pages


FIGURE = {"mystnb": {"figure": {"caption": "Bandwidth against size: 2 plateaus.", "name": "fig-b"},
                     "image": {"alt": "A line falling in 2 steps."}}, "tags": ["hide-input"]}


def _nb(cells):
    return {"cells": [{"cell_type": t, "id": f"cell{i}", "source": s,
                       **({"outputs": [], "execution_count": None,
                           "metadata": copy.deepcopy(FIGURE)} if t == "code" else {"metadata": {}})}
                      for i, (t, s) in enumerate(cells)],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


ENGLISH = [("markdown", "(ch-x)=\n# Title\n\n"
                        "See {ref}`sec-a` and {term}`roofline model`; 3.5 GB/s."),
           ("code", "x = 1\nglue('x', x)"),
           ("markdown", "(sec-a)=\n## Part A\n\n```{figure} a.png\n:name: fig-a\n```\n"
                        "{numref}`fig-a` shows [it](https://example.org/a) 2 times.")]
CHINESE = {0: "(ch-x)=\n# 标题\n\n"
              "见 {ref}`sec-a` 与 {term}`屋顶线模型 <roofline model>`；3.5 GB/s。",
           2: "(sec-a)=\n## 甲部分\n\n```{figure} a.png\n:name: fig-a\n```\n"
              "{numref}`fig-a` 展示了[它](https://example.org/a) 2 次。"}


CAPTION, ALT = "带宽随大小变化：2 个平台。", "一条分 2 级下降的曲线。"


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A one-chapter book with its Chinese translation, imported with the tool."""
    monkeypatch.setattr(tr, "ROOT", tmp_path)
    monkeypatch.setattr(tr, "ZH", tmp_path / "zh")
    (tmp_path / "chapters").mkdir()
    source = tmp_path / "chapters" / "01_x.ipynb"
    tr.write_nb(source, _nb(ENGLISH))
    text = "".join(f"<!-- cell {i} -->\n{t}\n\n" for i, t in CHINESE.items())
    text += f"<!-- cell 1 figure.caption -->\n{CAPTION}\n<!-- cell 1 image.alt -->\n{ALT}\n"
    page = tr.import_notebook(text, source)
    return source, page


def test_import_records_provenance(book):
    source, page = book
    prov = tr.read_nb(page)["metadata"][tr.KEY]
    assert prov["source"] == "chapters/01_x.ipynb"
    assert prov["source_sha256"] == tr.notebook_hash(tr.read_nb(source))
    assert prov["headings"] == [["Title", "标题"], ["Part A", "甲部分"]]
    assert tr.check_page(page) == []
    assert tr.cell_text(tr.read_nb(page)["cells"][1]) == "x = 1\nglue('x', x)"
    meta = tr.read_nb(page)["cells"][1]["metadata"]
    assert meta["mystnb"]["figure"] == {"caption": CAPTION, "name": "fig-b"}
    assert meta["mystnb"]["image"]["alt"] == ALT and meta["tags"] == ["hide-input"]
    assert "<!-- cell 1 figure.caption -->\nBandwidth" in tr.export(source)


def test_caption_edit_is_reported_and_kept_by_sync(book):
    source, page = book
    nb = tr.read_nb(source)
    nb["cells"][1]["metadata"]["mystnb"]["figure"]["caption"] = "Bandwidth: 2 plateaus, 1 cliff."
    tr.write_nb(source, nb)
    assert any("changed after its translation" in p for p in tr.check_page(page))
    assert tr.status() == ["chapters/01_x.ipynb: captions ['1 figure.caption'] changed"]
    tr.sync()  # the code is unchanged: the translated caption stays, and the page stays behind
    assert tr.read_nb(page)["cells"][1]["metadata"]["mystnb"]["figure"]["caption"] == CAPTION
    assert any("changed after its translation" in p for p in tr.check_page(page))


def test_untranslated_caption_is_reported(book):
    source, page = book
    nb = tr.read_nb(page)
    nb["cells"][1]["metadata"]["mystnb"]["image"]["alt"] = FIGURE["mystnb"]["image"]["alt"]
    tr.write_nb(page, nb)
    assert any("['image.alt'] not translated" in p for p in tr.check_page(page))


def _edit(path, index, text):
    nb = tr.read_nb(path)
    nb["cells"][index]["source"] = text
    tr.write_nb(path, nb)


def test_english_edit_after_translation_fails_until_marked_behind(book):
    source, page = book
    _edit(source, 2, ENGLISH[2][1] + "\n\nA new sentence.")
    assert any("changed after its translation" in p for p in tr.check_page(page))
    assert tr.status() == ["chapters/01_x.ipynb: markdown cells [2] changed"]
    tr.mark_behind(page)
    assert tr.check_page(page) == []


def test_code_edit_is_synced_and_restamped(book):
    source, page = book
    _edit(source, 1, "x = 2\nglue('x', x)")
    problems = tr.check_page(page)
    assert any("code cell 1 differs" in p for p in problems)
    assert any("changed after its translation" in p for p in problems)
    tr.sync()
    assert tr.check_page(page) == []


@pytest.mark.parametrize("old, new, what", [
    ("## 甲部分", "### 甲部分", "heading levels differ"),
    ("(sec-a)=\n", "", "labels only in English ['sec-a']"),
    (":name: fig-a", ":name: fig-b", "labels only in English ['fig-a']"),
    ("{figure} a.png", "{figure} b.png", "figures only in English ['a.png']"),
    ("{term}`屋顶线模型 <roofline model>`", "屋顶线模型", "references only in English"),
    ("(https://example.org/a)", "(https://example.org/b)", "links only in English"),
    ("3.5 GB/s", "35 GB/s", "numbers only in English ['3.5']"),
    ("2 次", "两次", "numbers only in English ['2']"),
])
def test_each_disagreement_is_reported(book, old, new, what):
    _, page = book
    nb = tr.read_nb(page)
    for cell in nb["cells"]:
        cell["source"] = tr.cell_text(cell).replace(old, new)
    tr.write_nb(page, nb)
    assert any(what in p for p in tr.check_page(page)), tr.check_page(page)


def test_cells_must_match_one_for_one(book):
    _, page = book
    nb = tr.read_nb(page)
    nb["cells"].insert(1, {"cell_type": "markdown", "metadata": {}, "source": "多出的一段"})
    tr.write_nb(page, nb)
    assert any("one for one" in p for p in tr.check_page(page))


def test_import_rejects_missing_cell(book):
    source, _ = book
    with pytest.raises(ValueError, match=r"missing \['1 figure.caption', '1 image.alt', '2'\]"):
        tr.import_notebook(f"<!-- cell 0 -->\n{CHINESE[0]}\n", source)


def test_assemble_takes_the_english_execution_and_marks_a_behind_page(book, tmp_path):
    from jupyter_cache import get_cache

    source, page = book
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(
        {"title": "t", "execute": {"execute_notebooks": "cache"}, "sphinx": {"config": {}}}))
    (tmp_path / "chapters" / "references.bib").write_text("")
    tr.ZH.joinpath("_toc.yml").write_text("root: chapters/01_x\n")
    _edit(source, 0, ENGLISH[0][1] + " More.")
    tr.mark_behind(page)
    out, cache = tmp_path / "_build" / "zh_src", tmp_path / "_build" / ".jupyter_cache"
    with pytest.raises(SystemExit, match="no execution"):
        tr.assemble(out, cache)
    ran = tr.read_nb(source)   # the English build's execution: the same cells with an output
    ran["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ran 1\n"}]
    tr.write_nb(tmp_path / "ran.ipynb", ran)
    get_cache(str(cache)).cache_notebook_file(str(tmp_path / "ran.ipynb"), check_validity=False)
    tr.assemble(out, cache)
    built = tr.read_nb(out / "chapters" / "01_x.ipynb")
    assert "".join(built["cells"][1]["outputs"][0]["text"]) == "ran 1\n"
    assert built["cells"][1]["metadata"]["mystnb"]["figure"]["caption"] == CAPTION
    first = tr.cell_text(built["cells"][0])
    assert "译文落后于英文原文" in first and "../../chapters/01_x.html" in first
    config = yaml.safe_load((out / "_config.yml").read_text())
    assert config["sphinx"]["config"]["language"] == "zh_CN"
    assert config["execute"]["execute_notebooks"] == "off"


# ---------------------------------------------------------------- the Sphinx extension


@pytest.mark.parametrize("page, edition, url", [
    ("chapters/03_roofline", "en", "../zh/chapters/03_roofline.html"),
    ("chapters/03_roofline", "zh", "../../chapters/03_roofline.html"),
    ("genindex", "en", "zh/genindex.html"),
    ("genindex", "zh", "../genindex.html"),
])
def test_counterpart_urls(page, edition, url):
    assert editions.counterpart_url(page, edition) == url


def test_glossary_tooltips_from_the_english_glossary():
    terms = editions.chinese_terms()
    assert terms["roofline model"] == "屋顶线模型" or CJK.search(terms["roofline model"])
    assert len(terms) == len(editions.english_terms()) > 100


def test_numbers_are_found_next_to_chinese_characters():
    assert tr.numbers("见第9章，共 3.5 GB/s，FP8 与 H100 不算") == {"9": 1, "3.5": 1}


@pytest.mark.parametrize("page", ENGLISH_PAGES, ids=str)
def test_emphasis_renders_in_both_editions(page):
    """No '**' or '__' is left as literal text once rendered (CommonMark does not open bold between
    a Chinese character and a role or punctuation, so a translation can break it silently)."""
    from markdown_it import MarkdownIt  # myst-parser's Markdown parser

    md = MarkdownIt("commonmark")
    for edition in (ROOT, tr.ZH):
        text = tr.page_markdown(edition / page)
        text = re.sub(r"^(```|:::).*$", "", text, flags=re.M)   # directive fences, not text
        tokens = [t for block in md.parse(text) for t in (block.children or [])]
        literal = [t.content for t in tokens if t.type == "text" and "**" in t.content]
        assert not literal, f"{edition.name}/{page}: unrendered bold: {literal[:3]}"


def test_import_refuses_to_stamp_an_untranslated_change(book):
    """Re-importing the old Chinese over a changed English cell would mark the change translated."""
    source, page = book
    _edit(source, 2, ENGLISH[2][1] + "\n\nA new sentence.")
    text = tr.export(page)  # the Chinese as it is, cell 2 not updated
    with pytest.raises(ValueError, match=r"\['2 markdown'\] changed"):
        tr.import_notebook(text, source)
    updated = text.replace("2 次。", "2 次。\n\n新的一句。")
    tr.import_notebook(updated, source)
    assert tr.check_page(page) == []
