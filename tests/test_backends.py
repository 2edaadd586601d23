"""The same seed gives the same answer on every backend, in the caller's library and device."""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from anykmeans._namespace import array_namespace, device_of
from tests.conftest import host
from tests.data import blobs, bundled, weights

PROBLEMS = {
    "digits": lambda dtype: bundled("digits"),
    "blobs": lambda dtype: blobs(3000, 6, 10, seed=2),
}


def reference(X, **params):
    return anykmeans.KMeans(**params).fit(X)


def assert_same_as_numpy(model, expected, rtol):
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)
    assert model.n_iter_ == expected.n_iter_
    scale = np.abs(expected.cluster_centers_).max()
    np.testing.assert_allclose(host(model.cluster_centers_), expected.cluster_centers_,
                               rtol=rtol, atol=rtol * scale)
    assert model.inertia_ == pytest.approx(expected.inertia_, rel=rtol)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_same_labels_and_iterations_as_numpy(xp, problem, init):
    X = PROBLEMS[problem](xp.dtype)
    params = dict(n_clusters=10, init=init, n_init=2, random_state=3)
    expected = reference(X.astype(xp.dtype), **params)
    model = anykmeans.KMeans(**params).fit(xp.asarray(X))
    assert_same_as_numpy(model, expected, xp.rtol)


def test_same_answer_with_sample_weights(xp):
    X = blobs(2000, 4, 8, seed=5)
    w = weights(X.shape[0], 5)
    params = dict(n_clusters=8, random_state=0)
    expected = anykmeans.KMeans(**params).fit(X.astype(xp.dtype), sample_weight=w.astype(xp.dtype))
    model = anykmeans.KMeans(**params).fit(xp.asarray(X), sample_weight=xp.asarray(w))
    assert_same_as_numpy(model, expected, xp.rtol)


def test_kmeans_plusplus_same_seeds(xp):
    X = blobs(1500, 5, 16, seed=1)
    expected_centres, expected_indices = anykmeans.kmeans_plusplus(X.astype(xp.dtype), 16,
                                                                   random_state=4)
    centres, indices = anykmeans.kmeans_plusplus(xp.asarray(X), 16, random_state=4)
    np.testing.assert_array_equal(host(indices), expected_indices)
    np.testing.assert_array_equal(host(centres), expected_centres)


def test_results_stay_in_the_callers_library_and_device(xp):
    X = xp.asarray(blobs(300, 3, 4))
    model = anykmeans.KMeans(4, random_state=0).fit(X)
    result = anykmeans.kmeans(X, 4, random_state=0)
    outputs = [model.cluster_centers_, model.labels_, model.predict(X), model.transform(X),
               result.centers, result.labels, *anykmeans.kmeans_plusplus(X, 4, random_state=0)]
    expected_namespace = array_namespace(X)
    for out in outputs:
        assert array_namespace(out) is expected_namespace
        assert device_of(out) == device_of(X)
    assert isinstance(model.inertia_, float)
    assert isinstance(model.n_iter_, int)


def test_dtype_policy(xp):
    X = xp.asarray(blobs(200, 3, 3))
    ns = array_namespace(X)
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    assert model.cluster_centers_.dtype == X.dtype
    info = ns.__array_namespace_info__()
    defaults = info.default_dtypes(device=device_of(X))
    assert model.labels_.dtype == defaults["indexing"]
    integers = xp.backend.asarray(np.arange(60).reshape(20, 3) % 7)
    integer_model = anykmeans.KMeans(2, random_state=0).fit(integers)
    assert integer_model.cluster_centers_.dtype == defaults["real floating"]


def test_predict_and_transform_agree_with_numpy(xp):
    X = blobs(500, 4, 5, seed=9)
    expected = reference(X.astype(xp.dtype), n_clusters=5, random_state=1)
    model = anykmeans.KMeans(5, random_state=1).fit(xp.asarray(X))
    new = blobs(100, 4, 5, seed=10)
    np.testing.assert_array_equal(host(model.predict(xp.asarray(new))),
                                  expected.predict(new.astype(xp.dtype)))
    np.testing.assert_allclose(host(model.transform(xp.asarray(new))),
                               expected.transform(new.astype(xp.dtype)), rtol=xp.rtol * 10)
    assert model.score(xp.asarray(new)) == pytest.approx(
        expected.score(new.astype(xp.dtype)), rel=xp.rtol)


def test_empty_clusters_relocated_as_on_numpy(xp):
    # Two centres nobody is near: both clusters empty after the first assignment,
    # refounded on the two farthest rows (a lazy library must do it without nonzero()).
    X = blobs(400, 2, 3, seed=1)
    init = np.vstack([X[:3], [[1e3, 1e3], [-1e3, 1e3]]])
    w = weights(X.shape[0])
    expected = anykmeans.KMeans(5, init=init.astype(xp.dtype)).fit(X.astype(xp.dtype),
                                                                   sample_weight=w)
    model = anykmeans.KMeans(5, init=xp.asarray(init)).fit(xp.asarray(X),
                                                           sample_weight=xp.asarray(w))
    assert_same_as_numpy(model, expected, xp.rtol)
    assert len(np.unique(host(model.labels_))) == 5
