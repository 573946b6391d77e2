"""Where a book build's time went: each chapter's execution time, from the build's jupyter-cache.

myst-nb executes the chapters through jupyter-cache (``execute_notebooks: cache`` in _config.yml),
which records every execution's wall time in ``_build/.jupyter_cache/global.db``. ``make book``
prints this table after a build that executed anything; run it by hand with::

    python tools/chapter_times.py [--cache _build/.jupyter_cache] [--budget 300]

``--budget`` (seconds) marks the total against the book's target and exits 1 when the chapters'
executions add up to more (the build's other work, rendering and the explorers' precompute inside
the cells aside, is not in these times).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sqlite3
import sys


def chapter_times(cache: pathlib.Path) -> list[tuple[str, float]]:
    """(notebook file name, execution seconds) of every notebook in the cache, slowest first."""
    db = cache / "global.db"
    if not db.is_file():
        raise FileNotFoundError(f"no jupyter-cache database at {db}: build the book first")
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT uri, data FROM nbcache").fetchall()
    times = []
    for uri, data in rows:
        seconds = json.loads(data or "{}").get("execution_seconds")
        if seconds is not None:
            times.append((pathlib.Path(uri).name, float(seconds)))
    return sorted(times, key=lambda t: -t[1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cache", default="_build/.jupyter_cache", type=pathlib.Path)
    p.add_argument("--budget", type=float, default=None, help="seconds the chapters may take")
    args = p.parse_args(argv)
    times = chapter_times(args.cache)
    total = sum(t for _, t in times)
    width = max([len(name) for name, _ in times] + [7])
    for name, seconds in times:
        print(f"{name:<{width}}  {seconds:6.1f} s  {100 * seconds / max(total, 1e-9):4.0f}%")
    print(f"{'total':<{width}}  {total:6.1f} s" + (
        "" if args.budget is None else f"  (budget {args.budget:.0f} s)"))
    return 1 if args.budget is not None and total > args.budget else 0


if __name__ == "__main__":
    sys.exit(main())
