"""Search the parallel layouts of a training job: every ``(dp, tp, pp, micro_batch, interleave,
zero_stage, recompute)`` that splits the model, fits in memory, and its predicted step time.

The enumeration keeps the layouts that :func:`~aichip.scaling.model.layout_error` accepts (the one
home of the validity rules); memory uses that :func:`aichip.training.training_memory` is its model
states plus activations proportional to the micro-batch; the times come from the kernel of
:func:`~aichip.scaling.model.step_time` (:mod:`aichip.scaling._kernel`, whose inputs one function
builds), run over all fitting layouts at once. ``tests/test_scaling.py`` checks the enumerated set
against a brute-force one, every row against :func:`step_time`, and a few layouts against a
pure-Python evaluation.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .. import training
from ..validation import check_int
from ._kernel import Out, evaluate, resolve_cluster
from .counting import RECOMPUTE
from .model import (
    ParallelConfig,
    TransformerConfig,
    layout_error,
    memory_per_gpu,
    zero3_buffer_bytes,
)

__all__ = ["search_layouts", "scaling_efficiency"]

_LAYOUT = ["dp", "tp", "pp", "micro_batch", "interleave", "zero_stage", "recompute"]
_TIMES = {"compute_s": Out.COMPUTE, "tp_comm_s": Out.TP_COMM, "pp_comm_s": Out.PP_COMM,
          "bubble_s": Out.BUBBLE, "dp_exposed_s": Out.DP_EXPOSED, "total_s": Out.TOTAL}
_COLUMNS = [*_LAYOUT, "total_s", "compute_s", "tp_comm_s", "pp_comm_s", "bubble_s",
            "dp_exposed_s", "comm_s", "memory_GB", "mfu", "hfu"]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _candidates(model, n_gpus, global_batch, max_tp, max_micro_batch, interleaves, zero_stages,
                recomputes) -> pd.DataFrame:
    """Every layout of ``n_gpus`` GPUs within the search's bounds that :func:`layout_error`
    accepts, in the order tp, pp, micro-batch, interleave, ZeRO stage, recomputation."""
    rows = []
    for tp in _divisors(n_gpus):
        for pp in _divisors(n_gpus // tp):
            dp = n_gpus // (tp * pp)
            for b, v, z in itertools.product(range(1, max_micro_batch + 1), interleaves,
                                             zero_stages):
                if tp <= max_tp and not layout_error(dp, tp, pp, b, global_batch, v, z, model):
                    rows.extend((dp, tp, pp, b, v, z, r) for r in recomputes)
    return pd.DataFrame(rows, columns=_LAYOUT)


def _memory_bytes(model, frame: pd.DataFrame) -> np.ndarray:
    """Bytes per GPU of every layout: :func:`aichip.training.training_memory` is its model states
    (which depend on ``dp, tp, pp`` and the ZeRO stage) plus activations proportional to the
    micro-batch (which depend on ``tp`` and the recomputation), each computed once per distinct
    combination; ZeRO 3 adds :func:`~aichip.scaling.model.zero3_buffer_bytes`."""
    M = model
    if not M.is_gpt:  # no closed form split: each layout's memory (model.memory_per_gpu)
        return np.array([memory_per_gpu(M, ParallelConfig(
            int(r.dp), int(r.tp), int(r.pp), int(r.micro_batch), int(r.global_batch),
            int(r.interleave), int(r.zero_stage), r.recompute, bool(r.tp > 1))).total_bytes
            + zero3_buffer_bytes(M, int(r.tp), int(r.zero_stage)) for r in frame.itertuples()])
    states, acts = {}, {}
    state_keys = list(zip(frame.dp, frame.tp, frame.pp, frame.zero_stage, strict=True))
    act_keys = list(zip(frame.tp, frame.recompute, strict=True))
    for key in set(state_keys):
        dp, tp, pp, z = (int(x) for x in key)
        mem = training.training_memory(M.n_layers, M.hidden, M.n_heads, M.vocab, M.seq_len, 1,
                                       zero_stage=z, dp=dp, tp=tp, pp=pp)
        states[key] = mem.total_bytes - mem.activations_bytes + zero3_buffer_bytes(M, tp, z)
    for key in set(act_keys):
        tp, r = int(key[0]), key[1]
        acts[key] = training.activation_bytes(M.seq_len, 1, M.hidden, M.n_heads, M.n_layers,
                                              tp=tp, sequence_parallel=tp > 1, recompute=r)
    return (np.array([states[k] for k in state_keys])
            + frame.micro_batch.to_numpy() * np.array([acts[k] for k in act_keys]))


def _check_search(n_gpus, global_batch, max_tp, max_micro_batch, interleaves, zero_stages,
                  recomputes, cl):
    n_gpus = check_int("n_gpus", n_gpus, minimum=1)
    global_batch = check_int("global_batch", global_batch, minimum=1)
    max_tp = cl.domain_gpus if max_tp is None else check_int("max_tp", max_tp, minimum=1)
    max_micro_batch = check_int("max_micro_batch", max_micro_batch, minimum=1)
    interleaves = tuple(check_int("interleaves", v, minimum=1) for v in interleaves)
    zero_stages = tuple(check_int("zero_stages", z, minimum=0, maximum=3) for z in zero_stages)
    recomputes = tuple(recomputes)
    for r in recomputes:
        if r not in RECOMPUTE:
            raise ValueError(f"recomputes must hold values of {RECOMPUTE}, got {r!r}")
    return n_gpus, global_batch, max_tp, max_micro_batch, interleaves, zero_stages, recomputes


def search_layouts(model: TransformerConfig, n_gpus, cluster, global_batch, *, max_tp=None,
                   max_micro_batch=16, interleaves=(1,), zero_stages=(0, 1, 2, 3),
                   recomputes=RECOMPUTE, overlap_dp=True, fused_attention=False,
                   zero3_flat=False) -> pd.DataFrame:
    """Every layout of ``model`` on ``n_gpus`` GPUs of ``cluster`` that fits in memory, fastest
    first.

    Parameters
    ----------
    model : TransformerConfig
    n_gpus : int, >= 1
        ``dp * tp * pp`` of every layout.
    cluster : str or Cluster
    global_batch : int, >= 1
        Sequences per iteration; ``dp`` must divide it.
    max_tp : int or None
        Largest tensor-parallel degree tried (default: the cluster's NVLink domain size).
    max_micro_batch : int, >= 1
        Largest micro-batch tried.
    interleaves, zero_stages, recomputes : sequences
        Values tried. A layout is kept when :func:`~aichip.scaling.model.layout_error` accepts it
        (the rules of :class:`~aichip.scaling.model.ParallelConfig` and
        :func:`~aichip.scaling.model.check_layout`).
    overlap_dp : bool
        As for :func:`~aichip.scaling.model.step_time`.
    fused_attention : bool
        As :attr:`~aichip.scaling.model.ParallelConfig.fused_attention`, for every layout (the
        search leaves context and expert parallelism at 1).
    zero3_flat : bool
        As for :func:`~aichip.scaling.model.step_time`.

    Returns
    -------
    DataFrame
        One row per fitting layout (columns ``dp, tp, pp, micro_batch, interleave, zero_stage,
        recompute``, the times of :class:`~aichip.scaling.model.StepTime` in seconds, ``memory_GB``
        (1e9 bytes), ``mfu``, ``hfu``), sorted by ``total_s``. Sequence parallelism is on whenever
        ``tp > 1``. ``attrs["candidates"]`` holds the number of valid layouts enumerated (before
        the memory check). The times come from the kernel of
        :func:`~aichip.scaling.model.step_time`, run over all fitting layouts at once.
    """
    if not isinstance(model, TransformerConfig):
        raise TypeError(f"model must be a TransformerConfig, got {type(model).__name__}")
    cl = resolve_cluster(cluster)
    n_gpus, global_batch, *bounds = _check_search(n_gpus, global_batch, max_tp, max_micro_batch,
                                                  interleaves, zero_stages, recomputes, cl)
    frame = _candidates(model, n_gpus, global_batch, *bounds)
    frame["global_batch"] = global_batch
    candidates = len(frame)
    memory = _memory_bytes(model, frame) if candidates else np.empty(0)
    frame["memory_GB"] = memory / 1e9
    frame = frame[memory <= cl.memory_bytes].reset_index(drop=True)
    frame["sequence_parallel"] = frame.tp > 1
    frame["cp"], frame["ep"] = 1, 1
    frame["fused_attention"] = bool(fused_attention)
    if frame.empty:
        out = pd.DataFrame(columns=_COLUMNS)
        out.attrs["candidates"] = candidates
        return out
    _, times = evaluate(model, frame, cl, bool(overlap_dp), None, bool(zero3_flat))
    for name, j in _TIMES.items():
        frame[name] = times[:, j]
    frame["comm_s"] = frame.tp_comm_s + frame.pp_comm_s + frame.dp_exposed_s
    peak = cl.peak_TFLOPs * 1e12
    M = model
    flops = {r: M.flops_per_iteration(global_batch, r) for r in RECOMPUTE}
    frame["mfu"] = flops["none"] / (frame.total_s * n_gpus * peak)
    frame["hfu"] = frame.recompute.map(flops) / (frame.total_s * n_gpus * peak)
    frame = frame[_COLUMNS].sort_values("total_s", kind="stable").reset_index(drop=True)
    frame.attrs["candidates"] = candidates
    return frame


def scaling_efficiency(model: TransformerConfig, cluster, gpu_counts, global_batch,
                       **search_kwargs) -> pd.DataFrame:
    """Strong scaling: the fastest layout (:func:`search_layouts`) of ``model`` with a fixed
    ``global_batch`` on each GPU count, and how well the GPUs are used as the count grows.

    Returns
    -------
    DataFrame
        One row per count in ``gpu_counts`` (ascending): ``n_gpus``, the best layout (``dp, tp, pp,
        micro_batch, interleave, zero_stage, recompute``), ``total_s``, ``tokens_per_s``,
        ``mfu``, ``speedup`` (over the smallest count that fits) and ``efficiency`` (``speedup``
        divided by the GPU-count ratio). A count with no fitting layout (too few GPUs for the
        model's memory, or none dividing the batch) has NaN times and no layout.
    """
    counts = sorted({check_int("gpu_counts", n, minimum=1) for n in gpu_counts})
    if not counts:
        raise ValueError("gpu_counts must hold at least one GPU count")
    rows = []
    for n in counts:
        df = search_layouts(model, n, cluster, global_batch, **search_kwargs)
        if df.empty:
            rows.append({"n_gpus": n, "total_s": np.nan, "mfu": np.nan})
            continue
        best = df.iloc[0]
        rows.append({"n_gpus": n, **{k: best[k] for k in _LAYOUT},
                     "total_s": float(best.total_s), "mfu": float(best.mfu)})
    out = pd.DataFrame(rows, columns=["n_gpus", *_LAYOUT, "total_s", "mfu"])
    out["tokens_per_s"] = global_batch * model.seq_len / out.total_s
    fitting = out.dropna(subset=["total_s"])
    if fitting.empty:
        out["speedup"] = np.nan
        out["efficiency"] = np.nan
        return out
    first = fitting.iloc[0]
    out["speedup"] = first.total_s / out.total_s
    out["efficiency"] = out.speedup / (out.n_gpus / first.n_gpus)
    return out
