"""Every CSV table in aichip/data against its declared schema, and every source against the
bibliography; the loader's own checks against planted faults."""

import pathlib
import re
from importlib import resources

import pandas as pd
import pytest

from aichip import tables

BIB = pathlib.Path(__file__).resolve().parents[1] / "chapters" / "references.bib"
DATA = resources.files("aichip").joinpath("data")


def test_every_data_file_has_a_schema_and_every_schema_a_file():
    files = {p.name[:-4] for p in DATA.iterdir() if p.name.endswith(".csv")}
    assert files == set(tables.table_names())


@pytest.mark.parametrize("name", tables.table_names())
def test_table_matches_its_schema(name):
    schema = tables.SCHEMAS[name]
    df = tables.load_table(name)
    assert tuple(df.columns) == schema.columns
    assert len(df) > 0
    for column in schema.numeric:
        assert pd.api.types.is_float_dtype(df[column]), column
    for column in schema.integer:
        assert pd.api.types.is_integer_dtype(df[column]), column
    assert (df["source"].str.strip() != "").all()
    if schema.key:
        assert not df.duplicated(list(schema.key)).any()
    # read independently of the loader: the same number of data rows as the file has records
    with DATA.joinpath(f"{name}.csv").open("r", encoding="utf-8") as f:
        assert len(pd.read_csv(f)) == len(df)


@pytest.mark.parametrize("name", tables.table_names())
def test_every_source_is_a_bibliography_key(name):
    keys = set(re.findall(r"@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8")))
    missing = set(tables.load_table(name)["source"]) - keys
    assert not missing, f"{name}.csv cites keys missing from references.bib: {missing}"


def test_load_table_returns_a_fresh_copy():
    df = tables.load_table("links")
    df.loc[:, "GBps_per_dir"] = -1.0
    assert (tables.load_table("links")["GBps_per_dir"] > 0).all()


def test_unknown_table_is_a_clear_error():
    with pytest.raises(ValueError, match=r"name must be one of .*'chips'"):
        tables.load_table("chip")


@pytest.fixture
def planted(monkeypatch, tmp_path):
    """Point the loader at a temporary data folder holding one table, ``t.csv``."""

    def plant(text, **schema):
        (tmp_path / "data").mkdir(exist_ok=True)
        (tmp_path / "data" / "t.csv").write_text(text)
        monkeypatch.setitem(tables.SCHEMAS, "t", tables.TableSchema(**schema))
        monkeypatch.setattr(tables.resources, "files", lambda _pkg: tmp_path)
        tables._load_cached.cache_clear()
        return lambda: tables.load_table("t")

    yield plant
    tables._load_cached.cache_clear()


@pytest.mark.parametrize("text, schema, message", [
    ("a,source\n1,k\n", dict(columns=("b", "source")), r"header \('a', 'source'\) differs"),
    ("a,source\nx,k\n", dict(columns=("a", "source"), numeric=("a",)),
     r"column 'a' must hold numbers"),
    ("a,source\n,k\n", dict(columns=("a", "source"), integer=("a",)),
     r"'a' needs a whole number .*\[2\]"),
    ("a,source\n1.5,k\n", dict(columns=("a", "source"), integer=("a",)),
     r"'a' must hold whole numbers"),
    ("a,source\n1,k\n2,\n", dict(columns=("a", "source")),
     r"needs a source; missing on file lines \[3\]"),
    ("a,source\n1,k\n1,k\n", dict(columns=("a", "source"), key=("a",)), r"key \('a',\) repeats"),
])
def test_a_broken_file_is_reported_with_its_line(planted, text, schema, message):
    load = planted(text, **schema)
    with pytest.raises(ValueError, match=message):
        load()


def test_a_good_planted_file_parses(planted):
    df = planted("a,b,source\n1,2.5,k\n3,,k\n", columns=("a", "b", "source"), integer=("a",),
                 numeric=("b",))()
    assert list(df["a"]) == [1, 3] and df["b"].iloc[0] == 2.5 and pd.isna(df["b"].iloc[1])


@pytest.mark.parametrize("schema, message", [
    (dict(columns=("a",)), "must include a 'source'"),
    (dict(columns=("a", "source"), numeric=("z",)), r"missing from its header: \['z'\]"),
    (dict(columns=("a", "source"), numeric=("a",), integer=("a",)), "both numeric"),
])
def test_bad_schema_is_rejected(schema, message):
    with pytest.raises(ValueError, match=message):
        tables.TableSchema(**schema)
