"""RDMA networks: InfiniBand generations, per-packet header overhead of InfiniBand, RoCE v2 and
iWARP, and GPUDirect RDMA against staging through host memory on a DGX PCIe tree.

Header sizes are protocol constants, cited next to each field; link rates come from
:mod:`aichip.links` and PCIe trees from :mod:`aichip.topology` (nothing is duplicated here).
"""

from __future__ import annotations

import networkx as nx
import pandas as pd

from ..links import load_links
from ..topology import dgx1_v100
from ..topology.graph import Topology, add_links
from ..validation import check_choice, check_int

__all__ = [
    "HEADERS", "MAX_PAYLOAD", "header_bytes", "wire_efficiency", "infiniband_generations",
    "dgx1_with_nics", "gpu_nic_path",
]

#: Bytes each transport adds to one RDMA WRITE data packet (middle packet, no RETH) beyond the
#: payload, field by field. InfiniBand: LRH 8, BTH 12, ICRC 4, VCRC 2 (IBTA Vol. 1, ch. 5 and 7).
#: RoCE v2 replaces LRH/VCRC by Ethernet 14 + FCS 4, IPv4 20 and UDP 8 to port 4791 (IBTA Annex
#: A17); on the wire Ethernet also spends 8 bytes of preamble and a 12-byte gap. iWARP: Ethernet,
#: IPv4, TCP 20 + 12 of timestamp option, MPA framing 2 + CRC 4, DDP/RDMAP tagged header 14
#: (RFC 5044, RFC 5041, RFC 5040).
HEADERS = {
    "InfiniBand": {"LRH": 8, "BTH": 12, "ICRC": 4, "VCRC": 2},
    "RoCE v2": {"preamble+gap": 20, "Ethernet+FCS": 18, "IPv4": 20, "UDP": 8, "BTH": 12, "ICRC": 4},
    "iWARP": {"preamble+gap": 20, "Ethernet+FCS": 18, "IPv4": 20, "TCP": 32, "MPA": 6,
              "DDP/RDMAP": 14},
}
#: largest payload per packet: IB and RoCE path MTU 4096 (IBTA), iWARP one 9000-byte jumbo frame's
#: TCP segment (MTU 9000 less IPv4 20, TCP 32, MPA 6, DDP/RDMAP 14)
MAX_PAYLOAD = {"InfiniBand": 4096, "RoCE v2": 4096, "iWARP": 9000 - 20 - 32 - 6 - 14}


def header_bytes(transport: str) -> int:
    """Bytes added to every packet by ``transport`` (a key of :data:`HEADERS`)."""
    check_choice("transport", transport, HEADERS)
    return sum(HEADERS[transport].values())


def wire_efficiency(transport: str, msg_bytes: int, mtu_bytes: int | None = None) -> float:
    """Payload bytes / wire bytes for one message split into packets of at most ``mtu_bytes``."""
    check_choice("transport", transport, HEADERS)
    msg_bytes = check_int("msg_bytes", msg_bytes, minimum=1)
    if mtu_bytes is None:
        mtu = MAX_PAYLOAD[transport]
    else:
        mtu = check_int("mtu_bytes", mtu_bytes, minimum=1)
    packets = -(-msg_bytes // mtu)
    return msg_bytes / (msg_bytes + packets * header_bytes(transport))


def infiniband_generations() -> pd.DataFrame:
    """The InfiniBand rows of the link table (4x ports, SDR to XDR) with ``Gbps_per_dir``, the
    data rate in gigabits per second as the IBTA quotes it, in year order."""
    df = load_links()
    df = df[df["family"] == "InfiniBand"].sort_values("year").reset_index(drop=True)
    df["Gbps_per_dir"] = df["GBps_per_dir"] * 8
    return df


def dgx1_with_nics(topo: Topology | None = None) -> Topology:
    """The DGX-1 (V100) PCIe tree of :func:`aichip.topology.dgx1_v100` with its four 100 Gb/s
    InfiniBand EDR adapters, one on each PCIe switch next to two GPUs (NVIDIA DGX-1 whitepaper,
    figure 4). Adapter nodes are ``NIC0``..``NIC3`` (``kind="host"``), each with one PCIe 3.0 x16
    link to ``PCIe0``..``PCIe3`` and a ``network_GBps`` attribute. A system RAM node ``DRAM0`` and
    ``DRAM1`` hangs off each CPU (the staging buffer of a copy through the host)."""
    topo = dgx1_v100() if topo is None else topo
    g = topo.graph.copy()
    ib = float(load_links().set_index("name").loc["InfiniBand EDR 4x", "GBps_per_dir"])
    for s in range(4):
        if f"PCIe{s}" not in g:
            raise ValueError("topo must have the DGX-1 host path (PCIe0..PCIe3)")
        g.add_node(f"NIC{s}", kind="host", forwards=False, network_GBps=ib)
        add_links(g, f"NIC{s}", f"PCIe{s}", "PCIe 3.0 x16", 1)
    for c in range(2):
        g.add_node(f"DRAM{c}", kind="host", forwards=False)
        g.add_edge(f"DRAM{c}", f"CPU{c}", links=1, tech="DDR4", link_GBps_per_dir=76.8,
                   GBps_per_dir=76.8)   # 4 channels DDR4-2400 x 19.2 GB/s (Intel ark, E5-2698 v4)
    return Topology(topo.name + " with NICs", g, topo.gpus, topo.source, topo.description)


def gpu_nic_path(topo: Topology, gpu: int, nic: int, staged: bool = False) -> dict:
    """The PCIe path of a GPU's data to network adapter ``nic`` on a DGX-1 with adapters
    (:func:`dgx1_with_nics`).

    ``staged=False`` (GPUDirect RDMA): the adapter reads GPU memory directly, peer to peer through
    the PCIe switches (and the CPUs when they are not under one switch). ``staged=True``: the GPU
    first copies into host memory next to the adapter's CPU, then the adapter reads it from there.
    Returns ``nodes`` (the path or paths), ``crossings`` (how many times the data crosses each
    link) and ``bottleneck_GBps`` (the slowest link, divided by how often the data crosses it)."""
    g = topo.graph
    gpu = check_int("gpu", gpu, minimum=0, maximum=topo.n_gpus - 1)
    nic = check_int("nic", nic, minimum=0, maximum=3)
    src, dst = topo.gpus[gpu], f"NIC{nic}"
    if dst not in g:
        raise ValueError("topo must come from dgx1_with_nics()")
    # only the host tree carries this traffic, not NVLink
    host = g.subgraph([v for v, d in g.nodes(data=True) if d.get("kind") == "host" or v == src])
    if staged:
        cpu = nx.shortest_path(host, dst, "CPU0" if nic < 2 else "CPU1")[-1]
        dram = "DRAM" + cpu[-1]
        legs = [nx.shortest_path(host, src, dram), nx.shortest_path(host, dram, dst)]
    else:
        legs = [nx.shortest_path(host, src, dst)]
    crossings = {}
    for leg in legs:
        for a, b in zip(leg[:-1], leg[1:], strict=True):
            crossings[(a, b)] = crossings.get((a, b), 0) + 1
    # a link used in both directions by the two legs (DRAM write then read) carries each
    # direction once; a link crossed twice in the same direction shares its rate
    bottleneck = min(g.edges[a, b]["GBps_per_dir"] / k for (a, b), k in crossings.items())
    return {"nodes": legs, "crossings": crossings, "bottleneck_GBps": bottleneck,
            "hops": sum(len(leg) - 1 for leg in legs)}
