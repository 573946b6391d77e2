"""The occupancy calculator against NVIDIA's documented example and hand computations.

Every expected answer below is computed by hand in the comment next to it from the rules the CUDA
documentation states, with the limits typed here from the CUDA C++ Programming Guide's table of
technical specifications per compute capability (not read from ``cuda_limits.csv``):

=====  ==========  ===========  ==============  ===============  ======================
CC     warps/SM    blocks/SM    registers/SM    shared/SM (max)  shared unit, reserved
=====  ==========  ===========  ==============  ===============  ======================
7.0    64          32           65536           96 KB = 98304    256 B, 0
7.5    32          16           65536           64 KB = 65536    256 B, 0
8.0    64          32           65536           164 KB = 167936  128 B, 1 KB
8.6    48          16           65536           100 KB = 102400  128 B, 1 KB
8.9    48          24           65536           100 KB = 102400  128 B, 1 KB
9.0    64          32           65536           228 KB = 233472  128 B, 1 KB
=====  ==========  ===========  ==============  ===============  ======================

Registers: ``ceil(32 R / 256) * 256`` per warp; warps that fit = ``floor(65536 / that)`` rounded
down to a multiple of 4 (four register-file sub-partitions; cuda_occupancy.h's warp allocation
granularity).
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import gpu

# (cc, threads, registers, shared bytes, blocks, occupancy, limiter, where the answer comes from)
CASES = [
    # CUDA C++ Best Practices Guide, "Calculating Occupancy": CC 7.0, 37 registers, 128-thread
    # blocks -> 75% with 12 blocks; 320-thread blocks -> 63% with 4 blocks.
    ("7.0", 128, 37, 0, 12, 0.75, "registers", "Best Practices Guide, 128 threads x 37 regs"),
    ("7.0", 320, 37, 0, 4, 0.625, "registers", "Best Practices Guide, 320 threads x 37 regs"),
    # 32 regs: 1024/warp, 64 warps fit = all 64; warps: 64/8 = 8 blocks; tie -> "warps"
    ("7.0", 256, 32, 0, 8, 1.0, "warps", "hand: 64/8 = 8 blocks, registers allow 64/8 too"),
    # 1 warp per block: warps allow 64 blocks, the 32-block limit binds: 32 warps = 50%
    ("7.0", 32, 16, 0, 32, 0.5, "blocks", "hand: 32 blocks x 1 warp of 64"),
    # 64 regs: 2048/warp -> 32 warps -> one 32-warp block = 50%
    ("7.0", 1024, 64, 0, 1, 0.5, "registers", "hand: 65536/2048 = 32 warps = 1 block of 32"),
    # register granularity: 33 regs -> 1056 -> 1280/warp -> 51 warps -> 48 -> 6 blocks of 8
    # (without the 256 rounding: 65536/1056 = 62 warps -> 7 blocks)
    ("7.0", 256, 33, 0, 6, 0.75, "registers", "hand: 256-register rounding, 6 blocks not 7"),
    # 40 regs -> 1280/warp -> 51 -> 48 warps; 3-warp blocks: 16 blocks = 48 warps
    ("7.0", 96, 40, 0, 16, 0.75, "registers", "hand: 48 warps / 3 per block = 16"),
    # shared: 98304 / 49152 = 2 blocks of 8 warps = 16/64
    ("7.0", 256, 16, 49152, 2, 0.25, "shared", "hand: 96 KB / 48 KB = 2 blocks"),
    # shared granularity: 19600 B -> 19712 (77 x 256); 98304/19712 = 4.99 -> 4 (unrounded: 5)
    ("7.0", 64, 16, 19600, 4, 0.125, "shared", "hand: 256-byte shared rounding, 4 blocks not 5"),
    # 7.5: 32 warps per SM; 8-warp blocks -> 4 blocks, 100%
    ("7.5", 256, 32, 0, 4, 1.0, "warps", "hand: 32/8 = 4 blocks"),
    ("7.5", 1024, 64, 0, 1, 1.0, "warps", "hand: 32/32 = 1 block; registers allow 32 warps too"),
    # 2-warp blocks: warps allow 16, blocks allow 16 -> tie -> "warps"
    ("7.5", 64, 32, 0, 16, 1.0, "warps", "hand: 32/2 = 16 = block limit"),
    # 1-warp blocks: the 16-block limit -> 16 of 32 warps
    ("7.5", 32, 32, 0, 16, 0.5, "blocks", "hand: 16 blocks x 1 warp of 32"),
    ("7.5", 128, 16, 32768, 2, 0.25, "shared", "hand: 64 KB / 32 KB = 2 blocks of 4 warps"),
    ("8.0", 256, 32, 0, 8, 1.0, "warps", "hand: 64/8 = 8 blocks"),
    # 1 KB reservation: 41 KB + 1 KB = 43008 B; 167936/43008 = 3.9 -> 3 (unreserved: 4)
    ("8.0", 128, 16, 41984, 3, 0.1875, "shared", "hand: 1 KB per-block reservation, 3 not 4"),
    # the largest block allocation: 163 KB + 1 KB = 164 KB -> exactly 1 block
    ("8.0", 256, 32, 166912, 1, 0.125, "shared", "hand: 163 KB + 1 KB reserved = the whole SM"),
    # 128-byte rounding on 8.0: 32540 + 1024 = 33564 -> 33664; 167936/33664 = 4.99 -> 4
    ("8.0", 64, 16, 32540, 4, 0.125, "shared", "hand: 128-byte shared rounding, 4 blocks not 5"),
    ("8.6", 256, 32, 0, 6, 1.0, "warps", "hand: 48/8 = 6 blocks"),
    ("8.6", 1024, 32, 0, 1, 32 / 48, "warps", "hand: 48/32 = 1 block = 32 of 48 warps"),
    ("8.6", 64, 16, 0, 16, 32 / 48, "blocks", "hand: 16-block limit x 2 warps = 32 of 48"),
    ("8.9", 64, 16, 0, 24, 1.0, "warps", "hand: 48/2 = 24 = block limit"),
    ("8.9", 32, 16, 0, 24, 0.5, "blocks", "hand: 24 blocks x 1 warp of 48"),
    ("9.0", 128, 64, 0, 8, 0.5, "registers", "hand: 2048/warp -> 32 warps = 8 blocks of 4"),
    # 100 KB + 1 KB = 103424 B; 233472/103424 = 2.26 -> 2 blocks of 8 warps
    ("9.0", 256, 32, 102400, 2, 0.25, "shared", "hand: 228 KB / 101 KB = 2 blocks"),
    # 168 regs: 5376/warp; 65536/5376 = 12.2 -> 12 warps -> one 8-warp block
    ("9.0", 256, 168, 0, 1, 0.125, "registers", "hand: 12 warps of registers, 1 block of 8"),
    # Blackwell data centre (10.0, 10.3): Hopper's limits; 200 KB + 1 KB = 205824 B fits once
    ("10.0", 256, 32, 200 * 1024, 1, 0.125, "shared", "hand: 228 KB / 201 KB = 1 block"),
    # 1-warp blocks: the 32-block limit -> 32 of 64 warps
    ("10.0", 32, 16, 0, 32, 0.5, "blocks", "hand: 32 blocks x 1 warp of 64"),
    # 128 regs: 4096 per warp -> 16 warps -> 4 blocks of 4 warps = 16 of 64
    ("10.3", 128, 128, 0, 4, 0.25, "registers", "hand: 65536/4096 = 16 warps = 4 blocks"),
    # Blackwell consumer (12.0): 48 warps, 24 blocks, 100 KB; 8-warp blocks -> 6 blocks = 100%
    ("12.0", 256, 32, 0, 6, 1.0, "warps", "hand: 48/8 = 6 blocks"),
    # 1-warp blocks: 24 blocks x 1 warp = 24 of 48 (8.6 allowed only 16 blocks)
    ("12.0", 32, 16, 0, 24, 24 / 48, "blocks", "hand: 24-block limit x 1 warp of 48"),
    # 48 KB + 1 KB = 50176 B; 102400/50176 = 2.04 -> 2 blocks of 4 warps = 8 of 48
    ("12.0", 128, 16, 48 * 1024, 2, 8 / 48, "shared", "hand: 100 KB / 49 KB = 2 blocks"),
]


@pytest.mark.parametrize("cc,threads,regs,smem,blocks,occ,limiter,why", CASES,
                         ids=[f"{c[0]}-{c[1]}t-{c[2]}r-{c[3]}B" for c in CASES])
def test_occupancy_cases(cc, threads, regs, smem, blocks, occ, limiter, why):
    res = gpu.occupancy(cc, threads, regs, smem)
    assert res.blocks_per_sm == blocks, why
    assert res.occupancy == pytest.approx(occ), why
    assert res.warps_per_sm == blocks * math.ceil(threads / 32)
    assert res.limiter == limiter, why


def test_at_least_twenty_cases_over_every_required_compute_capability():
    assert len(CASES) >= 20
    assert {c[0] for c in CASES} >= {"7.0", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "10.3",
                                     "12.0"}


# --- an independent model: place blocks one at a time on an SM with four register sub-partitions

_LIMITS = {  # warps, blocks, shared per SM, shared unit, reserved (Programming Guide)
    "7.0": (64, 32, 98304, 256, 0), "7.5": (32, 16, 65536, 256, 0),
    "8.0": (64, 32, 167936, 128, 1024), "8.6": (48, 16, 102400, 128, 1024),
    "8.9": (48, 24, 102400, 128, 1024), "9.0": (64, 32, 233472, 128, 1024),
    "10.0": (64, 32, 233472, 128, 1024), "10.3": (64, 32, 233472, 128, 1024),
    "12.0": (48, 24, 102400, 128, 1024),
}


def _place_blocks(cc, threads, regs, smem):
    """Add blocks until one does not fit; each warp goes to the sub-partition with most registers.
    """
    max_warps, max_blocks, smem_sm, unit, reserved = _LIMITS[cc]
    warps_per_block = -(-threads // 32)
    regs_warp = -(-regs * 32 // 256) * 256
    smem_block = -(-(smem + reserved) // unit) * unit
    free_regs = [65536 // 4] * 4
    warps = blocks = used_smem = 0
    while blocks < max_blocks and warps + warps_per_block <= max_warps \
            and used_smem + smem_block <= smem_sm:
        trial = list(free_regs)
        for _ in range(warps_per_block):
            best = max(range(4), key=lambda i: trial[i])
            trial[best] -= regs_warp
        if min(trial) < 0:
            break
        free_regs, warps, blocks, used_smem = trial, warps + warps_per_block, blocks + 1, \
            used_smem + smem_block
    return blocks


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(_LIMITS)), st.integers(1, 1024), st.integers(1, 255),
       st.integers(0, 48 * 1024))
def test_occupancy_equals_block_by_block_placement(cc, threads, regs, smem):
    expected = _place_blocks(cc, threads, regs, smem)
    if expected == 0:
        with pytest.raises(ValueError, match="registers_per_thread"):
            gpu.occupancy(cc, threads, regs, smem)
    else:
        assert gpu.occupancy(cc, threads, regs, smem).blocks_per_sm == expected


@pytest.mark.parametrize("args,exc,match", [
    (("8.0", 1025, 32), ValueError, "threads_per_block"),
    (("8.0", 0, 32), ValueError, "threads_per_block"),
    (("8.0", 128, 256), ValueError, "registers_per_thread"),
    (("8.0", 128, 0), ValueError, "registers_per_thread"),
    (("8.0", 128, 32, 166913), ValueError, "shared_bytes_per_block"),
    (("7.5", 128, 32, 65537), ValueError, "shared_bytes_per_block"),
    (("8.0", 128, 32, -1), ValueError, "shared_bytes_per_block"),
    # 1024 threads x 65 registers: 2304 per warp x 32 warps = 73728 > 65536 per block
    (("9.0", 1024, 65), ValueError, "registers_per_thread"),
    # 25 warps of 2560 registers fit the 65536 per block but not four 16384-register sub-partitions
    (("7.0", 800, 80), ValueError, "sub-partitions"),
    (("5.2", 128, 32), ValueError, "compute_capability"),
    ((8.0, 128, 32), TypeError, "compute_capability"),
    (("8.0", 128.0, 32), TypeError, "threads_per_block"),
])
def test_occupancy_rejects_invalid_launches(args, exc, match):
    with pytest.raises(exc, match=match):
        gpu.occupancy(*args)


# --- the limits table itself, cell by cell, typed from the sources (not read from the CSV)

#: NVIDIA, CUDA C++ Programming Guide (12.x), "Technical Specifications per Compute Capability"
#: table: threads per block, resident warps per SM, resident blocks per SM, 32-bit registers per
#: SM, registers per block, registers per thread, shared memory per SM, shared memory per block
#: (the opt-in maximum; 48 KB on 6.0), all in the table's units (K = 1024).
GUIDE = {
    "6.0": (1024, 64, 32, 64 * 1024, 64 * 1024, 255, 64 * 1024, 48 * 1024),
    "7.0": (1024, 64, 32, 64 * 1024, 64 * 1024, 255, 96 * 1024, 96 * 1024),
    "7.5": (1024, 32, 16, 64 * 1024, 64 * 1024, 255, 64 * 1024, 64 * 1024),
    "8.0": (1024, 64, 32, 64 * 1024, 64 * 1024, 255, 164 * 1024, 163 * 1024),
    "8.6": (1024, 48, 16, 64 * 1024, 64 * 1024, 255, 100 * 1024, 99 * 1024),
    "8.9": (1024, 48, 24, 64 * 1024, 64 * 1024, 255, 100 * 1024, 99 * 1024),
    "9.0": (1024, 64, 32, 64 * 1024, 64 * 1024, 255, 228 * 1024, 227 * 1024),
    # CUDA Programming Guide, appendix "Compute Capabilities", Tables 30 and 31: 10.0 and 10.3
    # as 9.0; 12.x with 1536 threads and 24 resident blocks per SM (the 8.9 limits)
    "10.0": (1024, 64, 32, 64 * 1024, 64 * 1024, 255, 228 * 1024, 227 * 1024),
    "10.3": (1024, 64, 32, 64 * 1024, 64 * 1024, 255, 228 * 1024, 227 * 1024),
    "12.0": (1024, 48, 24, 64 * 1024, 64 * 1024, 255, 100 * 1024, 99 * 1024),
}
#: Allocation granularities, from CUDA's occupancy calculator header (cuda_occupancy.h) and, for
#: the 1 KB reserved per block from 8.0 on, the Programming Guide's compute capability 8.x
#: section: register unit (per warp), warp granularity, shared unit (bytes), reserved (bytes).
GRANULARITY = {
    "6.0": (256, 2, 256, 0), "7.0": (256, 4, 256, 0), "7.5": (256, 4, 256, 0),
    "8.0": (256, 4, 128, 1024), "8.6": (256, 4, 128, 1024), "8.9": (256, 4, 128, 1024),
    "9.0": (256, 4, 128, 1024), "10.0": (256, 4, 128, 1024), "10.3": (256, 4, 128, 1024),
    "12.0": (256, 4, 128, 1024),
}
ARCHITECTURE = {"6.0": "Pascal", "7.0": "Volta", "7.5": "Turing", "8.0": "Ampere",
                "8.6": "Ampere", "8.9": "Ada Lovelace", "9.0": "Hopper", "10.0": "Blackwell",
                "10.3": "Blackwell Ultra", "12.0": "Blackwell"}


@pytest.mark.parametrize("cc", sorted(GUIDE))
def test_cuda_limits_match_the_programming_guide(cc):
    lim = gpu.cuda_limits(cc)
    assert lim.architecture == ARCHITECTURE[cc]
    assert (lim.max_threads_per_block, lim.max_warps_per_sm, lim.max_blocks_per_sm,
            lim.registers_per_sm, lim.max_registers_per_block, lim.max_registers_per_thread,
            lim.shared_bytes_per_sm, lim.max_shared_bytes_per_block) == GUIDE[cc]
    assert (lim.register_allocation_unit, lim.warp_allocation_granularity,
            lim.shared_allocation_unit, lim.shared_reserved_per_block) == GRANULARITY[cc]
    assert lim.max_threads_per_sm == 32 * GUIDE[cc][1]  # 2048 on 6.0, 1024 on 7.5, 1536 on 8.6


def test_every_compute_capability_of_the_table_is_checked():
    assert set(gpu.compute_capabilities()) == set(GUIDE)


@pytest.mark.parametrize("cc,threads,regs,smem,blocks,occ,limiter", [
    # 8-warp blocks: 64 warps / 8 = 8 blocks; 32 regs = 1024 per warp, 64 warps fit -> 100%
    ("6.0", 256, 32, 0, 8, 1.0, "warps"),
    # 48 regs: 1536 per warp; 65536 / 1536 = 42.7 -> 42 warps (a multiple of the granularity 2;
    # with 4 it would be 40) -> 21 two-warp blocks = 42 of 64 warps
    ("6.0", 64, 48, 0, 21, 42 / 64, "registers"),
    # 1-warp blocks: the 32-block limit -> 32 of 64 warps
    ("6.0", 32, 16, 0, 32, 0.5, "blocks"),
    # shared: 64 KB / 40 KB = 1 block of 4 warps
    ("6.0", 128, 16, 40960, 1, 4 / 64, "shared"),
])
def test_occupancy_on_pascal(cc, threads, regs, smem, blocks, occ, limiter):
    res = gpu.occupancy(cc, threads, regs, smem)
    assert (res.blocks_per_sm, res.limiter) == (blocks, limiter)
    assert res.occupancy == pytest.approx(occ)
