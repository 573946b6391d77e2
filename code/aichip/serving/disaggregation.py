"""Disaggregated prefill and decode (Splitwise, Patel et al., ISCA 2024; DistServe, Zhong et al.,
OSDI 2024): prompts run on prefill GPUs, the finished KV cache moves over RDMA to decode GPUs.

The move costs one transfer per request, ``prompt_len * kv_bytes_per_token`` bytes, on the RDMA
WRITE path of :mod:`aichip.rdma` with the cluster's scale-out NIC (:func:`aichip.scaling.cluster`:
per-GPU, per-direction rate) and GPUDirect over PCIe. A long message is a pipeline of MTU-sized
packets: its time is one packet's latency plus ``(n_packets - 1)`` times the slowest stage's
service per packet (what :func:`aichip.rdma.message_time` simulates packet by packet; the closed
form keeps gigabyte caches cheap and is tested against the simulation).

What it removes is **interference**: on a shared GPU, a prompt prefilled in the same iteration as
the running decodes lengthens that iteration from a decoding step to a mixed step, so every running
sequence waits (the stall chunked prefill bounds and disaggregation removes).

With ``tp`` GPUs holding one model replica (tensor parallel), each sends its own shard of the cache
through its own NIC and computes its share of the prefill, so both times divide by ``tp``
(communication inside the replica is not modelled).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import links, rdma, scaling
from ..validation import check_int
from .model import DecoderShape, decode_work, prefill_work, step_work
from .roofline import Hardware, step_time

__all__ = ["kv_transfer_path", "kv_transfer_s", "prefill_interference", "disaggregation_table"]


def kv_transfer_path(cluster="dgx_h100_ndr", pcie_link="PCIe 5.0 x16", transport="InfiniBand",
                     nic_s=rdma.DEFAULT_HOST.nic_s) -> rdma.Path:
    """The RDMA WRITE path between a prefill GPU and a decode GPU in ``cluster`` (a name of
    :func:`aichip.scaling.cluster_names` or a :class:`aichip.scaling.Cluster`): the NIC's wire rate
    is the cluster's scale-out bandwidth per GPU, the GPU-NIC hop is ``pcie_link``
    (:mod:`aichip.links`), ``nic_s`` the adapter's time per packet (chapter 10's default, 0.1 us,
    caps a 4 KiB-MTU stream at ~41 GB/s, below an NDR port's 50 GB/s)."""
    cl = scaling.cluster(cluster) if isinstance(cluster, str) else cluster
    if not isinstance(cl, scaling.Cluster):
        raise TypeError(f"cluster must be a cluster name or an aichip.scaling.Cluster, "
                        f"got {type(cluster).__name__}")
    hp = rdma.HostParams(wire_GBps=cl.scaleout_GBps, pcie_GBps=links.link_GBps_per_dir(pcie_link),
                         transport=transport, nic_s=nic_s)
    return rdma.rdma_write_path(hp)


def kv_transfer_s(msg_bytes, path: rdma.Path | None = None) -> float:
    """Seconds to move ``msg_bytes`` along ``path`` (default :func:`kv_transfer_path`): the packet
    simulation (:func:`aichip.rdma.message_time`) of the last one or two packets, plus one
    slowest-stage service per further full packet (exact while that stage is the bottleneck)."""
    msg_bytes = check_int("msg_bytes", msg_bytes, minimum=1)
    path = kv_transfer_path() if path is None else path
    mtu = path.mtu_bytes
    if msg_bytes <= 2 * mtu:
        return rdma.message_time(path, msg_bytes)
    full, rest = divmod(msg_bytes, mtu)
    _, per_packet = rdma.slowest_stage(path)
    # simulate the last full packet and the remainder; every earlier full packet adds one
    # service of the slowest stage ahead of them
    head = full - 1
    return rdma.message_time(path, msg_bytes - head * mtu) + head * per_packet


def prefill_interference(shape: DecoderShape, hw: Hardware, prompt_len, decode_batch, context,
                         weight_bytes=2, kv_bytes=2) -> dict:
    """What one prompt prefilled among ``decode_batch`` running decodes (``context`` cached tokens
    each) costs them: ``decode_s`` (the decoding step alone), ``mixed_s`` (the step with the whole
    prompt in it), ``stall_s`` (their difference: the wait of every running sequence) and
    ``prefill_s`` (the prompt alone)."""
    decode = decode_work(shape, decode_batch, context, weight_bytes, kv_bytes)
    prompt = prefill_work(shape, prompt_len, 1, weight_bytes, kv_bytes)
    mixed = step_work(shape, decode_batch + prompt_len,
                      decode_batch * (context + 1) + prompt_len * (prompt_len + 1) / 2,
                      decode_batch * context, decode_batch + prompt_len, weight_bytes, kv_bytes)
    d, m = step_time(decode, hw).time_s, step_time(mixed, hw).time_s
    return dict(decode_s=d, mixed_s=m, stall_s=m - d, prefill_s=step_time(prompt, hw).time_s)


def disaggregation_table(shape: DecoderShape, hw: Hardware, prompt_lens, cluster="dgx_h100_ndr",
                         decode_batch=64, context=1024, tp=1, weight_bytes=2,
                         kv_bytes=2) -> pd.DataFrame:
    """For each prompt length: the KV bytes a request moves, ``transfer_s`` over RDMA, ``prefill_s``
    on ``hw``, their ratio, and ``stall_s`` / ``stall_total_s`` (the wait a colocated prefill
    imposes on each of, and all of, ``decode_batch`` decodes); times per replica of ``tp`` GPUs.
    ``removed_over_added`` = ``stall_total_s / transfer_s``: the interference removed per second
    of transfer added."""
    tp = check_int("tp", tp, minimum=1)
    decode_batch = check_int("decode_batch", decode_batch, minimum=1)
    path = kv_transfer_path(cluster)
    rows = []
    for p in np.atleast_1d(prompt_lens).tolist():
        p = check_int("prompt_lens", p, minimum=1)
        kv_total = p * shape.kv_bytes_per_token(kv_bytes)
        transfer = kv_transfer_s(int(np.ceil(kv_total / tp)), path)
        hit = prefill_interference(shape, hw, p, decode_batch, context, weight_bytes, kv_bytes)
        prefill = hit["prefill_s"] / tp
        stall = hit["stall_s"] / tp
        rows.append(dict(prompt_tokens=p, kv_bytes=kv_total, transfer_s=transfer,
                         prefill_s=prefill, transfer_over_prefill=transfer / prefill,
                         stall_s=stall, stall_total_s=stall * decode_batch,
                         removed_over_added=stall * decode_batch / transfer))
    return pd.DataFrame(rows)
