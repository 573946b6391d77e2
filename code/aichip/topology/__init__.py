"""Interconnect topologies of multi-GPU systems as graphs, and metrics computed from the graphs.

The package is split along its seams; everything is importable from ``aichip.topology``:

==============================  ==================================================================
module                          what it holds
==============================  ==================================================================
:mod:`.graph`                   :class:`Topology`, node kinds, who forwards traffic, wiring helpers
:mod:`.systems`                 DGX-1 (with its PCIe/QPI host path), DGX-2, DGX A100/H100, NVL72;
                                switched, crossbar, ring, torus, fat tree
:mod:`.routing`                 hop counts, shortest routes through forwarding nodes, link loads
:mod:`.metrics`                 per-GPU bandwidth, link and max-flow matrices, diameter, bisection,
                                all-to-all throughput, embedded rings, the chapter's summary row
:mod:`.maxflow`                 the numba max-flow kernels (checked against networkx)
==============================  ==================================================================

See :mod:`aichip.topology.graph` for the graph's attributes and the forwarding rule (NVLink does not
route: GPUs do not carry other GPUs' traffic unless software relays it).
"""

# These imports are re-exports: the package's public names and the private helpers that tests and
# other modules reach as aichip.topology.<name>, so F401 (imported but unused) is wrong for them.
from ..links import _links_cached, link, link_GBps_per_dir, load_links  # noqa: F401
from .graph import (  # noqa: F401
    NODE_KINDS,
    Topology,
    _add_links,
    _check_topology,
    _gpu_graph,
    _gpu_name,
    forwards,
)
from .maxflow import (  # noqa: F401
    _bisection_kernel,
    _capacity_matrix,
    _max_flow_dense,
    _pairwise_max_flow,
)
from .metrics import (  # noqa: F401
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
from .routing import Router, _routes, concurrent_rate_GBps, hop_matrix, path_kinds  # noqa: F401
from .systems import (  # noqa: F401
    DGX1_V100_LINKS,
    SYSTEMS,
    _from_link_counts,
    _switched,
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
