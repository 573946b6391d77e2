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


def test_targets_are_pass_fail_rows_printed_side_by_side(monkeypatch, capsys):
    monkeypatch.setattr(run, "TARGETS", [])
    assert run.note_target("a ratio", 2, 0.96, 0.95)[-1] is True
    assert run.note_target("a ratio", 2, 0.94, 0.95)[-1] is False
    assert run.note_target("a ceiling", 2, 1.2, 1.3, at_most=True)[-1] is True
    assert run.note_target("a ceiling", 2, 1.4, 1.3, at_most=True)[-1] is False
    assert run.note_target("not measured", 2, None, 0.8)[-1] is False
    monkeypatch.setitem(run.SECTIONS, "roofline", lambda repeats: {})
    assert run.main(["--only", "roofline", "--repeats", "1"]) == 0  # speed is not correctness
    out = capsys.readouterr().out
    assert "Speed targets of this run" in out and out.count(" NO\n") + out.endswith(" NO") == 3


def test_interleaved_best_alternates_and_keeps_each_best():
    from collections import namedtuple

    result = namedtuple("R", "best_GFLOPs")
    calls = []
    speeds = {"a": iter([1.0, 3.0, 2.0]), "b": iter([5.0, 4.0, 6.0])}

    def measure(name):
        calls.append(name)
        return result(next(speeds[name]))

    best = run.interleaved_best({k: (lambda k=k: measure(k)) for k in "ab"}, rounds=3)
    assert calls == ["a", "b"] * 3
    assert best["a"] == (result(3.0), None) and best["b"] == (result(6.0), None)

    def broken():
        raise ValueError("wrong result")

    assert run.interleaved_best({"c": broken}, rounds=2)["c"] == (None, "wrong result")
