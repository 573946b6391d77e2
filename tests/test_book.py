"""aichip.book.glue_values: a mapping of named numbers glued for the prose, as myst-nb's glue."""

import myst_nb
import numpy as np
import pytest

from aichip import book


def test_glues_each_value_undisplayed_in_order(monkeypatch):
    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda *args, **kw: calls.append((args, kw)))
    assert book.glue_values({"b_ratio": 2.5, "a_name": "TPU", "n": 3}) is None  # no cell output
    assert calls == [(("b_ratio", 2.5), {"display": False}),
                     (("a_name", "TPU"), {"display": False}), (("n", 3), {"display": False})]


def test_formats_shared_and_per_name(monkeypatch):
    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: calls.append((name, value)))
    book.glue_values({"x": 1234.567, "y": 0.5}, fmt=".1f")
    assert calls == [("x", "1234.6"), ("y", "0.5")]
    book.glue_values({"x": 1234.567, "y": 0.5}, fmt={"x": ",.0f"})
    assert calls[-2:] == [("x", "1,235"), ("y", 0.5)]


def test_numpy_scalars_are_glued_as_python_numbers(monkeypatch):
    # myst-nb glues repr(value); NumPy 2's repr is np.float64(2.5), which {glue:text} cannot format
    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: calls.append((name, value)))
    book.glue_values({"f": np.float64(2.5), "i": np.int64(3), "b": np.bool_(True)})
    assert calls == [("f", 2.5), ("i", 3), ("b", True)]
    assert [type(v) for _, v in calls] == [float, int, bool]
    assert [repr(v) for _, v in calls] == ["2.5", "3", "True"]


def test_runs_outside_a_notebook():
    """myst-nb's glue only displays (nothing, outside IPython): a plain Python run works."""
    book.glue_values({"plain_python": 1.0})
    assert book.formatted_values({"plain_python": 1.0}) == {"plain_python": 1.0}


@pytest.mark.parametrize("values, fmt, exc, match", [
    ([("x", 1)], None, TypeError, "values must be a mapping"),
    ({}, None, ValueError, "values must hold at least one name"),
    ({1: 2}, None, TypeError, "names must be strings"),
    ({"two words": 2}, None, ValueError, "must be an identifier"),
    ({"1x": 2}, None, ValueError, "must be an identifier"),
    ({"x": 1}, {"y": ".1f"}, ValueError, r"fmt names \['y'\], which are not in values"),
    ({"x": 1}, 3, TypeError, "fmt must be a format string"),
    ({"x": "text"}, ".1f", ValueError, "fmt '.1f' does not apply to x = 'text'"),
])
def test_bad_input(values, fmt, exc, match):
    with pytest.raises(exc, match=match):
        book.formatted_values(values, fmt)
