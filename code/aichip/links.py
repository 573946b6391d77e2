"""Link technologies (PCIe, NVLink, NVSwitch, InfiniBand, Ethernet) and their bandwidths.

The data lives in ``aichip/data/links.csv``, one row per technology, every row with its source.
``GBps_per_dir`` is the **data rate** in one direction (1e9 bytes/s) after the line code, what a
payload can use; ``GBps_bidirectional`` is the sum of both directions. Where the source gives them,
``lanes`` (per direction and port), ``signal_GTps_per_lane`` (the signalling rate of one lane, one
bit per transfer as PCI-SIG counts it) and ``encoding`` (the line code, e.g. ``128b/130b``) give the
same rate from first principles::

    GBps_per_dir = ports * lanes * signal_GTps_per_lane * efficiency(encoding) / 8

(PCIe 3.0 x16: 16 x 8 GT/s x 128/130 / 8 = 15.75 GB/s, not the 16 GB/s of the raw signalling rate.)
:mod:`aichip.topology` builds its graphs from these rows.
"""

from __future__ import annotations

import functools

import pandas as pd

from .tables import load_table
from .validation import check_choice

__all__ = ["load_links", "link", "link_GBps_per_dir"]


@functools.lru_cache(maxsize=1)
def _links_cached() -> pd.DataFrame:
    return load_table("links")


def load_links() -> pd.DataFrame:
    """The link-technology table (a fresh copy): one row per technology, with its source.

    ``GBps_per_dir`` is the data rate in one direction after the line code (1e9 bytes/s),
    ``GBps_bidirectional`` the sum of both directions. NVLink and QPI rows describe one link, PCIe
    rows an x16 slot, network rows one port, NVSwitch rows a whole switch chip (``ports`` ports).
    """
    return _links_cached().copy()


@functools.lru_cache(maxsize=1)
def _rows_by_name() -> dict[str, pd.Series]:
    # the topology builders look links up thousands of times (NVL72: 1296 calls); filtering the
    # table on each call took seconds, a dictionary of its rows takes microseconds
    return {row["name"]: row for _, row in _links_cached().iterrows()}


def link(name: str) -> pd.Series:
    """One row of :func:`load_links` by exact name (a copy); ValueError listing the names
    otherwise."""
    rows = _rows_by_name()
    check_choice("name", name, list(rows))
    return rows[name].copy()


def link_GBps_per_dir(name: str) -> float:
    """Data rate of one link of technology ``name`` in one direction after the line code, 1e9
    bytes/s."""
    rows = _rows_by_name()
    check_choice("name", name, list(rows))
    return float(rows[name]["GBps_per_dir"])
