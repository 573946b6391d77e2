"""The register-level engine behind :mod:`aichip.systolic`'s simulator.

:func:`systolic_kernel` moves one GEMM's operands through a ``rows x cols`` array of processing
elements cycle by cycle, on a schedule it is given: which block of the problem each fold covers,
the cycle in which each fold's operands start to enter and the cycle in which its stationary tile
starts to shift in (:func:`aichip.systolic.simulate_gemm` computes them; the mappings and the
cycle convention are in that module's docstring). Every value carries the fold and time step it
belongs to, and the kernel checks them where two values meet: if a PE would combine values of
different folds or time steps, or use a stationary value before it has arrived or after it was
overwritten, the kernel stops and reports the conflict (what, when, where) in a status array apart
from the cycle count; :func:`run_engine` raises it as a :class:`ScheduleConflict`. (A pair of
values that meets in one PE of a row meets in all of them, so the kernel checks each pair once, in
the row's first PE; see :func:`systolic_kernel`.)

Speed. The registers of the whole array are windows onto buffers that slide one PE per cycle
(:func:`_slide`), so moving every value one PE on costs nothing and a cycle's arithmetic is one
branch-free loop over all PEs that numba vectorises (:func:`_pe_update`). What remains per row and
cycle is the operand entering at the left edge and its checks.

The kernel is split into the parts a reader can take one at a time: the PE update (between its
``magictoken: pe`` markers, which the chapter shows), the operands entering at the left edge
(:func:`_entering`), a fold's first and last steps passing along a row (:func:`_fronts`,
:func:`_fold_edges`), the column
operands entering at the top edge in ``os`` (:func:`_feed_top`), the sums leaving the array
(:func:`_write_tails` in ``os``, :func:`_drain` at the bottom edge otherwise), the shadow-register
load of the next folds' stationary tiles (:func:`_shift_tiles`) and the trace recording
(:func:`_record_cycle`).
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


@njit(cache=True, inline="always")
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
    last = cols - 1  # the last column is the last to finish shifting a tile in
    while next_load[last] < n_folds and cycle - load[next_load[last]] - last >= rows:
        next_load[last] += 1
    if next_load[last] >= n_folds or cycle < load[next_load[last]]:
        return 1  # no tile is on its way
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


@njit(cache=True, inline="always")
def _pe_update(lo, hi, base, base_v, tags, h, v_down, v, now, s, output_stationary):
    """One cycle of the PEs ``lo .. hi - 1`` (row-major flat indices ``i = r * cols + c``).

    PE ``i``'s operand from the left is ``h[base + i]`` (its tag ``tags[base + i]``). Output
    stationary: its operand from above is ``v_down[base_v + i]``, and it adds the product to its
    accumulator ``s[i]``. Weight or input stationary: its partial sum from above is what PE
    ``i - cols`` held after the last cycle, ``v[1 - now, i]`` (``v[:, :cols]`` are the zeros
    entering the top), and it passes on ``v[now, i + cols]``. PEs that hold nothing compute too,
    branch-free so that the loop vectorises, but their results are never used: a value counts only
    where its tag says it is one. The indices are unsigned so that numba need not check them for
    negative values.
    """
    n = np.uint64(hi - lo)
    i0, b, bv, top = np.uint64(lo), np.uint64(base), np.uint64(base_v), np.uint64(s.shape[0])
    cols = np.uint64(v.shape[1]) - top
    last = 1 - now
    for j in range(n):
        i = i0 + j
        h_in = h[b + i]
        # magictoken: pe-begin
        if output_stationary:  # accumulate in place; the column operand moves on down
            v_in = v_down[bv + i]
            s[i] += h_in * v_in if tags[b + i] >= 0 else 0.0
        else:  # add this PE's product to the partial sum passing down
            v_in = v[last, i]
            v[now, i + cols] = v_in + h_in * s[i]
        # magictoken: pe-end


@njit(cache=True, inline="always")
def _fronts(row_fold, start, r, cycle, t_len, cols, tags, at, out):
    """The columns of row ``r`` where a fold's first step (``t = 0``) or its last step is this
    cycle: ``out[i] = (column, fold, step)``, newest fold last; return how many.

    Fold ``f``'s step ``t`` reached column ``cycle - start[f] - r - t``. Only columns whose register
    really holds that fold and step (its tag, ``tags[at + c]``) count, so a schedule whose folds
    overlap cannot make a PE swap or reset for a value it does not hold. ``row_fold[r]`` (the first
    fold whose last step has not left row ``r``) moves on.
    """
    n_folds = start.shape[0]
    while row_fold[r] < n_folds and cycle - start[row_fold[r]] - r - (t_len - 1) >= cols:
        row_fold[r] += 1
    n = 0
    f = row_fold[r]
    while f < n_folds and start[f] + r <= cycle:
        c = cycle - start[f] - r - (t_len - 1)  # the last step
        if t_len > 1 and 0 <= c < cols and tags[at + c] == ((f << _STEP_BITS) | (t_len - 1)):
            out[n, 0], out[n, 1], out[n, 2] = c, f, t_len - 1
            n += 1
        c = cycle - start[f] - r  # the first step
        if c < cols and tags[at + c] == (f << _STEP_BITS):
            out[n, 0], out[n, 1], out[n, 2] = c, f, 0
            n += 1
        f += 1
    return n


@njit(cache=True, inline="always")
def _feed_top(v_down, base_v, second, cycle, start, first_fold, cols, t_len, lo, hi, col_lim,
              fold_c0):
    """Output stationary: write the column operands entering the top of columns ``lo .. hi`` in
    ``cycle`` (``v_down[base_v + c]``; zero where no useful one does).

    Fold ``f``'s step ``t`` enters column ``c = cycle - start[f] - t``, alongside the same step's
    operand in PE ``(0, c)``, whose tag the kernel has checked at the row's left edge.
    ``first_fold`` is the first fold whose last step has not left row 0.
    """
    v_down[base_v + lo:base_v + hi + 1] = 0.0
    f = first_fold
    while f < start.shape[0] and start[f] <= cycle:
        front = cycle - start[f]  # the column of the fold's first step
        for c in range(max(lo, front - (t_len - 1)), min(front, hi, col_lim[f] - 1) + 1):
            v_down[base_v + c] = second[front - c, fold_c0[f] + c]
        f += 1


@njit(cache=True, inline="always")
def _drain(out, v, n_pe, cycle, start, first_fold, rows, cols, t_len, col_lim, fold_c0):
    """Add the partial sums that leave the bottom row in ``cycle`` (``v[n_pe + c]``) to ``out``.

    Fold ``f``'s step ``t`` is in column ``c = cycle - start[f] - (rows - 1) - t`` of the bottom
    row; the kernel has checked by then, at the row's left edge, that the tags there are those.
    ``first_fold`` is the first fold whose last step has not left the row.
    """
    f = first_fold
    while f < start.shape[0] and start[f] + rows - 1 <= cycle:
        front = cycle - start[f] - (rows - 1)  # the column of the fold's first step
        for c in range(max(0, front - (t_len - 1)), min(front, cols - 1, col_lim[f] - 1) + 1):
            out[front - c, fold_c0[f] + c] += v[n_pe + c]
        f += 1


@njit(cache=True)
def _record_cycle(trace, cycle, base, base_v, tags, h, v_down, v, now, s, s_f, output_stationary,
                  fold_r0, fold_c0, s_r, s_c):
    """Copy the registers that hold a value into ``trace``'s ``cycle`` (:class:`systolic.Trace`).

    A PE whose registers hold a value after the cycle did a MAC in it; a useful one where its
    fold's row and column fall inside the ``(s_r, s_c)`` problem. Where PE ``(r, c)``'s registers
    are: see :func:`systolic_kernel`.
    """
    tr_h, tr_v, tr_s, tr_busy, tr_fold = trace
    rows, cols = tr_h.shape[1], tr_h.shape[2]
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            key = tags[base + i]
            if key >= 0:
                f = key >> _STEP_BITS
                tr_h[cycle, r, c] = h[base + i]
                tr_v[cycle, r, c] = v_down[base_v + i] if output_stationary else v[now, i + cols]
                if fold_r0[f] + r < s_r and fold_c0[f] + c < s_c:
                    tr_busy[cycle, r, c] = True
                    tr_fold[cycle, r, c] = f
            if s_f[i] >= 0:
                tr_s[cycle, r, c] = s[i]


@njit(cache=True, inline="always")
def _slide(buf_a, buf_b, base, step, size):
    """Move a window of ``size`` registers ``step`` words down ``buf_a`` and ``buf_b``; return
    its new base.

    When the window reaches the start of the buffers its contents are copied back to their end
    (about once every ``size / step`` cycles, as the buffers are five windows long).
    """
    if base < step:
        far = buf_a.shape[0] - size
        buf_a[far:far + size] = buf_a[base:base + size].copy()
        buf_b[far:far + size] = buf_b[base:base + size].copy()
        base = far
    return base - step


@njit(cache=True, inline="always")
def _fold_edges(fronts, n_fronts, s, s_f, tiles, sh_f, tails, n_tails, r, rows, cols, t_len,
                col_lim, row_lim, output_stationary):
    """Where a fold's first step reaches a PE of row ``r``: swap in its tile (``ws``, ``is``) or
    reset the accumulator (``os``). Where its last step does (``os``): note the PE in ``tails``,
    whose sums leave after this cycle. Returns the new count of ``tails``."""
    for k in range(n_fronts):
        c, f, t = fronts[k, 0], fronts[k, 1], fronts[k, 2]
        if t == 0:
            if output_stationary:
                s[r * cols + c] = 0.0
            else:
                s[r * cols + c] = tiles[f % 2, rows - 1 - r, c]
                sh_f[r, c] = -1
            s_f[r * cols + c] = f
        if output_stationary and t == t_len - 1 and c < col_lim[f] and r < row_lim[f]:
            tails[n_tails, 0], tails[n_tails, 1], tails[n_tails, 2] = r, c, f
            n_tails += 1
    return n_tails


@njit(cache=True, inline="always")
def _write_tails(out, s, tails, n_tails, fold_r0, fold_c0, cols):
    """``os``: the finished sums of the PEs in ``tails`` (row, column, fold) leave for ``out``."""
    for k in range(n_tails):
        r, c, f = tails[k, 0], tails[k, 1], tails[k, 2]
        out[fold_r0[f] + r, fold_c0[f] + c] = s[r * cols + c]


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

    The registers. PE ``(r, c)`` is number ``i = r * cols + c``. The operands moving right and
    their tags (``fold << _STEP_BITS | step``, -1 for none) live in a window of ``rows * cols``
    words of ``h`` and ``tags`` that slides one word down per cycle: PE ``i`` reads word
    ``base + i``, so when ``base`` drops by one every value has moved one PE to the right without
    being copied, and a row's last value lands where the next row's first PE writes its new
    operand. In ``os`` the column operands move down unchanged, so they live in a window of
    ``v_down`` that slides ``cols`` words (one row) per cycle, row 0 writing the operands entering
    at the top. In ``ws`` and ``is`` the partial sums change on the way down: ``v[n % 2]`` holds
    them after cycle ``n`` (``cols`` zeros first, which enter at the top), ``v[1 - n % 2]`` after
    the cycle before. ``s`` is the accumulator (``os``) or the active stationary operand and
    ``s_f`` its fold; ``tiles`` and ``sh_f`` are the shadow registers the next fold's stationary
    operand shifts into.

    The checks. The value from the left and the value from above that meet in PE ``(r, c)`` in
    cycle ``n`` entered rows ``r`` and ``r - 1`` in cycles ``n - c`` and ``n - 1 - c``: the same
    pair meets in every PE of the row, first in column 0, so the kernel compares their tags once,
    there. Likewise the fold of a PE's accumulator or stationary value, when a value reaches it, is
    that of the latest first step (``t = 0``) that entered its row before the value did, wherever
    the PE is in the row; that is checked at the edge too. That a stationary value has reached a
    PE's shadow register before its fold's first step does is checked in the PE.
    """
    fold_r0, fold_c0, start, load = schedule
    record = trace[0].shape[0] > 0
    s_r, t_len = left.shape
    s_c = out.shape[1]
    n_pe = rows * cols
    col_lim = s_c - fold_c0  # PE (r, c) of fold f does useful work where c < col_lim[f]
    row_lim = s_r - fold_r0  # and r < row_lim[f]
    far = 4 * n_pe + cols  # where the sliding windows start
    tags = np.full(far + n_pe, -1, dtype=np.int64)
    h = np.zeros(far + n_pe)
    base = far + 1  # the first cycle moves it to `far`
    v_down = np.zeros(far + n_pe if output_stationary else 1)  # os: the column operands
    base_v = far + cols
    v = np.zeros((2, cols + n_pe))  # ws, is: the partial sums, after odd and even cycles
    s = np.zeros(n_pe)
    s_f = np.full(n_pe, -1, dtype=np.int64)
    tiles = np.zeros((2, rows, cols))
    sh_f = np.full((rows, cols), -1, dtype=np.int64)
    fronts = np.zeros((2 * cols + 2, 3), dtype=np.int64)
    tails = np.zeros((rows * (cols + 1), 3), dtype=np.int64)  # os: (row, column, fold)
    next_in = np.zeros(rows, dtype=np.int64)  # per row: first fold whose operands are not all in
    row_fold = np.zeros(rows, dtype=np.int64)  # per row: first fold whose last step is in it
    first_in = np.full(rows, -1, dtype=np.int64)  # per row: first and latest cycle a value entered
    last_in = np.full(rows, -1, dtype=np.int64)
    last_front = np.full(rows, -1, dtype=np.int64)  # per row: fold of the latest first step in it
    edge_step = np.full(rows, -cols, dtype=np.int64)  # ... and when a first or last step entered
    row_busy = np.zeros(rows, dtype=np.int64)  # per row: PEs holding a useful value
    leaving = np.zeros((rows, cols + 1), dtype=np.int64)  # ... that stop being useful in a cycle
    next_load = np.zeros(cols, dtype=np.int64)
    last_busy = -1
    for cycle in range(start[-1] + t_len + rows + cols):
        base = _slide(tags, h, base, 1, n_pe)
        if output_stationary:
            base_v = _slide(v_down, v_down, base_v, cols, n_pe)
        now = cycle % (cols + 1)  # this cycle's slot in ``leaving``
        busy = 0  # useful MACs in this cycle
        r_lo, r_hi, n_tails = rows, -1, 0  # the rows that hold values
        for r in range(rows - 1, -1, -1):
            f_edge, t_edge = _entering(next_in, start, r, cycle, t_len)
            key, h_in = -1, 0.0
            row_busy[r] -= leaving[r, now]
            leaving[r, now] = 0
            if f_edge >= 0:
                key = (f_edge << _STEP_BITS) | t_edge
                if r < row_lim[f_edge]:
                    h_in = left[fold_r0[f_edge] + r, t_edge]
                    if col_lim[f_edge] > 0:  # useful in columns 0 .. col_lim - 1
                        row_busy[r] += 1
                        gone = now + min(col_lim[f_edge], cols)  # the cycle it leaves them
                        leaving[r, gone - (cols + 1) if gone > cols else gone] += 1
                if first_in[r] < 0:
                    first_in[r] = cycle
                last_in[r] = cycle
                if t_edge == 0 or t_edge == t_len - 1:
                    edge_step[r] = cycle
            at = base + r * cols  # PE (r, 0)
            key_up = tags[at - cols + 1] if r > 0 else key  # row r - 1's entry of the last cycle
            tags[at], h[at] = key, h_in
            if last_in[r] < 0 or cycle - last_in[r] >= cols:
                continue  # the row holds nothing
            lo, hi = cycle - last_in[r], min(cycle - first_in[r], cols - 1)
            last_busy = cycle
            busy += row_busy[r]
            r_lo, r_hi = r, max(r_hi, r)
            n_fronts = 0  # a first or last step is in the row only for cols cycles after it entered
            if cycle <= edge_step[r] + cols - 1:
                n_fronts = _fronts(row_fold, start, r, cycle, t_len, cols, tags, at, fronts)
            # the checks, in the order a scan of the row from its last column would meet them
            for k in range(n_fronts):
                c, f, t = fronts[k, 0], fronts[k, 1], fronts[k, 2]
                if c > 0 and t == 0 and not output_stationary and sh_f[r, c] != f:
                    return _conflict(status, _TILE_NOT_LOADED, cycle, r, c)
            if key >= 0:
                if key_up != key:  # the value from above: another fold or step
                    return _conflict(status, _MIXED_VALUES, cycle, r, 0)
                if t_edge == 0:
                    if not output_stationary and sh_f[r, 0] != f_edge:
                        return _conflict(status, _TILE_NOT_LOADED, cycle, r, 0)
                    last_front[r] = f_edge
                elif last_front[r] != f_edge:
                    return _conflict(status, _WRONG_FOLD, cycle, r, 0)
            n_tails = _fold_edges(fronts, n_fronts, s, s_f, tiles, sh_f, tails, n_tails, r, rows,
                                  cols, t_len, col_lim, row_lim, output_stationary)
            if output_stationary and r == 0:  # the column operands entering at the top
                _feed_top(v_down, base_v, second, cycle, start, row_fold[0], cols, t_len, lo, hi,
                          col_lim, fold_c0)
        if r_hi >= 0:
            _pe_update(r_lo * cols, (r_hi + 1) * cols, base, base_v, tags, h, v_down, v,
                       cycle & 1, s, output_stationary)
        if output_stationary:  # a fold's last step: its finished sums leave the array
            _write_tails(out, s, tails, n_tails, fold_r0, fold_c0, cols)
        elif r_hi == rows - 1:  # partial sums leave at the bottom edge
            _drain(out, v[cycle & 1], n_pe, cycle, start, row_fold[rows - 1], rows, cols, t_len,
                   col_lim, fold_c0)
        activity[cycle] = busy
        if not output_stationary and not _shift_tiles(second, fold_r0, fold_c0, load, next_load,
                                                      tiles, sh_f, cycle, status):
            return 0
        if record:
            _record_cycle(trace, cycle, base, base_v, tags, h, v_down, v, cycle & 1, s, s_f,
                          output_stationary, fold_r0, fold_c0, s_r, s_c)
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
