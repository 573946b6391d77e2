"""High-bandwidth memory generations and the GPU memory hierarchy, from their sources.

Two tables of :mod:`aichip.tables`:

* ``hbm``: one row per HBM generation (JEDEC standard or first vendor part): interface width per
  stack, per-pin data rate, tallest stack, and the per-stack bandwidth the source states.
  :func:`hbm_generations` adds the bandwidth derived from the interface, ``bus width x pin rate /
  8``, and its ratio to the stated figure (the sources round: "819 GB/s", "over 1.2 TB/s",
  "2 TB/s").
* ``gpu_memory``: per GPU (A100, H100, B200) and level (registers, shared memory / L1, L2,
  HBM), the capacity and the bandwidth where the vendor publishes one, per SM or per GPU.
  :func:`memory_hierarchy` turns per-SM figures into per-GPU ones with the SM count and clock of
  ``gpus.csv`` (where that table has the GPU) and derives a bandwidth from bytes per clock.

A level whose figure no source gives stays empty (NaN): the book does not guess it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import tables
from .validation import check_choice

__all__ = ["hbm_generations", "memory_hierarchy", "gpu_names", "implied_pin_rate_Gbps"]


def hbm_generations() -> pd.DataFrame:
    """The ``hbm`` table with ``derived_GBps`` (bus width x pin rate / 8, GB/s per stack) and
    ``derived_over_stated`` (its ratio to the source's ``stack_GBps``)."""
    df = tables.load_table("hbm")
    df["derived_GBps"] = df["bus_width_bits"] * df["pin_rate_Gbps"] / 8
    df["derived_over_stated"] = df["derived_GBps"] / df["stack_GBps"]
    return df


def gpu_names() -> list[str]:
    """GPUs of the ``gpu_memory`` table, in file order."""
    return list(dict.fromkeys(tables.load_table("gpu_memory")["gpu"]))


def memory_hierarchy(gpu: str) -> pd.DataFrame:
    """Capacity and bandwidth of each memory level of ``gpu``, per GPU.

    Columns: ``level``, ``capacity_MiB`` (per GPU: per-SM capacity times the SM count), and
    ``bandwidth_GBps`` (per GPU: bytes per clock per SM times SMs times the boost clock, or
    bytes per clock of the whole GPU times the clock, or the published figure), ``source`` and
    ``derived`` (how the numbers were obtained). Per-SM levels of a GPU missing from ``gpus.csv``
    keep their per-SM capacity in ``capacity_per_sm_KiB`` and NaN totals.
    """
    check_choice("gpu", gpu, gpu_names())
    rows = tables.load_table("gpu_memory")
    rows = rows[rows["gpu"] == gpu]
    units = tables.load_table("gpus").set_index("name")
    sms = float(units.loc[gpu, "sm_count"]) if gpu in units.index else np.nan
    clock_GHz = float(units.loc[gpu, "boost_clock_MHz"]) / 1e3 if gpu in units.index else np.nan
    out = []
    for _, r in rows.iterrows():
        per_sm = r["scope"] == "SM"
        count = sms if per_sm else 1.0
        if not np.isnan(r["bandwidth_GBps"]):
            bandwidth, how = r["bandwidth_GBps"], "published"
        else:
            bandwidth = r["bytes_per_clock"] * count * clock_GHz
            how = "bytes/clock x SMs x clock" if per_sm else "bytes/clock x clock"
        out.append({"level": r["level"],
                    "capacity_per_sm_KiB": r["capacity_KiB"] if per_sm else np.nan,
                    "capacity_MiB": r["capacity_KiB"] * count / 1024,
                    "bandwidth_GBps": bandwidth,
                    "derived": how if not np.isnan(bandwidth) else "not published",
                    "source": r["source"]})
    return pd.DataFrame(out)


def implied_pin_rate_Gbps(gpu: str) -> float:
    """The per-pin rate a GPU's HBM runs at: its bandwidth x 8 / its interface width (bits)."""
    rows = tables.load_table("gpu_memory")
    hbm = rows[(rows["gpu"] == check_choice("gpu", gpu, gpu_names())) & (rows["level"] == "HBM")]
    if hbm.empty or np.isnan(hbm["interface_bits"].iloc[0]):
        raise ValueError(f"gpu {gpu!r} has no published HBM interface width")
    return float(hbm["bandwidth_GBps"].iloc[0] * 8 / hbm["interface_bits"].iloc[0])
