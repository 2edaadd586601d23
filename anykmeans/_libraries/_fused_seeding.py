"""NumPy's fused k-means++ step: a chunk's distances lowered and its potentials in one loop.

A greedy k-means++ step lowers every row's distance to its nearest seed by the
seed the last step chose, and sums, for each of the step's candidates, the
weighted distances it would leave, by search block
(:func:`anykmeans._kmeans_plusplus.lower_pass`). The standard path makes a
``candidates x rows`` matrix of distances per chunk and reads and writes it
about ten times (casts, norms, clipping, minima, products, block sums). With
Numba installed, the NumPy plan computes a tile of rows at a time: the tile
centred into a buffer of the thread's own, one BLAS product for its scores
(in float64, as the standard path's: float32 rows are centred in float32, then
widened, so that every product of two features is exact), and one compiled loop
over the tile (:func:`lower_and_sum`) that adds the norms, lowers, and adds each
candidate's weighted distances into its block sums, in float64 as the standard
path. ``X`` is read once; nothing of the size of the rows times the candidates
is made.

The arithmetic is the standard path's, operation for operation, but for the
order of the additions within a block; ``tests/test_fused_seeding.py``
compares the two.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ._fused import DTYPES, _buffer, compile_loop, tile_rows
from ._types import Array

#: Seedings computing fewer distances (rows times points, over all steps) take the standard
#: path: they take a fraction of a second, the loop's compilation (or loading it from Numba's
#: cache, with Numba's import) about as much.
MIN_DISTANCES = 2**24


def lower_and_sum(block: Array, point_sq_norms: Array, x_sq_norms: Array, weight: Array,
                  closest: Array, pending: bool, search_rows: int, first_row: int,
                  lowered: Array, sums: Array) -> None:
    """Lower a tile's distances by the pending seed; add each candidate's weighted distances.

    Parameters
    ----------
    block : float64 array of shape (n_rows, n_points)
        ``-2 x . p`` for the pending seed (when ``pending``) and the candidates ``p``.
    point_sq_norms : float64 array of shape (n_points,)
    x_sq_norms, weight, closest : float64 arrays of shape (n_rows,)
        The tile's rows' squared norms, weights and squared distances to their nearest seed.
    pending : bool
        Whether the first point is the seed still to be applied.
    search_rows : int
        Rows per search block.
    first_row : int
        The tile's first row within the chunk, whose search blocks ``sums`` holds.
    lowered : float64 array of shape (n_rows,)
        Written: ``closest`` lowered by the pending seed.
    sums : float64 array of shape (n_candidates, n_search_blocks)
        Added to: each row's weight times its distance lowered by a candidate, to the
        candidate's sum of the row's search block.

    Notes
    -----
    A squared distance is ``max((-2 p . x + |p|^2) + |x|^2, 0)``, the standard
    path's (:func:`anykmeans._kmeans_plusplus._sq_distances`).
    """
    n_rows, n_points = block.shape
    first = 1 if pending else 0
    for i in range(n_rows):
        distance = closest[i]
        if pending:
            to_seed = max(block[i, 0] + point_sq_norms[0] + x_sq_norms[i], 0.0)
            distance = min(distance, to_seed)
        lowered[i] = distance
        search_block = (first_row + i) // search_rows
        for p in range(first, n_points):
            to_point = max(block[i, p] + point_sq_norms[p] + x_sq_norms[i], 0.0)
            sums[p - first, search_block] += weight[i] * min(distance, to_point)


@functools.cache
def compiled_kernel() -> Callable[..., None] | None:
    """:func:`lower_and_sum` compiled by Numba (cached as
    :func:`anykmeans._libraries._fused.compiled_kernel`'s loop), or None without Numba."""
    return compile_loop(lower_and_sum)


def chunk_lowering(X: Array, mean: Array, points: Array, point_sq_norms: Array,
                   x_sq_norms: Array, weight: Array, closest: Array, pending: bool,
                   search_rows: int,
                   n_steps: int) -> Callable[[slice], tuple[Array, Array, Array]] | None:
    """:func:`lower_chunk` for the NumPy arrays of a step of a k-means++ seeding of
    ``n_steps`` steps, or None where the step is not for the compiled loop: Numba is not
    installed, ``X`` is not a float32 or float64 ``ndarray``, the distances are not float64,
    or the seeding computes fewer than :data:`MIN_DISTANCES` distances.

    ``points`` (``X``'s dtype) are the pending seed (first, when ``pending``) and the
    candidates, centred; ``mean`` is the centring offset; the other arguments are
    :func:`lower_chunk`'s.
    """
    if (not isinstance(X, np.ndarray) or X.dtype not in DTYPES or points.dtype != X.dtype
            or closest.dtype != np.float64
            or X.shape[0] * points.shape[0] * n_steps < MIN_DISTANCES):
        return None
    kernel = compiled_kernel()
    if kernel is None:
        return None
    return functools.partial(lower_chunk, kernel, X, mean if np.any(mean) else None,
                             np.ascontiguousarray(-2.0 * points.T, dtype=np.float64),
                             point_sq_norms, x_sq_norms, weight, closest, pending, search_rows)


def lower_chunk(kernel: Callable[..., None], X: Array, mean: Array | None, scaled: Array,
                point_sq_norms: Array, x_sq_norms: Array, weight: Array, closest: Array,
                pending: bool, search_rows: int,
                rows: slice) -> tuple[Array, Array, Array]:
    """One chunk's part of a k-means++ step, tile by tile.

    Parameters
    ----------
    kernel : callable
        :func:`compiled_kernel`'s (or :func:`lower_and_sum` itself).
    X : array of shape (n_samples, n_features)
        The rows, not centred; ``rows`` (starting on a search block) are the chunk's.
    mean : array of shape (n_features,) or None
        The centring offset; None where it is zero.
    scaled : float64 array of shape (n_features, n_points)
        ``-2`` times the pending seed (first, when ``pending``) and the candidates, centred,
        point by point in columns (the product with a tile's rows is then the quicker).
    point_sq_norms : float64 array of shape (n_points,)
    x_sq_norms, weight, closest : float64 arrays of shape (n_samples,)
    pending, search_rows
        As for :func:`lower_and_sum`.

    Returns
    -------
    lowered : float64 array of shape (n_rows,)
        The chunk's ``closest`` lowered by the pending seed.
    potentials : float64 array of shape (n_candidates,)
        For each candidate, the weighted sum of the chunk's distances it leaves.
    block_sums : float64 array of shape (n_candidates, ceil(n_rows / search_rows))
        The same sums by search block.
    """
    n_features, n_points = scaled.shape
    n_rows = rows.stop - rows.start
    lowered = np.empty(n_rows, dtype=np.float64)
    sums = np.zeros((n_points - int(pending), -(-n_rows // search_rows)), dtype=np.float64)
    step = tile_rows(n_rows, n_features, n_points, scaled.itemsize)
    for start in range(0, n_rows, step):
        stop = min(start + step, n_rows)
        tile = slice(rows.start + start, rows.start + stop)
        x = X[tile]
        if mean is not None or x.dtype != scaled.dtype:  # centred in X's dtype, then widened
            x = np.subtract(x, 0 if mean is None else mean, dtype=X.dtype,
                            out=_buffer("x", (stop - start, n_features), scaled.dtype))
        block = np.matmul(x, scaled,
                          out=_buffer("scores", (stop - start, n_points), scaled.dtype))
        kernel(block, point_sq_norms, x_sq_norms[tile], weight[tile], closest[tile], pending,
               search_rows, start, lowered[start:stop], sums)
    return lowered, np.sum(sums, axis=1), sums
