"""The book's diagrams draw what the data says: bit layouts, the systolic wavefront, the
collectives before and after, the ring all-reduce step by step, the tiered fat tree.

Each test reads the drawing back (patch and text ``gid``s, image arrays, line ends) and compares it
with an independent reference: the standards' field widths and NumPy's own encodings, the closed
form of an output-stationary wavefront, NumPy sums, and the rail-optimised wiring rule.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from aichip import collectives as co  # noqa: E402
from aichip import systolic as sy  # noqa: E402
from aichip import topology as tp  # noqa: E402
from aichip.widgets import arithmetic, collectives, interconnects, systolic  # noqa: E402

# (sign, exponent, mantissa) widths: IEEE 754-2019 (fp32, fp16), Google's bfloat16, NVIDIA's TF32,
# the OCP 8-bit floating point specification (E4M3, E5M2)
FIELD_WIDTHS = {"fp32": (1, 8, 23), "tf32": (1, 8, 10), "bf16": (1, 8, 7), "fp16": (1, 5, 10),
                "fp8_e5m2": (1, 5, 2), "fp8_e4m3": (1, 4, 3)}


def _gids(ax, kind):
    items = ax.patches if kind == "patch" else ax.texts
    return {a.get_gid(): a for a in items if a.get_gid()}


def test_bit_layout_field_widths_follow_the_standards():
    ax = arithmetic.plot_bit_layouts(list(FIELD_WIDTHS) + ["int8"])
    fields = [g.split(":") for g in _gids(ax, "patch")]
    for fmt, (s, e, m) in FIELD_WIDTHS.items():
        got = [f for name, f, _ in fields if name == fmt]
        assert (got.count("sign"), got.count("exponent"), got.count("mantissa")) == (s, e, m), fmt
        order = [f for name, f, _ in sorted((x for x in fields if x[0] == fmt),
                                            key=lambda x: int(x[2]))]
        assert order == ["sign"] * s + ["exponent"] * e + ["mantissa"] * m, fmt
    assert [f for name, f, _ in fields if name == "int8"].count("integer") == 7
    plt.close("all")


@pytest.mark.parametrize("value", [-3.0, 0.15625, 1000.0])
def test_bit_layout_bits_are_the_encodings(value):
    """The drawn bits equal NumPy's own float32 / float16 encodings and bf16 = fp32's top half."""
    ax = arithmetic.plot_bit_layouts(["fp32", "bf16", "fp16"], value=value)
    texts = _gids(ax, "text")

    def drawn(fmt, n):
        return "".join(texts[f"{fmt}:bit:{i}"].get_text() for i in range(n))

    fp32 = format(int(np.float32(value).view(np.uint32)), "032b")
    assert drawn("fp32", 32) == fp32
    assert drawn("fp16", 16) == format(int(np.float16(value).view(np.uint16)), "016b")
    assert drawn("bf16", 16) == fp32[:16]  # these values are exact in bf16: no rounding
    plt.close("all")


def test_bit_layout_fp8_and_int_bits_follow_the_specifications():
    ax = arithmetic.plot_bit_layouts(["fp8_e4m3", "fp8_e5m2", "int8"], value=-3.0)
    texts = _gids(ax, "text")
    # -3 = -1.1b x 2**1: OCP E4M3 bias 7 -> exponent 1000, E5M2 bias 15 -> 10000
    assert "".join(texts[f"fp8_e4m3:bit:{i}"].get_text() for i in range(8)) == "11000100"
    assert "".join(texts[f"fp8_e5m2:bit:{i}"].get_text() for i in range(8)) == "11000010"
    assert "".join(texts[f"int8:bit:{i}"].get_text() for i in range(8)) == format(-3 & 0xFF, "08b")
    plt.close("all")


def test_bit_layout_bad_input():
    with pytest.raises(ValueError, match="fmt"):
        arithmetic.plot_bit_layouts(["fp12"])
    with pytest.raises(ValueError, match="formats"):
        arithmetic.plot_bit_layouts([])
    with pytest.raises(ValueError, match="value"):
        arithmetic.plot_bit_layouts(value=float("nan"))


def test_wavefront_panels_show_the_output_stationary_wavefront():
    """PE (r, c) of an output-stationary array is busy at cycle t iff r + c <= t < r + c + K:
    row r's operands enter r cycles late, column c's c cycles late, and each streams K values."""
    rng = np.random.default_rng(3)
    K = 5
    trace = sy.trace_gemm(rng.integers(1, 9, (3, K)), rng.integers(1, 9, (K, 4)), 3, 4, "os")
    axes = systolic.draw_wavefront(trace, 1, 4)
    assert len(axes) == 4
    r, c = np.indices((3, 4))
    for ax, t in zip(axes, range(1, 5), strict=True):
        shown = np.asarray(ax.images[0].get_array())
        assert np.array_equal(shown.astype(bool), (r + c <= t) & (t < r + c + K)), t
        assert f"cycle {t + 1}/" in ax.get_title()
    plt.close("all")


def test_wavefront_bad_input():
    trace = sy.trace_gemm(np.ones((2, 2)), np.ones((2, 2)), 2, 2, "os")
    n = trace.busy.shape[0]
    with pytest.raises(ValueError, match="first_cycle"):
        systolic.draw_wavefront(trace, n - 1, 2)
    with pytest.raises(ValueError, match="n_cycles"):
        systolic.draw_wavefront(trace, 0, n + 1)
    plt.close("all")


def _labels(ax, n_ranks, width):
    texts = _gids(ax, "text")
    return [[texts[f"label:{r}:{j}"].get_text() for j in range(width)] for r in range(n_ranks)]


def test_collective_pictures_match_numpy():
    """Each 'after' panel, read back, is what NumPy says each rank must hold."""
    p = 4
    axes = collectives.draw_collectives(p)
    sub = str.maketrans("0123", "₀₁₂₃")

    def full(j):
        return "abcd" + str(j).translate(sub)

    expect = {
        "broadcast": [["a" + str(j).translate(sub) for j in range(p)]] * p,
        "reduce": [[full(j) for j in range(p)]] + [[""] * p] * (p - 1),
        "allgather": [["a₀", "b₀", "c₀", "d₀"]] * p,
        "reduce_scatter": [[full(r)] + [""] * (p - 1) for r in range(p)],
        "allreduce": [[full(j) for j in range(p)]] * p,
        "alltoall": [["abcd"[i] + str(r).translate(sub) for i in range(p)] for r in range(p)],
    }
    for (op, rows), (_, after) in zip(expect.items(), axes, strict=True):
        assert after.get_title().startswith(op.replace("_", "-")), op
        assert _labels(after, p, p) == rows, op
    # and the rows read back agree with numpy's reference on tagged inputs
    who = np.repeat(2.0 ** np.arange(p)[:, None], p, axis=1)
    assert all(np.array_equal(x, np.full(p, 15.0)) for x in co.reference("allreduce", who))
    plt.close("all")


def test_ring_steps_follow_the_ring_algorithm():
    """After reduce-scatter step s every rank holds exactly one element summed over s + 1 ranks;
    after the last step every element on every rank is the full sum (NumPy)."""
    p = 4
    axes = collectives.draw_ring_steps(p)
    panels = list(axes.flat)
    for s in range(1, p):
        rows = _labels(panels[s], p, p)
        for row in rows:
            sizes = sorted(len(label.rstrip("₀₁₂₃")) for label in row)
            assert sizes.count(s + 1) == 1, (s, row)
    who = np.repeat(2.0 ** np.arange(p)[:, None], p, axis=1)
    total = co.reference("allreduce", who)[0]
    assert np.all(total == 2 ** p - 1)
    assert _labels(panels[2 * (p - 1)], p, p) == [["abcd" + "₀₁₂₃"[j] for j in range(p)]] * p
    assert not panels[-1].axison  # the spare panel is blank
    # the outlined cells of each step are exactly where that step's messages land
    messages = co.schedule("allreduce", "ring", p, p).messages()
    for k in range(1, 2 * (p - 1) + 1):
        patches = _gids(panels[k], "patch")
        outlined = {tuple(map(int, g.split(":")[1:])) for g, a in patches.items()
                    if a.get_linewidth() > 2}
        assert outlined == {(m["dst"], m["first"]) for m in messages if m["step"] == k - 1}, k
    states, sched = co.buffers_by_step("allreduce", "ring", who)
    assert sched.n_steps == 2 * (p - 1) and np.array_equal(states[-1], np.full((p, p), 15.0))
    plt.close("all")


def test_buffers_by_step_ends_where_execute_ends():
    rng = np.random.default_rng(0)
    x = rng.integers(-9, 9, (5, 10)).astype(float)
    states, sched = co.buffers_by_step("allreduce", "recursive_doubling", np.vstack([x, x[:3]]))
    assert states.shape == (sched.n_steps + 1, 8, sched.buf_len)
    got, _ = co.execute("allreduce", "recursive_doubling", np.vstack([x, x[:3]]))
    assert all(np.array_equal(states[-1, r], got[r]) for r in range(8))


def test_collective_pictures_bad_input():
    with pytest.raises(ValueError, match="n_ranks"):
        collectives.draw_collectives(1)
    with pytest.raises(ValueError, match="n_ranks"):
        collectives.draw_ring_steps(9)


def test_fat_tree_drawing_has_every_link_in_its_tier():
    topo = tp.fat_tree(3)
    fig, ax = plt.subplots()
    interconnects.draw_fat_tree(topo, ax)
    edges = [line for line in ax.lines if (line.get_gid() or "").startswith("edge:")]
    assert len(edges) == topo.graph.number_of_edges()
    tiers = {c.get_gid()[5:]: c for c in ax.collections if (c.get_gid() or "").startswith("tier:")}
    n_nodes, per_node = 3, 8
    assert len(tiers["GPUs"].get_offsets()) == n_nodes * per_node
    assert len(tiers["leaf switches, one per rail"].get_offsets()) == per_node
    assert len(tiers["spine switches"].get_offsets()) == 2
    ys = {name: float(c.get_offsets()[0][1]) for name, c in tiers.items()}
    assert ys["spine switches"] > ys["leaf switches, one per rail"] > ys["GPUs"] > ys[
        "NVSwitches inside each node"]
    # rail-optimised: GPU k of every node is wired to leaf k, and to no other leaf
    for line in edges:
        a, b = line.get_gid()[5:].split("|")
        leaf = a if a.startswith("leaf") else b if b.startswith("leaf") else None
        gpu = b if leaf == a else a
        if leaf and "/" in gpu:
            assert int(leaf[4:]) == topo.gpus.index(gpu) % per_node, (a, b)
    plt.close("all")


def test_fat_tree_bad_input():
    with pytest.raises(TypeError, match="topo"):
        interconnects.draw_fat_tree("DGX H100")
    with pytest.raises(ValueError, match="topo"):
        interconnects.draw_fat_tree(tp.dgx_h100())
