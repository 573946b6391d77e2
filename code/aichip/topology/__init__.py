"""Interconnect topologies of multi-GPU systems as graphs, and metrics computed from the graphs.

The package is split along its seams; the public names of these modules are importable from
``aichip.topology`` (link technologies and their rates are :mod:`aichip.links`):

==============================  ==================================================================
module                          what it holds
==============================  ==================================================================
:mod:`.graph`                   :class:`Topology`, node kinds, who forwards traffic, add_links
:mod:`.systems`                 DGX-1 (with its PCIe/QPI host path), DGX-2, DGX A100/H100, NVL72;
                                switched, crossbar, ring, torus, fat tree
:mod:`.routing`                 hop counts, shortest routes through forwarding nodes, link loads
:mod:`.metrics`                 per-GPU bandwidth, link and max-flow matrices, diameter, bisection,
                                all-to-all throughput, embedded rings, the chapter's summary row
:mod:`.fabrics`                 TPU 3D torus (plain, twisted) and mesh, axis cuts, the torus
                                all-reduce; rail-optimised multi-tier fat trees (SuperPOD), switch
                                counts and oversubscription per tier; in-switch reduction traffic
==============================  ==================================================================

Helpers the modules share are private to the package: ``_checks`` (argument checks), ``_paths``
(shortest paths through forwarding nodes) and ``_maxflow`` (the numba max-flow kernels, checked
against networkx through :mod:`.metrics`).

See :mod:`aichip.topology.graph` for the graph's attributes and the forwarding rule (NVLink does not
route: GPUs do not carry other GPUs' traffic unless software relays it).
"""

from .fabrics import (
    allreduce_bytes_per_gpu,
    axis_halves,
    cut_bandwidth,
    mesh,
    rail_fat_tree,
    switch_counts,
    tier_oversubscription,
    torus_allreduce_s,
    tpu_torus,
)
from .graph import NODE_KINDS, Topology, add_links, forwards
from .metrics import (
    Bisection,
    PairBandwidth,
    Ring,
    all_to_all_throughput,
    bandwidth_matrix,
    bisection_bandwidth,
    connection_labels,
    diameter,
    direct_bandwidth_matrix,
    embedded_rings,
    gpu_bandwidth_GBps,
    gpu_link_count,
    gpu_links,
    link_matrix,
    max_flow,
    ring_bandwidth,
    summary,
)
from .routing import Router, concurrent_rate_GBps, hop_matrix, path_kinds
from .systems import (
    DGX1_V100_LINKS,
    SYSTEMS,
    crossbar,
    dgx1_p100,
    dgx1_v100,
    dgx2,
    dgx_a100,
    dgx_h100,
    example_systems,
    fat_tree,
    nvl72,
    ring,
    switched,
    torus,
)

__all__ = [
    "NODE_KINDS", "Topology", "add_links", "forwards",
    "Bisection", "PairBandwidth", "Ring", "all_to_all_throughput", "bandwidth_matrix",
    "bisection_bandwidth", "connection_labels", "diameter", "direct_bandwidth_matrix",
    "embedded_rings", "gpu_bandwidth_GBps", "gpu_link_count", "gpu_links", "link_matrix",
    "max_flow", "ring_bandwidth", "summary",
    "Router", "concurrent_rate_GBps", "hop_matrix", "path_kinds",
    "DGX1_V100_LINKS", "SYSTEMS", "crossbar", "dgx1_p100", "dgx1_v100", "dgx2", "dgx_a100",
    "dgx_h100", "example_systems", "fat_tree", "nvl72", "ring", "switched", "torus",
    "allreduce_bytes_per_gpu", "axis_halves", "cut_bandwidth", "mesh", "rail_fat_tree",
    "switch_counts", "tier_oversubscription", "torus_allreduce_s", "tpu_torus",
]
