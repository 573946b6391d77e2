"""The report plumbing of bench/run.py: one table formatter, checks shown as their outcome."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "bench"))
import run  # noqa: E402


def test_format_table_aligns_and_shows_check_outcomes():
    columns = [run.Column("kernel"), run.Column("GB/s", ".2f"), run.Column("correct")]
    text = run.format_table(columns, [("triad", 12.345, True), ("copy", None, False)])
    assert text.splitlines() == ["kernel   GB/s  correct",
                                 "triad   12.35      yes",
                                 "copy        -       NO"]


def test_format_table_rejects_rows_of_the_wrong_length():
    with pytest.raises(ValueError, match="zip"):
        run.format_table([run.Column("a"), run.Column("b")], [("only one",)])


def test_checked_turns_a_failed_check_into_a_row():
    def wrong():
        raise ValueError("triad kernel produced 3 wrong elements")

    assert run.checked(lambda x: x * 2, 4) == (8, None)
    assert run.checked(wrong) == (None, "triad kernel produced 3 wrong elements")
