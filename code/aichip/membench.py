"""STREAM-style memory-bandwidth kernels (copy, scale, add, triad), multi-threaded with numba.

The four kernels and their byte counts follow McCalpin's STREAM benchmark:

========  ======================  =====================  ==================
kernel    operation               bytes per element      flops per element
========  ======================  =====================  ==================
copy      ``c[i] = a[i]``         16 (1 read, 1 write)   0
scale     ``b[i] = s * c[i]``     16 (1 read, 1 write)   1
add       ``c[i] = a[i] + b[i]``  24 (2 reads, 1 write)  1
triad     ``a[i] = b[i] + s*c[i]`` 24 (2 reads, 1 write)  2
========  ======================  =====================  ==================

**Write-allocate traffic is not counted**, as in STREAM: on a write-allocate cache a store to a line
that is not cached first reads the line from memory, so the DRAM really moves one extra read per
written element (triad moves 32 bytes per element, not 24) unless the compiler emits non-temporal
stores. The reported GB/s is therefore the *useful* bandwidth a program sees, and is directly
comparable with STREAM and with the compiled C reference in ``bench/``;
``BandwidthResult.best_dram_GBps`` adds the write-allocate reads back in.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import machine
from .source import marked_source
from .threads import numba_threads
from .timing import time_call
from .validation import check_choice, check_int, check_threads

__all__ = [
    "KERNELS", "BandwidthResult", "default_n_bytes", "kernel_source", "measure_bandwidth",
    "reference", "run_kernel",
]

#: bytes moved and flops done per array element, by kernel (STREAM conventions)
KERNELS = {
    "copy": {"arrays": 2, "bytes_per_elem": 16, "flops_per_elem": 0},
    "scale": {"arrays": 2, "bytes_per_elem": 16, "flops_per_elem": 1},
    "add": {"arrays": 3, "bytes_per_elem": 24, "flops_per_elem": 1},
    "triad": {"arrays": 3, "bytes_per_elem": 24, "flops_per_elem": 2},
}

_SCALAR = 3.0  # STREAM's scalar
# every kernel writes one float64 array, and each written line is read first
_WRITE_ALLOCATE_BYTES = 8


@njit(parallel=True, cache=True)
def _fill_kernel(x, value):
    # Parallel first touch: pages land near the thread that will use them on NUMA machines.
    for i in prange(x.shape[0]):
        x[i] = value


# magictoken: copy-begin
@njit(parallel=True, cache=True)
def _copy_kernel(a, b, c, s):
    for i in prange(a.shape[0]):
        c[i] = a[i]
# magictoken: copy-end


# magictoken: scale-begin
@njit(parallel=True, cache=True)
def _scale_kernel(a, b, c, s):
    for i in prange(a.shape[0]):
        b[i] = s * c[i]
# magictoken: scale-end


# magictoken: add-begin
@njit(parallel=True, cache=True)
def _add_kernel(a, b, c, s):
    for i in prange(a.shape[0]):
        c[i] = a[i] + b[i]
# magictoken: add-end


# magictoken: triad-begin
@njit(parallel=True, cache=True)
def _triad_kernel(a, b, c, s):
    for i in prange(a.shape[0]):
        a[i] = b[i] + s * c[i]
# magictoken: triad-end


_KERNEL_FUNCS = {"copy": _copy_kernel, "scale": _scale_kernel, "add": _add_kernel,
                 "triad": _triad_kernel}


def run_kernel(kernel: str, a: np.ndarray, b: np.ndarray, c: np.ndarray, scalar: float = _SCALAR):
    """Run one STREAM kernel once, in place, on float64 arrays ``a``, ``b``, ``c`` of shape (n,)."""
    check_choice("kernel", kernel, KERNELS)
    for name, x in (("a", a), ("b", b), ("c", c)):
        if not isinstance(x, np.ndarray) or x.dtype != np.float64 or x.ndim != 1:
            raise TypeError(f"{name} must be a 1-D float64 numpy array")
    if not a.shape == b.shape == c.shape:
        raise ValueError(f"a, b, c must have the same shape, got {a.shape}, {b.shape}, {c.shape}")
    _KERNEL_FUNCS[kernel](a, b, c, float(scalar))


def reference(kernel: str, a: np.ndarray, b: np.ndarray, c: np.ndarray,
              scalar: float = _SCALAR) -> None:
    """The same kernel written with numpy, for checking :func:`run_kernel`."""
    check_choice("kernel", kernel, KERNELS)
    if kernel == "copy":
        c[:] = a
    elif kernel == "scale":
        b[:] = scalar * c
    elif kernel == "add":
        c[:] = a + b
    else:
        a[:] = b + scalar * c


class BandwidthResult(NamedTuple):
    """Result of :func:`measure_bandwidth`. Bandwidths in GB/s (1e9 bytes/s), times in seconds."""

    kernel: str
    n_bytes: int
    n_elems: int
    threads: int
    best_GBps: float
    median_GBps: float
    best_s: float
    median_s: float
    machine: machine.MachineInfo
    #: elements of the written array that differ from STREAM's formula (checked after timing;
    #: :func:`measure_bandwidth` raises instead of returning a result with wrong elements)
    n_wrong: int = 0

    @property
    def correct(self) -> bool:
        """True when every element the kernel wrote was checked and found right."""
        return self.n_wrong == 0

    @property
    def best_dram_GBps(self) -> float:
        """Best bandwidth with write-allocate traffic counted (GB/s): what DRAM really delivered,
        the figure to compare with a read-only kernel such as GEMV."""
        useful = KERNELS[self.kernel]["bytes_per_elem"]
        return self.best_GBps * (useful + _WRITE_ALLOCATE_BYTES) / useful


def default_n_bytes(kernel: str = "triad") -> int:
    """STREAM's sizing rule: each array at least 4x the last-level cache (at least 64 MiB)."""
    check_choice("kernel", kernel, KERNELS)
    llc = machine.describe().llc_bytes or 32 * 2**20
    per_array = max(4 * llc, 64 * 2**20)
    return KERNELS[kernel]["arrays"] * per_array


def measure_bandwidth(kernel: str = "triad", n_bytes: int | None = None, threads: int | None = None,
                      repeats: int = 10) -> BandwidthResult:
    """Measure sustained memory bandwidth with a STREAM kernel.

    Parameters
    ----------
    kernel : {"copy", "scale", "add", "triad"}
    n_bytes : int, optional
        Total footprint of the arrays the kernel touches, in bytes (triad and add touch three
        arrays, copy and scale two). At least 3 KiB. Default :func:`default_n_bytes`: each array 4x
        the last-level cache, so the measurement sees DRAM, not cache.
    threads : int, optional
        numba threads to use, 1 to ``numba.config.NUMBA_NUM_THREADS``; default all.
    repeats : int, >= 1
        Timed repetitions after one warm-up run.

    Returns
    -------
    BandwidthResult
        ``best_GBps`` (from the fastest run) and ``median_GBps``, counting bytes as the kernel's
        reads plus writes (see the module docstring for write-allocate traffic).

    Raises
    ------
    ValueError
        If the result differs from numpy's, which would make the bandwidth meaningless.
    """
    check_choice("kernel", kernel, KERNELS)
    spec = KERNELS[kernel]
    if n_bytes is None:
        n_bytes = default_n_bytes(kernel)
    n_bytes = check_int("n_bytes", n_bytes, minimum=3 * 1024)
    threads = check_threads(threads)
    repeats = check_int("repeats", repeats, minimum=1)

    n = n_bytes // (8 * spec["arrays"])
    a, b, c = np.empty(n), np.empty(n), np.empty(n)
    for x, value in ((a, 1.0), (b, 2.0), (c, 0.5)):
        _fill_kernel(x, value)
    func = _KERNEL_FUNCS[kernel]

    with numba_threads(threads):
        timing = time_call(lambda: func(a, b, c, _SCALAR), repeats=repeats, warmup=1)

    # Correctness travels with performance: every element of the written array must equal what
    # STREAM's formula gives for the known inputs (each kernel is idempotent on them).
    written, value = {"copy": (c, 1.0), "scale": (b, _SCALAR * 0.5), "add": (c, 1.0 + 2.0),
                      "triad": (a, 2.0 + _SCALAR * 0.5)}[kernel]
    n_wrong = int(np.count_nonzero(written != value))
    if n_wrong:
        raise ValueError(f"{kernel} kernel produced {n_wrong} wrong elements of {n}; the bandwidth "
                         "is not valid")

    moved = spec["bytes_per_elem"] * n
    return BandwidthResult(kernel, n * 8 * spec["arrays"], n, threads, moved / timing.best_s / 1e9,
                           moved / timing.median_s / 1e9, timing.best_s, timing.median_s,
                           machine.describe(), n_wrong)


def kernel_source(kernel: str = "triad") -> str:
    """Source of the numba kernel that runs STREAM ``kernel`` (a key of :data:`KERNELS`), between
    its ``# magictoken: <kernel>-begin`` and ``-end`` markers, decorator included, for a chapter to
    show."""
    check_choice("kernel", kernel, KERNELS)
    return marked_source(sys.modules[__name__], kernel)
