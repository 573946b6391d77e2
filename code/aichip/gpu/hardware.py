"""NVIDIA GPUs as data: unit counts, clocks and on-chip memories (``gpus.csv``), the per-compute-
capability resource limits (``cuda_limits.csv``) and Tensor Core rates (``tensor_cores.csv``).

Peak throughput is derived, not copied: a Tensor Core peak is

    peak (FLOP/s) = SMs x Tensor Cores per SM x dense FMA per clock per Tensor Core x 2 x clock,

and a CUDA-core peak is ``SMs x cores per SM x 2 x clock``. The clock is the one the datasheet
quotes that precision at: the same boost clock for every precision up to Ampere, but on H100 SXM5
the Tensor Core peaks (FP8/FP16/BF16/TF32/INT8) are quoted at 1830 MHz and the FP32, FP64 and
FP64 Tensor Core peaks at 1980 MHz (H100 whitepaper, Table 3). ``tensor_cores.csv`` says for each
precision which of the two clocks (``"tensor"`` or ``"boost"``) applies. The results are checked in
the tests against the catalogue's datasheet peaks (:mod:`aichip.chips`) within 1%.

Blackwell Ultra (B300) is the exception NVIDIA's documents force: they give its SM and Tensor Core
counts and every format's peak, but no clock and no per-Tensor-Core rate. Its row in ``gpus.csv``
holds the clock implied by one figure (BF16 for the Tensor Cores, FP32 for the CUDA cores) and its
rates in ``tensor_cores.csv`` are multiples of the BF16 rate; the check is then that one clock and
those multiples reproduce the datasheet in every other format (TF32, FP8, FP4).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from ..tables import load_table
from ..validation import check_choice

__all__ = ["CudaLimits", "GpuSpec", "cuda_limits", "compute_capabilities", "gpu_spec", "gpu_names",
           "tensor_core_precisions", "tensor_core_peak_TFLOPs", "cuda_core_peak_TFLOPs",
           "peak_check", "mma_shapes"]


@dataclass(frozen=True)
class CudaLimits:
    """Resource limits of one compute capability (CUDA C++ Programming Guide; cuda_occupancy.h)."""

    compute_capability: str
    architecture: str
    max_threads_per_block: int
    max_warps_per_sm: int
    max_blocks_per_sm: int
    registers_per_sm: int
    max_registers_per_block: int
    max_registers_per_thread: int
    register_allocation_unit: int      # registers are allocated per warp in units of this many
    warp_allocation_granularity: int   # warps' registers come from 4 sub-partitions of the file
    shared_bytes_per_sm: int           # largest shared-memory carve-out per SM
    max_shared_bytes_per_block: int
    shared_allocation_unit: int        # bytes
    shared_reserved_per_block: int     # bytes the system reserves per block (1 KB from 8.0)
    source: str

    @property
    def max_threads_per_sm(self) -> int:
        return 32 * self.max_warps_per_sm


@dataclass(frozen=True)
class GpuSpec:
    """One GPU of ``gpus.csv``; ``name`` is its name in the chip catalogue."""

    name: str
    architecture: str
    compute_capability: str
    sm_count: int
    fp32_cores_per_sm: int
    fp64_cores_per_sm: int
    tensor_cores_per_sm: int
    boost_clock_MHz: float
    tensor_clock_MHz: float | None
    l2_KiB: float
    shared_KiB_per_sm: float
    registers_per_sm: int
    source: str


@functools.lru_cache(maxsize=1)
def _limits() -> pd.DataFrame:
    return load_table("cuda_limits").set_index("compute_capability")


@functools.lru_cache(maxsize=1)
def _gpus() -> pd.DataFrame:
    return load_table("gpus").set_index("name")


@functools.lru_cache(maxsize=1)
def _tensor_cores() -> pd.DataFrame:
    return load_table("tensor_cores").set_index(["architecture", "precision"])


def compute_capabilities() -> tuple[str, ...]:
    """Compute capabilities with limits in ``cuda_limits.csv`` (e.g. ``"8.0"``)."""
    return tuple(_limits().index)


def cuda_limits(compute_capability: str) -> CudaLimits:
    """The :class:`CudaLimits` of ``compute_capability`` (a string such as ``"8.0"``)."""
    check_choice("compute_capability", compute_capability, compute_capabilities())
    row = _limits().loc[compute_capability]
    fields = {k: (int(row[k]) if k not in ("architecture", "source") else row[k])
              for k in CudaLimits.__dataclass_fields__ if k != "compute_capability"}
    return CudaLimits(compute_capability=compute_capability, **fields)


def gpu_names() -> tuple[str, ...]:
    """Names of the GPUs in ``gpus.csv`` (the catalogue's names)."""
    return tuple(_gpus().index)


def gpu_spec(gpu: str) -> GpuSpec:
    """The :class:`GpuSpec` of ``gpu`` (a catalogue name such as ``"NVIDIA A100 SXM4 80GB"``)."""
    check_choice("gpu", gpu, gpu_names())
    row = _gpus().loc[gpu]
    tensor_clock = None if pd.isna(row["tensor_clock_MHz"]) else float(row["tensor_clock_MHz"])
    return GpuSpec(name=gpu, architecture=row["architecture"],
                   compute_capability=row["compute_capability"], sm_count=int(row["sm_count"]),
                   fp32_cores_per_sm=int(row["fp32_cores_per_sm"]),
                   fp64_cores_per_sm=int(row["fp64_cores_per_sm"]),
                   tensor_cores_per_sm=int(row["tensor_cores_per_sm"]),
                   boost_clock_MHz=float(row["boost_clock_MHz"]), tensor_clock_MHz=tensor_clock,
                   l2_KiB=float(row["l2_KiB"]), shared_KiB_per_sm=float(row["shared_KiB_per_sm"]),
                   registers_per_sm=int(row["registers_per_sm"]), source=row["source"])


def tensor_core_precisions(gpu: str) -> tuple[str, ...]:
    """Precisions the Tensor Cores of ``gpu`` support (empty for a GPU without Tensor Cores)."""
    arch = gpu_spec(gpu).architecture
    table = _tensor_cores()
    return tuple(p for a, p in table.index if a == arch)


def tensor_core_peak_TFLOPs(gpu: str, precision: str) -> float:
    """Dense Tensor Core peak of ``gpu`` at ``precision`` in 1e12 operations/s, from unit counts.

    ``SMs x Tensor Cores per SM x FMA per clock per Tensor Core x 2 x clock`` with the clock that
    precision is quoted at (see the module docstring).

    Raises
    ------
    ValueError
        For a GPU not in ``gpus.csv``, or a precision its Tensor Cores do not support.
    """
    spec = gpu_spec(gpu)
    supported = tensor_core_precisions(gpu)
    if not supported:
        raise ValueError(f"gpu {gpu!r} has no Tensor Cores")
    check_choice("precision", precision, supported)
    row = _tensor_cores().loc[(spec.architecture, precision)]
    clock_MHz = spec.tensor_clock_MHz if row["clock"] == "tensor" else spec.boost_clock_MHz
    fma_per_tc = int(row["dense_fma_per_clock_per_tc"])
    fma_per_clock = spec.sm_count * spec.tensor_cores_per_sm * fma_per_tc
    return fma_per_clock * 2 * clock_MHz * 1e6 / 1e12


def cuda_core_peak_TFLOPs(gpu: str, precision: str = "fp32") -> float:
    """Peak of the CUDA cores (no Tensor Cores) at ``"fp32"`` or ``"fp64"``, 1e12 FLOP/s."""
    spec = gpu_spec(gpu)
    check_choice("precision", precision, ("fp32", "fp64"))
    cores = spec.fp32_cores_per_sm if precision == "fp32" else spec.fp64_cores_per_sm
    return spec.sm_count * cores * 2 * spec.boost_clock_MHz * 1e6 / 1e12


def peak_check() -> pd.DataFrame:
    """Every derived peak next to the catalogue's datasheet peak, with their ratio.

    The catalogue's FP64 column holds the FP64 Tensor Core rate where a GPU has one, so the
    derived FP64 figure is the Tensor Core one on those GPUs and the CUDA-core one elsewhere.
    """
    from .. import chips

    rows = []
    for gpu in gpu_names():
        chip = chips.get(gpu)
        derived = {"fp32": cuda_core_peak_TFLOPs(gpu, "fp32")}
        if gpu_spec(gpu).fp64_cores_per_sm > 0:  # 0: the FP64 unit count is not published
            derived["fp64"] = cuda_core_peak_TFLOPs(gpu, "fp64")
        for p in tensor_core_precisions(gpu):
            derived[p] = tensor_core_peak_TFLOPs(gpu, p)
        for precision, value in derived.items():
            datasheet = chip.peak_TOPs.get(precision)
            if datasheet is None:
                continue
            unit = "Tensor Core" if precision in tensor_core_precisions(gpu) else "CUDA cores"
            rows.append(dict(gpu=gpu, precision=precision, unit=unit, derived_TFLOPs=value,
                             datasheet_TFLOPs=datasheet, ratio=value / datasheet,
                             source=chip.source))
    return pd.DataFrame(rows)


def mma_shapes() -> pd.DataFrame:
    """The Tensor Core table: per architecture and precision, FMA per clock and an MMA shape."""
    return load_table("tensor_cores")
