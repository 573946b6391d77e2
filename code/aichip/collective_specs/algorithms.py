"""The algorithms: one :class:`~aichip.collective_specs.records.AlgorithmSpec` per (operation,
algorithm), its builder from :mod:`.schedules`, its cost from :mod:`.costs` and that cost's
formula (symbols in :data:`.costs.SYMBOLS`), and the rank counts and parameters it accepts."""

from __future__ import annotations

from . import costs as c
from . import operations  # noqa: F401  (registers the operations these algorithms belong to)
from . import schedules as s
from .records import AlgorithmSpec, Param, register_algorithm

__all__ = ["CHUNKS", "RANKS_PER_NODE", "even", "power_of_two", "ranks_per_node_divides"]


def power_of_two(p: int) -> str | None:
    return None if p & (p - 1) == 0 else ("needs a power-of-two n_ranks (it pairs rank r with "
                                          "r XOR 2^k); use ring or a tree for other counts")


def even(p: int) -> str | None:
    return None if p % 2 == 0 else ("needs an even n_ranks (its second tree mirrors the first, "
                                    "rank p-1-i; for odd p ranks collide)")


def ranks_per_node_divides(p: int, g: int) -> str | None:
    return None if g <= p and p % g == 0 else "must divide n_ranks"


CHUNKS = Param(name="chunks", default=8,
               description="pieces the vector is cut into for the pipeline (<= count)")
RANKS_PER_NODE = Param(name="ranks_per_node", description="ranks in one node",
                       rule=ranks_per_node_divides)

_CVAR = {"broadcast": "MPIR_CVAR_BCAST_INTRA_ALGORITHM",
         "reduce": "MPIR_CVAR_REDUCE_INTRA_ALGORITHM",
         "allgather": "MPIR_CVAR_ALLGATHER_INTRA_ALGORITHM",
         "reduce_scatter": "MPIR_CVAR_REDUCE_SCATTER_BLOCK_INTRA_ALGORITHM",
         "allreduce": "MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM",
         "alltoall": "MPIR_CVAR_ALLTOALL_INTRA_ALGORITHM"}
_RABENSEIFNER = "2*L*alpha + 2*(p-1)/p*n*beta + (p-1)/p*n*gamma"

for _spec in (
    AlgorithmSpec(op="broadcast", name="binomial_tree", builder=s.build_broadcast_binomial_tree,
                  cost=c.broadcast_binomial_tree_cost, formula="C*(alpha + n*beta)",
                  mpich={_CVAR["broadcast"]: "binomial"}),
    AlgorithmSpec(op="broadcast", name="binary_tree", builder=s.build_broadcast_binary_tree,
                  cost=c.broadcast_binary_tree_cost, formula="S*(alpha + n*beta)"),
    AlgorithmSpec(op="broadcast", name="pipelined_tree",
                  builder=s.build_broadcast_pipelined_tree, cost=c.broadcast_pipelined_tree_cost,
                  formula="T*(alpha + n/k*beta)", params=(CHUNKS,)),
    AlgorithmSpec(op="reduce", name="binomial_tree", builder=s.build_reduce_binomial_tree,
                  cost=c.reduce_binomial_tree_cost, formula="C*(alpha + n*beta + n*gamma)",
                  mpich={_CVAR["reduce"]: "binomial"}),
    AlgorithmSpec(op="reduce", name="binary_tree", builder=s.build_reduce_binary_tree,
                  cost=c.reduce_binary_tree_cost, formula="S*(alpha + n*beta + n*gamma)"),
    AlgorithmSpec(op="reduce", name="pipelined_tree", builder=s.build_reduce_pipelined_tree,
                  cost=c.reduce_pipelined_tree_cost, formula="T*(alpha + n/k*(beta + gamma))",
                  params=(CHUNKS,)),
    AlgorithmSpec(op="reduce", name="rabenseifner", builder=s.build_reduce_rabenseifner,
                  cost=c.rabenseifner_cost, formula=_RABENSEIFNER, rank_rule=power_of_two,
                  mpich={_CVAR["reduce"]: "reduce_scatter_gather"}, roots=False),
    AlgorithmSpec(op="allgather", name="ring", builder=s.build_allgather_ring,
                  cost=c.allgather_ring_cost, formula="(p-1)*alpha + (p-1)/p*n*beta",
                  mpich={_CVAR["allgather"]: "ring"}),
    AlgorithmSpec(op="allgather", name="recursive_doubling",
                  builder=s.build_allgather_recursive_doubling,
                  cost=c.allgather_recursive_doubling_cost, formula="L*alpha + (p-1)/p*n*beta",
                  rank_rule=power_of_two, mpich={_CVAR["allgather"]: "recursive_doubling"}),
    AlgorithmSpec(op="reduce_scatter", name="ring", builder=s.build_reduce_scatter_ring,
                  cost=c.reduce_scatter_ring_cost,
                  formula="(p-1)*alpha + (p-1)/p*n*(beta + gamma)"),
    AlgorithmSpec(op="reduce_scatter", name="recursive_halving",
                  builder=s.build_reduce_scatter_recursive_halving,
                  cost=c.reduce_scatter_recursive_halving_cost,
                  formula="L*alpha + (p-1)/p*n*(beta + gamma)", rank_rule=power_of_two,
                  mpich={_CVAR["reduce_scatter"]: "recursive_halving"}),
    AlgorithmSpec(op="allreduce", name="ring", builder=s.build_allreduce_ring,
                  cost=c.allreduce_ring_cost,
                  formula="2*(p-1)*alpha + 2*(p-1)/p*n*beta + (p-1)/p*n*gamma",
                  mpich={_CVAR["allreduce"]: "ring"}),
    AlgorithmSpec(op="allreduce", name="recursive_doubling",
                  builder=s.build_allreduce_recursive_doubling,
                  cost=c.allreduce_recursive_doubling_cost, formula="L*(alpha + n*beta + n*gamma)",
                  rank_rule=power_of_two, mpich={_CVAR["allreduce"]: "recursive_doubling"}),
    AlgorithmSpec(op="allreduce", name="rabenseifner", builder=s.build_allreduce_rabenseifner,
                  cost=c.rabenseifner_cost, formula=_RABENSEIFNER, rank_rule=power_of_two,
                  mpich={_CVAR["allreduce"]: "reduce_scatter_allgather"}),
    AlgorithmSpec(op="allreduce", name="binary_tree", builder=s.build_allreduce_binary_tree,
                  cost=c.allreduce_binary_tree_cost, formula="2*S*(alpha + n*beta) + S*n*gamma"),
    AlgorithmSpec(op="allreduce", name="pipelined_tree", builder=s.build_allreduce_pipelined_tree,
                  cost=c.allreduce_pipelined_tree_cost,
                  formula="2*T*(alpha + n/k*beta) + T*n/k*gamma", params=(CHUNKS,),
                  mpich={_CVAR["allreduce"]: "tree", "MPIR_CVAR_ALLREDUCE_TREE_TYPE": "kary",
                         "MPIR_CVAR_ALLREDUCE_TREE_KVAL": "2"}),
    AlgorithmSpec(op="allreduce", name="double_binary_tree",
                  builder=s.build_allreduce_double_binary_tree,
                  cost=c.allreduce_double_binary_tree_cost,
                  formula="2*S*(alpha + n/2*beta) + S*n/2*gamma", rank_rule=even),
    AlgorithmSpec(op="allreduce", name="pipelined_double_binary_tree",
                  builder=s.build_allreduce_pipelined_double_binary_tree,
                  cost=c.allreduce_pipelined_double_binary_tree_cost,
                  formula="2*T*(alpha + n/(2*k)*beta) + T*n/(2*k)*gamma", rank_rule=even,
                  params=(CHUNKS,), vector_parts=2),
    AlgorithmSpec(op="allreduce", name="hierarchical", builder=s.build_allreduce_hierarchical,
                  cost=c.allreduce_hierarchical_cost,
                  formula=("2*(g-1)*alpha + 2*(g-1)/g*n*beta + (g-1)/g*n*gamma"
                           " + 2*(m-1)*(alpha + n/p*beta) + (m-1)*n/p*gamma"),
                  params=(RANKS_PER_NODE,)),
    # in-network reduction: participant p of the schedule is the switch
    AlgorithmSpec(op="allreduce", name="nvls", builder=s.build_allreduce_nvls,
                  cost=c.allreduce_nvls_cost, formula="(k+1)*(alpha + n/k*beta) + n*gamma",
                  params=(CHUNKS,), in_network=True),
    AlgorithmSpec(op="allreduce", name="ib_sharp", builder=s.build_allreduce_ib_sharp,
                  cost=c.allreduce_ib_sharp_cost,
                  formula=("2*(g-1)*alpha + 2*(g-1)/g*n*beta + (g-1)/g*n*gamma"
                           " + 2*(alpha + n/g*beta) + n/g*gamma"),
                  params=(RANKS_PER_NODE,), in_network=True),
    AlgorithmSpec(op="alltoall", name="pairwise", builder=s.build_alltoall_pairwise,
                  cost=c.alltoall_pairwise_cost, formula="(p-1)*(alpha + n/p*beta)",
                  mpich={_CVAR["alltoall"]: "pairwise"}),
):
    register_algorithm(_spec)
