"""Execute the chapters again and again, optionally under load, and check none of them stalls.

Issue 12, part 1: the Jupyter client could miss a cell's ``execute_reply`` and wait for the whole
cell timeout (300 s) although the kernel had answered (cause and fix: ``_ext/zmq_rearm.py``).
This script executes chapters with nbclient, the client that ``make book`` and ``make test`` use,
round after round, and reports per chapter the fastest, median and slowest execution. A run
passes when no execution takes longer than twice the fastest execution of the same chapter
plus 30 s (a stall adds the whole cell timeout, far beyond that bound).

    make stress                                   # 8 rounds of every chapter under load
    .venv/bin/python tools/stress_notebooks.py --rounds 10 --load chapters/01_landscape.ipynb
    .venv/bin/python tools/stress_notebooks.py --no-fix --load --timeout 60 chapters/01_*.ipynb

``--load`` runs the load the stall was first seen under while the chapters execute: one CPU busy
loop and a loop of ``dd ... conv=fsync`` (64 MiB each), both stopped at the end. ``--no-fix``
executes without the client-side fix, to reproduce the stall (use a short ``--timeout``).
The kernels import ``aichip`` from this checkout (``code/`` is put on their PYTHONPATH).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path,
                        help="chapters to execute (default: every chapters/NN_*.ipynb)")
    parser.add_argument("--rounds", type=_positive_int, default=8,
                        help="executions of each chapter (default 8)")
    parser.add_argument("--timeout", type=_positive_int, default=300,
                        help="cell timeout in seconds, as in _config.yml (default 300)")
    parser.add_argument("--load", action="store_true",
                        help="run a CPU busy loop and a dd conv=fsync loop meanwhile")
    parser.add_argument("--no-fix", action="store_true",
                        help="execute without _ext/zmq_rearm (reproduces the stall)")
    parser.add_argument("--json", type=pathlib.Path, help="write every execution's time here")
    args = parser.parse_args(argv)
    if not args.notebooks:
        args.notebooks = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
    for nb in args.notebooks:
        if nb.suffix != ".ipynb" or not nb.is_file():
            parser.error(f"notebooks: {nb} is not a notebook file")
    return args


class Load:
    """A CPU busy loop and an fsync-heavy dd loop, for as long as the context is open."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.scratch = tempfile.NamedTemporaryFile(prefix="stress-dd-", delete=False)
        self.scratch.close()

    def __enter__(self) -> Load:
        busy = [sys.executable, "-c", "while True: pass"]
        dd = ("while :; do dd if=/dev/zero of=\"$0\" bs=1M count=64 conv=fsync status=none; done")
        self.procs.append(subprocess.Popen(busy, start_new_session=True))
        self.procs.append(subprocess.Popen(["sh", "-c", dd, self.scratch.name],
                                           start_new_session=True))
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:  # each in its own session: stop exactly what we started
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait()
        os.unlink(self.scratch.name)


def execute(path: pathlib.Path, timeout: int) -> tuple[float, str | None]:
    """Execute one notebook with nbclient; return (seconds, error or None)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as exc:  # report and go on: a failed run is a finding, not a crash
        detail = getattr(exc, "evalue", None) or str(exc)
        lines = [line for line in str(detail).splitlines() if line.strip()]
        error = f"{getattr(exc, 'ename', None) or type(exc).__name__}: {lines[-1] if lines else ''}"
    return time.perf_counter() - start, error


def summarise(times: dict[str, list[float]]) -> tuple[list[str], bool]:
    lines = [f"{'chapter':<24} {'runs':>4} {'min (s)':>8} {'median (s)':>10} {'max (s)':>8} "
             f"{'bound (s)':>9}  ok"]
    all_ok = True
    for name, ts in times.items():
        fastest = min(ts)
        bound = 2 * fastest + 30
        ok = max(ts) <= bound
        all_ok &= ok
        lines.append(f"{name:<24} {len(ts):>4} {fastest:>8.1f} {statistics.median(ts):>10.1f} "
                     f"{max(ts):>8.1f} {bound:>9.1f}  {'yes' if ok else 'NO'}")
    return lines, all_ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    code = str(ROOT / "code")
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if code not in paths:  # kernels inherit the environment: make them import this aichip
        os.environ["PYTHONPATH"] = os.pathsep.join([code] + [p for p in paths if p])
    sys.path.insert(0, str(ROOT))
    from _ext import zmq_rearm

    if args.no_fix:
        zmq_rearm.uninstall()
    else:
        zmq_rearm.install()

    times: dict[str, list[float]] = {nb.name: [] for nb in args.notebooks}
    runs = []
    print(f"{args.rounds} rounds of {len(args.notebooks)} chapters, cell timeout {args.timeout} s, "
          f"load {'on' if args.load else 'off'}, fix {'off' if args.no_fix else 'on'}, "
          f"{os.cpu_count()} CPUs", flush=True)
    load = Load() if args.load else None
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the load on `kill` too
    try:
        if load:
            load.__enter__()
        for rnd in range(1, args.rounds + 1):
            for nb in args.notebooks:
                seconds, error = execute(nb, args.timeout)
                times[nb.name].append(seconds)
                runs.append({"round": rnd, "chapter": nb.name, "seconds": round(seconds, 2),
                             "error": error, "load1": round(os.getloadavg()[0], 2)})
                load = os.getloadavg()[0]
                print(f"round {rnd:>3}  {nb.name:<24} {seconds:7.1f} s  load {load:5.2f}"
                      + (f"  ERROR {error}" if error else ""), flush=True)
    finally:
        if load:
            load.__exit__(None, None, None)

    lines, ok = summarise(times)
    errors = [r for r in runs if r["error"]]
    print("\n" + "\n".join(lines))
    print(f"{len(runs)} executions, {len(errors)} with errors; "
          + ("no execution exceeded 2 x fastest + 30 s" if ok else "SOME EXECUTIONS STALLED"))
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "timeout_s": args.timeout,
                                         "load": args.load, "fix": not args.no_fix,
                                         "cpus": os.cpu_count(), "runs": runs,
                                         "summary": lines}, indent=1) + "\n")
    return 0 if ok and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
