"""NumPy's fused assignment: the nearest centres and the cluster sums in one compiled loop.

With Numba installed (``pip install ".[fast]"``), the NumPy plan
assigns a chunk of rows tile by tile: the tile's rows centred into one of two
buffers of the thread's own, one BLAS product for its score block (one per
centre for two centres), and one compiled loop over the block
(:func:`nearest_and_sums`) that finds each row's nearest centre, adds its
squared distance to the inertia and its values to its cluster's sums, and
centres the next tile's rows into the other buffer as it goes (their read from
memory then overlaps the arithmetic). Two centres of float64 rows (a bisection's
passes) take a loop of their own (:func:`two_centre_sums`): no tiles, no BLAS
product; each row is read once, centred, scored against both centres, labelled
and added to its cluster's sums while it is near the processor.

The standard-only path reads and writes a chunk-sized block five or six times,
sorts the labels for the sums, and allocates fresh memory for every step (the
operating system clears each new page: at small ``k`` that costs more than the
arithmetic); here a tile is written once and read once, near the caches, and
the buffers are reused.

The loop decides as :func:`anykmeans._primitives.nearest` does (ties within
``TIE_ULPS`` ulps go to the lower index; a row with a NaN score goes to the
last centre) and adds each cluster's rows in row order, so the two paths give
the same labels, and sums and inertia equal to rounding (the inertia is added
in float64 here, in the data's dtype there). Without Numba the standard path
runs; ``tests/test_fused.py`` compares the two.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import itertools
import operator
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ._types import Array, Assignment, PassData

#: A tile's score block and centred rows take about this many bytes: about a core's L2
#: cache, below which a chunk's time rises (docs/notes/benchmark-history.md). A constant:
#: Python has no portable way to read cache sizes (``os.sysconf`` lacks the names; ``/sys``
#: is a file fitting may not open).
TILE_BYTES = 2**20

#: Rows of a tile at the least, however many centres.
MIN_TILE_ROWS = 256

#: Up to this many centres, a tile's scores are a matrix-vector product per centre: BLAS's
#: matrix product of two centres with the rows costs more (docs/notes/benchmark-history.md).
MAX_VECTOR_PRODUCTS = 2

#: Passes with fewer scores (rows times centres) than this take the standard path: they
#: take milliseconds; the loop's compilation, once per dtype, about a second, and loading
#: it from Numba's cache in a later process (with Numba's import) more than half of that.
#: Within a fit (:func:`for_fit`), the fit's scores count instead where they are more.
MIN_SCORES = 2**20

#: A gather of fewer rows than this (a seeding step's candidates) is NumPy's indexing: it takes
#: microseconds, and the compiled gather (:func:`centred_rows_at`) need not be loaded for it.
MIN_GATHERED_ROWS = 2**12

#: The dtypes the loop is compiled for.
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def nearest_and_sums(block: Array, centre_sq_norms: Array, x: Array, x_sq_norms: Array,
                     w: Array, centres: Array, slack_scale: Any, max_centre_sq_norm: Any,
                     labels: Array, sums: Array, weight_sums: Array, update: bool,
                     exact: bool, next_rows: Array, mean: Array, next_x: Array,
                     recheck: bool = False, tie_scale: float = 0.0) -> float:
    """Label a tile's rows from their scores; accumulate the inertia and cluster sums.

    Parameters
    ----------
    block : array of shape (n_clusters, n_rows)
        ``-2 c_j . x_i`` (the centre norms not yet added), centre by centre.
    centre_sq_norms : array of shape (n_clusters,)
    x : array of shape (n_rows, n_features)
        The tile's centred rows.
    x_sq_norms : array of shape (n_rows,)
    w : array of shape (n_rows,) or (0,)
        The rows' weights; empty for unit weights.
    centres : array of shape (n_clusters, n_features)
        Read only when ``exact`` or ``recheck``.
    slack_scale, max_centre_sq_norm : scalars of the block's dtype
        A row's ties are the scores within ``slack_scale * (|x|^2 + max |c|^2)`` of its
        best score; when ``recheck``, close calls within ``slack_scale * (max |c|^2 + 2 max
        |c| |x|) + 2 tie_scale (|x|^2 + max |c|^2)``
        (:func:`anykmeans._primitives.close_call_bound`).
    labels : integer array of shape (n_rows,)
        Written: each row's nearest centre.
    sums : float64 array of shape (n_clusters, n_features)
        Added to, when ``update``: each row's weighted values, to its cluster's.
    weight_sums : float64 array of shape (n_clusters,)
        Added to, when ``update``: each row's weight.
    update : bool
    exact : bool
        Take the squared distances from the residuals ``x - c`` rather than
        from the scores.
    next_rows : array of shape (n_next, n_features), n_next <= n_rows
        The next tile's rows, not centred (none after the last tile).
    mean : array of shape (n_features,)
    next_x : array of shape (n_next, n_features)
        Written: ``next_rows - mean``, row by row with this tile's, so that reading the
        next tile from memory overlaps this one's arithmetic.
    recheck : bool
        Decide as :func:`anykmeans._primitives.nearest` does for scores coarser than
        float64: on a close call, the nearest of its candidates by squared distances in
        float64, as :func:`anykmeans._exact.exactly_nearest` decides.
    tie_scale : float
        When ``recheck``: ``exactly_nearest``'s ``tie_ulps`` times the dtype's epsilon.

    Returns
    -------
    float
        The tile's weighted sum of squared distances, added in float64.

    Notes
    -----
    Each step runs along the rows, centre by centre, with selections rather
    than branches: the compiler makes vector instructions of the loops over
    rows, and the processor never guesses which centre wins.
    """
    n_clusters, n_rows = block.shape
    n_features = x.shape[1]
    best = np.empty(n_rows, dtype=block.dtype)
    has_nan = np.empty(n_rows, dtype=np.bool_)
    # Each row's centre: rechecked rows find the first of the best score as they go (as a
    # number of the scores' type: the same vector lanes), the others in a pass of their own.
    first_best = np.zeros(n_rows if recheck else 0, dtype=block.dtype)
    nearest = np.empty(0 if recheck else n_rows, dtype=np.int32)
    runner_up = np.full(n_rows if recheck else 0, np.inf, dtype=block.dtype)  # 2nd best score
    for i in range(n_rows):
        best[i] = block[0, i] + centre_sq_norms[0]
        has_nan[i] = best[i] != best[i]
    for j in range(1, n_clusters):
        j_number = block.dtype.type(j)
        for i in range(n_rows):
            score = block[j, i] + centre_sq_norms[j]
            if recheck:  # the runner-up, and the first centre of the best score, as they come
                runner_up[i] = min(runner_up[i], max(best[i], score))
                first_best[i] = j_number if score < best[i] else first_best[i]
            best[i] = score if score < best[i] else best[i]
            has_nan[i] |= score != score
    for i in range(n_rows):  # ties: the lowest centre within the slack of the best score
        if recheck:  # close calls: as nearest's window (float32 arithmetic, its order)
            best[i] += (slack_scale * (max_centre_sq_norm
                                       + 2 * np.sqrt(max_centre_sq_norm * x_sq_norms[i]))
                        + np.float32(2 * tie_scale) * (x_sq_norms[i] + max_centre_sq_norm))
        else:
            best[i] += slack_scale * (x_sq_norms[i] + max_centre_sq_norm)
    if not recheck:  # the first centre within the window
        nearest[:] = n_clusters
        for j in range(n_clusters):
            for i in range(n_rows):
                within = block[j, i] + centre_sq_norms[j] <= best[i]
                nearest[i] = min(nearest[i], j if within else n_clusters)
    weighted = w.shape[0] > 0
    n_next = next_rows.shape[0]
    inertia = 0.0
    halves = np.empty(n_features, dtype=np.float64)
    for i in range(n_rows):
        if has_nan[i]:  # no centre is nearest
            label = n_clusters - 1
        else:
            label = int(first_best[i]) if recheck else nearest[i]
        if recheck and not has_nan[i] and runner_up[i] <= best[i]:  # a close call
            for j in range(n_clusters):  # the first centre in the window, not the best's
                if block[j, i] + centre_sq_norms[j] <= best[i]:
                    label = j
                    break
            others = (label, n_clusters, n_clusters)  # the first, then the two best-scoring
            for rank in range(1, 3):
                lowest = np.inf
                for j in range(n_clusters):
                    score = block[j, i] + centre_sq_norms[j]
                    taken = j == others[0] or j == others[1]
                    if not taken and score < lowest:
                        lowest = score
                        others = (others[0], j, others[2]) if rank == 1 else (
                            others[0], others[1], j)
                if rank == 2 and lowest > best[i]:  # the third is no close call
                    others = (others[0], others[1], n_clusters)
            # exactly_nearest: the candidates' squared distances and norms and the row's
            # norm in float64, in halving order; ties within the centring's rounding
            distances = np.full(3, np.inf)
            centre_norms = np.full(3, -np.inf)
            row_norm = 0.0
            for which in range(4):  # the three candidates, then the row
                centre = others[which] if which < 3 else 0
                if which < 3 and centre == n_clusters:
                    continue
                for part in range(2 if which < 3 else 1):
                    for f in range(n_features):
                        if which == 3:
                            value = np.float64(x[i, f])
                        elif part == 0:
                            value = np.float64(x[i, f]) - np.float64(centres[centre, f])
                        else:
                            value = np.float64(centres[centre, f])
                        halves[f] = value * value
                    length = n_features
                    while length > 1:
                        half = length // 2
                        for f in range(half):
                            halves[f] += halves[f + half]
                        if length % 2:
                            halves[half] = halves[2 * half]
                        length = half + length % 2
                    if which == 3:
                        row_norm = halves[0]
                    elif part == 0:
                        distances[which] = halves[0]
                    else:
                        centre_norms[which] = halves[0]
            least = distances.min()
            limit = least + tie_scale * np.sqrt(least) * (np.sqrt(row_norm)
                                                          + np.sqrt(centre_norms.max()))
            label = n_clusters
            for which in range(3):
                if distances[which] <= limit:
                    label = min(label, others[which])
        labels[i] = label
        if exact:
            distance = 0.0
            for f in range(n_features):
                residual = x[i, f] - centres[label, f]
                distance += float(residual * residual)
        elif has_nan[i]:
            distance = np.nan
        else:  # the best score again: the slack taken off
            score = block[label, i] + centre_sq_norms[label]
            distance = max(float(x_sq_norms[i] + score), 0.0)
        if i < n_next:
            for f in range(n_features):
                next_x[i, f] = next_rows[i, f] - mean[f]
        weight = float(w[i]) if weighted else 1.0
        inertia += weight * distance
        if update:
            weight_sums[label] += weight
            if weighted:
                for f in range(n_features):
                    sums[label, f] += x[i, f] * w[i]
            else:
                for f in range(n_features):
                    sums[label, f] += x[i, f]
    return inertia


def two_centre_sums(x: Array, mean: Array, scaled: Array, centre_sq_norms: Array,
                    x_sq_norms: Array, computes_norms: bool, w: Array, centres: Array,
                    slack_scale: Any, max_centre_sq_norm: Any, labels: Array, sums: Array,
                    weight_sums: Array, update: bool, exact: bool) -> float:
    """:func:`nearest_and_sums` for two centres, its scores made here a row at a time: each
    row is read from memory once, centred, scored against both centres, labelled and added
    to its cluster's sums while it is in the processor's registers and first-level cache.

    Parameters
    ----------
    x : array of shape (n_rows, n_features)
        The rows, not centred.
    mean : array of shape (n_features,)
        Taken off every row as it is read (zero for rows centred when gathered).
    scaled : array of shape (2, n_features)
        ``-2`` times the centres: a row's scores are its products with them plus
        ``centre_sq_norms``.
    x_sq_norms : array of shape (n_rows,)
        The rows' squared norms: written where ``computes_norms``, else read.
    w, centres, slack_scale, max_centre_sq_norm, labels, sums, weight_sums, update, exact
        :func:`nearest_and_sums`'s (no close calls are rechecked: the rows are float64).

    Returns
    -------
    float
        The rows' weighted sum of squared distances, added in float64.

    Notes
    -----
    The labels follow :func:`nearest_and_sums`'s rule (the lower centre within the
    slack of the best score, the last where a score is NaN) and each cluster's sums
    add its rows in row order. A row's products, norm and residual distance are sums
    over its features that the compiler may add in another order than written (to add
    several features at once; the inertia's sum over rows too): the same order at every
    row and every run on a given processor, and, as a BLAS product's, within the ties'
    slack of any other order.
    """
    n_rows, n_features = x.shape
    weighted = w.shape[0] > 0
    inertia = 0.0
    weight_0, weight_1 = weight_sums[0], weight_sums[1]  # in registers, not memory
    for i in range(n_rows):
        product_0 = product_1 = sq_norm = x.dtype.type(0)
        for f in range(n_features):  # no store: added the same way at every address
            value = x[i, f] - mean[f]
            product_0 += value * scaled[0, f]
            product_1 += value * scaled[1, f]
            sq_norm += value * value
        if computes_norms:
            x_sq_norms[i] = sq_norm
        else:
            sq_norm = x_sq_norms[i]
        score_0 = product_0 + centre_sq_norms[0]
        score_1 = product_1 + centre_sq_norms[1]
        has_nan = score_0 != score_0 or score_1 != score_1
        best = (score_1 if score_1 < score_0 else score_0) + slack_scale * (
            sq_norm + max_centre_sq_norm)
        label = 1 if has_nan or not score_0 <= best else 0
        labels[i] = label
        if exact:
            distance = 0.0
            for f in range(n_features):
                residual = (x[i, f] - mean[f]) - centres[label, f]
                distance += float(residual * residual)
        elif has_nan:
            distance = np.nan
        else:  # the best score again: the slack taken off
            distance = max(float(sq_norm + (score_1 if label else score_0)), 0.0)
        weight = float(w[i]) if weighted else 1.0
        inertia += weight * distance
        if update:  # the row read again from the first-level cache, centred again
            if label:
                weight_1 += weight
            else:
                weight_0 += weight
            if weighted:
                for f in range(n_features):
                    sums[label, f] += (x[i, f] - mean[f]) * w[i]
            else:
                for f in range(n_features):
                    sums[label, f] += x[i, f] - mean[f]
    weight_sums[0], weight_sums[1] = weight_0, weight_1
    return inertia


def cluster_residual_sums(x: Array, mean: Array, centres: Array, labels: Array, w: Array,
                          inertias: Array) -> None:
    """Add each row's weighted squared distance to the centre its label names (from the
    residual ``x - c``) to its cluster's entry of ``inertias``.

    Parameters
    ----------
    x : array of shape (n_rows, n_features)
        The rows, not centred.
    mean : array of shape (n_features,)
        Taken off every row as it is read.
    centres : array of shape (n_clusters, n_features)
    labels : integer array of shape (n_rows,)
    w : array of shape (n_rows,) or (0,)
        The rows' weights; empty for unit weights.
    inertias : float64 array of shape (n_clusters,)
        Added to, in row order; a row's distance is added over its features in an order
        the compiler may choose (:func:`two_centre_sums`'s).
    """
    n_rows, n_features = x.shape
    weighted = w.shape[0] > 0
    for i in range(n_rows):
        label = labels[i]
        distance = 0.0
        for f in range(n_features):
            residual = (x[i, f] - mean[f]) - centres[label, f]
            distance += float(residual * residual)
        inertias[label] += float(w[i]) * distance if weighted else distance


def cluster_inertias(data: PassData, centres: Array, labels: Array) -> Array | None:
    """Each cluster's weighted sum of the squared distances of its rows of ``data`` (those
    ``labels`` give it) to its centre, from the residuals, in ``data``'s dtype; or None
    where the pass is not for the compiled loop (:func:`assignment`'s rule, and
    ``labels`` an integer array).

    Chunk by chunk (``data.map``), each chunk's sums added in float64, then the chunks' in
    chunk order: the same bits on any number of threads.
    """
    X, dtype = data.X, data.X.dtype
    if (X.dtype not in DTYPES or centres.dtype != dtype or labels.dtype.kind not in "iu"
            or (X.shape[0] * centres.shape[0] < MIN_SCORES and not takes_fit())):
        return None
    loop = compiled_cluster_residual_sums()
    if loop is None:
        return None
    no_weights = np.empty(0, dtype=dtype)

    def chunk(rows: slice) -> Array:
        inertias = np.zeros(centres.shape[0])
        loop(X[rows], data.mean, centres, labels[rows],
             no_weights if data.weights is None else data.weights[rows], inertias)
        return inertias

    return sum(data.map(chunk, centres.shape[0])).astype(dtype)


def gather_centred(X: Array, indices: Array, mean: Array, out: Array) -> None:
    """Write ``X[indices[r]] - mean`` into ``out[r]`` for every ``r`` (valid indices)."""
    for r in range(indices.shape[0]):
        row = indices[r]
        for f in range(X.shape[1]):
            out[r, f] = X[row, f] - mean[f]


def centred_rows_at(X: Array, indices: Array, mean: Array, *, parts: int = 1,
                    run: Callable[[Callable[[slice], None], list[slice]], Iterable[None]] = map
                    ) -> Array | None:
    """``X[indices] - mean`` in compiled passes (a new C-ordered array: each value NumPy's
    difference), or None where the gather is not for it: Numba is not installed, ``X`` is
    not a C-contiguous matrix of float32 or float64, ``mean`` not a vector of its dtype and
    width, ``indices`` not integers or fewer than :data:`MIN_GATHERED_ROWS`, or the calling
    thread's fit does not take the fused loop (:func:`takes_fit`).

    The indices are split into ``parts`` runs of about as many, each one compiled call,
    ``run(function, slices)`` calling ``function`` on each run's slice of them (``map``:
    one after another; a library's :meth:`~anykmeans._libraries.Library.map_chunks`: on
    its threads)."""
    if (X.ndim != 2 or X.dtype not in DTYPES or not X.flags.c_contiguous
            or mean.dtype != X.dtype or mean.shape != (X.shape[1],)
            or indices.ndim != 1 or indices.dtype.kind not in "iu"
            or indices.shape[0] < MIN_GATHERED_ROWS or not takes_fit()):
        return None
    loop = compiled_gather_centred()
    if loop is None:
        return None
    n_rows = indices.shape[0]
    out = np.empty((n_rows, X.shape[1]), dtype=X.dtype)
    bounds = [n_rows * part // parts for part in range(parts + 1)]
    for _ in run(lambda rows: loop(X, indices[rows], mean, out[rows]),
                 [slice(start, stop) for start, stop in itertools.pairwise(bounds)]):
        pass
    return out


#: A two-centre Lloyd run is made in one compiled call (:func:`two_centre_iterations`) up to
#: this many values in its two centres: the squared centre shift is then one block of NumPy's
#: pairwise sum (its unrolled loop of eight partial sums), whose order the call repeats.
MAX_RUN_CENTRE_VALUES = 128

#: How a two-centre Lloyd iteration ended the run (:func:`two_centre_update`): not yet, at
#: ``max_iter``, on unchanged labels, on the tolerance, or at a cluster left without weight
#: (the run is then begun again in Python).
GOES_ON, RAN_OUT, STRICT, WITHIN_TOL, EMPTY = -1, 0, 1, 2, 3


def two_centre_norms(centres: Array, norms: Array) -> float:
    """Write the squared norms of the two ``centres`` (float64, ``(2, n_features)``) into
    ``norms`` as ``einsum("ij,ij->i")`` adds them on NumPy (two lanes of a product each,
    four steps unrolled, the lanes added last); return the larger (the first where it is
    NaN)."""
    n_features = centres.shape[1]
    for j in range(2):
        lane_0 = lane_1 = 0.0
        f = 0
        while n_features - f >= 8:
            for step in range(3, -1, -1):
                lane_0 = centres[j, f + 2 * step] * centres[j, f + 2 * step] + lane_0
                lane_1 = centres[j, f + 2 * step + 1] * centres[j, f + 2 * step + 1] + lane_1
            f += 8
        while f < n_features:
            lane_0 = centres[j, f] * centres[j, f] + lane_0
            if f + 1 < n_features:
                lane_1 = centres[j, f + 1] * centres[j, f + 1] + lane_1
            f += 2
        norms[j] = 0.0 + (lane_0 + lane_1)
    return norms[0] if norms[0] >= norms[1] or norms[0] != norms[0] else norms[1]


def relabelled(labels: Array, previous: Array) -> int:
    """How many of ``labels`` differ from ``previous`` (integer arrays of one shape), then
    ``labels`` copied into ``previous``."""
    n_changed = 0
    for i in range(labels.shape[0]):
        n_changed += labels[i] != previous[i]
        previous[i] = labels[i]
    return n_changed


def two_centre_pass(x: Array, mean: Array, centres: Array, norms: Array, largest: float,
                    w: Array, slack_scale: Any, first: bool, labels: Array, previous: Array,
                    x_sq_norms: Array, bounds: Array, inertias: Array, sums: Array,
                    weight_sums: Array, changed: Array, chunks: Array) -> None:
    """An iteration's pass of a two-centre run over the chunks ``chunks[0]`` to
    ``chunks[1] - 1``: each chunk one call of :func:`two_centre_sums` and of
    :func:`relabelled`, its results its own.

    Parameters
    ----------
    x, mean, w, slack_scale
        :func:`two_centre_sums`'s; ``mean`` is taken off every row as it is read.
    centres : float64 array of shape (2, n_features)
    norms : float64 array of shape (2,)
        The centres' squared norms; ``largest`` the larger.
    first : bool
        Whether the pass writes the rows' squared norms into ``x_sq_norms`` (else reads them).
    labels, previous : integer arrays of shape (n_rows,)
        Written: the pass's labels, and the labels before it (:func:`relabelled`).
    bounds : integer array of shape (n_chunks + 1,)
        The chunks' first rows, then ``n_rows``.
    inertias, sums, weight_sums, changed : arrays of shape (n_chunks,), (n_chunks, 2,
        n_features), (n_chunks, 2) and (n_chunks,)
        Written at the pass's chunks: each chunk's inertia, cluster sums, cluster weights
        and changed labels.
    chunks : integer array of shape (2,)
        The first chunk and one past the last (last, so that a pass's other arguments can
        be bound before its part of the chunks).
    """
    weighted = w.shape[0] > 0
    scaled = -2.0 * centres
    for chunk in range(chunks[0], chunks[1]):
        start, stop = bounds[chunk], bounds[chunk + 1]
        sums[chunk] = 0.0
        weight_sums[chunk] = 0.0
        inertias[chunk] = two_centre_sums(x[start:stop], mean, scaled, norms,
                                          x_sq_norms[start:stop], first,
                                          w[start:stop] if weighted else w, centres,
                                          slack_scale, largest, labels[start:stop],
                                          sums[chunk], weight_sums[chunk], True, False)
        changed[chunk] = relabelled(labels[start:stop], previous[start:stop])


def two_centre_update(centres: Array, inertias: Array, sums: Array, weight_sums: Array,
                      changed: Array, first: bool, tol: float) -> tuple[float, int]:
    """The chunks' results of an iteration of a two-centre run (:func:`two_centre_pass`'s)
    added up in chunk order, as :func:`assignment` adds them, then the update and stopping
    tests of :func:`anykmeans._lloyd.lloyd`: ``centres`` (float64, ``(2, n_features)``)
    replaced by the new ones (the sums times their weight's reciprocal), unless a cluster
    has no weight.

    Returns
    -------
    inertia : float
        The iteration's.
    ending : int
        :data:`EMPTY` (``centres`` unchanged), :data:`STRICT` (no label changed; never on
        the ``first`` iteration), :data:`WITHIN_TOL` (the squared shift is at most ``tol``)
        or :data:`GOES_ON`.

    Notes
    -----
    The squared shift is added as NumPy's ``sum`` adds at most
    :data:`MAX_RUN_CENTRE_VALUES` values (eight partial sums, added pairwise, then the
    rest in turn).
    """
    n_features = centres.shape[1]
    n_values = 2 * n_features
    new = np.zeros((2, n_features))
    weights = np.zeros(2)
    inertia = 0.0
    n_changed = 0
    for chunk in range(inertias.shape[0]):
        inertia += inertias[chunk]
        new += sums[chunk]
        weights += weight_sums[chunk]
        n_changed += changed[chunk]
    if weights[0] == 0.0 or weights[1] == 0.0:
        return inertia, EMPTY
    squares = np.empty(n_values)
    for j in range(2):
        reciprocal = 1.0 / (weights[j] if weights[j] > 0.0 else 1.0)
        for f in range(n_features):
            new[j, f] *= reciprocal
            difference = new[j, f] - centres[j, f]
            squares[j * n_features + f] = difference * difference
    if n_values < 8:  # NumPy's pairwise sum of at most MAX_RUN_CENTRE_VALUES values
        shift = 0.0
        for v in range(n_values):
            shift += squares[v]
    else:
        partial = squares[:8].copy()
        v = 8
        while v < n_values - n_values % 8:
            for p in range(8):
                partial[p] += squares[v + p]
            v += 8
        shift = (((partial[0] + partial[1]) + (partial[2] + partial[3]))
                 + ((partial[4] + partial[5]) + (partial[6] + partial[7])))
        while v < n_values:
            shift += squares[v]
            v += 1
    centres[:] = new
    if n_changed == 0 and not first:
        return inertia, STRICT
    if shift <= tol:
        return inertia, WITHIN_TOL
    return inertia, GOES_ON


def two_centre_iterations(x: Array, mean: Array, centres: Array, w: Array, slack_scale: Any,
                          max_iter: int, tol: float, labels: Array, previous: Array,
                          x_sq_norms: Array, history: Array, bounds: Array) -> tuple[int, int]:
    """The iterations of a two-centre Lloyd run over float64 rows, each
    :func:`two_centre_norms`, :func:`two_centre_pass` over every chunk and
    :func:`two_centre_update` (the update and tests of :func:`anykmeans._lloyd.lloyd`).

    Parameters
    ----------
    x, mean, w, slack_scale
        :func:`two_centre_sums`'s; ``mean`` is taken off every row as it is read.
    centres : float64 array of shape (2, n_features)
        Written: the initial centres, replaced by each iteration's new ones.
    max_iter : int
    tol : float
        :func:`~anykmeans._lloyd.lloyd`'s tolerance on the squared centre shift.
    labels, previous : integer arrays of shape (n_rows,)
        Written: the last iteration's labels (``previous`` is scratch).
    x_sq_norms : float64 array of shape (n_rows,)
        Written by the first iteration, read by the others.
    history : float64 array of shape (max_iter,)
        Written: each iteration's inertia.
    bounds : integer array of shape (n_chunks + 1,)
        The chunks' first rows, then ``n_rows``: each chunk's inertia, sums, weights and
        changed labels are its own, added to the others' in chunk order, as
        :func:`assignment` adds them up.

    Returns
    -------
    n_iter : int
        Iterations made.
    ending : int
        :data:`RAN_OUT`, :data:`STRICT`, :data:`WITHIN_TOL` or :data:`EMPTY` (the
        iteration found a cluster without weight; ``centres`` are then not its new ones).
    """
    n_chunks = bounds.shape[0] - 1
    norms = np.empty(2)
    every_chunk = np.array([0, n_chunks])
    inertias, changed = np.empty(n_chunks), np.empty(n_chunks, dtype=np.intp)
    sums, weight_sums = np.empty((n_chunks, 2, x.shape[1])), np.empty((n_chunks, 2))
    for iteration in range(max_iter):
        largest = two_centre_norms(centres, norms)
        two_centre_pass(x, mean, centres, norms, largest, w, slack_scale, iteration == 0,
                        labels, previous, x_sq_norms, bounds, inertias, sums, weight_sums,
                        changed, every_chunk)
        history[iteration], ending = two_centre_update(centres, inertias, sums, weight_sums,
                                                       changed, iteration == 0, tol)
        if ending != GOES_ON:
            return iteration + 1, ending
    return max_iter, RAN_OUT


def shared_two_centre_iterations(data: PassData, weights: Array, centres: Array,
                                 slack_scale: Any, max_iter: int, tol: float, labels: Array,
                                 previous: Array, x_sq_norms: Array, history: Array,
                                 bounds: Array, threads: int) -> tuple[int, int] | None:
    """:func:`two_centre_iterations` with each iteration's pass shared among ``threads``
    threads (``data``'s library runs them: :meth:`~anykmeans._libraries.Library.map_chunks`),
    each one compiled call of :func:`two_centre_pass` over a run of consecutive chunks
    (about as many rows each), the norms and the update compiled calls on the calling
    thread: the same arguments, results and bits; None where Numba is not installed."""
    loops = (compiled_two_centre_norms(), compiled_two_centre_pass(),
             compiled_two_centre_update())
    if None in loops:
        return None
    norms_of, run_pass, update = loops
    n_chunks = bounds.shape[0] - 1
    norms = np.empty(2)
    inertias, changed = np.empty(n_chunks), np.empty(n_chunks, dtype=np.intp)
    sums, weight_sums = np.empty((n_chunks, 2, centres.shape[1])), np.empty((n_chunks, 2))
    # Each part ends at the chunk boundary nearest to its share of the rows.
    ends = [int(np.argmin(np.abs(bounds - bounds[-1] * (t + 1) // threads)))
            for t in range(threads)]
    parts = [np.array([first, stop], dtype=np.intp)
             for first, stop in zip([0, *ends[:-1]], ends, strict=True) if stop > first]
    for iteration in range(max_iter):
        largest = norms_of(centres, norms)
        part_pass = functools.partial(run_pass, data.X, data.mean, centres, norms, largest,
                                      weights, slack_scale, iteration == 0, labels, previous,
                                      x_sq_norms, bounds, inertias, sums, weight_sums, changed)
        for _ in data.library.map_chunks(data.X, part_pass, parts):  # every part run
            pass
        history[iteration], ending = update(centres, inertias, sums, weight_sums, changed,
                                            iteration == 0, tol)
        if ending != GOES_ON:
            return iteration + 1, ending
    return max_iter, RAN_OUT


def two_centre_run(data: PassData, centres: Array, *, max_iter: int, tol: float,
                   tie_ulps: int, threads: int) -> tuple[Array, tuple[Array, Array], int, bool,
                                                          bool, list[float]] | None:
    """The iterations of a two-centre Lloyd run over the rows of ``data`` in one compiled
    call (:func:`two_centre_iterations`), or, where the rows are more than one chunk and
    ``threads`` more than one, each iteration's pass shared among that many threads
    (:func:`shared_two_centre_iterations`); or None where the run is not for them: Numba
    is not installed, the rows or ``centres`` are not float64, ``centres`` are not two,
    have more than :data:`MAX_RUN_CENTRE_VALUES` values, the pass is not for the fused
    loop (:func:`assignment`'s rule), or an iteration left a cluster without weight
    (:func:`anykmeans._lloyd.lloyd` then runs from ``centres``). Ties within ``tie_ulps``
    ulps go to the first centre, as in :func:`assignment`; the chunks are ``data``'s,
    their sums added up in chunk order, as a pass adds them, on any number of threads.

    Returns
    -------
    centres : array of shape (2, n_features)
        The last iteration's new centres (a new array).
    state : (labels, x_sq_norms)
        The last iteration's labels and the rows' squared norms: a Lloyd pass's state.
    n_iter : int
    strict : bool
        Whether the run stopped on unchanged labels.
    converged : bool
        Whether it stopped before ``max_iter`` (on unchanged labels or the tolerance).
    history : list of float
        Each iteration's inertia.
    """
    X, dtype = data.X, np.dtype(np.float64)
    if (X.dtype != dtype or centres.dtype != dtype or centres.shape[0] != 2
            or centres.size > MAX_RUN_CENTRE_VALUES
            or (X.shape[0] * 2 < MIN_SCORES and not takes_fit())):
        return None
    run = compiled_two_centre_run()
    if run is None:
        return None
    slack_scale = window(dtype, X.shape[1], np.zeros(1), tie_ulps)[0]
    n_rows = X.shape[0]
    bounds = np.array([*(rows.start for rows in data.chunks(2)), n_rows], dtype=np.intp)
    labels, previous = np.empty(n_rows, dtype=np.intp), np.empty(n_rows, dtype=np.intp)
    x_sq_norms, history = np.empty(n_rows, dtype=dtype), np.empty(max_iter, dtype=dtype)
    centres = np.array(centres, order="C")
    weights = np.empty(0, dtype=dtype) if data.weights is None else data.weights
    arguments = (centres, slack_scale, max_iter, tol, labels, previous, x_sq_norms, history,
                 bounds)
    ended = None
    if threads > 1 and bounds.shape[0] > 2:
        ended = shared_two_centre_iterations(data, weights, *arguments, threads)
    n_iter, ending = ended or run(X, data.mean, centres, weights, *arguments[1:])
    if ending == EMPTY:
        return None
    return (centres, (labels, x_sq_norms), n_iter, ending == STRICT, ending != RAN_OUT,
            history[:n_iter].tolist())


@functools.cache
def compiled_two_centre_run() -> Callable[..., tuple[int, int]] | None:
    """:func:`two_centre_iterations` compiled by Numba (cached as :func:`compiled_kernel`'s
    loop; its own additions in the order written, :func:`two_centre_sums`'s free to be
    reordered as in :func:`compiled_two_centre_kernel`), or None without Numba."""
    if compiled_two_centre_kernel() is None:
        return None
    from numba.extending import register_jitable

    register_jitable(fastmath={"reassoc"})(two_centre_sums)  # callable from compiled code
    for step in (two_centre_norms, relabelled, two_centre_pass, two_centre_update):
        register_jitable(step)
    return compile_loop(two_centre_iterations)


@functools.cache
def compiled_two_centre_pass() -> Callable[..., None] | None:
    """:func:`two_centre_pass` compiled by Numba as :func:`compiled_two_centre_run` compiles
    it, or None without Numba."""
    if compiled_two_centre_run() is None:
        return None
    return compile_loop(two_centre_pass)


@functools.cache
def compiled_two_centre_norms() -> Callable[..., float] | None:
    """:func:`two_centre_norms` compiled by Numba (cached as :func:`compiled_kernel`'s loop),
    or None without Numba."""
    return compile_loop(two_centre_norms)


@functools.cache
def compiled_two_centre_update() -> Callable[..., tuple[float, int]] | None:
    """:func:`two_centre_update` compiled by Numba (cached as :func:`compiled_kernel`'s loop),
    or None without Numba."""
    return compile_loop(two_centre_update)


@functools.cache
def compiled_cluster_residual_sums() -> Callable[..., None] | None:
    """:func:`cluster_residual_sums` compiled by Numba (cached as :func:`compiled_kernel`'s
    loop), its sums over a row's features free to be reordered, or None without Numba."""
    return compile_loop(cluster_residual_sums, reordered_sums=True)


@functools.cache
def compiled_gather_centred() -> Callable[..., None] | None:
    """:func:`gather_centred` compiled by Numba (cached as :func:`compiled_kernel`'s loop), or
    None without Numba."""
    return compile_loop(gather_centred)


@functools.cache
def compiled_kernel() -> Callable[..., float] | None:
    """:func:`nearest_and_sums` compiled by Numba on first use, or None where Numba is not
    installed.

    The machine code is cached by Numba, so that later processes load it rather than
    compile it again: in ``NUMBA_CACHE_DIR`` where that is set, else in the
    ``__pycache__`` folder beside this module, else in Numba's folder in the user's
    cache (docs/guarantees.md). Where none of them can be written, the loop is compiled
    in memory, once per process, and nothing is written.
    """
    return compile_loop(nearest_and_sums)


@functools.cache
def compiled_two_centre_kernel() -> Callable[..., float] | None:
    """:func:`two_centre_sums` compiled by Numba (cached as :func:`compiled_kernel`'s loop),
    its sums over a row's features free to be reordered, or None without Numba."""
    return compile_loop(two_centre_sums, reordered_sums=True)


def compile_loop(function: Callable[..., Any], *,
                 reordered_sums: bool = False) -> Callable[..., Any] | None:
    """``function`` compiled by Numba, its machine code cached as :func:`compiled_kernel`
    says, or None where Numba is not installed (or ``NUMBA_DISABLE_JIT`` is set).

    With ``reordered_sums``, the compiler may reassociate the function's additions
    (Numba's ``fastmath={"reassoc"}``: a sum over a row's features is then added several
    features at a time); no other fast-math flag is set (no fused multiply-add, NaN and
    infinity kept).
    """
    if importlib.util.find_spec("numba") is None:
        return None
    import numba

    if numba.config.DISABLE_JIT:  # NUMBA_DISABLE_JIT: the loop would run in Python
        return None
    fastmath = {"reassoc"} if reordered_sums else False
    try:
        return numba.njit(nogil=True, cache=True, fastmath=fastmath)(function)
    except RuntimeError:  # Numba found no folder it can write its cache to
        return numba.njit(nogil=True, cache=False, fastmath=fastmath)(function)


#: A thread keeps a buffer for its next tiles only up to this size: what a fit with very many
#: centres needed is not held by the pool's threads after it.
MAX_HELD_BYTES = 8 * 2**20

_scratch = threading.local()


def _buffer(name: str, shape: tuple[int, int], dtype: np.dtype) -> Array:
    """A C-contiguous array of ``shape`` owned by the calling thread, reused across calls
    (fresh memory costs a page fault per 4 KiB, more than a small tile's arithmetic); one
    larger than :data:`MAX_HELD_BYTES` is made afresh each time."""
    size = shape[0] * shape[1]
    if size * dtype.itemsize > MAX_HELD_BYTES:
        return np.empty(shape, dtype=dtype)
    held = getattr(_scratch, name, None)
    if held is None or held.dtype != dtype or held.size < size:
        held = np.empty(size, dtype=dtype)
        setattr(_scratch, name, held)
    return held[:size].reshape(shape)


def tile_rows(n_features: int, n_clusters: int, itemsize: int) -> int:
    """Rows per tile: :data:`TILE_BYTES` of scores and centred rows, at least
    :data:`MIN_TILE_ROWS`."""
    return max(MIN_TILE_ROWS, TILE_BYTES // ((n_features + n_clusters) * itemsize))


_fit = threading.local()


@contextlib.contextmanager
def for_fit(scores: int) -> Iterator[None]:
    """While the ``with`` block lasts, the passes of the fit that the calling thread runs take
    the fused loop where ``scores``, a pass's over all of the fit's rows against all of its
    clusters, reach :data:`MIN_SCORES`, however few their own: a bisecting fit's two-centre
    passes over one cluster's rows are many, and the loop's compilation is paid once.

    A fit inside another (in the same thread) keeps the outer one's.
    """
    if getattr(_fit, "scores", None) is not None:
        yield
        return
    _fit.scores = scores
    try:
        yield
    finally:
        del _fit.scores


def takes_fit() -> bool:
    """Whether the passes of the fit that the calling thread runs take the fused loop by
    their scores (:func:`for_fit`), Numba aside."""
    return getattr(_fit, "scores", 0) >= MIN_SCORES


def window(dtype: np.dtype, n_features: int, centre_sq_norms: Array,
           tie_ulps: int) -> tuple[Any, Any, bool, float]:
    """What :func:`nearest_and_sums` needs of a pass to bound each row's window: its
    ``slack_scale``, ``max_centre_sq_norm``, ``recheck`` and ``tie_scale``, for rows of
    ``dtype`` with ``n_features`` features.

    Float32 rows are rechecked, as :func:`anykmeans._primitives.nearest` rechecks them: the
    window is then ``2 (d + 2)`` units of ``|x|^2 + max |c|^2``, which holds the rounding
    any library's product may make (:func:`~anykmeans._exact.close_call_bound`); float64
    rows' is the ties' ``tie_ulps`` units.
    """
    recheck = dtype != np.float64
    eps = np.finfo(dtype).eps
    scale = 2 * (n_features + 2) if recheck else tie_ulps
    return (dtype.type(scale * eps), dtype.type(np.max(centre_sq_norms)), recheck,
            tie_ulps * float(eps))


def assignment(data: PassData, X: Array, mean: Array, weights: Array | None, centres: Array,
               centre_sq_norms: Array, x_sq_norms: Array | None, previous_labels: Array | None,
               *, update: bool, exact_inertia: bool, tie_ulps: int) -> Assignment | None:
    """The assignment pass over the rows of ``data``, chunk by chunk, or None where the pass is
    not for the fused loop: Numba is not installed, the rows are not float32 or float64, the
    centres are of another dtype, or the pass has fewer than :data:`MIN_SCORES` scores (and
    so has the fit it belongs to: :func:`for_fit`).

    The contract of :func:`anykmeans._primitives.assign_block`. ``X`` and the arrays
    after it are NumPy arrays: ``data``'s own, or NumPy views of them; ``data``'s
    library runs the chunks (:meth:`~anykmeans._primitives.Data.map`). Each chunk
    writes its labels, and its rows' squared norms where they are not given, into
    the pass's arrays; its inertia, sums and count of changed labels are added up
    here, in chunk order.
    """
    if (X.dtype not in DTYPES or centres.dtype != X.dtype
            or (X.shape[0] * centres.shape[0] < MIN_SCORES and not takes_fit())):
        return None
    kernel = compiled_kernel()
    if kernel is None:
        return None
    dtype = X.dtype
    labels = np.empty(X.shape[0], dtype=np.intp)
    norms = np.empty(X.shape[0], dtype=dtype) if x_sq_norms is None else x_sq_norms
    slack_scale, max_norm, recheck, tie_scale = window(dtype, X.shape[1], centre_sq_norms,
                                                       tie_ulps)
    in_place = X.flags.c_contiguous and not np.any(mean)
    two_centres = (compiled_two_centre_kernel() if centres.shape[0] == 2 and not recheck
                   else None)
    chunk = functools.partial(assign_chunk, kernel, two_centres, X, mean, in_place, weights,
                              centres, centre_sq_norms, x_sq_norms is None, previous_labels,
                              update, exact_inertia, -2.0 * centres, slack_scale, max_norm,
                              recheck, tie_scale, labels, norms)
    total = None
    for part in data.map(chunk, centres.shape[0]):
        total = part if total is None else tuple(map(operator.add, total, part))
    inertia, *added = total
    sums, weight_sums = added[:2] if update else (None, None)
    n_changed = None if previous_labels is None else added[-1]
    return Assignment(labels, inertia, sums, weight_sums, norms, n_changed)


def assign_chunk(kernel: Callable[..., float], two_centres: Callable[..., float] | None,
                 X: Array, mean: Array, in_place: bool,
                 weights: Array | None, centres: Array, centre_sq_norms: Array,
                 computes_norms: bool, previous_labels: Array | None, update: bool,
                 exact_inertia: bool, scaled: Array, slack_scale: Any, max_norm: Any,
                 recheck: bool, tie_scale: float, labels: Array, norms: Array,
                 rows: slice) -> tuple[Array, ...]:
    """The assignment of the rows ``X[rows]`` (centred on ``mean``), tile by tile, or in one
    call of ``two_centres`` (:func:`compiled_two_centre_kernel`'s, or None: two centres
    of float64 take it, the rows read where they are).

    Where ``in_place`` (``mean`` is zero and ``X`` C-contiguous: a bisection's rows,
    centred when gathered), the tiles are read where they are, not copied. Writes the
    rows' labels into ``labels[rows]`` and, where ``computes_norms``, their squared norms
    into ``norms[rows]`` (else reads them there). ``kernel`` is
    :func:`compiled_kernel`'s (or :func:`nearest_and_sums` itself). What is the same
    for every chunk of a pass comes made: ``scaled`` is ``-2 centres``,
    ``slack_scale``, ``max_norm``, ``recheck`` and ``tie_scale`` are
    :func:`nearest_and_sums`'s.

    Returns
    -------
    tuple of arrays
        What adds up over chunks: the inertia (0-d, ``X``'s dtype); with
        ``update``, the float64 cluster sums and the weight per cluster in ``X``'s
        dtype; given ``previous_labels``, how many rows changed label (0-d).
    """
    dtype = X.dtype
    n_clusters, n_features = centres.shape
    n_rows = rows.stop - rows.start
    labels, norms = labels[rows], norms[rows]
    sums = np.zeros((n_clusters, n_features), dtype=np.float64)
    weight_sums = np.zeros(n_clusters, dtype=np.float64)
    no_weights = np.empty(0, dtype=dtype)
    if two_centres is not None:  # the whole chunk in one call: no tiles, no buffers
        inertia = two_centres(X[rows], mean, scaled, centre_sq_norms, norms, computes_norms,
                              no_weights if weights is None else weights[rows], centres,
                              slack_scale, max_norm, labels, sums, weight_sums, update,
                              exact_inertia)
    else:
        step = tile_rows(n_features, n_clusters, dtype.itemsize)
        # Each tile's centred rows are written by the loop over the tile before (see
        # nearest_and_sums), into the other of two buffers; the first tile's here.
        x = X[rows.start:rows.start + min(step, n_rows)]
        if not in_place:
            shape = (min(step, n_rows), n_features)
            buffers = [_buffer("x", shape, dtype), _buffer("next", shape, dtype)]
            x = np.subtract(x, mean, out=buffers[0])
        inertia = 0.0
        for start in range(0, n_rows, step):
            stop = min(start + step, n_rows)
            tile = slice(rows.start + start, rows.start + stop)
            if computes_norms:
                np.einsum("ij,ij->i", x, x, out=norms[start:stop])
            block = _buffer("scores", (n_clusters, stop - start), dtype)
            if n_clusters <= MAX_VECTOR_PRODUCTS:
                for j in range(n_clusters):
                    np.matmul(x, scaled[j], out=block[j])
            else:
                np.matmul(scaled, x.T, out=block)
            next_rows = X[rows.start + stop:rows.start + min(stop + step, n_rows)]
            if in_place:  # the next tile is read where it is: nothing to centre
                next_x, next_rows = next_rows, X[:0]
            else:
                next_x = buffers[1][:next_rows.shape[0]]
                buffers.reverse()
            inertia += kernel(block, centre_sq_norms, x, norms[start:stop],
                              no_weights if weights is None else weights[tile], centres,
                              slack_scale, max_norm, labels[start:stop], sums, weight_sums,
                              update, exact_inertia, next_rows, mean, next_x, recheck,
                              tie_scale)
            x = next_x
    added = [np.asarray(inertia, dtype=dtype)]
    if update:
        added += [sums, weight_sums.astype(dtype)]
    if previous_labels is not None:
        added.append(np.asarray(np.count_nonzero(labels != previous_labels[rows]), dtype=dtype))
    return tuple(added)
