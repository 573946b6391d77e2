"""The MPI RMA benchmark on 2 real processes: every table present and correct, a planted error
caught, bad arguments rejected by name; and the two-sided ping-pong's one-way time and send
overhead against a stand-in peer with a known round trip on a fake clock (no MPI needed)."""

import importlib.util
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from aichip import mpiharness, rmabench

needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                               reason="needs mpi4py (and an MPI library)")


@pytest.fixture(scope="module")
def result():
    return rmabench.run(2, ops=rmabench.RMA_OPS, syncs=rmabench.SYNCS, max_bytes=4096, iters=3,
                        warmup=1)


@needs_mpi
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
    assert result["stdout"].rstrip().endswith("# #wrong 0: all results correct")
    # rank 0 alone prints: the header once, each operation's title and table once
    out = result["stdout"]
    assert out.count(" ranks, ") == 1 and out.count("# MPIR_CVAR_*:") == 1
    n_tables = 1 + (len(rmabench.RMA_OPS) - 1) * len(rmabench.SYNCS)   # sendrecv: one
    assert out.count("# sendrecv (two-sided), int64, rank 0 -> rank 1") == 1
    assert out.count("    size (B)   time (us)") == n_tables
    assert result["threads_per_rank"] == mpiharness.thread_share(2).threads


@needs_mpi
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


@needs_mpi
def test_sendrecv_rows_carry_the_send_overhead(result):
    """On real processes: the time inside Send is part of the one-way time, and a row's one-way
    time is at most its median; the LogGP parameters are non-negative and consistent."""
    rows = result["ops"]["sendrecv/two-sided"]["rows"]
    for r in rows:
        assert 0 < r["send_call_us"] and 0 < r["time_us"] <= r["median_us"]
        assert r["bw_GBps"] == pytest.approx(r["size_B"] / r["time_us"] / 1e3)
    lg = rmabench.loggp(rows)
    assert lg["G_s_per_byte"] >= 0 and lg["o_s"] == rows[0]["send_call_us"] * 1e-6
    assert lg["L_s"] == pytest.approx(max(lg["alpha_s"] - 2 * lg["o_s"], 0.0))


class _EchoPeer:
    """Rank 0 of 2 on a fake clock: Send takes 3 us, Recv 5 us and delivers what was sent plus
    ``echo_add`` (the real target adds 1): a known round trip of 8 us, so 4 us one way."""

    size, rank = 2, 0

    def __init__(self, echo_add=1):
        self.t, self.echo_add, self.sent = 50.0, echo_add, None

    def clock(self):
        return self.t

    def Barrier(self):
        pass

    def Send(self, buf, dest):
        self.t += 3e-6
        self.sent = np.array(buf, copy=True)

    def Recv(self, buf, source):
        self.t += 5e-6
        buf[:] = self.sent + self.echo_add

    def allreduce(self, value):
        return value

    def bcast(self, value, root=0):
        return value


def test_sendrecv_one_way_time_is_half_a_known_round_trip(monkeypatch):
    rows = rmabench.bench_sendrecv(_patched(monkeypatch, _EchoPeer()), [8, 64], iters=3, warmup=1)
    assert [r["size_B"] for r in rows] == [8, 64]
    for r in rows:
        assert r["time_us"] == pytest.approx(4.0) and r["median_us"] == pytest.approx(4.0)
        assert r["send_call_us"] == pytest.approx(3.0) and r["wrong"] == 0
        assert r["bw_GBps"] == pytest.approx(r["size_B"] / 4e-6 / 1e9)
    lg = rmabench.loggp(rows)       # no size dependence: G = 0, alpha = 4 us, o = 3 us, L = 0
    assert lg["G_s_per_byte"] == pytest.approx(0, abs=1e-15)
    assert lg["alpha_s"] == pytest.approx(4e-6) and lg["L_s"] == 0.0
    wrong = rmabench.bench_sendrecv(_patched(monkeypatch, _EchoPeer(echo_add=2)), [64], 3, 1)
    assert wrong[0]["wrong"] == 8 * (3 + 1)          # every element of every echo, warm-up too


def _patched(monkeypatch, peer):
    monkeypatch.setattr(rmabench, "time", SimpleNamespace(perf_counter=peer.clock))
    return peer


@needs_mpi
def test_one_rank_is_a_usage_error():
    proc = subprocess.run([mpiharness.mpiexec_path(), "-n", "1", sys.executable, "-m",
                           "aichip.rmabench"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == mpiharness.EXIT_USAGE
    assert "error: rmabench needs at least 2 ranks" in proc.stderr


def test_table_layout_by_hand():
    """The nccl-tests-style layout, written out by hand: columns 12, 11, 12, 10 and 7 wide."""
    row = {"size_B": 8, "time_us": 1.5, "median_us": 1.75, "bw_GBps": 0.005, "wrong": 0}
    assert rmabench.table([row]).splitlines() == [
        "    size (B)   time (us)  median (us)  bw (GB/s)  #wrong",
        "           8        1.50         1.75      0.005      OK"]


@needs_mpi
def test_rank_0_alone_prints_with_three_ranks():
    """With 3 ranks (one idle), the header, the title and the table each appear once."""
    r = rmabench.run(3, ops=("sendrecv",), max_bytes=8, iters=1, warmup=0)
    assert r["returncode"] == 0
    assert r["stdout"].count(": 3 ranks, ") == 1 and r["stdout"].count("# MPIR_CVAR_*:") == 1
    assert r["stdout"].count("# sendrecv (two-sided)") == 1
    assert r["stdout"].count("    size (B)   time (us)") == 1
