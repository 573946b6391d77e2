"""Explorers for the RDMA chapter: where a message's time goes on the kernel TCP path and on the
RDMA path, bandwidth against message size, and one-sided against RPC lookups. Every number comes
from :mod:`aichip.rdma`; this module only draws and wires controls."""

from __future__ import annotations

import functools

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from .. import rdma
from .static import explorer

__all__ = [
    "SIZES", "VALUE_SIZES", "plot_breakdown", "plot_bandwidth", "plot_lookups", "path_explorer",
]

SIZES = np.unique(np.logspace(0, 22, 45, base=2.0).astype(int))          # 1 B .. 4 MiB
VALUE_SIZES = np.unique(np.logspace(3, 16, 27, base=2.0).astype(int))    # 8 B .. 64 KiB


def _params(**kw) -> rdma.HostParams:
    return rdma.HostParams(**kw)


def plot_breakdown(msg_bytes=4096, hp: rdma.HostParams = rdma.DEFAULT_HOST, ax=None):
    """Stacked bars of :func:`aichip.rdma.latency_breakdown` for the TCP and RDMA paths."""
    ax = ax or plt.gca()
    paths = [rdma.tcp_path(hp), rdma.rdma_write_path(hp)]
    for i, path in enumerate(paths):
        left = 0.0
        for label, s in rdma.latency_breakdown(path, msg_bytes).items():
            if s <= 0:
                continue
            ax.barh(i, s * 1e6, left=left, edgecolor="white")
            if s * 1e6 > 0.04 * sum(rdma.latency_breakdown(paths[0], msg_bytes).values()) * 1e6:
                ax.text(left + s * 5e5, i, label, ha="center", va="center", fontsize=7,
                        rotation=90)
            left += s * 1e6
    ax.set_yticks(range(len(paths)), [p.name for p in paths])
    ax.set_xlabel("time for one message (µs)")
    ax.set_title(f"Where the time goes: one {msg_bytes:,} B message")
    return ax


@functools.lru_cache(maxsize=32)   # a static page redraws the same curves for many grid points
def _bandwidths(path: rdma.Path, sizes: tuple[int, ...]) -> list[float]:
    return [rdma.bandwidth_GBps(path, n) for n in sizes]


def plot_bandwidth(hp: rdma.HostParams = rdma.DEFAULT_HOST, ax=None, sizes=SIZES):
    """Effective bandwidth against message size for both paths, wire rate marked."""
    ax = ax or plt.gca()
    for path in (rdma.tcp_path(hp), rdma.rdma_write_path(hp)):
        ax.semilogx(sizes, _bandwidths(path, tuple(int(n) for n in sizes)), label=path.name)
    ax.axhline(hp.wire_GBps, color="k", ls=":", lw=1, label="wire data rate")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("bandwidth (GB/s)")
    ax.set_title("Bandwidth of one message against its size")
    ax.legend(fontsize=8)
    return ax


def plot_lookups(hp: rdma.HostParams = rdma.DEFAULT_HOST, reads=2, server_us=2.0, ax=None,
                 sizes=VALUE_SIZES):
    """Lookup time of the three key-value designs against value size."""
    ax = ax or plt.gca()
    for d in rdma.KV_DESIGNS:
        t = [rdma.lookup_time_s(d, hp, int(n), reads, server_us * 1e-6) * 1e6 for n in sizes]
        ax.loglog(sizes, t, label=d)
    ax.set_xlabel("value size (bytes)")
    ax.set_ylabel("lookup time (µs)")
    ax.set_title(f"One lookup: {reads} one-sided reads vs one RPC ({server_us:g} µs of owner CPU)")
    ax.legend(fontsize=8)
    return ax


def path_explorer(msg_bytes=4096) -> w.Widget:
    """Sliders over the main :class:`~aichip.rdma.HostParams`; redraws all three figures."""
    c = dict(continuous_update=False, style={"description_width": "140px"},
             layout=w.Layout(width="420px"))
    d = rdma.DEFAULT_HOST  # the sliders start at the model's defaults, whatever they become
    irq_us = (d.interrupt_s + d.wakeup_s) * 1e6
    irq_share = d.interrupt_s / (d.interrupt_s + d.wakeup_s)  # kept as the slider moves the sum
    ctl = {"n": w.IntSlider(value=int(np.log2(msg_bytes)), min=0, max=22,
                            description="log2 message (B)", **c),
           "wire": w.FloatLogSlider(value=d.wire_GBps, base=10, min=0, max=2.3,
                                    description="wire (GB/s)", **c),
           "pcie": w.FloatLogSlider(value=d.pcie_GBps, base=10, min=0.5, max=2.3,
                                    description="PCIe (GB/s)", **c),
           "syscall": w.FloatSlider(value=d.syscall_s * 1e6, min=0, max=10, step=0.1,
                                    description="system call (µs)", **c),
           "copy": w.FloatLogSlider(value=d.copy_GBps, base=10, min=0, max=2,
                                    description="memcpy (GB/s)", **c),
           "irq": w.FloatSlider(value=irq_us, min=0, max=50, step=0.5,
                                description="interrupt+wake (µs)", **c),
           "server": w.FloatSlider(value=2.0, min=0, max=50, step=0.5,
                                   description="RPC server CPU (µs)", **c),
           "reads": w.IntSlider(value=2, min=1, max=4, description="one-sided reads", **c)}

    def draw(n, wire, pcie, syscall, copy, irq, server, reads):
        hp = _params(wire_GBps=wire, pcie_GBps=pcie, syscall_s=syscall * 1e-6, copy_GBps=copy,
                     interrupt_s=irq * irq_share * 1e-6, wakeup_s=irq * (1 - irq_share) * 1e-6)
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        plot_breakdown(2 ** n, hp, axes[0])
        plot_bandwidth(hp, axes[1])
        plot_lookups(hp, reads, server, axes[2])
        fig.tight_layout()
        plt.show()

    grid = {"n": sorted({6, 12, 20, int(np.log2(msg_bytes))}),
            "irq": sorted({0.0, irq_us, 4 * irq_us}), "server": [0.5, 2.0, 10.0]}
    return explorer(draw, ctl, grid, arrange=lambda c: w.HBox([w.VBox(list(c.values())[:4]),
                                                               w.VBox(list(c.values())[4:])]))
