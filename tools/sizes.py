"""Size report for aichip: functions and modules that a reader can hold (part of `make lint`).

Limits (the developer guide's conventions):

* no function or method longer than ``MAX_FUNCTION_CODE_LINES`` (80) lines of code, where a line of
  code holds at least one token that is not a comment and not part of a docstring (blank lines,
  comment-only lines and docstring lines are not counted; a nested function's lines count in the
  function around it as well as in its own);
* no module longer than ``MAX_MODULE_LINES`` (600) lines, every physical line counted (``wc -l``).

An allow-list file (``tools/sizes_allow.txt`` by default) names files, or single functions, that may
exceed a limit for now. One entry a line, ``PATH[::FUNCTION]  REASON``; a reason is required,
``#`` starts a comment, PATH is relative to the repository root, FUNCTION is the qualified name
that the report prints (``Class.method``, ``outer.inner``). An allowed excess is still listed,
marked ``allowed``; an entry that no longer matches any excess is reported as stale, so that the
list empties as modules shrink.

Usage::

    python tools/sizes.py                    # report on code/aichip, exit 1 on an excess
    python tools/sizes.py --top 15           # also list the 15 longest functions and modules
    python tools/sizes.py --allow /dev/null  # ignore the allow-list
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "MAX_FUNCTION_CODE_LINES", "MAX_MODULE_LINES", "Excess", "FunctionSize", "Report",
    "code_lines", "function_sizes", "module_lines", "read_allow_list", "check", "main",
]

MAX_FUNCTION_CODE_LINES = 80
MAX_MODULE_LINES = 600

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "code" / "aichip"
ALLOW_FILE = Path(__file__).resolve().parent / "sizes_allow.txt"

# Token types that never make a line a line of code.
_NON_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
             tokenize.ENDMARKER, tokenize.ENCODING}


class FunctionSize(NamedTuple):
    """One function's size: ``name`` is qualified (``Class.method``), lines are 1-based."""

    name: str
    first_line: int
    last_line: int
    code_lines: int


class Excess(NamedTuple):
    """A limit exceeded: ``what`` is ``PATH`` (a module) or ``PATH::FUNCTION``."""

    what: str
    size: int
    limit: int
    allowed: bool


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers taken by the docstrings of the module, its classes and its functions."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def code_lines(source: str) -> set[int]:
    """The 1-based numbers of the lines of ``source`` that hold code.

    A line holds code when a token other than a comment, a newline or an indentation starts,
    ends or spans it, and it is not part of a docstring.
    """
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in _NON_CODE:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines - _docstring_lines(ast.parse(source))


def function_sizes(source: str) -> list[FunctionSize]:
    """Every function and method in ``source`` with its count of code lines (see module docstring).

    The count runs from the ``def`` line to the function's last line; decorators are not counted.
    """
    code = code_lines(source)
    sizes: list[FunctionSize] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                span = range(child.lineno, child.end_lineno + 1)
                sizes.append(FunctionSize(name, child.lineno, child.end_lineno,
                                          sum(1 for line in span if line in code)))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return sizes


def module_lines(source: str) -> int:
    """Physical lines in ``source``, as ``wc -l`` counts them for a file ending in a newline."""
    return len(source.splitlines())


def read_allow_list(path: Path) -> dict[str, str]:
    """The allow-list at ``path`` as ``{PATH or PATH::FUNCTION: reason}``; empty when it is absent.

    Raises
    ------
    ValueError
        An entry without a reason.
    """
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            raise ValueError(f"{path}:{number}: entry {parts[0]!r} needs a reason after it")
        entries[parts[0]] = parts[1]
    return entries


class Report(NamedTuple):
    """What :func:`check` finds: the excesses, and every function and module, largest first."""

    excesses: list[Excess]
    functions: list[tuple[str, FunctionSize]]  # ("PATH::FUNCTION", size)
    modules: list[tuple[str, int]]             # ("PATH", lines)


def check(package: Path = PACKAGE, allow: dict[str, str] | None = None,
          root: Path = ROOT) -> Report:
    """Measure every ``.py`` file under ``package``; paths are reported relative to ``root``.

    An excess is ``allowed`` where ``allow`` names its module, or the function itself.
    """
    allow = allow or {}
    report = Report([], [], [])
    for file in sorted(package.rglob("*.py")):
        rel = file.relative_to(root).as_posix()
        source = file.read_text()
        lines = module_lines(source)
        report.modules.append((rel, lines))
        if lines > MAX_MODULE_LINES:
            report.excesses.append(Excess(rel, lines, MAX_MODULE_LINES, rel in allow))
        for size in function_sizes(source):
            what = f"{rel}::{size.name}"
            report.functions.append((what, size))
            if size.code_lines > MAX_FUNCTION_CODE_LINES:
                report.excesses.append(Excess(what, size.code_lines, MAX_FUNCTION_CODE_LINES,
                                              rel in allow or what in allow))
    report.functions.sort(key=lambda item: -item[1].code_lines)
    report.modules.sort(key=lambda item: -item[1])
    return report


def main(argv: list[str] | None = None) -> int:
    """Print the report; return 1 when a limit is exceeded outside the allow-list, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", type=Path, default=PACKAGE, help="folder to check")
    parser.add_argument("--allow", type=Path, default=ALLOW_FILE, help="allow-list file")
    parser.add_argument("--top", type=int, default=0, help="also list the N largest of each")
    args = parser.parse_args(argv)
    allow = read_allow_list(args.allow)
    package = args.package.resolve()
    root = ROOT if package.is_relative_to(ROOT) else package.parent
    excesses, functions, modules = check(package, allow, root)

    if args.top:
        print(f"longest functions (code lines, limit {MAX_FUNCTION_CODE_LINES}):")
        for what, size in functions[:args.top]:
            print(f"  {size.code_lines:5d}  {what}")
        print(f"longest modules (lines, limit {MAX_MODULE_LINES}):")
        for rel, lines in modules[:args.top]:
            print(f"  {lines:5d}  {rel}")

    failed = [e for e in excesses if not e.allowed]
    for e in excesses:
        mark = "allowed" if e.allowed else "TOO LONG"
        print(f"{mark}: {e.what}: {e.size} lines (limit {e.limit})")
    matched = {e.what for e in excesses if e.allowed} | {e.what.split("::")[0] for e in excesses}
    for entry in allow:
        if entry not in matched:
            print(f"stale allow-list entry (nothing exceeds there now): {entry}")
    print(f"sizes: {len(modules)} modules, {len(functions)} functions, "
          f"{len(failed)} over the limits, {len(excesses) - len(failed)} allowed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
