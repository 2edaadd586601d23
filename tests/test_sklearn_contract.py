"""scikit-learn's public contract beyond its answers: its exception and warning classes and
words, its parameters and functions, and its array API protocol, each checked against
scikit-learn itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import anykmeans
from tests.conftest import host
from tests.data import blobs, weights

sklearn_cluster = pytest.importorskip("sklearn.cluster")
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.extmath import row_norms  # noqa: E402

#: Two distinct points: a fit of 4 clusters finds 2.
DUPLICATES = np.repeat([[0.0, 0.0], [1.0, 1.0]], 10, axis=0)


def raised(call, exception=ValueError) -> str:
    """The message of the ``exception`` that ``call()`` raises."""
    with pytest.raises(exception) as caught:
        call()
    return str(caught.value)


def warned(call, category) -> list[str]:
    """The messages of the warnings of ``category`` that ``call()`` gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, category)]


# -- 1. scikit-learn's ConvergenceWarning --------------------------------------------------

def test_convergence_warning_is_sklearns_when_sklearn_is_imported():
    assert warned(lambda: sklearn_cluster.KMeans(4, random_state=0).fit(DUPLICATES),
                  SklearnConvergenceWarning)
    with pytest.warns(SklearnConvergenceWarning, match="distinct clusters") as caught:
        anykmeans.KMeans(4, random_state=0).fit(DUPLICATES)
    assert all(issubclass(w.category, anykmeans.ConvergenceWarning) for w in caught
               if issubclass(w.category, SklearnConvergenceWarning))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SklearnConvergenceWarning)
        with pytest.raises(SklearnConvergenceWarning):
            anykmeans.kmeans(DUPLICATES, 4, random_state=0)


def test_without_sklearn_the_classes_are_anykmeans_own_and_nothing_imports_it():
    code = """if True:
        import json, sys, warnings
        import numpy as np
        import anykmeans
        X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 10, axis=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            anykmeans.KMeans(4, random_state=0).fit(X)
        try:
            anykmeans.KMeans(2).predict(X)
        except anykmeans.NotFittedError as exc:
            error = type(exc)
        print(json.dumps([[w.category is anykmeans.ConvergenceWarning for w in caught],
                          error is anykmeans.NotFittedError, "sklearn" in sys.modules]))
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == [[True], True, False]


# -- 2. transform(cluster_centers_) -----------------------------------------------------------

def test_the_centres_lie_at_exactly_zero_from_themselves(xp):
    X = xp.asarray(blobs(100, 5, 8, seed=4) * 3 + 7)
    model = anykmeans.KMeans(8, random_state=0).fit(X)
    model.set_params(chunk_size=3)  # chunks that cut the diagonal
    distances = host(model.transform(model.cluster_centers_))
    assert (np.diag(distances) == 0).all()
    centres = host(model.cluster_centers_)
    expected = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_allclose(distances, expected, rtol=xp.rtol * 100)


def test_transform_of_the_centres_as_sklearn():
    for seed in range(6):  # the expansion left up to 1e-7 on most of these diagonals
        X = np.random.default_rng(seed).normal(size=(300, 5)) * 3 + 7
        ours = anykmeans.KMeans(8, random_state=seed).fit(X)
        theirs = sklearn_cluster.KMeans(8, random_state=seed).fit(X)
        assert (np.diag(theirs.transform(theirs.cluster_centers_)) == 0).all()
        distances = ours.transform(ours.cluster_centers_)
        np.testing.assert_array_equal(np.diag(distances), 0.0)
        np.testing.assert_allclose(distances, ours.transform(ours.cluster_centers_.copy()),
                                   rtol=1e-7, atol=1e-6)
    minibatch = anykmeans.MiniBatchKMeans(8, random_state=0).fit(X)  # the same transform
    np.testing.assert_array_equal(np.diag(minibatch.transform(minibatch.cluster_centers_)), 0.0)


# -- 3. an init of the wrong shape -------------------------------------------------------------

@pytest.mark.parametrize("estimator", ["KMeans", "MiniBatchKMeans"])
@pytest.mark.parametrize("shape", [(3, 5), (8, 2), (2, 2)])
def test_an_init_of_the_wrong_shape_raises_sklearns_error(estimator, shape):
    X = blobs(40, 5, 3)
    init = np.ones(shape)
    expected = raised(lambda: getattr(sklearn_cluster, estimator)(8, init=init).fit(X))
    assert "does not match the number of" in expected
    assert raised(lambda: getattr(anykmeans, estimator)(8, init=init).fit(X)) == expected
    callable_init = lambda X, k, random_state: np.ones(shape)  # noqa: E731
    expected = raised(lambda: sklearn_cluster.KMeans(8, init=callable_init).fit(X))
    message = raised(lambda: anykmeans.KMeans(8, init=callable_init).fit(X))
    assert message.startswith(expected) and "init callable" in message


# -- 4. kmeans_plusplus's x_squared_norms ---------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_plusplus_uses_x_squared_norms_as_sklearn(seed):
    X = blobs(300, 4, 6, seed=seed)
    norms = row_norms(X, squared=True) + np.random.default_rng(seed).uniform(0, 5, 300)
    expected = sklearn_cluster.kmeans_plusplus(X, 6, x_squared_norms=norms, random_state=seed)
    centres, indices = anykmeans.kmeans_plusplus(X, 6, x_squared_norms=norms,
                                                 random_state=seed)
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_array_equal(centres, expected[0])
    # float32 data: scikit-learn checks the norms but does not use them; nor does anykmeans.
    X32 = X.astype(np.float32)
    expected = sklearn_cluster.kmeans_plusplus(X32, 6, x_squared_norms=norms, random_state=seed)
    np.testing.assert_array_equal(
        anykmeans.kmeans_plusplus(X32, 6, x_squared_norms=norms, random_state=seed)[1],
        expected[1])


def test_x_squared_norms_on_every_backend(xp):
    X = blobs(300, 4, 6, seed=5)
    norms = row_norms(X, squared=True) + np.random.default_rng(5).uniform(0, 5, 300)
    used = xp.dtype == "float64" and xp.backend.device != "no_float64"
    expected = anykmeans.kmeans_plusplus(X if used else X.astype(np.float32), 6,
                                         x_squared_norms=norms if used else None,
                                         random_state=5)[1]
    indices = anykmeans.kmeans_plusplus(xp.asarray(X), 6, x_squared_norms=xp.asarray(norms),
                                        random_state=5)[1]
    np.testing.assert_array_equal(host(indices), expected)


def test_x_squared_norms_of_the_wrong_length_is_sklearns_error():
    X = blobs(30, 3, 3)
    norms = row_norms(X, squared=True)[:29]
    expected = raised(lambda: sklearn_cluster.kmeans_plusplus(X, 3, x_squared_norms=norms))
    assert raised(lambda: anykmeans.kmeans_plusplus(X, 3, x_squared_norms=norms)) == expected
    with pytest.raises(ValueError, match="x_squared_norms contains NaN"):
        anykmeans.kmeans_plusplus(X, 3, x_squared_norms=np.full(30, np.nan))


# -- 5. elkan with one cluster ---------------------------------------------------------------

def test_elkan_with_one_cluster_warns_as_sklearn():
    X = blobs(30, 3, 3)
    expected = warned(lambda: sklearn_cluster.KMeans(1, algorithm="elkan").fit(X),
                      RuntimeWarning)
    assert len(expected) == 1
    assert warned(lambda: anykmeans.KMeans(1, algorithm="elkan").fit(X),
                  RuntimeWarning) == expected
    assert warned(lambda: anykmeans.k_means(X, 1, algorithm="elkan"), RuntimeWarning) == expected
    assert warned(lambda: anykmeans.KMeans(2, algorithm="elkan").fit(X), RuntimeWarning) == []


# -- 6. k_means ------------------------------------------------------------------------------------

@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_k_means_returns_what_sklearns_returns(init):
    X = blobs(500, 4, 5, seed=2)
    w = weights(500, 2)
    params = dict(sample_weight=w, init=init, n_init=3, random_state=3)
    centres, labels, inertia = anykmeans.k_means(X, 5, **params)
    expected = sklearn_cluster.k_means(X, 5, return_n_iter=True, **params)
    np.testing.assert_array_equal(labels, expected[1])
    np.testing.assert_allclose(centres, expected[0], rtol=1e-10)
    assert inertia == pytest.approx(expected[2], rel=1e-10)
    ours = anykmeans.k_means(X, 5, return_n_iter=True, **params)
    assert len(ours) == 4 and ours[3] == expected[3]
    assert isinstance(ours[2], float) and isinstance(ours[3], int)
    with pytest.raises(ValueError, match="return_n_iter must be a bool"):
        anykmeans.k_means(X, 5, return_n_iter=1)


# -- 7. the array API, declared to scikit-learn ------------------------------------------------

@pytest.mark.parametrize("estimator", [anykmeans.KMeans, anykmeans.MiniBatchKMeans])
def test_array_api_support_is_declared(estimator):
    assert get_tags(estimator()).array_api_support is True


#: Runs scikit-learn's array API checks of an estimator: scikit-learn skips them unless
#: SciPy's array API support is switched on before SciPy is imported, hence a process.
ARRAY_API_CHECKS = """if True:
    import json, sys, warnings
    import anykmeans
    from sklearn.utils.estimator_checks import _yield_array_api_checks
    outcome = {}
    for estimator in (anykmeans.KMeans(3), anykmeans.MiniBatchKMeans(3)):
        for check in _yield_array_api_checks(estimator):
            keywords = sorted(check.keywords.items())
            name = f"{type(estimator).__name__} {check.func.__name__} {keywords}"
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    check(type(estimator).__name__, estimator)
                outcome[name] = "passed"
            except Exception as exc:
                skipped = type(exc).__name__ == "SkipTest"
                outcome[name] = "skipped" if skipped else f"failed: {exc!r}"
    print(json.dumps(outcome))
"""


def test_sklearns_array_api_checks_pass():
    pytest.importorskip("array_api_strict")
    pytest.importorskip("torch")
    out = subprocess.run([sys.executable, "-c", ARRAY_API_CHECKS], capture_output=True,
                         text=True, check=True, env={**os.environ, "SCIPY_ARRAY_API": "1"})
    outcome = json.loads(out.stdout.splitlines()[-1])
    failed = {name: result for name, result in outcome.items() if result.startswith("failed")}
    assert not failed
    passed = [name for name, result in outcome.items() if result == "passed"]
    for estimator in ("KMeans", "MiniBatchKMeans"):
        for check in ("check_array_api_input", "check_array_api_mixed_inputs",
                      "check_array_api_same_namespace"):
            assert any(name.startswith(f"{estimator} {check} ") for name in passed), check
        assert any(name.startswith(f"{estimator} check_array_api_input ") and "torch" in name
                   for name in passed)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_new_data_of_another_library_is_sklearns_error(method):
    torch = pytest.importorskip("torch")
    X = blobs(40, 3, 3)
    on_numpy = anykmeans.KMeans(3, random_state=0).fit(X)
    on_torch = anykmeans.KMeans(3, random_state=0).fit(torch.asarray(X))
    for model, data, words in [
            (on_numpy, torch.asarray(X), r"Array namespaces used during fit \(.*numpy\) and "
                                         rf"{method} \(.*torch\) differ"),
            (on_torch, X, "differ"),
            (on_torch, X.tolist(), "Only the NumPy namespace is compatible with array-like")]:
        with pytest.raises(ValueError, match=rf"Inputs passed to KMeans\.{method}\(\) must use "
                                             f"the same namespace.*{words}.*model.to"):
            getattr(model, method)(data)


def test_new_data_on_another_device_is_sklearns_error():
    strict = pytest.importorskip("array_api_strict")
    X = blobs(40, 3, 3)
    model = anykmeans.KMeans(3, random_state=0).fit(strict.asarray(X))
    with pytest.raises(ValueError, match=r"must use the same namespace and the same device.*"
                                         r"Devices used during fit .* and predict .* differ"):
        model.predict(strict.asarray(X, device=strict.Device("device1")))


def test_weights_of_another_library_or_device_follow_x():
    torch = pytest.importorskip("torch")
    strict = pytest.importorskip("array_api_strict")
    X, w = blobs(200, 3, 4, seed=1), weights(200, 1)
    expected = anykmeans.KMeans(4, random_state=0).fit(X, sample_weight=w)
    for data, other in [(X, torch.asarray(w)), (torch.asarray(X), w),
                        (strict.asarray(X), strict.asarray(w, device=strict.Device("device1")))]:
        model = anykmeans.KMeans(4, random_state=0).fit(data, sample_weight=other)
        np.testing.assert_array_equal(host(model.labels_), expected.labels_)
        assert model.inertia_ == pytest.approx(expected.inertia_, rel=1e-12)
        assert model.score(data, sample_weight=other) == pytest.approx(
            expected.score(X, sample_weight=w), rel=1e-12)

