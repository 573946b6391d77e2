"""Training clusters as data: ``data/clusters.csv`` (the wiring) joined with the chip catalogue
(peak and memory), the link table (rates) and ``data/gemm_efficiency.csv`` (how much of the peak a
large GEMM reaches).

A cluster is a set of NVLink *domains* (a DGX node of 8 GPUs, or a GB200 NVL72 rack of 72) joined
by a fat tree of InfiniBand. Per GPU and per direction:

* the NVLink domain is the graph of :mod:`aichip.topology` that ``scaleup_system`` names (a key of
  :data:`aichip.topology.SYSTEMS`): its GPU count is ``domain_gpus`` and a GPU's NVLink bandwidth
  (:func:`aichip.topology.gpu_bandwidth_GBps`) the scale-up bandwidth (A100: 12 NVLink 3 links of
  25 GB/s = 300 GB/s, the "600 GB/s bidirectional" of the datasheet). The machine is described
  once, by the topology, and the cluster reads its figures from there;
* scale-out bandwidth = ``nics_per_domain / domain_gpus`` x the port's ``GBps_per_dir`` (one HDR
  port per A100: 25 GB/s). The fat tree is taken as non-blocking (full bisection), as Selene's is.
* NCCL's collectives do not reach the NVLink line rate: its kernels send 128-byte payloads, about
  20 of every 25 GB/s on the wire, and an A100's ring reaches about 230 of its 300 GB/s, an
  H100's about 370 of 450 (NCCL's maintainer, ``jeaugey2023a100``, ``jeaugey2024nvls``): the
  ``nccl_scaleup_GBps`` column, kept as the fraction :attr:`Cluster.scaleup_efficiency` of the
  line rate so that :meth:`Cluster.with_bandwidth` scales both.

The GEMM efficiency is one measurement per cluster (``gemm_source`` names the row of
``gemm_efficiency.csv``): the best measured matrix-product throughput divided by the peak of the
GPU it was measured on. The A100 cluster stands for Selene as the 2021-22 papers ran it, so it
takes the measurement on that era's software (CUDA 11: 230 TFLOP/s for an 8192-cube FP16 product,
``li2022transformersbenchmarks``), not Bekman's CUDA 12.1 maximum (267.9 TFLOP/s over a sweep of
shapes), which :func:`gemm_efficiency` still returns by default. Neither is fitted to any
training run.
"""

from __future__ import annotations

import dataclasses
import functools

from .. import chips, topology
from ..links import link_GBps_per_dir
from ..tables import load_table
from ..validation import check_choice, check_float
from .shapes import quantisation

__all__ = ["Cluster", "cluster", "cluster_names", "gemm_efficiency", "scaleup_domain",
           "PRECISION", "sm_count", "gemm_ceiling", "H800_CLUSTER", "H800_NVLINK_GBPS_PER_DIR"]

#: the training precision whose peak and GEMM efficiency the model uses
PRECISION = "bf16"


@dataclasses.dataclass(frozen=True)
class Cluster:
    """One training cluster, every number derived from the data tables.

    Attributes
    ----------
    name : the ``clusters.csv`` name (or a variant's, see :meth:`with_bandwidth`).
    gpu : chip catalogue name.
    peak_TFLOPs : dense BF16 peak per GPU, 1e12 FLOP/s (``chips.csv``).
    gemm_efficiency : fraction of the peak a large GEMM reaches (:func:`gemm_efficiency`).
    memory_bytes : HBM capacity per GPU in bytes (``mem_GB * 1e9``).
    hbm_GBps : HBM bandwidth per GPU, 1e9 bytes/s (``chips.csv``): the roof of the memory-bound
        (element-wise) kernels.
    domain_gpus : GPUs in one NVLink domain (a node or a rack).
    scaleup_GBps, scaleout_GBps : per GPU, per direction, 1e9 bytes/s.
    alpha_scaleup_s, alpha_scaleout_s : latency per message (per ring step), seconds.
    source : BibTeX key of the cluster's row.
    n_sms : SMs per GPU (``gpus.csv``; 0 where the table has none: no wave quantisation).
    gemm_ceiling : fraction of the peak a GEMM reaches when its tiles fill every SM in every wave:
        ``gemm_efficiency`` over the quantisation of the shape it was measured on
        (:func:`gemm_ceiling`; :mod:`aichip.scaling.shapes`).
    scaleup_efficiency : fraction of ``scaleup_GBps`` NCCL's collectives reach over NVLink
        (``nccl_scaleup_GBps`` over the line rate; 1.0 when not given).
    """

    name: str
    gpu: str
    peak_TFLOPs: float
    gemm_efficiency: float
    memory_bytes: float
    hbm_GBps: float
    domain_gpus: int
    scaleup_GBps: float
    scaleout_GBps: float
    alpha_scaleup_s: float
    alpha_scaleout_s: float
    source: str
    n_sms: int = 0
    gemm_ceiling: float = 0.0
    scaleup_efficiency: float = 1.0

    def __post_init__(self):
        if self.gemm_ceiling == 0.0:
            object.__setattr__(self, "gemm_ceiling", self.gemm_efficiency)
        check_float("scaleup_efficiency", self.scaleup_efficiency, minimum=0.0,
                    strict_minimum=True, maximum=1.0)

    @property
    def nccl_scaleup_GBps(self) -> float:
        """NVLink bandwidth NCCL's collectives reach per GPU and direction, 1e9 bytes/s:
        ``scaleup_GBps * scaleup_efficiency`` (the rate the step-time model uses)."""
        return self.scaleup_GBps * self.scaleup_efficiency

    @property
    def effective_FLOPs(self) -> float:
        """FLOP/s one GPU sustains on the model's GEMMs: ``peak * gemm_efficiency``."""
        return self.peak_TFLOPs * 1e12 * self.gemm_efficiency

    def with_bandwidth(self, scaleup_GBps=None, scaleout_GBps=None) -> Cluster:
        """The same cluster with other link rates (per GPU, per direction, GB/s)."""
        up = self.scaleup_GBps if scaleup_GBps is None else check_float(
            "scaleup_GBps", scaleup_GBps, minimum=0.0, strict_minimum=True)
        out = self.scaleout_GBps if scaleout_GBps is None else check_float(
            "scaleout_GBps", scaleout_GBps, minimum=0.0, strict_minimum=True)
        return dataclasses.replace(self, scaleup_GBps=up, scaleout_GBps=out)


@functools.lru_cache(maxsize=1)
def _clusters():
    return load_table("clusters")


def cluster_names() -> tuple[str, ...]:
    """Names of the clusters in ``data/clusters.csv``."""
    return tuple(_clusters()["name"])


def _gemm_row(gpu: str, precision: str, source: str | None):
    """The ``gemm_efficiency.csv`` row of ``gpu``: the one from ``source`` (a BibTeX key), or
    else the first one measured at ``precision``."""
    table = load_table("gemm_efficiency")
    check_choice("gpu", gpu, list(table["gpu"]))
    if source is not None:
        rows = table[(table["gpu"] == gpu) & (table["source"] == source)]
        if rows.empty:
            raise ValueError(f"source must be one measuring {gpu}, got {source!r}")
        return rows.iloc[0]
    rows = table[(table["gpu"] == gpu) & (table["precision"] == precision)]
    if rows.empty:
        raise ValueError(f"precision must be one measured for {gpu}, got {precision!r}")
    return rows.iloc[0]


def gemm_efficiency(gpu: str, precision: str = PRECISION, source: str | None = None) -> float:
    """Best measured GEMM throughput of ``gpu`` as a fraction of the peak of the GPU it was
    measured on (``data/gemm_efficiency.csv``; both peaks from ``chips.csv``, at the precision it
    was measured in). ``source``: the measurement's BibTeX key (a cluster's ``gemm_source``);
    None takes the first row at ``precision``."""
    row = _gemm_row(gpu, precision, source)
    return float(row["measured_TFLOPs"] / chips.get(row["measured_on"]).peak(row["precision"]))


def sm_count(gpu: str) -> int:
    """SMs of ``gpu`` (``data/gpus.csv``), 0 when the table does not list it."""
    table = load_table("gpus")
    rows = table[table["name"] == gpu]
    return 0 if rows.empty else int(rows.iloc[0]["sm_count"])


def gemm_ceiling(gpu: str, precision: str = PRECISION, source: str | None = None) -> float:
    """:func:`gemm_efficiency` divided by the tile and wave quantisation of the shape it was
    measured on (``best_shape``, ``M x N x K``, on the SMs of the GPU it was measured on): the
    fraction of the peak a GEMM whose tiles fill every wave reaches. Without a measured shape or
    SM count, :func:`gemm_efficiency` itself."""
    eff = gemm_efficiency(gpu, precision, source)
    row = _gemm_row(gpu, precision, source)
    sms = sm_count(row["measured_on"])
    if not isinstance(row["best_shape"], str) or not row["best_shape"] or sms == 0:
        return eff
    m, n, _ = (int(x) for x in row["best_shape"].split("x"))
    return eff / quantisation(m, n, sms)


def scaleup_domain(system: str) -> topology.Topology:
    """The NVLink domain ``system`` (a key of :data:`aichip.topology.SYSTEMS`) as a graph."""
    check_choice("scaleup_system", system, list(topology.SYSTEMS))
    return topology.SYSTEMS[system]()


#: H800 cluster (DeepSeek-AI 2024, Section 3.1): DGX-H100-like nodes whose NVLink is cut to
#: 400 GB/s both directions (200 per direction), one 400 Gb/s InfiniBand port per GPU; the
#: H800's compute and memory are the H100 SXM's, so the chip row is the H100's
H800_CLUSTER = "h800_ib"
H800_NVLINK_GBPS_PER_DIR = 200.0


@functools.cache
def cluster(name: str) -> Cluster:
    """The :class:`Cluster` called ``name`` (one of :func:`cluster_names`, or
    :data:`H800_CLUSTER`: ``dgx_h100_ndr`` with NVLink at :data:`H800_NVLINK_GBPS_PER_DIR`)."""
    table = _clusters()
    if name == H800_CLUSTER:
        return dataclasses.replace(cluster("dgx_h100_ndr"), name=H800_CLUSTER,
                                   scaleup_GBps=H800_NVLINK_GBPS_PER_DIR,
                                   source="deepseekai2024v3")
    check_choice("name", name, [*table["name"], H800_CLUSTER])
    row = table[table["name"] == name].iloc[0]
    chip = chips.get(row["gpu"])
    domain = scaleup_domain(row["scaleup_system"])
    domain_gpus = domain.n_gpus
    up = topology.gpu_bandwidth_GBps(domain).GBps_per_dir
    out = row["nics_per_domain"] * link_GBps_per_dir(row["scaleout_link"]) / domain_gpus
    source = row["gemm_source"]
    nccl = float(row["nccl_scaleup_GBps"])
    return Cluster(name=name, gpu=row["gpu"], peak_TFLOPs=float(chip.peak(PRECISION)),
                   gemm_efficiency=gemm_efficiency(row["gpu"], source=source),
                   memory_bytes=float(chip.mem_GB) * 1e9,
                   hbm_GBps=float(chip.mem_bw_GBps), domain_gpus=int(domain_gpus),
                   scaleup_GBps=float(up), scaleout_GBps=float(out),
                   alpha_scaleup_s=float(row["alpha_scaleup_us"]) * 1e-6,
                   alpha_scaleout_s=float(row["alpha_scaleout_us"]) * 1e-6,
                   source=row["source"], n_sms=sm_count(row["gpu"]),
                   gemm_ceiling=gemm_ceiling(row["gpu"], source=source),
                   scaleup_efficiency=1.0 if nccl != nccl else nccl / float(up))
