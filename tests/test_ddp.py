"""The data-parallel trainer: its gradient against central finite differences of the loss, the
bucket partition, the shards, bad input, its timing figures against numbers worked by hand, and
real 2-rank runs through the shared launcher (one that must pass, with every timing figure present
and consistent, one with a planted wrong reduction that must fail). Only the real runs need
mpi4py."""

import importlib.util

import numpy as np
import pytest

from aichip import cli, ddp, mpiharness

needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                               reason="needs mpi4py (and an MPI library)")


def _numeric_grad(params, x, y, total_rows, h=1e-6):
    """Central differences of ddp.loss, one parameter element at a time (no backward pass)."""
    out = []
    for w, b in params:
        pair = []
        for arr in (w, b):
            g = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + h
                up = ddp.loss(params, x, y, total_rows)
                arr[idx] = old - h
                down = ddp.loss(params, x, y, total_rows)
                arr[idx] = old
                g[idx] = (up - down) / (2 * h)
            pair.append(g)
        out.append(tuple(pair))
    return out


def test_backward_matches_finite_differences():
    sizes = [5, 7, 6, 3]
    params = ddp.init_params(sizes, seed=3)
    for _, b in params:                        # nonzero biases exercise the bias gradient
        b += 0.1
    x, y = ddp.global_batch(0, 9, ddp.teacher(5, 3, seed=3), seed=3)
    grads = [(np.empty_like(w), np.empty_like(b)) for w, b in params]
    done = []
    ddp.backward(params, ddp.forward(params, x), y, 12, grads, done.append)
    assert done == [2, 1, 0]                   # last layer first
    for (dw, db), (nw, nb) in zip(grads, _numeric_grad(params, x, y, 12), strict=True):
        np.testing.assert_allclose(dw, nw, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(db, nb, rtol=1e-6, atol=1e-8)


def test_backward_in_chunks_polls_and_gives_the_same_gradients():
    sizes = [5, 7, 6, 3]
    params = ddp.init_params(sizes, seed=3)
    x, y = ddp.global_batch(0, 9, ddp.teacher(5, 3, seed=3), seed=3)
    acts = ddp.forward(params, x)
    whole = [(np.empty_like(w), np.empty_like(b)) for w, b in params]
    ddp.backward(params, acts, y, 12, whole)
    chunked = [(np.empty_like(w), np.empty_like(b)) for w, b in params]
    events = []
    ddp.backward(params, acts, y, 12, chunked, events.append, lambda: events.append("poll"),
                 chunks=4)
    # a layer's buckets start first, then the product below it polls between its 4 row blocks
    assert events == [2, "poll", "poll", "poll", 1, "poll", "poll", "poll", 0]
    for (dw, db), (cw, cb) in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(cw, dw, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(cb, db, rtol=1e-12, atol=1e-15)


def test_forward_is_relu_mlp():
    params = ddp.init_params([4, 5, 2], seed=1)
    x = np.random.default_rng(0).standard_normal((3, 4))
    (w1, b1), (w2, b2) = params
    b1 += np.linspace(-1, 1, 5)
    expected = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(ddp.forward(params, x)[-1], expected, rtol=1e-14)


def test_loss_by_hand():
    # 1/(2B) sum (yhat - y)**2 over B rows: the rows given (3, fewer than the 4 inputs), or the
    # global batch's when a shard passes total_rows
    params = ddp.init_params([4, 5, 2], seed=1)
    x = np.random.default_rng(0).standard_normal((3, 4))
    y = np.random.default_rng(1).standard_normal((3, 2))
    (w1, b1), (w2, b2) = params
    sq = np.sum((np.maximum(x @ w1 + b1, 0) @ w2 + b2 - y) ** 2)
    assert ddp.loss(params, x, y) == pytest.approx(sq / 6, rel=1e-14)
    assert ddp.loss(params, x, y, total_rows=12) == pytest.approx(sq / 24, rel=1e-14)


def test_run_and_the_command_line_run_the_same_default_experiment():
    """ddp.run() and ``python -m aichip.ddp`` with no flags train the same model on the same data
    (two declarations of one default run), on the 2 ranks of the module docstring's example."""
    import inspect
    import re

    args = ddp.parse_args([])
    run = {k: v.default for k, v in inspect.signature(ddp.run).parameters.items()}
    assert tuple(run["hidden"]) == tuple(args.hidden)
    for name in ("inputs", "outputs", "batch", "steps", "bucket_bytes", "lr", "seed"):
        assert run[name] == getattr(args, name), name
    assert inspect.signature(ddp.train_distributed).parameters["seed"].default == args.seed
    assert run["n_ranks"] == int(re.search(r"mpiexec -n (\d+) python -m aichip.ddp",
                                           ddp.__doc__)[1]) == 2


def test_report_columns_in_milliseconds():
    t = _timings((0.019, 0.020, 0.021), (0.029, 0.030, 0.031))
    line = ddp.table([t], ddp.COLUMNS).splitlines()[-1].split()
    assert line == ["20.00", "16.00", "5.00", "2.00", "60%", "30.00", "1.50", "75%"]


def test_shard_gradients_sum_to_the_full_batch_gradient():
    """The decomposition the data-parallel run relies on, without MPI: shares of rows with the
    residual divided by the global batch add up to the full-batch gradient."""
    sizes = [6, 8, 4]
    params = ddp.init_params(sizes, seed=0)
    x, y = ddp.global_batch(1, 11, ddp.teacher(6, 4), seed=0)
    full = [(np.empty_like(w), np.empty_like(b)) for w, b in params]
    ddp.backward(params, ddp.forward(params, x), y, 11, full)
    total = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
    for r in range(3):
        s = ddp.shard(11, 3, r)
        part = [(np.empty_like(w), np.empty_like(b)) for w, b in params]
        ddp.backward(params, ddp.forward(params, x[s]), y[s], 11, part)
        for (tw, tb), (pw, pb) in zip(total, part, strict=True):
            tw += pw
            tb += pb
    for (tw, tb), (fw, fb) in zip(total, full, strict=True):
        np.testing.assert_allclose(tw, fw, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tb, fb, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("batch, p", [(11, 3), (8, 4), (5, 5), (100, 7)])
def test_shards_are_array_split(batch, p):
    rows = np.arange(batch)
    for r, part in enumerate(np.array_split(rows, p)):
        np.testing.assert_array_equal(rows[ddp.shard(batch, p, r)], part)


@pytest.mark.parametrize("sizes, limit, expected", [
    ([4, 4, 4, 4], 8, [(0, 2), (2, 4)]),
    ([4, 4, 4, 4], 9, [(0, 2), (2, 4)]),
    ([4, 4, 4, 4], 12, [(0, 3), (3, 4)]),
    ([10, 1, 1, 10], 4, [(0, 1), (1, 3), (3, 4)]),     # a parameter larger than a bucket is alone
    ([3], 1, [(0, 1)]),
    ([1, 2, 3], 100, [(0, 3)]),
])
def test_bucket_partition_examples(sizes, limit, expected):
    assert ddp.bucket_partition(sizes, limit) == expected


def test_bucket_partition_properties():
    rng = np.random.default_rng(5)
    for _ in range(200):
        sizes = [int(s) for s in rng.integers(0, 50, size=rng.integers(1, 12))]
        limit = int(rng.integers(1, 120))
        buckets = ddp.bucket_partition(sizes, limit)
        assert buckets[0][0] == 0 and buckets[-1][1] == len(sizes)
        assert all(a[1] == b[0] for a, b in zip(buckets[:-1], buckets[1:], strict=True))
        for i, (lo, hi) in enumerate(buckets):
            assert hi > lo
            total = sum(sizes[lo:hi])
            assert total <= limit or hi - lo == 1
            if i + 1 < len(buckets):           # greedy: the next parameter did not fit
                assert total + sizes[hi] > limit


def test_flat_grads_views_and_readiness():
    params = ddp.init_params([3, 4, 5, 2], seed=0)
    fg = ddp.FlatGrads(params, bucket_bytes=8 * 22)
    assert fg.flat.size == sum(w.size + b.size for w, b in params)
    for (dw, db), (w, b) in zip(fg.grads(), params, strict=True):
        assert dw.shape == w.shape and db.shape == b.shape
        assert np.shares_memory(dw, fg.flat) and np.shares_memory(db, fg.flat)
    # backward order: W2 (10) b2 (2) | W1 (20) | b1 (5) W0 (12) b0 (4), 22 elements per bucket;
    # the last bucket mixes layers 1 and 0, so it is ready only after layer 0
    assert fg.buckets == [(0, 2), (2, 3), (3, 6)]
    assert fg.bounds == [(0, 12), (12, 32), (32, 53)]
    assert fg.ready_after_layer == {2: [0], 1: [1], 0: [2]}
    fg = ddp.FlatGrads(params, bucket_bytes=8 * 12)      # W2 b2 | W1 | b1 | W0 | b0
    assert fg.bounds == [(0, 12), (12, 32), (32, 37), (37, 49), (49, 53)]
    assert fg.ready_after_layer == {2: [0], 1: [1, 2], 0: [3, 4]}


@pytest.mark.parametrize("call, match", [
    (lambda: ddp.bucket_partition([4, 4], 0), "bucket_bytes"),
    (lambda: ddp.bucket_partition([], 4), "param_bytes"),
    (lambda: ddp.bucket_partition([4, -1], 4), "param_bytes"),
    (lambda: ddp.layer_sizes(4, [], 2), "hidden"),
    (lambda: ddp.layer_sizes(4, [0], 2), "hidden"),
    (lambda: ddp.layer_sizes(0, [3], 2), "n_inputs"),
    (lambda: ddp.run(n_ranks=0), "n_ranks"),
    (lambda: ddp.run(n_ranks=4, batch=3), "batch"),
    (lambda: ddp.run(lr=0), "lr"),
    (lambda: ddp.run(steps=0), "steps"),
    (lambda: ddp.run(bucket_bytes=0), "bucket_bytes"),
    (lambda: ddp.run(progress="dma"), "progress"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types():
    with pytest.raises(TypeError, match="hidden"):
        ddp.layer_sizes(4, "512", 2)
    with pytest.raises(TypeError, match="n_ranks"):
        ddp.run(n_ranks=2.0)


@pytest.mark.parametrize("argv, name", [
    (["--hidden", "64,x"], "--hidden"), (["--hidden", "0"], "--hidden"),
    (["--steps", "0"], "--steps"), (["--batch", "-3"], "--batch"),
    (["--bucket-bytes", "banana"], "--bucket-bytes"), (["--lr", "-1"], "--lr"),
    (["--lr", "nan"], "--lr")])
def test_bad_arguments_are_usage_errors(argv, name, capsys):
    with pytest.raises(SystemExit) as exc:
        ddp.parse_args(argv)
    assert exc.value.code == 2 and f"argument {name}" in capsys.readouterr().err


def test_cli_int_list():
    assert cli.int_list(1)("512, 256") == [512, 256]


def _timings(step, single, n_ranks=2, exposed=(0.002, 0.003, 0.001)):
    """A run of 4 steps (the first, dropped, absurdly slow): per step (step, compute, largest wait)
    of the slowest rank, each step's smallest wait, the all-reduce alone 4-6 ms, blocking 7-9 ms."""
    rows = [[9.0, 9.0, 9.0]] + [[s, c, w] for s, c, w in zip(step, (0.015, 0.016, 0.017),
                                                              (0.004, 0.005, 0.003), strict=True)]
    return ddp.timing_summary(rows, [9.0, *exposed], [0.004, 0.005, 0.006],
                              [0.007, 0.008, 0.009], [1.0, *single], n_ranks)


def test_timing_summary_by_hand():
    """Medians over steps 1-3: step 20 ms, compute 16 ms, comm 5 ms, exposed 2 ms; one rank 30 ms
    a step: speedup 1.5, and on 2 ranks an efficiency of 0.75 (3 ranks: 0.5)."""
    t = _timings((0.019, 0.020, 0.021), (0.029, 0.030, 0.031))
    expected = {"step_s": 0.020, "step_best_s": 0.019, "compute_s": 0.016, "comm_s": 0.005,
                "comm_blocking_s": 0.008, "exposed_comm_s": 0.002, "hidden_comm_s": 0.003,
                "imbalance_s": 0.002, "hidden_fraction": 0.6, "single_step_s": 0.030,
                "speedup": 1.5, "efficiency": 0.75}
    assert t == pytest.approx(expected, rel=1e-12)
    t3 = _timings((0.019, 0.020, 0.021), (0.029, 0.030, 0.031), n_ranks=3)
    assert t3["speedup"] == pytest.approx(1.5) and t3["efficiency"] == pytest.approx(0.5)
    # communication longer exposed than alone: nothing hidden (not a negative share)
    slow = _timings((0.019, 0.020, 0.021), (0.029, 0.030, 0.031), exposed=(0.008,) * 3)
    assert slow["hidden_comm_s"] == 0.0 and slow["hidden_fraction"] == 0.0
    with pytest.raises(ValueError, match="n_ranks"):
        _timings((0.019, 0.020, 0.021), (0.029, 0.030, 0.031), n_ranks=0)


@needs_mpi
def test_two_rank_run_equals_one_process():
    res = ddp.run(2, hidden=(64, 64), inputs=16, outputs=4, batch=64, steps=6,
                  bucket_bytes=8 * 1024)
    assert res["returncode"] == 0 and res["ok"], res["stdout"]
    assert res["max_rel_diff"] <= ddp.TOLERANCE
    assert res["n_buckets"] == len(ddp.FlatGrads(ddp.init_params([16, 64, 64, 4]),
                                                 8 * 1024).buckets)
    assert res["loss_last"] < res["loss_first"]
    assert res["n_params"] == 16 * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4
    # the same thread policy as every MPI program, however started
    assert res["threads_per_rank"] == mpiharness.thread_share(2).threads
    assert res["stdout"].rstrip().endswith("# #wrong 0: every rank's weights equal the 1-rank run")
    assert res["progress"] == "poll" and "MPIR_CVAR_ASYNC_PROGRESS" not in res["mpich_cvars"]
    _check_timings(res)


@needs_mpi
def test_progress_thread_run_keeps_the_weights_and_records_the_mode():
    res = ddp.run(2, hidden=(64, 64), inputs=16, outputs=4, batch=64, steps=4,
                  bucket_bytes=8 * 1024, progress="thread")
    assert res["returncode"] == 0 and res["ok"], res["stdout"]
    assert res["max_rel_diff"] <= ddp.TOLERANCE
    assert res["mpich_cvars"].get("MPIR_CVAR_ASYNC_PROGRESS") == "1" and res["progress"] == "thread"
    assert "MPIR_CVAR_ASYNC_PROGRESS=1" in res["stdout"]
    _check_timings(res)


def _check_timings(res):
    """Every timing field present, with its sign, and the relations that hold for any run."""
    for key in ("step_s", "step_best_s", "compute_s", "comm_s", "comm_blocking_s",
                "single_step_s", "speedup", "efficiency"):
        assert res[key] > 0, key
    for key in ("exposed_comm_s", "hidden_comm_s", "imbalance_s"):
        assert res[key] >= 0, key
    assert 0 <= res["hidden_fraction"] <= 1
    # each rank's step contains its compute: the slowest step is at least the slowest compute
    assert res["step_best_s"] <= res["step_s"] and res["compute_s"] <= res["step_s"]
    assert res["hidden_comm_s"] == pytest.approx(max(0.0, res["comm_s"] - res["exposed_comm_s"]))
    assert res["hidden_fraction"] == pytest.approx(res["hidden_comm_s"] / res["comm_s"])
    assert res["speedup"] == pytest.approx(res["single_step_s"] / res["step_s"])
    assert res["efficiency"] == pytest.approx(res["speedup"] / res["n_ranks"])


@needs_mpi
def test_planted_wrong_reduction_fails_the_run():
    res = ddp.run(2, hidden=(32,), inputs=8, outputs=2, batch=16, steps=3, inject_error=True)
    assert res["returncode"] == 1 and not res["ok"]
    assert res["max_rel_diff"] > 1e3 * ddp.TOLERANCE
