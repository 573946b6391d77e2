"""Tests of the memory-hierarchy sweeps and the cache-level detection."""

import numba
import numpy as np
import pandas as pd
import pytest

from aichip import machine, memory, timing


def test_cyclic_chain_is_one_cycle():
    chain = memory.cyclic_chain(1000, seed=3)
    i, seen = 0, set()
    for _ in range(1000):
        seen.add(i)
        i = chain[i]
    assert i == 0 and len(seen) == 1000 and all(x % 8 == 0 for x in seen)


def _follow(chain, n_lines):
    # walk the chain from line 0 in plain Python; return the lines visited, in order
    i, order = 0, []
    for _ in range(n_lines):
        order.append(i // 8)
        i = int(chain[i])
    return order, i


@pytest.mark.parametrize("n_lines, group_lines, passes", [
    (1, 64, 1), (2, 64, 2), (97, 8, 3), (1000, 64, 2), (4096, 64, 2), (333, 1, 1), (130, 64, 64)])
def test_grouped_chain_is_one_cycle_over_every_line(n_lines, group_lines, passes):
    chain = memory.cyclic_chain(n_lines, seed=7, group_lines=group_lines, passes=passes)
    assert chain.shape == (n_lines * 8,)
    order, back = _follow(chain, n_lines)
    assert back == 0 and sorted(order) == list(range(n_lines))  # every line once, then home
    # only the first element of each line is used: the other seven stay zero
    assert not chain.reshape(n_lines, 8)[:, 1:].any()


@pytest.mark.parametrize("n_lines, group_lines, passes", [(1000, 64, 2), (97, 8, 3), (640, 64, 1)])
def test_grouped_chain_finishes_a_group_before_the_next(n_lines, group_lines, passes):
    # along the cycle, the lines of one (pass, group) pair, group = line // group_lines and
    # pass = (line mod group_lines) mod passes, form one unbroken run: the number of runs equals
    # the number of distinct pairs (counted cyclically: the cycle starts mid-run)
    chain = memory.cyclic_chain(n_lines, seed=11, group_lines=group_lines, passes=passes)
    order, _ = _follow(chain, n_lines)
    keys = [((ln % group_lines) % passes, ln // group_lines) for ln in order]
    changes = sum(keys[t] != keys[t - 1] for t in range(n_lines))  # t = 0 compares with the last
    assert changes == len(set(keys))
    # and the passes come one after the other: the pass changes exactly `passes` times (cyclic)
    pass_changes = sum(keys[t][0] != keys[t - 1][0] for t in range(n_lines))
    assert pass_changes == (passes if passes > 1 else 0)


def test_huge_page_array_is_a_zeroed_writable_int64_array():
    arr, huge = memory._huge_page_array(3 * 2**18 + 5)
    assert arr.dtype == np.int64 and arr.shape == (3 * 2**18 + 5,) and not arr.any()
    arr[:] = 7
    assert (arr == 7).all() and isinstance(huge, bool)


def test_sweep_reports_huge_pages_per_size():
    lat = memory.latency_sweep([4096, 2**20], repeats=1, loads=2000, huge_pages=False)
    assert lat.attrs["huge_pages"] == [False, False]


def test_chase_kernel_ends_where_python_does():
    chain = memory.cyclic_chain(97, seed=1)
    i = 0
    for _ in range(1234):
        i = chain[i]
    assert memory._chase_kernel(chain, 0, 1234) == i


def _synthetic(levels_bytes=(32 * 2**10, 2**20), lat=(1.0, 4.0, 80.0)):
    # an ideal latency curve with a one-step corner after each level
    sizes = memory.default_sizes(4096, 64 * 2**20)
    out = np.full(sizes.shape, lat[-1])
    # lat has one entry more than levels_bytes (the memory beyond the last level): strict=False
    for size, value in reversed(list(zip(levels_bytes, lat, strict=False))):
        out[sizes <= size] = value
    for size, lo, hi in zip(levels_bytes, lat, lat[1:], strict=False):
        out[np.searchsorted(sizes, size, side="right")] = np.sqrt(lo * hi)
    return pd.DataFrame({"working_set_bytes": sizes, "latency_ns": out})


def test_detects_synthetic_levels():
    found = memory.detect_cache_levels(_synthetic())
    assert [lv.size_bytes for lv in found] == [32 * 2**10, 2**20]
    assert [lv.latency_ns for lv in found] == [1.0, 4.0]


def test_noise_is_not_a_level():
    sweep = _synthetic(levels_bytes=(32 * 2**10,), lat=(1.0, 100.0))
    beyond = sweep["working_set_bytes"] >= 64 * 2**10  # past the corner: no two sizes agree
    sweep.loc[beyond, "latency_ns"] = np.where(np.arange(beyond.sum()) % 2, 300.0, 100.0)
    assert [lv.size_bytes for lv in memory.detect_cache_levels(sweep)] == [32 * 2**10]


def _noisy(seed, levels_bytes=(32 * 2**10, 2**20), lat=(1.0, 4.0, 40.0, 100.0)):
    """A sweep as a loaded machine records it: every point up to 8% slower than the ideal curve
    (lognormal noise, only upwards: other programs never speed a chase up), and one size, anywhere
    in the L1 or L2 plateau, disturbed to 2-4x its latency."""
    rng = np.random.default_rng(seed)
    sweep = _synthetic(levels_bytes + (16 * 2**20,), lat)
    sweep["latency_ns"] *= np.exp(np.abs(rng.normal(0, 0.04, len(sweep))))
    inside = np.flatnonzero(sweep["working_set_bytes"] < levels_bytes[1])
    sweep.loc[rng.choice(inside[1:-1]), "latency_ns"] *= rng.uniform(2, 4)
    return sweep


@pytest.mark.parametrize("seed", range(40))
def test_noisy_sweep_finds_every_level_within_2x(seed):
    """A one-size spike inside a plateau used to end the level there (the L1 = 22 KiB of a 48 KiB
    L1 seen once in eight runs on a loaded Xeon): now every run lands within 2x."""
    found = memory.detect_cache_levels(_noisy(seed))
    for level, size in zip(found[:2], (32 * 2**10, 2**20), strict=True):
        assert 0.5 <= level.size_bytes / size <= 2, (seed, found)


def test_median_of_several_sweeps():
    # three sweeps, each with a spike where the others are clean: the median has none, and the
    # levels are those of the clean curve
    sweeps = [_noisy(s) for s in range(3)]
    found = memory.detect_cache_levels(sweeps)
    assert [lv.size_bytes for lv in found[:2]] == [32 * 2**10, 2**20]
    with pytest.raises(TypeError, match="sweep"):
        memory.detect_cache_levels([])


@pytest.mark.slow_without_jit
def test_real_sweep_finds_the_os_l1_within_2x():
    """A real chase from 4 KiB to 256 KiB, median of three sweeps, against the L1 data cache
    the OS reports (sysfs); skipped where the OS reports none."""
    from aichip import machine

    l1 = next((c.size_bytes for c in machine.cache_levels() if c.level == 1
               and c.kind != "Instruction"), None)
    if l1 is None:
        pytest.skip("the OS reports no L1 data cache")
    sizes = memory.default_sizes(4096, 8 * l1)
    sweeps = [memory.latency_sweep(sizes, repeats=3, loads=50_000) for _ in range(3)]
    found = memory.detect_cache_levels(sweeps, max_levels=1)
    assert found and 0.5 <= found[0].size_bytes / l1 <= 2, found


def test_small_sweeps_run():
    sizes = [4096, 8192, 2**20]
    lat = memory.latency_sweep(sizes, repeats=1, loads=10_000)
    bw = memory.bandwidth_sweep(sizes, repeats=1, bytes_per_timing=2**20)
    assert list(lat["working_set_bytes"]) == sizes == list(bw["working_set_bytes"])
    # a real run on any machine: a load takes between a clock cycle's fraction (0.1 ns) and a
    # far DRAM miss with a page walk (10 us); one core reads between 0.1 GB/s and 2 TB/s
    # (compiled; the kernels run as Python under NUMBA_DISABLE_JIT=1, a thousand times slower).
    # The arithmetic itself is checked with a fake clock below.
    slow = 1000.0 if numba.config.DISABLE_JIT else 1.0
    assert lat["latency_ns"].between(0.1, 1e4 * slow).all()
    assert bw["read_GBps"].between(0.1 / slow, 2e3).all()


def test_os_cache_levels_parse(tmp_path):
    for idx, (level, kind, size, shared) in enumerate(
            [(1, "Data", "48K", "0-1"), (2, "Unified", "2048K", "0"),
             (3, "Unified", "32M", "0-7,16")]):
        d = tmp_path / f"index{idx}"
        d.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size),
                            ("shared_cpu_list", shared)):
            (d / name).write_text(f"{value}\n")
    levels = machine.cache_levels(str(tmp_path))
    assert [(c.level, c.size_bytes, c.shared_cpus) for c in levels] == [
        (1, 48 * 1024, 2), (2, 2 * 2**20, 1), (3, 32 * 2**20, 9)]
    assert machine.cache_levels(str(tmp_path / "missing")) == []


@pytest.mark.parametrize("call, match", [
    (lambda: memory.latency_sweep([64]), "sizes_bytes"),
    (lambda: memory.latency_sweep([4.5e3]), "sizes_bytes"),
    (lambda: memory.latency_sweep([4096], repeats=0), "repeats"),
    (lambda: memory.bandwidth_sweep([-4096]), "sizes_bytes"),
    (lambda: memory.detect_cache_levels(pd.DataFrame({"x": [1]})), "sweep"),
    (lambda: memory.detect_cache_levels(_synthetic(), rise=1.0), "rise"),
    (lambda: memory.default_sizes(4096, 1024), "max_bytes"),
    (lambda: memory.cyclic_chain(10, group_lines=0), "group_lines"),
    (lambda: memory.cyclic_chain(10, group_lines=4, passes=5), "passes"),
    (lambda: memory.latency_sweep([4096], huge_pages="yes"), "huge_pages"),
    (lambda: memory.latency_sweep([4096], passes=0), "passes"),
    (lambda: memory.latency_sweep([4096], rounds=0), "rounds"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_recorded_sweep():
    # latency_sweep() as recorded on the 2-core AMD EPYC VM this chapter was written on (sysfs:
    # L1d 32 KiB, L2 1 MiB, L3 32 MiB shared), 4 KiB to 64 MiB, two sizes per doubling. Its L2
    # corner is gradual (TLB misses start before the L2 is full) and its L3 plateau is short.
    lat = [1.9, 1.9, 1.9, 1.9, 1.9, 1.9, 1.97, 4.61, 4.61, 4.62, 4.66, 4.62, 4.72, 5.12, 5.63, 6.97,
           9.71, 11.87, 14.09, 16.16, 16.62, 18.63, 27.87, 113.71, 124.54, 145.0, 149.78, 155.35,
           155.08]
    sweep = pd.DataFrame({"working_set_bytes": memory.default_sizes(), "latency_ns": lat})
    found = memory.detect_cache_levels(sweep)
    assert [lv.size_bytes for lv in found[:2]] == [32 * 2**10, 512 * 2**10]
    assert found[0].latency_ns == pytest.approx(1.9)
    assert found[1].latency_ns == pytest.approx(4.64, abs=0.01)


def test_recorded_page_grouped_sweep():
    # latency_sweep() with the page-grouped, two-pass chase on huge pages, recorded on the same VM
    # (sysfs: L1d 32 KiB, L2 1 MiB): the L2 plateau now runs to the OS's 1 MiB
    lat = [1.90, 1.90, 1.90, 1.92, 1.90, 1.90, 2.01, 2.98, 2.90, 2.92, 3.07, 3.07, 3.02, 2.95,
           3.04, 3.82, 3.73, 4.92, 5.34, 6.12, 5.81, 6.43, 6.20, 36.48, 50.04, 46.86, 45.52,
           42.38, 48.97]
    sweep = pd.DataFrame({"working_set_bytes": memory.default_sizes(), "latency_ns": lat})
    found = memory.detect_cache_levels(sweep)
    assert [lv.size_bytes for lv in found[:2]] == [32 * 2**10, 2**20]


def test_cache_levels_explorer_draws():
    from aichip.widgets.memory import cache_levels_explorer, training_memory_explorer

    sweep = _synthetic()
    assert cache_levels_explorer(sweep).children
    assert training_memory_explorer().children


class _FakeClock:
    """Stands in for the ``time`` module of :mod:`aichip.timing` (the one timer the sweeps use):
    each timed call (two perf_counter readings) takes the next interval of ``intervals`` seconds,
    in turn, so the sweeps' arithmetic is checked against hand-worked numbers instead of
    ``> 0``."""

    def __init__(self, intervals):
        self.intervals, self.calls, self.now = list(intervals), 0, 0.0

    def perf_counter(self):
        if self.calls % 2:  # a stop reading
            self.now += self.intervals[(self.calls // 2) % len(self.intervals)]
        self.calls += 1
        return self.now


def test_bandwidth_sweep_divides_every_pass_by_the_best_time(monkeypatch):
    # timed runs of 2^-8, 2^-10, 2^-9 s (exact in binary): the best is 2^-10 s. bytes_per_timing
    # = 1 MiB:  4 KiB working set -> 256 passes -> 2^20 bytes in 2^-10 s = 1.073741824 GB/s
    #           1 MiB             -> 1 pass     -> 2^20 bytes             = 1.073741824 GB/s
    #           3 MiB             -> 1 pass     -> 3 x 2^20 bytes         = 3.221225472 GB/s
    monkeypatch.setattr(timing, "time", _FakeClock([2**-8, 2**-10, 2**-9]))
    out = memory.bandwidth_sweep([4096, 2**20, 3 * 2**20], repeats=3, bytes_per_timing=2**20)
    assert list(out["working_set_bytes"]) == [4096, 2**20, 3 * 2**20]
    np.testing.assert_allclose(out["read_GBps"], [1.073741824, 1.073741824, 3.221225472],
                               rtol=1e-14)


def test_latency_sweep_is_best_time_per_load(monkeypatch):
    # best timed chase 2^-9 s over 2^14 loads = 2^-23 s = 119.20928955078125 ns per load
    monkeypatch.setattr(timing, "time", _FakeClock([2**-7, 2**-9]))
    out = memory.latency_sweep([4096, 8192 + 100], repeats=2, loads=2**14, huge_pages=False)
    assert list(out["working_set_bytes"]) == [4096, 8256]  # whole 64-byte lines, rounded down
    np.testing.assert_allclose(out["latency_ns"], [119.20928955078125] * 2, rtol=1e-14)


def test_plateau_of_exactly_min_points_is_a_level():
    """The docstring: a plateau of *at least* min_points sizes is a level."""
    sweep = pd.DataFrame({"working_set_bytes": [1, 2, 3, 4, 5, 6, 7, 8],
                          "latency_ns": [1.0, 1.0, 1.2, 10.0, 11.0, 10.0, 100.0, 100.0]})
    found = memory.detect_cache_levels(sweep, rise=1.5, min_points=3)
    assert found == [memory.CacheLevel(1, 3, 1.0), memory.CacheLevel(2, 6, 10.0)]
    # one size short of min_points: not a level
    assert memory.detect_cache_levels(sweep, min_points=4) == []
    short = sweep.drop(index=1)  # the first plateau has 2 sizes left
    assert memory.detect_cache_levels(short, min_points=3) == [memory.CacheLevel(1, 6, 10.0)]
    assert memory.detect_cache_levels(sweep, min_points=3, max_levels=1) == [
        memory.CacheLevel(1, 3, 1.0)]


def test_plateau_uses_rise_over_its_lowest_latency():
    # 1.0 -> 1.5 stays (at most rise x 1.0), 1.6 leaves it; the plateau's floor is its lowest point
    sweep = pd.DataFrame({"working_set_bytes": [1, 2, 3, 4, 5, 6, 7],
                          "latency_ns": [2.0, 1.0, 1.5, 1.6, 1.6, 1.6, 50.0]})
    assert memory.detect_cache_levels(sweep, rise=1.5, min_points=3) == [
        memory.CacheLevel(1, 3, 1.5), memory.CacheLevel(2, 6, 1.6)]


def test_bandwidth_sweep_default_reads_64_mib_per_timing(monkeypatch):
    # default bytes_per_timing = 64 MiB: a 4 KiB working set is read 16384 times per timing;
    # 2^26 bytes in the fake clock's 2^-10 s = 2^36 / 1e9 = 68.719476736 GB/s
    monkeypatch.setattr(timing, "time", _FakeClock([2**-10]))
    out = memory.bandwidth_sweep([4096], repeats=1)
    assert out["read_GBps"].tolist() == pytest.approx([68.719476736], rel=1e-14)


def test_a_jump_right_after_the_first_size_ends_a_level():
    # the first plateau is the first size alone (1 ns, then 10 ns > 1.5 x 1 ns)
    sweep = pd.DataFrame({"working_set_bytes": [1, 2, 3, 4, 5, 6],
                          "latency_ns": [1.0, 10.0, 10.0, 10.0, 100.0, 100.0]})
    assert memory.detect_cache_levels(sweep, min_points=1) == [
        memory.CacheLevel(1, 1, 1.0), memory.CacheLevel(2, 4, 10.0)]


def test_latency_sweep_defaults_chase_page_groups_in_two_passes(monkeypatch):
    """The documented defaults: groups of a 4 KiB page (64 lines), 2 passes, seed 0."""
    calls = []
    real = memory.cyclic_chain
    monkeypatch.setattr(memory, "cyclic_chain", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setattr(timing, "time", _FakeClock([2**-10]))
    memory.latency_sweep([8192], repeats=1, loads=1000, huge_pages=False)
    assert calls == [(128, 0, 64, 2)]
    np.testing.assert_array_equal(memory.cyclic_chain(256), real(256, 0, 64, 2))


def test_no_huge_pages_where_no_mapping_holds_the_address():
    assert memory._anon_huge_kib(0) == 0  # address 0 is never mapped


def test_no_huge_pages_where_smaps_cannot_be_read(monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("/proc/self/smaps")

    monkeypatch.setattr(memory, "open", missing, raising=False)  # shadows the builtin there
    assert memory._anon_huge_kib(12345) == 0


def test_huge_page_array_starts_on_a_2_mib_boundary():
    # x86-64 and Arm64 (4 KiB granule) transparent huge pages are 2 MiB; the array must start on
    # one's boundary for the first of them to be backed by a huge page at all
    import mmap

    assert memory.HUGE_PAGE_BYTES == 2 * 1024 * 1024
    if not hasattr(mmap, "MAP_PRIVATE"):
        pytest.skip("no private anonymous maps here (Windows): an ordinary array")
    arr, _ = memory._huge_page_array(2**18)
    assert arr.ctypes.data % (2 * 1024 * 1024) == 0


def test_latency_sweep_keeps_each_sizes_best_over_rounds_in_alternating_order(monkeypatch):
    """Three rounds over two sizes, one timed chase each: small to large, large to small, small to
    large, so the timed calls go A B | B A | A B. Chases of 8, 8 | 8, 1 | 8, 2 (x 2^-10 s, over
    2^14 loads = 59.6046447753906 ns per unit): A's best is its second round's, B's its third's."""
    unit = 2**-10 / 2**14 * 1e9
    monkeypatch.setattr(timing, "time", _FakeClock([k * 2**-10 for k in (8, 8, 8, 1, 8, 2)]))
    out = memory.latency_sweep([4096, 8192], repeats=1, loads=2**14, huge_pages=False, rounds=3)
    np.testing.assert_allclose(out["latency_ns"], [1 * unit, 2 * unit], rtol=1e-14)
    np.testing.assert_allclose(out.attrs["round_ns"], np.array([[8, 8], [1, 8], [8, 2]]) * unit,
                               rtol=1e-14)
    # one round: each size's chase right after its chain is built, A then B
    monkeypatch.setattr(timing, "time", _FakeClock([k * 2**-10 for k in (8, 1)]))
    out = memory.latency_sweep([4096, 8192], repeats=1, loads=2**14, huge_pages=False, rounds=1)
    np.testing.assert_allclose(out["latency_ns"], [8 * unit, 1 * unit], rtol=1e-14)


def test_a_corner_point_does_not_set_the_next_plateaus_floor():
    """The disturbed sweep of the 2-core EPYC VM (L1 32 KiB, L2 1 MiB) in outline: the first size
    past L1 is a corner point (2.56 ns, part of it still in L1) just within `rise` of the L2
    plateau (2.9-3.0 ns), and two sizes near L2's end run slow (3.5 ns: above 1.3 x 2.56, within
    1.3 x 2.9). Taking the corner point as L2's floor ended L2 at 362 KiB; the plateau's second
    size sets the floor, and L2 ends at 1 MiB."""
    sizes = memory.default_sizes()
    kib = sizes // 1024
    lat = np.where(kib <= 32, 1.9, np.where(kib <= 1024, 2.95, 30.0))
    lat[kib == 45] = 2.56
    lat[(kib == 512) | (kib == 724)] = 3.5
    sweep = pd.DataFrame({"working_set_bytes": sizes, "latency_ns": lat})
    found = memory.detect_cache_levels(sweep)
    assert [lv.size_bytes for lv in found[:2]] == [32 * 2**10, 2**20]
