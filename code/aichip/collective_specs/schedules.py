"""Schedule builders: for each (operation, algorithm), the messages of every step.

A builder takes ``(p, count, root, **params)`` and returns a list of steps; a step is a list of
messages ``(src, dst, src_off, dst_off, length, reduce)`` in elements of the ranks' working
buffers (:class:`~aichip.collective_specs.records.OpSpec` gives their layout). The building
blocks (a ring pass, recursive halving and doubling, binomial and binary trees, running phases
side by side, pipelining chunks) come first, then one named builder per record.
"""

from __future__ import annotations

from ..validation import check_int

__all__ = ["binary_tree", "binomial", "bounds", "build_allgather_recursive_doubling",
           "build_allgather_ring", "build_allreduce_binary_tree",
           "build_allreduce_double_binary_tree", "build_allreduce_hierarchical",
           "build_allreduce_pipelined_double_binary_tree", "build_allreduce_pipelined_tree",
           "build_allreduce_rabenseifner", "build_allreduce_recursive_doubling",
           "build_allreduce_ring", "build_alltoall_pairwise", "build_binary_tree",
           "build_binomial", "build_broadcast_binary_tree", "build_broadcast_binomial_tree",
           "build_broadcast_pipelined_tree", "build_pipelined_tree",
           "build_reduce_binary_tree", "build_reduce_binomial_tree",
           "build_reduce_pipelined_tree", "build_reduce_rabenseifner",
           "build_reduce_scatter_recursive_halving", "build_reduce_scatter_ring",
           "build_allreduce_ib_sharp", "build_allreduce_nvls", "doubling_allgather",
           "halving_reduce_scatter", "merge", "mirrored", "pipeline",
           "pipelined_trees", "ring", "rooted_at", "switch_allreduce", "tree_pipeline_period",
           "two_trees"]

# ----------------------------------------------------------------------------------------------
# building blocks


def bounds(start: int, length: int, parts: int) -> list[int]:
    """Split ``[start, start+length)`` into ``parts`` nearly equal chunks; return the boundaries."""
    base, extra = divmod(length, parts)
    return [start + i * base + min(i, extra) for i in range(parts + 1)]


def ring(group, start, length, reduce):
    """One pass around the ring ``group`` over ``[start, start+length)`` in ``len(group)`` chunks.

    ``reduce=1``: reduce-scatter; member q sends chunk q-s-1 at step s and ends with chunk q
    summed. ``reduce=0``: all-gather; member q starts with chunk q and sends chunk q-s at step s.
    """
    k = len(group)
    b = bounds(start, length, k)
    steps = []
    for s in range(k - 1):
        msgs = []
        for q in range(k):
            c = (q - s - reduce) % k
            msgs.append((group[q], group[(q + 1) % k], b[c], b[c], b[c + 1] - b[c], reduce))
        steps.append(msgs)
    return steps


def halving_reduce_scatter(p, count):
    """Recursive halving: after log2 p steps rank r holds chunk r reduced (p a power of two)."""
    b = bounds(0, count, p)
    steps = []
    d = p // 2
    while d >= 1:
        msgs = []
        for r in range(p):
            lo = (r // (2 * d)) * 2 * d            # first chunk of the range both still share
            send_lo = lo + d if r & d == 0 else lo  # send the half that holds the partner's chunks
            msgs.append((r, r ^ d, b[send_lo], b[send_lo], b[send_lo + d] - b[send_lo], 1))
        steps.append(msgs)
        d //= 2
    return steps


def doubling_allgather(p, count):
    """Recursive doubling all-gather of chunks: rank r starts with chunk r (p a power of two)."""
    b = bounds(0, count, p)
    steps = []
    d = 1
    while d < p:
        steps.append([(r, r ^ d, b[(r // d) * d], b[(r // d) * d],
                       b[(r // d) * d + d] - b[(r // d) * d], 0) for r in range(p)])
        d *= 2
    return steps


def binomial(p, count, root, reduce):
    """Binomial tree rooted at ``root``: broadcast (reduce=0) or reduce (reduce=1)."""
    steps = []
    d = 1
    while d < p:
        steps.append([((v + root) % p, (v + d + root) % p, 0, 0, count, 0)
                      for v in range(d) if v + d < p])
        d *= 2
    if reduce:                                    # the same tree, run backwards, adding
        steps = [[(b, a, 0, 0, n, 1) for a, b, _, _, n, _ in msgs] for msgs in steps[::-1]]
    return steps


def rooted_at(p, root):
    """Tree node i played by rank ``(i + root) mod p``: a tree rooted at ``root``."""
    def rank_of(i):
        return (i + root) % p
    return rank_of


def mirrored(p):
    """Tree node i played by rank ``p - 1 - i``: the mirror image of :func:`rooted_at` (p, 0)."""
    def rank_of(i):
        return p - 1 - i
    return rank_of


def binary_tree(p, rank_of, start, length, reduce):
    """Heap-ordered binary tree (node i has children 2i+1, 2i+2), node i played by rank_of(i).

    Broadcast: level by level, each parent sends to its left child, then to its right child.
    Reduce: the same rounds backwards, children adding into their parent."""
    rounds = []
    for level in range(1, p.bit_length()):
        first, last = 2 ** level - 1, min(2 ** (level + 1) - 2, p - 1)
        for side in (1, 2):                      # left children are odd, right children even
            kids = [i for i in range(first, last + 1) if (i - side) % 2 == 0]
            if kids:
                rounds.append([(rank_of((i - 1) // 2), rank_of(i), start, start, length, 0)
                               for i in kids])
    if reduce:
        rounds = [[(b, a, so, do, n, 1) for a, b, so, do, n, _ in msgs] for msgs in rounds[::-1]]
    return rounds


def merge(*phases):
    """Run several step lists side by side (step k of each in the same step)."""
    n = max((len(ph) for ph in phases), default=0)
    return [[m for ph in phases if k < len(ph) for m in ph[k]] for k in range(n)]


def tree_pipeline_period(n_ranks: int) -> int:
    """Steps between successive chunks entering a pipelined binary tree.

    An inner node receives from (or sends to) its two children in two consecutive rounds, so a new
    chunk can enter every 2 steps without any rank sending or receiving two messages in one step;
    with 2 ranks the tree is a single edge and a chunk can enter every step."""
    return 1 if check_int("n_ranks", n_ranks, minimum=1) <= 2 else 2


def pipeline(one_chunk, n_chunks: int, period: int, start: int, length: int):
    """Chunked pipeline: ``one_chunk(start, length)`` is the step list for one region; chunk j of
    ``[start, start+length)`` runs its round r at step ``r + period * j``."""
    b = bounds(start, length, n_chunks)
    per = [one_chunk(b[j], b[j + 1] - b[j]) for j in range(n_chunks)]
    n_steps = max((len(ph) + period * j for j, ph in enumerate(per)), default=0)
    steps = [[] for _ in range(n_steps)]
    for j, ph in enumerate(per):
        for r, msgs in enumerate(ph):
            steps[r + period * j].extend(msgs)
    return steps


def two_trees(p, start, length, reduce):
    """Both trees of the double binary tree, each on its half of ``[start, start+length)``.

    Tree B plays node i on rank p-1-i (the mirror image, Sanders, Speck and Traeff 2009): A's
    leaves are B's inner nodes, and for even p no rank sends or receives in both trees in the
    same round."""
    half = length // 2
    return merge(binary_tree(p, rooted_at(p, 0), start, half, reduce),
                 binary_tree(p, mirrored(p), start + half, length - half, reduce))


def pipelined_trees(p, count, chunks, phases, trees):
    """Each of ``trees`` (rank mappings, e.g. ``[rooted_at(p, root)]``) carries its share of
    ``[0, count)`` cut into ``chunks`` pieces that follow each other through it, a new piece every
    :func:`tree_pipeline_period` steps, once per phase (``reduce`` True: up the tree, adding;
    False: down). The trees run side by side."""
    period = tree_pipeline_period(p)
    cuts = [count * i // len(trees) for i in range(len(trees) + 1)]
    steps = []
    for reduce in phases:
        per_tree = []
        for rank_of, lo, hi in zip(trees, cuts[:-1], cuts[1:], strict=True):
            def one_chunk(s, n, rank_of=rank_of, reduce=reduce):
                return binary_tree(p, rank_of, s, n, reduce)
            per_tree.append(pipeline(one_chunk, chunks, period, lo, hi - lo))
        steps += merge(*per_tree)
    return steps


def switch_allreduce(group, switch, start, length, chunks):
    """All-reduce of ``[start, start+length)`` over the ranks ``group`` through a reducing switch.

    ``switch`` is the switch's participant number (one past the last rank): a message to it is
    added into its buffer (which starts at zero), a message from it is a copy out of that buffer,
    sent to every member at once (multicast). The region is cut into ``chunks`` pieces: at step j
    every member sends piece j up to the switch while the switch sends the sum of piece j-1 down
    to every member, so each member sends the region once and receives it once, in
    ``chunks + 1`` steps."""
    b = bounds(start, length, chunks)
    steps = [[] for _ in range(chunks + 1)]
    for j in range(chunks):
        n = b[j + 1] - b[j]
        steps[j] += [(r, switch, b[j], b[j], n, 1) for r in group]
        steps[j + 1] += [(switch, r, b[j], b[j], n, 0) for r in group]
    return steps


# ----------------------------------------------------------------------------------------------
# builders: (p, count, root, **params) -> steps, one per (operation, algorithm)


def build_broadcast_binomial_tree(p, count, root):
    return binomial(p, count, root, reduce=0)


def build_reduce_binomial_tree(p, count, root):
    return binomial(p, count, root, reduce=1)


def build_broadcast_binary_tree(p, count, root):
    return binary_tree(p, rooted_at(p, root), 0, count, reduce=0)


def build_reduce_binary_tree(p, count, root):
    return binary_tree(p, rooted_at(p, root), 0, count, reduce=1)


def build_broadcast_pipelined_tree(p, count, root, chunks):
    return pipelined_trees(p, count, chunks, (False,), [rooted_at(p, root)])


def build_reduce_pipelined_tree(p, count, root, chunks):
    return pipelined_trees(p, count, chunks, (True,), [rooted_at(p, root)])


def build_allreduce_pipelined_tree(p, count, root, chunks):
    """Reduce up the tree, then broadcast down it, both pipelined."""
    return pipelined_trees(p, count, chunks, (True, False), [rooted_at(p, root)])


def build_reduce_rabenseifner(p, count, root):
    """Recursive halving reduce-scatter, then a binomial gather of the chunks to rank 0."""
    b = bounds(0, count, p)
    gather, d = [], 1
    while d < p:
        gather.append([(r, r - d, b[r], b[r], b[r + d] - b[r], 0) for r in range(d, p, 2 * d)])
        d *= 2
    return halving_reduce_scatter(p, count) + gather


def build_allgather_ring(p, count, root):
    return ring(list(range(p)), 0, p * count, 0)


def build_allgather_recursive_doubling(p, count, root):
    return doubling_allgather(p, p * count)


def build_reduce_scatter_ring(p, count, root):
    return ring(list(range(p)), 0, count, 1)


def build_reduce_scatter_recursive_halving(p, count, root):
    return halving_reduce_scatter(p, count)


def build_allreduce_ring(p, count, root):
    return ring(list(range(p)), 0, count, 1) + ring(list(range(p)), 0, count, 0)


def build_allreduce_recursive_doubling(p, count, root):
    steps, d = [], 1
    while d < p:
        steps.append([(r, r ^ d, 0, 0, count, 1) for r in range(p)])
        d *= 2
    return steps


def build_allreduce_rabenseifner(p, count, root):
    return halving_reduce_scatter(p, count) + doubling_allgather(p, count)


def build_allreduce_binary_tree(p, count, root):
    tree = rooted_at(p, 0)
    return binary_tree(p, tree, 0, count, reduce=1) + binary_tree(p, tree, 0, count, reduce=0)


def build_allreduce_double_binary_tree(p, count, root):
    return two_trees(p, 0, count, True) + two_trees(p, 0, count, False)


def build_allreduce_pipelined_double_binary_tree(p, count, root, chunks):
    """Each half of the vector cut into ``chunks`` pieces that follow each other up (reduce) and
    then down (broadcast) their tree; the mirrored trees keep every rank to one send and one
    receive per step (the tests check it)."""
    return pipelined_trees(p, count, chunks, (True, False), [rooted_at(p, 0), mirrored(p)])


def build_allreduce_hierarchical(p, count, root, ranks_per_node):
    """Ring reduce-scatter inside each node; ring all-reduce of each chunk across the nodes (one
    ring per local rank, a "rail"); ring all-gather inside each node."""
    g, m = ranks_per_node, p // ranks_per_node
    nodes = [list(range(k * g, (k + 1) * g)) for k in range(m)]
    b = bounds(0, count, g)
    rails = [[k * g + i for k in range(m)] for i in range(g)]
    return (merge(*(ring(nd, 0, count, 1) for nd in nodes))
            + merge(*(ring(rails[i], b[i], b[i + 1] - b[i], 1)
                      + ring(rails[i], b[i], b[i + 1] - b[i], 0) for i in range(g)))
            + merge(*(ring(nd, 0, count, 0) for nd in nodes)))


def build_allreduce_nvls(p, count, root, chunks):
    """NVLink SHARP: every rank's vector reduced in the NVSwitch and multicast back, pipelined in
    ``chunks`` pieces (participant ``p`` is the switch)."""
    return switch_allreduce(list(range(p)), p, 0, count, chunks)


def build_allreduce_ib_sharp(p, count, root, ranks_per_node):
    """Ring reduce-scatter inside each node; each rank's chunk all-reduced across the nodes by the
    InfiniBand switch (one rail per local rank, each on its own region of the switch's buffer,
    unpipelined); ring all-gather inside each node."""
    g, m = ranks_per_node, p // ranks_per_node
    nodes = [list(range(k * g, (k + 1) * g)) for k in range(m)]
    b = bounds(0, count, g)
    rails = [[k * g + i for k in range(m)] for i in range(g)]
    return (merge(*(ring(nd, 0, count, 1) for nd in nodes))
            + merge(*(switch_allreduce(rails[i], p, b[i], b[i + 1] - b[i], 1) for i in range(g)))
            + merge(*(ring(nd, 0, count, 0) for nd in nodes)))


def build_alltoall_pairwise(p, count, root):
    """Step k: rank r sends its block for rank r+k into that rank's receive half."""
    blk = count // p
    return [[(r, (r + k) % p, ((r + k) % p) * blk, count + r * blk, blk, 0) for r in range(p)]
            for k in range(1, p)]


# ----------------------------------------------------------------------------------------------
# builder factories, the names the builders had before each got its own function


def build_binomial(reduce):
    """The binomial-tree builder: broadcast (``reduce`` false) or reduce (true)."""
    return build_reduce_binomial_tree if reduce else build_broadcast_binomial_tree


def build_binary_tree(reduce):
    """The binary-tree builder: broadcast (``reduce`` false) or reduce (true)."""
    return build_reduce_binary_tree if reduce else build_broadcast_binary_tree


def build_pipelined_tree(phases):
    """The pipelined-tree builder for ``phases``: (True,) reduce, (False,) broadcast, (True,
    False) all-reduce."""
    def build(p, count, root, chunks):
        return pipelined_trees(p, count, chunks, tuple(phases), [rooted_at(p, root)])
    return build

