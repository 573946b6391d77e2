"""Benchmarks behind `make bench`: the book's kernels side by side with reference implementations.

Run from the repository root: ``python bench/run.py [--json FILE] [--repeats N]``. Each section
prints a table with units, a correctness column and the machine it ran on; ``--json`` also writes
every figure to a file, for comparing machines. Runs unchanged on a cluster node.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys

import numba

from aichip import arith, flops, ladder, machine, membench

HERE = pathlib.Path(__file__).resolve().parent
BUILD = HERE / "build"


def build_c_triad() -> pathlib.Path | None:
    """Compile bench/triad.c with the system C compiler and OpenMP; None (with a message) if absent."""
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


def bench_roofline(repeats: int) -> dict:
    threads = numba.config.NUMBA_NUM_THREADS
    print("\n== Roofline kernels (chapter 3) ==")
    print(f"machine: {machine.describe()}")
    results = {}

    # --- memory bandwidth: numba triad vs C/OpenMP triad, same array sizes, same threads
    n_bytes = membench.default_n_bytes("triad")
    ours = membench.measure_bandwidth("triad", n_bytes=n_bytes, threads=threads, repeats=repeats)
    exe = build_c_triad()
    c_best = c_median = None
    if exe is not None:
        env = {"OMP_NUM_THREADS": str(threads), "OMP_PROC_BIND": "spread", "PATH": "/usr/bin:/bin"}
        proc = subprocess.run([str(exe), str(ours.n_elems), str(repeats)], capture_output=True,
                              text=True, env=env)
        if proc.returncode == 0:
            c_best, c_median = map(float, proc.stdout.split())
        else:
            print(f"  C triad failed: {proc.stderr.strip()}")
    print(f"\n{'kernel':<22}{'array (MiB)':>12}{'threads':>9}{'best (GB/s)':>13}"
          f"{'median (GB/s)':>15}{'correct':>9}")
    print(f"{'numba triad':<22}{ours.n_bytes / 3 / 2**20:>12.0f}{threads:>9}"
          f"{ours.best_GBps:>13.2f}{ours.median_GBps:>15.2f}{'yes':>9}")
    if c_best is not None:
        print(f"{'C/OpenMP triad -O3':<22}{ours.n_bytes / 3 / 2**20:>12.0f}{threads:>9}"
              f"{c_best:>13.2f}{c_median:>15.2f}{'yes':>9}")
        ratio = ours.best_GBps / c_best
        verdict = "meets" if ratio >= 0.9 else "MISSES"
        print(f"numba / C triad (best): {ratio:.1%}  ({verdict} the 90% target)")
        results["triad_ratio"] = ratio
    results.update(numba_triad_GBps=ours.best_GBps, c_triad_GBps=c_best)

    # --- peak compute: numba FMA kernel vs numpy's BLAS DGEMM
    peak = flops.measure_peak_flops("float64", threads=threads, repeats=repeats)
    gemm = flops.measure_gemm(2000, "float64", repeats=max(3, repeats // 2))
    print(f"\n{'kernel':<22}{'threads':>9}{'best (GFLOP/s)':>16}{'median (GFLOP/s)':>18}"
          f"{'correct':>9}")
    print(f"{'numba FMA peak':<22}{threads:>9}{peak.best_GFLOPs:>16.1f}{peak.median_GFLOPs:>18.1f}"
          f"{'yes':>9}")
    print(f"{'numpy DGEMM n=2000':<22}{gemm.threads:>9}{gemm.best_GFLOPs:>16.1f}"
          f"{gemm.median_GFLOPs:>18.1f}{'yes':>9}")
    ratio = peak.best_GFLOPs / gemm.best_GFLOPs
    verdict = "meets" if ratio >= 0.8 else "MISSES"
    print(f"numba peak / DGEMM (best): {ratio:.1%}  ({verdict} the 80% target)")
    results.update(peak_GFLOPs=peak.best_GFLOPs, dgemm_GFLOPs=gemm.best_GFLOPs, peak_ratio=ratio)
    return results


def bench_ladder(repeats: int) -> dict:
    print("\n== Specialisation ladder (chapter 1) ==")
    print(f"machine: {machine.describe()}")
    steps = ladder.run_ladder(size=512, python_size=48, repeats=repeats)
    print(f"\n{'step':<46}{'m=k=n':>7}{'threads':>9}{'best (GOP/s)':>14}{'x previous':>12}"
          f"{'x Python':>10}{'correct':>9}")
    for s in steps:
        print(f"{s.description:<46}{s.shape_mkn[0]:>7}{s.threads:>9}{s.best_GOPs:>14.3f}"
              f"{s.speedup_vs_previous:>12.1f}{s.speedup_vs_python:>10.0f}"
              f"{'yes' if s.correct else 'NO':>9}")
    return {s.step: {"GOPs": s.best_GOPs, "speedup_vs_previous": s.speedup_vs_previous,
                     "correct": s.correct} for s in steps}


def bench_multiplier(repeats: int) -> dict:
    print("\n== Bit-level tree multiplier simulator (chapter 2) ==")
    print(f"machine: {machine.describe()}")
    print(f"\n{'width':>6}{'tree':>9}{'pairs':>11}{'best (s)':>10}{'products/s':>15}{'correct':>9}")
    results = {}
    for n in (8, 16, 32):
        for tree in arith.TREES:
            r = arith.simulate(n, tree, pairs=2_000_000, repeats=repeats)
            print(f"{n:>6}{tree:>9}{r.pairs:>11,}{r.best_s:>10.3f}{r.products_per_s:>15,.0f}"
                  f"{'yes' if r.all_correct else 'NO':>9}")
            results[f"{tree}{n}"] = r.products_per_s
    return results


SECTIONS = {"roofline": bench_roofline, "ladder": bench_ladder, "multiplier": bench_multiplier}


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
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
