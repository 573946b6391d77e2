"""Collective operations and their algorithms as data.

Every operation is one :class:`OpSpec` record (its buffer layout, its NumPy reference, its
bus-bandwidth factor, its MPI call) and every (operation, algorithm) pair is one
:class:`AlgorithmSpec` record (its schedule builder, its closed-form cost and that cost's formula,
its rank-count rule, its extra parameters). :func:`aichip.collectives.schedule`,
:func:`~aichip.collectives.execute`, :func:`~aichip.collectives.reference`,
:func:`aichip.alphabeta.cost`, :mod:`aichip.mpibench`, the chapter-9 explorers and the
parametrised tests all read these records, so adding an operation or an algorithm is one record
and one builder (:func:`register_operation`, :func:`register_algorithm`).

The package is split along what it holds; every public name is importable from here:

==================  ==========================================================================
module              what it holds
==================  ==========================================================================
:mod:`.records`     the two record types, the registry, lookups and parameter checks
:mod:`.schedules`   schedule building blocks and one builder per (operation, algorithm)
:mod:`.costs`       one closed-form cost function per algorithm, the formulas' symbols
:mod:`.operations`  the six operation records and their layout, reference and MPI functions
:mod:`.algorithms`  the algorithm records, their rank rules and extra parameters
==================  ==========================================================================

This package is pure Python (no numba), so the cost model can be used without the simulator.
"""

# Each submodule's __all__ is its list of public names; the facade re-exports exactly those
# (tests/test_conventions.py checks that this list is their union).
from .algorithms import *  # noqa: F403
from .costs import *  # noqa: F403
from .operations import *  # noqa: F403
from .records import *  # noqa: F403
from .schedules import *  # noqa: F403

__all__ = ["OPERATIONS", "REGISTRY", "AlgorithmSpec", "OpSpec", "Param", "algorithm_spec",
           "any_rank_count", "check_params", "op_spec", "register_algorithm",
           "register_operation", "binary_tree", "binomial", "bounds",
           "build_allgather_recursive_doubling", "build_allgather_ring",
           "build_allreduce_binary_tree", "build_allreduce_double_binary_tree",
           "build_allreduce_hierarchical", "build_allreduce_ib_sharp", "build_allreduce_nvls",
           "build_allreduce_pipelined_double_binary_tree",
           "build_allreduce_pipelined_tree", "build_allreduce_rabenseifner",
           "build_allreduce_recursive_doubling", "build_allreduce_ring",
           "build_alltoall_pairwise", "build_binary_tree", "build_binomial",
           "build_broadcast_binary_tree", "build_broadcast_binomial_tree",
           "build_broadcast_pipelined_tree", "build_pipelined_tree", "build_reduce_binary_tree",
           "build_reduce_binomial_tree", "build_reduce_pipelined_tree",
           "build_reduce_rabenseifner", "build_reduce_scatter_recursive_halving",
           "build_reduce_scatter_ring", "doubling_allgather", "halving_reduce_scatter", "merge",
           "mirrored", "pipeline", "pipelined_trees", "ring", "rooted_at", "switch_allreduce",
           "tree_pipeline_period", "two_trees", "SYMBOLS", "allgather_recursive_doubling_cost",
           "allgather_ring_cost", "allreduce_binary_tree_cost",
           "allreduce_double_binary_tree_cost", "allreduce_hierarchical_cost",
           "allreduce_ib_sharp_cost", "allreduce_nvls_cost",
           "allreduce_pipelined_double_binary_tree_cost", "allreduce_pipelined_tree_cost",
           "allreduce_recursive_doubling_cost", "allreduce_ring_cost", "alltoall_pairwise_cost",
           "binary_tree_rounds", "broadcast_binary_tree_cost", "broadcast_binomial_tree_cost",
           "broadcast_pipelined_tree_cost", "ceil_log2", "formula_text", "rabenseifner_cost",
           "reduce_binary_tree_cost", "reduce_binomial_tree_cost", "reduce_pipelined_tree_cost",
           "reduce_scatter_recursive_halving_cost", "reduce_scatter_ring_cost",
           "tree_phase_steps", "allgather_reference", "allreduce_bus_factor",
           "allreduce_reference", "alltoall_reference", "alltoall_result", "at_own_block",
           "at_start", "broadcast_reference", "every_rank_buffer", "gathered_len",
           "mpi_allgather", "mpi_allreduce", "mpi_alltoall", "mpi_bcast", "mpi_reduce",
           "mpi_reduce_scatter", "no_receive_buffer", "one_block", "one_chunk_len", "p_blocks",
           "reduce_reference", "reduce_scatter_reference", "reduce_scatter_result",
           "root_buffer", "send_and_receive_len", "share_moved", "unit_factor", "vector_len",
           "CHUNKS", "RANKS_PER_NODE", "even", "power_of_two", "ranks_per_node_divides"]
