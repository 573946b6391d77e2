"""aichip.serving.simulate: the serving simulator against queueing theory and hand-priced steps."""

import numpy as np
import pandas as pd
import pytest

from aichip import serving


def service_s(shape, hw, prompt, output):
    """One request alone: its prefill, then output - 1 decoding steps of batch 1."""
    return serving.ttft_s(shape, hw, prompt) + sum(
        serving.tpot_s(shape, hw, 1, prompt + j - 1) for j in range(1, output))


@pytest.mark.parametrize("policy", ["static", "continuous"])
def test_batch_one_is_md1_pollaczek_khinchine(policy):
    """Batch 1, Poisson arrivals, equal requests: an M/D/1 queue, whose mean wait is
    W = lambda D^2 / (2 (1 - rho)) (Pollaczek-Khinchine)."""
    shape, hw = serving.llama3_8b(), serving.hardware()
    prompt, output = 512, 2
    d = service_s(shape, hw, prompt, output)
    rho = 0.5
    lam = rho / d
    trace = serving.constant_trace(20_000, lam, prompt, output, seed=0)
    frame = serving.simulate_requests(policy, trace, serving.SimConfig(shape, hw, max_batch=1))
    wait = frame["ttft_s"] - serving.ttft_s(shape, hw, prompt)
    assert wait.mean() == pytest.approx(lam * d * d / (2 * (1 - rho)), rel=0.06)
    assert np.allclose(frame["latency_s"] - wait, d)       # deterministic service


def test_lone_request_is_priced_step_by_step():
    shape, hw = serving.llama3_8b(), serving.hardware()
    trace = serving.Trace(np.array([0.5]), np.array([300]), np.array([20]))
    for policy in serving.POLICIES:
        frame = serving.simulate_requests(policy, trace, serving.SimConfig(
            shape, hw, chunk_tokens=100_000))
        row = frame.iloc[0]
        assert row["ttft_s"] == pytest.approx(serving.ttft_s(shape, hw, 300))
        assert row["latency_s"] == pytest.approx(service_s(shape, hw, 300, 20))


def test_chunked_prefill_splits_a_prompt_into_budgeted_steps():
    shape, hw = serving.llama3_8b(), serving.hardware()
    trace = serving.Trace(np.array([0.0]), np.array([1000]), np.array([1]))
    frame = serving.simulate_requests("chunked", trace, serving.SimConfig(shape, hw,
                                                                           chunk_tokens=400))
    # chunks of 400, 400, 200 tokens; each attends to its own tokens and the earlier chunks
    expected = 0.0
    for done, k in ((0, 400), (400, 400), (800, 200)):
        work = serving.step_work(shape, k, k * done + k * (k + 1) / 2, done, k)
        expected += serving.step_time(work, hw).time_s
    assert frame["ttft_s"].iloc[0] == pytest.approx(expected)


def test_policies_on_a_realistic_trace():
    table = serving.simulate(rate_per_s=3.0, n_requests=400, seed=2)
    assert list(table.index) == list(serving.POLICIES)
    # every request is served; iteration-level batching beats request-level batching
    assert (table["requests_per_s"] > 0).all()
    assert table.loc["continuous", "ttft_p50_s"] < table.loc["static", "ttft_p50_s"]
    assert table.loc["continuous", "goodput_req_s"] > table.loc["static", "goodput_req_s"]
    # chunking bounds the stall a prompt imposes on the decodes
    assert table.loc["chunked", "tpot_p99_s"] <= table.loc["continuous", "tpot_p99_s"]


def test_every_request_finishes_in_order_of_its_events():
    trace = serving.request_trace(300, 8.0, seed=4)
    for policy in serving.POLICIES:
        frame = serving.simulate_requests(policy, trace, serving.SimConfig(max_batch=16))
        assert frame["finish_s"].notna().all()
        assert (frame["first_token_s"] > frame["arrival_s"]).all()
        assert (frame["finish_s"] >= frame["first_token_s"]).all()


def test_kv_capacity_limits_the_batch():
    trace = serving.constant_trace(50, 1000.0, 100, 50)          # all arrive at once
    cfg = serving.SimConfig(kv_capacity_tokens=4 * 160, block_tokens=16)
    frame = serving.simulate_requests("continuous", trace, cfg)
    # 150 tokens -> 160 reserved: four requests at a time
    assert frame.attrs["mean_batch"] <= 4
    with pytest.raises(ValueError, match="kv_capacity_tokens"):
        serving.simulate_requests("continuous", trace, serving.SimConfig(kv_capacity_tokens=100))


def test_kv_capacity_admits_requests_that_fill_it_exactly():
    # 4 requests at t = 0, 100 + 50 tokens each -> 160 reserved (blocks of 16); a capacity of
    # exactly 2 x 160 admits two at once (reservations may fill it), the others when one finishes
    trace = serving.Trace(np.zeros(4), np.full(4, 100), np.full(4, 50))
    cfg = serving.SimConfig(kv_capacity_tokens=2 * 160, block_tokens=16)
    frame = serving.simulate_requests("continuous", trace, cfg)
    first, finish = frame["first_token_s"].to_numpy(), frame["finish_s"].to_numpy()
    assert first[1] < finish[0] and first[0] < finish[1]            # 0 and 1 run together
    assert first[2] >= finish[:2].min() and first[3] >= finish[:2].min()


def test_summarize_by_hand():
    frame = pd.DataFrame({"arrival_s": [0.0, 1.0, 1.0], "first_token_s": [0.5, 3.0, 1.2],
                          "finish_s": [1.5, 4.0, 2.2], "output_tokens": [11, 1, 3]})
    frame["ttft_s"] = frame["first_token_s"] - frame["arrival_s"]
    frame["tpot_s"] = [0.1, np.nan, 0.5]
    row = serving.summarize(frame, ttft_slo_s=1.0, tpot_slo_s=0.2)
    assert row["throughput_tok_s"] == pytest.approx(15 / 4.0)
    # the second misses its TTFT, the third its TPOT
    assert row["goodput_req_s"] == pytest.approx(1 / 4.0)
    assert row["slo_attainment"] == pytest.approx(1 / 3)
    assert row["ttft_p50_s"] == pytest.approx(0.5)


def test_traces():
    trace = serving.request_trace(20_000, 5.0, "conversation", seed=1)
    assert np.median(trace.prompt_tokens) == pytest.approx(1020, rel=0.03)
    assert np.median(trace.output_tokens) == pytest.approx(129, rel=0.03)
    assert trace.total_tokens.max() <= 8192
    gaps = np.diff(trace.arrival_s)
    assert gaps.mean() == pytest.approx(1 / 5.0, rel=0.03)


def test_simulate_bad_input():
    trace = serving.constant_trace(5, 1.0, 10, 10)
    with pytest.raises(ValueError, match="policy"):
        serving.simulate_requests("greedy", trace)
    with pytest.raises(TypeError, match="trace"):
        serving.simulate_requests("static", [1, 2])
    with pytest.raises(ValueError, match="max_batch"):
        serving.SimConfig(max_batch=0)
    with pytest.raises(TypeError, match="shape"):
        serving.SimConfig(shape="llama")
    with pytest.raises(ValueError, match="rate_per_s"):
        serving.request_trace(10, 0.0)
    with pytest.raises(ValueError, match="profile"):
        serving.request_trace(10, 1.0, "chat")
    with pytest.raises(TypeError, match="policies"):
        serving.simulate(policies="static", n_requests=5)
    with pytest.raises(ValueError, match="max_len"):
        serving.simulate_requests("static", serving.constant_trace(2, 1.0, 100, 100),
                                  serving.SimConfig(max_len=64))
