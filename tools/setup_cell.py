"""The setup cell every chapter notebook carries, and the tool that writes it (issue 17, part 2).

A chapter opened outside the book's environment (Colab's launch button, or a notebook downloaded
from the HTML book and opened in any Jupyter) fails on ``import aichip``. Each chapter therefore
has, right after its title, a small code cell that installs the book's package when it is missing,
pinned to the git tag of the package version in ``code/pyproject.toml``, with the chapters' other
needs (``myst-nb`` for ``glue``, ``mpi4py`` and MPICH for the real MPI runs). Where ``aichip`` is
importable (``make lab``, ``make book``, nbmake, Binder) the cell does nothing. The cell is tagged
``remove-cell`` so that the HTML book does not show it.

The launch buttons open the notebooks at the same tag (``repository.branch`` in ``_config.yml``),
so the notebook and the package a reader gets come from one commit. A release therefore:

1. sets ``version`` in ``code/pyproject.toml``;
2. runs ``python tools/setup_cell.py``, which rewrites the pin in every chapter's setup cell and
   ``repository.branch`` in ``_config.yml`` (``--check`` only reports what it would change);
3. commits, tags that commit ``v<version>`` and pushes the tag.

A new chapter gets its setup cell the same way: ``python tools/setup_cell.py`` inserts it after
the chapter's first cell (the title) when it has none. ``tests/test_launch.py`` checks that every
chapter has it, verbatim.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
CONFIG = ROOT / "_config.yml"
REPOSITORY = "https://github.com/aichip-book/ai-chips-gpu-communication"
TAGS = ["remove-cell", "book-setup"]
MARKER = "# Book setup:"  # how the cell is recognised (with its tag)

TEMPLATE = '''\
# Book setup: installs the book's package `aichip` where it is missing (Colab, or a notebook
# downloaded from the HTML book), at the version this chapter belongs to, with the notebooks'
# other needs. Where aichip is installed (make lab, Binder) it does nothing. The HTML book hides it.
import importlib
import importlib.util
import subprocess
import sys

BOOK_REF = "{ref}"  # git tag of the package version in code/pyproject.toml
BOOK_GIT = "git+{repository}"
if importlib.util.find_spec("aichip") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"aichip[mpi] @ {{BOOK_GIT}}@{{BOOK_REF}}#subdirectory=code", "{myst_nb}"],
                   check=True)
    importlib.invalidate_caches()'''


def package_version() -> str:
    text = (ROOT / "code" / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not m:
        raise ValueError("code/pyproject.toml has no version")
    return m.group(1)


def book_ref() -> str:
    """The git tag the launch buttons and the setup cells point to: ``v`` + the package version."""
    return "v" + package_version()


def pinned(name: str) -> str:
    """``name==version`` as pinned in requirements.txt (the tested environment)."""
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    m = re.search(rf"^{re.escape(name)}==(\S+)", text, re.M)
    if not m:
        raise ValueError(f"requirements.txt does not pin {name}")
    return f"{name}=={m.group(1)}"


def cell_source() -> str:
    return TEMPLATE.format(ref=book_ref(), repository=REPOSITORY, myst_nb=pinned("myst-nb"))


def is_setup_cell(cell: dict) -> bool:
    return (cell["cell_type"] == "code" and "book-setup" in cell.get("metadata", {}).get("tags", [])
            or "".join(cell["source"]).startswith(MARKER))


def setup_cell(cell_id: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": cell_id,
            "metadata": {"tags": list(TAGS)}, "outputs": [],
            "source": cell_source().splitlines(keepends=True)}


def update_notebook(path: pathlib.Path) -> bool:
    """Give ``path`` the current setup cell right after its title cell; True if it changed."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    cells = nb["cells"]
    found = [i for i, c in enumerate(cells) if is_setup_cell(c)]
    if len(found) > 1:
        raise ValueError(f"{path.name} has {len(found)} setup cells")
    if found:
        old = cells.pop(found[0])
        new = setup_cell(old["id"])
    else:
        new = setup_cell(f"setup-{path.stem[:2]}")
    cells.insert(1, new)
    out = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if out == text:
        return False
    path.write_text(out, encoding="utf-8")
    return True


def update_config() -> bool:
    """Point the launch buttons (``repository.branch``) at the release tag; True if it changed."""
    text = CONFIG.read_text(encoding="utf-8")
    new = re.sub(r"(?m)^(repository:\n(?:  .*\n)*?  branch: ).*$", r"\g<1>" + book_ref(), text)
    if new == text:
        return False
    CONFIG.write_text(new, encoding="utf-8")
    return True


def chapter_notebooks() -> list[pathlib.Path]:
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit with status 1 if anything is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path in chapter_notebooks():
        if args.check:
            nb = json.loads(path.read_text(encoding="utf-8"))
            cell = nb["cells"][1] if len(nb["cells"]) > 1 else None
            if not (cell and is_setup_cell(cell) and "".join(cell["source"]) == cell_source()):
                stale.append(path.name)
        elif update_notebook(path):
            stale.append(path.name)
    if args.check:
        branch = re.search(r"(?m)^repository:\n(?:  .*\n)*?  branch: (.*)$",
                           CONFIG.read_text(encoding="utf-8"))
        if not branch or branch.group(1).strip() != book_ref():
            stale.append(CONFIG.name)
    elif update_config():
        stale.append(CONFIG.name)
    verb = "out of date" if args.check else "updated"
    print(f"{verb}: {', '.join(stale)}" if stale
          else f"setup cells and launch branch at {book_ref()}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
