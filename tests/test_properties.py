"""Properties of k-means that hold for every input; Hypothesis searches for counterexamples.

Each test runs on every backend of the ``xp`` fixture. Hypothesis draws small
problems (a few dozen rows, up to four clusters) of three kinds: Gaussian
blobs, points on a coarse grid (duplicates and exact ties between centres),
and arbitrary float32-representable values (mixed magnitudes). The searches
are derandomised and bounded (:func:`search`), so CI sees the same examples
every run. Every expectation is a mathematical identity or a brute-force
NumPy float64 reference, never a recorded output.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import anykmeans
import anykmeans._lloyd
from tests.conftest import host

#: Examples per property: full on the eager CPU backends, fewer where one fit
#: costs more (JAX traces each new shape; Dask schedules a graph per iteration).
EXAMPLES = {"dask": 3, "jax": 2, "array_api_strict": 6}
DEFAULT_EXAMPLES = 12


def search(xp, strategy, check, max_examples: int = DEFAULT_EXAMPLES) -> None:
    """Run ``check(example)`` on examples Hypothesis draws from ``strategy``, reproducibly.

    Hypothesis is set up inside the test so that the example budget can
    depend on the backend; ``derandomize`` makes the examples the same on
    every run, and no example database is kept between runs.
    """
    budget = min(max_examples, EXAMPLES.get(xp.backend.library, max_examples))
    checked = []

    @settings(max_examples=budget, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(strategy)
    def run(example):
        check(example)
        checked.append(example)

    run()
    assert checked, "every example was rejected: the property was never checked"


@st.composite
def datasets(draw, max_samples: int = 24, kinds=("blobs", "grid", "floats")) -> np.ndarray:
    """A float64 data matrix whose values are exactly representable in float32."""
    n_samples = draw(st.integers(2, max_samples))
    n_features = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(kinds))
    shape = (n_samples, n_features)
    if kind == "floats":
        elements = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
        return draw(hnp.arrays(np.float64, shape, elements=elements))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "grid":  # half-integers in [-2, 2]: duplicates and exact ties
        return rng.integers(-4, 5, size=shape) / 2.0
    centres = rng.uniform(-10, 10, size=(draw(st.integers(1, 4)), n_features))
    X = centres[rng.integers(centres.shape[0], size=n_samples)] + rng.standard_normal(shape)
    return np.round(X * 1024) / 1024  # 15 significant bits: exact after shifts and scalings


@st.composite
def problems(draw, **data_options) -> tuple[np.ndarray, int, int]:
    """``(X, n_clusters, seed)``."""
    X = draw(datasets(**data_options))
    n_clusters = draw(st.integers(1, min(4, X.shape[0])))
    return X, n_clusters, draw(st.integers(0, 2**31 - 1))


@st.composite
def problems_with_init(draw, **data_options) -> tuple[np.ndarray, np.ndarray]:
    """``(X, init)``: data and ``n_clusters`` distinct rows of it as initial centres."""
    X = draw(datasets(**data_options))
    distinct = np.unique(X, axis=0)
    n_clusters = draw(st.integers(1, min(4, distinct.shape[0])))
    chosen = draw(st.permutations(range(distinct.shape[0])))[:n_clusters]
    return X, distinct[list(chosen)]


def in_dtype(xp, X: np.ndarray) -> np.ndarray:
    """``X`` as the backend holds it, in float64 on the host (the reference's input)."""
    return host(xp.asarray(X)).astype(np.float64)


def eps(xp) -> float:
    return float(np.finfo(xp.dtype).eps)


@contextlib.contextmanager
def relocations(monkeypatch):
    """Count the Lloyd iterations that relocated an empty cluster (yields a list of calls).

    Relocation moves the rows *farthest* from their centres, ties to the lower
    row index, and each moves with its own weight: properties that reorder,
    repeat or drop rows hold only for runs that never relocate, and those
    tests ``assume`` it.
    """
    calls = []
    relocate = anykmeans._lloyd.relocate_empty_clusters

    def counting(*args, **kwargs):
        calls.append(1)
        return relocate(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(anykmeans._lloyd, "relocate_empty_clusters", counting)
        yield calls


def quiet_fit(estimator, X, **kwargs):
    """``estimator.fit`` without the ConvergenceWarning that duplicates legitimately cause."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", anykmeans.ConvergenceWarning)
        return estimator.fit(X, **kwargs)


def quiet_kmeans(X, n_clusters, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", anykmeans.ConvergenceWarning)
        return anykmeans.kmeans(X, n_clusters, **kwargs)


def sq_distance_matrix(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Brute-force squared distances in float64, from the residuals."""
    return ((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)


def rounding_slack(xp, X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Per row, how far rounding in the backend's dtype can move a squared distance.

    Distances are computed as ``|x - m|^2 + |c - m|^2 - 2 (x - m).(c - m)`` in
    the data's dtype (``m`` the data mean), so their error is a few ulps of
    ``|x - m|^2 + max |c - m|^2``; anykmeans counts scores within 16 ulps of
    it as tied. 64 ulps bounds both.
    """
    m = X.mean(axis=0)
    x_sq = ((X - m) ** 2).sum(axis=1)
    c_sq = ((centres - m) ** 2).sum(axis=1).max()
    return 64 * eps(xp) * (x_sq + c_sq + np.abs(m) @ np.abs(m))


def assert_nearest(xp, X: np.ndarray, centres: np.ndarray, labels: np.ndarray) -> None:
    """Every label names a nearest centre; where the nearest is unique beyond rounding, that one."""
    D = sq_distance_matrix(X, centres)
    slack = rounding_slack(xp, X, centres)
    best = D.min(axis=1)
    chosen = D[np.arange(X.shape[0]), labels]
    assert np.all(chosen <= best + slack), "a label names a centre that is not the nearest"
    if centres.shape[0] > 1:
        second = np.partition(D, 1, axis=1)[:, 1]
        clear = second - best > 2 * slack
        np.testing.assert_array_equal(labels[clear], D.argmin(axis=1)[clear])


def assert_non_increasing(xp, history, X: np.ndarray) -> None:
    """``history`` never increases by more than the rounding of one inertia evaluation."""
    centred = X - X.mean(axis=0)
    scale = ((centred ** 2).sum(axis=1).max() + np.abs(X.mean(axis=0)).sum() ** 2)
    slack = 16 * eps(xp) * X.shape[0] * scale
    steps = np.diff(np.asarray(history, dtype=np.float64))
    assert np.all(steps <= slack), f"inertia increased: {history}"


# -- Lloyd's objective --------------------------------------------------------------------

def test_inertia_never_increases(xp):
    """Every run's inertia history, estimator and functional core alike, never goes up."""
    def check(problem):
        X, n_clusters, seed = problem
        Xb = xp.asarray(X)
        params = dict(tol=0.0, random_state=seed)
        model = quiet_fit(anykmeans.KMeans(n_clusters, init="random", n_init=2, **params), Xb)
        result = quiet_kmeans(Xb, n_clusters, init="random", n_init=1, **params)
        reference = in_dtype(xp, X)
        assert len(model.inertia_histories_) == 2
        for history in (*model.inertia_histories_, result.inertia_history):
            assert len(history) >= 1
            assert_non_increasing(xp, history, reference)
        assert model.inertia_history_ in model.inertia_histories_
        assert len(model.inertia_history_) == model.n_iter_
        # The final update and relabelling only lower the last assignment's inertia.
        assert_non_increasing(xp, (*model.inertia_history_, model.inertia_), reference)

    search(xp, problems(), check)


def test_strict_fixed_point(xp):
    """At convergence with tol=0, centres are weighted means of their points, labels nearest."""
    def check(problem):
        X, n_clusters, seed = problem
        weights = np.random.default_rng(seed).integers(1, 4, size=X.shape[0]).astype(float)
        result = quiet_kmeans(xp.asarray(X), n_clusters, sample_weight=xp.asarray(weights),
                              init="random", n_init=1, tol=0.0, random_state=seed)
        assert result.converged and result.n_iter < 300
        reference = in_dtype(xp, X)
        centres, labels = host(result.centers).astype(np.float64), host(result.labels)
        assert np.all((labels >= 0) & (labels < n_clusters))
        assert_nearest(xp, reference, centres, labels)
        m = reference.mean(axis=0)
        atol = 64 * eps(xp) * (np.abs(reference - m).max() + np.abs(m).max())
        for j in np.unique(labels):
            members = labels == j
            mean = weights[members] @ reference[members] / weights[members].sum()
            np.testing.assert_allclose(centres[j], mean, rtol=64 * eps(xp), atol=atol)
        inertia = weights @ sq_distance_matrix(reference, centres)[np.arange(X.shape[0]), labels]
        slack = rounding_slack(xp, reference, centres).sum()
        assert result.inertia == pytest.approx(inertia, rel=1e3 * eps(xp), abs=slack)

    search(xp, problems(), check)


# -- invariances --------------------------------------------------------------------------

def test_permuting_rows_permutes_labels(xp, monkeypatch):
    """The same explicit init on permuted rows gives the permuted labels and the same centres."""
    def check(example):
        (X, init), order_seed = example
        order = np.random.default_rng(order_seed).permutation(X.shape[0])
        with relocations(monkeypatch) as relocated:
            fits = [quiet_fit(anykmeans.KMeans(init.shape[0], init=xp.asarray(init), tol=0.0),
                              xp.asarray(data)) for data in (X, X[order])]
        assume(not relocated)
        straight, permuted = fits
        np.testing.assert_array_equal(host(permuted.labels_), host(straight.labels_)[order])
        assert_same_n_iter(permuted, straight)
        assert_same_centres(xp, permuted, straight)

    search(xp, st.tuples(problems_with_init(), st.integers(0, 2**32 - 1)), check)


def assert_same_n_iter(model, expected) -> None:
    """The same iterations, but for the confirming one that rounding may add or save.

    With ``tol=0`` a run stops when its labels repeat or when an update moves
    no centre at all; the second depends on whether the new mean rounds to
    the old one exactly, which rounding decides, and then the run confirms one
    iteration later by its labels.
    """
    assert abs(model.n_iter_ - expected.n_iter_) <= 1


def assert_same_centres(xp, model, expected, scale: float = 1.0, shift=0.0) -> None:
    """Centres are ``expected``'s times ``scale`` plus ``shift``; inertia times ``scale**2``."""
    centres = host(expected.cluster_centers_).astype(np.float64) * scale + shift
    atol = 64 * eps(xp) * (np.abs(centres).max() + 1e-300)
    np.testing.assert_allclose(host(model.cluster_centers_), centres, rtol=64 * eps(xp), atol=atol)
    assert model.inertia_ == pytest.approx(expected.inertia_ * scale**2, rel=1e3 * eps(xp),
                                           abs=atol**2 * 1e3)


def test_translation_and_scaling(xp):
    """``a X + t``, init moved alike: the same labels, centres ``a c + t``, inertia ``a^2 I``."""
    def check(example):
        (X, init), scale, shift = example
        transformed = X * scale + shift
        assume(np.array_equal(in_dtype(xp, transformed), transformed))  # exact in the dtype
        k = init.shape[0]
        original = quiet_fit(anykmeans.KMeans(k, init=xp.asarray(init), tol=0.0), xp.asarray(X))
        moved = quiet_fit(anykmeans.KMeans(k, init=xp.asarray(init * scale + shift), tol=0.0),
                          xp.asarray(transformed))
        np.testing.assert_array_equal(host(moved.labels_), host(original.labels_))
        assert_same_n_iter(moved, original)
        assert_same_centres(xp, moved, original, scale, shift)

    scales = st.sampled_from([0.25, 2.0, 1024.0, 2.0**-20, 2.0**20])  # exact in binary
    shifts = st.sampled_from([0.0, 1.0, -64.0, 4096.0])
    search(xp, st.tuples(problems_with_init(kinds=("blobs", "grid")), scales, shifts), check)


def weighted_and_repeated(xp, monkeypatch, X, init, weights):
    """Fits of ``X`` with integer ``weights`` and of its rows repeated ``weights`` times."""
    repeated = np.repeat(X, weights.astype(int), axis=0)
    params = dict(n_clusters=init.shape[0], init=xp.asarray(init), tol=0.0)
    with relocations(monkeypatch) as relocated:
        weighted = quiet_fit(anykmeans.KMeans(**params), xp.asarray(X),
                             sample_weight=xp.asarray(weights))
        plain = quiet_fit(anykmeans.KMeans(**params), xp.asarray(repeated))
    assume(not relocated)
    np.testing.assert_array_equal(np.repeat(host(weighted.labels_), weights.astype(int)),
                                  host(plain.labels_))
    assert_same_n_iter(weighted, plain)
    assert_same_centres(xp, weighted, plain)


def test_integer_weights_equal_repeated_rows(xp, monkeypatch):
    def check(example):
        (X, init), weight_seed = example
        weights = np.random.default_rng(weight_seed).integers(1, 4, size=X.shape[0]).astype(float)
        weighted_and_repeated(xp, monkeypatch, X, init, weights)

    search(xp, st.tuples(problems_with_init(), st.integers(0, 2**32 - 1)), check)


def test_zero_weight_equals_removing_the_row(xp, monkeypatch):
    def check(example):
        (X, init), weight_seed = example
        weights = np.random.default_rng(weight_seed).integers(0, 2, size=X.shape[0]).astype(float)
        assume(weights.sum() >= init.shape[0])
        weighted_and_repeated(xp, monkeypatch, X, init, weights)

    search(xp, st.tuples(problems_with_init(), st.integers(0, 2**32 - 1)), check)


# -- the fitted model on its own training data ---------------------------------------------

def test_predict_transform_score_agree_with_fit(xp):
    """predict(X) == labels_; transform's row argmin is predict; score(X) == -inertia_."""
    def check(problem):
        X, n_clusters, seed = problem
        Xb = xp.asarray(X)
        model = quiet_fit(anykmeans.KMeans(n_clusters, random_state=seed), Xb)
        labels = host(model.labels_)
        np.testing.assert_array_equal(host(model.predict(Xb)), labels)
        distances = host(model.transform(Xb)).astype(np.float64)
        assert distances.shape == (X.shape[0], n_clusters)
        assert np.all(np.isfinite(distances)) and np.all(distances >= 0)
        reference = in_dtype(xp, X)
        centres = host(model.cluster_centers_).astype(np.float64)
        # transform's squared distances are the ones predict ranks (up to rounding).
        np.testing.assert_allclose(distances**2, sq_distance_matrix(reference, centres),
                                   rtol=1e-4 if xp.dtype == "float32" else 1e-9,
                                   atol=np.max(rounding_slack(xp, reference, centres)))
        assert_nearest(xp, reference, centres, labels)
        if n_clusters > 1:  # argmin is the label wherever rounding cannot reorder the two best
            sq = np.sort(distances**2, axis=1)
            clear = sq[:, 1] - sq[:, 0] > 2 * rounding_slack(xp, reference, centres)
            np.testing.assert_array_equal(distances.argmin(axis=1)[clear], labels[clear])
        # score measures from the stored centres, the fit from its centred ones: they differ
        # by one rounding of the centres, which matters only when the inertia is ~0.
        floor = rounding_slack(xp, reference, centres).sum()
        assert model.score(Xb) == pytest.approx(-model.inertia_, rel=1e3 * eps(xp), abs=floor)

    search(xp, problems(), check)
