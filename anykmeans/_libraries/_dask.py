"""Dask: a pass is one task per block of rows, meeting in a tree of additions.

Each task runs the eager chunk loop on its block in the block's own library
(NumPy, CuPy); labels and row norms stay lazy arrays with ``X``'s row chunks,
and the inertia and sums are small lazy arrays at the root of the tree.
Evaluating (``materialise``) persists, so that the next Lloyd iteration builds
on results rather than on an ever-growing graph. BLAS runs one thread per task
while Dask's own threads run the blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import array_api_compat
import numpy as np

from ._base import Array, Assignment, Backend, Library
from ._numpy import single_threaded_blas


class Dask(Library):
    """``dask.array.Array`` arrays, whatever library their blocks are in."""

    name = "dask"
    install = "pip install anykmeans[dask]"

    @staticmethod
    def owns(x: Array) -> bool:
        return array_api_compat.is_dask_array(x)

    def backends(self, module: Any) -> list[Backend]:
        import dask.array as da

        def convert(x):
            rows = max(1, -(-x.shape[0] // 4)) if x.ndim else ()
            return da.from_array(x, chunks=(rows, *x.shape[1:]) if x.ndim else ())

        return [Backend("dask", "cpu", True, module.__version__, convert)]

    def empty(self, device: Any = None) -> Array:
        if device not in (None, "cpu"):
            raise ValueError(f"Dask arrays are on the CPU (\"cpu\"), not on {device!r}.")
        import dask.array as da

        return da.empty((0,))

    def prepare(self, x: Array, name: str) -> Array:
        """Without empty blocks of rows (Dask's reductions fail on them)."""
        if x.ndim and 0 in x.chunks[0]:
            x = x.rechunk((tuple(rows for rows in x.chunks[0] if rows), *x.chunks[1:]))
        return x

    def rows_like(self, v: Array, X: Array) -> Array:
        return v.rechunk((X.chunks[0],))

    def to_host(self, x: Array) -> np.ndarray:
        with single_threaded_blas():
            return np.asarray(x.compute())

    def materialise(self, *arrays: Array) -> tuple[Array, ...]:
        import dask

        with single_threaded_blas():
            return dask.persist(*arrays)

    def assign(self, data: Any, centres: Array, eager: Callable[..., Assignment], *,
               update: bool = False, exact_inertia: bool = False,
               x_sq_norms: Array | None = None) -> Assignment:
        """``eager`` on every block of rows, one task each, results added in a binary tree.

        Reading ``X`` once, the graph has ``O(blocks)`` tasks whatever the number
        of iterations before it. Task keys are fresh on every call
        (``pure=False``), so that a scheduler still holding an earlier fit's
        results never meets a known key with a different task.
        """
        import dask
        import dask.array as da

        X = data.X.rechunk({1: -1})
        blocks = X.to_delayed()[:, 0]

        def row_blocks(v: Array | None) -> list:
            return [None] * len(blocks) if v is None else v.rechunk((X.chunks[0],)).to_delayed()

        task = dask.delayed(_assign_block, pure=False)
        parts = [task(eager, type(data), block, centres, data.mean, w, data.chunk_size, update,
                      exact_inertia, norms)
                 for block, w, norms in zip(blocks, row_blocks(data.weights),
                                            row_blocks(x_sq_norms), strict=True)]

        def rows_of(field: str, dtype: Any) -> Array:
            return da.concatenate([da.from_delayed(getattr(part, field), shape=(n_rows,),
                                                   dtype=dtype)
                                   for part, n_rows in zip(parts, X.chunks[0], strict=True)])

        labels = rows_of("labels", data.xp.__array_namespace_info__().default_dtypes()["indexing"])
        if x_sq_norms is None:
            x_sq_norms = rows_of("x_sq_norms", X.dtype)
        add = dask.delayed(Assignment.plus, pure=False)
        while len(parts) > 1:
            parts = [add(*parts[i:i + 2]) if i + 1 < len(parts) else parts[i]
                     for i in range(0, len(parts), 2)]
        total = parts[0]
        n_clusters, n_features = centres.shape
        inertia = da.from_delayed(total.inertia, shape=(), dtype=X.dtype)
        sums = weight_sums = None
        if update:
            sums = da.from_delayed(total.sums, shape=(n_clusters, n_features), dtype=X.dtype)
            weight_sums = da.from_delayed(total.weight_sums, shape=(n_clusters,), dtype=X.dtype)
        return Assignment(labels, inertia, sums, weight_sums, x_sq_norms)


def _assign_block(eager: Callable[..., Assignment], data_type: type, block: Array,
                  centres: Array, mean: Array, weights: Array | None, chunk_size: int | None,
                  update: bool, exact_inertia: bool, x_sq_norms: Array | None) -> Assignment:
    """One task: ``eager`` on one block, in the block's own library (Dask runs blocks in
    parallel, so the block's chunks run one after another on one BLAS thread)."""
    with single_threaded_blas():
        return eager(data_type(block, mean, weights, chunk_size), centres, update=update,
                     exact_inertia=exact_inertia, x_sq_norms=x_sq_norms)
