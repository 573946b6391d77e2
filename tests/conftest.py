"""Shared fixtures for the book's tests."""

import os
import pathlib

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw figures without a display
# Static explorers render their views in this process (the tests run in parallel already, and many
# count draw's calls here); tests/test_widgets_static.py checks rendering in several processes.
os.environ.setdefault("AICHIP_STATIC_PROCESSES", "1")

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    """The repository root."""
    return ROOT


def pytest_configure(config):
    # `make test-nojit` runs the unit tests once with NUMBA_DISABLE_JIT=1 (kernels as plain Python,
    # so coverage tools see them) and deselects the tests marked with this: too slow uncompiled.
    config.addinivalue_line(
        "markers",
        "slow_without_jit: too slow with NUMBA_DISABLE_JIT=1; skipped by make test-nojit")
