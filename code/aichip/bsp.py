"""A bulk-synchronous step on an IPU-like tile array: a dataflow *chip* (chapter 1).

Graphcore's IPU is an array of tiles, each a core with its own SRAM and no shared memory. A program
runs in bulk-synchronous parallel (BSP) supersteps (Valiant 1990): every tile **computes** on its
own SRAM, all tiles **synchronise** at a barrier, then the tiles **exchange** data over the on-chip
fabric, and the next step begins. No phase overlaps another, so one step takes

    t = max over tiles (FLOPs_i / tile peak) + t_sync + max over tiles (bytes_i) / (B / tiles),

where ``B`` is the fabric's all-to-all exchange bandwidth, shared evenly, so that each tile sends
at ``B / tiles``: the slowest tile sets both the compute and the exchange time. A step whose data do
not fit in a tile's SRAM cannot run at all (there is no cache behind it to spill to).

:data:`IPU_MK2` holds the Colossus Mk2 GC200's figures: 1472 tiles of 624 KiB each from Graphcore's
IPU Programmer's Guide (section 2.3.1, whose tile address range 0x4C000-0xE7FFF is exactly 624 KiB),
250 TFLOP/s FP16 from the GC200 datasheet, and the 8 TB/s exchange bandwidth as reported from the
chip's launch (secondary: the Graphcore documents checked give no exchange figure).
:func:`block_matmul_step` is the chapter's example: every tile
multiplies two ``b x b`` blocks and then sends its ``b x b`` result block to another tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_float, check_int

__all__ = ["TileArray", "BspStep", "IPU_MK2", "bsp_step", "block_matmul_step"]


@dataclass(frozen=True)
class TileArray:
    """A tile array: ``tiles`` cores with ``sram_bytes_per_tile`` each, a per-tile peak in FLOP/s
    (``tile_peak_FLOPs``) and an all-to-all exchange bandwidth ``exchange_Bps`` (bytes/s)."""

    name: str
    tiles: int
    sram_bytes_per_tile: int
    tile_peak_FLOPs: float
    exchange_Bps: float
    source: str


#: Colossus Mk2 GC200: 1472 tiles of 624 KiB, 250 TFLOP/s FP16 in all, 8 TB/s exchange (secondary)
IPU_MK2 = TileArray(name="Graphcore Colossus MK2 GC200", tiles=1472,
                    sram_bytes_per_tile=624 * 1024, tile_peak_FLOPs=250e12 / 1472,
                    exchange_Bps=8e12, source="graphcore2022ipuguide")


@dataclass(frozen=True)
class BspStep:
    """Times of one superstep (seconds) and whether every tile's data fit in its SRAM."""

    compute_s: float
    sync_s: float
    exchange_s: float
    fits_in_sram: bool

    @property
    def total_s(self) -> float:
        return self.compute_s + self.sync_s + self.exchange_s

    @property
    def compute_fraction(self) -> float:
        """Share of the step spent computing: the fraction of peak the step reaches."""
        return self.compute_s / self.total_s


def _per_tile(name: str, values, tiles: int) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(values, dtype=float), (tiles,))
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0 on every tile")
    return arr


def bsp_step(array: TileArray, flops_per_tile, bytes_sent_per_tile, bytes_held_per_tile=0,
             sync_s: float = 0.0) -> BspStep:
    """One compute / sync / exchange superstep on ``array`` (see the module docstring).

    Parameters
    ----------
    array : TileArray
    flops_per_tile : float or array of shape (tiles,), floating-point operations of each tile
    bytes_sent_per_tile : float or array of shape (tiles,), bytes each tile sends in the exchange
    bytes_held_per_tile : float or array of shape (tiles,), bytes each tile keeps in its SRAM
    sync_s : float, the barrier's own time in seconds (Graphcore publishes none; default 0)
    """
    if not isinstance(array, TileArray):
        raise TypeError(f"array must be a TileArray, got {type(array).__name__}")
    flops = _per_tile("flops_per_tile", flops_per_tile, array.tiles)
    sent = _per_tile("bytes_sent_per_tile", bytes_sent_per_tile, array.tiles)
    held = _per_tile("bytes_held_per_tile", bytes_held_per_tile, array.tiles)
    sync = check_float("sync_s", sync_s, minimum=0)
    compute = float(flops.max()) / array.tile_peak_FLOPs
    exchange = float(sent.max()) / (array.exchange_Bps / array.tiles)
    return BspStep(compute_s=compute, sync_s=sync, exchange_s=exchange,
                   fits_in_sram=bool(held.max() <= array.sram_bytes_per_tile))


def block_matmul_step(array: TileArray, b: int, bytes_per_value: int = 2,
                      sync_s: float = 0.0) -> BspStep:
    """Every tile multiplies two ``b x b`` blocks (``2 b^3`` FLOPs), holds the two operands and the
    result (``3 b^2`` values) and sends its result block (``b^2`` values) in the exchange."""
    b = check_int("b", b, minimum=1)
    size = check_int("bytes_per_value", bytes_per_value, minimum=1)
    return bsp_step(array, 2.0 * b**3, float(b * b * size), 3 * b * b * size, sync_s)
