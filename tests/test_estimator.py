"""KMeans follows scikit-learn's conventions, checked by scikit-learn itself."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import anykmeans
from tests.conftest import host
from tests.data import blobs

pytest.importorskip("sklearn")
from sklearn.base import clone
from sklearn.utils import estimator_checks

#: What scikit-learn lists as expected failures for its own KMeans.
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data":
        "sample_weight is not equivalent to removing/repeating samples.",
    "check_sample_weight_equivalence_on_sparse_data":
        "sample_weight is not equivalent to removing/repeating samples.",
}


def test_check_estimator():
    results = estimator_checks.check_estimator(
        anykmeans.KMeans(n_clusters=3), expected_failed_checks=EXPECTED_FAILED_CHECKS,
        on_fail=None)
    failed = [r for r in results if r["status"] == "failed"]
    assert not failed, [(r["check_name"], repr(r["exception"])) for r in failed]
    assert sum(r["status"] == "passed" for r in results) > 30


@pytest.mark.parametrize("check", ["check_clustering", "check_clusterer_compute_labels_predict"])
def test_clusterer_checks(check):
    # check_estimator runs these only for subclasses of sklearn's ClusterMixin,
    # which anykmeans does not import; run them by hand.
    getattr(estimator_checks, check)("KMeans", anykmeans.KMeans(n_clusters=3))


def test_importing_anykmeans_imports_no_optional_library():
    code = ("import sys, anykmeans; "
            "print(sorted(m for m in ('sklearn', 'torch', 'jax', 'dask', 'cupy', 'matplotlib', "
            "'array_api_strict', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_params_clone_and_repr():
    model = anykmeans.KMeans(5, init="random", random_state=3, chunk_size=100)
    assert model.get_params()["chunk_size"] == 100
    assert repr(model) == "KMeans(n_clusters=5, init='random', random_state=3, chunk_size=100)"
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert model.set_params(n_clusters=2) is model and model.n_clusters == 2
    with pytest.raises(ValueError, match="Invalid parameter 'k'"):
        model.set_params(k=3)


def test_fitted_attributes_and_methods(xp):
    X = xp.asarray(blobs(400, 3, 4, seed=2))
    model = anykmeans.KMeans(4, random_state=0)
    labels = model.fit_predict(X)
    np.testing.assert_array_equal(host(labels), host(model.predict(X)))
    distances = host(model.transform(X))
    assert distances.shape == (400, 4)
    np.testing.assert_array_equal(distances.argmin(axis=1), host(labels))
    assert model.score(X) == pytest.approx(-model.inertia_, rel=xp.rtol * 10)
    assert model.n_features_in_ == 3
    assert len(model.inertia_history_) == model.n_iter_
    np.testing.assert_allclose(host(anykmeans.KMeans(4, random_state=0).fit_transform(X)),
                               distances, rtol=xp.rtol * 10)
    assert list(model.get_feature_names_out()) == ["kmeans0", "kmeans1", "kmeans2", "kmeans3"]


def test_explicit_init_with_several_restarts_warns():
    X = blobs(100, 2, 3)
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        anykmeans.KMeans(3, init=X[:3], n_init=5).fit(X)


def test_fewer_distinct_points_than_clusters_warns(xp):
    X = xp.asarray(np.repeat(np.array([[0.0, 1.0], [2.0, 3.0]]), 5, axis=0))
    with pytest.warns(anykmeans.ConvergenceWarning, match=r"distinct clusters \(2\)"):
        model = anykmeans.KMeans(3, random_state=0).fit(X)
    assert np.isfinite(host(model.cluster_centers_)).all()


def test_elkan_is_an_alias_of_lloyd():
    X = blobs(300, 3, 4)
    lloyd = anykmeans.KMeans(4, random_state=0).fit(X)
    elkan = anykmeans.KMeans(4, random_state=0, algorithm="elkan").fit(X)
    np.testing.assert_array_equal(lloyd.labels_, elkan.labels_)


def test_verbose_prints_iterations(capsys):
    anykmeans.KMeans(3, random_state=0, verbose=1).fit(blobs(100, 2, 3))
    out = capsys.readouterr().out
    assert "Initialization complete" in out
    assert "Iteration 0, inertia" in out
    assert "Converged at iteration" in out


def test_random_state_kinds_are_reproducible():
    X = blobs(300, 2, 5)
    for make in (lambda: 7, lambda: np.random.RandomState(7), lambda: np.random.default_rng(7)):
        a = anykmeans.KMeans(5, random_state=make()).fit(X)
        b = anykmeans.KMeans(5, random_state=make()).fit(X)
        np.testing.assert_array_equal(a.labels_, b.labels_)


def test_inputs_are_never_modified(xp):
    data = blobs(200, 3, 4, seed=1)
    X, w, init = xp.asarray(data), xp.asarray(np.linspace(0.5, 2, 200)), xp.asarray(data[:4])
    before = [host(a).copy() for a in (X, w, init)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for copy_x in (True, False):
            model = anykmeans.KMeans(4, init=init, n_init=2, copy_x=copy_x)
            model.fit(X, sample_weight=w)
            model.predict(X)
            model.transform(X)
            model.score(X, sample_weight=w)
    anykmeans.kmeans(X, 4, sample_weight=w, random_state=0)
    anykmeans.kmeans_plusplus(X, 4, sample_weight=w, random_state=0)
    for original, array in zip(before, (X, w, init), strict=True):
        np.testing.assert_array_equal(host(array), original)
