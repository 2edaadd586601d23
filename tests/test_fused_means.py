"""NumPy's compiled feature sums (anykmeans._libraries._fused_means) are NumPy's own, bit for bit.

The loop adds a fit's float32 rows in float64 in NumPy's order; the sums, and so the
centring offset and everything after it, are the same bits as ``np.sum``'s, on any
number of features, with NaN and infinities. Fits that do not take the fused loop, and
rows of another dtype or layout, keep NumPy's sum.
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from anykmeans._libraries import _fused, _fused_means, library_of
from anykmeans._libraries._base import Library
from tests.conftest import host, kernel_calls
from tests.data import blobs


@pytest.fixture
def compiled():
    """The compiled loop; skips without Numba."""
    loop = _fused_means.compiled_kernel()
    if loop is None:
        pytest.skip("Numba is not installed (pip install numba)")
    return loop


def rows(n, d, seed):
    """Rows of magnitudes from 1e-3 to 1e4 around an offset: the float64 sums round."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * 10.0 ** rng.uniform(-3, 4, d)
            + rng.uniform(-50, 50, d)).astype(np.float32)


@pytest.mark.parametrize("n, d", [(1, 1), (50_000, 1), (30_000, 3), (7_777, 4), (2_000, 33)])
def test_the_sums_are_numpys_bit_for_bit(compiled, n, d):
    X = rows(n, d, seed=d)
    with _fused.for_fit(_fused.MIN_SCORES):
        sums = _fused_means.column_sums(X)
    np.testing.assert_array_equal(sums, np.sum(X, axis=0, dtype=np.float64))
    assert sums.dtype == np.float64


def test_nan_and_infinities_go_through_as_in_numpys_sum(compiled):
    X = rows(1000, 4, seed=0)
    X[10, 0], X[20, 1], X[30, 2], X[40, 2] = np.nan, np.inf, np.inf, -np.inf
    with _fused.for_fit(_fused.MIN_SCORES):
        sums = _fused_means.column_sums(X)
    with np.errstate(invalid="ignore"):  # inf - inf
        expected = np.sum(X, axis=0, dtype=np.float64)
    np.testing.assert_array_equal(sums, expected)  # NaN, inf, NaN, finite


def test_the_compiled_loop_equals_its_python_source(compiled):
    X = rows(300, 5, seed=1)
    ours, python = np.zeros(5), np.zeros(5)
    compiled(X, ours)
    _fused_means.add_columns(X, python)
    np.testing.assert_array_equal(ours, python)


def test_other_rows_and_small_fits_keep_numpys_sum(compiled):
    X = rows(100, 3, seed=2)
    assert _fused_means.column_sums(X) is None  # outside a fit taking the fused loop
    with _fused.for_fit(_fused.MIN_SCORES - 1):
        assert _fused_means.column_sums(X) is None
    with _fused.for_fit(_fused.MIN_SCORES):
        assert _fused_means.column_sums(X.astype(np.float64)) is None
        assert _fused_means.column_sums(np.asfortranarray(X)) is None
        assert _fused_means.column_sums(X[:, ::2]) is None
        numpy = library_of(X)
        np.testing.assert_array_equal(numpy.feature_means(np, X),
                                      Library.feature_means(numpy, np, X))


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_a_fit_taking_the_fused_loop_centres_with_the_compiled_sums(compiled, monkeypatch,
                                                                     library):
    X = blobs(3000, 3, 5, seed=4).astype(np.float32) + np.float32(20)
    monkeypatch.setattr(_fused, "MIN_SCORES", 3000 * 5)
    calls = kernel_calls(monkeypatch, _fused_means, compiled)
    data = X if library == "numpy" else pytest.importorskip("torch").asarray(X)
    fast = anykmeans.KMeans(5, random_state=0).fit(data)
    assert calls == [X.shape]  # torch's CPU tensors through NumPy's loop, on a view
    monkeypatch.setattr(_fused_means, "compiled_kernel", lambda: None)
    numpy = anykmeans.KMeans(5, random_state=0).fit(X)
    np.testing.assert_array_equal(host(fast.labels_), numpy.labels_)
    np.testing.assert_array_equal(host(fast.cluster_centers_), numpy.cluster_centers_)
    assert fast.inertia_ == numpy.inertia_ and fast.n_iter_ == numpy.n_iter_
