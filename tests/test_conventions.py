"""The package's naming conventions, checked on its source (issue 21 part 4).

* ``_name`` is private to its own file: no module imports ``_name`` from another ``aichip`` module
  or reads it as ``module._name``; neither does a chapter. Helpers shared by the modules of one
  subpackage live in a ``_``-prefixed module (``topology/_paths.py``) whose names are plain; only
  the modules of that subpackage import it.
* Every module declares ``__all__``: a literal list of the public names it defines, each of which
  exists, so ``from aichip.x import *`` works.
* A facade (``__init__.py``) re-exports only names its own submodules list in their ``__all__``.

Each test is parametrized by file and fails with the list of that file's violations (``line N:
what``), so the output of ``pytest tests/test_conventions.py`` is the to-do list. The checks are
AST-based; the last tests run them on small snippets that break each rule, so a checker that stops
seeing violations fails too.
"""

from __future__ import annotations

import ast
import importlib
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "code" / "aichip"
FILES = sorted(PACKAGE.rglob("*.py"))
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def module_name(path: pathlib.Path) -> str:
    """``code/aichip/topology/graph.py`` -> ``aichip.topology.graph`` (``__init__`` -> package)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in FILES}


def package_of(path: pathlib.Path) -> str:
    """The package whose modules are ``path``'s siblings (a package's own for ``__init__.py``)."""
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def rel(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT))


# --- rule 1: private names stay in their file -------------------------------------------------


def _absolute(package: str | None, level: int, module: str | None) -> str | None:
    """The module an ``ImportFrom`` names, absolute (None for a relative import outside aichip)."""
    if level == 0:
        return module
    if package is None:
        return None
    parts = package.split(".")
    if level - 1 > len(parts) - 1:
        return None
    base = ".".join(parts[:len(parts) - (level - 1)])
    return f"{base}.{module}" if module else base


def _in_aichip(name: str | None) -> bool:
    return name is not None and (name == "aichip" or name.startswith("aichip."))


def _private_module(target: str, package: str | None) -> str | None:
    """Why importing module ``target`` from ``package`` breaks the rule, or None.

    A ``_``-prefixed module may be imported only by its siblings (and its package's ``__init__``).
    """
    parts = target.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if is_private(part):
            parent = ".".join(parts[:i])
            if package != parent:
                return f"private module {target} imported from outside {parent}"
    return None


def private_use(source: str, module: str | None, package: str | None) -> list[str]:
    """Violations of rule 1 in ``source`` (a module named ``module`` in ``package``; both None for a
    chapter): ``from <aichip module> import _name``, ``<aichip module>._name``, and a private module
    imported from outside its package."""
    tree = ast.parse(source)
    out = []
    bound: dict[str, str] = {}       # local name -> aichip module it refers to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _in_aichip(alias.name):
                    continue
                if why := _private_module(alias.name, package):
                    out.append(f"line {node.lineno}: {why}")
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[alias.name.partition(".")[0]] = "aichip"
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.level, node.module)
            if not _in_aichip(base):
                continue
            if why := _private_module(base, package):
                out.append(f"line {node.lineno}: {why}")
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in MODULES:
                    bound[alias.asname or alias.name] = full
                    if (why := _private_module(full, package)) and why not in out[-1:]:
                        out.append(f"line {node.lineno}: {why}")
                elif is_private(alias.name):
                    out.append(f"line {node.lineno}: imports private name {base}.{alias.name}")

    def resolve(expr) -> str | None:
        if isinstance(expr, ast.Name):
            return bound.get(expr.id)
        if isinstance(expr, ast.Attribute):
            base = resolve(expr.value)
            if base is not None and f"{base}.{expr.attr}" in MODULES:
                return f"{base}.{expr.attr}"
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (base := resolve(node.value)) is not None:
            full = f"{base}.{node.attr}"
            if full in MODULES:
                if why := _private_module(full, package):
                    out.append(f"line {node.lineno}: {why}")
            elif is_private(node.attr) and base != module:
                out.append(f"line {node.lineno}: uses private name {full}")
    return sorted(set(out), key=lambda s: (int(s.split(":")[0].split()[1]), s))


@pytest.mark.parametrize("path", FILES, ids=rel)
def test_no_private_name_crosses_a_file(path):
    bad = private_use(path.read_text(), module_name(path), package_of(path))
    assert not bad, f"{rel(path)}:\n  " + "\n  ".join(bad)


def chapter_code(path: pathlib.Path) -> str:
    """A notebook's code cells as one Python source; IPython magics and shell lines blanked."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    lines = []
    for cell in cells:
        for line in "".join(cell["source"]).splitlines():
            lines.append("" if line.lstrip().startswith(("%", "!")) else line)
    return "\n".join(lines)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapters_use_only_public_names(path):
    bad = private_use(chapter_code(path), None, None)
    assert not bad, f"{rel(path)} (line numbers count code-cell lines):\n  " + "\n  ".join(bad)


# --- rule 2: every module declares __all__ ------------------------------------------------------


def declared_all(tree: ast.Module) -> tuple[list[str] | None, list[str]]:
    """The names of a module's ``__all__`` (None if it has none) and the violations of rule 2 the
    source shows: not a literal list of strings, listed twice, private, or a public function or
    class the module defines and does not list."""
    found, bad = None, []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            continue
        value = node.value
        if (found is not None or not isinstance(node, ast.Assign)
                or not isinstance(value, (ast.List, ast.Tuple))
                or not all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                           for e in value.elts)):
            bad.append(f"line {node.lineno}: __all__ must be one literal list of strings")
            continue
        found = [e.value for e in value.elts]
    if found is None:
        return None, bad + ["declares no __all__"]
    seen = set()
    for name in found:
        if name in seen:
            bad.append(f"__all__ lists {name!r} twice")
        seen.add(name)
        if is_private(name):
            bad.append(f"__all__ lists private name {name!r}")
    for node in tree.body:
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and not node.name.startswith("_") and node.name not in seen):
            bad.append(f"line {node.lineno}: public {node.name!r} is not in __all__ "
                       "(list it, or prefix it with _ if no other file uses it)")
    return found, bad


@pytest.mark.parametrize("path", FILES, ids=rel)
def test_module_declares_all(path):
    names, bad = declared_all(ast.parse(path.read_text()))
    if names is not None:
        mod = importlib.import_module(module_name(path))
        bad += [f"__all__ lists {n!r}, which the module does not define"
                for n in names if not hasattr(mod, n)]
        if not bad:
            try:
                exec(f"from {module_name(path)} import *", {})
            except Exception as e:          # noqa: BLE001 - report whatever breaks the import
                bad.append(f"from {module_name(path)} import * raises {e!r}")
    assert not bad, f"{rel(path)}:\n  " + "\n  ".join(bad)


# --- rule 3: a facade re-exports its own submodules' public names -------------------------------


def facade_violations(source: str, package: str, public_of) -> list[str]:
    """Violations of rule 3 in the ``__init__.py`` of ``package``: a name imported from a module
    outside the package, a private name, a name its submodule does not list in ``__all__``
    (``public_of(module)`` gives that list, None if the module has none), and a public name bound
    by importing a non-aichip module."""
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                if not is_private(bound):
                    out.append(f"line {node.lineno}: imports {alias.name} as public {bound!r}")
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.level, node.module)
            if node.module == "__future__":
                continue
            if not _in_aichip(base):
                out += [f"line {node.lineno}: re-exports {a.name!r} from {base}"
                        for a in node.names if not is_private(a.asname or a.name)]
                continue
            if base == package and all(f"{base}.{a.name}" in MODULES for a in node.names):
                continue                                     # `from . import submodule`
            if not base.startswith(package + "."):
                out += [f"line {node.lineno}: re-exports {a.name!r} from {base}, which is not "
                        f"a submodule of {package}" for a in node.names]
                continue
            listed = public_of(base)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    continue                                 # a submodule, not a name
                if alias.name == "*":
                    if listed is None:
                        out.append(f"line {node.lineno}: star-imports {base}, which declares "
                                   "no __all__")
                    continue                                 # exactly the submodule's __all__
                if is_private(alias.name) or is_private(alias.asname or ""):
                    out.append(f"line {node.lineno}: re-exports private name "
                               f"{base}.{alias.name}")
                elif listed is None or alias.name not in listed:
                    out.append(f"line {node.lineno}: re-exports {base}.{alias.name}, which "
                               f"{base} does not list in __all__")
    return out


def _public_of(module: str) -> list[str] | None:
    path = MODULES.get(module)
    return None if path is None else declared_all(ast.parse(path.read_text()))[0]


FACADES = [p for p in FILES if p.name == "__init__.py"]


@pytest.mark.parametrize("path", FACADES, ids=rel)
def test_facade_reexports_only_its_submodules_public_names(path):
    bad = facade_violations(path.read_text(), module_name(path), _public_of)
    assert not bad, f"{rel(path)}:\n  " + "\n  ".join(bad)


# --- the checkers see what they must (each rule broken on purpose) -----------------------------


@pytest.mark.parametrize("module, source, expected", [
    ("topology.metrics", "from .graph import Topology, _add_links",
     "imports private name aichip.topology.graph._add_links"),
    ("topology.metrics", "from ._paths import _bfs", "imports private name"),
    ("rdma.networks", "from ..topology import graph\ngraph._add_links(1)", "uses private name"),
    ("rdma.networks", "import aichip.membench as mb\nmb._triad_kernel", "uses private name"),
    ("rdma.networks", "import aichip.membench\naichip.membench._triad_kernel", "private name"),
    ("rdma.networks", "from ..topology._paths import routes", "private module"),
    ("rdma.networks", "from ..topology import _paths", "private module aichip.topology._paths"),
])
def test_private_use_catches(module, source, expected, monkeypatch):
    monkeypatch.setitem(MODULES, "aichip.topology._paths", PACKAGE / "topology" / "_paths.py")
    module = f"aichip.{module}"
    bad = private_use(source, module, module.rpartition(".")[0])
    assert any(expected in b for b in bad), bad


@pytest.mark.parametrize("source", [
    "from ._paths import routes",                         # a sibling's private module: plain names
    "from . import _paths\n_paths.routes",
    "from .graph import Topology\nrow = Topology\nrow._asdict()",   # not a module: no concern
    "import numpy as np\nnp._NoValue",                    # other libraries are not ours to police
])
def test_private_use_allows(source, monkeypatch):
    monkeypatch.setitem(MODULES, "aichip.topology._paths", PACKAGE / "topology" / "_paths.py")
    assert private_use(source, "aichip.topology.metrics", "aichip.topology") == []


def test_chapter_check_catches_a_private_kernel():
    src = "from aichip import membench\nimport inspect\ninspect.getsource(membench._triad_kernel)"
    expected = ["line 3: uses private name aichip.membench._triad_kernel"]
    assert private_use(src, None, None) == expected


@pytest.mark.parametrize("source, expected", [
    ("def f(): pass", "declares no __all__"),
    ("__all__ = ['f', 'f']\ndef f(): pass", "twice"),
    ("__all__ = ['_g']\ndef _g(): pass", "private name"),
    ("__all__ = []\ndef f(): pass", "public 'f' is not in __all__"),
    ("__all__ = sorted(['f'])\ndef f(): pass", "literal list"),
])
def test_declared_all_catches(source, expected):
    assert any(expected in b for b in declared_all(ast.parse(source))[1])


def test_all_naming_a_missing_name_fails(tmp_path, monkeypatch):
    (tmp_path / "broken_all.py").write_text("__all__ = ['f', 'missing']\ndef f(): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AttributeError):
        exec("from broken_all import *", {})


@pytest.mark.parametrize("source, expected", [
    ("from ..links import link_GBps_per_dir", "not a submodule of aichip.topology"),
    ("from .graph import _add_links", "private name"),
    ("from .graph import helper", "does not list in __all__"),
    ("import numpy", "as public 'numpy'"),
    ("from numpy import pi", "re-exports 'pi' from numpy"),
])
def test_facade_check_catches(source, expected):
    bad = facade_violations(source, "aichip.topology", lambda m: ["Topology"])
    assert any(expected in b for b in bad), bad


def test_facade_check_allows_its_submodules_public_names():
    src = "import os as _os\nfrom __future__ import annotations\nfrom .graph import Topology"
    assert facade_violations(src, "aichip.topology", lambda m: ["Topology"]) == []


def test_facade_check_allows_submodules_and_star_imports():
    src = "from . import graph\nfrom .graph import *"
    assert facade_violations(src, "aichip.topology", lambda m: ["Topology"]) == []
    assert "declares no __all__" in facade_violations(
        "from .graph import *", "aichip.topology", lambda m: None)[0]


@pytest.mark.parametrize("path", FACADES, ids=rel)
def test_facade_all_lists_what_it_star_imports(path):
    """A facade that re-exports a submodule with ``*`` lists every one of those names itself."""
    package = module_name(path)
    listed = set(declared_all(ast.parse(path.read_text()))[0] or ())
    missing = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            base = _absolute(package, node.level, node.module)
            missing += [f"{base}.{n}" for n in (_public_of(base) or ()) if n not in listed]
    assert not missing, f"{rel(path)} does not list: {missing}"


# --- floors: the package's import graph has no cycle -------------------------------------------


def imported_modules(path: pathlib.Path) -> set[str]:
    """The aichip modules ``path`` imports at any depth of its code (a function-level import
    counts: it is a dependency all the same). ``from . import sub`` names the submodule, not
    the package; ``from .mod import name`` names ``mod`` (or ``mod.name`` where that is a
    module)."""
    package = package_of(path)
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = _absolute(package, node.level, node.module)
            if not _in_aichip(base):
                continue
            subs = {f"{base}.{a.name}" for a in node.names} & MODULES.keys()
            out |= subs if subs and len(subs) == len(node.names) else {base} | subs
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if _in_aichip(a.name)}
    return (out & MODULES.keys()) - {module_name(path)}


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` (module -> modules it imports) as a list of modules, or []."""
    state: dict[str, int] = {}                       # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str]:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        path.pop()
        return []

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return []


def test_import_graph_has_no_cycle():
    graph = {module_name(p): imported_modules(p) for p in FILES}
    cycle = import_cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_import_cycle_is_found():
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
