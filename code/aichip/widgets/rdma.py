"""Explorers for the RDMA chapter: where a message's time goes on the kernel TCP path and on the
RDMA path, bandwidth against message size (TCP with and without segmentation offloads), and
one-sided against RPC lookups, and N-to-1 incast with PFC and DCQCN. Every number comes from
:mod:`aichip.rdma`; this module only draws and wires controls."""

from __future__ import annotations

import dataclasses
import functools

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from .. import rdma
from .static import explorer

__all__ = ["INCAST_SENDERS", "SIZES", "VALUE_SIZES", "incast_explorer", "path_explorer",
           "plot_bandwidth", "plot_breakdown", "plot_incast", "plot_lookups"]

SIZES = np.unique(np.logspace(0, 22, 45, base=2.0).astype(int))          # 1 B .. 4 MiB
VALUE_SIZES = np.unique(np.logspace(3, 16, 27, base=2.0).astype(int))    # 8 B .. 64 KiB
INCAST_SENDERS = (4, 16, 64, 128)                                         # the explorer's grid


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
    """:func:`aichip.rdma.bandwidth_GBps` at each size, from the first-come first-served
    recurrence whose terms :func:`aichip.rdma.latency_breakdown` gives (they sum to the simulated
    message time; tests/test_rdma.py checks both, and this curve against the simulation): a
    simulated 4 MiB TCP message is some 2,900 packet processes, and the path explorer draws these
    curves for every setting of its controls, which took half of its build time."""
    return [n / sum(rdma.latency_breakdown(path, n).values()) / 1e9 for n in sizes]


def plot_bandwidth(hp: rdma.HostParams = rdma.DEFAULT_HOST, ax=None, sizes=SIZES):
    """Effective bandwidth against message size: TCP with and without segmentation offloads (the
    one ``hp`` does not select dashed) and RDMA, wire rate marked."""
    ax = ax or plt.gca()
    other = dataclasses.replace(hp, offloads=not hp.offloads)
    for path, style in ((rdma.tcp_path(hp), "-"), (rdma.tcp_path(other), "--"),
                        (rdma.rdma_write_path(hp), "-")):
        ax.semilogx(sizes, _bandwidths(path, tuple(int(n) for n in sizes)), style,
                    label=path.name)
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
           "offloads": w.Checkbox(value=d.offloads, description="TCP segmentation offloads",
                                  indent=False),
           "server": w.FloatSlider(value=2.0, min=0, max=50, step=0.5,
                                   description="RPC server CPU (µs)", **c),
           "reads": w.IntSlider(value=2, min=1, max=4, description="one-sided reads", **c)}

    def draw(n, wire, pcie, syscall, copy, irq, offloads, server, reads):
        hp = _params(wire_GBps=wire, pcie_GBps=pcie, syscall_s=syscall * 1e-6, copy_GBps=copy,
                     interrupt_s=irq * irq_share * 1e-6, wakeup_s=irq * (1 - irq_share) * 1e-6,
                     offloads=offloads)
        # two rows, 10 inches wide: legible at the page's width
        fig = plt.figure(figsize=(10, 7.5))
        spec = fig.add_gridspec(2, 2, height_ratios=[0.8, 1.2])
        plot_breakdown(2 ** n, hp, fig.add_subplot(spec[0, :]))
        plot_bandwidth(hp, fig.add_subplot(spec[1, 0]))
        plot_lookups(hp, reads, server, fig.add_subplot(spec[1, 1]))
        fig.tight_layout()
        plt.show()

    # the static page moves each control alone from the model's defaults: a few values apiece
    def around(name, *values):
        return sorted({*values, ctl[name].value})

    axes = {"n": around("n", 6, 12, 16, 20), "wire": around("wire", 3.125, 50.0),
            "pcie": around("pcie", 3.94, 63.0), "syscall": around("syscall", 0.0, 5.0),
            "copy": around("copy", 2.5, 40.0), "irq": around("irq", 0.0, 4 * irq_us),
            "offloads": [True, False], "server": around("server", 0.5, 10.0),
            "reads": [1, 2, 3, 4]}
    return explorer(draw, ctl, axes=axes, dpi=100, arrange=lambda c: w.HBox(
        [w.VBox(list(c.values())[:4]), w.VBox(list(c.values())[4:])]))


def plot_incast(r: rdma.IncastResult, axes, label: str = "") -> None:
    """Three panels of one :class:`~aichip.rdma.IncastResult`: the congested queue over time,
    each sender's goodput (and the victim's), and the senders' rates over time (up to 8)."""
    t_ms = r.queue_t_s * 1e3
    axes[0].plot(t_ms, r.queue_bytes / 1e3, label=label)
    axes[0].set_xlabel("time (ms)")
    axes[0].set_ylabel("congested queue (KB)")
    axes[0].set_title("Switch queue")
    bars = list(r.per_flow_GBps) + ([] if np.isnan(r.victim_GBps) else [r.victim_GBps])
    colors = ["C0"] * len(r.per_flow_GBps) + ["C3"] * (len(bars) - len(r.per_flow_GBps))
    axes[1].bar(range(len(bars)), bars, color=colors)
    axes[1].set_xlabel("sender (red: victim flow)")
    axes[1].set_ylabel("goodput, second half (GB/s)")
    axes[1].set_title("Per-flow goodput")
    for f in range(min(8, r.rate_Gbps.shape[0])):
        axes[2].plot(t_ms, r.rate_Gbps[f], lw=1)
    axes[2].set_xlabel("time (ms)")
    axes[2].set_ylabel("sending rate (Gb/s)")
    axes[2].set_title("Senders' rates (up to 8)")


def incast_explorer(senders=16, cc="dcqcn", pfc=True, buffer_MB=3) -> w.Widget:
    """Senders, congestion control, PFC and switch buffer of :func:`aichip.rdma.incast` (the numba
    kernel, 20 ms, a 10 Gb/s victim flow sharing sender 0's link)."""
    c = dict(style={"description_width": "120px"})
    ctl = {"senders": w.SelectionSlider(options=list(INCAST_SENDERS), value=senders,
                                        description="senders", continuous_update=False, **c),
           "cc": w.Dropdown(options=list(rdma.CC_MODES), value=cc,
                            description="congestion control", **c),
           "pfc": w.Checkbox(value=pfc, description="PFC (lossless)", indent=False),
           "buffer_MB": w.Dropdown(options=[3, 12], value=buffer_MB,
                                   description="buffer (MB)", **c)}

    def draw(senders, cc, pfc, buffer_MB):
        try:
            r = rdma.incast(senders, cc, pfc, buffer_bytes=int(buffer_MB * 1e6),
                            duration_s=0.02, victim_Gbps=10.0)
        except ValueError as e:
            print(e)
            return
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
        plot_incast(r, axes)
        fig.tight_layout()
        plt.show()
        print(f"goodput {r.per_flow_GBps.sum():.2f} GB/s, Jain's index "
              f"{rdma.jain_index(r.per_flow_GBps):.3f}, victim {r.victim_GBps:.2f} GB/s, "
              f"drops {r.drops:,}, PAUSE frames {r.pause_frames:,}")

    # every congestion control with and without PFC; senders and buffer moved one at a time
    grid = {"cc": list(rdma.CC_MODES), "pfc": [True, False]}
    return explorer(draw, ctl, grid, axes={"senders": list(INCAST_SENDERS), "buffer_MB": [3, 12]},
                    dpi=100)
