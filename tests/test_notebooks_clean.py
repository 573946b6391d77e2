"""Book hygiene: notebooks are committed without outputs, every chapter is in the table of contents,
and each chapter has the skeleton every chapter shares."""

import json
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").glob("*.ipynb"))


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_outputs_or_widget_state(path):
    nb = json.loads(path.read_text())
    assert "widgets" not in nb.get("metadata", {}), "saved widget state in notebook metadata"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), "code cell with outputs"
            assert cell.get("execution_count") is None, "code cell with an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_skeleton(path):
    nb = json.loads(path.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for heading in ("Learning objectives", "Key takeaways", "Summary", "Exercises", "References"):
        assert heading in text, f"{path.name} lacks a '{heading}' section"
    assert "{solution}" in text and ":class: dropdown" in text, "solutions must be hidden"
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
                     and "book-setup" not in c.get("metadata", {}).get("tags", []))
    assert "pip install" not in code   # only the hidden setup cell installs (tests/test_launch.py)
    assert "@njit" not in code and "@jit" not in code, "kernels belong in aichip, not notebooks"


def test_every_chapter_is_in_the_toc():
    listed = set(toc_files())
    for path in NOTEBOOKS:
        assert f"chapters/{path.stem}" in listed, f"{path.name} is not in _toc.yml"
    for entry in listed:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), entry


def test_bibliography_parses_without_duplicate_keys():
    from pybtex.database import parse_file

    # pybtex raises on syntax errors and on a key defined twice
    entries = parse_file(str(ROOT / "chapters" / "references.bib")).entries
    assert len(entries) > 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figure_cells_show_only_their_figure(path):
    # myst-nb wraps every display output of a cell with figure metadata in that figure, so a
    # table displayed beside the plot becomes a second figure with the same label, which Sphinx
    # reports as a duplicate target (and `make book`, run with -W, fails on)
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "figure" in cell["metadata"].get("mystnb", {}):
            src = "".join(cell["source"])
            assert "display(" not in src, (
                f"{path.name} cell {cell.get('id')}: display the table in a cell of its own")


def _markdown_sources():
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                yield path.name, "".join(cell["source"])
    for path in sorted((ROOT / "chapters").glob("*.md")):
        yield path.name, path.read_text()


def test_display_math_starts_a_block():
    # a $$ ... $$ line right after a line of text is not display math to myst's parser: it reads
    # a literal $ and inline math, and every $ after it pairs with the wrong partner (chapter 4's
    # attention formula left "\)N \times N\(" all over the page)
    bad = []
    for name, src in _markdown_sources():
        lines = src.split("\n")
        inside = False
        for i, line in enumerate(lines):
            if "$$" not in line:
                continue
            if not inside and i > 0 and lines[i - 1].strip():
                bad.append(f"{name}: {line[:60]!r} follows a line of text: add a blank line")
            if line.count("$$") % 2 == 1:
                inside = not inside
    assert not bad, "\n".join(bad)
