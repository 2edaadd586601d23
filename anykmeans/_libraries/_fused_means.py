"""NumPy's feature means with Numba: float32 columns added up in float64, row after row.

A fit centres its rows on the mean of every feature, summed in float64
(:meth:`anykmeans._libraries.Library.feature_means`). NumPy's ``sum`` with
``dtype=float64`` adds a C-ordered array's rows one after another, each column
on its own, but through cast buffers and an inner loop as long as a row: on a
few features that costs about as much per row as a Lloyd pass
(docs/notes/benchmark-history.md). The compiled loop here adds the same values
in the same order, so the sums are the same bits; ``tests/test_fused_means.py``
compares them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ._fused import compile_loop, takes_fit
from ._types import Array


def add_columns(X: Array, sums: Array) -> None:
    """Add every row of ``X`` (``(n_rows, n_features)``) to ``sums`` (float64,
    ``(n_features,)``), row after row, each value made float64 first."""
    for i in range(X.shape[0]):
        for f in range(X.shape[1]):
            sums[f] += np.float64(X[i, f])


@functools.cache
def compiled_kernel() -> Callable[..., None] | None:
    """:func:`add_columns` compiled by Numba on first use (its machine code cached as
    :func:`anykmeans._libraries._fused.compiled_kernel`'s), or None where Numba is not
    installed."""
    return compile_loop(add_columns)


def column_sums(X: Array) -> Array | None:
    """``np.sum(X, axis=0, dtype=np.float64)``, the same bits, or None where the compiled
    loop does not take the sums: ``X`` is not a C-contiguous float32 array, the fit the
    calling thread runs does not take the fused loop
    (:func:`~anykmeans._libraries._fused.takes_fit`: importing Numba for the sums alone would
    cost more than they take), or Numba is not installed."""
    if X.dtype != np.float32 or not X.flags.c_contiguous or not takes_fit():
        return None
    loop = compiled_kernel()
    if loop is None:
        return None
    sums = np.zeros(X.shape[1], dtype=np.float64)
    loop(X, sums)
    return sums


def feature_means(X: Array) -> Array | None:
    """``X``'s feature means from :func:`column_sums` (the reference's: float64 sums, divided,
    in ``X``'s dtype), or None where the compiled loop does not take the sums."""
    sums = column_sums(X)
    return None if sums is None else (sums / X.shape[0]).astype(X.dtype)
