"""The one-sided key-value store on 3 real processes: concurrent updates of shared keys, no update
lost and no read torn in either design, the owner's CPU idle in the one-sided design, a planted
corruption caught (in the harness's footer and exit status), bad arguments rejected by name. Only
the real runs need mpi4py."""

import importlib.util
import inspect
import re

import pytest

from aichip import kvstore, mpiharness

needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                               reason="needs mpi4py (and an MPI library)")


def test_hash_places_every_key_once_with_linear_probing():
    n_keys, p, buckets = 200, 3, 2 * 67 + 8
    seen = []
    for rank in range(p):
        t = kvstore.build_local_table(rank, p, n_keys, buckets)
        keys = [int(k) for k in t[:, 1] if k != kvstore.EMPTY]
        assert all(kvstore.key_home(k, p, buckets)[0] == rank for k in keys)
        assert all(t[i, 2] == 10 * t[i, 1] and t[i, 3] == -t[i, 2]
                   for i in range(buckets) if t[i, 1] >= 0)
        seen += keys
    assert sorted(seen) == list(range(n_keys))


@needs_mpi
def test_both_designs_keep_every_concurrent_update():
    res = kvstore.run(3, keys=60, ops=150, hot_keys=2, update_fraction=0.5)
    assert res["returncode"] == 0 and res["ok"], res["stdout"]
    by = {r["design"]: r for r in res["results"]}
    for r in by.values():
        assert r["lost"] == 0 and r["torn"] == 0
        assert r["lookups"] + r["updates"] == 3 * 150
        assert r["hot_updates"] == r["updates"]       # every update went to a shared key
    assert by["one-sided"]["owner_requests_served"] == 0
    assert by["rpc"]["owner_requests_served"] > 0
    assert res["threads_per_rank"] == mpiharness.thread_share(3).threads
    assert res["stdout"].rstrip().endswith("# #wrong 0: every update kept, no torn read")


@needs_mpi
def test_planted_corruption_fails_the_run():
    res = kvstore.run(2, keys=20, ops=20, inject_error=True)
    assert res["returncode"] == 1 and not res["ok"]
    assert res["results"][0]["lost"] >= 1 and "LOST OR TORN UPDATES" in res["stdout"]


@pytest.mark.parametrize("argv, name", [
    (["--keys", "0"], "--keys"), (["--ops", "x"], "--ops"),
    (["--update-fraction", "1.5"], "--update-fraction"), (["--designs", "magic"], "--designs"),
    (["--keys", "3", "--hot-keys", "5"], "--hot-keys")])
def test_bad_arguments_are_usage_errors(argv, name, capsys):
    with pytest.raises(SystemExit) as exc:
        kvstore.main(argv)
    assert exc.value.code == 2 and f"argument {name}" in capsys.readouterr().err


@pytest.mark.parametrize("kw, match", [({"n_ranks": 1}, "n_ranks"),
                                       ({"hot_keys": 5, "keys": 3}, "hot_keys"),
                                       ({"update_fraction": 2}, "update_fraction")])
def test_run_rejects_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        kvstore.run(**kw)


def test_table_layout_by_hand():
    """The nccl-tests-style layout, written out by hand: one column per figure, right-aligned
    to widths 10, 10, 12, 10, 12, 11, 15, 8, 5 and 5."""
    row = {"design": "rpc", "lookups_per_s": 1234.0, "lookup_median_us": 5.5,
           "updates_per_s": 99.0, "update_median_us": 7.5, "owner_requests_served": 10,
           "owner_serve_s": 0.00125, "retries": 3, "lost": 0, "torn": 0}
    assert mpiharness.table([row], kvstore.COLUMNS).splitlines() == [
        "    design  lookups/s  lookup (us)  updates/s  update (us)  owner reqs  owner CPU (ms)"
        "  retries  lost  torn",
        "       rpc       1234          5.5         99          7.5          10            1.25"
        "        3     0     0"]


def test_defaults_are_the_documented_command(monkeypatch):
    """The module docstring's command (mpiexec -n 3 ... --keys 1000 --ops 2000): run()'s
    defaults and the command line's agree with it."""
    command = re.search(r"mpiexec -n (\d+) python -m aichip.kvstore --keys (\d+) --ops (\d+)",
                        kvstore.__doc__)
    n_ranks, keys, ops = map(int, command.groups())
    defaults = {k: v.default for k, v in inspect.signature(kvstore.run).parameters.items()}
    assert (defaults["n_ranks"], defaults["keys"], defaults["ops"]) == (n_ranks, keys, ops)
    seen = []
    monkeypatch.setattr(kvstore, "run_main", lambda fn, args: seen.append(args) or 0)
    assert kvstore.main([]) == 0
    assert (seen[0].keys, seen[0].ops, seen[0].hot_keys) == (keys, ops, defaults["hot_keys"])
    assert seen[0].update_fraction == defaults["update_fraction"]


@needs_mpi
def test_a_store_of_one_key():
    """The edge case: one key, looked up and updated by both ranks (key 0 is a real key)."""
    res = kvstore.run(2, keys=1, ops=30, hot_keys=1, update_fraction=0.5)
    assert res["returncode"] == 0 and res["ok"], res["stdout"]
    assert all(r["lost"] == 0 and r["torn"] == 0 for r in res["results"])
