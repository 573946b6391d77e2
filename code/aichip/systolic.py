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

One engine (:func:`_systolic_kernel`) runs both schedules: the wrapper computes when each fold's
operands enter and when its stationary operand starts to shift in, and the kernel moves tagged
values register by register and fails if any PE would combine values of different folds or time
steps, or use a stationary value before it has arrived or after it was overwritten.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit

from .layers import ConvLayer, GemmLayer, check_layer, to_gemm
from .source import marked_source
from .tables import load_table
from .validation import check_choice, check_int

__all__ = ["DATAFLOWS", "MAPPINGS", "ConvLayer", "GemmLayer", "GemmCycles", "SimulationResult",
           "Trace", "gemm_cycles", "simulate_gemm", "trace_gemm", "im2col", "filters_to_matrix",
           "run_layers", "utilization_grid", "scalesim_reference", "compare_with_scalesim",
           "kernel_source"]

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


@njit(cache=True)
def _systolic_kernel(left, second, out, rows, cols, output_stationary, fold_r0, fold_c0,
                     start, load, activity, record, tr_h, tr_v, tr_s, tr_busy, tr_fold):
    """Move one GEMM's operands through the array cycle by cycle; return the cycle count.

    ``left`` is ``(S_R, T)``: row ``r`` of fold ``f`` is fed ``left[fold_r0[f] + r, t]`` at the left
    edge in cycle ``start[f] + r + t``. ``output_stationary``: ``second`` is ``(T, S_C)``, fed at
    the top edge (column ``c`` in cycle ``start[f] + c + t``) and ``out`` is ``(S_R, S_C)``.
    Otherwise ``second`` is ``(S_R, S_C)``: fold ``f``'s tile shifts down column ``c``'s shadow
    registers in cycles ``load[f] + c + p``, ``p < rows``, and ``out`` is ``(T, S_C)``, collected at
    the bottom edge. Every value carries its fold and step; a mismatch returns ``-1 - cycle``.
    """
    s_r, t_len = left.shape
    s_c = out.shape[1]
    n_folds = start.shape[0]
    h = np.zeros((rows, cols))
    h_f = np.full((rows, cols), -1)  # fold of the value in the register (-1: empty)
    h_t = np.zeros((rows, cols), dtype=np.int64)
    v = np.zeros((rows, cols))
    v_f = np.full((rows, cols), -1)
    v_t = np.zeros((rows, cols), dtype=np.int64)
    s = np.zeros((rows, cols))       # accumulator (os) or active stationary operand (ws, is)
    s_f = np.full((rows, cols), -1)
    sh = np.zeros((rows, cols))      # shadow register of the stationary operand (ws, is)
    sh_f = np.full((rows, cols), -1)  # fold whose tile the shadow holds, -1 once swapped in
    next_in = np.zeros(max(rows, cols), dtype=np.int64)  # per edge port: first fold not yet done
    next_load = np.zeros(cols, dtype=np.int64)
    row_lo = np.full(rows, cols, dtype=np.int64)  # columns holding values in each row
    row_hi = np.full(rows, -1, dtype=np.int64)
    last_busy = -1
    end = start[n_folds - 1] + t_len + rows + cols
    for cycle in range(end):
        newest = -1
        for r in range(rows - 1, -1, -1):
            # the fold (if any) whose step enters row r at the left edge in this cycle
            while next_in[r] < n_folds and cycle - start[next_in[r]] - r >= t_len:
                next_in[r] += 1
            f_edge = next_in[r]
            t_edge = cycle - start[f_edge] - r if f_edge < n_folds else -1
            edge = 0 <= t_edge < t_len
            # only columns next to last cycle's values can change (values move one PE a cycle)
            if row_hi[r] < 0 and not edge:
                continue
            c_hi = min(row_hi[r] + 1, cols - 1) if row_hi[r] >= 0 else 0
            c_lo = 0 if edge else row_lo[r]
            row_lo[r] = cols
            row_hi[r] = -1
            for c in range(c_hi, c_lo - 1, -1):
                if c == 0:
                    if not edge:
                        h_f[r, 0] = -1
                        continue
                    f = f_edge
                    t = t_edge
                    real = fold_r0[f] + r < s_r
                    h_in = left[fold_r0[f] + r, t] if real else 0.0
                else:
                    f = h_f[r, c - 1]
                    if f < 0:
                        h_f[r, c] = -1
                        continue
                    t = h_t[r, c - 1]
                    h_in = h[r, c - 1]
                # magictoken: pe-begin
                col = fold_c0[f] + c
                real = fold_r0[f] + r < s_r and col < s_c
                if output_stationary:
                    if r == 0:
                        v_in = second[t, col] if col < s_c else 0.0
                    else:
                        if v_f[r - 1, c] != f or v_t[r - 1, c] != t:
                            return -1 - cycle
                        v_in = v[r - 1, c]
                    if t == 0:
                        s[r, c] = 0.0
                        s_f[r, c] = f
                    if s_f[r, c] != f:
                        return -1 - cycle
                    s[r, c] += h_in * v_in
                    v[r, c] = v_in
                    if t == t_len - 1 and real:
                        out[fold_r0[f] + r, col] = s[r, c]
                else:
                    if t == 0:  # the fold's first operand arrives: swap in its stationary value
                        if sh_f[r, c] != f:
                            return -1 - cycle
                        s[r, c] = sh[r, c]
                        s_f[r, c] = f
                        sh_f[r, c] = -1
                    if s_f[r, c] != f:
                        return -1 - cycle
                    if r == 0:
                        v_in = 0.0
                    else:
                        if v_f[r - 1, c] != f or v_t[r - 1, c] != t:
                            return -1 - cycle
                        v_in = v[r - 1, c]
                    v[r, c] = v_in + h_in * s[r, c]
                    if r == rows - 1 and col < s_c:
                        out[t, col] += v[r, c]
                h[r, c] = h_in
                h_f[r, c] = f
                h_t[r, c] = t
                v_f[r, c] = f
                v_t[r, c] = t
                # magictoken: pe-end
                row_lo[r] = c
                if row_hi[r] < 0:
                    row_hi[r] = c
                if f > newest:
                    newest = f
                last_busy = cycle
                if real:
                    activity[cycle] += 1
                    if record:
                        tr_busy[cycle, r, c] = True
                        tr_fold[cycle, r, c] = f
        if not output_stationary:
            # the next folds' stationary tiles shift down the shadow registers, behind a data front
            for c in range(cols):
                while next_load[c] < n_folds and cycle - load[next_load[c]] - c >= rows:
                    next_load[c] += 1
                f = next_load[c]
                if f >= n_folds or cycle - load[f] - c < 0:
                    continue
                p = cycle - load[f] - c
                for r in range(min(p, rows - 1), 0, -1):
                    if r == p and sh_f[r, c] != -1:  # the front would overwrite unused weights
                        return -1 - cycle
                    sh[r, c] = sh[r - 1, c]
                if p == 0 and sh_f[0, c] != -1:
                    return -1 - cycle
                src = fold_r0[f] + rows - 1 - p
                col = fold_c0[f] + c
                sh[0, c] = second[src, col] if src < s_r and col < s_c else 0.0
                sh_f[0, c] = -2  # loading
                for r in range(1, min(p, rows - 1) + 1):
                    sh_f[r, c] = -2
                if p == rows - 1:
                    for r in range(rows):
                        sh_f[r, c] = f
        if record:
            for r in range(rows):
                for c in range(cols):
                    if h_f[r, c] >= 0:
                        tr_h[cycle, r, c] = h[r, c]
                        tr_v[cycle, r, c] = v[r, c]
                    if s_f[r, c] >= 0:
                        tr_s[cycle, r, c] = s[r, c]
    return last_busy + 1


def kernel_source(part: str = "pe") -> str:
    """Source lines of the simulator kernel between its ``# magictoken: <part>-begin`` and ``-end``
    markers (``part="pe"``: what one PE does with the values that reach it), dedented."""
    check_choice("part", part, ("pe",))
    return marked_source(_systolic_kernel, part)


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


def _run(left, second, out, rows, cols, dataflow, sched, record, n_max, traces):
    fold_r0, fold_c0, start, load = sched
    activity = np.zeros(n_max, dtype=np.int64)
    cycles = _systolic_kernel(left, second, out, rows, cols, dataflow == "os", fold_r0, fold_c0,
                              start, load, activity, record, *traces)
    if cycles < 0:  # the engine checks the schedule it is given
        raise RuntimeError(f"systolic schedule conflict in cycle {-1 - cycles}")
    return int(cycles), activity[:cycles]


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
    empty3 = np.zeros((0, 0, 0))
    cycles, activity = _run(left, second, out, rows, cols, dataflow, sched, False, n_max,
                            (empty3, empty3, empty3, np.zeros((0, 0, 0), dtype=np.bool_),
                             np.zeros((0, 0, 0), dtype=np.int64)))
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
    cycles, _ = _run(left, second, out, rows, cols, dataflow, sched, True, n,
                     (tr_h, tr_v, tr_s, busy, fold))
    started = np.searchsorted(sched[2], np.arange(cycles), side="right") - 1
    return Trace(dataflow, tr_h[:cycles], tr_v[:cycles], tr_s[:cycles], busy[:cycles],
                 fold[:cycles], np.maximum(started, 0), _finish(out, out_dims))


# ----------------------------------------------------------------------------------- layer lists

def im2col(x: np.ndarray, R: int, S: int, stride: int = 1) -> np.ndarray:
    """Lower an input ``x`` of shape ``(C, H, W)`` to the ``(Ho*Wo, R*S*C)`` im2col matrix.

    Column order is ``(r, s, c)`` with ``c`` fastest, matching filters reshaped by
    :func:`filters_to_matrix`; row ``p = i*Wo + j`` is the window of output pixel ``(i, j)``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (C, H, W), got {x.shape}")
    C, H, W = x.shape
    R = check_int("R", R, minimum=1, maximum=H)
    S = check_int("S", S, minimum=1, maximum=W)
    stride = check_int("stride", stride, minimum=1)
    ho, wo = (H - R) // stride + 1, (W - S) // stride + 1
    cols = np.empty((ho * wo, R * S * C))
    for i in range(ho):
        for j in range(wo):
            window = x[:, i * stride:i * stride + R, j * stride:j * stride + S]  # (C, R, S)
            cols[i * wo + j] = window.transpose(1, 2, 0).ravel()
    return cols


def filters_to_matrix(w: np.ndarray) -> np.ndarray:
    """Filters ``(K, C, R, S)`` as the ``(R*S*C, K)`` GEMM operand matching :func:`im2col`."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"w must have shape (K, C, R, S), got {w.shape}")
    return w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0])


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
    layers = list(layers)
    if not layers:
        raise ValueError("layers must contain at least one GemmLayer or ConvLayer")
    records = []
    for layer in layers:
        gemm = to_gemm(check_layer(layer))
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


def scalesim_reference() -> pd.DataFrame:
    """SCALE-Sim 3.0.0's compute cycles, mapping efficiency and run time on GEMM layers.

    Recorded by ``bench/scalesim_runner.py`` (``data/scalesim_reference.csv``, one row per layer,
    array and dataflow, with its source); ``make bench`` re-measures them when SCALE-Sim is
    installed.
    """
    return load_table("scalesim_reference")


def compare_with_scalesim(repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """Simulate every run of :func:`scalesim_reference` with random operands and compare.

    Returns one row per run: ``layer, M, N, K, rows, cols, dataflow``, our ``cycles`` and
    ``mapping_efficiency`` beside SCALE-Sim's, ``cycle_difference`` (ours minus SCALE-Sim's),
    ``product_correct`` (``allclose`` to NumPy's ``A @ B``), our best and median run time over
    ``repeats`` timed calls after the checked one (:func:`aichip.timing.time_call`) and SCALE-Sim's
    recorded time, all in seconds. SCALE-Sim's schedule is the one with no fold overlap.
    """
    from .timing import time_call

    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    records = []
    for row in scalesim_reference().itertuples():
        A = rng.standard_normal((row.M, row.K))
        B = rng.standard_normal((row.K, row.N))
        sim = simulate_gemm(A, B, row.rows, row.cols, row.dataflow)  # also the warm-up
        run = functools.partial(simulate_gemm, A, B, row.rows, row.cols, row.dataflow)
        t = time_call(run, repeats, warmup=0)
        records.append({
            "layer": row.layer, "M": row.M, "N": row.N, "K": row.K, "rows": row.rows,
            "cols": row.cols, "dataflow": row.dataflow, "cycles": sim.compute_cycles,
            "scalesim_cycles": row.scalesim_cycles,
            "cycle_difference": sim.compute_cycles - row.scalesim_cycles,
            "mapping_efficiency": sim.mapping_efficiency,
            "scalesim_mapping_efficiency": row.scalesim_mapping_efficiency,
            "product_correct": bool(np.allclose(sim.product, A @ B)),
            "best_s": t.best_s, "median_s": t.median_s, "scalesim_s": row.scalesim_s})
    return pd.DataFrame.from_records(records)
