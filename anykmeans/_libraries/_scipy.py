"""SciPy sparse: CSR data on the CPU, as scikit-learn takes it; everything else is NumPy's.

A fit of sparse data computes as scikit-learn's does: on the rows as they are
(centring would make them dense: :attr:`SciPySparse.centring` is False), a chunk
of rows a CSR matrix sliced from ``X``, its scores ``x @ c.T`` one sparse-dense
product (row-major, :meth:`~SciPySparse.row_major_scores`), its cluster sums one
sparse product with the chunk's one-hot labels. Nothing the size of ``X``
dense is made: a chunk makes its score block, its centres' sums (``k x d``) and
vectors of its non-zeros. The centres, the labels and every other array of a
fit are NumPy's, computed by :class:`~anykmeans._libraries._numpy.NumPy`, which
this library extends.

Any SciPy sparse format is taken (``*_matrix`` and ``*_array``) and converted to
CSR, as scikit-learn converts it; duplicate entries are summed, in a copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._numpy import NumPy
from ._plan import sparse_chunk_rows
from ._types import Array, Namespace


def _is_sparse(x: Any) -> bool:
    return type(x).__module__.startswith("scipy.sparse")


def _row_slice(X: Any, rows: slice) -> Any:
    """``X[rows]`` as a CSR matrix of views of ``X``'s values and column indices (SciPy's
    slicing copies them: the whole of ``X`` for a pass of one chunk)."""
    start, stop = X.indptr[rows.start], X.indptr[rows.stop]
    return type(X)((X.data[start:stop], X.indices[start:stop],
                    X.indptr[rows.start:rows.stop + 1] - start),
                   shape=(rows.stop - rows.start, X.shape[1]))


def _row_ids(x: Any) -> np.ndarray:
    """The row of every stored value of the CSR matrix ``x``."""
    return np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))


class SciPySparse(NumPy):
    """SciPy sparse matrices and arrays (CSR after :meth:`prepare`), on the CPU."""

    name = "scipy"
    install = "pip install scipy"
    native_segment_sum = True
    centring = False

    @staticmethod
    def owns(x: Array) -> bool:
        return _is_sparse(x)

    def device_of(self, x: Array) -> Any:
        """The CPU: SciPy's arrays have no device attribute."""
        return "cpu"

    def stand_in(self, x: Array) -> Array:
        """An empty NumPy array: the namespace of the fit's dense arrays."""
        return np.empty(0, dtype=x.dtype)

    def prepare(self, x: Array, name: str) -> Array:
        """CSR (another format converted, as scikit-learn does), in canonical form (sorted
        indices, no duplicates: summed in a copy, the caller's matrix untouched)."""
        if x.ndim != 2:
            return x  # check_data names the shape
        if x.format != "csr":
            x = x.tocsr()
        if not x.has_canonical_format:
            x = x.copy()
            x.sum_duplicates()
        return x

    def astype(self, xp: Namespace, X: Array, dtype: Any) -> Array:
        return X.astype(dtype, copy=False) if _is_sparse(X) else super().astype(xp, X, dtype)

    def largest_magnitude(self, xp: Namespace, X: Array) -> Array:
        """The stored values' largest magnitude (zeros are smaller); NaN if one is NaN: from
        their largest and smallest, no temporary."""
        return np.asarray(max(np.max(X.data, initial=0.0), -np.min(X.data, initial=0.0)),
                          dtype=X.dtype)

    def feature_means(self, xp: Namespace, X: Array) -> Array:
        """The columns' sums over the rows (SciPy's ``mean`` copies the values first)."""
        return (np.asarray(X.sum(axis=0)).reshape(-1) / X.shape[0]).astype(X.dtype)

    def data_chunk_rows(self, X: Array, n_centres: int, itemsize: int,
                        chunk_size: int | None = None) -> int:
        """:func:`~anykmeans._libraries._plan.sparse_chunk_rows` in the CPU plan's budget."""
        n_samples, n_features = X.shape
        return sparse_chunk_rows(n_samples, n_features, X.nnz, n_centres, itemsize,
                                 self.chunk_bytes("cpu", 0), chunk_size)

    def fused_assignment(self, *args: Any, **kwargs: Any) -> None:
        """None: the fused loop reads dense rows."""
        return None

    def row_major_scores(self, n_rows: int, n_centres: int) -> bool:
        """Always: ``x @ c.T`` is the product a CSR chunk computes directly."""
        return True

    def centred_rows(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """``X[rows]`` as it is, CSR (views of ``X``'s arrays): sparse data is not centred (its
        offset is zero)."""
        return _row_slice(X, rows)

    def centred_rows_at(self, xp: Namespace, X: Array, indices: Array, mean: Array) -> Array:
        return self.rows_at(xp, X, indices)

    def rows_at(self, xp: Namespace, X: Array, indices: Array) -> Array:
        return X[np.asarray(indices)] if _is_sparse(X) else super().rows_at(xp, X, indices)

    def dense(self, xp: Namespace, x: Array) -> Array:
        return x.toarray() if _is_sparse(x) else x

    def sq_norms(self, xp: Namespace, x: Array) -> Array:
        """Of a CSR chunk: its stored values squared, added row by row in order."""
        if not _is_sparse(x):
            return super().sq_norms(xp, x)
        return np.bincount(_row_ids(x), weights=x.data * x.data,
                           minlength=x.shape[0]).astype(x.dtype)

    def residual_sq_norms(self, xp: Namespace, x: Array, centres: Array,
                          labels: Array) -> Array:
        """Of a CSR chunk: ``|c|^2`` plus, over the stored values, ``(x - c)^2 - c^2``
        (scikit-learn's sparse distance), at least zero; nothing ``n_rows x d`` is made."""
        if not _is_sparse(x):
            return super().residual_sq_norms(xp, x, centres, labels)
        rows = _row_ids(x)
        at = centres[labels[rows], x.indices]
        terms = (x.data - at) ** 2 - at * at
        sq = (np.bincount(rows, weights=terms, minlength=x.shape[0]).astype(x.dtype)
              + super().sq_norms(xp, centres)[labels])
        return np.maximum(sq, 0)

    def scale_rows(self, xp: Namespace, x: Array, w: Array) -> Array:
        if not _is_sparse(x):
            return super().scale_rows(xp, x, w)
        scaled = x.copy()
        scaled.data = x.data * np.repeat(w, np.diff(x.indptr))
        return scaled

    def cluster_sums(self, xp: Namespace, x: Array, w: Array | None, labels: Array,
                     n_clusters: int) -> tuple[Array, Array]:
        """Of a CSR chunk: its rows added by label in one sparse product with the one-hot
        labels (each cluster's rows in row order), made dense: ``k x d``."""
        if not _is_sparse(x):
            return super().cluster_sums(xp, x, w, labels, n_clusters)
        n_rows = x.shape[0]
        one_hot = type(x)((np.ones(n_rows, dtype=x.dtype), (labels, np.arange(n_rows))),
                          shape=(n_clusters, n_rows))
        weight_sums = (self.segment_count(xp, labels, n_clusters, x.dtype) if w is None
                       else self.segment_sum(xp, w, labels, n_clusters))
        return (one_hot @ x).toarray(), weight_sums

    def sq_deviation_sums(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """Over the stored values ``(x - m)^2 - m^2`` by feature, plus ``m^2`` for every row:
        the deviations of the zeros too, without making them."""
        x = _row_slice(X, rows)
        at = mean[x.indices]
        terms = (x.data - at) ** 2 - at * at
        return (np.bincount(x.indices, weights=terms, minlength=X.shape[1]).astype(X.dtype)
                + x.shape[0] * mean * mean)
