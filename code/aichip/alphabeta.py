"""The alpha-beta-gamma cost model of collective operations, and bus bandwidth.

Sending a message of ``m`` bytes between two ranks costs ``alpha + m * beta`` seconds (latency plus
inverse bandwidth, Hockney's model); reducing ``m`` bytes costs ``m * gamma``. Every rank can send
one message and receive one message at the same time (full duplex), the assumption of Thakur,
Rabenseifner and Gropp (2005). With ``p`` ranks and a collective on ``n`` bytes, the classic
algorithms cost (``L = log2 p``, ``C = ceil(log2 p)``):

===============  ==================  ============================================================
op               algorithm           time
===============  ==================  ============================================================
broadcast        binomial_tree       ``C (alpha + n beta)``
broadcast        binary_tree         ``S(p) (alpha + n beta)``
reduce           binomial_tree       ``C (alpha + n beta + n gamma)``
reduce           binary_tree         ``S(p) (alpha + n beta + n gamma)``
reduce           rabenseifner        ``2 L alpha + 2 (p-1)/p n beta + (p-1)/p n gamma``
allgather        ring                ``(p-1) alpha + (p-1)/p n beta``
allgather        recursive_doubling  ``L alpha + (p-1)/p n beta``
reduce_scatter   ring                ``(p-1) alpha + (p-1)/p n (beta + gamma)``
reduce_scatter   recursive_halving   ``L alpha + (p-1)/p n (beta + gamma)``
allreduce        ring                ``2 (p-1) alpha + 2 (p-1)/p n beta + (p-1)/p n gamma``
allreduce        recursive_doubling  ``L (alpha + n beta + n gamma)``
allreduce        rabenseifner        ``2 L alpha + 2 (p-1)/p n beta + (p-1)/p n gamma``
allreduce        binary_tree         ``2 S(p) (alpha + n beta) + S(p) n gamma``
allreduce        double_binary_tree  ``2 S(p) (alpha + n/2 beta) + S(p) n/2 gamma``
allreduce        hierarchical        ring inside nodes of ``g`` ranks, ring across ``p/g`` nodes
alltoall         pairwise            ``(p-1) (alpha + n/p beta)``
===============  ==================  ============================================================

``n`` is the whole vector a rank ends up with or starts from: the gathered result for allgather,
the vector being reduced for reduce_scatter, a rank's send buffer for alltoall (the nccl-tests
"size"). ``S(p)`` is the number of sending rounds of a heap-ordered binary tree in which a parent
sends to its left child and then to its right child: ``2 floor(log2 p)``, one fewer when the last
level holds a single left child (``p`` a power of two). The ring all-reduce is bandwidth-optimal
(Patarasuk and Yuan 2009); recursive doubling is latency-optimal; Rabenseifner's algorithm gets
both for powers of two. The double binary tree (Sanders, Speck and Traeff 2009) sends each half of
the vector up and down one of two trees in which no rank is an inner node twice.
"""

from __future__ import annotations

import math

from .validation import check_choice, check_float, check_int

OPS = ("broadcast", "reduce", "allgather", "reduce_scatter", "allreduce", "alltoall")

ALGORITHMS = {
    "broadcast": ("binomial_tree", "binary_tree"),
    "reduce": ("binomial_tree", "binary_tree", "rabenseifner"),
    "allgather": ("ring", "recursive_doubling"),
    "reduce_scatter": ("ring", "recursive_halving"),
    "allreduce": ("ring", "recursive_doubling", "rabenseifner", "binary_tree",
                  "double_binary_tree", "hierarchical"),
    "alltoall": ("pairwise",),
}

#: algorithms whose step structure needs a power-of-two rank count (no remainder handling here)
POWER_OF_TWO = {"recursive_doubling", "recursive_halving", "rabenseifner"}

#: nccl-tests' bus-bandwidth factors: busbw = algbw * factor(n_ranks)
_BUS_FACTOR = {
    "allreduce": lambda p: 2 * (p - 1) / p,
    "allgather": lambda p: (p - 1) / p,
    "reduce_scatter": lambda p: (p - 1) / p,
    "alltoall": lambda p: (p - 1) / p,
    "broadcast": lambda p: 1.0,
    "reduce": lambda p: 1.0,
}


def check_op_algorithm(op: str, algorithm: str, n_ranks: int,
                       ranks_per_node: int | None = None) -> tuple[str, str, int]:
    """Validate an (op, algorithm, rank count) triple; say why a rank count is refused."""
    check_choice("op", op, OPS)
    check_choice("algorithm", algorithm, ALGORITHMS[op])
    n_ranks = check_int("n_ranks", n_ranks, minimum=1)
    if algorithm in POWER_OF_TWO and n_ranks & (n_ranks - 1):
        raise ValueError(f"{algorithm} {op} needs a power-of-two n_ranks (it pairs rank r with "
                         f"r XOR 2^k), got {n_ranks}; use ring or a tree for other counts")
    if algorithm == "double_binary_tree" and n_ranks % 2:
        raise ValueError(f"double_binary_tree needs an even n_ranks (its second tree mirrors the "
                         f"first, rank p-1-i; for odd p ranks collide), got {n_ranks}")
    if algorithm == "hierarchical":
        if ranks_per_node is None:
            raise ValueError("hierarchical needs ranks_per_node (ranks in one node)")
        g = check_int("ranks_per_node", ranks_per_node, minimum=1, maximum=n_ranks)
        if n_ranks % g:
            raise ValueError(f"hierarchical needs ranks_per_node to divide n_ranks, got "
                             f"{n_ranks} ranks and {g} per node")
    elif ranks_per_node is not None:
        raise ValueError(f"ranks_per_node applies only to the hierarchical algorithm, not {algorithm}")
    return op, algorithm, n_ranks


def binary_tree_rounds(n_ranks: int) -> int:
    """``S(p)``: sending rounds of a heap-ordered binary tree, left child first then right."""
    p = check_int("n_ranks", n_ranks, minimum=1)
    if p == 1:
        return 0
    depth = p.bit_length() - 1          # floor(log2 p)
    return 2 * depth if p > 2 ** depth else 2 * depth - 1


def cost(op: str, algorithm: str, n_ranks: int, msg_bytes: float, alpha_s: float,
         beta_s_per_byte: float, gamma_s_per_byte: float = 0.0,
         ranks_per_node: int | None = None) -> float:
    """Closed-form time (seconds) of collective ``op`` with ``algorithm`` (see the module table).

    Parameters
    ----------
    op : one of :data:`OPS`
    algorithm : one of ``ALGORITHMS[op]``
    n_ranks : int >= 1 (a power of two for recursive doubling/halving and Rabenseifner)
    msg_bytes : float > 0, the ``n`` of the table
    alpha_s, beta_s_per_byte, gamma_s_per_byte : float >= 0
        latency per message, time per byte sent, time per byte reduced
    ranks_per_node : int, only for ``hierarchical`` (must divide ``n_ranks``)
    """
    op, algorithm, p = check_op_algorithm(op, algorithm, n_ranks, ranks_per_node)
    n = check_float("msg_bytes", msg_bytes, minimum=0, strict_minimum=True)
    a = check_float("alpha_s", alpha_s, minimum=0)
    b = check_float("beta_s_per_byte", beta_s_per_byte, minimum=0)
    c = check_float("gamma_s_per_byte", gamma_s_per_byte, minimum=0)
    L = math.log2(p)
    C = math.ceil(L - 1e-12)
    S = binary_tree_rounds(p)
    f = (p - 1) / p
    if algorithm == "binomial_tree":
        return C * (a + n * b + (n * c if op == "reduce" else 0.0))
    if algorithm == "binary_tree":
        if op == "broadcast":
            return S * (a + n * b)
        if op == "reduce":
            return S * (a + n * b + n * c)
        return 2 * S * (a + n * b) + S * n * c
    if algorithm == "double_binary_tree":
        return 2 * S * (a + n / 2 * b) + S * n / 2 * c
    if algorithm == "rabenseifner":
        return 2 * L * a + 2 * f * n * b + f * n * c
    if algorithm == "recursive_doubling":
        if op == "allgather":
            return L * a + f * n * b
        return L * (a + n * b + n * c)
    if algorithm == "recursive_halving":
        return L * a + f * n * (b + c)
    if algorithm == "pairwise":
        return (p - 1) * (a + n / p * b)
    if algorithm == "hierarchical":
        g = ranks_per_node
        m = p // g
        intra = 2 * (g - 1) * a + 2 * (g - 1) / g * n * b + (g - 1) / g * n * c
        inter = 2 * (m - 1) * (a + n / p * b) + (m - 1) * n / p * c
        return intra + inter
    # ring
    if op == "allgather":
        return (p - 1) * a + f * n * b
    if op == "reduce_scatter":
        return (p - 1) * a + f * n * (b + c)
    return 2 * (p - 1) * a + 2 * f * n * b + f * n * c


def bus_bandwidth(op: str, algbw_GBps: float, n_ranks: int) -> float:
    """Bus bandwidth as nccl-tests reports it: ``algbw`` times the op's factor.

    ``algbw = size / time``; the factor (``2(p-1)/p`` for all-reduce, ``(p-1)/p`` for all-gather,
    reduce-scatter and all-to-all, 1 for broadcast and reduce) makes the figure comparable with
    the hardware's link bandwidth whatever the rank count.
    """
    check_choice("op", op, OPS)
    algbw = check_float("algbw_GBps", algbw_GBps, minimum=0)
    p = check_int("n_ranks", n_ranks, minimum=1)
    return algbw * _BUS_FACTOR[op](p)


def crossover_bytes(op: str, algo_a: str, algo_b: str, n_ranks: int, alpha_s: float,
                    beta_s_per_byte: float, gamma_s_per_byte: float = 0.0,
                    lo_bytes: float = 1.0, hi_bytes: float = 2.0**40) -> float | None:
    """Message size at which ``algo_a`` and ``algo_b`` take equal time (bisection on a log scale);
    ``None`` when one is faster over the whole range ``[lo_bytes, hi_bytes]``."""
    lo = check_float("lo_bytes", lo_bytes, minimum=0, strict_minimum=True)
    hi = check_float("hi_bytes", hi_bytes, minimum=lo, strict_minimum=True)

    def diff(n):
        return (cost(op, algo_a, n_ranks, n, alpha_s, beta_s_per_byte, gamma_s_per_byte)
                - cost(op, algo_b, n_ranks, n, alpha_s, beta_s_per_byte, gamma_s_per_byte))

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
