"""The dataflow access/energy model against a brute-force loop-nest walk, and the Eyeriss result."""

import itertools
import pathlib
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import dataflow as dfm
from aichip.layers import conv_layers

BIB = pathlib.Path(__file__).resolve().parents[1] / "chapters" / "references.bib"


def _random_mapping(draw, shape, dataflow):
    """Draw a legal mapping: split each bound into divisors allowed by the dataflow."""
    rf_ok, sp_ok = dfm.DATAFLOWS[dataflow]
    factors = np.ones((7, 4), dtype=np.int64)
    for d, (name, n) in enumerate(zip(dfm.DIMS, dfm.loop_bounds(shape), strict=True)):
        n = int(n)
        levels = [0, 1] + ([2] if name in sp_ok else []) + ([3] if name in rf_ok else [])
        for level in levels[::-1]:
            divs = [x for x in range(1, n + 1) if n % x == 0]
            f = draw(st.sampled_from(divs)) if level != 0 else n
            factors[d, level] = f
            n //= f
    order = ("N", *draw(st.permutations(["K", "C", "P", "Q"])), "R", "S")
    return factors, order


@st.composite
def cases(draw):
    shape = dfm.conv_shape(N=draw(st.integers(1, 2)), K=draw(st.integers(1, 4)),
                           C=draw(st.integers(1, 3)), H=draw(st.integers(3, 6)),
                           W=draw(st.integers(3, 6)), R=draw(st.integers(1, 3)),
                           S=draw(st.integers(1, 3)), stride=draw(st.integers(1, 2)))
    dataflow = draw(st.sampled_from(tuple(dfm.DATAFLOWS)))
    factors, order = _random_mapping(draw, shape, dataflow)
    return shape, dataflow, factors, order


@settings(max_examples=40, deadline=None)
@given(cases())
def test_access_counts_equal_brute_force(case):
    shape, dataflow, factors, order = case
    arch = dfm.Architecture(n_pes=10**6)
    fast = dfm.evaluate_mapping(shape, factors, order, dataflow, arch)
    slow = dfm.brute_force_accesses(shape, factors, order, dataflow, arch)
    for field in ("rf", "pe", "glb", "dram"):
        assert getattr(fast, field) == getattr(slow, field), field


@pytest.mark.parametrize("stride, words", [(1, 5 * 5), (2, 3 * 3)])
def test_one_by_one_stride_two_reads_only_the_windows(stride, words):
    """A 1x1 convolution of a 5x5 input reads all 25 pixels at stride 1 but only the 9 its 3x3
    windows touch at stride 2 (every other row and column), not their 5x5 bounding box."""
    H = 5
    shape = dfm.conv_shape(H=H, W=H, R=1, S=1, stride=stride)
    factors = np.ones((7, 4), dtype=np.int64)
    factors[:, 1] = dfm.loop_bounds(shape)  # one GLB tile, loaded once from DRAM
    acc = dfm.evaluate_mapping(shape, factors, dataflow="nlr")
    pixels = {(p * stride, q * stride) for p in range(shape.P) for q in range(shape.Q)}
    assert len(pixels) == words
    assert acc.dram == len(pixels) + 1 + shape.P * shape.Q  # I, the one weight, O written once
    assert dfm.brute_force_accesses(shape, factors, dataflow="nlr").dram == acc.dram


def test_compulsory_traffic_when_everything_fits():
    # One GLB tile holding the whole layer: DRAM moves each tensor exactly once.
    shape = dfm.conv_shape(K=2, C=2, H=4, W=4, R=3, S=3)
    factors = np.ones((7, 4), dtype=np.int64)
    factors[:, 1] = dfm.loop_bounds(shape)
    acc = dfm.evaluate_mapping(shape, factors, dataflow="nlr")
    words = 2 * 2 * 9 + 2 * 16 + 2 * 2 * 2  # W + I + O
    assert acc.dram == words
    assert acc.rf == 0  # no local reuse: no register file


def test_search_finds_no_worse_than_a_given_mapping():
    shape = dfm.conv_shape(K=4, C=2, H=6, W=6, R=3, S=3)
    best = dfm.search_mapping(shape, "os")
    factors = np.ones((7, 4), dtype=np.int64)
    factors[:, 1] = dfm.loop_bounds(shape)
    factors[2, 1], factors[2, 3] = 1, 2  # C in the RF
    manual = dfm.evaluate_mapping(shape, factors, dataflow="os")
    assert best.accesses.total_energy <= manual.total_energy
    again = dfm.evaluate_mapping(shape, best.mapping.factors, best.mapping.order, "os")
    assert again.total_energy == pytest.approx(best.accesses.total_energy)


@pytest.mark.slow_without_jit
def test_row_stationary_lowest_energy_on_alexnet():
    """Chen, Emer, Sze (ISCA 2016): RS has the lowest energy on AlexNet's conv layers."""
    for _, row in dfm.load_layers("AlexNet").iterrows():
        table = dfm.compare_dataflows(dfm.layer_shape(row), orders="fixed")
        assert table.loc[table["total"].idxmin(), "dataflow"] == "rs", row["layer"]


def test_data_files_have_sources_in_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", BIB.read_text()))
    costs = dfm.eyeriss_costs()
    assert set(costs["source"]) <= keys
    assert dict(zip(costs["level"], costs["normalized_energy"], strict=True)) == {
        "MAC": 1, "RF": 1, "PE": 2, "GLB": 6, "DRAM": 200}
    layers = dfm.load_layers()
    assert set(layers["source"]) <= keys
    assert {"AlexNet", "VGG-16", "ResNet-50"} <= set(layers["network"])
    # AlexNet conv1: 55x55 outputs (Krizhevsky et al. 2012)
    conv1 = dfm.layer_shape(dfm.load_layers("AlexNet").iloc[0])
    assert (conv1.P, conv1.Q) == (55, 55)
    # ResNet-50 res3a_branch2a as released in Caffe (He et al. 2016): 1x1, stride 2, 56x56 -> 28x28
    res3a = {layer.name: layer for layer in conv_layers("ResNet-50")}["ResNet-50 res3a_branch2a"]
    assert (res3a.R, res3a.stride, res3a.H, res3a.P) == (1, 2, 56, 28)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: dfm.conv_shape(K=0), ValueError, "K must be >= 1"),
    (lambda: dfm.conv_shape(H=2, R=3, W=4, S=1), ValueError, "does not fit"),
    (lambda: dfm.search_mapping(dfm.conv_shape(H=3, W=3), "xs"), ValueError,
     "dataflow must be one of"),
    (lambda: dfm.search_mapping((1, 2, 3), "rs"), TypeError, "shape must be a ConvLayer"),
    (lambda: dfm.search_mapping(dfm.conv_shape(K=8, C=8, H=8, W=8, R=3, S=3), "rs",
                                dfm.Architecture(rf_words=1, glb_words=4)), ValueError,
     "no 'rs' mapping of this layer fits: RF 1 words"),
    (lambda: dfm.evaluate_mapping(dfm.conv_shape(H=3, W=3), np.ones((7, 3))), ValueError,
     "factors must have shape"),
    (lambda: dfm.evaluate_mapping(dfm.conv_shape(K=2, H=3, W=3), np.ones((7, 4))), ValueError,
     "factors multiply"),
    (lambda: dfm.Architecture(n_pes=0), ValueError, "n_pes must be >= 1"),
    (lambda: dfm.load_layers("LeNet"), ValueError, "network must be one of"),
    (lambda: dfm.conv_shape(H=4, W=4, stride=0), ValueError, "stride must be >= 1"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_dataflow_constraints_enforced():
    shape = dfm.conv_shape(K=2, H=3, W=3)
    factors = np.ones((7, 4), dtype=np.int64)
    factors[:, 1] = dfm.loop_bounds(shape)
    factors[1, 1], factors[1, 3] = 1, 2  # K inside the PE
    with pytest.raises(ValueError, match="dataflow 'ws' keeps only .* inside a PE, not K"):
        dfm.evaluate_mapping(shape, factors, dataflow="ws")


def test_energy_of_each_level_is_its_accesses_times_its_own_cost():
    """Distinct costs per level (primes, so no two levels can be confused): each level's energy is
    that level's access count times that level's cost, and the total is their sum."""
    shape = dfm.conv_shape(K=4, C=2, H=6, W=6, R=3, S=3)
    mapping = dfm.search_mapping(shape, "rs", orders="fixed").mapping
    costs = {"MAC": 2.0, "RF": 3.0, "PE": 5.0, "GLB": 7.0, "DRAM": 11.0}
    acc = dfm.evaluate_mapping(shape, mapping.factors, mapping.order, "rs", costs=costs)
    counts = {"MAC": acc.macs, "RF": acc.rf, "PE": acc.pe, "GLB": acc.glb, "DRAM": acc.dram}
    assert min(counts.values()) > 0
    for level, cost in costs.items():
        assert acc.energy[level] == pytest.approx(cost * counts[level]), level
    assert acc.total_energy == pytest.approx(sum(c * counts[lv] for lv, c in costs.items()))


def test_custom_costs_scale_energy():
    """Absolute energies (e.g. pJ from another table) replace the Eyeriss normalised costs."""
    shape = dfm.conv_shape(K=4, C=2, H=6, W=6, R=3, S=3)
    base = dfm.search_mapping(shape, "rs", orders="fixed")
    costs = dfm.eyeriss_costs()
    doubled = {level: 2.0 * v for level, v in
               zip(costs["level"], costs["normalized_energy"], strict=True)}
    again = dfm.evaluate_mapping(shape, base.mapping.factors, base.mapping.order, "rs",
                                 costs=doubled)
    assert again.total_energy == pytest.approx(2 * base.accesses.total_energy)
    with pytest.raises(ValueError, match="costs must be a dict with exactly the keys"):
        dfm.search_mapping(shape, "rs", costs={"DRAM": 1.0})
    with pytest.raises(ValueError, match=r"costs\['DRAM'\] must be >= 0"):
        dfm.evaluate_mapping(shape, base.mapping.factors, base.mapping.order, "rs",
                             costs={**doubled, "DRAM": -1.0})


@pytest.mark.slow_without_jit  # builds the explorers, which run the mapping search (95 s)
def test_dataflow_widgets_build():
    import matplotlib

    matplotlib.use("Agg")
    import ipywidgets as w
    import matplotlib.pyplot as plt

    from aichip.widgets import dataflow as wd

    wd.plot_taxonomy()
    table = dfm.compare_dataflows(dfm.conv_shape(K=4, C=2, H=6, W=6, R=3, S=3), orders="fixed")
    wd.plot_energy_breakdown(table, highlight="rs")
    plt.close("all")
    with pytest.raises(ValueError, match="network/layer must be one of"):
        wd.dataflow_explorer(network="AlexNet", layer="conv9")
    explorer = wd.dataflow_explorer(network="AlexNet", layer="conv5", dataflow="nlr")
    assert isinstance(explorer, w.Widget)
    plt.close("all")


def _legal_mappings(shape, dataflow):
    """Every mapping the search's docstring allows, enumerated independently of the search: each
    bound split into ordered divisor 4-tuples (dram, glb, spatial, rf), spatial only for the
    dataflow's spatial loops, rf only for its RF loops, R and S never at DRAM, N only at DRAM."""
    rf_ok, sp_ok = dfm.DATAFLOWS[dataflow]
    per_dim = []
    for name, n in zip(dfm.DIMS, dfm.loop_bounds(shape), strict=True):
        n = int(n)
        rows = []
        for f in itertools.product(range(1, n + 1), repeat=4):
            dram, glb, sp, rf = f
            if dram * glb * sp * rf != n or (sp > 1 and name not in sp_ok):
                continue
            if (rf > 1 and name not in rf_ok) or (dram > 1 and name in "RS"):
                continue
            if glb > 1 and name == "N":
                continue
            rows.append(f)
        per_dim.append(rows)
    for combo in itertools.product(*per_dim):
        yield np.array(combo, dtype=np.int64)


def _tile_words_by_enumeration(shape, ext):
    """Distinct words of W, I and O touched by a tile with loop extents ``ext`` (dict DIMS -> int),
    counted by listing the indices the loop nest O[n,k,p,q] += I[n,c,p*s+r,q*s+t] * W[k,c,r,t]
    reads (an input row or column is counted once however many windows read it)."""
    st_ = shape.stride
    w = ext["K"] * ext["C"] * ext["R"] * ext["S"]
    o = ext["N"] * ext["K"] * ext["P"] * ext["Q"]
    rows = {p * st_ + r for p in range(ext["P"]) for r in range(ext["R"])}
    cols = {q * st_ + s for q in range(ext["Q"]) for s in range(ext["S"])}
    return w + ext["N"] * ext["C"] * len(rows) * len(cols) + o


def _brute_force_search(shape, dataflow, arch):
    """(energy, steps) of every fitting (mapping, order) pair, each priced by evaluate_mapping."""
    results = []
    orders = [("N", *m, "R", "S") for m in itertools.permutations("KCPQ")]
    for f in _legal_mappings(shape, dataflow):
        if f[:, 2].prod() > arch.n_pes:
            continue
        rf_ext = {d: int(f[i, 3]) for i, d in enumerate(dfm.DIMS)}
        glb_ext = {d: int(f[i, 1] * f[i, 2] * f[i, 3]) for i, d in enumerate(dfm.DIMS)}
        if dataflow != "nlr" and _tile_words_by_enumeration(shape, rf_ext) > arch.rf_words:
            continue
        if _tile_words_by_enumeration(shape, glb_ext) > arch.glb_words:
            continue
        steps = int(f[:, [0, 1, 3]].prod())
        for order in orders:
            acc = dfm.evaluate_mapping(shape, f, order, dataflow, arch)
            results.append((acc.total_energy, steps))
    return results


@pytest.mark.parametrize("stride, width", [(1, 4), (2, 5)])
def test_search_rf_fit_counts_overlapping_input_windows_once(stride, width):
    """Row stationary keeps Q and S in the RF. For a 1 x width input, 1 x 3 filter (Q = 2 outputs)
    the whole row fits in 3 weights + 2 psums + the input columns the two windows read: 4 with
    stride 1 (columns 0..3), 5 with stride 2 (columns 0..4), not Q * S = 6. With the RF exactly
    that size (9 or 10 words), the all-in-RF mapping must be allowed, so the search must reach the
    lowest energy found by an enumeration of every fitting mapping and order (fit counted by
    listing the words)."""
    shape = dfm.conv_shape(H=1, W=width, R=1, S=3, stride=stride)
    arch = dfm.Architecture(rf_words=3 + 2 + {1: 4, 2: 5}[stride])
    brute = _brute_force_search(shape, "rs", arch)
    res = dfm.search_mapping(shape, "rs", arch)
    assert res.mapping.factors[dfm.DIMS.index("Q"), 3] == 2
    assert res.mapping.factors[dfm.DIMS.index("S"), 3] == 3
    assert res.accesses.total_energy == pytest.approx(min(e for e, _ in brute))


def test_latency_search_takes_fewest_steps_then_least_energy():
    """objective='latency' minimises temporal steps and breaks ties by energy only. Checked
    against an enumeration of every fitting mapping and order (evaluate_mapping prices each) on a
    layer with C = 4 and Q = 2 on a 4-PE array: spreading C over the PEs is fastest (2 steps) but
    pays PE-to-PE partial-sum reduction, so the lowest-energy mapping (C in the RF) takes 8 steps.
    The search must return the fewest steps and, among those, the least energy."""
    shape = dfm.conv_shape(K=1, C=4, H=1, W=2, R=1, S=1)
    arch = dfm.Architecture(n_pes=4)
    brute = _brute_force_search(shape, "rs", arch)
    best_steps = min(s for _, s in brute)
    best_energy = min(e for e, s in brute if s == best_steps)
    assert min(e for e, _ in brute) < best_energy  # the tie-break matters on this layer
    res = dfm.search_mapping(shape, "rs", arch, objective="latency")
    assert res.latency_steps == best_steps
    assert res.accesses.total_energy == pytest.approx(best_energy)
