"""The scope of ``tools/mutate.py`` (issues 11, 22): which modules and data tables get mutants,
and which test files are run against each (the only ones run, so that a mutant takes seconds)."""

from __future__ import annotations

import re
from typing import NamedTuple


class Target(NamedTuple):
    module: str  # path under code/aichip, or under the repository root when it starts with "_ext/"
    tests: tuple[str, ...]  # the test files that cover it
    names: tuple[str, ...] = ()  # functions, Class.method or module-level assignments; () = all
    lines: str = r"."  # within those, only lines matching this (the formulas, not the plumbing)


def module_path(module: str) -> str:
    """A Target's module as a path under the repository root."""
    return module if module.startswith("_ext/") else f"code/aichip/{module}"


GPU_TESTS = ("tests/test_gpu_occupancy.py", "tests/test_gpu.py", "tests/test_gpu_kernels.py")
COLLECTIVE_TESTS = ("tests/test_collectives.py", "tests/test_collectives_innet.py")


def package(folder: str, tests: tuple[str, ...], files: tuple[str, ...]) -> tuple[Target, ...]:
    """One label's Targets: the named files of a package, all run against the same tests."""
    return tuple(Target(f"{folder}/{name}.py", tests) for name in files)


#: label -> the modules it covers, each with the test files that cover it (the only ones run
#: against its mutants). systolic, membench and flops are issue 11's formulas (named functions
#: and lines); the rest (issue 22) are whole modules: every module that models, measures or
#: computes.
#: Argument checks (lines calling ``check_*``) are never mutated. A package is one label, its
#: mutants sampled together.
SCOPE: dict[str, tuple[Target, ...]] = {
    "systolic": (Target("systolic.py", ("tests/test_systolic.py",), ("_dims", "gemm_cycles"),
                        r"folds|per_fold|macs|GemmCycles|s_r \* s_c|return"),),
    "layers": (Target("layers.py", ("tests/test_systolic.py", "tests/test_dataflow.py")),),
    "membench": (Target("membench.py", ("tests/test_membench.py",),
                        ("KERNELS", "_WRITE_ALLOCATE_BYTES", "reference", "measure_bandwidth"),
                        r"arrays|bytes_per_elem|flops_per_elem|_WRITE_ALLOCATE_BYTES =|moved|"
                        r"\[:\] =|n = n_bytes"),),
    "flops": (Target("flops.py", ("tests/test_flops.py",),
                     ("fma_recurrence", "fma_flops", "measure_peak_flops", "measure_gemm",
                      "measure_gemv"),
                     r"flops = |x = |return "),),
    # issue 22: whole modules (alphabeta to collectives were issue 11's formulas only)
    "alphabeta": (Target("alphabeta.py", COLLECTIVE_TESTS),),
    "collective_specs": package("collective_specs", COLLECTIVE_TESTS,
                                ("records", "schedules", "costs", "operations", "algorithms")),
    "dataflow": (Target("dataflow.py", ("tests/test_dataflow.py",)),),
    "collectives": (Target("collectives.py", COLLECTIVE_TESTS),),
    "gemm": (Target("gemm.py", ("tests/test_gemm.py",)),),
    "memory": (Target("memory.py", ("tests/test_memory.py",)),),
    "training": (Target("training.py", ("tests/test_training.py",)),),
    "gpu": package("gpu", GPU_TESTS, ("hardware", "occupancy", "simt", "tensorcore", "kernels")),
    "sparse": (Target("sparse.py", ("tests/test_sparse.py",)),),
    "rdma": package("rdma", ("tests/test_rdma.py", "tests/test_congestion.py"),
                    ("verbs", "networks", "timing", "congestion", "congestion_kernel",
                     "copybench")),
    "rmabench": (Target("rmabench.py", ("tests/test_rmabench.py",)),),
    "kvstore": (Target("kvstore.py", ("tests/test_kvstore.py",)),),
    "scaling": package("scaling", ("tests/test_scaling.py",),
                       ("counting", "model", "_kernel", "search", "clusters", "published",
                        "shapes")),
    "ddp": (Target("ddp.py", ("tests/test_ddp.py",)),),
    "parallelism": (Target("parallelism.py", ("tests/test_parallelism.py",)),),
    "topology": package("topology", ("tests/test_topology.py", "tests/test_topology_today.py"),
                        ("graph", "_maxflow", "_paths", "metrics", "routing", "systems",
                         "fabrics")),
    "moe": (Target("moe.py", ("tests/test_moe.py",)),),
    "serving": package("serving", ("tests/test_serving.py", "tests/test_serving_kvcache.py",
                                   "tests/test_serving_batching.py",
                                   "tests/test_serving_disaggregation.py"),
                       ("model", "roofline", "kvcache", "traces", "batching", "speculative",
                        "disaggregation", "quantisation")),
    "decoder": (Target("decoder.py", ("tests/test_decoder.py",)),),
    "decodebench": (Target("decodebench.py", ("tests/test_decoder.py",)),),
    "mpibench": (Target("mpibench.py", ("tests/test_mpibench.py",)),),
    "mpiharness": (Target("mpiharness.py", ("tests/test_mpiharness.py",)),),
    "arith": package("arith", ("tests/test_arith.py",),
                     ("formats", "multiplier", "mx", "fp8_training")),
    "roofline": (Target("roofline.py", ("tests/test_roofline.py",)),),
    # issue 25's models and issue 24's measurement checks
    "attention": (Target("attention.py", ("tests/test_attention.py",)),),
    "hbm": (Target("hbm.py", ("tests/test_attention.py",)),),
    "tpu_family": (Target("tpu_family.py", ("tests/test_tpu_family.py",)),),
    "davinci": (Target("davinci.py", ("tests/test_davinci_bsp.py",)),),
    "bsp": (Target("bsp.py", ("tests/test_davinci_bsp.py",)),),
    "systolic_traffic": (Target("systolic_traffic.py", ("tests/test_systolic_traffic.py",)),),
    "contention": (Target("contention.py", ("tests/test_contention.py",)),),
    "widgets/static": (Target("widgets/static.py", ("tests/test_widgets_static.py",)),
                       Target("widgets/rendering.py", ("tests/test_widgets_static.py",))),
    "_ext": (Target("_ext/static_explorers.py", ("tests/test_widgets_static.py",)),
             Target("_ext/zmq_rearm.py", ("tests/test_zmq_rearm.py",)),
             Target("_ext/offline_assets.py", ("tests/test_ext.py",)),
             Target("_ext/vendor_js.py", ("tests/test_ext.py",))),
}

#: ``--data``: each table of ``code/aichip/data`` -> the test files that load it (directly or
#: through the module that owns it). One numeric cell is changed at a time (see ``mutate_cell``).
DATA_TESTS: dict[str, tuple[str, ...]] = {
    "chips": ("tests/test_chips.py", "tests/test_gpu.py", "tests/test_roofline.py"),
    "clusters": ("tests/test_scaling.py",),
    "conv_layers": ("tests/test_dataflow.py", "tests/test_systolic.py"),
    "cuda_limits": GPU_TESTS,
    "energy_horowitz45": ("tests/test_energy.py", "tests/test_dataflow.py"),
    "eyeriss_costs": ("tests/test_dataflow.py",),
    "gemm_efficiency": ("tests/test_scaling.py",),
    "gemm_shapes": GPU_TESTS,
    "gpu_memory": ("tests/test_attention.py",),
    "gpus": GPU_TESTS + ("tests/test_topology.py",),
    "hbm": ("tests/test_attention.py",),
    "korthikanti_iterations": ("tests/test_scaling.py",),
    "korthikanti_layer_times": ("tests/test_scaling.py",),
    "links": ("tests/test_links.py", "tests/test_topology.py", "tests/test_rdma.py"),
    "megatron_weak_scaling": ("tests/test_scaling.py",),
    "optimizer_states": ("tests/test_training.py", "tests/test_memory.py"),
    "scalesim_reference": ("tests/test_systolic.py",),
    "tensor_cores": GPU_TESTS,
    "tpu_generations": ("tests/test_tpu_family.py", "tests/test_chips.py"),
}

#: Numeric columns left out of the cell mutation, each with why no test can check it: a value
#: recorded from a run, which no source prints and which only its re-measurement could confirm.
RECORDED_COLUMNS: dict[str, dict[str, str]] = {
    "scalesim_reference": {
        "scalesim_s": "SCALE-Sim's wall time on the build machine, recorded when its cycles were; "
                      "make bench reads it only to print the speed ratio where SCALE-Sim is not "
                      "installed, and re-measures it where it is (bench/scalesim_runner.py)"},
}

#: cosmic-ray operators used (the full set has 213, mostly every binary operator swapped for
#: every other one); these are the mistakes a model's formula plausibly contains.
OPERATORS = re.compile(r"core/(NumberReplacer"
                       r"|ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|FloorDiv_Div)"
                       r"|ReplaceComparisonOperator_(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Eq_NotEq))$")
