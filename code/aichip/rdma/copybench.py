"""What the kernel TCP path's two copies cost on this machine: a numba copy kernel, timed.

The TCP path of :mod:`aichip.rdma.timing` copies every message twice (user buffer to kernel
socket buffer at the sender, kernel to user at the receiver) at ``HostParams.copy_GBps``. Here a
numba loop copies one buffer into another, as ``memcpy`` does, and :func:`aichip.timing.time_call`
times it; :func:`copy_cost` turns the measured rate into the time two copies add to a message and
compares it with the model's assumption.
"""

from __future__ import annotations

import numba
import numpy as np

from ..timing import time_call
from ..validation import check_int
from .timing import DEFAULT_HOST, HostParams

__all__ = ["copy_kernel", "copy_cost", "measure_copy_GBps"]


@numba.njit(cache=True)
def copy_kernel(dst, src):
    """Copy ``src`` into ``dst`` (1-D uint8 arrays of equal length), one 8-byte word at a time
    where it can."""
    n = src.shape[0]
    words = n // 8
    d8 = dst[:words * 8].view(np.uint64)
    s8 = src[:words * 8].view(np.uint64)
    for i in range(words):
        d8[i] = s8[i]
    for i in range(words * 8, n):
        dst[i] = src[i]


def measure_copy_GBps(nbytes: int = 1 << 24, repeats: int = 5) -> float:
    """Best copy rate (1e9 bytes/s) of :func:`copy_kernel` on a buffer of ``nbytes`` (default
    16 MiB: larger than most last-level caches' share per core, as socket buffers in flight are)."""
    nbytes = check_int("nbytes", nbytes, minimum=8, maximum=1 << 31)
    src = np.arange(nbytes, dtype=np.int64).astype(np.uint8)
    dst = np.zeros_like(src)
    t = time_call(lambda: copy_kernel(dst, src), repeats=check_int("repeats", repeats, minimum=1),
                  warmup=1)
    if not np.array_equal(dst, src):
        raise RuntimeError("copy_kernel did not copy the buffer")
    return nbytes / t.best_s / 1e9


def copy_cost(msg_bytes: int, measured_GBps: float, hp: HostParams = DEFAULT_HOST) -> dict:
    """Time (s) the two copies of the TCP path add to a ``msg_bytes`` message at the measured
    rate and at the model's ``hp.copy_GBps``, and the wire time of the message for scale."""
    msg_bytes = check_int("msg_bytes", msg_bytes, minimum=0)
    if not measured_GBps > 0:
        raise ValueError(f"measured_GBps must be > 0, got {measured_GBps!r}")
    return {"measured_s": 2 * msg_bytes / (measured_GBps * 1e9),
            "model_s": 2 * msg_bytes / (hp.copy_GBps * 1e9),
            "wire_s": msg_bytes / (hp.wire_GBps * 1e9)}
