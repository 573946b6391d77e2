"""The six collective operations: buffer layout, NumPy reference, bus-bandwidth factor, MPI call.

Each operation is one :class:`~aichip.collective_specs.records.OpSpec` built from the named
functions below. A rank's working buffer holds its input at ``input_offset`` and, when the
algorithm is done, its result, which ``result`` reads back.
"""

from __future__ import annotations

import numpy as np

from .records import OpSpec, register_operation
from .schedules import bounds

__all__ = ["allgather_reference", "allreduce_bus_factor", "allreduce_reference",
           "alltoall_reference", "alltoall_result", "at_own_block", "at_start",
           "broadcast_reference", "every_rank_buffer", "gathered_len", "mpi_allgather",
           "mpi_allreduce", "mpi_alltoall", "mpi_bcast", "mpi_reduce", "mpi_reduce_scatter",
           "no_receive_buffer", "one_block", "one_chunk_len", "p_blocks", "reduce_reference",
           "reduce_scatter_reference", "reduce_scatter_result", "root_buffer",
           "send_and_receive_len", "share_moved", "unit_factor", "vector_len"]

# ----------------------------------------------------------------------------------------------
# buffer layout: (p, count) -> elements, (p, count, rank) -> offset


def vector_len(p: int, count: int) -> int:
    """The vector itself: ``count`` elements."""
    return count


def gathered_len(p: int, count: int) -> int:
    """Every rank's block of ``count``: ``p * count`` elements."""
    return p * count


def send_and_receive_len(p: int, count: int) -> int:
    """A send half and a receive half of ``count`` each (all-to-all)."""
    return 2 * count


def one_chunk_len(p: int, count: int) -> int:
    """One rank's ``1/p`` of the vector (reduce-scatter's MPI receive buffer)."""
    return count // p


def no_receive_buffer(p: int, count: int) -> int:
    """No MPI receive buffer (broadcast works in place)."""
    return 0


def at_start(p: int, count: int, rank: int) -> int:
    return 0


def at_own_block(p: int, count: int, rank: int) -> int:
    """Rank r's block sits where the gathered result will hold it."""
    return rank * count


def one_block(p: int) -> int:
    return 1


def p_blocks(p: int) -> int:
    return p


# ----------------------------------------------------------------------------------------------
# bus-bandwidth factors (nccl-tests): p -> busbw / algbw


def unit_factor(p: int) -> float:
    return 1.0


def share_moved(p: int) -> float:
    """``(p-1)/p``: the share of the data each rank must send or receive."""
    return (p - 1) / p


def allreduce_bus_factor(p: int) -> float:
    """``2(p-1)/p``: a reduce-scatter and an all-gather."""
    return 2 * (p - 1) / p


# ----------------------------------------------------------------------------------------------
# results read from the final buffers (buf, x, root), and the NumPy references (x, root)


def every_rank_buffer(buf, x, root):
    return [row.copy() for row in buf]


def root_buffer(buf, x, root):
    return [buf[r].copy() if r == root else None for r in range(len(buf))]


def reduce_scatter_result(buf, x, root):
    p, count = x.shape
    b = bounds(0, count, p)
    return [buf[r, b[r]:b[r + 1]].copy() for r in range(p)]


def alltoall_result(buf, x, root):
    p, count = x.shape
    blk = count // p
    out = [buf[r, count:].copy() for r in range(p)]
    for r in range(p):                           # a rank's own block never crosses the network
        out[r][r * blk:(r + 1) * blk] = x[r, r * blk:(r + 1) * blk]
    return out


def broadcast_reference(x, root):
    return [x[root].copy() for _ in range(x.shape[0])]


def reduce_reference(x, root):
    return [x.sum(axis=0) if r == root else None for r in range(x.shape[0])]


def allgather_reference(x, root):
    return [x.reshape(-1).copy() for _ in range(x.shape[0])]


def reduce_scatter_reference(x, root):
    return [c.copy() for c in np.array_split(x.sum(axis=0), x.shape[0])]


def allreduce_reference(x, root):
    return [x.sum(axis=0) for _ in range(x.shape[0])]


def alltoall_reference(x, root):
    p, count = x.shape
    blocks = x.reshape(p, p, count // p)         # [src, dst, :]
    return [blocks[:, r, :].reshape(-1).copy() for r in range(p)]


# ----------------------------------------------------------------------------------------------
# the mpi4py calls (comm, send, recv), root 0


def mpi_allreduce(comm, send, recv):
    comm.Allreduce(send, recv)


def mpi_reduce(comm, send, recv):
    comm.Reduce(send, recv, root=0)


def mpi_bcast(comm, send, recv):
    comm.Bcast(send, root=0)


def mpi_allgather(comm, send, recv):
    comm.Allgather(send, recv)


def mpi_reduce_scatter(comm, send, recv):
    comm.Reduce_scatter_block(send, recv)


def mpi_alltoall(comm, send, recv):
    comm.Alltoall(send, recv)


# ----------------------------------------------------------------------------------------------
# the records

# the root's vector ends up on every rank
register_operation(OpSpec(
    name="broadcast", buf_len=vector_len, input_offset=at_start, result=every_rank_buffer,
    reference=broadcast_reference, bus_factor=unit_factor, size_blocks=one_block,
    mpi_call=mpi_bcast, mpi_recv_elements=no_receive_buffer, rooted=True))
# the element-wise sum ends up on the root
register_operation(OpSpec(
    name="reduce", buf_len=vector_len, input_offset=at_start, result=root_buffer,
    reference=reduce_reference, bus_factor=unit_factor, size_blocks=one_block,
    mpi_call=mpi_reduce, mpi_recv_elements=vector_len, rooted=True))
# every rank ends up with every rank's block
register_operation(OpSpec(
    name="allgather", buf_len=gathered_len, input_offset=at_own_block, result=every_rank_buffer,
    reference=allgather_reference, bus_factor=share_moved, size_blocks=p_blocks,
    mpi_call=mpi_allgather, mpi_recv_elements=gathered_len))
# rank r ends up with chunk r of the sum
register_operation(OpSpec(
    name="reduce_scatter", buf_len=vector_len, input_offset=at_start,
    result=reduce_scatter_result, reference=reduce_scatter_reference, bus_factor=share_moved,
    size_blocks=one_block, mpi_call=mpi_reduce_scatter, mpi_recv_elements=one_chunk_len,
    mpi_count_multiple_of_ranks=True))
# the sum ends up on every rank
register_operation(OpSpec(
    name="allreduce", buf_len=vector_len, input_offset=at_start, result=every_rank_buffer,
    reference=allreduce_reference, bus_factor=allreduce_bus_factor, size_blocks=one_block,
    mpi_call=mpi_allreduce, mpi_recv_elements=vector_len))
# block j of rank i ends up as block i of rank j
register_operation(OpSpec(
    name="alltoall", buf_len=send_and_receive_len, input_offset=at_start, result=alltoall_result,
    reference=alltoall_reference, bus_factor=share_moved, size_blocks=one_block,
    mpi_call=mpi_alltoall, mpi_recv_elements=vector_len, count_multiple_of_ranks=True,
    mpi_count_multiple_of_ranks=True))
