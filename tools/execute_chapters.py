"""Execute the chapters the book's jupyter-cache lacks, one at a time, and store them there.

``make book`` runs this before either edition's Sphinx build, so that both builds find every chapter
executed and can run side by side (two Sphinx builds, one per core: neither executes anything, and
the Chinese one reads the English executions: ``tools/translation.py assemble``). A chapter is
executed only here, alone on the machine, as the chapters measure it.

The execution is the one myst-nb does with ``execute_notebooks: cache`` (``_config.yml``): the
chapter is staged in the cache's project, executed by jupyter-cache's ``single_nb_execution``
(nbclient) in the chapter's folder with the configuration's ``timeout`` and ``allow_errors``, and
cached under its path with its execution time (``tools/chapter_times.py`` reads it), so the build
then says "Using cached notebook" and merges the outputs in. Four things differ, none visible in a
page:

- the explorers are precomputed (``AICHIP_STATIC_EXPLORERS=1``, as ``_ext/static_explorers.py``
  sets for the build), and the client has the stall fix of ``_ext/zmq_rearm.py``;
- the kernel is stopped at once when the last cell has run (``shutdown_kernel="immediate"``): a
  graceful shutdown waits for the interpreter's teardown, about 1.1 s a chapter on 2 cores, and the
  chapters leave a kernel nothing to do at exit (aichip registers no exit handlers);
- before the first of two or more chapters, the book's slowest-compiling kernels are compiled in
  one process per CPU (:mod:`aichip.warmup`, about 17 s on 2 cores from a fresh clone), so that the
  chapters load them from numba's cache instead of compiling them one after another while the
  other cores idle (about 30 s); nothing else runs meanwhile;
- a chapter that fails stops the run with its traceback and exit status 1 (the build with ``-W``
  failed on it too, but only after executing and rendering everything else).

    python tools/execute_chapters.py [--cache _build/.jupyter_cache] [--no-warmup] [chapters ...]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import time

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.cache.db import NbProjectRecord
from jupyter_cache.executors.utils import single_nb_execution

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _ext import static_explorers, zmq_rearm  # noqa: E402


def execution_settings(config: pathlib.Path) -> dict:
    """``timeout`` (s) and ``allow_errors`` from the ``execute`` section of the book's config."""
    execute = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("execute") or {}
    if execute.get("execute_notebooks", "cache") != "cache":
        raise ValueError(f"{config}: execute_notebooks must be 'cache' for the build to reuse "
                         f"these executions, got {execute.get('execute_notebooks')!r}")
    return {"timeout": execute.get("timeout", 30),
            "allow_errors": bool(execute.get("allow_errors"))}


def book_notebooks(toc: pathlib.Path) -> list[pathlib.Path]:
    """The notebooks the book's table of contents lists (``file:`` entries with an ``.ipynb``
    beside them), in its order: every page jupyter-book would execute."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                path = toc.parent / node["file"]
                notebook = path if path.suffix == ".ipynb" else path.with_suffix(".ipynb")
                if notebook.is_file():
                    found.append(notebook)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(toc.read_text(encoding="utf-8")))
    return found


def stale(cache_dir: pathlib.Path, chapters: list[pathlib.Path]) -> list[pathlib.Path]:
    """The chapters the cache has no execution of (for their current code cells and kernel)."""
    cache = get_cache(str(cache_dir))
    missing = []
    for path in chapters:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            missing.append(path)
    return missing


def execute(path: pathlib.Path, cache_dir: pathlib.Path, timeout: int,
            allow_errors: bool) -> float:
    """Execute one chapter and cache it as myst-nb would; returns its execution time (s).

    Raises RuntimeError, with the failing cell's traceback, when the execution fails."""
    path = path.resolve()
    cache = get_cache(str(cache_dir))
    staged = cache.add_nb_to_project(str(path))
    NbProjectRecord.remove_tracebacks([staged.pk], cache.db)
    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(path.parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True,
                                 shutdown_kernel="immediate")
    if result.err is not None:
        NbProjectRecord.set_traceback(staged.uri, result.exc_string, cache.db)
        raise RuntimeError(f"executing {path.name} failed:\n{result.exc_string}")
    cache.cache_notebook_bundle(CacheBundleIn(nb, staged.uri,
                                              data={"execution_seconds": result.time}),
                                check_validity=False, overwrite=True)
    return result.time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("chapters", nargs="*", type=pathlib.Path,
                   help="notebooks (default: every notebook _toc.yml lists)")
    p.add_argument("--cache", type=pathlib.Path, default=ROOT / "_build" / ".jupyter_cache")
    p.add_argument("--config", type=pathlib.Path, default=ROOT / "_config.yml")
    p.add_argument("--no-warmup", action="store_true",
                   help="do not compile aichip's kernels ahead (aichip.warmup)")
    args = p.parse_args(argv)
    chapters = args.chapters or book_notebooks(ROOT / "_toc.yml")
    settings = execution_settings(args.config)
    todo = stale(args.cache, chapters)
    if not todo:
        print(f"every chapter ({len(chapters)}) is in {args.cache}: nothing to execute")
        return 0
    os.environ.setdefault(static_explorers.ENV, "1")
    zmq_rearm.install()
    if len(todo) > 1 and not args.no_warmup:   # one chapter compiles only its own kernels
        start = time.perf_counter()
        warm = subprocess.run([sys.executable, "-m", "aichip.warmup"], check=False)
        if warm.returncode:
            print(f"aichip.warmup failed (exit status {warm.returncode})", file=sys.stderr)
            return 1
        print(f"compiled the slowest-compiling kernels ahead (aichip.warmup) in "
              f"{time.perf_counter() - start:.1f} s", flush=True)
    for path in todo:
        print(f"executing {path.name} ...", flush=True)
        try:
            seconds = execute(path, args.cache, **settings)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            return 1
        print(f"executed {path.name} in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
