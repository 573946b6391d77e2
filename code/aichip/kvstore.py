"""A one-sided key-value store in the spirit of Pilaf, FaRM and DrTM, on MPI RMA windows.

Run it with 2 or more ranks::

    mpiexec -n 3 python -m aichip.kvstore --keys 1000 --ops 2000

**Layout.** A hash table of ``buckets`` buckets per rank, each bucket four int64 words
``[version, key, value, check]`` in the owner's window (``MPI.Win.Allocate``). Key ``k`` hashes to
``h = (k * 2654435761) mod 2**32`` (Knuth's multiplicative hash); its owner is ``h mod p`` and its
first bucket ``(h // p) mod buckets``, with linear probing. ``check`` is always ``-value``, so a
reader that sees ``value`` and ``check`` from two different writes (a **torn** read) can tell.

**One-sided design.** A lookup reads the bucket with ``Get_accumulate(NO_OP)`` (element-wise
atomic in MPI) and no work by the owner's CPU; it is valid when the version is even and did not
change while it read (a seqlock: read the version again after the words). An update takes the
bucket's lock with ``Compare_and_swap(version -> version + 1)`` (odd = locked), reads the value,
writes ``value + delta`` and ``-(value + delta)`` with ``Accumulate(REPLACE)`` and releases the
lock by ``Fetch_and_op(SUM, 1)``. Every operation is flushed before the next.

**RPC design.** The same table, but lookups and updates are messages to the owner, whose CPU looks
the key up and answers (``send``/``recv``); a rank serves requests while it waits for its own
answers. Updates need no lock: the owner applies them one at a time.

Every rank does ``--ops`` operations per design, a fraction ``--update-fraction`` of them increments
of one of ``--hot-keys`` keys that all ranks update at once, the rest lookups of random keys. At the
end the table is checked against the initial values plus the sum of every rank's increments (a
**lost update** is a mismatch), and every lookup's value against its check word. Exit status 1 if
any update is lost or any read torn. The launcher, the thread policy, the header, the table, the
``#wrong`` footer (lost plus torn) and ``--json`` are :mod:`aichip.mpiharness`'s.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from . import cli
from .mpiharness import (
    Column,
    add_output_arguments,
    check_launch,
    finish,
    flags,
    header,
    header_line,
    launch,
    run_main,
    table,
)
from .validation import check_float, check_int

__all__ = ["WORDS", "EMPTY", "TAG_REQ", "TAG_REP", "TAG_DONE", "LOOKUP", "UPDATE", "COLUMNS",
           "key_home", "initial_value", "build_local_table", "run_design", "main", "run"]

WORDS = 4                     # version, key, value, check
EMPTY = -1
TAG_REQ, TAG_REP, TAG_DONE = 11, 12, 13
LOOKUP, UPDATE = 0, 1


def key_home(key: int, n_ranks: int, buckets: int) -> tuple[int, int]:
    """``(owner rank, first bucket)`` of ``key`` (multiplicative hash, see the module docstring)."""
    h = (int(key) * 2654435761) % 2**32
    return h % n_ranks, (h // n_ranks) % buckets


def initial_value(key: int) -> int:
    return 10 * int(key)


def build_local_table(rank: int, n_ranks: int, n_keys: int, buckets: int) -> np.ndarray:
    """This rank's part of the table with every key it owns inserted (linear probing)."""
    table = np.full((buckets, WORDS), 0, dtype=np.int64)
    table[:, 1] = EMPTY
    for k in range(n_keys):
        owner, b = key_home(k, n_ranks, buckets)
        if owner != rank:
            continue
        for probe in range(buckets):
            slot = (b + probe) % buckets
            if table[slot, 1] == EMPTY:
                table[slot] = (0, k, initial_value(k), -initial_value(k))
                break
        else:
            raise ValueError("buckets: table full; give more buckets than keys per rank")
    return table


def _workload(rank, n_keys, n_ops, hot_keys, update_fraction, seed):
    rng = np.random.default_rng([seed, rank])
    is_update = rng.random(n_ops) < update_fraction
    keys = np.where(is_update, rng.integers(0, hot_keys, n_ops), rng.integers(0, n_keys, n_ops))
    return is_update, keys


class _OneSided:
    """The one-sided client: ``win`` is the table's window, ``mpi`` the MPI module (mpi4py's by
    default; the tests pass a stand-in with a window they can interleave writes into)."""

    def __init__(self, win, n_ranks, buckets, mpi=None):
        if mpi is None:
            from mpi4py import MPI as mpi
        self.MPI, self.win, self.p, self.buckets = mpi, win, n_ranks, buckets
        self.one = np.ones(1, np.int64)
        self.buf = np.zeros(WORDS, np.int64)
        self.retries = 0

    def _get(self, owner, slot, n=WORDS, word=0):
        out = np.zeros(n, np.int64)
        I64 = self.MPI.INT64_T
        self.win.Get_accumulate([np.zeros(n, np.int64), I64], [out, I64], owner,
                                target=(slot * WORDS + word, n, I64), op=self.MPI.NO_OP)
        self.win.Flush(owner)
        return out

    def _find(self, key):
        owner, b = key_home(key, self.p, self.buckets)
        for probe in range(self.buckets):
            slot = (b + probe) % self.buckets
            words = self._get(owner, slot)
            if words[1] == key:
                return owner, slot, words
            if words[1] == EMPTY:
                break
        raise KeyError(key)

    def lookup(self, key):
        while True:
            owner, slot, w = self._find(key)
            if w[0] % 2 == 0 and self._get(owner, slot, 1)[0] == w[0]:
                return int(w[2]), int(w[3])
            self.retries += 1

    def update(self, key, delta):
        owner, slot, w = self._find(key)
        MPI, res = self.MPI, np.zeros(1, np.int64)
        while True:
            v = self._get(owner, slot, 1)[0]
            if v % 2 == 0:
                self.win.Compare_and_swap([np.array([v + 1], np.int64), MPI.INT64_T],
                                          [np.array([v], np.int64), MPI.INT64_T],
                                          [res, MPI.INT64_T], owner, target_disp=slot * WORDS)
                self.win.Flush(owner)
                if res[0] == v:
                    break
            self.retries += 1
        value = self._get(owner, slot, 1, word=2)[0] + delta
        self.win.Accumulate([np.array([value, -value], np.int64), MPI.INT64_T], owner,
                            target=(slot * WORDS + 2, 2, MPI.INT64_T), op=MPI.REPLACE)
        self.win.Flush(owner)
        self.win.Fetch_and_op([self.one, MPI.INT64_T], [res, MPI.INT64_T], owner,
                              target_disp=slot * WORDS, op=MPI.SUM)
        self.win.Flush(owner)


class _Rpc:
    """Send/receive design: every rank is a client and the server of its own buckets."""

    def __init__(self, comm, table, buckets):
        self.comm, self.table, self.buckets, self.p = comm, table, buckets, comm.size
        self.served, self.serve_s, self.done_from = 0, 0.0, 0
        self.req = np.zeros(3, np.int64)

    def _local(self, key):
        _, b = key_home(key, self.p, self.buckets)
        for probe in range(self.buckets):
            slot = (b + probe) % self.buckets
            if self.table[slot, 1] == key:
                return slot
        raise KeyError(key)

    def serve(self):
        from mpi4py import MPI
        st = MPI.Status()
        while self.comm.Iprobe(MPI.ANY_SOURCE, MPI.ANY_TAG, st):
            t0 = time.perf_counter()
            src, tag = st.Get_source(), st.Get_tag()
            self.comm.Recv(self.req, src, tag)
            if tag == TAG_DONE:
                self.done_from += 1
                continue
            kind, key, delta = self.req
            slot = self._local(int(key))
            if kind == UPDATE:
                self.table[slot, 2] += delta
                self.table[slot, 3] = -self.table[slot, 2]
            self.comm.Send(self.table[slot, 2:4].copy(), src, TAG_REP)
            self.served += 1
            self.serve_s += time.perf_counter() - t0

    def call(self, kind, key, delta=0):
        owner, _ = key_home(key, self.p, self.buckets)
        if owner == self.comm.rank:           # local: no message, same work
            slot = self._local(key)
            if kind == UPDATE:
                self.table[slot, 2] += delta
                self.table[slot, 3] = -self.table[slot, 2]
            return int(self.table[slot, 2]), int(self.table[slot, 3])
        rep = np.zeros(2, np.int64)
        self.comm.Send(np.array([kind, key, delta], np.int64), owner, TAG_REQ)
        r = self.comm.Irecv(rep, owner, TAG_REP)
        while not r.Test():
            self.serve()
        return int(rep[0]), int(rep[1])

    def finish(self):
        for other in range(self.p):
            if other != self.comm.rank:
                self.comm.Send(np.zeros(3, np.int64), other, TAG_DONE)
        while self.done_from < self.p - 1:
            self.serve()


def run_design(comm, design, n_keys, n_ops, buckets, hot_keys, update_fraction, seed,
               corrupt=False) -> dict:
    """Run one design on every rank; returns (on every rank) the merged statistics."""
    from mpi4py import MPI
    p, rank = comm.size, comm.rank
    table = build_local_table(rank, p, n_keys, buckets)
    is_update, keys = _workload(rank, n_keys, n_ops, hot_keys, update_fraction, seed)
    win = MPI.Win.Allocate(table.nbytes, disp_unit=8, comm=comm)
    local = np.frombuffer(win.tomemory(), dtype=np.int64).reshape(buckets, WORDS)
    local[:] = table
    comm.Barrier()
    lat, torn = {LOOKUP: [], UPDATE: []}, 0
    added = np.zeros(n_keys, np.int64)
    if design == "one-sided":
        win.Lock_all()
        kv = _OneSided(win, p, buckets)
    else:
        kv = _Rpc(comm, local, buckets)
    comm.Barrier()
    t_start = time.perf_counter()
    for upd, key in zip(is_update, keys, strict=True):
        t0 = time.perf_counter()
        if design == "one-sided":
            if upd:
                kv.update(int(key), 1)
            else:
                v, c = kv.lookup(int(key))
                torn += int(v != -c)
        else:
            v, c = kv.call(UPDATE if upd else LOOKUP, int(key), 1)
            torn += int(v != -c)
        lat[UPDATE if upd else LOOKUP].append(time.perf_counter() - t0)
        if upd:
            added[key] += 1
    if design == "one-sided":
        win.Unlock_all()
        served, serve_s = 0, 0.0
    else:
        kv.finish()
        served, serve_s = kv.served, kv.serve_s
    elapsed = time.perf_counter() - t_start
    comm.Barrier()
    # verification: every key's final value = initial + all ranks' increments
    total_added = np.zeros_like(added)
    comm.Allreduce(added, total_added)
    if corrupt and rank == 0:
        local[0, 2] += 1
    lost = 0
    for slot in range(buckets):
        k = int(local[slot, 1])
        if k != EMPTY:
            lost += int(local[slot, 2] != initial_value(k) + total_added[k]) \
                + int(local[slot, 3] != -local[slot, 2])
    win.Free()
    gather = comm.allgather({"lookup_s": lat[LOOKUP], "update_s": lat[UPDATE], "torn": torn,
                             "lost": lost, "served": served, "serve_s": serve_s,
                             "elapsed_s": elapsed, "retries": getattr(kv, "retries", 0)})
    looks = [t for g in gather for t in g["lookup_s"]]
    upds = [t for g in gather for t in g["update_s"]]
    wall = max(g["elapsed_s"] for g in gather)
    return {"design": design, "n_ranks": p, "lookups": len(looks), "updates": len(upds),
            "lookups_per_s": len(looks) / wall, "updates_per_s": len(upds) / wall,
            "lookup_median_us": statistics.median(looks) * 1e6 if looks else float("nan"),
            "update_median_us": statistics.median(upds) * 1e6 if upds else float("nan"),
            "owner_requests_served": sum(g["served"] for g in gather),
            "owner_serve_s": sum(g["serve_s"] for g in gather),
            "retries": sum(g["retries"] for g in gather),
            "torn": sum(g["torn"] for g in gather), "lost": sum(g["lost"] for g in gather),
            "hot_updates": int(total_added.sum()), "elapsed_s": wall}


#: the table's columns, one row per design
COLUMNS = (Column("design", 10, "design"), Column("lookups/s", 10, "lookups_per_s", ".0f"),
           Column("lookup (us)", 12, "lookup_median_us", ".1f"),
           Column("updates/s", 10, "updates_per_s", ".0f"),
           Column("update (us)", 12, "update_median_us", ".1f"),
           Column("owner reqs", 11, "owner_requests_served", "d"),
           Column("owner CPU (ms)", 15, lambda r: r["owner_serve_s"] * 1e3, ".2f"),
           Column("retries", 8, "retries", "d"), Column("lost", 5, "lost", "d"),
           Column("torn", 5, "torn", "d"))


def main(argv=None) -> int:
    """Entry point of ``python -m aichip.kvstore`` (every rank runs it)."""
    p = cli.parser("python -m aichip.kvstore", __doc__.split("\n\n")[0])
    p.add_argument("--keys", type=cli.int_at_least(1), default=1000)
    p.add_argument("--ops", type=cli.int_at_least(1), default=2000,
                   help="operations per rank and design")
    p.add_argument("--hot-keys", type=cli.int_at_least(1), default=4,
                   help="number of keys that every rank updates")
    p.add_argument("--update-fraction", type=cli.fraction, default=0.2)
    p.add_argument("--designs", type=cli.comma_list(("one-sided", "rpc")),
                   default=["one-sided", "rpc"])
    p.add_argument("--seed", type=cli.int_at_least(0), default=0)
    add_output_arguments(p, "corrupt one stored value")
    args = cli.parse(p, argv, checks=[
        ("--hot-keys", lambda a: a.hot_keys <= a.keys, "must not exceed --keys")])
    return run_main(_run_designs, args)


def _run_designs(comm, args, share) -> int:
    """Every design of ``--designs`` in turn, with the harness's report."""
    buckets = 2 * (-(-args.keys // comm.size)) + 8        # load factor about one half
    results = [run_design(comm, d, args.keys, args.ops, buckets, args.hot_keys,
                          args.update_fraction, args.seed, args.inject_error)
               for d in args.designs]
    info = header(comm, share)
    if comm.rank == 0:
        print(header_line(info))
        print(f"# key-value store: {comm.size} ranks, {args.keys} keys, {args.ops} ops per rank, "
              f"{args.update_fraction:.0%} updates of {args.hot_keys} shared keys")
        print(table(results, COLUMNS))
    wrong = sum(r["lost"] + r["torn"] for r in results)
    return finish(comm, {**info, "results": results}, args.json, wrong,
                  good="every update kept, no torn read", bad="LOST OR TORN UPDATES")


def run(n_ranks: int = 3, keys: int = 1000, ops: int = 2000, hot_keys: int = 4,
        update_fraction: float = 0.2, inject_error: bool = False, timeout_s: float = 180.0) -> dict:
    """Launch the store with ``n_ranks`` processes; return its JSON plus ``stdout`` and
    ``returncode``."""
    n_ranks, timeout_s = check_launch(n_ranks, timeout_s, minimum=2, maximum=64)
    keys = check_int("keys", keys, minimum=1)
    args = flags(keys=keys, ops=check_int("ops", ops, minimum=1),
                 hot_keys=check_int("hot_keys", hot_keys, minimum=1, maximum=keys),
                 update_fraction=check_float("update_fraction", update_fraction, minimum=0,
                                             maximum=1),
                 inject_error=inject_error)
    return launch("aichip.kvstore", n_ranks, args, timeout_s=timeout_s)

if __name__ == "__main__":
    sys.exit(main())
