"""One matrix product, ``C = A @ B``, written four ways to show what reuse buys.

=============  ==============================================================  ==============
variant        what it does                                                    threads
=============  ==============================================================  ==============
``naive``      the textbook ``i, j, k`` loops: the inner loop walks a column   1
               of ``B``, one cache line per element
``reordered``  ``i, k, j`` loops: the inner loop walks a row of ``B`` and of    1
               ``C`` contiguously (vectorisable), but a row of ``B`` is reused
               only while it stays in cache
``tiled``      ``reordered`` over ``T x T`` blocks of A, B, C, so the three     1
               blocks stay in L1/L2 while each is reused ``T`` times
``packed``     Goto & van de Geijn / BLIS: panels of ``B`` (``KC x NC``) and    all (numba)
               blocks of ``A`` (``MC x KC``) are copied ("packed") into
               contiguous micro-panels in the order the micro-kernel reads
               them, and a ``MR x NR`` micro-kernel keeps a block of ``C`` in
               vector registers while it streams them
=============  ==============================================================  ==============

The blocking constants of ``packed`` are :data:`PACKED_BLOCKING` (from this machine's caches,
:func:`blocking_for`), :data:`MR` and :data:`NR_VECTORS` (passed to the kernel as arguments, or
read by the code generator). The micro-kernel is a numba ``@intrinsic`` that emits LLVM IR
(:func:`_emit_micro_kernel`): for each step ``p`` of the KC-deep panels it loads ``NR_VECTORS``
vectors of a row of packed B, broadcasts each of the ``MR`` packed A values of column ``p`` to a
vector, and issues ``MR * NR_VECTORS`` fused multiply-adds into ``MR * NR_VECTORS`` accumulators
that LLVM keeps in registers; C is loaded, added to and stored once per call, not once per step.
A vector is :data:`VECTOR_BYTES`, the widest register numba's target has (:mod:`aichip.simd`),
and ``MR`` fills the vector registers: 6 x 2 ymm accumulators (12 of 16) with AVX2, 14 x 2 zmm
(28 of 32) with AVX-512. Explicit ``<4 x double>``/``<8 x double>`` vectors compile to full-width
instructions even where LLVM's own vectoriser would prefer 256 bits (Intel's AVX-512 cores).
Plain numba loops did not get there: with literal lengths LLVM unrolled the micro-kernel fully and
left it scalar (it could not prove the accumulator block and the panels do not overlap), and with
run-time lengths its loop vectoriser kept the block of C in memory, a load and a store per FMA.
:func:`micro_kernel_asm` reads the machine code: on the AVX2 machine of this book's runs the inner
loop holds 24 ``vfmadd231pd`` on ymm registers per two steps, 4 vector loads of B, 12 broadcasts
of A, no stores; compiled for Skylake-AVX512 (``NUMBA_CPU_NAME=skylake-avx512`` with its
features), 28 on zmm per step, no stores.

:func:`traffic_bytes` counts the bytes each variant moves between the cache level that holds its
blocks and the level below, from the loop structure (not just the compulsory bytes of reading A
and B and writing C once), which is the operational intensity that places each variant on a
roofline.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import machine, simd
from .source import marked_source
from .validation import check_choice, check_int

__all__ = [
    "VARIANTS", "TILE", "PACKED_BLOCKING", "MR", "NR_VECTORS", "VECTOR_BYTES", "micro_tile",
    "micro_kernel_asm", "matmul", "blocking_for", "micro_kernel", "pack_a", "pack_b",
    "traffic_bytes", "intensity", "benchmark", "kernel_source",
]

VARIANTS = ("naive", "reordered", "tiled", "packed")

#: Tile edge of ``tiled`` (elements): three 64 x 64 float64 tiles are 96 KiB, within a 1 MiB L2.
TILE = 64
#: The micro-kernel's block of C: MR rows by NR_VECTORS vectors of VECTOR_BYTES, the widest vector
#: register numba's target has (:func:`aichip.simd.vector_bytes`: 64 with AVX-512, 32 with AVX2),
#: so each FMA the kernel emits is one full-width instruction. MR * NR_VECTORS accumulators, plus
#: the NR_VECTORS vectors of a row of B and a broadcast of A (and one spare), fill the vector
#: registers: MR = 6 (12 accumulators of 16 ymm registers, NR = 8 float64 or 16 float32) with
#: AVX2, MR = 14 (28 of 32 zmm, NR = 16 float64 or 32 float32) with AVX-512. NR then divides the
#: 32-column blocks of :mod:`aichip.sparse`.
VECTOR_BYTES = simd.vector_bytes()
NR_VECTORS = 2
MR = (simd.vector_registers() - 2 * NR_VECTORS) // NR_VECTORS


def blocking_for(l1_bytes: int, l2_bytes: int, l3_bytes: int, mr: int = MR,
                 nr: int = NR_VECTORS * VECTOR_BYTES // 8, itemsize: int = 8) -> dict:
    """``packed``'s blocks (elements) for a core's caches, one level further out than Goto's rules:

    * ``KC``: a KC x NR micro-panel of B fills at most an eighth of L2, where it stays while the
      micro-kernel streams every A micro-panel of the block past it (a power of two, 64 to 1024);
    * ``MC``: an MC x KC block of A fills the rest of L2 (a multiple of ``mr``);
    * ``NC``: a KC x NC panel of B fills at most a quarter of L3 (a multiple of ``nr``, at most
      4096 columns).

    Goto and van de Geijn keep the micro-panel of B in L1 and the block of A in L2. Those rules
    give KC = 128 on a 32 KiB L1, and then the whole of C is read and written ``k / 128`` times,
    and each KC slice costs two parallel regions whose threads wait for the slowest: on a 2-core
    Zen 4 (32 KiB L1, 1 MiB L2) that ran at 0.76-0.92 of OpenBLAS (n = 1024, 2048; both dtypes),
    against 0.89-1.02 with the blocks here (KC = 1024, MC = 112). A step of the micro-kernel reads
    ``MR + NR`` elements for ``MR * NR_VECTORS`` FMAs (240 bytes per 28 cycles with AVX-512
    float64), a rate L2, and even L3, deliver; so the blocks can live a level out, and KC is as
    deep as the cap allows. L1's size no longer sets a block.

    Parameters
    ----------
    l1_bytes, l2_bytes, l3_bytes : int, > 0
        One core's L1 data cache, L2 and the L3 it shares, in bytes.
    mr, nr : int, >= 1
        The micro-kernel's block of C (default the float64 one).
    itemsize : int
        Bytes per element (8: float64).
    """
    l1, l2, l3 = (check_int(k, v, minimum=1) for k, v in
                  (("l1_bytes", l1_bytes), ("l2_bytes", l2_bytes), ("l3_bytes", l3_bytes)))
    mr, nr = check_int("mr", mr, minimum=1), check_int("nr", nr, minimum=1)
    itemsize = check_int("itemsize", itemsize, minimum=1)
    kc = 2 ** int(np.log2(max(1, l2 // (8 * nr * itemsize))))
    kc = min(max(kc, 64), 1024)
    mc = max(mr, (l2 - kc * nr * itemsize) // (kc * itemsize) // mr * mr)
    nc = min(max(nr, l3 // (4 * kc * itemsize) // nr * nr), 4096 // nr * nr)
    return {"MC": mc, "KC": kc, "NC": nc}


def _host_blocking() -> dict:
    size = {1: 32 * 2**10, 2: 512 * 2**10, 3: 8 * 2**20}  # when the OS does not say
    for c in machine.cache_levels():
        if c.kind != "Instruction" and c.level in size:
            size[c.level] = c.size_bytes
    return blocking_for(size[1], size[2], size[3])


#: ``packed``'s blocks (elements, both dtypes) for this machine's caches (:func:`blocking_for`;
#: float64 sizes, so float32 blocks fill half as many bytes). On the AVX2 machine of this
#: book's runs (32 KiB L1, 512 KiB L2, 32 MiB L3): MC = 54, KC = 1024, NC = 1024; on a Zen 4 core
#: (1 MiB L2, AVX-512): MC = 112.
PACKED_BLOCKING = _host_blocking()


def micro_tile(dtype) -> tuple[int, int]:
    """The micro-kernel's ``(MR, NR)`` block of C for ``dtype`` ("float64" or "float32"), in
    elements."""
    check_choice("dtype", str(np.dtype(dtype)) if isinstance(dtype, (str, type, np.dtype)) else
                 dtype, ("float64", "float32"))
    size = np.dtype(dtype).itemsize
    return MR, NR_VECTORS * VECTOR_BYTES // size


@njit(cache=True)
def _naive_kernel(a, b, c):
    # magictoken: naive-begin
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for p in range(k):
                acc += a[i, p] * b[p, j]  # b[p, j] strides down a column: a new line each time
            c[i, j] = acc
    # magictoken: naive-end


@njit(cache=True, fastmath=True)
def _reordered_kernel(a, b, c):
    # magictoken: reordered-begin
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        for p in range(k):
            aip = a[i, p]
            for j in range(n):
                c[i, j] += aip * b[p, j]  # rows of B and C, contiguous
    # magictoken: reordered-end


@njit(cache=True, fastmath=True)
def _tiled_kernel(a, b, c, tile):
    # magictoken: tiled-begin
    m, k = a.shape
    n = b.shape[1]
    for i0 in range(0, m, tile):
        for p0 in range(0, k, tile):
            for j0 in range(0, n, tile):
                j1 = min(j0 + tile, n)
                for i in range(i0, min(i0 + tile, m)):
                    crow = c[i, j0:j1]  # row views: indices from range(0, ...) vectorise
                    for p in range(p0, min(p0 + tile, k)):
                        aip = a[i, p]
                        brow = b[p, j0:j1]
                        for j in range(crow.shape[0]):
                            crow[j] += aip * brow[j]
    # magictoken: tiled-end


@njit(cache=True, boundscheck=False)
def _pack_b(b, p0, j0, out):
    # magictoken: pack-b-begin
    # KC x NC panel of B -> out[q, p, j] = B[p0 + p, j0 + q*NR + j]: NR-column micro-panels, each
    # row by row (the order the micro-kernel reads them), zero past B's last column. B is read
    # row by row, each row once and contiguously (walking down a micro-panel instead, a column
    # strip of B, touches a new page every row and took twice as long)
    n_panels, kc, nr = out.shape
    for p in range(kc):
        row = b[p0 + p]
        for q in range(n_panels):
            cols = max(0, min(nr, b.shape[1] - j0 - q * nr))  # B's columns in this micro-panel
            for j in range(cols):
                out[q, p, j] = row[j0 + q * nr + j]
            for j in range(cols, nr):
                out[q, p, j] = 0.0
    # magictoken: pack-b-end


@njit(cache=True, boundscheck=False)
def _pack_a(a, i0, mc, p0, out):
    # magictoken: pack-a-begin
    # MC x KC block of A -> out[q, p, i] = A[i0 + q*MR + i, p0 + p]: MR-row micro-panels, each
    # column by column, zero past the block's last row
    n_panels, kc, mr = out.shape
    for q in range(n_panels):
        rows = max(0, min(mr, mc - q * mr))           # A's rows in this micro-panel
        for i in range(rows):                         # read along A's row, write every MR-th
            row = a[i0 + q * mr + i]
            for p in range(kc):
                out[q, p, i] = row[p0 + p]
        for i in range(rows, mr):
            for p in range(kc):
                out[q, p, i] = 0.0
    # magictoken: pack-a-end


def _emit_micro_kernel(context, builder, dtype, kc, a_ptr, b_ptr, c_ptr, ldc):
    """LLVM IR of the micro-kernel: ``C[0:MR, 0:NR] += Ap @ Bp`` over ``kc`` steps, with the MR x NR
    block of C in ``MR * NR_VECTORS`` vector registers (``a_ptr``, ``b_ptr``, ``c_ptr``: element
    pointers to the packed A micro-panel, the packed B micro-panel and C's top-left element;
    ``ldc``: C's row stride in elements)."""
    from llvmlite import ir

    # magictoken: micro-begin
    elem = context.get_data_type(dtype)                   # double or float
    size = context.get_abi_sizeof(elem)                   # bytes per element, 8 or 4
    lanes = VECTOR_BYTES // size                          # 8 doubles or 16 floats per zmm
    vec = ir.VectorType(elem, lanes)
    i32, i64 = ir.IntType(32), ir.IntType(64)
    fma = cgutils.get_or_insert_function(               # one vfmadd231 per call
        builder.module, ir.FunctionType(vec, [vec, vec, vec]),
        f"llvm.fma.v{lanes}f{8 * size}")
    nr = NR_VECTORS * lanes
    undef = ir.Constant(vec, ir.Undefined)
    splat = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)

    def vector_at(ptr, offset):                           # lanes elements from ptr + offset
        return builder.bitcast(builder.gep(ptr, [offset]), vec.as_pointer())

    # MR x NR_VECTORS accumulators; LLVM's mem2reg turns these slots into registers
    zero = ir.Constant(vec, [ir.Constant(elem, 0.0)] * lanes)
    acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(NR_VECTORS)]
           for _ in range(MR)]
    with cgutils.for_range(builder, kc) as loop:          # for p in range(kc):
        p = loop.index
        b_row = builder.gep(b_ptr, [builder.mul(p, ir.Constant(p.type, nr))])
        b = [builder.load(vector_at(b_row, ir.Constant(i64, v * lanes)), align=size)
             for v in range(NR_VECTORS)]                  # NR_VECTORS loads of Bp[p, :]
        a_col = builder.gep(a_ptr, [builder.mul(p, ir.Constant(p.type, MR))])
        for i in range(MR):
            a = builder.load(builder.gep(a_col, [ir.Constant(i64, i)]))  # Ap[p, i] ...
            a = builder.shuffle_vector(builder.insert_element(undef, a, ir.Constant(i32, 0)),
                                       undef, splat)     # ... broadcast to every lane
            for v in range(NR_VECTORS):                   # acc[i, v] += Ap[p, i] * Bp[p, v]
                builder.store(builder.call(fma, [a, b[v], builder.load(acc[i][v])]), acc[i][v])
    for i in range(MR):                                   # C[i, :] += acc[i, :], once per call
        c_row = builder.gep(c_ptr, [builder.mul(ldc, ir.Constant(ldc.type, i))])
        for v in range(NR_VECTORS):
            ptr = vector_at(c_row, ir.Constant(i64, v * lanes))
            total = builder.fadd(builder.load(ptr, align=size), builder.load(acc[i][v]))
            builder.store(total, ptr, align=size)
    # magictoken: micro-end


@intrinsic
def _micro_kernel(typingctx, kc, ap, a_off, bp, b_off, c, c_off, ldc):
    # C.flat[c_off + i*ldc + j] += sum_p ap.flat[a_off + p*MR + i] * bp.flat[b_off + p*NR + j]
    # for i < MR, j < NR; all three arrays C-contiguous of one float dtype (no bounds checks:
    # the caller guarantees the block is inside every array)
    arrays = (ap, bp, c)
    if not all(isinstance(x, types.Array) and x.layout == "C" for x in arrays):
        return None
    if not ap.dtype == bp.dtype == c.dtype or ap.dtype not in (types.float64, types.float32):
        return None
    if not all(isinstance(x, types.Integer) for x in (kc, a_off, b_off, c_off, ldc)):
        return None

    def codegen(context, builder, signature, args):
        kc_v, ap_v, a_off_v, bp_v, b_off_v, c_v, c_off_v, ldc_v = args
        def as_int64(value, ty):
            return context.cast(builder, value, ty, types.int64)

        def element_ptr(ty, value, offset, offset_ty):
            data = context.make_array(ty)(context, builder, value).data
            return builder.gep(data, [as_int64(offset, offset_ty)])

        _emit_micro_kernel(context, builder, ap.dtype, as_int64(kc_v, kc),
                           element_ptr(ap, ap_v, a_off_v, a_off),
                           element_ptr(bp, bp_v, b_off_v, b_off),
                           element_ptr(c, c_v, c_off_v, c_off), as_int64(ldc_v, ldc))
        return context.get_dummy_value()

    return types.void(kc, ap, a_off, bp, b_off, c, c_off, ldc), codegen


def _micro_kernel_python(kc, ap, a_off, bp, b_off, c, c_off, ldc):
    """What the intrinsic computes, in NumPy: used when numba's JIT is off (``NUMBA_DISABLE_JIT=1``,
    ``make test-nojit``), where an intrinsic cannot run."""
    nr = NR_VECTORS * VECTOR_BYTES // ap.itemsize
    a = ap.reshape(-1)[a_off:a_off + kc * MR].reshape(kc, MR)
    b = bp.reshape(-1)[b_off:b_off + kc * nr].reshape(kc, nr)
    flat = c.reshape(-1)
    for i in range(MR):
        flat[c_off + i * ldc:c_off + i * ldc + nr] += a[:, i] @ b


if numba.config.DISABLE_JIT:
    _micro_kernel = _micro_kernel_python  # noqa: F811 - the jitted callers look it up at run time

#: The packed schedule's parts, public for the kernels built on them (:mod:`aichip.sparse`):
#: ``micro_kernel(kc, ap, a_off, bp, b_off, c, c_off, ldc)`` adds the product of a packed A
#: micro-panel (``kc x MR`` at ``ap.flat[a_off:]``) and a packed B micro-panel (``kc x NR`` at
#: ``bp.flat[b_off:]``) to the ``MR x NR`` block of C at ``c.flat[c_off:]`` (row stride ``ldc``);
#: ``pack_a(a, i0, mc, p0, out)`` and ``pack_b(b, p0, j0, out)`` fill ``out`` with A's rows
#: ``i0:i0 + mc`` and B's columns from ``j0`` in micro-panel order, from row/column ``p0``.
micro_kernel, pack_a, pack_b = _micro_kernel, _pack_a, _pack_b


@njit(cache=True, parallel=True, boundscheck=False)
def _packed_kernel(a, b, c, mc, kc, nc, mr, nr, threads):
    # magictoken: packed-begin
    m, k = a.shape
    n = b.shape[1]
    n_panels = (m + mr - 1) // mr                   # MR-row micro-panels of A and C
    # row blocks of about MC rows, as many per thread, each as many micro-panels (+- 1)
    n_iblocks = threads * -(-((m + mc - 1) // mc) // threads)

    for j0 in range(0, n, nc):                      # 5th loop: NC columns of B and C
        ncb = min(nc, n - j0)
        for p0 in range(0, k, kc):                  # 4th loop: KC-deep slice of A and B
            kcb = min(kc, k - p0)
            n_bpanels = (ncb + nr - 1) // nr
            bpack = np.empty((n_bpanels, kcb, nr), dtype=a.dtype)
            for t in prange(threads):               # B panel: packed by all threads, shared
                q0, q1 = t * n_bpanels // threads, (t + 1) * n_bpanels // threads
                _pack_b(b, p0, j0 + q0 * nr, bpack[q0:q1])
            for ib in prange(n_iblocks):            # 3rd loop: ~MC rows of A, one block a thread
                i0 = mr * (ib * n_panels // n_iblocks)
                mcb = min(m, mr * ((ib + 1) * n_panels // n_iblocks)) - i0
                if mcb <= 0:
                    continue
                apack = np.empty(((mcb + mr - 1) // mr, kcb, mr), dtype=a.dtype)
                _pack_a(a, i0, mcb, p0, apack)      # A block: this thread's, in its L2
                edge = np.empty((mr, nr), dtype=a.dtype)
                for jq in range(n_bpanels):         # 2nd loop: NR columns (a B micro-panel, in L2)
                    cj = j0 + jq * nr
                    for iq in range(apack.shape[0]):  # 1st loop: MR rows (an A micro-panel)
                        ci = i0 + iq * mr
                        if iq * mr + mr <= mcb and jq * nr + nr <= ncb:  # whole tile: into C
                            _micro_kernel(kcb, apack, iq * kcb * mr, bpack, jq * kcb * nr,
                                          c, ci * n + cj, n)
                        else:                       # edge tile: via a buffer, keep the part in C
                            edge[:, :] = 0.0
                            _micro_kernel(kcb, apack, iq * kcb * mr, bpack, jq * kcb * nr,
                                          edge, 0, nr)
                            for i in range(min(mr, mcb - iq * mr)):
                                for j in range(min(nr, ncb - jq * nr)):
                                    c[ci + i, cj + j] += edge[i, j]
    # magictoken: packed-end


@njit(cache=True, boundscheck=False)
def _micro_only(kc, ap, bp, c):
    # the micro-kernel alone, for reading its machine code (:func:`micro_kernel_asm`)
    _micro_kernel(kc, ap, 0, bp, 0, c, 0, c.shape[1])


def micro_kernel_asm(dtype: str = "float64") -> dict:
    """The micro-kernel's machine code on this CPU and a count of its inner loop's instructions.

    Compiles the micro-kernel alone (one call on ``kc`` = 64 steps) and finds its main loop: the
    block of assembly between a label and the backward jump to it that holds the most FMAs.

    Returns
    -------
    dict
        ``asm`` (the whole function's assembly text), ``loop`` (the loop's lines), and counts in
        the loop: ``fma`` (vector fused multiply-adds, ``vfmadd...p[sd]``), ``fma_zmm`` (those on
        512-bit registers), ``loads`` (vector loads ``vmovup``/``vmovap`` from memory),
        ``broadcasts`` (``vbroadcasts*``, plus FMAs with an embedded ``{1toN}`` broadcast),
        ``stores`` (any instruction writing memory: a move whose last operand is an address),
        ``steps`` (``fma / (MR * NR_VECTORS)``: how many ``p`` steps LLVM unrolled into one pass).
    """
    import re

    check_choice("dtype", dtype, ("float64", "float32"))
    if numba.config.DISABLE_JIT:
        raise RuntimeError("micro_kernel_asm needs numba's JIT (NUMBA_DISABLE_JIT is set)")
    mr, nr = micro_tile(dtype)
    kc = 64
    ap, bp = np.ones((kc, mr), dtype=dtype), np.ones((kc, nr), dtype=dtype)
    c = np.zeros((mr, nr), dtype=dtype)
    # a fresh, uncached compilation: numba cannot show the assembly of code loaded from its cache
    fresh = njit(cache=False, boundscheck=False)(_micro_only.py_func)
    fresh(kc, ap, bp, c)
    if not (c == kc).all():
        raise RuntimeError("micro-kernel returned a wrong block")  # all-ones panels: kc per entry
    asm = fresh.inspect_asm(fresh.signatures[0])
    lines = asm.splitlines()
    best: list[str] = []
    labels = {ln.split(":")[0]: i for i, ln in enumerate(lines) if re.match(r"^\.?L\w+:", ln)}
    for i, ln in enumerate(lines):
        jump = re.match(r"\s+j\w+\s+(\.?L\w+)", ln)
        if jump and jump.group(1) in labels and labels[jump.group(1)] < i:
            body = lines[labels[jump.group(1)]:i + 1]
            if sum("vfmadd" in b for b in body) > sum("vfmadd" in b for b in best):
                best = body
    fma = [b for b in best if re.search(r"vfmadd\w*p[sd]", b)]
    code = [b.split("#")[0] for b in best]
    return {
        "asm": asm, "loop": best, "fma": len(fma),
        "fma_zmm": sum("zmm" in b for b in fma),
        "loads": sum(bool(re.search(r"vmov[ua]p[sd]\s+-?\w*\(", b)) for b in code),
        "broadcasts": sum("vbroadcasts" in b for b in code) + sum("1to" in b for b in fma),
        "stores": sum(bool(re.search(r"^\s+v?mov\w*\s+.*,\s*-?\w*\(.*\)\s*$", b)) for b in code),
        "steps": len(fma) / (MR * NR_VECTORS),
    }


def _check_operands(A, B) -> tuple[np.ndarray, np.ndarray]:
    for name, x in (("A", A), ("B", B)):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {x.ndim}-D")
        if x.dtype not in (np.float64, np.float32):
            raise TypeError(f"{name} must be float64 or float32, got {x.dtype}")
        if 0 in x.shape:
            raise ValueError(f"{name} must have at least one row and column, got {x.shape}")
    if A.dtype != B.dtype:
        raise TypeError(f"A and B must have the same dtype, got {A.dtype} and {B.dtype}")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A's columns ({A.shape[1]}) must equal B's rows ({B.shape[0]})")
    return np.ascontiguousarray(A), np.ascontiguousarray(B)


def matmul(A: np.ndarray, B: np.ndarray, variant: str = "packed") -> np.ndarray:
    """``A @ B`` computed by one of :data:`VARIANTS` (see the module docstring).

    Parameters
    ----------
    A : ndarray, shape (m, k), float64 or float32
    B : ndarray, shape (k, n), same dtype as ``A``
    variant : {"naive", "reordered", "tiled", "packed"}
        ``packed`` runs on numba's current thread count (see :func:`aichip.threads.numba_threads`);
        the others on one thread.

    Returns
    -------
    ndarray, shape (m, n), dtype of ``A``
    """
    check_choice("variant", variant, VARIANTS)
    A, B = _check_operands(A, B)
    C = np.zeros((A.shape[0], B.shape[1]), dtype=A.dtype)
    if variant == "naive":
        _naive_kernel(A, B, C)
    elif variant == "reordered":
        _reordered_kernel(A, B, C)
    elif variant == "tiled":
        _tiled_kernel(A, B, C, TILE)
    else:
        blk = PACKED_BLOCKING
        mr, nr = micro_tile(A.dtype)
        _packed_kernel(A, B, C, blk["MC"], blk["KC"], blk["NC"], mr, nr, numba.get_num_threads())
    return C


def traffic_bytes(n: int, variant: str, bytes_per_elem: int = 8) -> int:
    """Bytes moved between the cache that holds a variant's reused data and the level below it,
    for square ``n x n`` matrices, counted from the loops (each count is stated in its branch).

    * ``naive``: every ``b[p, j]`` load misses (a column walk touches a new line each time, and
      the ``n`` lines of a column are evicted before the next column reuses them once ``n`` lines
      exceed the cache): ``n**3`` elements of B, plus A's row (reused from cache) and C: about
      ``n**3 + 2 n**2`` elements.
    * ``reordered``: for each of the ``n`` rows of C, all of B streams by (B does not fit in
      cache for large ``n``): ``n**3`` elements of B, plus A read once and C read and written
      back once (``c[i, j] +=`` reads each element before it writes it): ``n**3 + 3 n**2``.
    * ``tiled`` with tile ``T``: each of the ``(n/T)**3`` block steps loads a tile of B and reads
      and writes a tile of C (``3 T**2``), while the tile of A is loaded once per ``(i0, p0)``:
      ``3 n**3 / T + n**2`` elements.
    * ``packed`` (Goto's schedule): B is read once (packed once per KC x NC panel, ``n**2``), A once
      per NC-wide column panel (``n**2 * ceil(n / NC)``), and C read and written once per KC-deep
      slice (``2 n**2 * ceil(n / KC)``).
    """
    n = check_int("n", n, minimum=1)
    check_choice("variant", variant, VARIANTS)
    bytes_per_elem = check_int("bytes_per_elem", bytes_per_elem, minimum=1)
    if variant == "naive":
        elems = n**3 + 2 * n**2
    elif variant == "reordered":
        elems = n**3 + 3 * n**2
    elif variant == "tiled":
        elems = 3 * n**3 // TILE + n**2
    else:
        blk = PACKED_BLOCKING
        n_col_panels = -(-n // blk["NC"])
        n_k_slices = -(-n // blk["KC"])
        elems = n**2 * n_col_panels + n**2 + 2 * n**2 * n_k_slices
    return elems * bytes_per_elem


def intensity(n: int, variant: str, bytes_per_elem: int = 8) -> float:
    """Operational intensity (FLOP/byte) of a square ``n x n`` product by ``variant``:
    ``2 n**3`` flops over :func:`traffic_bytes`."""
    return 2 * n**3 / traffic_bytes(n, variant, bytes_per_elem)


def benchmark(n: int = 1024, variants=VARIANTS, dtype: str = "float64", threads: int | None = None,
              repeats: int = 3, seed: int = 0):
    """Time each variant and NumPy's BLAS (``"numpy"``) on the same ``n x n`` operands, side by
    side.

    ``packed`` and NumPy run on ``threads`` threads (numba's and the BLAS library's, default all;
    NumPy's row reports the count its BLAS library says it used);
    the other variants on one. After one warm-up call each, NumPy and ``packed`` are timed in
    alternation (NumPy, packed, NumPy, packed, ...), ``repeats`` calls each, so that a burst of
    load from other processes hits both alike; the other variants are timed after them. Each
    keeps its best call. Before each timed call of the alternation the process waits until the
    other library's worker threads stop spinning (:func:`aichip.timing.wait_until_idle`):
    OpenBLAS's spin for about 0.1 s after a call, longer than ``packed`` takes at n = 1024, and
    on 2 cores a kernel timed beside them ran at less than half its speed.

    Returns
    -------
    pandas.DataFrame
        Columns ``variant``, ``n``, ``threads``, ``best_s``, ``GFLOPs`` (``2 n**3`` over the best
        time), ``intensity`` (FLOP/byte from :func:`traffic_bytes`; compulsory traffic for NumPy),
        ``max_rel_err`` (against NumPy's product, so every timing carries its correctness check).
    """
    import time

    import pandas as pd

    from .threads import blas_threads, numba_threads
    from .timing import time_call, wait_until_idle
    from .validation import check_threads

    n = check_int("n", n, minimum=1)
    for v in variants:
        check_choice("variants", v, VARIANTS)
    check_choice("dtype", dtype, ("float64", "float32"))
    threads = check_threads(threads)
    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    size = np.dtype(dtype).itemsize
    best = {}
    with blas_threads(threads) as blas_used, numba_threads(threads):
        ref = A @ B
        side_by_side = {"numpy": lambda: A @ B}
        if "packed" in variants:
            side_by_side["packed"] = functools.partial(matmul, A, B, "packed")
        for fn in side_by_side.values():
            fn()  # warm-up: compiles, faults the pages in
        for _ in range(repeats):
            for name, fn in side_by_side.items():
                wait_until_idle()  # the other pool's spinning threads would share the cores
                start = time.perf_counter()
                fn()
                best[name] = min(best.get(name, np.inf), time.perf_counter() - start)
        errors = {v: matmul(A, B, v) for v in variants if v == "packed"}
    scale = np.abs(ref).max()
    # NumPy's row: the thread count its BLAS library reports (one when it reports none)
    rows = [("numpy", blas_used or 1, best["numpy"], 0.0, 2 * n**3 / (size * 3 * n**2))]
    for v in variants:
        if v == "packed":
            t, product = best["packed"], errors["packed"]
        else:
            with numba_threads(1):
                t = time_call(functools.partial(matmul, A, B, v), repeats=repeats).best_s
                product = matmul(A, B, v)
        err = float(np.abs(product - ref).max() / scale)
        rows.append((v, threads if v == "packed" else 1, t, err, intensity(n, v, size)))
    df = pd.DataFrame(rows, columns=["variant", "threads", "best_s", "max_rel_err", "intensity"])
    df.insert(1, "n", n)
    df["GFLOPs"] = 2 * n**3 / df["best_s"] / 1e9
    return df


def kernel_source(part: str) -> str:
    """Source lines of a kernel between its ``# magictoken: <part>-begin`` and ``-end`` markers,
    dedented, for a chapter to show; ``part`` one of ("naive", "reordered", "tiled", "micro",
    "packed", "pack-a", "pack-b"); ``micro`` is the Python that emits the micro-kernel's LLVM IR."""
    kernels = {"naive": _naive_kernel, "reordered": _reordered_kernel, "tiled": _tiled_kernel,
               "micro": _emit_micro_kernel, "packed": _packed_kernel, "pack-a": _pack_a,
               "pack-b": _pack_b}
    check_choice("part", part, tuple(kernels))
    return marked_source(kernels[part], part)
