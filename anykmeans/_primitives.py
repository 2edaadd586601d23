"""The hot operations of k-means, chunked over rows so that memory stays bounded.

Assignment computes, for a chunk of rows ``x`` and centres ``c``, the scores
``|c|^2 - 2 c.x`` with one matrix product and takes the tie-aware argmin per
row: a ``k x n_rows`` block that never grows past the chunk. The centre update
is a segment sum of the rows by label, accumulated in the same pass. What the
standard lacks is here, next to the generic code, and nowhere else in the
package names a library (but ``_namespace``): scatter-add (:func:`segment_sum`
has a generic one-hot matrix product plus native fast paths), running chunks on
every core for NumPy (:func:`map_chunks`), the layout of narrow NumPy chunks
(:func:`centred_rows`), one task per block for Dask (:func:`_assign_dask`) and
compilation for JAX (:func:`_compiled_assign_rows`).

Data is centred per chunk (``x - mean``) for precision: the caller's ``X`` is
never copied or modified. The rows' squared norms are computed once per Lloyd
run and handed back to each pass (:class:`Assignment`).
"""

from __future__ import annotations

import functools
import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, TypeVar

import array_api_compat

from ._namespace import (
    Array,
    Namespace,
    can_limit_blas,
    device_of,
    index_dtype,
    single_threaded_blas,
)

T = TypeVar("T")

#: Score differences below this many ulps of the score's magnitude are ties.
TIE_ULPS = 16

#: Bytes of working memory one chunk may use when ``chunk_size`` is not given.
#: Large enough that per-operation overhead vanishes, small enough that a
#: chunk's score block stays near the CPU's caches (measured in benchmarks/).
DEFAULT_CHUNK_BYTES = 8 * 2**20


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
    """``|c_j|^2 - 2 c_j . x_i`` for every centre ``j`` and row ``i`` of ``x``: ``(k, n_rows)``.

    The squared distance minus ``|x_i|^2``, from one matrix product. The block
    is centre-major: a reduction over centres then runs along whole rows of
    the block, which every library vectorises well (a reduction along short
    rows of length ``k`` does not). ``-2 c`` is exact, so the product equals
    ``-2 (c . x)`` bit for bit. The norms are added in place (the block is our
    own; libraries without in-place operators rebind it): a fresh block per
    operation costs more than the operation on a CPU.
    """
    block = (-2.0 * centres) @ x.T
    block += centre_sq_norms[:, None]
    return block


def nearest(xp: Namespace, x: Array, x_sq_norms: Array, centres: Array,
            centre_sq_norms: Array) -> tuple[Array, Array]:
    """Nearest centre of every row of ``x``, ties to the lower index.

    Parameters
    ----------
    x : array of shape (n_rows, n_features)
    x_sq_norms : array of shape (n_rows,)
    centres : array of shape (n_clusters, n_features)
    centre_sq_norms : array of shape (n_clusters,)

    Returns
    -------
    labels : array of shape (n_rows,), the namespace's default index dtype
        Always in ``[0, n_clusters)``: a row whose scores are all NaN (no
        centre compares as nearest) gets the last index.
    best : array of shape (n_rows,), the smallest score, so that
        ``x_sq_norms + best`` is the squared distance to the nearest centre.

    Notes
    -----
    Two centres count as tied for a row when their scores differ by less than
    the rounding of the score computation (``TIE_ULPS`` units in the last place
    of ``|x|^2 + max |c|^2``). Exact ties are common (integer data, seeds that
    are data rows) and each library rounds its matrix product differently;
    deciding them by index rather than by rounding is what makes every backend
    give the same labels.

    From 128 centres on, the centres are taken in consecutive groups of
    :func:`tie_group_size` (the last one padded with centres scoring
    infinity): the lowest tied index lies in the lowest group whose best score
    is tied, so the tie test runs on the group minima and then on that
    group's members only, and the score block is read once, for the minima.
    """
    n_clusters, n_rows = centres.shape[0], x.shape[0]
    group_size = tie_group_size(n_clusters)
    n_groups = -(-n_clusters // group_size)
    slack = TIE_ULPS * xp.finfo(x.dtype).eps * (x_sq_norms + xp.max(centre_sq_norms))
    padding = n_groups * group_size - n_clusters
    if padding:
        centres = xp.concat([centres, xp.zeros((padding, centres.shape[1]), dtype=centres.dtype,
                                               device=device_of(centres))])
        centre_sq_norms = xp.concat([centre_sq_norms, xp.full(padding, xp.inf,
                                                              dtype=centre_sq_norms.dtype,
                                                              device=device_of(centres))])
    block = xp.reshape(scores(x, centres, centre_sq_norms), (n_groups, group_size, n_rows))
    group_best = xp.min(block, axis=1) if group_size > 1 else block[:, 0, :]
    best = xp.min(group_best, axis=0)
    threshold = best + slack
    index = index_dtype(xp, device_of(x))
    group = xp.astype(_first_true(xp, group_best <= threshold), index)
    if group_size == 1:
        return xp.minimum(group, n_clusters - 1), best
    group = xp.minimum(group, n_groups - 1)
    members = xp.take_along_axis(block, xp.reshape(group, (1, 1, n_rows)), axis=0)[0, ...]
    member = xp.astype(_first_true(xp, members <= threshold), index)
    return xp.minimum(group * group_size + member, n_clusters - 1), best


def tie_group_size(n_clusters: int) -> int:
    """Centres per group in :func:`nearest`: 1 below 128 centres, else about ``sqrt(k) / 4``.

    Grouping replaces a tie test on all ``k`` scores of a row by one on its
    ``k / g`` group minima and one on ``g`` gathered scores, at the cost of a
    gather and of a few passes over the rows. Measured on NumPy (benchmarks
    notes), that pays from ``k = 128`` on, best with groups of 4 to 16
    centres at ``k`` of 256 to 1024: a power of two near ``sqrt(k) / 4``.
    """
    if n_clusters < 128:
        return 1
    return 2 ** round(math.log2(math.sqrt(n_clusters) / 4))


def _first_true(xp: Namespace, mask: Array) -> Array:
    """Index of the first True in every column of a 2-D boolean ``mask`` (every column has one).

    ``m - max_j(mask_j * (m - j))``, in the narrowest integer type that holds
    ``m``: it vectorises like a reduction along whole rows, which an argmax
    down the columns does not.
    """
    m = mask.shape[0]
    dtype = xp.int8 if m < 2**7 else xp.int16 if m < 2**15 else xp.int32
    countdown = xp.arange(m, 0, -1, dtype=dtype, device=device_of(mask))
    marked = xp.astype(mask, dtype)
    marked *= countdown[:, None]
    return m - xp.max(marked, axis=0)


#: NumPy lays out chunks of at most this many features feature by feature.
FEATURE_MAJOR_MAX_FEATURES = 8


def centred_rows(xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
    """``X[rows] - mean``: a chunk of rows in the centred frame, a new array.

    On NumPy, a chunk of at most :data:`FEATURE_MAJOR_MAX_FEATURES` features
    is laid out feature-major (Fortran order): the score product then reads
    it as a plain matrix and the row norms add whole columns, where short
    rows would make every operation pay per row (measured in benchmarks/).
    """
    chunk = X[rows, :]
    if array_api_compat.is_numpy_array(X) and X.shape[1] <= FEATURE_MAJOR_MAX_FEATURES:
        import numpy as np

        return np.subtract(chunk, mean, order="F")
    return chunk - mean


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


def segment_count(xp: Namespace, segment_ids: Array, n_segments: int, dtype) -> Array:
    """How many of ``segment_ids`` equal each segment, ``(n_segments,)`` in ``dtype``.

    :func:`segment_sum` of ones; NumPy counts with ``np.bincount`` and no
    weights, which skips the floating-point weights.
    """
    if array_api_compat.is_numpy_array(segment_ids):
        import numpy as np

        return np.bincount(segment_ids, minlength=n_segments).astype(dtype)
    ones = xp.ones(segment_ids.shape[0], dtype=dtype, device=device_of(segment_ids))
    return segment_sum(xp, ones, segment_ids, n_segments)


def segment_sum_generic(xp: Namespace, values: Array, segment_ids: Array, n_segments: int) -> Array:
    """:func:`segment_sum` in Array API operations only: a one-hot matrix product."""
    segments = xp.arange(n_segments, dtype=segment_ids.dtype, device=device_of(values))
    one_hot = xp.astype(segment_ids[:, None] == segments[None, :], values.dtype)
    return one_hot.T @ values


#: NumPy's segment sum scatter-adds directly below this many rows per segment
#: and sorts above it (each measured faster on its side: benchmarks notes).
SORT_MIN_ROWS_PER_SEGMENT = 4


def _segment_sum_numpy(values, segment_ids, n_segments):
    """Sort the rows by segment, then add up each run of equal ids.

    ``np.add.at`` is the direct scatter-add; its per-index overhead makes it
    slower than a radix sort of narrow ids, a gather and ``np.add.reduceat``
    (rows keep their order within a segment) unless segments get only a few
    rows each. ``reduceat`` pays per row and per inner loop, so rows of an
    even number of real values are added as half as many complex ones:
    complex addition adds the real and the imaginary parts on their own, so
    the sums are the same real additions.
    """
    import numpy as np

    if values.ndim == 1:
        return np.bincount(segment_ids, weights=values, minlength=n_segments).astype(values.dtype)
    n_rows, width = values.shape
    if n_rows < SORT_MIN_ROWS_PER_SEGMENT * n_segments:
        out = np.zeros(n_segments * width, dtype=values.dtype)
        flat_ids = (segment_ids[:, None] * width + np.arange(width)).ravel()
        np.add.at(out, flat_ids, values.ravel())
        return out.reshape(n_segments, width)
    narrow = np.int16 if n_segments <= np.iinfo(np.int16).max else np.int32
    ids = segment_ids.astype(narrow)
    order = np.argsort(ids, kind="stable")
    # Where each segment's run starts in the sorted ids (searchsorted runs without the
    # GIL, so that chunks on other threads go on; bincount holds it).
    bounds = np.searchsorted(np.take(ids, order), np.arange(n_segments + 1, dtype=narrow))
    present = bounds[:-1] < bounds[1:]
    starts = bounds[:-1][present]
    out = np.zeros((n_segments, width), dtype=values.dtype)
    if values.flags.f_contiguous and not values.flags.c_contiguous:
        # Feature-major rows (see centred_rows): gather and add along each feature.
        out[present] = np.add.reduceat(np.take(values.T, order, axis=1), starts, axis=1).T
        return out
    rows = np.take(values, order, axis=0)
    pair = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}
    if width % 2 == 0 and values.dtype in pair:
        rows = rows.view(pair[values.dtype])
    out[present] = np.add.reduceat(rows, starts, axis=0).view(values.dtype)
    return out


def _segment_sum_torch(values, segment_ids, n_segments):
    """``scatter_add_``: on the CPU many times faster than ``index_add_`` when few
    segments take many rows (measured in benchmarks/), and as fast elsewhere."""
    out = values.new_zeros((n_segments, *values.shape[1:]))
    index = segment_ids.reshape(-1, *(1,) * (values.ndim - 1)).expand(values.shape)
    return out.scatter_add_(0, index, values)


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
    inertia : 0-d array
        Weighted sum of the squared distances of the rows to their nearest
        centre, from the scores (``|x|^2 + min_j score``): the rounding of the
        assignment itself; from the residuals ``x - c`` when ``assign`` was
        asked for the exact inertia.
    sums : array of shape (n_clusters, n_features) or None
        Weighted sum of the (centred) rows of each cluster.
    weight_sums : array of shape (n_clusters,) or None
        Sum of the weights of the rows of each cluster.
    x_sq_norms : array of shape (n_samples,)
        Squared norm of every centred row: what the next assignment of the
        same rows may be given instead of computing it again.
    """

    labels: Array
    inertia: Array
    sums: Array | None
    weight_sums: Array | None
    x_sq_norms: Array


def assign(xp: Namespace, X: Array, centres: Array, mean: Array, rows: int,
           sample_weight: Array | None = None, *, update: bool = False,
           exact_inertia: bool = False, x_sq_norms: Array | None = None) -> Assignment:
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
        Weights of the rows; all ones when omitted (and then never multiplied).
    update : bool, default=False
        Also accumulate, in the same pass, the per-cluster sums that the
        centre update needs (``sums`` and ``weight_sums``; None otherwise).
    exact_inertia : bool, default=False
        Take the inertia from the residuals ``x - c`` (the inertia a fit
        reports, as :func:`labelled_inertia`) rather than from the scores.
    x_sq_norms : array of shape (n_samples,), optional
        The squared norms of the centred rows, as an earlier assignment of
        the same ``X`` and ``mean`` returned them (a Lloyd run computes them
        once); computed chunk by chunk when omitted.

    Notes
    -----
    Chunks may be processed concurrently (see :func:`map_chunks`); their
    results are added up in chunk order, so the result does not depend on
    it. A Dask array is assigned block by block in one pass, its per-block
    results meeting in a tree (see :func:`_assign_dask`).
    """
    if array_api_compat.is_dask_array(X):
        return _assign_dask(xp, X, centres, mean, rows, sample_weight, update, exact_inertia,
                            x_sq_norms)
    return _assign_chunks(xp, X, centres, mean, rows, sample_weight, update, exact_inertia,
                          x_sq_norms, map_chunks)


def _assign_chunks(xp: Namespace, X: Array, centres: Array, mean: Array, rows: int,
                   sample_weight: Array | None, update: bool, exact_inertia: bool,
                   x_sq_norms: Array | None, mapper: Callable) -> Assignment:
    """:func:`assign` on an eager array, ``mapper(X, function, chunks)`` running the chunks."""
    centre_sq_norms = sq_norms(xp, centres)
    assign_rows = _compiled_assign_rows() if array_api_compat.is_jax_array(X) else _assign_rows

    def assign_chunk(rows_slice: slice) -> Assignment:
        x = centred_rows(xp, X, rows_slice, mean)
        w = None if sample_weight is None else sample_weight[rows_slice]
        norms = None if x_sq_norms is None else x_sq_norms[rows_slice]
        return assign_rows(xp, x, norms, w, centres, centre_sq_norms, update, exact_inertia)

    labels, norms, total = [], [], None
    for part in mapper(X, assign_chunk, row_chunks(X.shape[0], rows)):
        labels.append(part.labels)
        norms.append(part.x_sq_norms)
        total = part if total is None else _add_totals(total, part)
    return total._replace(labels=xp.concat(labels),
                          x_sq_norms=xp.concat(norms) if x_sq_norms is None else x_sq_norms)


def _add_totals(a: Assignment, b: Assignment) -> Assignment:
    """The inertia and sums of two parts of an assignment added up (labels and norms dropped)."""
    def add(x: Array | None, y: Array | None) -> Array | None:
        return None if x is None else x + y

    return Assignment(None, a.inertia + b.inertia, add(a.sums, b.sums),
                      add(a.weight_sums, b.weight_sums), None)


def _serial(X: Array, function: Callable[[slice], T], chunks: Iterable[slice]) -> Iterator[T]:
    return map(function, chunks)


def _assign_block(block: Array, centres: Array, mean: Array, rows: int,
                  weights: Array | None, update: bool, exact_inertia: bool,
                  x_sq_norms: Array | None) -> Assignment:
    """One Dask task: :func:`assign` on a block, chunk by chunk (Dask runs blocks in parallel)."""
    xp = array_api_compat.array_namespace(block)
    return _assign_chunks(xp, block, centres, mean, rows, weights, update, exact_inertia,
                          x_sq_norms, _serial)


def _assign_dask(xp: Namespace, X: Array, centres: Array, mean: Array, rows: int,
                 sample_weight: Array | None, update: bool, exact_inertia: bool,
                 x_sq_norms: Array | None) -> Assignment:
    """:func:`assign` for a Dask array: one task per block of rows, a binary tree of additions.

    Each task assigns its block eagerly in the block's own library; labels (and
    row norms) stay lazy arrays with ``X``'s row chunks, and the inertia and sums are small
    lazy arrays at the root of the tree. Reading ``X`` once, the graph has
    ``O(blocks)`` tasks whatever the number of iterations before it. Task keys
    are fresh on every call (``pure=False``), so that a scheduler still holding
    an earlier fit's results never meets a known key with a different task.
    """
    import dask
    import dask.array as da

    X = X.rechunk({1: -1})
    blocks = X.to_delayed()[:, 0]

    def row_blocks(v: Array | None) -> list:
        return [None] * len(blocks) if v is None else v.rechunk((X.chunks[0],)).to_delayed()

    assign_block = dask.delayed(_assign_block, pure=False)
    parts = [assign_block(block, centres, mean, rows, w, update, exact_inertia, norms)
             for block, w, norms in zip(blocks, row_blocks(sample_weight),
                                        row_blocks(x_sq_norms), strict=True)]

    def rows_of(field: str, dtype) -> Array:
        return da.concatenate([da.from_delayed(getattr(part, field), shape=(n_rows,), dtype=dtype)
                               for part, n_rows in zip(parts, X.chunks[0], strict=True)])

    labels = rows_of("labels", index_dtype(xp, device_of(X)))
    if x_sq_norms is None:
        x_sq_norms = rows_of("x_sq_norms", X.dtype)
    add = dask.delayed(_add_totals, pure=False)
    while len(parts) > 1:
        parts = [add(*parts[i:i + 2]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    total = parts[0]
    n_clusters, n_features = centres.shape
    inertia = da.from_delayed(total.inertia, shape=(), dtype=X.dtype)
    if not update:
        return Assignment(labels, inertia, None, None, x_sq_norms)
    return Assignment(labels, inertia,
                      da.from_delayed(total.sums, shape=(n_clusters, n_features), dtype=X.dtype),
                      da.from_delayed(total.weight_sums, shape=(n_clusters,), dtype=X.dtype),
                      x_sq_norms)


def _assign_rows(xp: Namespace, x: Array, x_sq_norms: Array | None, w: Array | None,
                 centres: Array, centre_sq_norms: Array, update: bool,
                 exact_inertia: bool) -> Assignment:
    """:func:`assign` on one chunk ``x`` of centred rows with weights ``w`` (None: ones).

    ``x_sq_norms``, the rows' squared norms, is computed when None.
    """
    if x_sq_norms is None:
        x_sq_norms = sq_norms(xp, x)
    labels, best = nearest(xp, x, x_sq_norms, centres, centre_sq_norms)
    sq_distances = (residual_sq_norms(xp, x, centres, labels) if exact_inertia
                    else xp.clip(x_sq_norms + best, min=0.0))
    if w is None:
        inertia = xp.sum(sq_distances)
    else:
        inertia = xp.sum(w * sq_distances)
        x = x * w[:, None]
    if not update:
        return Assignment(labels, inertia, None, None, x_sq_norms)
    n_clusters = centres.shape[0]
    weight_sums = (segment_count(xp, labels, n_clusters, x.dtype) if w is None
                   else segment_sum(xp, w, labels, n_clusters))
    return Assignment(labels, inertia, segment_sum(xp, x, labels, n_clusters), weight_sums,
                      x_sq_norms)


@functools.cache
def _compiled_assign_rows() -> Callable[..., Assignment]:
    """:func:`_assign_rows` compiled by JAX (traced once per chunk shape).

    JAX dispatches each operation on its own; compiled, a chunk is one call,
    several times faster (measured in benchmarks/).
    """
    import jax

    return jax.jit(_assign_rows, static_argnums=(0, 6, 7))


def map_chunks(X: Array, function: Callable[[slice], T], chunks: Iterable[slice]) -> Iterator[T]:
    """``function(chunk)`` for every chunk of rows of ``X``, yielded in chunk order.

    NumPy computes each operation on one core; when ``threadpoolctl`` is
    installed, NumPy chunks run on a pool of one thread per core with BLAS
    limited to one thread each (scikit-learn runs its Lloyd loop the same
    way). Every other library, and NumPy without ``threadpoolctl``, runs
    the chunks one after another with its own threading. At most two chunks
    per thread are in flight, so memory stays bounded by the chunk size.
    """
    workers = _numpy_workers(X)
    if workers == 1:
        yield from map(function, chunks)
        return
    pending: deque = deque()
    with single_threaded_blas():
        try:
            for chunk in chunks:
                pending.append(_thread_pool(workers).submit(function, chunk))
                if len(pending) > 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _numpy_workers(X: Array) -> int:
    """Threads for NumPy chunk work: the usable cores, or 1 (see :func:`map_chunks`)."""
    if not array_api_compat.is_numpy_array(X) or X.shape[0] == 0:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not cores or cores < 2 or not can_limit_blas():
        return 1
    return cores


@functools.cache
def _thread_pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anykmeans")


def sq_distances_to_labels(xp: Namespace, X: Array, centres: Array, labels: Array,
                           mean: Array, rows: int) -> Array:
    """Squared distance of every row of ``X`` to the centre its label names.

    Computed from the residuals ``x - c`` (no cancellation), for the reported
    inertia and for choosing the rows that found new clusters.
    """
    def chunk(s: slice) -> Array:
        return residual_sq_norms(xp, X[s, :] - mean, centres, labels[s])

    return xp.concat(list(map_chunks(X, chunk, row_chunks(X.shape[0], rows))))


def residual_sq_norms(xp: Namespace, x: Array, centres: Array, labels: Array) -> Array:
    """``|x_i - c_(labels_i)|^2`` for centred rows ``x``: exact, no cancellation."""
    return sq_norms(xp, x - xp.take(centres, labels, axis=0))


def labelled_inertia(xp: Namespace, X: Array, centres: Array, labels: Array, mean: Array,
                     rows: int, sample_weight: Array | None = None) -> Array:
    """Weighted sum of the exact squared distances of the rows to their labels' centres (0-d).

    The inertia a fit reports; ``sample_weight`` None means unit weights.
    """
    sq_distances = sq_distances_to_labels(xp, X, centres, labels, mean, rows)
    return xp.sum(sq_distances if sample_weight is None else sample_weight * sq_distances)


def distances(xp: Namespace, X: Array, centres: Array, mean: Array, rows: int) -> Array:
    """Euclidean distances of every row of ``X`` to every centre, ``(n_samples, n_clusters)``.

    Only for callers that asked for this matrix (``transform``); computed by
    chunk like the rest.
    """
    centre_sq_norms = sq_norms(xp, centres)

    def block(s: slice) -> Array:
        x = X[s, :] - mean
        sq = scores(x, centres, centre_sq_norms).T + sq_norms(xp, x)[:, None]
        return xp.sqrt(xp.clip(sq, min=0.0))

    return xp.concat(list(map_chunks(X, block, row_chunks(X.shape[0], rows))))
