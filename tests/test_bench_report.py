"""The report plumbing of bench/run.py: one table formatter, checks shown as their outcome."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "bench"))
import run  # noqa: E402  (bench/ is no package: importable only after the path insert above)


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


def test_failed_checks_set_the_exit_status(monkeypatch, capsys):
    monkeypatch.setattr(run, "FAILED_CHECKS", [])
    monkeypatch.setitem(run.SECTIONS, "roofline",
                        lambda repeats: {"ok": run.note_check("a passing check", True)})
    assert run.main(["--only", "roofline", "--repeats", "1"]) == 0
    monkeypatch.setitem(run.SECTIONS, "roofline",
                        lambda repeats: {"ok": run.note_check("the triad result", False)})
    assert run.main(["--only", "roofline", "--repeats", "1"]) == 1
    assert "FAILED correctness checks:\n  the triad result" in capsys.readouterr().out
