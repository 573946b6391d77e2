"""The memory hierarchy measured: load latency and read bandwidth against working-set size.

Two sweeps run the same working-set sizes through two numba kernels:

* **Latency** (:func:`latency_sweep`): pointer chasing. The working set is an int64 array holding a
  random cyclic permutation of its cache lines (64 bytes, one element used per line), so that each
  load's address is the value the previous load returned. The loads are dependent: the core cannot
  overlap them. The cycle walks the lines page by page (in random order within a page, the pages
  in random order) and the array sits on huge pages where the OS grants them, so that TLB misses
  do not add a fake level (see :func:`latency_sweep`). The time per load is the
  latency of the smallest level the whole working set fits in (once it no longer fits, a growing
  share of the loads misses to the next level, so the curve rises in steps with rounded corners).
* **Bandwidth** (:func:`bandwidth_sweep`): a single-threaded sum over a float64 array, repeated
  until enough bytes have moved to time; independent loads that the core vectorises and the
  prefetchers stream.

:func:`detect_cache_levels` reads the cache sizes off the latency curve: a level is a run of sizes
whose latencies stay within a factor ``rise`` of each other, ending where the latency leaves it.
``aichip.machine.cache_levels`` gives what the OS reports, to compare.

Sizes are in bytes with binary prefixes (1 KiB = 1024 B, as the OS reports caches); bandwidth in
GB/s (1e9 bytes/s), latency in ns.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit

from .source import marked_source
from .timing import time_call
from .validation import check_choice, check_float, check_int

__all__ = [
    "LINE_BYTES", "PAGE_BYTES", "HUGE_PAGE_BYTES", "default_sizes", "cyclic_chain", "latency_sweep",
    "bandwidth_sweep", "CacheLevel", "detect_cache_levels", "kernel_source",
]

LINE_BYTES = 64  # cache line of every x86-64 and most Arm cores
PAGE_BYTES = 4096  # the base page of x86-64 and of most Arm Linux systems
HUGE_PAGE_BYTES = 2 * 2**20  # an x86-64 / Arm64 transparent huge page
_INT64_PER_LINE = LINE_BYTES // 8


def default_sizes(min_bytes: int = 4 * 2**10, max_bytes: int = 64 * 2**20,
                  points_per_octave: int = 2) -> np.ndarray:
    """Working-set sizes from ``min_bytes`` to ``max_bytes``, ``points_per_octave`` per doubling,
    each rounded down to a whole number of cache lines."""
    min_bytes = check_int("min_bytes", min_bytes, minimum=2 * LINE_BYTES)
    max_bytes = check_int("max_bytes", max_bytes, minimum=min_bytes)
    points_per_octave = check_int("points_per_octave", points_per_octave, minimum=1, maximum=16)
    n = int(np.floor(np.log2(max_bytes / min_bytes) * points_per_octave)) + 1
    sizes = min_bytes * 2.0 ** (np.arange(n) / points_per_octave)
    return np.unique((sizes // LINE_BYTES).astype(np.int64) * LINE_BYTES)


def _check_sizes(sizes_bytes) -> np.ndarray:
    if sizes_bytes is None:
        return default_sizes()
    sizes = np.asarray(sizes_bytes)
    if sizes.ndim != 1 or sizes.size == 0 or not np.issubdtype(sizes.dtype, np.integer):
        raise TypeError("sizes_bytes must be a non-empty 1-D sequence of integers (bytes)")
    if (sizes < 2 * LINE_BYTES).any():
        raise ValueError(f"sizes_bytes must all be >= {2 * LINE_BYTES} (two cache lines), got "
                         f"{int(sizes.min())}")
    return sizes.astype(np.int64)


def cyclic_chain(n_lines: int, seed: int = 0, group_lines: int = PAGE_BYTES // LINE_BYTES,
                 passes: int = 2) -> np.ndarray:
    """An int64 array of ``n_lines * 8`` elements (``n_lines`` cache lines) whose first element of
    each line holds the index of the next line's first element, along one random cycle that visits
    every line once (so a chase from any line returns to it after exactly ``n_lines`` loads).

    The cycle is built from groups of ``group_lines`` consecutive lines (default: a 4 KiB page, 64
    lines) so that a chase needs a new page translation once per few tens of loads instead of at
    almost every load (see :func:`latency_sweep`). It makes ``passes`` passes over the groups; pass
    ``r`` visits, in a fresh random order of the groups, the lines whose index within their group
    is ``r`` modulo ``passes``, in random order, before it moves on to the next group. Two passes
    keep the two 64-byte halves of each 128-byte pair half a cycle apart: cores that fetch a
    line's neighbour along with it (the adjacent-line prefetch) would otherwise turn every
    second load into a hit one level up. ``group_lines=1`` (and ``passes=1``) gives a uniformly
    random cycle over all lines.
    """
    n_lines = check_int("n_lines", n_lines, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    group_lines = check_int("group_lines", group_lines, minimum=1)
    passes = check_int("passes", passes, minimum=1, maximum=group_lines)
    rng = np.random.default_rng(seed)
    n_groups = -(-n_lines // group_lines)
    lines = np.arange(n_lines)
    which_pass = lines % group_lines % passes
    group_rank = np.empty((passes, n_groups), dtype=np.int64)  # visiting order per pass
    for r in range(passes):
        group_rank[r, rng.permutation(n_groups)] = np.arange(n_groups)
    # sort by pass, then by the group's rank in that pass, then by a random key within the group
    order = np.lexsort((rng.random(n_lines), group_rank[which_pass, lines // group_lines],
                        which_pass))
    chain = np.zeros(n_lines * _INT64_PER_LINE, dtype=np.int64)
    chain[order * _INT64_PER_LINE] = np.roll(order, -1) * _INT64_PER_LINE
    return chain


def _huge_page_array(n_int64: int) -> tuple[np.ndarray, bool]:
    """A zeroed int64 array of ``n_int64`` elements in an anonymous memory map aligned to 2 MiB and
    marked ``MADV_HUGEPAGE``, so that Linux's transparent huge pages can back it with 2 MiB pages,
    and whether any of it is backed by huge pages (read from ``/proc/self/smaps``). Where
    ``madvise`` or huge pages are unavailable (other systems, THP disabled) it is an ordinary
    array of 4 KiB pages, and the flag is False."""
    import mmap

    n_bytes = n_int64 * 8
    span = -(-n_bytes // HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES
    private = getattr(mmap, "MAP_PRIVATE", None)  # THP backs private anonymous maps, not shared
    if private is None:  # Windows: no mmap flags, no THP
        return np.zeros(n_int64, dtype=np.int64), False
    try:
        region = mmap.mmap(-1, span + HUGE_PAGE_BYTES,
                           flags=private | getattr(mmap, "MAP_ANONYMOUS", 0))
    except (OSError, ValueError, TypeError):
        return np.zeros(n_int64, dtype=np.int64), False
    raw = np.frombuffer(region, dtype=np.uint8)
    offset = -raw.ctypes.data % HUGE_PAGE_BYTES  # first 2 MiB boundary inside the map
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is not None:
        try:
            region.madvise(advice, offset, span)
        except (OSError, ValueError):
            advice = None
    arr = np.frombuffer(region, dtype=np.int64, count=n_int64, offset=offset)
    arr[:] = 0  # touch every page now, so the kernel backs it (with huge pages if it can)
    return arr, advice is not None and _anon_huge_kib(arr.ctypes.data) > 0


def _anon_huge_kib(address: int) -> int:
    """``AnonHugePages`` (KiB) of the mapping in ``/proc/self/smaps`` that holds ``address``;
    0 when the file or the mapping is not there."""
    try:
        with open("/proc/self/smaps") as f:
            inside = False
            for line in f:
                head = line.split()[0] if line.strip() else ""
                if "-" in head and ":" not in head:
                    lo, hi = (int(x, 16) for x in head.split("-"))
                    inside = lo <= address < hi
                elif inside and head == "AnonHugePages:":
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


@njit(cache=True)
def _chase_kernel(chain, start, n_loads):
    # magictoken: chase-begin
    i = start
    for _ in range(n_loads):
        i = chain[i]  # the next address is the value just loaded: no two loads overlap
    # magictoken: chase-end
    return i


@njit(cache=True, fastmath=True)
def _read_kernel(x, passes):
    # magictoken: read-begin
    total = 0.0
    for _ in range(passes):
        for i in range(x.shape[0]):
            total += x[i]  # independent loads; fastmath lets LLVM vectorise the sum
    # magictoken: read-end
    return total


def _chain(n_lines: int, seed: int, group_lines: int, passes: int, huge_pages: bool):
    """(the pointer-chase chain over ``n_lines`` lines, whether 2 MiB pages back it)."""
    if not huge_pages:
        return cyclic_chain(n_lines, seed, group_lines, passes), False
    chain, on_huge = _huge_page_array(n_lines * _INT64_PER_LINE)
    chain[:] = cyclic_chain(n_lines, seed, group_lines, passes)
    return chain, on_huge


def latency_sweep(sizes_bytes=None, repeats: int = 3, loads: int = 200_000,
                  seed: int = 0, huge_pages: bool = True,
                  group_lines: int = PAGE_BYTES // LINE_BYTES, passes: int = 2,
                  rounds: int = 3) -> pd.DataFrame:
    """Average latency of a dependent load (ns) for each working-set size, by pointer chasing.

    **Noise.** Another program can only slow a chase down, and on a shared machine it does so for
    a while: a burst of its work inflates every chase timed during it, so the back-to-back
    ``repeats`` of one size are all hit alike, and so are neighbouring sizes. One such burst cut
    an L2 plateau short at 362 KiB of 1 MiB on this book's 2-core VM. So the sweep makes
    ``rounds`` passes over all the sizes, in alternating order (small to large, large to small,
    ...), each a second or so apart, and keeps each size's best chase over all of them: a size is
    wrong only if every round of it was disturbed. With the harsh load of three streaming
    writers on the 2 cores, single passes put L1 or L2 more than 2x off in 6 of 125 sweeps,
    the best of 3 rounds in none of 25 (worst factor 1.41). The chains are built once and
    kept for all rounds (building them takes most of a round's time): about 220 MiB for the
    default sizes.

    **TLB reach.** Every load needs its virtual page translated to a physical one. The core caches
    recent translations in its TLBs (translation lookaside buffers): a first level of some tens of
    entries and a second of a few thousand. The *reach* of a TLB is its entries times the page size:
    64 entries of 4 KiB pages cover only 256 KiB. A uniformly random chase over a working set
    larger than that reach misses the TLB on almost every load, and each miss adds a page walk to
    the load's latency. That extra latency starts at the TLB's reach, not at a cache's size, so
    the curve shows a step there that looks like a cache level (on the machine this was written
    on, a 4 KiB-page random chase rose from about 350 KiB, inside the 1 MiB L2, and the detector
    once reported 362 KiB for L2). Two defences, both on by default:

    * the chase visits the lines of one group (``group_lines`` lines, a 4 KiB page) in random
      order before it jumps to a random next group (:func:`cyclic_chain`, in ``passes`` passes),
      so a translation is needed once per 32 loads instead of once per load;
    * the chain lives in memory marked for transparent huge pages (``huge_pages=True``:
      a private anonymous ``mmap`` + ``madvise(MADV_HUGEPAGE)``), so where Linux grants them one
      TLB entry covers 2 MiB and the reach grows 512-fold. Where it does not (THP disabled,
      another OS), the sweep falls back to ordinary pages; the returned frame's
      ``attrs["huge_pages"]`` says, for each size, whether huge pages backed it. In a virtual
      machine whose host backs the guest with 4 KiB pages the TLB still caches 4 KiB
      translations, which is why the grouping is needed too.

    The price of the grouping: the prefetchers see many loads land in one page and fetch some of
    its other lines ahead, so beyond L1 the latencies come out lower than a uniformly random
    chase's (on the machine above, about 45 ns instead of 100 to 150 ns from DRAM). The *sizes*
    at which the latency steps up, which :func:`detect_cache_levels` reads, stay where the caches
    end. For honest latencies (and to see the TLB's fake level) run
    ``latency_sweep(group_lines=1, passes=1, huge_pages=False)``.

    Parameters
    ----------
    sizes_bytes : sequence of int, optional
        Working sets in bytes (each at least two cache lines); default :func:`default_sizes`
        (4 KiB to 64 MiB, two points per doubling).
    repeats : int, >= 1
        Timed chases per size and round, after one warm-up chase; the best is kept.
    loads : int, >= 1000
        Dependent loads per chase.
    seed : int
        Seed of the random cycle.
    huge_pages : bool
        Back each chain with transparent huge pages where the OS allows (see above).
    group_lines : int, >= 1
        Lines visited together before the chase jumps elsewhere (1: a uniformly random cycle).
    passes : int, in [1, group_lines]
        Passes of the cycle over the groups (:func:`cyclic_chain`).
    rounds : int, >= 1
        Passes over all the sizes (see Noise above); 1 times each size once, right after its
        chain is built, holding one chain at a time.

    Returns
    -------
    pandas.DataFrame
        Columns ``working_set_bytes`` and ``latency_ns`` (best time per load over all rounds).
        ``attrs["huge_pages"]`` says per size whether huge pages backed its chain,
        ``attrs["round_ns"]`` holds each round's best per size (a list of rounds, each a list
        over the sizes, ns).
    """
    sizes = _check_sizes(sizes_bytes)
    repeats = check_int("repeats", repeats, minimum=1)
    loads = check_int("loads", loads, minimum=1000)
    seed = check_int("seed", seed, minimum=0)
    if not isinstance(huge_pages, (bool, np.bool_)):
        raise TypeError(f"huge_pages must be True or False, got {type(huge_pages).__name__}")
    group_lines = check_int("group_lines", group_lines, minimum=1)
    passes = check_int("passes", passes, minimum=1, maximum=group_lines)
    rounds = check_int("rounds", rounds, minimum=1)
    lines = sizes // LINE_BYTES
    round_ns = np.full((rounds, len(sizes)), np.nan)
    chains, backed = [None] * len(sizes), []

    def chase(i, r):  # the best of `repeats` chases of size i, in round r (ns per load)
        best = time_call(functools.partial(_chase_kernel, chains[i], 0, loads), repeats).best_s
        round_ns[r, i] = best / loads * 1e9

    for i, n_lines in enumerate(lines):   # round 0: each chain timed as soon as it is built
        chains[i], on_huge = _chain(int(n_lines), seed, group_lines, passes, huge_pages)
        backed.append(on_huge)
        chase(i, 0)
        if rounds == 1:
            chains[i] = None  # no later round needs it
    for r in range(1, rounds):           # the other rounds: large to small, small to large, ...
        for i in (range(len(sizes) - 1, -1, -1) if r % 2 else range(len(sizes))):
            chase(i, r)
    out = pd.DataFrame({"working_set_bytes": lines * LINE_BYTES,
                        "latency_ns": round_ns.min(axis=0)})
    out.attrs["huge_pages"] = backed  # per size: was the chain backed by 2 MiB pages?
    out.attrs["round_ns"] = round_ns.tolist()  # lists: pandas compares attrs when it concats
    return out


def bandwidth_sweep(sizes_bytes=None, repeats: int = 3, bytes_per_timing: int = 64 * 2**20
                    ) -> pd.DataFrame:
    """Single-thread read bandwidth (GB/s) for each working-set size.

    Parameters
    ----------
    sizes_bytes : sequence of int, optional
        Working sets in bytes; default :func:`default_sizes`.
    repeats : int, >= 1
        Timed runs per size after one warm-up run; the best is kept.
    bytes_per_timing : int, >= 1 MiB
        About how many bytes one timed run reads (small working sets are summed over many passes).

    Returns
    -------
    pandas.DataFrame
        Columns ``working_set_bytes`` and ``read_GBps``.

    Raises
    ------
    ValueError
        If the kernel's sum differs from NumPy's (the bandwidth would be meaningless).
    """
    sizes = _check_sizes(sizes_bytes)
    repeats = check_int("repeats", repeats, minimum=1)
    bytes_per_timing = check_int("bytes_per_timing", bytes_per_timing, minimum=2**20)
    rows = []
    for size in sizes:
        x = np.ones(int(size) // 8)
        passes = max(1, bytes_per_timing // (x.size * 8))
        if _read_kernel(x, passes) != passes * x.size:  # exact: sums of ones below 2**53
            raise ValueError(f"read kernel returned a wrong sum at {size} bytes")
        best = time_call(functools.partial(_read_kernel, x, passes), repeats).best_s
        rows.append((x.size * 8, passes * x.size * 8 / best / 1e9))
    return pd.DataFrame(rows, columns=["working_set_bytes", "read_GBps"])


class CacheLevel(NamedTuple):
    """A level read off a latency sweep: the largest working set that still ran at this level's
    latency (``size_bytes``) and that latency (``latency_ns``, the median over the level's
    plateau)."""

    level: int
    size_bytes: int
    latency_ns: float


def detect_cache_levels(sweep: pd.DataFrame | None = None, rise: float = 1.3,
                        min_points: int = 3, max_levels: int = 3) -> list[CacheLevel]:
    """Cache levels read off a latency sweep, smallest first.

    Walking up in size, the points form plateaus: a point belongs to the current plateau while its
    latency is at most ``rise`` times the plateau's lowest latency so far; a higher point starts a
    new plateau, unless the point after it is back within the plateau (an isolated spike: a chase
    that another program disturbed, which is skipped). A plateau of at least ``min_points`` sizes
    is a level, ending at its largest size; shorter ones are the rounded corners between levels
    (where part of the working set still fits) or noise, and are dropped. The last plateau (main
    memory) is not a cache and is not returned, nor is any level after ``max_levels``. A plateau
    that begins after a step takes its floor from its second size on, not its first: the first
    size past a level often lies on the rounded corner, part of it still in the level below, and
    as the floor it would shrink the tolerance for the rest of the plateau (a corner point at
    2.56 ns before an L2 at 2.9-3.2 ns ended that L2 at 362 KiB of 1 MiB in a disturbed sweep).

    Other programs only ever slow a chase down, so each size's best time (``latency_sweep``'s
    ``repeats``) and the median over several sweeps are robust; a spike that survives both is
    one size wide, which the rule above skips.

    Parameters
    ----------
    sweep : DataFrame with ``working_set_bytes`` and ``latency_ns``, or a list of them, optional
        From :func:`latency_sweep`; several sweeps of the same sizes are combined by the median
        latency of each size. Default runs one (4 KiB to 64 MiB, under 30 s on 2 cores).
    rise : float, > 1
        Latency ratio that counts as leaving a level. 1.3: the page-grouped chase of
        :func:`latency_sweep` lets the prefetchers hide part of L2's latency, so its L1 -> L2 step
        is small (2.17 -> 3.14 ns, 1.45x, on the AMD EPYC VM of this book's runs, where 1.5 merged
        L1 into L2), while a point's noise on a loaded machine stays within a few percent of its
        level's best.
    min_points : int, >= 1
        Sizes a plateau needs to count as a level.
    max_levels : int, >= 1

    Returns
    -------
    list of CacheLevel
    """
    if sweep is None:
        sweep = latency_sweep()
    sweeps = list(sweep) if isinstance(sweep, (list, tuple)) else [sweep]
    if not sweeps or not all(isinstance(s, pd.DataFrame) and {"working_set_bytes", "latency_ns"}
                             <= set(s.columns) for s in sweeps):
        raise TypeError("sweep must be a DataFrame with columns working_set_bytes and latency_ns "
                        "(from latency_sweep), or a list of them")
    sweep = pd.concat(sweeps).groupby("working_set_bytes", as_index=False)["latency_ns"].median()
    rise = check_float("rise", rise, minimum=1.0, strict_minimum=True)
    min_points = check_int("min_points", min_points, minimum=1)
    max_levels = check_int("max_levels", max_levels, minimum=1)
    data = sweep.sort_values("working_set_bytes")
    sizes = data["working_set_bytes"].to_numpy()
    lat = data["latency_ns"].to_numpy(dtype=float)
    if len(lat) < 2:
        raise ValueError(f"sweep must have at least 2 sizes, got {len(lat)}")
    levels = []
    start, floor = 0, lat[0]  # first index and lowest latency of the current plateau
    for i in range(1, len(lat)):
        if lat[i] <= rise * floor:
            # after a step the plateau's first size may be a corner point: the second sets the floor
            floor = lat[i] if start and i == start + 1 else min(floor, lat[i])
            continue
        if i + 1 < len(lat) and lat[i + 1] <= rise * floor:
            continue  # an isolated spike: the next size is back on the plateau
        if i - start >= min_points:
            levels.append(CacheLevel(len(levels) + 1, int(sizes[i - 1]),
                                     float(np.median(lat[start:i]))))
            if len(levels) == max_levels:
                break
        start, floor = i, lat[i]
    return levels


def kernel_source(part: str) -> str:
    """Source lines of a kernel between its ``# magictoken: <part>-begin`` and ``-end`` markers,
    dedented, for a chapter to show; ``part`` one of ("chase", "read")."""
    kernels = {"chase": _chase_kernel, "read": _read_kernel}
    check_choice("part", part, tuple(kernels))
    return marked_source(kernels[part], part)
