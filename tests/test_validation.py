"""Bad input raises a clear ValueError or TypeError naming the problem."""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from tests.data import blobs

X = blobs(40, 3, 3)


@pytest.mark.parametrize("bad, match", [
    (np.array([[1.0, np.nan], [2.0, 3.0]]), "X contains NaN or infinity"),
    (np.array([[1.0, np.inf], [2.0, 3.0]]), "X contains NaN or infinity"),
    (np.arange(5.0), "Expected a 2-D array for X.*Reshape your data"),
    (np.zeros((2, 2, 2)), "Expected a 2-D array"),
    (np.zeros((0, 3)), "0 sample"),
    (np.zeros((5, 0)), "0 feature"),
    (np.ones((3, 2)) + 1j, "Complex data not supported"),
])
def test_bad_data_raises_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        anykmeans.KMeans(2).fit(bad)


@pytest.mark.parametrize("bad", [np.array([["a", "b"], ["c", "d"]]),
                                 np.array([[1.0, {"x": 1}]], dtype=object)])
def test_non_numeric_data_raises_type_error(bad):
    with pytest.raises(TypeError, match="numeric"):
        anykmeans.KMeans(1).fit(bad)


def test_object_arrays_of_numbers_are_accepted():
    model = anykmeans.KMeans(2, random_state=0).fit(X.astype(object))
    assert model.cluster_centers_.dtype == np.float64


def test_fewer_samples_than_clusters():
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_clusters=4"):
        anykmeans.KMeans(4).fit(X[:3])


@pytest.mark.parametrize("name, value", [
    ("n_clusters", 0), ("n_clusters", 2.5), ("n_clusters", "3"), ("n_clusters", True),
    ("n_init", 0), ("n_init", "sometimes"), ("max_iter", -1), ("max_iter", 1.0),
    ("tol", -1e-3), ("tol", float("nan")), ("init", "kmeans++"), ("algorithm", "full"),
    ("chunk_size", 0), ("random_state", "seed"),
])
def test_bad_parameters_name_themselves(name, value):
    with pytest.raises(ValueError, match=name):
        anykmeans.KMeans(**{"n_clusters": 3, name: value}).fit(X)


def test_init_of_the_wrong_shape_or_values():
    with pytest.raises(ValueError, match="shape of the initial centers"):
        anykmeans.KMeans(3, init=X[:2]).fit(X)
    with pytest.raises(ValueError, match="shape of the initial centers"):
        anykmeans.KMeans(3, init=X[:3, :2]).fit(X)
    bad = X[:3].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="init contains NaN"):
        anykmeans.KMeans(3, init=bad).fit(X)
    with pytest.raises(ValueError, match="init callable"):
        anykmeans.KMeans(3, init=lambda X, k, random_state: X[:2]).fit(X)


@pytest.mark.parametrize("weights, match", [
    (np.ones(39), "sample_weight must have shape \\(40,\\)"),
    (np.ones((40, 1)), "sample_weight must have shape"),
    (-np.ones(40), "non-negative"),
    (np.zeros(40), "all are zero"),
    (np.full(40, np.nan), "sample_weight contains NaN"),
    # Numbers and 0-d arrays weigh every sample: the same checks.
    (-1.0, "non-negative"), (np.float64(-1.0), "non-negative"), (np.int64(-2), "non-negative"),
    (np.array(-1.0), "non-negative"), (0.0, "all are zero"), (np.float32(0.0), "all are zero"),
    (np.array(0), "all are zero"), (float("nan"), "sample_weight contains NaN"),
    (np.array(np.inf), "sample_weight contains NaN or infinity"),
])
def test_bad_sample_weight(weights, match):
    with pytest.raises(ValueError, match=match):
        anykmeans.KMeans(2).fit(X, sample_weight=weights)


def test_arrays_from_two_libraries_are_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="same array library"):
        anykmeans.KMeans(3, init=torch.asarray(X[:3])).fit(X)
    with pytest.raises(TypeError, match="same array library"):
        anykmeans.KMeans(3).fit(X, sample_weight=torch.ones(40, dtype=torch.float64))
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    with pytest.raises(TypeError, match="same array library"):
        model.predict(torch.asarray(X))


def test_arrays_on_two_devices_are_refused():
    strict = pytest.importorskip("array_api_strict")
    data = strict.asarray(X)
    other = strict.asarray(X[:3], device=strict.Device("device1"))
    with pytest.raises(ValueError, match="init is on device"):
        anykmeans.KMeans(3, init=other).fit(data)


def test_sparse_input_is_refused():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="Sparse input"):
        anykmeans.KMeans(2).fit(sparse.csr_matrix(X))


def test_fitted_model_checks_new_data():
    model = anykmeans.KMeans(3, random_state=0)
    with pytest.raises(anykmeans.NotFittedError, match="not fitted"):
        model.predict(X)
    model.fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="Reshape your data"):
        model.transform(X[0])


def test_invalid_kmeans_plusplus_arguments():
    with pytest.raises(ValueError, match="n_local_trials"):
        anykmeans.kmeans_plusplus(X, 3, n_local_trials=0)
    with pytest.raises(ValueError, match="n_samples=40 should be >= n_clusters=41"):
        anykmeans.kmeans_plusplus(X, 41)


def test_random_init_needs_enough_positive_weights():
    w = np.zeros(40)
    w[:2] = 1.0
    with pytest.raises(ValueError, match="only 2 have a positive sample_weight"):
        anykmeans.KMeans(3, init="random", n_init=1).fit(X, sample_weight=w)
