"""tools/prime_cache.py: the book build finds nbmake's executions, outputs and widget state.

`make test` executes each chapter once under nbmake and stores the executed copies in the book's
jupyter-cache. The build then asks the cache for each chapter and merges what it finds into the
page, the way myst-nb does (``merge_match_into_notebook``). These tests prime a cache with a small
executed notebook and ask for it back as the build would: the outputs and the widget state (every
explorer's static snapshot) must survive, and stale copies must be refused.
"""

import pathlib
import sys

import nbformat
import pytest
from jupyter_cache import get_cache

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))

import prime_cache  # noqa: E402

WIDGET_STATE = {"application/vnd.jupyter.widget-state+json": {
    "version_major": 2, "version_minor": 0,
    "state": {"abc123": {"model_name": "IntSliderModel",
                         "model_module": "@jupyter-widgets/controls",
                         "model_module_version": "2.0.0", "state": {"value": 3}}}}}
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _chapter() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"),
                nbformat.v4.new_code_cell("x = 6 * 7\nx", metadata={"tags": ["hide-input"]})]
    return nb


def _executed(chapter: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The chapter as nbmake leaves it: outputs, execution metadata, widget state."""
    nb = nbformat.from_dict(chapter)
    nb.metadata = nbformat.from_dict({**chapter.metadata, "widgets": WIDGET_STATE,
                                      "language_info": {"name": "python", "version": "3.11.7"}})
    cell = nb.cells[1]
    cell.metadata = nbformat.from_dict({**cell.metadata,
                                        "execution": {"iopub.status.busy": "2026-12-07T15:00"}})
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "42"},
                                           execution_count=1)]
    return nb


@pytest.fixture
def tree(tmp_path):
    chapters, executed = tmp_path / "chapters", tmp_path / "executed"
    chapters.mkdir()
    executed.mkdir()
    chapter = _chapter()
    nbformat.write(chapter, chapters / "01_a.ipynb")
    nbformat.write(_executed(chapter), executed / "01_a.ipynb")
    return chapters, executed, tmp_path / "cache"


def test_the_build_gets_outputs_and_widget_state_back(tree):
    chapters, executed, cache_dir = tree
    assert prime_cache.prime(executed, cache_dir, chapters) == ["01_a.ipynb"]
    chapter = nbformat.read(chapters / "01_a.ipynb", as_version=4)
    _, merged = get_cache(str(cache_dir)).merge_match_into_notebook(chapter)
    assert merged.cells[1].outputs[0]["data"]["text/plain"] == "42"
    # Without the widget state every explorer on the page is dead (CI of stop 30).
    assert merged.metadata["widgets"] == WIDGET_STATE
    assert merged.metadata["language_info"]["name"] == "python"
    # The chapter's own metadata is what the cache matched on, and it is kept.
    assert merged.metadata["kernelspec"] == KERNELSPEC


def test_a_copy_of_changed_sources_is_refused(tree):
    chapters, executed, cache_dir = tree
    chapter = nbformat.read(chapters / "01_a.ipynb", as_version=4)
    chapter.cells[1].source = "x = 6 * 9\nx"
    nbformat.write(chapter, chapters / "01_a.ipynb")
    with pytest.raises(ValueError, match="stale"):
        prime_cache.prime(executed, cache_dir, chapters)


def test_a_copy_without_its_chapter_is_refused(tree):
    chapters, executed, cache_dir = tree
    (chapters / "01_a.ipynb").rename(chapters / "01_b.ipynb")
    with pytest.raises(FileNotFoundError, match="stale"):
        prime_cache.prime(executed, cache_dir, chapters)


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "executed").mkdir()
    with pytest.raises(FileNotFoundError, match="make test-notebooks"):
        prime_cache.prime(tmp_path / "executed", tmp_path / "cache", tmp_path)
