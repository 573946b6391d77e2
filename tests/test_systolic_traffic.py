"""SCALE-Sim's SRAM and DRAM traffic counts (aichip.systolic_traffic) against SCALE-Sim itself.

The golden rows were recorded from SCALE-Sim 3.0.0 (pip scalesim, NumPy 1.26) with its default
buffers (256, 256 and 128 kB, one byte a word, half of each buffer active) by
bench/scalesim_runner.py with "default_buffers": true; they are its detailed access report.
"""

import math

import pytest

from aichip import systolic
from aichip.layers import GemmLayer
from aichip.systolic_traffic import Traffic, gemm_traffic, layer_traffic

# M, N, K, rows, cols, dataflow, SCALE-Sim compute cycles, then its six counts in Traffic's order
SCALESIM_DEFAULT_BUFFERS = [
    (20, 10, 7, 8, 8, 'os', 125, 280, 210, 296, 140, 70, 200),
    (20, 10, 7, 8, 8, 'ws', 83, 280, 70, 200, 140, 70, 200),
    (20, 10, 7, 8, 8, 'is', 95, 140, 210, 200, 140, 70, 200),
    (50, 37, 70, 4, 16, 'os', 3431, 10500, 33670, 2630, 3500, 2590, 1850),
    (50, 37, 70, 4, 16, 'ws', 3887, 10500, 2590, 33300, 3500, 2590, 33300),
    (50, 37, 70, 4, 16, 'is', 4247, 3500, 10360, 33300, 3500, 2590, 33300),
    (200, 150, 120, 16, 16, 'os', 19499, 240000, 234000, 34160, 24000, 18000, 30000),
    (200, 150, 120, 16, 16, 'ws', 19679, 240000, 18000, 240000, 24000, 18000, 240015),
    (200, 150, 120, 16, 16, 'is', 20383, 24000, 234000, 240000, 24000, 18000, 240015),
    (64, 512, 512, 32, 32, 'os', 18367, 524288, 524288, 34816, 32768, 294868, 32768),
    (512, 64, 512, 32, 32, 'os', 18367, 524288, 524288, 34816, 524288, 32768, 32768),
    (512, 64, 512, 32, 32, 'ws', 19391, 524288, 32768, 524288, 524288, 32768, 524319),
    (64, 512, 512, 32, 32, 'is', 19391, 32768, 524288, 524288, 32768, 524288, 524319),
    # The bench's layers (bench/run.py SYSTOLIC_LAYERS), recorded with SCALE-Sim 3.0.0 (pip
    # scalesim, NumPy 1.26.4) on the 2-CPU AMD EPYC machine by
    #   $AICHIP_SCALESIM_PYTHON bench/scalesim_runner.py < job.json
    # with job.json = {"layers": SYSTOLIC_LAYERS, "arrays": [[32, 32], [16, 64]],
    # "dataflows": ["os", "ws", "is"], "default_buffers": true}. Where an operand does not fit
    # its active half buffer, SCALE-Sim read it from DRAM as often as from SRAM on these layers
    # (not in general: 294,868 filter reads above) and wrote the ofmap buffer's words plus
    # cols - 1 (its write buffer counts the padding of a part-filled line); the model leaves
    # those counts NaN.
    (3136, 64, 64, 32, 32, 'os', 24695, 401408, 401408, 213248, 401408, 4096, 200735),
    (3136, 64, 64, 32, 32, 'ws', 12919, 401408, 4096, 401408, 401408, 4096, 401439),
    (3136, 64, 64, 32, 32, 'is', 30967, 200704, 401408, 401408, 200704, 4096, 401439),
    (3136, 64, 64, 16, 64, 'os', 27831, 200704, 802816, 216384, 200704, 4096, 200767),
    (3136, 64, 64, 16, 64, 'ws', 12919, 200704, 4096, 802816, 200704, 4096, 802879),
    (3136, 64, 64, 16, 64, 'is', 30967, 200704, 200704, 802816, 200704, 4096, 802879),
    (128, 256, 256, 32, 32, 'os', 10175, 262144, 262144, 34816, 32768, 65536, 32768),
    (128, 256, 256, 32, 32, 'ws', 14207, 262144, 65536, 262144, 32768, 65536, 262175),
    (128, 256, 256, 32, 32, 'is', 11199, 32768, 262144, 262144, 32768, 65536, 262175),
    (128, 256, 256, 16, 64, 'os', 10687, 131072, 524288, 35328, 32768, 65536, 32768),
    (128, 256, 256, 16, 64, 'ws', 14207, 131072, 65536, 524288, 32768, 65536, 524351),
    (128, 256, 256, 16, 64, 'is', 11199, 32768, 131072, 524288, 32768, 65536, 524351),
    (16, 1024, 512, 32, 32, 'os', 18367, 262144, 524288, 18432, 8192, 524288, 16384),
    (16, 1024, 512, 32, 32, 'ws', 56319, 262144, 524288, 262144, 8192, 524288, 262175),
    (16, 1024, 512, 32, 32, 'is', 17887, 8192, 524288, 262144, 8192, 524288, 262175),
    (16, 1024, 512, 16, 64, 'os', 9439, 131072, 524288, 17664, 8192, 524288, 16384),
    (16, 1024, 512, 16, 64, 'ws', 56319, 131072, 524288, 524288, 8192, 524288, 524351),
    (16, 1024, 512, 16, 64, 'is', 35775, 8192, 524288, 524288, 8192, 524288, 524351),
]


@pytest.mark.parametrize("row", SCALESIM_DEFAULT_BUFFERS)
def test_traffic_equals_scalesim_report(row):
    M, N, K, rows, cols, df, cycles, *counts = row
    ours = gemm_traffic(M, N, K, rows, cols, df)
    checked = 0
    for name, mine, theirs in zip(Traffic._fields, ours, counts, strict=True):
        if isinstance(mine, float) and math.isnan(mine):
            continue  # outside what the model claims: the operand does not fit its buffer
        assert mine == theirs, name
        checked += 1
    assert checked >= 3  # the SRAM side is always counted
    # and the same layers' compute cycles: SCALE-Sim reports one fewer than our count
    assert systolic.gemm_cycles(M, N, K, rows, cols, df).compute_cycles - 1 == cycles


def test_dram_reported_only_where_the_model_holds():
    # 64 x 512 x 512 in os on 32 x 32: the filter (262,144 words) exceeds the active half of a
    # 256 kB buffer, and SCALE-Sim reads it 294,868 times: neither once nor once per fold.
    t = gemm_traffic(64, 512, 512, 32, 32, "os")
    assert math.isnan(t.filter_dram_reads) and t.ifmap_dram_reads == 64 * 512
    # a buffer large enough brings the filter back to one read per word
    t = gemm_traffic(64, 512, 512, 32, 32, "os", buffers_kb=(256, 1024, 128))
    assert t.filter_dram_reads == 512 * 512


def test_hand_worked_output_stationary():
    # 20 x 7 @ 7 x 10 on 8 x 8, os: rows take M (3 folds: 8, 8, 4 rows), columns N (2 folds:
    # 8, 2). Each column fold streams all of A (20 rows x 7), each row fold all of B (7 x 10).
    # Writes: the 200 outputs plus SCALE-Sim's 8 + 8 per each of the 6 folds.
    t = gemm_traffic(20, 10, 7, 8, 8, "os")
    assert t[:3] == (2 * 140, 3 * 70, 200 + 6 * 16)
    assert t[3:] == (140, 70, 200)


def test_layer_traffic_and_bad_input():
    df = layer_traffic([GemmLayer("a", 20, 10, 7)], 8, 8, "ws")
    assert df.loc[0, "ofmap_sram_writes"] == 200 and df.loc[0, "filter_sram_reads"] == 70
    with pytest.raises(ValueError, match="dataflow"):
        gemm_traffic(2, 2, 2, 2, 2, "xs")
    with pytest.raises(ValueError, match="active_fraction"):
        gemm_traffic(2, 2, 2, 2, 2, "os", active_fraction=0.0)
    with pytest.raises(ValueError, match="buffers_kb"):
        gemm_traffic(2, 2, 2, 2, 2, "os", buffers_kb=(1, 2))
    with pytest.raises(ValueError, match="layers"):
        layer_traffic([], 8, 8)


def test_default_buffers_hold_exactly_half_of_scalesims_defaults():
    """Called without buffers or word size, gemm_traffic uses SCALE-Sim's defaults (its
    scale_config's initial values, those the golden rows above were recorded with): 256 kB
    ifmap and filter buffers, a 128 kB ofmap buffer, a kB being 1024 bytes, one byte a word,
    half of each buffer active. So an input operand of 256 x 1024 / 2 = 131,072 words is read
    from DRAM once, and one of 128 x 1025 = 131,200 words is not counted (NaN); an os output of
    128 x 1024 / 2 = 65,536 words is written once, and one of 128 x 513 = 65,664 words is not.
    Each boundary case holds exactly the active half, which fits."""
    t = gemm_traffic(128, 128, 1024, 32, 32, "os")         # A and B: 128 x 1024 = 131,072 words
    assert (t.ifmap_dram_reads, t.filter_dram_reads) == (131_072, 131_072)
    t = gemm_traffic(128, 128, 1025, 32, 32, "os")         # A and B: 131,200 words
    assert math.isnan(t.ifmap_dram_reads) and math.isnan(t.filter_dram_reads)
    assert gemm_traffic(128, 512, 8, 32, 32, "os").ofmap_dram_writes == 65_536
    assert math.isnan(gemm_traffic(128, 513, 8, 32, 32, "os").ofmap_dram_writes)
