"""Closed-form costs of the algorithms in the alpha-beta-gamma model, one named function each.

A cost function takes ``(p, n, alpha, beta, gamma)`` (ranks; bytes, the nccl-tests "size";
seconds per message, per byte sent, per byte reduced), then the algorithm's extra parameters by
name, and returns seconds. Its formula is written once more, as the ``formula`` of the algorithm's
record (:mod:`.algorithms`): a Python expression in the symbols of :data:`SYMBOLS` that
:func:`formula_text` renders for tables and that the tests evaluate against the function and
against the executed schedule. The functions' docstrings therefore do not repeat it.
"""

from __future__ import annotations

import math
import re

from ..validation import check_int
from .schedules import tree_pipeline_period

__all__ = ["SYMBOLS", "allgather_recursive_doubling_cost", "allgather_ring_cost",
           "allreduce_binary_tree_cost", "allreduce_double_binary_tree_cost",
           "allreduce_hierarchical_cost", "allreduce_ib_sharp_cost", "allreduce_nvls_cost",
           "allreduce_pipelined_double_binary_tree_cost",
           "allreduce_pipelined_tree_cost", "allreduce_recursive_doubling_cost",
           "allreduce_ring_cost", "alltoall_pairwise_cost", "binary_tree_rounds",
           "broadcast_binary_tree_cost", "broadcast_binomial_tree_cost",
           "broadcast_pipelined_tree_cost", "ceil_log2", "formula_text", "rabenseifner_cost",
           "reduce_binary_tree_cost", "reduce_binomial_tree_cost", "reduce_pipelined_tree_cost",
           "reduce_scatter_recursive_halving_cost", "reduce_scatter_ring_cost",
           "tree_phase_steps"]

#: The names a record's ``formula`` may use, and what each stands for.
SYMBOLS = {
    "p": "ranks",
    "n": "bytes: the vector a rank ends up with or starts from (the nccl-tests size)",
    "alpha": "seconds per message",
    "beta": "seconds per byte sent",
    "gamma": "seconds per byte reduced",
    "k": "chunks the vector is cut into (the pipelined trees' `chunks`)",
    "g": "ranks per node (the hierarchical algorithm's `ranks_per_node`)",
    "m": "nodes, p/g",
    "L": "log2 p",
    "C": "ceil(log2 p)",
    "S": "sending rounds of a heap-ordered binary tree, binary_tree_rounds(p)",
    "P": "steps between chunks entering a pipelined tree, tree_pipeline_period(p)",
    "T": "steps of one pipelined tree phase, S + P(k-1) (0 for p = 1)",
}


def formula_text(formula: str) -> str:
    """A record's ``formula`` as a table shows it: a leading number and what it multiplies
    written together (``2*L`` as ``2L``, but ``n/2*beta`` as ``n/2 beta``), every other product
    as a space (``L*alpha`` as ``L alpha``)."""
    joined = re.sub(r"(^|[\s(+-])(\d+)\*(?=[A-Za-z(])", r"\1\2", formula)
    return joined.replace("*", " ")


# ----------------------------------------------------------------------------------------------
# the symbols


def ceil_log2(p: int) -> int:
    """``C``: rounds of a binomial tree on ``p`` ranks."""
    return (p - 1).bit_length()


def binary_tree_rounds(n_ranks: int) -> int:
    """``S(p)``: sending rounds of a heap-ordered binary tree, left child first then right."""
    p = check_int("n_ranks", n_ranks, minimum=1)
    if p == 1:
        return 0
    depth = p.bit_length() - 1          # floor(log2 p)
    return 2 * depth if p > 2 ** depth else 2 * depth - 1


def tree_phase_steps(p: int, chunks: int) -> int:
    """``T``: steps of one pipelined tree phase, the first chunk's rounds then one period per
    further chunk."""
    return binary_tree_rounds(p) + tree_pipeline_period(p) * (chunks - 1) if p > 1 else 0


# ----------------------------------------------------------------------------------------------
# one function per algorithm (two records share rabenseifner_cost)


def broadcast_binomial_tree_cost(p, n, alpha, beta, gamma):
    return ceil_log2(p) * (alpha + n * beta)


def broadcast_binary_tree_cost(p, n, alpha, beta, gamma):
    return binary_tree_rounds(p) * (alpha + n * beta)


def broadcast_pipelined_tree_cost(p, n, alpha, beta, gamma, chunks):
    return tree_phase_steps(p, chunks) * (alpha + n / chunks * beta)


def reduce_binomial_tree_cost(p, n, alpha, beta, gamma):
    return ceil_log2(p) * (alpha + n * beta + n * gamma)


def reduce_binary_tree_cost(p, n, alpha, beta, gamma):
    return binary_tree_rounds(p) * (alpha + n * beta + n * gamma)


def reduce_pipelined_tree_cost(p, n, alpha, beta, gamma, chunks):
    return tree_phase_steps(p, chunks) * (alpha + n / chunks * (beta + gamma))


def rabenseifner_cost(p, n, alpha, beta, gamma):
    """Reduce and all-reduce: recursive halving, then a gather (reduce) or recursive doubling."""
    share = (p - 1) / p
    return 2 * math.log2(p) * alpha + 2 * share * n * beta + share * n * gamma


def allgather_ring_cost(p, n, alpha, beta, gamma):
    return (p - 1) * alpha + (p - 1) / p * n * beta


def allgather_recursive_doubling_cost(p, n, alpha, beta, gamma):
    return math.log2(p) * alpha + (p - 1) / p * n * beta


def reduce_scatter_ring_cost(p, n, alpha, beta, gamma):
    return (p - 1) * alpha + (p - 1) / p * n * (beta + gamma)


def reduce_scatter_recursive_halving_cost(p, n, alpha, beta, gamma):
    return math.log2(p) * alpha + (p - 1) / p * n * (beta + gamma)


def allreduce_ring_cost(p, n, alpha, beta, gamma):
    share = (p - 1) / p
    return 2 * (p - 1) * alpha + 2 * share * n * beta + share * n * gamma


def allreduce_recursive_doubling_cost(p, n, alpha, beta, gamma):
    return math.log2(p) * (alpha + n * beta + n * gamma)


def allreduce_binary_tree_cost(p, n, alpha, beta, gamma):
    rounds = binary_tree_rounds(p)
    return 2 * rounds * (alpha + n * beta) + rounds * n * gamma


def allreduce_double_binary_tree_cost(p, n, alpha, beta, gamma):
    """Each tree carries half the vector, both at once."""
    return allreduce_binary_tree_cost(p, n / 2, alpha, beta, gamma)


def allreduce_pipelined_tree_cost(p, n, alpha, beta, gamma, chunks):
    steps = tree_phase_steps(p, chunks)
    return 2 * steps * (alpha + n / chunks * beta) + steps * n / chunks * gamma


def allreduce_pipelined_double_binary_tree_cost(p, n, alpha, beta, gamma, chunks):
    """Each tree carries half the vector, both at once."""
    return allreduce_pipelined_tree_cost(p, n / 2, alpha, beta, gamma, chunks)


def allreduce_hierarchical_cost(p, n, alpha, beta, gamma, ranks_per_node):
    """A ring all-reduce inside each node of ``g`` ranks on the whole vector, plus one across the
    ``m`` nodes on each rank's ``1/g`` of it."""
    g = ranks_per_node
    m = p // g
    inside = 2 * (g - 1) * alpha + 2 * (g - 1) / g * n * beta + (g - 1) / g * n * gamma
    across = 2 * (m - 1) * (alpha + n / p * beta) + (m - 1) * n / p * gamma
    return inside + across


def allreduce_nvls_cost(p, n, alpha, beta, gamma, chunks):
    """In the switch: ``k + 1`` steps of ``n/k`` bytes each way (a piece goes up while the one
    before comes down); the switch adds each piece as a rank adds a message, ``gamma`` per byte
    of the result. Independent of ``p``: the switch's ports work in parallel."""
    return (chunks + 1) * (alpha + n / chunks * beta) + n * gamma


def allreduce_ib_sharp_cost(p, n, alpha, beta, gamma, ranks_per_node):
    """A ring reduce-scatter and all-gather inside each node of ``g`` ranks, and between them one
    trip up to the switch and one down on each rank's ``n/g`` bytes, whatever the node count."""
    g = ranks_per_node
    inside = 2 * (g - 1) * alpha + 2 * (g - 1) / g * n * beta + (g - 1) / g * n * gamma
    return inside + 2 * (alpha + n / g * beta) + n / g * gamma


def alltoall_pairwise_cost(p, n, alpha, beta, gamma):
    return (p - 1) * (alpha + n / p * beta)
