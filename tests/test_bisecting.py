"""BisectingKMeans: scikit-learn's answer and conventions, every backend, its tree, its files."""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest

import anykmeans
from anykmeans import _bisecting
from anykmeans._bisecting import tree_layout
from anykmeans._libraries._plan import PLAN_VARIABLE, ladder_size
from tests.conftest import host
from tests.data import blobs, bundled, untied_digits, weights

pytest.importorskip("sklearn")
from sklearn import cluster as sklearn_cluster
from sklearn.utils import estimator_checks

#: What scikit-learn lists as expected failures for its own BisectingKMeans.
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data":
        "sample_weight is not equivalent to removing/repeating samples.",
    "check_sample_weight_equivalence_on_sparse_data":
        "sample_weight is not equivalent to removing/repeating samples.",
}

DATASETS = {
    "blobs": lambda: blobs(1500, 5, 12, seed=1),
    "iris": lambda: bundled("iris") + np.random.default_rng(1).uniform(-1e-3, 1e-3, (150, 4)),
    "digits": lambda: untied_digits()[:600],
    "noise": lambda: np.random.default_rng(3).standard_normal((500, 6)),
}


def assert_same_as_sklearn(ours, theirs):
    np.testing.assert_array_equal(host(ours.labels_), theirs.labels_)
    np.testing.assert_allclose(host(ours.cluster_centers_), theirs.cluster_centers_,
                               rtol=1e-10, atol=1e-10 * np.abs(theirs.cluster_centers_).max())
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)


# -- scikit-learn's answer ----------------------------------------------------------------------


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("strategy", ["biggest_inertia", "largest_cluster"])
@pytest.mark.parametrize("init", ["random", "k-means++"])
def test_same_answer_as_sklearn(dataset, strategy, init):
    X = DATASETS[dataset]()
    seed = sorted(DATASETS).index(dataset) + 3 * (init == "random")  # a few seeds in all
    params = dict(n_clusters=9, init=init, random_state=seed, bisecting_strategy=strategy)
    theirs = sklearn_cluster.BisectingKMeans(**params).fit(X)
    ours = anykmeans.BisectingKMeans(**params).fit(X)
    assert_same_as_sklearn(ours, theirs)
    X_new = X[::7] + 0.3
    np.testing.assert_array_equal(host(ours.predict(X_new)), theirs.predict(X_new))


def test_same_answer_as_sklearn_on_both_numpy_paths(numpy_path):
    X = DATASETS["blobs"]()
    params = dict(n_clusters=9, n_init=2, random_state=4)
    theirs = sklearn_cluster.BisectingKMeans(**params).fit(X)
    assert_same_as_sklearn(anykmeans.BisectingKMeans(**params).fit(X), theirs)


@pytest.mark.parametrize("strategy", ["biggest_inertia", "largest_cluster"])
def test_same_answer_as_sklearn_with_weights_and_restarts(strategy):
    X = blobs(800, 4, 10, seed=4)
    w = weights(X.shape[0], 4)
    for init in ("random", "k-means++"):
        params = dict(n_clusters=8, init=init, n_init=2, random_state=2,
                      bisecting_strategy=strategy)
        theirs = sklearn_cluster.BisectingKMeans(**params).fit(X, sample_weight=w)
        ours = anykmeans.BisectingKMeans(**params).fit(X, sample_weight=w)
        assert_same_as_sklearn(ours, theirs)


def test_same_answer_as_sklearn_with_a_callable_init_and_few_iterations():
    X = blobs(900, 3, 8, seed=6)

    def first_two(X, n_clusters, random_state):
        # A copy: scikit-learn's Lloyd loop writes into the centres it is given.
        return X[:n_clusters] + 0.0

    ours = anykmeans.BisectingKMeans(6, init=first_two, max_iter=2, tol=0).fit(X)
    theirs = sklearn_cluster.BisectingKMeans(6, init=first_two, max_iter=2, tol=0).fit(X)
    assert_same_as_sklearn(ours, theirs)


def test_a_callable_init_gets_the_rows_centred_as_sklearns():
    X = blobs(300, 3, 4, seed=6) + 5.0
    given = []

    def first_two(rows, n_clusters, random_state):
        given.append(rows)
        return rows[:n_clusters] + 0.0

    anykmeans.BisectingKMeans(3, init=first_two).fit(X)
    np.testing.assert_allclose(given[0], X - X.mean(axis=0), atol=1e-12)


def test_one_cluster_is_the_mean():
    X = blobs(300, 3, 4)
    model = anykmeans.BisectingKMeans(1, random_state=0).fit(X)
    np.testing.assert_allclose(model.cluster_centers_[0], X.mean(axis=0), rtol=1e-12)
    assert not model.labels_.any() and not model.predict(X[:5]).any()
    assert model.inertia_ == pytest.approx(((X - X.mean(axis=0)) ** 2).sum(), rel=1e-12)


@pytest.mark.parametrize("init", ["random", "k-means++"])
def test_padded_leaves_give_sklearns_answer(monkeypatch, init):
    # The accelerator plan pads every leaf's rows to a size of the ladder with rows of
    # weight zero: the answer is the same.
    monkeypatch.setenv(PLAN_VARIABLE, "accelerator")
    X = blobs(700, 4, 9, seed=11)
    w = weights(X.shape[0], 11)
    params = dict(n_clusters=8, init=init, n_init=2, random_state=5)
    theirs = sklearn_cluster.BisectingKMeans(**params).fit(X, sample_weight=w)
    ours = anykmeans.BisectingKMeans(**params).fit(X, sample_weight=w)
    assert_same_as_sklearn(ours, theirs)
    assert ours.splits_ == anykmeans.BisectingKMeans(**params).fit(X, sample_weight=w).splits_


def test_ladder_sizes():
    sizes = [ladder_size(n) for n in range(1, 5000)]
    assert all(n <= size < 1.25 * n for n, size in enumerate(sizes, 1))
    assert sizes[:8] == list(range(1, 9)) and len(set(sizes[1024:2048])) == 4


@pytest.mark.parametrize("plan", ["cpu", "accelerator"])
def test_reads_per_bisection(monkeypatch, transfers, plan):
    # Per bisection: each Lloyd run's reads (one an iteration, one for its inertia) and one
    # for the children's scores; k-means++ seeding reads nothing. Never an n-sized read.
    torch = pytest.importorskip("torch")
    monkeypatch.setenv(PLAN_VARIABLE, plan)
    runs = []

    def counted_lloyd(*args, **kwargs):
        run = lloyd(*args, **kwargs)
        runs.append(run.n_iter)
        return run

    lloyd = _bisecting.lloyd
    monkeypatch.setattr(_bisecting, "lloyd", counted_lloyd)
    X = torch.asarray(blobs(2000, 4, 10, seed=12))
    anykmeans.BisectingKMeans(7, init="k-means++", n_init=2, random_state=0).fit(X)
    assert len(runs) == 6 * 2
    # and the fit's final inertia
    assert len(transfers) == sum(n + 1 for n in runs) + 6 + 1
    assert max(transfers) <= 4


# -- the tree -----------------------------------------------------------------------------------


def test_predict_descends_the_tree_not_the_nearest_centre():
    # Two groups far apart in x, each two pairs far apart in y; one group is split again.
    # A point just on that group's side of the middle goes to it at the root, though its
    # leaves, far off in y, are farther from the point than the other group's centre.
    X = np.array([[x, y] for x in (0.0, 20.0) for y in (0.0, 0.1, 10.0, 10.1)])
    for seed in range(20):  # the first seed whose first split separates the groups
        params = dict(n_clusters=3, random_state=seed, bisecting_strategy="largest_cluster")
        model = anykmeans.BisectingKMeans(**params).fit(X)
        if model.node_centers_[1, 0] != 10:
            break
    theirs = sklearn_cluster.BisectingKMeans(**params).fit(X)
    split_again = model.node_centers_[int(model.splits_[1])]
    point = np.array([[10 + 0.1 * np.sign(split_again[0] - 10), 5.05]])
    nearest = np.argmin(((model.cluster_centers_ - point) ** 2).sum(axis=1))
    assert model.predict(point)[0] == theirs.predict(point)[0] != nearest


def test_labels_follow_the_leaves_depth_first():
    X = blobs(600, 2, 6, seed=3)
    model = anykmeans.BisectingKMeans(6, random_state=1).fit(X)
    children, leaf_labels, depth = tree_layout(model.splits_)
    assert children.shape == (11, 2) and model.node_centers_.shape == (11, 2)
    leaves = [node for node in range(11) if children[node, 0] == node]
    for node in leaves:
        np.testing.assert_array_equal(model.cluster_centers_[leaf_labels[node]],
                                      model.node_centers_[node])
    np.testing.assert_allclose(model.node_centers_[0], X.mean(axis=0), rtol=1e-12)
    assert 3 <= depth <= 5
    np.testing.assert_array_equal(model.predict(X), model.labels_)


def test_tree_layout_refuses_what_is_not_a_tree():
    assert tree_layout(()) == (pytest.approx(np.zeros((1, 2))), pytest.approx([0]), 0)
    children, labels, depth = tree_layout((0.0, 2.0, 1.0))
    assert children[0].tolist() == [1, 2] and children[2].tolist() == [3, 4]
    assert depth == 2
    # leaves in depth-first order: 5, 6 (under 1), 3, 4 (under 2)
    assert [labels[node] for node in (5, 6, 3, 4)] == [0, 1, 2, 3]
    for splits in ((0, 0), (1,), (0, 5), (0, 1.5), (-1,)):
        with pytest.raises(ValueError, match="not a leaf"):
            tree_layout(splits)


# -- scikit-learn's conventions -----------------------------------------------------------------


#: Checks scikit-learn runs for one estimator and not the other, whatever they compute: its
#: array API checks (anykmeans declares array API support) and those it runs only for
#: subclasses of its ClusterMixin (anykmeans does not import it: see test_clusterer_checks).
UNSHARED_CHECKS = ("check_array_api_", "check_clustering", "check_clusterer_compute_labels_predict",
                   "check_estimators_partial_fit_n_features")


def check_estimator_outcomes(model) -> collections.Counter:
    """How many of scikit-learn's checks of ``model`` (those both estimators get) ended in
    each status, by check name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = estimator_checks.check_estimator(
            model, expected_failed_checks=EXPECTED_FAILED_CHECKS, on_fail=None)
    return collections.Counter((r["check_name"], r["status"]) for r in results
                               if not r["check_name"].startswith(UNSHARED_CHECKS))


def test_check_estimator():
    # scikit-learn's own test parameters for BisectingKMeans: the same checks pass, fail and
    # are skipped as for its own (the sparse ones among them).
    params = dict(n_clusters=2, n_init=2, max_iter=5)
    ours = check_estimator_outcomes(anykmeans.BisectingKMeans(**params))
    assert not [name for name, status in ours if status == "failed"]
    assert ours == check_estimator_outcomes(sklearn_cluster.BisectingKMeans(**params))
    assert ("check_estimator_sparse_array", "passed") in ours
    assert sum(count for (_, status), count in ours.items() if status == "passed") > 30


@pytest.mark.parametrize("check", ["check_clustering", "check_clusterer_compute_labels_predict"])
def test_clusterer_checks(check):
    # check_estimator runs these only for subclasses of sklearn's ClusterMixin.
    getattr(estimator_checks, check)("BisectingKMeans", anykmeans.BisectingKMeans(n_clusters=3))


def test_parameters_are_sklearns():
    theirs = sklearn_cluster.BisectingKMeans().get_params()
    ours = anykmeans.BisectingKMeans().get_params()
    assert {name: ours[name] for name in theirs} == theirs
    assert set(ours) - set(theirs) == {"chunk_size"}


@pytest.mark.parametrize(("params", "message"), [
    (dict(bisecting_strategy="smallest"), "bisecting_strategy must be one of"),
    (dict(init="k-means||"), "init must be one of"),
    (dict(init=np.zeros((2, 3))), "init must be one of"),
    (dict(n_init="auto"), "n_init"),
    (dict(n_clusters=0), "n_clusters"),
    (dict(algorithm="fast"), "algorithm must be one of"),
])
def test_bad_parameters_are_named(params, message):
    with pytest.raises((ValueError, TypeError), match=message):
        anykmeans.BisectingKMeans(**params).fit(blobs(50, 3, 2))


def test_data_frames_and_transform():
    pd = pytest.importorskip("pandas")
    X = blobs(300, 3, 4, seed=2)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = anykmeans.BisectingKMeans(4, random_state=0).fit(frame)
    assert model.feature_names_in_.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(model.predict(frame), model.labels_)
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(frame.rename(columns={"a": "z"}))
    theirs = sklearn_cluster.BisectingKMeans(4, random_state=0).fit(X)
    np.testing.assert_allclose(model.transform(frame), theirs.transform(X), rtol=1e-10)
    assert model.score(frame) == pytest.approx(theirs.score(X), rel=1e-10)
    out = model.set_output(transform="pandas").transform(frame)
    assert list(out.columns) == [f"bisectingkmeans{i}" for i in range(4)]


# -- every backend ------------------------------------------------------------------------------


@pytest.mark.parametrize(("strategy", "init"), [("biggest_inertia", "k-means++"),
                                               ("largest_cluster", "random")])
def test_same_labels_on_every_backend(xp, strategy, init):
    X = blobs(800, 4, 8, seed=5)
    w = weights(X.shape[0], 5)
    params = dict(n_clusters=6, init=init, n_init=2, random_state=3,
                  bisecting_strategy=strategy)
    expected = anykmeans.BisectingKMeans(**params).fit(X.astype(xp.dtype),
                                                       sample_weight=w.astype(xp.dtype))
    model = anykmeans.BisectingKMeans(**params).fit(xp.asarray(X), sample_weight=xp.asarray(w))
    np.testing.assert_array_equal(host(model.labels_), host(expected.labels_))
    assert model.splits_ == expected.splits_
    np.testing.assert_allclose(host(model.cluster_centers_), host(expected.cluster_centers_),
                               rtol=xp.rtol, atol=xp.rtol * 10)
    assert model.inertia_ == pytest.approx(expected.inertia_, rel=xp.rtol)
    X_new = xp.asarray(X[::5] * 1.1)
    np.testing.assert_array_equal(host(model.predict(X_new)), host(expected.predict(host(X_new))))


# -- files and devices --------------------------------------------------------------------------


def test_save_load_and_to(tmp_path):
    import array_api_strict as xps

    X = blobs(300, 3, 5, seed=9)
    model = anykmeans.BisectingKMeans(5, random_state=0,
                                      bisecting_strategy="largest_cluster").fit(X)
    model.save(tmp_path / "model.npz")
    like = xps.asarray(X[:1], device=xps.Device("device1"))
    loaded = anykmeans.load(tmp_path / "model.npz", like=like)
    assert type(loaded) is anykmeans.BisectingKMeans
    assert loaded.get_params() == model.get_params()
    assert loaded.splits_ == model.splits_
    assert loaded.node_centers_.device == like.device
    np.testing.assert_array_equal(host(loaded.predict(xps.asarray(X, device=like.device))),
                                  model.labels_)
    back = loaded.to(np)
    assert isinstance(back.node_centers_, np.ndarray)
    np.testing.assert_array_equal(back.predict(X), model.labels_)


def test_a_damaged_tree_is_refused(tmp_path):
    model = anykmeans.BisectingKMeans(4, random_state=0).fit(blobs(200, 3, 4))
    model.splits_ = (0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="not a leaf"):
        model.predict(blobs(10, 3, 4))
    model.splits_ = (0.0, 1.0)
    with pytest.raises(ValueError, match="do not make a tree"):
        model.predict(blobs(10, 3, 4))
