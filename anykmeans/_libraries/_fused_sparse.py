"""SciPy's fused sparse assignment: a CSR row's scores, its nearest centre and its distance
in one compiled loop.

With Numba installed, a pass over SciPy CSR rows runs chunk by chunk on the
NumPy plan's threads, the calling thread one of them, the chunks of even work
(:func:`pass_chunks`: text's rows hold very different numbers of values), as
many per core, each chunk one compiled loop (:func:`nearest_rows`) over its
rows: a row's stored values times the centres' columns they name (the centres
laid out column by column, so that a value meets ``k`` consecutive numbers),
the ``k`` scores then compared, the row's label, squared norm and distance
written, as scikit-learn's sparse Lloyd loop does. Nothing of the chunk's size
is made beyond its labels: no score block, no tie-test masks, no index arrays
of its stored values. A Lloyd pass makes no sums: the run's update sorts the
rows by label and makes each cluster's new centre from its rows, over its old
one (:func:`update_by_cluster`); where the sums are needed (a cluster without
weight to relocate), they are added by label after the pass, in row order,
into one ``k x d`` array
(:meth:`~anykmeans._libraries._scipy.CompressedSparse.labelled_sums`, by
:func:`add_rows_by_labels`): the same additions in the same order.

The loop decides as :func:`anykmeans._primitives.nearest` does: ties within its
slack go to the lower index, a row with a NaN score to the last centre; in
float32, a row whose window holds more than one centre (a close call) is left to
NumPy's fused loop (:func:`anykmeans._libraries._fused.nearest_and_sums`, on that
row made dense), which decides it as every library does. So the labels are the
standard path's, and the sums are bit for bit (the same additions in the same
order); ``tests/test_fused_sparse.py`` compares the two.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _fused, _fused_seeding
from ._threads import usable_cores
from ._types import Array, Assignment, PassData

#: A row costs a pass's loop about what this many of its stored values cost (its ``k`` scores
#: cleared, made distances and compared, at 20 and 100 centres alike): a pass's chunks, and
#: an update's runs of clusters, are cut where the stored values plus this much a row split
#: evenly (docs/notes/benchmark-history.md).
ROW_WORK = 4


def nearest_rows(data: Array, indices: Array, indptr: Array, start: int, stop: int,
                 centre_columns: Array, centre_sq_norms: Array, x_sq_norms: Array,
                 computes_norms: bool, w: Array, slack_scale: Any, max_centre_sq_norm: Any,
                 recheck: bool, tie_scale: float, exact: bool, labels: Array,
                 close: Array) -> float:
    """Label the CSR rows ``start:stop``; return their inertia, close calls left out.

    Parameters
    ----------
    data, indices, indptr : arrays
        The CSR matrix's stored values, their columns and its row pointers.
    start, stop : int
        The rows to label.
    centre_columns : array of shape (n_features, n_clusters)
        The centres' transpose, row-major: feature ``f``'s ``k`` values consecutive.
    centre_sq_norms : array of shape (n_clusters,)
    x_sq_norms : array of shape (stop - start,)
        The rows' squared norms; written, when ``computes_norms``: each row's stored
        values squared, added in float64 in order (as ``bincount`` adds them).
    computes_norms : bool
    w : array of shape (stop - start,) or (0,)
        The rows' weights; empty for unit weights.
    slack_scale, max_centre_sq_norm, recheck, tie_scale
        :func:`~anykmeans._libraries._fused.nearest_and_sums`'s: the window of a row's
        ties, and of its close calls when ``recheck``.
    exact : bool
        Take a row's squared distance from its residual, ``|c|^2`` plus, over its stored
        values, ``(x - c)^2 - c^2`` added in float64 (the sparse ``residual_sq_norms``),
        rather than from its score.
    labels : integer array of shape (stop - start,)
        Written: each row's nearest centre (a close call's: the lowest in its window).
    close : boolean array of shape (stop - start,)
        Written: whether the row is a close call (only when ``recheck``).

    Returns
    -------
    float
        The weighted squared distances of the rows that are no close call, added in
        float64.
    """
    n_clusters = centre_columns.shape[1]
    scores = np.empty(n_clusters, dtype=centre_columns.dtype)
    best = np.empty(1, dtype=centre_columns.dtype)  # in the scores' dtype, as nearest's
    rounded = np.empty(1, dtype=centre_columns.dtype)
    weighted = w.shape[0] > 0
    inertia = 0.0
    for i in range(stop - start):
        first, last = indptr[start + i], indptr[start + i + 1]
        scores[:] = 0
        for p in range(first, last):
            value, column = data[p], indices[p]
            for j in range(n_clusters):
                scores[j] += value * centre_columns[column, j]
        if computes_norms:
            norm = 0.0
            for p in range(first, last):
                norm += data[p] * data[p]
            x_sq_norms[i] = norm
        x_sq_norm = x_sq_norms[i]
        has_nan = False
        for j in range(n_clusters):
            scores[j] = -2 * scores[j] + centre_sq_norms[j]  # exact: -2 (c . x), then |c|^2
            has_nan |= scores[j] != scores[j]
        lowest = scores[0]
        for j in range(1, n_clusters):
            lowest = scores[j] if scores[j] < lowest else lowest
        best[0] = lowest
        if recheck:  # close calls: as nearest's window (float32 arithmetic, its order)
            best[0] += (slack_scale * (max_centre_sq_norm
                                       + 2 * np.sqrt(max_centre_sq_norm * x_sq_norm))
                        + np.float32(2 * tie_scale) * (x_sq_norm + max_centre_sq_norm))
        else:
            best[0] += slack_scale * (x_sq_norm + max_centre_sq_norm)
        label, n_within, window = n_clusters, 0, best[0]
        for j in range(n_clusters):  # the lowest centre within the window, and how many are
            within = scores[j] <= window
            label = min(label, j if within else n_clusters)
            n_within += within
        if has_nan:  # no centre is nearest
            label, n_within = n_clusters - 1, 0
        labels[i] = label
        close[i] = recheck and n_within > 1
        if close[i]:
            continue
        if has_nan:
            distance = np.nan
        elif exact:
            terms = 0.0
            for p in range(first, last):
                at = centre_columns[indices[p], label]
                residual = data[p] - at
                terms += residual * residual - at * at
            rounded[0] = terms  # to the scores' dtype, then |c|^2 added in it
            distance = max(float(rounded[0] + centre_sq_norms[label]), 0.0)
        else:
            distance = max(float(x_sq_norm + scores[label]), 0.0)
        inertia += (float(w[i]) if weighted else 1.0) * distance
    return inertia


def add_rows_by_labels(data: Array, indices: Array, indptr: Array, labels: Array, w: Array,
                       sum_columns: Array) -> None:
    """Add each CSR row, times its weight ``w[i]`` (``w`` empty: unit weights, not
    multiplied), into the sums of the cluster ``labels`` names, row by row in order;
    ``sum_columns`` is the sums' transpose ``(n_features, n_clusters)``, added to in
    place."""
    weighted = w.shape[0] > 0
    for i in range(labels.shape[0]):
        label = labels[i]
        for p in range(indptr[i], indptr[i + 1]):
            sum_columns[indices[p], label] += data[p] * w[i] if weighted else data[p]


def rows_by_label(labels: Array, indptr: Array, order: Array, starts: Array,
                  stored_starts: Array) -> None:
    """Sort the CSR rows (row pointers ``indptr``) by label, in row order within a label (a
    counting sort): the rows of cluster ``j`` are ``order[starts[j]:starts[j + 1]]``, and
    they hold ``stored_starts[j + 1] - stored_starts[j]`` stored values; ``order`` (one per
    row), ``starts`` and ``stored_starts`` (one per cluster, and one) are written."""
    starts[:] = 0
    stored_starts[:] = 0
    for i in range(labels.shape[0]):
        starts[labels[i] + 1] += 1
        stored_starts[labels[i] + 1] += indptr[i + 1] - indptr[i]
    for j in range(starts.shape[0] - 1):
        starts[j + 1] += starts[j]
        stored_starts[j + 1] += stored_starts[j]
    filled = starts[:-1].copy()
    for i in range(labels.shape[0]):
        order[filled[labels[i]]] = i
        filled[labels[i]] += 1


def update_clusters(data: Array, indices: Array, indptr: Array, order: Array, starts: Array,
                    w: Array, reciprocal: Array, centre_columns: Array, first: int, stop: int,
                    sums: Array, sq_shifts: Array) -> None:
    """Make the new centres of the clusters ``first:stop`` in place of their old ones.

    For each cluster, its CSR rows (:func:`rows_by_label`'s ``order`` and ``starts``),
    times their weights ``w`` (empty: unit weights, not multiplied), are added into
    ``sums`` (``n_features`` values, zeroed first) row by row in order, as
    :func:`add_rows_by_labels` adds them; the sum times the cluster's ``reciprocal``
    weight is its new centre, written over its column of ``centre_columns`` (the
    centres' transpose, ``(n_features, n_clusters)``), and its squared shift from the
    old centre (the squared differences in the centres' dtype, added in float64) into
    ``sq_shifts``.
    """
    weighted = w.shape[0] > 0
    for j in range(first, stop):
        sums[:] = 0
        for at in range(starts[j], starts[j + 1]):
            i = order[at]
            for p in range(indptr[i], indptr[i + 1]):
                sums[indices[p]] += data[p] * w[i] if weighted else data[p]
        sq_shift = 0.0
        for f in range(sums.shape[0]):
            centre = sums[f] * reciprocal[j]
            difference = centre - centre_columns[f, j]
            sq_shift += difference * difference
            centre_columns[f, j] = centre
        sq_shifts[j] = sq_shift


def repeats_a_column(indices: Array, indptr: Array, last_row: Array) -> bool:
    """Whether a CSR row (column indices ``indices``, row pointers ``indptr``) stores two
    values of one column, its columns in any order: ``last_row`` (one per column, none a
    row's index when called) is written, each column's last row that stored it."""
    for i in range(indptr.shape[0] - 1):
        for p in range(indptr[i], indptr[i + 1]):
            column = indices[p]
            if last_row[column] == i:
                return True
            last_row[column] = i
    return False


@functools.cache
def compiled_column_check() -> Callable[..., bool] | None:
    """:func:`repeats_a_column` compiled (cached as :func:`compiled_loops` are), or None
    where Numba is not installed."""
    return _fused.compile_loop(repeats_a_column)


def repeated_columns(X: Array) -> bool | None:
    """Whether a row of the CSR matrix ``X`` stores two values of one column (its columns
    in any order), by :func:`repeats_a_column` with one index a column beside ``X``; or None
    where the scan is not for ``X``: fewer than :data:`~anykmeans._libraries._fused.MIN_SCORES`
    stored values (Numba is not imported for it), or Numba is not installed."""
    if X.nnz < _fused.MIN_SCORES:
        return None
    check = compiled_column_check()
    if check is None:
        return None
    return bool(check(X.indices, X.indptr, np.full(X.shape[1], -1, dtype=np.intp)))


@functools.cache
def compiled_loops() -> tuple[Callable[..., Any], ...] | None:
    """:func:`nearest_rows`, :func:`add_rows_by_labels`, :func:`rows_by_label` and
    :func:`update_clusters` compiled by Numba and cached as
    :func:`~anykmeans._libraries._fused.compiled_kernel` is, or None where Numba is not
    installed."""
    loops = tuple(map(_fused.compile_loop, (nearest_rows, add_rows_by_labels, rows_by_label,
                                            update_clusters)))
    return None if None in loops else loops


def loops_for(X: Array, n_clusters: int) -> tuple[Callable[..., Any], ...] | None:
    """:func:`compiled_loops` for a pass over the CSR rows ``X`` against ``n_clusters``
    centres, or None where the pass is not for them: the values are not float32 or float64,
    or the pass has fewer than :data:`~anykmeans._libraries._fused.MIN_SCORES` products of a
    stored value and a centre (it takes milliseconds; Numba's import and load, more: Numba
    is not imported for it), or Numba is not installed."""
    if X.dtype not in _fused.DTYPES or X.nnz * n_clusters < _fused.MIN_SCORES:
        return None
    return compiled_loops()


def adds_by_labels(X: Array, n_clusters: int) -> Callable[..., None] | None:
    """:func:`add_rows_by_labels` compiled, for the rows ``X`` and ``n_clusters`` clusters as
    :func:`loops_for` says, or None."""
    loops = loops_for(X, n_clusters)
    return None if loops is None else loops[1]


def even_cuts(work_before: Callable[[int], int], n_items: int, n_parts: int) -> list[int]:
    """Where ``n_items`` items, in order, split into at most ``n_parts`` runs of about equal
    work: ``[0, ..., n_items]``, rising, no run empty. ``work_before(i)``, rising with
    ``i``, is the work of the items before ``i`` (``work_before(n_items)`` all of it);
    a run ends before the first item at or past each ``1 / n_parts`` of the whole."""
    total = work_before(n_items)
    cuts = {bisect.bisect_left(range(n_items + 1), part * total // n_parts, key=work_before)
            for part in range(1, n_parts)}
    return [0, *sorted(cut for cut in cuts if 0 < cut < n_items), n_items]


def n_parts(data: PassData, n_clusters: int) -> int:
    """How many chunks a pass over the rows of ``data`` against ``n_clusters`` centres takes:
    as many as the plan's chunks (``data.chunks``), rounded up to a multiple of the usable
    cores, so that each core gets as many. Counted from the cores, not from the threads a
    caller allows (as NumPy's plan shares rows among them), so that the chunks, and the
    order in which the pass's inertia adds up, do not depend on the caller's limits."""
    cores = usable_cores()
    return -(-sum(1 for _ in data.chunks(n_clusters)) // cores) * cores


def pass_chunks(data: PassData, n_clusters: int) -> list[slice]:
    """The chunks of a pass over the CSR rows of ``data`` (:func:`n_parts` of them), cut where
    the work, the stored values plus :data:`ROW_WORK` a row, splits evenly: each core gets
    an equal share, however unevenly the values are spread over the rows."""
    indptr = data.X.indptr
    bounds = even_cuts(lambda row: int(indptr[row]) + ROW_WORK * row, data.X.shape[0],
                       n_parts(data, n_clusters))
    return list(map(slice, bounds[:-1], bounds[1:]))


def update_by_cluster(data: PassData, labels: Array, centres: Array,
                      weight_sums: Array | None) -> Array | None:
    """Overwrite ``centres`` with the new centres of the CSR rows of ``data`` (not centred)
    labelled ``labels``, cluster by cluster; return the squared shift (float64, 0-d), or
    None, ``centres`` untouched, where a cluster has no weight.

    ``weight_sums`` holds each cluster's weight, or is None for unit weights: each
    cluster's count of rows then, from the sort (as ``bincount`` counts them, in the
    rows' dtype). The rows are sorted by label (:func:`rows_by_label`), then the
    clusters, in as many runs as a pass has chunks (:func:`n_parts`), of about equal work
    (their rows' stored values, :data:`ROW_WORK` a row and ``n_features`` a cluster), run
    on ``data``'s library's threads, each run one :func:`update_clusters` with a buffer of
    ``n_features`` values of its own. Each centre is its sum (the additions of
    :func:`add_rows_by_labels`, in its order) times its reciprocal weight, and the
    clusters' squared shifts are added up in cluster order: the result depends on neither
    the runs nor the threads. Beside the centres, one index a row and a buffer a run in
    flight are made. Needs Numba (:func:`loops_for` not None).
    """
    _, _, sort, update = compiled_loops()
    X, n_clusters = data.X, centres.shape[0]
    order = np.empty(X.shape[0], dtype=np.intp)
    starts = np.empty(n_clusters + 1, dtype=np.intp)
    stored_starts = np.empty(n_clusters + 1, dtype=np.intp)
    sort(labels, X.indptr, order, starts, stored_starts)
    if weight_sums is None:
        weight_sums = np.diff(starts).astype(X.dtype)
    if not np.all(weight_sums > 0):
        return None
    reciprocal = 1.0 / weight_sums
    w = np.empty(0, dtype=X.dtype) if data.weights is None else data.weights
    sq_shifts = np.empty(n_clusters, dtype=np.float64)

    def update_run(clusters: slice) -> None:
        update(X.data, X.indices, X.indptr, order, starts, w, reciprocal, centres.T,
               clusters.start, clusters.stop, np.empty(X.shape[1], dtype=X.dtype), sq_shifts)

    def work_before(cluster: int) -> int:
        return (int(stored_starts[cluster]) + ROW_WORK * int(starts[cluster])
                + X.shape[1] * cluster)

    bounds = even_cuts(work_before, n_clusters, n_parts(data, n_clusters))
    for _ in data.library.map_chunks(X, update_run, map(slice, bounds[:-1], bounds[1:])):
        pass
    return np.sum(sq_shifts)


def assignment(data: PassData, centres: Array, centre_columns: Array,
               centre_sq_norms: Array, x_sq_norms: Array | None,
               previous_labels: Array | None, *, update: bool, exact_inertia: bool,
               tie_ulps: int) -> Assignment | None:
    """The assignment pass over the CSR rows of ``data`` (not centred), chunk by chunk, or
    None where the pass is not for the compiled loop: Numba is not installed, the values
    are not float32 or float64, the centres are of another dtype, or the pass has fewer
    than :data:`~anykmeans._libraries._fused.MIN_SCORES` products of a stored value and a
    centre.

    The contract of :func:`anykmeans._primitives.assign_block`; ``centre_columns`` is
    ``centres.T`` row-major (the centres column by column). ``data``'s library runs the
    chunks (:func:`pass_chunks`: of even work) and adds the cluster sums by label after
    them (:meth:`~anykmeans._libraries._scipy.CompressedSparse.labelled_sums`).
    """
    X = data.X
    loops = loops_for(X, centres.shape[0]) if centres.dtype == X.dtype else None
    if loops is None:
        return None
    dtype = X.dtype
    labels = np.empty(X.shape[0], dtype=np.intp)
    norms = np.empty(X.shape[0], dtype=dtype) if x_sq_norms is None else x_sq_norms
    chunk = functools.partial(assign_chunk, loops[0], X, data.weights, centres,
                              centre_columns, centre_sq_norms, x_sq_norms is None,
                              previous_labels, exact_inertia,
                              _fused.window(dtype, X.shape[1], centre_sq_norms, tie_ulps),
                              labels, norms)
    total = None
    for part in data.library.map_chunks(X, chunk, pass_chunks(data, centres.shape[0])):
        total = part if total is None else [a + b for a, b in zip(total, part, strict=True)]
    inertia, n_changed = total
    sums, weight_sums = (data.library.labelled_sums(data, labels, centres.shape[0]) if update
                         else (None, None))
    return Assignment(labels, np.asarray(inertia, dtype=dtype), sums, weight_sums, norms,
                      None if previous_labels is None else np.asarray(n_changed, dtype=dtype))


def assign_chunk(loop: Callable[..., float], X: Array, weights: Array | None, centres: Array,
                 centre_columns: Array, centre_sq_norms: Array, computes_norms: bool,
                 previous_labels: Array | None, exact_inertia: bool,
                 window: tuple[Any, Any, bool, float], labels: Array, norms: Array,
                 rows: slice) -> tuple[Any, Any]:
    """The assignment of the CSR rows ``X[rows]`` by ``loop`` (:func:`nearest_rows`), its close
    calls then decided by NumPy's fused loop on those rows made dense.

    Writes the rows' labels into ``labels[rows]`` and, where ``computes_norms``, their
    squared norms into ``norms[rows]`` (else reads them there). ``window`` holds
    :func:`~anykmeans._libraries._fused.nearest_and_sums`'s ``slack_scale``,
    ``max_centre_sq_norm``, ``recheck`` and ``tie_scale``.

    Returns
    -------
    inertia : float
        The rows' weighted squared distances, added in float64.
    n_changed : int
        How many rows' labels differ from ``previous_labels`` (0 without them).
    """
    slack_scale, max_norm, recheck, tie_scale = window
    dtype = X.dtype
    labels, norms = labels[rows], norms[rows]
    w = np.empty(0, dtype=dtype) if weights is None else weights[rows]
    close = np.empty(rows.stop - rows.start, dtype=np.bool_)
    inertia = loop(X.data, X.indices, X.indptr, rows.start, rows.stop, centre_columns,
                   centre_sq_norms, norms, computes_norms, w, slack_scale, max_norm, recheck,
                   tie_scale, exact_inertia, labels, close)
    if recheck and close.any():
        (at,) = np.nonzero(close)
        x = X[at + rows.start].toarray()
        block = np.matmul(centres, x.T)
        block *= -2  # exact: the product with -2 c, as the fused loop's block
        decided = labels[at]
        no_rows = np.empty((0, X.shape[1]), dtype=dtype)
        no_sums = np.empty((0, 0), dtype=np.float64)
        inertia += _fused.compiled_kernel()(
            block, centre_sq_norms, x, norms[at], w[at] if w.shape[0] else w, centres,
            slack_scale, max_norm, decided, no_sums, np.empty(0), False, exact_inertia,
            no_rows, np.empty(0, dtype=dtype), no_rows, True, tie_scale)
        labels[at] = decided
    n_changed = (0 if previous_labels is None
                 else np.count_nonzero(labels != previous_labels[rows]))
    return inertia, n_changed


def chunk_lowering(X: Array, row_slice: Callable[[slice], Array], points: Array,
                   point_sq_norms: Array, x_sq_norms: Array, weight: Array, closest: Array,
                   pending: bool, search_rows: int,
                   n_steps: int) -> Callable[[slice], tuple[Array, Array, Array]] | None:
    """:func:`lower_chunk` for a step of a k-means++ seeding of ``n_steps`` steps over the CSR
    rows ``X`` (not centred), or None where the step is not for the compiled loop: Numba is
    not installed, the values are not float32 or float64, the distances are not float64, or
    the seeding makes fewer than :data:`~anykmeans._libraries._fused.MIN_SCORES` products of
    a stored value and a point.

    ``row_slice(rows)`` is ``X[rows]``, CSR, as the library slices it; ``points`` (``X``'s
    dtype, dense) are the pending seed (first, when ``pending``) and the candidates; the
    other arguments are :func:`lower_chunk`'s, as
    :func:`anykmeans._libraries._fused_seeding.chunk_lowering` takes them for dense rows.
    """
    if (X.dtype not in _fused.DTYPES or points.dtype != X.dtype
            or closest.dtype != np.float64
            or X.nnz * points.shape[0] * n_steps < _fused.MIN_SCORES):
        return None
    kernel = _fused_seeding.compiled_kernel()
    if kernel is None:
        return None
    return functools.partial(lower_chunk, kernel, row_slice,
                             np.ascontiguousarray(-2.0 * points.T, dtype=np.float64),
                             point_sq_norms, x_sq_norms, weight, closest, pending, search_rows)


def lower_chunk(kernel: Callable[..., None], row_slice: Callable[[slice], Array],
                scaled: Array, point_sq_norms: Array, x_sq_norms: Array, weight: Array,
                closest: Array, pending: bool, search_rows: int,
                rows: slice) -> tuple[Array, Array, Array]:
    """One chunk's part of a k-means++ step over CSR rows: their products with the points, by
    SciPy (the standard path's product: float32 values widened, each row's values added in
    the order they are stored), then NumPy's fused lowering of them
    (:func:`~anykmeans._libraries._fused_seeding.lower_and_sum`): nothing of the size of the
    chunk's rows times the points but the products.

    Parameters
    ----------
    kernel : callable
        :func:`~anykmeans._libraries._fused_seeding.lower_and_sum`, compiled.
    row_slice : callable
        ``row_slice(rows)``: the CSR rows ``rows`` (starting on a search block, the chunk's).
    scaled : float64 array of shape (n_features, n_points)
        ``-2`` times the pending seed (first, when ``pending``) and the candidates, point by
        point in columns.
    point_sq_norms, x_sq_norms, weight, closest, pending, search_rows
        As for :func:`anykmeans._libraries._fused_seeding.lower_chunk`.

    Returns
    -------
    :func:`anykmeans._libraries._fused_seeding.lower_chunk`'s ``lowered``, ``potentials``
    and ``block_sums``.
    """
    n_rows = rows.stop - rows.start
    lowered = np.empty(n_rows, dtype=np.float64)
    sums = np.zeros((scaled.shape[1] - int(pending), -(-n_rows // search_rows)),
                    dtype=np.float64)
    block = np.ascontiguousarray(row_slice(rows) @ scaled)
    kernel(block, point_sq_norms, x_sq_norms[rows], weight[rows], closest[rows], pending,
           search_rows, 0, lowered, sums)
    return lowered, np.sum(sums, axis=1), sums
