"""The harness of the MPI programs without MPI: the thread policy worked by hand, the size sweep,
the table and footer against strings written out, the JSON and exit status through a one-rank
stand-in communicator, the flags of run(), and the launcher leaving the thread counts to the
programs."""

import json
import os

import numpy as np
import pytest

from aichip import mpiharness as mh


@pytest.mark.parametrize("local, cpus, allowed, threads, bound", [
    (2, 2, 2, 1, False),          # this machine under `make test-mpi`: one core each
    (3, 8, 8, 2, False),          # 8 cores, 3 ranks: 2 each (the 2 left over stay free)
    (1, 8, 8, 8, False),          # one rank alone takes the node
    (16, 8, 8, 1, False),         # more ranks than cores: still one thread each
    (4, 64, 8, 8, True),          # srun --cpus-per-task 8: the rank already has its share
])
def test_thread_share_by_hand(local, cpus, allowed, threads, bound):
    share = mh.thread_share(local, cpus=cpus, allowed=allowed)
    assert (share.threads, share.bound) == (threads, bound)
    assert (f"{cpus} cores shared among its {local} ranks" in share.policy) != bound


def test_thread_share_bad_input():
    with pytest.raises(ValueError, match="local_ranks must be >= 1"):
        mh.thread_share(0)
    with pytest.raises(TypeError, match="cpus"):
        mh.thread_share(2, cpus=2.0)


def test_size_sweep():
    assert mh.size_sweep(8, 65536, 8) == [8, 64, 512, 4096, 32768]
    assert mh.size_sweep(8, 8, 2) == [8]
    assert mh.size_sweep(3, 100, 3) == [3, 9, 27, 81]
    with pytest.raises(ValueError, match="max_bytes must be >= 64"):
        mh.size_sweep(64, 8, 2)
    with pytest.raises(ValueError, match="factor must be >= 2"):
        mh.size_sweep(8, 64, 1)


def test_fit_rows():
    rows = [{"size_B": n, "time_us": 2.0 + n * 1e-3} for n in (8, 64, 512, 4096)]
    fit = mh.fit_rows(rows)
    # exact line, microseconds to seconds: the fit returns it to rounding
    assert fit["fit_alpha_s"] == pytest.approx(2e-6, rel=1e-9)
    assert fit["fit_beta_s_per_byte"] == pytest.approx(1e-9, rel=1e-9)
    assert mh.fit_rows(rows[:1]) == {}                     # one size: nothing to fit
    two = mh.fit_rows(rows[:2])                            # two sizes: a line through both
    assert two["fit_alpha_s"] == pytest.approx(2e-6, rel=1e-9)


def test_table_and_footer_written_out():
    cols = (mh.Column("size (B)", 9, "size_B", "d"),
            mh.Column("t (ms)", 7, lambda r: r["t_s"] * 1e3, ".1f"), mh.WRONG_COLUMN)
    text = mh.table([{"size_B": 8, "t_s": 0.0125, "wrong": 0},
                     {"size_B": 64, "t_s": 1.0, "wrong": 3}], cols)
    assert text.splitlines() == [" size (B)  t (ms)  #wrong",
                                 "        8    12.5      OK",
                                 "       64  1000.0       3"]
    assert mh.footer(0) == "# #wrong 0: all results correct"
    assert mh.footer(2, bad="LOST") == "# #wrong 2: LOST"


def test_header_line():
    info = {"mpi": "MPICH 5", "host": "n1", "n_ranks": 4, "threads_per_rank": 2,
            "thread_policy": "the node's 8 cores shared among its 4 ranks",
            "mpich_cvars": {"MPIR_CVAR_A": "1", "MPIR_CVAR_B": "x"}}
    assert mh.header_line(info).splitlines() == [
        "# MPICH 5 on n1: 4 ranks, 2 thread(s) per rank (the node's 8 cores shared among its 4 "
        "ranks)", "# MPIR_CVAR_*: MPIR_CVAR_A=1 MPIR_CVAR_B=x"]


class _OneRank:
    rank, size = 0, 1

    def bcast(self, value, root=0):
        return value


def test_finish_writes_json_and_returns_the_exit_status(tmp_path, capsys):
    path = tmp_path / "r.json"
    assert mh.finish(_OneRank(), {"x": 1}, str(path), 0) == mh.EXIT_OK
    assert json.loads(path.read_text()) == {"x": 1, "ok": True}
    assert mh.finish(_OneRank(), {"x": 2}, str(path), 5, bad="BAD") == mh.EXIT_WRONG
    assert json.loads(path.read_text()) == {"x": 2, "ok": False}
    assert capsys.readouterr().out.splitlines() == ["# #wrong 0: all results correct",
                                                    "# #wrong 5: BAD"]
    assert mh.usage_error(_OneRank(), "needs 2 ranks") == mh.EXIT_USAGE == 2
    assert capsys.readouterr().err == "error: needs 2 ranks\n"


def test_flags():
    assert mh.flags(max_bytes=64, ops=("put", "get"), inject_error=False, lr=0.1,
                    algorithm=None, verbose=True) == [
        "--max-bytes", "64", "--ops", "put,get", "--lr", "0.1", "--verbose"]


def test_run_argument_checks():
    assert mh.check_sweep(8, 64, 2, 1, 0, multiple=8) == {
        "min_bytes": 8, "max_bytes": 64, "factor": 2, "iters": 1, "warmup": 0}
    with pytest.raises(ValueError, match="min_bytes must be a multiple of 8"):
        mh.check_sweep(12, 64, 2, 1, 0, multiple=8)
    with pytest.raises(ValueError, match="iters must be >= 1"):
        mh.check_sweep(8, 64, 2, 0, 0)
    with pytest.raises(ValueError, match="n_ranks must be >= 2"):
        mh.check_launch(1, 10.0, minimum=2)
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        mh.check_launch(2, 0.0)
    with pytest.raises(TypeError, match="env must map strings to strings"):
        mh.check_env({"A": 1})
    assert mh.check_env(None) == {}


def test_launch_leaves_the_thread_counts_to_the_programs(monkeypatch, tmp_path):
    """One thread policy: the launcher must not pin thread counts in the environment (it did:
    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1, so ddp.run() and `make test-mpi` differed)."""
    seen = {}

    def fake_run(cmd, env, **kw):
        seen.update(env)
        out = cmd[cmd.index("--json") + 1]
        with open(out, "w") as f:
            f.write('{"ok": true}')

        class Done:
            stdout, returncode = "", 0
        return Done()

    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(mh.subprocess, "run", fake_run)
    res = mh.launch("aichip.x", 2, ["--a", "1"], env={"MPIR_CVAR_X": "1"})
    assert res == {"ok": True, "stdout": "", "returncode": 0}
    assert "NUMBA_NUM_THREADS" not in seen and "OMP_NUM_THREADS" not in seen
    assert seen["MPIR_CVAR_X"] == "1" and seen["PATH"] == os.environ["PATH"]


def test_placement_says_when_ranks_outnumber_cores():
    assert mh.placement(2, 2) == "2 ranks on 2 cores per node, one core or more per rank"
    assert mh.placement(4, 2) == "4 ranks on 2 cores per node, oversubscribed 2.0 times"
    busy = mh.placement(3, 2, load_avg=11.24)
    assert busy.startswith("3 ranks on 2 cores per node, oversubscribed 1.5 times; ")
    assert "load average was 11.2" in busy and "other programs competed" in busy
    assert "competed" not in mh.placement(1, 8, load_avg=0.5)
    with pytest.raises(ValueError, match="cores"):
        mh.placement(2, 0)
    with pytest.raises(ValueError, match="load_avg"):
        mh.placement(2, 2, load_avg=-1.0)


def test_header_line_adds_the_placement_when_known():
    info = {"mpi": "MPICH 5", "host": "n1", "n_ranks": 4, "threads_per_rank": 1,
            "thread_policy": "p", "mpich_cvars": {}, "placement": mh.placement(4, 2)}
    assert mh.header_line(info).splitlines()[-1] == (
        "# 4 ranks on 2 cores per node, oversubscribed 2.0 times")


def test_every_program_moves_8_byte_elements():
    # ITEM's promise: every MPI program moves float64 or int64
    assert mh.ITEM == np.dtype(np.float64).itemsize == np.dtype(np.int64).itemsize


def test_fit_is_weighted_by_one_over_time_like_numpys_polyfit():
    # Not on a line, so the weighting decides the fit: NumPy's polyfit with weights 1/t on the
    # residuals is the independent reference.
    n = np.array([8.0, 512.0, 32768.0, 2097152.0])
    t = np.array([3e-6, 2.5e-6, 40e-6, 1.9e-3])
    beta, alpha = np.polyfit(n, t, 1, w=1 / t)
    got = mh.fit_alpha_beta(n, t)
    assert got == pytest.approx((alpha, beta), rel=1e-9)
    unweighted = np.polyfit(n, t, 1)
    assert abs(unweighted[1] - alpha) > 0.5e-6        # the weighting is what this case tests


def test_fit_clips_a_negative_latency_at_zero():
    # Through (1000 B, 0.5 us) and (2000 B, 1.5 us): slope 1 ns/B, intercept -0.5 us
    alpha, beta = mh.fit_alpha_beta([1000, 2000], [0.5e-6, 1.5e-6])
    assert alpha == 0.0 and beta == pytest.approx(1e-9, rel=1e-9)


@pytest.mark.parametrize("sizes, times", [([0, 8], [1e-6, 2e-6]), ([8, 16], [0.0, 2e-6]),
                                          ([8, 16], [1e-6, np.inf])])
def test_fit_rejects_sizes_or_times_that_are_not_positive_and_finite(sizes, times):
    with pytest.raises(ValueError, match="positive and finite"):
        mh.fit_alpha_beta(sizes, times)


def test_thread_share_reads_this_processs_affinity(monkeypatch):
    # allowed defaults to the cores *this* process may run on (pid 0 means the caller); another
    # process's affinity (here: pid 1 may use all 4) must not count
    monkeypatch.setattr(os, "sched_getaffinity",
                        lambda pid: {0} if pid in (0, os.getpid()) else {0, 1, 2, 3})
    share = mh.thread_share(2, cpus=4)
    assert share.bound and share.threads == 1


def test_sweep_defaults_and_checks_on_the_command_line():
    import argparse

    p = argparse.ArgumentParser()
    mh.add_sweep_arguments(p)
    a = p.parse_args([])
    assert (a.min_bytes, a.max_bytes, a.factor, a.iters, a.warmup) == (8, 2**20, 4, 20, 3)
    assert p.parse_args(["--warmup", "0"]).warmup == 0
    with pytest.raises(SystemExit):
        p.parse_args(["--warmup", "-1"])
    checks = mh.sweep_checks(8)
    ok = argparse.Namespace(min_bytes=16, max_bytes=64)
    assert all(test(ok) for _, test, _ in checks)
    odd = argparse.Namespace(min_bytes=12, max_bytes=64)
    assert [message for _, test, message in checks if not test(odd)] == [
        "must be a multiple of 8 (one 8-byte element)"]


def test_launch_gives_a_run_two_minutes_by_default(monkeypatch):
    seen = {}

    def fake_run(cmd, timeout, **kw):
        seen["timeout"] = timeout
        with open(cmd[cmd.index("--json") + 1], "w") as f:
            f.write("{}")
        return type("Done", (), {"stdout": "", "returncode": 0})()

    monkeypatch.setattr(mh.subprocess, "run", fake_run)
    mh.launch("aichip.x", 2, [])
    assert seen["timeout"] == 120.0
