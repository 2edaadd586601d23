"""Large k: memory of the default fit's parts, measured with tracemalloc (NumPy reports its
allocations to it), on one thread so that the peak is the same on every machine."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from anykmeans._kmeans import _mean_variance
from anykmeans._kmeans_plusplus import kmeans_plusplus_indices
from anykmeans._primitives import Data

threadpoolctl = pytest.importorskip("threadpoolctl")


def traced_peak(function) -> int:
    """Bytes allocated at the peak of ``function()`` beyond what was allocated before it."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        function()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).standard_normal((200_000, 32))


def test_the_tolerances_variance_makes_no_temporary_of_xs_size(X):
    with threadpoolctl.threadpool_limits(1):
        _mean_variance(np, X)  # the first call's one-time allocations aside
        peak = traced_peak(lambda: _mean_variance(np, X))
    np.testing.assert_allclose(float(_mean_variance(np, X)), np.var(X, axis=0).mean(),
                               rtol=1e-12)
    # xp.var(X, axis=0) allocated X's size (48.9 MB here); a chunk's squares are a few MB.
    assert peak <= X.nbytes / 4


def test_kmeans_plusplus_keeps_no_rows_by_trials_buffers(X):
    data = Data(X, X.mean(axis=0), np.ones(X.shape[0]))
    with threadpoolctl.threadpool_limits(1):
        kmeans_plusplus_indices(data, 256, np.random.RandomState(1))  # one-time: Numba loaded
        peak = traced_peak(lambda: kmeans_plusplus_indices(data, 256, np.random.RandomState(0)))
    # k = 256 tries 7 candidates a seed: two n x 7 float64 buffers were 22 MB (33 MB at the
    # peak, X 49 MB); n-sized float64 vectors (1.6 MB each) and one chunk's blocks remain.
    assert peak <= X.nbytes / 3
