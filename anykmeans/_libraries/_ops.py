"""The primitives the Array API standard lacks, written in the standard: the reference.

:class:`Primitives` is the third concern of :class:`~anykmeans._libraries._base.Library`:
the first True of a row, a chunk's centred rows and their layout, row norms,
segment sums and counts, a chunk's cluster sums. A library overrides those its
own functions do faster; every override is checked against the reference on
the same inputs (``tests/test_libraries.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import array_api_compat

from ._pairs import Pair, pair_add, paired_sums, rounded_quotient
from ._types import Array, Namespace, PassData

#: Rows :meth:`Primitives.feature_means` adds up at a time without float64 (its pairs' parts
#: are a few copies of them).
MEAN_ROWS = 2**16


def first_true(xp: Namespace, mask: Array, axis: int, dtype: Any = None) -> Array:
    """Index of the first True along ``axis`` (0 or 1) of a 2-D boolean ``mask``; the last
    index where there is none (a row whose scores are all NaN), so that indices stay in range.

    The standard's ``argmax`` is not defined on booleans. Given ``dtype`` (the
    accelerator plan, in its index dtype), the least index where ``mask`` holds, from one
    ``where`` and one ``min``: the fewest operations. Otherwise ``(m - 1) - max_j(mask_j
    (m - 1 - j))`` in the narrowest integer type that holds ``m``: the fewest bytes, and
    along axis 0 it vectorises like a reduction along whole rows (NumPy's ``where`` of
    broadcast operands does not).
    """
    m = mask.shape[axis]
    device = array_api_compat.device(mask)
    if dtype is not None:
        indices = xp.arange(m, dtype=dtype, device=device)
        last = xp.full((), m - 1, dtype=dtype, device=device)
        return xp.min(xp.where(mask, indices[:, None] if axis == 0 else indices[None, :], last),
                      axis=axis)
    return _first_marked(xp, _marked(xp, mask, axis), axis)


def first_true_and_count(xp: Namespace, mask: Array, axis: int) -> tuple[Array, Array]:
    """:func:`first_true` along ``axis`` (without ``dtype``) and how many of ``mask`` are set
    along it, both from one integer copy of ``mask`` (the count in its integer type, which
    holds ``m``)."""
    marked = _marked(xp, mask, axis)
    count = xp.sum(marked, axis=axis, dtype=marked.dtype)
    return _first_marked(xp, marked, axis), count


def _marked(xp: Namespace, mask: Array, axis: int) -> Array:
    """``mask`` as 0 and 1 in the narrowest integer type that holds ``mask.shape[axis]``."""
    m = mask.shape[axis]
    return xp.astype(mask, xp.int8 if m < 2**7 else xp.int16 if m < 2**15 else xp.int32)


def _first_marked(xp: Namespace, marked: Array, axis: int) -> Array:
    """:func:`first_true` of the mask ``marked`` holds (:func:`_marked`), overwriting it."""
    m = marked.shape[axis]
    countdown = xp.arange(m - 1, -1, -1, dtype=marked.dtype,
                          device=array_api_compat.device(marked))
    marked *= countdown[:, None] if axis == 0 else countdown[None, :]
    return (m - 1) - xp.max(marked, axis=axis)


def has_float64(xp: Namespace, device: Any) -> bool:
    """Whether ``device`` of namespace ``xp`` supports float64 arithmetic.

    Remembered per namespace, device and default floating dtype where the device is
    hashable: asking a library (``__array_namespace_info__().dtypes``) may make arrays on
    the device (PyTorch's probes each dtype), and a pass asks once per chunk; a library
    whose configuration turns float64 on or off (JAX's ``jax_enable_x64``) changes its
    default floating dtype with it, so the answer follows the configuration.
    """
    info = xp.__array_namespace_info__()
    default = info.default_dtypes(device=device)["real floating"]
    try:
        return _has_float64(xp, device, default)
    except TypeError:  # an unhashable device
        return _has_float64.__wrapped__(xp, device, default)


@functools.cache
def _has_float64(xp: Namespace, device: Any, default: Any) -> bool:
    """:func:`has_float64`, asked of the library (``default`` only keys the cache)."""
    info = xp.__array_namespace_info__()
    return "float64" in info.dtypes(device=device, kind="real floating")


def sums_dtype(xp: Namespace, dtype: Any, device: Any) -> Any:
    """The dtype cluster sums of ``dtype`` rows are added up and returned in: float64 where
    ``device`` has it (the sums, and the centres rounded from them, then come out the same
    however a library orders its additions and however the rows are split into chunks),
    else ``dtype``."""
    return xp.float64 if has_float64(xp, device) else dtype


def sums_added(a: Array | Pair, b: Array | Pair) -> Array | Pair:
    """Two parts' sums (:meth:`Primitives.cluster_sums`'s) added up: pairs ``hi + lo`` (a
    device without float64) as pairs, arrays as arrays."""
    return pair_add(a, b) if isinstance(a, tuple) else a + b


def sums_rounded(sums: Array | Pair) -> Array:
    """Sums (:meth:`Primitives.cluster_sums`'s, added up by :func:`sums_added`) as one
    array: a pair ``hi + lo`` rounded once."""
    return sums[0] + sums[1] if isinstance(sums, tuple) else sums


def sums_by_sorting(xp: Namespace, dtype: Any, device: Any) -> bool:
    """Whether sums by segment of ``dtype`` values are :class:`SortedSegments`' (running
    sums in float64, wider than the values: their differences lose nothing the values'
    rounding keeps), rather than a one-hot product (float64 values, whose float64
    running sums would leave the rounding of their total in a segment's sum, or a device
    without float64)."""
    return dtype != xp.float64 and has_float64(xp, device)


class SortedSegments:
    """Rows grouped by segment id, for deterministic sums of any rows by segment.

    The ids are sorted once (stably: rows of a segment keep their order) and
    each segment's bounds in the sorted order found; a sum by segment is then
    the difference of running sums at those bounds, accumulated in float64
    (see :func:`sums_by_sorting` for where). No atomic additions (every device
    gives the same bits on every run), and ``O(n d)`` arithmetic, where a
    one-hot product takes ``O(n d n_segments)``.

    Parameters
    ----------
    xp : namespace
    segment_ids : integer array of shape (n,), values in ``[0, n_segments)``
    n_segments : int
    """

    def __init__(self, primitives: Primitives, xp: Namespace, segment_ids: Array,
                 n_segments: int) -> None:
        device = array_api_compat.device(segment_ids)
        self.xp, self.take = xp, functools.partial(primitives.take, xp)
        self.order = xp.argsort(segment_ids, stable=True)
        bounds = xp.arange(n_segments + 1, dtype=segment_ids.dtype, device=device)
        self.bounds = xp.searchsorted(self.take(segment_ids, self.order), bounds)

    def counts(self, dtype: Any) -> Array:
        """Rows per segment, in ``dtype``."""
        return self.xp.astype(self.bounds[1:] - self.bounds[:-1], dtype)

    def sums(self, values: Array, dtype: Any = None) -> Array:
        """The sum of the rows of ``values`` (``(n,)`` or ``(n, d)``) in each segment, in
        ``dtype`` (``values``' when None)."""
        xp = self.xp
        rows = xp.astype(self.take(values, self.order), xp.float64)
        at_bounds = self.take(xp.cumulative_sum(rows, axis=0, include_initial=True), self.bounds)
        return xp.astype(at_bounds[1:, ...] - at_bounds[:-1, ...],
                         values.dtype if dtype is None else dtype, copy=False)


class Primitives:
    """The reference primitives.

    Attributes
    ----------
    native_segment_sum : bool
        Whether the library overrides :meth:`segment_sum` with a segment sum of
        its own (scatter-adds), which :meth:`cluster_sums` then uses on the CPU
        plan (on an accelerator such sums add atomically, in no fixed order).

    Notes
    -----
    :meth:`cluster_sums` reads the plan (``accelerator``, of
    :class:`~anykmeans._libraries._plan.Plan`).
    """

    native_segment_sum = False

    def row_major_scores(self, n_rows: int, n_centres: int) -> bool:
        """Whether a chunk's score block is laid out row by row (``(n_rows, n_centres)``)
        rather than centre by centre: where the library reduces long rows best. The
        reference keeps centre-major blocks (see :func:`anykmeans._primitives.scores`)."""
        return False

    def first_true(self, xp: Namespace, mask: Array) -> Array:
        """Index of the first True along each row of a 2-D boolean ``mask`` (the reference:
        :func:`first_true` along axis 1)."""
        return first_true(xp, mask, axis=1)

    def scores(self, xp: Namespace, centres: Array, x: Array, centre_sq_norms: Array) -> Array:
        """``|c_j|^2 - 2 c_j . x_i`` for every centre ``j`` and row ``i`` of a chunk ``x``,
        ``(k, n_rows)``: the product with ``-2 c`` (:meth:`cross`; exact scaling, so the
        product equals ``-2 (c . x)`` bit for bit) and the norms added in place (the block
        is our own)."""
        block = self.cross(xp, -2.0 * centres, x)
        block += centre_sq_norms[:, None]
        return block

    def non_negative(self, xp: Namespace, x: Array) -> Array:
        """``x`` with negative values (rounding below a zero distance) set to zero.

        ``maximum`` with a 0-d zero rather than ``clip``: some libraries' ``clip``
        (array-api-compat's generic one, which CuPy gets) writes through boolean
        masks and reads their counts back to the host.
        """
        return xp.maximum(x, xp.zeros((), dtype=x.dtype, device=array_api_compat.device(x)))

    def take(self, xp: Namespace, x: Array, indices: Array, axis: int = 0) -> Array:
        """``xp.take(x, indices, axis=axis)`` for ``indices`` that lie in
        ``[0, x.shape[axis])``: a library whose ``take`` first maps negative indices (an
        operation on the indices for each gather) overrides this to gather directly."""
        return xp.take(x, indices, axis=axis)

    def take_along_axis(self, xp: Namespace, x: Array, indices: Array, axis: int) -> Array:
        """``xp.take_along_axis(x, indices, axis=axis)`` for ``indices`` that lie in
        ``[0, x.shape[axis])`` (see :meth:`take`)."""
        return xp.take_along_axis(x, indices, axis=axis)

    def least(self, xp: Namespace, values: Array, count: int) -> Array:
        """Indices of the ``count`` smallest values of each column of ``values`` (2-D, at
        least ``count`` rows), ``(count, n_columns)`` in the namespace's default index
        dtype, in no promised order (among equal values, any of them).

        The reference takes the least of each column ``count`` times, each time
        with the ones found set to infinity; a library with a selection of its
        own (``topk``) overrides this.
        """
        device = array_api_compat.device(values)
        rows = xp.arange(values.shape[0], device=device)[:, None]
        infinity = xp.full((), xp.inf, dtype=values.dtype, device=device)
        found = [xp.argmin(values, axis=0)]
        while len(found) < count:
            values = xp.where(rows == found[-1][None, :], infinity, values)
            found.append(xp.argmin(values, axis=0))
        return xp.stack(found)

    def matmul(self, xp: Namespace, a: Array, b: Array) -> Array:
        """``a @ b`` at the full precision of the operands' dtype, whatever the library's
        process-wide settings say (a library that may take float32 products through TF32 or
        bfloat16 overrides this to forbid it for this product): every matrix product of a
        fit, a prediction, a transform, a score, a seeding and a relocation is made here."""
        return a @ b

    def stacked_rows(self, xp: Namespace, parts: Iterable[Array], n_rows: int) -> Array:
        """The blocks of rows ``parts`` (``n_rows`` rows in all, in order) one under the other.

        The reference copies each block, as it comes, into one array made for
        all the rows (one block alone is returned as it is), so that the whole
        is held once beside one block, where a concatenation of the kept blocks
        holds it twice. A library whose arrays cannot be written (or are lazy)
        concatenates.
        """
        out, start = None, 0
        for part in parts:
            if out is None:
                if part.shape[0] == n_rows:
                    return part
                out = xp.empty((n_rows, *part.shape[1:]), dtype=part.dtype,
                               device=array_api_compat.device(part))
            out[start:start + part.shape[0], ...] = part
            start += part.shape[0]
        return out

    def centred_rows(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """``X[rows] - mean``: a chunk of rows in the centred frame, a new array."""
        return X[rows, :] - mean

    def sq_norms(self, xp: Namespace, x: Array) -> Array:
        """Squared Euclidean norm of every row of ``x``."""
        return xp.sum(x * x, axis=1)

    # -- the data's rows, where a library's data is not an Array API array (sparse) ----------

    centring = True
    """Whether a fit computes in the frame centred on the data's mean (for precision). A
    sparse library's is False: centring would make its rows dense."""

    def centring_offset(self, xp: Namespace, feature_means: Array) -> Array:
        """The offset a fit subtracts from every row, given the features' means: the means
        themselves where the library centres (:attr:`centring`), zeros where it does not."""
        return feature_means if self.centring else xp.zeros_like(feature_means)

    def feature_means(self, xp: Namespace, X: Array) -> Array:
        """The mean of every feature (column) of ``X``, ``(n_features,)``, in ``X``'s dtype:
        summed in float64 where ``X``'s device has it, else as pairs ``hi + lo``
        (:func:`~anykmeans._libraries._pairs.paired_sums`, :data:`MEAN_ROWS` rows at a time),
        so that it rounds to the same value whatever the order in which a library adds the
        rows up (one after another, or by blocks: Dask)."""
        if X.dtype == xp.float64:
            return xp.mean(X, axis=0)
        if not has_float64(xp, array_api_compat.device(X)):
            column_sums, total = self.compiled(_column_sums, static_argnums=(0,)), None
            for start in range(0, X.shape[0], MEAN_ROWS):
                part = column_sums(xp, X[start:min(start + MEAN_ROWS, X.shape[0]), :])
                total = part if total is None else pair_add(total, part)
            return rounded_quotient(xp, total, X.shape[0])[0, :]
        return xp.astype(xp.sum(X, axis=0, dtype=xp.float64) / X.shape[0], X.dtype)

    def largest_magnitude(self, xp: Namespace, X: Array) -> Array:
        """``max |X|`` as a 0-d array (NaN if ``X`` holds NaN).

        From the largest and the smallest value: two reductions that make no
        temporary the size of ``X`` (NaN propagates through both); lazy where
        ``X`` is, so that a caller can evaluate it with its other reductions.
        """
        return xp.max(xp.stack([xp.max(X), -xp.min(X)]))

    def astype(self, xp: Namespace, X: Array, dtype: Any) -> Array:
        """``X`` (the data or a chunk of its rows) converted to ``dtype``."""
        return xp.astype(X, dtype)

    def rows_at(self, xp: Namespace, X: Array, indices: Array) -> Array:
        """The rows of ``X`` at ``indices``, in ``X``'s own kind (a sparse library's stay
        sparse): a batch, a subsample, rows to search."""
        return xp.take(X, indices, axis=0)

    def centred_rows_at(self, xp: Namespace, X: Array, indices: Array, mean: Array) -> Array:
        """The rows of ``X`` at ``indices`` minus ``mean``, in ``X``'s own kind (see
        :meth:`rows_at`): rows to search, as a chunk."""
        return self.rows_at(xp, X, indices) - mean

    def dense(self, xp: Namespace, x: Array) -> Array:
        """A few rows of the data (seeds, rows that found clusters) as a dense array of the
        namespace: ``x`` itself where the data is dense."""
        return x

    def cross(self, xp: Namespace, points: Array, x: Array) -> Array:
        """``points @ x.T``, ``(n_points, n_rows)``: dense ``points`` against a chunk ``x`` of
        the data's rows (sparse where the library's data is), by :meth:`matmul`."""
        return self.matmul(xp, points, x.T)

    def scale_rows(self, xp: Namespace, x: Array, w: Array) -> Array:
        """Every row of a chunk ``x`` times its weight in ``w``, a new chunk."""
        return x * w[:, None]

    def residual_sq_norms(self, xp: Namespace, x: Array, centres: Array,
                          labels: Array) -> Array:
        """``|x_i - c_(labels_i)|^2`` for a chunk ``x``: exact, from the residuals (no
        cancellation)."""
        return self.sq_norms(xp, x - xp.take(centres, labels, axis=0))

    def sq_deviation_sums(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """Per feature, the sum over ``X[rows]`` of the squared deviations from ``mean``,
        ``(n_features,)``: a chunk's part of the features' variances."""
        x = self.centred_rows(xp, X, rows, mean)
        return xp.sum(x * x, axis=0)

    def segment_sum(self, xp: Namespace, values: Array, segment_ids: Array,
                    n_segments: int, dtype: Any = None) -> Array:
        """Sum the rows of ``values`` that share a segment id.

        Parameters
        ----------
        values : array of shape (n,) or (n, d)
        segment_ids : integer array of shape (n,), values in ``[0, n_segments)``
        n_segments : int
        dtype : dtype, optional
            The dtype the sums are added up and returned in (a wider one than
            ``values``'); ``values``' own by default.

        Returns
        -------
        array of shape (n_segments,) or (n_segments, d), ``dtype``, where row ``j``
        is the sum of the rows of ``values`` whose id is ``j``.

        Notes
        -----
        The reference is deterministic on every device (no atomic additions):
        :class:`SortedSegments`' differences of float64 running sums, or (see
        :func:`sums_by_sorting`) a one-hot matrix product (an ``n x n_segments``
        block: callers pass a chunk's rows, not all of ``X``).
        """
        if sums_by_sorting(xp, values.dtype, array_api_compat.device(values)):
            return SortedSegments(self, xp, segment_ids, n_segments).sums(values, dtype)
        if dtype is not None:
            values = xp.astype(values, dtype)
        return self.matmul(xp, _one_hot(xp, segment_ids, n_segments, values.dtype).T, values)

    def cluster_sums(self, xp: Namespace, x: Array, w: Array | None, labels: Array,
                     n_clusters: int) -> tuple[Array | Pair, Array | Pair]:
        """Per-cluster sums of a chunk's rows ``x`` (already weighted) and of their weights.

        Parameters
        ----------
        x : array of shape (n_rows, n_features)
        w : array of shape (n_rows,) or None
            The rows' weights; None for unit weights (the sums of weights are counts).
        labels : integer array of shape (n_rows,)
        n_clusters : int

        Returns
        -------
        sums : array of shape (n_clusters, n_features), or a pair of them
            In float64 where the device has it (:func:`sums_dtype`); else pairs
            ``hi + lo`` of ``x``'s dtype (:meth:`paired_cluster_sums`), which parts of a pass
            add up as pairs (:func:`sums_added`) and round once (:func:`sums_rounded`).
        weight_sums : array of shape (n_clusters,), ``x``'s dtype, or a pair of them
            A pair where ``sums`` are.

        Notes
        -----
        A library with segment sums of its own uses them on the CPU plan; otherwise,
        and on every accelerator (where they add atomically), the reference's:
        the labels sorted once for both sums (:class:`SortedSegments`), or one
        one-hot block for both (see :func:`sums_by_sorting`).
        """
        device = array_api_compat.device(x)
        if not has_float64(xp, device):
            return self.paired_cluster_sums(xp, x, w, labels, n_clusters)
        wide = sums_dtype(xp, x.dtype, device)
        if self.native_segment_sum and not self.accelerator:
            weight_sums = (self.segment_count(xp, labels, n_clusters, x.dtype) if w is None
                           else self.segment_sum(xp, w, labels, n_clusters))
            return self.segment_sum(xp, x, labels, n_clusters, wide), weight_sums
        if sums_by_sorting(xp, x.dtype, device):
            segments = SortedSegments(self, xp, labels, n_clusters)
            weight_sums = segments.counts(x.dtype) if w is None else segments.sums(w)
            return segments.sums(x, wide), weight_sums
        one_hot = _one_hot(xp, labels, n_clusters, x.dtype)
        weight_sums = xp.sum(one_hot, axis=0) if w is None else self.matmul(xp, one_hot.T, w)
        return self.matmul(xp, one_hot.T, x), weight_sums

    def paired_cluster_sums(self, xp: Namespace, x: Array, w: Array | None, labels: Array,
                            n_clusters: int) -> tuple[Pair, Pair]:
        """:meth:`cluster_sums` on a device without float64: each sum a pair ``hi + lo`` of
        ``x``'s dtype, as if added up in twice its precision, the same on every library
        (:func:`~anykmeans._libraries._pairs.paired_sums`), so that rounded once it is the
        value a float64 sum rounds to.

        The weights (ones for unit weights) are one more column of the rows. A
        block's rows are added by label with the library's segment sums on the CPU
        plan where it has its own (exact: any order gives the same sums), else by
        one product with the block's one-hot labels.
        """
        device = array_api_compat.device(x)
        n_rows, n_features = x.shape
        weights = xp.ones(n_rows, dtype=x.dtype, device=device) if w is None else w
        values = xp.concat([x, weights[:, None]], axis=1)
        native = self.native_segment_sum and not self.accelerator

        def add_up(blocks: Array) -> Array:
            n_blocks, rows, width = blocks.shape
            ids = labels
            if n_blocks * rows > n_rows:  # the padding's rows are zeros: any cluster
                ids = xp.concat([ids, xp.zeros(n_blocks * rows - n_rows, dtype=ids.dtype,
                                               device=device)])
            ids = xp.reshape(ids, (n_blocks, rows))
            if native:
                offsets = xp.arange(n_blocks, dtype=ids.dtype, device=device) * n_clusters
                sums = self.segment_sum(xp, xp.reshape(blocks, (n_blocks * rows, width)),
                                        xp.reshape(ids + offsets[:, None], (-1,)),
                                        n_blocks * n_clusters)
                return xp.reshape(sums, (n_blocks, n_clusters, width))
            clusters = xp.arange(n_clusters, dtype=ids.dtype, device=device)
            one_hot = xp.astype(clusters[None, :, None] == ids[:, None, :], x.dtype)
            return self.matmul(xp, one_hot, blocks)

        high, low = paired_sums(xp, values, add_up)
        return (high[:, :n_features], low[:, :n_features]), (high[:, n_features],
                                                              low[:, n_features])

    def segment_count(self, xp: Namespace, segment_ids: Array, n_segments: int,
                      dtype: Any) -> Array:
        """How many of ``segment_ids`` equal each segment, ``(n_segments,)`` in ``dtype``."""
        return SortedSegments(self, xp, segment_ids, n_segments).counts(dtype)

    # -- a pass's operands and sums, where a library's chunks would repeat model-sized work --

    sums_by_labels = False
    """Whether a pass adds its cluster sums up after its assignment, from its labels, into
    one array (:meth:`labelled_sums`), rather than each chunk making its own as it is
    assigned: for a library whose chunks' sums would each be a dense ``k x d`` array beside
    rows that are not (sparse data)."""

    updates_by_cluster = False
    """Whether a Lloyd pass leaves its cluster sums unmade (None; :meth:`labelled_sums` makes
    them where they are needed) and the run's update makes each cluster's new centre from its
    rows and writes it over the old one, ``update_by_cluster(data, labels, centres)``
    returning the squared shift, or None where it does not (a cluster without weight, rows
    its compiled loop does not take): for
    a library whose sums would be a second dense array of the centres' size beside rows
    that are not (SciPy's sparse data, with Numba)."""

    def chunk_centres(self, xp: Namespace, centres: Array) -> Array:
        """The centres as a pass's chunks multiply them: the same values, in the layout the
        library's product of a chunk reads without a copy, made once a pass rather than once
        a chunk. The reference's are the centres themselves."""
        return centres

    def labelled_sums(self, data: PassData, labels: Array,
                      n_clusters: int) -> tuple[Array, Array]:
        """Per-cluster sums of ``data``'s rows (centred, weighted) and of their weights, by
        ``labels`` (one per row): what a pass's chunks' :meth:`cluster_sums` add up to.

        Returns
        -------
        sums : array of shape (n_clusters, n_features)
        weight_sums : array of shape (n_clusters,)

        Notes
        -----
        The reference adds up the chunks' :meth:`cluster_sums`, chunk by chunk.
        """
        xp, total = data.xp, None
        for rows in data.chunks(n_clusters):
            x, w = data.centred(rows), None if data.weights is None else data.weights[rows]
            if w is not None:
                x = self.scale_rows(xp, x, w)
            part = self.cluster_sums(xp, x, w, labels[rows], n_clusters)
            total = part if total is None else tuple(map(sums_added, total, part))
        return sums_rounded(total[0]), sums_rounded(total[1])


def _column_sums(xp: Namespace, x: Array) -> Pair:
    """The sum of every column of ``x`` as a pair ``hi + lo`` (see
    :func:`~anykmeans._libraries._pairs.paired_sums`), ``(1, n_features)`` each."""
    return paired_sums(xp, x, lambda blocks: xp.sum(blocks, axis=1, keepdims=True))


def _one_hot(xp: Namespace, segment_ids: Array, n_segments: int, dtype: Any) -> Array:
    """``(n, n_segments)``: 1 where a row's id is the segment, in ``dtype``."""
    segments = xp.arange(n_segments, dtype=segment_ids.dtype,
                         device=array_api_compat.device(segment_ids))
    return xp.astype(segment_ids[:, None] == segments[None, :], dtype)
