"""The register-level engine behind :mod:`aichip.systolic`'s simulator.

:func:`systolic_kernel` moves one GEMM's operands through a ``rows x cols`` array of processing
elements cycle by cycle, on a schedule it is given: which block of the problem each fold covers,
the cycle in which each fold's operands start to enter and the cycle in which its stationary tile
starts to shift in (:func:`aichip.systolic.simulate_gemm` computes them; the mappings and the
cycle convention are in that module's docstring). Every value carries the fold and time step it
belongs to, and the kernel checks them wherever two values meet: if a PE would combine values of
different folds or time steps, or use a stationary value before it has arrived or after it was
overwritten, the kernel stops and reports the conflict (what, when, where) in a status array apart
from the cycle count; :func:`run_engine` raises it as a :class:`ScheduleConflict`.

The kernel is split into the parts a reader can take one at a time: the PE update (between its
``magictoken: pe`` markers, which the chapter shows), the operands entering at the left edge
(:func:`_entering`), the shadow-register load of the next folds' stationary tiles
(:func:`_shift_tiles`) and the trace recording (:func:`_record_cycle`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ScheduleConflict", "systolic_kernel", "run_engine", "no_trace"]

# Why the engine stopped on a schedule conflict: the code it writes in status[0] (0: no conflict).
_MIXED_VALUES, _WRONG_FOLD, _TILE_NOT_LOADED, _TILE_OVERWRITTEN = 1, 2, 3, 4
# A register's tag is ``fold << _STEP_BITS | step``; -1 marks an empty register.
_STEP_BITS = 32
_STEP_MASK = (1 << _STEP_BITS) - 1
_CONFLICTS = {
    _MIXED_VALUES: "a PE would combine values of different folds or time steps",
    _WRONG_FOLD: "a PE's accumulator or stationary operand belongs to another fold",
    _TILE_NOT_LOADED: "a fold's first operand reached a PE before its stationary value had",
    _TILE_OVERWRITTEN: "a stationary tile would overwrite one that has not been used yet",
}


class ScheduleConflict(RuntimeError):
    """The engine was given a schedule in which some PE would compute with the wrong values.

    ``reason`` says what went wrong, ``cycle`` when and ``pe`` (row, column) where. The schedules
    that :func:`aichip.systolic.simulate_gemm` and ``trace_gemm`` build never conflict (tested): a
    conflict means that a schedule or the engine is wrong.
    """

    def __init__(self, reason: str, cycle: int, pe: tuple[int, int]):
        super().__init__(f"systolic schedule conflict in cycle {cycle} at PE {pe}: {reason}")
        self.reason, self.cycle, self.pe = reason, cycle, pe


@njit(cache=True)
def _conflict(status, code, cycle, r, c):
    """Record a conflict in ``status`` (code, cycle, row, column); the kernel returns this 0."""
    status[0], status[1], status[2], status[3] = code, cycle, r, c
    return 0


@njit(cache=True)
def _entering(next_in, start, r, cycle, t_len):
    """The fold and time step whose operand enters row ``r`` at the left edge in ``cycle``.

    Returns ``(fold, step)``, ``(-1, -1)`` when none does. ``next_in[r]`` (the first fold whose
    ``t_len`` operands have not all entered row ``r``) moves on.
    """
    n_folds = start.shape[0]
    while next_in[r] < n_folds and cycle - start[next_in[r]] - r >= t_len:
        next_in[r] += 1
    f = next_in[r]
    t = cycle - start[f] - r if f < n_folds else -1
    return (f, t) if 0 <= t < t_len else (-1, -1)


@njit(cache=True)
def _shift_tiles(second, fold_r0, fold_c0, load, next_load, tiles, sh_f, cycle, status):
    """Shift the next folds' stationary tiles one row down the shadow registers, in ``cycle``.

    Fold ``f``'s tile shifts down column ``c`` in cycles ``load[f] + c + p``, ``p < rows``, behind
    a data front: in step ``p`` the value for row ``rows - 1 - p`` enters at the top and the front
    reaches row ``p``. The shift register is kept as the sequence of values that entered it
    (``tiles[f % 2, p, c]``; the shadow register of row ``r`` holds entry ``p - r``), so a shift
    step writes one value instead of moving ``p``; two tiles (this fold's and the next) are the
    most a column holds, as the front may not pass a shadow value that is still unused. ``sh_f``
    is -2 where a tile is on its way, the fold once it is all in, -1 once a PE has swapped it in.
    Returns 1, or 0 after recording a conflict in ``status``.
    """
    rows, cols = sh_f.shape
    s_r, s_c = second.shape
    n_folds = load.shape[0]
    for c in range(cols):
        while next_load[c] < n_folds and cycle - load[next_load[c]] - c >= rows:
            next_load[c] += 1
        f = next_load[c]
        if f >= n_folds or cycle - load[f] - c < 0:
            continue
        p = cycle - load[f] - c
        if sh_f[p, c] != -1:  # the front would overwrite a shadow value not yet swapped in
            return _conflict(status, _TILE_OVERWRITTEN, cycle, p, c)
        src = fold_r0[f] + rows - 1 - p
        col = fold_c0[f] + c
        tiles[f % 2, p, c] = second[src, col] if src < s_r and col < s_c else 0.0
        sh_f[p, c] = -2  # loading
        if p == rows - 1:
            for r in range(rows):
                sh_f[r, c] = f
    return 1


@njit(cache=True)
def _record_cycle(trace, cycle, registers, fold_r0, fold_c0, s_r, s_c):
    """Copy the registers that hold a value into ``trace``'s ``cycle`` (:class:`systolic.Trace`).

    A PE whose registers hold a value after the cycle did a MAC in it; a useful one where its
    fold's row and column fall inside the ``(s_r, s_c)`` problem.
    """
    tr_h, tr_v, tr_s, tr_busy, tr_fold = trace
    h, v, tag, s, s_f, _, _ = registers
    rows, cols = h.shape
    for r in range(rows):
        for c in range(cols):
            if tag[r, c] >= 0:
                f = tag[r, c] >> _STEP_BITS
                tr_h[cycle, r, c] = h[r, c]
                tr_v[cycle, r, c] = v[r, c]
                if fold_r0[f] + r < s_r and fold_c0[f] + c < s_c:
                    tr_busy[cycle, r, c] = True
                    tr_fold[cycle, r, c] = f
            if s_f[r, c] >= 0:
                tr_s[cycle, r, c] = s[r, c]


@njit(cache=True, inline="always")
def _registers(rows, cols):
    """Every PE's registers, empty: ``(h, v, tag, s, s_f, tiles, sh_f)``.

    ``h`` holds the operand moving right and ``v`` the operand or partial sum moving down; both
    belong to the fold and time step in ``tag`` (``fold << _STEP_BITS | step``, -1: empty), as a
    PE passes on the two values of one step together. ``s`` is the accumulator (``os``) or the
    active stationary operand (``ws``, ``is``) and ``s_f`` its fold; ``tiles`` and ``sh_f`` are the
    shadow registers the next fold's stationary operand shifts into (:func:`_shift_tiles`).
    """
    shape = (rows, cols)
    return (np.zeros(shape), np.zeros(shape), np.full(shape, -1, dtype=np.int64),  # h, v, tag
            np.zeros(shape), np.full(shape, -1, dtype=np.int64),  # s, s_f
            np.zeros((2, rows, cols)), np.full(shape, -1, dtype=np.int64))  # tiles, sh_f


@njit(cache=True, inline="always")
def _row_window(row_lo, row_hi, r, edge, cols):
    """Columns ``(c_lo, c_hi)`` of row ``r`` that can change this cycle (an empty range if none).

    Values move one PE a cycle, so only the columns from ``row_lo[r]`` (0 when an operand enters
    at the edge) to one past ``row_hi[r]``, last cycle's span, can.
    """
    if row_hi[r] < 0 and not edge:
        return 0, -1
    c_hi = min(row_hi[r] + 1, cols - 1) if row_hi[r] >= 0 else 0
    c_lo = 0 if edge else row_lo[r]
    return c_lo, c_hi


@njit(cache=True)
def systolic_kernel(left, second, out, rows, cols, output_stationary, schedule, activity, trace,
                     status):
    """Move one GEMM's operands through the array cycle by cycle; return the cycle count.

    ``schedule`` is ``(fold_r0, fold_c0, start, load)``: fold ``f`` covers the ``rows x cols``
    block of ``(S_R, S_C)`` from row ``fold_r0[f]`` and column ``fold_c0[f]``. ``left`` is
    ``(S_R, T)``: row ``r`` of fold ``f`` is fed ``left[fold_r0[f] + r, t]`` at the left edge in
    cycle ``start[f] + r + t``.
    ``output_stationary``: ``second`` is ``(T, S_C)``, fed at the top edge (column ``c`` in cycle
    ``start[f] + c + t``) and ``out`` is ``(S_R, S_C)``. Otherwise ``second`` is ``(S_R, S_C)``,
    its tiles shifted in from cycle ``load[f]`` (:func:`_shift_tiles`), and ``out`` is ``(T, S_C)``,
    collected at the bottom edge. ``activity[cycle]`` counts useful MACs; ``trace`` is
    ``(horizontal, vertical, stationary, busy, fold)`` as in :class:`aichip.systolic.Trace`,
    filled when it has cycles (empty arrays otherwise). Every value carries its fold and step: on
    a mismatch the kernel writes ``(code, cycle, row, column)`` into ``status`` (see
    ``_CONFLICTS``) and returns 0.
    """
    fold_r0, fold_c0, start, load = schedule
    record = trace[0].shape[0] > 0
    s_r, t_len = left.shape
    s_c = out.shape[1]
    registers = _registers(rows, cols)
    h, v, tag, s, s_f, tiles, sh_f = registers
    next_in = np.zeros(rows, dtype=np.int64)  # per row: first fold whose operands are not all in
    next_load = np.zeros(cols, dtype=np.int64)
    row_lo = np.full(rows, cols, dtype=np.int64)  # columns holding values in each row
    row_hi = np.full(rows, -1, dtype=np.int64)
    last_busy = -1
    for cycle in range(start[-1] + t_len + rows + cols):
        busy = 0  # useful MACs in this cycle
        for r in range(rows - 1, -1, -1):
            f_edge, t_edge = _entering(next_in, start, r, cycle, t_len)
            c_lo, c_hi = _row_window(row_lo, row_hi, r, t_edge >= 0, cols)
            lo, hi = cols, -1  # the columns that hold values after this cycle
            for c in range(c_hi, c_lo - 1, -1):
                if c == 0:
                    key = (f_edge << _STEP_BITS) | t_edge if f_edge >= 0 else -1
                    h_in = 0.0
                    if f_edge >= 0 and fold_r0[f_edge] + r < s_r:
                        h_in = left[fold_r0[f_edge] + r, t_edge]
                else:
                    key, h_in = tag[r, c - 1], h[r, c - 1]
                if key < 0:  # nothing arrives from the left
                    tag[r, c] = -1
                    continue
                f, t = key >> _STEP_BITS, key & _STEP_MASK
                # magictoken: pe-begin
                col = fold_c0[f] + c
                if r > 0 and tag[r - 1, c] != key:  # the value from above: another fold or step
                    return _conflict(status, _MIXED_VALUES, cycle, r, c)
                if output_stationary:
                    if r == 0:
                        v_in = second[t, col] if col < s_c else 0.0
                    else:
                        v_in = v[r - 1, c]
                    if t == 0:
                        s[r, c] = 0.0
                        s_f[r, c] = f
                    if s_f[r, c] != f:
                        return _conflict(status, _WRONG_FOLD, cycle, r, c)
                    s[r, c] += h_in * v_in
                    v[r, c] = v_in
                    if t == t_len - 1 and col < s_c and fold_r0[f] + r < s_r:
                        out[fold_r0[f] + r, col] = s[r, c]
                else:
                    if t == 0:  # the fold's first operand arrives: swap in its stationary value
                        if sh_f[r, c] != f:
                            return _conflict(status, _TILE_NOT_LOADED, cycle, r, c)
                        s[r, c] = tiles[f % 2, rows - 1 - r, c]
                        s_f[r, c] = f
                        sh_f[r, c] = -1
                    if s_f[r, c] != f:
                        return _conflict(status, _WRONG_FOLD, cycle, r, c)
                    v_in = v[r - 1, c] if r > 0 else 0.0
                    v[r, c] = v_in + h_in * s[r, c]
                    if r == rows - 1 and col < s_c:
                        out[t, col] += v[r, c]
                h[r, c] = h_in
                tag[r, c] = key
                # magictoken: pe-end
                lo = c
                if hi < 0:
                    hi = c
                if col < s_c and fold_r0[f] + r < s_r:
                    busy += 1
            row_lo[r], row_hi[r] = lo, hi
            if hi >= 0:
                last_busy = cycle
        activity[cycle] = busy
        if not output_stationary and not _shift_tiles(second, fold_r0, fold_c0, load, next_load,
                                                      tiles, sh_f, cycle, status):
            return 0
        if record:
            _record_cycle(trace, cycle, registers, fold_r0, fold_c0, s_r, s_c)
    return last_busy + 1


def run_engine(left, second, out, rows, cols, output_stationary, sched, n_max, trace):
    """Run :func:`systolic_kernel`; return the cycle count and the useful MACs of each cycle.

    ``sched`` is ``(fold_r0, fold_c0, start, load)``, ``n_max`` an upper bound on the cycles, and
    ``trace`` the arrays to record into or :func:`no_trace`; the other arguments are the kernel's.

    Raises
    ------
    ScheduleConflict
        When the engine finds that ``sched`` would make a PE combine the wrong values.
    """
    activity = np.zeros(n_max, dtype=np.int64)
    status = np.zeros(4, dtype=np.int64)
    cycles = systolic_kernel(left, second, out, rows, cols, output_stationary, tuple(sched),
                              activity, trace, status)
    if status[0]:  # the engine checks the schedule it is given
        code, cycle, r, c = (int(x) for x in status)
        raise ScheduleConflict(_CONFLICTS[code], cycle, (r, c))
    return int(cycles), activity[:cycles]


def no_trace() -> tuple:
    """The empty trace arrays that tell the engine not to record (:class:`systolic.Trace`)."""
    empty = np.zeros((0, 0, 0))
    return (empty, empty, empty, np.zeros((0, 0, 0), dtype=np.bool_),
            np.zeros((0, 0, 0), dtype=np.int64))
