"""Figures and explorers of the serving chapter: the measured decode against its roofline bound,
a decoding step's compute and memory time against the batch on a catalogue GPU, and the batching
policies of the serving simulator under a request rate.

Controls over :mod:`aichip.serving` and :mod:`aichip.decodebench`; every number comes from there.
"""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import pandas as pd

from .. import serving
from .static import explorer

__all__ = ["BATCHES", "RATES", "plot_decode_measurement", "draw_decode_step", "decode_explorer",
           "draw_batching", "batching_explorer", "MODELS"]

#: batch sizes the decode explorer prices (1 ... 1024)
BATCHES = tuple(2 ** k for k in range(11))
#: request rates (requests/s) the batching explorer's static page offers
RATES = (2.0, 5.0, 10.0, 20.0)
#: the models the explorers offer, by name
MODELS = {"Llama 3 8B": serving.llama3_8b, "Llama 3 70B": serving.llama3_70b}


def plot_decode_measurement(table: pd.DataFrame, ax=None):
    """Measured tokens/s per batch (:func:`aichip.decodebench.measure_decode`'s table) against the
    roofline's bound, on log-log axes; the bound's memory and compute parts are marked."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(table["batch"], table["predicted_tokens_per_s"], "k--", label="roofline bound")
    for bound, marker in (("memory", "o"), ("compute", "s")):
        part = table[table["bound"] == bound]
        ax.loglog(part["batch"], part["tokens_per_s"], marker, ms=8,
                  label=f"measured ({bound}-bound by the model)")
    ax.set_xlabel("batch (sequences decoded together)")
    ax.set_ylabel("tokens/s")
    ax.set_xticks(list(table["batch"]), [str(b) for b in table["batch"]])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def draw_decode_step(model: str = "Llama 3 8B", chip: str = "NVIDIA H100 SXM5",
                     fmt: str = "bf16", context: int = 2048) -> None:
    """Compute time and memory time of one decoding step against the batch, with the critical
    batch (:func:`aichip.serving.critical_batch`) marked, for ``model`` on ``chip`` with weights
    and KV cache in ``fmt``."""
    shape, hw = MODELS[model](), serving.hardware(chip, fmt)
    width = serving.format_bytes(fmt)
    steps = [serving.step_time(serving.decode_work(shape, b, context, width, width), hw)
             for b in BATCHES]
    fig, (ax, ax_tpot) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax.loglog(BATCHES, [1e3 * s.memory_s for s in steps], "o-", label="memory time")
    ax.loglog(BATCHES, [1e3 * s.compute_s for s in steps], "s-", label="compute time")
    critical = serving.critical_batch(shape, hw, context, width, width)
    if critical is not None:
        ax.axvline(critical, color="k", ls=":", label=f"critical batch {critical}")
    ax.set_xlabel("batch")
    ax.set_ylabel("time per step (ms)")
    ax.set_title(f"{model}, {chip}, {fmt}, {context} tokens cached")
    ax.legend(fontsize=8)
    ax_tpot.semilogx(BATCHES, [1e3 * serving.tpot_s(shape, hw, b, context, width, width)
                               for b in BATCHES], "o-")
    ax_tpot.set_xlabel("batch")
    ax_tpot.set_ylabel("TPOT (ms per token)")
    ax_tpot.set_title("time per output token (roofline bound)")
    for a in (ax, ax_tpot):
        a.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plt.show()
    if critical is None:
        print("no batch reaches the ridge point: the KV cache's bytes grow as fast as the FLOPs")


def decode_explorer(model: str = "Llama 3 8B", chip: str = "NVIDIA H100 SXM5", fmt: str = "bf16",
                    context: int = 2048) -> w.Widget:
    """Explorer over :func:`draw_decode_step`: model, GPU, number format and context length."""
    contexts = [512, 2048, 8192]
    controls = {"model": w.Dropdown(options=list(MODELS), value=model, description="model"),
                "chip": w.Dropdown(options=["NVIDIA H100 SXM5", "NVIDIA H200 SXM"], value=chip,
                                   description="GPU"),
                "fmt": w.ToggleButtons(options=["bf16", "fp8"], value=fmt, description="format"),
                "context": w.SelectionSlider(options=contexts, value=context,
                                             description="context")}
    # the static page: every model; for each, the format, context and GPU moved one at a time
    return explorer(draw_decode_step, controls, grid={"model": list(MODELS)},
                    axes={"fmt": ["bf16", "fp8"], "context": contexts,
                          "chip": list(controls["chip"].options)})


def draw_batching(rate_per_s: float = 10.0, tpot_slo_ms: float = 50.0, n_requests: int = 300,
                  model: str = "Llama 3 8B") -> None:
    """Throughput, goodput and TTFT/TPOT percentiles of the three batching policies of
    :func:`aichip.serving.simulate` serving ``n_requests`` at ``rate_per_s`` on one H100."""
    table = serving.simulate(MODELS[model](), serving.hardware(), rate_per_s=rate_per_s,
                             n_requests=n_requests, tpot_slo_s=tpot_slo_ms / 1e3)
    fig, (ax_tok, ax_ttft, ax_good) = plt.subplots(1, 3, figsize=(11, 3.4))
    table["throughput_tok_s"].plot.bar(ax=ax_tok, rot=0)
    ax_tok.set_ylabel("output tokens/s")
    table[["ttft_p50_s", "ttft_p99_s"]].plot.bar(ax=ax_ttft, rot=0, logy=True)
    ax_ttft.set_ylabel("TTFT (s)")
    table[["requests_per_s", "goodput_req_s"]].plot.bar(ax=ax_good, rot=0)
    ax_good.set_ylabel("requests/s")
    ax_good.set_title(f"goodput: TTFT <= 1 s, TPOT <= {tpot_slo_ms:g} ms", fontsize=9)
    ax_tok.set_title(f"{model}, {rate_per_s:g} requests/s", fontsize=9)
    fig.tight_layout()
    plt.show()
    print(table[["ttft_p99_s", "tpot_p99_s", "slo_attainment", "mean_batch"]].round(3).to_string())


def batching_explorer(rate_per_s: float = 10.0, tpot_slo_ms: float = 50.0) -> w.Widget:
    """Explorer over :func:`draw_batching`: request rate and the TPOT target of goodput."""
    slos = [20.0, 50.0]
    controls = {"rate_per_s": w.SelectionSlider(options=list(RATES), value=rate_per_s,
                                                description="requests/s"),
                "tpot_slo_ms": w.ToggleButtons(options=slos, value=tpot_slo_ms,
                                               description="TPOT target (ms)")}
    return explorer(draw_batching, controls, grid={"rate_per_s": list(RATES), "tpot_slo_ms": slos})
