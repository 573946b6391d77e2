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

# Each submodule's __all__ is its list of public names; the facade re-exports exactly those.
from . import algorithms, costs, operations, records, schedules
from .algorithms import *  # noqa: F403
from .costs import *  # noqa: F403
from .operations import *  # noqa: F403
from .records import *  # noqa: F403
from .schedules import *  # noqa: F403

__all__ = [*records.__all__, *schedules.__all__, *costs.__all__, *operations.__all__,
           *algorithms.__all__]
