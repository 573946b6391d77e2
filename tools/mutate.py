"""Mutation testing of the core model code with cosmic-ray (issue 11, part 2): ``make mutate``.

cosmic-ray changes one thing in a module *on disk* (an operator, a constant, a comparison),
runs the tests that cover that module, and calls the mutant *killed* when they fail and
*survived* when they pass. A survivor is a plausible bug the tests cannot see.

On-disk mutation is what makes this work with numba: an ``@njit(cache=True)`` kernel in the
mutated file is recompiled (numba's cache is keyed on the source file's timestamp and size), so
mutants inside kernels are real. mutmut 3 instead rewrites every function into a trampoline
that picks the mutant at run time from an environment variable, which numba could not compile
(``*args``/``**kwargs`` dispatch, ``os.environ``); it leaves decorated functions unmutated
altogether (boxed/mutmut issues 336 and 387), so no ``@njit`` kernel would get a mutant.

Scope (``SCOPE``): the functions where the plausible bugs of issue 11 live, each module tested
by the test files that cover it only, with a reduced set of operators (``OPERATORS``: constants
off by one, + - * / swapped, comparison boundaries). cosmic-ray runs one mutant at a time,
since the mutants share the file on disk.

    make mutate                                        # writes tests/mutation/after.txt
    .venv/bin/python tools/mutate.py --out tests/mutation/before.txt
    .venv/bin/python tools/mutate.py --modules alphabeta --out /tmp/ab.txt

The report lists every surviving mutant (module:line, function, operator, the changed line)
and, given ``--compare`` (default ``tests/mutation/before.txt``), which earlier survivors are
now killed.
"""

from __future__ import annotations

import argparse
import ast
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time
from typing import NamedTuple

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Target(NamedTuple):
    module: str  # path under code/aichip
    tests: tuple[str, ...]  # the test files that cover it
    names: tuple[str, ...]  # functions, Class.method or module-level assignments to mutate
    lines: str = r"."  # within those, only lines matching this (the formulas, not the plumbing)


#: Where the plausible bugs of issue 11, part 2 live (folds and mapping efficiency, layer shapes,
#: STREAM bytes and flops, FMA and GEMM operation counts, collective cost terms and chunking, conv
#: access counts, the collectives' reference results), at their places after issue 12's
#: restructuring (layer types in ``layers``, collective formulas in ``collective_specs.costs``).
#: Argument checks (``check_*``) are never mutated.
SCOPE = {
    "systolic": Target("systolic.py", ("tests/test_systolic.py",), ("_dims", "gemm_cycles"),
                       r"folds|per_fold|macs|GemmCycles|s_r \* s_c|return"),
    "layers": Target("layers.py", ("tests/test_systolic.py", "tests/test_dataflow.py"),
                     ("GemmLayer.macs", "ConvLayer.P", "ConvLayer.Q", "ConvLayer.output_hw",
                      "ConvLayer.macs", "ConvLayer.as_gemm")),
    "membench": Target("membench.py", ("tests/test_membench.py",),
                       ("KERNELS", "_WRITE_ALLOCATE_BYTES", "reference", "measure_bandwidth"),
                       r"arrays|bytes_per_elem|flops_per_elem|_WRITE_ALLOCATE_BYTES =|moved|"
                       r"\[:\] =|n = n_bytes"),
    "flops": Target("flops.py", ("tests/test_flops.py",),
                    ("fma_recurrence", "fma_flops", "measure_peak_flops", "measure_gemm",
                     "measure_gemv"),
                    r"flops = |x = |return "),
    "alphabeta": Target("alphabeta.py", ("tests/test_collectives.py",), ("cost", "bus_bandwidth"),
                        r"return|f = |L = |C = "),
    "collective_specs": Target("collective_specs/costs.py", ("tests/test_collectives.py",),
                               ("binary_tree_rounds", "tree_phase_steps", "rabenseifner_cost",
                                "reduce_scatter_ring_cost", "allreduce_ring_cost",
                                "allreduce_pipelined_tree_cost", "allreduce_hierarchical_cost")),
    "collective_schedules": Target("collective_specs/schedules.py", ("tests/test_collectives.py",),
                                   ("bounds",)),
    "dataflow": Target("dataflow.py", ("tests/test_dataflow.py",), ("_size", "_loads",
                                                                     "_accesses")),
    "collectives": Target("collectives.py", ("tests/test_collectives.py",), ("reference",)),
}

#: cosmic-ray operators used (the full set has 213, mostly every binary operator swapped for
#: every other one); these are the mistakes a model's formula plausibly contains.
OPERATORS = re.compile(r"core/(NumberReplacer"
                       r"|ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|FloorDiv_Div)"
                       r"|ReplaceComparisonOperator_(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Eq_NotEq))$")

#: Mutants per module at most (an even spread over the module's lines in scope, the same every
#: run), so that ``make mutate`` stays near a quarter of an hour on 2 cores; 0 runs them all.
MAX_PER_MODULE = 5


def line_ranges(path: pathlib.Path, names: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """First and last line of each named function, method or module-level assignment."""
    tree = ast.parse(path.read_text())
    found: dict[str, tuple[int, int]] = {}

    def visit(body, prefix=""):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found[prefix + node.name] = (node.lineno, node.end_lineno)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, prefix + node.name + ".")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not prefix:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = (node.lineno, node.end_lineno)

    visit(tree.body)
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(f"mutate.py: {path.name} has no {', '.join(missing)}; update SCOPE")
    return {n: found[n] for n in names}


def test_command(target: Target) -> str:
    return shlex.join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                       "-p", "no:randomly", *target.tests])


def run_module(label: str, target: Target, workdir: pathlib.Path, tree: pathlib.Path,
               dry_run: bool = False, max_mutants: int = MAX_PER_MODULE) -> dict:
    from cosmic_ray.commands import execute, init
    from cosmic_ray.config import load_config
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    module = tree / "code" / "aichip" / target.module
    original = module.read_bytes()
    ranges = line_ranges(module, target.names)
    command = test_command(target)

    start = time.perf_counter()
    baseline = subprocess.CompletedProcess([], 0, "", "") if dry_run else subprocess.run(
        shlex.split(command), cwd=tree, capture_output=True, text=True)
    baseline_s = time.perf_counter() - start
    if baseline.returncode != 0:
        tail = "\n".join(baseline.stdout.strip().splitlines()[-3:])
        return {"label": label, "error": f"tests fail without mutation:\n{tail}"}

    config_path = workdir / f"{label}.toml"
    config_path.write_text(
        "[cosmic-ray]\n"
        f"module-path = {str(module)!r}\n"
        f"timeout = {max(60.0, 4 * baseline_s):.0f}\n"  # a mutant that hangs counts as killed
        "excluded-modules = []\n"
        f"test-command = {command!r}\n"
        "[cosmic-ray.distributor]\nname = \"local\"\n")
    config = load_config(str(config_path))
    session = workdir / f"{label}.sqlite"
    session.unlink(missing_ok=True)

    source = original.decode().splitlines()
    wanted = re.compile(target.lines)

    def in_scope(mutation) -> str | None:
        if not OPERATORS.match(mutation.operator_name):
            return None
        line = mutation.start_pos[0]
        text = source[line - 1]
        if "check_" in text or not wanted.search(text):
            return None
        for name, (first, last) in ranges.items():
            if first <= line <= last:
                return name
        return None

    try:
        with use_db(str(session), WorkDB.Mode.create) as db:
            # only the operators in OPERATORS: enumerating all 213 takes minutes per module
            import cosmic_ray.plugins as plugins
            everything = plugins.operator_names
            plugins.operator_names = lambda: [n for n in everything() if OPERATORS.match(n)]
            try:
                init([module], db, config.operators_config)
            finally:
                plugins.operator_names = everything
            items = db.work_items
            keep = sorted((it for it in items if in_scope(it.mutations[0])),
                          key=lambda it: (it.mutations[0].start_pos, it.mutations[0].operator_name,
                                          it.mutations[0].occurrence))
            n_in_scope = len(keep)
            if max_mutants and len(keep) > max_mutants:  # an even, deterministic spread
                keep = [keep[(i * len(keep)) // max_mutants] for i in range(max_mutants)]
            kept = {it.job_id for it in keep}
            skip = [it.job_id for it in items if it.job_id not in kept]
            db.set_multiple_results(skip, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
            n_mutants = len(keep)
            print(f"{label}: {n_mutants} of {n_in_scope} mutants in scope "
                  f"({', '.join(target.names)}); tests take {baseline_s:.0f} s unmutated",
                  flush=True)
            if dry_run:
                return {"label": label, "mutants": n_mutants, "in_scope": n_in_scope,
                        "killed": 0, "survivors": [], "seconds": 0.0}
            execute(db, config)
            survivors, killed = [], 0
            lines = original.decode().splitlines()
            for item, result in db.completed_work_items:
                mutation = item.mutations[0]
                name = in_scope(mutation)
                if item.job_id not in kept or result.worker_outcome == WorkerOutcome.SKIPPED:
                    continue
                if result.is_killed:
                    killed += 1
                    continue
                row, col = mutation.start_pos
                added = [d[1:].strip() for d in (result.diff or "").splitlines()
                         if d.startswith("+") and not d.startswith("+++")]
                survivors.append(f"{target.module}:{row}:{col}  {name}  "
                                 f"{mutation.operator_name.removeprefix('core/')}"
                                 f"#{mutation.occurrence}  "
                                 f"{lines[row - 1].strip()}  ->  {added[0] if added else '?'}")
    finally:
        if module.read_bytes() != original:  # leave the copy clean for the next module's tests
            module.write_bytes(original)
    return {"label": label, "mutants": n_mutants, "in_scope": n_in_scope, "killed": killed,
            "survivors": sorted(survivors, key=_line_key),
            "seconds": time.perf_counter() - start}


def _line_key(text: str):
    path, row, col = text.split()[0].split(":")
    return path, int(row), int(col)


def _ids(report: pathlib.Path, labels: list[str]) -> set[str]:
    """Survivors of the given modules in a report, keyed by function, operator and changed line."""
    if not report.is_file():
        return set()
    return {" ".join(line.split()[1:]) for line in report.read_text().splitlines()
            if line.startswith(tuple(SCOPE[label].module + ":" for label in labels))}


def _report(results: list[dict], labels: list[str], cap: int, total_s: float) -> tuple[str, bool]:
    out = [f"# Surviving mutants: tools/mutate.py (cosmic-ray), {time.strftime('%Y-%m-%d')}, "
           f"{os.cpu_count()} CPUs, {total_s / 60:.1f} min, "
           f"at most {cap or 'all'} mutants per module",
           "# module:line:col  function  operator#occurrence  original line  ->  mutated line"]
    failed = False
    for res in results:
        if "error" in res:
            failed = True
            out.append(f"## {res['label']}: NOT RUN, {res['error']}")
            continue
        out.append(f"## {res['label']}: {res['mutants']} mutants (of {res['in_scope']} in scope), "
                   f"{res['killed']} killed, {len(res['survivors'])} survived "
                   f"({res['seconds'] / 60:.1f} min)")
        out.extend(res["survivors"])
        failed |= bool(res["survivors"])  # a surviving mutant is a bug the tests would miss
    for label in labels[len(results):]:
        out.append(f"## {label}: not run yet")
    return "\n".join(out) + "\n", failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", default=",".join(SCOPE),
                        help=f"comma-separated, from {', '.join(SCOPE)} (default: all)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "tests/mutation/after.txt",
                        help="report file (default tests/mutation/after.txt)")
    parser.add_argument("--compare", type=pathlib.Path, default=ROOT / "tests/mutation/before.txt",
                        help="earlier report to compare with (default tests/mutation/before.txt)")
    parser.add_argument("--max-per-module", type=int, default=MAX_PER_MODULE,
                        help="mutants per module at most, evenly spread "
                             f"(default {MAX_PER_MODULE}; 0: all)")
    parser.add_argument("--dry-run", action="store_true",
                        help="only count the mutants in scope (runs no tests, writes no report)")
    args = parser.parse_args(argv)
    labels = [m.strip() for m in args.modules.split(",") if m.strip()]
    unknown = [m for m in labels if m not in SCOPE]
    if unknown or not labels:
        parser.error(f"--modules: unknown {', '.join(unknown) or '(none given)'}; "
                     f"choose from {', '.join(SCOPE)}")

    # Mutate a copy of code/ and tests/, never the working tree: other runs (tests, notebooks)
    # keep importing the real aichip, and a killed run leaves no mutant behind.
    workdir = ROOT / "_build" / "mutation"
    tree = workdir / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    skip = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", ".hypothesis")
    for part in ("code", "tests"):
        shutil.copytree(ROOT / part, tree / part, ignore=skip)
    (tree / "chapters").mkdir()
    # the bibliography, and chapter 9, whose formula table tests/test_collectives.py reads
    for name in ("references.bib", "09_collectives.ipynb"):
        shutil.copy2(ROOT / "chapters" / name, tree / "chapters" / name)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(tree / "code")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    args.out, args.compare = args.out.resolve(), args.compare.resolve()  # before the chdir
    os.chdir(tree)

    if args.max_per_module < 0:
        parser.error("--max-per-module: expected 0 or a positive integer, "
                     f"got {args.max_per_module}")
    start = time.perf_counter()
    results: list[dict] = []
    # the report is rewritten after each module: an interrupted run keeps its part
    for label in labels:
        results.append(run_module(label, SCOPE[label], workdir, tree, args.dry_run,
                                  args.max_per_module))
        if not args.dry_run:
            elapsed = time.perf_counter() - start
            text, failed = _report(results, labels, args.max_per_module, elapsed)
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
