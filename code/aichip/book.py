"""Gluing a chapter's computed numbers into its prose, several at a time.

The chapters put every number that comes from the catalogue or a measurement into their text with
myst-nb's ``glue`` (a ``{glue:text}`name:.1f``` role in a markdown cell reads the value glued under
``name``), so text and data cannot drift apart. A code cell that computes a handful of them reads
better as one mapping than as a run of ``glue(...)`` calls::

    glue_values({"tpu_ridge": tpu.ridge_point, "tpu_bw": tpu.bw_GBps})

myst-nb is what builds the book; it is imported when a value is glued, so the rest of
:mod:`aichip` runs without it (``pip install ./code[book]`` brings it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

__all__ = ["glue_values", "formatted_values"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def glue_values(values: Mapping[str, object], fmt: str | Mapping[str, str] | None = None
                ) -> None:
    """Glue every ``name: value`` of ``values`` for the prose, without displaying it.

    Parameters
    ----------
    values : mapping of str to any object
        Names (a letter or underscore, then letters, digits and underscores) and the values to
        glue under them, glued in the mapping's order.
    fmt : str or mapping of str to str, optional
        A format specification (``".1f"``, ``",d"``) for every value, or a mapping from some of the
        names to theirs. A formatted value is glued as the string it formats to, so the markdown
        role shows it as it is (``{glue:text}`name```); an unformatted one is glued as it is, and
        the role may format it (``{glue:text}`name:.1f```).

    Returns nothing, so that a cell ending in this call shows no output (a figure cell would
    otherwise show a second output under the figure's label); :func:`formatted_values` gives what
    is glued.

    Raises
    ------
    TypeError
        ``values`` not a mapping, a name not a string, ``fmt`` neither a string nor a mapping.
    ValueError
        An empty mapping, a name that is not an identifier, a format for a name not in ``values``,
        or a format that does not apply to its value.
    """
    glued = formatted_values(values, fmt)
    from myst_nb import glue  # imported here: only the book build needs myst-nb

    for name, value in glued.items():
        glue(name, value, display=False)


def formatted_values(values: Mapping[str, object], fmt: str | Mapping[str, str] | None = None
                     ) -> dict[str, object]:
    """What :func:`glue_values` glues, name by name, after checking the arguments as it does
    (NumPy scalars as their Python values)."""
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of names to values, got {type(values).__name__}")
    if not values:
        raise ValueError("values must hold at least one name")
    for name in values:
        if not isinstance(name, str):
            raise TypeError(f"values' names must be strings, got {name!r}")
        if not _NAME.fullmatch(name):
            raise ValueError(f"values' name {name!r} must be an identifier (letters, digits, _)")
    if fmt is None:
        fmts = {}
    elif isinstance(fmt, str):
        fmts = dict.fromkeys(values, fmt)
    elif isinstance(fmt, Mapping):
        fmts = dict(fmt)
        unknown = sorted(set(fmts) - set(values))
        if unknown:
            raise ValueError(f"fmt names {unknown}, which are not in values")
    else:
        raise TypeError(f"fmt must be a format string or a mapping of names to formats, "
                        f"got {type(fmt).__name__}")
    glued: dict[str, object] = {}
    for name, value in values.items():
        if isinstance(value, np.generic):
            # a NumPy scalar as its Python value: myst-nb glues repr(), and NumPy 2 writes
            # np.float64(2.5), which the {glue:text} role cannot format
            value = value.item()
        if name not in fmts:
            glued[name] = value
            continue
        try:
            glued[name] = format(value, fmts[name])
        except (TypeError, ValueError) as err:
            raise ValueError(f"fmt {fmts[name]!r} does not apply to {name} = {value!r}: {err}"
                             ) from err
    return glued
