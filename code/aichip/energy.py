"""Energy per operation: the 45 nm figures of Horowitz (ISSCC 2014) and what they imply.

The table lives in ``aichip/data/energy_horowitz45.csv`` (columns ``operation, precision,
energy_pJ, source, notes``): integer and floating-point add and multiply at several widths, and
64-bit reads from SRAM of 8 KB, 32 KB and 1 MB and from DRAM, all in picojoules at 45 nm, 0.9 V.
They are rough, process-specific numbers; what carries over to newer processes is the *ratios*.
By the table's own numbers a 64-bit DRAM read (1300 pJ, the low end of the source's 1.3-2.6 nJ)
costs about 4,300 times an 8-bit multiply-add that accumulates in 32 bits (0.2 + 0.1 pJ) and about
5,700 times one that accumulates in 8 bits (0.2 + 0.03 pJ); an fp32 multiply costs about 18 times an
int8 multiply (3.7 / 0.2 pJ).

API: :func:`load` (the table), :func:`op_energy_pJ` (one entry), :func:`dot_product_energy`
(an estimate for a whole dot product), :func:`dot_energy_table` (that estimate for every precision
and memory level).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import pandas as pd

from .tables import load_table
from .validation import check_choice, check_int

__all__ = [
    "MEMORY_LEVELS", "ACCUMULATOR", "DOT_PRECISIONS", "load", "op_energy_pJ", "DotEnergy",
    "dot_product_energy", "dot_energy_table",
]

#: memory levels of the table, smallest (cheapest) first; one entry is a 64-bit (8-byte) read
MEMORY_LEVELS = ("sram_8KB", "sram_32KB", "sram_1MB", "dram")

#: the add that accumulates products of each operand precision (int8 products sum in int32, fp16
#: products in fp32, as in int8 and mixed-precision matrix units)
ACCUMULATOR = {"int8": "int32", "fp16": "fp32", "fp32": "fp32"}

#: operand precisions :func:`dot_product_energy` models
DOT_PRECISIONS = tuple(ACCUMULATOR)

_BYTES = {"int8": 1, "fp16": 2, "fp32": 4}


@functools.lru_cache(maxsize=1)
def _load_cached() -> pd.DataFrame:
    return load_table("energy_horowitz45")


def load() -> pd.DataFrame:
    """The energy table (a fresh copy): one row per (operation, precision), energy in pJ."""
    return _load_cached().copy()


def op_energy_pJ(operation: str, precision: str) -> float:
    """Energy of one ``operation`` at ``precision`` in picojoules (45 nm, Horowitz 2014).

    Examples: ``op_energy_pJ("mult", "int8")`` -> 0.2, ``op_energy_pJ("dram_read", "64bit")``.
    Raises ValueError naming the valid pairs for an unknown combination.
    """
    df = _load_cached()
    check_choice("operation", operation, sorted(set(df["operation"])))
    rows = df[(df["operation"] == operation) & (df["precision"] == precision)]
    if rows.empty:
        have = sorted(df.loc[df["operation"] == operation, "precision"])
        raise ValueError(f"precision must be one of {have} for {operation!r}, got {precision!r}")
    return float(rows["energy_pJ"].iloc[0])


class DotEnergy(NamedTuple):
    """Energy of an n-element dot product, in picojoules, split into arithmetic and operand
    reads."""

    n: int
    precision: str
    memory: str
    multiply_pJ: float
    accumulate_pJ: float
    memory_pJ: float

    @property
    def total_pJ(self) -> float:
        return self.multiply_pJ + self.accumulate_pJ + self.memory_pJ

    @property
    def pJ_per_mac(self) -> float:
        return self.total_pJ / self.n


def dot_product_energy(n: int, precision: str = "int8", memory: str = "dram") -> DotEnergy:
    """Estimate the energy of a dot product of two length-``n`` vectors read from ``memory``.

    ``n`` multiplies at ``precision``, ``n`` adds at its accumulator precision
    (:data:`ACCUMULATOR`), and ``2 n`` operands of ``precision``'s width fetched in 64-bit reads
    from ``memory`` (one of :data:`MEMORY_LEVELS`), packed eight bytes to a read::

        E = n * (E_mult + E_add) + (2 n bytes / 8) * E_read64

    No reuse is assumed: this is a dot product whose operands are used once (a matrix-vector
    product), the worst case that data reuse in matrix units is designed to avoid.
    """
    n = check_int("n", n, minimum=1)
    precision = check_choice("precision", precision, DOT_PRECISIONS)
    memory = check_choice("memory", memory, MEMORY_LEVELS)
    reads = 2 * n * _BYTES[precision] / 8
    return DotEnergy(
        n=n, precision=precision, memory=memory,
        multiply_pJ=n * op_energy_pJ("mult", precision),
        accumulate_pJ=n * op_energy_pJ("add", ACCUMULATOR[precision]),
        memory_pJ=reads * op_energy_pJ(f"{memory}_read", "64bit"))


def dot_energy_table(n: int = 4096, precisions=DOT_PRECISIONS,
                     memories=MEMORY_LEVELS) -> pd.DataFrame:
    """:func:`dot_product_energy` for every (precision, memory level), per multiply-accumulate.

    Returns a DataFrame with one row per pair: ``precision, operands from, arithmetic (pJ/MAC),
    memory (pJ/MAC), total (pJ/MAC)``, precisions in the order given, memories within each.
    """
    if isinstance(precisions, str) or isinstance(memories, str):
        raise TypeError("precisions and memories must be lists of names, not a single string")
    rows = []
    for precision in precisions:
        for memory in memories:
            e = dot_product_energy(n, precision, memory)
            rows.append({"precision": precision, "operands from": memory,
                         "arithmetic (pJ/MAC)": (e.multiply_pJ + e.accumulate_pJ) / e.n,
                         "memory (pJ/MAC)": e.memory_pJ / e.n, "total (pJ/MAC)": e.pJ_per_mac})
    if not rows:
        raise ValueError("precisions and memories must each name at least one entry")
    return pd.DataFrame(rows)
