"""The scope of ``make mutate`` (tools/mutation_scope.py) keeps up with the package: every data
table has the test files that load it, and every test file and module it names exists."""

import pathlib
import sys

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
