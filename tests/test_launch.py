"""The launch buttons (issue 17, part 2): Colab and a downloaded notebook install aichip through
each chapter's hidden setup cell, pinned to the tag of the package version; Binder builds binder/.

The pins are read here from the files themselves (pyproject.toml, requirements.txt, _config.yml,
the notebooks), not from tools/setup_cell.py, so a wrong template in the tool fails these tests.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")      # Python 3.11+

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
VERSION = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["project"]["version"]


def requirement_pins(path: pathlib.Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def setup_cell(path: pathlib.Path) -> dict:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    setup = [c for c in cells if "book-setup" in c.get("metadata", {}).get("tags", [])]
    assert len(setup) == 1, f"{path.name}: {len(setup)} cells tagged book-setup"
    assert cells.index(setup[0]) == 1, f"{path.name}: the setup cell must follow the title cell"
    return setup[0]


def run_setup(source: str, aichip_missing: bool) -> list[list[str]]:
    """Execute a setup cell with pip replaced by a recorder; returns the commands it ran."""
    calls = []

    def fake_run(cmd, check=False, **kwargs):
        assert check, "the install must fail loudly (check=True)"
        calls.append(cmd)

    def fake_find_spec(name, *args):
        return None if (aichip_missing and name == "aichip") else real_find_spec(name, *args)

    real_find_spec = importlib.util.find_spec
    mp = pytest.MonkeyPatch()
    mp.setattr(subprocess, "run", fake_run)
    mp.setattr(importlib.util, "find_spec", fake_find_spec)
    try:
        exec(compile(source, "setup-cell", "exec"), {})
    finally:
        mp.undo()
    return calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_is_hidden_and_identical_everywhere(path):
    cell = setup_cell(path)
    assert "remove-cell" in cell["metadata"]["tags"], "the HTML book must not show the setup cell"
    assert "".join(cell["source"]) == "".join(setup_cell(NOTEBOOKS[0])["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_installs_the_tagged_package_only_when_missing(path):
    source = "".join(setup_cell(path)["source"])
    assert run_setup(source, aichip_missing=False) == [], "must do nothing where aichip imports"
    (cmd,) = run_setup(source, aichip_missing=True)
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    url = CONFIG["repository"]["url"]
    assert f"aichip[mpi] @ git+{url}@v{VERSION}#subdirectory=code" in cmd
    assert f"myst-nb=={requirement_pins(ROOT / 'requirements.txt')['myst-nb']}" in cmd


def test_launch_buttons_open_the_tag_the_setup_cells_install():
    assert CONFIG["repository"]["branch"] == f"v{VERSION}"
    buttons = CONFIG["launch_buttons"]
    assert buttons["colab_url"] and buttons["binderhub_url"]


def test_binder_environment_has_the_book_pins():
    binder = requirement_pins(ROOT / "binder" / "requirements.txt")
    book = requirement_pins(ROOT / "requirements.txt")
    for name in ("numpy", "numba", "pandas", "matplotlib", "networkx", "simpy", "threadpoolctl",
                 "mpi4py", "mpich", "myst-nb", "ipywidgets", "ipykernel"):
        assert binder.get(name) == book[name], f"binder/requirements.txt: {name}"
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert "./code" in lines, "Binder must install the package from the checkout it builds"
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    requires = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["project"][
        "requires-python"]
    assert re.fullmatch(r"python-3\.\d+", runtime)
    assert int(runtime.split(".")[1]) >= int(requires.split(".")[1]), (runtime, requires)


def test_setup_tool_reports_nothing_stale():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import setup_cell as tool
    finally:
        sys.path.pop(0)
    assert tool.main(["--check"]) == 0
