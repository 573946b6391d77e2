"""Search the parallel layouts of a training job: every ``(dp, tp, pp, micro_batch, interleave,
zero_stage, recompute)`` that splits the model, fits in memory, and its predicted step time.

The enumeration builds flat arrays of candidate layouts; memory uses that
:func:`aichip.training.training_memory` is its model states (which depend on ``tp, pp, dp`` and the
ZeRO stage) plus activations proportional to the micro-batch (which depend on ``tp`` and the
recomputation), each computed once per distinct combination by that function; the times come from
the same numba kernel as :func:`~aichip.scaling.model.step_time`, run over all fitting layouts at
once. ``tests/test_scaling.py`` checks every row against :func:`step_time`.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .. import training
from ..validation import check_int
from .counting import RECOMPUTE, hardware_flops_per_iteration
from .model import (
    ACTIVATION_BYTES,
    TransformerConfig,
    _cluster_args,
    _resolve_cluster,
    _state_bytes_per_param,
    _step_batch,
    elementwise_s_per_micro_batch,
    zero3_buffer_bytes,
)

__all__ = ["search_layouts", "scaling_efficiency"]

_COLUMNS = ["dp", "tp", "pp", "micro_batch", "interleave", "zero_stage", "recompute", "total_s",
            "compute_s", "tp_comm_s", "pp_comm_s", "bubble_s", "dp_exposed_s", "comm_s",
            "memory_GB", "mfu", "hfu"]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def search_layouts(model: TransformerConfig, n_gpus, cluster, global_batch, *, max_tp=None,
                   max_micro_batch=16, interleaves=(1,), zero_stages=(0, 1, 2, 3),
                   recomputes=RECOMPUTE, overlap_dp=True) -> pd.DataFrame:
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
        Largest micro-batch tried (every divisor of ``global_batch / dp`` up to it).
    interleaves, zero_stages, recomputes : sequences
        Values tried (interleave > 1 only with ``pp > 1``; ZeRO 2/3 only with ``pp == 1``).
    overlap_dp : bool
        As for :func:`~aichip.scaling.model.step_time`.

    Returns
    -------
    DataFrame
        One row per fitting layout (columns ``dp, tp, pp, micro_batch, interleave, zero_stage,
        recompute``, the times of :class:`~aichip.scaling.model.StepTime` in seconds, ``memory_GB``
        (1e9 bytes), ``mfu``, ``hfu``), sorted by ``total_s``. Sequence parallelism is on whenever
        ``tp > 1``. ``attrs["candidates"]`` holds the number of layouts enumerated.
    """
    if not isinstance(model, TransformerConfig):
        raise TypeError(f"model must be a TransformerConfig, got {type(model).__name__}")
    n_gpus = check_int("n_gpus", n_gpus, minimum=1)
    global_batch = check_int("global_batch", global_batch, minimum=1)
    cl = _resolve_cluster(cluster)
    max_tp = cl.domain_gpus if max_tp is None else check_int("max_tp", max_tp, minimum=1)
    max_micro_batch = check_int("max_micro_batch", max_micro_batch, minimum=1)
    for v in interleaves:
        check_int("interleaves", v, minimum=1)
    for z in zero_stages:
        check_int("zero_stages", z, minimum=0, maximum=3)
    recomputes = tuple(recomputes)
    for r in recomputes:
        if r not in RECOMPUTE:
            raise ValueError(f"recomputes must hold values of {RECOMPUTE}, got {r!r}")
    M = model
    grad_b, param_b = _state_bytes_per_param()
    n_params = M.n_params

    layouts = []
    for tp in _divisors(M.n_heads):
        if tp > max_tp or n_gpus % tp:
            continue
        for pp in _divisors(M.n_layers):
            if (n_gpus // tp) % pp:
                continue
            dp = n_gpus // (tp * pp)
            if global_batch % dp:
                continue
            per_replica = global_batch // dp
            for b, v, z, r in itertools.product(_divisors(per_replica), interleaves, zero_stages,
                                                recomputes):
                if b > max_micro_batch or (v > 1 and (pp == 1 or M.n_layers % (pp * v)
                                                      or (per_replica // b) % pp)):
                    continue
                if z >= 2 and pp > 1:
                    continue
                layouts.append((dp, tp, pp, b, v, z, r))
    frame = pd.DataFrame(layouts, columns=_COLUMNS[:7])
    candidates = len(frame)
    if candidates == 0:
        out = pd.DataFrame(columns=_COLUMNS)
        out.attrs["candidates"] = 0
        return out

    # memory: model states per (dp, tp, pp, zero) plus activations per (tp, recompute) x b
    states, acts = {}, {}
    for key in set(zip(frame.dp, frame.tp, frame.pp, frame.zero_stage, strict=True)):
        dp, tp, pp, z = (int(x) for x in key)
        mem = training.training_memory(M.n_layers, M.hidden, M.n_heads, M.vocab, M.seq_len, 1,
                                       zero_stage=z, dp=dp, tp=tp, pp=pp)
        states[key] = mem.total_bytes - mem.activations_bytes + zero3_buffer_bytes(M, tp, z)
    for key in set(zip(frame.tp, frame.recompute, strict=True)):
        tp, r = int(key[0]), key[1]
        acts[key] = training.activation_bytes(M.seq_len, 1, M.hidden, M.n_heads, M.n_layers,
                                              tp=tp, sequence_parallel=tp > 1, recompute=r)
    memory = (np.array([states[k] for k in zip(frame.dp, frame.tp, frame.pp, frame.zero_stage,
                                                strict=True)])
              + frame.micro_batch.to_numpy()
              * np.array([acts[k] for k in zip(frame.tp, frame.recompute, strict=True)]))
    frame["memory_GB"] = memory / 1e9
    frame = frame[memory <= cl.memory_bytes].reset_index(drop=True)

    hw1 = {r: hardware_flops_per_iteration(1, M.seq_len, M.n_layers, M.hidden, M.vocab, r)
           for r in RECOMPUTE}
    tp_a = frame.tp.to_numpy(np.int64)
    pp_a = frame.pp.to_numpy(np.int64)
    b_a = frame.micro_batch.to_numpy(np.int64)
    dp_a = frame.dp.to_numpy(np.int64)
    c = (np.array([hw1[r] for r in frame.recompute]) * b_a / (tp_a * pp_a) / cl.effective_FLOPs)
    keys = list(zip(frame.micro_batch, frame.tp, frame.pp, frame.recompute, strict=True))
    elem = {k: elementwise_s_per_micro_batch(M, int(k[0]), int(k[1]), int(k[2]), int(k[1]) > 1,
                                             k[3], cl) for k in set(keys)}
    c = c + np.array([elem[k] for k in keys])
    m = global_batch // (b_a * dp_a)
    n_local = n_params / (tp_a * pp_a)
    times = _step_batch(c.astype(np.float64), m.astype(np.int64), dp_a, tp_a, pp_a,
                        frame.interleave.to_numpy(np.int64),
                        frame.zero_stage.to_numpy(np.int64),
                        (frame.recompute == "full").to_numpy(),
                        (ACTIVATION_BYTES * M.seq_len * M.hidden * b_a).astype(np.float64),
                        M.n_layers, n_local * grad_b, n_local * param_b, *_cluster_args(cl),
                        bool(overlap_dp))
    for j, name in enumerate(["compute_s", "tp_comm_s", "pp_comm_s", "bubble_s", "dp_comm",
                              "dp_exposed_s", "total_s"]):
        if name != "dp_comm":
            frame[name] = times[:, j]
    frame["comm_s"] = frame.tp_comm_s + frame.pp_comm_s + frame.dp_exposed_s
    peak = cl.peak_TFLOPs * 1e12
    model_flops = hardware_flops_per_iteration(global_batch, M.seq_len, M.n_layers, M.hidden,
                                               M.vocab, "none")
    frame["mfu"] = model_flops / (frame.total_s * n_gpus * peak)
    frame["hfu"] = (np.array([hw1[r] for r in frame.recompute]) * global_batch
                    / (frame.total_s * n_gpus * peak))
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
        rows.append({"n_gpus": n, **{k: best[k] for k in _COLUMNS[:7]},
                     "total_s": float(best.total_s), "mfu": float(best.mfu)})
    out = pd.DataFrame(rows, columns=["n_gpus", *_COLUMNS[:7], "total_s", "mfu"])
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
