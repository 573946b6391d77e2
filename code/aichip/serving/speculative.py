"""Speculative decoding (Leviathan et al., ICML 2023): a small draft model proposes ``gamma``
tokens, the large model checks them all in one forward step and keeps the accepted prefix plus one
token of its own.

With each drafted token accepted independently with probability ``alpha``, the tokens one
verification step yields are ``1 + (number of leading acceptances)``, whose mean is (their eq. 1)

    E[tokens] = (1 - alpha**(gamma + 1)) / (1 - alpha)        (gamma + 1 at alpha = 1).

The speed-up charges the draft's own steps: ``gamma`` draft decoding steps and one verification
step of ``gamma + 1`` tokens per sequence replace ``E[tokens]`` ordinary decoding steps. With the
draft's step costing ``c`` target steps and the verification one target step, Leviathan et al.'s
improvement factor is ``E / (gamma c + 1)``; :func:`speculative_step_speedup` prices each step on
the roofline instead.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_float, check_int
from .model import DecoderShape, decode_work, step_work
from .roofline import Hardware, step_time

__all__ = ["speculative_expected_tokens", "speculative_tokens_monte_carlo", "speculative_speedup",
           "speculative_step_speedup", "acceptance_rate", "speculative_sampling"]


def _check_alpha_gamma(alpha, gamma):
    alpha = check_float("alpha", alpha, minimum=0, maximum=1)
    gamma = check_int("gamma", gamma, minimum=0)
    return alpha, gamma


def speculative_expected_tokens(alpha, gamma) -> float:
    """Expected tokens per verification step: ``(1 - alpha**(gamma+1)) / (1 - alpha)``, and
    ``gamma + 1`` at ``alpha = 1``.

    Parameters
    ----------
    alpha : float in [0, 1], probability that a drafted token is accepted
    gamma : int >= 0, tokens drafted per step
    """
    alpha, gamma = _check_alpha_gamma(alpha, gamma)
    if alpha == 1.0:
        return float(gamma + 1)
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def speculative_tokens_monte_carlo(alpha, gamma, n_steps=100_000, seed=0) -> np.ndarray:
    """Tokens yielded by each of ``n_steps`` simulated verification steps (int array, shape
    ``(n_steps,)``): each drafted token is accepted with probability ``alpha`` until the first
    rejection; the target model then adds one token (its correction, or a bonus token when all
    ``gamma`` were accepted). Seeded by ``seed``."""
    alpha, gamma = _check_alpha_gamma(alpha, gamma)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    accepted = rng.random((n_steps, gamma)) < alpha
    # leading acceptances: position of the first rejection (gamma when none)
    leading = np.where(accepted.all(axis=1), gamma, np.argmin(accepted, axis=1))
    return leading + 1


def _check_distribution(name, p):
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 1 or arr.size < 1 or np.any(arr < 0) or not np.isclose(arr.sum(), 1.0):
        raise ValueError(f"{name} must be a 1-D probability vector (non-negative, summing to 1)")
    return arr / arr.sum()


def acceptance_rate(p, q) -> float:
    """Probability that a token drawn from the draft's distribution ``q`` is accepted when the
    target's is ``p``: ``sum(min(p, q))`` (Leviathan et al., Section 3.3)."""
    p, q = _check_distribution("p", p), _check_distribution("q", q)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.size} and {q.size}")
    return float(np.minimum(p, q).sum())


def speculative_sampling(p, q, gamma, n_steps=20_000, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Run speculative sampling token by token with a target distribution ``p`` and a draft
    distribution ``q`` over the same vocabulary (the same at every position).

    Each step drafts ``gamma`` tokens from ``q``; drafted token ``x`` is kept with probability
    ``min(1, p[x] / q[x])``; at the first rejection a token is drawn from ``max(p - q, 0)``
    normalised, and if all are kept a bonus token is drawn from ``p``. Returns the tokens each step
    yielded (int array, shape ``(n_steps,)``) and every emitted token in order (int array): the
    emitted tokens are distributed as ``p`` (the method's guarantee, tested by a chi-square test).
    """
    p, q = _check_distribution("p", p), _check_distribution("q", q)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.size} and {q.size}")
    gamma = check_int("gamma", gamma, minimum=0)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    residual = np.maximum(p - q, 0.0)
    residual = residual / residual.sum() if residual.sum() > 0 else p
    per_step = np.empty(n_steps, dtype=np.int64)
    emitted = []
    for step in range(n_steps):
        drafts = rng.choice(p.size, size=gamma, p=q)
        kept = 0
        for x in drafts:
            if rng.random() * q[x] < p[x]:
                emitted.append(int(x))
                kept += 1
            else:
                break
        emitted.append(int(rng.choice(p.size, p=residual if kept < gamma else p)))
        per_step[step] = kept + 1
    return per_step, np.array(emitted, dtype=np.int64)


def speculative_speedup(alpha, gamma, cost_ratio) -> float:
    """Leviathan et al.'s improvement factor in wall time: ``E[tokens] / (gamma * c + 1)`` with
    ``c = cost_ratio`` the draft step's time over the target step's (0 < c)."""
    c = check_float("cost_ratio", cost_ratio, minimum=0, strict_minimum=True)
    return speculative_expected_tokens(alpha, gamma) / (gamma * c + 1)


def speculative_step_speedup(target: DecoderShape, draft: DecoderShape, hw: Hardware, alpha, gamma,
                             batch=1, context=1024, weight_bytes=2, kv_bytes=2) -> dict:
    """Speed-up of speculative decoding with every step priced on the roofline of ``hw``.

    Returns a dict: ``plain_s`` (one target decoding step), ``draft_s`` (``gamma`` draft steps),
    ``verify_s`` (one target step over ``gamma + 1`` tokens per sequence), ``tokens`` (expected
    tokens per verification), ``speedup`` = ``tokens * plain_s / (draft_s + verify_s)``.
    """
    alpha, gamma = _check_alpha_gamma(alpha, gamma)
    batch = check_int("batch", batch, minimum=1)
    context = check_int("context", context, minimum=0)
    plain = step_time(decode_work(target, batch, context, weight_bytes, kv_bytes), hw).time_s
    draft_s = gamma * step_time(decode_work(draft, batch, context, weight_bytes, kv_bytes),
                                hw).time_s
    k = gamma + 1
    # k new tokens per sequence attend to context + 1 ... context + k keys
    pairs = batch * (k * context + k * (k + 1) / 2)
    verify = step_time(step_work(target, batch * k, pairs, batch * context, batch * k,
                                 weight_bytes, kv_bytes), hw).time_s
    tokens = speculative_expected_tokens(alpha, gamma)
    return dict(plain_s=plain, draft_s=draft_s, verify_s=verify, tokens=tokens,
                speedup=tokens * plain / (draft_s + verify))
