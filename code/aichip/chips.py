"""The catalogue of real AI chips: one row per device, every row with its source.

The data lives in ``aichip/data/chips.csv``. Units (GB = 1e9 bytes throughout):

================  ==========================================================================
column            meaning
================  ==========================================================================
name              device name as the vendor writes it (unique key)
vendor, kind      kind is one of :data:`KINDS`
year              year of first availability
process_nm        process node in nm (the marketing name's number, e.g. TSMC 4N -> 4)
``*_TFLOPs``      peak **dense** throughput in 1e12 floating-point operations per second for
                  fp64, fp32, tf32, fp16, bf16, fp8, fp4: the highest rate the chip reaches at
                  that precision, matrix units included; never the 2:4-sparse figure. fp4 is
                  any 4-bit float the chip multiplies natively (NVFP4, MXFP4); a row's notes
                  say which, and whether the figure is per die, per package or per board
``*_TOPs``        peak dense integer throughput (int8, int4) in 1e12 operations per second
mem_GB            memory capacity, 1e9 bytes
mem_bw_GBps       peak memory bandwidth, 1e9 bytes per second
tdp_W             thermal design power, watts
clock_MHz         the clock at which the row's peak throughputs are quoted, MHz (empty where the
                  source gives none)
source            BibTeX key in ``chapters/references.bib`` (datasheet or paper)
notes             what a reader should know to read the row correctly
================  ==========================================================================

An empty cell means the device does not support that precision natively, or the source gives no
figure we could check (we leave a cell empty rather than guess). One multiply-accumulate counts as
two operations. For wafer-scale and dataflow chips without DRAM (Cerebras, Graphcore, Groq),
``mem_GB`` and ``mem_bw_GBps`` describe the on-chip SRAM; the row's notes say so. Neuromorphic and
photonic research chips have no MAC-equivalent throughput; their rows keep the year, process and a
note, so they still appear on a timeline.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass

import pandas as pd

from .tables import load_table

__all__ = [
    "KINDS", "PRECISIONS", "NUMERIC_COLUMNS", "Chip", "load", "names", "get", "peak_TOPs",
    "efficiency_TOPs_per_W", "best_precision", "DERIVED_FIELDS", "with_derived_fields", "select",
    "best_so_far", "most", "peak_precisions",
]

KINDS = ("CPU", "GPU", "FPGA", "ASIC", "NPU", "Dataflow", "Neuromorphic", "In-memory", "Photonic")

#: precision -> column holding its peak throughput (1e12 ops/s)
PRECISIONS = {
    "fp64": "fp64_TFLOPs", "fp32": "fp32_TFLOPs", "tf32": "tf32_TFLOPs", "fp16": "fp16_TFLOPs",
    "bf16": "bf16_TFLOPs", "fp8": "fp8_TFLOPs", "fp4": "fp4_TFLOPs", "int8": "int8_TOPs",
    "int4": "int4_TOPs",
}

#: columns holding numbers (the year is an int, the rest float; NaN where the source gives none)
NUMERIC_COLUMNS = ("year", "process_nm", *PRECISIONS.values(), "mem_GB", "mem_bw_GBps", "tdp_W",
                   "clock_MHz")


@dataclass(frozen=True)
class Chip:
    """One catalogue row. Throughputs in 1e12 ops/s (``None`` where unsupported)."""

    name: str
    vendor: str
    kind: str
    year: int
    process_nm: float | None
    peak_TOPs: dict
    mem_GB: float | None
    mem_bw_GBps: float | None
    tdp_W: float | None
    clock_MHz: float | None
    source: str
    notes: str

    def peak(self, precision: str) -> float:
        """Peak dense throughput at ``precision`` in 1e12 ops/s; ValueError if the chip lacks it."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}")
        value = self.peak_TOPs.get(precision)
        if value is None:
            have = [p for p, v in self.peak_TOPs.items() if v is not None]
            raise ValueError(f"{self.name} has no {precision} figure; it has {have}")
        return value


@functools.lru_cache(maxsize=1)
def _load_cached() -> pd.DataFrame:
    # the schema (header, numeric columns, a year and a source on every row) is checked there
    return load_table("chips")


def load() -> pd.DataFrame:
    """Return the whole catalogue as a DataFrame (a fresh copy; one row per device)."""
    return _load_cached().copy()


def names() -> list[str]:
    """Names of every device in the catalogue."""
    return list(_load_cached()["name"])


def get(name: str) -> Chip:
    """Look a device up by its exact name (case-insensitive).

    Raises
    ------
    ValueError
        For an unknown name, listing the closest names in the catalogue.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    df = _load_cached()
    match = df[df["name"].str.lower() == name.lower()]
    if match.empty:
        close = difflib.get_close_matches(name, list(df["name"]), n=5, cutoff=0.3)
        hint = f"; did you mean one of {close}?" if close else f"; known chips: {list(df['name'])}"
        raise ValueError(f"unknown chip name {name!r}{hint}")
    row = match.iloc[0]

    def value(column):
        x = row[column]
        return None if pd.isna(x) else float(x)

    return Chip(
        name=row["name"], vendor=row["vendor"], kind=row["kind"], year=int(row["year"]),
        process_nm=value("process_nm"),
        peak_TOPs={p: value(c) for p, c in PRECISIONS.items()},
        mem_GB=value("mem_GB"), mem_bw_GBps=value("mem_bw_GBps"), tdp_W=value("tdp_W"),
        clock_MHz=value("clock_MHz"), source=row["source"], notes=row["notes"],
    )


def peak_TOPs(df: pd.DataFrame, precisions=("int8", "fp8", "fp16", "bf16", "fp32")) -> pd.Series:
    """Highest dense throughput (1e12 ops/s) of each row over ``precisions``; NaN where it has none.

    The default mixes integer and floating-point rates on purpose: it answers "how many
    multiply-accumulate-type operations per second can this chip do at its best low precision".
    """
    for p in precisions:
        if p not in PRECISIONS:
            raise ValueError(f"precisions must be drawn from {tuple(PRECISIONS)}, got {p!r}")
    return df[[PRECISIONS[p] for p in precisions]].max(axis=1, skipna=True)


def efficiency_TOPs_per_W(df: pd.DataFrame,
                          precisions=("int8", "fp8", "fp16", "bf16", "fp32")) -> pd.Series:
    """Peak throughput per watt of TDP, 1e12 ops/s per W (= ops per picojoule), per row.

    ``peak_TOPs(df, precisions) / tdp_W``; NaN where either is missing. A datasheet peak over a TDP
    is an upper bound: real kernels reach a fraction of the peak and may draw less than the TDP.
    """
    if not isinstance(df, pd.DataFrame) or "tdp_W" not in df:
        raise TypeError("df must be a catalogue DataFrame from aichip.chips.load()")
    return peak_TOPs(df, precisions) / df["tdp_W"]


def best_precision(chip: Chip, order=("fp32", "fp16", "bf16", "int8")) -> str:
    """The first precision in ``order`` that ``chip`` supports (for a default roofline)."""
    for p in order:
        if chip.peak_TOPs.get(p) is not None:
            return p
    raise ValueError(f"{chip.name} has none of the precisions {order}")




#: columns :func:`with_derived_fields` adds to the catalogue
DERIVED_FIELDS = ("peak_TOPs", "efficiency_TOPs_per_W")


def with_derived_fields(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of the catalogue with ``peak_TOPs`` (:func:`peak_TOPs`) and ``efficiency_TOPs_per_W``
    (:func:`efficiency_TOPs_per_W`) added as columns."""
    if not isinstance(df, pd.DataFrame) or "tdp_W" not in df:
        raise TypeError("df must be a catalogue DataFrame from aichip.chips.load()")
    out = df.copy()
    out["peak_TOPs"] = peak_TOPs(out)
    out["efficiency_TOPs_per_W"] = efficiency_TOPs_per_W(out)
    return out


def select(df: pd.DataFrame, kinds=KINDS, years=(1990, 2030), require=()) -> pd.DataFrame:
    """Rows of ``df`` whose kind is in ``kinds``, whose year is in the closed range ``years``, and
    that have a value in every column of ``require``."""
    if not isinstance(df, pd.DataFrame) or "kind" not in df:
        raise TypeError("df must be a catalogue DataFrame from aichip.chips.load()")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"kinds must be drawn from {KINDS}, got {sorted(unknown)}")
    if len(years) != 2 or years[0] > years[1]:
        raise ValueError(f"years must be a (first, last) pair with first <= last, got {years!r}")
    missing = [c for c in require if c not in df]
    if missing:
        raise ValueError(f"require must name columns of df, got {missing}")
    keep = df["kind"].isin(kinds) & df["year"].between(*years)
    for column in require:
        keep &= df[column].notna()
    return df[keep]


def best_so_far(df: pd.DataFrame, column: str = "efficiency_TOPs_per_W") -> pd.Series:
    """The highest ``column`` among devices released up to each year, indexed by the years that
    have a device with a value (NaN values are ignored)."""
    if not isinstance(df, pd.DataFrame) or column not in df or "year" not in df:
        raise ValueError(f"column must be a column of df (with a year column), got {column!r}")
    data = df[df[column].notna()]
    return data.groupby("year")[column].max().sort_index().cummax()


def most(df: pd.DataFrame, column: str = "efficiency_TOPs_per_W") -> pd.Series:
    """The row of ``df`` with the highest ``column`` (the first one on a tie)."""
    if not isinstance(df, pd.DataFrame) or column not in df:
        raise ValueError(f"column must be a column of df, got {column!r}")
    if df[column].notna().sum() == 0:
        raise ValueError(f"no row of df has a value in {column!r}")
    return df.loc[df[column].idxmax()]


def peak_precisions(row: pd.Series,
                    precisions=("int8", "fp8", "fp16", "bf16", "fp32")) -> list[str]:
    """The precisions among ``precisions`` at which a catalogue row reaches its best rate
    (:func:`peak_TOPs` over the same precisions); several when they tie (e.g. FP8 and INT8)."""
    if not isinstance(row, pd.Series):
        raise TypeError("row must be one catalogue row (a pandas Series), "
                        f"got {type(row).__name__}")
    for p in precisions:
        if p not in PRECISIONS:
            raise ValueError(f"precisions must be drawn from {tuple(PRECISIONS)}, got {p!r}")
    values = {p: row.get(PRECISIONS[p]) for p in precisions}
    values = {p: float(v) for p, v in values.items() if v is not None and not pd.isna(v)}
    if not values:
        return []
    best = max(values.values())
    return [p for p, v in values.items() if v == best]
