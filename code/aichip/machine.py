"""Describe the machine a measurement ran on, so every measured figure can say where it came
from."""

from __future__ import annotations

import os
import platform
import re
from typing import NamedTuple

__all__ = [
    "MachineInfo", "CacheInfo", "cache_levels", "describe", "cpu_vector", "BlasInfo", "blas_info",
]


class MachineInfo(NamedTuple):
    """What the reader's machine is: CPU model, logical CPUs visible, numba threads, last-level
    cache."""

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


def _cpuinfo_field(*keys: str) -> str | None:
    """Value of the first line of ``/proc/cpuinfo`` that starts with one of ``keys`` (Linux), or
    None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            values = (line.split(":", 1)[1].strip() for line in f if line.startswith(keys))
            return next(values, None)
    except OSError:
        return None


def _cpu_model() -> str:
    return (_cpuinfo_field("model name") or platform.processor() or platform.machine()
            or "unknown CPU")


class CacheInfo(NamedTuple):
    """One cache the OS reports for CPU 0: ``level`` (1, 2, 3), ``kind`` (``"Data"``,
    ``"Instruction"``, ``"Unified"``), ``size_bytes`` (1 KiB = 1024 bytes, as the OS counts), and
    ``shared_cpus`` (how many logical CPUs share it: a per-core L1 says 1 or 2, a shared L3 says
    all)."""

    level: int
    kind: str
    size_bytes: int
    shared_cpus: int


def _parse_size(text: str) -> int:
    """``"32K"`` -> 32768: the size format of sysfs and lscpu (binary prefixes)."""
    text = text.strip()
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def _count_cpus(cpu_list: str) -> int:
    """Number of CPUs in a sysfs list such as ``"0-3,8"``."""
    count = 0
    for part in cpu_list.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            count += int(hi or lo) - int(lo) + 1
    return count


def cache_levels(base: str = "/sys/devices/system/cpu/cpu0/cache") -> list[CacheInfo]:
    """The caches the OS reports for CPU 0 (Linux sysfs), smallest level first; [] if unknown.

    ``base`` is the sysfs directory (a test can point it at a copy). In a virtual machine these are
    what the hypervisor chose to tell the guest, which need not be the physical caches.
    """
    levels = []
    try:
        entries = sorted(e for e in os.listdir(base) if e.startswith("index"))
        for entry in entries:
            def field(name, entry=entry):
                with open(os.path.join(base, entry, name), encoding="utf-8") as f:
                    return f.read().strip()
            try:
                shared = _count_cpus(field("shared_cpu_list"))
            except OSError:
                shared = 1
            levels.append(CacheInfo(int(field("level")), field("type"), _parse_size(field("size")),
                                    shared))
    except (OSError, ValueError):
        return []
    return sorted(levels, key=lambda c: (c.level, c.kind != "Data"))


def _last_level_cache_bytes() -> int | None:
    """Size of the largest cache the OS reports for CPU 0 (Linux sysfs), or None if unknown."""
    sizes = [c.size_bytes for c in cache_levels()]
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


# --- vector width of the CPU and of the BLAS kernels NumPy uses --------------------------------

#: the widest vector instruction set a CPU flag announces, widest first: (flag, bits, name)
_CPU_VECTOR_FLAGS = (("avx512f", 512, "AVX-512"), ("avx2", 256, "AVX2"), ("avx", 256, "AVX"),
                     ("sse2", 128, "SSE2"), ("asimd", 128, "NEON"))

#: OpenBLAS's kernel sets (its "core names", which threadpoolctl reports as ``architecture``; lower
#: case, punctuation removed) and the vector instructions their DGEMM kernels use; see OpenBLAS's
#: ``TargetList.txt``.
_OPENBLAS_CORE_VECTOR = {
    "sapphirerapids": (512, "AVX-512"), "cooperlake": (512, "AVX-512"),
    "skylakex": (512, "AVX-512"),
    "haswell": (256, "AVX2"), "zen": (256, "AVX2"), "sandybridge": (256, "AVX"),
    "nehalem": (128, "SSE"), "core2": (128, "SSE"), "penryn": (128, "SSE"),
    "prescott": (128, "SSE"),
    "armv8": (128, "NEON"), "cortexa57": (128, "NEON"), "cortexa72": (128, "NEON"),
    "neoversen1": (128, "NEON"), "neoversen2": (128, "SVE"), "neoversev1": (256, "SVE"),
}


def cpu_vector(flags: str | None = None) -> tuple[int, str] | None:
    """Widest vector instruction set this CPU announces, as ``(bits, name)``, e.g.
    ``(512, "AVX-512")``.

    ``flags`` is the ``flags``/``Features`` line of ``/proc/cpuinfo`` (read from the machine when
    None). Returns None when it cannot be told (no ``/proc/cpuinfo``, unknown architecture). Note
    that the instruction width is not always the datapath width: AMD Zen 4 runs 512-bit AVX-512
    instructions as two 256-bit halves.
    """
    if flags is None:
        flags = _cpuinfo_field("flags", "Features")  # x86, Arm
        if flags is None:
            return None
    elif not isinstance(flags, str):
        raise TypeError(f"flags must be a string of CPU flags, got {type(flags).__name__}")
    present = set(flags.split())
    return next(((bits, name) for flag, bits, name in _CPU_VECTOR_FLAGS if flag in present), None)


class BlasInfo(NamedTuple):
    """The BLAS library NumPy calls and the kernel set it chose for this CPU.

    ``library`` is the implementation as threadpoolctl names it (``"openblas"``, ``"mkl"``,
    ``"blis"``); ``core`` is the kernel set (OpenBLAS's and BLIS's "architecture", e.g.
    ``"Haswell"``), None where the library does not say; ``vector_bits``/``vector_isa`` are the
    vector instructions those kernels use, None if unknown; ``cpu_vector_bits``/``cpu_vector_isa``
    are the widest the CPU offers; ``version`` and ``threads`` (the library's thread count) as the
    library reports them.
    """

    library: str
    core: str | None
    vector_bits: int | None
    vector_isa: str | None
    cpu_vector_bits: int | None
    cpu_vector_isa: str | None
    version: str | None = None
    threads: int | None = None

    def __str__(self) -> str:
        name = self.library if self.version is None else f"{self.library} {self.version}"
        if self.threads is not None:
            name += f", {self.threads} threads"
        if self.core is None:
            blas = f"NumPy's BLAS: {name} (which kernels it chose could not be read)"
        elif self.vector_bits is None:
            blas = f"NumPy's BLAS: {name}, {self.core} kernels"
        else:
            blas = (f"NumPy's BLAS: {name}, {self.core} kernels "
                    f"({self.vector_bits}-bit {self.vector_isa})")
        cpu = ("" if self.cpu_vector_bits is None else
               f"\nCPU's widest vectors: {self.cpu_vector_bits}-bit {self.cpu_vector_isa}")
        return blas + cpu


def _numpy_blas_pool() -> dict | None:
    """threadpoolctl's record of the BLAS library NumPy loaded (None if it finds none).

    When several BLAS libraries are loaded (SciPy brings its own copy), the one inside NumPy's
    installation is NumPy's.
    """
    import numpy  # importing NumPy loads its BLAS into the process
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    numpy_dir = os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__)))
    own = [p for p in pools if os.path.abspath(p["filepath"]).startswith(
        os.path.join(numpy_dir, "numpy"))]
    return (own or pools or [None])[0]


def blas_info() -> BlasInfo:
    """Describe NumPy's BLAS and the vector width of its kernels next to the CPU's (see
    :class:`BlasInfo`).

    Read with threadpoolctl, which asks the loaded library itself. A BLAS DGEMM can only be as fast
    as the instructions its kernels use: a library that does not recognise a new CPU falls back to
    an older kernel set, and on a CPU with 512-bit FMA units a 256-bit kernel reaches at most half
    the arithmetic peak.
    """
    pool = _numpy_blas_pool()
    cpu = cpu_vector()
    cpu_bits, cpu_isa = cpu if cpu else (None, None)
    if pool is None:
        return BlasInfo("unknown", None, None, None, cpu_bits, cpu_isa)
    library = pool["internal_api"]
    core = pool.get("architecture") or None
    bits = isa = None
    if library == "openblas" and core:
        bits, isa = _OPENBLAS_CORE_VECTOR.get(re.sub(r"[^a-z0-9]", "", core.lower()),
                                              (None, None))
    return BlasInfo(library, core, bits, isa, cpu_bits, cpu_isa, pool.get("version"),
                    pool.get("num_threads"))
