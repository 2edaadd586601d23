"""torch sparse CSR tensors: sparse data on any torch device, results on that device.

As SciPy's sparse data (:mod:`~anykmeans._libraries._scipy`): the rows are not
centred, a chunk is a CSR tensor cut from ``X`` (its row pointers, column
indices and values), its scores ``x @ c.T`` one sparse-dense product, its
cluster sums one sparse product with the chunk's one-hot labels, its norms and
distances additions over its stored values (``index_add_``). Everything else is
:class:`~anykmeans._libraries._torch.Torch`'s, which this library extends.
CSC tensors are converted to CSR; other layouts (COO, BSR, BSC, mkldnn, nested)
are refused by :class:`Torch`, which names what to pass.

On a GPU, cutting rows at indices (``repeat_interleave`` of lengths) and the
bounds of a chunk read their sizes back to the host, and ``index_add_`` adds in
no fixed order: the accelerator plan's rules hold for dense data only. Only the
CPU has run this module.
"""

from __future__ import annotations

from typing import Any

from ._plan import sparse_chunk_rows
from ._torch import Torch
from ._types import Array, Namespace

#: The layouts this library takes (as ``str(tensor.layout)``).
LAYOUTS = ("torch.sparse_csr", "torch.sparse_csc")


def _is_sparse(x: Any) -> bool:
    return str(getattr(x, "layout", "")) in LAYOUTS


def _csr(crow: Array, col: Array, values: Array, shape: tuple[int, int]) -> Array:
    import torch

    return torch.sparse_csr_tensor(crow, col, values, size=shape)


def _row_ids(x: Array) -> Array:
    """The row of every stored value of the CSR tensor ``x``."""
    import torch

    crow = x.crow_indices()
    return torch.repeat_interleave(torch.arange(x.shape[0], device=x.device), crow.diff())


def _add_by(index: Array, values: Array, size: int) -> Array:
    """``values`` added by ``index`` into ``size`` slots, in ``values``' dtype."""
    return values.new_zeros(size).index_add_(0, index, values)


class TorchSparse(Torch):
    """torch sparse CSR (and CSC, converted) tensors, on any device."""

    name = "torch"
    centring = False

    @staticmethod
    def owns(x: Array) -> bool:
        return _is_sparse(x) and type(x).__module__.partition(".")[0] == "torch"

    def prepare(self, x: Array, name: str) -> Array:
        """Detached CSR (CSC converted); tensors on the meta device refused."""
        if x.device.type == "meta":
            raise TypeError(f"{name} is on PyTorch's meta device, which holds no data; "
                            "pass a tensor on a real device.")
        x = x.detach()
        return x if str(x.layout) == "torch.sparse_csr" else x.to_sparse_csr()

    def astype(self, xp: Namespace, X: Array, dtype: Any) -> Array:
        return X.to(dtype)

    def largest_magnitude(self, xp: Namespace, X: Array) -> Array:
        import torch

        values = X.values()
        return torch.cat([values.abs(), values.new_zeros(1)]).max()

    def feature_means(self, xp: Namespace, X: Array) -> Array:
        return _add_by(X.col_indices(), X.values(), X.shape[1]) / X.shape[0]

    def data_chunk_rows(self, X: Array, n_centres: int, itemsize: int,
                        chunk_size: int | None = None) -> int:
        """:func:`~anykmeans._libraries._plan.sparse_chunk_rows` in the plan's budget."""
        n_samples, n_features = X.shape
        return sparse_chunk_rows(n_samples, n_features, X.values().shape[0], n_centres, itemsize,
                                 self.chunk_bytes(X.device, 0), chunk_size)

    def fused_assignment(self, *args: Any, **kwargs: Any) -> None:
        """None: the fused loop reads dense rows."""
        return None

    def fused_lowering(self, *args: Any, **kwargs: Any) -> None:
        """None: the fused k-means++ step reads dense rows."""
        return None

    def row_major_scores(self, n_rows: int, n_centres: int) -> bool:
        """Always: ``x @ c.T`` is the product a CSR chunk computes."""
        return True

    def centred_rows(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """``X[rows]`` as it is, CSR: sparse data is not centred (its offset is zero)."""
        crow = X.crow_indices()[rows.start:rows.stop + 1]
        start, stop = int(crow[0]), int(crow[-1])
        return _csr(crow - start, X.col_indices()[start:stop], X.values()[start:stop],
                    (rows.stop - rows.start, X.shape[1]))

    def centred_rows_at(self, xp: Namespace, X: Array, indices: Array, mean: Array) -> Array:
        return self.rows_at(xp, X, indices)

    def rows_at(self, xp: Namespace, X: Array, indices: Array) -> Array:
        """The rows at ``indices`` gathered into a new CSR tensor (for dense ``X``, Torch's)."""
        if not _is_sparse(X):
            return super().rows_at(xp, X, indices)
        import torch

        crow = X.crow_indices()
        starts, lengths = crow[indices], crow[indices + 1] - crow[indices]
        new_crow = torch.cat([lengths.new_zeros(1), torch.cumsum(lengths, 0)])
        within = torch.arange(int(new_crow[-1]), device=X.device)
        positions = within + torch.repeat_interleave(starts - new_crow[:-1], lengths)
        return _csr(new_crow, X.col_indices()[positions], X.values()[positions],
                    (indices.shape[0], X.shape[1]))

    def dense(self, xp: Namespace, x: Array) -> Array:
        return x.to_dense() if _is_sparse(x) else x

    def cross(self, xp: Namespace, points: Array, x: Array) -> Array:
        """``(x @ points.T).T``: torch multiplies a CSR tensor on the left only."""
        return self.matmul(xp, x, points.T).T if _is_sparse(x) else super().cross(xp, points, x)

    def sq_norms(self, xp: Namespace, x: Array) -> Array:
        if not _is_sparse(x):
            return super().sq_norms(xp, x)
        values = x.values()
        return _add_by(_row_ids(x), values * values, x.shape[0])

    def residual_sq_norms(self, xp: Namespace, x: Array, centres: Array,
                          labels: Array) -> Array:
        """``|c|^2`` plus, over the stored values, ``(x - c)^2 - c^2``, at least zero."""
        if not _is_sparse(x):
            return super().residual_sq_norms(xp, x, centres, labels)
        rows = _row_ids(x)
        at = centres[labels[rows], x.col_indices()]
        terms = (x.values() - at) ** 2 - at * at
        sq = _add_by(rows, terms, x.shape[0]) + super().sq_norms(xp, centres)[labels]
        return sq.clamp_min(0)

    def scale_rows(self, xp: Namespace, x: Array, w: Array) -> Array:
        if not _is_sparse(x):
            return super().scale_rows(xp, x, w)
        import torch

        crow = x.crow_indices()
        values = x.values() * torch.repeat_interleave(w, crow.diff())
        return _csr(crow, x.col_indices(), values, tuple(x.shape))

    def cluster_sums(self, xp: Namespace, x: Array, w: Array | None, labels: Array,
                     n_clusters: int) -> tuple[Array, Array]:
        """Of a CSR chunk: one sparse product with the one-hot labels (a CSR tensor of the
        rows sorted by label, stably), made dense: ``k x d``."""
        if not _is_sparse(x):
            return super().cluster_sums(xp, x, w, labels, n_clusters)
        import torch

        n_rows = x.shape[0]
        counts = torch.bincount(labels, minlength=n_clusters)
        crow = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
        one_hot = _csr(crow, torch.argsort(labels, stable=True),
                       x.values().new_ones(n_rows), (n_clusters, n_rows))
        weight_sums = (counts.to(x.dtype) if w is None
                       else self.segment_sum(xp, w, labels, n_clusters))
        return (one_hot @ x).to_dense(), weight_sums

    def sq_deviation_sums(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """Over the stored values ``(x - m)^2 - m^2`` by feature, plus ``m^2`` for every row."""
        x = self.centred_rows(xp, X, rows, mean)
        col = x.col_indices()
        at = mean[col]
        terms = (x.values() - at) ** 2 - at * at
        return _add_by(col, terms, X.shape[1]) + x.shape[0] * mean * mean
