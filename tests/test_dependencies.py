"""`pip install ./code` must give a working aichip: every third-party package that aichip imports is
declared in code/pyproject.toml (networkx was missing, so aichip.topology failed to import)."""

import ast
import pathlib
import sys

import pytest

tomllib = pytest.importorskip("tomllib")      # Python 3.11+; the package supports 3.10

ROOT = pathlib.Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ
DISTRIBUTION = {"sklearn": "scikit-learn", "yaml": "PyYAML"}


def third_party_imports():
    """Top-level names of every absolute import in code/aichip that is not in the standard library,
    found by parsing the source (imports inside functions included)."""
    names = set()
    for path in (ROOT / "code" / "aichip").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "aichip"}


def declared():
    project = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {s.split(";")[0].split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower()
            for s in specs}


def test_pyproject_declares_every_third_party_import():
    imports = third_party_imports()
    assert {"numpy", "numba", "networkx", "pandas"} <= imports      # the scan finds real imports
    missing = {n for n in imports if DISTRIBUTION.get(n, n).lower() not in declared()}
    assert not missing, f"code/pyproject.toml does not declare {sorted(missing)}"


def test_networkx_is_a_required_dependency():
    project = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["project"]
    assert "networkx" in project["dependencies"]      # aichip.topology imports it at module level
