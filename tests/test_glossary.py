"""The glossary (chapters/glossary.md): every term has a Chinese name, a short definition and a link
to the chapter section that explains it, and every term is linked with {term} from a chapter.

These checks read the sources, so they need no book build; the -W -n build checks the same links
once more (an unresolved {term} or {ref} is a warning), and tests/browser/test_glossary_pages.py
checks them in the built HTML.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
GLOSSARY = CHAPTERS / "glossary.md"
SCALING_CHAPTER = CHAPTERS / "11_scaling.ipynb"
# Terms of the scaling chapter that no other chapter uses yet: they need not be linked until that
# chapter exists (then they must be, like every other term).
AWAITING_SCALING: set[str] = set()  # terms waiting for a chapter to link them: none
CJK = re.compile(r"[\u4e00-\u9fff]")
TERM_ROLE = re.compile(r"\{term\}`([^`]*)`")
LABEL = re.compile(r"^\((sec-[a-z0-9-]+)\)=\s*$", re.M)


def glossary_entries(text: str) -> dict[str, str]:
    """``{term: definition}`` from the glossary directive of a MyST page."""
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S)
    assert block, "no ```{glossary} directive"
    entries: dict[str, list[str]] = {}
    term = None
    for line in block.group(1).splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if line.startswith("  "):
            assert term is not None, f"definition line before any term: {line!r}"
            entries[term].append(line.strip())
        else:
            term = line.strip()
            assert term.lower() not in {t.lower() for t in entries}, f"term {term!r} twice"
            entries[term] = []
    return {t: " ".join(d) for t, d in entries.items()}


def chapter_markdown() -> dict[str, str]:
    """The markdown cells of every chapter notebook, joined, by file name."""
    out = {}
    for path in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        out[path.name] = "\n".join("".join(c["source"]) for c in cells
                                   if c["cell_type"] == "markdown")
    return out


def term_targets(text: str) -> list[str]:
    """The glossary terms that {term} roles in ``text`` point to (lower case, as Sphinx matches)."""
    targets = []
    for content in TERM_ROLE.findall(text):
        explicit = re.fullmatch(r"(.*?)\s*<([^<>]+)>", content, re.S)
        targets.append((explicit.group(2) if explicit else content).strip().lower())
    return targets


def section_labels(texts) -> set[str]:
    return {label for text in texts for label in LABEL.findall(text)}


ENTRIES = glossary_entries(GLOSSARY.read_text(encoding="utf-8"))
CHAPTER_MD = chapter_markdown()


def test_glossary_has_at_least_80_terms():
    assert len(ENTRIES) >= 80, f"only {len(ENTRIES)} terms"


@pytest.mark.parametrize("term", sorted(ENTRIES), ids=str)
def test_term_has_chinese_name_definition_and_section(term):
    definition = ENTRIES[term]
    m = re.match(r"\*\*([^*]+)\*\* · (.+?) Explained in \{ref\}`(sec-[a-z0-9-]+)` "
                 r"\(\{ref\}`(ch-[a-z]+)`\)\.$", definition)
    assert m, f"{term!r}: expected '**中文** · definition Explained in {{ref}}`sec-...` " \
              f"({{ref}}`ch-...`).', got {definition!r}"
    chinese, text, label, chapter = m.groups()
    assert CJK.search(chinese), f"{term!r}: {chinese!r} has no Chinese characters"
    sentences = re.findall(r"[.!?](?:\s|$)", text)
    assert 1 <= len(sentences) <= 2 and len(text.split()) >= 8, \
        f"{term!r}: the definition should be one or two sentences: {text!r}"
    # the section must exist, and in the chapter named beside it
    owner = [name for name, md in CHAPTER_MD.items() if f"({label})=" in md]
    assert owner, f"{term!r}: section label {label} is not defined in any chapter"
    assert f"({chapter})=" in CHAPTER_MD[owner[0]], \
        f"{term!r}: {label} is in {owner[0]}, not in the chapter {chapter}"


def test_every_term_is_linked_from_a_chapter():
    linked = {t for md in CHAPTER_MD.values() for t in term_targets(md)}
    awaiting = set() if SCALING_CHAPTER.exists() else AWAITING_SCALING
    unlinked = sorted(t for t in ENTRIES if t.lower() not in linked and t.lower() not in awaiting)
    assert not unlinked, f"glossary terms no chapter links with {{term}}: {unlinked}"


def test_awaiting_list_is_current():
    """The terms waiting for the scaling chapter are glossary terms no chapter links yet."""
    terms = {t.lower() for t in ENTRIES}
    assert AWAITING_SCALING <= terms, AWAITING_SCALING - terms
    linked = {t for md in CHAPTER_MD.values() for t in term_targets(md)}
    assert not AWAITING_SCALING & linked, \
        f"{sorted(AWAITING_SCALING & linked)} are linked now: remove them from AWAITING_SCALING"


def test_every_term_link_in_the_chapters_resolves():
    terms = {t.lower() for t in ENTRIES}
    for name, md in CHAPTER_MD.items():
        bad = sorted(set(term_targets(md)) - terms)
        assert not bad, f"{name} links terms the glossary lacks: {bad}"


def test_section_labels_are_unique_and_sit_on_headings():
    seen: dict[str, str] = {}
    for name, md in CHAPTER_MD.items():
        for m in LABEL.finditer(md):
            label = m.group(1)
            assert label not in seen, f"{label} defined in {seen[label]} and {name}"
            seen[label] = name
            following = md[m.end():].lstrip("\n").split("\n", 1)[0]
            assert re.match(r"#{1,4} ", following), f"{name}: ({label})= is not above a heading"


def test_term_roles_stay_out_of_headings():
    for name, md in CHAPTER_MD.items():
        for line in md.splitlines():
            assert not (line.startswith("#") and "{term}" in line), f"{name}: {line!r}"


def test_parsers_see_what_they_should():
    """The helpers above find what they are meant to (so that the tests cannot pass vacuously)."""
    sample = ("```{glossary}\n:sorted:\n\nfoo\n  **福** · A foo.\n\n"
              "bar baz\n  **吧** · Bar\n  baz.\n```")
    assert glossary_entries(sample) == {"foo": "**福** · A foo.", "bar baz": "**吧** · Bar baz."}
    assert term_targets("a {term}`Warps <warp>` and {term}`HBM` b") == ["warp", "hbm"]
    assert section_labels(["(sec-a-b)=\n## A", "x (sec-no)= y"]) == {"sec-a-b"}
