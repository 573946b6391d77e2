"""SRAM and DRAM traffic of a GEMM on a systolic array, counted as SCALE-Sim's reports count it.

SCALE-Sim (Samajdar et al., ISPASS 2020) reports, per layer and per operand, the reads and writes
its three on-chip buffers serve to the array (the SRAM side) and the accesses they make to DRAM to
fill and drain themselves (its detailed access report; the bandwidth report divides them by
cycles). The operands are the ifmap ``A`` (``M x K``), the filter ``B`` (``K x N``) and the ofmap
``C`` (``M x N``). With the mappings of :data:`aichip.systolic.MAPPINGS` (``S_R`` on the rows,
``S_C`` on the columns, ``T`` streamed) and ``F_R = ceil(S_R / rows)``, ``F_C = ceil(S_C / cols)``
folds along each, a fold reads from SRAM the part of each operand it needs:

========  ==================  ==================  ======================================
dataflow  ifmap SRAM reads    filter SRAM reads   ofmap SRAM writes
========  ==================  ==================  ======================================
``os``    ``F_C * M * K``     ``F_R * K * N``     ``M * N + F_R * F_C * (rows + cols)``
``ws``    ``F_C * M * K``     ``K * N``           ``F_R * M * N``
``is``    ``M * K``           ``F_C * K * N``     ``F_R * M * N``
========  ==================  ==================  ======================================

The stationary operand is read once; the streamed one once per fold along the other dimension; in
``ws`` and ``is`` every fold along the rows writes a partial sum of each output it touches. The
``os`` ofmap count is SCALE-Sim 3.0.0's: besides the ``M * N`` outputs, its counter adds the
height plus the width of each fold's (padded) output block, a quirk of its code that we reproduce
so the reports can be compared number for number.

DRAM: the buffers are double-buffered, a share ``active_fraction`` of each serving the array while
the rest fills from (or drains to) DRAM. An input operand whose every element fits in the active
part of its buffer is read from DRAM once (``M * K`` or ``K * N`` words); every partial sum the
ofmap buffer receives is written back once (``os``: the ``M * N`` outputs, not the quirk) when they
all fit in the active part of the ofmap buffer. Beyond that, what SCALE-Sim re-reads (or writes)
depends on its buffers' line-by-line replacement, which this module does not model: on a
``64 x 512 x 512`` layer in ``os`` on a ``32 x 32`` array SCALE-Sim reads the filter 294,868 times
from DRAM, more than its 262,144 words and fewer than the 524,288 SRAM reads. :func:`gemm_traffic`
then reports that count as missing (NaN) rather than a guess. The DRAM counts are those of
SCALE-Sim's default configuration, whose interface bandwidth SCALE-Sim computes itself; with a
bandwidth set by the user its prefetcher fetches lines of that width and reads more (170 ifmap words
instead of 140 for a ``20 x 7`` ifmap at a bandwidth of 1000 words a cycle). The SRAM counts do not
depend on buffers or bandwidth.

Every count was checked against SCALE-Sim 3.0.0's own report on layers of every dataflow
(``tests/test_systolic_traffic.py`` holds those numbers, recorded by ``bench/scalesim_runner.py``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from .layers import to_gemms
from .systolic import DATAFLOWS, MAPPINGS
from .validation import check_choice, check_float, check_int

__all__ = ["Traffic", "DEFAULT_BUFFERS_KB", "gemm_traffic", "layer_traffic"]

#: SCALE-Sim's default buffer sizes in kB (ifmap, filter, ofmap): its configuration's defaults.
DEFAULT_BUFFERS_KB = (256, 256, 128)


class Traffic(NamedTuple):
    """Words each operand's buffer serves to the array (SRAM) and moves to or from DRAM."""

    ifmap_sram_reads: int
    filter_sram_reads: int
    ofmap_sram_writes: int
    ifmap_dram_reads: float    # NaN where the operand does not fit the active buffer
    filter_dram_reads: float
    ofmap_dram_writes: float   # NaN where the partial sums do not fit the active buffer


def _folds(M, N, K, rows, cols, dataflow):
    size = {"M": M, "N": N, "K": K}
    mapping = MAPPINGS[dataflow]
    return (math.ceil(size[mapping.row_dim] / rows), math.ceil(size[mapping.col_dim] / cols))


def gemm_traffic(M: int, N: int, K: int, rows: int, cols: int, dataflow: str = "os",
                 buffers_kb=DEFAULT_BUFFERS_KB, word_bytes: int = 1,
                 active_fraction: float = 0.5) -> Traffic:
    """SCALE-Sim's SRAM and DRAM access counts of ``(M x K) @ (K x N)`` on a ``rows x cols`` array.

    Parameters
    ----------
    M, N, K : int >= 1
        GEMM shape (ifmap ``M x K``, filter ``K x N``).
    rows, cols : int >= 1
        Array size in PEs.
    dataflow : {"os", "ws", "is"}
    buffers_kb : (ifmap, filter, ofmap) sizes in kB (1024 bytes), SCALE-Sim's defaults unless given.
    word_bytes : int >= 1
        Bytes per word (SCALE-Sim's default: 1).
    active_fraction : float in (0, 1]
        Share of a read buffer that serves the array (SCALE-Sim's default: 0.5).

    Returns
    -------
    Traffic
        Counts in words, per operand (see the module docstring for the formulas).
    """
    M, N, K = (check_int(n, v, minimum=1) for n, v in (("M", M), ("N", N), ("K", K)))
    rows = check_int("rows", rows, minimum=1)
    cols = check_int("cols", cols, minimum=1)
    check_choice("dataflow", dataflow, DATAFLOWS)
    word_bytes = check_int("word_bytes", word_bytes, minimum=1)
    active_fraction = check_float("active_fraction", active_fraction, minimum=0.0, maximum=1.0,
                                  strict_minimum=True)
    if len(buffers_kb) != 3:
        raise ValueError(f"buffers_kb must hold (ifmap, filter, ofmap) sizes, got {buffers_kb}")
    ifmap_kb, filter_kb, ofmap_kb = (
        check_float(f"buffers_kb[{i}]", b, minimum=0.0, strict_minimum=True)
        for i, b in enumerate(buffers_kb))
    f_r, f_c = _folds(M, N, K, rows, cols, dataflow)
    sram = {"os": (f_c * M * K, f_r * K * N, M * N + f_r * f_c * (rows + cols)),
            "ws": (f_c * M * K, K * N, f_r * M * N),
            "is": (M * K, f_c * K * N, f_r * M * N)}[dataflow]
    ofmap_dram = M * N if dataflow == "os" else f_r * M * N

    def once_if_fits(words, kb):
        active = math.ceil(kb * 1024 / word_bytes * active_fraction)
        return float(words) if words <= active else math.nan

    return Traffic(*sram, once_if_fits(M * K, ifmap_kb), once_if_fits(K * N, filter_kb),
                   once_if_fits(ofmap_dram, ofmap_kb))


def layer_traffic(layers, rows: int, cols: int, dataflow: str = "os",
                  buffers_kb=DEFAULT_BUFFERS_KB, word_bytes: int = 1) -> pd.DataFrame:
    """:func:`gemm_traffic` of each layer (GemmLayer or ConvLayer, lowered with im2col).

    Returns one row per layer: ``layer, M, N, K`` and the six counts of :class:`Traffic`.
    """
    records = []
    for gemm in to_gemms(layers):
        counts = gemm_traffic(gemm.M, gemm.N, gemm.K, rows, cols, dataflow, buffers_kb,
                              word_bytes)
        records.append({"layer": gemm.name, "M": gemm.M, "N": gemm.N, "K": gemm.K,
                        **counts._asdict()})
    return pd.DataFrame.from_records(records)
