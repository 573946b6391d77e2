"""The DaVinci cube's peak (chapter 1) and the bulk-synchronous step on a tile array."""

import numpy as np
import pytest

from aichip import bsp, chips, davinci


def test_cube_is_16_cubed():
    assert davinci.cube_macs_per_clock() == 4096 == davinci.CUBE_MACS_PER_CLOCK["fp16"]
    assert davinci.CUBE_SHAPE == (16, 16, 16)


def test_ascend_peak_by_hand():
    # 32 cores x 4096 MAC x 2 op x 1 GHz = 262,144 GFLOP/s
    assert davinci.ascend_peak_TFLOPs(32, 1000.0) == pytest.approx(262.144)


def test_ascend_910_fp16_clock_predicts_the_int8_datasheet_figure():
    # Hot Chips 2019: 32 cores, 256 TFLOPS FP16 and 512 TOPS INT8 (4096 FP16 / 8192 INT8 MACs)
    chip = chips.get("Huawei Ascend 910")
    clock = davinci.implied_clock_MHz(chip.peak("fp16"), 32, "fp16")
    assert clock == pytest.approx(256e12 / (32 * 4096 * 2) / 1e6)  # 976.5625 MHz
    assert davinci.ascend_peak_TFLOPs(32, clock, "int8") == pytest.approx(chip.peak("int8"))


@pytest.mark.parametrize("call, exc", [
    (lambda: davinci.ascend_peak_TFLOPs(0, 1000), ValueError),
    (lambda: davinci.ascend_peak_TFLOPs(32, -1), ValueError),
    (lambda: davinci.ascend_peak_TFLOPs(32, 1000, "fp4"), ValueError),
    (lambda: davinci.implied_clock_MHz(0, 32), ValueError),
    (lambda: davinci.cube_macs_per_clock(0), ValueError),
])
def test_davinci_bad_input(call, exc):
    with pytest.raises(exc):
        call()


TOY = bsp.TileArray(name="toy", tiles=4, sram_bytes_per_tile=1000, tile_peak_FLOPs=100.0,
                    exchange_Bps=40.0, source="hand")


def test_bsp_step_hand_worked():
    # slowest tile: 300 FLOP at 100 FLOP/s = 3 s; each tile sends at 40/4 = 10 B/s, the largest
    # message is 50 B: 5 s; sync 1 s; total 9 s, a third of it computing
    step = bsp.bsp_step(TOY, [100, 300, 200, 0], [10, 20, 50, 0], [100, 1000, 0, 0], sync_s=1.0)
    assert (step.compute_s, step.sync_s, step.exchange_s) == (3.0, 1.0, 5.0)
    assert step.total_s == 9.0 and step.compute_fraction == pytest.approx(1 / 3)
    assert step.fits_in_sram
    assert not bsp.bsp_step(TOY, 1, 1, 1001).fits_in_sram


def test_block_matmul_step_on_the_mk2_by_hand():
    ipu = bsp.IPU_MK2
    b = 128
    step = bsp.block_matmul_step(ipu, b)
    # 2 b^3 = 4,194,304 FLOP at 250e12 / 1472 FLOP/s; b^2 x 2 B = 32 KiB at 8e12 / 1472 B/s
    assert step.compute_s == pytest.approx(2 * 128**3 * 1472 / 250e12)
    assert step.exchange_s == pytest.approx(128 * 128 * 2 * 1472 / 8e12)
    assert step.fits_in_sram  # 3 x 32 KiB < 624 KiB
    # the compute share grows with the block: compute ~ b^3, exchange ~ b^2
    shares = [bsp.block_matmul_step(ipu, k).compute_fraction for k in (16, 64, 256)]
    assert np.all(np.diff(shares) > 0)
    assert not bsp.block_matmul_step(ipu, 512).fits_in_sram  # 3 x 512 KiB > 624 KiB


def test_ipu_mk2_matches_the_catalogue():
    gc200 = chips.get("Graphcore Colossus MK2 GC200")
    assert bsp.IPU_MK2.tile_peak_FLOPs * bsp.IPU_MK2.tiles / 1e12 == pytest.approx(
        gc200.peak("fp16"))


@pytest.mark.parametrize("call, exc", [
    (lambda: bsp.bsp_step("ipu", 1, 1), TypeError),
    (lambda: bsp.bsp_step(TOY, -1, 1), ValueError),
    (lambda: bsp.bsp_step(TOY, [1, 2], 1), ValueError),
    (lambda: bsp.bsp_step(TOY, 1, 1, sync_s=-1), ValueError),
    (lambda: bsp.block_matmul_step(TOY, 0), ValueError),
])
def test_bsp_bad_input(call, exc):
    with pytest.raises(exc):
        call()


def test_mk2_tile_holds_exactly_its_address_range():
    """A GC200 tile's SRAM is the Programmer's Guide's tile address range 0x4C000-0xE7FFF (section
    2.3.1): 0xE8000 - 0x4C000 = 638,976 bytes = 624 KiB. A step holding exactly that fits; one more
    byte does not. In all, 1472 such tiles hold 1472 x 624 KiB = 897 MiB, the "900 MB" of
    In-Processor-Memory Graphcore quotes for the GC200."""
    tile_bytes = 0xE8000 - 0x4C000
    assert tile_bytes == 638_976
    assert bsp.bsp_step(bsp.IPU_MK2, 0, 0, tile_bytes).fits_in_sram
    assert not bsp.bsp_step(bsp.IPU_MK2, 0, 0, tile_bytes + 1).fits_in_sram
    total = bsp.IPU_MK2.tiles * bsp.IPU_MK2.sram_bytes_per_tile
    assert total / 2**20 == pytest.approx(897, abs=0.5)


def test_bsp_step_without_held_bytes_holds_nothing():
    """The held bytes are optional: a step that keeps no data in SRAM (compute and exchange only)
    runs and fits. Hand-worked on the toy array: 200 FLOP at 100 FLOP/s = 2 s, 30 B at 40 / 4 =
    10 B/s = 3 s, no sync."""
    step = bsp.bsp_step(TOY, 200, 30)
    assert (step.compute_s, step.sync_s, step.exchange_s) == (2.0, 0.0, 3.0)
    assert step.fits_in_sram


@pytest.mark.parametrize("bytes_per_value, largest", [(2, 326), (4, 230)])
def test_largest_block_that_fits_a_mk2_tile(bytes_per_value, largest):
    """A tile holds the two operand blocks and the result block, three b x b blocks, in its 624 KiB
    (638,976 B). FP16: 3 x 326^2 x 2 B = 637,656 B fits, 3 x 327^2 x 2 B = 641,574 B does not;
    FP32: 3 x 230^2 x 4 B = 634,800 B fits, 3 x 231^2 x 4 B = 640,332 B does not. (Counting two
    blocks or four would move both limits: 399 or 282 in FP16.)"""
    ipu = bsp.IPU_MK2
    assert bsp.block_matmul_step(ipu, largest, bytes_per_value).fits_in_sram
    assert not bsp.block_matmul_step(ipu, largest + 1, bytes_per_value).fits_in_sram
