"""Benchmarks behind `make bench`: the book's kernels side by side with reference implementations.

Run from the repository root: ``python bench/run.py [--json FILE] [--repeats N]``. Each section
prints a table (one formatter, :func:`format_table`) with units, a correctness column showing the
outcome of a real check and the machine it ran on; the exit status is 1 when any check failed.
``--json`` also writes every figure to a file, for comparing machines. Runs unchanged on a cluster
node.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
from typing import NamedTuple

import numba
import numpy as np

from aichip import (
    arith,
    decodebench,
    flops,
    gemm,
    ladder,
    machine,
    membench,
    memory,
    roofline,
    scalesim,
    scaling,
    simd,
    sparse,
    systolic,
    systolic_traffic,
    timing,
)

HERE = pathlib.Path(__file__).resolve().parent
BUILD = HERE / "build"


class Column(NamedTuple):
    """One column of a benchmark table: its header (with units) and the format of its cells."""

    header: str
    fmt: str = ""  # a format spec for numbers, e.g. ",.2f"; strings and booleans ignore it


def format_cell(value, fmt: str) -> str:
    """One cell: None is "-", a boolean a check's outcome ("yes"/"NO"), a number in ``fmt``."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "NO"
    if isinstance(value, str):
        return value
    return format(value, fmt)


def format_table(columns: list[Column], rows: list[tuple]) -> str:
    """Every table of ``make bench``: first column left-aligned, the rest right-aligned, each as
    wide as its widest cell or header, two spaces between columns."""
    cells = [[format_cell(v, c.fmt) for v, c in zip(row, columns, strict=True)] for row in rows]
    widths = [max([len(c.header)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values):
        first, *rest = values
        padded = [v.rjust(w) for v, w in zip(rest, widths[1:], strict=True)]
        return "  ".join([first.ljust(widths[0])] + padded)

    return "\n".join([line([c.header for c in columns])] + [line(r) for r in cells])


#: checks that failed in this run (``note_check``); ``main`` exits with status 1 when any did
FAILED_CHECKS: list[str] = []


def note_check(what: str, ok: bool) -> bool:
    """Remember a correctness check's outcome for the exit status; return it."""
    if not ok:
        FAILED_CHECKS.append(what)
    return bool(ok)


#: the speed targets of this run (``note_target``): printed together at the end, side by side
TARGETS: list[tuple] = []

TARGET_COLUMNS = [Column("target"), Column("threads"), Column("measured", ".3f"),
                  Column("needed", ".2f"), Column("meets")]


def note_target(what: str, threads, measured: float | None, needed: float,
                at_most: bool = False) -> tuple:
    """Record a speed target's outcome (a ratio at least ``needed``, or at most with
    ``at_most``) for the closing table; return its row. Not a correctness check: a missed speed
    target on a loaded machine does not fail the run."""
    meets = measured is not None and (measured <= needed if at_most else measured >= needed)
    row = (what, threads, measured, needed, meets)
    TARGETS.append(row)
    return row


def interleaved_best(measures: dict, rounds: int) -> dict:
    """Run each measurement of ``measures`` (name -> function returning a FlopsResult, or raising
    ValueError when its check fails) in turn, ``rounds`` times, and keep each one's fastest
    result: a burst of load from other programs then hits every kernel alike. Returns name ->
    ``(result, None)``, or ``(None, message)`` if a check failed."""
    best: dict = {name: (None, None) for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            result, failure = checked(measure)
            if failure:
                best[name] = (None, failure)
            elif best[name][1] is None and (best[name][0] is None
                                            or result.best_GFLOPs > best[name][0].best_GFLOPs):
                best[name] = (result, None)
    return best


def print_section(title: str) -> None:
    print(f"\n== {title} ==")
    print(f"machine: {machine.describe()}")


def checked(measure, *args, **kwargs):
    """Run a measurement that raises ValueError when its result fails its correctness check;
    return ``(result, None)``, or ``(None, message)`` so the table can show the failure."""
    try:
        return measure(*args, **kwargs), None
    except ValueError as error:
        return None, str(error)


def build_c_triad() -> pathlib.Path | None:
    """Compile bench/triad.c with the system C compiler and OpenMP; None (with a message) if
    absent."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        print("  no C compiler found (cc, gcc or clang): skipping the C/OpenMP triad reference")
        return None
    BUILD.mkdir(exist_ok=True)
    exe = BUILD / "triad"
    cmd = [cc, "-O3", "-march=native", "-fopenmp", str(HERE / "triad.c"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  could not build the C triad ({' '.join(cmd)}):\n{proc.stderr}")
        return None
    return exe


def run_c_triad(exe: pathlib.Path, n_elems: int, repeats: int, threads: int):
    """Run the C triad; ``(best GB/s, median GB/s, wrong elements)``, or None if it failed to run.

    The program checks every element of its result and prints how many were wrong (exit status 1
    when any was)."""
    env = {"OMP_NUM_THREADS": str(threads), "OMP_PROC_BIND": "spread", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([str(exe), str(n_elems), str(repeats)], capture_output=True, text=True,
                          env=env)
    fields = proc.stdout.split()
    if proc.returncode not in (0, 1) or len(fields) != 3:
        print(f"  C triad failed: {proc.stderr.strip()}")
        return None
    return float(fields[0]), float(fields[1]), int(fields[2])


def bench_roofline(repeats: int) -> dict:
    threads = numba.config.NUMBA_NUM_THREADS
    print_section("Roofline kernels (chapter on the roofline)")
    results = {}

    # --- memory bandwidth: numba triad vs C/OpenMP triad, same array sizes, same threads
    n_bytes = membench.default_n_bytes("triad")
    ours, failure = checked(membench.measure_bandwidth, "triad", n_bytes=n_bytes, threads=threads,
                            repeats=repeats)
    n_elems = n_bytes // (3 * 8)
    columns = [Column("kernel"), Column("array (MiB)", ".0f"), Column("threads"),
               Column("best (GB/s)", ".2f"), Column("median (GB/s)", ".2f"),
               Column("correct")]
    rows = [("numba triad", n_elems * 8 / 2**20, threads, ours and ours.best_GBps,
             ours and ours.median_GBps,
             note_check("numba triad result", ours is not None and ours.correct))]
    exe = build_c_triad()
    c_run = run_c_triad(exe, n_elems, repeats, threads) if exe is not None else None
    if c_run is not None:
        rows.append(("C/OpenMP triad -O3", n_elems * 8 / 2**20, threads, c_run[0], c_run[1],
                     note_check("C triad result", c_run[2] == 0)))
    print()
    print(format_table(columns, rows))
    if failure:
        print(f"  numba triad: {failure}")
    if ours is not None and c_run is not None:
        ratio = ours.best_GBps / c_run[0]
        print(f"numba / C triad (best): {ratio:.1%}  "
              f"({'meets' if ratio >= 0.9 else 'MISSES'} the 90% target)")
        results["triad_ratio"] = ratio
    results.update(numba_triad_GBps=ours and ours.best_GBps, c_triad_GBps=c_run and c_run[0],
                   numba_triad_correct=ours is not None and ours.correct,
                   c_triad_correct=c_run is not None and c_run[2] == 0)

    # --- peak compute: numba FMA kernel vs numpy's BLAS DGEMM
    # the FMA kernel and DGEMM in turn, round after round (each keeps its best round)
    best = interleaved_best({
        "peak": functools.partial(flops.measure_peak_flops, "float64", threads=threads,
                                  repeats=3),
        "gemm": functools.partial(flops.measure_gemm, 2000, "float64", repeats=2,
                                  threads=threads)}, rounds=max(3, repeats // 2))
    (peak, peak_failure), (gemm, gemm_failure) = best["peak"], best["gemm"]
    columns = [Column("kernel"), Column("threads"), Column("best (GFLOP/s)", ".1f"),
               Column("median (GFLOP/s)", ".1f"), Column("max rel. error", ".1e"),
               Column("tolerance", ".1e"), Column("correct")]
    rows = []
    for label, r in (("numba FMA peak", peak), ("numpy DGEMM n=2000", gemm)):
        rows.append((label, r and r.threads, r and r.best_GFLOPs, r and r.median_GFLOPs,
                     r and r.max_rel_error, r and r.rtol,
                     note_check(f"{label} result", r is not None and r.correct)))
    print()
    print(format_table(columns, rows))
    for failure in (peak_failure, gemm_failure):
        if failure:
            print(f"  {failure}")
    blas = machine.blas_info()
    print(blas)
    ratio = peak.best_GFLOPs / gemm.best_GFLOPs if peak is not None and gemm is not None else None
    print()
    print(format_table(TARGET_COLUMNS, [note_target(
        f"FMA peak / DGEMM, float64, {simd.vector_bytes() * 8}-bit vectors", threads, ratio,
        0.95)]))
    if ratio is not None:
        results.update(peak_GFLOPs=peak.best_GFLOPs, dgemm_GFLOPs=gemm.best_GFLOPs,
                       peak_ratio=ratio)
    if blas.vector_bits and blas.cpu_vector_bits and blas.vector_bits < blas.cpu_vector_bits:
        print("  (DGEMM's kernels use narrower vectors than the CPU has: on a CPU with two "
              "full-width 512-bit FMA units they reach at most half the peak)")
    results.update(peak_correct=peak is not None and peak.correct,
                   dgemm_correct=gemm is not None and gemm.correct, blas=blas._asdict())
    return results


def bench_ladder(repeats: int) -> dict:
    print_section("Specialisation ladder (chapter on the AI chip landscape)")
    steps = ladder.run_ladder(size=512, python_size=48, repeats=repeats)
    columns = [Column("step"), Column("m=k=n"), Column("threads"), Column("best (GOP/s)", ".3f"),
               Column("x previous", ".1f"), Column("x Python", ",.0f"), Column("correct")]
    print()
    print(format_table(columns, [(s.description, s.shape_mkn[0], s.threads, s.best_GOPs,
                                  s.speedup_vs_previous, s.speedup_vs_python,
                                  note_check(f"ladder step {s.step}", s.correct))
                                 for s in steps]))
    return {s.step: {"GOPs": s.best_GOPs, "speedup_vs_previous": s.speedup_vs_previous,
                     "correct": s.correct} for s in steps}


def bench_multiplier(repeats: int) -> dict:
    print_section("Bit-level tree multiplier simulator (chapter on arithmetic)")
    rows, results = [], {}
    for n in (8, 16, 32):
        for tree in arith.TREES:
            r = arith.simulate(n, tree, pairs=2_000_000, repeats=repeats)
            rows.append((n, tree, r.pairs, r.best_s, r.products_per_s,
                         note_check(f"{tree} multiplier, {n} bits", r.all_correct)))
            results[f"{tree}{n}"] = r.products_per_s
    columns = [Column("width"), Column("tree"), Column("pairs", ","), Column("best (s)", ".3f"),
               Column("products/s", ",.0f"), Column("correct")]
    print()
    print(format_table(columns, rows))
    return results


# GEMM layers (name, M, N, K) and arrays (rows, cols) of the SCALE-Sim comparison: a 1x1
# convolution of ResNet-50's first stage lowered with im2col, a transformer projection at sequence
# length 128, and a small-batch fully connected layer.
SYSTOLIC_LAYERS = [("resnet_1x1_56x56", 3136, 64, 64), ("proj_seq128", 128, 256, 256),
                   ("fc_batch16", 16, 1024, 512)]
SYSTOLIC_ARRAYS = [(32, 32), (16, 64)]
# A held-out set, never used while tuning the simulator, run live against SCALE-Sim on one array:
# a 3x3 convolution of ResNet-20 on CIFAR-10 (32 x 32 outputs, 16 channels in and out, im2col),
# a transformer FFN up-projection (d_model 256 to 1024) at sequence length 32, an NCF/DLRM MLP
# layer at batch 64, and one head's attention scores Q K^T (64-dim heads) at sequence length 128.
SYSTOLIC_HELDOUT_LAYERS = [("resnet20_conv3x3_32x32", 1024, 16, 144),
                           ("ffn_up_seq32", 32, 1024, 256), ("mlp_batch64", 64, 128, 256),
                           ("attn_scores_seq128", 128, 128, 64)]
SYSTOLIC_HELDOUT_ARRAYS = [(32, 32)]


def scalesim_python() -> str | None:
    """A Python that can import scalesim: $AICHIP_SCALESIM_PYTHON, or this one if it has it."""
    env = os.environ.get("AICHIP_SCALESIM_PYTHON")
    if env:
        return env
    return sys.executable if importlib.util.find_spec("scalesim") is not None else None


#: The speed-up over SCALE-Sim that the systolic simulator must keep (issue 24), total time ratio.
SYSTOLIC_SPEEDUP_TARGET = 100
#: The counts of SCALE-Sim's traffic report (its detailed access report, per operand and layer).
#: SCALE-Sim runs here with its default buffers, those gemm_traffic assumes (on every bench layer
#: it reports no stall cycles, so its compute cycles are those of its no-stall runs); the SRAM
#: counts must equal ours, the DRAM counts wherever ours are modelled (not NaN).
SRAM_TRAFFIC = ("ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes")
DRAM_TRAFFIC = ("ifmap_dram_reads", "filter_dram_reads", "ofmap_dram_writes")


def _simulate_with_traffic(A, B, rows, cols, df):
    """What is timed against SCALE-Sim: the cycle-accurate run and the traffic report."""
    m, k = A.shape
    res = systolic.simulate_gemm(A, B, rows, cols, df)
    traffic = systolic_traffic.gemm_traffic(m, B.shape[1], k, rows, cols, df)
    return res, traffic


def _recorded_scalesim() -> dict:
    """SCALE-Sim's recorded cycles and seconds (data/scalesim_reference.csv) on SYSTOLIC_LAYERS."""
    ref = scalesim.scalesim_reference()
    return {(r.layer, r.rows, r.cols, r.dataflow): {"compute_cycles": int(r.scalesim_cycles),
                                                   "seconds": float(r.scalesim_s)}
            for r in ref.itertuples() if r.layer in {name for name, *_ in SYSTOLIC_LAYERS}}


def _run_scalesim(layers=SYSTOLIC_LAYERS, arrays=SYSTOLIC_ARRAYS,
                  recorded: bool = True) -> dict:
    """SCALE-Sim's cycles, seconds and traffic on ``layers`` x ``arrays``, keyed by run; without
    SCALE-Sim its recorded cycles and times (no traffic) where ``recorded``, else nothing."""
    python = scalesim_python()
    if python is None:
        if not recorded:
            print("  SCALE-Sim not available: the held-out set is compared only live")
            return {}
        print("  SCALE-Sim not available: `pip install scalesim \"numpy<2\"` in a separate venv "
              "(SCALE-Sim 3.0.0 fails under NumPy 2) and set AICHIP_SCALESIM_PYTHON to its python "
              "to compare side by side; comparing with its recorded times "
              "(data/scalesim_reference.csv, another machine and time)")
        return _recorded_scalesim()
    job = {"layers": layers, "arrays": arrays, "dataflows": list(systolic.DATAFLOWS),
           "default_buffers": True}
    proc = subprocess.run([python, str(HERE / "scalesim_runner.py")], input=json.dumps(job),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  SCALE-Sim run failed ({python}):\n{proc.stderr[-2000:]}")
        return {}
    return {(r["name"], r["rows"], r["cols"], r["dataflow"]): r for r in json.loads(proc.stdout)}


def bench_systolic(repeats: int) -> dict:
    print_section("Systolic-array simulator (chapter on systolic arrays) vs SCALE-Sim")
    results = _systolic_vs_scalesim(SYSTOLIC_LAYERS, SYSTOLIC_ARRAYS, repeats, "bench layers")
    print("\nHeld-out layers (not used while tuning the simulator), 32 x 32 array:")
    results["heldout"] = _systolic_vs_scalesim(SYSTOLIC_HELDOUT_LAYERS, SYSTOLIC_HELDOUT_ARRAYS,
                                               repeats, "held-out layers", recorded=False)
    return results


def _systolic_vs_scalesim(layers, arrays, repeats: int, what: str, recorded: bool = True) -> dict:
    """Time simulate_gemm + gemm_traffic on ``layers`` x ``arrays`` x dataflows against SCALE-Sim
    (live where installed, else its recorded times where ``recorded``) and print the table."""
    rng = np.random.default_rng(0)
    ours = {}
    for name, m, n, k in layers:
        A, B = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        for rows, cols in arrays:
            for df in systolic.DATAFLOWS:
                res, traffic = _simulate_with_traffic(A, B, rows, cols, df)
                run = functools.partial(_simulate_with_traffic, A, B, rows, cols, df)
                t = timing.time_call(run, repeats=max(1, min(repeats, 3)))
                model = systolic.gemm_cycles(m, n, k, rows, cols, df)
                correct = bool(np.allclose(res.product, A @ B))
                ours[(name, rows, cols, df)] = (res.compute_cycles, model.compute_cycles,
                                                t.best_s, correct, res.utilization, traffic)
    theirs = _run_scalesim(layers, arrays, recorded)
    columns = [Column("layer"), Column("array"), Column("df"), Column("sim cycles", ","),
               Column("model", ","), Column("sim = model"), Column("SCALE-Sim", ","),
               Column("sim - SCALE-Sim", "+,"), Column("util", ".1%"), Column("sim (s)", ".4f"),
               Column("SCALE-Sim (s)", ".2f"), Column("speedup", ".0f"),
               Column("SRAM traffic = SCALE-Sim"), Column("DRAM = SCALE-Sim (modelled)"),
               Column("correct")]
    table, rows_out, speedups, extra, same_traffic = [], [], [], [], []
    dram_equal, dram_modelled, dram_all = 0, 0, 0
    for key, (sim_c, model_c, sim_s, ok, util, traffic) in ours.items():
        name, rows, cols, df = key
        ss = theirs.get(key)
        ss_c = ss["compute_cycles"] if ss else None
        ss_s = ss["seconds"] if ss else None
        more = sim_c - ss_c if ss_c is not None else None
        speed = ss_s / sim_s if ss_s else None
        label = f"systolic {name} {rows}x{cols} {df}"
        equal = None
        if ss:
            extra.append((more, ss_c))
            speedups.append(speed)
        if ss and all(field in ss for field in SRAM_TRAFFIC):
            equal = note_check(f"{label}: SRAM traffic", all(
                getattr(traffic, field) == ss[field] for field in SRAM_TRAFFIC))
            same_traffic.append(equal)
        dram = None
        if ss and all(field in ss for field in DRAM_TRAFFIC):
            modelled = [f for f in DRAM_TRAFFIC if not math.isnan(getattr(traffic, f))]
            same = [f for f in modelled if getattr(traffic, f) == ss[f]]
            note_check(f"{label}: modelled DRAM traffic", len(same) == len(modelled))
            dram = f"{len(same)} of {len(modelled)}"
            dram_equal, dram_modelled = dram_equal + len(same), dram_modelled + len(modelled)
            dram_all += len(DRAM_TRAFFIC)
        table.append((name, f"{rows}x{cols}", df, sim_c, model_c,
                      note_check(f"{label}: simulator = model", sim_c == model_c), ss_c, more,
                      util, sim_s, ss_s, speed, equal, dram,
                      note_check(f"{label}: product", ok)))
        rows_out.append({"layer": name, "rows": rows, "cols": cols, "dataflow": df,
                         "sim_cycles": sim_c, "model_cycles": model_c, "scalesim_cycles": ss_c,
                         "sim_s": sim_s, "scalesim_s": ss_s, "correct": ok,
                         **{f: float(v) for f, v in traffic._asdict().items()}})
    print()
    print(format_table(columns, table))
    results = {"layers": rows_out,
               "sim_equals_model": all(v[0] == v[1] for v in ours.values()),
               "all_correct": all(v[3] for v in ours.values())}
    if speedups:
        total_speed = sum(theirs[k]["seconds"] for k in ours) / sum(v[2] for v in ours.values())
        one_more = note_check(f"systolic, {what}: one cycle more than SCALE-Sim on every run",
                              len(extra) == len(ours) and all(d == 1 for d, _ in extra))
        traffic_ok = None  # not compared against recorded runs
        if same_traffic:
            traffic_ok = note_check(f"systolic, {what}: SRAM traffic equal to SCALE-Sim's",
                                    len(same_traffic) == len(ours) and all(same_traffic))
        max_rel = max(abs(d) / ss_c for d, ss_c in extra)
        target = SYSTOLIC_SPEEDUP_TARGET
        note_target(f"SCALE-Sim / simulate_gemm + gemm_traffic, total time, {what}", 1,
                    total_speed, target)
        print(f"\nsimulate_gemm + gemm_traffic vs SCALE-Sim: total time ratio {total_speed:.0f}x "
              f"({'meets' if total_speed >= target else 'MISSES'} the {target}x target), slowest "
              f"layer {min(speedups):.0f}x; max cycle difference {max_rel:.3%}")
        print(f"exactly one cycle more than SCALE-Sim on every run: "
              f"{format_cell(one_more, '')} (differences seen: {sorted({d for d, _ in extra})}); "
              f"SRAM traffic counts equal on every run: {format_cell(traffic_ok, '')}")
        if dram_all:
            print(f"DRAM counts: {dram_modelled} of {dram_all} modelled, {dram_equal} of them "
                  "equal to SCALE-Sim's; the rest (an operand or the ofmap's writes larger than "
                  "the active half of its buffer) are NaN, SCALE-Sim's line-by-line refills not "
                  "modelled")
            results.update(dram_modelled=dram_modelled, dram_counts=dram_all,
                           dram_equal=dram_equal)
        results.update(speedup_total=total_speed, speedup_min=min(speedups),
                       speedup_target=target, max_cycle_diff=max_rel,
                       one_cycle_more_on_every_run=one_more, traffic_equal=traffic_ok)
    return results


def bench_memory(repeats: int) -> dict:
    """Chapter 4: the GEMM variants at n = 1024 (float64) against NumPy's DGEMM at the same thread
    count (packed and NumPy timed in alternation), the micro-kernel's inner loop read from its
    assembly, and the L1/L2 sizes five latency sweeps find against those the OS reports."""
    print_section("memory: GEMM variants (n = 1024, float64) and cache levels")
    threads = numba.config.NUMBA_NUM_THREADS
    fast = gemm.benchmark(1024, variants=("reordered", "tiled", "packed"), threads=threads,
                          repeats=max(3, repeats // 2))
    slow = gemm.benchmark(1024, variants=("naive",), threads=threads, repeats=1)
    import pandas as pd

    # NumPy's row from the same run as packed; naive timed once (it takes seconds at n = 1024)
    table = pd.concat([fast, slow[slow["variant"] == "naive"]], ignore_index=True)
    by = dict(zip(table["variant"], table["GFLOPs"], strict=True))
    peak, peak_failure = checked(flops.measure_peak_flops, "float64", threads=threads,
                                 repeats=repeats)
    peak_G = peak.best_GFLOPs if peak is not None else float("nan")
    columns = [Column("variant"), Column("threads"), Column("best (s)", ".3f"),
               Column("GFLOP/s", ".2f"), Column("of FMA peak", ".1%"), Column("x naive", ".1f"),
               Column("of NumPy DGEMM", ".1%"), Column("FLOP/byte", ".2f"),
               Column("max rel. error", ".1e"), Column("correct")]
    rows = [(r.variant, r.threads, r.best_s, r.GFLOPs, r.GFLOPs / peak_G, r.GFLOPs / by["naive"],
             r.GFLOPs / by["numpy"], r.intensity, r.max_rel_err,
             note_check(f"gemm {r.variant} result", r.max_rel_err < 1e-10))
            for r in table.itertuples()]
    print(format_table(columns, rows))
    if peak_failure:
        print(f"  {peak_failure}")
    print(machine.blas_info())
    of_blas, of_naive = by["packed"] / by["numpy"], by["packed"] / by["naive"]
    print(f"packed / naive: {of_naive:.0f}x ({'meets' if of_naive >= 20 else 'MISSES'} the 20x "
          "target)")
    packed_vs_blas = bench_packed_vs_blas(threads, repeats)

    asm = gemm.micro_kernel_asm("float64")
    print(f"micro-kernel inner loop (float64, {asm['steps']:.0f} k-steps per pass): "
          f"{asm['fma']} vector FMAs ({asm['fma_zmm']} on zmm), {asm['loads']} vector loads, "
          f"{asm['broadcasts']} broadcasts, {asm['stores']} stores")

    # the detector over several sweeps: each run's L1 and L2 against the OS's
    reported = [c for c in machine.cache_levels() if c.kind != "Instruction"]
    runs = []
    for _ in range(5):
        lat = memory.latency_sweep()
        runs.append((memory.detect_cache_levels(lat), sum(lat.attrs["huge_pages"]), len(lat)))
    columns = [Column("run"), Column("huge pages")] + [
        c for lvl in reported[:2] for c in (
            Column(f"L{lvl.level} OS (KiB)", ","), Column(f"L{lvl.level} found (KiB)", ","),
            Column(f"L{lvl.level} ns", ".1f"), Column(f"L{lvl.level} within 2x"))]
    rows, within_all, worst = [], True, 1.0
    for r, (found, huge, n_sizes) in enumerate(runs, 1):
        row = [r, f"{huge}/{n_sizes} sizes"]
        for c in reported[:2]:
            lv = next((x for x in found if x.level == c.level), None)
            within = lv is not None and 0.5 <= lv.size_bytes / c.size_bytes <= 2
            within_all &= within
            worst = max(worst, float("inf") if lv is None else
                        max(lv.size_bytes / c.size_bytes, c.size_bytes / lv.size_bytes))
            row += [c.size_bytes // 1024, lv and lv.size_bytes // 1024, lv and lv.latency_ns,
                    within]
        rows.append(tuple(row))
    print()
    print(format_table(columns, rows))
    print(f"L1 and L2 within 2x of the OS in all {len(runs)} runs: "
          f"{'meets' if within_all else 'MISSES'} the target")
    if reported:
        note_target(f"cache detection: worst found/OS size factor over {len(runs)} runs (L1, L2)",
                    1, worst, 2.0, at_most=True)
    return {"gemm": table.to_dict("records"), "packed_of_numpy": of_blas,
            "packed_over_naive": of_naive, "fma_peak_GFLOPs": peak_G,
            "packed_vs_blas": packed_vs_blas,
            "micro_kernel_asm": {k: v for k, v in asm.items() if k not in ("asm", "loop")},
            "cache_levels_detected": [[lv._asdict() for lv in found] for found, _, _ in runs],
            "cache_levels_os": [c._asdict() for c in reported], "caches_within_2x": within_all}


def bench_packed_vs_blas(threads: int, repeats: int) -> list[dict]:
    """The packed GEMM against NumPy's BLAS at n = 1024 and 2048, float64 and float32, on the same
    thread count (the two timed in turn, best of each), with the 0.80 target."""
    print(f"\npacked GEMM vs NumPy's BLAS, timed in turn (best of {max(4, repeats // 2)} each); "
          f"micro-tile {gemm.MR} x {gemm.NR_VECTORS} vectors of {gemm.VECTOR_BYTES * 8} bits, "
          f"blocks {gemm.PACKED_BLOCKING}")
    columns = [Column("n"), Column("dtype"), Column("numba threads"), Column("BLAS threads"),
               Column("packed (GFLOP/s)", ".1f"), Column("NumPy (GFLOP/s)", ".1f"),
               Column("packed / NumPy", ".3f"), Column("needed", ".2f"), Column("meets"),
               Column("max rel. error", ".1e"), Column("correct")]
    rows, out = [], []
    for n in (1024, 2048):
        for dtype in ("float64", "float32"):
            df = gemm.benchmark(n, variants=("packed",), dtype=dtype, threads=threads,
                                repeats=max(4, repeats // 2)).set_index("variant")
            ratio = df.GFLOPs["packed"] / df.GFLOPs["numpy"]
            tol = 1e-10 if dtype == "float64" else 1e-4
            what = f"packed GEMM / NumPy, n = {n}, {dtype}"
            note_target(what, int(df.threads["packed"]), ratio, 0.80)
            rows.append((n, dtype, int(df.threads["packed"]), int(df.threads["numpy"]),
                         df.GFLOPs["packed"], df.GFLOPs["numpy"], ratio, 0.80, ratio >= 0.80,
                         df.max_rel_err["packed"],
                         note_check(f"{what}: result", df.max_rel_err["packed"] < tol)))
            out.append({"n": n, "dtype": dtype, "packed_GFLOPs": df.GFLOPs["packed"],
                        "numpy_GFLOPs": df.GFLOPs["numpy"], "ratio": ratio})
    print(format_table(columns, rows))
    return out


def bench_sparse(repeats: int) -> dict:
    print_section("Block-sparse matmul (chapter on GPUs, Tensor Cores and sparsity)")
    n, block = 2048, 32
    df = sparse.benchmark(n=n, block_size=block, densities=(1.0, 0.5, 0.25, 0.125),
                          repeats=max(3, repeats // 2))
    # float32 products summed in float32 over n terms: a relative error of n * eps is a wrong kernel
    rtol = n * float(np.finfo(np.float32).eps)
    columns = [Column("density"), Column("time (s)", ".4f"), Column("density x dense (s)", ".4f"),
               Column("ratio", ".2f"), Column("NumPy dense (s)", ".4f"),
               Column("x NumPy", ".2f"), Column("correct")]
    print(f"n = {n}, block {block}, float32, on gemm's micro-kernel; NumPy and every density "
          f"timed in turn, best of >= {max(3, repeats // 2)} rounds; "
          f"{numba.config.NUMBA_NUM_THREADS} numba threads, NumPy's BLAS as it runs by default")
    print()
    print(format_table(columns, [
        (f"1/{round(1 / r.density)}", r.time_s, r.predicted_s, r.ratio_to_linear, r.numpy_dense_s,
         r.speedup_vs_numpy, note_check(f"sparse density {r.density}: result",
                                        r.max_rel_error <= rtol))
        for r in df.itertuples()]))
    sparse_rows = df[df["density"] < 1]
    threads = numba.config.NUMBA_NUM_THREADS
    targets = [note_target(f"block-sparse / (density x own dense), density 1/{round(1 / d)}",
                           threads, r, 1.3, at_most=True)
               for d, r in zip(sparse_rows["density"], sparse_rows["ratio_to_linear"],
                               strict=True)]
    eighth = df[df["density"] == 0.125].iloc[0]
    targets.append(note_target("block-sparse at density 1/8: NumPy dense time / its time",
                               threads, eighth.speedup_vs_numpy, 2.0))
    print()
    print(format_table(TARGET_COLUMNS, targets))
    within = all(t[-1] for t in targets[:-1])
    return {"rows": df.drop(columns="machine").to_dict("records"), "within_1_3x": within,
            "speedup_vs_numpy_at_eighth": float(eighth.speedup_vs_numpy)}


def _scaling_error_line(name: str, errors) -> str:
    """One table's median and largest absolute throughput error, against the 15 % / 25 % target."""
    med, big = float(errors.abs().median()), float(errors.abs().max())
    return (f"{name}: median |error| {med:.0%}, largest {big:.0%} (target <= 15 %, no row > 25 %: "
            f"{'met' if med <= 0.15 and big <= 0.25 else 'missed'})")


def _scaling_validation() -> tuple:
    """Print the predicted-vs-published tables; return them."""
    t1 = scaling.predict_megatron_table1()
    print("Narayanan et al. (SC'21) Table 1 on dgx_a100_hdr: full recomputation, micro-batch 1, "
          "the interleaved schedule (v chunks), DP all-reduce after the backward pass as "
          "Megatron-LM ran it, dp = GPUs / (tp pp); error = predicted / published - 1 in the "
          "paper's hardware-FLOP convention (96 B s l h^2 (...))")
    print()
    columns = [Column("params (B)"), Column("GPUs", "d"), Column("tp x pp x dp"), Column("v", "d"),
               Column("published TFLOP/s", ".0f"), Column("predicted TFLOP/s", ".0f"),
               Column("error", "+.0%"), Column("compute (s)", ".2f"), Column("TP (s)", ".2f"),
               Column("PP (s)", ".2f"), Column("DP exposed (s)", ".2f"),
               Column("bubble (s)", ".2f"), Column("implied ceiling", ".2f"), Column("fits")]
    print(format_table(columns, [
        (f"{r.params_B:g}", r.n_gpus, f"{r.tp} x {r.pp} x {r.dp}", r.interleave,
         r.published_tflops, r.predicted_tflops, r.error, r.compute_s, r.tp_comm_s, r.pp_comm_s,
         r.dp_exposed_s, r.bubble_s, r.implied_gemm_efficiency,
         note_check(f"scaling: Table 1 {r.params_B}B fits in memory", r.fits))
        for r in t1.itertuples()]))
    ko = scaling.predict_korthikanti()
    print("\nKorthikanti et al. (MLSys 2023) Table 5 iteration times on dgx_a100_hdr "
          "(175B and 530B with 3 interleaved chunks); error = predicted / published - 1")
    print()
    columns = [Column("model"), Column("recompute"), Column("published (s)", ".2f"),
               Column("predicted (s)", ".2f"), Column("error", "+.0%"),
               Column("predicted MFU", ".1%"), Column("implied ceiling", ".2f"), Column("fits")]
    print(format_table(columns, [
        (r.model, r.recompute + (" + SP" if r.sequence_parallel else ""), r.published_s,
         r.predicted_s, r.error, r.predicted_mfu, r.implied_gemm_efficiency,
         note_check(f"scaling: {r.model} {r.recompute} fits in memory", r.fits))
        for r in ko.itertuples()]))
    _scaling_layer()
    ll = scaling.predict_llama3()
    print("\nLlama 3 405B (Dubey et al. 2024, Table 4) on dgx_h100_ndr: GQA, SwiGLU, flash "
          "attention, 126 layers on 16 stages (first and last one short), v = 2, full "
          "recomputation; model-FLOP TFLOP/s per GPU")
    print()
    columns = [Column("GPUs", "d"), Column("tp x cp x pp x dp"), Column("published TFLOP/s", ".0f"),
               Column("predicted TFLOP/s", ".0f"), Column("error", "+.0%"),
               Column("compute (s)", ".2f"), Column("TP (s)", ".2f"), Column("bubble (s)", ".2f"),
               Column("memory (GB)", ".1f"), Column("fits")]
    print(format_table(columns, [
        (r.n_gpus, f"{r.tp} x {r.cp} x {r.pp} x {r.dp}", r.published_tflops, r.predicted_tflops,
         r.error, r.compute_s, r.tp_comm_s, r.bubble_s, r.memory_GB,
         note_check(f"scaling: Llama 3 on {r.n_gpus} GPUs fits in memory", r.fits))
        for r in ll.itertuples()]))
    ko_rate = ko.published_s / ko.predicted_s - 1  # throughput error, the others' convention
    print()
    for name, err in (("Table 1", t1.error), ("Korthikanti", ko_rate), ("Llama 3", ll.error)):
        print(_scaling_error_line(name, err))
    print("'implied ceiling': the GEMM ceiling that would reproduce the published time with every "
          f"other term kept (the model's: {scaling.cluster('dgx_a100_hdr').gemm_ceiling:.2f}, "
          "measured on the runs' CUDA 11 software; Bekman's CUDA 12.1 best over a sweep: "
          f"{scaling.gemm_ceiling(scaling.cluster('dgx_a100_hdr').gpu):.2f})")
    return t1, ko, ll


def _scaling_layer():
    """Print Korthikanti et al.'s Table 4 (one 22B layer, by pass) against the model; return it."""
    lay = scaling.predict_korthikanti_layer()
    print("\nKorthikanti et al. (MLSys 2023) Table 4: one layer of the 22B model (tp 8, "
          "micro-batch 4) on one A100, forward and backward; error = predicted / published - 1; "
          "'TP' is the model's two all-reduces per pass (the paper overlaps the backward ones "
          "with the weight-gradient GEMMs, the model does not)")
    print()
    columns = [Column("experiment"), Column("fwd published (ms)", ".1f"),
               Column("fwd predicted (ms)", ".2f"), Column("fwd error", "+.0%"),
               Column("bwd published (ms)", ".1f"), Column("bwd predicted (ms)", ".2f"),
               Column("bwd error", "+.0%"), Column("TP per pass (ms)", ".2f")]
    print(format_table(columns, [
        (r.experiment, r.published_forward_ms, r.predicted_forward_ms, r.forward_error,
         r.published_backward_ms, r.predicted_backward_ms, r.backward_error, r.tp_ms)
        for r in lay.itertuples()]))
    return lay


def _scaling_searches(t1, repeats: int) -> tuple[list, list]:
    """Run the layout search on Table 1's 145.6B and 1T rows; print it beside the papers'."""
    searches = []
    for params_B, recomputes in ((145.6, ("full",)), (145.6, scaling.RECOMPUTE),
                                 (1008.0, ("full",)), (1008.0, scaling.RECOMPUTE)):
        row = scaling.megatron_table1().set_index("params_B").loc[params_B]
        model = scaling.TransformerConfig(int(row.n_layers), int(row.hidden), int(row.n_heads))
        args = (model, int(row.n_gpus), "dgx_a100_hdr", int(row.global_batch))
        kwargs = {"recomputes": recomputes, "interleaves": (1, 2, 3),
                  "overlap_dp": scaling.published.PAPERS_OVERLAP_DP}
        best_s = timing.time_call(
            lambda args=args, kwargs=kwargs: scaling.search_layouts(*args, **kwargs),
            repeats=max(1, repeats // 5)).best_s  # the warm-up call compiles the kernel
        df = scaling.search_layouts(*args, **kwargs)
        paper = t1.set_index("params_B").loc[params_B]
        top = df.iloc[0]
        searches.append((f"{params_B:g}B", "/".join(recomputes), int(row.n_gpus),
                         df.attrs["candidates"], len(df), best_s,
                         f"{int(top.tp)} x {int(top.pp)} x {int(top.dp)}, v "
                         f"{int(top.interleave)}, b {int(top.micro_batch)}, ZeRO "
                         f"{int(top.zero_stage)}, {top.recompute}",
                         top.total_s, f"{int(paper.tp)} x {int(paper.pp)} x {int(paper.dp)}, v "
                         f"{int(paper.interleave)}", paper.predicted_s,
                         note_check(f"scaling: search for {params_B}B finds the paper's layout "
                                    "or a faster one",
                                    top.total_s <= paper.predicted_s * (1 + 1e-9)
                                    and bool((df.memory_GB <= 80).all()))))
    print("\nlayout search (tp x pp x dp), each paper's model, GPU count and batch, the DP "
          "all-reduce not overlapped as in the papers; the paper's layout as predicted above")
    print()
    columns = [Column("model"), Column("recompute"), Column("GPUs", "d"), Column("layouts", "d"),
               Column("fit", "d"),
               Column("search (s)", ".3f"), Column("best layout"), Column("best (s)", ".2f"),
               Column("paper's layout"), Column("paper's (s)", ".2f"), Column("correct")]
    print(format_table(columns, searches))
    return searches, columns


def _scaling_deepseek() -> dict:
    """Print the DeepSeek-V3 estimate beside its reported GPU-hours per trillion tokens."""
    est = scaling.deepseek_v3_estimate()
    print("\nDeepSeek-V3 on 2048 H800s (h800_ib: NVLink 200 GB/s per direction), PP 16, EP 64 "
          "over 8 nodes, no TP, 15360 x 4096 tokens per step; H800 GPU-hours per 1e12 tokens")
    print()
    columns = [Column("case"), Column("step (s)", ".1f"), Column("all-to-all (s)", ".1f"),
               Column("MFU", ".1%"), Column("GPU-h per T tokens", ",.0f"),
               Column("vs reported", "+.0%")]
    rep = est["reported_gpu_hours_per_T"]
    rows = [("BF16, all-to-all exposed", est["bf16_step_s"], est["bf16_ep_comm_s"],
             est["bf16_mfu"], est["bf16_gpu_hours_per_T"]),
            ("FP8, all-to-all exposed", est["fp8_step_s"], est["fp8_ep_comm_s"], est["fp8_mfu"],
             est["fp8_gpu_hours_per_T"]),
            ("FP8, node-limited, hidden (DualPipe)", est["fp8_hidden_step_s"],
             est["a2a_exposed_s"], est["fp8_hidden_mfu"], est["fp8_hidden_gpu_hours_per_T"])]
    print(format_table(columns, [(*r, r[-1] / rep - 1) for r in rows]))
    print(f"reported: {rep:,.0f} H800 GPU-hours per trillion tokens (DeepSeek-AI 2024); network "
          f"copies per token {est['ib_copies_uniform']:.0f} uniform, "
          f"{est['ib_copies_limited']:.0f} node-limited")
    v2 = scaling.deepseek_v2_estimate()
    print(f"\nDeepSeek-V2 on {v2['n_gpus']} H800s (GPU count not published), PP 16 (60 layers, "
          "uneven), EP 8, ZeRO-1, no TP, BF16, 9216 x 4096 tokens per step")
    print()
    rep = v2["reported_gpu_hours_per_T"]
    rows = [("1F1B bubble, all-to-all exposed", v2["step_s"], v2["ep_comm_s"], v2["mfu"],
             v2["gpu_hours_per_T"]),
            ("all-to-all under the shared experts", v2["shared_overlap_step_s"],
             v2["ep_comm_s"] - v2["a2a_hidden_s"], v2["mfu"] * v2["step_s"]
             / v2["shared_overlap_step_s"], v2["shared_overlap_gpu_hours_per_T"]),
            ("... and no bubble (zero-bubble PP)", v2["zero_bubble_step_s"],
             v2["ep_comm_s"] - v2["a2a_hidden_s"], v2["mfu"] * v2["step_s"]
             / v2["zero_bubble_step_s"], v2["zero_bubble_gpu_hours_per_T"])]
    print(format_table(columns, [(*r, r[-1] / rep - 1) for r in rows]))
    print(f"reported: {rep:,.0f} H800 GPU-hours per trillion tokens (DeepSeek-AI 2024, V2)")
    est["v2"] = v2
    return est


def _scaling_zero3():
    """Print Narayanan et al.'s ZeRO-3 comparison, predicted, with the rate the runs imply."""
    z3 = scaling.predict_zero3_comparison()
    print("\nNarayanan et al. 2021, Section 5.2: ZeRO-3 without model parallelism (DeepSpeed, "
          "gathers prefetched, one flat ring per collective) against PTD-P (tp 8, Table 1's "
          "schedule) at a fixed batch; hardware-FLOP TFLOP/s per GPU")
    print()
    columns = [Column("model"), Column("scheme"), Column("GPUs", "d"), Column("b", "d"),
               Column("published", ".0f"), Column("predicted", ".0f"), Column("error", "+.0%"),
               Column("two-level rate", ".0f"), Column("DP (s)", ".1f"),
               Column("implied GB/s per GPU", ".0f"), Column("fits")]
    print(format_table(columns, [
        (r.model, r.scheme, r.n_gpus, r.micro_batch, r.published_tflops, r.predicted_tflops,
         r.error, r.two_level_tflops, r.dp_comm_s, r.implied_GBps,
         note_check(f"scaling: {r.model} {r.scheme} on {r.n_gpus} fits in memory", r.fits))
        for r in z3.itertuples()]))
    z, p = z3[z3.scheme == "ZeRO-3"], z3[z3.scheme == "PTD-P"]
    print(_scaling_error_line("ZeRO-3 rows", z.error))
    print(_scaling_error_line("PTD-P rows", p.error))
    print("'two-level rate': ZeRO-3 predicted with NCCL's two-level rate (eight ports per node); "
          "'implied GB/s': ZeRO-3's bytes per GPU over the time the published step leaves them "
          f"(one HDR port: {scaling.cluster('dgx_a100_hdr').scaleout_GBps:.0f} GB/s)")
    bl = scaling.predict_bloom().iloc[0]
    print(f"\nBLOOM-176B (Le Scao et al. 2022) on 384 A100s of Jean Zay (6.25 GB/s Omni-Path per "
          f"GPU), tp 4 x pp 12 x dp 8, ZeRO 1, full recomputation: published about "
          f"{bl.published_tflops:.0f} TFLOP/s per GPU, predicted {bl.predicted_tflops:.0f} "
          f"({bl.error:+.0%}; fits: {note_check('scaling: BLOOM fits in memory', bl.fits)})")
    nm = scaling.predict_nemotron4().iloc[0]
    print(f"Nemotron-4 340B (NVIDIA 2024, Table 2) on 6144 H100s, tp 8 x pp 12 x dp 64, batch "
          f"2304, 1F1B, selective recomputation (not stated): published {nm.published_s:.1f} s "
          f"per iteration, predicted {nm.predicted_s:.2f} s (throughput error {nm.error:+.0%}; "
          f"fits: {note_check('scaling: Nemotron-4 fits in memory', nm.fits)})")
    return z3


def bench_scaling(repeats: int) -> dict:
    print_section("Scaling a training job: predicted vs published, and the layout search")
    t1, ko, ll = _scaling_validation()
    z3 = _scaling_zero3()
    est = _scaling_deepseek()
    searches, columns = _scaling_searches(t1, repeats)
    return {"table1": t1.to_dict("records"), "korthikanti": ko.to_dict("records"),
            "llama3": ll.to_dict("records"), "zero3": z3.to_dict("records"), "deepseek_v3": est,
            "korthikanti_layer": scaling.predict_korthikanti_layer().to_dict("records"),
            "search": [dict(zip([c.header for c in columns], r, strict=True)) for r in searches]}


def bench_decode(repeats: int) -> dict:
    print_section("Transformer decode vs the measured roofline (chapter on serving)")
    config, context = decodebench.CHAPTER_CONFIG, 128
    print(f"decoder: {config.n_layers} layers, d_model {config.d_model}, {config.n_heads} query / "
          f"{config.n_kv_heads} KV heads, {config.matrix_params * 4 / 1e6:.0f} MB of float32 "
          f"matrices; {context} cached tokens per sequence; roofline: numba triad and float32 FMA "
          "peak at the same thread count")
    columns = [Column("batch"), Column("step (ms)", ".1f"), Column("tokens/s", ".1f"),
               Column("bound (tokens/s)", ".1f"), Column("bound by"), Column("ratio", ".2f"),
               Column("correct")]
    results = {}
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        roof = roofline.from_measurements(
            membench.measure_bandwidth("triad", threads=threads, repeats=max(3, repeats // 2)),
            flops.measure_peak_flops("float32", threads=threads, repeats=max(3, repeats // 2)))
        df, failure = checked(decodebench.measure_decode, roof, (1, 2, 4, 8, 16, 32, 64),
                              context=context, threads=threads, repeats=max(3, repeats // 3))
        print(f"\n{threads} thread(s): triad {roof.bw_GBps:.2f} GB/s, float32 peak "
              f"{roof.peak_GFLOPs:.1f} GFLOP/s, ridge {roof.ridge_point:.1f} FLOP/byte; "
              f"predicted turnover at batch {decodebench.turnover_batch(roof, config, context)}")
        if df is None:
            note_check(f"decode on {threads} thread(s)", False)
            print(f"  {failure}")
            continue
        print(format_table(columns, [
            (r.batch, 1e3 * r.best_s, r.tokens_per_s, r.predicted_tokens_per_s, r.bound, r.ratio,
             note_check(f"decode batch {r.batch}, {threads} thread(s)", r.max_rel_error <= 1e-4))
            for r in df.itertuples()]))
        results[f"threads_{threads}"] = {"bw_GBps": roof.bw_GBps, "peak_GFLOPs": roof.peak_GFLOPs,
                                         "rows": df.to_dict("records")}
    return results


SECTIONS = {"roofline": bench_roofline, "ladder": bench_ladder, "multiplier": bench_multiplier,
            "memory": bench_memory, "systolic": bench_systolic, "sparse": bench_sparse,
            "scaling": bench_scaling, "decode": bench_decode}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed repetitions (default 10)")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append",
                        help="run only these sections (repeatable)")
    parser.add_argument("--json", type=pathlib.Path, help="also write all figures to this file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    results = {"machine": str(machine.describe())}
    for name in args.only or SECTIONS:
        results[name] = SECTIONS[name](args.repeats)
    if TARGETS:
        print("\n== Speed targets of this run, side by side (ratios; 'needed' is a floor, or a "
              "ceiling for block-sparse / (density x dense)) ==")
        print(format_table(TARGET_COLUMNS, TARGETS))
        results["targets"] = [dict(zip([c.header for c in TARGET_COLUMNS], t, strict=True))
                              for t in TARGETS]
    results["failed_checks"] = list(FAILED_CHECKS)
    if args.json:
        # NumPy scalars (a bool verdict, a float64 ratio) as the Python values they hold
        plain = lambda o: o.item() if hasattr(o, "item") else str(o)  # noqa: E731
        args.json.write_text(json.dumps(results, indent=2, default=plain))
        print(f"\nwrote {args.json}")
    if FAILED_CHECKS:
        print("\nFAILED correctness checks:\n  " + "\n  ".join(FAILED_CHECKS))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
