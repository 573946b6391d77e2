"""Mixture-of-experts dispatch: which tokens go to which GPU, and how long the all-to-all takes.

A mixture-of-experts (MoE) layer sends every token to the ``k`` experts its router scores highest
and brings the results back: two all-to-alls (dispatch and combine) whose message sizes depend on
the routing, so they are all-to-all-v's, uneven. This module models them in four steps:

* **router**: a seeded router draws each token's affinities to ``n_experts`` experts
  (:func:`router_affinities`). Expert ``e`` has popularity ``w_e`` proportional to
  ``(1 + rank_e) ** -skew`` (a Zipf law over a seeded shuffle of the experts, :func:`popularity`;
  ``skew = 0``: all equal), and a token's logits are ``log w_e`` plus Gumbel noise, so that its
  top-1 expert is ``e`` with probability exactly ``w_e`` (the Gumbel-max property) and its top-k
  are ``k`` draws without replacement in proportion to ``w``. The affinities are the sigmoid of the
  logits, as DeepSeek-V3's router gives them; the sigmoid changes no order.
* **routing**: :func:`top_k` (each token's ``k`` highest affinities) or :func:`node_limited_top_k`
  (DeepSeek-V3's node-limited routing: first the ``max_nodes`` nodes whose experts' highest
  ``k / max_nodes`` affinities add up highest, then the top ``k`` among those nodes' experts).
* **send matrix**: experts sit in order on ranks, ``n_experts / n_ranks`` per rank, and ranks in
  order on nodes; tokens ``tokens_per_rank`` per rank. :func:`send_matrix` counts the token copies
  rank ``i`` sends to rank ``j`` (one per (token, expert) pair: a flat all-to-all-v), and
  :func:`rail_send_matrix` the two-hop dispatch DeepSeek-V3 uses: a token crosses to each other
  node it needs only once, over InfiniBand to the GPU with the same in-node index, which forwards
  it over NVLink to the experts' GPUs.
* **time**: :func:`alltoallv_time` charges every rank's NVLink and network port with what it sends
  and receives; the busiest port sets the time (``alpha`` per peer message plus bytes over the
  port's bandwidth, per direction, NVLink and network ports working at once).

Units: bytes, seconds, GB/s = 1e9 bytes/s per direction.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .validation import check_float, check_int

__all__ = ["DEEPSEEK_V3", "ExpertLayout", "popularity", "router_affinities", "top_k",
           "node_limited_top_k", "nodes_reached", "send_matrix", "rail_send_matrix",
           "uniform_send_matrix", "port_loads", "alltoallv_time", "uniform_alltoall_time",
           "alltoallv_counts", "dispatch_summary"]

#: DeepSeek-V3's MoE layer and its expert parallelism (DeepSeek-AI, arXiv 2412.19437: §4.2, 256
#: routed experts + 1 shared, 8 routed per token, at most 4 nodes per token, hidden size 7168;
#: §2.1.2, node-limited routing; §3.2, 64-way expert parallelism over 8 nodes of 8 GPUs, and
#: §3.2.2, the two-hop dispatch (InfiniBand, then NVLink); §3.3, dispatch in FP8, one byte per
#: element). The shared expert runs on every GPU and sends nothing.
DEEPSEEK_V3 = {"n_experts": 256, "k": 8, "max_nodes": 4, "n_ranks": 64, "ranks_per_node": 8,
               "hidden": 7168, "dispatch_bytes_per_element": 1}


class ExpertLayout(NamedTuple):
    """Experts placed in order on ranks (``n_experts / n_ranks`` each), ranks in order on nodes
    (``ranks_per_node`` each): expert ``e`` on rank ``e // experts_per_rank``, rank ``r`` on node
    ``r // ranks_per_node``."""

    n_experts: int
    n_ranks: int
    ranks_per_node: int

    @classmethod
    def make(cls, n_experts: int, n_ranks: int, ranks_per_node: int) -> ExpertLayout:
        """The layout, checked: ranks divide experts, nodes divide ranks."""
        n_ranks = check_int("n_ranks", n_ranks, minimum=1)
        n_experts = check_int("n_experts", n_experts, minimum=n_ranks)
        ranks_per_node = check_int("ranks_per_node", ranks_per_node, minimum=1, maximum=n_ranks)
        if n_experts % n_ranks:
            raise ValueError(f"n_experts must be a multiple of n_ranks={n_ranks}, got {n_experts}")
        if n_ranks % ranks_per_node:
            raise ValueError(f"ranks_per_node must divide n_ranks={n_ranks}, got {ranks_per_node}")
        return cls(n_experts, n_ranks, ranks_per_node)

    @property
    def experts_per_rank(self) -> int:
        return self.n_experts // self.n_ranks

    @property
    def n_nodes(self) -> int:
        return self.n_ranks // self.ranks_per_node

    @property
    def experts_per_node(self) -> int:
        return self.experts_per_rank * self.ranks_per_node

    def expert_rank(self) -> np.ndarray:
        """Rank of each expert, shape ``(n_experts,)``."""
        return np.arange(self.n_experts) // self.experts_per_rank

    def expert_node(self) -> np.ndarray:
        """Node of each expert, shape ``(n_experts,)``."""
        return np.arange(self.n_experts) // self.experts_per_node

    def token_rank(self, tokens_per_rank: int) -> np.ndarray:
        """Rank holding each token, shape ``(n_ranks * tokens_per_rank,)``."""
        return np.repeat(np.arange(self.n_ranks), tokens_per_rank)


# ----------------------------------------------------------------------------------------------
# the router


def popularity(n_experts: int, skew: float, seed: int = 0) -> np.ndarray:
    """Each expert's share of top-1 choices, shape ``(n_experts,)``, summing to 1: proportional to
    ``(1 + rank) ** -skew`` where ``rank`` is the expert's place in a seeded shuffle (so the
    popular experts land on random ranks). ``skew = 0`` gives every expert ``1 / n_experts``."""
    n_experts = check_int("n_experts", n_experts, minimum=1)
    skew = check_float("skew", skew, minimum=0.0)
    order = np.random.default_rng([seed, 1]).permutation(n_experts)
    w = (1.0 + order) ** -skew
    return w / w.sum()


def router_affinities(n_tokens: int, n_experts: int, skew: float, seed: int = 0) -> np.ndarray:
    """Seeded router affinities, shape ``(n_tokens, n_experts)``, in (0, 1): the sigmoid of
    ``log popularity(n_experts, skew, seed) + g`` with ``g`` standard Gumbel noise drawn from
    ``seed``. A token's top-1 expert is ``e`` with probability ``popularity[e]``."""
    n_tokens = check_int("n_tokens", n_tokens, minimum=1)
    w = popularity(n_experts, skew, seed)
    g = np.random.default_rng([seed, 2]).gumbel(size=(n_tokens, w.size))
    return 1.0 / (1.0 + np.exp(-(np.log(w)[None, :] + g)))


def _check_scores(affinities, k: int) -> tuple[np.ndarray, int]:
    a = np.asarray(affinities, dtype=float)
    if a.ndim != 2 or a.shape[0] < 1:
        raise ValueError(f"affinities must be 2-D (tokens, experts), got shape {a.shape}")
    return a, check_int("k", k, minimum=1, maximum=a.shape[1])


def top_k(affinities, k: int) -> np.ndarray:
    """Each token's ``k`` experts of highest affinity, best first: int array
    ``(n_tokens, k)``."""
    a, k = _check_scores(affinities, k)
    idx = np.argpartition(-a, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(a, idx, axis=1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)


def node_limited_top_k(affinities, k: int, experts_per_node: int, max_nodes: int) -> np.ndarray:
    """DeepSeek-V3's node-limited routing, int array ``(n_tokens, k)``: for each token, score each
    node by the sum of its experts' ``k // max_nodes`` highest affinities, keep the ``max_nodes``
    best nodes, and take the ``k`` highest-affinity experts on them. Experts ``n * experts_per_node
    ... (n + 1) * experts_per_node - 1`` are node ``n``'s. Every token then reaches at most
    ``max_nodes`` nodes."""
    a, k = _check_scores(affinities, k)
    experts_per_node = check_int("experts_per_node", experts_per_node, minimum=1)
    if a.shape[1] % experts_per_node:
        raise ValueError(f"experts_per_node must divide the {a.shape[1]} experts, "
                         f"got {experts_per_node}")
    n_nodes = a.shape[1] // experts_per_node
    max_nodes = check_int("max_nodes", max_nodes, minimum=1)
    if max_nodes * experts_per_node < k:
        raise ValueError(f"max_nodes must give room for k={k} experts "
                         f"(>= {-(-k // experts_per_node)}), got {max_nodes}")
    if max_nodes >= n_nodes:
        return top_k(a, k)
    per = max(k // max_nodes, 1)
    by_node = a.reshape(a.shape[0], n_nodes, experts_per_node)
    node_score = -np.sort(-by_node, axis=2)[:, :, :per].sum(axis=2)
    keep = np.argpartition(-node_score, max_nodes - 1, axis=1)[:, :max_nodes]
    allowed = np.zeros((a.shape[0], n_nodes), dtype=bool)
    np.put_along_axis(allowed, keep, True, axis=1)
    masked = np.where(np.repeat(allowed, experts_per_node, axis=1), a, -np.inf)
    return top_k(masked, k)


def nodes_reached(experts, expert_node) -> np.ndarray:
    """How many distinct nodes each token's experts are on, shape ``(n_tokens,)``."""
    nodes = np.sort(np.asarray(expert_node)[np.asarray(experts)], axis=1)
    return 1 + np.count_nonzero(np.diff(nodes, axis=1), axis=1)


# ----------------------------------------------------------------------------------------------
# send matrices


def send_matrix(experts, layout: ExpertLayout, token_bytes: float = 1.0) -> np.ndarray:
    """Bytes rank ``i`` sends rank ``j`` in a flat dispatch, shape ``(n_ranks, n_ranks)``: one copy
    of ``token_bytes`` per (token, expert) pair, tokens ``len(experts) / n_ranks`` per rank in
    order. The diagonal is what stays on the rank."""
    experts = np.asarray(experts)
    src = layout.token_rank(_tokens_per_rank(experts, layout))[:, None]
    dst = layout.expert_rank()[experts]
    counts = np.bincount((src * layout.n_ranks + dst).ravel(), minlength=layout.n_ranks ** 2)
    return counts.reshape(layout.n_ranks, layout.n_ranks) * float(token_bytes)


def rail_send_matrix(experts, layout: ExpertLayout, token_bytes: float = 1.0) -> np.ndarray:
    """Bytes per (sender, receiver) of DeepSeek-V3's two-hop dispatch, shape
    ``(n_ranks, n_ranks)``: a token goes once to each other node holding any of its experts, over
    the network to the rank with its own in-node index (its rail), which forwards one copy over
    NVLink to each of the token's experts on other ranks of that node; experts on the token's own
    node get their copy over NVLink directly. Entries between ranks of different nodes are network
    bytes, the others NVLink bytes."""
    experts = np.asarray(experts)
    rpn, p = layout.ranks_per_node, layout.n_ranks
    owner = layout.token_rank(_tokens_per_rank(experts, layout))
    src = np.broadcast_to(owner[:, None], experts.shape)
    dst = layout.expert_rank()[experts]
    rail = dst // rpn * rpn + src % rpn                # the receiving GPU of a node crossing
    remote = src // rpn != dst // rpn
    # network: one copy per (token, remote node), i.e. per distinct (token, rail rank)
    token = np.broadcast_to(np.arange(experts.shape[0])[:, None], experts.shape)
    crossing = np.unique(token[remote] * p + rail[remote])
    out = np.bincount(owner[crossing // p] * p + crossing % p, minlength=p * p).astype(float)
    # NVLink: from the token's rank (own node) or from the rail rank (other nodes) to the expert
    hop = np.where(remote, rail, src)
    out += np.bincount((hop * p + dst).ravel(), minlength=p * p)
    return out.reshape(p, p) * float(token_bytes)


def uniform_send_matrix(n_ranks: int, bytes_per_rank: float) -> np.ndarray:
    """The even all-to-all: every rank sends ``bytes_per_rank / n_ranks`` to every rank (itself
    included), shape ``(n_ranks, n_ranks)``."""
    n_ranks = check_int("n_ranks", n_ranks, minimum=1)
    bytes_per_rank = check_float("bytes_per_rank", bytes_per_rank, minimum=0.0)
    return np.full((n_ranks, n_ranks), bytes_per_rank / n_ranks)


def _tokens_per_rank(experts, layout: ExpertLayout) -> int:
    if experts.ndim != 2 or experts.shape[0] % layout.n_ranks:
        raise ValueError(f"experts must be (tokens, k) with tokens a multiple of "
                         f"n_ranks={layout.n_ranks}, got shape {experts.shape}")
    return experts.shape[0] // layout.n_ranks


# ----------------------------------------------------------------------------------------------
# time from the busiest port


def port_loads(send, ranks_per_node: int) -> dict:
    """Per-rank port loads of a send matrix ``send`` (bytes, ``(p, p)``, diagonal ignored), each
    shape ``(p,)``: ``nvlink_out``/``nvlink_in`` (bytes to/from other ranks of the node),
    ``net_out``/``net_in`` (to/from other nodes), and the peers a rank sends to or receives from
    over each (``nvlink_peers``, ``net_peers``: the larger of the two directions)."""
    s = np.asarray(send, dtype=float)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or np.any(s < 0):
        raise ValueError(f"send must be a square matrix of bytes >= 0, got shape {s.shape}")
    p = s.shape[0]
    ranks_per_node = check_int("ranks_per_node", ranks_per_node, minimum=1, maximum=p)
    node = np.arange(p) // ranks_per_node
    same = (node[:, None] == node[None, :]) & ~np.eye(p, dtype=bool)
    other = node[:, None] != node[None, :]
    out = {}
    for name, mask in (("nvlink", same), ("net", other)):
        part = np.where(mask, s, 0.0)
        out[f"{name}_out"], out[f"{name}_in"] = part.sum(axis=1), part.sum(axis=0)
        out[f"{name}_peers"] = np.maximum(np.count_nonzero(part, axis=1),
                                          np.count_nonzero(part, axis=0))
    return out


def alltoallv_time(send, ranks_per_node: int, scaleup_GBps: float, scaleout_GBps: float,
                   alpha_scaleup_s: float = 0.0, alpha_scaleout_s: float = 0.0) -> float:
    """Seconds of an all-to-all-v with send matrix ``send`` (bytes, ``(p, p)``): the busiest port,
    where a rank's NVLink port takes ``alpha_scaleup_s`` per peer plus its larger direction over
    ``scaleup_GBps``, its network port likewise with the scale-out figures, and the two ports work
    at once. On one node and an even matrix this is the pairwise all-to-all's
    ``(p - 1) (alpha + n / p * beta)``."""
    up = check_float("scaleup_GBps", scaleup_GBps, minimum=0.0, strict_minimum=True)
    down = check_float("scaleout_GBps", scaleout_GBps, minimum=0.0, strict_minimum=True)
    a_up = check_float("alpha_scaleup_s", alpha_scaleup_s, minimum=0.0)
    a_out = check_float("alpha_scaleout_s", alpha_scaleout_s, minimum=0.0)
    load = port_loads(send, ranks_per_node)
    t_up = (a_up * load["nvlink_peers"]
            + np.maximum(load["nvlink_out"], load["nvlink_in"]) / (up * 1e9))
    t_out = (a_out * load["net_peers"]
             + np.maximum(load["net_out"], load["net_in"]) / (down * 1e9))
    return float(np.max(np.maximum(t_up, t_out)))


def uniform_alltoall_time(n_ranks: int, ranks_per_node: int, bytes_per_rank: float,
                          scaleup_GBps: float, scaleout_GBps: float, alpha_scaleup_s: float = 0.0,
                          alpha_scaleout_s: float = 0.0) -> float:
    """The closed form of an even all-to-all of ``bytes_per_rank`` per rank over two levels:
    ``max((r - 1)(alpha_up + n / p / B_up), (p - r)(alpha_out + n / p / B_out))`` with ``r``
    ranks per node (a level with no peers takes no time)."""
    p = check_int("n_ranks", n_ranks, minimum=1)
    r = check_int("ranks_per_node", ranks_per_node, minimum=1, maximum=p)
    n = check_float("bytes_per_rank", bytes_per_rank, minimum=0.0)
    up = check_float("scaleup_GBps", scaleup_GBps, minimum=0.0, strict_minimum=True)
    down = check_float("scaleout_GBps", scaleout_GBps, minimum=0.0, strict_minimum=True)
    return max((r - 1) * (alpha_scaleup_s + n / p / (up * 1e9)),
               (p - r) * (alpha_scaleout_s + n / p / (down * 1e9)))


# ----------------------------------------------------------------------------------------------
# what the book's programs and chapter call


def alltoallv_counts(tokens_per_rank: int, n_ranks: int, skew: float, k: int = 2,
                     experts_per_rank: int = 2, seed: int = 0) -> np.ndarray:
    """Token copies rank ``i`` sends rank ``j`` (int64, ``(n_ranks, n_ranks)``, each row summing
    to ``tokens_per_rank * k``) for ``tokens_per_rank`` tokens per rank routed top-``k`` over
    ``experts_per_rank * n_ranks`` experts by the seeded router: the same on every rank that calls
    it with the same arguments (the counts of :mod:`aichip.mpibench`'s ``alltoallv``)."""
    tokens_per_rank = check_int("tokens_per_rank", tokens_per_rank, minimum=1)
    experts_per_rank = check_int("experts_per_rank", experts_per_rank, minimum=1)
    layout = ExpertLayout.make(experts_per_rank * n_ranks, n_ranks, 1)
    a = router_affinities(tokens_per_rank * n_ranks, layout.n_experts, skew, seed)
    return send_matrix(top_k(a, k), layout).astype(np.int64)


def dispatch_summary(layout: ExpertLayout, k: int, tokens_per_rank: int, token_bytes: float,
                     skew: float, max_nodes: int | None = None, seed: int = 0) -> dict:
    """One dispatch routed by the seeded router, unrestricted (``max_nodes`` None) or
    node-limited: ``nodes_mean``/``nodes_max`` (nodes a token reaches), ``cross_flat_B`` (bytes
    crossing nodes, one copy per expert), ``cross_rail_B`` (crossing once per (token, node)),
    ``total_B`` (all copies, ``tokens * k * token_bytes``), ``send_flat``/``send_rail`` (the
    matrices) and ``expert_load_max`` (the busiest expert's copies over the mean)."""
    a = router_affinities(tokens_per_rank * layout.n_ranks, layout.n_experts, skew, seed)
    experts = (top_k(a, k) if max_nodes is None
               else node_limited_top_k(a, k, layout.experts_per_node, max_nodes))
    node = np.arange(layout.n_ranks) // layout.ranks_per_node
    cross = node[:, None] != node[None, :]
    flat = send_matrix(experts, layout, token_bytes)
    rail = rail_send_matrix(experts, layout, token_bytes)
    reached = nodes_reached(experts, layout.expert_node())
    load = np.bincount(experts.ravel(), minlength=layout.n_experts)
    return {"nodes_mean": float(reached.mean()), "nodes_max": int(reached.max()),
            "cross_flat_B": float(flat[cross].sum()), "cross_rail_B": float(rail[cross].sum()),
            "total_B": float(flat.sum()), "send_flat": flat, "send_rail": rail,
            "expert_load_max": float(load.max() / load.mean())}
