"""Explorer for the scaling chapter: a model, a cluster and a parallel layout -> the predicted step
time and where it goes, the memory per GPU against the GPU's capacity, MFU, and the strong-scaling
efficiency of the model from 8 GPUs to thousands on every cluster (the best layout at each count).

Controls over :func:`aichip.scaling.step_time` and :func:`aichip.scaling.scaling_efficiency`; the
numbers come from there. Bad combinations (``tp`` not dividing the heads, a GPU count that
``tp * pp`` does not divide, ...) are reported with the model's own error message instead of a
figure.
"""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
from matplotlib import ticker

from .. import scaling
from .memory import plot_training_memory
from .static import explorer

__all__ = [
    "GPU_COUNTS", "SCALING_GPUS", "SEARCH", "STATIC_AXES", "STATIC_MODELS",
    "model_presets", "plot_breakdown",
    "plot_pipeline_schedule", "plot_scaling_efficiency", "draw_scaling", "scaling_explorer",
]

#: the parts of a step, in the order they are stacked, and their StepTime fields
_TERMS = (("compute", "compute_s"), ("TP comm.", "tp_comm_s"), ("PP comm.", "pp_comm_s"),
          ("DP comm. (exposed)", "dp_exposed_s"), ("bubble", "bubble_s"))
GPU_COUNTS = tuple(2**k for k in range(3, 14))         # 8 ... 8192
#: GPU counts of the scaling panel, and the layouts its search tries at each (a few seconds for
#: the three clusters on 2 cores; ``scaling.scaling_efficiency`` accepts the full search too)
SCALING_GPUS = (8, 32, 128, 512, 2048, 8192)
SEARCH = dict(zero_stages=(0, 1), recomputes=("selective",), max_micro_batch=4)
#: the models the static page offers (each brings a scaling sweep, the costly part)
STATIC_MODELS = ("18.4B", "39.1B", "145.6B", "1008B")
#: the values the static page offers for the layout's controls, each moved alone from the
#: explorer's initial layout (with its initial value added); every cluster is offered
STATIC_AXES = {"n_gpus": (256, 512, 1024, 2048, 4096), "tp": (1, 2, 4, 8, 16),
               "pp": (1, 2, 4, 8, 16, 32), "micro_batch": (1, 2, 4, 8),
               "global_batch": (1024, 2048), "interleave": (1, 2, 4), "zero_stage": (0, 1, 2, 3),
               "recompute": scaling.RECOMPUTE}


def model_presets() -> dict[str, scaling.TransformerConfig]:
    """The models of Megatron-LM's Table 1 (``scaling.megatron_table1``), by parameter count."""
    return {f"{r.params_B:g}B": scaling.TransformerConfig(int(r.n_layers), int(r.hidden),
                                                         int(r.n_heads))
            for r in scaling.megatron_table1().itertuples()}


def plot_breakdown(st, ax=None, title: str = ""):
    """A horizontal stacked bar of a :class:`aichip.scaling.StepTime` (seconds)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    left = 0.0
    for label, field in _TERMS:
        value = getattr(st, field)
        ax.barh(["step"], [value], left=left, label=f"{label}: {value:.2f} s")
        left += value
    ax.set_xlabel("time per iteration (s)")
    ax.set_title(title or f"step {st.total_s:.2f} s, MFU {st.mfu:.0%}")
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3)
    return ax


def plot_pipeline_schedule(schedule, ax=None):
    """A Gantt chart of :func:`aichip.scaling.simulate_1f1b`'s passes: one row per stage, forward
    passes light, backward passes dark, each labelled with its micro-batch."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * (schedule["stage"].max() + 1) + 1.2))
    for r in schedule.itertuples():
        forward = r.kind == "F"
        ax.barh(r.stage, r.end - r.start, left=r.start, color="C0" if forward else "C3",
                alpha=0.45 if forward else 0.9, edgecolor="k", lw=0.5)
        ax.text((r.start + r.end) / 2, r.stage, str(r.micro_batch), ha="center", va="center",
                fontsize=7)
    ax.invert_yaxis()
    ax.set_yticks(range(schedule["stage"].max() + 1))
    ax.set_ylabel("pipeline stage")
    ax.set_xlabel("time (forward pass = 1)")
    ax.set_title("1F1B schedule: forward (light) and backward (dark) passes by micro-batch; "
                 "white is bubble")
    return ax


def plot_scaling_efficiency(curves, ax=None, mark_gpus: int | None = None):
    """Strong-scaling efficiency against GPU count (log x), one line per cluster, from
    :func:`aichip.scaling.scaling_efficiency` frames ``{cluster: frame}``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for name, df in curves.items():
        ok = df.dropna(subset=["total_s"])
        ax.plot(ok["n_gpus"], 100 * ok["efficiency"], "o-", ms=3, label=name)
    if mark_gpus:
        ax.axvline(mark_gpus, color="k", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("GPUs (same global batch, best layout at each count)")
    ax.set_ylabel("strong-scaling efficiency (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Efficiency vs the smallest count that fits")
    ax.legend(fontsize=9)
    return ax


def draw_scaling(model: str, cluster: str, n_gpus: int, tp: int, pp: int, micro_batch: int,
                 global_batch: int, interleave: int, zero_stage: int, recompute: str,
                 sweeps: dict | None = None) -> None:
    """The explorer's view: breakdown, memory against capacity and the scaling panel for one
    choice of its controls (``model`` a key of :func:`model_presets`). A layout the model rejects
    prints the reason instead; one that does not fit says so and is not timed. ``sweeps`` caches
    the scaling panel's curves, which depend only on the model and the global batch."""
    presets = model_presets()
    names = scaling.cluster_names()
    sweeps = {} if sweeps is None else sweeps
    cfg = presets[model]
    kw = dict(micro_batch=micro_batch, interleave=interleave, zero_stage=zero_stage,
              recompute=recompute, sequence_parallel=tp > 1)
    try:
        if n_gpus % (tp * pp):
            raise ValueError(f"tp * pp = {tp * pp} must divide the GPU count {n_gpus}")
        dp = n_gpus // (tp * pp)
        par = scaling.ParallelConfig(dp, tp, pp, global_batch=global_batch, **kw)
        st = scaling.step_time(cfg, par, cluster)
    except ValueError as err:
        print(f"Not a valid layout: {err}")
        return
    key = (model, global_batch)
    if key not in sweeps:
        sweeps[key] = {name: scaling.scaling_efficiency(cfg, name, SCALING_GPUS, global_batch,
                                                        **SEARCH)
                       for name in names}
    # two rows, 10 inches wide: legible at the page's width (the breakdown's legend needs room)
    fig = plt.figure(figsize=(10, 7.5))
    spec = fig.add_gridspec(2, 2, height_ratios=[0.8, 1.4], width_ratios=[0.55, 1.45])
    axes = [fig.add_subplot(spec[0, :]), fig.add_subplot(spec[1, 0]), fig.add_subplot(spec[1, 1])]
    if st.fits:
        plot_breakdown(st, axes[0], f"{model} on {n_gpus} GPUs ({dp}x{tp}x{pp}): "
                                    f"{st.total_s:.2f} s, MFU {st.mfu:.0%}")
    else:
        axes[0].text(0.5, 0.5, f"{model} on {n_gpus} GPUs ({dp}x{tp}x{pp}):\n"
                               "does not fit in memory, not timed", ha="center", va="center",
                     fontsize=11, transform=axes[0].transAxes)
        axes[0].set_axis_off()
    plot_training_memory(st.memory, st.capacity_bytes / 1e9, cluster, ax=axes[1])
    plot_scaling_efficiency(sweeps[key], axes[2], n_gpus)
    fig.tight_layout()
    plt.show()


def scaling_explorer(model: str = "1008B", cluster: str = "gb200_nvl72", n_gpus: int = 1024,
                     tp: int = 8, pp: int = 8, micro_batch: int = 1, global_batch: int = 1024,
                     interleave: int = 1, zero_stage: int = 1, recompute: str = "selective",
                     static: bool | None = None) -> w.Widget:
    """Model, cluster and layout -> step-time breakdown, memory per GPU against capacity, MFU, and
    strong-scaling efficiency on every cluster (:func:`draw_scaling`; ``dp = n_gpus / (tp pp)``;
    the scaling panel keeps ``global_batch`` and takes the fastest layout :data:`SEARCH` finds at
    each of :data:`SCALING_GPUS`). Static HTML: every control moves, one at a time from the
    initial layout (:data:`STATIC_AXES`; the scaling panel's search is the costly part, so the
    global batch offers two values)."""
    presets = model_presets()
    names = scaling.cluster_names()
    sweeps = {}
    c = dict(
        model=w.Dropdown(options=list(presets), value=model, description="model"),
        cluster=w.Dropdown(options=names, value=cluster, description="cluster"),
        n_gpus=w.Dropdown(options=GPU_COUNTS, value=n_gpus, description="GPUs"),
        tp=w.Dropdown(options=[1, 2, 4, 8, 16, 32, 64], value=tp, description="TP"),
        pp=w.Dropdown(options=[1, 2, 4, 8, 16, 32, 64], value=pp, description="PP"),
        micro_batch=w.Dropdown(options=[1, 2, 4, 8], value=micro_batch, description="micro-batch"),
        global_batch=w.Dropdown(options=[256, 512, 1024, 1536, 2048, 3072, 4096],
                                value=global_batch, description="global batch"),
        interleave=w.Dropdown(options=[1, 2, 4], value=interleave, description="interleave"),
        zero_stage=w.Dropdown(options=[0, 1, 2, 3], value=zero_stage, description="ZeRO stage"),
        recompute=w.Dropdown(options=scaling.RECOMPUTE, value=recompute, description="recompute"))

    def draw(**values):
        draw_scaling(**values, sweeps=sweeps)

    def arrange(ctrl):
        v = list(ctrl.values())
        return w.HBox([w.VBox(v[:5]), w.VBox(v[5:])])

    axes = {name: sorted({*values, c[name].value}, key=list(c[name].options).index)
            for name, values in STATIC_AXES.items()}
    axes["model"] = sorted({*STATIC_MODELS, model}, key=list(presets).index)
    axes["cluster"] = list(names)
    return explorer(draw, c, axes=axes, arrange=arrange, static=static, dpi=100)
