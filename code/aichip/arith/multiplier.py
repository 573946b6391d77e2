"""Tree multipliers at the bit level: Wallace and Dadda reduction, simulated gate by gate.

An n-bit unsigned multiplier forms n*n **partial-product** bits ``a_i AND b_j`` of weight
``2**(i+j)``: up to n bits in a column. A **full adder** (a 3:2 counter) takes three bits of one
column and returns a sum bit in that column and a carry bit in the next; a **half adder** (2:2
counter) does the same with two bits. Layers of such counters working on all columns at once
(carry-save addition: no carry ripples within a stage) shrink every column to at most two bits;
one **carry-propagate adder** (here a ripple-carry adder) then adds the last two rows.

* **Wallace** (1964) reduces as early as possible: in every column, every group of three bits
  goes into a full adder and a leftover pair into a half adder.
* **Dadda** (1965) reduces as late as possible: stage targets run down the sequence
  ``d = ..., 13, 9, 6, 4, 3, 2`` (``d_{j+1} = floor(1.5 d_j)``), and a column gets only the
  counters it needs to meet the target. Same number of stages, far fewer half adders, and fewer
  full adders too: a full adder removes one bit (three in, two out) and a half adder none, so a
  tree uses ``n**2 - L`` full adders when it leaves ``L`` bits for the final adder
  (:attr:`Multiplier.bits_to_cpa`), and Dadda, reducing late, leaves more bits than Wallace.

Every stage keeps at least two thirds of the height (``h -> ceil(2h/3)``: three bits become two),
so the number of stages for ``h`` rows is the smallest ``j`` with ``d_j >= h``, indexing the
sequence from ``d_0 = 2`` (zero stages for two rows);
:func:`wallace_stages` computes it from Wallace's row recurrence ``h -> ceil(2h/3)``,
:func:`dadda_stages` from Dadda's sequence; the two agree for every n. Both treat the partial
products as n full rows. A real multiplier's columns form a trapezoid (only the middle column has n
bits), so the column-wise Wallace netlist built by :func:`build_multiplier`, which also puts a half
adder on every leftover pair, sometimes finishes a stage early (n = 20 and n = 29 among n <= 64);
the Dadda netlist uses exactly :func:`dadda_stages` stages.

:func:`evaluate` runs the netlist on many operand pairs at once, **bit-sliced**: each signal is a
uint64 whose 64 bits are that signal's value for 64 different operand pairs, so one pass of
bitwise AND/XOR/OR over the netlist multiplies 64 pairs, and chunks of 64 run on all cores.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ..validation import check_choice, check_int

__all__ = [
    "TREES", "MAX_EVAL_BITS", "dadda_sequence", "wallace_stages", "dadda_stages", "Stage",
    "Multiplier", "build_multiplier", "evaluate", "SimResult", "simulate", "compare_trees",
    "wallace_early_widths",
]

TREES = ("wallace", "dadda")

# netlist opcodes
_A, _B, _AND, _FA_SUM, _FA_CARRY, _HA_SUM, _HA_CARRY, _ZERO = range(8)

#: widest multiplier :func:`evaluate` accepts (the 2n-bit product must fit in a uint64)
MAX_EVAL_BITS = 32


def dadda_sequence(limit: int) -> list[int]:
    """Dadda's stage heights ``2, 3, 4, 6, 9, 13, ...`` up to the first one >= ``limit``."""
    limit = check_int("limit", limit, minimum=1)
    seq = [2]
    while seq[-1] < limit:
        seq.append(seq[-1] * 3 // 2)
    return seq


def wallace_stages(n: int) -> int:
    """Reduction stages a Wallace tree needs to bring ``n`` partial-product rows down to two.

    Each stage turns every three rows into two: ``h -> 2 floor(h/3) + (h mod 3) = ceil(2h/3)``.
    """
    h = check_int("n", n, minimum=1)
    stages = 0
    while h > 2:
        h = 2 * (h // 3) + h % 3
        stages += 1
    return stages


def dadda_stages(n: int) -> int:
    """Reduction stages of a Dadda tree for ``n`` rows: the index of the first ``d_j >= n``."""
    n = check_int("n", n, minimum=1)
    return len(dadda_sequence(n)) - 1 if n > 2 else 0


class Stage(NamedTuple):
    """One reduction stage: counters used and the column heights after it (LSB first)."""

    full_adders: int
    half_adders: int
    full_adders_per_column: tuple[int, ...]
    half_adders_per_column: tuple[int, ...]
    heights_after: tuple[int, ...]


class Multiplier(NamedTuple):
    """A built n-bit tree multiplier: its statistics and its netlist (in topological order)."""

    n_bits: int
    tree: str
    initial_heights: tuple[int, ...]
    stages: tuple[Stage, ...]
    cpa_full_adders: int
    cpa_half_adders: int
    tree_depth: int          # adder levels on the longest path through the reduction tree
    critical_path: int       # gate levels (AND, then one per adder) from an input to any output
    ops: np.ndarray          # opcode per node
    args: np.ndarray         # (nodes, 3) operand node indices (or input bit index)
    outputs: np.ndarray      # node index of each product bit, LSB first (2n entries)

    @property
    def full_adders(self) -> int:
        """Full adders in the tree and the carry-propagate adder."""
        return sum(s.full_adders for s in self.stages) + self.cpa_full_adders

    @property
    def half_adders(self) -> int:
        """Half adders in the tree and the carry-propagate adder."""
        return sum(s.half_adders for s in self.stages) + self.cpa_half_adders

    @property
    def tree_full_adders(self) -> int:
        """Full adders in the reduction tree only (not the carry-propagate adder)."""
        return sum(s.full_adders for s in self.stages)

    @property
    def tree_half_adders(self) -> int:
        """Half adders in the reduction tree only (not the carry-propagate adder)."""
        return sum(s.half_adders for s in self.stages)

    @property
    def bits_to_cpa(self) -> int:
        """Bits the tree leaves in its (at most two) rows for the carry-propagate adder.

        A full adder turns three bits into two and a half adder two into two, so
        ``tree_full_adders == n_bits**2 - bits_to_cpa``: the tree that leaves fewer bits used more
        full adders.
        """
        return sum(self.stages[-1].heights_after if self.stages else self.initial_heights)

    @property
    def cpa_adders(self) -> int:
        """Full and half adders of the final ripple-carry adder: the columns it has to add."""
        return self.cpa_full_adders + self.cpa_half_adders

    def summary(self) -> str:
        """One line: width, tree, stages (and the closed form), adder counts, critical path."""
        return (f"{self.n_bits}x{self.n_bits} {self.tree}: {len(self.stages)} stages (closed form "
                f"{dadda_stages(self.n_bits)}); tree {self.tree_full_adders} full and "
                f"{self.tree_half_adders} half adders, leaving {self.bits_to_cpa} bits; final "
                f"ripple-carry adder {self.cpa_full_adders} full and {self.cpa_half_adders} half "
                f"adders; critical path {self.critical_path} gate levels")


class _Netlist:
    def __init__(self):
        self.ops, self.args, self.depth = [], [], []

    def add(self, op, a=-1, b=-1, c=-1, depth=0):
        self.ops.append(op)
        self.args.append((a, b, c))
        self.depth.append(depth)
        return len(self.ops) - 1

    def full_adder(self, x, y, z):
        d = max(self.depth[x], self.depth[y], self.depth[z]) + 1
        return self.add(_FA_SUM, x, y, z, d), self.add(_FA_CARRY, x, y, z, d)

    def half_adder(self, x, y):
        d = max(self.depth[x], self.depth[y]) + 1
        return self.add(_HA_SUM, x, y, -1, d), self.add(_HA_CARRY, x, y, -1, d)


def _reduce_stage(net, columns, tree, target):
    """One stage of counters over all columns; returns new columns and the counts per column.

    ``target`` is the height Dadda reduces each column to at this stage (None for Wallace, which
    puts a counter on every three bits, and a half adder on two left over, in every column)."""
    width = len(columns)
    new = [[] for _ in range(width + 1)]
    fas, has = [0] * width, [0] * width
    for c in range(width):
        bits = list(columns[c])
        if tree == "wallace":
            while len(bits) >= 3:
                s, cy = net.full_adder(bits.pop(0), bits.pop(0), bits.pop(0))
                new[c].append(s)
                new[c + 1].append(cy)
                fas[c] += 1
            if len(bits) == 2:
                s, cy = net.half_adder(bits.pop(0), bits.pop(0))
                new[c].append(s)
                new[c + 1].append(cy)
                has[c] += 1
        else:
            # Dadda: the column's height next stage is what stays here plus the carries already
            # sent in from column c-1; add counters only until that meets the target.
            while len(bits) + len(new[c]) > target:
                if len(bits) + len(new[c]) == target + 1:
                    s, cy = net.half_adder(bits.pop(0), bits.pop(0))
                    has[c] += 1
                else:
                    s, cy = net.full_adder(bits.pop(0), bits.pop(0), bits.pop(0))
                    fas[c] += 1
                new[c].append(s)
                new[c + 1].append(cy)
        new[c].extend(bits)
    if not new[width]:
        new.pop()
    return new, fas, has


def build_multiplier(n_bits: int, tree: str = "dadda") -> Multiplier:
    """Build the gate-level netlist of an ``n_bits`` x ``n_bits`` unsigned tree multiplier.

    Parameters
    ----------
    n_bits : int in [2, 64]
    tree : "wallace" or "dadda"

    Returns
    -------
    Multiplier, with per-stage full- and half-adder counts, the column heights after each stage,
    the counters of the final ripple-carry adder, and the critical path in gate levels (one for
    the AND of a partial product, one per adder it passes through).
    """
    n = check_int("n_bits", n_bits, minimum=2, maximum=64)
    tree = check_choice("tree", tree, TREES)
    net = _Netlist()
    a_bits = [net.add(_A, i) for i in range(n)]
    b_bits = [net.add(_B, j) for j in range(n)]
    columns = [[] for _ in range(2 * n)]
    for i in range(n):
        for j in range(n):
            columns[i + j].append(net.add(_AND, a_bits[i], b_bits[j], -1, 1))
    columns.pop()  # the top column (weight 2**(2n-1)) holds no partial product
    initial = tuple(len(c) for c in columns)

    targets = dadda_sequence(n)[:-1][::-1] if n > 2 else []
    stages = []
    step = 0
    while max(len(c) for c in columns) > 2:
        target = targets[step] if tree == "dadda" else None   # Wallace reduces all it can
        columns, fas, has = _reduce_stage(net, columns, tree, target)
        stages.append(Stage(sum(fas), sum(has), tuple(fas), tuple(has),
                            tuple(len(c) for c in columns)))
        step += 1
    tree_depth = max(net.depth[x] for col in columns for x in col) - 1

    # final carry-propagate adder: ripple carry over the two remaining rows
    cpa_fa = cpa_ha = 0
    outputs, carry = [], None
    for col in columns:
        bits = list(col) + ([carry] if carry is not None else [])
        if len(bits) == 1:
            outputs.append(bits[0])
            carry = None
        elif len(bits) == 2:
            s, carry = net.half_adder(*bits)
            outputs.append(s)
            cpa_ha += 1
        elif len(bits) == 3:
            s, carry = net.full_adder(*bits)
            outputs.append(s)
            cpa_fa += 1
        else:
            outputs.append(net.add(_ZERO))
            carry = None
    if carry is not None:
        outputs.append(carry)
    outputs = (outputs + [net.add(_ZERO)] * (2 * n))[:2 * n]
    return Multiplier(
        n_bits=n, tree=tree, initial_heights=initial, stages=tuple(stages),
        cpa_full_adders=cpa_fa, cpa_half_adders=cpa_ha, tree_depth=tree_depth,
        critical_path=max(net.depth[x] for x in outputs),
        ops=np.array(net.ops, dtype=np.int8), args=np.array(net.args, dtype=np.int64),
        outputs=np.array(outputs, dtype=np.int64))


@njit(cache=True)
def _eval_chunk(ops, args, outputs, a, b, start, count, values, products):
    # transpose 64 operands into bit-slices: bit t of the word for a_i is bit i of a[start + t]
    for node in range(ops.size):
        op = ops[node]
        x, y, z = args[node, 0], args[node, 1], args[node, 2]
        if op == 0 or op == 1:
            src = a if op == 0 else b
            word = np.uint64(0)
            for t in range(count):
                word |= ((src[start + t] >> np.uint64(x)) & np.uint64(1)) << np.uint64(t)
            values[node] = word
        elif op == 2:
            values[node] = values[x] & values[y]
        elif op == 3:
            values[node] = values[x] ^ values[y] ^ values[z]
        elif op == 4:
            values[node] = (values[x] & values[y]) | (values[z] & (values[x] ^ values[y]))
        elif op == 5:
            values[node] = values[x] ^ values[y]
        elif op == 6:
            values[node] = values[x] & values[y]
        else:
            values[node] = np.uint64(0)
    for t in range(count):
        p = np.uint64(0)
        for bit in range(outputs.size):
            p |= ((values[outputs[bit]] >> np.uint64(t)) & np.uint64(1)) << np.uint64(bit)
        products[start + t] = p


@njit(parallel=True, cache=True)
def _eval_kernel(ops, args, outputs, a, b, products):
    n_pairs = a.size
    n_chunks = (n_pairs + 63) // 64
    for chunk in prange(n_chunks):
        values = np.empty(ops.size, dtype=np.uint64)   # private to this iteration (thread)
        start = chunk * 64
        _eval_chunk(ops, args, outputs, a, b, start, min(64, n_pairs - start), values, products)


def evaluate(mult: Multiplier, a, b) -> np.ndarray:
    """Products of the operand pairs ``(a[k], b[k])`` computed by the gate-level netlist.

    Parameters
    ----------
    mult : Multiplier from :func:`build_multiplier`, with ``n_bits <= 32``
    a, b : integer arrays of equal length, values in ``[0, 2**n_bits)``

    Returns
    -------
    uint64 array of products (exact integer products when the netlist is right).
    """
    if not isinstance(mult, Multiplier):
        raise TypeError("mult must be a Multiplier from build_multiplier")
    check_int("mult.n_bits", mult.n_bits, maximum=MAX_EVAL_BITS)
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-d arrays of the same length, got {a.shape}, {b.shape}")
    if not (np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer)):
        raise TypeError("a and b must be integer arrays")
    limit = 2 ** mult.n_bits
    for name, x in (("a", a), ("b", b)):
        if x.size and (int(x.min()) < 0 or int(x.max()) >= limit):
            raise ValueError(f"{name} must hold values in [0, 2**{mult.n_bits})")
    products = np.empty(a.size, dtype=np.uint64)
    _eval_kernel(mult.ops, mult.args, mult.outputs, a.astype(np.uint64), b.astype(np.uint64),
                 products)
    return products


class SimResult(NamedTuple):
    """A simulation run: how many random pairs, whether all products were exact, and the speed."""

    n_bits: int
    tree: str
    pairs: int
    all_correct: bool
    mismatches: int
    best_s: float
    products_per_s: float


def simulate(n_bits: int = 16, tree: str = "dadda", pairs: int = 1_000_000, seed: int = 0,
             repeats: int = 3) -> SimResult:
    """Multiply ``pairs`` seeded random operand pairs with the netlist, check against ``a * b``.

    Timing (best of ``repeats`` after a warm-up) covers :func:`evaluate` only.
    """
    from ..timing import time_call

    n = check_int("n_bits", n_bits, minimum=2, maximum=MAX_EVAL_BITS)
    pairs = check_int("pairs", pairs, minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    a = rng.integers(0, 2 ** n, size=pairs, dtype=np.uint64)
    b = rng.integers(0, 2 ** n, size=pairs, dtype=np.uint64)
    mult = build_multiplier(n, tree)
    got = evaluate(mult, a, b)
    expected = a * b  # exact: the product of two 32-bit values fits in 64 bits
    mismatches = int(np.count_nonzero(got != expected))
    timing = time_call(lambda: evaluate(mult, a, b), repeats=repeats, warmup=0)
    return SimResult(n, tree, pairs, mismatches == 0, mismatches, timing.best_s,
                     pairs / timing.best_s)


def compare_trees(widths=(4, 8, 16, 24, 32)):
    """Build both trees at every width; one row per (width, tree) with their counts.

    Returns a pandas DataFrame with columns ``n (bits), tree, stages (netlist), full adders (tree),
    half adders (tree), bits left for the CPA, full + half adders (CPA), critical path (gate
    levels)``.
    """
    import pandas as pd

    if isinstance(widths, (int, np.integer)):
        widths = [widths]
    rows = []
    for n in widths:
        n = check_int("widths", n, minimum=2, maximum=64)
        for tree in TREES:
            m = build_multiplier(n, tree)
            rows.append({"n (bits)": n, "tree": tree, "stages (netlist)": len(m.stages),
                         "full adders (tree)": m.tree_full_adders,
                         "half adders (tree)": m.tree_half_adders,
                         "bits left for the CPA": m.bits_to_cpa,
                         "full + half adders (CPA)": m.cpa_adders,
                         "critical path (gate levels)": m.critical_path})
    if not rows:
        raise ValueError("widths must hold at least one width in [2, 64]")
    return pd.DataFrame(rows)


def wallace_early_widths(max_bits: int = 64) -> list[int]:
    """Widths ``n <= max_bits`` whose Wallace netlist needs fewer stages than the closed form.

    The closed form treats the partial products as ``n`` full rows; the real columns form a
    trapezoid, and the column-wise Wallace netlist sometimes finishes a stage early.
    """
    max_bits = check_int("max_bits", max_bits, minimum=2, maximum=64)
    return [n for n in range(2, max_bits + 1)
            if len(build_multiplier(n, "wallace").stages) < wallace_stages(n)]
