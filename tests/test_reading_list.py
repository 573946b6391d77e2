"""The reading-list appendix (chapters/reading_list.md) lists every article of the seed's reading
list, by title and address, each with one line naming the section that treats its subject or
saying that none does.

The seed's list lives outside this repository (``../shared/reading_list.md`` next to the
checkout); ``chapters/reading_list.csv`` is the repository's copy of its rows. Where the seed's file
is present, the copy must equal it; the page is checked against the copy everywhere.
"""

from __future__ import annotations

import csv
import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
PAGE = CHAPTERS / "reading_list.md"
COPY = CHAPTERS / "reading_list.csv"
SEED_CANDIDATES = [ROOT.parent / "shared" / "reading_list.md",
                   ROOT.parent.parent / "shared" / "reading_list.md"]


def copied_rows() -> list[dict[str, str]]:
    with COPY.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["section", "title", "address"], reader.fieldnames
        return list(reader)


def seed_rows(path: pathlib.Path) -> list[dict[str, str]]:
    """The rows of the seed's markdown table (section | title | address)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and len(cells) == 3 and cells[0] not in ("section", "---"):
            rows.append(dict(zip(["section", "title", "address"], cells, strict=True)))
    return rows


def page_items(text: str) -> list[tuple[str, str, str]]:
    """``(title, address, line)`` for every list item of the page."""
    items = []
    for line in text.splitlines():
        if line.startswith("- "):
            m = re.match(r"- \[(.+)\]\((\S+)\) — (.+)$", line)
            assert m, f"list item not of the form '- [title](address) — line': {line!r}"
            items.append(m.groups())
    return items


def all_labels() -> set[str]:
    labels = set()
    for path in CHAPTERS.iterdir():
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        elif path.suffix == ".md":
            text = path.read_text(encoding="utf-8")
        else:
            continue
        labels |= set(re.findall(r"^\(([a-z0-9-]+)\)=\s*$", text, re.M))
    return labels


ROWS = copied_rows()
ITEMS = page_items(PAGE.read_text(encoding="utf-8"))


def test_copy_has_rows_with_titles_and_addresses():
    assert len(ROWS) >= 80, len(ROWS)
    for row in ROWS:
        assert row["section"] and row["title"], row
        assert re.match(r"https?://\S+$", row["address"]), row


def test_copy_equals_the_seed_list():
    seed = next((p for p in SEED_CANDIDATES if p.exists()), None)
    if seed is None:
        pytest.skip("the seed's reading_list.md is not next to this checkout")
    assert ROWS == seed_rows(seed)


def test_every_entry_is_on_the_page_once():
    on_page = [(title, address) for title, address, _ in ITEMS]
    for row in ROWS:
        n = on_page.count((row["title"], row["address"]))
        assert n == 1, f"{row['title']!r} ({row['address']}) is on the page {n} times"
    assert len(on_page) == len(ROWS), "the page lists articles that are not in the reading list"


def test_every_entry_says_where_it_is_treated():
    labels = all_labels()
    for title, _, line in ITEMS:
        refs = re.findall(r"\{ref\}`([^`]+)`", line)
        assert refs or "not covered" in line.lower(), f"{title!r}: no section and not 'not covered'"
        for ref in refs:
            assert ref in labels, f"{title!r}: {{ref}}`{ref}` names no label"


def test_appendix_lists_glossary_and_reading_list():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    appendix = next(p for p in toc["parts"] if p["caption"] == "Appendix")
    files = [c["file"] for c in appendix["chapters"]]
    assert "chapters/glossary" in files and "chapters/reading_list" in files, files


def test_parsers_see_what_they_should():
    assert page_items("x\n- [标题 (a)](https://e.org/p*q) — Not covered: it.\n") == [
        ("标题 (a)", "https://e.org/p*q", "Not covered: it.")]
