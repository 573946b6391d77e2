"""The MPI benchmark launched for real (2 ranks, MPICH from its wheel), its checker (through
stand-in communicators, no MPI needed), the ping-pong record timed on a fake clock, its fit, its
command line (shared with later tools through aichip.cli) and the MPICH algorithm forcing."""

import importlib.util
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from aichip import cli, mpibench, mpiharness
from aichip import collective_specs as cs

needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                               reason="needs mpi4py (and an MPI library)")


def test_fit_recovers_alpha_beta():
    n = np.array([8, 64, 512, 4096, 32768, 262144], dtype=float)
    t = 3e-6 + n * 2e-10
    alpha, beta = mpibench.fit_alpha_beta(n, t)
    assert alpha == pytest.approx(3e-6, rel=1e-6) and beta == pytest.approx(2e-10, rel=1e-6)


def test_fit_bad_input():
    with pytest.raises(ValueError, match="sizes_bytes and times_s must be 1-D"):
        mpibench.fit_alpha_beta([8], [1e-6])
    with pytest.raises(ValueError, match="sizes_bytes and times_s must be positive"):
        mpibench.fit_alpha_beta([8, 0], [1e-6, 1e-6])


def test_parse_size():
    assert cli.parse_size("4K") == 4096 and cli.parse_size("2M") == 2 * 2**20
    assert cli.parse_size("512") == 512 and cli.parse_size("1G") == 2**30
    assert cli.parse_size("64KiB") == 65536 and mpibench.parse_size("8") == 8
    for bad in ("0", "banana", "-4K", "1.5M", "", "4T"):
        with pytest.raises(ValueError, match="is not a size; write a positive whole number"):
            cli.parse_size(bad)


def test_command_line_bad_size_is_a_usage_error_not_a_traceback():
    """`python -m aichip.mpibench --max-bytes banana` (issue 11, item 29): exit status 2, the
    argument named with the form it accepts, no traceback (it fails before MPI starts)."""
    proc = subprocess.run([sys.executable, "-m", "aichip.mpibench", "--max-bytes", "banana"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "argument --max-bytes: 'banana' is not a size" in proc.stderr
    assert "K, M or G" in proc.stderr and "usage:" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("argv,message", [
    (["--ops", "gather"], "argument --ops: 'gather' not allowed"),
    (["--iters", "0"], "argument --iters: 0 is too small"),
    (["--factor", "x"], "argument --factor: 'x' is not a whole number"),
    (["--min-bytes", "1M", "--max-bytes", "4K"], "argument --min-bytes: must not exceed"),
    (["--ops", "allreduce", "--algorithm", "hierarchical"],
     "argument --algorithm: 'hierarchical' cannot be forced for allreduce"),
    (["--ops", "reduce_scatter", "--algorithm", "ring"],
     "argument --algorithm: 'ring' cannot be forced for reduce_scatter"),
    (["--ops", "alltoallv", "--skew", "-1"], "argument --skew: '-1' is not a skew"),
    (["--ops", "alltoallv", "--algorithm", "pairwise"],
     "argument --algorithm: 'pairwise' cannot be forced for alltoallv"),
])
def test_command_line_errors_name_the_argument(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        mpibench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_mpich_environment_names_mpich_cvars():
    """The CVAR names and values MPICH 5.0.2 lists (`mpivars`) for its all-reduce algorithms."""
    env = mpibench.mpich_environment(["pingpong", "allreduce"], "rabenseifner")
    assert env["MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM"] == "reduce_scatter_allgather"
    assert env["MPIR_CVAR_DEVICE_COLLECTIVES"] == "none"
    env = mpibench.mpich_environment(["allreduce"], "pipelined_tree", tree_chunk_bytes=4096)
    assert env["MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM"] == "tree"
    assert env["MPIR_CVAR_ALLREDUCE_TREE_TYPE"] == "kary"
    assert env["MPIR_CVAR_ALLREDUCE_TREE_KVAL"] == "2"
    assert env["MPIR_CVAR_ALLREDUCE_TREE_PIPELINE_CHUNK_SIZE"] == "4096"
    assert mpibench.mpich_environment(["allgather"], "ring")[
        "MPIR_CVAR_ALLGATHER_INTRA_ALGORITHM"] == "ring"
    assert set(mpibench.forceable("allreduce")) == {"ring", "recursive_doubling", "rabenseifner",
                                                   "pipelined_tree"}
    with pytest.raises(ValueError, match="algorithm must be one of"):
        mpibench.mpich_environment(["allreduce"], "double_binary_tree")
    with pytest.raises(ValueError, match="tree_chunk_bytes must be >= 8"):
        mpibench.mpich_environment(["allreduce"], "ring", tree_chunk_bytes=4)


class _LazyComm:
    """One rank whose all-reduce delivers only on its first call (a stale-buffer bug)."""

    size, rank = 1, 0

    def __init__(self):
        self.calls = 0

    def Allreduce(self, send, recv):
        if self.calls == 0:
            recv[:] = send
        self.calls += 1

    def Barrier(self):
        pass

    def allgather(self, value):
        return [value]


def test_every_delivery_is_checked():
    """The receive buffer is cleared before each call: a call that delivers nothing is counted
    wrong even though the previous call left the right answer in the buffer."""
    rows = mpibench.bench_op(_LazyComm(), "allreduce", [64], iters=3, warmup=0)
    assert rows[0]["count"] == 8
    assert rows[0]["wrong"] == 2 * 8          # calls 2 and 3 delivered nothing


class _LazyBcast(_LazyComm):
    """Rank 1 of 2 whose broadcast delivers only on its first call (into the send buffer)."""

    size, rank = 2, 1

    def Bcast(self, buf, root=0):
        if self.calls == 0:
            buf[:] = 1000.0 + np.arange(buf.size) % 997        # rank 0's input
        self.calls += 1


def test_in_place_delivery_is_checked_too():
    """A broadcast delivers into the send buffer: it is cleared before each call on the ranks
    whose result is not their input, so a stale first delivery does not pass twice more."""
    rows = mpibench.bench_op(_LazyBcast(), "broadcast", [64], iters=3, warmup=0)
    assert rows[0]["wrong"] == 2 * 8


class _Clock:
    def __init__(self):
        self.t = 100.0

    def perf_counter(self):
        return self.t


class _PingPeer:
    """Rank 0 or 1 of 2: Send takes 3 us, Recv 5 us and delivers plus ``error`` what rank 0 sent
    (rank 0's input, or on rank 0 what it sent itself); a known round trip of 8 us, 4 us one way."""

    size = 2

    def __init__(self, clock, rank, error=0.0):
        self.clock, self.rank, self.error = clock, rank, error
        self.sent = None

    def Barrier(self):
        pass

    def Send(self, buf, dest, tag=0):
        self.clock.t += 3e-6
        self.sent = np.array(buf, copy=True)

    def Recv(self, buf, source, tag=0):
        self.clock.t += 5e-6
        rank0 = self.sent if self.rank == 0 else 1000.0 + np.arange(buf.size) % 997
        buf[:] = rank0 + self.error

    def allgather(self, value):
        return [value, value]


@pytest.mark.parametrize("rank", [0, 1])
def test_pingpong_record_one_way_time_on_a_fake_clock(monkeypatch, rank):
    """The ping-pong is a record like the collectives: its call is a round trip of two one-way
    messages, so a measured 8 us round trip is a 4 us row; every delivery is checked."""
    clock = _Clock()
    monkeypatch.setattr(mpibench, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    rows = mpibench.bench_op(_PingPeer(clock, rank), "pingpong", [8, 64], iters=3, warmup=1)
    assert [r["size_B"] for r in rows] == [8, 64] and [r["count"] for r in rows] == [1, 8]
    for r in rows:
        assert r["time_us"] == pytest.approx(4.0) and r["median_us"] == pytest.approx(4.0)
        assert r["algbw_GBps"] == pytest.approx(r["size_B"] / 4e-6 / 1e9)
        assert r["busbw_GBps"] == r["algbw_GBps"] and r["wrong"] == 0
    bad = mpibench.bench_op(_PingPeer(clock, rank, error=1.0), "pingpong", [64], iters=3, warmup=1)
    assert bad[0]["wrong"] == 2 * 3 * 8       # 2 ranks (the same stand-in) x 3 calls x 8


def test_every_collective_and_pingpong_is_a_record():
    assert set(mpibench.BENCH_OPS) == {"pingpong", *cs.OPERATIONS, "alltoallv"}
    assert mpibench.BENCH_OPS[:3] == ("pingpong", "allreduce", "allgather")
    pp = mpibench.benchmark("pingpong")
    assert (pp.messages, pp.min_ranks, pp.collective) == (2, 2, False)
    assert mpibench.forceable("pingpong") == ()
    ar = mpibench.benchmark("allreduce")
    assert ar.bus_factor(4) == cs.OPERATIONS["allreduce"].bus_factor(4) == 1.5
    with pytest.raises(ValueError, match="op must be one of"):
        mpibench.benchmark("gather")


@needs_mpi
def test_two_ranks_every_op_correct():
    ops = "pingpong,allreduce,allgather,reduce_scatter,broadcast,reduce,alltoall"
    res = mpibench.run(2, ops=ops, max_bytes=4096, iters=2, warmup=1)
    assert res["returncode"] == 0 and res["ok"] and res["n_ranks"] == 2
    for op, data in res["ops"].items():
        assert data["rows"] and all(r["wrong"] == 0 for r in data["rows"]), op
        assert all(r["time_us"] > 0 and r["busbw_GBps"] > 0 for r in data["rows"])
    assert "algbw (GB/s)" in res["stdout"] and "busbw (GB/s)" in res["stdout"]
    # the harness's header (the one thread policy) and footer
    assert res["threads_per_rank"] == mpiharness.thread_share(2).threads
    assert res["thread_policy"] == mpiharness.thread_share(2).policy
    assert res["mpi"] in res["stdout"] and "MPIR_CVAR_*: none" in res["stdout"]
    assert res["stdout"].rstrip().endswith("# #wrong 0: all results correct")


@needs_mpi
def test_forced_algorithm_runs_and_is_recorded():
    res = mpibench.run(2, ops="allreduce", max_bytes=4096, iters=2, warmup=1,
                       algorithm="rabenseifner")
    assert res["ok"] and res["algorithm"] == "rabenseifner"
    assert res["mpich_cvars"]["MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM"] == "reduce_scatter_allgather"
    # MPICH's reduce_scatter_allgather needs count >= 2 on 2 ranks: the 8-byte size is not timed
    assert min(r["count"] for r in res["ops"]["allreduce"]["rows"]) >= 2
    assert "MPICH forced to rabenseifner" in res["stdout"]
    assert "MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM=reduce_scatter_allgather" in res["stdout"]


@needs_mpi
def test_wrong_result_is_reported_and_exit_code_nonzero():
    res = mpibench.run(2, ops="allreduce", max_bytes=1024, iters=1, warmup=0, inject_error=True)
    assert res["returncode"] == 1 and not res["ok"]
    assert res["ops"]["allreduce"]["rows"][-1]["wrong"] == 1
    assert res["stdout"].rstrip().endswith("# #wrong 1: WRONG RESULTS")


def test_run_bad_input():
    with pytest.raises(ValueError, match="n_ranks must be >= 1"):
        mpibench.run(0)
    with pytest.raises(ValueError, match="max_bytes must be >= 64"):
        mpibench.run(2, min_bytes=64, max_bytes=8)
    with pytest.raises(ValueError, match="ops must be one of"):
        mpibench.run(2, ops="allreduce,gather")
    with pytest.raises(ValueError, match="algorithm must be one of"):
        mpibench.run(2, ops="allreduce", algorithm="hierarchical")


def test_predicted_times_by_hand():
    """Ring on 2 ranks: 2 alpha + n beta + n/2 gamma; pipelined tree on 2 ranks with 64 KiB
    chunks: a 256 KiB vector is 4 chunks, 1 + 3 steps up and 4 down, each alpha + n/4 beta."""
    rows = [{"size_B": 2**18, "count": 2**15}]
    a, b, c = 5e-6, 1e-9, 1e-10
    ring = mpibench.predicted_times(rows, 2, "ring", a, b, c)
    assert ring[0] == pytest.approx(2 * a + 2**18 * b + 2**17 * c)
    tree = mpibench.predicted_times(rows, 2, "pipelined_tree", a, b, 0.0)
    assert tree[0] == pytest.approx(8 * (a + 2**16 * b))
    small = mpibench.predicted_times([{"size_B": 16, "count": 2}], 2, "pipelined_tree", a, b)
    assert small[0] == pytest.approx(2 * (a + 16 * b))
    with pytest.raises(ValueError, match="algorithm must be one of"):
        mpibench.predicted_times(rows, 2, "butterfly", a, b)


def test_model_comparison_rows():
    result = {"n_ranks": 2, "algorithm": "ring", "tree_chunk_bytes": 65536,
              "ops": {"allreduce": {"rows": [{"size_B": 1024, "count": 128, "time_us": 10.0,
                                              "busbw_GBps": 0.1}]}}}
    rows = mpibench.model_comparison(result, 1e-6, 1e-9)
    # ring, 2 ranks: 2 alpha + n beta = 2 us + 1.024 us
    assert rows[0]["model_us"] == pytest.approx(3.024)
    assert rows[0]["ratio"] == pytest.approx(10.0 / 3.024)
    with pytest.raises(ValueError, match="result must be what run"):
        mpibench.model_comparison({"algorithm": None}, 1e-6, 1e-9)


def test_summarize_comparison():
    import pandas as pd

    rows = []
    for p in (2, 4):
        for alg, slow in (("ring", 1.0), ("rabenseifner", 1.5), ("pipelined_tree", 3.0)):
            for n in (1024, 2**20):
                model = 2.0 * n if alg == "pipelined_tree" else 1.0 * n
                rows.append({"n_ranks": p, "algorithm": alg, "size_B": n, "model_us": model,
                             "measured_us": slow * n, "ratio": slow * n / model,
                             "busbw_GBps": n / (slow * n)})
    s = mpibench.summarize_comparison(pd.DataFrame(rows))
    assert s["ratio_median_2"] == pytest.approx(1.5) and s["ratio_max_4"] == pytest.approx(1.5)
    assert s["peak_alg"] == "ring" and s["peak_busbw"] == pytest.approx(1.0)
    assert s["largest_MiB"] == 1.0 and s["measured_best_big"] == "ring"
    assert s["model_best_big"] == "ring and rabenseifner"
    assert s["tree_vs_ring_measured"] == pytest.approx(3.0)
    assert s["tree_vs_ring_model"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="largest_ranks"):
        mpibench.summarize_comparison(pd.DataFrame(rows), largest_ranks=8)
    # the peak's size in MiB: 2 MiB = 2097152 B, the only row with 2 GB/s
    rows.append({"n_ranks": 2, "algorithm": "ring", "size_B": 2**21, "model_us": 1.0,
                 "measured_us": 1.0, "ratio": 1.0, "busbw_GBps": 2.0})
    s = mpibench.summarize_comparison(pd.DataFrame(rows))
    assert (s["peak_MiB"], s["peak_busbw"], s["largest_MiB"]) == (2.0, 2.0, 2.0)


# ----------------------------------------------------------------------------------------------
# the skewed all-to-all-v (mixture-of-experts dispatch)


@pytest.mark.parametrize("p,count,skew", [(2, 64, 1.5), (3, 40, 0.0), (4, 200, 2.0)])
def test_alltoallv_reference_is_numpy_delivery_element_by_element(p, count, skew):
    """Independent of the record's displacements: rank i's elements are sent in order, the first
    c[i, 0] to rank 0, the next c[i, 1] to rank 1, ...; rank j keeps what it gets in rank order."""
    bench = mpibench.benchmark("alltoallv", skew)
    x = mpibench.inputs(count, p)
    c = mpibench.alltoallv_counts(count, p, skew)
    assert np.all(c.sum(axis=1) == count)                      # every element sent once
    dest = [np.repeat(np.arange(p), c[i]) for i in range(p)]
    got = bench.reference(x, 0)
    for j in range(p):
        want = np.concatenate([x[i][dest[i] == j] for i in range(p)])
        assert np.array_equal(got[j], want) and len(want) == bench.mpi_recv_len(count, p)[j]
    assert sum(len(g) for g in got) == p * count               # received = sent


def test_alltoallv_counts_come_from_the_router():
    from aichip import moe

    c = mpibench.alltoallv_counts(1000, 2, 1.0)
    assert np.array_equal(c, moe.alltoallv_counts(500, 2, 1.0, k=2, experts_per_rank=2))
    with pytest.raises(ValueError, match="skew must be >= 0"):
        mpibench.alltoallv_benchmark(-0.5)


def test_alltoallv_model_by_hand():
    """2 ranks: alpha plus the larger of what a rank sends and receives across, times beta."""
    count, p, a, b = 4096, 2, 5e-6, 1e-9
    c = mpibench.alltoallv_counts(count, p, 1.0)
    busiest = max(c[0, 1], c[1, 0]) * 8
    got = mpibench.alltoallv_model_us([{"count": count}], p, a, b, 1.0)
    assert got[0] == pytest.approx(1e6 * (a + busiest * b))
    even = mpibench.alltoallv_model_us([{"count": count}], p, a, b, 0.0)[0]
    assert even == pytest.approx(1e6 * ab_pairwise(p, count * 8, a, b), rel=0.1)


def ab_pairwise(p, n, a, b):
    from aichip import alphabeta

    return alphabeta.cost("alltoall", "pairwise", p, n, a, b)


@needs_mpi
def test_two_ranks_skewed_alltoallv_checked_with_the_model_beside():
    res = mpibench.run(2, ops="pingpong,alltoallv", max_bytes=16384, iters=2, warmup=1, skew=1.5)
    assert res["returncode"] == 0 and res["ok"]
    rows = res["ops"]["alltoallv"]["rows"]
    assert rows and all(r["wrong"] == 0 for r in rows)
    # the model column needs a ping-pong fit with a positive beta; on a loaded machine the
    # fitted slope can be clamped to 0 (time not rising with size), and then no model is given
    if res["ops"]["pingpong"].get("fit_beta_s_per_byte", 0) > 0:
        assert all(r["model_us"] > 0 for r in rows)
    else:
        assert all("model_us" not in r for r in rows)
    assert all(r["busiest_over_even"] >= 1.0 for r in rows if r["count"] >= 8)
    assert "skew 1.5" in res["stdout"] and "busiest/even" in res["stdout"]


@needs_mpi
def test_alltoallv_wrong_delivery_fails_the_run():
    res = mpibench.run(2, ops="alltoallv", max_bytes=1024, iters=1, warmup=0, inject_error=True,
                       skew=1.0)
    assert res["returncode"] == 1 and not res["ok"]
    assert res["ops"]["alltoallv"]["rows"][-1]["wrong"] == 1


@needs_mpi
def test_one_rank_says_what_it_skips_and_has_no_busiest_ratio():
    # one rank: rank 0 prints the header and says the ping-pong (2 ranks) is skipped; an even
    # all-to-all moves (p - 1) / p = 0 of its bytes to other ranks, so the busiest-over-even
    # ratio has nothing to compare with
    res = mpibench.run(1, ops="pingpong,alltoallv", max_bytes=256, iters=1, warmup=0)
    assert res["returncode"] == 0 and res["ok"] and res["n_ranks"] == 1
    assert res["stdout"].startswith(f"# {res['mpi']} on ") and "1 ranks" in res["stdout"]
    assert "# pingpong skipped: it needs 2 ranks" in res["stdout"]
    assert "pingpong" not in res["ops"]
    rows = res["ops"]["alltoallv"]["rows"]
    assert rows and all("busiest_B" not in r and "busiest_over_even" not in r for r in rows)


def test_inputs_by_hand():
    # 1000 (r + 1) + (i mod 997): the pattern restarts at element 997 (a prime, so it does not
    # line up with power-of-two block sizes)
    x = mpibench.inputs(1000, 2)
    assert x.shape == (2, 1000)
    assert (x[0, 0], x[0, 996], x[0, 997], x[1, 999]) == (1000.0, 1996.0, 1000.0, 2002.0)
