"""The hot operations of k-means, chunked over rows so that memory stays bounded.

Assignment computes, for a chunk of rows ``x`` and centres ``c``, the scores
``|c|^2 - 2 x.c`` with one matrix product and takes the argmin per row: an
``n_rows x k`` block that never grows past the chunk. The centre update is a
segment sum of the rows by label. The standard has no scatter-add, so
:func:`segment_sum` has a generic one-hot matrix product plus native fast
paths for the libraries that have one; this module is the only place in the
package that names a library.

Data is centred per chunk (``x - mean``) for precision: the caller's ``X`` is
never copied or modified.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import array_api_compat

from ._namespace import Array, Namespace, device_of

#: Score differences below this many ulps of the score's magnitude are ties.
TIE_ULPS = 16

#: Bytes of working memory one chunk may use when ``chunk_size`` is not given.
DEFAULT_CHUNK_BYTES = 32 * 2**20


def chunk_rows(n_samples: int, n_features: int, n_clusters: int, itemsize: int,
               chunk_size: int | None = None) -> int:
    """Rows per chunk: ``chunk_size`` if given, else what fits the memory budget.

    A chunk holds its centred rows, its score block and the one-hot block of the
    generic segment sum, about ``2 (n_features + n_clusters)`` values per row.
    """
    if chunk_size is None:
        per_row = 2 * (n_features + n_clusters) * itemsize
        chunk_size = max(1, DEFAULT_CHUNK_BYTES // per_row)
    return min(chunk_size, n_samples)


def row_chunks(n_samples: int, rows: int) -> Iterator[slice]:
    """Slices covering ``range(n_samples)`` in consecutive chunks of ``rows``."""
    for start in range(0, n_samples, rows):
        yield slice(start, min(start + rows, n_samples))


def scores(x: Array, centres: Array, centre_sq_norms: Array) -> Array:
    """``|c_j|^2 - 2 x_i . c_j`` for every row ``i`` of ``x`` and centre ``j``.

    The squared distance minus ``|x_i|^2``: the same argmin, one matrix product.
    """
    return centre_sq_norms - 2.0 * (x @ centres.T)


def nearest(xp: Namespace, x: Array, centres: Array, centre_sq_norms: Array) -> Array:
    """Index of the nearest centre of every row of ``x``, ties to the lower index.

    Two centres count as tied for a row when their squared distances differ by
    less than the rounding of the distance computation (``TIE_ULPS`` units in
    the last place of ``|x|^2 + max |c|^2``). Exact ties are common (integer
    data, seeds that are data rows) and each library rounds its matrix product
    differently; deciding them by index rather than by rounding is what makes
    every backend give the same labels.
    """
    chunk_scores = scores(x, centres, centre_sq_norms)
    best = xp.min(chunk_scores, axis=1)
    slack = TIE_ULPS * xp.finfo(x.dtype).eps * (sq_norms(xp, x) + xp.max(centre_sq_norms))
    within = chunk_scores <= (best + slack)[:, None]
    return xp.argmax(xp.astype(within, xp.int8), axis=1)


def sq_norms(xp: Namespace, x: Array) -> Array:
    """Squared Euclidean norm of every row of ``x``.

    NumPy uses ``einsum``, as scikit-learn does: it makes no temporary, and its
    rounding is scikit-learn's, which decides exact ties between centres (common
    on integer-valued data such as digits) the same way.
    """
    if array_api_compat.is_numpy_array(x):
        import numpy as np

        return np.einsum("ij,ij->i", x, x)
    return xp.sum(x * x, axis=1)


def segment_sum(xp: Namespace, values: Array, segment_ids: Array, n_segments: int) -> Array:
    """Sum the rows of ``values`` that share a segment id.

    Parameters
    ----------
    values : array of shape (n,) or (n, d)
    segment_ids : integer array of shape (n,), values in ``[0, n_segments)``
    n_segments : int

    Returns
    -------
    array of shape (n_segments,) or (n_segments, d), ``values``' dtype, where
    row ``j`` is the sum of the rows of ``values`` whose id is ``j``.
    """
    native = _native_segment_sum(values)
    if native is not None:
        return native(values, segment_ids, n_segments)
    return segment_sum_generic(xp, values, segment_ids, n_segments)


def segment_sum_generic(xp: Namespace, values: Array, segment_ids: Array, n_segments: int) -> Array:
    """:func:`segment_sum` in Array API operations only: a one-hot matrix product."""
    segments = xp.arange(n_segments, dtype=segment_ids.dtype, device=device_of(values))
    one_hot = xp.astype(segment_ids[:, None] == segments[None, :], values.dtype)
    return one_hot.T @ values


def _segment_sum_numpy(values, segment_ids, n_segments):
    import numpy as np

    if values.ndim == 1:
        return np.bincount(segment_ids, weights=values, minlength=n_segments).astype(values.dtype)
    out = np.zeros((n_segments, values.shape[1]), dtype=values.dtype)
    np.add.at(out, segment_ids, values)
    return out


def _segment_sum_torch(values, segment_ids, n_segments):
    out = values.new_zeros((n_segments, *values.shape[1:]))
    return out.index_add_(0, segment_ids, values)


def _segment_sum_jax(values, segment_ids, n_segments):
    import jax

    return jax.ops.segment_sum(values, segment_ids, num_segments=n_segments)


def _segment_sum_cupy(values, segment_ids, n_segments):
    import cupy
    import cupyx

    out = cupy.zeros((n_segments, *values.shape[1:]), dtype=values.dtype)
    cupyx.scatter_add(out, segment_ids, values)
    return out


def _native_segment_sum(values):
    """The library's own scatter-add for ``values``, or None (use the generic path).

    Libraries are recognised through ``array_api_compat``'s ``is_*_array``,
    which look in ``sys.modules``: nothing is imported that the caller has not.
    """
    if array_api_compat.is_numpy_array(values):
        return _segment_sum_numpy
    if array_api_compat.is_torch_array(values):
        return _segment_sum_torch
    if array_api_compat.is_jax_array(values):
        return _segment_sum_jax
    if array_api_compat.is_cupy_array(values):
        return _segment_sum_cupy
    return None


class Assignment(NamedTuple):
    """What one pass of assignment over the data produced.

    Attributes
    ----------
    labels : integer array of shape (n_samples,)
        Index of the nearest centre of every row (ties go to the lower index).
    sq_distances : array of shape (n_samples,)
        Squared distance of every row to the centre it was assigned.
    sums : array of shape (n_clusters, n_features) or None
        Weighted sum of the (centred) rows of each cluster.
    weight_sums : array of shape (n_clusters,) or None
        Sum of the weights of the rows of each cluster.
    """

    labels: Array
    sq_distances: Array
    sums: Array | None
    weight_sums: Array | None


def assign(xp: Namespace, X: Array, centres: Array, mean: Array, rows: int,
           sample_weight: Array | None = None) -> Assignment:
    """Assign every row of ``X`` to its nearest centre, chunk by chunk.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    centres : array of shape (n_clusters, n_features)
        Centres in the centred frame (``X - mean``).
    mean : array of shape (n_features,)
        Subtracted from each chunk of ``X`` before use.
    rows : int
        Rows per chunk.
    sample_weight : array of shape (n_samples,), optional
        When given, the weighted per-cluster sums of the centre update are
        accumulated in the same pass.
    """
    n_clusters = centres.shape[0]
    centre_sq_norms = sq_norms(xp, centres)
    labels, sq_distances = [], []
    sums = weight_sums = None
    for rows_slice in row_chunks(X.shape[0], rows):
        x = X[rows_slice, :] - mean
        chunk_labels = nearest(xp, x, centres, centre_sq_norms)
        residual = x - xp.take(centres, chunk_labels, axis=0)
        labels.append(chunk_labels)
        sq_distances.append(sq_norms(xp, residual))
        if sample_weight is not None:
            w = sample_weight[rows_slice]
            chunk_sums = segment_sum(xp, x * w[:, None], chunk_labels, n_clusters)
            chunk_weights = segment_sum(xp, w, chunk_labels, n_clusters)
            sums = chunk_sums if sums is None else sums + chunk_sums
            weight_sums = chunk_weights if weight_sums is None else weight_sums + chunk_weights
    return Assignment(xp.concat(labels), xp.concat(sq_distances), sums, weight_sums)


def sq_distances_to_labels(xp: Namespace, X: Array, centres: Array, labels: Array,
                           mean: Array, rows: int) -> Array:
    """Squared distance of every row of ``X`` to the centre its label names."""
    return xp.concat([
        sq_norms(xp, X[s, :] - mean - xp.take(centres, labels[s], axis=0))
        for s in row_chunks(X.shape[0], rows)
    ])


def distances(xp: Namespace, X: Array, centres: Array, mean: Array, rows: int) -> Array:
    """Euclidean distances of every row of ``X`` to every centre, ``(n_samples, n_clusters)``.

    Only for callers that asked for this matrix (``transform``); computed by
    chunk like the rest.
    """
    centre_sq_norms = sq_norms(xp, centres)
    blocks = []
    for s in row_chunks(X.shape[0], rows):
        x = X[s, :] - mean
        sq = scores(x, centres, centre_sq_norms) + sq_norms(xp, x)[:, None]
        blocks.append(xp.sqrt(xp.clip(sq, min=0.0)))
    return xp.concat(blocks)
