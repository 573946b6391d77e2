"""The KV cache as paged memory (Kwon et al., SOSP 2023): fixed-size blocks, a block table per
sequence, blocks allocated as tokens arrive, copy-on-write sharing of a common prefix.

Against it, **contiguous reservation**: each sequence gets one slab for the longest sequence the
server allows (``max_len`` tokens), as systems before vLLM did (Orca, FasterTransformer). Waste is
the reserved memory that holds no token: in a slab everything past the sequence's length; in paged
memory only the unfilled tail of each sequence's last block.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..validation import check_choice, check_float, check_int
from .traces import request_trace

__all__ = ["KV_POLICIES", "OutOfBlocksError", "PagedKVCache", "kv_waste", "reserved_tokens",
           "admitted_batch", "kv_budget_bytes", "kv_waste_table"]

KV_POLICIES = ("paged", "contiguous")


class OutOfBlocksError(MemoryError):
    """No free block is left for an append or a copy-on-write."""


class PagedKVCache:
    """A pool of ``n_blocks`` blocks of ``block_tokens`` tokens, ``bytes_per_token`` each.

    Each sequence owns a block table (a list of block ids) and a length. A block may be shared by
    several sequences after :meth:`fork`; it carries a reference count and returns to the free pool
    when the last owner frees it. Appending to a sequence whose last block is shared and not full
    first copies that block (copy-on-write), so the other owners keep seeing their tokens.

    Parameters
    ----------
    n_blocks : int >= 1
    block_tokens : int >= 1, tokens per block (vLLM's default is 16)
    bytes_per_token : float > 0, KV bytes one token occupies
        (:meth:`aichip.serving.DecoderShape.kv_bytes_per_token`)
    """

    def __init__(self, n_blocks, block_tokens, bytes_per_token):
        self.n_blocks = check_int("n_blocks", n_blocks, minimum=1)
        self.block_tokens = check_int("block_tokens", block_tokens, minimum=1)
        self.bytes_per_token = check_float("bytes_per_token", bytes_per_token, minimum=0,
                                           strict_minimum=True)
        self._free = list(range(self.n_blocks - 1, -1, -1))   # pop() hands out block 0 first
        self._refs = [0] * self.n_blocks
        self._fill = [0] * self.n_blocks                      # tokens held by each block
        self._tables: dict = {}
        self._lengths: dict = {}
        self.copies = 0                                       # copy-on-write events so far

    # -- queries ---------------------------------------------------------------------------
    @property
    def used_blocks(self) -> int:
        """Blocks held by at least one sequence."""
        return self.n_blocks - len(self._free)

    @property
    def free_blocks(self) -> int:
        """Blocks in the free pool."""
        return len(self._free)

    def block_table(self, seq_id) -> list[int]:
        """The block ids of ``seq_id`` in order (a copy)."""
        return list(self._tables[self._known(seq_id)])

    def length(self, seq_id) -> int:
        """Tokens held by ``seq_id``."""
        return self._lengths[self._known(seq_id)]

    def ref_count(self, block) -> int:
        """Sequences sharing ``block``."""
        return self._refs[check_int("block", block, minimum=0, maximum=self.n_blocks - 1)]

    def stored_tokens(self) -> int:
        """Token slots holding data, each physical block counted once (shared blocks once)."""
        return sum(self._fill[b] for b in range(self.n_blocks) if self._refs[b])

    def wasted_bytes(self) -> float:
        """Bytes of allocated blocks that hold no token."""
        return (self.used_blocks * self.block_tokens - self.stored_tokens()) * self.bytes_per_token

    # -- operations ------------------------------------------------------------------------
    def _known(self, seq_id):
        if seq_id not in self._tables:
            raise KeyError(f"seq_id {seq_id!r} is not in the cache")
        return seq_id

    def _take(self) -> int:
        block = self._free.pop()
        self._refs[block] = 1
        self._fill[block] = 0
        return block

    def append(self, seq_id, n_tokens) -> list[int]:
        """Add ``n_tokens`` tokens to ``seq_id`` (a new sequence if unknown); return the blocks
        newly taken from the pool (a copy-on-write copy first, if any).

        Raises OutOfBlocksError, leaving the cache unchanged, when the pool is too small."""
        n_tokens = check_int("n_tokens", n_tokens, minimum=0)
        table = self._tables.get(seq_id, [])
        length = self._lengths.get(seq_id, 0)
        room = len(table) * self.block_tokens - length        # free slots in the last block
        last_shared = room > 0 and n_tokens > 0 and self._refs[table[-1]] > 1
        new_blocks = math.ceil(max(n_tokens - room, 0) / self.block_tokens)
        needed = new_blocks + (1 if last_shared else 0)
        if needed > len(self._free):
            raise OutOfBlocksError(f"append of {n_tokens} tokens to {seq_id!r} needs {needed} "
                                   f"blocks, {len(self._free)} free of {self.n_blocks}")
        taken = []
        if last_shared:                                       # copy-on-write of the last block
            old = table[-1]
            copy = self._take()
            self._fill[copy] = self._fill[old]
            self._refs[old] -= 1
            table = table[:-1] + [copy]
            taken.append(copy)
            self.copies += 1
        left = n_tokens
        if room > 0 and left > 0:
            put = min(room, left)
            self._fill[table[-1]] += put
            left -= put
        while left > 0:
            block = self._take()
            put = min(self.block_tokens, left)
            self._fill[block] = put
            table = table + [block]
            taken.append(block)
            left -= put
        self._tables[seq_id] = table
        self._lengths[seq_id] = length + n_tokens
        return taken

    def fork(self, parent_id, child_id) -> None:
        """Make ``child_id`` share every block of ``parent_id`` (a common prefix, or beam search's
        candidates): no copy now; reference counts go up."""
        self._known(parent_id)
        if child_id in self._tables:
            raise ValueError(f"child_id {child_id!r} is already in the cache")
        for block in self._tables[parent_id]:
            self._refs[block] += 1
        self._tables[child_id] = list(self._tables[parent_id])
        self._lengths[child_id] = self._lengths[parent_id]

    def free(self, seq_id) -> int:
        """Drop ``seq_id``; blocks whose last owner it was return to the pool. Returns how many."""
        released = 0
        for block in reversed(self._tables.pop(self._known(seq_id))):
            self._refs[block] -= 1
            if self._refs[block] == 0:
                self._fill[block] = 0
                self._free.append(block)
                released += 1
        del self._lengths[seq_id]
        return released


def _check_lengths(lengths, max_len):
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError("lengths must be a non-empty 1-D sequence of integers")
    if arr.min() < 1 or arr.max() > max_len:
        raise ValueError(f"lengths must lie in [1, max_len={max_len}], "
                         f"got [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


def reserved_tokens(lengths, max_len, block_tokens=16, policy="paged") -> np.ndarray:
    """Token slots each sequence of ``lengths`` holds under ``policy``: ``max_len`` each for
    ``"contiguous"``, ``ceil(length / block_tokens) * block_tokens`` for ``"paged"``."""
    max_len = check_int("max_len", max_len, minimum=1)
    block_tokens = check_int("block_tokens", block_tokens, minimum=1)
    check_choice("policy", policy, KV_POLICIES)
    arr = _check_lengths(lengths, max_len)
    if policy == "contiguous":
        return np.full(arr.shape, max_len, dtype=np.int64)
    return -(-arr // block_tokens) * block_tokens


def kv_waste(lengths, max_len, block_tokens=16, policy="paged") -> float:
    """Fraction of the reserved KV memory that holds no token, for sequences of ``lengths`` tokens
    (1-D ints in ``[1, max_len]``): ``1 - sum(lengths) / sum(reserved_tokens(...))``."""
    reserved = reserved_tokens(lengths, max_len, block_tokens, policy)
    return 1.0 - float(np.sum(lengths)) / float(reserved.sum())


def kv_budget_bytes(memory_bytes, weight_bytes_total, utilization=0.9) -> float:
    """Bytes left for the KV cache on one GPU: ``utilization * memory_bytes`` minus the weights
    (vLLM's ``gpu_memory_utilization`` defaults to 0.9; the rest covers activations and the
    runtime). ValueError when the weights do not fit."""
    memory = check_float("memory_bytes", memory_bytes, minimum=0, strict_minimum=True)
    weights = check_float("weight_bytes_total", weight_bytes_total, minimum=0)
    utilization = check_float("utilization", utilization, minimum=0, maximum=1,
                              strict_minimum=True)
    left = utilization * memory - weights
    if left <= 0:
        raise ValueError(f"weight_bytes_total ({weights:.3g} B) leaves no KV memory in "
                         f"{utilization:g} x {memory:.3g} B")
    return left


def admitted_batch(lengths, max_len, bytes_per_token, budget_bytes, block_tokens=16,
                   policy="paged") -> int:
    """How many of the sequences ``lengths`` (in order, each at its final length) fit at once in
    ``budget_bytes`` of KV memory under ``policy``: the longest prefix whose reserved tokens times
    ``bytes_per_token`` stays within the budget."""
    bpt = check_float("bytes_per_token", bytes_per_token, minimum=0, strict_minimum=True)
    budget = check_float("budget_bytes", budget_bytes, minimum=0)
    reserved = np.cumsum(reserved_tokens(lengths, max_len, block_tokens, policy)) * bpt
    return int(np.searchsorted(reserved, budget, side="right"))


def kv_waste_table(shape, hw, n_requests=2000, profile="conversation", seed=0, block_tokens=16,
                   weight_bytes=2, kv_bytes=2, max_len=None) -> pd.DataFrame:
    """Paged against contiguous KV memory on a request trace (:func:`aichip.serving.request_trace`
    lengths at their final size, prompt + output): per policy, the ``waste`` fraction, the KV
    ``budget_GB`` beside the weights on ``hw`` and the ``admitted_batch`` (sequences of the trace,
    in order, that fit at once)."""

    max_len = shape.max_context if max_len is None else check_int("max_len", max_len, minimum=2)
    lengths = request_trace(n_requests, 1.0, profile, seed, max_len).total_tokens
    budget = kv_budget_bytes(hw.memory_bytes, shape.n_params * weight_bytes)
    per_token = shape.kv_bytes_per_token(kv_bytes)
    rows = {policy: dict(waste=kv_waste(lengths, max_len, block_tokens, policy),
                         budget_GB=budget / 1e9,
                         admitted_batch=admitted_batch(lengths, max_len, per_token, budget,
                                                       block_tokens, policy))
            for policy in KV_POLICIES}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")
