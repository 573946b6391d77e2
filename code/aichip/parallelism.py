"""What each kind of parallelism sends, and whether a gradient all-reduce hides behind the backward.

Training a transformer on many GPUs splits the work four ways, and each split has its own
collective (Shoeybi et al. 2019 and Narayanan et al. 2021 for tensor and pipeline parallelism,
Rajbhandari et al. 2020 for ZeRO, Lepikhin et al. 2021 for expert parallelism):

==============  ==============================  =====================================  =========
parallelism     collective                      message (bytes, ``v`` bytes per value)  calls
==============  ==============================  =====================================  =========
data            all-reduce of the gradients     ``v N``                                 1 a step
data (ZeRO-1)   reduce-scatter of gradients,    ``v N`` each                            1 + 1 a step
                all-gather of updated weights
data (ZeRO-2)   as ZeRO-1 (the gradients are    ``v N`` each                            1 + 1 a step
                kept only as a shard)
data (ZeRO-3)   reduce-scatter of gradients,    ``v N`` each                            1 + 2 a step
                all-gather of the weights
                (forward and backward)
tensor          all-reduce of activations       ``v b s h``                             4 a layer
pipeline        send/receive of activations     ``v b s h``                             2 a stage
expert          all-to-all of routed tokens     ``v b s h k``                           4 a layer
==============  ==============================  =====================================  =========

``N`` parameters, micro-batch ``b`` sequences of ``s`` tokens, hidden size ``h``, ``k`` experts per
token. Tensor parallelism (Megatron) all-reduces the output of the attention block and of the MLP
block once each in the forward pass and their input gradients once each in the backward; pipeline
parallelism sends one activation forward and one gradient back per micro-batch and stage boundary;
an expert layer dispatches tokens to their experts and combines the results, forward and backward.

A data-parallel gradient all-reduce over ``n_nodes`` nodes of ``gpus_per_node`` GPUs uses the
two-level algorithm NCCL uses on rail-optimised clusters: ring reduce-scatter inside the node
(NVLink), ring all-reduce of each GPU's ``1/g`` share across the nodes on that GPU's own network
port (all ``g`` rails at once), ring all-gather inside the node. Each part is
:func:`aichip.alphabeta.cost` with its own ``alpha`` and ``beta``.

**Compiled costs.** The step-time model of the scaling chapter (:mod:`aichip.scaling`) evaluates
these costs for thousands of layouts inside a numba kernel, so the ring and two-level costs are also
here as ``@njit`` functions of plain numbers, unvalidated: :func:`ring_allreduce_s`,
:func:`ring_reduce_scatter_s`, :func:`ring_allgather_s`, :func:`send_s` and their two-level forms
:func:`two_level_allreduce_time`, :func:`two_level_reduce_scatter_time`,
:func:`two_level_allgather_time`. ``tests/test_parallelism.py`` checks each against
:func:`aichip.alphabeta.cost`.

The backward pass of a dense transformer costs about ``4 N`` FLOP per token (twice the forward's
``2 N``; Kaplan et al. 2020's ``6 N`` per token for the whole step). Bucketed all-reduces run while
the backward computes, so the communication hides when it takes less time than the backward; as
both are proportional to ``N``, the condition is a minimum number of tokens per GPU and step,
independent of the model size (:func:`min_tokens_to_hide`).
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
from numba import njit

from . import alphabeta as ab
from .validation import check_float, check_int

__all__ = ["parallelism_messages", "two_level_allreduce_s", "backward_time_s", "GradientSync",
           "gradient_sync", "min_tokens_to_hide", "BACKWARD_FLOP_PER_PARAM_TOKEN",
           "ring_allreduce_s", "ring_reduce_scatter_s", "ring_allgather_s", "send_s",
           "two_level_allreduce_time", "two_level_reduce_scatter_time",
           "two_level_allgather_time"]

#: FLOP per parameter and token of a dense transformer's backward pass (twice the forward's 2)
BACKWARD_FLOP_PER_PARAM_TOKEN = 4


def parallelism_messages(n_params, n_layers: int, hidden: int, seq_len: int, micro_batch: int,
                         bytes_per_value: int = 2, top_k: int = 2) -> pd.DataFrame:
    """The collective each kind of parallelism uses and the size of one of its messages.

    Parameters
    ----------
    n_params : float > 0, parameters of the model (``N``)
    n_layers, hidden, seq_len, micro_batch : int >= 1, the transformer's ``L``, ``h``, ``s``, ``b``
    bytes_per_value : int >= 1, bytes of one gradient, weight or activation value (2 for bf16)
    top_k : int >= 1, experts each token is routed to (expert parallelism)

    Returns
    -------
    DataFrame with one row per parallelism: ``parallelism``, ``collective``, ``what``,
    ``msg_bytes`` (one message, bytes) and ``calls_per_step`` (per micro-batch for tensor, pipeline
    and expert parallelism; tensor and expert calls are over all ``n_layers``, pipeline calls per
    stage boundary).
    """
    n = check_float("n_params", n_params, minimum=0, strict_minimum=True)
    n_layers = check_int("n_layers", n_layers, minimum=1)
    h = check_int("hidden", hidden, minimum=1)
    s = check_int("seq_len", seq_len, minimum=1)
    b = check_int("micro_batch", micro_batch, minimum=1)
    v = check_int("bytes_per_value", bytes_per_value, minimum=1)
    k = check_int("top_k", top_k, minimum=1)
    act = v * b * s * h
    rows = [
        ("data", "all-reduce", "gradients", v * n, 1),
        ("data, ZeRO-1", "reduce-scatter + all-gather", "gradients; updated weights", v * n, 2),
        ("data, ZeRO-2", "reduce-scatter + all-gather", "gradients; updated weights", v * n, 2),
        ("data, ZeRO-3", "reduce-scatter + all-gather", "gradients; weights (fwd and bwd)",
         v * n, 3),
        ("tensor", "all-reduce", "activations of attention and MLP", act, 4 * n_layers),
        ("pipeline", "send/receive", "activations; their gradients", act, 2),
        ("expert", "all-to-all", "routed tokens (dispatch, combine)", act * k, 4 * n_layers),
    ]
    return pd.DataFrame(rows, columns=["parallelism", "collective", "what", "msg_bytes",
                                       "calls_per_step"])


def two_level_allreduce_s(msg_bytes: float, n_nodes: int, gpus_per_node: int, intra_GBps: float,
                          inter_GBps: float, alpha_intra_s: float = 0.0,
                          alpha_inter_s: float = 0.0) -> float:
    """Seconds of an all-reduce of ``msg_bytes`` per GPU over ``n_nodes`` x ``gpus_per_node`` GPUs.

    ``t = RS_ring(g, n, intra) + AR_ring(m, n/g, inter) + AG_ring(g, n, intra)`` with ``g`` GPUs per
    node, ``m`` nodes, ``intra_GBps`` a GPU's NVLink bandwidth per direction (GB = 1e9 bytes) and
    ``inter_GBps`` its own network port's; every part is :func:`aichip.alphabeta.cost`. With one
    node it is a ring all-reduce inside the node.
    """
    n = check_float("msg_bytes", msg_bytes, minimum=0, strict_minimum=True)
    m = check_int("n_nodes", n_nodes, minimum=1)
    g = check_int("gpus_per_node", gpus_per_node, minimum=1)
    b_in = 1 / (1e9 * check_float("intra_GBps", intra_GBps, minimum=0, strict_minimum=True))
    b_out = 1 / (1e9 * check_float("inter_GBps", inter_GBps, minimum=0, strict_minimum=True))
    a_in = check_float("alpha_intra_s", alpha_intra_s, minimum=0)
    a_out = check_float("alpha_inter_s", alpha_inter_s, minimum=0)
    if m == 1:
        return ab.cost("allreduce", "ring", g, n, a_in, b_in)
    return (ab.cost("reduce_scatter", "ring", g, n, a_in, b_in)
            + ab.cost("allreduce", "ring", m, n / g, a_out, b_out)
            + ab.cost("allgather", "ring", g, n, a_in, b_in))


def backward_time_s(n_params, tokens: float, peak_TFLOPs: float, efficiency: float) -> float:
    """Seconds of a dense transformer's backward pass: ``4 N tokens / (peak * efficiency)``.

    ``tokens`` are the tokens one GPU processes in the step, ``peak_TFLOPs`` its dense peak at the
    training precision, ``efficiency`` in (0, 1] the fraction of the peak the backward reaches.
    """
    n = check_float("n_params", n_params, minimum=0, strict_minimum=True)
    t = check_float("tokens", tokens, minimum=0, strict_minimum=True)
    p = check_float("peak_TFLOPs", peak_TFLOPs, minimum=0, strict_minimum=True)
    e = check_float("efficiency", efficiency, minimum=0, maximum=1, strict_minimum=True)
    return BACKWARD_FLOP_PER_PARAM_TOKEN * n * t / (p * 1e12 * e)


class GradientSync(NamedTuple):
    """A data-parallel step's gradient all-reduce against its backward pass (seconds)."""

    allreduce_s: float
    backward_s: float
    exposed_s: float      # all-reduce time the backward does not cover: max(0, comm - back)
    hidden: bool          # allreduce_s <= backward_s


def gradient_sync(n_params, tokens_per_gpu: float, n_nodes: int, gpus_per_node: int,
                  intra_GBps: float, inter_GBps: float, peak_TFLOPs: float, efficiency: float,
                  bytes_per_grad: int = 2, alpha_intra_s: float = 0.0,
                  alpha_inter_s: float = 0.0) -> GradientSync:
    """Does the all-reduce of ``n_params`` gradients hide behind the backward pass?

    The all-reduce is :func:`two_level_allreduce_s` of ``bytes_per_grad * n_params`` bytes, the
    backward :func:`backward_time_s` of ``tokens_per_gpu``. The model is optimistic about overlap:
    the last bucket's all-reduce starts only when the backward ends, so a few per cent stay exposed
    even when ``hidden`` is true.
    """
    v = check_int("bytes_per_grad", bytes_per_grad, minimum=1)
    n = check_float("n_params", n_params, minimum=0, strict_minimum=True)
    comm = two_level_allreduce_s(v * n, n_nodes, gpus_per_node, intra_GBps, inter_GBps,
                                 alpha_intra_s, alpha_inter_s)
    back = backward_time_s(n, tokens_per_gpu, peak_TFLOPs, efficiency)
    return GradientSync(comm, back, max(0.0, comm - back), comm <= back)


def min_tokens_to_hide(n_nodes: int, gpus_per_node: int, intra_GBps: float, inter_GBps: float,
                       peak_TFLOPs: float, efficiency: float, bytes_per_grad: int = 2) -> float:
    """Tokens per GPU and step above which the gradient all-reduce takes less than the backward.

    With no latency both times are proportional to ``N``, so the threshold does not depend on the
    model: ``tokens >= T_ar(bytes_per_grad) * peak * efficiency / 4``, where ``T_ar(v)`` is
    :func:`two_level_allreduce_s` of ``v`` bytes (the all-reduce time per parameter).
    """
    v = check_int("bytes_per_grad", bytes_per_grad, minimum=1)
    p = check_float("peak_TFLOPs", peak_TFLOPs, minimum=0, strict_minimum=True)
    e = check_float("efficiency", efficiency, minimum=0, maximum=1, strict_minimum=True)
    per_param = two_level_allreduce_s(v, n_nodes, gpus_per_node, intra_GBps, inter_GBps)
    return per_param * p * 1e12 * e / BACKWARD_FLOP_PER_PARAM_TOKEN


# ----------------------------------------------------------------------------------------------
# compiled costs (plain numbers in, seconds out; no validation: callers validate)


@njit(cache=True)
def ring_allreduce_s(n_ranks, msg_bytes, alpha_s, beta_s_per_byte):
    """Ring all-reduce of ``msg_bytes`` per rank over ``n_ranks`` (seconds):
    ``2 (p-1) alpha + 2 (p-1)/p n beta``, 0 for one rank."""
    if n_ranks <= 1:
        return 0.0
    steps = n_ranks - 1.0
    return 2.0 * steps * alpha_s + 2.0 * steps / n_ranks * msg_bytes * beta_s_per_byte


@njit(cache=True)
def ring_reduce_scatter_s(n_ranks, msg_bytes, alpha_s, beta_s_per_byte):
    """Ring reduce-scatter of a ``msg_bytes`` vector over ``n_ranks`` (seconds):
    ``(p-1) alpha + (p-1)/p n beta``, 0 for one rank."""
    if n_ranks <= 1:
        return 0.0
    steps = n_ranks - 1.0
    return steps * alpha_s + steps / n_ranks * msg_bytes * beta_s_per_byte


@njit(cache=True)
def ring_allgather_s(n_ranks, msg_bytes, alpha_s, beta_s_per_byte):
    """Ring all-gather of a ``msg_bytes`` result over ``n_ranks`` (seconds): the same time as the
    reduce-scatter (:func:`ring_reduce_scatter_s`) without reduction cost."""
    return ring_reduce_scatter_s(n_ranks, msg_bytes, alpha_s, beta_s_per_byte)


@njit(cache=True)
def send_s(msg_bytes, alpha_s, beta_s_per_byte):
    """One point-to-point message (seconds): ``alpha + n beta``."""
    return alpha_s + msg_bytes * beta_s_per_byte


@njit(cache=True)
def two_level_allreduce_time(per_node, n_nodes, msg_bytes, alpha_in_s, beta_in, alpha_out_s,
                             beta_out):
    """All-reduce of ``msg_bytes`` per GPU over ``n_nodes`` nodes of ``per_node`` GPUs each: ring
    reduce-scatter inside the node, ring all-reduce of each GPU's ``1/per_node`` share across the
    nodes (every GPU on its own port), ring all-gather inside the node. With ``per_node = 1`` it is
    one ring over the network, with ``n_nodes = 1`` one ring inside the node."""
    return (ring_reduce_scatter_s(per_node, msg_bytes, alpha_in_s, beta_in)
            + ring_allreduce_s(n_nodes, msg_bytes / per_node, alpha_out_s, beta_out)
            + ring_allgather_s(per_node, msg_bytes, alpha_in_s, beta_in))


@njit(cache=True)
def two_level_reduce_scatter_time(per_node, n_nodes, msg_bytes, alpha_in_s, beta_in, alpha_out_s,
                                  beta_out):
    """Reduce-scatter of a ``msg_bytes`` vector in two levels: inside the node, then each GPU's
    ``1/per_node`` share across the nodes (arguments as :func:`two_level_allreduce_time`)."""
    return (ring_reduce_scatter_s(per_node, msg_bytes, alpha_in_s, beta_in)
            + ring_reduce_scatter_s(n_nodes, msg_bytes / per_node, alpha_out_s, beta_out))


@njit(cache=True)
def two_level_allgather_time(per_node, n_nodes, msg_bytes, alpha_in_s, beta_in, alpha_out_s,
                             beta_out):
    """All-gather of a ``msg_bytes`` result in two levels: each GPU's ``1/per_node`` share across
    the nodes, then inside the node (arguments as :func:`two_level_allreduce_time`)."""
    return (ring_allgather_s(n_nodes, msg_bytes / per_node, alpha_out_s, beta_out)
            + ring_allgather_s(per_node, msg_bytes, alpha_in_s, beta_in))
