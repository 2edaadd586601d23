"""SciPy sparse: CSR data on the CPU, as scikit-learn takes it; everything else is NumPy's.

A fit of sparse data computes as scikit-learn's does: on the rows as they are
(centring would make them dense: :attr:`CompressedSparse.centring` is False), a
chunk of rows a CSR matrix sliced from ``X``, its scores ``x @ c.T`` one
sparse-dense product (row-major, :meth:`~CompressedSparse.row_major_scores`)
against the centres laid out once a pass as the product reads them
(:meth:`~CompressedSparse.chunk_centres`). A pass's cluster sums are added after
its assignment, by label, straight into one ``k x d`` array
(:meth:`~CompressedSparse.labelled_sums`): a chunk makes no array of the
centres' size; with Numba, a Lloyd run makes no sums at all, each new centre
made from its cluster's rows over the old one
(:meth:`~SciPySparse.update_by_cluster`). Nothing the size of ``X`` dense is
made. The centres, the labels and every other array of a fit are NumPy's,
computed by :class:`~anykmeans._libraries._numpy.NumPy`, which
:class:`SciPySparse` extends.

Any SciPy sparse format is taken (``*_matrix`` and ``*_array``) and converted to
CSR, as scikit-learn converts it; duplicate entries are summed, in a sorted copy. A
row's columns may come in any order (:meth:`SciPySparse.computes_as_is`): they are
not sorted.

``cupyx.scipy.sparse`` mirrors ``scipy.sparse``: :class:`CompressedSparse` is
written over the data's sparse type and its dense array module
(:meth:`~CompressedSparse.array_module`), so that CuPy's sparse library
(:mod:`~anykmeans._libraries._cupy_sparse`) overrides only what differs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from . import _fused_sparse
from ._numpy import NumPy
from ._plan import sparse_chunk_rows
from ._types import Array, Assignment, Namespace, PassData


class CompressedSparse:
    """Compressed sparse rows (CSR after :meth:`prepare`) of a SciPy-like sparse module,
    computed with its dense array module: the methods a library of such data overrides.

    A mixin, first among the bases of a library's class, before the library of its
    dense arrays (NumPy's for SciPy, CuPy's for ``cupyx.scipy.sparse``).

    Attributes
    ----------
    sparse_types : str
        The module prefix of the data's types (``"scipy.sparse"``).
    """

    sparse_types = ""
    centring = False
    sums_by_labels = True

    @classmethod
    def owns(cls, x: Array) -> bool:
        return type(x).__module__.startswith(cls.sparse_types + ".")

    def array_module(self) -> ModuleType:
        """The module of the dense arrays this data computes with (``numpy``)."""
        return np

    def stand_in(self, x: Array) -> Array:
        """An empty dense array: the namespace of the fit's dense arrays."""
        return self.array_module().empty(0, dtype=x.dtype)

    def prepare(self, x: Array, name: str) -> Array:
        """CSR (another format converted, as scikit-learn does), as :meth:`computes_as_is`
        takes it: otherwise in canonical form (sorted indices, duplicates summed), in a
        copy, the caller's matrix untouched."""
        if len(x.shape) != 2:
            return x  # check_data names the shape
        if x.format != "csr":
            x = x.tocsr()
        if not self.computes_as_is(x):
            x = x.copy()
            x.sum_duplicates()
        return x

    def computes_as_is(self, x: Array) -> bool:
        """Whether the CSR matrix ``x`` is computed on as it is: in canonical form (sorted
        column indices, none repeated within a row)."""
        return x.has_canonical_format

    def astype(self, xp: Namespace, X: Array, dtype: Any) -> Array:
        if not self.owns(X):
            return super().astype(xp, X, dtype)
        return X if X.dtype == dtype else X.astype(dtype)

    def largest_magnitude(self, xp: Namespace, X: Array) -> Array:
        """The stored values' largest magnitude (zeros are smaller; zero where none is
        stored); NaN if one is NaN: from their largest and smallest, no temporary."""
        m = self.array_module()
        if X.nnz == 0:
            return m.zeros((), dtype=X.dtype)
        return m.maximum(m.max(X.data), -m.min(X.data))

    def feature_means(self, xp: Namespace, X: Array) -> Array:
        """The columns' sums over the rows (SciPy's ``mean`` copies the values first)."""
        sums = self.array_module().asarray(X.sum(axis=0)).reshape(-1)
        return (sums / X.shape[0]).astype(X.dtype)

    def data_chunk_rows(self, X: Array, n_centres: int, itemsize: int,
                        chunk_size: int | None = None) -> int:
        """:func:`~anykmeans._libraries._plan.sparse_chunk_rows` in the plan's budget."""
        n_samples, n_features = X.shape
        stored_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        return sparse_chunk_rows(n_samples, n_features, X.nnz, n_centres, itemsize,
                                 self.chunk_bytes(self.device_of(X), stored_bytes), chunk_size,
                                 chunk_sums=False)

    def fused_assignment(self, *args: Any, **kwargs: Any) -> None:
        """None: the fused loop reads dense rows."""
        return None

    def row_major_scores(self, n_rows: int, n_centres: int) -> bool:
        """Always: ``x @ c.T`` is the product a CSR chunk computes directly."""
        return True

    def chunk_centres(self, xp: Namespace, centres: Array) -> Array:
        """The centres column by column (Fortran order; no copy if they are already): the
        product of a CSR chunk reads ``c.T`` row by row, and copies it into that layout
        where it is not."""
        return self.array_module().asfortranarray(centres)

    def row_slice(self, X: Array, rows: slice) -> Array:
        """``X[rows]`` as a CSR matrix of views of ``X``'s values and column indices (SciPy's
        slicing copies them: the whole of ``X`` for a pass of one chunk)."""
        start, stop = int(X.indptr[rows.start]), int(X.indptr[rows.stop])
        return type(X)((X.data[start:stop], X.indices[start:stop],
                        X.indptr[rows.start:rows.stop + 1] - start),
                       shape=(rows.stop - rows.start, X.shape[1]))

    def row_ids(self, x: Array) -> Array:
        """The row of every stored value of the CSR matrix ``x``."""
        m = self.array_module()
        return m.repeat(m.arange(x.shape[0]), m.diff(x.indptr))

    def centred_rows(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """``X[rows]`` as it is, CSR (views of ``X``'s arrays): sparse data is not centred (its
        offset is zero)."""
        return self.row_slice(X, rows)

    def centred_rows_at(self, xp: Namespace, X: Array, indices: Array, mean: Array) -> Array:
        return self.rows_at(xp, X, indices)

    def rows_at(self, xp: Namespace, X: Array, indices: Array) -> Array:
        if not self.owns(X):
            return super().rows_at(xp, X, indices)
        return X[self.array_module().asarray(indices)]

    def dense(self, xp: Namespace, x: Array) -> Array:
        """Column by column (Fortran order), as :meth:`chunk_centres` lays out the centres
        that rows become: no second copy of them."""
        return x.toarray(order="F") if self.owns(x) else x

    def sq_norms(self, xp: Namespace, x: Array) -> Array:
        """Of a CSR chunk: its stored values squared, added row by row in order."""
        if not self.owns(x):
            return super().sq_norms(xp, x)
        return self.array_module().bincount(self.row_ids(x), weights=x.data * x.data,
                                            minlength=x.shape[0]).astype(x.dtype)

    def residual_sq_norms(self, xp: Namespace, x: Array, centres: Array,
                          labels: Array) -> Array:
        """Of a CSR chunk: ``|c|^2`` plus, over the stored values, ``(x - c)^2 - c^2``
        (scikit-learn's sparse distance), at least zero; nothing ``n_rows x d`` is made."""
        if not self.owns(x):
            return super().residual_sq_norms(xp, x, centres, labels)
        m = self.array_module()
        rows = self.row_ids(x)
        at = centres[labels[rows], x.indices]
        terms = (x.data - at) ** 2 - at * at
        sq = (m.bincount(rows, weights=terms, minlength=x.shape[0]).astype(x.dtype)
              + super().sq_norms(xp, centres)[labels])
        return m.maximum(sq, 0)

    def scale_rows(self, xp: Namespace, x: Array, w: Array) -> Array:
        if not self.owns(x):
            return super().scale_rows(xp, x, w)
        return type(x)((x.data * w[self.row_ids(x)], x.indices, x.indptr), shape=x.shape)

    def labelled_sums(self, data: PassData, labels: Array,
                      n_clusters: int) -> tuple[Array, Array]:
        """Each cluster's stored values (weighted) added straight into one dense ``k x d``
        array, column by column (:meth:`add_by_labels`), chunk by chunk: nothing else of the
        centres' size is made."""
        X = data.X
        sums = self.array_module().zeros((X.shape[1], n_clusters), dtype=X.dtype).T
        self.add_labelled_rows(data, labels, sums)
        return sums, self.labelled_weights(data, labels, n_clusters)

    def labelled_weights(self, data: PassData, labels: Array, n_clusters: int) -> Array:
        """Each cluster's weight (its rows' count, for unit weights), ``(n_clusters,)`` in
        the rows' dtype."""
        xp, X, w = data.xp, data.X, data.weights
        return (self.segment_count(xp, labels, n_clusters, X.dtype) if w is None
                else self.segment_sum(xp, w, labels, n_clusters))

    def add_labelled_rows(self, data: PassData, labels: Array, sums: Array) -> None:
        """Add every row of ``data`` (weighted) into the row of ``sums`` its label names, in
        place, chunk by chunk (:meth:`add_by_labels`)."""
        xp, X, w = data.xp, data.X, data.weights
        for rows in data.chunks(sums.shape[0]):
            x = self.row_slice(X, rows)
            self.add_by_labels(sums, x if w is None else self.scale_rows(xp, x, w[rows]),
                               labels[rows])

    def add_by_labels(self, sums: Array, x: Array, labels: Array) -> None:
        """Add the rows of the CSR chunk ``x`` into the rows of ``sums`` (``k x d``, column by
        column: the layout :meth:`chunk_centres` gives the centres made of them) that
        ``labels`` name, in place: SciPy's in row order (``np.add.at`` on the stored values)."""
        flat = x.indices * sums.shape[0] + labels[self.row_ids(x)]
        np.add.at(sums.T.reshape(-1), flat, x.data)

    def sq_deviation_sums(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """Over the stored values ``(x - m)^2 - m^2`` by feature, plus ``m^2`` for every row:
        the deviations of the zeros too, without making them."""
        x = self.row_slice(X, rows)
        at = mean[x.indices]
        terms = (x.data - at) ** 2 - at * at
        return (self.array_module().bincount(x.indices, weights=terms,
                                             minlength=X.shape[1]).astype(X.dtype)
                + x.shape[0] * mean * mean)


class SciPySparse(CompressedSparse, NumPy):
    """SciPy sparse matrices and arrays (CSR after :meth:`prepare`), on the CPU; with Numba,
    a pass and its sums are compiled loops (:mod:`~anykmeans._libraries._fused_sparse`)."""

    name = "scipy"
    install = "pip install scipy"
    sparse_types = "scipy.sparse"

    def computes_as_is(self, x: Array) -> bool:
        """Whether no row of the CSR matrix ``x`` stores two values of one column: its columns
        need not be sorted, since SciPy's products and the compiled loops take a row's values
        in any order (as scikit-learn does, which keeps them as given; ``TfidfVectorizer``'s
        are not sorted). SciPy's flags say it where the columns are sorted; otherwise
        :func:`~anykmeans._libraries._fused_sparse.repeated_columns` scans the rows, or,
        where it does not take them, ``x``'s CSC copy (each column's rows in order) says it
        by SciPy's canonical flag."""
        if x.has_sorted_indices:
            return x.has_canonical_format
        repeated = _fused_sparse.repeated_columns(x)
        return not repeated if repeated is not None else x.tocsc().has_canonical_format

    def fused_assignment(self, data: PassData, centres: Array, centre_sq_norms: Array, *,
                         update: bool, exact_inertia: bool, x_sq_norms: Array | None,
                         previous_labels: Array | None, tie_ulps: int) -> Assignment | None:
        """:func:`~anykmeans._libraries._fused_sparse.assignment` on the CPU plan, where it
        takes the pass: the centres laid out as :meth:`chunk_centres` lays them out."""
        if self.accelerator:
            return None
        return _fused_sparse.assignment(data, centres, self.chunk_centres(data.xp, centres).T,
                                        centre_sq_norms, x_sq_norms, previous_labels,
                                        update=update, exact_inertia=exact_inertia,
                                        tie_ulps=tie_ulps)

    def fused_lowering(self, data: PassData, points: Array, point_sq_norms: Array,
                       x_sq_norms: Array, weight: Array, closest: Array, pending: bool,
                       search_rows: int,
                       n_steps: int) -> Callable[[slice], tuple[Array, Array, Array]] | None:
        """:func:`~anykmeans._libraries._fused_sparse.chunk_lowering` on the CPU plan, where
        it takes the step: each chunk's rows (:meth:`row_slice`) times the points, then NumPy's
        compiled lowering."""
        if self.accelerator:
            return None
        X = data.X
        return _fused_sparse.chunk_lowering(X, functools.partial(self.row_slice, X), points,
                                            point_sq_norms, x_sq_norms, weight, closest,
                                            pending, search_rows, n_steps)

    def add_labelled_rows(self, data: PassData, labels: Array, sums: Array) -> None:
        """:func:`~anykmeans._libraries._fused_sparse.add_rows_by_labels` over all the rows at
        once where Numba is installed: the same additions in the same order as the chunks'
        (the weights multiplied in as :meth:`scale_rows` does), without index arrays or
        scaled copies to bound by chunks."""
        add = _fused_sparse.adds_by_labels(data.X, sums.shape[0])
        if add is None:
            return super().add_labelled_rows(data, labels, sums)
        X, w = data.X, data.weights
        add(X.data, X.indices, X.indptr, labels,
            np.empty(0, dtype=X.dtype) if w is None else w, sums.T)

    @property
    def updates_by_cluster(self) -> bool:
        """On the CPU plan (:meth:`update_by_cluster`)."""
        return not self.accelerator

    def update_by_cluster(self, data: PassData, labels: Array, centres: Array) -> Array | None:
        """The new centres of ``data``'s rows by ``labels``, written over ``centres`` cluster by
        cluster (:func:`~anykmeans._libraries._fused_sparse.update_by_cluster`), and the
        squared shift (0-d); None, ``centres`` untouched, where a cluster has no weight or
        the compiled loops do not take the rows
        (:func:`~anykmeans._libraries._fused_sparse.loops_for`: no Numba, few values, or
        values not float32 or float64): the run's sums are then :meth:`labelled_sums`'s."""
        if _fused_sparse.loops_for(data.X, centres.shape[0]) is None:
            return None
        return _fused_sparse.update_by_cluster(
            data, labels, centres, None if data.weights is None
            else self.labelled_weights(data, labels, centres.shape[0]))

    def device_of(self, x: Array) -> Any:
        """The CPU: SciPy's arrays have no device attribute."""
        return "cpu"
