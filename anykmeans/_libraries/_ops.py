"""The primitives the Array API standard lacks, written in the standard: the reference.

:class:`Primitives` is the third concern of :class:`~anykmeans._libraries._base.Library`:
the first True of a row, a chunk's centred rows and their layout, row norms,
segment sums and counts, a chunk's cluster sums. A library overrides those its
own functions do faster; every override is checked against the reference on
the same inputs (``tests/test_libraries.py``).
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from ._types import Array, Namespace


def first_true(xp: Namespace, mask: Array, axis: int) -> Array:
    """Index of the first True along ``axis`` (0 or 1) of a 2-D boolean ``mask``; the last
    index where there is none (a row whose scores are all NaN), so that indices stay in range.

    ``(m - 1) - max_j(mask_j * (m - 1 - j))``, in the narrowest integer type that holds
    ``m``: the standard's ``argmax`` is not defined on booleans, and along axis 0 this
    vectorises like a reduction along whole rows, which an argmax down the columns does not.
    """
    m = mask.shape[axis]
    dtype = xp.int8 if m < 2**7 else xp.int16 if m < 2**15 else xp.int32
    countdown = xp.arange(m - 1, -1, -1, dtype=dtype, device=array_api_compat.device(mask))
    marked = xp.astype(mask, dtype)
    marked *= countdown[:, None] if axis == 0 else countdown[None, :]
    return (m - 1) - xp.max(marked, axis=axis)


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


    def centred_rows(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """``X[rows] - mean``: a chunk of rows in the centred frame, a new array."""
        return X[rows, :] - mean

    def sq_norms(self, xp: Namespace, x: Array) -> Array:
        """Squared Euclidean norm of every row of ``x``."""
        return xp.sum(x * x, axis=1)

    def segment_sum(self, xp: Namespace, values: Array, segment_ids: Array,
                    n_segments: int) -> Array:
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

        Notes
        -----
        The reference is a one-hot matrix product, deterministic on every
        device (no atomic additions). Its ``n x n_segments`` one-hot block is
        a chunk's working set: callers pass a chunk's rows, not all of ``X``.
        """
        segments = xp.arange(n_segments, dtype=segment_ids.dtype,
                             device=array_api_compat.device(values))
        one_hot = xp.astype(segment_ids[:, None] == segments[None, :], values.dtype)
        return one_hot.T @ values

    def cluster_sums(self, xp: Namespace, x: Array, w: Array | None, labels: Array,
                     n_clusters: int) -> tuple[Array, Array]:
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
        sums : array of shape (n_clusters, n_features)
        weight_sums : array of shape (n_clusters,), ``x``'s dtype

        Notes
        -----
        A library with segment sums of its own uses them on the CPU plan; otherwise,
        and on every accelerator (where they add atomically), the one-hot block of the
        reference :meth:`segment_sum` is built once for both sums.
        """
        if self.native_segment_sum and not self.accelerator:
            weight_sums = (self.segment_count(xp, labels, n_clusters, x.dtype) if w is None
                           else self.segment_sum(xp, w, labels, n_clusters))
            return self.segment_sum(xp, x, labels, n_clusters), weight_sums
        clusters = xp.arange(n_clusters, dtype=labels.dtype, device=array_api_compat.device(x))
        one_hot = xp.astype(labels[:, None] == clusters[None, :], x.dtype)
        weight_sums = xp.sum(one_hot, axis=0) if w is None else one_hot.T @ w
        return one_hot.T @ x, weight_sums

    def segment_count(self, xp: Namespace, segment_ids: Array, n_segments: int,
                      dtype: Any) -> Array:
        """How many of ``segment_ids`` equal each segment, ``(n_segments,)`` in ``dtype``."""
        ones = xp.ones(segment_ids.shape[0], dtype=dtype,
                       device=array_api_compat.device(segment_ids))
        return self.segment_sum(xp, ones, segment_ids, n_segments)
