"""A real data-parallel training run: an MLP trained by several MPI processes, gradients all-reduced
in buckets that overlap the backward pass, checked against one process on the combined batch.

Run it under any MPI launcher, on one machine or a cluster::

    mpiexec -n 2 python -m aichip.ddp --steps 20
    srun -N 2 --ntasks-per-node 1 python -m aichip.ddp --hidden 1024,1024 --batch 1024

**Model and data.** A multilayer perceptron ``n_inputs -> hidden... -> n_outputs`` with ReLU
between layers, float64, loss ``L = 1/(2B) sum_b sum_o (yhat - y)**2`` over the global batch of
``B`` rows. Every step draws a fresh global batch from a seeded generator (all ranks draw the same
one): ``x`` standard normal, ``y = tanh(x @ T)`` for a fixed random teacher ``T``. Plain SGD.

**Data parallelism.** Rank ``r`` of ``p`` takes its contiguous share of the global batch's rows
(``numpy.array_split``) and computes the gradient of *its rows' part of the global loss* (the
residual is divided by the global ``B``, not by its share), so the sum over ranks is exactly the
gradient of the global loss, whatever the shares.

**Buckets and overlap.** The gradients live in one flat buffer, in the order the backward pass
produces them (last layer first, as PyTorch's DistributedDataParallel orders its buckets). The
buffer is cut into buckets of whole parameters, each at most ``--bucket-bytes`` unless one
parameter alone is larger (:func:`bucket_partition`). As soon as the backward pass has written every
gradient of a bucket, the bucket's all-reduce starts with a non-blocking ``Iallreduce``; the
backward pass goes on with the earlier layers while it runs. MPICH progresses a non-blocking
collective only inside MPI calls, so after every layer the backward pass calls ``Testall`` on the
outstanding requests, and ``--polls-per-layer`` - 1 times more during the product that carries
the gradient to the layer below (test-polling, :data:`PROGRESS` ``"poll"``). A bucket's
all-reduce starts as soon as its layer's gradients are written, before that product.
``run(progress="thread")`` starts the ranks with ``MPIR_CVAR_ASYNC_PROGRESS=1`` instead: MPICH
then runs a progress thread in each rank that moves the collectives forward while the rank
computes, at the price of a thread that polls, which needs a core of its own. Before the SGD
update every request is waited for.

**Timing.** For each step: the step time and the compute time (forward and backward) of the slowest
rank; the *exposed* communication, the time the last rank to finish its backward pass then waits for
the all-reduces (the other ranks wait longer, for that rank: load imbalance, reported apart); and,
after training, the time of the same bucketed all-reduces with nothing else running, started all at
once as non-blocking calls (the *whole* communication; one blocking call per bucket, one after
another, is reported too). Hidden = whole - exposed. Medians over the steps after the first.

**Check.** Rank 0 then trains the same model from the same seed on the combined batch in one
process (and times it: the 1-rank step time of the scaling efficiency ``t1 / (p * tp)``), and
compares every rank's final weights with it. They cannot be bit-equal: the distributed gradient
adds ``p`` partial sums, the single process one sum over all rows, and floating-point addition is
not associative; each gradient element's rounding differs by about ``B * eps`` of the sum of the
magnitudes of its terms (``eps = 2.2e-16``), and SGD carries such differences forward without
amplifying them much over a few dozen small steps. The check allows ``TOLERANCE`` times the
largest weight magnitude, many orders of magnitude above that rounding and many below the effect of
a wrong reduction (a missing or doubled share of one gradient moves weights by ``lr * |g|``, about
``1e-3`` here). Exit status 1 if any rank's weights are further from the reference.

``--inject-error`` (for the tests only) reduces the first bucket with MAX instead of SUM, a
deliberately wrong reduction that the check must catch.

The launcher, the thread policy (each rank limits BLAS and numba to its share of its node's cores,
:func:`aichip.mpiharness.rank_threads`; the 1-rank reference on rank 0 runs with the same share),
the header, the ``#wrong`` footer (ranks whose weights differ), ``--json`` and the exit status are
:mod:`aichip.mpiharness`'s. :func:`run` launches it from Python through
:func:`aichip.mpiharness.launch` and returns its JSON.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from numba import njit

from . import cli
from .mpiharness import (
    ITEM,
    Column,
    add_output_arguments,
    check_launch,
    finish,
    flags,
    header,
    header_line,
    launch,
    run_main,
    table,
    usage_error,
)
from .validation import check_choice, check_float, check_int

__all__ = ["TOLERANCE", "ITEM", "COLUMNS", "layer_sizes", "init_params", "teacher", "global_batch",
           "forward", "loss", "param_order", "bucket_partition", "FlatGrads", "backward", "sgd",
           "flat_weights", "train_single", "shard", "train_distributed", "allreduce_alone_s",
           "timing_summary", "parse_args", "main", "format_report", "PROGRESS", "run"]

#: how a run makes MPICH progress the bucket all-reduces during the backward pass: the extra
#: environment of its ranks (the header's ``mpich_cvars`` records it)
PROGRESS = {"poll": {}, "thread": {"MPIR_CVAR_ASYNC_PROGRESS": "1"}}

#: allowed ``max |w_dist - w_ref| / max |w_ref|`` (see the module docstring)
TOLERANCE = 1e-9


# ----------------------------------------------------------------------------------------------
# the model


def layer_sizes(n_inputs: int, hidden, n_outputs: int) -> list[int]:
    """``[n_inputs, *hidden, n_outputs]`` after checking every width is a positive integer."""
    n_inputs = check_int("n_inputs", n_inputs, minimum=1)
    n_outputs = check_int("n_outputs", n_outputs, minimum=1)
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise TypeError(f"hidden must be a sequence of layer widths, got {type(hidden).__name__}")
    hidden = [check_int("hidden", h, minimum=1) for h in hidden]
    if not hidden:
        raise ValueError("hidden must name at least one hidden layer width")
    return [n_inputs, *hidden, n_outputs]


def init_params(sizes, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(W, b)`` per layer, ``W`` of shape ``(fan_in, fan_out)`` normal with variance
    ``2 / fan_in`` before a ReLU (He) and ``1 / fan_in`` for the last layer, ``b`` zeros."""
    seed = check_int("seed", seed, minimum=0)
    rng = np.random.default_rng([seed, 1])
    n = len(sizes) - 1
    return [(rng.standard_normal((a, b)) * np.sqrt((2.0 if i < n - 1 else 1.0) / a), np.zeros(b))
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]


def teacher(n_inputs: int, n_outputs: int, seed: int = 0) -> np.ndarray:
    """The fixed random map the synthetic targets come from, ``(n_inputs, n_outputs)``."""
    return np.random.default_rng([seed, 2]).standard_normal((n_inputs, n_outputs)) / np.sqrt(
        n_inputs)


def global_batch(step: int, batch: int, teacher_w: np.ndarray, seed: int = 0):
    """Step ``step``'s global batch ``(x, y)``: ``x`` of shape ``(batch, n_inputs)`` standard
    normal, ``y = tanh(x @ teacher_w)``; the same on every rank."""
    rng = np.random.default_rng([seed, 3, step])
    x = rng.standard_normal((batch, teacher_w.shape[0]))
    return x, np.tanh(x @ teacher_w)


@njit(cache=True)
def _bias_relu(z, b):
    """In place: ``z = max(z + b, 0)`` (one pass instead of NumPy's two temporaries)."""
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            v = z[i, j] + b[j]
            z[i, j] = v if v > 0.0 else 0.0


@njit(cache=True)
def _relu_backward(da, a):
    """In place: ``da = da * (a > 0)``, the ReLU's derivative read off its output."""
    for i in range(da.shape[0]):
        for j in range(da.shape[1]):
            if a[i, j] <= 0.0:
                da[i, j] = 0.0


def forward(params, x: np.ndarray) -> list[np.ndarray]:
    """Activations ``[x, a_1, ..., yhat]``: ReLU after every layer but the last."""
    acts = [x]
    for i, (w, b) in enumerate(params):
        z = acts[-1] @ w
        if i < len(params) - 1:
            _bias_relu(z, b)
        else:
            z += b
        acts.append(z)
    return acts


def loss(params, x: np.ndarray, y: np.ndarray, total_rows: int | None = None) -> float:
    """``1/(2B) sum (yhat - y)**2`` with ``B = total_rows`` (default: the rows given)."""
    b = x.shape[0] if total_rows is None else total_rows
    r = forward(params, x)[-1] - y
    return float(0.5 * np.sum(r * r) / b)


def param_order(n_layers: int) -> list[tuple[int, int]]:
    """The order the backward pass produces gradients in: ``(layer, 0 for W / 1 for b)``, last
    layer first."""
    return [(layer, k) for layer in range(n_layers - 1, -1, -1) for k in (0, 1)]


def bucket_partition(param_bytes, bucket_bytes: int) -> list[tuple[int, int]]:
    """Cut parameters (in backward order, sizes ``param_bytes``) into buckets ``[start, stop)`` of
    whole parameters: a bucket takes parameters while its total stays within ``bucket_bytes``; a
    parameter larger than ``bucket_bytes`` is a bucket alone. Every parameter is in exactly one
    bucket, in order."""
    bucket_bytes = check_int("bucket_bytes", bucket_bytes, minimum=1)
    sizes = [check_int("param_bytes", s, minimum=0) for s in param_bytes]
    if not sizes:
        raise ValueError("param_bytes must name at least one parameter")
    buckets, start, total = [], 0, 0
    for i, s in enumerate(sizes):
        if i > start and total + s > bucket_bytes:
            buckets.append((start, i))
            start, total = i, 0
        total += s
    buckets.append((start, len(sizes)))
    return buckets


class FlatGrads:
    """The gradients of every parameter as views of one flat float64 buffer in backward order, and
    its buckets (``bounds[k] = (first element, end element)`` of bucket ``k``)."""

    def __init__(self, params, bucket_bytes: int):
        self.order = param_order(len(params))
        shapes = [params[layer][k].shape for layer, k in self.order]
        counts = [int(np.prod(s)) for s in shapes]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        self.flat = np.zeros(int(offsets[-1]))
        self.views = {}
        for (layer, k), shape, lo, hi in zip(self.order, shapes, offsets[:-1], offsets[1:],
                                             strict=True):
            self.views[layer, k] = self.flat[lo:hi].reshape(shape)
        self.buckets = bucket_partition([c * ITEM for c in counts], bucket_bytes)
        self.bounds = [(int(offsets[a]), int(offsets[b])) for a, b in self.buckets]
        # the backward pass finishes layer L-1-j after writing parameters 0 .. 2j+1
        self.ready_after_layer = {}
        for k, (_, stop) in enumerate(self.buckets):
            layer_done = len(params) - 1 - (stop - 1) // 2
            self.ready_after_layer.setdefault(layer_done, []).append(k)

    def grads(self):
        """``[(dW, db)]`` per layer, views of the flat buffer."""
        n = len(self.order) // 2
        return [(self.views[i, 0], self.views[i, 1]) for i in range(n)]


def backward(params, acts, y: np.ndarray, total_rows: int, grads, layer_done=None, poll=None,
             chunks: int = 1) -> None:
    """Write the gradient of ``1/(2 total_rows) sum (yhat - y)**2`` (these rows' part of the global
    loss) into ``grads`` (``[(dW, db)]``, arrays written in place), last layer first, calling
    ``layer_done(layer)`` as soon as each layer's gradients are written (before the product that
    carries the gradient to the layer below), and ``poll()`` between the ``chunks`` row blocks of
    that product (so a caller can make MPI progress during it)."""
    d = (acts[-1] - y) / total_rows
    for i in range(len(params) - 1, -1, -1):
        dw, db = grads[i]
        np.matmul(acts[i].T, d, out=dw)
        np.sum(d, axis=0, out=db)
        if layer_done is not None:
            layer_done(i)
        if i > 0:
            d = _input_gradient(d, params[i][0], poll, chunks)
            _relu_backward(d, acts[i])


def _input_gradient(d, w, poll, chunks: int):
    """``d @ w.T`` in ``chunks`` blocks of rows, calling ``poll()`` between blocks."""
    out = np.empty((d.shape[0], w.shape[0]))
    edges = np.linspace(0, d.shape[0], max(1, min(chunks, d.shape[0])) + 1).astype(int)
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        if k and poll is not None:
            poll()
        np.matmul(d[lo:hi], w.T, out=out[lo:hi])
    return out


def sgd(params, grads, lr: float) -> None:
    for (w, b), (dw, db) in zip(params, grads, strict=True):
        w -= lr * dw
        b -= lr * db


def flat_weights(params) -> np.ndarray:
    return np.concatenate([a.ravel() for wb in params for a in wb])


def train_single(sizes, batch: int, steps: int, lr: float, seed: int = 0):
    """The reference: one process, the combined global batch. Returns ``(params, step times)``."""
    params = init_params(sizes, seed)
    t_w = teacher(sizes[0], sizes[-1], seed)
    grads = [(np.empty_like(w), np.empty_like(b)) for w, b in params]
    times = []
    for step in range(steps):
        x, y = global_batch(step, batch, t_w, seed)
        t0 = time.perf_counter()
        acts = forward(params, x)
        backward(params, acts, y, batch, grads)
        sgd(params, grads, lr)
        times.append(time.perf_counter() - t0)
    return params, times


# ----------------------------------------------------------------------------------------------
# the distributed run


def shard(batch: int, n_ranks: int, rank: int) -> slice:
    """Rank ``rank``'s contiguous rows of a global batch (``numpy.array_split``'s shares)."""
    base, extra = divmod(batch, n_ranks)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def train_distributed(comm, sizes, batch: int, steps: int, lr: float, bucket_bytes: int,
                      seed: int = 0, corrupt: bool = False, polls_per_layer: int = 1):
    """Data-parallel training on ``comm`` (see the module docstring); the backward pass calls
    ``Testall`` after each layer's gradients and ``polls_per_layer - 1`` more times during the
    product that follows (:func:`backward`). Returns ``(params, rows)``:
    per step ``step_s``, ``compute_s`` (forward + backward, all-reduces started inside) and
    ``wait_s`` (the exposed communication after the backward pass), this rank's."""
    from mpi4py import MPI

    params = init_params(sizes, seed)
    t_w = teacher(sizes[0], sizes[-1], seed)
    fg = FlatGrads(params, bucket_bytes)
    grads = fg.grads()
    rows = shard(batch, comm.size, comm.rank)
    out = []
    for step in range(steps):
        x, y = global_batch(step, batch, t_w, seed)
        x, y = x[rows], y[rows]
        # magictoken: ddp-overlap-begin
        reqs = []

        def poll(reqs=reqs):
            if reqs:
                MPI.Request.Testall(reqs)      # MPICH progresses the collectives in MPI calls

        def layer_done(layer, reqs=reqs):
            for k in fg.ready_after_layer.get(layer, ()):
                lo, hi = fg.bounds[k]
                op = MPI.MAX if corrupt and k == 0 else MPI.SUM
                reqs.append(comm.Iallreduce(MPI.IN_PLACE, fg.flat[lo:hi], op=op))
            poll()

        comm.Barrier()
        t0 = time.perf_counter()
        acts = forward(params, x)
        backward(params, acts, y, batch, grads, layer_done, poll, polls_per_layer)
        t1 = time.perf_counter()
        MPI.Request.Waitall(reqs)
        t2 = time.perf_counter()
        sgd(params, grads, lr)
        # magictoken: ddp-overlap-end
        t3 = time.perf_counter()
        out.append((t3 - t0, t1 - t0, t2 - t1))
    return params, np.array(out)


def allreduce_alone_s(comm, fg: FlatGrads, iters: int, blocking: bool) -> list[float]:
    """Times of one step's bucketed all-reduces with nothing else running: every bucket's
    ``Iallreduce`` started at once and waited for (``blocking=False``, the communication the
    overlapped step has to hide), or one blocking ``Allreduce`` per bucket after another."""
    from mpi4py import MPI

    buf = np.ones_like(fg.flat)
    times = []
    for _ in range(iters + 1):
        comm.Barrier()
        t0 = time.perf_counter()
        if blocking:
            for lo, hi in fg.bounds:
                comm.Allreduce(MPI.IN_PLACE, buf[lo:hi], op=MPI.SUM)
        else:
            MPI.Request.Waitall([comm.Iallreduce(MPI.IN_PLACE, buf[lo:hi], op=MPI.SUM)
                                 for lo, hi in fg.bounds])
        times.append(time.perf_counter() - t0)
    return times[1:]


def _idle_wait(comm):
    """Wait for rank 0 without spinning a core (MPICH's barrier polls): the reference run on rank 0
    must not compete with busy-waiting ranks for the CPUs."""
    req = comm.Ibarrier()
    while not req.Test():
        time.sleep(0.002)


def parse_args(argv=None):
    """The command line of ``python -m aichip.ddp``; a bad argument is a usage error."""
    p = cli.parser("python -m aichip.ddp", __doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=cli.int_list(1), default=[512, 512, 512],
                   help="hidden layer widths, comma-separated (default 512,512,512)")
    p.add_argument("--inputs", type=cli.int_at_least(1), default=64)
    p.add_argument("--outputs", type=cli.int_at_least(1), default=16)
    p.add_argument("--batch", type=cli.int_at_least(1), default=512,
                   help="global batch (rows over all ranks)")
    p.add_argument("--steps", type=cli.int_at_least(1), default=20)
    p.add_argument("--bucket-bytes", type=cli.size_bytes, default="1M",
                   help="bucket size: " + cli.SIZE_FORM)
    p.add_argument("--lr", type=cli.positive_float, default=0.02, help="SGD learning rate")
    p.add_argument("--seed", type=cli.int_at_least(0), default=0)
    p.add_argument("--polls-per-layer", type=cli.int_at_least(1), default=4,
                   help="Testall calls per layer of the backward pass (default 4)")
    p.add_argument("--comm-iters", type=cli.int_at_least(1), default=10,
                   help="repetitions of the blocking all-reduce timing")
    add_output_arguments(p, "reduce the first bucket with MAX instead of SUM")
    return cli.parse(p, argv)


def main(argv=None) -> int:
    """Entry point of ``python -m aichip.ddp`` (every rank runs it)."""
    return run_main(_run, parse_args(argv))


def _run(comm, args, share) -> int:
    """Train, time and check (inside the harness's per-rank thread limits)."""
    p = comm.size
    if args.batch < p:
        return usage_error(comm, f"argument --batch: {args.batch} rows cannot be shared by {p} "
                                 f"ranks; write at least {p}")
    sizes = [args.inputs, *args.hidden, args.outputs]
    _bias_relu(np.zeros((1, 1)), np.zeros(1))            # compile (or load from cache) first
    _relu_backward(np.zeros((1, 1)), np.zeros((1, 1)))
    params, rows = train_distributed(comm, sizes, args.batch, args.steps, args.lr,
                                     args.bucket_bytes, args.seed, args.inject_error,
                                     args.polls_per_layer)
    fg = FlatGrads(params, args.bucket_bytes)
    timings = _slowest(comm, rows, allreduce_alone_s(comm, fg, args.comm_iters, blocking=False),
                       allreduce_alone_s(comm, fg, args.comm_iters, blocking=True))
    info = header(comm, share)
    everyone = comm.gather(flat_weights(params), root=0)
    if comm.rank != 0:
        _idle_wait(comm)
        return finish(comm, None, None, 0)
    ref, t_single = train_single(sizes, args.batch, args.steps, args.lr, args.seed)
    _idle_wait(comm)
    ref_flat = flat_weights(ref)
    scale = float(np.max(np.abs(ref_flat)))
    diffs = [float(np.max(np.abs(w - ref_flat))) / scale for w in everyone]
    wrong = sum(d > TOLERANCE for d in diffs)
    t_w = teacher(sizes[0], sizes[-1], args.seed)
    result = {
        **info, "machine": str(_describe()),
        "sizes": sizes, "n_params": int(ref_flat.size), "batch": args.batch,
        "steps": args.steps, "lr": args.lr, "bucket_bytes": args.bucket_bytes,
        "n_buckets": len(fg.buckets), "gradient_bytes": int(fg.flat.nbytes),
        **timing_summary(*timings, t_single, p),
        "max_rel_diff": max(diffs), "rel_diff_per_rank": diffs, "tolerance": TOLERANCE,
        "loss_first": loss(init_params(sizes, args.seed), *global_batch(0, args.batch, t_w,
                                                                         args.seed)),
        "loss_last": loss(ref, *global_batch(args.steps - 1, args.batch, t_w, args.seed)),
        "injected_error": bool(args.inject_error), "ok": not wrong,
        "polls_per_layer": args.polls_per_layer,
        "progress": "thread" if info["mpich_cvars"].get("MPIR_CVAR_ASYNC_PROGRESS") == "1"
                    else "poll",
    }
    print(format_report(result))
    return finish(comm, result, args.json, wrong, good="every rank's weights equal the 1-rank run",
                  bad="WEIGHTS DIFFER FROM THE 1-RANK RUN")


def _describe():
    from .machine import describe

    return describe()


def _slowest(comm, rows, comm_times, blocking_times):
    """Each step's slowest rank (``rows``: step, compute, wait seconds per step), each step's
    smallest wait, and the slowest rank's time of each all-reduce repetition (alone, blocking)."""
    from mpi4py import MPI

    def reduce(values, op):
        values = np.ascontiguousarray(values, dtype=float)
        out = np.empty_like(values)
        comm.Allreduce(values, out, op=op)
        return out

    # the rank that finishes its backward pass last waits only for communication still under way;
    # the others wait for it too (load imbalance), which is not communication
    return (reduce(rows, MPI.MAX), reduce(rows[:, 2], MPI.MIN), reduce(comm_times, MPI.MAX),
            reduce(blocking_times, MPI.MAX))


def timing_summary(rows_max, wait_min, comm_max, blocking_max, single_times, n_ranks: int) -> dict:
    """The timing figures of a run, medians over the steps after the first (which warms the caches).

    Parameters
    ----------
    rows_max : array, shape (steps, 3)
        Per step, the slowest rank's step, compute (forward + backward) and wait times (s).
    wait_min : array, shape (steps,)
        Per step, the smallest wait of any rank (s): the exposed communication.
    comm_max, blocking_max : array, shape (iters,)
        The bucketed all-reduces alone, started at once and one after another (s).
    single_times : sequence of float
        The 1-rank reference's step times (s).
    n_ranks : int

    Returns
    -------
    dict with ``step_s``, ``step_best_s``, ``compute_s``, ``comm_s``, ``comm_blocking_s``,
    ``exposed_comm_s``, ``hidden_comm_s = max(0, comm_s - exposed_comm_s)``, ``imbalance_s``
    (median largest wait - exposed), ``hidden_fraction = hidden / comm``, ``single_step_s``,
    ``speedup = single / step`` and ``efficiency = speedup / n_ranks`` (all times in seconds).
    """
    n_ranks = check_int("n_ranks", n_ranks, minimum=1)
    rows_max, wait_min = np.asarray(rows_max, dtype=float), np.asarray(wait_min, dtype=float)
    first = 1 if len(rows_max) > 1 else 0
    timed, wait_min = rows_max[first:], wait_min[first:]
    step_s = float(np.median(timed[:, 0]))
    comm_s = float(np.median(comm_max))
    exposed_s = float(np.median(wait_min))
    single_s = float(statistics.median(single_times[1:] if len(single_times) > 1
                                       else single_times))
    hidden_s = max(0.0, comm_s - exposed_s)
    return {"step_s": step_s, "step_best_s": float(np.min(timed[:, 0])),
            "compute_s": float(np.median(timed[:, 1])), "comm_s": comm_s,
            "comm_blocking_s": float(np.median(blocking_max)),
            "exposed_comm_s": exposed_s, "hidden_comm_s": hidden_s,
            "imbalance_s": float(np.median(timed[:, 2]) - exposed_s),
            "hidden_fraction": hidden_s / comm_s if comm_s > 0 else 0.0,
            "single_step_s": single_s, "speedup": single_s / step_s,
            "efficiency": single_s / (n_ranks * step_s)}


#: the report's one-row table
COLUMNS = (Column("step (ms)", 10, lambda r: r["step_s"] * 1e3, ".2f"),
           Column("compute (ms)", 13, lambda r: r["compute_s"] * 1e3, ".2f"),
           Column("comm (ms)", 10, lambda r: r["comm_s"] * 1e3, ".2f"),
           Column("exposed (ms)", 13, lambda r: r["exposed_comm_s"] * 1e3, ".2f"),
           Column("hidden", 7, "hidden_fraction", ".0%"),
           Column("1 rank (ms)", 12, lambda r: r["single_step_s"] * 1e3, ".2f"),
           Column("speedup", 8, "speedup", ".2f"), Column("efficiency", 11, "efficiency", ".0%"))


def format_report(r: dict) -> str:
    """The printed summary of a run's JSON."""
    return "\n".join([
        header_line(r),
        f"# data-parallel MLP {'-'.join(map(str, r['sizes']))} ({r['n_params']} parameters, "
        f"float64), global batch {r['batch']}, {r['steps']} steps, {r['n_ranks']} ranks, "
        f"{r['n_buckets']} buckets of <= {r['bucket_bytes']} B, "
        f"{r['threads_per_rank']} thread(s) per rank (the 1-rank baseline too)",
        f"# machine: {r['machine'].splitlines()[0]}",
        table([r], COLUMNS),
        f"# loss {r['loss_first']:.4f} -> {r['loss_last']:.4f}; weights vs one process on the "
        f"combined batch: max relative difference {r['max_rel_diff']:.1e} "
        f"(tolerance {r['tolerance']:.0e}): " + ("SAME" if r["ok"] else "DIFFERENT"),
    ])


def run(n_ranks: int = 2, hidden=(512, 512, 512), inputs: int = 64, outputs: int = 16,
        batch: int = 512, steps: int = 20, bucket_bytes: int = 2**20, lr: float = 0.02,
        seed: int = 0, inject_error: bool = False, timeout_s: float = 300.0,
        progress: str = "poll") -> dict:
    """Launch ``python -m aichip.ddp`` with ``n_ranks`` MPI processes; return its JSON plus
    ``stdout`` (the printed report) and ``returncode`` (1 when the weights differ).

    ``progress`` (a key of :data:`PROGRESS`): ``"poll"``, the ranks call ``Testall`` between
    layers; ``"thread"``, MPICH's asynchronous progress thread in every rank as well."""
    n_ranks, timeout_s = check_launch(n_ranks, timeout_s)
    check_choice("progress", progress, PROGRESS)
    sizes = layer_sizes(inputs, hidden, outputs)
    args = flags(hidden=sizes[1:-1], inputs=sizes[0], outputs=sizes[-1],
                 batch=check_int("batch", batch, minimum=n_ranks),
                 steps=check_int("steps", steps, minimum=1),
                 bucket_bytes=check_int("bucket_bytes", bucket_bytes, minimum=1),
                 lr=check_float("lr", lr, minimum=0, strict_minimum=True),
                 seed=check_int("seed", seed, minimum=0), inject_error=inject_error)
    return launch("aichip.ddp", n_ranks, args, env=PROGRESS[progress], timeout_s=timeout_s)

if __name__ == "__main__":
    sys.exit(main())
