"""RDMA, modelled and measured (chapter on RDMA).

* :mod:`aichip.rdma.timing`: the packet-pipeline engine (SimPy) and the TCP and RDMA message paths;
* :mod:`aichip.rdma.verbs`: the verbs model (protection domains, memory regions, queue pairs,
  completion queues, transports and their rules) on the same engine;
* :mod:`aichip.rdma.networks`: InfiniBand generations, header overhead of IB/RoCE v2/iWARP,
  GPUDirect RDMA paths on the DGX-1 PCIe tree.

The real one-sided runs are :mod:`aichip.rmabench` and :mod:`aichip.kvstore` (MPI RMA).
"""

from .networks import (HEADERS, MAX_PAYLOAD, dgx1_with_nics, gpu_nic_path, header_bytes,
                       infiniband_generations, wire_efficiency)
from .timing import (HostParams, Path, Stage, bandwidth_GBps, latency_breakdown, message_time,
                     packet_sizes, rdma_write_path, sweep, tcp_path, KV_DESIGNS, lookup_time_s)
from .verbs import (ATOMIC_REQUEST_BYTES, OPCODES, QP_STATES, STATUSES, TRANSPORT_OPCODES,
                    TRANSPORTS, SGE, Access, Completion, CompletionQueue, Fabric, MemoryRegion,
                    Node, Pair, QueuePair, SendWR, connected_pair, read_then_write)

__all__ = [n for n in dir() if not n.startswith("_")]
