"""Store the chapters nbmake just executed in the book's jupyter-cache, for the book build to reuse.

``make test`` executes every chapter once under nbmake (``make test-notebooks``, which runs copies
of the chapters in ``.nbexec`` with ``--overwrite`` so that the executed copies keep their
outputs) and then builds the book. myst-nb executes through jupyter-cache
(``execute_notebooks: cache`` in _config.yml) and looks a chapter up by a hash of its code cells
and kernelspec; this script stores each executed copy under its chapter's path, so the build
finds every chapter already executed instead of running the whole book a second time.

The cache is only trusted for the sources it was executed with: ``--sources-id`` is the
Makefile's fingerprint of the aichip package and the pinned requirements. When it differs from
the one recorded in ``_build/.primed-id`` (or the cache's own ``_build/.sources-id``), the old
cache is dropped first; the id is recorded after priming, and ``make book`` keeps a cache that was
primed for the sources it is building.

    python tools/prime_cache.py .nbexec --sources-id "$(SOURCES_ID)"
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys

import nbformat
from jupyter_cache import get_cache

ROOT = pathlib.Path(__file__).resolve().parents[1]


#: Notebook metadata an execution writes and the book build reads back from the cache.
EXECUTION_METADATA = ("widgets", "language_info")


def _with_execution_metadata(chapter_meta: dict, executed_meta: dict) -> nbformat.NotebookNode:
    """The chapter's notebook metadata plus the keys of EXECUTION_METADATA the execution wrote."""
    merged = nbformat.from_dict(dict(chapter_meta))
    for key in EXECUTION_METADATA:
        if key in executed_meta:
            merged[key] = executed_meta[key]
    return merged


def prime(executed: pathlib.Path, cache_dir: pathlib.Path, chapters: pathlib.Path) -> list[str]:
    """Cache every executed notebook of ``executed`` under the path of its chapter.

    Returns the chapter file names primed. Raises FileNotFoundError when an executed copy has no
    chapter of the same name (the copies are stale) or when ``executed`` holds no notebook.
    """
    copies = sorted(executed.glob("*.ipynb"))
    if not copies:
        raise FileNotFoundError(f"no executed notebooks in {executed}: run make test-notebooks")
    cache = get_cache(str(cache_dir))
    primed = []
    for copy in copies:
        chapter = chapters / copy.name
        if not chapter.is_file():
            raise FileNotFoundError(f"{copy} has no chapter {chapter}: the copies are stale")
        # jupyter-cache's hash covers the code cells' source and metadata and the kernelspec;
        # nbmake adds execution metadata to the cells it runs, so the copy gets its chapter's
        # cell metadata back before it is stored (its outputs are what the build needs).
        original = nbformat.read(chapter, as_version=4)
        executed_nb = nbformat.read(copy, as_version=4)
        if [c.source for c in original.cells] != [c.source for c in executed_nb.cells]:
            raise ValueError(f"{copy} differs from {chapter}: the copies are stale")
        for ours, theirs in zip(executed_nb.cells, original.cells, strict=True):
            ours.metadata = theirs.metadata
        # The notebook's metadata goes back to the chapter's too, except what the execution
        # wrote that the build reads: the widget state (every explorer's static snapshot;
        # myst-nb merges it from the cache into the page) and the kernel's language_info.
        executed_nb.metadata = _with_execution_metadata(original.metadata, executed_nb.metadata)
        nbformat.write(executed_nb, copy)
        # The uri is the chapter's path, as myst-nb records it.
        cache.cache_notebook_file(str(copy), uri=str(chapter.resolve()), check_validity=False,
                                  overwrite=True)
        cache.match_cache_notebook(original)  # KeyError here: the build would not find it
        primed.append(copy.name)
    return primed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("executed", type=pathlib.Path, help="folder of executed notebook copies")
    p.add_argument("--cache", type=pathlib.Path, default=ROOT / "_build" / ".jupyter_cache")
    p.add_argument("--chapters", type=pathlib.Path, default=ROOT / "chapters")
    p.add_argument("--sources-id", required=True, help="the Makefile's SOURCES_ID fingerprint")
    args = p.parse_args(argv)
    stamp = args.cache.parent / ".primed-id"
    built = args.cache.parent / ".sources-id"
    known = {f.read_text().strip() for f in (stamp, built) if f.is_file()}
    if args.sources_id not in known and args.cache.exists():
        print(f"sources changed since {args.cache} was filled: dropping it")
        shutil.rmtree(args.cache)
    primed = prime(args.executed, args.cache, args.chapters)
    stamp.write_text(args.sources_id + "\n")
    print(f"primed {args.cache} with {len(primed)} executed chapters: {', '.join(primed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
