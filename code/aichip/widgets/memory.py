"""Explorers for the memory chapter: the training-memory calculator and the cache sweep curves.

Controls over :mod:`aichip.training` and :mod:`aichip.memory`; the numbers come from there.
"""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt

from .. import chips
from .. import training as T
from .static import explorer

__all__ = ["cache_levels_explorer", "plot_cache_sweeps", "plot_training_memory",
           "training_memory_explorer"]

_PARTS = (("params_bytes", "weights"), ("grads_bytes", "gradients"),
          ("optimizer_bytes", "optimizer state"), ("activations_bytes", "activations"))


def plot_training_memory(mem: T.TrainingMemory, capacity_GB: float, title: str = "", ax=None):
    """Stacked bar of a :class:`aichip.training.TrainingMemory` (GB) with a line at
    ``capacity_GB``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    bottom = 0.0
    for field, label in _PARTS:
        value = getattr(mem, field) / 1e9
        ax.bar(["per GPU"], [value], bottom=bottom, label=f"{label}: {value:,.1f} GB")
        bottom += value
    ax.axhline(capacity_GB, color="k", ls="--", label=f"GPU capacity {capacity_GB:,.0f} GB")
    ax.set_ylabel("memory per GPU (GB = 1e9 bytes)")
    ax.set_title(title or "Where a GPU's memory goes when training")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1))
    return ax


def plot_cache_sweeps(latency, bandwidth=None, levels=(), os_levels=(), axes=None):
    """Latency (and read bandwidth) against working set, log-log, with the detected levels as
    solid lines and the OS's caches as dotted lines."""
    n = 1 if bandwidth is None else 2
    if axes is None:
        _, axes = plt.subplots(1, n, figsize=(5.5 * n, 3.8), squeeze=False)
        axes = axes[0]
    series = [(latency, "latency_ns", "load latency (ns)", "Pointer-chasing latency")]
    if bandwidth is not None:
        series.append((bandwidth, "read_GBps", "read bandwidth (GB/s, 1 thread)", "Read bandwidth"))
    for ax, (df, col, ylabel, title) in zip(axes, series, strict=True):
        ax.loglog(df["working_set_bytes"] / 2**10, df[col], "o-", ms=3)
        for lv in levels:
            ax.axvline(lv.size_bytes / 2**10, color="C1", label=f"detected L{lv.level}")
        for c in os_levels:
            ax.axvline(c.size_bytes / 2**10, color="C2", ls=":", label=f"OS: L{c.level} {c.kind}")
        ax.set_xlabel("working set (KiB)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    return axes


def training_memory_explorer(model: str = "GPT-3 175B", gpu: str = "NVIDIA H100 SXM5") -> w.Widget:
    """Training-memory calculator: model shape, sequence, micro-batch, optimizer, precision, ZeRO,
    TP/SP/PP/DP, recomputation and GPU; a stacked bar per GPU and the largest micro-batch that
    fits."""
    # layers, hidden, heads, vocab (Brown et al. 2020, Table 2.1). For GPT-3 XL (1.3B) the table
    # prints 24 heads of d_head = 128, but 24 * 128 = 3072 is not its d_model of 2048 (and 2048
    # does not split into 24 equal heads); 16 heads keep the printed d_head: 16 * 128 = 2048.
    shapes = {
        "GPT-3 1.3B": (24, 2048, 16, 50257), "GPT-3 6.7B": (32, 4096, 32, 50257),
        "GPT-3 175B": (96, 12288, 96, 50257)}
    gpus = [n for n in chips.names() if chips.get(n).kind == "GPU" and chips.get(n).mem_GB]
    c = dict(
        model=w.Dropdown(options=list(shapes), value=model, description="model"),
        seq_len=w.IntText(2048, description="sequence"),
        micro_batch=w.IntSlider(1, min=1, max=32, description="micro-batch"),
        optimizer=w.Dropdown(options=T.optimizers(), value="adam", description="optimizer"),
        precision=w.Dropdown(options=T.PRECISIONS, value="mixed", description="precision"),
        zero_stage=w.Dropdown(options=T.ZERO_STAGES, value=1, description="ZeRO stage"),
        dp=w.Dropdown(options=[1, 2, 4, 8, 16, 32, 64], value=8, description="DP"),
        tp=w.Dropdown(options=[1, 2, 4, 8], value=8, description="TP"),
        pp=w.Dropdown(options=[1, 2, 4, 8, 16], value=8, description="PP"),
        sequence_parallel=w.Checkbox(True, description="sequence parallel"),
        recompute=w.Dropdown(options=T.RECOMPUTE, value="selective", description="recompute"),
        gpu=w.Dropdown(options=gpus, value=gpu, description="GPU"))

    def show(model, gpu, micro_batch, **kw):
        layers, hidden, heads, vocab = shapes[model]
        kw["tp"] = min(kw["tp"], heads)
        mem = T.training_memory(layers, hidden, heads, vocab, micro_batch=micro_batch, **kw)
        cap = T.gpu_capacity_GB(gpu)
        fits = T.largest_micro_batch(cap, layers, hidden, heads, vocab, **kw)
        plot_training_memory(mem, cap, f"{model} on {gpu}, first pipeline stage:\n"
                             f"largest micro-batch that fits = {fits}")
        plt.show()

    # the static page: every control moved alone from its initial value (all of its options, or
    # a few values of the number boxes and sliders): 39 views, fewer than a grid of the models
    grid = None
    axes = {name: list(c[name].options) for name in
            ("model", "optimizer", "precision", "zero_stage", "tp", "pp", "recompute", "gpu")}
    axes.update(seq_len=[1024, 2048, 4096, 8192], micro_batch=[1, 2, 4, 8, 16], dp=[1, 8, 64],
                sequence_parallel=[True, False])
    return explorer(show, c, grid, axes=axes, arrange=lambda c: w.HBox(
        [w.VBox(list(c.values())[:6]), w.VBox(list(c.values())[6:])]))


def cache_levels_explorer(latency, bandwidth=None, rise: float = 1.3, min_points: int = 3
                          ) -> w.Widget:
    """The measured sweep curves with the levels :func:`aichip.memory.detect_cache_levels` finds,
    re-detected as the reader moves its ``rise`` and ``min_points``; the OS's caches dotted."""
    from .. import machine, memory

    os_levels = [c for c in machine.cache_levels() if c.kind != "Instruction"]
    controls = dict(rise=w.FloatSlider(rise, min=1.1, max=3.0, step=0.1, description="rise"),
                    min_points=w.IntSlider(min_points, min=1, max=6, description="min points"))

    def show(rise, min_points):
        levels = memory.detect_cache_levels(latency, rise=rise, min_points=min_points)
        plot_cache_sweeps(latency, bandwidth, levels, os_levels)
        plt.tight_layout()
        plt.show()
        found = ", ".join(f"L{lv.level} {lv.size_bytes / 2**10:,.0f} KiB" for lv in levels)
        print(f"A level is a plateau of at least {min_points} sizes whose latency stays within "
              f"{rise:g}x of its lowest: found {found or 'none'}.")

    grid = {"rise": sorted({1.2, 1.5, 2.0, 2.5, rise}),
            "min_points": sorted({1, 2, 3, 5, min_points})}
    return explorer(show, controls, grid, arrange=lambda c: w.HBox(list(c.values())))
