"""The MPI RMA benchmark on 2 real processes: every table present and correct, a planted error
caught, bad arguments rejected by name."""

import pytest

from aichip import rmabench

pytest.importorskip("mpi4py")


@pytest.fixture(scope="module")
def result():
    return rmabench.run(2, ops=rmabench.RMA_OPS, syncs=rmabench.SYNCS, max_bytes=4096, iters=3,
                        warmup=1)


def test_every_op_and_sync_runs_and_is_correct(result):
    assert result["returncode"] == 0 and result["ok"]
    for op in rmabench.RMA_OPS:
        for sync in (["two-sided"] if op == "sendrecv" else rmabench.SYNCS):
            rows = result["ops"][f"{op}/{sync}"]["rows"]
            assert all(r["wrong"] == 0 and r["time_us"] > 0 for r in rows)
            # atomics move one 8-byte element, like an RDMA atomic; the rest sweep 8 B .. 4 KiB
            expected = [8] if op in rmabench.ATOMIC_OPS else [8, 64, 512, 4096]
            assert [r["size_B"] for r in rows] == expected
    assert "#wrong" in result["stdout"]


def test_planted_error_is_counted_and_fails_the_run():
    res = rmabench.run(2, ops=("put", "sendrecv", "compare_and_swap"), syncs=("fence",),
                       max_bytes=64, iters=2, warmup=0, inject_error=True)
    assert res["returncode"] == 1 and not res["ok"]
    assert all(r["wrong"] >= 1 for e in res["ops"].values() for r in e["rows"][-1:])


@pytest.mark.parametrize("argv, name", [
    (["--max-bytes", "banana"], "--max-bytes"), (["--iters", "0"], "--iters"),
    (["--ops", "put,teleport"], "--ops"), (["--sync", "barrier"], "--sync"),
    (["--min-bytes", "12"], "--min-bytes"),
    (["--min-bytes", "1M", "--max-bytes", "4K"], "--min-bytes")])
def test_bad_arguments_are_usage_errors(argv, name, capsys):
    with pytest.raises(SystemExit) as exc:
        rmabench.main(argv)
    assert exc.value.code == 2 and f"argument {name}" in capsys.readouterr().err


@pytest.mark.parametrize("kw, match", [({"n_ranks": 1}, "n_ranks"), ({"ops": ("put", "x")}, "ops"),
                                       ({"syncs": "fence"}, "syncs"),
                                       ({"min_bytes": 12}, "min_bytes"), ({"iters": 0}, "iters")])
def test_run_rejects_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        rmabench.run(**kw)


def test_loggp_from_a_sweep():
    # one-way times exactly 2 us + n * 1 ns, send call 0.5 us: G = 1 ns/B, o = 0.5 us, L = 1 us
    rows = [{"size_B": n, "time_us": 2 + n * 1e-3, "send_call_us": 0.5} for n in (8, 64, 512, 4096)]
    p = rmabench.loggp(rows)
    assert p["G_s_per_byte"] == pytest.approx(1e-9) and p["o_s"] == pytest.approx(0.5e-6)
    assert p["L_s"] == pytest.approx(1e-6) and p["alpha_s"] == pytest.approx(2e-6)
    with pytest.raises(ValueError, match="rows"):
        rmabench.loggp(rows[:1])


def test_sendrecv_rows_carry_the_send_overhead(result):
    rows = result["ops"]["sendrecv/two-sided"]["rows"]
    assert all(0 < r["send_call_us"] for r in rows)
    assert rmabench.loggp(rows)["G_s_per_byte"] >= 0
