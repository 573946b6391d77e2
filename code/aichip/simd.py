"""The SIMD vectors numba's compiler targets on this machine: their width and how many registers
hold them, for kernels that write their vector code explicitly (:mod:`aichip.gemm`'s micro-kernel,
:mod:`aichip.flops`' peak kernel).

Why kernels ask instead of leaving it to LLVM's auto-vectoriser: on Intel's AVX-512 server cores
(Skylake-SP and later) LLVM *prefers* 256-bit vectors when it vectorises a loop by itself (its
``prefer-256-bit`` tuning, chosen because 512-bit instructions lower the clock on those cores), so
an auto-vectorised loop uses half the width that BLAS uses. A vector type written explicitly in the
IR (``<8 x double>``) is still compiled to 512-bit ``zmm`` instructions, because a function without
a ``min-legal-vector-width`` attribute may use every width the target has. So a kernel that must
reach the peak builds its vectors at :func:`vector_bytes`.

The answer follows the target numba compiles for: ``NUMBA_CPU_FEATURES`` when it is set (numba
then compiles for those features, e.g. to read the machine code for another CPU), otherwise the
host CPU's features as LLVM detects them.
"""

from __future__ import annotations

import numba

__all__ = ["target_features", "vector_bytes", "vector_registers"]


def target_features(features: str | None = None) -> frozenset[str]:
    """The CPU features numba's code generator enables, e.g. ``{"avx2", "fma", ...}``.

    Parameters
    ----------
    features : str, optional
        An LLVM feature string (``"+avx2,+fma,-avx512f"``); default ``NUMBA_CPU_FEATURES`` if set,
        otherwise the host's (``llvmlite.binding.get_host_cpu_features``).
    """
    if features is None:
        features = numba.config.CPU_FEATURES
    if features is None:
        import llvmlite.binding as llvm

        return frozenset(k for k, on in llvm.get_host_cpu_features().items() if on)
    if not isinstance(features, str):
        raise TypeError(f"features must be an LLVM feature string, got {type(features).__name__}")
    return frozenset(f[1:] for f in features.split(",") if f.startswith("+"))


def vector_bytes(features: str | None = None) -> int:
    """Width of the widest vector register the target has, in bytes: 64 with AVX-512 (``zmm``),
    32 with AVX (``ymm``), 16 otherwise (SSE ``xmm``, Arm NEON). ``features`` as in
    :func:`target_features`."""
    have = target_features(features)
    if "avx512f" in have:
        return 64
    if "avx" in have:
        return 32
    return 16


def vector_registers(features: str | None = None) -> int:
    """Architectural vector registers the target has: 32 with AVX-512 (``zmm0-31``) or on
    AArch64 (``v0-31``), 16 on other x86-64 (``ymm0-15``/``xmm0-15``)."""
    import platform

    have = target_features(features)
    if "avx512f" in have or platform.machine().lower() in ("aarch64", "arm64"):
        return 32
    return 16
