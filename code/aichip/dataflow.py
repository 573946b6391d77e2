"""Dataflows of a convolution layer on a spatial accelerator: access counts, energy, mapping search.

The layer is the loop nest (one multiply-accumulate per innermost iteration)::

    for n < N, k < K, c < C, p < P, q < Q, r < R, s < S:
        O[n, k, p, q] += I[n, c, p*stride + r, q*stride + s] * W[k, c, r, s]

with ``P = (H - R) // stride + 1`` output rows and ``Q`` output columns (pad ``H, W`` yourself).

The accelerator has DRAM, a global buffer (GLB) shared by an array of PEs, and a register file (RF)
in every PE, as in Eyeriss (Chen, Emer, Sze, ISCA 2016). A **mapping** splits every loop bound into
four factors, ``bound = dram * glb * spatial * rf``: ``dram`` and ``glb`` are temporal loops over
tiles (run in the mapping's loop ``order``), ``spatial`` spreads a loop over PEs, ``rf`` is the loop
inside a PE over data held in its RF. A **dataflow** is a constraint on which loops may be spatial
and which may stay inside the PE (:data:`DATAFLOWS`): what it keeps stationary in the RF.

Access counting (the same rule at each boundary). A child tile of tensor ``X`` is (re)loaded each
time one of the temporal loops above it that indexes ``X`` changes, so the number of loads is the
product of the trip counts of the loops above, from the outermost down to the innermost loop that
indexes ``X`` and has a trip count above one; loops further in reuse the tile. Loads times tile size
gives the words moved. Outputs are read-modify-written: every load after the first of a tile reads
partial sums back, every eviction writes them. Data shared by PEs (a loop spread over PEs that does
not index ``X``) is multicast: read once from the GLB. Partial sums of a loop spread over PEs that
does not index the output (C, R, S) are reduced PE to PE. Sliding-window overlap between consecutive
input tiles is not reused (a conservative, common simplification). :func:`brute_force_accesses`
counts the same quantities by walking the tile loops one iteration at a time (tests compare them).

Energy weights each access by the Eyeriss normalised costs (``data/eyeriss_costs.csv``: MAC 1,
RF 1, PE-to-PE 2, GLB 6, DRAM 200), or by any ``costs`` dict with the keys :data:`COST_LEVELS`
(for example absolute energies per access in pJ from a 45 nm table).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit

from .layers import ConvLayer, conv_layer, layer_table
from .tables import load_table
from .validation import check_choice, check_float, check_int

__all__ = [
    "DIMS", "LEVELS", "DATAFLOWS", "loop_bounds", "conv_shape", "Architecture", "Accesses",
    "Mapping", "eyeriss_costs", "COST_LEVELS", "load_layers", "layer_shape", "evaluate_mapping",
    "brute_force_accesses", "SearchResult", "search_mapping", "compare_dataflows",
]

DIMS = ("N", "K", "C", "P", "Q", "R", "S")
LEVELS = ("DRAM", "GLB", "PE", "RF")

#: dataflow -> (loops that may run inside a PE over RF-resident data, loops that may be spatial)
DATAFLOWS = {
    "ws": (("P", "Q"), ("K", "C")),                 # weight stays in the PE, outputs stream by
    "os": (("C", "R", "S"), ("K", "P", "Q")),       # partial sum stays in the PE
    "is": (("K",), ("C", "P", "Q")),                # input stays, reused over filters
    "rs": (("K", "C", "Q", "S"), ("K", "C", "P", "R")),  # 1-D row convolution per PE (Eyeriss)
    "nlr": ((), ("K", "C")),                        # no local reuse: no RF (DianNao-like)
}

# Which loops index each tensor (I also depends on R, S through p*stride + r, q*stride + s).
_REL_W = np.array([0, 1, 1, 0, 0, 1, 1], dtype=np.int64)
_REL_I = np.array([1, 0, 1, 1, 1, 1, 1], dtype=np.int64)
_REL_O = np.array([1, 1, 0, 1, 1, 0, 0], dtype=np.int64)


def loop_bounds(layer: ConvLayer) -> np.ndarray:
    """The layer's loop bounds in :data:`DIMS` order ``(N, K, C, P, Q, R, S)``."""
    return np.array([layer.N, layer.K, layer.C, layer.P, layer.Q, layer.R, layer.S],
                    dtype=np.int64)


def conv_shape(N=1, K=1, C=1, H=1, W=1, R=1, S=1, stride=1, name: str = "conv") -> ConvLayer:
    """Validated :class:`aichip.layers.ConvLayer` (positive sizes, filter no larger than the input),
    with keyword arguments in loop-nest order."""
    return conv_layer(name, H=H, W=W, R=R, S=S, C=C, K=K, stride=stride, N=N)


@dataclass(frozen=True)
class Architecture:
    """Storage and PE count. Defaults: Eyeriss's 168 PEs and 108 KB global buffer (16-bit words)."""

    n_pes: int = 168
    rf_words: int = 256
    glb_words: int = 108 * 1024 // 2

    def __post_init__(self):
        check_int("n_pes", self.n_pes, minimum=1)
        check_int("rf_words", self.rf_words, minimum=1)
        check_int("glb_words", self.glb_words, minimum=1)


class Accesses(NamedTuple):
    """Word accesses per level and the energy they cost (units of one MAC's energy)."""

    macs: int
    rf: float
    pe: float
    glb: float
    dram: float
    energy: dict  # level -> normalised energy

    @property
    def total_energy(self) -> float:
        return float(sum(self.energy.values()))


class Mapping(NamedTuple):
    """Factors (rows: DIMS; columns: dram, glb, spatial, rf) and the temporal loop order."""

    dataflow: str
    factors: np.ndarray  # (7, 4) int
    order: tuple         # dimension names, outermost first (used at the DRAM and GLB levels)

    def describe(self) -> str:
        parts = []
        for name, col in zip(("DRAM", "GLB", "spatial", "RF"), self.factors.T, strict=True):
            used = [f"{d}{f}" for d, f in zip(DIMS, col, strict=True) if f > 1]
            parts.append(f"{name}: {' '.join(used) or '-'}")
        return "; ".join(parts) + f"; order {'>'.join(self.order)}"


@functools.lru_cache(maxsize=1)
def _costs_table() -> pd.DataFrame:
    return load_table("eyeriss_costs")


def eyeriss_costs() -> pd.DataFrame:
    """The Eyeriss normalised energy costs, one row per level, with their source."""
    return _costs_table().copy()


COST_LEVELS = ("MAC", "RF", "PE", "GLB", "DRAM")


def _cost_vector(costs: dict | None = None) -> np.ndarray:
    """Energy per access of each level in :data:`COST_LEVELS` order: the Eyeriss normalised costs
    by default, or ``costs`` (level -> energy, any unit, e.g. pJ from an absolute energy table)."""
    if costs is None:
        t = _costs_table().set_index("level")["normalized_energy"]
        return np.array([t[level] for level in COST_LEVELS], dtype=np.float64)
    if not isinstance(costs, dict) or set(costs) != set(COST_LEVELS):
        raise ValueError(f"costs must be a dict with exactly the keys {COST_LEVELS}, got "
                         f"{sorted(costs) if isinstance(costs, dict) else type(costs).__name__}")
    return np.array([check_float(f"costs[{level!r}]", costs[level], minimum=0.0)
                     for level in COST_LEVELS])


def load_layers(network: str | None = None) -> pd.DataFrame:
    """Layer shapes of AlexNet, VGG-16 and ResNet-50 (``data/conv_layers.csv``), with sources
    (:func:`aichip.layers.layer_table`; :func:`aichip.layers.conv_layers` gives them as layers)."""
    return layer_table(network)


def layer_shape(row, N: int = 1) -> ConvLayer:
    """:class:`aichip.layers.ConvLayer` of one row of :func:`load_layers` (a dict-like row)."""
    return conv_layer(f"{row['network']} {row['layer']}", H=int(row["H"]), W=int(row["W"]),
                      R=int(row["R"]), S=int(row["S"]), C=int(row["C"]), K=int(row["K"]),
                      stride=int(row["stride"]), N=N)


# ------------------------------------------------------------------------------- the cost model

@njit(cache=True)
def _size(rel, f, stride, which):
    """Words of a tensor tile whose loop extents are ``f`` (7,); ``which`` 0=W, 1=I, 2=O.

    An input tile spans ``(f_P - 1) * min(stride, f_R) + f_R`` rows: consecutive windows overlap
    when the stride is at most the filter extent, and leave rows unread between them when it is
    larger (a 1x1 stride-2 convolution reads every other row, not the bounding box).
    """
    if which == 1:
        h = (f[3] - 1) * min(stride, f[5]) + f[5]
        w = (f[4] - 1) * min(stride, f[6]) + f[6]
        return f[0] * f[2] * h * w
    size = 1
    for d in range(7):
        if rel[d]:
            size *= f[d]
    return size


@njit(cache=True)
def _loads(rel, trips, n_loops):
    """Tile loads under loops ``trips[:n_loops]`` (outermost first): the product down to the
    innermost loop that indexes the tensor and iterates more than once; and distinct tiles."""
    last = -1
    for i in range(n_loops):
        if trips[i, 1] > 1 and rel[trips[i, 0]]:
            last = i
    loads = 1
    distinct = 1
    for i in range(last + 1):
        loads *= trips[i, 1]
        if rel[trips[i, 0]]:
            distinct *= trips[i, 1]
    return loads, distinct


@njit(cache=True)
def _evaluate(factors, order, stride, use_rf, costs, out, trips, arr_tile, glb_tile):
    """Fill ``out`` with [rf, pe, glb, dram, energy] for one mapping (factors (7,4), order (7,)).

    ``trips`` (14, 2), ``arr_tile`` (7,) and ``glb_tile`` (7,) are scratch arrays.
    """
    macs = 1
    for d in range(7):
        macs *= factors[d, 0] * factors[d, 1] * factors[d, 2] * factors[d, 3]
    for i in range(7):
        trips[i, 0] = order[i]
        trips[i, 1] = factors[order[i], 0]
        trips[7 + i, 0] = order[i]
        trips[7 + i, 1] = factors[order[i], 1]
    for d in range(7):  # arr_tile: what the array holds (spatial * rf); glb_tile: glb * that
        arr_tile[d] = factors[d, 2] * factors[d, 3]
        glb_tile[d] = factors[d, 1] * arr_tile[d]
    glb = 0.0
    dram = 0.0
    pe = 0.0
    for which in range(3):
        rel = _REL_W if which == 0 else (_REL_I if which == 1 else _REL_O)
        a_loads, a_distinct = _loads(rel, trips, 14)
        g_loads, g_distinct = _loads(rel, trips, 7)
        a_size = _size(rel, arr_tile, stride, which)
        g_size = _size(rel, glb_tile, stride, which)
        if which == 2:
            glb += a_size * (2 * a_loads - a_distinct)
            dram += g_size * (2 * g_loads - g_distinct)
            reduce_pes = factors[2, 2] * factors[5, 2] * factors[6, 2]
            pe += a_loads * a_size * (reduce_pes - 1)
        else:
            glb += a_size * a_loads
            dram += g_size * g_loads
    rf = 4.0 * macs if use_rf else 0.0
    out[0] = rf
    out[1] = pe
    out[2] = glb
    out[3] = dram
    out[4] = costs[0] * macs + costs[1] * rf + costs[2] * pe + costs[3] * glb + costs[4] * dram


def _check_mapping(shape: ConvLayer, factors, order, dataflow: str, arch: Architecture):
    check_choice("dataflow", dataflow, tuple(DATAFLOWS))
    factors = np.asarray(factors, dtype=np.int64)
    if factors.shape != (7, 4):
        raise ValueError(f"factors must have shape (7, 4) (dims x [dram, glb, spatial, rf]), "
                         f"got {factors.shape}")
    if (factors < 1).any():
        raise ValueError("every factor must be >= 1")
    if not np.array_equal(factors.prod(axis=1), loop_bounds(shape)):
        raise ValueError(f"factors multiply to {factors.prod(axis=1).tolist()}, but the layer's "
                         f"loop bounds {dict(zip(DIMS, loop_bounds(shape).tolist(), strict=True))}")
    if sorted(order) != sorted(DIMS):
        raise ValueError(f"order must be a permutation of {DIMS}, got {order}")
    rf_ok, sp_ok = DATAFLOWS[dataflow]
    for d, name in enumerate(DIMS):
        if factors[d, 3] > 1 and name not in rf_ok:
            raise ValueError(f"dataflow {dataflow!r} keeps only {rf_ok} inside a PE, not {name}")
        if factors[d, 2] > 1 and name not in sp_ok:
            raise ValueError(f"dataflow {dataflow!r} spreads only {sp_ok} over PEs, not {name}")
    if factors[:, 2].prod() > arch.n_pes:
        raise ValueError(f"mapping uses {factors[:, 2].prod()} PEs, the array has {arch.n_pes}")
    return factors, np.array([DIMS.index(d) for d in order], dtype=np.int64)


def evaluate_mapping(shape: ConvLayer, factors, order=DIMS, dataflow: str = "rs",
                     arch: Architecture | None = None, costs: dict | None = None) -> Accesses:
    """Access counts and energy of one mapping (see the module docstring).

    ``costs`` (level -> energy per access, keys :data:`COST_LEVELS`) replaces the Eyeriss normalised
    costs, e.g. with absolute energies in pJ.
    """
    arch = arch or Architecture()
    factors, order_idx = _check_mapping(shape, factors, order, dataflow, arch)
    cost_vec = _cost_vector(costs)
    out = np.zeros(5)
    _evaluate(factors, order_idx, shape.stride, dataflow != "nlr", cost_vec, out,
              np.empty((14, 2), dtype=np.int64), np.empty(7, dtype=np.int64),
              np.empty(7, dtype=np.int64))
    return _accesses(shape.macs, out, cost_vec)


def _accesses(macs, out, costs) -> Accesses:
    energy = {"MAC": costs[0] * macs, "RF": costs[1] * out[0], "PE": costs[2] * out[1],
              "GLB": costs[3] * out[2], "DRAM": costs[4] * out[3]}
    return Accesses(macs, float(out[0]), float(out[1]), float(out[2]), float(out[3]), energy)


#: The tensors of the loop nest ``O[n, k, p, q] += I[n, c, p*stride + r, q*stride + s] *
#: W[k, c, r, s]`` and the loops their indices use, written out from that statement.
_INDEXED_BY = {"W": "KCRS", "I": "NCPQRS", "O": "NKPQ"}


def _tile_words(tensor: str, lo: dict, ext: dict, stride: int) -> int:
    """Distinct words of ``tensor`` touched by loop indices ``lo[d] <= i_d < lo[d] + ext[d]``,
    found by building the set of element coordinates (axis by axis: the tile is their product)."""
    rng = {d: range(lo[d], lo[d] + ext[d]) for d in DIMS}
    if tensor == "I":
        rows = {p * stride + r for p in rng["P"] for r in rng["R"]}
        cols = {q * stride + s for q in rng["Q"] for s in rng["S"]}
        return len(rng["N"]) * len(rng["C"]) * len(rows) * len(cols)
    words = 1
    for d in _INDEXED_BY[tensor]:
        words *= len(rng[d])
    return words


def brute_force_accesses(shape: ConvLayer, factors, order=DIMS, dataflow: str = "rs",
                         arch: Architecture | None = None, costs: dict | None = None) -> Accesses:
    """The counts of :func:`evaluate_mapping`, found by walking the tile loops one step at a time.

    Independent of the model's helpers: it steps through the DRAM loops and then the GLB loops in
    ``order``, works out the index ranges of the tile that the array (GLB reads) and the GLB (DRAM
    reads) hold in each iteration, and whenever the tile a tensor needs is not the one held, counts
    the distinct words of the new tile by enumerating their coordinates (for outputs also the write
    back, and a read of the earlier partial sums when the tile was held before). Slow: for tests and
    small layers.
    """
    arch = arch or Architecture()
    factors, _ = _check_mapping(shape, factors, order, dataflow, arch)
    dram, glb, spatial, rf = ({d: int(factors[i, j]) for i, d in enumerate(DIMS)}
                              for j in range(4))
    array_ext = {d: spatial[d] * rf[d] for d in DIMS}
    glb_ext = {d: glb[d] * array_ext[d] for d in DIMS}
    loops = [(d, "dram", dram[d]) for d in order] + [(d, "glb", glb[d]) for d in order]
    # partial sums of PEs that work on the same outputs are added PE to PE
    reducers = 1
    for d in DIMS:
        if d not in _INDEXED_BY["O"]:
            reducers *= spatial[d]
    counts = {"glb": 0, "dram": 0, "pe": 0}
    held = {}
    seen = {}
    for idx in itertools.product(*[range(trip) for _, _, trip in loops]):
        at = {(d, lvl): i for (d, lvl, _), i in zip(loops, idx, strict=True)}
        for tensor, dims in _INDEXED_BY.items():
            for level in ("array", "glb"):
                if level == "array":  # the array's tile moves with the DRAM and the GLB loops
                    key = tuple((at[(d, "dram")], at[(d, "glb")]) for d in dims)
                    lo = {d: (at[(d, "dram")] * glb[d] + at[(d, "glb")]) * array_ext[d]
                          for d in DIMS}
                    ext, where = array_ext, "glb"
                else:  # the GLB's tile moves with the DRAM loops only
                    key = tuple(at[(d, "dram")] for d in dims)
                    lo = {d: at[(d, "dram")] * glb_ext[d] for d in DIMS}
                    ext, where = glb_ext, "dram"
                if held.get((tensor, level)) == key:
                    continue
                held[(tensor, level)] = key
                words = _tile_words(tensor, lo, ext, shape.stride)
                counts[where] += words
                if tensor == "O":
                    if key in seen.setdefault(level, set()):
                        counts[where] += words  # read back the earlier partial sums
                    seen[level].add(key)
                    if level == "array":
                        counts["pe"] += words * (reducers - 1)
    macs = shape.N * shape.K * shape.C * shape.P * shape.Q * shape.R * shape.S
    rf_accesses = 0.0 if dataflow == "nlr" else 4.0 * macs  # read I, W, psum; write psum
    out = np.array([rf_accesses, counts["pe"], counts["glb"], counts["dram"], 0.0])
    return _accesses(macs, out, _cost_vector(costs))


# ---------------------------------------------------------------------------------- the search

def _splits(n: int, allow_spatial: bool, allow_rf: bool, allow_dram: bool) -> np.ndarray:
    """Every ordered (dram, glb, spatial, rf) factorisation of ``n`` allowed by the flags."""
    divs = [d for d in range(1, n + 1) if n % d == 0]
    rows = []
    for sp in (divs if allow_spatial else [1]):
        for rf in (divs if allow_rf else [1]):
            if n % (sp * rf):
                continue
            rest = n // (sp * rf)
            for dram in ([d for d in divs if rest % d == 0] if allow_dram else [1]):
                rows.append((dram, rest // dram, sp, rf))
    return np.array(rows, dtype=np.int64)


@njit(cache=True)
def _fits(factors, stride, use_rf, n_pes, rf_words, glb_words, rf_tile, glb_tile):
    """Do the PE count and the RF and GLB tiles of ``factors`` fit? Sizes only grow with any
    factor, so with unassigned dims set to 1 this is a valid test for pruning partial mappings."""
    pes = 1
    for d in range(7):
        pes *= factors[d, 2]
        rf_tile[d] = factors[d, 3]
        glb_tile[d] = factors[d, 1] * factors[d, 2] * factors[d, 3]
    if pes > n_pes:
        return False
    if use_rf:
        words = (_size(_REL_W, rf_tile, stride, 0) + _size(_REL_I, rf_tile, stride, 1)
                 + _size(_REL_O, rf_tile, stride, 2))
        if words > rf_words:
            return False
    words = (_size(_REL_W, glb_tile, stride, 0) + _size(_REL_I, glb_tile, stride, 1)
             + _size(_REL_O, glb_tile, stride, 2))
    return words <= glb_words


@njit(cache=True)
def _search_kernel(s0, s1, s2, s3, s4, s5, s6, orders, stride, use_rf, costs, n_pes, rf_words,
                   glb_words, objective, best_factors, best_order, best_out):
    """Depth-first search over split tables ``s0..s6`` (one per dim) and ``orders``, pruning a
    partial mapping as soon as it cannot fit the PEs or the buffers."""
    tables = (s0, s1, s2, s3, s4, s5, s6)
    sizes = np.array([s0.shape[0], s1.shape[0], s2.shape[0], s3.shape[0], s4.shape[0],
                      s5.shape[0], s6.shape[0]])
    factors = np.ones((7, 4), dtype=np.int64)
    rf_tile = np.empty(7, dtype=np.int64)
    glb_tile = np.empty(7, dtype=np.int64)
    out = np.empty(5)
    trips = np.empty((14, 2), dtype=np.int64)
    arr_tile = np.empty(7, dtype=np.int64)
    glb_scratch = np.empty(7, dtype=np.int64)
    idx = np.full(7, -1, dtype=np.int64)
    best = np.inf
    evaluated = 0
    d = 0
    while d >= 0:
        idx[d] += 1
        if idx[d] >= sizes[d]:
            idx[d] = -1
            for j in range(4):
                factors[d, j] = 1
            d -= 1
            continue
        for j in range(4):
            factors[d, j] = tables[d][idx[d], j]
        if not _fits(factors, stride, use_rf, n_pes, rf_words, glb_words, rf_tile, glb_tile):
            continue
        if d < 6:
            d += 1
            continue
        # Latency: temporal steps (every factor except the spatial one), one MAC per PE per step.
        steps = 1.0
        for e in range(7):
            steps *= factors[e, 0] * factors[e, 1] * factors[e, 3]
        for o in range(orders.shape[0]):
            _evaluate(factors, orders[o], stride, use_rf, costs, out, trips, arr_tile, glb_scratch)
            evaluated += 1
            score = out[4] if objective == 0 else steps + out[4] * 1e-12
            if score < best:
                best = score
                best_factors[:, :] = factors
                best_order[:] = orders[o]
                best_out[:] = out
    return evaluated


class SearchResult(NamedTuple):
    """Best mapping found and how many (mapping, order) pairs were evaluated."""

    mapping: Mapping
    accesses: Accesses
    latency_steps: int  # temporal steps: MACs / PEs used
    evaluated: int


def search_mapping(shape: ConvLayer, dataflow: str = "rs", arch: Architecture | None = None,
                   objective: str = "energy", orders: str = "all",
                   costs: dict | None = None) -> SearchResult:
    """Exhaustive (pruned) search over tilings and loop orders for the lowest energy (or latency).

    Every loop bound is split into exact divisors ``dram * glb * spatial * rf`` subject to the
    dataflow's constraints (:data:`DATAFLOWS`), the RF and GLB capacities (words of all three
    tensors' tiles) and the number of PEs; ``R`` and ``S`` are never split at DRAM and ``N`` only
    at DRAM. ``orders="all"`` tries every order of ``K, C, P, Q`` (``N`` outermost, ``R, S``
    innermost); ``"fixed"`` tries only ``N K C P Q R S``. ``costs`` as in :func:`evaluate_mapping`.

    Raises
    ------
    ValueError
        If no mapping fits the buffers (e.g. the RF cannot hold even one filter row).
    """
    if not isinstance(shape, ConvLayer):
        raise TypeError(f"shape must be a ConvLayer (use conv_shape() or aichip.layers), got "
                        f"{type(shape).__name__}")
    check_choice("dataflow", dataflow, tuple(DATAFLOWS))
    check_choice("objective", objective, ("energy", "latency"))
    check_choice("orders", orders, ("all", "fixed"))
    arch = arch or Architecture()
    cost_vec = _cost_vector(costs)
    rf_ok, sp_ok = DATAFLOWS[dataflow]
    bounds = loop_bounds(shape)
    tables = []
    for d, name in enumerate(DIMS):
        tables.append(_splits(int(bounds[d]), name in sp_ok, name in rf_ok,
                              name not in ("R", "S")))
        if name == "N":
            tables[-1] = tables[-1][tables[-1][:, 1] == 1]
    middle = (("K", "C", "P", "Q"),) if orders == "fixed" else itertools.permutations("KCPQ")
    order_list = [("N", *m, "R", "S") for m in middle]
    order_arr = np.array([[DIMS.index(x) for x in o] for o in order_list], dtype=np.int64)
    best_factors = np.zeros((7, 4), dtype=np.int64)
    best_order = np.zeros(7, dtype=np.int64)
    best_out = np.full(5, np.nan)
    evaluated = _search_kernel(*tables, order_arr, shape.stride, dataflow != "nlr",
                               cost_vec, arch.n_pes, arch.rf_words, arch.glb_words,
                               0 if objective == "energy" else 1, best_factors, best_order,
                               best_out)
    if np.isnan(best_out[0]):
        raise ValueError(f"no {dataflow!r} mapping of this layer fits: RF {arch.rf_words} words "
                         f"per PE, GLB {arch.glb_words} words, {arch.n_pes} PEs; "
                         "enlarge the buffers")
    mapping = Mapping(dataflow, best_factors.copy(), tuple(DIMS[i] for i in best_order))
    steps = int(np.prod(best_factors[:, [0, 1, 3]]))
    return SearchResult(mapping, _accesses(shape.macs, best_out, cost_vec), steps, int(evaluated))


def compare_dataflows(shape: ConvLayer, arch: Architecture | None = None,
                      dataflows=tuple(DATAFLOWS), orders: str = "all",
                      costs: dict | None = None) -> pd.DataFrame:
    """Best-mapping energy per level for each dataflow, per MAC (one row each).

    The search is deterministic, so each dataflow's row is kept for the next call with the same
    layer dimensions (not its name), ``arch``, ``orders`` and costs: a chapter compares the same
    layers in its tables, its exercises and its explorer (which draws a layer's table once per
    dataflow it highlights)."""
    if not isinstance(shape, ConvLayer):
        raise TypeError(f"shape must be a ConvLayer (use conv_shape() or aichip.layers), got "
                        f"{type(shape).__name__}")
    arch = arch or Architecture()
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be an Architecture, got {type(arch).__name__}")
    cost_key = tuple(float(c) for c in _cost_vector(costs))   # validated; None and its dict agree
    return pd.DataFrame([dict(_dataflow_row(tuple(shape)[1:], df, arch, orders, cost_key))
                         for df in dataflows])


@functools.lru_cache(maxsize=1024)
def _dataflow_row(dims: tuple, dataflow: str, arch: Architecture, orders: str,
                  cost_key: tuple) -> dict:
    """One row of :func:`compare_dataflows` (callers copy it: the cache keeps this one)."""
    shape = ConvLayer("", *dims)
    res = search_mapping(shape, dataflow, arch, orders=orders,
                         costs=dict(zip(COST_LEVELS, cost_key, strict=True)))
    e = res.accesses.energy
    return {"dataflow": dataflow, **{lvl: e[lvl] / shape.macs for lvl in e},
            "total": res.accesses.total_energy / shape.macs, "mapping": res.mapping.describe()}
