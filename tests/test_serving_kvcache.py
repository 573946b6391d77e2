"""aichip.serving.PagedKVCache against a hand-worked allocator trace; kv_waste by hand."""

import numpy as np
import pytest

from aichip import serving


def test_hand_worked_allocator_trace():
    # 6 blocks of 4 tokens, 10 bytes per token
    kv = serving.PagedKVCache(6, 4, 10)
    assert kv.append("a", 6) == [0, 1]            # blocks 0 (4 tokens) and 1 (2 tokens)
    assert kv.used_blocks == 2
    assert kv.wasted_bytes() == 2 * 10            # two empty slots in block 1
    kv.fork("a", "b")                             # b shares blocks 0 and 1
    assert kv.block_table("b") == [0, 1] and kv.used_blocks == 2
    assert kv.ref_count(1) == 2
    # b appends into the shared partial block 1: copy-on-write to block 2, then fills it
    assert kv.append("b", 1) == [2]
    assert kv.block_table("b") == [0, 2] and kv.block_table("a") == [0, 1]
    assert kv.ref_count(1) == 1 and kv.ref_count(2) == 1 and kv.ref_count(0) == 2
    assert kv.length("a") == 6 and kv.length("b") == 7 and kv.copies == 1
    assert kv.wasted_bytes() == (3 * 4 - (4 + 2 + 3)) * 10
    # a now owns block 1 alone: its append writes in place, no copy
    assert kv.append("a", 2) == []
    assert kv.block_table("a") == [0, 1] and kv.copies == 1
    # b needs 3 more tokens: one slot left in block 2, then a new block 3
    assert kv.append("b", 3) == [3]
    assert kv.block_table("b") == [0, 2, 3]
    # freeing a releases block 1 only; block 0 is still b's
    assert kv.free("a") == 1
    assert kv.used_blocks == 3 and kv.ref_count(0) == 1
    # 3 blocks free: an append that needs 4 fails and changes nothing
    with pytest.raises(serving.OutOfBlocksError, match="needs 4 blocks, 3 free"):
        kv.append("c", 13)
    assert kv.used_blocks == 3
    with pytest.raises(KeyError):
        kv.length("c")
    assert kv.free("b") == 3
    assert kv.used_blocks == 0 and kv.free_blocks == 6 and kv.wasted_bytes() == 0


def test_copy_on_write_needs_a_free_block():
    kv = serving.PagedKVCache(1, 4, 1)
    kv.append("a", 2)
    kv.fork("a", "b")
    with pytest.raises(serving.OutOfBlocksError):
        kv.append("b", 1)
    assert kv.block_table("b") == [0] and kv.ref_count(0) == 2
    # a full shared block needs no copy: appending opens a new block instead
    kv2 = serving.PagedKVCache(3, 2, 1)
    kv2.append("a", 2)
    kv2.fork("a", "b")
    assert kv2.append("b", 1) == [1] and kv2.copies == 0



def test_appending_nothing_to_a_shared_block_copies_nothing():
    # copy-on-write copies a shared block only when a token is written into it: appending 0
    # tokens to a fork whose last block is shared and half full takes no block and copies none
    kv = serving.PagedKVCache(4, 4, 1)
    kv.append("a", 2)
    kv.fork("a", "b")
    assert kv.append("b", 0) == [] and kv.copies == 0
    assert kv.block_table("b") == [0] and kv.ref_count(0) == 2 and kv.free_blocks == 3

def test_cache_bad_input():
    with pytest.raises(ValueError, match="n_blocks"):
        serving.PagedKVCache(0, 16, 2)
    with pytest.raises(TypeError, match="block_tokens"):
        serving.PagedKVCache(4, 1.5, 2)
    with pytest.raises(ValueError, match="bytes_per_token"):
        serving.PagedKVCache(4, 16, 0)
    kv = serving.PagedKVCache(4, 16, 2)
    with pytest.raises(ValueError, match="n_tokens"):
        kv.append("a", -1)
    with pytest.raises(KeyError, match="seq_id"):
        kv.free("nobody")
    kv.append("a", 1)
    kv.append("b", 1)
    with pytest.raises(ValueError, match="child_id"):
        kv.fork("a", "b")


def test_kv_waste_by_hand():
    lengths = [5, 16, 17]
    # paged, 16-token blocks: 16 + 16 + 32 reserved for 38 tokens
    assert serving.kv_waste(lengths, 64, 16, "paged") == pytest.approx(1 - 38 / 64)
    # contiguous to 64 tokens each: 192 reserved
    assert serving.kv_waste(lengths, 64, 16, "contiguous") == pytest.approx(1 - 38 / 192)
    assert serving.kv_waste([16, 32], 64, 16, "paged") == 0


def test_kv_waste_matches_the_allocator():
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 200, size=50)
    kv = serving.PagedKVCache(1000, 16, 1)
    for i, n in enumerate(lengths):
        kv.append(i, int(n))
    reserved = kv.used_blocks * 16
    assert serving.kv_waste(lengths, 200, 16, "paged") == pytest.approx(
        kv.wasted_bytes() / reserved)


def test_admitted_batch():
    lengths = [100, 100, 100, 100]
    # contiguous to 1000 tokens of 1 byte: 2 fit in 2500 bytes; paged (blocks of 16: 112): all
    assert serving.admitted_batch(lengths, 1000, 1, 2500, 16, "contiguous") == 2
    assert serving.admitted_batch(lengths, 1000, 1, 2500, 16, "paged") == 4
    assert serving.admitted_batch(lengths, 1000, 1, 335, 16, "paged") == 2


def test_kv_waste_bad_input():
    with pytest.raises(ValueError, match="policy"):
        serving.kv_waste([1, 2], 10, 4, "buddy")
    with pytest.raises(ValueError, match="lengths"):
        serving.kv_waste([1, 20], 10, 4, "paged")
    with pytest.raises(TypeError, match="lengths"):
        serving.kv_waste([1.5], 10, 4, "paged")
    with pytest.raises(ValueError, match="weight_bytes_total"):
        serving.kv_budget_bytes(80e9, 100e9)


def test_random_operations_keep_the_block_accounting():
    """Random appends, forks and frees against an independent account: every sequence's table
    covers exactly its tokens, shared blocks are counted once, waste is the empty slots."""
    rng = np.random.default_rng(7)
    b = 4
    kv = serving.PagedKVCache(64, b, 1)
    live, next_id = [], 0
    for _ in range(2000):
        op = rng.integers(3)
        try:
            if op == 0 or not live:
                seq = live[rng.integers(len(live))] if live and rng.random() < 0.7 else next_id
                kv.append(seq, int(rng.integers(0, 9)))
                if seq == next_id:
                    live.append(seq)
                    next_id += 1
            elif op == 1:
                kv.fork(live[rng.integers(len(live))], next_id)
                live.append(next_id)
                next_id += 1
            else:
                kv.free(live.pop(rng.integers(len(live))))
        except serving.OutOfBlocksError:
            pass
        fill = {}
        for seq in live:
            table, n = kv.block_table(seq), kv.length(seq)
            assert len(table) == -(-n // b)
            for j, block in enumerate(table):
                held = min(b, n - j * b)
                # a shared block holds the same tokens for every owner
                assert fill.setdefault(block, held) == held
        assert kv.used_blocks == len(fill)
        assert kv.wasted_bytes() == sum(b - f for f in fill.values())
        assert all(kv.ref_count(blk) == sum(blk in kv.block_table(s) for s in live)
                   for blk in fill)
