"""Showing the book's kernels in its chapters: the source between two marker comments.

A chapter prints the code that runs, not a copy of it: the module marks the lines to show with

    # magictoken: <token>-begin
    ...
    # magictoken: <token>-end

(the convention numba's documentation uses to pull its examples from its test suite), and the
chapter calls :func:`marked_source`. The markers can wrap whole functions at module level or a few
lines inside a kernel; the result is dedented either way.
"""

from __future__ import annotations

import inspect
import textwrap

__all__ = ["marked_source"]


def marked_source(obj, token: str) -> str:
    """Source lines of ``obj`` between ``# magictoken: <token>-begin`` and ``-end``, dedented.

    Parameters
    ----------
    obj : a module, a function, or a numba dispatcher (its Python function is read)
    token : the marker's name; it must mark exactly one block in ``obj``

    Raises
    ------
    TypeError for an empty or non-string token; ValueError when the token marks no block, or more
    than one, in ``obj``.
    """
    if not isinstance(token, str) or not token:
        raise TypeError(f"token must be a non-empty string, got {token!r}")
    lines = inspect.getsource(getattr(obj, "py_func", obj)).splitlines()
    begin, end = f"# magictoken: {token}-begin", f"# magictoken: {token}-end"
    starts = [i for i, line in enumerate(lines) if line.strip() == begin]
    stops = [i for i, line in enumerate(lines) if line.strip() == end]
    if len(starts) != 1 or len(stops) != 1 or stops[0] < starts[0]:
        name = getattr(obj, "__name__", type(obj).__name__)
        raise ValueError(f"token {token!r} must mark exactly one block in {name}")
    return textwrap.dedent("\n".join(lines[starts[0] + 1:stops[0]]))
