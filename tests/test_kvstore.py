"""The one-sided key-value store on 3 real processes: concurrent updates of shared keys, no update
lost and no read torn in either design, the owner's CPU idle in the one-sided design, a planted
corruption caught (in the harness's footer and exit status), bad arguments rejected by name. Only
the real runs need mpi4py."""

import importlib.util
import inspect
import re

import numpy as np
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


# The seqlock, step by step. The two-rank runs cannot make a read overlap a write on cue, so the
# one-sided client runs here against a window in this process (one owner, p = 1), whose `writer`
# finishes a write that was in progress after a chosen number of reads: the interleaving is fixed.
class _Window:
    """Stand-in for an MPI window over one owner's table; ``after_get(n)`` runs after the n-th
    read, as another rank's write would land between two of this rank's reads."""

    def __init__(self, table, after_get):
        self.mem, self.gets, self.after_get = table.reshape(-1), 0, after_get

    def Get_accumulate(self, origin, result, owner, target, op):
        disp, n, _ = target
        result[0][:] = self.mem[disp:disp + n]
        self.gets += 1
        self.after_get(self.gets)

    def Flush(self, owner):
        pass

    def Compare_and_swap(self, origin, compare, result, owner, target_disp):
        result[0][0] = self.mem[target_disp]
        if self.mem[target_disp] == compare[0][0]:
            self.mem[target_disp] = origin[0][0]

    def Accumulate(self, origin, owner, target, op):
        disp, n, _ = target
        self.mem[disp:disp + n] = origin[0]

    def Fetch_and_op(self, origin, result, owner, target_disp, op):
        result[0][0] = self.mem[target_disp]
        self.mem[target_disp] += origin[0][0]


MPI_STANDIN = type("MPI", (), {"INT64_T": "int64", "NO_OP": "no_op", "REPLACE": "replace",
                               "SUM": "sum"})
KEY, BUCKETS = 7, 16


def _half_written_table():
    """Key 7's bucket as another rank leaves it mid-update: locked (version 1), the new value 75
    written and its check word still the old value's (a torn pair)."""
    table = kvstore.build_local_table(0, 1, 10, BUCKETS)
    slot = int(np.flatnonzero(table[:, 1] == KEY)[0])
    table[slot] = (1, KEY, 75, -70)
    return table, slot


def _finish_write(table, slot, at_get):
    def after_get(n):
        if n == at_get:
            table[slot, 3] = -75      # the writer's check word lands ...
            table[slot, 0] += 1       # ... and its Fetch_and_op releases the lock (version 2)
    return after_get


def test_a_lookup_retries_until_the_version_is_even_and_unchanged():
    table, slot = _half_written_table()
    client = kvstore._OneSided(_Window(table, _finish_write(table, slot, at_get=2)), 1, BUCKETS,
                               mpi=MPI_STANDIN)
    # Read 1: version 1 (odd, locked): retry. Read 2: still 1 (the write lands after it): retry.
    # Read 3: version 2, words (75, -75); read 4: version still 2: valid.
    assert client.lookup(KEY) == (75, -75)
    assert client.retries == 2
    # Accepting an odd version would have returned the torn pair (75, -70) at the second read.


def test_an_update_waits_for_the_lock_and_keeps_the_other_write():
    table, slot = _half_written_table()
    client = kvstore._OneSided(_Window(table, _finish_write(table, slot, at_get=2)), 1, BUCKETS,
                               mpi=MPI_STANDIN)
    # Read 1 finds the bucket; read 2 sees version 1 (locked): one retry; the lock is released
    # after it, so read 3 sees version 2, the swap to 3 succeeds, and the release makes it 4.
    client.update(KEY, 5)
    assert table[slot].tolist() == [4, KEY, 80, -80]
    assert client.retries == 1
