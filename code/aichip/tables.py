"""The reference tables shipped in ``aichip/data``: one loader, one declared schema per table.

Every table is a CSV file with a named header and a ``source`` column holding a BibTeX key of
``chapters/references.bib`` (the paper or datasheet the row comes from). A table is declared once in
:data:`SCHEMAS` (its exact header, which columns are numbers, which are whole numbers, which columns
form its unique key) and read by :func:`load_table`, which checks the file against its declaration:

* the header equals the declared columns, in order;
* numeric columns parse as numbers (an empty cell becomes NaN), integer columns have no empty cells;
* every row has a non-empty ``source``;
* the key columns identify each row once.

A module that owns a table reads it with ``tables.load_table("chips")`` (a fresh copy, parsed and
checked once per process) and adds only what is particular to it. Adding a table is one CSV file and
one :class:`TableSchema` entry; ``tests/test_tables.py`` checks every file in ``aichip/data``
against its schema and every ``source`` against the bibliography.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from .validation import check_choice

__all__ = ["TableSchema", "SCHEMAS", "table_names", "load_table"]


@dataclass(frozen=True)
class TableSchema:
    """Declaration of one CSV table in ``aichip/data``.

    Attributes
    ----------
    columns : the exact header, in order (must contain ``"source"``).
    numeric : columns parsed as float (empty cells become NaN).
    integer : columns parsed as int (no empty cells allowed); a subset of neither ``numeric``.
    key : columns whose values identify a row (unique together).
    description : one line on what a row is.
    """

    columns: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    integer: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self):
        if "source" not in self.columns:
            raise ValueError("a table schema must include a 'source' column")
        unknown = set(self.numeric) | set(self.integer) | set(self.key)
        unknown -= set(self.columns)
        if unknown:
            raise ValueError(f"schema names columns missing from its header: {sorted(unknown)}")
        if set(self.numeric) & set(self.integer):
            raise ValueError("a column cannot be both numeric (float) and integer")


_PRECISION_COLUMNS = ("fp64_TFLOPs", "fp32_TFLOPs", "tf32_TFLOPs", "fp16_TFLOPs", "bf16_TFLOPs",
                      "fp8_TFLOPs", "fp4_TFLOPs", "int8_TOPs", "int4_TOPs")

#: table name (file ``aichip/data/<name>.csv``) -> its schema
SCHEMAS: dict[str, TableSchema] = {
    "chips": TableSchema(
        columns=("name", "vendor", "kind", "year", "process_nm", *_PRECISION_COLUMNS, "mem_GB",
                 "mem_bw_GBps", "tdp_W", "clock_MHz", "source", "notes"),
        numeric=("process_nm", *_PRECISION_COLUMNS, "mem_GB", "mem_bw_GBps", "tdp_W", "clock_MHz"),
        integer=("year",), key=("name",),
        description="one real device with its peak throughputs, memory and power"),
    "links": TableSchema(
        columns=("name", "family", "generation", "year", "ports", "lanes", "signal_GTps_per_lane",
                 "encoding", "GBps_per_dir", "GBps_bidirectional", "source", "notes"),
        numeric=("lanes", "signal_GTps_per_lane", "GBps_per_dir", "GBps_bidirectional"),
        integer=("year", "ports"), key=("name",),
        description="one link technology (or switch chip): lanes, signalling rate and line code, "
                    "and the data rate per direction after the line code"),
    "energy_horowitz45": TableSchema(
        columns=("operation", "precision", "energy_pJ", "source", "notes"),
        numeric=("energy_pJ",), key=("operation", "precision"),
        description="energy of one operation at one precision, 45 nm (Horowitz 2014)"),
    "eyeriss_costs": TableSchema(
        columns=("level", "normalized_energy", "description", "source"),
        numeric=("normalized_energy",), key=("level",),
        description="Eyeriss's normalised energy per access of one storage level"),
    "conv_layers": TableSchema(
        columns=("network", "layer", "H", "W", "C", "K", "R", "S", "stride", "source", "notes"),
        integer=("H", "W", "C", "K", "R", "S", "stride"), key=("network", "layer"),
        description="one convolution layer's shape"),
    "scalesim_reference": TableSchema(
        columns=("layer", "M", "N", "K", "rows", "cols", "dataflow", "scalesim_cycles",
                 "scalesim_mapping_efficiency", "scalesim_s", "source", "notes"),
        numeric=("scalesim_mapping_efficiency", "scalesim_s"),
        integer=("M", "N", "K", "rows", "cols", "scalesim_cycles"),
        key=("layer", "rows", "cols", "dataflow"),
        description="one SCALE-Sim run: a GEMM layer on an array with a dataflow"),
    "cuda_limits": TableSchema(
        columns=("compute_capability", "architecture", "max_threads_per_block", "max_warps_per_sm",
                 "max_blocks_per_sm", "registers_per_sm", "max_registers_per_block",
                 "max_registers_per_thread", "register_allocation_unit",
                 "warp_allocation_granularity", "shared_bytes_per_sm", "max_shared_bytes_per_block",
                 "shared_allocation_unit", "shared_reserved_per_block", "source", "notes"),
        integer=("max_threads_per_block", "max_warps_per_sm", "max_blocks_per_sm",
                 "registers_per_sm", "max_registers_per_block", "max_registers_per_thread",
                 "register_allocation_unit", "warp_allocation_granularity", "shared_bytes_per_sm",
                 "max_shared_bytes_per_block", "shared_allocation_unit",
                 "shared_reserved_per_block"),
        key=("compute_capability",),
        description="per-SM and per-block resource limits of one CUDA compute capability"),
    "gpus": TableSchema(
        columns=("name", "architecture", "compute_capability", "sm_count", "fp32_cores_per_sm",
                 "fp64_cores_per_sm", "tensor_cores_per_sm", "boost_clock_MHz", "tensor_clock_MHz",
                 "l2_KiB", "shared_KiB_per_sm", "registers_per_sm", "source", "notes"),
        numeric=("boost_clock_MHz", "tensor_clock_MHz", "l2_KiB", "shared_KiB_per_sm"),
        integer=("sm_count", "fp32_cores_per_sm", "fp64_cores_per_sm", "tensor_cores_per_sm",
                 "registers_per_sm"),
        key=("name",),
        description="one NVIDIA GPU's unit counts, clocks and on-chip memories (name as in chips)"),
    "tpu_generations": TableSchema(
        columns=("name", "year", "tensorcores_per_chip", "mxus_per_tensorcore", "mxu_rows",
                 "mxu_cols", "clock_MHz", "peak_format", "peak_TFLOPs", "mem_capacity", "mem_unit",
                 "mem_bw_GBps", "ici_links", "sparsecores_per_chip", "source", "notes"),
        numeric=("mxus_per_tensorcore", "mxu_rows", "mxu_cols", "clock_MHz", "peak_TFLOPs",
                 "mem_capacity", "mem_bw_GBps", "ici_links", "sparsecores_per_chip"),
        integer=("year", "tensorcores_per_chip"), key=("name",),
        description="one TPU generation's matrix units (MXUs), clock, stated peak per chip, "
                    "memory, inter-chip links and SparseCores; empty where unpublished"),
    "tensor_cores": TableSchema(
        columns=("architecture", "precision", "dense_fma_per_clock_per_tc", "clock", "mma_shape",
                 "source", "notes"),
        integer=("dense_fma_per_clock_per_tc",), key=("architecture", "precision"),
        description="dense FMA per clock of one Tensor Core of an architecture at one precision"),
    "gemm_shapes": TableSchema(
        columns=("workload", "layer", "M", "N", "K", "source", "notes"),
        integer=("M", "N", "K"), key=("workload", "layer"),
        description="one GEMM (M x K times K x N) from a published network or benchmark"),
    "optimizer_states": TableSchema(
        columns=("optimizer", "precision", "param_bytes", "grad_bytes", "optimizer_bytes", "source",
                 "notes"),
        integer=("param_bytes", "grad_bytes", "optimizer_bytes"), key=("optimizer", "precision"),
        description="bytes per parameter of weights, gradients and optimizer state when training"),
    "clusters": TableSchema(
        columns=("name", "gpu", "scaleup_system", "scaleout_link", "nics_per_domain",
                 "alpha_scaleup_us", "alpha_scaleout_us", "nccl_scaleup_GBps", "gemm_source",
                 "source", "notes"),
        numeric=("alpha_scaleup_us", "alpha_scaleout_us", "nccl_scaleup_GBps"),
        integer=("nics_per_domain",), key=("name",),
        description="a training cluster: its GPU (as in chips), NVLink domain (a system of "
                    "aichip.topology), network links (as in links) and per-message latencies"),
    "gemm_efficiency": TableSchema(
        columns=("gpu", "measured_on", "precision", "measured_TFLOPs", "best_shape", "source",
                 "notes"),
        numeric=("measured_TFLOPs",), key=("gpu", "precision", "source"),
        description="the best measured GEMM throughput of a GPU (as in chips), the fraction of "
                    "its peak a large matrix product reaches, one row per measurement"),
    "megatron_weak_scaling": TableSchema(
        columns=("params_B", "n_heads", "hidden", "n_layers", "tp", "pp", "n_gpus",
                 "global_batch", "tflops_per_gpu", "percent_peak", "aggregate_pflops", "source",
                 "notes"),
        numeric=("params_B", "tflops_per_gpu", "percent_peak", "aggregate_pflops"),
        integer=("n_heads", "hidden", "n_layers", "tp", "pp", "n_gpus", "global_batch"),
        key=("params_B",),
        description="one row of Narayanan et al.'s weak-scaling table (SC'21, Table 1)"),
    "korthikanti_iterations": TableSchema(
        columns=("model", "n_heads", "hidden", "n_layers", "tp", "pp", "n_gpus", "global_batch",
                 "micro_batch", "full_recompute_s", "selective_sp_s", "mfu_percent",
                 "hfu_percent", "source", "notes"),
        numeric=("full_recompute_s", "selective_sp_s", "mfu_percent", "hfu_percent"),
        integer=("n_heads", "hidden", "n_layers", "tp", "pp", "n_gpus", "global_batch",
                 "micro_batch"),
        key=("model",),
        description="one end-to-end iteration time of Korthikanti et al. (MLSys 2023)"),
    "korthikanti_layer_times": TableSchema(
        columns=("experiment", "recompute", "sequence_parallel", "forward_ms", "backward_ms",
                 "combined_ms", "source", "notes"),
        numeric=("forward_ms", "backward_ms", "combined_ms"), key=("experiment",),
        description="one row of Korthikanti et al.'s Table 4: one 22B layer's forward and "
                    "backward time (MLSys 2023)"),
    "hbm": TableSchema(
        columns=("generation", "standard", "year", "bus_width_bits", "pin_rate_Gbps",
                 "max_stack_height", "stack_GBps", "source", "notes"),
        numeric=("pin_rate_Gbps", "stack_GBps"),
        integer=("year", "bus_width_bits", "max_stack_height"), key=("generation",),
        description="one HBM generation: interface bits and data rate per pin of one stack, its "
                    "tallest stack, and the per-stack bandwidth its source states"),
    "gpu_memory": TableSchema(
        columns=("gpu", "level", "scope", "capacity_KiB", "bytes_per_clock", "bandwidth_GBps",
                 "interface_bits", "source", "notes"),
        numeric=("capacity_KiB", "bytes_per_clock", "bandwidth_GBps", "interface_bits"),
        key=("gpu", "level"),
        description="one memory level of a GPU (as in chips): capacity and bandwidth per SM or "
                    "per GPU (scope), empty where no source gives the figure"),
}


def table_names() -> tuple[str, ...]:
    """Names of every declared table (``aichip/data/<name>.csv``)."""
    return tuple(SCHEMAS)


def _read_and_check(name: str) -> pd.DataFrame:
    schema = SCHEMAS[name]
    path = resources.files("aichip").joinpath(f"data/{name}.csv")
    with path.open("r", encoding="utf-8") as f:
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
    if tuple(df.columns) != schema.columns:
        raise ValueError(f"data/{name}.csv: header {tuple(df.columns)} differs from its schema "
                         f"{schema.columns} (aichip.tables.SCHEMAS)")
    for column in schema.numeric:
        values = df[column].str.strip().replace("", None)
        try:
            df[column] = pd.to_numeric(values, errors="raise").astype(float)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"data/{name}.csv: column {column!r} must hold numbers: {err}") from None
    for column in schema.integer:
        values = df[column].str.strip()
        if (values == "").any():
            rows = list(df.index[values == ""] + 2)
            raise ValueError(f"data/{name}.csv: column {column!r} needs a whole number on every "
                             f"row; empty on file lines {rows}")
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() | (numbers != numbers.round())
        if bad.any():
            raise ValueError(f"data/{name}.csv: column {column!r} must hold whole numbers; "
                             f"{list(values[bad])} on file lines {list(df.index[bad] + 2)}")
        df[column] = numbers.astype(int)
    no_source = df["source"].str.strip() == ""
    if no_source.any():
        raise ValueError(f"data/{name}.csv: every row needs a source; missing on file lines "
                         f"{list(df.index[no_source] + 2)}")
    if schema.key and df.duplicated(list(schema.key)).any():
        dup = df[df.duplicated(list(schema.key), keep=False)][list(schema.key)]
        raise ValueError(f"data/{name}.csv: key {schema.key} repeats: {dup.values.tolist()}")
    return df


@functools.cache
def _load_cached(name: str) -> pd.DataFrame:
    return _read_and_check(name)


def load_table(name: str) -> pd.DataFrame:
    """The table ``aichip/data/<name>.csv`` as a DataFrame, checked against its schema.

    Returns a fresh copy (callers may modify it); the file is parsed and checked once per process.
    Numeric columns are float (NaN for an empty cell), integer columns int, every other column str
    (an empty cell is ``""``).

    Raises
    ------
    ValueError
        For an unknown table name (listing the known ones) or a file that breaks its schema.
    """
    check_choice("name", name, SCHEMAS)
    return _load_cached(name).copy()
