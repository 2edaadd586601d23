"""Same integer seed, same answer as scikit-learn's KMeans on NumPy float64.

Every test runs on both of NumPy's assignment paths (``numpy_path``: fused and standard).
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from tests.data import blobs, bundled, untied_digits, weights

sklearn_cluster = pytest.importorskip("sklearn.cluster")

pytestmark = pytest.mark.usefixtures("numpy_path")

DATASETS = {
    "iris": lambda: bundled("iris"),
    "digits": untied_digits,
    "wine": lambda: bundled("wine"),
    "breast_cancer": lambda: bundled("breast_cancer"),
    "blobs": lambda: blobs(2000, 8, 12, seed=3),
}


def assert_same_fit(ours, theirs):
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_,
                               rtol=1e-10, atol=1e-10 * np.abs(theirs.cluster_centers_).max())
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_fit_as_sklearn(dataset, init, seed):
    X = DATASETS[dataset]()
    params = dict(n_clusters=7, init=init, random_state=seed)
    assert_same_fit(anykmeans.KMeans(**params).fit(X), sklearn_cluster.KMeans(**params).fit(X))


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("seed", [0, 7])
def test_same_fit_with_sample_weights(init, seed):
    X = blobs(1500, 6, 9, seed=seed)
    w = weights(X.shape[0], seed)
    params = dict(n_clusters=9, init=init, random_state=seed)
    assert_same_fit(anykmeans.KMeans(**params).fit(X, sample_weight=w),
                    sklearn_cluster.KMeans(**params).fit(X, sample_weight=w))


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_same_fit_with_several_restarts(init):
    X = untied_digits()
    w = weights(X.shape[0])
    params = dict(n_clusters=10, init=init, n_init=4, random_state=11)
    assert_same_fit(anykmeans.KMeans(**params).fit(X, sample_weight=w),
                    sklearn_cluster.KMeans(**params).fit(X, sample_weight=w))


@pytest.mark.parametrize("max_iter, tol", [(3, 1e-4), (300, 1e-2), (300, 0.0)])
def test_same_stopping_on_max_iter_and_tol(max_iter, tol):
    X = untied_digits()
    params = dict(n_clusters=12, max_iter=max_iter, tol=tol, random_state=5)
    ours = anykmeans.KMeans(**params).fit(X)
    assert_same_fit(ours, sklearn_cluster.KMeans(**params).fit(X))
    np.testing.assert_array_equal(ours.predict(X), ours.labels_)


def test_same_fit_from_an_explicit_init_array():
    X = bundled("wine")
    init = X[[3, 60, 120, 150]] + 0.5
    assert_same_fit(anykmeans.KMeans(4, init=init).fit(X),
                    sklearn_cluster.KMeans(4, init=init).fit(X))


def test_same_fit_with_empty_cluster_relocation():
    X = blobs(400, 2, 3, seed=1)
    init = np.vstack([X[:3], [[1e3, 1e3], [-1e3, 1e3]]])  # two centres nobody is near
    ours = anykmeans.KMeans(5, init=init).fit(X)
    assert_same_fit(ours, sklearn_cluster.KMeans(5, init=init).fit(X))
    assert len(np.unique(ours.labels_)) == 5


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("with_weights", [False, True])
def test_kmeans_plusplus_picks_sklearns_seeds(seed, with_weights):
    X = blobs(1000, 4, 20, seed=seed)
    w = weights(X.shape[0], seed) if with_weights else None
    centres, indices = anykmeans.kmeans_plusplus(X, 20, sample_weight=w, random_state=seed)
    expected_centres, expected_indices = sklearn_cluster.kmeans_plusplus(
        X, 20, sample_weight=w, random_state=seed)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(centres, expected_centres)


def test_functional_api_matches_the_estimator():
    X = bundled("iris")
    result = anykmeans.kmeans(X, 3, random_state=0)
    model = sklearn_cluster.KMeans(3, random_state=0).fit(X)
    np.testing.assert_array_equal(result.labels, model.labels_)
    assert result.n_iter == model.n_iter_
    assert result.converged
    assert len(result.inertia_history) == result.n_iter
    assert result.inertia == pytest.approx(model.inertia_, rel=1e-12)

