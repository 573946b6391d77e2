"""SIMT made countable: memory sectors a warp's access moves, and passes a divergent branch costs.

**Coalescing.** A warp's 32 loads or stores form one request; the memory system serves it in
32-byte *sectors* (an L2 cache line is 128 bytes, four sectors). The cost of the request is the
number of distinct sectors its threads' bytes fall in: 32 consecutive 4-byte words starting at a
multiple of 32 bytes need 4 sectors (128 bytes, all used); a stride of 32 words needs 32 sectors
(1024 bytes moved to use 128).

**Divergence.** The threads of a warp share one instruction stream. When they take different paths
through a branch, the warp runs each path taken by at least one thread in turn, with the other
threads masked off: ``passes`` = number of distinct paths, and the lanes doing useful work per pass
average ``32 / passes`` (pre-Volta and Volta alike serialise the paths; Volta's independent
thread scheduling lets them interleave, not run at once).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..validation import check_int

__all__ = ["SectorCount", "sectors_per_request", "strided_sectors", "Divergence", "warp_divergence",
           "SECTOR_BYTES", "WARP_SIZE"]

SECTOR_BYTES = 32
WARP_SIZE = 32


class SectorCount(NamedTuple):
    """Result of :func:`sectors_per_request`."""

    sectors: int
    bytes_moved: int
    bytes_used: int
    efficiency: float   # bytes_used / bytes_moved


def sectors_per_request(addresses, bytes_per_access: int = 4) -> SectorCount:
    """Distinct 32-byte sectors touched by a warp whose threads access ``addresses`` (bytes).

    Parameters
    ----------
    addresses : array_like of int >= 0, one byte address per active thread (at most 32)
    bytes_per_access : int, 1..16, each thread's access width in bytes
    """
    addr = np.asarray(addresses)
    if addr.ndim != 1 or not 1 <= addr.size <= WARP_SIZE:
        raise ValueError(f"addresses must be 1-D with 1..{WARP_SIZE} entries (one per thread), "
                         f"got shape {addr.shape}")
    if not np.issubdtype(addr.dtype, np.integer) or addr.min() < 0:
        raise ValueError("addresses must be non-negative integer byte addresses")
    width = check_int("bytes_per_access", bytes_per_access, minimum=1, maximum=16)
    touched = set()
    for a in addr.tolist():
        touched.update(range(a // SECTOR_BYTES, (a + width - 1) // SECTOR_BYTES + 1))
    used = len({a + i for a in addr.tolist() for i in range(width)})
    moved = len(touched) * SECTOR_BYTES
    return SectorCount(len(touched), moved, used, used / moved)


def strided_sectors(stride_elements: int, bytes_per_element: int = 4, offset_bytes: int = 0,
                    threads: int = WARP_SIZE) -> SectorCount:
    """Sectors for thread ``t`` reading element ``t * stride_elements`` (plus ``offset_bytes``)."""
    stride = check_int("stride_elements", stride_elements, minimum=0)
    size = check_int("bytes_per_element", bytes_per_element, minimum=1, maximum=16)
    offset = check_int("offset_bytes", offset_bytes, minimum=0)
    threads = check_int("threads", threads, minimum=1, maximum=WARP_SIZE)
    return sectors_per_request(offset + np.arange(threads) * stride * size, size)


class Divergence(NamedTuple):
    """Result of :func:`warp_divergence`."""

    passes: int               # distinct paths the warp runs one after the other
    active_lanes_per_pass: float
    efficiency: float         # active lanes per pass / 32


def warp_divergence(paths) -> Divergence:
    """How a warp runs a branch where thread ``t`` takes path ``paths[t]`` (any hashable labels).

    ``paths`` has one entry per thread of the warp (32).
    """
    p = np.asarray(paths)
    if p.ndim != 1 or p.size != WARP_SIZE:
        raise ValueError(f"paths must give one path label per thread: 1-D with {WARP_SIZE} "
                         f"entries, got shape {p.shape}")
    passes = len(np.unique(p))
    per_pass = WARP_SIZE / passes
    return Divergence(passes, per_pass, per_pass / WARP_SIZE)
