"""CuPy sparse (``cupyx.scipy.sparse``): CSR data on a CUDA device, results on that device.

CuPy's sparse module mirrors SciPy's, so a fit computes as on SciPy's sparse data
(:class:`~anykmeans._libraries._scipy.CompressedSparse`: not centred, a chunk a
CSR matrix of views of ``X``'s arrays, its scores one sparse-dense product, the
cluster sums one ``k x d`` array a pass) with CuPy's dense arrays, on the plan,
devices and products of :class:`~anykmeans._libraries._cupy.CuPy`, which this
library extends. What differs from SciPy: the dense module is CuPy's, the
device is the one that holds the data's values, the rows of stored values are
found by a search of the row pointers (CuPy's ``repeat`` takes no array of
counts), and a chunk's rows are added into the sums by a sparse product with
its one-hot labels, then at distinct positions (no atomic additions, whose
order changes from run to run).

CSC matrices are converted to CSR; CuPy's other formats (COO, DIA) too.

On a GPU, cutting a chunk reads its bounds back to the host, and the sums over
stored values (row norms, distances) are ``bincount``'s, which adds in no fixed
order: the accelerator plan's rules hold for dense data only. No GPU has run
this module.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ._cupy import CuPy
from ._scipy import CompressedSparse
from ._types import Array


class CuPySparse(CompressedSparse, CuPy):
    """``cupyx.scipy.sparse`` matrices (CSR after :meth:`prepare`), on a CUDA device."""

    sparse_types = "cupyx.scipy.sparse"

    def array_module(self) -> ModuleType:
        """``cupy``."""
        import cupy

        return cupy

    def device_of(self, x: Array) -> Any:
        """The device of the data's stored values (a sparse matrix has no ``device``)."""
        return x.data.device if self.owns(x) else super().device_of(x)

    def stand_in(self, x: Array) -> Array:
        with self.on_device(self.device_of(x)):
            return super().stand_in(x)

    def row_ids(self, x: Array) -> Array:
        """The row of every stored value: where its position falls among the row ends."""
        cupy = self.array_module()
        return cupy.searchsorted(x.indptr[1:], cupy.arange(x.nnz), side="right")

    def add_by_labels(self, sums: Array, x: Array, labels: Array) -> None:
        """The chunk's rows added by label in one sparse product with its one-hot labels
        (each cluster's rows in row order), its stored sums then added into ``sums`` at their
        distinct positions."""
        import cupyx.scipy.sparse as sparse

        cupy = self.array_module()
        n_rows = x.shape[0]
        one_hot = sparse.coo_matrix((cupy.ones(n_rows, dtype=x.dtype),
                                     (labels, cupy.arange(n_rows))),
                                    shape=(sums.shape[0], n_rows)).tocsr()
        part = (one_hot @ x).tocoo()
        part.sum_duplicates()
        sums[part.row, part.col] += part.data
