import math

import numpy as np
import pytest

from aichip import attention, hbm, tables


def softmax_attention(q, k, v, causal=False):
    """Independent reference: each output row from its own softmax, in plain NumPy."""
    out = np.empty((q.shape[0], v.shape[1]))
    for i in range(q.shape[0]):
        seen = i + 1 if causal else k.shape[0]
        scores = k[:seen] @ q[i] / math.sqrt(q.shape[1])
        w = np.exp(scores - scores.max())
        out[i] = (w / w.sum()) @ v[:seen]
    return out


@pytest.mark.parametrize("n, m, d, dv, bq, bk", [
    (1, 1, 1, 1, 64, 64), (37, 37, 8, 8, 16, 16), (50, 23, 4, 6, 7, 5), (64, 64, 16, 3, 64, 64),
    (65, 65, 5, 5, 1, 200)])
@pytest.mark.parametrize("causal", [False, True])
def test_naive_and_flash_equal_the_numpy_softmax(n, m, d, dv, bq, bk, causal):
    if causal and n != m:
        m = n
    rng = np.random.default_rng(n * 1000 + m)
    q, k, v = (rng.standard_normal(s) * 3 for s in ((n, d), (m, d), (m, dv)))
    expected = softmax_attention(q, k, v, causal)
    naive = attention.naive_attention(q, k, v, causal=causal)
    flash = attention.flash_attention(q, k, v, block_q=bq, block_k=bk, causal=causal)
    assert naive.shape == flash.shape == (n, dv)
    assert np.max(np.abs(naive - expected)) < 1e-12
    assert np.max(np.abs(flash - expected)) < 1e-12
    assert np.max(np.abs(flash - naive)) < 1e-12


def test_online_softmax_survives_large_scores_and_batches_of_heads():
    rng = np.random.default_rng(2)
    q = rng.standard_normal((3, 40, 8)) * 40      # scores in the thousands: exp would overflow
    k, v = rng.standard_normal((3, 40, 8)), rng.standard_normal((3, 40, 8))
    flash = attention.flash_attention(q, k, v, block_q=8, block_k=8)
    assert np.all(np.isfinite(flash))
    for h in range(3):
        assert np.max(np.abs(flash[h] - softmax_attention(q[h], k[h], v[h]))) < 1e-12
    assert np.array_equal(attention.attention_reference(q, k, v).shape, (3, 40, 8))


def test_attention_bad_arguments():
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match="block_q"):
        attention.flash_attention(x, x, x, block_q=0)
    with pytest.raises(ValueError, match="same head dimension"):
        attention.naive_attention(x, np.ones((4, 3)), x)
    with pytest.raises(ValueError, match="K and V"):
        attention.naive_attention(x, x, np.ones((5, 2)))
    with pytest.raises(ValueError, match="Q must"):
        attention.naive_attention(np.ones(4), x, x)
    with pytest.raises(ValueError, match="algorithm"):
        attention.hbm_bytes(8, 2, "tiled")


def test_hbm_bytes_hand_counts():
    # naive, N = 4, d = 2, 2-byte elements: Q, K read (16), S written and read (32), P written and
    # read (32), V read (8), O written (8): 96 elements
    assert attention.hbm_bytes(4, 2, "naive") == 2 * 96
    # flash, N = 4, d = 2, blocks of 2 query rows: Q read and O written once (16 elements), and
    # each of the 2 query blocks reads all of K and V (2 x 16)
    assert attention.hbm_bytes(4, 2, "flash", block_q=2) == 2 * (16 + 32)
    # causal: block 1 sees keys 0-1, block 2 keys 0-3: K and V rows read 2 + 4 = 6 times
    assert attention.hbm_bytes(4, 2, "flash", block_q=2, causal=True) == 2 * (16 + 2 * 2 * 6)
    # 100 KiB of fp16 is 51200 elements: 4 x 131 x 64 + 131^2 = 50697 fits, 132 needs 51216
    assert attention.flash_blocks(64, 100 * 1024, 2) == (131, 131)
    assert attention.flash_blocks(128, 228 * 1024, 2) == (170, 170)
    assert attention.flash_blocks(64, 10, 2) == (1, 1)


def test_traffic_follows_theorem_2():
    # the counted traffic divided by the theorem's order stays within a constant band while N, d
    # and the fast memory M vary over large ranges
    ratios = {"naive": [], "flash": []}
    for n in (1024, 4096, 16384):
        for d in (64, 128):
            for sram in (64 * 1024, 192 * 1024):
                order = attention.theorem2_bytes(n, d, sram)
                ratios["naive"].append(attention.hbm_bytes(n, d, "naive") / order["naive"])
                bq, _ = attention.flash_blocks(d, sram)
                ratios["flash"].append(attention.hbm_bytes(n, d, "flash", bq) / order["flash"])
    for name, r in ratios.items():
        assert max(r) / min(r) < 8, name
    # flash moves N^2 x 2d / block_q elements against naive's 4 N^2: less by block_q / (2d)
    naive = attention.hbm_bytes(4096, 64, "naive")
    for bq in (64, 256):
        assert naive / attention.hbm_bytes(4096, 64, "flash", bq) == pytest.approx(bq / 32,
                                                                                  rel=0.1)


def test_kernel_source_shows_the_kernels():
    assert "np.empty((n, m))" in attention.kernel_source("naive")
    assert "rescale" in attention.kernel_source("flash")


def test_hbm_per_stack_bandwidth_is_bus_width_times_pin_rate():
    df = hbm.hbm_generations().set_index("generation")
    assert list(df.index) == ["HBM2", "HBM2E", "HBM3", "HBM3E", "HBM4"]
    # JEDEC HBM3: 1024 pins x 6.4 Gb/s = 819.2 GB/s; HBM4 doubles the interface
    assert df.loc["HBM3", "bus_width_bits"] * df.loc["HBM3", "pin_rate_Gbps"] / 8 == 819.2
    assert df.loc["HBM4", "bus_width_bits"] == 2 * df.loc["HBM3", "bus_width_bits"]
    # the sources round their per-stack figures by at most a few per cent
    assert np.all(np.abs(df["derived_over_stated"] - 1) < 0.03)
    assert df["stack_GBps"].is_monotonic_increasing


def test_gpu_memory_hierarchy_against_the_unit_table():
    units = tables.load_table("gpus").set_index("name")
    for gpu in ("NVIDIA A100 SXM4 80GB", "NVIDIA H100 SXM5"):
        h = hbm.memory_hierarchy(gpu).set_index("level")
        sms = units.loc[gpu, "sm_count"]
        # registers: 65536 x 4 bytes per SM (gpus.csv) times the SMs
        assert h.loc["registers", "capacity_MiB"] == units.loc[gpu, "registers_per_sm"] * 4 \
            * sms / 2 ** 20
        assert h.loc["L2", "capacity_MiB"] * 1024 == units.loc[gpu, "l2_KiB"]
        # the shared-memory carve-out fits in the combined L1
        assert units.loc[gpu, "shared_KiB_per_sm"] <= h.loc["shared memory / L1",
                                                            "capacity_per_sm_KiB"]
        # bandwidth falls and capacity grows down the hierarchy
        smem, top = h.loc["shared memory / L1"], h.loc["HBM"]
        assert smem["bandwidth_GBps"] > top["bandwidth_GBps"]
        assert top["capacity_MiB"] > h.loc["L2", "capacity_MiB"] > smem["capacity_MiB"]
    a100 = hbm.memory_hierarchy("NVIDIA A100 SXM4 80GB").set_index("level")
    # 128 B/clock x 108 SMs x 1.41 GHz and 5120 B/clock x 1.41 GHz
    assert a100.loc["shared memory / L1", "bandwidth_GBps"] == pytest.approx(19492, rel=1e-3)
    assert a100.loc["L2", "bandwidth_GBps"] == pytest.approx(7219, rel=1e-3)
    # an HBM bus runs at or below its generation's pin rate: A100's HBM2e, H100's HBM3
    gens = hbm.hbm_generations().set_index("generation")["pin_rate_Gbps"]
    assert hbm.implied_pin_rate_Gbps("NVIDIA A100 SXM4 80GB") <= gens["HBM2E"] * 1.001
    assert hbm.implied_pin_rate_Gbps("NVIDIA H100 SXM5") <= gens["HBM3"]
    b200 = hbm.memory_hierarchy("NVIDIA B200 SXM").set_index("level")
    # 148 SMs as the device reports them (gpus.csv) x 64 Ki 32-bit registers = 37 MiB
    assert b200.loc["registers", "capacity_MiB"] == pytest.approx(148 * 256 / 1024)
    assert b200.loc["HBM", "bandwidth_GBps"] == 8000
    with pytest.raises(ValueError, match="gpu"):
        hbm.memory_hierarchy("NVIDIA V100 SXM2")


def test_measure_times_both_kernels():
    table = attention.measure(sizes=(16, 40), d=4, repeats=1, block=8)
    assert list(table["N"]) == [16, 40] and list(table["S_bytes"]) == [8 * 16 ** 2, 8 * 40 ** 2]
    assert (table[["naive_s", "flash_s"]] > 0).all().all()
    assert np.allclose(table["naive_over_flash"], table["naive_s"] / table["flash_s"])


def test_measure_times_the_kernel_the_traffic_counts_describe(monkeypatch):
    # Without a block, the timed flash kernel is flash_attention with its own tiles (those of
    # hbm_bytes' counts); with one, both tiles are that block.
    seen, real = [], attention.flash_attention

    def flash(q, k, v, block_q=None, block_k=None, **kw):
        seen.append((block_q, block_k))
        return real(q, k, v, *(b for b in (block_q, block_k) if b is not None), **kw)

    monkeypatch.setattr(attention, "flash_attention", flash)
    attention.measure(sizes=(16,), d=4, repeats=1)
    assert set(seen) == {(None, None)}
    seen.clear()
    attention.measure(sizes=(16,), d=4, repeats=1, block=8)
    assert set(seen) == {(8, 8)}
    with pytest.raises(ValueError, match="block"):
        attention.measure(sizes=(16,), d=4, repeats=1, block=0)


def test_roofline_case_on_the_h100():
    from aichip import roofline

    roof = roofline.Roofline("test GPU", peak_GFLOPs=1000e3, bw_GBps=2000.0)   # ridge: 500
    case = attention.roofline_case(roof, n=4096, d=128, sram_bytes=228 * 1024).set_index(
        "algorithm")
    # by hand: 4 N^2 d FLOPs; naive moves 2 bytes x (4 N d + 4 N^2); read-once moves 2 x 4 N d
    flops = 4 * 4096 ** 2 * 128
    assert case.loc["naive", "hbm_bytes"] == 2 * (4 * 4096 * 128 + 4 * 4096 ** 2) == 138_412_032
    assert case.loc["flash, K/V read once", "hbm_bytes"] == 2 * 4 * 4096 * 128
    intensity = flops / 138_412_032
    assert case.loc["naive", "intensity"] == pytest.approx(intensity)
    assert case.loc["naive", "time_us"] == pytest.approx(flops / (2000e9 * intensity) * 1e6)
    assert case.loc["naive", "bound"] == "memory"
    assert case.loc["flash, K/V read once", "bound"] == "compute"
    assert case.loc["flash, K/V read once", "time_us"] == pytest.approx(flops / 1000e12 * 1e6)


def test_flash_gives_nan_like_naive_when_every_score_of_a_row_overflows():
    """A row whose scores all overflow to -inf (finite inputs, 1e200 x -1e200) has no defined
    softmax: NumPy's reference and the naive kernel give NaN (exp(-inf - -inf)). The tiled kernel
    must too, not raise ZeroDivisionError (it did before its division followed IEEE rules) and not
    return a plausible number: its running sum for the row starts at 0, so the output is 0 / 0."""
    q = np.array([[1e200], [1.0]])
    k = np.array([[-1e200], [-1e200]])
    v = np.array([[1.0], [2.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        expected = attention.attention_reference(q, k, v)
    assert np.isnan(expected[0, 0]) and np.isfinite(expected[1, 0])
    naive = attention.naive_attention(q, k, v)
    for bk in (1, 2):
        flash = attention.flash_attention(q, k, v, block_q=1, block_k=bk)
        assert np.isnan(flash[0, 0]) and np.isnan(naive[0, 0])
        # the second row's scores are finite and equal (-1e200 / 1): the mean of v
        assert flash[1, 0] == pytest.approx(1.5) and naive[1, 0] == pytest.approx(1.5)


def test_flash_blocks_by_default_fit_the_fp16_elements_the_traffic_counts_use():
    """Called without an element size, flash_blocks must size its tiles for the same element as
    hbm_bytes and theorem2_bytes count by default (the chapter's fp16, Dao et al.'s half
    precision), or the chosen tiles would not fit the fast memory they are meant for. The element
    size is read off hbm_bytes' hand-countable naive traffic for N = d = 1: 8 elements."""
    element = attention.hbm_bytes(1, 1, "naive") // 8
    assert element == 2
    for d, sram in ((64, 100 * 1024), (128, 228 * 1024), (64, 64 * 1024), (16, 4096)):
        b, _ = attention.flash_blocks(d, sram)
        # a query block and its output, a key and a value tile (b x d each), the b x b scores
        assert (4 * b * d + b * b) * element <= sram < (4 * (b + 1) * d + (b + 1) ** 2) * element
    # by hand: 100 KiB of fp16 is 51200 elements; b = 131 needs 50697, b = 132 needs 51216
    assert attention.flash_blocks(64, 100 * 1024) == (131, 131)


def test_flash_blocks_is_the_largest_tile_that_fits():
    """Against a search that tries every b (the largest b with 4 b d + b^2 <= M, or 1 when not
    even one row fits), for small heads and memories; and for a head too large to search, with M
    built from b = 10^6 and d = 10^12 so that b fits exactly and b + 1 does not."""
    for d in range(1, 24):
        for m in range(1, 700, 7):
            b = 1
            while 4 * (b + 1) * d + (b + 1) ** 2 <= m:
                b += 1
            assert attention.flash_blocks(d, m, 1) == (b, b), (d, m)
    d, b = 10 ** 12, 10 ** 6
    elements = 4 * b * d + b * b
    assert attention.flash_blocks(d, 2 * elements) == (b, b)
    assert attention.flash_blocks(d, 2 * (elements - 1)) == (b - 1, b - 1)


def test_theorem2_orders_by_hand():
    """Theorem 2's orders worked by hand. N = 1024, d = 64, 64 KiB of fp16 fast memory (M =
    32768 elements): naive 2 x (1024 x 64 + 1024^2) = 2,228,224 bytes; flash 2 x 1024^2 x 64^2 /
    32768 = 262,144 bytes. With N = 4, d = 1024 the N d term dominates: 2 x (4096 + 16). In fp32
    the same 64 KiB holds half the elements and each is twice the size: the flash order is 4
    times the fp16 one, the naive order (no M in it) twice."""
    fp16 = attention.theorem2_bytes(1024, 64, 64 * 1024)
    assert fp16["naive"] == 2_228_224 and fp16["flash"] == 262_144
    assert attention.theorem2_bytes(4, 1024, 64 * 1024)["naive"] == 8224
    fp32 = attention.theorem2_bytes(1024, 64, 64 * 1024, bytes_per_element=4)
    assert fp32["flash"] == 4 * fp16["flash"] and fp32["naive"] == 2 * fp16["naive"]


def test_measure_reports_time_per_score_in_ns():
    """Each ns_per_score column is its kernel's best time spread over the N^2 entries of the
    score matrix: times N^2 and converted back to seconds it gives naive_s and flash_s again,
    and at equal N the ratio of the two per-score times is the ratio of the two times."""
    table = attention.measure(sizes=(16, 24), d=4, repeats=1, block=8)
    for name in ("naive", "flash"):
        back_s = table[f"{name}_ns_per_score"] * table["N"] ** 2 / 1e9
        assert np.allclose(back_s, table[f"{name}_s"], rtol=1e-12, atol=0)
    assert np.allclose(table["naive_ns_per_score"] / table["flash_ns_per_score"],
                       table["naive_over_flash"], rtol=1e-12, atol=0)


def test_implied_pin_rate_by_hand():
    """bandwidth x 8 / interface width, worked by hand from the datasheets: the H100 SXM5's
    3.35 TB/s over five 1024-bit HBM3 stacks is 3350 x 8 / 5120 = 5.234 Gb/s per pin, the A100
    80GB's 2039 GB/s over five HBM2e stacks 3.186 Gb/s. Multiplied back by the width over 8 the
    rate returns the published bandwidth. B200's source gives no interface width."""
    assert hbm.implied_pin_rate_Gbps("NVIDIA H100 SXM5") == pytest.approx(5.234375, rel=1e-12)
    assert hbm.implied_pin_rate_Gbps("NVIDIA A100 SXM4 80GB") == pytest.approx(3.1859375,
                                                                             rel=1e-12)
    for gpu in ("NVIDIA H100 SXM5", "NVIDIA A100 SXM4 80GB"):
        top = hbm.memory_hierarchy(gpu).set_index("level").loc["HBM", "bandwidth_GBps"]
        assert hbm.implied_pin_rate_Gbps(gpu) * 5 * 1024 / 8 == pytest.approx(top, rel=1e-12)
    with pytest.raises(ValueError, match="interface width"):
        hbm.implied_pin_rate_Gbps("NVIDIA B200 SXM")


def test_hbm_bytes_counts_the_default_kernel_by_default():
    """Without a block size, the traffic count is that of flash_attention as it runs by default
    (64-row query blocks, the issue's signature): N = 1024, d = 16 in fp16 has 1024 / 64 = 16
    query blocks (63-row blocks would make 17), each reading all of K and V: 2 x (2 N d + 16 x
    2 N d) bytes."""
    import inspect

    default = inspect.signature(attention.flash_attention).parameters["block_q"].default
    assert default == 64
    assert attention.hbm_bytes(1024, 16, "flash") == 2 * (2 * 1024 * 16 + 16 * 2 * 1024 * 16)
    assert attention.hbm_bytes(1024, 16, "flash") == attention.hbm_bytes(1024, 16, "flash",
                                                                         block_q=default)


def _cell(value):
    """A table cell as a plain number, None for a blank cell (so blanks are pinned too)."""
    return None if isinstance(value, float) and math.isnan(value) else value


# Each HBM generation as its primary source gives it, typed from the source (not read from
# hbm.csv): (standard, year, bus width in bits, pin rate in Gb/s, tallest stack, GB/s per stack).
# The GB/s per stack is the source's rounded figure (decimal GB/s per device); the bus width
# times the pin rate over 8 gives it to within the source's rounding (checked below).
PRIMARY_HBM = {
    # JEDEC press release for JESD235B (Dec. 2018), "JEDEC Updates Groundbreaking High
    # Bandwidth Memory (HBM) Standard": 2.4 Gb/s per pin, 1024-bit interface of 8 channels,
    # 307 GB/s per device, 2-, 4-, 8- and 12-high stacks.
    "HBM2": ("JESD235B", 2018, 1024, 2.4, 12, 307),
    # Samsung newsroom, Feb. 2020, "Industry's First 3rd-Generation 16GB HBM2E (Flashbolt)":
    # eight 16 Gb dies (8-high), 3.2 Gb/s per pin, 410 GB/s per stack (the 4.2 Gb/s and
    # 538 GB/s it also quotes are the overclocked figures, not the table's); the 1024-bit
    # interface is JESD235C's (HBM2E keeps HBM2's interface).
    "HBM2E": ("JESD235C", 2020, 1024, 3.2, 8, 410),
    # JEDEC press release for JESD238 (Jan. 2022): 6.4 Gb/s per pin, 819 GB/s per device,
    # 16 channels of 64 bits (1024 bits), 4-, 8- and 12-high (16-high only provided for).
    "HBM3": ("JESD238", 2022, 1024, 6.4, 12, 819),
    # Micron press release, Feb. 2024, "Micron Commences Volume Production of HBM3E": pin
    # speed above 9.2 Gb/s, more than 1.2 TB/s (1200 GB/s) per stack, 24 GB 8-high and 36 GB
    # 12-high; the 1024-bit interface is JESD238's (HBM3E extends HBM3 and keeps its bus).
    "HBM3E": ("vendor (extends JESD238)", 2024, 1024, 9.2, 12, 1200),
    # JEDEC press release for JESD270-4 (Apr. 2025), "JEDEC Releases New HBM4 Standard": up to
    # 8 Gb/s over a 2048-bit interface, up to 2 TB/s (2000 GB/s), 4- to 16-high stacks.
    "HBM4": ("JESD270-4", 2025, 2048, 8.0, 16, 2000),
}


def test_hbm_table_is_the_primary_sources():
    """Every numeric cell of hbm.csv (and its standard) against the source's own figure."""
    t = tables.load_table("hbm").set_index("generation")
    assert list(t.index) == list(PRIMARY_HBM)
    cols = ["standard", "year", "bus_width_bits", "pin_rate_Gbps", "max_stack_height",
            "stack_GBps"]
    for gen, want in PRIMARY_HBM.items():
        assert tuple(_cell(t.loc[gen, c]) for c in cols) == want, gen
        # The sources round the per-stack figure: bus x pin rate / 8 is within 2.5 % of it
        # (HBM4's 2048 GB/s is quoted as "2 TB/s", HBM3E's 1177.6 GB/s as "above 1.2 TB/s").
        _, _, bits, gbps, _, stack = want
        assert bits * gbps / 8 == pytest.approx(stack, rel=0.025), gen


# 1 GB as NVIDIA prints HBM capacity and 1 MB as it prints L2 are read as GiB and MiB here (the
# table's KiB); so 80 GB -> 80 * 2**20 KiB, 40 MB -> 40 * 2**10 KiB.
_GiB, _MiB = 2**20, 2**10
# Each GPU memory level as its primary source gives it, typed from the source (not read from
# gpu_memory.csv): (capacity in KiB, bytes per clock, GB/s, interface bits); None where the
# source gives no figure (the blank cells are pinned as blank).
PRIMARY_GPU_MEMORY = {
    # NVIDIA A100 Tensor Core GPU Architecture whitepaper (2020), "A100 SM Architecture": 65,536
    # 32-bit registers per SM (256 KB register file).
    ("NVIDIA A100 SXM4 80GB", "registers"): (65536 * 4 // 1024, None, None, None),
    # Same whitepaper, "Combined L1 Data Cache and Shared Memory": 192 KB per SM; 128 bytes per
    # clock is the CUDA C++ Programming Guide's 32 banks of 32 bits each per clock (CC 8.0).
    ("NVIDIA A100 SXM4 80GB", "shared memory / L1"): (192, 32 * 4, None, None),
    # Same whitepaper, "L2 Cache": 40 MB, and 5120 bytes/clk of L2 read bandwidth (V100: 2048).
    ("NVIDIA A100 SXM4 80GB", "L2"): (40 * _MiB, 5120, None, None),
    # A100 datasheet (2021): 80 GB HBM2e at 2,039 GB/s (SXM); whitepaper Table 1: five active
    # HBM2 stacks on a 5120-bit memory interface.
    ("NVIDIA A100 SXM4 80GB", "HBM"): (80 * _GiB, None, 2039, 5 * 1024),
    # NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022), "H100 SM Architecture" and
    # Table 3: 65,536 32-bit registers per SM (256 KB register file).
    ("NVIDIA H100 SXM5", "registers"): (65536 * 4 // 1024, None, None, None),
    # Same whitepaper: 256 KB of combined L1 data cache and shared memory per SM; 32 banks of
    # 4 bytes per clock (CUDA C++ Programming Guide, CC 9.0) as for A100.
    ("NVIDIA H100 SXM5", "shared memory / L1"): (256, 32 * 4, None, None),
    # Same whitepaper, Table 3: 50 MB of L2 (H100 SXM5); no L2 bandwidth figure.
    ("NVIDIA H100 SXM5", "L2"): (50 * _MiB, None, None, None),
    # H100 datasheet (2023): 80 GB of HBM3 at 3.35 TB/s (3350 GB/s) for H100 SXM; whitepaper
    # Table 3: 5120-bit HBM3 memory interface (five stacks).
    ("NVIDIA H100 SXM5", "HBM"): (80 * _GiB, None, 3350, 5 * 1024),
    # CUDA C++ Programming Guide, "Technical Specifications per Compute Capability", CC 10.0:
    # 64 K 32-bit registers per SM.
    ("NVIDIA B200 SXM", "registers"): (64 * 1024 * 4 // 1024, None, None, None),
    # Same table, CC 10.0: maximum shared memory per SM 228 KB.
    ("NVIDIA B200 SXM", "shared memory / L1"): (228, None, None, None),
    # NVIDIA DGX B200 datasheet (2024): 1,440 GB of HBM3e and 64 TB/s of HBM bandwidth for
    # eight B200 GPUs, i.e. 180 GB and 8 TB/s (8000 GB/s) per GPU; no interface width given.
    ("NVIDIA B200 SXM", "HBM"): (1440 // 8 * _GiB, None, 64_000 // 8, None),
}


def test_gpu_memory_table_is_the_primary_sources():
    """Every numeric cell of gpu_memory.csv against NVIDIA's own figure (blanks pinned blank)."""
    t = tables.load_table("gpu_memory").set_index(["gpu", "level"])
    assert list(t.index) == list(PRIMARY_GPU_MEMORY)
    cols = ["capacity_KiB", "bytes_per_clock", "bandwidth_GBps", "interface_bits"]
    for key, want in PRIMARY_GPU_MEMORY.items():
        assert tuple(_cell(t.loc[key, c]) for c in cols) == want, key
