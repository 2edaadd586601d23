"""Spherical (cosine) k-means: ``metric="cosine"``, against loops written here and FAISS."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import anykmeans
from anykmeans import cli
from anykmeans._namespace import array_namespace, device_of
from tests.conftest import host
from tests.data import weights


def directions(n_samples: int, n_features: int, n_clusters: int, seed: int = 0,
               concentration: float = 3.0) -> np.ndarray:
    """Rows around ``n_clusters`` random directions, of norms spread over a factor of 6 (only
    their directions should count)."""
    rng = np.random.default_rng(seed)
    axes = rng.standard_normal((n_clusters, n_features))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    rows = (concentration * axes[rng.integers(n_clusters, size=n_samples)]
            + rng.standard_normal((n_samples, n_features)))
    return rows * rng.uniform(0.5, 3.0, size=(n_samples, 1))


def unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def reference_plusplus(U: np.ndarray, k: int, w: np.ndarray, seed: int) -> np.ndarray:
    """Greedy k-means++ with the cosine distance ``1 - cos`` on unit rows ``U``, drawing as
    scikit-learn's ``kmeans_plusplus`` does from ``RandomState(seed)``."""
    rng = np.random.RandomState(seed)
    n_trials = 2 + int(np.log(k))
    chosen = [rng.choice(U.shape[0], p=w / w.sum())]
    closest = np.maximum(1 - U @ U[chosen[0]], 0)
    potential = w @ closest
    for _ in range(1, k):
        targets = rng.uniform(size=n_trials) * potential
        ids = np.minimum(np.searchsorted(np.cumsum(w * closest), targets), U.shape[0] - 1)
        lowered = np.minimum(closest, np.maximum(1 - U[ids] @ U.T, 0))
        potentials = lowered @ w
        best = np.argmin(potentials)
        chosen.append(ids[best])
        closest, potential = lowered[best], potentials[best]
    return U[chosen]


def reference_lloyd(U: np.ndarray, centres: np.ndarray, w: np.ndarray, max_iter: int = 300):
    """Spherical Lloyd on unit rows ``U`` until the labels stop changing: assignment by the
    largest inner product, each centre the normalised weighted sum of its rows."""
    previous = None
    for iteration in range(max_iter):
        labels = np.argmax(U @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, w[:, None] * U)
        centres = unit(sums)
        if iteration > 0 and np.array_equal(labels, previous):
            break
        previous = labels
    inertia = w @ (1 - np.sum(U * centres[labels], axis=1))
    return labels, centres, iteration + 1, inertia


def assert_same(model, labels, centres, n_iter, inertia, rtol=1e-10):
    np.testing.assert_array_equal(host(model.labels_), labels)
    assert model.n_iter_ == n_iter
    np.testing.assert_allclose(host(model.cluster_centers_), centres, rtol=rtol, atol=rtol)
    assert model.inertia_ == pytest.approx(inertia, rel=rtol)


# -- the reference loops ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_same_seeds_labels_and_centres_as_the_reference_loop(seed, weighted):
    X = directions(1500, 6, 7, seed=seed, concentration=1.5)
    w = weights(X.shape[0], seed) if weighted else np.ones(X.shape[0])
    U = unit(X)
    expected = reference_lloyd(U, reference_plusplus(U, 7, w, seed), w)
    assert expected[2] > 3  # the clusters overlap: several iterations to compare
    model = anykmeans.KMeans(7, metric="cosine", tol=0, random_state=seed).fit(
        X, sample_weight=w if weighted else None)
    assert_same(model, *expected)


def test_an_init_array_is_normalised_and_lloyd_follows_the_reference():
    X = directions(1200, 5, 6, seed=4, concentration=1.0)
    init = X[:6] * 7.0  # off the sphere: normalised first
    expected = reference_lloyd(unit(X), unit(init), np.ones(X.shape[0]))
    result = anykmeans.kmeans(X, 6, init=init, metric="cosine", tol=0)
    np.testing.assert_array_equal(result.labels, expected[0])
    np.testing.assert_allclose(result.centers, expected[1], rtol=1e-10, atol=1e-10)
    assert (result.n_iter, result.inertia) == (expected[2], pytest.approx(expected[3]))


def test_same_labels_and_centres_as_faiss_from_the_same_initial_centres():
    faiss = pytest.importorskip("faiss")
    X = unit(directions(3000, 16, 8, seed=5, concentration=2.0)).astype(np.float32)
    init = X[np.random.default_rng(0).choice(X.shape[0], 8, replace=False)]
    niter = 40
    theirs = faiss.Kmeans(16, 8, niter=niter, spherical=True, seed=0,
                          max_points_per_centroid=X.shape[0])
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # its threads would wait for the suite's on a busy machine
    try:
        theirs.train(X, init_centroids=init)
    finally:
        faiss.omp_set_num_threads(threads)
    _, their_labels = theirs.index.search(X, 1)
    ours = anykmeans.KMeans(8, init=init, metric="cosine", max_iter=niter, tol=0).fit(X)
    # Both make niter updates (or stop ours where the labels stop changing, FAISS's later
    # iterations then changing nothing); both label the rows by the final centres.
    np.testing.assert_array_equal(ours.labels_, their_labels[:, 0])
    np.testing.assert_allclose(ours.cluster_centers_, theirs.centroids, rtol=1e-5, atol=1e-5)
    # FAISS's objective is each iteration's sum of inner products: ours sums 1 - cos.
    np.testing.assert_allclose(ours.inertia_history_,
                               X.shape[0] - np.asarray(theirs.obj)[:ours.n_iter_], rtol=1e-5)


@pytest.mark.parametrize("init", ["k-means++", "k-means||", "random"])
def test_a_fit_is_a_fixed_point_of_spherical_lloyd(init):
    X = directions(1000, 4, 5, seed=6)
    w = weights(X.shape[0], 6)
    model = anykmeans.KMeans(5, init=init, metric="cosine", tol=0, random_state=0).fit(
        X, sample_weight=w)
    U, centres = unit(X), model.cluster_centers_
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(model.labels_, np.argmax(U @ centres.T, axis=1))
    sums = np.zeros_like(centres)
    np.add.at(sums, model.labels_, w[:, None] * U)
    np.testing.assert_allclose(centres, unit(sums), atol=1e-12)
    assert model.inertia_ == pytest.approx(w @ (1 - np.sum(U * centres[model.labels_], 1)))


# -- predict, transform, score ----------------------------------------------------------------


def test_predict_transform_and_score_use_the_cosine_distance():
    X = directions(800, 5, 4, seed=7)
    X_new = directions(300, 5, 4, seed=8)
    model = anykmeans.KMeans(4, metric="cosine", random_state=0).fit(X)
    distances = model.transform(X_new)
    np.testing.assert_allclose(distances, 1 - unit(X_new) @ model.cluster_centers_.T,
                               atol=1e-12)
    np.testing.assert_array_equal(model.predict(X_new), np.argmin(distances, axis=1))
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert model.score(X) == pytest.approx(-model.inertia_, rel=1e-12)
    w = weights(X_new.shape[0])
    assert model.score(X_new, sample_weight=w) == pytest.approx(
        -w @ distances[np.arange(300), model.predict(X_new)], rel=1e-10)


def test_only_directions_count():
    X = directions(600, 3, 4, seed=9)
    scaled = X * np.random.default_rng(1).uniform(0.01, 100.0, size=(X.shape[0], 1))
    a = anykmeans.KMeans(4, metric="cosine", random_state=2).fit(X)
    b = anykmeans.KMeans(4, metric="cosine", random_state=2).fit(scaled)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, atol=1e-12)
    euclidean = anykmeans.KMeans(4, random_state=2).fit(scaled)
    assert not np.array_equal(euclidean.labels_, b.labels_)


def test_zero_rows_and_unknown_metrics_are_refused():
    X = directions(100, 3, 2)
    zero = X.copy()
    zero[[5, 9]] = 0
    with pytest.raises(ValueError, match=r"X has 2 rows of norm zero \(the first is row 5\)"):
        anykmeans.KMeans(2, metric="cosine").fit(zero)
    with pytest.raises(ValueError, match="norm zero"):
        anykmeans.kmeans(zero, 2, metric="cosine")
    with pytest.raises(ValueError, match="norm zero"):
        anykmeans.MiniBatchKMeans(2, metric="cosine").partial_fit(zero)
    model = anykmeans.KMeans(2, metric="cosine", random_state=0).fit(X)
    for method in (model.predict, model.transform, model.score):
        with pytest.raises(ValueError, match="X has 2 rows of norm zero"):
            method(zero)
    with pytest.raises(ValueError, match="init has 1 row of norm zero"):
        anykmeans.KMeans(2, init=np.stack([X[0], 0 * X[0]]), metric="cosine").fit(X)
    with pytest.raises(ValueError, match="metric must be one of"):
        anykmeans.KMeans(2, metric="manhattan").fit(X)
    with pytest.raises(ValueError, match="metric must be one of"):
        anykmeans.MiniBatchKMeans(2, metric=None).fit(X)
    anykmeans.KMeans(2).fit(zero)  # Euclidean k-means takes zero rows


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["KMeans", "MiniBatchKMeans"])
def test_check_estimator(estimator):
    from sklearn.utils import estimator_checks

    expected = {
        # scikit-learn's own expected failures for its k-means estimators
        "check_sample_weight_equivalence_on_dense_data": "randomness",
        "check_sample_weight_equivalence_on_sparse_data": "randomness",
        # deliberate refusals: their data has rows of zeros, which have no direction (the
        # sparse checks' too: sparse data itself is taken, see test_sparse_equals_dense)
        "check_estimators_dtypes": "zero rows are refused",
        "check_estimator_sparse_tag": "zero rows are refused",
        "check_estimator_sparse_array": "zero rows are refused",
        "check_estimator_sparse_matrix": "zero rows are refused",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = estimator_checks.check_estimator(
            getattr(anykmeans, estimator)(n_clusters=3, metric="cosine"),
            expected_failed_checks=expected, on_fail=None)
    failed = [r for r in results if r["status"] == "failed"]
    assert not failed, [(r["check_name"], repr(r["exception"])) for r in failed]
    assert sum(r["status"] == "passed" for r in results) > 30


# -- mini-batches -------------------------------------------------------------------------------


def test_partial_fit_follows_a_reference_spherical_step():
    X = directions(1200, 5, 4, seed=10)
    w = weights(X.shape[0], 10)
    init = X[:4]
    model = anykmeans.MiniBatchKMeans(4, init=init, metric="cosine", reassignment_ratio=0)
    centres, counts = unit(init), np.zeros(4)
    for start in range(0, X.shape[0], 300):
        chunk, chunk_w = X[start:start + 300], w[start:start + 300]
        model.partial_fit(chunk, sample_weight=chunk_w)
        U = unit(chunk)
        labels = np.argmax(U @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, chunk_w[:, None] * U)
        received = np.bincount(labels, chunk_w, minlength=4)
        moved = (centres * counts[:, None] + sums) / np.maximum(counts + received, 1e-300)[:, None]
        centres = unit(np.where(received[:, None] > 0, moved, centres))
        counts = counts + received
    np.testing.assert_allclose(model.cluster_centers_, centres, rtol=1e-10, atol=1e-10)
    labels = np.argmax(U @ centres.T, axis=1)
    np.testing.assert_array_equal(model.labels_, labels)
    assert model.inertia_ == pytest.approx(
        chunk_w @ (1 - np.sum(U * centres[labels], axis=1)), rel=1e-10)


def test_minibatch_fit_keeps_centres_on_the_sphere_and_reports_cosine_inertia():
    X = directions(3000, 6, 5, seed=11)
    model = anykmeans.MiniBatchKMeans(5, metric="cosine", batch_size=256,
                                      random_state=0).fit(X)
    U, centres = unit(X), model.cluster_centers_
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(model.labels_, np.argmax(U @ centres.T, axis=1))
    assert model.inertia_ == pytest.approx(np.sum(1 - np.sum(U * centres[model.labels_], 1)))
    full = anykmeans.KMeans(5, metric="cosine", random_state=0).fit(X)
    assert model.inertia_ < 1.05 * full.inertia_


# -- sparse data ------------------------------------------------------------------------------


def sparse_directions(n_samples: int, n_features: int, n_clusters: int, seed: int = 0):
    """:func:`directions` with about 70% of the values zeroed (never a row's largest), dense."""
    X = directions(n_samples, n_features, n_clusters, seed=seed, concentration=4.0)
    keep = np.random.default_rng(seed).random(X.shape) < 0.3
    keep[np.arange(n_samples), np.argmax(np.abs(X), axis=1)] = True
    return np.where(keep, X, 0.0)


@pytest.mark.parametrize(("fmt", "weighted"), [("csr_array", True), ("csc_matrix", False)])
def test_sparse_equals_dense_and_the_reference_loop(fmt, weighted):
    sp = pytest.importorskip("scipy.sparse")
    D = sparse_directions(1500, 20, 7, seed=18)
    w = weights(D.shape[0], 18) if weighted else np.ones(D.shape[0])
    U = unit(D)
    expected = reference_lloyd(U, reference_plusplus(U, 7, w, 18), w)
    params = dict(n_clusters=7, metric="cosine", tol=0, random_state=18)
    sparse = anykmeans.KMeans(**params).fit(getattr(sp, fmt)(D),
                                            sample_weight=w if weighted else None)
    assert_same(sparse, *expected)
    assert not np.any(sparse._mean)  # not centred, as sparse data never is
    dense = anykmeans.KMeans(**params).fit(D, sample_weight=w if weighted else None)
    np.testing.assert_array_equal(sparse.labels_, dense.labels_)
    np.testing.assert_allclose(sparse.cluster_centers_, dense.cluster_centers_, atol=1e-12)
    new = sparse_directions(300, 20, 7, seed=19)
    for model in (sparse, dense):
        np.testing.assert_array_equal(model.predict(sp.csr_matrix(new)), model.predict(new))
        np.testing.assert_allclose(model.transform(sp.csr_matrix(new)), model.transform(new),
                                   atol=1e-12)
        assert model.score(sp.csr_matrix(new)) == pytest.approx(model.score(new), rel=1e-12)


def test_sparse_minibatch_fit_and_partial_fit_equal_dense():
    sp = pytest.importorskip("scipy.sparse")
    D = sparse_directions(2000, 15, 5, seed=20)
    params = dict(n_clusters=5, metric="cosine", batch_size=128, max_iter=3, random_state=1)
    sparse = anykmeans.MiniBatchKMeans(**params).fit(sp.csr_array(D))
    dense = anykmeans.MiniBatchKMeans(**params).fit(D)
    assert sparse.n_steps_ == dense.n_steps_
    np.testing.assert_array_equal(sparse.labels_, dense.labels_)
    np.testing.assert_allclose(sparse.cluster_centers_, dense.cluster_centers_, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(sparse.cluster_centers_, axis=1), 1, rtol=1e-12)
    sparse, dense = (anykmeans.MiniBatchKMeans(**params) for _ in range(2))
    for start in range(0, D.shape[0], 500):
        sparse.partial_fit(sp.csr_matrix(D[start:start + 500]))
        dense.partial_fit(D[start:start + 500])
        np.testing.assert_array_equal(sparse.labels_, dense.labels_)
    np.testing.assert_allclose(sparse.cluster_centers_, dense.cluster_centers_, atol=1e-12)
    assert sparse.inertia_ == pytest.approx(dense.inertia_, rel=1e-12)


def test_sparse_zero_rows_are_refused():
    sp = pytest.importorskip("scipy.sparse")
    D = sparse_directions(100, 8, 2, seed=21)
    D[[4, 7, 30]] = 0
    with pytest.raises(ValueError, match=r"X has 3 rows of norm zero \(the first is row 4\)"):
        anykmeans.KMeans(2, metric="cosine").fit(sp.csr_array(D))
    model = anykmeans.MiniBatchKMeans(2, metric="cosine", random_state=0).fit(D[8:30])
    with pytest.raises(ValueError, match="X has 3 rows of norm zero"):
        model.predict(sp.csr_matrix(D))


# -- every backend ------------------------------------------------------------------------------


def test_every_backend_gives_numpys_labels(xp):
    X = directions(1000, 6, 8, seed=12, concentration=1.5)
    w = weights(X.shape[0], 12)
    params = dict(n_clusters=8, n_init=2, metric="cosine", random_state=3)
    expected = anykmeans.KMeans(**params).fit(X.astype(xp.dtype), sample_weight=w)
    model = anykmeans.KMeans(**params).fit(xp.asarray(X), sample_weight=xp.asarray(w))
    assert array_namespace(model.cluster_centers_) is array_namespace(xp.asarray(X[:1]))
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)
    assert model.n_iter_ == expected.n_iter_
    np.testing.assert_allclose(host(model.cluster_centers_), expected.cluster_centers_,
                               rtol=xp.rtol, atol=xp.rtol)
    assert model.inertia_ == pytest.approx(expected.inertia_, rel=xp.rtol * 10)
    X_new = xp.asarray(directions(200, 6, 8, seed=13))
    np.testing.assert_array_equal(host(model.predict(X_new)),
                                  expected.predict(host(X_new).astype(xp.dtype)))


def test_one_small_transfer_per_iteration(xp, transfers):
    X = xp.asarray(directions(2000, 4, 6, seed=8))
    model = anykmeans.KMeans(6, metric="cosine", random_state=0, max_iter=5, tol=0.0).fit(X)
    # A Euclidean fit's (the stats of every iteration, the final inertia, the distinct-cluster
    # count), and the smallest of the rows' norms (whether a row is zero).
    assert len(transfers) == model.n_iter_ + 3
    assert max(transfers) <= 4


def test_every_backend_gives_numpys_minibatch_fit_and_partial_fit(xp):
    X = directions(1000, 5, 6, seed=14, concentration=6.0)  # no row near a tie in float32
    params = dict(n_clusters=6, batch_size=256, max_iter=5, metric="cosine", random_state=0)
    expected = anykmeans.MiniBatchKMeans(**params).fit(X.astype(xp.dtype))
    model = anykmeans.MiniBatchKMeans(**params).fit(xp.asarray(X))
    assert device_of(model.cluster_centers_) == device_of(xp.asarray(X[:1]))
    assert model.n_steps_ == expected.n_steps_
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)
    expected, model = (anykmeans.MiniBatchKMeans(**params) for _ in range(2))
    for start in range(0, X.shape[0], 500):
        expected.partial_fit(X[start:start + 500].astype(xp.dtype))
        model.partial_fit(xp.asarray(X[start:start + 500]))
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)
    np.testing.assert_allclose(host(model.cluster_centers_), expected.cluster_centers_,
                               rtol=xp.rtol, atol=xp.rtol)


# -- saving, moving, the command line ---------------------------------------------------------


def test_save_load_and_to_keep_the_metric(tmp_path):
    X, X_new = directions(500, 4, 3, seed=15), directions(100, 4, 3, seed=16)
    for model in (anykmeans.KMeans(3, metric="cosine", random_state=0).fit(X),
                  anykmeans.MiniBatchKMeans(3, metric="cosine", random_state=0).fit(X)):
        model.save(tmp_path / "model.npz")
        torch = pytest.importorskip("torch")
        for copy, new in ((anykmeans.load(tmp_path / "model.npz"), X_new),
                          (model.to(torch), torch.asarray(X_new))):
            assert copy.metric == "cosine"
            np.testing.assert_array_equal(host(copy.predict(new)), model.predict(X_new))
            np.testing.assert_allclose(host(copy.transform(new)), model.transform(X_new),
                                       atol=1e-12)


def test_cli_fit_metric_cosine(tmp_path, capsys):
    X = directions(300, 3, 3, seed=17)
    np.save(tmp_path / "X.npy", X)
    assert cli.main(["fit", str(tmp_path / "X.npy"), "-k", "3", "--metric", "cosine",
                     "--seed", "4", "-o", str(tmp_path / "m.npz")]) == 0
    assert "inertia (sum of 1 - cos)" in capsys.readouterr().out
    expected = anykmeans.KMeans(3, metric="cosine", random_state=4).fit(X)
    model = anykmeans.load(tmp_path / "m.npz")
    assert model.metric == "cosine"
    np.testing.assert_array_equal(model.labels_, expected.labels_)
    assert cli.main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "X.npy"),
                     "-o", str(tmp_path / "labels.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), expected.labels_)
