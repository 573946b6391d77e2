"""RDMA, modelled and measured (chapter on RDMA).

* :mod:`aichip.rdma.timing`: the packet-pipeline engine (SimPy) and the TCP and RDMA message paths;
* :mod:`aichip.rdma.verbs`: the verbs model (protection domains, memory regions, queue pairs,
  completion queues, transports and their rules) on the same engine;
* :mod:`aichip.rdma.networks`: InfiniBand generations, header overhead of IB/RoCE v2/iWARP,
  GPUDirect RDMA paths on the DGX-1 PCIe tree.

The real one-sided runs are :mod:`aichip.rmabench` and :mod:`aichip.kvstore` (MPI RMA).
"""

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
    "ATOMIC_REQUEST_BYTES", "Access", "Completion", "CompletionQueue", "DEFAULT_HOST", "Fabric",
    "HEADERS", "HostParams", "KV_DESIGNS", "MAX_PAYLOAD", "MemoryRegion", "Node", "OPCODES", "Pair",
    "Path", "QP_STATES", "QueuePair", "SGE", "STATUSES", "SendWR", "Stage", "TRANSPORTS",
    "TRANSPORT_OPCODES", "bandwidth_GBps", "connected_pair", "dgx1_with_nics", "gpu_nic_path",
    "header_bytes", "infiniband_generations", "latency_breakdown", "lookup_time_s", "message_time",
    "packet_sizes", "rdma_write_path", "read_then_write", "slowest_stage", "sweep", "tcp_path",
    "wire_efficiency",
]
