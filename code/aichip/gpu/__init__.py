"""GPUs, Tensor Cores and occupancy (chapter 7).

* :mod:`.hardware`: GPUs, compute-capability limits and Tensor Core rates as data; derived peaks.
* :mod:`.occupancy`: NVIDIA's occupancy rules (warps, blocks, registers, shared memory).
* :mod:`.simt`: memory sectors per warp request (coalescing) and passes per branch (divergence).
* :mod:`.tensorcore`: one MMA emulated bit for bit; GEMM shapes on per-GPU rooflines.
* :mod:`.kernels`: numba.cuda kernels (matmul naive and tiled, reduction) on a GPU or the
  CUDA simulator (importing this package picks the simulator when no NVIDIA driver is present;
  see :mod:`.kernels`).

The commonly used names are available here: ``aichip.gpu.occupancy``, ``aichip.gpu.cuda_matmul``,
``aichip.gpu.kernel_source("tiled_matmul")`` (a kernel's source, for a chapter to show)...
"""

from .hardware import (
    CudaLimits,
    GpuSpec,
    compute_capabilities,
    cuda_core_peak_TFLOPs,
    cuda_limits,
    gpu_names,
    gpu_spec,
    mma_shapes,
    peak_check,
    tensor_core_peak_TFLOPs,
    tensor_core_precisions,
)
from .kernels import (
    KERNEL_PARTS,
    MATMUL_VARIANTS,
    REDUCE_THREADS,
    TILE,
    backend,
    check_kernels,
    cuda_matmul,
    cuda_reduce_sum,
    kernel_source,
    using_simulator,
)
from .occupancy import LIMITERS, Occupancy, occupancy, occupancy_sweep
from .simt import (
    SECTOR_BYTES,
    WARP_SIZE,
    Divergence,
    SectorCount,
    sectors_per_request,
    strided_sectors,
    warp_divergence,
)
from .tensorcore import MMA_INPUT_FORMATS, gemm_shapes, mma, roofline_comparison

__all__ = [
    "CudaLimits", "GpuSpec", "compute_capabilities", "cuda_core_peak_TFLOPs", "cuda_limits",
    "gpu_names", "gpu_spec", "mma_shapes", "peak_check", "tensor_core_peak_TFLOPs",
    "tensor_core_precisions", "KERNEL_PARTS", "MATMUL_VARIANTS", "REDUCE_THREADS", "TILE",
    "backend", "check_kernels", "cuda_matmul", "cuda_reduce_sum", "kernel_source",
    "using_simulator",
    "LIMITERS", "Occupancy", "occupancy", "occupancy_sweep",
    "SECTOR_BYTES", "WARP_SIZE", "Divergence", "SectorCount", "sectors_per_request",
    "strided_sectors", "warp_divergence", "MMA_INPUT_FORMATS", "gemm_shapes", "mma",
    "roofline_comparison",
]
