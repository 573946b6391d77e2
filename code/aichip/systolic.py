"""A cycle-accurate systolic-array simulator and its analytical cycle model.

A systolic array is a ``rows x cols`` grid of processing elements (PEs). Each PE holds a
multiply-accumulate unit and a few registers; operands enter at the left and top edges and move one
PE per clock cycle. We follow the operand-to-array mappings of SCALE-Sim (Samajdar et al., ISPASS
2020), the reference simulator of this field, so our cycle counts can be compared with its.

The GEMM and its mapping
------------------------
We compute ``C = A @ B`` with ``A`` of shape ``(M, K)`` and ``B`` of shape ``(K, N)``. In SCALE-Sim's
words ``A`` is the ifmap operand matrix (``M`` output pixels by ``K`` = window size), ``B`` the filter
matrix (``N`` filters). A dataflow maps one GEMM dimension onto the array rows (``S_R``), one onto the
columns (``S_C``) and streams the third in time (``T``):

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
A problem larger than the array is cut into ``ceil(S_R/rows) * ceil(S_C/cols)`` **folds**, run one
after the other (consecutive folds do not overlap). Operands enter skewed: row ``r`` starts ``r``
cycles late and column ``c`` starts ``c`` cycles late, so PE ``(r, c)`` sees time step ``t`` at cycle
``t + r + c``. Per fold, with the *physical* array size (a fold occupies the whole array's schedule
even when it uses part of it, as in SCALE-Sim):

- ``os``: ``T + rows + cols - 2`` cycles (fill, ``T`` steps, skew). The accumulated outputs are read
  out on a separate path while the next fold streams in, so draining costs no extra cycles.
- ``ws`` and ``is``: ``rows`` cycles to shift the stationary operand in from the top edge, then
  ``T + rows + cols - 2`` cycles until the last partial sum leaves the bottom of the last column:
  ``2 rows + cols + T - 2``.

Total compute cycles are folds times cycles per fold. SCALE-Sim 3.0 reports exactly one cycle fewer
than this count for every layer we compared (its counter reports the index of the last cycle); the
difference is below 0.1% on any real layer.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit

from .tables import load_table
from .validation import check_choice, check_int

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
    cycles_per_fold: int
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
    """Per-cycle state of every PE, from :func:`trace_gemm` (for small arrays)."""

    dataflow: str
    horizontal: np.ndarray     # (cycles, rows, cols) operand moving right, held after the cycle
    vertical: np.ndarray       # (cycles, rows, cols) operand or partial sum moving down
    stationary: np.ndarray     # (cycles, rows, cols) accumulator (os) or stationary operand
    busy: np.ndarray           # (cycles, rows, cols) bool, PE did a useful MAC in that cycle
    fold_of_cycle: np.ndarray  # (cycles,) fold index of every cycle
    product: np.ndarray


def _dims(M: int, N: int, K: int, dataflow: str) -> tuple[int, int, int]:
    mapping = MAPPINGS[dataflow]
    size = {"M": M, "N": N, "K": K}
    return size[mapping.row_dim], size[mapping.col_dim], size[mapping.time_dim]


def gemm_cycles(M: int, N: int, K: int, rows: int, cols: int, dataflow: str = "os") -> GemmCycles:
    """Cycles of ``(M x K) @ (K x N)`` on a ``rows x cols`` array, without simulating it.

    ``folds = ceil(S_R/rows) * ceil(S_C/cols)``; per fold ``T + rows + cols - 2`` cycles (``os``)
    or ``2*rows + cols + T - 2`` (``ws``, ``is``), with ``S_R, S_C, T`` from :data:`MAPPINGS`.
    Equal to :func:`simulate_gemm`'s count for every shape (tested).
    """
    M = check_int("M", M, minimum=1)
    N = check_int("N", N, minimum=1)
    K = check_int("K", K, minimum=1)
    rows = check_int("rows", rows, minimum=1)
    cols = check_int("cols", cols, minimum=1)
    check_choice("dataflow", dataflow, DATAFLOWS)
    s_r, s_c, t = _dims(M, N, K, dataflow)
    folds = math.ceil(s_r / rows) * math.ceil(s_c / cols)
    per_fold = t + rows + cols - 2 + (0 if dataflow == "os" else rows)
    cycles = folds * per_fold
    macs = M * N * K
    return GemmCycles(cycles, folds, per_fold, macs, macs / (cycles * rows * cols),
                      s_r * s_c / (folds * rows * cols))


@njit(cache=True)
def _systolic_kernel(left, second, out, rows, cols, output_stationary, activity, record,
                     tr_h, tr_v, tr_s, tr_busy, tr_fold):
    """Run every fold of one GEMM through the array, cycle by cycle; return the cycle count.

    ``left`` is ``(S_R, T)``: row ``r`` of the fold is fed ``left[r0 + r, t]`` at its left edge.
    ``output_stationary``: ``second`` is ``(T, S_C)``, fed at the top edge, and ``out`` is
    ``(S_R, S_C)``. Otherwise ``second`` is ``(S_R, S_C)``, preloaded into the PEs, and ``out`` is
    ``(T, S_C)``, collected at the bottom edge. Only PEs on the active wavefront
    (``0 <= cycle - r - c < T``) are updated: the others hold nothing that is read later.
    """
    s_r, t_len = left.shape
    s_c = out.shape[1]
    h = np.zeros((rows, cols))
    v = np.zeros((rows, cols))
    s = np.zeros((rows, cols))  # accumulator (os) or stationary operand (ws, is)
    cycle = 0
    fold = 0
    for c0 in range(0, s_c, cols):
        used_c = min(cols, s_c - c0)
        for r0 in range(0, s_r, rows):
            used_r = min(rows, s_r - r0)
            s[:, :] = 0.0
            if not output_stationary:
                # Shift the stationary operand in from the top edge, one row per cycle.
                for p in range(rows):
                    for r in range(rows - 1, 0, -1):
                        for c in range(used_c):
                            s[r, c] = s[r - 1, c]
                    src = r0 + rows - 1 - p
                    for c in range(used_c):
                        s[0, c] = second[src, c0 + c] if src < s_r else 0.0
                    if record:
                        tr_s[cycle] = s
                        tr_fold[cycle] = fold
                    cycle += 1
            # Output stationary needs only the used rows; partial sums of ws/is cross every row.
            active_rows = used_r if output_stationary else rows
            for step in range(t_len + rows + cols - 2):
                for r in range(active_rows - 1, -1, -1):
                    c_hi = min(used_c - 1, step - r)
                    c_lo = max(0, step - r - t_len + 1)
                    real_row = r < used_r
                    for c in range(c_hi, c_lo - 1, -1):
                        t = step - r - c
                        if c == 0:
                            h_in = left[r0 + r, t] if real_row else 0.0
                        else:
                            h_in = h[r, c - 1]
                        if output_stationary:
                            v_in = second[t, c0 + c] if r == 0 else v[r - 1, c]
                            s[r, c] += h_in * v_in
                            v[r, c] = v_in
                        else:
                            v_in = 0.0 if r == 0 else v[r - 1, c]
                            v_out = v_in + h_in * s[r, c]
                            v[r, c] = v_out
                            if r == rows - 1:
                                out[t, c0 + c] += v_out
                        h[r, c] = h_in
                        if real_row:
                            activity[cycle] += 1
                            if record:
                                tr_busy[cycle, r, c] = True
                if record:
                    tr_h[cycle] = h
                    tr_v[cycle] = v
                    tr_s[cycle] = s
                    tr_fold[cycle] = fold
                cycle += 1
            if output_stationary:
                for r in range(used_r):
                    for c in range(used_c):
                        out[r0 + r, c0 + c] = s[r, c]
            fold += 1
    return cycle


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


def _prepare(A, B, rows, cols, dataflow):
    A, B = _check_operands(A, B)
    rows = check_int("rows", rows, minimum=1)
    cols = check_int("cols", cols, minimum=1)
    check_choice("dataflow", dataflow, DATAFLOWS)
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
    return A, B, rows, cols, left, second, out, out_dims


def _finish(out, out_dims):
    return out if out_dims == ("M", "N") else np.ascontiguousarray(out.T)


def simulate_gemm(A, B, rows: int, cols: int, dataflow: str = "os",
                  record_activity: bool = False) -> SimulationResult:
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

    Returns
    -------
    SimulationResult
        ``product`` (float64, equal to ``A @ B`` up to floating-point summation order; exact for
        integer-valued inputs), ``compute_cycles`` (equal to :func:`gemm_cycles`), ``folds``,
        ``utilization`` (useful MACs / (cycles * rows * cols)) and ``mapping_efficiency``.
    """
    A, B, rows, cols, left, second, out, out_dims = _prepare(A, B, rows, cols, dataflow)
    M, K = A.shape
    N = B.shape[1]
    model = gemm_cycles(M, N, K, rows, cols, dataflow)
    activity = np.zeros(model.compute_cycles, dtype=np.int64)
    empty3 = np.zeros((0, 0, 0))
    cycles = _systolic_kernel(left, second, out, rows, cols, dataflow == "os", activity, False,
                              empty3, empty3, empty3, np.zeros((0, 0, 0), dtype=np.bool_),
                              np.zeros(0, dtype=np.int64))
    macs = int(activity.sum())
    if macs != M * N * K or cycles != model.compute_cycles:  # the engine checks itself
        raise RuntimeError(f"simulator inconsistency: {macs} MACs in {cycles} cycles, "
                           f"expected {M * N * K} in {model.compute_cycles}")
    return SimulationResult(_finish(out, out_dims), int(cycles), model.folds,
                            macs / (cycles * rows * cols), model.mapping_efficiency,
                            activity if record_activity else None)


def trace_gemm(A, B, rows: int, cols: int, dataflow: str = "os",
               max_cells: int = 2_000_000) -> Trace:
    """Like :func:`simulate_gemm`, but keep every PE's registers after every cycle.

    Meant for small arrays and matrices (the step-through explorer). ``max_cells`` bounds
    ``cycles * rows * cols`` so a large call fails with a clear message instead of exhausting memory.
    """
    A, B, rows, cols, left, second, out, out_dims = _prepare(A, B, rows, cols, dataflow)
    max_cells = check_int("max_cells", max_cells, minimum=1)
    M, K = A.shape
    model = gemm_cycles(M, B.shape[1], K, rows, cols, dataflow)
    n = model.compute_cycles
    if n * rows * cols > max_cells:
        raise ValueError(f"a trace of {n} cycles x {rows}x{cols} PEs exceeds max_cells={max_cells}; "
                         "use simulate_gemm for large problems")
    tr_h, tr_v, tr_s = (np.full((n, rows, cols), np.nan) for _ in range(3))
    busy = np.zeros((n, rows, cols), dtype=np.bool_)
    fold_of = np.zeros(n, dtype=np.int64)
    activity = np.zeros(n, dtype=np.int64)
    _systolic_kernel(left, second, out, rows, cols, dataflow == "os", activity, True,
                     tr_h, tr_v, tr_s, busy, fold_of)
    return Trace(dataflow, tr_h, tr_v, tr_s, busy, fold_of, _finish(out, out_dims))


# ----------------------------------------------------------------------------------- layer lists

class GemmLayer(NamedTuple):
    """A matrix product ``(M x K) @ (K x N)``."""

    name: str
    M: int
    N: int
    K: int


class ConvLayer(NamedTuple):
    """A convolution: ``C`` input channels of ``H x W``, ``K`` filters of ``R x S``, batch ``N``."""

    name: str
    H: int
    W: int
    R: int
    S: int
    C: int
    K: int
    stride: int = 1
    N: int = 1

    def output_hw(self) -> tuple[int, int]:
        """Output height and width (no padding: pad the input H, W yourself if the layer has it)."""
        return (self.H - self.R) // self.stride + 1, (self.W - self.S) // self.stride + 1

    def as_gemm(self) -> GemmLayer:
        """The im2col GEMM: M = N * output pixels, K = R * S * C (window), N = filters."""
        ho, wo = self.output_hw()
        return GemmLayer(self.name, self.N * ho * wo, self.K, self.R * self.S * self.C)


def _check_conv(layer: ConvLayer) -> ConvLayer:
    for field in ("H", "W", "R", "S", "C", "K", "stride", "N"):
        check_int(f"{layer.name}.{field}", getattr(layer, field), minimum=1)
    if layer.R > layer.H or layer.S > layer.W:
        raise ValueError(f"{layer.name}: filter {layer.R}x{layer.S} is larger than the input "
                         f"{layer.H}x{layer.W}")
    return layer


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


def run_layers(layers, rows: int, cols: int, dataflow: str = "os") -> pd.DataFrame:
    """Cycles, utilisation and mapping efficiency of each layer (GemmLayer or ConvLayer).

    Convolutions are lowered with im2col (:meth:`ConvLayer.as_gemm`), as SCALE-Sim does. Returns one
    row per layer with ``M, N, K, macs, folds, compute_cycles, utilization, mapping_efficiency``.
    """
    rows = check_int("rows", rows, minimum=1)
    cols = check_int("cols", cols, minimum=1)
    check_choice("dataflow", dataflow, DATAFLOWS)
    layers = list(layers)
    if not layers:
        raise ValueError("layers must contain at least one GemmLayer or ConvLayer")
    records = []
    for layer in layers:
        if isinstance(layer, ConvLayer):
            gemm = _check_conv(layer).as_gemm()
        elif isinstance(layer, GemmLayer):
            gemm = layer
        else:
            raise TypeError(f"layers must hold GemmLayer or ConvLayer, got {type(layer).__name__}")
        cost = gemm_cycles(gemm.M, gemm.N, gemm.K, rows, cols, dataflow)
        records.append({"layer": gemm.name, "M": gemm.M, "N": gemm.N, "K": gemm.K,
                        "macs": cost.macs, "folds": cost.folds,
                        "compute_cycles": cost.compute_cycles, "utilization": cost.utilization,
                        "mapping_efficiency": cost.mapping_efficiency})
    return pd.DataFrame.from_records(records)


def scalesim_reference() -> pd.DataFrame:
    """SCALE-Sim 3.0.0's compute cycles and run times on the benchmark's GEMM layers.

    Recorded by ``bench/scalesim_runner.py`` (``data/scalesim_reference.csv``, one row per layer,
    array and dataflow, with its source); ``make bench`` re-measures them when SCALE-Sim is installed.
    """
    return load_table("scalesim_reference")
