"""RDMA, modelled and measured (chapter on RDMA).

* :mod:`aichip.rdma.timing`: the packet-pipeline engine (SimPy) and the TCP and RDMA message paths;
* :mod:`aichip.rdma.verbs`: the verbs model (protection domains, memory regions, queue pairs,
  completion queues, transports and their rules) on the same engine;
* :mod:`aichip.rdma.networks`: InfiniBand generations, header overhead of IB/RoCE v2/iWARP,
  GPUDirect RDMA paths on the DGX-1 PCIe tree;
* :mod:`aichip.rdma.congestion`: N-to-1 incast on a switch with PFC, ECN and DCQCN, event by
  event (SimPy), and :mod:`aichip.rdma.congestion_kernel`: the same, time-stepped in numba
  (:func:`incast`, for grids and hundreds of senders);
* :mod:`aichip.rdma.copybench`: a numba copy kernel, timed, against the TCP path's copy rate.

The real one-sided runs are :mod:`aichip.rmabench` and :mod:`aichip.kvstore` (MPI RMA).
"""

from .congestion import (
    CC_MODES,
    DCQCNParams,
    IncastResult,
    ReactionPoint,
    ecn_probability,
    incast_des,
    jain_index,
    pfc_thresholds,
)
from .congestion_kernel import incast, incast_kernel
from .copybench import copy_cost, copy_kernel, measure_copy_GBps
from .networks import (
    HEADERS,
    MAX_PAYLOAD,
    dgx1_with_nics,
    gpu_nic_path,
    header_bytes,
    infiniband_generations,
    wire_efficiency,
)
from .timing import (
    DEFAULT_HOST,
    KV_DESIGNS,
    HostParams,
    Path,
    Stage,
    bandwidth_GBps,
    latency_breakdown,
    lookup_time_s,
    message_time,
    packet_sizes,
    rdma_write_path,
    slowest_stage,
    sweep,
    tcp_path,
)
from .verbs import (
    ATOMIC_REQUEST_BYTES,
    OPCODES,
    QP_STATES,
    SGE,
    STATUSES,
    TRANSPORT_OPCODES,
    TRANSPORTS,
    Access,
    Completion,
    CompletionQueue,
    Fabric,
    MemoryRegion,
    Node,
    Pair,
    QueuePair,
    SendWR,
    connected_pair,
    read_then_write,
)

# the package's public API: the re-exports above, in sorted order
__all__ = [
    "ATOMIC_REQUEST_BYTES", "Access", "CC_MODES", "Completion", "CompletionQueue",
    "DCQCNParams", "DEFAULT_HOST", "Fabric", "HEADERS", "HostParams", "IncastResult",
    "KV_DESIGNS", "MAX_PAYLOAD", "MemoryRegion", "Node", "OPCODES", "Pair", "Path", "QP_STATES",
    "QueuePair", "ReactionPoint", "SGE", "STATUSES", "SendWR", "Stage", "TRANSPORTS",
    "TRANSPORT_OPCODES", "bandwidth_GBps", "connected_pair", "copy_cost", "copy_kernel",
    "dgx1_with_nics", "ecn_probability", "gpu_nic_path", "header_bytes", "incast", "incast_des",
    "incast_kernel", "infiniband_generations", "jain_index", "latency_breakdown",
    "lookup_time_s", "measure_copy_GBps", "message_time", "packet_sizes", "pfc_thresholds",
    "rdma_write_path", "read_then_write", "slowest_stage", "sweep", "tcp_path",
    "wire_efficiency",
]
