"""Link technologies (PCIe, NVLink, NVSwitch, InfiniBand, Ethernet) and their bandwidths.

The data lives in ``aichip/data/links.csv``, one row per technology, every row with its source:
``GBps_per_dir`` is the rate in one direction (1e9 bytes/s), ``GBps_bidirectional`` the sum of both
directions. :mod:`aichip.topology` builds its graphs from these rows.
"""

from __future__ import annotations

import functools
import pandas as pd

from .tables import load_table
from .validation import check_choice


@functools.lru_cache(maxsize=1)
def _links_cached() -> pd.DataFrame:
    return load_table("links")


def load_links() -> pd.DataFrame:
    """The link-technology table (a fresh copy): one row per technology, with its source.

    ``GBps_per_dir`` is the bandwidth in one direction (1e9 bytes/s), ``GBps_bidirectional`` the
    sum of both directions. NVLink rows describe one link; PCIe rows an x16 slot; NVSwitch rows a
    whole switch chip.
    """
    return _links_cached().copy()

def link(name: str) -> pd.Series:
    """One row of :func:`load_links` by exact name; ValueError listing the names otherwise."""
    df = _links_cached()
    check_choice("name", name, list(df["name"]))
    return df[df["name"] == name].iloc[0]

def link_GBps_per_dir(name: str) -> float:
    """Bandwidth of one link of technology ``name`` in one direction, 1e9 bytes/s."""
    return float(link(name)["GBps_per_dir"])
