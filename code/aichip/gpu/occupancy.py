"""Occupancy: how many blocks of a kernel fit on one SM at once, following NVIDIA's rules.

This is the algorithm of the CUDA Occupancy Calculator (``cuda_occupancy.h``), written from the
rules the CUDA C++ Programming Guide and Best Practices Guide state. For a launch of ``T`` threads
per block, ``R`` registers per thread and ``S`` bytes of shared memory per block on a compute
capability with the limits of ``cuda_limits.csv``:

* warps per block ``W = ceil(T / 32)``;
* **warp limit**: ``floor(max_warps_per_sm / W)`` blocks;
* **block limit**: ``max_blocks_per_sm`` blocks;
* **register limit**: registers are allocated per warp, rounded up to the allocation unit (256):
  ``regs_per_warp = ceil(32 R / 256) * 256``. The register file is split into four sub-partitions
  (one per warp scheduler), so the warps that fit are rounded down to a multiple of the warp
  allocation granularity (4): ``warps = floor(floor(registers_per_sm / regs_per_warp) / 4) * 4``,
  and ``floor(warps / W)`` blocks;
* **shared-memory limit**: each block's shared memory plus the per-block system reservation (1 KB
  from compute capability 8.0) is rounded up to the allocation unit (256 B on 7.x, 128 B on 8.x and
  9.0): ``floor(shared_bytes_per_sm / ceil((S + reserved) / unit) * unit)`` blocks.

Blocks per SM is the smallest of the four; occupancy is ``blocks x W / max_warps_per_sm``. The
``limiter`` is the limit that gives that smallest number (on a tie, the first of ``"warps"``,
``"blocks"``, ``"registers"``, ``"shared"``).

Assumption: the shared-memory carve-out is the largest the SM offers (``shared_bytes_per_sm``),
as with ``cudaFuncAttributePreferredSharedMemoryCarveout = 100``; a smaller carve-out leaves fewer
blocks where shared memory is the limit.
"""

from __future__ import annotations

from typing import NamedTuple

from ..validation import check_int
from .hardware import cuda_limits

__all__ = ["Occupancy", "occupancy", "occupancy_sweep", "LIMITERS"]

#: the four limits, in the order ties are reported
LIMITERS = ("warps", "blocks", "registers", "shared")


class Occupancy(NamedTuple):
    """Result of :func:`occupancy`."""

    blocks_per_sm: int
    warps_per_sm: int
    occupancy: float             # active warps / max warps per SM, 0..1
    limiter: str                 # one of LIMITERS
    blocks_by_limit: dict        # limiter name -> blocks that limit alone allows
    warps_per_block: int
    registers_per_warp: int      # after rounding to the allocation unit
    shared_bytes_allocated: int  # per block, with the reservation and rounding


def _round_up(x: int, unit: int) -> int:
    return -(-x // unit) * unit


def occupancy(compute_capability: str, threads_per_block: int, registers_per_thread: int,
              shared_bytes_per_block: int = 0) -> Occupancy:
    """Theoretical occupancy of one SM for a kernel launch (see the module docstring).

    Parameters
    ----------
    compute_capability : str, e.g. ``"8.0"`` (one of ``cuda_limits.csv``)
    threads_per_block : int, 1 .. 1024
    registers_per_thread : int, 1 .. 255
    shared_bytes_per_block : int, 0 .. the compute capability's maximum per block

    Raises
    ------
    ValueError
        For a launch that cannot run: too many threads, too many registers per thread or per block,
        or too much shared memory for one block; the message names the limit.
    """
    lim = cuda_limits(compute_capability)
    T = check_int("threads_per_block", threads_per_block, minimum=1,
                  maximum=lim.max_threads_per_block)
    R = check_int("registers_per_thread", registers_per_thread, minimum=1,
                  maximum=lim.max_registers_per_thread)
    S = check_int("shared_bytes_per_block", shared_bytes_per_block, minimum=0,
                  maximum=lim.max_shared_bytes_per_block)
    W = -(-T // 32)
    regs_per_warp = _round_up(32 * R, lim.register_allocation_unit)
    if regs_per_warp * W > lim.max_registers_per_block:
        raise ValueError(f"registers_per_thread={R} with threads_per_block={T} needs "
                         f"{regs_per_warp * W} registers per block; compute capability "
                         f"{compute_capability} allows at most {lim.max_registers_per_block}")
    g = lim.warp_allocation_granularity
    warps_by_regs = (lim.registers_per_sm // regs_per_warp) // g * g
    if warps_by_regs < W:
        raise ValueError(f"registers_per_thread={R} with threads_per_block={T}: the block's {W} "
                         f"warps do not fit the register file's sub-partitions "
                         f"({warps_by_regs} warps of {regs_per_warp} registers fit)")
    smem = _round_up(S + lim.shared_reserved_per_block, lim.shared_allocation_unit)
    by = {
        "warps": lim.max_warps_per_sm // W,
        "blocks": lim.max_blocks_per_sm,
        "registers": warps_by_regs // W,
        "shared": lim.shared_bytes_per_sm // smem if smem else lim.max_blocks_per_sm,
    }
    blocks = min(by.values())
    limiter = next(name for name in LIMITERS if by[name] == blocks)
    warps = blocks * W
    return Occupancy(blocks_per_sm=blocks, warps_per_sm=warps,
                     occupancy=warps / lim.max_warps_per_sm, limiter=limiter, blocks_by_limit=by,
                     warps_per_block=W, registers_per_warp=regs_per_warp,
                     shared_bytes_allocated=smem)


def occupancy_sweep(compute_capability: str, vary: str, values, threads_per_block: int = 256,
                    registers_per_thread: int = 32, shared_bytes_per_block: int = 0):
    """:func:`occupancy` over ``values`` of one launch parameter, the others fixed.

    Parameters
    ----------
    vary : ``"threads_per_block"``, ``"registers_per_thread"`` or ``"shared_bytes_per_block"``
    values : iterable of int

    Returns
    -------
    DataFrame with columns ``vary``, ``blocks_per_sm``, ``warps_per_sm``, ``occupancy``,
    ``limiter``; a launch that cannot run has occupancy 0 and limiter ``"invalid"``.
    """
    import pandas as pd

    from ..validation import check_choice

    params = ("threads_per_block", "registers_per_thread", "shared_bytes_per_block")
    check_choice("vary", vary, params)
    base = dict(threads_per_block=threads_per_block, registers_per_thread=registers_per_thread,
                shared_bytes_per_block=shared_bytes_per_block)
    rows = []
    for v in values:
        args = {**base, vary: v}
        try:
            r = occupancy(compute_capability, **args)
            rows.append({vary: v, "blocks_per_sm": r.blocks_per_sm,
                         "warps_per_sm": r.warps_per_sm, "occupancy": r.occupancy,
                         "limiter": r.limiter})
        except ValueError as err:
            if "compute_capability" in str(err):
                raise
            rows.append({vary: v, "blocks_per_sm": 0, "warps_per_sm": 0, "occupancy": 0.0,
                         "limiter": "invalid"})
    return pd.DataFrame(rows)
