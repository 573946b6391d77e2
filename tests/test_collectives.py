"""Executed collectives against numpy, simulated times against the closed forms, and the closed
forms against hand-derived values from Thakur, Rabenseifner and Gropp (2005).

Every (operation, algorithm) pair comes from the registry (aichip.collective_specs), so a new
record is tested by every parametrised test here without touching this file."""

import ast
import json
import math
import pathlib
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aichip import alphabeta as ab
from aichip import collective_specs as cs
from aichip import collectives as co
from aichip import topology as tp

PAIRS = [(op, alg) for op, algs in cs.REGISTRY.items() for alg in algs]
IDS = [f"{op}-{alg}" for op, alg in PAIRS]


def allowed_ranks(op, alg, p):
    """The largest rank count <= p (else the smallest above it) that the algorithm accepts."""
    rule = cs.REGISTRY[op][alg].rank_rule
    for q in list(range(p, 0, -1)) + list(range(p + 1, 2 * p + 2)):
        if rule(q) is None:
            return q
    raise AssertionError(f"no rank count near {p} for {alg}")


def extra(op, alg, p, count, pick=0):
    """Extra parameters the algorithm takes, chosen from their allowed values by ``pick``."""
    spec = cs.REGISTRY[op][alg]
    out = {}
    for q in spec.params:
        if q.name == "ranks_per_node":
            divisors = [d for d in range(1, p + 1) if p % d == 0]
            out[q.name] = divisors[pick % len(divisors)]
        elif q.name == "chunks":
            out[q.name] = 1 + pick % max(count // spec.vector_parts, 1)
        else:
            raise AssertionError(f"test does not know parameter {q.name}: add it here")
    return out


def test_same_results_needs_every_rank():
    """The comparison the tests and chapter 9 use: a result missing its last rank, or with one
    rank too many, or with a None where an array belongs, is not the same (zip alone would stop
    at the shorter list and pass)."""
    want = [np.arange(3.0), np.arange(3.0), np.arange(3.0)]
    assert co.same_results([w.copy() for w in want], want)
    assert not co.same_results(want[:2], want)
    assert not co.same_results(want + [np.arange(3.0)], want)
    assert not co.same_results([want[0], None, want[2]], want)
    assert not co.same_results([want[0], want[1], want[2] + 1], want)
    assert co.same_results([None, np.ones(2)], [None, np.ones(2)])


@pytest.mark.parametrize("op,alg", PAIRS, ids=IDS)
@settings(max_examples=12, deadline=None)
@given(p=st.integers(1, 12), count=st.integers(1, 40), pick=st.integers(0, 50),
       seed=st.integers(0, 2**16))
def test_results_equal_numpy(op, alg, p, count, pick, seed):
    p = allowed_ranks(op, alg, p)
    if cs.OPERATIONS[op].count_multiple_of_ranks:
        count *= p
    count = max(count, 2)
    # small integers in float64: every order of summation gives the exact sum
    x = np.random.default_rng(seed).integers(-50, 50, size=(p, count)).astype(np.float64)
    got, _ = co.execute(op, alg, x, **extra(op, alg, p, count, pick))
    want = co.reference(op, x)
    assert len(got) == len(want) == p
    assert co.same_results(got, want)


@pytest.mark.parametrize("op,alg", [(op, alg) for op, alg in PAIRS if cs.OPERATIONS[op].rooted
                                    and cs.REGISTRY[op][alg].roots])
@settings(max_examples=10, deadline=None)
@given(p=st.integers(2, 11), root=st.integers(0, 10))
def test_rooted_ops_any_root(op, alg, p, root):
    p = allowed_ranks(op, alg, p)
    root %= p
    x = np.arange(p * 6, dtype=np.float64).reshape(p, 6)
    got, _ = co.execute(op, alg, x, root=root, **extra(op, alg, p, 6, 1))
    assert co.same_results(got, co.reference(op, x, root=root))


def test_float32_sums_close_to_numpy():
    x = np.random.default_rng(1).standard_normal((8, 1000)).astype(np.float32)
    got, _ = co.execute("allreduce", "ring", x)
    assert got[0].dtype == np.float32
    np.testing.assert_allclose(got[3], x.sum(axis=0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("op,alg", PAIRS, ids=IDS)
@pytest.mark.parametrize("p", [2, 3, 4, 8, 16, 32])
def test_one_send_and_one_receive_per_rank_per_step(op, alg, p):
    """The model's assumption (Thakur et al. 2005): in each step a rank sends at most one message
    and receives at most one (the switch of nvls, participant p, has a port per rank)."""
    p = allowed_ranks(op, alg, p)
    count = 16 * p
    sched = co.schedule(op, alg, p, count, **extra(op, alg, p, count, 5))
    for k in range(sched.n_steps):
        sl = slice(sched.step_start[k], sched.step_start[k + 1])
        assert np.bincount(sched.src[sl], minlength=p)[:p].max() <= 1, (k, "sends")
        assert np.bincount(sched.dst[sl], minlength=p)[:p].max() <= 1, (k, "receives")


# realistic magnitudes: alpha 0.1-100 us, links 1-1000 GB/s, reduction 1-1000 GB/s (or free)
LOG_ALPHA = st.floats(-7, -4)
LOG_BW = st.floats(0, 3)
LOG_GAMMA_BW = st.one_of(st.none(), st.floats(0, 3))


@pytest.mark.parametrize("op,alg", PAIRS, ids=IDS)
@settings(max_examples=8, deadline=None)
@given(p=st.integers(2, 16), blocks=st.integers(1, 8), pick=st.integers(0, 50),
       log_alpha=LOG_ALPHA, log_bw=LOG_BW, log_gamma_bw=LOG_GAMMA_BW)
def test_simulated_time_on_crossbar_equals_closed_form(op, alg, p, blocks, pick, log_alpha,
                                                       log_bw, log_gamma_bw):
    p = allowed_ranks(op, alg, p)
    alpha, bw = 10.0**log_alpha, 10.0**log_bw
    gamma = 0.0 if log_gamma_bw is None else 1 / (10.0**log_gamma_bw * 1e9)
    # float32 elements, a count divisible into halves, p chunks and any chunk count up to 8
    count = 2 * p * 840 * blocks
    kw = extra(op, alg, p, 8, pick)
    msg = 4 * count * cs.OPERATIONS[op].size_blocks(p)
    sim = co.simulate_time(op, alg, tp.crossbar(max(p, 2), bw), p, msg, alpha, gamma, 4, **kw)
    closed = ab.cost(op, alg, p, msg, alpha, 1 / (bw * 1e9), gamma, **kw)
    assert sim == pytest.approx(closed, rel=1e-9, abs=1e-18)


def test_closed_forms_by_hand():
    a, b, c, n = 1e-6, 1e-9, 1e-10, 1e6
    assert ab.cost("allreduce", "ring", 4, n, a, b) == pytest.approx(6 * a + 1.5 * n * b)
    assert ab.cost("allreduce", "ring", 4, n, a, b, c) == pytest.approx(
        6 * a + 1.5 * n * b + 0.75 * n * c)
    assert ab.cost("allreduce", "recursive_doubling", 8, n, a, b) == pytest.approx(3 * (a + n * b))
    assert ab.cost("allreduce", "rabenseifner", 8, n, a, b, c) == pytest.approx(
        6 * a + 1.75 * n * b + 0.875 * n * c)
    assert ab.cost("reduce", "rabenseifner", 8, n, a, b, c) == pytest.approx(
        6 * a + 1.75 * n * b + 0.875 * n * c)
    assert ab.cost("allgather", "ring", 4, n, a, b) == pytest.approx(3 * a + 0.75 * n * b)
    assert ab.cost("broadcast", "binomial_tree", 5, n, a, b) == pytest.approx(3 * (a + n * b))
    assert ab.cost("alltoall", "pairwise", 4, n, a, b) == pytest.approx(3 * (a + n / 4 * b))
    # S(p): 2 ranks -> 1 round, 3 -> 2, 4 -> 3 (root to 1, 2; 1 to 3), 7 -> 4, 8 -> 5
    assert [ab.binary_tree_rounds(p) for p in (1, 2, 3, 4, 7, 8)] == [0, 1, 2, 3, 4, 5]
    # pipelined tree, 4 ranks, 4 chunks: the first chunk needs S(4) = 3 rounds, each later one
    # 2 more steps (the root takes its two children's chunks one after the other): 9 steps of
    # n/4 bytes up the tree, 9 down; 2 ranks: one edge, a chunk per step, 1 + 3 = 4 steps
    assert ab.cost("allreduce", "pipelined_tree", 4, n, a, b, c, chunks=4) == pytest.approx(
        18 * (a + n / 4 * b) + 9 * n / 4 * c)
    assert ab.cost("broadcast", "pipelined_tree", 2, n, a, b, chunks=4) == pytest.approx(
        4 * (a + n / 4 * b))
    # two trees, each on n/2 cut into 4 chunks: 9 steps of n/8 up and 9 down
    assert ab.cost("allreduce", "pipelined_double_binary_tree", 4, n, a, b, c,
                   chunks=4) == pytest.approx(18 * (a + n / 8 * b) + 9 * n / 8 * c)
    # hierarchical, 2 nodes of 4: ring in the node (6 steps, 2*3/4 n), ring across 2 nodes on
    # each GPU's quarter (2 steps of n/8), one more reduction of n/8
    assert ab.cost("allreduce", "hierarchical", 8, n, a, b, c, ranks_per_node=4) == pytest.approx(
        6 * a + 1.5 * n * b + 0.75 * n * c + 2 * (a + n / 8 * b) + n / 8 * c)


def test_closed_forms_by_hand_trees_and_halving():
    """The algorithms the test above leaves out, worked by hand from their schedules."""
    a, b, c, n = 1e-6, 1e-9, 1e-10, 1e6
    # binary tree on 4 ranks: root to 1, root to 2, 1 to 3: S = 3 rounds; on 7 ranks S = 4
    assert ab.cost("broadcast", "binary_tree", 4, n, a, b) == pytest.approx(3 * (a + n * b))
    assert ab.cost("reduce", "binary_tree", 7, n, a, b, c) == pytest.approx(
        4 * (a + n * b + n * c))
    # binomial on 5 ranks: 0->1; 0->2, 1->3; 0->4: 3 rounds, each adding on the way back
    assert ab.cost("reduce", "binomial_tree", 5, n, a, b, c) == pytest.approx(
        3 * (a + n * b + n * c))
    # pipelined, 4 ranks: 2 chunks -> 3 + 2 = 5 steps of n/2; 4 chunks -> 9 steps of n/4
    assert ab.cost("broadcast", "pipelined_tree", 4, n, a, b, chunks=2) == pytest.approx(
        5 * (a + n / 2 * b))
    assert ab.cost("reduce", "pipelined_tree", 4, n, a, b, c, chunks=4) == pytest.approx(
        9 * (a + n / 4 * (b + c)))
    # 8 ranks: 3 doubling (halving) steps move 1/8 + 2/8 + 4/8 of n (4/8 + 2/8 + 1/8)
    assert ab.cost("allgather", "recursive_doubling", 8, n, a, b) == pytest.approx(
        3 * a + 0.875 * n * b)
    assert ab.cost("reduce_scatter", "recursive_halving", 8, n, a, b, c) == pytest.approx(
        3 * a + 0.875 * n * (b + c))
    assert ab.cost("reduce_scatter", "ring", 4, n, a, b, c) == pytest.approx(
        3 * a + 0.75 * n * (b + c))
    # all-reduce up and down the 4-rank tree: 3 rounds each way, adding on the way up; two trees
    # each carry half the vector
    assert ab.cost("allreduce", "binary_tree", 4, n, a, b, c) == pytest.approx(
        6 * (a + n * b) + 3 * n * c)
    assert ab.cost("allreduce", "double_binary_tree", 4, n, a, b, c) == pytest.approx(
        6 * (a + n / 2 * b) + 3 * n / 2 * c)


def schedule_symbols(p, chunks=1, ranks_per_node=1):
    """Values of the formulas' symbols, counted from schedules the simulator builds (S: rounds of
    the binary-tree broadcast, T: steps of the pipelined-tree broadcast), not from the package's
    helpers."""
    return {"p": p, "k": chunks, "g": ranks_per_node, "m": p / ranks_per_node,
            "L": math.log2(p), "C": math.ceil(math.log2(p)),
            "S": co.schedule("broadcast", "binary_tree", p, 1).n_steps,
            "T": co.schedule("broadcast", "pipelined_tree", p, chunks, chunks=chunks).n_steps}


def evaluate(formula, symbols, n, alpha, beta, gamma):
    return eval(formula, {"__builtins__": {}},  # the records' own formulas
                {**symbols, "n": n, "alpha": alpha, "beta": beta, "gamma": gamma})


def params_grid(op, alg, p):
    """Every extra-parameter combination worth trying at p ranks."""
    spec = cs.REGISTRY[op][alg]
    names = [q.name for q in spec.params]
    if names == ["chunks"]:
        return [{"chunks": k} for k in (1, 2, 3, 8)]
    if names == ["ranks_per_node"]:
        return [{"ranks_per_node": g} for g in range(1, p + 1) if p % g == 0]
    assert not names, f"test does not know parameters {names}: add them here"
    return [{}]


@pytest.mark.parametrize("op,alg", PAIRS, ids=IDS)
def test_displayed_formula_is_the_cost_function(op, alg):
    """A record's ``formula`` (what formula_table shows) evaluated with symbols counted from the
    schedules equals its ``cost`` over a grid of rank counts, sizes, rates and parameters; it
    uses only the symbols the table explains."""
    spec = cs.REGISTRY[op][alg]
    used = {node.id for node in ast.walk(ast.parse(spec.formula)) if isinstance(node, ast.Name)}
    assert used <= set(cs.SYMBOLS), used - set(cs.SYMBOLS)
    assert ab.formula_table().count(cs.formula_text(spec.formula)) >= 1
    rng = np.random.default_rng(3)
    for p in sorted({allowed_ranks(op, alg, q) for q in (1, 2, 3, 5, 6, 8, 12, 16, 64)}):
        for kw in params_grid(op, alg, p):
            sym = schedule_symbols(p, kw.get("chunks", 1), kw.get("ranks_per_node", 1))
            for n in (1.0, 4096.0, 3e8):
                a, b, c = rng.uniform(0, 1e-5), rng.uniform(0, 1e-9), rng.uniform(0, 1e-9)
                assert evaluate(spec.formula, sym, n, a, b, c) == pytest.approx(
                    ab.cost(op, alg, p, n, a, b, c, **kw), rel=1e-12, abs=1e-300), (p, kw, n)


@pytest.mark.parametrize("op,alg", PAIRS, ids=IDS)
@pytest.mark.parametrize("p", [1, 2, 3, 4, 6, 8, 16])
def test_each_term_counted_from_the_schedule(op, alg, p):
    """The three terms of every cost against the executed schedule, counted without the topology
    code: alpha once per step, beta once per byte of each step's largest message (a rank sends
    one message and receives one per step), gamma once per byte of each step's largest reduced
    message."""
    p = allowed_ranks(op, alg, p)
    count = 2 * p * 840                        # halves, p chunks and 1..8 pipeline chunks divide
    item = 4
    n = item * count * cs.OPERATIONS[op].size_blocks(p)
    for kw in params_grid(op, alg, p):
        sched = co.schedule(op, alg, p, count, **kw)
        per_step = [slice(sched.step_start[k], sched.step_start[k + 1])
                    for k in range(sched.n_steps)]
        sent = sum(int(sched.length[sl].max()) for sl in per_step) * item
        reduced = sum(int((sched.length[sl] * sched.reduce[sl]).max()) for sl in per_step) * item
        assert ab.cost(op, alg, p, n, 1.0, 0.0, 0.0, **kw) == pytest.approx(sched.n_steps), kw
        assert ab.cost(op, alg, p, n, 0.0, 1.0, 0.0, **kw) == pytest.approx(sent), kw
        assert ab.cost(op, alg, p, n, 0.0, 0.0, 1.0, **kw) == pytest.approx(reduced), kw


CHAPTER_9 = pathlib.Path(__file__).resolve().parents[1] / "chapters" / "09_collectives.ipynb"
#: the rows of chapter 9's all-reduce table, by their label there
CHAPTER_ROWS = {"ring": "ring", "recursive doubling": "recursive_doubling",
                "Rabenseifner (halving, then doubling)": "rabenseifner",
                "binary tree, unpipelined (reduce, then broadcast)": "binary_tree",
                "double binary tree, unpipelined": "double_binary_tree",
                "pipelined binary tree, $k$ chunks": "pipelined_tree",
                "pipelined double binary tree, $k$ chunks": "pipelined_double_binary_tree"}


def latex_to_python(tex):
    r"""The LaTeX of the chapter's table as a Python expression in the formulas' symbols:
    fractions divide, ``\log_2 p`` is L, ``S(p)`` is S, juxtaposition multiplies."""
    s = tex.replace(r"\log_2 p", " L ").replace("S(p)", " S ").replace(r"\,", " ")
    s = re.sub(r"\\t?frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", s)
    s = re.sub(r"\\(alpha|beta|gamma)", r" \1 ", s)
    tokens = re.findall(r"\d+|[A-Za-z]+|[-()+*/]", s)
    assert "".join(tokens) == re.sub(r"\s", "", s), f"cannot read {tex!r}"
    out = []
    for tok in tokens:
        if out and (out[-1] == ")" or out[-1][0].isalnum()) and (tok == "(" or tok[0].isalnum()):
            out.append("*")
        out.append(tok)
    return "".join(out)


def test_chapter_table_is_the_cost_functions():
    """Chapter 9's all-reduce table, read from the notebook: each row's time (its LaTeX) equals
    the algorithm's cost and its step count the schedule's, so the book cannot show a formula
    the code does not compute."""
    cells = ["".join(c["source"]) for c in json.loads(CHAPTER_9.read_text())["cells"]]
    rows = {}
    for line in "\n".join(cells).splitlines():
        parts = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(parts) == 3 and parts[0] in CHAPTER_ROWS:
            rows[CHAPTER_ROWS[parts[0]]] = (parts[1].strip("$"), parts[2].strip("$"))
    assert set(rows) == set(CHAPTER_ROWS.values())
    for alg, (steps, time) in rows.items():
        for p in (2, 4, 8, 16):
            for k in (1, 4):
                kw = {"chunks": k} if "pipelined" in alg else {}
                sym = schedule_symbols(p, k)
                got = evaluate(latex_to_python(time), sym, 1e6, 3e-6, 2e-10, 1e-10)
                assert got == pytest.approx(ab.cost("allreduce", alg, p, 1e6, 3e-6, 2e-10, 1e-10,
                                                    **kw), rel=1e-12), (alg, p, k, time)
                n_steps = co.schedule("allreduce", alg, p, 64 * p, **kw).n_steps
                assert evaluate(latex_to_python(steps), sym, 0, 0, 0, 0) == n_steps, (alg, p)


def test_formula_text_and_old_argument_order():
    """The rendering tables use, and the MPI receive length under its old name and order."""
    assert cs.formula_text("2*L*alpha + 2*(p-1)/p*n*beta") == "2L alpha + 2(p-1)/p n beta"
    assert cs.formula_text("S*n/2*gamma + n/(2*k)*beta") == "S n/2 gamma + n/(2k) beta"
    gather = cs.op_spec("allgather")
    assert gather.mpi_recv_elements(4, 3) == 12 == gather.mpi_recv_len(3, 4)
    scatter = cs.op_spec("reduce_scatter")
    assert scatter.mpi_recv_elements(4, 8) == 2 == scatter.mpi_recv_len(8, 4)


def test_pipelined_steps_counted_from_the_schedule():
    """The step counts the closed form assumes, S(p) + P(k-1) per phase, against the schedule
    actually built (p = 7: S = 4, P = 2; 5 chunks -> 12 steps per phase)."""
    assert co.schedule("allreduce", "pipelined_tree", 7, 50, chunks=5).n_steps == 24
    assert co.schedule("reduce", "pipelined_tree", 7, 50, chunks=5).n_steps == 12
    assert co.schedule("broadcast", "pipelined_tree", 2, 50, chunks=5).n_steps == 5
    two_trees = co.schedule("allreduce", "pipelined_double_binary_tree", 8, 50, chunks=5)
    assert two_trees.n_steps == 2 * (5 + 2 * 4)


def test_trees_win_at_many_ranks_and_mid_sizes():
    """Where the pipelined trees beat the ring (alpha 5 us, 25 GB/s): at 256 ranks and 1 MiB the
    ring pays 510 latencies; at 8 ranks and 256 MiB the single tree's 4 n beta loses to the
    ring's 2 (p-1)/p n beta."""
    a, b = 5e-6, 1 / 25e9
    n = 2**20
    k = ab.best_chunks("allreduce", 256, n, a, b, max_chunks=256)
    assert ab.cost("allreduce", "pipelined_tree", 256, n, a, b, chunks=k) < 0.5 * ab.cost(
        "allreduce", "ring", 256, n, a, b)
    big = 2**28
    k = ab.best_chunks("allreduce", 8, big, a, b, max_chunks=256)
    assert ab.cost("allreduce", "pipelined_tree", 8, big, a, b, chunks=k) > ab.cost(
        "allreduce", "ring", 8, big, a, b)
    # the two-tree version carries n/2 per tree: its bandwidth term approaches the ring's 2 n beta
    k = ab.best_chunks("allreduce", 8, big, a, b, max_chunks=4096,
                       algorithm="pipelined_double_binary_tree")
    t = ab.cost("allreduce", "pipelined_double_binary_tree", 8, big, a, b, chunks=k)
    assert 2 * big * b < t < 1.1 * 2 * big * b
    # best_chunks is the minimum over k (checked by brute force here)
    times = [ab.cost("allreduce", "pipelined_tree", 64, n, a, b, chunks=j) for j in range(1, 65)]
    assert ab.best_chunks("allreduce", 64, n, a, b, max_chunks=64) == 1 + int(np.argmin(times))


def test_ring_allreduce_is_bandwidth_optimal_for_large_messages():
    # Patarasuk & Yuan: the ring moves 2(p-1)/p n per rank, the lower bound; recursive doubling
    # moves n log p, so for large n the ring wins, for small n the latency-optimal one does
    algs = ("ring", "recursive_doubling")
    big = [ab.cost("allreduce", alg, 16, 1e9, 5e-6, 1e-10) for alg in algs]
    small = [ab.cost("allreduce", alg, 16, 8, 5e-6, 1e-10) for alg in algs]
    assert big[0] < big[1] and small[0] > small[1]
    x = ab.crossover_bytes("allreduce", "ring", "recursive_doubling", 16, 5e-6, 1e-10)
    # by hand: 30 a + 1.875 n b = 4 a + 4 n b  ->  n = 26 a / (2.125 b)
    assert x == pytest.approx(26 * 5e-6 / (2.125 * 1e-10), rel=1e-9)
    assert ab.crossover_bytes("allreduce", "ring", "rabenseifner", 16, 5e-6, 1e-10) is None


def test_best_algorithm_changes_by_brute_force():
    """The explorer's crossovers against an exhaustive scan of every usable algorithm."""
    a, b = 5e-6, 1 / 25e9
    changes = ab.best_algorithm_changes("allreduce", 16, a, b)
    assert [(x, y) for _, x, y in changes] == [("recursive_doubling", "rabenseifner")]
    x = changes[0][0]
    # by hand: 4 (a + n b) = 8 a + 1.875 n b  ->  n = 4 a / (2.125 b)
    assert x == pytest.approx(4 * a / (2.125 * b), rel=1e-9)
    sizes = np.logspace(0, 30, 61, base=2.0)
    names = ab.best_algorithm("allreduce", 6, sizes, a, b)
    for n, name in zip(sizes, names, strict=True):
        t = {alg: ab.cost("allreduce", alg, 6, n, a, b) for alg in
             ("ring", "binary_tree", "pipelined_tree", "double_binary_tree",
              "pipelined_double_binary_tree")}
        assert t[name] == min(t.values())
    assert set(ab.usable_algorithms("allreduce", 6)) == {
        "ring", "binary_tree", "pipelined_tree", "double_binary_tree",
        "pipelined_double_binary_tree"}
    assert "hierarchical" in ab.usable_algorithms("allreduce", 8, ranks_per_node=4)


def test_bus_bandwidth_factors_nccl_tests():
    assert ab.bus_bandwidth("allreduce", 100, 8) == pytest.approx(175)
    assert ab.bus_bandwidth("allgather", 100, 8) == pytest.approx(87.5)
    assert ab.bus_bandwidth("reduce_scatter", 100, 4) == pytest.approx(75)
    assert ab.bus_bandwidth("alltoall", 100, 2) == pytest.approx(50)
    assert ab.bus_bandwidth("broadcast", 100, 8) == 100
    assert ab.bus_bandwidth("reduce", 100, 8) == 100


def test_registry_is_extensible():
    """A new algorithm is one record: here a 'direct' all-gather (step k: rank r sends its block
    straight to rank r+k), found by schedule, execute and cost without any other change."""
    def build(p, count, root):
        return [[(r, (r + k) % p, r * count, r * count, count, 0) for r in range(p)]
                for k in range(1, p)]

    def direct_cost(p, n, alpha, beta, gamma):
        return (p - 1) * (alpha + n / p * beta)

    spec = cs.AlgorithmSpec(op="allgather", name="test_direct", builder=build, cost=direct_cost,
                            formula="(p-1)*(alpha + n/p*beta)")
    cs.register_algorithm(spec)
    try:
        assert "test_direct" in ab.ALGORITHMS["allgather"]
        x = np.arange(20.0).reshape(4, 5)
        got, _ = co.execute("allgather", "test_direct", x)
        assert co.same_results(got, co.reference("allgather", x))
        assert ab.cost("allgather", "test_direct", 4, 80, 1e-6, 1e-9) == pytest.approx(
            3e-6 + 60e-9)
        assert co.simulate_time("allgather", "test_direct", tp.crossbar(4, 1.0), 4, 80,
                                1e-6) == pytest.approx(3e-6 + 60e-9)
    finally:
        del cs.REGISTRY["allgather"]["test_direct"]


def test_ring_on_dgx1_v100_double_links_vs_nvswitch():
    """A ring all-reduce over the DGX-1's double-link ring runs at 50 GB/s per hop; on a DGX A100
    NVSwitch every hop gets the GPU's 300 GB/s per direction."""
    n = 8 * 2**20
    fast = tp.embedded_rings(tp.dgx1_v100())[0]
    assert fast.GBps_per_dir == 50
    ordered = co.along_ring(tp.dgx1_v100(), fast.order)
    dgx1 = co.simulate_time("allreduce", "ring", ordered, 8, n, 0.0)
    a100 = co.simulate_time("allreduce", "ring", tp.dgx_a100(), 8, n, 0.0)
    assert dgx1 == pytest.approx(2 * 7 / 8 * n / 50e9)
    assert a100 == pytest.approx(2 * 7 / 8 * n / 300e9)
    naive = co.simulate_time("allreduce", "ring", tp.dgx1_v100(), 8, n, 0.0)
    assert naive > dgx1
    systems = co.ring_on_systems(n, 0.0)
    assert systems["DGX-1 V100, double-link ring"][1] == pytest.approx(50.0)
    assert systems["DGX A100"][1] == pytest.approx(300.0)
    assert set(systems) == set(co.ring_scenarios())


def test_schedule_messages_rows():
    rows = co.schedule("allreduce", "ring", 2, 4).messages()
    # 2 ranks: step 0 each sends the chunk the other owns (adding), step 1 copies it back
    assert [(r["step"], r["src"], r["dst"], r["first"], r["last"], r["action"]) for r in rows] == [
        (0, 0, 1, 2, 4, "add"), (0, 1, 0, 0, 2, "add"), (1, 0, 1, 0, 2, "copy"),
        (1, 1, 0, 2, 4, "copy")]


def test_bad_input():
    x = np.ones((4, 8))
    with pytest.raises(ValueError, match="op must be one of"):
        co.execute("allsum", "ring", x)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        co.execute("allreduce", "butterfly", x)
    with pytest.raises(ValueError, match="power-of-two n_ranks"):
        co.execute("allreduce", "recursive_doubling", np.ones((6, 8)))
    with pytest.raises(ValueError, match="even n_ranks"):
        co.execute("allreduce", "double_binary_tree", np.ones((5, 8)))
    with pytest.raises(ValueError, match="needs ranks_per_node"):
        co.execute("allreduce", "hierarchical", x)
    with pytest.raises(ValueError, match="ranks_per_node must divide n_ranks"):
        co.execute("allreduce", "hierarchical", np.ones((6, 8)), ranks_per_node=4)
    with pytest.raises(ValueError, match="ranks_per_node applies only"):
        co.execute("allreduce", "ring", x, ranks_per_node=2)
    with pytest.raises(ValueError, match="chunks must be <= 8"):
        co.execute("allreduce", "pipelined_tree", x, chunks=9)
    with pytest.raises(ValueError, match="chunks must be <= 4"):
        co.execute("allreduce", "pipelined_double_binary_tree", x, chunks=5)
    with pytest.raises(ValueError, match="chunks must be >= 1"):
        ab.cost("allreduce", "pipelined_tree", 4, 8, 1e-6, 1e-9, chunks=0)
    with pytest.raises(ValueError, match="inputs: mismatched buffers, rank 2"):
        co.execute("allreduce", "ring", [np.ones(4), np.ones(4), np.ones(3)])
    got, _ = co.execute("allreduce", "ring", [np.ones(4), 2 * np.ones(4)])
    assert (got[1] == 3).all()
    with pytest.raises(ValueError, match="inputs must have shape"):
        co.execute("allreduce", "ring", np.ones(8))
    with pytest.raises(ValueError, match="inputs must have shape"):
        co.execute("allreduce", "ring", np.ones((4, 0)))
    with pytest.raises(TypeError, match="inputs must be real numbers"):
        co.execute("allreduce", "ring", np.array([["a"], ["b"]]))
    with pytest.raises(ValueError, match="count must be a multiple of n_ranks"):
        co.execute("alltoall", "pairwise", np.ones((4, 6)))
    with pytest.raises(ValueError, match="root must be 0 for allreduce"):
        co.execute("allreduce", "ring", x, root=1)
    with pytest.raises(ValueError, match="root must be <= 3"):
        co.execute("broadcast", "binomial_tree", x, root=4)
    with pytest.raises(ValueError, match="root must be 0 for rabenseifner"):
        co.execute("reduce", "rabenseifner", x, root=1)
    with pytest.raises(ValueError, match="msg_bytes must be > 0"):
        ab.cost("allreduce", "ring", 4, 0, 1e-6, 1e-9)
    with pytest.raises(ValueError, match="alpha_s must be >= 0"):
        ab.cost("allreduce", "ring", 4, 8, -1, 1e-9)
    with pytest.raises(ValueError, match="n_ranks must be >= 1"):
        ab.cost("allreduce", "ring", 0, 8, 1e-6, 1e-9)
    with pytest.raises(ValueError, match="op must be one of"):
        ab.bus_bandwidth("gather", 1, 2)
    with pytest.raises(ValueError, match="algbw_GBps must be >= 0"):
        ab.bus_bandwidth("allreduce", -1, 2)
    with pytest.raises(ValueError, match="sched: its n_ranks=16 do not fit"):
        co.simulate_time("allreduce", "ring", tp.dgx_h100(), 16, 64, 0.0)
    with pytest.raises(ValueError, match="msg_bytes .66. must be a multiple of itemsize_bytes"):
        co.simulate_time("allreduce", "ring", tp.dgx_h100(), 8, 66, 0.0)
    with pytest.raises(ValueError, match="msg_bytes of allgather must split into 8"):
        co.simulate_time("allgather", "ring", tp.dgx_h100(), 8, 36, 0.0)
    with pytest.raises(TypeError, match="topo must be a Topology"):
        co.step_times(co.schedule("allreduce", "ring", 2, 4), "dgx", 0.0)


def test_more_bad_input():
    with pytest.raises(ValueError, match="count must be >= 1"):
        co.schedule("allreduce", "ring", 4, 0)
    with pytest.raises(ValueError, match="op must be one of"):
        co.reference("gather", np.ones((2, 2)))
    with pytest.raises(ValueError, match="root must be <= 1"):
        co.reference("broadcast", np.ones((2, 2)), root=2)
    with pytest.raises(ValueError, match="n_ranks must be >= 1"):
        ab.binary_tree_rounds(0)
    with pytest.raises(ValueError, match="hi_bytes must be > 100"):
        ab.crossover_bytes("allreduce", "ring", "recursive_doubling", 4, 1e-6, 1e-9,
                           lo_bytes=100, hi_bytes=10)
    with pytest.raises(TypeError, match="sched must be a Schedule"):
        co.step_times("ring", tp.dgx_h100(), 0.0)
    with pytest.raises(ValueError, match="order must be a permutation"):
        co.along_ring(tp.dgx1_v100(), [0, 0, 1, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match="max_chunks must be >= 1"):
        ab.best_chunks("allreduce", 8, 1e6, 1e-6, 1e-9, max_chunks=0)
    with pytest.raises(ValueError, match="op must be one of"):
        ab.usable_algorithms("gather", 4)
    with pytest.raises(ValueError, match="is not registered"):
        cs.register_algorithm(cs.AlgorithmSpec(op="gather", name="x", builder=None, cost=None,
                                               formula=""))


def test_cost_explorer_builds_and_rejects_bad_input():
    import matplotlib

    matplotlib.use("Agg")
    from aichip.widgets import collectives as wc

    assert wc.cost_explorer("allgather", 8).children
    assert wc.topology_ring_explorer(5.0).children
    import matplotlib.pyplot as plt
    import pandas as pd

    rows = pd.DataFrame([{"n_ranks": p, "algorithm": a, "size_B": n, "measured_us": 1.0 * n,
                          "model_us": 0.5 * n} for p in (2, 4) for a in ("ring", "rabenseifner")
                         for n in (8, 64)])
    _, axes = plt.subplots(1, 2)
    wc.plot_measured_vs_model(rows, axes)
    assert [len(ax.lines) for ax in axes] == [4, 4]       # measured + model per algorithm
    plt.close("all")
    with pytest.raises(ValueError, match="op must be one of"):
        wc.cost_explorer("gather")
    with pytest.raises(ValueError, match="n_ranks must be >= 1"):
        wc.cost_explorer("allreduce", 0)


def test_compare_algorithms_rows():
    rows = ab.compare_algorithms("allreduce", ["ring", "pipelined_tree"], [4, 16], [1e3, 1e6],
                                 5e-6, 1e-9, max_chunks=64)
    assert len(rows) == 8
    for r in rows:
        kw = {"chunks": r["chunks"]} if r["algorithm"] == "pipelined_tree" else {}
        assert r["chunks"] is None or 1 <= r["chunks"] <= 64
        assert r["time_s"] == ab.cost("allreduce", r["algorithm"], r["n_ranks"], r["msg_bytes"],
                                      5e-6, 1e-9, **kw)
    with pytest.raises(ValueError, match="power-of-two n_ranks"):
        ab.compare_algorithms("allreduce", ["rabenseifner"], [6], [1e3], 5e-6, 1e-9)


def test_fastest_table():
    wide = ab.fastest_table("allreduce", ["ring", "pipelined_tree"], [8, 256], [2**16, 2**28],
                            5e-6, 1 / 25e9, max_chunks=256)
    assert list(wide.columns) == ["ring", "pipelined_tree", "fastest"]
    # 256 ranks, 64 KiB: the ring's 510 latencies alone (2.55 ms) exceed the tree's whole time
    assert wide.loc[(256, 2**16), "fastest"] == "pipelined_tree"
    assert wide.loc[(256, 2**16), "ring"] > 510 * 5e-6
    # 8 ranks, 256 MiB: the tree moves at least 4 n beta (k chunks: 4(k-1)/k n beta + ...)
    assert wide.loc[(8, 2**28), "fastest"] == "ring"
    k = wide.attrs["chunks"].loc[(8, 2**28), "pipelined_tree"]
    assert wide.loc[(8, 2**28), "pipelined_tree"] == pytest.approx(ab.cost(
        "allreduce", "pipelined_tree", 8, 2**28, 5e-6, 1 / 25e9, chunks=int(k)))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 1000), st.integers(0, 500), st.integers(1, 40))
def test_bounds_split_like_numpy(start, length, parts):
    """Chunk boundaries against NumPy's array_split: parts + 1 boundaries from start to
    start + length, chunk sizes as array_split makes them (the first length % parts one larger)."""
    b = cs.bounds(start, length, parts)
    sizes = [len(c) for c in np.array_split(np.arange(length), parts)]
    assert len(b) == parts + 1
    assert b[0] == start and b[-1] == start + length
    assert list(np.diff(b)) == sizes


def test_equal_time_bytes_finds_the_root_below_one_byte():
    """Bisection must run until the bracket is relatively narrow (hi/lo -> 1), wherever on the
    size axis it lies: here the two times cross at 0.3 (a root known by hand, diff(n) = n - 0.3)
    inside a bracket [0.01, 0.9] entirely below one byte, and at 3 MB inside [1, 1e9]."""
    assert ab.equal_time_bytes(lambda n: n - 0.3, 0.01, 0.9) == pytest.approx(0.3, rel=1e-9)
    assert ab.equal_time_bytes(lambda n: n - 3e6, 1.0, 1e9) == pytest.approx(3e6, rel=1e-9)
    assert ab.equal_time_bytes(lambda n: n + 1.0, 1.0, 1e9) is None


def test_best_algorithm_calling_convention():
    """best_algorithm takes op .. gamma by position or by name, and in_network only by name
    (it is keyword-only, like usable_algorithms's): a sixth positional argument is refused."""
    a, b = 5e-6, 1 / 25e9
    sizes = [1e3, 1e8]
    by_position = ab.best_algorithm("allreduce", 16, sizes, a, b, 0.0)
    by_name = ab.best_algorithm(op="allreduce", n_ranks=16, msg_bytes=sizes, alpha_s=a,
                                beta_s_per_byte=b, gamma_s_per_byte=0.0, in_network=False)
    # by hand (16 ranks): 1 kB -> recursive doubling's 4 latencies; 100 MB -> Rabenseifner's
    # 2 (p-1)/p n beta with 8 latencies
    assert list(by_position) == list(by_name) == ["recursive_doubling", "rabenseifner"]
    with pytest.raises(TypeError):
        ab.best_algorithm("allreduce", 16, sizes, a, b, 0.0, True)


def test_best_algorithm_changes_default_sizes_stop_at_2_gib():
    """The docstring's default grid runs from 1 B to 2 GiB: a crossover placed (by hand) at
    8 GiB, 16 ranks, recursive doubling 4 (a + n b) = Rabenseifner 8 a + 1.875 n b at
    n = 4 a / (2.125 b), lies beyond it, so no change is reported; a grid reaching 16 GiB finds
    it, and one at 1 GiB is found on the default grid."""
    a = 5e-6
    b = 4 * a / (2.125 * 2**33)
    assert ab.best_algorithm_changes("allreduce", 16, a, b) == []
    far = ab.best_algorithm_changes("allreduce", 16, a, b, sizes=[2**30, 2**34])
    assert [(x, y) for _, x, y in far] == [("recursive_doubling", "rabenseifner")]
    assert far[0][0] == pytest.approx(2**33, rel=1e-9)
    b = 4 * a / (2.125 * 2**30)
    near = ab.best_algorithm_changes("allreduce", 16, a, b)
    assert [(x, y) for _, x, y in near] == [("recursive_doubling", "rabenseifner")]
    assert near[0][0] == pytest.approx(2**30, rel=1e-9)


def test_best_algorithm_changes_between_algorithms_with_different_parameters():
    """96 ranks, 8 per node, 64 chunks: the double binary tree (no parameters) gives way to the
    hierarchical all-reduce (ranks_per_node=8). Each side of the crossover must be costed with its
    own parameters; the size is checked against a brute-force scan of both closed forms."""
    a, b = 5e-6, 1 / 25e9
    changes = ab.best_algorithm_changes("allreduce", 96, a, b, ranks_per_node=8, chunks=64)
    assert [(x, y) for _, x, y in changes] == [("double_binary_tree", "hierarchical")]
    sizes = np.linspace(1e4, 1e7, 200_001)
    tree = np.array([ab.cost("allreduce", "double_binary_tree", 96, n, a, b) for n in sizes])
    hier = np.array([ab.cost("allreduce", "hierarchical", 96, n, a, b, ranks_per_node=8)
                     for n in sizes])
    first = sizes[np.argmax(hier < tree)]           # first scanned size where hierarchical wins
    assert first - (sizes[1] - sizes[0]) <= changes[0][0] <= first


def test_formula_table_header_rows_and_legend():
    """The table starts with its header (op, algorithm, time), then a rule, one row per
    registered algorithm (each exactly once, from the registry), a rule, and the symbols."""
    lines = ab.formula_table().splitlines()
    assert lines[0].split() == ["op", "algorithm", "time"]
    assert set(lines[1]) == {"-"} and lines[1] in lines[2:]
    end = lines.index(lines[1], 2)
    rows = [tuple(line.split()[:2]) for line in lines[2:end]]
    expected = [(op, name) for op, algs in cs.REGISTRY.items() for name in algs]
    assert sorted(rows) == sorted(expected) and len(rows) == len(set(rows))
    assert len(lines) - end - 1 == len(cs.SYMBOLS)


def test_along_ring_error_names_the_allowed_range():
    """8 GPUs: the order must be a permutation of 0..7 (the message names the range exactly)."""
    with pytest.raises(ValueError, match=r"order must be a permutation of 0\.\.7, got"):
        co.along_ring(tp.dgx1_v100(), [0, 0, 1, 2, 3, 4, 5, 6])


def test_mpi_reduce_delivers_to_rank_0():
    """The mpi4py call behind the reduce benchmark uses root 0 (records.py: "the mpi4py call
    (root 0)"): on a one-rank communicator (an MPI singleton, no launcher needed) rank 0 must
    receive the sum, i.e. its own buffer. MPI starts in a child process, so that this test
    process never initialises MPI (the MPI tests launch their own ranks)."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("needs mpi4py (and an MPI library)")
    code = ("import numpy as np\n"
            "from mpi4py import MPI\n"
            "from aichip import collective_specs as cs\n"
            "send, recv = np.arange(6.0), np.zeros(6)\n"
            "cs.mpi_reduce(MPI.COMM_SELF, send, recv)\n"
            "print(recv.tolist())\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


def test_default_sizes_are_three_per_octave_from_1_byte_to_2_gib():
    sizes = ab.DEFAULT_SIZES
    assert sizes[0] == 1.0 and sizes[-1] == pytest.approx(2.0**31, rel=1e-15)
    assert np.allclose(sizes[1:] / sizes[:-1], 2 ** (1 / 3), rtol=1e-13)
    assert len(sizes) == 94                       # 31 octaves, 3 steps each, both ends


def test_pipelined_trees_get_at_most_1024_chunks_by_default():
    # With no latency, every extra chunk shortens a pipelined tree's fill: the best chunk count
    # is the cap, 1024 by default in compare_algorithms and fastest_table.
    rows = ab.compare_algorithms("allreduce", ["pipelined_tree"], [64], [2**30], 0.0, 1 / 25e9)
    assert rows[0]["chunks"] == 1024
    wide = ab.fastest_table("allreduce", ["ring", "pipelined_tree"], [64], [2**30], 0.0,
                            1 / 25e9)
    assert wide.attrs["chunks"].loc[(64, 2**30), "pipelined_tree"] == 1024
    assert ab.best_chunks("allreduce", 64, 2**30, 0.0, 1 / 25e9, max_chunks=1025) == 1025


def test_step_times_charge_no_reduction_by_default():
    # gamma defaults to 0: a reduce-scatter's steps cost alpha plus their link time only, and a
    # gamma adds its per-byte reduction time to every step that reduces.
    sched = co.schedule("reduce_scatter", "ring", 8, 2**20)
    topo = tp.dgx_h100()
    free = co.step_times(sched, topo, 1e-6)
    assert np.array_equal(free, co.step_times(sched, topo, 1e-6, 4, 0.0))
    charged = co.step_times(sched, topo, 1e-6, 4, 1e-9)
    assert np.all(charged > free)
