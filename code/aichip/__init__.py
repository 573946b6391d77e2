"""aichip: kernels, simulators and models for the book *AI Chips & GPU Communication*.

Modules are named after what they model (``roofline``, ``membench``, ``flops``, ``chips``, ...);
import them explicitly, e.g. ``from aichip import roofline``.

Units used throughout: GB = 1e9 bytes, GiB = 2**30 bytes, GFLOP/s = 1e9 floating-point operations
per second, and one multiply-accumulate (MAC) counts as two operations.
"""

import os as _os

# numba's default "workqueue" threading layer aborts the process when two Python threads call
# parallel kernels at once, which a Jupyter kernel driving widgets can do. Ask for a thread-safe
# layer (OpenMP or TBB) unless the reader chose one explicitly.
if "NUMBA_THREADING_LAYER" not in _os.environ:
    import numba as _numba

    _numba.config.THREADING_LAYER = "threadsafe"

__version__ = "0.1.0"

# the package's name space holds no model of its own: import the modules explicitly
__all__ = ["__version__"]
