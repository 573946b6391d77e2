"""aichip.serving: KV transfer over RDMA, prefill interference, quantisation schemes, the KV waste
table and the M/D/1 benchmark check, each against a hand count or the packet simulation."""

import math

import pandas as pd
import pytest

from aichip import rdma, serving

IB_HEADER = 8 + 12 + 4 + 2       # LRH, BTH, ICRC, VCRC (IBTA Vol. 1)


@pytest.mark.parametrize("n_bytes", [3000, 4096, 3 * 4096, 37 * 4096, 37 * 4096 + 1000,
                                     200 * 4096 + 1])
def test_kv_transfer_closed_form_matches_the_packet_simulation(n_bytes):
    path = serving.kv_transfer_path("dgx_h100_ndr")
    assert serving.kv_transfer_s(n_bytes, path) == pytest.approx(rdma.message_time(path, n_bytes),
                                                                  rel=1e-9)


def test_kv_transfer_of_a_gigabyte_runs_at_the_slowest_stage():
    # per packet, the slowest of: the adapter's 0.1 us (chapter 10's HostParams default), the NDR
    # wire at 50 GB/s per GPU with the headers, PCIe 5.0 x16 at 63 GB/s
    n_packets = 250_000
    per_packet = max(0.1e-6, (4096 + IB_HEADER) / 50e9, 4096 / 63.0154e9)
    t = serving.kv_transfer_s(n_packets * 4096, serving.kv_transfer_path("dgx_h100_ndr"))
    assert t == pytest.approx(n_packets * per_packet, rel=1e-3)


def test_prefill_interference_by_hand():
    shape, hw = serving.llama3_8b(), serving.hardware()
    out = serving.prefill_interference(shape, hw, 1000, 32, 500)
    matmul, kv_tok = shape.matmul_params, 131072
    flops = 2 * matmul * (32 + 1000) + 4 * 32 * 32 * 128 * (32 * 501 + 1000 * 1001 / 2)
    moved = 2 * matmul + kv_tok * (32 * 501 + 1000)
    assert out["mixed_s"] == pytest.approx(max(flops / 989.5e12, moved / 3350e9))
    assert out["decode_s"] == pytest.approx(serving.tpot_s(shape, hw, 32, 500))
    assert out["stall_s"] == pytest.approx(out["mixed_s"] - out["decode_s"])
    assert out["prefill_s"] == pytest.approx(serving.ttft_s(shape, hw, 1000))


def test_disaggregation_table():
    shape, hw = serving.llama3_70b(), serving.hardware()
    table = serving.disaggregation_table(shape, hw, [512, 2048], tp=8)
    row = table.iloc[1]
    assert row["kv_bytes"] == 2048 * 2 * 80 * 8 * 128 * 2
    assert row["transfer_s"] == pytest.approx(
        serving.kv_transfer_s(math.ceil(row["kv_bytes"] / 8)))
    assert row["prefill_s"] == pytest.approx(serving.ttft_s(shape, hw, 2048) / 8)
    assert (table["transfer_over_prefill"] < 1).all()
    with pytest.raises(ValueError, match="tp"):
        serving.disaggregation_table(shape, hw, [512], tp=0)
    with pytest.raises(ValueError, match="name"):
        serving.kv_transfer_path("dgx_z100")
    with pytest.raises(ValueError, match="msg_bytes"):
        serving.kv_transfer_s(0)


def test_quantisation_table_by_hand():
    shape = serving.llama3_8b()
    table = serving.quantisation_table(shape, batch=32, context=1000)
    fp8 = table.loc["FP8 weights + FP8 KV"]
    budget = 0.9 * 80e9 - shape.n_params * 1
    assert fp8["max_batch"] == int(budget // (1000 * 65536))
    flops = 32 * (2 * shape.matmul_params + 4 * 32 * 32 * 128 * 1001)
    moved = shape.matmul_params * 1 + 32 * 1001 * 65536
    assert fp8["tpot_s"] == pytest.approx(max(flops / 1979e12, moved / 3350e9))
    bf16 = table.loc["BF16"]
    assert bf16["weights_GB"] == pytest.approx(2 * fp8["weights_GB"])
    assert fp8["max_batch"] > 2 * bf16["max_batch"]          # half the cache, more room
    # FP8 compute doubles the ridge and FP8 weights halve the bytes: the same critical batch
    assert bf16["critical_batch_0"] == pytest.approx(fp8["critical_batch_0"], abs=1)
    assert serving.max_batch_that_fits(serving.llama3_70b(), 80e9, 1000) == 0


def test_a_scheme_that_does_not_fit_serves_nothing():
    # Llama 3 70B in BF16 is 2 x 70.55e9 B = 141 GB of weights, more than an H100's 80 GB
    row = serving.quantisation_table(serving.llama3_70b(), batch=64, context=2048).loc["BF16"]
    assert row["weights_GB"] == pytest.approx(141.1, abs=0.05) and row["max_batch"] == 0
    assert row["bound"] == "does not fit" and row["tokens_per_s"] == 0.0
    assert math.isnan(row["tpot_s"])


def test_defaults_are_the_chapters_settings():
    # chapter 12 states its runs at batch 64 and context 2048 (quantisation) and at batch 1 and
    # context 1024 (speculative decoding); the defaults are those settings
    shape = serving.llama3_8b()
    pd.testing.assert_frame_equal(serving.quantisation_table(shape),
                                  serving.quantisation_table(shape, batch=64, context=2048))
    hw = serving.hardware()
    assert serving.speculative_step_speedup(serving.llama3_70b(), shape, hw, 0.8, 4) == \
        serving.speculative_step_speedup(serving.llama3_70b(), shape, hw, 0.8, 4, batch=1,
                                         context=1024)


def test_disaggregation_removes_the_stall_of_every_decode_per_transfer_second():
    # removed_over_added: the stall of all decode_batch decodes over the transfer, by hand from
    # the table's own stall_s and transfer_s columns, for two batch sizes
    shape, hw = serving.llama3_70b(), serving.hardware()
    for batch in (16, 64):
        row = serving.disaggregation_table(shape, hw, [2048], decode_batch=batch, tp=8).iloc[0]
        assert row["stall_total_s"] == pytest.approx(batch * row["stall_s"], rel=1e-12)
        assert row["removed_over_added"] == pytest.approx(batch * row["stall_s"]
                                                          / row["transfer_s"], rel=1e-12)


def test_critical_context_is_where_critical_batch_runs_out():
    shape = serving.llama3_8b()
    for precision, w in (("bf16", 2), ("fp8", 1)):
        hw = serving.hardware(precision=precision)
        c = serving.critical_context(shape, hw, w)
        assert serving.critical_batch(shape, hw, c, w, w) is not None
        assert serving.critical_batch(shape, hw, c + 1, w, w) is None


def test_kv_waste_table():
    table = serving.kv_waste_table(serving.llama3_8b(), serving.hardware(), n_requests=500)
    assert table.loc["paged", "waste"] < 0.05 < 0.5 < table.loc["contiguous", "waste"]
    # contiguous: every sequence reserves 8192 tokens of 131072 bytes
    budget = table.loc["contiguous", "budget_GB"] * 1e9
    assert table.loc["contiguous", "admitted_batch"] == int(budget // (8192 * 131072))
    assert table.loc["paged", "admitted_batch"] > 4 * table.loc["contiguous", "admitted_batch"]


def test_md1_check():
    out = serving.md1_check(n_requests=5000, rho=0.5)
    assert abs(out["rel_error"]) < 0.1
    with pytest.raises(ValueError, match="rho"):
        serving.md1_check(rho=1.0)
