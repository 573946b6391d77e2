"""Request traces: arrival times and prompt/output lengths, seeded.

Lengths are lognormal (``exp(N(ln median, sigma**2))``), rounded, clipped to ``[1, ...]`` so that
prompt + output fits ``max_len``. The medians are those Patel et al. (Splitwise, ISCA 2024, Section
III-B) report for Azure's production LLM inference traces: **conversation** 1020 prompt tokens and
129 output tokens, **coding** 1500 and 13. The spread ``sigma`` is our choice (the paper shows the
distributions as plots without fitted parameters): 1.0 gives a heavy right tail (the 99th
percentile ~10x the median), the shape those plots show; set it to test sensitivity.

Arrivals are Poisson: exponential gaps at ``rate_per_s``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..validation import check_choice, check_float, check_int

__all__ = ["LENGTH_PROFILES", "LENGTH_SIGMA", "Trace", "lognormal_lengths", "request_trace",
           "constant_trace"]

#: profile -> (median prompt tokens, median output tokens); Patel et al., ISCA 2024, Sec. III-B
LENGTH_PROFILES = {"conversation": (1020, 129), "coding": (1500, 13)}
#: lognormal shape parameter of both lengths (a modelling choice, see the module docstring)
LENGTH_SIGMA = 1.0


class Trace(NamedTuple):
    """``n`` requests: arrival times (s, non-decreasing) and token counts (int64), shape ``(n,)``
    each."""

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray

    @property
    def n_requests(self) -> int:
        """Number of requests."""
        return len(self.arrival_s)

    @property
    def total_tokens(self) -> np.ndarray:
        """Prompt plus output tokens of each request: its KV cache's final length."""
        return self.prompt_tokens + self.output_tokens


def lognormal_lengths(n, median, sigma=LENGTH_SIGMA, seed=0, max_len=8192) -> np.ndarray:
    """``n`` lognormal lengths with ``median`` and shape ``sigma``, rounded and clipped to
    ``[1, max_len]`` (int64, shape ``(n,)``)."""
    n = check_int("n", n, minimum=1)
    median = check_float("median", median, minimum=0, strict_minimum=True)
    sigma = check_float("sigma", sigma, minimum=0)
    max_len = check_int("max_len", max_len, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    draws = np.rint(median * np.exp(sigma * rng.standard_normal(n)))
    return np.clip(draws, 1, max_len).astype(np.int64)


def _poisson_arrivals(n, rate_per_s, rng) -> np.ndarray:
    rate = check_float("rate_per_s", rate_per_s, minimum=0, strict_minimum=True)
    return np.cumsum(rng.exponential(1.0 / rate, n))


def request_trace(n_requests, rate_per_s, profile="conversation", seed=0, max_len=8192,
                  sigma=LENGTH_SIGMA) -> Trace:
    """Poisson arrivals at ``rate_per_s`` with lognormal lengths of ``profile`` (a key of
    :data:`LENGTH_PROFILES`); each output is clipped so prompt + output <= ``max_len``."""
    n = check_int("n_requests", n_requests, minimum=1)
    median_prompt, median_output = LENGTH_PROFILES[check_choice("profile", profile,
                                                                LENGTH_PROFILES)]
    max_len = check_int("max_len", max_len, minimum=2)
    seed = check_int("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    arrivals = _poisson_arrivals(n, rate_per_s, rng)
    prompts = lognormal_lengths(n, median_prompt, sigma, seed + 1, max_len - 1)
    outputs = lognormal_lengths(n, median_output, sigma, seed + 2, max_len)
    return Trace(arrivals, prompts, np.minimum(outputs, max_len - prompts))


def constant_trace(n_requests, rate_per_s, prompt_tokens, output_tokens, seed=0) -> Trace:
    """Poisson arrivals with every request the same length: deterministic service, so a server of
    batch 1 is an M/D/1 queue."""
    n = check_int("n_requests", n_requests, minimum=1)
    p = check_int("prompt_tokens", prompt_tokens, minimum=1)
    o = check_int("output_tokens", output_tokens, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    return Trace(_poisson_arrivals(n, rate_per_s, rng), np.full(n, p, dtype=np.int64),
                 np.full(n, o, dtype=np.int64))
