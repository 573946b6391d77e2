"""The MPI benchmark launched for real (2 ranks, MPICH from its wheel), its checker and its fit."""

import numpy as np
import pytest

from aichip import mpibench


def test_fit_recovers_alpha_beta():
    n = np.array([8, 64, 512, 4096, 32768, 262144], dtype=float)
    t = 3e-6 + n * 2e-10
    alpha, beta = mpibench.fit_alpha_beta(n, t)
    assert alpha == pytest.approx(3e-6, rel=1e-6) and beta == pytest.approx(2e-10, rel=1e-6)


def test_fit_bad_input():
    with pytest.raises(ValueError, match="length"):
        mpibench.fit_alpha_beta([8], [1e-6])
    with pytest.raises(ValueError, match="positive"):
        mpibench.fit_alpha_beta([8, 0], [1e-6, 1e-6])


def test_parse_size():
    assert mpibench.parse_size("4K") == 4096 and mpibench.parse_size("2M") == 2 * 2**20
    assert mpibench.parse_size("512") == 512
    with pytest.raises(ValueError):
        mpibench.parse_size("0")


def test_two_ranks_every_op_correct():
    res = mpibench.run(2, ops="pingpong,allreduce,allgather,reduce_scatter,broadcast,reduce,alltoall",
                       max_bytes=4096, iters=2, warmup=1)
    assert res["returncode"] == 0 and res["ok"] and res["n_ranks"] == 2
    for op, data in res["ops"].items():
        assert data["rows"] and all(r["wrong"] == 0 for r in data["rows"]), op
        assert all(r["time_us"] > 0 and r["busbw_GBps"] > 0 for r in data["rows"])
    assert "algbw (GB/s)" in res["stdout"] and "busbw (GB/s)" in res["stdout"]


def test_wrong_result_is_reported_and_exit_code_nonzero():
    res = mpibench.run(2, ops="allreduce", max_bytes=1024, iters=1, warmup=0, inject_error=True)
    assert res["returncode"] == 1 and not res["ok"]
    assert res["ops"]["allreduce"]["rows"][-1]["wrong"] == 1
    assert "WRONG RESULTS" in res["stdout"]


def test_run_bad_input():
    with pytest.raises(ValueError, match="n_ranks"):
        mpibench.run(0)
    with pytest.raises(ValueError, match="max_bytes"):
        mpibench.run(2, min_bytes=64, max_bytes=8)
    with pytest.raises(SystemExit):
        mpibench.main(["--ops", "gather"])
