"""code/README.md's table of which chapter uses which aichip modules is what the chapters import."""

import ast
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "code" / "aichip"


def _is_module(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def chapter_modules(notebook: pathlib.Path) -> set[str]:
    """The aichip modules (dotted, without ``aichip.``) that a chapter's code cells import."""
    found = set()
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if source.lstrip().startswith(("%", "!")):
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("aichip.")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aichip":
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if _is_module(full[len("aichip."):]) else node.module)
    return {m[len("aichip."):] for m in found if m != "aichip"}


def readme_table() -> dict[str, set[str]]:
    """The README's rows: chapter file name -> the modules listed beside it."""
    text = (ROOT / "code" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\d\d_\w+\.ipynb)` \| (.*) \|$", text, flags=re.M)
    return {name: set(re.findall(r"`([\w.]+)`", modules)) for name, modules in rows}


def test_readme_lists_every_chapter_with_the_modules_it_imports():
    chapters = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    assert len(chapters) >= 11
    derived = {path.name: chapter_modules(path) for path in chapters}
    assert derived["05_systolic.ipynb"] >= {"systolic", "widgets.systolic"}  # the scan finds them
    assert readme_table() == derived, (
        "code/README.md's chapter table is out of date; the chapters import:\n"
        + "\n".join(f"| `{n}` | {', '.join(f'`{m}`' for m in sorted(ms))} |"
                    for n, ms in derived.items()))
