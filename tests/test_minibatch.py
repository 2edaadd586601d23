"""MiniBatchKMeans: scikit-learn's answer and conventions, streams, and every backend."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import anykmeans
from anykmeans._namespace import array_namespace, device_of
from tests.conftest import host
from tests.data import blobs, untied_digits, weights

pytest.importorskip("sklearn")
from sklearn import cluster as sklearn_cluster
from sklearn.base import clone
from sklearn.utils import estimator_checks
from threadpoolctl import threadpool_limits

#: What scikit-learn lists as expected failures for its own MiniBatchKMeans.
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data":
        "sample_weight is not equivalent to removing/repeating samples.",
    "check_sample_weight_equivalence_on_sparse_data":
        "sample_weight is not equivalent to removing/repeating samples.",
}

DATASETS = {
    "blobs": lambda: blobs(3000, 5, 8, seed=1),
    "digits": untied_digits,
}


def overlapping_blobs(n_samples: int) -> np.ndarray:
    """40 overlapping blobs in 8-d, float32: seeding alone is far from optimal for 16 clusters."""
    return blobs(n_samples, 8, 40, seed=5, spread=3.0).astype(np.float32)


@pytest.fixture
def sklearn_single_thread():
    """scikit-learn's mini-batch steps on one OpenMP thread: on a busy machine, many
    threads per small step make its fits many times slower."""
    with threadpool_limits(1, user_api="openmp"):
        yield


def assert_same_fit(ours, theirs, *, rtol=1e-10):
    assert ours.n_steps_ == theirs.n_steps_
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    scale = np.abs(theirs.cluster_centers_).max()
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_,
                               rtol=rtol, atol=rtol * scale)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=rtol)


# -- scikit-learn's conventions --------------------------------------------------------------


def test_check_estimator():
    # scikit-learn's own test parameters for MiniBatchKMeans.
    model = anykmeans.MiniBatchKMeans(n_clusters=2, n_init=2, max_iter=5, batch_size=10)
    results = estimator_checks.check_estimator(
        model, expected_failed_checks=EXPECTED_FAILED_CHECKS, on_fail=None)
    failed = [r for r in results if r["status"] == "failed"]
    assert not failed, [(r["check_name"], repr(r["exception"])) for r in failed]
    assert sum(r["status"] == "passed" for r in results) > 30


@pytest.mark.parametrize("check", ["check_clustering", "check_clusterer_compute_labels_predict"])
def test_clusterer_checks(check):
    # check_estimator runs these only for subclasses of sklearn's ClusterMixin.
    getattr(estimator_checks, check)("MiniBatchKMeans", anykmeans.MiniBatchKMeans(n_clusters=3))


def test_params_clone_repr_and_feature_names():
    model = anykmeans.MiniBatchKMeans(5, batch_size=100, random_state=3, chunk_size=50)
    assert repr(model) == ("MiniBatchKMeans(n_clusters=5, batch_size=100, random_state=3, "
                           "chunk_size=50)")
    assert clone(model).get_params() == model.get_params()
    theirs = sklearn_cluster.MiniBatchKMeans().get_params()
    assert set(theirs) <= set(model.get_params())
    ours = anykmeans.MiniBatchKMeans().get_params()
    assert {name: ours[name] for name in theirs} == theirs  # scikit-learn's defaults
    model.fit(blobs(300, 3, 5))
    assert list(model.get_feature_names_out()) == [f"minibatchkmeans{i}" for i in range(5)]


# -- scikit-learn's answer ---------------------------------------------------------------------


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("params", [
    {},
    {"init": "random"},
    {"tol": 1e-3},
    {"compute_labels": False, "n_init": 3},
    {"max_no_improvement": None, "max_iter": 3},
], ids=["default", "random", "tol", "no-labels", "no-early-stop"])
@pytest.mark.parametrize("seed", [0, 1])
def test_same_fit_as_sklearn(dataset, params, seed, sklearn_single_thread):
    X = DATASETS[dataset]()
    params = dict(n_clusters=8, batch_size=256, random_state=seed, **params)
    ours = anykmeans.MiniBatchKMeans(**params).fit(X)
    theirs = sklearn_cluster.MiniBatchKMeans(**params).fit(X)
    if params.get("compute_labels", True):
        assert_same_fit(ours, theirs)
    else:
        assert not hasattr(ours, "labels_")
        assert ours.n_steps_ == theirs.n_steps_
        np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-10)
        assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)


@pytest.mark.parametrize("seed", [0, 3])
def test_same_fit_as_sklearn_with_weights_and_reassignments(seed, sklearn_single_thread):
    # Many low-count centres (reassignment_ratio 0.2, tol > 0: the shift after a
    # reassignment), batches drawn by weight.
    X = blobs(2000, 4, 30, seed=2)
    params = dict(n_clusters=20, batch_size=64, reassignment_ratio=0.2, tol=1e-4,
                  random_state=seed)
    w = weights(X.shape[0], seed)
    assert_same_fit(anykmeans.MiniBatchKMeans(**params).fit(X, sample_weight=w),
                    sklearn_cluster.MiniBatchKMeans(**params).fit(X, sample_weight=w))


def test_as_good_as_sklearn_when_capped_reassignments_break_ties_differently(
        sklearn_single_thread):
    # More low-count centres than half a batch: scikit-learn keeps those first in
    # an unstable sort of the counts, anykmeans the lowest index among equal
    # counts, so the runs part ways; their quality must not.
    X = blobs(2000, 4, 30, seed=2)
    ratios = []
    for seed in range(5):
        params = dict(n_clusters=30, batch_size=40, reassignment_ratio=0.3, random_state=seed)
        ours = anykmeans.MiniBatchKMeans(**params).fit(X)
        theirs = sklearn_cluster.MiniBatchKMeans(**params).fit(X)
        ratios.append(ours.inertia_ / theirs.inertia_)
    assert np.median(ratios) < 1.05


def test_partial_fit_equals_sklearn(sklearn_single_thread):
    X, w = blobs(2000, 4, 8, seed=6), weights(2000)
    params = dict(n_clusters=8, batch_size=100, random_state=0)
    ours, theirs = anykmeans.MiniBatchKMeans(**params), sklearn_cluster.MiniBatchKMeans(**params)
    for start in range(0, 2000, 150):
        s = slice(start, start + 150)
        ours.partial_fit(X[s], sample_weight=w[s])
        theirs.partial_fit(X[s], sample_weight=w[s])
    assert ours.n_steps_ == theirs.n_steps_ == 14
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-10)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)


# -- streams -------------------------------------------------------------------------------------


def test_partial_fit_over_a_memmap_approaches_a_full_batch_fit(tmp_path):
    data = overlapping_blobs(20_000)
    path = tmp_path / "stream.f32"
    data.tofile(path)
    del data
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(20_000, 8))
    full = anykmeans.KMeans(16, random_state=0).fit(X).inertia_
    ratios, seeding_ratios = [], []
    for seed in range(3):
        model = anykmeans.MiniBatchKMeans(16, random_state=seed)
        for _ in range(2):
            for start in range(0, X.shape[0], 500):
                model.partial_fit(X[start:start + 500])
                if model.n_steps_ == 1:
                    seeding_ratios.append(-model.score(X) / full)
        assert model.n_steps_ == 80
        ratios.append(-model.score(X) / full)
    assert np.median(seeding_ratios) > 1.1  # the stream, not the seeding, did the work
    assert np.median(ratios) < 1.05


# The backend tests share one problem size, so that JAX compiles each operation once.
BACKEND_DATA = (600, 3, 5)  # rows, features, clusters
BACKEND_BATCH = 50


def backend_data() -> tuple[np.ndarray, np.ndarray]:
    n_samples, n_features, n_clusters = BACKEND_DATA
    return blobs(n_samples, n_features, n_clusters, seed=4), weights(n_samples)


def test_partial_fit_streams_chunks_onto_a_backend(xp, tmp_path):
    data, w = backend_data()
    path = tmp_path / "stream.f64"
    data.tofile(path)
    X = np.memmap(path, dtype=np.float64, mode="r", shape=data.shape)
    n_clusters = BACKEND_DATA[2]
    reference = anykmeans.MiniBatchKMeans(n_clusters, random_state=0)
    model = anykmeans.MiniBatchKMeans(n_clusters, random_state=0)
    for start in range(0, X.shape[0], BACKEND_BATCH):
        chunk, chunk_weights = X[start:start + BACKEND_BATCH], w[start:start + BACKEND_BATCH]
        reference.partial_fit(chunk, sample_weight=chunk_weights)
        on_backend = xp.asarray(chunk)
        model.partial_fit(on_backend, sample_weight=xp.asarray(chunk_weights))
    assert type(model.cluster_centers_) is type(on_backend)
    assert device_of(model.cluster_centers_) == device_of(on_backend)
    assert model.n_steps_ == reference.n_steps_ == X.shape[0] // BACKEND_BATCH
    np.testing.assert_array_equal(host(model.labels_), reference.labels_)
    np.testing.assert_allclose(host(model.cluster_centers_), reference.cluster_centers_,
                               rtol=xp.rtol, atol=xp.rtol * np.abs(data).max())
    full = anykmeans.KMeans(n_clusters, random_state=0).fit(data, sample_weight=w).inertia_
    assert -reference.score(data, sample_weight=w) / full < 1.05


# -- every backend -------------------------------------------------------------------------------


def test_every_backend_gives_numpys_fit(xp):
    data, w = backend_data()
    params = dict(n_clusters=BACKEND_DATA[2], batch_size=BACKEND_BATCH, reassignment_ratio=0.2,
                  tol=1e-4, max_iter=20, random_state=0)
    reference = anykmeans.MiniBatchKMeans(**params).fit(data, sample_weight=w)
    X = xp.asarray(data)
    model = anykmeans.MiniBatchKMeans(**params).fit(X, sample_weight=xp.asarray(w))
    outputs = [model.cluster_centers_, model.labels_, model.predict(X), model.transform(X)]
    for out in outputs:
        assert array_namespace(out) is array_namespace(X)
        assert device_of(out) == device_of(X)
    assert model.cluster_centers_.dtype == X.dtype
    assert model.n_steps_ == reference.n_steps_
    np.testing.assert_array_equal(host(model.labels_), reference.labels_)
    np.testing.assert_array_equal(host(model.predict(X)), reference.labels_)
    np.testing.assert_allclose(host(model.cluster_centers_), reference.cluster_centers_,
                               rtol=xp.rtol, atol=xp.rtol * np.abs(data).max())
    assert model.inertia_ == pytest.approx(reference.inertia_, rel=xp.rtol * 10)
    assert model.score(X, sample_weight=xp.asarray(w)) == pytest.approx(-model.inertia_,
                                                                        rel=xp.rtol * 10)


def test_inputs_are_never_modified(xp):
    data, weights_ = backend_data()
    n_clusters = BACKEND_DATA[2]
    X, w, init = xp.asarray(data), xp.asarray(weights_), xp.asarray(data[:n_clusters])
    chunk, chunk_weights = xp.asarray(data[:BACKEND_BATCH]), xp.asarray(weights_[:BACKEND_BATCH])
    inputs = (X, w, init, chunk, chunk_weights)
    before = [host(a).copy() for a in inputs]
    model = anykmeans.MiniBatchKMeans(n_clusters, init=init, batch_size=BACKEND_BATCH,
                                      max_iter=3, random_state=0)
    model.fit(X, sample_weight=w)
    model.partial_fit(chunk, sample_weight=chunk_weights)
    model.predict(X), model.transform(X), model.score(X, sample_weight=w)
    anykmeans.MiniBatchKMeans(n_clusters, random_state=0).partial_fit(
        chunk, sample_weight=chunk_weights)
    for original, array in zip(before, inputs, strict=True):
        np.testing.assert_array_equal(host(array), original)


def test_a_view_returned_by_an_init_callable_is_never_written(sklearn_single_thread):
    X = blobs(500, 3, 4, seed=0)
    before = X.copy()
    ours = anykmeans.MiniBatchKMeans(4, init=lambda X, k, random_state: X[:k], random_state=0)
    ours.fit(X)
    np.testing.assert_array_equal(X, before)
    # scikit-learn updates its centres in place, and so writes into X through
    # such a view; handed a copy, it agrees with anykmeans.
    theirs = sklearn_cluster.MiniBatchKMeans(
        4, init=lambda X, k, random_state: X[:k].copy(), random_state=0).fit(X)
    assert_same_fit(ours, theirs)


def test_one_small_transfer_per_step(transfers):
    X = blobs(2000, 4, 6, seed=8)
    model = anykmeans.MiniBatchKMeans(6, batch_size=64, n_init=3, max_iter=5,
                                      max_no_improvement=None, random_state=0).fit(X)
    # per step the stats vector; per candidate seeding its validation inertia;
    # per fit the final inertia (tol=0: no variance; k-means++ moves nothing).
    assert model.n_steps_ == 5 * 2000 // 64
    assert len(transfers) == model.n_steps_ + 3 + 1
    assert max(transfers) <= 4


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params, message", [
    ({"batch_size": 0}, "batch_size"),
    ({"reassignment_ratio": -0.1}, "reassignment_ratio"),
    ({"max_no_improvement": -1}, "max_no_improvement"),
    ({"max_iter": 0}, "max_iter"),
    ({"n_init": 0}, "n_init"),
    ({"n_clusters": 400}, "n_samples=300 should be >= n_clusters=400"),
])
def test_bad_parameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        anykmeans.MiniBatchKMeans(**{"n_clusters": 3, **params}).fit(blobs(300, 2, 3))


def test_small_init_size_warns_as_sklearn():
    with pytest.warns(RuntimeWarning, match="init_size=2 should be larger than n_clusters=3"):
        anykmeans.MiniBatchKMeans(3, init_size=2, random_state=0).fit(blobs(300, 2, 3))


def test_partial_fit_checks_later_chunks():
    model = anykmeans.MiniBatchKMeans(3, random_state=0)
    with pytest.raises(anykmeans.NotFittedError):
        model.predict(blobs(10, 2, 3))
    with pytest.raises(ValueError, match="n_samples=2 should be >= n_clusters=3"):
        model.partial_fit(blobs(2, 2, 3))
    model.partial_fit(blobs(100, 2, 3))
    with pytest.raises(ValueError, match="X has 4 features"):
        model.partial_fit(blobs(100, 4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.partial_fit(blobs(100, 2, 3).astype(np.float32))  # converted to the model's dtype
    assert model.cluster_centers_.dtype == np.float64


@pytest.mark.parametrize("generator", [np.random.RandomState, np.random.default_rng])
def test_staged_uniforms_are_drawn_in_the_order_of_one_draw_at_a_time(monkeypatch, generator):
    """Draws staged ahead (here 3 at a time) are the sequential draws, and a settled generator
    draws next what it would have without staging."""
    from anykmeans import _random
    from anykmeans._namespace import array_namespace

    monkeypatch.setattr(_random, "STAGED_UNIFORMS", 12)
    xp = array_namespace(np.zeros(1))
    staged_rng, plain_rng = generator(5), generator(5)
    staged = _random.StagedUniforms(xp, staged_rng, 4, np.float64, "cpu")
    for taken in (1, 2, 3, 5):
        for _ in range(taken):
            np.testing.assert_array_equal(staged.next(), _random.uniform(plain_rng, 4))
        staged.settle()
        np.testing.assert_array_equal(_random.integers(staged_rng, 100, 7),
                                      _random.integers(plain_rng, 100, 7))
