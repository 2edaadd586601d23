"""Bisecting k-means: a hierarchy of clusters grown by splitting one leaf at a time.

The fit starts from one cluster holding every row and makes ``n_clusters - 1``
bisections. Each picks a leaf of the tree (the one with the largest inertia,
or with the most rows: its *score*; ties to the first leaf in depth-first
order), gathers its rows and splits them in two by Lloyd's algorithm (the
best of ``n_init`` runs, each seeded with two centres), in the frame centred
on the mean of all the data. This follows scikit-learn's ``BisectingKMeans``
step for step, so that an integer ``random_state`` gives its hierarchy: the
same draws, the same tolerance (``tol`` as given, not scaled by the data's
variance, as scikit-learn's inner runs take it), the same choice among the
runs. The leaves, in depth-first order, are the clusters.

A new row is assigned by descending the tree (:func:`descend`): at every
split it goes to the nearer of the two children's centres, which is not
always the nearest leaf centre.

Per bisection, beyond the Lloyd runs' own reads (one per iteration and one
for the final inertia), one vector of four numbers crosses to the host: the
children's scores and row counts, which choose the next leaf and size the
children's row lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._kmeans import _centring
from ._libraries import Library, library_of
from ._lloyd import LloydRun, lloyd
from ._namespace import Array, Namespace, array_namespace, device_of, index_dtype, to_host
from ._primitives import TIE_ULPS, Data, labelled_inertia, scores, sq_distances_to_labels
from ._random import RandomState, check_random_state
from ._seeding import initial_centres
from ._validation import (
    check_bisecting_strategy,
    check_bisection_init,
    check_data,
    check_n_clusters,
    check_positive_int,
    check_sample_weight,
    check_tol,
    check_verbose,
)

#: A run replaces the best run of a bisection only when its inertia is lower by more than
#: this share (scikit-learn's allowance for rounding).
IMPROVEMENT = 1e-6


@dataclass
class Leaf:
    """A leaf of the tree while it grows: its node number, its rows (ascending, on the small
    side), how many, its centre (centred frame, small side) and its score."""

    node: int
    rows: Array
    size: int
    centre: Array
    score: float


class Tree(NamedTuple):
    """The hierarchy: node ``0`` is the root, split ``t`` made nodes ``2t + 1`` and ``2t + 2``.

    Attributes
    ----------
    node_centres : array of shape (2 n_clusters - 1, n_features)
        Every node's centre, in the centred frame.
    splits : tuple of int
        The node each bisection split, in order.
    """

    node_centres: Array
    splits: tuple[int, ...]


class BisectingResult(NamedTuple):
    """What :func:`fit_bisecting` found: ``centres`` (the leaves', in depth-first order, in
    ``X``'s frame), ``labels``, ``inertia`` and the :class:`Tree` (centred frame)."""

    centres: Array
    labels: Array
    inertia: float
    tree: Tree


def tree_layout(splits: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """The descent tables of a tree given by its ``splits`` (see :class:`Tree`): whole
    numbers, as a fit gives them or a model file holds them (floats).

    Returns
    -------
    children : numpy array of shape (n_nodes, 2)
        Each node's two children; a leaf's are itself twice, so that a
        descent that reached it stays.
    leaf_labels : numpy array of shape (n_nodes,)
        Each leaf's cluster (its rank in depth-first order); 0 for other nodes.
    depth : int
        The number of splits on the longest path from the root.

    Raises
    ------
    ValueError
        If a split names a node that does not exist yet or was split before.
    """
    n_nodes = 2 * len(splits) + 1
    children = np.repeat(np.arange(n_nodes)[:, None], 2, axis=1)
    depths = np.zeros(n_nodes, dtype=np.int64)
    for t, name in enumerate(splits):
        node = int(name) if float(name).is_integer() and 0 <= name <= 2 * t else None
        if node is None or children[node, 0] != node:
            raise ValueError(f"Split {t} names node {name!r}, which is not a leaf of the tree.")
        children[node] = (2 * t + 1, 2 * t + 2)
        depths[2 * t + 1:2 * t + 3] = depths[node] + 1
    leaf_labels = np.zeros(n_nodes, dtype=np.int64)
    stack, label = [0], 0
    while stack:
        node = stack.pop()
        if children[node, 0] == node:
            leaf_labels[node] = label
            label += 1
        else:
            stack.extend(children[node, ::-1].tolist())  # the left child first
    return children, leaf_labels, int(depths.max())


def _bisect(data: Data, seeding: Data, init: Any, rng: RandomState, *, n_init: int,
            max_iter: int, tol: float, verbose: int) -> LloydRun:
    """The best of ``n_init`` two-centre Lloyd runs on ``data``'s rows (scikit-learn's
    choice: a later run must lower the inertia by more than :data:`IMPROVEMENT`)."""
    best: LloydRun | None = None
    for _ in range(n_init):
        (centres,) = data.library.passes.to_small_side(initial_centres(seeding, 2, init, rng))
        run = lloyd(data, centres, max_iter=max_iter, tol=tol, verbose=verbose)
        if best is None or run.inertia < best.inertia * (1 - IMPROVEMENT):
            best = run
    return best


def _split_scores(data: Data, run: LloydRun, labels: Array, xs: Namespace) -> Array:
    """The two children's (weighted) inertias and row counts, ``(4,)`` on the small side;
    ``labels`` are the run's for the leaf's own rows (the padding's left out)."""
    xp, device = data.xp, device_of(data.X)
    centres = xp.asarray(run.centres, device=device)
    zero = xp.zeros((), dtype=data.X.dtype, device=device)
    one = xp.ones((), dtype=data.X.dtype, device=device)
    fused = data.library.fused_cluster_inertias(data, centres, run.labels)
    if fused is None:
        sq = sq_distances_to_labels(data, centres, run.labels)
        if data.weights is not None:
            sq = data.weights * sq
        inertias = [xp.sum(xp.where(run.labels == j, sq, zero)) for j in (0, 1)]
    else:
        inertias = [fused[0], fused[1]]
    sums = xp.stack(inertias + [xp.sum(xp.where(labels == j, one, zero)) for j in (0, 1)])
    (sums,) = data.library.passes.to_small_side(sums)
    return sums


def _leaf_data(library: Library, X: Array, mean: Array, sample_weight: Array,
               unit_weights: bool, leaf: Leaf, chunk_size: int | None) -> tuple[Data, Data]:
    """The rows of ``leaf`` gathered for its bisection (a copy, in ascending order, in ``X``'s
    kind), centred on ``mean`` once rather than at every pass (sparse rows stay sparse and
    uncentred: their offset is zero), with their weights (None for unit weights, never for
    the seeding's :class:`Data`). The :class:`Data` of both have a zero offset.

    Where the library's plan pads a subset (:meth:`~anykmeans._libraries._plan.Plan.padded_rows`),
    copies of the leaf's first row with weight zero follow its rows: they move no centre,
    weigh in no inertia and are drawn by no seeding.
    """
    xp, xs = array_namespace(X), array_namespace(leaf.rows)
    n_rows = library.padded_rows(leaf.size)
    rows, weights = leaf.rows, xp.take(sample_weight, leaf.rows)
    if n_rows > leaf.size:
        padding = n_rows - leaf.size
        rows = xs.concat([rows, xs.zeros(padding, dtype=rows.dtype, device=device_of(rows))
                          + rows[0]])
        weights = xp.concat([weights, xp.zeros(padding, dtype=weights.dtype,
                                               device=device_of(weights))])
        unit_weights = False
    leaf_X = library.centred_rows_at(xp, X, rows, mean)
    origin = xs.zeros_like(mean)
    return (Data(leaf_X, origin, None if unit_weights else weights, chunk_size),
            Data(leaf_X, origin, weights, chunk_size))


def _children(leaf: Leaf, labels: Array, n_left: int, xs: Namespace) -> tuple[Array, Array]:
    """The rows of ``leaf`` labelled 0 and 1, each in ascending order (small side)."""
    order = xs.argsort(labels, stable=True)
    return xs.take(leaf.rows, order[:n_left]), xs.take(leaf.rows, order[n_left:])


def fit_bisecting(X: Array, n_clusters: int, *, sample_weight: Array | None, init: Any,
                  n_init: int, max_iter: int, tol: float, random_state: Any,
                  bisecting_strategy: str, chunk_size: int | None,
                  verbose: int) -> tuple[BisectingResult, Array]:
    """Cluster ``X`` by bisecting k-means; also return the centring offset (``X``'s mean).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Never modified; sparse data (SciPy, torch sparse CSR) is not centred
        (its offset is zero, as scikit-learn's), and a leaf's rows gathered
        from it stay sparse.
    n_clusters : int
        Leaves of the tree, at most ``n_samples``.
    sample_weight : array of shape (n_samples,), optional
    init : {"k-means++", "random"} or callable
        Each bisection's seeding; a callable is called as ``init(rows,
        2, random_state=rng)`` on the rows of the leaf centred on ``X``'s
        mean (as scikit-learn calls it; sparse rows are not centred).
    n_init : int
        Lloyd runs per bisection; the best is kept.
    max_iter : int
        Lloyd iterations per run.
    tol : float
        Absolute tolerance on the squared centre shift of a run (not scaled).
    random_state : None, int, RandomState or Generator
    bisecting_strategy : {"biggest_inertia", "largest_cluster"}
    chunk_size : int, optional
    verbose : int

    Returns
    -------
    result : BisectingResult
        ``labels`` in ``X``'s library; ``centres`` on ``X``'s device.
    mean : array of shape (n_features,)
        The centring offset, on ``X``'s device.

    Raises
    ------
    ValueError, TypeError
        For invalid data or parameters; the message names the problem.
    """
    xp, X = check_data(X, values=False)  # checked with the mean (_centring)
    n_clusters = check_n_clusters(n_clusters, X.shape[0])
    n_init = check_positive_int(n_init, "n_init")
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_tol(tol)
    init = check_bisection_init(init)
    bisecting_strategy = check_bisecting_strategy(bisecting_strategy)
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    verbose = check_verbose(verbose)
    rng = check_random_state(random_state)
    unit_weights = sample_weight is None
    sample_weight = check_sample_weight(sample_weight, xp, X)

    library, device = library_of(X), device_of(X)
    with library.passes.resident(X, n_clusters) as X:
        mean, _, feature_means = _centring(xp, library, X, 0.0)
        xs = array_namespace(mean)  # the small side
        n_samples = X.shape[0]
        root = Leaf(0, xs.arange(n_samples, dtype=index_dtype(xs, device_of(mean)),
                                 device=device_of(mean)), n_samples, feature_means - mean, 0.0)
        leaves, node_centres, splits = [root], [root.centre], []
        for t in range(n_clusters - 1):
            leaf_scores = [leaf.score for leaf in leaves]
            position = leaf_scores.index(max(leaf_scores))  # the first of the highest score
            leaf = leaves[position]
            data, seeding = _leaf_data(library, X, mean, sample_weight, unit_weights, leaf,
                                       chunk_size)
            run = _bisect(data, seeding, init, rng, n_init=n_init, max_iter=max_iter, tol=tol,
                          verbose=verbose)
            labels = run.labels[:leaf.size]
            inertia_0, inertia_1, size_0, size_1 = to_host(
                _split_scores(data, run, labels, xs)).tolist()
            (labels,) = library.passes.to_small_side(labels)
            left_rows, right_rows = _children(leaf, labels, int(size_0), xs)
            if bisecting_strategy == "biggest_inertia":
                scores_ = (inertia_0, inertia_1)
            else:
                scores_ = (size_0, size_1)
            if verbose:
                print(f"Bisection {t}: node {leaf.node} into {int(size_0)} and {int(size_1)} "
                      "rows.")
            children = [Leaf(2 * t + 1 + j, part, int(size), run.centres[j, :], score)
                        for j, (part, size, score) in enumerate(
                            zip((left_rows, right_rows), (size_0, size_1), scores_,
                                strict=True))]
            leaves[position:position + 1] = children
            node_centres.extend(child.centre for child in children)
            splits.append(leaf.node)

        leaf_rows = xs.concat([leaf.rows for leaf in leaves])
        leaf_ids = xs.concat([xs.full(leaf.size, i, dtype=leaf_rows.dtype,
                                      device=device_of(leaf_rows))
                              for i, leaf in enumerate(leaves)])
        labels = xs.take(leaf_ids, xs.argsort(leaf_rows))
        labels = library.passes.blocked_like(xp.asarray(labels, device=device), X)
        centres = xp.asarray(xs.stack([leaf.centre for leaf in leaves]), device=device)
        weights = None if unit_weights else sample_weight
        inertia = float(to_host(labelled_inertia(Data(X, mean, weights, chunk_size), centres,
                                                 labels)))
    mean = xp.asarray(mean, device=device)
    tree = Tree(xp.asarray(xs.stack(node_centres), device=device), tuple(splits))
    return BisectingResult(centres + mean, labels, inertia, tree), mean


def descent_pass(data: Data, rows: slice, state: None, node_centres: Array, children: Array,
                 leaf_labels: Array, depth: int) -> tuple[tuple[Array], Array]:
    """Every row of ``data`` taken down the tree to its leaf's cluster: a block pass.

    At each of ``depth`` steps a row moves to the nearer child of its node
    (the left one within ``TIE_ULPS`` ulps); a leaf's children are itself.
    Every node's score is one matrix product per chunk, so a step gathers
    two scores a row.
    """
    xp, library = data.xp, data.library
    node_sq_norms = library.sq_norms(xp, node_centres)
    index = index_dtype(xp, device_of(data.X))
    eps = xp.finfo(data.X.dtype).eps

    def chunk(s: slice) -> Array:
        x = data.centred(s)
        x_sq_norms = library.sq_norms(xp, x)
        block = scores(library, xp, x, node_centres, node_sq_norms)
        node = xp.zeros(x.shape[0], dtype=index, device=device_of(x))
        for _ in range(depth):
            pair = xp.take(children, node, axis=0)
            left, right = pair[:, 0], pair[:, 1]
            left_score = xp.take_along_axis(block, left[None, :], axis=0)[0, :]
            right_score = xp.take_along_axis(block, right[None, :], axis=0)[0, :]
            slack = TIE_ULPS * eps * (x_sq_norms + xp.maximum(xp.take(node_sq_norms, left),
                                                              xp.take(node_sq_norms, right)))
            node = xp.where(left_score > right_score + slack, right, left)
        return xp.take(leaf_labels, node)

    labels = xp.concat(list(data.map(chunk, node_centres.shape[0])))
    return (labels,), xp.zeros((), dtype=data.X.dtype, device=device_of(data.X))


def descend(data: Data, node_centres: Array, splits: tuple[int, ...]) -> Array:
    """The cluster of every row of ``data``, found by descending the tree (see :class:`Tree`).

    ``node_centres`` are in ``data``'s centred frame, on its device.

    Raises
    ------
    ValueError
        If ``splits`` is not a tree (:func:`tree_layout`).
    """
    xp, library = data.xp, data.library
    children, leaf_labels, depth = tree_layout(splits)
    device = device_of(data.X)
    index = index_dtype(xp, device)
    children = xp.asarray(children, dtype=index, device=device)
    leaf_labels = xp.asarray(leaf_labels, dtype=index, device=device)
    state, _, _ = library.passes.run(data, descent_pass, None, node_centres, children,
                                     leaf_labels, depth)
    return library.passes.state_array(data, state, 0, index)


__all__ = ["BisectingResult", "Tree", "descend", "fit_bisecting", "tree_layout"]
