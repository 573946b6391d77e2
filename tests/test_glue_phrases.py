"""The Chinese edition's phrase table (zh/glue_phrases.yml): every English phrase a chapter glues
into its prose renders in Chinese, for every branch of the code that builds it.

Each key the Chinese chapters glue as text has one example per branch of its code (the values of
one build among them), with the Chinese expected. Sentences built by library functions (a
roofline run's verdict, where MPI ranks ran, the machine's description) are built here by those
functions, so that a change of their wording fails here, not silently on the Chinese pages.
"""

from __future__ import annotations

import pathlib
import re
import sys

import pytest

from aichip import machine, mpiharness
from aichip.contention import Figure, Verdict

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import editions  # noqa: E402  (the Sphinx extension, loaded from _ext/ as the build loads it)

RERUN = "请在空闲的机器上重新运行，或与其他机器存档的运行结果比较。"
STEADY_CAUSE = ("而各项数字都很稳定，因此是屋顶自身的内核没有达到这颗 CPU 的极限，"
                "而不是运行受到了干扰")


def _verdict(**kw) -> str:
    return Verdict(**kw).statement()


STREAM_SPREADS = tuple(Figure(name, unit, 100.0, median) for name, unit, median in (
    ("STREAM copy", "GB/s", 95.0), ("STREAM scale", "GB/s", 99.0), ("STREAM add", "GB/s", 96.0),
    ("STREAM triad", "GB/s", 99.0), ("FMA peak", "GFLOP/s", 99.0), ("DGEMM", "GFLOP/s", 99.0),
    ("DGEMV", "GFLOP/s", 97.0)))
# a list of figures keeps its commas and its kernels' names; the FMA kernel's figure is translated
SPREADS_ZH = ("STREAM copy 95%, STREAM scale 99%, STREAM add 96%, STREAM triad 99%, FMA 峰值 99%, "
              "DGEMM 99%, DGEMV 97%")
TRIAD = (Figure("STREAM triad", "GB/s", 100.0, 97.0),)
UNSTEADY = (Figure("STREAM triad", "GB/s", 100.0, 60.0), Figure("FMA peak", "GFLOP/s", 100.0, 99.0))

#: key -> [(English value, one per branch of the code that glues it; its Chinese)]
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    # ch01
    "eff_best_name": [("NVIDIA B200 SXM", "NVIDIA B200 SXM")],
    "eff_best_kind": [("GPU", "GPU"), ("ASIC", "ASIC"), ("Dataflow", "数据流处理器"),
                      ("Neuromorphic", "神经形态芯片"), ("In-memory", "存内计算芯片"),
                      ("Photonic", "光子芯片")],
    "ex_h100_prec": [("INT8 and FP8", "INT8 和 FP8"), ("FP64", "FP64"),
                     ("FP16 and BF16 and FP8", "FP16、BF16 和 FP8")],
    # ch02
    "fp16_65520": [("inf", "inf")],
    "wallace_extra_fa": [("one more full adder", "多一个全加器"),
                         ("two more full adders", "多两个全加器"),
                         ("3 more full adders", "多 3 个全加器")],
    "wallace_early": [("20 and 29", "20 和 29"), ("20 and 29 and 41", "20、29 和 41")],
    # ch03
    "tpu_memory_bound": [("MLP0, MLP1, LSTM0, LSTM1", "MLP0, MLP1, LSTM0, LSTM1")],
    "peak_vs_gemm_verdict": [
        ("near 100%: both found the same arithmetic roof", "接近 100%：两者找到了同一个算术屋顶"),
        ("well above 100%: DGEMM stayed below the arithmetic roof, for the reasons that follow",
         "远高于 100%：DGEMM 停在了算术屋顶之下，原因见下文"),
        ("well below 100%: the FMA kernel stayed below a roof that DGEMM shows is there, because "
         "other programs shared the cores (its median was 64% of its best) or because its compiled "
         "code uses narrower vectors than DGEMM's kernels",
         "远低于 100%：FMA 内核停在了 DGEMM 证明确实存在的屋顶之下，"
         "原因是其他程序共享了这些核心（它的中位数是其最佳值的 64%），"
         "或者它编译出的代码所用的向量比 DGEMM 的内核更窄"),
    ],
    "bound_check": [
        ("agrees: both STREAM kernels and GEMV sit left of its ridge point, GEMM right of it",
         "一致：两个 STREAM 内核和 GEMV 都位于它的屋脊点左侧，GEMM 位于右侧"),
        ("cannot be trusted on this run, as the statement under the table says, so it says nothing "
         "here about which side of the ridge each kernel sits on",
         "在本次运行中不可信（见表格下方的说明），因此这里不判断每个内核位于屋脊点的哪一侧"),
        ("disagrees (STREAM scale: memory-bound, STREAM triad: memory-bound, DGEMV n=4096: "
         "compute-bound, DGEMM n=2048: compute-bound), although every figure was steady; rerun it",
         "不一致（STREAM scale：访存受限；STREAM triad：访存受限；DGEMV n=4096：计算受限；DGEMM "
         "n=2048：计算受限），尽管每项数字都很稳定；请重新运行"),
    ],
    "run_statement": [
        (_verdict(figures=STREAM_SPREADS, unsteady=(), above_roof=()),
         "本次运行未受干扰（1 次尝试）：每项数字的中位数都在其最佳值的 20% 以内（中位数/最佳值："
         f"{SPREADS_ZH}），每个内核都位于其屋顶之下。"),
        (_verdict(figures=UNSTEADY, unsteady=("STREAM triad",), attempts=3,
                  above_roof=(("DGEMV n=4096", 1.3), ("DGEMM n=2048", 1.2)), load_avg=5.0, cores=2),
         "本次运行的屋顶线不可信（3 次尝试）：运行开始时机器的 1 分钟平均负载为 5.0（共 2 个逻辑 "
         "CPU），说明其他程序占用了这些核心，拖慢了各次重复；"
         "运行期间其他程序共享了这些核心（中位数/最佳值：STREAM triad 60%）；DGEMV n=4096 "
         "达到其屋顶的 130%、DGEMM n=2048 达到其屋顶的 120%，这是任何内核都达不到的，"
         "因此是屋顶测得偏低。" + RERUN),
        (_verdict(figures=TRIAD + (Figure("FMA peak", "GFLOP/s", 100.0, 99.0),), unsteady=(),
                  above_roof=(), attempts=2, load_avg=3.5, cores=2),
         "本次运行的屋顶线不可信（2 次尝试）：运行开始时机器的 1 分钟平均负载为 3.5（共 2 个逻辑 "
         "CPU），说明其他程序占用了这些核心，拖慢了各次重复（中位数/最佳值：STREAM triad 97%, FMA "
         "峰值 99%）。"
         + RERUN),
        (_verdict(figures=(Figure("STREAM triad", "GB/s", 100.0, 70.0),
                           Figure("FMA peak", "GFLOP/s", 100.0, 50.0)),
                  unsteady=("STREAM triad", "FMA peak"), attempts=3, load_avg=9.0, cores=4,
                  above_roof=(("STREAM scale", 1.1), ("STREAM triad", 1.12), ("DGEMV n=4096", 1.3),
                              ("DGEMM n=2048", 1.2))),
         "本次运行的屋顶线不可信（3 次尝试）：运行开始时机器的 1 分钟平均负载为 9.0（共 4 个逻辑 "
         "CPU），说明其他程序占用了这些核心，拖慢了各次重复；"
         "运行期间其他程序共享了这些核心（中位数/最佳值：STREAM triad 70%, FMA 峰值 50%）；STREAM "
         "scale 达到其屋顶的 110%、STREAM triad 达到其屋顶的 112%、DGEMV n=4096 达到其屋顶的 130%、"
         "DGEMM n=2048 达到其屋顶的 120%，这是任何内核都达不到的，因此是屋顶测得偏低。" + RERUN),
        (_verdict(figures=UNSTEADY, unsteady=("STREAM triad",), above_roof=()),
         "本次运行的屋顶线不可信（1 次尝试）：运行期间其他程序共享了这些核心（中位数/最佳值："
         "STREAM triad 60%）。"
         + RERUN),
    ],
    "ridge_vs_accel": [("left of every accelerator above", "位于上面每一款加速器的左侧"),
                       ("not left of every accelerator above, as a CPU's would be",
                        "并不位于上面每一款加速器的左侧，而 CPU 的屋脊点本应如此")],
    "ex_ridge_bound": [("memory", "访存"), ("compute", "计算")],
    "ex70_bound": [("memory", "访存"), ("compute", "计算")],
    # ch04
    "n_levels_detected": [("3 levels", "3 级"), ("1 level", "1 级")],
    "plain_l2_phrase": [("finds no second level", "没有找到第二级"),
                        ("ends one at 1024 KiB", "止于 1024 KiB（按页遍历没有找到这一级）"),
                        ("ends it at the same 512 KiB", "同样止于 512 KiB"),
                        ("ends it earlier, at 512 KiB", "结束得更早，止于 512 KiB"),
                        ("ends it later, at 2048 KiB", "结束得更晚，止于 2048 KiB")],
    "huge_pages_used": [("on 2 MiB huge pages", "2 MiB 大页"),
                        ("on ordinary pages (the OS granted no huge pages)",
                         "普通页（操作系统没有分配大页）")],
    "asm_steps": [("1 step", "1 步"), ("4 steps", "4 步")],
    "asm_verdict": [
        ("the 14 x 16 block of C (float64) never leaves the registers until the loop ends",
         "C 的 14 x 16 块（float64）在循环结束之前始终留在寄存器中"),
        ("on this CPU some accumulators spill to memory (the registers are too few or too narrow "
         "for the block)",
         "在这颗 CPU 上，部分累加器溢出到了内存（寄存器太少或太窄，放不下这个块）"),
    ],
    "gemm_verdict": [
        ("BLAS is still ahead: its kernels are hand-written assembly tuned for each core",
         "BLAS 仍然领先：它的内核是为每种核心手工调优的汇编"),
        ("Packed at or above BLAS is not a real win: at this size, on a loaded machine, BLAS's "
         "threads wait for a core (run make bench on a quiet machine)",
         "packed 持平或超过 BLAS 并不是真正的胜利：在这个规模下、在负载较重的机器上，BLAS "
         "的线程要等待核心（请在空闲的机器上运行 make bench）"),
    ],
    "gemm_run_statement": [
        (_verdict(figures=TRIAD, unsteady=(), above_roof=(("reordered", 1.58),), load_avg=0.5,
                  cores=2),
         "本次运行的屋顶线不可信（1 次尝试）：reordered 达到其屋顶的 158%，"
         f"这是任何内核都达不到的，{STEADY_CAUSE}。"
         + RERUN),
        (_verdict(figures=TRIAD, unsteady=(), above_roof=()),
         "本次运行未受干扰（1 次尝试）：每项数字的中位数都在其最佳值的 20% 以内（中位数/最佳值："
         "STREAM triad 97%），每个内核都位于其屋顶之下。"),
        (_verdict(figures=(Figure("STREAM triad", "GB/s", 100.0, 50.0),), unsteady=("STREAM "
                                                                                    "triad",),
                  above_roof=(("tiled", 1.1), ("packed", 1.4), ("numpy", 1.06)), attempts=2),
         "本次运行的屋顶线不可信（2 次尝试）：运行期间其他程序共享了这些核心（中位数/最佳值："
         "STREAM triad 50%）；tiled 达到其屋顶的 110%、packed 达到其屋顶的 140%、numpy "
         "达到其屋顶的 106%，这是任何内核都达不到的，因此是屋顶测得偏低。" + RERUN),
        (_verdict(figures=TRIAD, unsteady=(),
                  above_roof=tuple((v, 1.5) for v in ("naive", "reordered", "tiled", "packed",
                                                       "numpy"))),
         "本次运行的屋顶线不可信（1 次尝试）：naive 达到其屋顶的 150%、reordered 达到其屋顶的 "
         "150%、tiled 达到其屋顶的 150%、packed 达到其屋顶的 150%、numpy 达到其屋顶的 150%，"
         f"这是任何内核都达不到的，{STEADY_CAUSE}。" + RERUN),
    ],
    "m_verdict": [("the standard kernel's time per score grew 1.4-fold and the tiled kernel's "
                   "1.1-fold",
                   "标准内核每个分数的耗时增至 1.4 倍，分块内核增至 1.1 倍")],
    "m_exceeds_llc": [("exceeds", "超过"), ("does not exceed", "没有超过")],
    "ex_l2_text": [("placed L2 at 724 KiB, where the OS reports 1,024 KiB",
                    "把 L2 定在 724 KiB，而操作系统报告的是 1,024 KiB"),
                   ("did not detect an L2 boundary to compare", "没有检测到可供比较的 L2 边界")],
    # ch05
    "ex2_ws_shapes": [("32x128 and 64x64", "32x128 和 64x64"), ("64x64", "64x64")],
    # ch06
    "ex_rf8_text": [("every dataflow with a register file still finds a mapping",
                     "每种带寄存器堆的数据流仍能找到映射"),
                    ("only WS, OS of WS, OS, IS and RS still find a mapping",
                     "WS、OS、IS 和 RS 中只有 WS、OS 仍能找到映射"),
                    ("only RS of WS, OS, IS and RS still find a mapping",
                     "WS、OS、IS 和 RS 中只有 RS 仍能找到映射"),
                    ("only none of WS, OS, IS and RS still find a mapping",
                     "WS、OS、IS 和 RS 都已找不到映射")],
    # ch07
    "backend": [("numba CUDA simulator (no GPU)", "numba CUDA 模拟器（无 GPU）"),
                ("no usable CUDA GPU", "没有可用的 CUDA GPU"),
                ("NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3")],
    "kernels_all_correct": [("all three match NumPy exactly", "三个内核都与 NumPy 完全一致")],
    "gpu_note": [("This run had no GPU, so it reports no GPU timings.",
                  "本次运行没有 GPU，因此不报告 GPU 计时。"),
                 ("Measured on NVIDIA H100 80GB HBM3, times including host-device copies.",
                  "在 NVIDIA H100 80GB HBM3 上测量，时间包含主机与设备之间的拷贝。")],
    "a100_formula": [("108 x 4 x 256 x 2 x 1.41 GHz", "108 x 4 x 256 x 2 x 1.41 GHz")],
    "cross_32": [("at density 0.77", "密度 0.77"),
                 ("not reached: it won at every density", "未出现：它在每个密度下都更快"),
                 ("not reached: it never won", "未出现：它在任何密度下都没有更快")],
    "target_verdict": [("met both targets", "两个目标都达到了"),
                       ("met the first target only", "只达到了第一个目标"),
                       ("met the second target only", "只达到了第二个目标"),
                       ("met neither target", "两个目标都没有达到")],
    "ex_occ_limiter": [("registers", "寄存器"), ("warps", "线程束数"), ("blocks", "线程块数"),
                       ("shared", "共享内存")],
    # ch09
    "peak_alg": [("rabenseifner", "Rabenseifner 算法"), ("ring", "环形算法"),
                 ("recursive doubling", "递归倍增算法"), ("pipelined tree", "流水线树算法")],
    "measured_best_big": [("rabenseifner", "Rabenseifner 算法"), ("ring", "环形算法"),
                          ("recursive doubling", "递归倍增算法"),
                          ("pipelined tree", "流水线树算法")],
    "model_best_big": [("ring and rabenseifner", "环形算法 和 Rabenseifner 算法"),
                       ("ring", "环形算法"),
                       ("ring and recursive doubling and rabenseifner",
                        "环形算法、递归倍增算法 和 Rabenseifner 算法")],
    "placement_4": [
        (mpiharness.placement(4, 2, 1.5),
         "每个节点 2 个核心上运行 4 个 rank，超额订阅 2.0 倍；运行期间该节点的 1 分钟平均负载为 "
         "1.5"),
        (mpiharness.placement(4, 2, 3.2),
         "每个节点 2 个核心上运行 4 个 rank，超额订阅 2.0 倍；运行期间该节点的 1 分钟平均负载为 "
         "3.2，超过了它的 2 个核心：其他程序在争用这些核心"),
        (mpiharness.placement(4, 8, 1.0),
         "每个节点 8 个核心上运行 4 个 rank，每个 rank 至少有一个核心；运行期间该节点的 1 "
         "分钟平均负载为 1.0"),
        (mpiharness.placement(4, 2), "每个节点 2 个核心上运行 4 个 rank，超额订阅 2.0 倍"),
    ],
    # ch10
    "tcp_slowest_stage": [("copy to kernel", "拷贝到内核"), ("TCP/IP send", "TCP/IP 发送"),
                          ("PCIe DMA read", "PCIe DMA 读"), ("NIC send", "NIC 发送"),
                          ("wire", "线路"), ("NIC receive", "NIC 接收"),
                          ("PCIe DMA write", "PCIe DMA 写"), ("TCP/IP receive", "TCP/IP 接收"),
                          ("copy to user", "拷贝到用户缓冲区")],
    "tcp_slowest_stage_plain": [("TCP/IP send", "TCP/IP 发送"), ("TCP/IP receive", "TCP/IP 接收")],
    "rma_fastest": [("sendrecv/two-sided", "sendrecv/双边"), ("put/lock", "put/lock"),
                    ("get/fence", "get/fence"), ("fetch_and_op/pscw", "fetch_and_op/pscw")],
    "kv_placement": [
        (mpiharness.placement(2, 2, 1.8),
         "每个节点 2 个核心上运行 2 个 rank，每个 rank 至少有一个核心；运行期间该节点的 1 "
         "分钟平均负载为 1.8"),
        (mpiharness.placement(2, 1, 1.8),
         "每个节点 1 个核心上运行 2 个 rank，超额订阅 2.0 倍；运行期间该节点的 1 分钟平均负载为 "
         "1.8，超过了它的 1 个核心：其他程序在争用这些核心"),
    ],
    "ib_first_over_100": [("EDR", "EDR")],
    "ib_list_band": [("FDR and EDR", "FDR 和 EDR")],
    "ex_kv_rpc_where": [("at every size from 8 B to 64 KiB", "从 8 B 到 64 KiB 的每一种大小"),
                        ("at 12 of the 14 sizes from 8 B to 64 KiB", "从 8 B 到 64 KiB 的 14 "
                                                                     "种大小中的 12 种")],
    # ch11
    "st_caveat": [("misses the published iteration times by up to 11%", "与发表的迭代时间相差最多 "
                                                                        "11%"),
                  ("predicts iteration times 3 to 12% shorter than published in every row",
                   "每一行预测的迭代时间都比发表值短 3% 到 12%")],
    "llama_errs": [("-10% and -20%", "-10% 和 -20%"), ("+3% and -4%", "+3% 和 -4%")],
    "miss_term": [("compute and tensor-parallel communication", "计算 和 张量并行通信"),
                  ("compute", "计算"),
                  ("compute and tensor-parallel communication and pipeline sends and exposed "
                   "data-parallel time and the bubble",
                   "计算、张量并行通信、流水线发送、暴露的数据并行时间 和 流水线气泡")],
    "val_n_faster": [("3 of 7", "3（共 7 行）")],
    "best_layout": [("dp=384, tp=4, pp=1, micro-batch 3, interleave 1, ZeRO 3, selective "
                     "recomputation",
                     "dp=384、tp=4、pp=1，微批次 3，交错 1，ZeRO 3，选择性重计算")],
    "best_is_zero3": [("ZeRO-3", "ZeRO-3"), ("ZeRO-1", "ZeRO-1")],
    "strict_best": [("dp=48, tp=4, pp=8, micro-batch 1, interleave 2, ZeRO 1, none recomputation",
                     "dp=48、tp=4、pp=8，微批次 1，交错 2，ZeRO 1，无重计算")],
    "flat_best": [("dp=192, tp=8, pp=1, micro-batch 6, interleave 1, ZeRO 3, full recomputation",
                   "dp=192、tp=8、pp=1，微批次 6，交错 1，ZeRO 3，完整重计算")],
    "ds21_sync_before": [("-36 to -23% off (median 29%)", "-36% 到 -23%（中位数 29%）")],
    "ds21_sync_after": [("-8 to +21% off (median 6%)", "-8% 到 +21%（中位数 6%）")],
    "ds_h100_same": [("the same", "相同"), ("12.3 s", "12.3 s")],
    "ddp_machine": [
        (str(machine.MachineInfo("AMD EPYC", 2, 2, 32 * 2**20, "3.12", "0.60", "2.0"))
         .splitlines()[0],
         "AMD EPYC，2 个逻辑 CPU，2 个 numba 线程，末级缓存 32 MiB"),
        (str(machine.MachineInfo("unknown CPU", 4, 4, None, "3.12", "0.60", "2.0"))
         .splitlines()[0],
         "未知 CPU，4 个逻辑 CPU，4 个 numba 线程"),
    ],
    "ddp_wait_vs_alone": [("longer", "更长"), ("no longer", "没有更长")],
    "ddp_one_vs_many": [("more", "更多"), ("no more", "没有更多")],
    "ddp_thr_exposed_vs_poll": [("less", "更少"), ("no less", "没有更少")],
    "ddp_thr_verdict": [("so the thread paid for itself", "进度线程物有所值（每步耗时缩短了）"),
                        ("so the thread cost more than it hid", "进度线程得不偿失："
                                                                "它增加的耗时多于它隐藏的通信")],
    "ddp_placement": [
        (mpiharness.placement(2, 2, 1.6),
         "每个节点 2 个核心上运行 2 个 rank，每个 rank 至少有一个核心；运行期间该节点的 1 "
         "分钟平均负载为 1.6"),
    ],
    # ch12
    "d_bound1": [("memory", "访存"), ("compute", "计算")],
    "d_bend": [
        ("Per added sequence the measured gain fell after the predicted turnover, as the model "
         "says it should",
         "每增加一个序列，实测收益在预测的转折点之后下降了，与模型的预期一致"),
        ("Per added sequence the measured gain did not fall after the predicted turnover: the "
         "small batches were held further below their bound than the large ones, for the reason "
         "the next paragraph gives, so the measured curve is straighter than the bound",
         "每增加一个序列，实测收益在预测的转折点之后并没有下降："
         "小批量比大批量离其界限更远（原因见下一段），因此实测曲线比界限更直"),
    ],
}

CASES = [(key, en, zh) for key, pairs in EXAMPLES.items() for en, zh in pairs]
IDS = [f"{key}-{i}" for key, pairs in EXAMPLES.items() for i in range(len(pairs))]

#: lower-case Latin words a Chinese rendering may keep: identifiers the Chinese chapters keep too
#: (STREAM kernels, GEMM variants, MPI one-sided operations and synchronisations, numba, float64)
IDENTIFIERS = {"copy", "scale", "add", "triad", "naive", "reordered", "tiled", "packed", "numpy",
               "put", "get", "lock", "fence", "pscw", "fetch_and_op", "sendrecv", "numba", "float",
               "inf", "make", "bench", "rank"}


@pytest.mark.parametrize(("key", "english", "chinese"), CASES, ids=IDS)
def test_each_branch_renders_in_chinese(key, english, chinese):
    assert editions.to_chinese(english) == chinese


LOWER_WORD = re.compile(r"(?<![A-Za-z_])[a-z][a-z_]{2,}(?![A-Za-z_])")


@pytest.mark.parametrize(("key", "english", "chinese"), CASES, ids=IDS)
def test_no_english_words_left(key, english, chinese):
    words = set(LOWER_WORD.findall(editions.to_chinese(english)))
    assert words <= IDENTIFIERS, f"{key}: {sorted(words - IDENTIFIERS)} left in English"


def test_table_is_well_formed():
    """Every pattern compiles, names its groups, and its template uses exactly those groups."""
    exact, patterns = editions.phrase_table()
    assert exact and patterns
    for pattern, template in patterns:
        names = set(pattern.groupindex)
        assert names, pattern.pattern
        assert set(re.findall(r"\{(\w+)\}", template)) == names, pattern.pattern
    for english, chinese in exact.items():
        assert english == english.strip() and chinese.strip(), english


def test_unknown_text_stays_as_it_is():
    assert editions.to_chinese("H100") == "H100"
    assert editions.to_chinese("3.5") == "3.5"
