"""NumPy's compiled loops for two centres: a bisection's passes, its Lloyd runs, its
children's inertias and its gathers.

With Numba installed, a pass against two centres of float64 rows (a bisection's) takes a loop
of its own (:func:`two_centre_sums`): no tiles, no BLAS product; each row is read once,
centred, scored against both centres, labelled and added to its cluster's sums while it is
near the processor (:func:`anykmeans._libraries._fused.assignment` takes it for such
passes). A two-centre Lloyd run is compiled whole (:func:`two_centre_run`: its iterations in
one call on one thread, or each iteration's pass one call per thread over consecutive
chunks, the chunks' sums added in chunk order either way), and so are the two children's
inertias (:func:`cluster_inertias`) and the gather of a cluster's rows
(:func:`centred_rows_at`). Each gives :func:`anykmeans._lloyd.lloyd`'s and NumPy's values to
the bit (``tests/test_fused.py``). The loops that call one another are in this module: Numba's
cache sees a change to a loop's own file only.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import _fused
from ._types import Array, PassData

#: A gather of fewer rows than this (a seeding step's candidates) is NumPy's indexing: it takes
#: microseconds, and the compiled gather (:func:`centred_rows_at`) need not be loaded for it.
MIN_GATHERED_ROWS = 2**12


def two_centre_sums(x: Array, mean: Array, scaled: Array, centre_sq_norms: Array,
                    x_sq_norms: Array, computes_norms: bool, w: Array, centres: Array,
                    slack_scale: Any, max_centre_sq_norm: Any, labels: Array, sums: Array,
                    weight_sums: Array, update: bool, exact: bool) -> float:
    """:func:`~anykmeans._libraries._fused.nearest_and_sums` for two centres, its scores made here
    a row at a time: each row is read from memory once, centred, scored against both centres,
    labelled and added to its cluster's sums while it is in the processor's registers and
    first-level cache.

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
        :func:`~anykmeans._libraries._fused.nearest_and_sums`'s (no close calls are rechecked: the
        rows are float64).

    Returns
    -------
    float
        The rows' weighted sum of squared distances, added in float64.

    Notes
    -----
    The labels follow :func:`~anykmeans._libraries._fused.nearest_and_sums`'s rule (the lower
    centre within the slack of the best score, the last where a score is NaN) and each cluster's
    sums add its rows in row order. A row's products, norm and residual distance are sums
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
    where the pass is not for the compiled loop (:func:`~anykmeans._libraries._fused.assignment`'s
    rule, and ``labels`` an integer array).

    Chunk by chunk (``data.map``), each chunk's sums added in float64, then the chunks' in
    chunk order: the same bits on any number of threads.
    """
    X, dtype = data.X, data.X.dtype
    if (X.dtype not in _fused.DTYPES or centres.dtype != dtype or labels.dtype.kind not in "iu"
            or (X.shape[0] * centres.shape[0] < _fused.MIN_SCORES and not _fused.takes_fit())):
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
    thread's fit does not take the fused loop (:func:`~anykmeans._libraries._fused.takes_fit`).

    The indices are split into ``parts`` runs of about as many, each one compiled call,
    ``run(function, slices)`` calling ``function`` on each run's slice of them (``map``:
    one after another; a library's :meth:`~anykmeans._libraries.Library.map_chunks`: on
    its threads)."""
    if (X.ndim != 2 or X.dtype not in _fused.DTYPES or not X.flags.c_contiguous
            or mean.dtype != X.dtype or mean.shape != (X.shape[1],)
            or indices.ndim != 1 or indices.dtype.kind not in "iu"
            or indices.shape[0] < MIN_GATHERED_ROWS or not _fused.takes_fit()):
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
    added up in chunk order, as :func:`~anykmeans._libraries._fused.assignment` adds them, then the
    update and stopping tests of :func:`anykmeans._lloyd.lloyd`: ``centres`` (float64, ``(2,
    n_features)``) replaced by the new ones (the sums times their weight's reciprocal), unless a
    cluster has no weight.

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
        :func:`~anykmeans._libraries._fused.assignment` adds them up.

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
    loop (:func:`~anykmeans._libraries._fused.assignment`'s rule), or an iteration left a cluster
    without weight (:func:`anykmeans._lloyd.lloyd` then runs from ``centres``). Ties within
    ``tie_ulps`` ulps go to the first centre, as in
    :func:`~anykmeans._libraries._fused.assignment`; the chunks are ``data``'s, their sums added up
    in chunk order, as a pass adds them, on any number of threads.

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
            or (X.shape[0] * 2 < _fused.MIN_SCORES and not _fused.takes_fit())):
        return None
    run = compiled_two_centre_run()
    if run is None:
        return None
    slack_scale = _fused.window(dtype, X.shape[1], np.zeros(1), tie_ulps)[0]
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
    """:func:`two_centre_iterations` compiled by Numba (cached as
    :func:`~anykmeans._libraries._fused.compiled_kernel`'s loop; its own additions in the order
    written, :func:`two_centre_sums`'s free to be reordered as in
    :func:`compiled_two_centre_kernel`), or None without Numba."""
    if compiled_two_centre_kernel() is None:
        return None
    from numba.extending import register_jitable

    register_jitable(fastmath={"reassoc"})(two_centre_sums)  # callable from compiled code
    for step in (two_centre_norms, relabelled, two_centre_pass, two_centre_update):
        register_jitable(step)
    return _fused.compile_loop(two_centre_iterations)


@functools.cache
def compiled_two_centre_pass() -> Callable[..., None] | None:
    """:func:`two_centre_pass` compiled by Numba as :func:`compiled_two_centre_run` compiles
    it, or None without Numba."""
    if compiled_two_centre_run() is None:
        return None
    return _fused.compile_loop(two_centre_pass)


@functools.cache
def compiled_two_centre_norms() -> Callable[..., float] | None:
    """:func:`two_centre_norms` compiled by Numba (cached as
    :func:`~anykmeans._libraries._fused.compiled_kernel`'s loop), or None without Numba."""
    return _fused.compile_loop(two_centre_norms)


@functools.cache
def compiled_two_centre_update() -> Callable[..., tuple[float, int]] | None:
    """:func:`two_centre_update` compiled by Numba (cached as
    :func:`~anykmeans._libraries._fused.compiled_kernel`'s loop), or None without Numba."""
    return _fused.compile_loop(two_centre_update)


@functools.cache
def compiled_cluster_residual_sums() -> Callable[..., None] | None:
    """:func:`cluster_residual_sums` compiled by Numba (cached as
    :func:`~anykmeans._libraries._fused.compiled_kernel`'s loop), its sums over a row's features
    free to be reordered, or None without Numba."""
    return _fused.compile_loop(cluster_residual_sums, reordered_sums=True)


@functools.cache
def compiled_gather_centred() -> Callable[..., None] | None:
    """:func:`gather_centred` compiled by Numba (cached as
    :func:`~anykmeans._libraries._fused.compiled_kernel`'s loop), or None without Numba."""
    return _fused.compile_loop(gather_centred)


@functools.cache
def compiled_two_centre_kernel() -> Callable[..., float] | None:
    """:func:`two_centre_sums` compiled by Numba (cached as
    :func:`~anykmeans._libraries._fused.compiled_kernel`'s loop), its sums over a row's features
    free to be reordered, or None without Numba."""
    return _fused.compile_loop(two_centre_sums, reordered_sums=True)
