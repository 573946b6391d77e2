"""Mutation testing of the models and data tables with cosmic-ray (issues 11, 22): ``make mutate``.

cosmic-ray changes one thing in a module *on disk* (an operator, a constant, a comparison),
runs the tests that cover that module (with numba's JIT and then without it, as ``make test``
does: :func:`test_command`), and calls the mutant *killed* when they fail and *survived* when
they pass. A survivor is a plausible bug the tests cannot see.

On-disk mutation is what makes this work with numba: an ``@njit(cache=True)`` kernel in the
mutated file is recompiled (numba's cache is keyed on the source file's timestamp and size), so
mutants inside kernels are real. mutmut 3 instead rewrites every function into a trampoline
that picks the mutant at run time from an environment variable, which numba could not compile
(``*args``/``**kwargs`` dispatch, ``os.environ``); it leaves decorated functions unmutated
altogether (boxed/mutmut issues 336 and 387), so no ``@njit`` kernel would get a mutant.

Scope (``SCOPE``, issue 22): every module that models, measures or computes, each tested by
the test files that cover it only (``-x``), with a reduced set of operators (``OPERATORS``:
constants off by one, + - * / swapped, comparison boundaries); issue 11's systolic, membench
and flops keep their narrower function and line filters. The table lives in
``tools/mutation_scope.py``. A package (gpu, rdma, scaling, topology, serving, arith, ``_ext``) is
one label whose mutants are sampled together. Each label runs a seeded random sample of
``--sample`` mutants (default 20; 0 runs them all). cosmic-ray runs one mutant at a time, since
the mutants share the file on disk.

Data tables (``--data``, or ``--modules data/<table>.csv``): for each table of
``code/aichip/data``, a seeded sample of its numeric cells (the schema's numeric and integer
columns), one at a time made a quarter larger (``mutate_cell``), against the test files that load
that table (``DATA_TESTS``). A surviving cell is a number no test checks.

    make mutate                                        # everything, to tests/mutation/after.txt
    .venv/bin/python tools/mutate.py --modules gemm,memory --out /tmp/m.txt
    .venv/bin/python tools/mutate.py --modules data/cuda_limits.csv --sample 0 --out /tmp/c.txt
    .venv/bin/python tools/mutate.py --modules gpu,data --rerun /tmp/m.txt --out /tmp/again.txt

The report lists every surviving mutant (path:line:col, function, operator, the changed line;
for a table, path:line:column, the row's key, the value and the changed value) and, given
``--compare`` (default ``tests/mutation/before.txt``), which earlier survivors are now killed.
``--rerun REPORT`` runs only the survivors an earlier report lists, to see them killed.
"""

from __future__ import annotations

import argparse
import ast
import atexit
import csv
import io
import json
import os
import pathlib
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from mutation_scope import (  # noqa: E402
    DATA_TESTS,
    OPERATORS,
    RECORDED_COLUMNS,
    SCOPE,
    Target,
    module_path,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]


#: Mutants per label at most (``--max-per-module``, an even spread over the lines in scope, the
#: same every run; issue 11's quick look). 0 runs them all.
MAX_PER_MODULE = 5

#: ``--sample``: a seeded random sample of this many mutants per label (all when fewer), the
#: default of ``make mutate`` (issue 22: enough per module to mean something).
SAMPLE = 20
SEED = 22


def line_ranges(path: pathlib.Path, names: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """First and last line of each named function, method or module-level assignment.

    With no names, every top-level function, class and assignment (the whole module but its
    imports and docstring), each by its own name.
    """
    tree = ast.parse(path.read_text())
    found: dict[str, tuple[int, int]] = {}

    def visit(body, prefix=""):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found[prefix + node.name] = (node.lineno, node.end_lineno)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, prefix + node.name + ".")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not prefix:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = (node.lineno, node.end_lineno)

    visit(tree.body)
    if not names:  # top level only: a method's lines lie inside its class's
        return {n: r for n, r in found.items() if "." not in n}
    missing = [n for n in names if n not in found]
    if missing:
        raise LookupError(f"{path.name} has no {', '.join(missing)}; update SCOPE")
    return {n: found[n] for n in names}


def test_command(tests: tuple[str, ...]) -> str:
    """The shell command that judges a mutant, as ``make test`` would: the tests with numba's
    JIT (``make test-unit``) and, when they pass, again without it (``make test-nojit``, slow
    tests deselected; exit status 5, every test deselected, passes). A mutant only the plain
    Python run can see (an array one row short, which compiled code writes past silently) is
    killed, as ``make test`` kills it."""
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
              "-p", "no:randomly"]
    jit = shlex.join([*pytest, *tests])
    nojit = shlex.join([*pytest, "-m", "not slow_without_jit", *tests])
    return shlex.join(["sh", "-c", f"{jit} && NUMBA_DISABLE_JIT=1 {nojit}; status=$?; "
                                   "test $status -eq 0 -o $status -eq 5"])


_BASELINES: dict[tuple[str, ...], tuple[float, str]] = {}


def _baseline(tests: tuple[str, ...], tree: pathlib.Path, dry_run: bool) -> tuple[float, str]:
    """Seconds the tests take unmutated, and their failure ('' when they pass); once per run
    for each selection of test files (a package's modules share theirs)."""
    if dry_run:
        return 0.0, ""
    if tests not in _BASELINES:
        start = time.perf_counter()
        run = subprocess.run(shlex.split(test_command(tests)), cwd=tree, capture_output=True,
                             text=True)
        tail = "\n".join(run.stdout.strip().splitlines()[-3:])
        _BASELINES[tests] = (time.perf_counter() - start,
                             f"tests fail without mutation:\n{tail}" if run.returncode else "")
    return _BASELINES[tests]


def survivors_of(report: pathlib.Path | None) -> set[tuple]:
    """The survivors a report lists, as ``(path, line, column, operator#occurrence)`` and
    ``("text", path, the line's text, column, operator#occurrence)`` for a module's mutant (the
    second finds it after edits moved its line) and ``(path, line, column)`` for a table cell
    (``--rerun``)."""
    if report is None:
        return set()
    found = set()
    for line in report.read_text().splitlines():
        if not line.strip() or line.startswith(("#", " ")):
            continue
        words = line.split()
        path, row, col = words[0].rsplit(":", 2)
        if path.startswith("data/"):
            found.add((path, int(row), col))
            continue
        found.add((path, int(row), int(col), words[2]))
        # the same mutant found by its line's text, for a module edited since (lines moved)
        original = line.split("  ", 3)[3].split("  ->  ")[0]
        found.add(("text", path, original, int(col), words[2]))
    return found


def _pick(candidates: list, label: str, max_mutants: int, sample: int, seed: int) -> list:
    """The mutants to run: a seeded sample, or an even spread (``max_mutants``), or all."""
    if sample and len(candidates) > sample:
        rng = random.Random(f"{seed}:{label}")  # the same sample whichever labels run
        return sorted(rng.sample(candidates, sample))
    if max_mutants and len(candidates) > max_mutants:
        return [candidates[(i * len(candidates)) // max_mutants] for i in range(max_mutants)]
    return candidates


def run_label(label: str, targets: tuple[Target, ...], workdir: pathlib.Path,
              tree: pathlib.Path, dry_run: bool = False, max_mutants: int = 0,
              sample: int = SAMPLE, seed: int = SEED, rerun: set | None = None) -> dict:
    """Mutants of one label's modules, each module's run against its own tests (only those in
    ``rerun``, from :func:`survivors_of`, when given)."""
    from cosmic_ray.commands import init
    from cosmic_ray.work_db import WorkDB, use_db

    start = time.perf_counter()
    files, candidates = [], []
    for index, target in enumerate(targets):
        module = tree / module_path(target.module)
        try:
            ranges = line_ranges(module, target.names)
        except LookupError as err:
            return {"label": label, "error": str(err)}
        source = module.read_text().splitlines()
        wanted = re.compile(target.lines)

        def in_scope(mutation, ranges=ranges, source=source, wanted=wanted) -> str | None:
            if not OPERATORS.match(mutation.operator_name):
                return None
            line = mutation.start_pos[0]
            text = source[line - 1]
            if "check_" in text or "__all__" in text or not wanted.search(text):
                return None
            for name, (first, last) in ranges.items():
                if first <= line <= last:
                    return name
            return None

        session = workdir / f"{label.replace('/', '_')}-{index}.sqlite"
        session.unlink(missing_ok=True)
        with use_db(str(session), WorkDB.Mode.create) as db:
            # only the operators in OPERATORS: enumerating all 213 takes minutes per module
            import cosmic_ray.plugins as plugins
            everything = plugins.operator_names
            plugins.operator_names = lambda every=everything: [
                n for n in every() if OPERATORS.match(n)]
            try:
                init([module], db, {})
            finally:
                plugins.operator_names = everything
            for item in db.work_items:
                mutation = item.mutations[0]
                name = in_scope(mutation)
                if name:
                    candidates.append((index, mutation.start_pos, mutation.operator_name,
                                       mutation.occurrence, item.job_id, name))
        files.append((target, module, session, source))
    candidates.sort()
    if rerun is not None:
        def listed(c) -> bool:
            module, op = targets[c[0]].module, f"{c[2].removeprefix('core/')}#{c[3]}"
            text = files[c[0]][3][c[1][0] - 1].strip()
            return ((module, *c[1], op) in rerun
                    or ("text", module, text, c[1][1], op) in rerun)
        keep = [c for c in candidates if listed(c)]
    else:
        keep = _pick(candidates, label, max_mutants, sample, seed)
    print(f"{label}: {len(keep)} of {len(candidates)} mutants in scope "
          f"({', '.join(t.module for t in targets)})", flush=True)
    result = {"label": label, "mutants": len(keep), "in_scope": len(candidates), "killed": 0,
              "survivors": [], "seconds": 0.0}
    if dry_run:
        return result
    for index, (target, module, session, source) in enumerate(files):
        mine = {c[4]: c[5] for c in keep if c[0] == index}
        if mine:
            killed, survivors, error = _execute(target, module, session, source, mine, workdir,
                                                tree, f"{label.replace('/', '_')}-{index}")
            if error:
                return {"label": label, "error": f"{target.module}: {error}"}
            result["killed"] += killed
            result["survivors"] += survivors
    result["survivors"].sort(key=_line_key)
    result["seconds"] = time.perf_counter() - start
    return result


def write_config(path: pathlib.Path, module: pathlib.Path, timeout_s: float, command: str) -> dict:
    """Write cosmic-ray's TOML configuration and read it back; the read-back configuration.

    Strings are written as TOML basic strings (JSON's escapes are TOML's), never as Python's repr:
    a TOML literal string keeps a backslash, so a repr'd command with quotes in it would reach the
    shell mangled, fail for every mutant, and count every mutant as killed. The read-back check
    raises RuntimeError if the command or module cosmic-ray will use is not the one given.
    """
    from cosmic_ray.config import load_config

    path.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(str(module))}\n"
        f"timeout = {timeout_s:.0f}\n"  # a mutant that hangs counts as killed
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        "[cosmic-ray.distributor]\nname = \"local\"\n")
    config = load_config(str(path))
    if config["test-command"] != command or config["module-path"] != str(module):
        raise RuntimeError(f"{path}: cosmic-ray would run {config['test-command']!r}, "
                           f"not {command!r}")
    return config


def _execute(target: Target, module: pathlib.Path, session: pathlib.Path, source: list[str],
             mine: dict[str, str], workdir: pathlib.Path, tree: pathlib.Path,
             stem: str) -> tuple[int, list[str], str]:
    """Run the kept mutants (job id -> function) of one module; killed, survivors, error."""
    from cosmic_ray.commands import execute
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    baseline_s, error = _baseline(target.tests, tree, False)
    if error:
        return 0, [], error
    config = write_config(workdir / f"{stem}.toml", module, max(60.0, 4 * baseline_s),
                          test_command(target.tests))
    original = module.read_bytes()
    killed, survivors = 0, []
    try:
        with use_db(str(session), WorkDB.Mode.open) as db:
            skip = [it.job_id for it in db.work_items if it.job_id not in mine]
            db.set_multiple_results(skip, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
            execute(db, config)
            for item, res in db.completed_work_items:
                if item.job_id not in mine or res.worker_outcome == WorkerOutcome.SKIPPED:
                    continue
                if res.is_killed:
                    killed += 1
                    continue
                mutation = item.mutations[0]
                row, col = mutation.start_pos
                added = [d[1:].strip() for d in (res.diff or "").splitlines()
                         if d.startswith("+") and not d.startswith("+++")]
                survivors.append(f"{target.module}:{row}:{col}  {mine[item.job_id]}  "
                                 f"{mutation.operator_name.removeprefix('core/')}"
                                 f"#{mutation.occurrence}  "
                                 f"{source[row - 1].strip()}  ->  {added[0] if added else '?'}")
    finally:
        if module.read_bytes() != original:  # leave the copy clean for the next module's tests
            module.write_bytes(original)
    return killed, survivors, ""


def mutate_cell(text: str) -> str:
    """A plausible wrong value for a numeric cell: a quarter larger (a whole number stays whole
    and changes by at least 1; zero becomes 1), written in the cell's own style."""
    value = float(text)
    if re.fullmatch(r"-?\d+", text.strip()):
        number = int(text)
        changed = round(number * 1.25)
        return str(changed if changed != number else number + 1)
    if value == 0:
        return "1"
    return f"{value * 1.25:.6g}"


def run_table(name: str, tree: pathlib.Path, sample: int = SAMPLE, seed: int = SEED,
              dry_run: bool = False, rerun: set | None = None) -> dict:
    """Change one numeric cell of ``data/<name>.csv`` at a time (a seeded sample of the cells
    of its numeric and integer columns, less its ``RECORDED_COLUMNS``) and run the tests that
    load the table."""
    sys.path.insert(0, str(tree / "code"))
    from aichip.tables import SCHEMAS

    label = f"data/{name}.csv"
    path = tree / "code" / "aichip" / label
    tests = DATA_TESTS[name]
    schema = SCHEMAS[name]
    original = path.read_text()
    rows = list(csv.reader(io.StringIO(original)))
    header = rows[0]
    recorded = RECORDED_COLUMNS.get(name, {})
    columns = [header.index(c) for c in (*schema.numeric, *schema.integer) if c not in recorded]
    cells = [(r, c) for r in range(1, len(rows)) for c in sorted(columns)
             if rows[r][c].strip() and rows[r][c].strip().lower() != "nan"]
    keep = (_pick(cells, label, 0, sample, seed) if rerun is None else
            [(r, c) for r, c in cells if (label, r + 1, header[c]) in rerun])
    print(f"{label}: {len(keep)} of {len(cells)} numeric cells ({', '.join(tests)})", flush=True)
    result = {"label": label, "mutants": len(keep), "in_scope": len(cells), "killed": 0,
              "survivors": [], "seconds": 0.0}
    if dry_run or not keep:
        return result
    start = time.perf_counter()
    baseline_s, error = _baseline(tests, tree, False)
    if error:
        return {"label": label, "error": error}
    command = shlex.split(test_command(tests))
    try:
        for r, c in keep:
            changed = [list(row) for row in rows]
            changed[r][c] = mutate_cell(rows[r][c])
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(changed)
            path.write_text(buffer.getvalue())
            try:
                run = subprocess.run(command, cwd=tree, capture_output=True,
                                     timeout=max(60.0, 4 * baseline_s))
                survived = run.returncode == 0
            except subprocess.TimeoutExpired:
                survived = False
            if survived:
                key = " / ".join(rows[r][k] for k in [header.index(k) for k in schema.key])
                result["survivors"].append(f"{label}:{r + 1}:{header[c]}  {key}  "
                                           f"{rows[r][c]}  ->  {changed[r][c]}")
            else:
                result["killed"] += 1
    finally:
        path.write_text(original)
    result["seconds"] = time.perf_counter() - start
    return result


def _line_key(text: str):
    path, row, col = text.split()[0].split(":")
    return path, int(row), int(col)


def _ids(report: pathlib.Path, labels: list[str]) -> set[str]:
    """Survivors of the given labels in a report, keyed by function, operator and changed line."""
    if not report.is_file():
        return set()
    prefixes = tuple(t.module + ":" for label in labels for t in SCOPE.get(label, ()))
    prefixes += tuple(label + ":" for label in labels if label.startswith("data/"))
    return {" ".join(line.split()[1:]) for line in report.read_text().splitlines()
            if line.startswith(prefixes)}


#: Survivors judged equivalent (no test can tell them from the original), each with its reason:
#: a survivor's report line, then an indented line ``equivalent: <reason>``.
EQUIVALENT = ROOT / "tests" / "mutation" / "equivalent.txt"


def _survivor_id(line: str) -> str:
    """A survivor's identity without its line and column (which move as the file is edited)."""
    words = line.split()
    return " ".join([words[0].rsplit(":", 2)[0], *words[1:]])


def equivalents(path: pathlib.Path = EQUIVALENT) -> dict[str, str]:
    """Survivor id -> the reason it is equivalent, from ``tests/mutation/equivalent.txt``."""
    if not path.is_file():
        return {}
    found, last = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("    equivalent:") and last:
            found[last] = line.split(":", 1)[1].strip()
        elif line.strip() and not line.startswith("#"):
            last = _survivor_id(line)
    return found


def _report(results: list[dict], labels: list[str], how: str, total_s: float) -> tuple[str, bool]:
    out = [f"# Surviving mutants: tools/mutate.py (cosmic-ray), {time.strftime('%Y-%m-%d')}, "
           f"{os.cpu_count()} CPUs, {total_s / 60:.1f} min, {how}",
           "# module:line:col  function  operator#occurrence  original line  ->  mutated line",
           "# data/<table>.csv:line:column  key  value  ->  changed value",
           "# a survivor listed in tests/mutation/equivalent.txt is followed by its reason"]
    known = equivalents()
    failed = False
    for res in results:
        if "error" in res:
            failed = True
            out.append(f"## {res['label']}: NOT RUN, {res['error']}")
            continue
        real = [s for s in res["survivors"] if _survivor_id(s) not in known]
        out.append(f"## {res['label']}: {res['mutants']} mutants (of {res['in_scope']} in scope), "
                   f"{res['killed']} killed, {len(res['survivors'])} survived "
                   f"({len(res['survivors']) - len(real)} equivalent) "
                   f"({res['seconds'] / 60:.1f} min)")
        for survivor in res["survivors"]:
            out.append(survivor)
            if _survivor_id(survivor) in known:
                out.append(f"    equivalent: {known[_survivor_id(survivor)]}")
        failed |= bool(real)  # a surviving mutant is a bug the tests would miss
    for label in labels[len(results):]:
        out.append(f"## {label}: not run yet")
    return "\n".join(out) + "\n", failed


def _labels(text: str, parser: argparse.ArgumentParser) -> list[str]:
    """--modules: labels of SCOPE, 'data' (every table) or data/<name>.csv."""
    labels = []
    for item in (m.strip() for m in text.split(",") if m.strip()):
        if item == "data":
            labels += [f"data/{n}.csv" for n in DATA_TESTS]
        elif item in SCOPE or (item.startswith("data/") and item[5:-4] in DATA_TESTS):
            labels.append(item)
        else:
            parser.error(f"--modules: unknown {item!r}; choose from {', '.join(SCOPE)}, data, "
                         f"data/<table>.csv with <table> one of {', '.join(DATA_TESTS)}")
    if not labels:
        parser.error("--modules: none given")
    return labels


def _copy_tree(tree: pathlib.Path) -> None:
    """Mutate a copy of code/, tests/ and _ext/, never the working tree: other runs (tests,
    notebooks) keep importing the real aichip, and a killed run leaves no mutant behind."""
    if tree.exists():
        shutil.rmtree(tree)
    skip = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", ".hypothesis", "extra")
    for part in ("code", "tests", "_ext"):
        shutil.copytree(ROOT / part, tree / part, ignore=skip)
    (tree / "chapters").mkdir()
    # the bibliography, and chapter 9, whose formula table tests/test_collectives.py reads
    for name in ("references.bib", "09_collectives.ipynb"):
        shutil.copy2(ROOT / "chapters" / name, tree / "chapters" / name)


def _lock(workdir: pathlib.Path) -> None:
    """One run at a time per work directory: a second would replace the first's copy."""
    workdir.mkdir(parents=True, exist_ok=True)
    pid_file = workdir / "running.pid"
    if pid_file.is_file():
        try:
            os.kill(int(pid_file.read_text()), 0)
        except (ValueError, ProcessLookupError):
            pass  # a run that ended without cleaning up
        else:
            raise SystemExit(f"mutate.py: another run (pid {pid_file.read_text()}) uses {workdir}")
    pid_file.write_text(str(os.getpid()))
    atexit.register(pid_file.unlink, missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", default=",".join(SCOPE),
                        help=f"comma-separated, from {', '.join(SCOPE)}; 'data' for every CSV "
                             "table, or data/<table>.csv (default: every module, no tables)")
    parser.add_argument("--data", action="store_true",
                        help="add every CSV table of code/aichip/data to --modules")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "tests/mutation/after.txt",
                        help="report file (default tests/mutation/after.txt)")
    parser.add_argument("--compare", type=pathlib.Path, default=ROOT / "tests/mutation/before.txt",
                        help="earlier report to compare with (default tests/mutation/before.txt)")
    parser.add_argument("--sample", type=int, default=SAMPLE,
                        help=f"a seeded random sample of this many mutants per module or table "
                             f"(default {SAMPLE}; 0: all, or see --max-per-module)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"the sample's seed ({SEED})")
    parser.add_argument("--max-per-module", type=int, default=0,
                        help="with --sample 0: at most this many, evenly spread (0: all)")
    parser.add_argument("--rerun", type=pathlib.Path, default=None,
                        help="run only the survivors this earlier report lists (no sampling): "
                             "are they killed now?")
    parser.add_argument("--workdir", type=pathlib.Path, default=ROOT / "_build" / "mutation",
                        help="where the mutated copy lives (one run at a time per workdir)")
    parser.add_argument("--dry-run", action="store_true",
                        help="only count the mutants in scope (runs no tests, writes no report)")
    args = parser.parse_args(argv)
    labels = _labels(args.modules + (",data" if args.data else ""), parser)
    if args.max_per_module < 0 or args.sample < 0:
        parser.error("--sample and --max-per-module: expected 0 or a positive integer, "
                     f"got {args.sample} and {args.max_per_module}")
    if args.sample and args.sample < 20:
        parser.error(f"--sample: at least 20 per module to mean something, got {args.sample}")
    how = (f"a sample of {args.sample} per module (seed {args.seed})" if args.sample else
           f"at most {args.max_per_module or 'all'} mutants per module")

    if args.dry_run:  # counting only reads the modules: the working tree itself, no copy
        workdir, tree = pathlib.Path(tempfile.mkdtemp(prefix="mutate-")), ROOT
    else:
        workdir = args.workdir.resolve()
        _lock(workdir)
        tree = workdir / "tree"
        _copy_tree(tree)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(tree / "code")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    args.out, args.compare = args.out.resolve(), args.compare.resolve()  # before the chdir
    rerun = survivors_of(args.rerun.resolve()) if args.rerun else None
    if rerun is not None:
        how = f"the survivors of {args.rerun.name} only"
    os.chdir(tree)

    start = time.perf_counter()
    results: list[dict] = []
    text = ""
    # the report is rewritten after each label: an interrupted run keeps its part
    for label in labels:
        if label.startswith("data/"):
            results.append(run_table(label[5:-4], tree, args.sample, args.seed, args.dry_run,
                                     rerun))
        else:
            results.append(run_label(label, SCOPE[label], workdir, tree, args.dry_run,
                                     args.max_per_module, args.sample, args.seed, rerun))
        if not args.dry_run:
            text, failed = _report(results, labels, how, time.perf_counter() - start)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text)
    if args.dry_run:
        return 0
    print(text)

    if args.compare.resolve() != args.out.resolve() and args.compare.is_file():
        before, after = _ids(args.compare, labels), _ids(args.out, labels)
        shown = (args.compare.relative_to(ROOT) if args.compare.is_relative_to(ROOT)
                 else args.compare)
        print(f"compared with {shown}: "
              f"{len(before - after)} earlier survivors now killed (or out of scope), "
              f"{len(before & after)} still survive, {len(after - before)} new")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
