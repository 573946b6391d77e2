"""Thread counts of the two thread pools a measurement can use: numba's and the BLAS library's.

Every measurement that runs on a chosen number of threads goes through these context managers, so
that the previous setting is always restored, even when the measured code raises:

* :func:`numba_threads` sets the number of threads numba's parallel kernels (``prange``) use, up to
  the ``NUMBA_NUM_THREADS`` fixed when the process started;
* :func:`blas_threads` limits the threads of the BLAS library NumPy calls (OpenBLAS, MKL, BLIS),
  with threadpoolctl, which finds the library loaded into this process and calls its own
  thread-count function.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba

from .validation import check_int, check_threads

__all__ = ["numba_threads", "blas_threads"]


@contextmanager
def numba_threads(threads: int | None = None) -> Iterator[int]:
    """Run the ``with`` block with ``threads`` numba threads, then restore the previous count.

    Parameters
    ----------
    threads : int in [1, ``numba.config.NUMBA_NUM_THREADS``], or None for all of them

    Yields
    ------
    int
        The thread count in force inside the block.
    """
    threads = check_threads(threads)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield threads
    finally:
        numba.set_num_threads(previous)


@contextmanager
def blas_threads(threads: int | None = None) -> Iterator[int | None]:
    """Run the ``with`` block with NumPy's BLAS limited to ``threads`` threads (None: unchanged).

    Yields the BLAS library's thread count inside the block, as the library reports it (None when
    no BLAS library with a thread-count control is loaded).
    """
    import numpy  # noqa: F401  (importing NumPy loads its BLAS into the process)
    from threadpoolctl import threadpool_info, threadpool_limits

    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    with threadpool_limits(limits=threads, user_api="blas"):
        pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
        yield pools[0]["num_threads"] if pools else None
