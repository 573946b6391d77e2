"""Argument checks shared by the modules of :mod:`aichip.topology` (private to the subpackage).

Every metric and routing function takes a :class:`~aichip.topology.graph.Topology` and GPUs named
either by node name or by rank; these turn a bad argument into an error that names it.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_int
from .graph import Topology

__all__ = ["check_topology", "gpu_name"]


def check_topology(topo) -> Topology:
    """``topo`` itself if it is a :class:`Topology`; TypeError naming ``topo`` otherwise."""
    if not isinstance(topo, Topology):
        raise TypeError(f"topo must be a Topology, got {type(topo).__name__}")
    return topo


def gpu_name(topo: Topology, x, name: str):
    """A GPU node name from a node name or a GPU index (ValueError naming ``name`` otherwise)."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        check_int(name, x, minimum=0, maximum=topo.n_gpus - 1)
        return topo.gpus[x]
    if x not in topo.gpus:
        raise ValueError(f"{name} must be a GPU index or one of {topo.gpus[:4]}..., got {x!r}")
    return x
