"""A serving simulator: one GPU, a queue of requests, three batching policies.

The discrete-event engine is SimPy, as in the RDMA model (:mod:`aichip.rdma`): an arrival process
puts requests in a queue; a server process runs one forward step (an *iteration*) at a time, whose
duration is the roofline bound of its work (:func:`aichip.serving.step_time`: ``max(flops / peak,
bytes / bandwidth)`` with the weights read once per step, every sequence's cached keys and values
read and the new ones written).

Policies (``policy``):

``"static"``
    Request-level batching (FasterTransformer-style): when the GPU is idle, take up to
    ``max_batch`` waiting requests, prefill them in one step, then decode until the longest is done;
    finished sequences keep their slot (padding) until the batch ends, and each reserves ``max_len``
    tokens of contiguous KV memory.
``"continuous"``
    Iteration-level batching (Orca, Yu et al., OSDI 2022; vLLM): before every iteration, admit
    waiting requests while fewer than ``max_batch`` run and their KV fits; a newly admitted prompt
    is prefilled whole in the next iteration together with the running sequences' decoding tokens,
    which therefore wait for it; a finished sequence leaves at once.
``"chunked"``
    Continuous batching with chunked prefill (Sarathi-Serve, Agrawal et al., OSDI 2024): each
    iteration carries every decoding token and fills the rest of a ``chunk_tokens`` budget with
    prompt chunks, so a long prompt no longer stalls the decodes.

The paged policies reserve each request's final length rounded up to ``block_tokens`` when it is
admitted (the output length is known to the simulator: an idealisation that needs no preemption).
A request's first output token comes at the end of the iteration that finishes its prompt; each
later iteration that decodes it adds one token.

Metrics: **TTFT** (first token - arrival), **TPOT** ((finish - first token) / (output - 1), for
requests of more than one output token), throughput (output tokens per second over the run) and
**goodput**: requests per second that meet both ``ttft_slo_s`` and ``tpot_slo_s`` (DistServe's
definition, Zhong et al., OSDI 2024).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pandas as pd
import simpy

from ..validation import check_choice, check_float, check_int
from .kvcache import kv_budget_bytes
from .model import DecoderShape, StepWork, llama3_8b
from .roofline import Hardware, hardware
from .traces import Trace, constant_trace, request_trace

__all__ = ["POLICIES", "SimConfig", "simulate_requests", "summarize", "simulate", "md1_check"]

POLICIES = ("static", "continuous", "chunked")


class SimConfig:
    """The server: model, GPU and batching limits (see :func:`simulate` for the arguments)."""

    def __init__(self, shape=None, hw=None, *, max_batch=64, chunk_tokens=512, block_tokens=16,
                 weight_bytes=2, kv_bytes=2, kv_capacity_tokens=None, max_len=None):
        self.shape = llama3_8b() if shape is None else shape
        if not isinstance(self.shape, DecoderShape):
            raise TypeError(f"shape must be an aichip.serving.DecoderShape, "
                            f"got {type(self.shape).__name__}")
        self.hw = hardware() if hw is None else hw
        if not isinstance(self.hw, Hardware):
            raise TypeError(f"hw must be an aichip.serving.Hardware, got {type(self.hw).__name__}")
        self.max_batch = check_int("max_batch", max_batch, minimum=1)
        self.chunk_tokens = check_int("chunk_tokens", chunk_tokens, minimum=1)
        self.block_tokens = check_int("block_tokens", block_tokens, minimum=1)
        self.weight_bytes = check_float("weight_bytes", weight_bytes, minimum=0,
                                        strict_minimum=True)
        self.kv_bytes = check_float("kv_bytes", kv_bytes, minimum=0, strict_minimum=True)
        self.max_len = self.shape.max_context if max_len is None else check_int(
            "max_len", max_len, minimum=2)
        per_token = self.shape.kv_bytes_per_token(self.kv_bytes)
        if kv_capacity_tokens is None:
            budget = kv_budget_bytes(self.hw.memory_bytes, self.shape.n_params * self.weight_bytes)
            kv_capacity_tokens = int(budget // per_token)
        self.kv_capacity_tokens = check_int("kv_capacity_tokens", kv_capacity_tokens, minimum=1)
        # one forward step's fixed and per-unit costs, so an iteration is priced in O(1)
        self._flops_per_token = 2.0 * self.shape.matmul_params
        self._flops_per_pair = float(self.shape.attention_flops_per_pair)
        self._kv_per_token = per_token
        self._weights = self.shape.matmul_params * self.weight_bytes

    def iteration_s(self, tokens, pairs, kv_tokens) -> float:
        """Roofline time of a step with ``tokens`` new tokens, ``pairs`` attended pairs and
        ``kv_tokens`` cached tokens read plus written (same as :func:`aichip.serving.step_time`
        on the equivalent :class:`~aichip.serving.StepWork`)."""
        work = StepWork(self._flops_per_token * tokens + self._flops_per_pair * pairs,
                        self._weights, self._kv_per_token * kv_tokens)
        return max(work.flops / self.hw.peak_FLOPs, work.bytes / self.hw.hbm_Bps)


def _check_trace(trace, max_len):
    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be an aichip.serving.Trace, got {type(trace).__name__}")
    if np.any(trace.total_tokens > max_len):
        raise ValueError(f"trace has a request longer than max_len={max_len} tokens")
    return trace


class _Server:
    """State and per-iteration logic of one run. Decoding sequences are kept as aggregates (how
    many, the sum of their contexts) and each is scheduled to finish at a known iteration, so an
    iteration costs O(1) plus the requests that start or end in it."""

    def __init__(self, env, cfg: SimConfig, trace: Trace, policy: str):
        self.env, self.cfg, self.trace, self.policy = env, cfg, trace, policy
        n = trace.n_requests
        self.prompt = trace.prompt_tokens.tolist()
        self.output = trace.output_tokens.tolist()
        self.prefilled = [0] * n                          # prompt tokens already processed
        self.first = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.waiting: deque = deque()                     # arrived, not admitted
        self.prefilling: deque = deque()                  # admitted, prompt not finished
        self.n_decoding = 0                               # sequences in the decode phase
        self.n_growing = 0                                # ... of which not finished (static pads)
        self.sum_ctx = 0                                  # their cached tokens, summed
        self.finishing: dict = {}                         # iteration -> requests ending there
        self.iteration = 0
        self.reserved = 0
        self.done = 0
        self.batch_sizes: list = []
        self.wakeup = env.event()
        if policy == "static":
            self.reserve = [cfg.max_len] * n
        else:
            b = cfg.block_tokens
            self.reserve = (-(-trace.total_tokens // b) * b).tolist()
        if max(self.reserve) > cfg.kv_capacity_tokens:
            raise ValueError(f"kv_capacity_tokens={cfg.kv_capacity_tokens} cannot hold one "
                             f"request of {max(self.reserve)} reserved tokens")

    def arrivals(self):
        now = 0.0
        for i, t in enumerate(self.trace.arrival_s.tolist()):
            yield self.env.timeout(t - now)
            now = t
            self.waiting.append(i)
            if not self.wakeup.triggered:
                self.wakeup.succeed()

    def admit(self):
        cfg = self.cfg
        if self.policy == "static" and (self.n_decoding or self.prefilling):
            return                                        # a static batch runs to its end
        while (self.waiting and self.n_growing + len(self.prefilling) < cfg.max_batch
               and self.reserved + self.reserve[self.waiting[0]] <= cfg.kv_capacity_tokens):
            i = self.waiting.popleft()
            self.reserved += self.reserve[i]
            self.prefilling.append(i)

    def plan(self):
        """The next iteration: its prompt chunks ``[(request, tokens)]`` and its time (s)."""
        n_dec = self.n_decoding
        tokens, pairs, kv = n_dec, self.sum_ctx + n_dec, self.sum_ctx + n_dec
        budget = self.cfg.chunk_tokens - n_dec if self.policy == "chunked" else math.inf
        if self.policy == "static" and n_dec:
            budget = 0
        chunks = []
        for i in self.prefilling:
            if budget <= 0:
                break
            done = self.prefilled[i]
            k = min(self.prompt[i] - done, budget)
            chunks.append((i, k))
            budget -= k
            tokens += k
            pairs += k * done + k * (k + 1) / 2
            kv += done + k
        return chunks, self.cfg.iteration_s(tokens, pairs, kv)

    def end_request(self, i, now):
        self.finish[i] = now
        self.done += 1
        if self.policy != "static":
            self.reserved -= self.reserve[i]

    def apply(self, chunks):
        now, k = self.env.now, self.iteration
        self.sum_ctx += self.n_growing                    # each unfinished one cached a token
        for i in self.finishing.pop(k, ()):
            self.end_request(i, now)
            self.n_growing -= 1
            if self.policy != "static":
                self.n_decoding -= 1
                self.sum_ctx -= self.prompt[i] + self.output[i] - 1
        for i, tokens in chunks:
            self.prefilled[i] += tokens
            if self.prefilled[i] < self.prompt[i]:
                continue
            self.prefilling.remove(i)
            self.first[i] = now
            if self.output[i] == 1:
                self.end_request(i, now)
                if self.policy == "static":               # padding until the batch ends
                    self.n_decoding += 1
                    self.sum_ctx += self.prompt[i]
                continue
            self.n_decoding += 1
            self.n_growing += 1
            self.sum_ctx += self.prompt[i]
            self.finishing.setdefault(k + self.output[i] - 1, []).append(i)
        if self.policy == "static" and not self.n_growing and not self.prefilling:
            self.n_decoding = self.sum_ctx = self.reserved = 0     # the batch leaves together
        self.iteration += 1

    def serve(self):
        n = self.trace.n_requests
        while self.done < n:
            self.admit()
            if not self.n_decoding and not self.prefilling:
                self.wakeup = self.env.event()
                yield self.wakeup
                continue
            chunks, dt = self.plan()
            self.batch_sizes.append(self.n_decoding + len(chunks))
            yield self.env.timeout(dt)
            self.apply(chunks)


def simulate_requests(policy, trace: Trace, config: SimConfig | None = None) -> pd.DataFrame:
    """Run ``trace`` through a server with batching ``policy`` (one of :data:`POLICIES`).

    Returns one row per request: ``arrival_s``, ``first_token_s``, ``finish_s``,
    ``prompt_tokens``, ``output_tokens``, ``ttft_s``, ``tpot_s`` (NaN for one output token),
    ``latency_s``; ``attrs["mean_batch"]`` holds the mean sequences per iteration."""
    policy = check_choice("policy", policy, POLICIES)
    cfg = SimConfig() if config is None else config
    if not isinstance(cfg, SimConfig):
        raise TypeError(f"config must be an aichip.serving.SimConfig, got {type(cfg).__name__}")
    trace = _check_trace(trace, cfg.max_len)
    env = simpy.Environment()
    server = _Server(env, cfg, trace, policy)
    env.process(server.arrivals())
    env.process(server.serve())
    env.run()
    out = trace.output_tokens
    frame = pd.DataFrame({"arrival_s": trace.arrival_s, "first_token_s": server.first,
                          "finish_s": server.finish, "prompt_tokens": trace.prompt_tokens,
                          "output_tokens": out})
    frame["ttft_s"] = frame["first_token_s"] - frame["arrival_s"]
    frame["tpot_s"] = np.where(out > 1, (frame["finish_s"] - frame["first_token_s"])
                               / np.maximum(out - 1, 1), np.nan)
    frame["latency_s"] = frame["finish_s"] - frame["arrival_s"]
    frame.attrs["mean_batch"] = float(np.mean(server.batch_sizes)) if server.batch_sizes else 0.0
    return frame


def summarize(frame: pd.DataFrame, ttft_slo_s=1.0, tpot_slo_s=0.05) -> dict:
    """Throughput, TTFT/TPOT percentiles (p50, p90, p99) and goodput of a
    :func:`simulate_requests` result."""
    ttft_slo = check_float("ttft_slo_s", ttft_slo_s, minimum=0, strict_minimum=True)
    tpot_slo = check_float("tpot_slo_s", tpot_slo_s, minimum=0, strict_minimum=True)
    span = float(frame["finish_s"].max())
    tpot = frame["tpot_s"].dropna()
    ok = (frame["ttft_s"] <= ttft_slo) & ~(frame["tpot_s"] > tpot_slo)
    row = {"throughput_tok_s": frame["output_tokens"].sum() / span,
           "requests_per_s": len(frame) / span}
    for q in (50, 90, 99):
        row[f"ttft_p{q}_s"] = float(np.percentile(frame["ttft_s"], q))
        row[f"tpot_p{q}_s"] = float(np.percentile(tpot, q)) if len(tpot) else math.nan
    row["goodput_req_s"] = float(ok.sum()) / span
    row["slo_attainment"] = float(ok.mean())
    row["mean_batch"] = frame.attrs.get("mean_batch", math.nan)
    return row


def simulate(shape: DecoderShape | None = None, hw: Hardware | None = None, *,
             policies=POLICIES, rate_per_s=10.0, n_requests=1000, profile="conversation", seed=0,
             trace: Trace | None = None, ttft_slo_s=1.0, tpot_slo_s=0.05, **config) -> pd.DataFrame:
    """Serve one request trace under each batching policy and summarise.

    Parameters
    ----------
    shape : DecoderShape, default Llama 3 8B
    hw : Hardware, default :func:`aichip.serving.hardware` (H100 SXM5, bf16)
    policies : sequence of :data:`POLICIES`
    rate_per_s, n_requests, profile, seed : the Poisson trace
        (:func:`aichip.serving.request_trace`), used when ``trace`` is None
    trace : Trace, optional, a trace to serve instead
    ttft_slo_s, tpot_slo_s : float > 0, latency targets for goodput (seconds)
    **config : ``max_batch`` (64), ``chunk_tokens`` (512), ``block_tokens`` (16), ``weight_bytes``
        (2), ``kv_bytes`` (2), ``kv_capacity_tokens`` (what fits in 90% of memory beside the
        weights), ``max_len`` (the model's context): see :class:`SimConfig`

    Returns
    -------
    pandas.DataFrame
        One row per policy (index ``policy``): ``throughput_tok_s``, ``requests_per_s``,
        ``ttft_p50_s``, ``ttft_p90_s``, ``ttft_p99_s``, ``tpot_p50_s``, ``tpot_p90_s``,
        ``tpot_p99_s``, ``goodput_req_s``, ``slo_attainment``, ``mean_batch``.
    """
    cfg = SimConfig(shape, hw, **config)
    if trace is None:
        trace = request_trace(n_requests, rate_per_s, profile, seed, cfg.max_len)
    if isinstance(policies, str):
        raise TypeError("policies must be a sequence of policy names, not one string")
    rows = {p: summarize(simulate_requests(p, trace, cfg), ttft_slo_s, tpot_slo_s)
            for p in policies}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")


def md1_check(n_requests=20_000, rho=0.5, prompt_tokens=512, output_tokens=2, seed=0,
              policy="continuous") -> dict:
    """The simulator as an M/D/1 queue (batch 1, Poisson arrivals, equal requests) against
    Pollaczek-Khinchine's mean wait ``lambda D**2 / (2 (1 - rho))``: a correctness figure for a
    benchmark. Returns ``service_s`` (D, from the lone request), ``simulated_wait_s``,
    ``theory_wait_s`` and ``rel_error``."""
    rho = check_float("rho", rho, minimum=0, maximum=1, strict_minimum=True)
    if rho >= 1:
        raise ValueError(f"rho must be < 1 for a stable queue, got {rho}")
    cfg = SimConfig(max_batch=1)
    lone = Trace(np.zeros(1), np.array([prompt_tokens]), np.array([output_tokens]))
    service = float(simulate_requests(policy, lone, cfg)["latency_s"].iloc[0])
    lam = rho / service
    frame = simulate_requests(policy, constant_trace(n_requests, lam, prompt_tokens,
                                                     output_tokens, seed), cfg)
    wait = float((frame["latency_s"] - service).mean())
    theory = lam * service**2 / (2 * (1 - rho))
    return dict(service_s=service, simulated_wait_s=wait, theory_wait_s=theory,
                rel_error=wait / theory - 1)
