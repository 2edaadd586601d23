"""One run of Lloyd's algorithm: assign, update, relocate empties, test convergence.

The run works in the centred frame (rows are ``X[i] - mean``, centred chunk by
chunk) and follows scikit-learn's Lloyd iteration step for step, so that the
same initial centres give the same labels and iteration count.

Each iteration is one pass over the rows (:func:`lloyd_pass`, run by the
library: a lazy library runs one task per block of rows and keeps each block's
labels where it was computed); the new centres and the convergence test come
from the pass's small sums, on the library's small side (or, where the library
updates by cluster, from the labels: each new centre made over the old one,
:attr:`~anykmeans._libraries.Library.updates_by_cluster`). Per iteration exactly
one small vector crosses to the host (labels changed, empty clusters, centre
shift, inertia); a second one only in the rare iteration that has empty
clusters to relocate (the largest distance of a row to its centre, and the
shift of the relocated centres).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from ._namespace import Array, Namespace, array_namespace, device_of, index_dtype, to_host
from ._primitives import TIE_ULPS, Data, assign_block, labelled_inertia, sq_distances_to_labels
from ._sphere import COSINE_PER_SQUARED_DISTANCE, on_sphere

#: The squared centre shift is added up over blocks of rows of this many values at most
#: (one row at the least): its differences never take an array of the centres' size.
SHIFT_BLOCK = 2**17


class LloydRun(NamedTuple):
    """The outcome of one Lloyd run; ``centres`` (in the centred frame) and ``counts`` (rows
    per cluster) are on the library's small side, ``labels`` in ``X``'s library."""

    centres: Array
    labels: Array
    inertia: float
    n_iter: int
    converged: bool
    inertia_history: tuple[float, ...]
    counts: Array


def average_centres(xp: Namespace, sums: Array, weight_sums: Array) -> Array:
    """New centres: each cluster's weighted sum times the reciprocal of its weight.

    A cluster left without weight is put where the heaviest cluster is, in the
    order scikit-learn's in-place loop produces: clusters before the heaviest
    copy its (still unscaled) sum, clusters after it its mean.

    Beside the sums, one array of the centres' size is made (each row the sum it
    scales, then scaled in place), in the sums' layout.
    """
    n_clusters, n_features = sums.shape
    device = device_of(sums)
    has_weight = weight_sums > 0
    reciprocal = 1.0 / xp.where(has_weight, weight_sums, 1.0)
    heaviest = xp.reshape(xp.argmax(weight_sums), (1, 1))
    heaviest_row = (heaviest, xp.arange(n_features, device=device)[None, :])  # an index
    # Clusters without weight before the heaviest: their index, the others' k, below it.
    index = xp.arange(n_clusters, device=device)
    empty_before = xp.where(has_weight, n_clusters, index) < heaviest[0, :]
    # Without weight: the heaviest's sum, times 1 before it and its reciprocal after it.
    heaviest_reciprocal = xp.take(reciprocal, heaviest[0, :])
    scale = xp.where(has_weight, reciprocal,
                     xp.where(empty_before, xp.ones_like(reciprocal), heaviest_reciprocal))
    centres = xp.where(has_weight[:, None], sums, sums[heaviest_row])
    centres *= scale[:, None]  # in place (the array is our own; immutable arrays rebind it)
    return centres


class LloydSums(NamedTuple):
    """The small results of a Lloyd pass over some rows; each adds up over parts of the rows."""

    sums: Array
    weight_sums: Array
    inertia: Array
    n_changed: Array


def lloyd_pass(data: Data, rows: slice, state: tuple[Array, Array] | None,
               centres: Array) -> tuple[tuple[Array, Array], LloydSums]:
    """One Lloyd iteration's pass over ``data``: assignment and per-cluster sums.

    A block pass of :meth:`~anykmeans._libraries._passes.Passes.run`. ``state``
    holds the rows' labels and squared norms from the previous iteration
    (None at first); the labels that changed are counted against it: on the
    CPU plan chunk by chunk, in the pass; on the accelerator plan once after
    it (a chunk's count would be four more kernels a chunk).

    Returns
    -------
    state : (labels, x_sq_norms) for the next iteration
    sums : LloydSums
        ``n_changed`` is the number of rows at first; ``sums`` and ``weight_sums`` are None
        where the library updates the centres by cluster
        (:attr:`~anykmeans._libraries.Library.updates_by_cluster`).
    """
    xp, X = data.xp, data.X
    labels_old, x_sq_norms = (None, None) if state is None else state
    step = assign_block(data, centres, update=not data.library.updates_by_cluster,
                        x_sq_norms=x_sq_norms,
                        previous_labels=None if data.library.accelerator else labels_old)
    if labels_old is None:
        n_changed = xp.full((), X.shape[0], dtype=X.dtype, device=device_of(X))
    elif step.n_changed is None:
        n_changed = xp.sum(xp.astype(step.labels != labels_old, X.dtype))
    else:
        n_changed = step.n_changed
    return ((step.labels, step.x_sq_norms),
            LloydSums(step.sums, step.weight_sums, step.inertia, n_changed))


def cluster_counts(data: Data, labels: Array, n_clusters: int) -> Array:
    """How many rows of ``data`` each of ``n_clusters`` clusters has (counted by chunk),
    ``(n_clusters,)`` in ``X``'s dtype."""
    xp, library, dtype = data.xp, data.library, data.X.dtype
    return sum(data.map(lambda rows: library.segment_count(xp, labels[rows], n_clusters, dtype),
                        n_clusters))


def final_pass(data: Data, rows: slice, state: tuple[Array, Array],
               centres: Array) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """The rows assigned to the final centres, with the exact inertia and the rows per
    cluster (a block pass)."""
    final = assign_block(data, centres, exact_inertia=True, x_sq_norms=state[1])
    return ((final.labels, final.x_sq_norms),
            (final.inertia, cluster_counts(data, final.labels, centres.shape[0])))


def labelled_inertia_pass(data: Data, rows: slice, state: tuple[Array, Array],
                          centres: Array) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """The exact inertia of the labels in ``state`` under ``centres`` and the rows per
    cluster (a block pass)."""
    return state, (labelled_inertia(data, centres, state[0]),
                   cluster_counts(data, state[0], centres.shape[0]))


def farthest_rows(xp: Namespace, sq_distances: Array, n: int) -> Array:
    """Indices of the ``n`` largest ``sq_distances`` (non-negative), largest first, ties to
    the lower index: the first ``n`` of a stable descending sort, without sorting every row.

    The rows are cut into blocks of about ``sqrt(rows / n)``; the ``n`` largest
    values lie in the ``n`` blocks whose maxima come first (a block's maximum
    precedes all of its rows, and a block before another by maximum has a
    row before each of the other's). Only the block maxima and the rows of
    those blocks are sorted: about ``sqrt(rows n)`` values each.
    """
    n_rows = sq_distances.shape[0]
    device = device_of(sq_distances)
    size = max(1, math.isqrt(n_rows // n))
    n_blocks = -(-n_rows // size)
    padding = n_blocks * size - n_rows  # -1 ranks below every distance
    padded = xp.concat([sq_distances, xp.full(padding, -1, dtype=sq_distances.dtype,
                                              device=device)]) if padding else sq_distances
    maxima = xp.max(xp.reshape(padded, (n_blocks, size)), axis=1)
    blocks = xp.sort(xp.argsort(maxima, descending=True, stable=True)[:min(n, n_blocks)])
    within = xp.arange(size, dtype=blocks.dtype, device=device)
    candidates = xp.reshape(blocks[:, None] * size + within[None, :], (-1,))  # rising rows
    first = xp.argsort(xp.take(padded, candidates), descending=True, stable=True)[:n]
    return xp.take(candidates, first)


def relocate_empty_clusters(data: Data, centres: Array, labels: Array, sums: Array,
                            weight_sums: Array, n_empty: int) -> tuple[Array, Array, Array]:
    """Move each cluster without weight to one of the rows farthest from their centre.

    The ``n_empty`` rows with the largest squared distance to the centre of
    their ``labels`` (ties to the lower row index) each leave their cluster's
    ``sums`` and found a cluster of their own. Where every row sits on its
    centre (fewer distinct rows than clusters) nothing should move: the
    largest squared distance, returned beside the sums, is then zero, and
    the caller keeps the sums it had.

    Returns
    -------
    sums, weight_sums : the updated per-cluster sums, in ``X``'s library
    largest : 0-d array, the largest squared distance of a row to its centre
    """
    xp, X, sample_weight = data.xp, data.X, data.weights
    centres, sums, weight_sums = data.library.passes.from_small_side(X, centres, sums,
                                                                     weight_sums)
    sq_distances = sq_distances_to_labels(data, centres, labels)
    n_clusters = sums.shape[0]
    is_empty = weight_sums == 0
    far = farthest_rows(xp, sq_distances, n_empty)
    far_weights = (xp.ones(n_empty, dtype=X.dtype, device=device_of(X)) if sample_weight is None
                   else xp.take(sample_weight, far))
    moved = (data.dense_rows(far) - data.mean) * far_weights[:, None]
    old = xp.take(labels, far)
    sums = sums - data.library.segment_sum(xp, moved, old, n_clusters)
    weight_sums = weight_sums - data.library.segment_sum(xp, far_weights, old, n_clusters)
    # The j-th empty cluster (by index) receives the j-th farthest row: ranks from a
    # cumulative sum rather than nonzero(), whose size is unknown to a lazy library.
    empty_rank = xp.cumulative_sum(xp.astype(is_empty, old.dtype)) - 1
    slots = xp.arange(n_empty, dtype=old.dtype, device=device_of(sums))
    into_empty = xp.astype(is_empty[:, None] & (empty_rank[:, None] == slots[None, :]),
                           sums.dtype)
    sums = xp.where(is_empty[:, None], data.library.matmul(xp, into_empty, moved), sums)
    weight_sums = xp.where(is_empty, data.library.matmul(xp, into_empty, far_weights),
                           weight_sums)
    return sums, weight_sums, xp.max(sq_distances)


def lloyd(data: Data, centres: Array, *, max_iter: int, tol: float, verbose: int = 0,
          on_iteration: Callable[[int, float], None] | None = None,
          spherical: bool = False) -> LloydRun:
    """Run Lloyd's algorithm from ``centres`` until convergence or ``max_iter``.

    Parameters
    ----------
    data : Data
        The rows, their centring offset and their weights (None for unit
        weights, then never multiplied: the same result, faster).
    centres : array of shape (n_clusters, n_features)
        Initial centres in the centred frame, on the library's small side
        (:meth:`~anykmeans._libraries._passes.Passes.to_small_side`), where the run's
        centres stay: the run's own array, which it may overwrite (where the library
        updates by cluster).
    max_iter : int
    tol : float
        Absolute tolerance on the sum of squared centre shifts (already
        scaled by the data's mean feature variance).
    verbose : int
        When positive, print the inertia of every iteration and why the run stopped.
    on_iteration : callable, optional
        Called as ``on_iteration(iteration, inertia)`` after every iteration
        (progress reporting); it receives host numbers only.
    spherical : bool, default=False
        Spherical k-means: the rows of ``data`` are unit vectors (before
        centring), every update's centres are put back on the unit sphere
        (:func:`~anykmeans._sphere.on_sphere`), and inertias are sums of cosine
        distances ``1 - cos``, half the squared distances.

    Notes
    -----
    The run stops *strictly* when an assignment equals the previous one; the
    centres are then a fixed point. It stops on tolerance when the squared
    centre shift is at most ``tol``; the rows are then assigned once more so
    that the labels belong to the final centres, and that pass also gives the
    exact inertia (from residuals) the run reports. Where the library makes the
    iterations in its own fused steps
    (:meth:`~anykmeans._libraries.Library.fused_two_centre_run`: NumPy's small
    two-centre runs, without ``verbose`` or ``on_iteration``), it makes them, to the
    same bits, and the final pass follows.
    """
    library = data.library
    scale = COSINE_PER_SQUARED_DISTANCE if spherical else 1.0
    centres = library.chunk_centres(data.xp, centres)  # laid out as the passes read them
    compiled = (None if verbose or on_iteration is not None or spherical
                else library.fused_two_centre_run(data, centres, max_iter=max_iter, tol=tol,
                                                  tie_ulps=TIE_ULPS))
    centres, state, n_iter, strict, converged, history = compiled or _iterations(
        data, centres, max_iter=max_iter, tol=tol, verbose=verbose, on_iteration=on_iteration,
        spherical=spherical)
    state, (inertia, counts), _ = library.passes.run(
        data, labelled_inertia_pass if strict else final_pass, state, centres)
    labels = library.passes.state_array(data, state, 0,
                                        index_dtype(data.xp, device_of(data.X)))
    return LloydRun(centres, labels, float(to_host(inertia, library)) * scale, n_iter,
                    converged, tuple(history), counts)


def _iterations(data: Data, centres: Array, *, max_iter: int, tol: float, verbose: int,
                on_iteration: Callable[[int, float], None] | None,
                spherical: bool) -> tuple[Array, Any, int, bool, bool, list[float]]:
    """:func:`lloyd`'s iterations from ``centres`` (laid out as the passes read them): the
    last iteration's new centres, its pass's state, the iterations made, whether they
    stopped on unchanged labels, whether before ``max_iter``, and each iteration's inertia."""
    X, library = data.X, data.library
    dtype = X.dtype
    state: Any = None
    xs: Namespace = None  # the small side's namespace, from the first pass
    history: list[float] = []
    strict = converged = False
    scale = COSINE_PER_SQUARED_DISTANCE if spherical else 1.0
    for iteration in range(max_iter):
        state, (sums, weight_sums, inertia, n_changed) = library.passes.run(
            data, lloyd_pass, state, centres)[:2]
        xs = xs or array_namespace(inertia)  # the small side
        new_centres = shift = None
        if sums is None:  # the library makes each new centre from its rows, in place
            labels = library.passes.state_array(data, state, 0, index_dtype(data.xp, device_of(X)))
            shift = None if spherical else library.update_by_cluster(data, labels, centres)
            if shift is None:  # a cluster without weight, or the sphere: the sums, as below
                sums, weight_sums = library.labelled_sums(data, labels, centres.shape[0])
            else:
                new_centres, n_empty = centres, xs.zeros_like(inertia)
        if sums is not None:
            sums = xs.astype(sums, dtype, copy=False)  # float64 where the pass adds so
            # Without an empty cluster the new centres are the sums times their reciprocal
            # weights, made in place once no cluster is known to be empty; until then the
            # squared shift is taken from them a block of rows at a time.
            reciprocal = 1.0 / xs.where(weight_sums > 0, weight_sums, 1.0)
            new_centres = (on_sphere(xs, average_centres(xs, sums, weight_sums), data.mean)
                           if spherical else None)
            rows = max(1, SHIFT_BLOCK // max(centres.shape[1], 1))
            for start in range(0, centres.shape[0], rows):  # not k x d differences at once
                part = slice(start, min(start + rows, centres.shape[0]))
                if new_centres is None:
                    block = sums[part, :] * reciprocal[part, None]
                    block -= centres[part, :]  # in place: one block of values made
                else:
                    block = new_centres[part, :] - centres[part, :]
                block *= block
                shift = xs.sum(block) if shift is None else shift + xs.sum(block)
                del block  # before the next block is made
            n_empty = xs.sum(xs.astype(weight_sums == 0, dtype))
        stats = xs.stack([n_changed, n_empty, xs.astype(shift, dtype, copy=False), inertia])
        n_changed, n_empty, shift, inertia = to_host(stats, library).tolist()
        inertia *= scale
        if n_empty:  # relocated, kept if a row is away from its centre: one more read
            if new_centres is None:
                new_centres = average_centres(xs, sums, weight_sums)
            labels = library.passes.state_array(data, state, 0, index_dtype(data.xp, device_of(X)))
            moved_sums, moved_weight_sums, largest = library.passes.to_small_side(
                *relocate_empty_clusters(data, centres, labels, sums, weight_sums, int(n_empty)))
            moved_centres = average_centres(xs, moved_sums, moved_weight_sums)
            if spherical:
                moved_centres = on_sphere(xs, moved_centres, data.mean)
            largest, moved_shift, shift = to_host(xs.stack([
                xs.astype(largest, dtype), xs.sum((moved_centres - centres) ** 2),
                xs.sum((new_centres - centres) ** 2)]), library).tolist()
            if largest > 0.0:
                new_centres, shift = moved_centres, moved_shift
        elif new_centres is None:
            sums *= reciprocal[:, None]  # in place (immutable arrays rebind): the new centres
            new_centres = sums
        del sums  # not kept through the next pass, whose sums are made beside the centres
        history.append(inertia)
        if on_iteration is not None:
            on_iteration(iteration, inertia)
        if verbose:
            print(f"Iteration {iteration}, inertia {inertia}.")
        centres = new_centres
        if n_changed == 0:
            strict = converged = True
            if verbose:
                print(f"Converged at iteration {iteration}: strict convergence.")
            break
        if shift <= tol:
            converged = True
            if verbose:
                print(f"Converged at iteration {iteration}: center shift {shift} "
                      f"within tolerance {tol}.")
            break
    return centres, state, iteration + 1, strict, converged, history
