"""The scope of ``make mutate`` (tools/mutation_scope.py) keeps up with the package: every data
table has the test files that load it, and every test file and module it names exists."""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import mutation_scope  # noqa: E402


def test_every_table_is_in_scope_with_tests_that_exist():
    tables = {p.stem for p in (ROOT / "code" / "aichip" / "data").glob("*.csv")}
    assert set(mutation_scope.DATA_TESTS) == tables
    for name, tests in mutation_scope.DATA_TESTS.items():
        assert tests, name
        for t in tests:
            assert (ROOT / t).is_file(), f"{name}: {t}"


def test_every_target_and_its_tests_exist():
    for label, targets in mutation_scope.SCOPE.items():
        for target in targets:
            assert (ROOT / mutation_scope.module_path(target.module)).is_file(), label
            for t in target.tests:
                assert (ROOT / t).is_file(), f"{label}: {t}"


def test_cosmic_ray_runs_the_test_command_it_is_given(tmp_path):
    """The command that judges each mutant holds quotes (the no-JIT run's marker expression). It
    once reached cosmic-ray through Python's repr, which TOML reads with the backslashes kept:
    the shell failed on every mutant, and every mutant counted as killed. The configuration must
    give cosmic-ray the command unchanged, and that command must pass on passing tests."""
    import shlex
    import subprocess

    pytest.importorskip("cosmic_ray")
    import mutate

    test = tmp_path / "test_ok.py"
    test.write_text("def test_ok():\n    assert True\n")
    command = mutate.test_command((str(test),))
    assert "'" in command                      # the case that broke
    config = mutate.write_config(tmp_path / "c.toml", tmp_path / "m.py", 60, command)
    assert config["test-command"] == command
    run = subprocess.run(shlex.split(config["test-command"]), cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    test.write_text("def test_fails():\n    assert False\n")
    assert subprocess.run(shlex.split(command), cwd=tmp_path, capture_output=True).returncode != 0


def test_a_rerun_finds_survivors_by_position_and_by_their_lines_text(tmp_path):
    import mutate

    report = tmp_path / "r.txt"
    report.write_text(
        "# header\n"
        "mpiharness.py:54:7  ITEM  NumberReplacer#1  ITEM = 8                      # bytes  ->  "
        "ITEM = 7                      # bytes\n"
        "    equivalent: a reason line is not a survivor\n"
        "data/hbm.csv:3:stack_height  HBM2  8  ->  10\n")
    assert mutate.survivors_of(report) == {
        ("mpiharness.py", 54, 7, "NumberReplacer#1"),
        ("text", "mpiharness.py", "ITEM = 8                      # bytes", 7, "NumberReplacer#1"),
        ("data/hbm.csv", 3, "stack_height")}


def test_columns_left_out_of_the_cell_mutation_exist_and_say_why():
    from aichip.tables import SCHEMAS

    for table, columns in mutation_scope.RECORDED_COLUMNS.items():
        schema = SCHEMAS[table]
        for column, why in columns.items():
            assert column in (*schema.numeric, *schema.integer), (table, column)
            assert len(why) > 40, (table, column)
