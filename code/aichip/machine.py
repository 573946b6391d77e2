"""Describe the machine a measurement ran on, so every measured figure can say where it came from."""

from __future__ import annotations

import os
import platform
from typing import NamedTuple


class MachineInfo(NamedTuple):
    """What the reader's machine is: CPU model, logical CPUs visible, numba threads, last-level cache."""

    cpu_model: str
    logical_cpus: int
    numba_threads: int
    llc_bytes: int | None
    python: str
    numba: str
    numpy: str

    def __str__(self) -> str:
        llc = f", last-level cache {self.llc_bytes / 2**20:.0f} MiB" if self.llc_bytes else ""
        return (f"{self.cpu_model}, {self.logical_cpus} logical CPUs, {self.numba_threads} numba "
                f"threads{llc}\nPython {self.python}, numba {self.numba}, NumPy {self.numpy}")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _last_level_cache_bytes() -> int | None:
    """Size of the largest cache the OS reports for CPU 0 (Linux sysfs), or None if unknown."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    sizes = []
    try:
        for entry in os.listdir(base):
            if not entry.startswith("index"):
                continue
            with open(os.path.join(base, entry, "size"), encoding="utf-8") as f:
                text = f.read().strip()
            scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1], 1)
            sizes.append(int(text.rstrip("KMG")) * scale)
    except (OSError, ValueError):
        return None
    return max(sizes) if sizes else None


def describe() -> MachineInfo:
    """Return a :class:`MachineInfo` for the machine this Python process runs on."""
    import numba
    import numpy

    return MachineInfo(
        cpu_model=_cpu_model(),
        logical_cpus=os.cpu_count() or 1,
        numba_threads=numba.config.NUMBA_NUM_THREADS,
        llc_bytes=_last_level_cache_bytes(),
        python=platform.python_version(),
        numba=numba.__version__,
        numpy=numpy.__version__,
    )
