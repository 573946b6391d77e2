"""Shared fixtures for the book's tests."""

import pathlib

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw figures without a display

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    """The repository root."""
    return ROOT
