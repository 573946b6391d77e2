"""Run SCALE-Sim on GEMM layers and print its compute cycles and run time as JSON.

This script runs under SCALE-Sim's own Python (a separate virtual environment with ``pip install
scalesim``; it is not a dependency of the book). ``bench/run.py`` calls it in a subprocess:

    $AICHIP_SCALESIM_PYTHON bench/scalesim_runner.py < job.json > result.json

``job.json`` is ``{"layers": [[name, M, N, K], ...], "arrays": [[rows, cols], ...],
"dataflows": ["os", "ws", "is"], "default_buffers": false}``. SRAMs are made large and the
interface bandwidth high so that SCALE-Sim reports no memory stalls: its total cycles are then its
compute cycles. Each result also carries SCALE-Sim's average mapping efficiency;
``data/scalesim_reference.csv`` records cycles, mapping efficiency and run time of every run
(``scalesim_cycles``, ``scalesim_mapping_efficiency``, ``scalesim_s``), and
``tests/test_systolic.py`` uses them as golden values. With ``"default_buffers": true`` the
buffers are SCALE-Sim's defaults instead (``make bench`` asks for them: they are the buffers
``aichip.systolic_traffic`` models, and on the bench's layers SCALE-Sim reports no stall cycles
with them either). Every result carries the per-operand SRAM and DRAM accesses of SCALE-Sim's
detailed access report for the buffers it ran with.
"""

import contextlib
import io
import json
import pathlib
import sys
import tempfile
import time

CONFIG = """[general]
run_name = aichip_{df}_{rows}x{cols}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:  {ifmap_kb}
FilterSramSzkB: {filter_kb}
OfmapSramSzkB:  {ofmap_kb}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : {bandwidth}
Dataflow : {df}
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {interface}
UseRamulatorTrace: False
"""

LAYOUT_HEADER = ("Layer name,IFMAP Height Intraline Factor,IFMAP Width Intraline Factor,"
                 "Filter Height Intraline Factor,Filter Width Intraline Factor,Channel Intraline "
                 "Factor,Num Filter Intraline Factor,IFMAP Height Intraline Order,IFMAP Width "
                 "Intraline Order,Channel Intraline Order,IFMAP Height Interline Order,IFMAP Width "
                 "Interline Order,Channel Interline Order,Num Filter Intraline Order,Channel "
                 "Intraline Order,Filter Height Intraline Order,Filter Width Intraline Order,Num "
                 "Filter Interline Order,Channel Interline Order,Filter Height Interline Order,"
                 "Filter Width Interline Order,\n")


#: Buffer sizes (kB, one byte a word) and interface of the cycle runs: SRAMs so large and an
#: interface so fast that SCALE-Sim reports no stalls.
NO_STALLS = {"ifmap_kb": 1048576, "filter_kb": 1048576, "ofmap_kb": 1048576, "bandwidth": 1000,
             "interface": "USER"}
#: SCALE-Sim's own defaults (``scale_config``'s initial values: 256, 256 and 128 kB, one byte a
#: word), with the interface bandwidth computed by SCALE-Sim: the traffic runs.
DEFAULT_BUFFERS = {"ifmap_kb": 256, "filter_kb": 256, "ofmap_kb": 128, "bandwidth": 10,
                   "interface": "CALC"}


def traffic(layer):
    """SCALE-Sim's per-operand SRAM and DRAM accesses of one layer (its detailed access report)."""
    return {"ifmap_sram_reads": int(layer.ifmap_sram_reads),
            "filter_sram_reads": int(layer.filter_sram_reads),
            "ofmap_sram_writes": int(layer.ofmap_sram_writes),
            "ifmap_dram_reads": int(layer.ifmap_dram_reads),
            "filter_dram_reads": int(layer.filter_dram_reads),
            "ofmap_dram_writes": int(layer.ofmap_dram_writes)}


def run_one(name, m, n, k, rows, cols, df, workdir, buffers=None):
    from scalesim.scale_sim import scalesim

    d = pathlib.Path(workdir)
    cfg = d / f"{df}_{rows}x{cols}.cfg"
    cfg.write_text(CONFIG.format(df=df, rows=rows, cols=cols, **(buffers or NO_STALLS)))
    topo = d / f"{name}.csv"
    topo.write_text(f"Layer,M,N,K,\n{name},{m},{n},{k},\n")
    layout = d / f"{name}_layout.csv"
    layout.write_text(LAYOUT_HEADER + f"{name}," + ",".join(["1"] * 6 + ["0"] * 14) + ",\n")
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo),
                       layout=str(layout), input_type_gemm=True)
        sim.run_scale(top_path=str(d / "out"))
    elapsed = time.perf_counter() - start
    layer = sim.runner.single_layer_sim_object_list[0]
    return {"name": name, "M": m, "N": n, "K": k, "rows": rows, "cols": cols, "dataflow": df,
            "total_cycles": int(layer.total_cycles), "stall_cycles": int(layer.stall_cycles),
            "compute_cycles": int(layer.total_cycles - layer.stall_cycles),
            "mapping_efficiency": float(layer.compute_system.get_avg_mapping_efficiency()),
            "seconds": elapsed, **traffic(layer)}


def main():
    job = json.load(sys.stdin)
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for name, m, n, k in job["layers"]:
            for rows, cols in job["arrays"]:
                for df in job.get("dataflows", ["os", "ws", "is"]):
                    buffers = DEFAULT_BUFFERS if job.get("default_buffers") else None
                    results.append(run_one(name, m, n, k, rows, cols, df, workdir, buffers))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
