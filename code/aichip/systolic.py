"""A cycle-accurate systolic-array simulator and its analytical cycle model.

A systolic array is a ``rows x cols`` grid of processing elements (PEs). Each PE holds a
multiply-accumulate unit and a few registers; operands enter at the left and top edges and move one
PE per clock cycle. We follow the operand-to-array mappings of SCALE-Sim (Samajdar et al., ISPASS
2020), the reference simulator of this field, so our cycle counts can be compared with its.

The GEMM and its mapping
------------------------
We compute ``C = A @ B`` with ``A`` of shape ``(M, K)`` and ``B`` of shape ``(K, N)``. In
SCALE-Sim's words ``A`` is the ifmap operand matrix (``M`` output pixels by ``K`` = window size),
``B`` the filter matrix (``N`` filters). A dataflow maps one GEMM dimension onto the array rows
(``S_R``), one onto the columns (``S_C``) and streams the third in time (``T``):

========  ===========  ===========  ==========  ============================================
dataflow  rows (S_R)   cols (S_C)   time (T)    what stays in the PEs
========  ===========  ===========  ==========  ============================================
``os``    M            N            K           the output ``C[m, n]`` (accumulated in place)
``ws``    K            N            M           the weight ``B[k, n]``
``is``    K            M            N           the input ``A[m, k]``
========  ===========  ===========  ==========  ============================================

The mapping is data (:data:`MAPPINGS`); one engine runs all three. In output stationary (``os``) a
PE accumulates ``acc += h * v`` while the row operand ``h`` moves right and the column operand ``v``
moves down. In the operand-stationary dataflows (``ws``, ``is``) a PE holds ``w`` and computes
``v_out = v_in + h * w``: the streaming operand moves right, partial sums move down and leave at
the bottom edge. Input stationary is weight stationary with the roles of ``A`` and ``B`` exchanged
(``C^T = B^T A^T``), which is exactly what the mapping table says.

Folding and the cycle convention
--------------------------------
A problem larger than the array is cut into ``ceil(S_R/rows) * ceil(S_C/cols)`` **folds** (columns
of folds outermost). Operands enter skewed: row ``r`` starts ``r`` cycles late and column ``c``
starts ``c`` cycles late, so PE ``(r, c)`` sees time step ``t`` of a fold that starts at cycle ``S``
at cycle ``S + t + r + c``. A fold occupies the whole array's schedule even when it uses part of it,
as in SCALE-Sim: operands of unused rows and columns are zeros that flow through. Two schedules:

**No fold overlap** (``pipelined=False``, SCALE-Sim 3.0's convention). A fold starts when the
previous one has left the array.

- ``os``: ``T + rows + cols - 2`` cycles per fold, from the first operand entering PE ``(0, 0)`` to
  the last MAC in PE ``(rows-1, cols-1)``. SCALE-Sim's code lets the finished outputs drain out of
  the array before the next fold starts and charges that drain inside the same count: it pads each
  fold with ``cols - 1`` idle input cycles and writes each column's ``rows`` outputs during the tail
  of that column's wavefront, so no cycles are added after the last MAC (our simulator reads the
  accumulators out when their last MAC is done, which gives the same count). The ISPASS 2020 paper's
  analytic formula is ``2 rows + cols + T - 2`` for every dataflow, i.e. it charges output
  stationary a separate ``rows``-cycle drain; the code, which we match, does not.
- ``ws`` and ``is``: ``rows`` cycles to shift the stationary operand in from the top edge, then
  ``T + rows + cols - 2`` cycles until the last partial sum leaves the bottom of the last column:
  ``2 rows + cols + T - 2`` per fold.

Total compute cycles are folds times cycles per fold. SCALE-Sim 3.0 reports exactly one cycle fewer
than this count for every layer we compared (its counter reports the index of the last cycle); the
difference is below 0.1% on any real layer.

**Pipelined** (``pipelined=True``, ``ws`` and ``is`` only). Every PE holds a second (shadow)
register for the stationary operand, as the TPU v1's matrix unit holds a second 64 KiB weight tile
so that the 256 cycles of shifting a tile in are hidden (Jouppi et al., ISCA 2017, Section 2). The
next fold's operand shifts down each column's shadow registers (skewed by column, behind a data
front) while the current fold computes, and each PE swaps in its new value when the next fold's
first operand reaches it. A fold's operands can enter the array once its predecessor's have all
entered (``T`` cycles) and its own stationary tile has shifted in (``rows`` cycles, which may start
only once the predecessor has started). Fold ``f`` then starts at cycle ``rows + f * max(T, rows)``
and the last leaves the array after

``rows + (folds - 1) * max(T, rows) + T + rows + cols - 2`` cycles,

equal to the no-overlap count for one fold. With ``T >= rows`` the weight loads are entirely hidden.
This is still compute only: it assumes the operands arrive from memory as fast as the array takes
them, so it bounds what the array can do from above.

One engine (:mod:`aichip.systolic_engine`) runs both schedules: the wrapper computes when each
fold's operands enter and when its stationary operand starts to shift in, and the engine moves
tagged values register by register and raises :class:`ScheduleConflict` if any PE would combine
values of different folds or time steps, or use a stationary value before it has arrived or after
it was overwritten.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import systolic_engine
from .layers import ConvLayer, GemmLayer, filters_to_matrix, im2col, to_gemms
from .source import marked_source
from .systolic_engine import ScheduleConflict, no_trace, run_engine
from .validation import check_choice, check_int

__all__ = ["DATAFLOWS", "MAPPINGS", "ConvLayer", "GemmLayer", "GemmCycles", "SimulationResult",
           "Trace", "ScheduleConflict", "gemm_cycles", "simulate_gemm", "trace_gemm", "im2col",
           "filters_to_matrix", "run_layers", "utilization_grid",
           "kernel_source", "DataflowMapping"]

DATAFLOWS = ("os", "ws", "is")


class DataflowMapping(NamedTuple):
    """Which GEMM dimension goes on the array rows, the columns, and in time; what is stationary."""

    name: str
    row_dim: str
    col_dim: str
    time_dim: str
    stationary: str  # "C" (output), "B" (weights) or "A" (inputs)


#: SCALE-Sim's operand-to-array mappings (Samajdar et al., ISPASS 2020, Section III).
MAPPINGS = {
    "os": DataflowMapping("output stationary", "M", "N", "K", "C"),
    "ws": DataflowMapping("weight stationary", "K", "N", "M", "B"),
    "is": DataflowMapping("input stationary", "K", "M", "N", "A"),
}

_OPERAND_DIMS = {"A": ("M", "K"), "B": ("K", "N"), "C": ("M", "N")}


class GemmCycles(NamedTuple):
    """Analytical cost of one GEMM on a systolic array."""

    compute_cycles: int
    folds: int
    cycles_per_fold: int       # no overlap: every fold; pipelined: the steady-state fold interval
    macs: int
    utilization: float         # macs / (compute_cycles * rows * cols)
    mapping_efficiency: float  # mean fraction of PEs holding real work, over folds


class SimulationResult(NamedTuple):
    """What :func:`simulate_gemm` returns."""

    product: np.ndarray        # (M, N) float64
    compute_cycles: int
    folds: int
    utilization: float         # useful MACs / (compute_cycles * rows * cols)
    mapping_efficiency: float
    activity: np.ndarray | None  # (compute_cycles,) useful MACs in each cycle, when asked for


class Trace(NamedTuple):
    """Per-cycle state of every PE, from :func:`trace_gemm` (for small arrays).

    ``horizontal`` and ``vertical`` are NaN where the register holds nothing, ``stationary`` where
    the PE holds no accumulator (``os``) or stationary operand (``ws``, ``is``) of any fold.
    """

    dataflow: str
    horizontal: np.ndarray     # (cycles, rows, cols) operand moving right, held after the cycle
    vertical: np.ndarray       # (cycles, rows, cols) operand or partial sum moving down
    stationary: np.ndarray     # (cycles, rows, cols) accumulator (os) or stationary operand
    busy: np.ndarray           # (cycles, rows, cols) bool, PE did a useful MAC in that cycle
    fold: np.ndarray           # (cycles, rows, cols) int, fold of the MAC done there (-1: none)
    fold_of_cycle: np.ndarray  # (cycles,) newest fold that has started by that cycle
    product: np.ndarray


def _dims(M: int, N: int, K: int, dataflow: str) -> tuple[int, int, int]:
    mapping = MAPPINGS[dataflow]
    size = {"M": M, "N": N, "K": K}
    return size[mapping.row_dim], size[mapping.col_dim], size[mapping.time_dim]


def _check_pipelined(pipelined, dataflow: str) -> bool:
    if not isinstance(pipelined, (bool, np.bool_)):
        raise TypeError(f"pipelined must be True or False, got {type(pipelined).__name__}")
    if pipelined and dataflow == "os":
        raise ValueError("pipelined=True double-buffers the stationary operand: it applies to "
                         "dataflow 'ws' or 'is', not 'os'")
    return bool(pipelined)


def gemm_cycles(M: int, N: int, K: int, rows: int, cols: int, dataflow: str = "os",
                pipelined: bool = False) -> GemmCycles:
    """Cycles of ``(M x K) @ (K x N)`` on a ``rows x cols`` array, without simulating it.

    ``folds = ceil(S_R/rows) * ceil(S_C/cols)`` with ``S_R, S_C, T`` from :data:`MAPPINGS`.
    With no fold overlap (``pipelined=False``, SCALE-Sim's convention) every fold costs
    ``T + rows + cols - 2`` cycles (``os``) or ``2*rows + cols + T - 2`` (``ws``, ``is``). Pipelined
    (weight double-buffered, ``ws`` and ``is`` only) the total is
    ``rows + (folds - 1) * max(T, rows) + T + rows + cols - 2``. Equal to :func:`simulate_gemm`'s
    count for every shape (tested).
    """
    M = check_int("M", M, minimum=1)
    N = check_int("N", N, minimum=1)
    K = check_int("K", K, minimum=1)
    rows = check_int("rows", rows, minimum=1)
    cols = check_int("cols", cols, minimum=1)
    check_choice("dataflow", dataflow, DATAFLOWS)
    pipelined = _check_pipelined(pipelined, dataflow)
    s_r, s_c, t = _dims(M, N, K, dataflow)
    folds = math.ceil(s_r / rows) * math.ceil(s_c / cols)
    one_fold = t + rows + cols - 2 + (0 if dataflow == "os" else rows)
    if pipelined:
        per_fold = max(t, rows)
        cycles = rows + (folds - 1) * per_fold + t + rows + cols - 2
    else:
        per_fold = one_fold
        cycles = folds * per_fold
    macs = M * N * K
    return GemmCycles(cycles, folds, per_fold, macs, macs / (cycles * rows * cols),
                      s_r * s_c / (folds * rows * cols))


def kernel_source(part: str = "pe") -> str:
    """Source lines of the simulator kernel between its ``# magictoken: <part>-begin`` and ``-end``
    markers (``part="pe"``: what one PE does with the values that reach it), dedented."""
    check_choice("part", part, ("pe",))
    return marked_source(systolic_engine, part)


def _arrange(x: np.ndarray, have: tuple[str, str], want: tuple[str, str]) -> np.ndarray:
    """``x`` with dimension names ``have`` laid out in the order ``want`` (a transpose or not)."""
    if have == want:
        return np.ascontiguousarray(x, dtype=np.float64)
    if have == want[::-1]:
        return np.ascontiguousarray(x.T, dtype=np.float64)
    raise AssertionError(f"cannot arrange {have} as {want}")


def _check_operands(A, B) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(A)
    B = np.asarray(B)
    for name, x in (("A", A), ("B", B)):
        if x.ndim != 2:
            raise ValueError(f"{name} must be a 2-D matrix, got shape {x.shape}")
        if min(x.shape) < 1:
            raise ValueError(f"{name} must have positive dimensions, got shape {x.shape}")
        if not (np.issubdtype(x.dtype, np.number) and not np.iscomplexobj(x)):
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A @ B needs A.shape[1] == B.shape[0], got A {A.shape} and B {B.shape}")
    return A, B


def _schedule(s_r, s_c, t, rows, cols, dataflow, pipelined):
    """Fold origins (columns of folds outermost) and the cycles at which each fold's operands
    start to enter (``start``) and its stationary tile starts to shift in (``load``)."""
    r0s = np.arange(0, s_r, rows)
    c0s = np.arange(0, s_c, cols)
    fold_r0 = np.tile(r0s, len(c0s)).astype(np.int64)
    fold_c0 = np.repeat(c0s, len(r0s)).astype(np.int64)
    n = len(fold_r0)
    start = np.zeros(n, dtype=np.int64)
    load = np.zeros(n, dtype=np.int64)
    if dataflow == "os":
        start[:] = np.arange(n) * (t + rows + cols - 2)
    elif not pipelined:
        load[:] = np.arange(n) * (2 * rows + cols + t - 2)
        start[:] = load + rows
    else:
        # A tile may shift in once the shadow registers are free (the previous fold has started)
        # and the shift path is free; a fold may enter once its tile is in and the previous fold's
        # operands have all entered.
        start[0] = rows
        for f in range(1, n):
            load[f] = max(load[f - 1] + rows, start[f - 1])
            start[f] = max(start[f - 1] + t, load[f] + rows)
    return fold_r0, fold_c0, start, load


def _prepare(A, B, rows, cols, dataflow, pipelined):
    A, B = _check_operands(A, B)
    rows = check_int("rows", rows, minimum=1)
    cols = check_int("cols", cols, minimum=1)
    check_choice("dataflow", dataflow, DATAFLOWS)
    pipelined = _check_pipelined(pipelined, dataflow)
    m = MAPPINGS[dataflow]
    operands = {"A": A, "B": B}
    # The operand that streams in from the left spans (row_dim, time_dim); the other input spans
    # (time_dim, col_dim) in os, or (row_dim, col_dim) when it is the stationary one.
    left_name = next(n for n in "AB" if set(_OPERAND_DIMS[n]) == {m.row_dim, m.time_dim})
    other_name = "B" if left_name == "A" else "A"
    left = _arrange(operands[left_name], _OPERAND_DIMS[left_name], (m.row_dim, m.time_dim))
    second_dims = (m.time_dim, m.col_dim) if dataflow == "os" else (m.row_dim, m.col_dim)
    second = _arrange(operands[other_name], _OPERAND_DIMS[other_name], second_dims)
    out_dims = (m.row_dim, m.col_dim) if dataflow == "os" else (m.time_dim, m.col_dim)
    size = {"M": A.shape[0], "K": A.shape[1], "N": B.shape[1]}
    out = np.zeros((size[out_dims[0]], size[out_dims[1]]))
    sched = _schedule(left.shape[0], out.shape[1], left.shape[1], rows, cols, dataflow, pipelined)
    return A, B, rows, cols, pipelined, left, second, out, out_dims, sched


def _finish(out, out_dims):
    return out if out_dims == ("M", "N") else np.ascontiguousarray(out.T)


def simulate_gemm(A, B, rows: int, cols: int, dataflow: str = "os",
                  record_activity: bool = False, pipelined: bool = False) -> SimulationResult:
    """Compute ``A @ B`` by moving its operands through a ``rows x cols`` systolic array.

    Parameters
    ----------
    A : array (M, K) of real numbers
    B : array (K, N) of real numbers
    rows, cols : int >= 1
        Array size in PEs.
    dataflow : {"os", "ws", "is"}
        Output, weight or input stationary, mapped as in SCALE-Sim (see the module docstring).
    record_activity : bool
        Also return the number of useful MACs in every cycle.
    pipelined : bool
        Double-buffer the stationary operand (``ws``, ``is``) so the next fold's tile shifts in
        while the current fold computes; ``False`` is SCALE-Sim's no-fold-overlap schedule.

    Returns
    -------
    SimulationResult
        ``product`` (float64, equal to ``A @ B`` up to floating-point summation order; exact for
        integer-valued inputs), ``compute_cycles`` (equal to :func:`gemm_cycles`), ``folds``,
        ``utilization`` (useful MACs / (cycles * rows * cols)) and ``mapping_efficiency``.
    """
    A, B, rows, cols, pipelined, left, second, out, out_dims, sched = _prepare(
        A, B, rows, cols, dataflow, pipelined)
    M, K = A.shape
    N = B.shape[1]
    model = gemm_cycles(M, N, K, rows, cols, dataflow, pipelined)
    n_max = int(sched[2][-1]) + left.shape[1] + rows + cols
    cycles, activity = run_engine(left, second, out, rows, cols, dataflow == "os", sched, n_max,
                                  no_trace())
    macs = int(activity.sum())
    if macs != M * N * K:  # every real MAC done exactly once
        raise RuntimeError(f"simulator inconsistency: {macs} MACs, expected {M * N * K}")
    return SimulationResult(_finish(out, out_dims), cycles, len(sched[0]),
                            macs / (cycles * rows * cols), model.mapping_efficiency,
                            activity if record_activity else None)


def trace_gemm(A, B, rows: int, cols: int, dataflow: str = "os",
               max_cells: int = 2_000_000, pipelined: bool = False) -> Trace:
    """Like :func:`simulate_gemm`, but keep every PE's registers after every cycle.

    Meant for small arrays and matrices (the step-through explorer). ``max_cells`` bounds
    ``cycles * rows * cols`` so that a large call fails with a clear message rather than
    exhausting memory.
    """
    A, B, rows, cols, pipelined, left, second, out, out_dims, sched = _prepare(
        A, B, rows, cols, dataflow, pipelined)
    max_cells = check_int("max_cells", max_cells, minimum=1)
    n = int(sched[2][-1]) + left.shape[1] + rows + cols
    if n * rows * cols > max_cells:
        raise ValueError(f"a trace of {n} cycles x {rows}x{cols} PEs exceeds "
                         f"max_cells={max_cells}; use simulate_gemm for large problems")
    tr_h, tr_v, tr_s = (np.full((n, rows, cols), np.nan) for _ in range(3))
    busy = np.zeros((n, rows, cols), dtype=np.bool_)
    fold = np.full((n, rows, cols), -1, dtype=np.int64)
    cycles, _ = run_engine(left, second, out, rows, cols, dataflow == "os", sched, n,
                           (tr_h, tr_v, tr_s, busy, fold))
    started = np.searchsorted(sched[2], np.arange(cycles), side="right") - 1
    return Trace(dataflow, tr_h[:cycles], tr_v[:cycles], tr_s[:cycles], busy[:cycles],
                 fold[:cycles], np.maximum(started, 0), _finish(out, out_dims))


# ----------------------------------------------------------------------------------- layer lists

def run_layers(layers, rows: int, cols: int, dataflow: str = "os",
               pipelined: bool = False) -> pd.DataFrame:
    """Cycles, utilisation and mapping efficiency of each layer (GemmLayer or ConvLayer).

    Convolutions are lowered with im2col (:func:`aichip.layers.to_gemm`), as SCALE-Sim does.
    Returns one row per layer with ``M, N, K, macs, folds, compute_cycles, utilization,
    mapping_efficiency``.
    """
    rows = check_int("rows", rows, minimum=1)
    cols = check_int("cols", cols, minimum=1)
    check_choice("dataflow", dataflow, DATAFLOWS)
    pipelined = _check_pipelined(pipelined, dataflow)
    records = []
    for gemm in to_gemms(layers):
        cost = gemm_cycles(gemm.M, gemm.N, gemm.K, rows, cols, dataflow, pipelined)
        records.append({"layer": gemm.name, "M": gemm.M, "N": gemm.N, "K": gemm.K,
                        "macs": cost.macs, "folds": cost.folds,
                        "compute_cycles": cost.compute_cycles, "utilization": cost.utilization,
                        "mapping_efficiency": cost.mapping_efficiency})
    return pd.DataFrame.from_records(records)


def utilization_grid(M: int, N: int, K: int, dataflow: str,
                     sizes=(4, 8, 16, 32, 64, 128, 256), pipelined: bool = False) -> np.ndarray:
    """Utilisation of one GEMM on every array shape: ``grid[i, j]`` for ``sizes[i]`` rows and
    ``sizes[j]`` columns."""
    sizes = [check_int("sizes[i]", s, minimum=1) for s in sizes]
    if not sizes:
        raise ValueError("sizes must hold at least one array size")
    grid = np.empty((len(sizes), len(sizes)))
    for i, r in enumerate(sizes):
        for j, c in enumerate(sizes):
            grid[i, j] = gemm_cycles(M, N, K, r, c, dataflow, pipelined).utilization
    return grid
