"""tools/execute_chapters.py: chapters executed before the build, found by the build as its own.

``make book`` executes the chapters the jupyter-cache lacks with this tool, then runs both
editions' Sphinx builds side by side; they must find every chapter in the cache the way myst-nb
looks it up (``match_cache_notebook`` on the chapter as it is on disk), with its outputs and its
execution time, and a chapter that fails must stop the run with its traceback, caching nothing.
"""

import pathlib
import sys

import nbformat
import pytest
from jupyter_cache import get_cache

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import execute_chapters  # noqa: E402

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _chapter(path: pathlib.Path, source: str) -> pathlib.Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)
    return path


def _unset_static_explorers(monkeypatch):
    """main() sets AICHIP_STATIC_EXPLORERS for the kernels it starts; undo that after the test,
    or the explorers of the tests that follow in this process are built static. (delenv alone
    records nothing to undo when the variable is not set.)"""
    monkeypatch.setenv("AICHIP_STATIC_EXPLORERS", "unset by the test")
    monkeypatch.delenv("AICHIP_STATIC_EXPLORERS")


def test_the_settings_are_the_books_and_need_the_cache_mode(tmp_path):
    settings = execute_chapters.execution_settings(ROOT / "_config.yml")
    assert settings == {"timeout": 300, "allow_errors": False}
    config = tmp_path / "_config.yml"
    config.write_text("execute:\n  execute_notebooks: force\n  timeout: 5\n")
    with pytest.raises(ValueError, match="execute_notebooks must be 'cache'"):
        execute_chapters.execution_settings(config)


def test_the_notebooks_executed_are_every_notebook_the_table_of_contents_lists(tmp_path):
    # The Sphinx builds run side by side only because they execute nothing: a notebook page the
    # tool missed would be executed by the English build, beside the Chinese one.
    listed = execute_chapters.book_notebooks(ROOT / "_toc.yml")
    assert listed == sorted((ROOT / "chapters").glob("*.ipynb"))   # the book's order is NN_
    (tmp_path / "a").mkdir()
    for name in ("intro.md", "a/nb1.ipynb", "nb2.ipynb"):
        (tmp_path / name).write_text("")
    (tmp_path / "_toc.yml").write_text(
        "root: intro\nparts:\n  - chapters:\n      - file: a/nb1\n      - file: nb2.ipynb\n"
        "        sections:\n          - file: missing\n")
    assert execute_chapters.book_notebooks(tmp_path / "_toc.yml") == [
        tmp_path / "a" / "nb1.ipynb", tmp_path / "nb2.ipynb"]


def test_an_executed_chapter_is_found_by_the_builds_lookup_with_its_outputs(tmp_path,
                                                                             monkeypatch):
    _unset_static_explorers(monkeypatch)
    chapter = _chapter(tmp_path / "01_a.ipynb",
                       "import os, pathlib\nprint(pathlib.Path.cwd().name, "
                       "os.environ.get('AICHIP_STATIC_EXPLORERS'))\n6 * 7")
    cache_dir = tmp_path / "cache"
    assert execute_chapters.stale(cache_dir, [chapter]) == [chapter]
    assert execute_chapters.main([str(chapter), "--cache", str(cache_dir)]) == 0
    assert execute_chapters.stale(cache_dir, [chapter]) == []
    cache = get_cache(str(cache_dir))
    on_disk = nbformat.read(chapter, as_version=4)
    record = cache.match_cache_notebook(on_disk)            # as myst-nb asks
    assert record.uri == str(chapter.resolve()) and record.data["execution_seconds"] > 0
    _, merged = cache.merge_match_into_notebook(on_disk)
    outputs = merged.cells[1].outputs
    # run in the chapter's folder, with the explorers precomputed as the book shows them
    assert outputs[0]["text"] == f"{tmp_path.name} 1\n"
    assert outputs[1]["data"]["text/plain"] == "42"
    # nothing left to do: a second run executes nothing
    assert execute_chapters.main([str(chapter), "--cache", str(cache_dir)]) == 0


def test_a_failing_chapter_stops_the_run_with_its_traceback_and_is_not_cached(tmp_path, capsys,
                                                                                monkeypatch):
    _unset_static_explorers(monkeypatch)
    good = _chapter(tmp_path / "01_good.ipynb", "1 + 1")
    bad = _chapter(tmp_path / "02_bad.ipynb", "raise ValueError('planted failure')")
    later = _chapter(tmp_path / "03_later.ipynb", "2 + 2")
    cache_dir = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="planted failure"):
        execute_chapters.execute(bad, cache_dir, timeout=60, allow_errors=False)
    assert execute_chapters.stale(cache_dir, [good, bad, later]) == [good, bad, later]
    execute_chapters.execute(good, cache_dir, timeout=60, allow_errors=False)
    assert execute_chapters.main([str(bad), str(later), "--cache", str(cache_dir),
                                  "--no-warmup"]) == 1
    assert "planted failure" in capsys.readouterr().err
    assert execute_chapters.stale(cache_dir, [good, bad, later]) == [bad, later]
