"""The alpha-beta-gamma cost model of collective operations, and bus bandwidth.

Sending a message of ``m`` bytes between two ranks costs ``alpha + m * beta`` seconds (latency plus
inverse bandwidth, Hockney's model); reducing ``m`` bytes costs ``m * gamma``. Every rank can send
one message and receive one message at the same time (full duplex), the assumption of Thakur,
Rabenseifner and Gropp (2005). With ``p`` ranks and a collective on ``n`` bytes, every algorithm's
time is the ``formula`` of its record (``aichip.collective_specs.algorithm_spec(op,
algorithm).formula``, computed by that record's ``cost``); :func:`formula_table` lists them all,
with their symbols (``L = log2 p``, ``S`` the rounds of a binary tree, ``T`` the steps of a
pipelined tree phase, ...).

``n`` is the whole vector a rank ends up with or starts from: the gathered result for allgather,
the vector being reduced for reduce_scatter, a rank's send buffer for alltoall (the nccl-tests
"size"). ``S(p)`` is the number of sending rounds of a heap-ordered binary tree in which a parent
sends to its left child and then to its right child: ``2 floor(log2 p)``, one fewer when the last
level holds a single left child (``p`` a power of two). The ring all-reduce is bandwidth-optimal
(Patarasuk and Yuan 2009); recursive doubling is latency-optimal; Rabenseifner's algorithm gets
both for powers of two. The double binary tree (Sanders, Speck and Traeff 2009) sends each half of
the vector up and down one of two trees in which no rank is an inner node twice; like the binary
tree it is modelled here unpipelined (the book's model, not one of Thakur et al.'s). The pipelined
tree cuts the vector into ``k`` chunks (the ``chunks`` parameter) that follow each other up the tree
``P`` steps apart (``P = 2``: an inner node takes one child's chunk per step; ``P = 1`` for two
ranks), so a phase takes ``T = S(p) + P(k-1)`` steps of ``n/k`` bytes instead of ``S(p)`` steps of
``n`` bytes.

In-network algorithms (``nvls``: NVLink SHARP, the NVSwitch adds and multicasts; ``ib_sharp``: the
InfiniBand switch does it across nodes) send each rank's vector to a reducing switch once and
receive the sum once; they need switch hardware, so :func:`usable_algorithms` and
:func:`best_algorithm` offer them only with ``in_network=True``. NCCL's protocols (LL, LL128,
Simple) are the same algorithm with another ``alpha`` and a share of the bandwidth:
:data:`PROTOCOLS`, :func:`protocol_cost`, :func:`best_protocol`, :func:`protocol_changes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import collective_specs as cs
from .collective_specs import binary_tree_rounds, formula_text
from .validation import check_choice, check_float, check_int

__all__ = ["ALGORITHMS", "DEFAULT_SIZES", "OPS", "PROTOCOLS", "Protocol", "best_algorithm",
           "best_algorithm_changes", "best_chunks", "best_protocol", "binary_tree_rounds",
           "bus_bandwidth", "check_op_algorithm", "compare_algorithms", "cost", "crossover_bytes",
           "equal_time_bytes", "fastest_table", "formula_table", "protocol_changes",
           "protocol_cost", "usable_algorithms"]


class _OpNames(Sequence):
    """The registered operations, in registration order (a live view of the registry)."""

    def __getitem__(self, i):
        return tuple(cs.OPERATIONS)[i]

    def __len__(self):
        return len(cs.OPERATIONS)

    def __repr__(self):
        return repr(tuple(cs.OPERATIONS))


class _AlgorithmNames(Mapping):
    """``op -> tuple of algorithm names`` (a live view of the registry)."""

    def __getitem__(self, op):
        return tuple(cs.REGISTRY[op])

    def __iter__(self):
        return iter(cs.REGISTRY)

    def __len__(self):
        return len(cs.REGISTRY)

    def __repr__(self):
        return repr(dict(self))


OPS = _OpNames()
ALGORITHMS = _AlgorithmNames()


def check_op_algorithm(op: str, algorithm: str, n_ranks: int,
                       **params) -> tuple[cs.AlgorithmSpec, int, dict]:
    """Validate an (op, algorithm, rank count, extra parameters) combination; say why one is
    refused. Returns the algorithm's record, ``n_ranks`` and the parameters with defaults."""
    spec = cs.algorithm_spec(op, algorithm)
    n_ranks = check_int("n_ranks", n_ranks, minimum=1)
    return spec, n_ranks, cs.check_params(spec, n_ranks, params)


def cost(op: str, algorithm: str, n_ranks: int, msg_bytes: float, alpha_s: float,
         beta_s_per_byte: float, gamma_s_per_byte: float = 0.0, **params) -> float:
    """Closed-form time (seconds) of collective ``op`` with ``algorithm``: its record's ``cost``
    (the formula is the record's ``formula``; :func:`formula_table` lists them).

    Parameters
    ----------
    op : one of :data:`OPS`
    algorithm : one of ``ALGORITHMS[op]``
    n_ranks : int >= 1 (a power of two for recursive doubling/halving and Rabenseifner, even for
        the double binary tree)
    msg_bytes : float > 0, the ``n`` of the formulas
    alpha_s, beta_s_per_byte, gamma_s_per_byte : float >= 0
        latency per message, time per byte sent, time per byte reduced
    **params : the algorithm's extra parameters: ``ranks_per_node`` (hierarchical, must divide
        ``n_ranks``), ``chunks`` (pipelined_tree, default 8)
    """
    spec, p, params = check_op_algorithm(op, algorithm, n_ranks, **params)
    n = check_float("msg_bytes", msg_bytes, minimum=0, strict_minimum=True)
    a = check_float("alpha_s", alpha_s, minimum=0)
    b = check_float("beta_s_per_byte", beta_s_per_byte, minimum=0)
    c = check_float("gamma_s_per_byte", gamma_s_per_byte, minimum=0)
    return float(spec.cost(p, n, a, b, c, **params))


def bus_bandwidth(op: str, algbw_GBps: float, n_ranks: int) -> float:
    """Bus bandwidth as nccl-tests reports it: ``algbw`` times the op's factor.

    ``algbw = size / time``; the factor (``2(p-1)/p`` for all-reduce, ``(p-1)/p`` for all-gather,
    reduce-scatter and all-to-all, 1 for broadcast and reduce) makes the figure comparable with
    the hardware's link bandwidth whatever the rank count.
    """
    spec = cs.op_spec(op)
    algbw = check_float("algbw_GBps", algbw_GBps, minimum=0)
    p = check_int("n_ranks", n_ranks, minimum=1)
    return algbw * spec.bus_factor(p)


def crossover_bytes(op: str, algo_a: str, algo_b: str, n_ranks: int, alpha_s: float,
                    beta_s_per_byte: float, gamma_s_per_byte: float = 0.0,
                    lo_bytes: float = 1.0, hi_bytes: float = 2.0**40, params_a: dict | None = None,
                    params_b: dict | None = None) -> float | None:
    """Message size at which ``algo_a`` and ``algo_b`` take equal time (bisection on a log scale);
    ``None`` when one is faster over the whole range ``[lo_bytes, hi_bytes]``. ``params_a`` and
    ``params_b`` are the algorithms' extra parameters."""
    lo = check_float("lo_bytes", lo_bytes, minimum=0, strict_minimum=True)
    hi = check_float("hi_bytes", hi_bytes, minimum=lo, strict_minimum=True)
    pa, pb = params_a or {}, params_b or {}

    def diff(n):
        return (cost(op, algo_a, n_ranks, n, alpha_s, beta_s_per_byte, gamma_s_per_byte, **pa)
                - cost(op, algo_b, n_ranks, n, alpha_s, beta_s_per_byte, gamma_s_per_byte, **pb))

    return equal_time_bytes(diff, lo, hi)


def equal_time_bytes(diff, lo: float, hi: float) -> float | None:
    """The size in ``[lo, hi]`` where ``diff(n)`` (one time minus another) changes sign, by
    bisection on a log scale; ``None`` when it keeps its sign over the whole range."""
    d_lo, d_hi = diff(lo), diff(hi)
    if d_lo == 0:
        return lo
    if d_lo * d_hi > 0:
        return None
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if diff(mid) * d_lo > 0:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1 + 1e-12:
            break
    return math.sqrt(lo * hi)


def usable_algorithms(op: str, n_ranks: int, *, in_network: bool = False, **params) -> dict:
    """Algorithms of ``op`` that accept ``n_ranks``, each with the extra parameters it takes
    (picked from ``params``, e.g. ``ranks_per_node=4``, ``chunks=16``; an algorithm that needs a
    parameter not given, or refuses the one given, is left out). In-network algorithms (NVLink
    SHARP, InfiniBand SHARP) need reducing switches, so they are offered only with
    ``in_network=True``."""
    spec_op = cs.op_spec(op)
    n_ranks = check_int("n_ranks", n_ranks, minimum=1)
    if not isinstance(in_network, bool):
        raise TypeError(f"in_network must be True or False, got {in_network!r}")
    out = {}
    for name, spec in cs.REGISTRY[spec_op.name].items():
        if spec.in_network and not in_network:
            continue
        mine = {q.name: params[q.name] for q in spec.params if q.name in params}
        try:
            out[name] = cs.check_params(spec, n_ranks, mine)
        except ValueError:
            continue
    return out


def best_algorithm(op: str, n_ranks: int, msg_bytes, alpha_s: float, beta_s_per_byte: float,
                   gamma_s_per_byte: float = 0.0, *, in_network: bool = False,
                   **params) -> np.ndarray:
    """Name of the fastest usable algorithm (closed form) for each size in ``msg_bytes``
    (in-network ones included with ``in_network=True``)."""
    algs = usable_algorithms(op, n_ranks, in_network=in_network, **params)
    sizes = np.atleast_1d(np.asarray(msg_bytes, dtype=float))
    names = list(algs)
    times = np.array([[cost(op, a, n_ranks, n, alpha_s, beta_s_per_byte, gamma_s_per_byte,
                            **algs[a]) for n in sizes] for a in names])
    return np.array(names, dtype=object)[np.argmin(times, axis=0)]


#: default message sizes (bytes) of :func:`best_algorithm_changes` and :func:`protocol_changes`,
#: and of chapter 9's cost plots: 1 B to 2 GiB, three per octave (94 sizes)
DEFAULT_SIZES = 2.0 ** (np.arange(3 * 31 + 1) / 3)


def best_algorithm_changes(op: str, n_ranks: int, alpha_s: float, beta_s_per_byte: float,
                           gamma_s_per_byte: float = 0.0, sizes=None, *, in_network: bool = False,
                           **params) -> list[tuple[float, str, str]]:
    """Message sizes where the fastest algorithm changes: ``(bytes, fastest before, fastest
    after)``, each size found by bisection between two neighbouring ``sizes`` whose fastest
    algorithms differ. The default sizes, :data:`DEFAULT_SIZES`, run from 1 B to 2 GiB at three
    per octave: a change that reverts within a third of an octave is not seen."""
    sizes = DEFAULT_SIZES if sizes is None else np.asarray(sizes, dtype=float)
    algs = usable_algorithms(op, n_ranks, in_network=in_network, **params)
    best = best_algorithm(op, n_ranks, sizes, alpha_s, beta_s_per_byte, gamma_s_per_byte,
                          in_network=in_network, **params)
    changes = []
    for k in range(1, len(sizes)):
        if best[k] != best[k - 1]:
            x = crossover_bytes(op, best[k - 1], best[k], n_ranks, alpha_s, beta_s_per_byte,
                                gamma_s_per_byte, sizes[k - 1], sizes[k],
                                algs[best[k - 1]], algs[best[k]])
            changes.append((float(sizes[k]) if x is None else x, best[k - 1], best[k]))
    return changes


def best_chunks(op: str, n_ranks: int, msg_bytes: float, alpha_s: float, beta_s_per_byte: float,
                gamma_s_per_byte: float = 0.0, max_chunks: int = 4096,
                algorithm: str = "pipelined_tree") -> int:
    """The chunk count ``k`` in ``1..max_chunks`` that minimises the closed-form time of a
    chunked algorithm (a pipelined tree: more chunks shorten the pipeline's fill, each chunk costs
    one more ``alpha``)."""
    max_chunks = check_int("max_chunks", max_chunks, minimum=1)
    times = [cost(op, algorithm, n_ranks, msg_bytes, alpha_s, beta_s_per_byte, gamma_s_per_byte,
                  chunks=k) for k in range(1, max_chunks + 1)]
    return int(np.argmin(times)) + 1


def compare_algorithms(op: str, algorithms, ranks, sizes, alpha_s: float, beta_s_per_byte: float,
                       gamma_s_per_byte: float = 0.0, max_chunks: int = 1024) -> list[dict]:
    """Closed-form time of each algorithm for every rank count and message size: one row
    ``{"n_ranks", "msg_bytes", "algorithm", "time_s", "chunks"}`` per combination. An algorithm
    that takes ``chunks`` (the pipelined trees) runs with its best chunk count
    (:func:`best_chunks`, at most ``max_chunks``, default 1024); ``chunks`` is None for the
    others."""
    rows = []
    for p in ranks:
        for n in sizes:
            for alg in algorithms:
                spec, p, _ = check_op_algorithm(op, alg, p)
                chunked = any(q.name == "chunks" for q in spec.params)
                k = (best_chunks(op, p, n, alpha_s, beta_s_per_byte, gamma_s_per_byte,
                                 max_chunks, alg) if chunked else None)
                kw = {"chunks": k} if chunked else {}
                rows.append({"n_ranks": p, "msg_bytes": n, "algorithm": alg, "chunks": k,
                             "time_s": cost(op, alg, p, n, alpha_s, beta_s_per_byte,
                                            gamma_s_per_byte, **kw)})
    return rows


def fastest_table(op: str, algorithms, ranks, sizes, alpha_s: float, beta_s_per_byte: float,
                  gamma_s_per_byte: float = 0.0, max_chunks: int = 1024):
    """:func:`compare_algorithms` as a table: one row per (n_ranks, msg_bytes), one column of
    times (seconds) per algorithm in the order given, and ``fastest``, the name of the quickest
    (the first listed wins a tie); ``attrs["chunks"]`` holds the chunk counts of the chunked
    algorithms (at most ``max_chunks``, default 1024). Returns a pandas DataFrame."""
    import pandas as pd

    algorithms = list(algorithms)
    rows = pd.DataFrame(compare_algorithms(op, algorithms, ranks, sizes, alpha_s, beta_s_per_byte,
                                           gamma_s_per_byte, max_chunks))
    wide = rows.pivot_table(index=["n_ranks", "msg_bytes"], columns="algorithm",
                            values="time_s")[algorithms]
    wide["fastest"] = wide.idxmin(axis=1)
    chunks = rows.dropna(subset=["chunks"]).pivot_table(
        index=["n_ranks", "msg_bytes"], columns="algorithm", values="chunks")
    wide.attrs["chunks"] = chunks.astype(int)
    return wide


def formula_table() -> str:
    """Every registered algorithm's closed form as a plain-text table (op, algorithm, time), read
    from the records' ``formula``, followed by what each symbol stands for."""
    rows = [("op", "algorithm", "time")] + [
        (op, name, formula_text(spec.formula))
        for op, algs in cs.REGISTRY.items() for name, spec in algs.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {t}" for a, b, t in rows]
    rule = "-" * max(len(line) for line in lines)
    legend = [f"{name:>5} = {meaning}" for name, meaning in cs.SYMBOLS.items()]
    return "\n".join([lines[0], rule, *lines[1:], rule, *legend])


# ----------------------------------------------------------------------------------------------
# NCCL's protocols: the same algorithm run with a different alpha and a different share of the
# link's bandwidth


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """One of NCCL's three ways of moving a buffer between two GPUs.

    Attributes
    ----------
    name : str
    base_latency_s : float, seconds once per collective (launch, setup): NCCL's ``baseLat``
    hop_latency_s : float, seconds per step over NVLink (the model's ``alpha``): NCCL's
        ``hwLat[NVLINK]``
    efficiency : float in (0, 1], the share of every transferred byte that is payload; the
        bandwidth term is divided by it
    how : str, what each store carries
    """

    name: str
    base_latency_s: float
    hop_latency_s: float
    efficiency: float
    how: str


#: NCCL's protocols for the ring algorithm over NVLink. Latencies: the ``baseLat`` and
#: ``hwLat[NVLINK]`` ring rows of NCCL's tuning model (src/graph/tuning.cc as of the releases that
#: added NVLS, microseconds; the tables change between releases). Payload shares: the protocols'
#: formats (Hu et al. 2025): LL stores 8 bytes, 4 of data and a 4-byte flag; LL128 stores 128-byte
#: lines, 120 of data and an 8-byte flag; Simple moves plain data and synchronises with memory
#: fences once per chunk.
PROTOCOLS = {
    "LL": Protocol(name="LL", base_latency_s=6.6e-6, hop_latency_s=0.6e-6, efficiency=4 / 8,
                   how="8-byte stores: 4 bytes of data, a 4-byte flag"),
    "LL128": Protocol(name="LL128", base_latency_s=14.0e-6, hop_latency_s=1.9e-6,
                      efficiency=120 / 128,
                      how="128-byte lines: 120 bytes of data, an 8-byte flag"),
    "Simple": Protocol(name="Simple", base_latency_s=8.4e-6, hop_latency_s=3.4e-6,
                       efficiency=1.0, how="plain data, a memory fence and flag per chunk"),
}


def protocol_cost(op: str, algorithm: str, n_ranks: int, msg_bytes: float, link_GBps: float,
                  protocol: str, gamma_s_per_byte: float = 0.0, **params) -> float:
    """Time (seconds) of ``op`` with ``algorithm`` run with one of NCCL's :data:`PROTOCOLS`:
    ``base_latency_s`` plus :func:`cost` with ``alpha = hop_latency_s`` and
    ``beta = 1 / (efficiency * link_GBps)``, the form of NCCL's own estimate (a latency plus the
    size over a bandwidth).

    Parameters
    ----------
    link_GBps : float > 0, the link's bandwidth per direction that Simple reaches (GB/s)
    protocol : "LL", "LL128" or "Simple"
    The others as :func:`cost`.
    """
    check_choice("protocol", protocol, tuple(PROTOCOLS))
    bw = check_float("link_GBps", link_GBps, minimum=0, strict_minimum=True)
    pr = PROTOCOLS[protocol]
    return pr.base_latency_s + cost(op, algorithm, n_ranks, msg_bytes, pr.hop_latency_s,
                                    1 / (pr.efficiency * bw * 1e9), gamma_s_per_byte, **params)


def best_protocol(op: str, algorithm: str, n_ranks: int, msg_bytes, link_GBps: float,
                  gamma_s_per_byte: float = 0.0, **params) -> np.ndarray:
    """The fastest protocol (:func:`protocol_cost`) for each size in ``msg_bytes``, as NCCL's
    tuner picks one per call (the first of LL, LL128, Simple wins a tie)."""
    sizes = np.atleast_1d(np.asarray(msg_bytes, dtype=float))
    names = list(PROTOCOLS)
    times = np.array([[protocol_cost(op, algorithm, n_ranks, n, link_GBps, pr, gamma_s_per_byte,
                                     **params) for n in sizes] for pr in names])
    return np.array(names, dtype=object)[np.argmin(times, axis=0)]


def protocol_changes(op: str, algorithm: str, n_ranks: int, link_GBps: float,
                     gamma_s_per_byte: float = 0.0, sizes=None,
                     **params) -> list[tuple[float, str, str]]:
    """Message sizes where the fastest protocol changes: ``(bytes, fastest before, fastest
    after)``, each found by bisection (default sizes :data:`DEFAULT_SIZES`, 1 B .. 2 GiB)."""
    sizes = DEFAULT_SIZES if sizes is None else np.asarray(sizes, dtype=float)
    best = best_protocol(op, algorithm, n_ranks, sizes, link_GBps, gamma_s_per_byte, **params)
    changes = []
    for k in range(1, len(sizes)):
        if best[k] != best[k - 1]:
            def diff(n, a=best[k - 1], b=best[k]):
                return (protocol_cost(op, algorithm, n_ranks, n, link_GBps, a, gamma_s_per_byte,
                                      **params)
                        - protocol_cost(op, algorithm, n_ranks, n, link_GBps, b,
                                        gamma_s_per_byte, **params))
            x = equal_time_bytes(diff, sizes[k - 1], sizes[k])
            changes.append((float(sizes[k]) if x is None else x, best[k - 1], best[k]))
    return changes
