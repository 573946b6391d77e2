"""Stored reference runs: the roofline and GEMM figures of chapters 3 and 4, measured on named
machines and kept in the package, so a page can show them beside the reader's own.

Record this machine's and store it (from the repository root)::

    python -m aichip.refruns --save

which measures with :func:`aichip.contention.measure_roofline` (re-measuring a disturbed run) and
:func:`aichip.gemm.benchmark`, and writes ``code/aichip/data/machines/<machine>.json``. Each file
holds a ``machine`` label (CPU model, widest vector ISA, logical CPUs, BLAS library and kernel set,
and, where it was read, ``arch``: LLVM's name for the CPU's microarchitecture, e.g. ``znver4``),
``figures`` (name -> best and median rate, with unit, or best only where that is all the source
gave), ``source`` (how the figures were obtained) and ``note`` (the run's own verdict: disturbed or
not, or what is missing). A stored record is read back unchanged by :func:`stored`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import re
import sys
from importlib import resources

from .validation import check_choice

__all__ = ["STORE", "FIGURES", "machine_label", "record", "save", "stored", "table", "main"]

#: where the records live (inside the package, so a pip-installed aichip has them too)
STORE = pathlib.Path(str(resources.files("aichip").joinpath("data/machines")))

#: the figures a record may hold: key -> (what it is, unit)
FIGURES = {
    "triad_GBps": ("STREAM triad, all cores", "GB/s"),
    "fma_GFLOPs": ("FMA peak kernel (numba), float64", "GFLOP/s"),
    "dgemm_GFLOPs": ("NumPy DGEMM, n = 2000", "GFLOP/s"),
    "dgemv_GFLOPs": ("NumPy DGEMV, n = 4000", "GFLOP/s"),
    "packed_512_GFLOPs": ("packed GEMM (aichip.gemm), n = 512, float64", "GFLOP/s"),
    "numpy_512_GFLOPs": ("NumPy GEMM, n = 512, float64", "GFLOP/s"),
}


def machine_label() -> dict:
    """This machine's label: ``cpu``, ``isa`` (widest vector instructions), ``cores`` (logical
    CPUs), ``blas`` (library and kernel set), as :mod:`aichip.machine` reads them, and ``arch``,
    the microarchitecture LLVM detects (a virtual machine often reports only "AMD EPYC" or
    "Intel Xeon" as its model, and two such machines can be different CPU families)."""
    import llvmlite.binding as llvm

    from . import machine

    info, blas = machine.describe(), machine.blas_info()
    isa = blas.cpu_vector_isa or "unknown"
    core = f", {blas.core} kernels" if blas.core else ""
    return {"cpu": info.cpu_model, "isa": isa, "cores": info.logical_cpus,
            "blas": f"{blas.library} {blas.version or ''}".strip() + core,
            "arch": llvm.get_host_cpu_name()}


def record(repeats: int = 5, max_attempts: int = 3) -> dict:
    """Measure this machine's reference figures (a few tens of seconds) and return the record."""
    from . import contention, gemm

    run = contention.measure_roofline(repeats=repeats, max_attempts=max_attempts)
    res = run.results
    bench = gemm.benchmark(n=512, variants=("packed",), repeats=repeats).set_index("variant")
    figures = {
        "triad_GBps": [res["STREAM triad"].best_GBps, res["STREAM triad"].median_GBps],
        "fma_GFLOPs": [res["FMA peak"].best_GFLOPs, res["FMA peak"].median_GFLOPs],
        "dgemm_GFLOPs": [res["DGEMM"].best_GFLOPs, res["DGEMM"].median_GFLOPs],
        "dgemv_GFLOPs": [res["DGEMV"].best_GFLOPs, res["DGEMV"].median_GFLOPs],
        "packed_512_GFLOPs": [float(bench.loc["packed", "GFLOPs"]), None],
        "numpy_512_GFLOPs": [float(bench.loc["numpy", "GFLOPs"]), None],
    }
    return {"machine": machine_label(), "figures": figures,
            "source": "measured with python -m aichip.refruns --save on "
                      + datetime.date.today().isoformat(),
            "note": run.verdict.statement()}


def _slug(label: dict) -> str:
    # the ISA is part of the name: two VMs both called "AMD EPYC" with 2 CPUs were different CPUs
    words = re.sub(r"[^a-z0-9]+", "-", f"{label['cpu']} {label['isa']} {label['cores']}cpu".lower())
    return words.strip("-")[:80]


def save(rec: dict, directory: str | pathlib.Path | None = None) -> pathlib.Path:
    """Write ``rec`` to ``<directory>/<machine>.json`` (default :data:`STORE`); return the path."""
    _check_record(rec)
    directory = pathlib.Path(STORE if directory is None else directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{_slug(rec['machine'])}.json"
    path.write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
    return path


def _check_record(rec) -> None:
    if not isinstance(rec, dict) or not {"machine", "figures", "source"} <= set(rec):
        raise ValueError("rec must be a dict with 'machine', 'figures' and 'source'")
    for key in ("cpu", "isa", "cores", "blas"):
        if key not in rec["machine"]:
            raise ValueError(f"rec['machine'] must have {key!r} (a machine is always labelled)")
    for key, value in rec["figures"].items():
        check_choice("figure", key, FIGURES)
        if not (isinstance(value, list) and len(value) == 2 and value[0] is not None
                and value[0] > 0):
            raise ValueError(f"figure {key!r} must be [best > 0, median or None], got {value!r}")


def stored(directory: str | pathlib.Path | None = None) -> list[dict]:
    """Every stored record, sorted by file name (each checked as :func:`save` checks it)."""
    directory = pathlib.Path(STORE if directory is None else directory)
    records = []
    for path in sorted(directory.glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        _check_record(rec)
        records.append(rec)
    return records


def table(records, keys=None, own: dict | None = None):
    """One row per machine (the reader's own first, if given as ``own``: figure key -> best), one
    column per figure of ``keys`` (default all), best rates; a figure a record lacks is NaN.

    Returns
    -------
    pandas.DataFrame
        Columns ``machine`` (its label in words), ``source``, then ``<what> (<unit>)`` per figure,
        then ``note`` (the record's own remark: disturbed run, partial figures).
    """
    import pandas as pd

    keys = list(FIGURES if keys is None else keys)
    for key in keys:
        check_choice("keys", key, FIGURES)
    rows = []
    if own is not None:
        rows.append({"machine": "this page's run (the reader's machine)", "source": "this page",
                     **{k: own.get(k) for k in keys}, "note": ""})
    for rec in records:
        m = rec["machine"]
        arch = f"{m['arch']}, " if m.get("arch") else ""
        rows.append({"machine": f"{m['cpu']} ({arch}{m['isa']}, {m['cores']} CPUs, {m['blas']})",
                     "source": rec["source"],
                     **{k: rec["figures"][k][0] if k in rec["figures"] else None for k in keys},
                     "note": rec.get("note", "")})
    frame = pd.DataFrame(rows)
    return frame.rename(columns={k: f"{FIGURES[k][0]} ({FIGURES[k][1]})" for k in keys})


def main(argv=None) -> int:
    """Command line: measure and print this machine's record; ``--save`` also stores it."""
    p = argparse.ArgumentParser(prog="python -m aichip.refruns", description=__doc__.split("\n")[0])
    p.add_argument("--save", action="store_true", help=f"write it to {STORE}/<machine>.json")
    p.add_argument("--dir", default=None, help="store in this directory instead")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    rec = record(repeats=args.repeats)
    print(json.dumps(rec, indent=1))
    if args.save:
        print("saved to", save(rec, args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
