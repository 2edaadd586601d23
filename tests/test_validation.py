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
    # Weights follow X, and new data is scikit-learn's ValueError: test_sklearn_contract.py.
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="same array library"):
        anykmeans.KMeans(3, init=torch.asarray(X[:3])).fit(X)
    with pytest.raises(TypeError, match="same array library"):
        anykmeans.kmeans_plusplus(X, 3, x_squared_norms=torch.ones(40, dtype=torch.float64))


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


# -- numbers too large for a float, pandas' missing values, counts of one --------------------

@pytest.mark.parametrize("where", ["scalar weight", "weights", "X", "init"])
def test_integers_too_large_for_a_float_are_refused_by_name(where):
    """Before, ``OverflowError: int too large to convert to float``, naming nothing."""
    huge = 10**400
    name = {"scalar weight": "sample_weight", "weights": "sample_weight"}.get(where, where)
    calls = {
        "scalar weight": lambda: anykmeans.KMeans(2).fit(X, sample_weight=huge),
        "weights": lambda: anykmeans.KMeans(2).fit(X, sample_weight=[huge] * 40),
        "X": lambda: anykmeans.KMeans(2).fit([[huge, 1], [2, 3], [4, 5]]),
        "init": lambda: anykmeans.KMeans(2, init=[[huge, 1, 1], [2, 3, 4]]).fit(X),
    }
    with pytest.raises(ValueError, match=f"Input {name} contains a number too large"):
        calls[where]()
    if where == "scalar weight":
        with pytest.raises(ValueError, match="sample_weight"):
            anykmeans.kmeans_plusplus(X, 2, sample_weight=huge)
        with pytest.raises(ValueError, match="sample_weight"):
            anykmeans.KMeans(2, random_state=0).fit(X).score(X, sample_weight=huge)


def frames_with_missing_values() -> dict:
    """Data frames of X whose second column holds pandas' NA in its third row."""
    pd = pytest.importorskip("pandas")
    frames = {}
    for dtype in ("Float64", "object"):
        frame = pd.DataFrame(X, columns=["a", "b", "c"]).astype(dtype)
        frame.iloc[2, 1] = pd.NA
        frames[dtype] = frame
    whole = pd.array(np.round(X[:, 1]).astype(int), dtype="Int64")
    whole[2] = pd.NA
    frames["Int64"] = pd.DataFrame({"a": X[:, 0], "b": whole, "c": X[:, 2]})
    flags = pd.array(X[:, 1] > 0, dtype="boolean")
    flags[2] = pd.NA
    frames["boolean"] = pd.DataFrame({"a": X[:, 0], "b": flags, "c": X[:, 2]})
    return frames


@pytest.mark.parametrize("dtype", ["Float64", "object", "Int64", "boolean"])
def test_pandas_missing_values_are_nan(dtype):
    """As scikit-learn says for nullable columns. Before, "X must be numeric; converting it
    failed: float() argument must be a string or a real number, not 'NAType'"."""
    pd = pytest.importorskip("pandas")
    frame = frames_with_missing_values()[dtype]
    with pytest.raises(ValueError, match="Input X contains NaN"):
        anykmeans.KMeans(2).fit(frame)
    complete = frame.dropna()
    model = anykmeans.KMeans(2, random_state=0).fit(complete)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict(frame)
    weights = pd.Series(frame["b"]).astype(dtype if dtype != "boolean" else "Int64")
    with pytest.raises(ValueError, match="Input sample_weight contains NaN"):
        model.score(frame.assign(b=1.0), sample_weight=weights)
    np.testing.assert_array_equal(
        anykmeans.KMeans(2, random_state=0).fit(complete).labels_,
        anykmeans.KMeans(2, random_state=0).fit(complete.to_numpy(dtype=float)).labels_)


def test_dask_arrays_filtered_to_no_rows():
    """Known to be empty: the message NumPy's empty arrays get; before, Dask's "Empty tuples
    are not allowed in chunks". Unknown chunk sizes are refused as before."""
    da = pytest.importorskip("dask.array")
    data = da.from_array(X, chunks=(10, 3))
    none = data[data[:, 0] > 1e9]
    with pytest.raises(ValueError, match=r"unknown dimensions.*compute_chunk_sizes"):
        anykmeans.KMeans(2).fit(none)
    none.compute_chunk_sizes()
    message = r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1"
    with pytest.raises(ValueError, match=message):
        anykmeans.KMeans(2).fit(none)
    model = anykmeans.KMeans(2, random_state=0).fit(data)
    with pytest.raises(ValueError, match=message):
        model.predict(none)
    weights = da.from_array(np.ones(40), chunks=10)
    weights = weights[weights > 2]
    weights.compute_chunk_sizes()
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(40,\)"):
        model.score(data, sample_weight=weights)


def test_counts_of_one_are_singular():
    """Before, "between 1 rows of 1 features".

    The one exception is scikit-learn's own message for data of the wrong width, "X has 1
    features, but KMeans is expecting 3 features as input.", which its estimator checks
    (``check_n_features_in_after_fitting``) match word for word.
    """
    model = anykmeans.KMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 1 features, but KMeans is expecting 3 features"):
        model.predict(X[:, :1])
    with pytest.raises(ValueError, match="between 1 row of 1 feature could overflow"):
        anykmeans.KMeans(1).fit(np.array([[1e200]]))
    with pytest.raises(ValueError, match="between 2 rows of 3 features could overflow"):
        anykmeans.KMeans(1).fit(np.full((2, 3), 1e200))


# -- verbose, copy_x and compute_labels, as scikit-learn's parameter validation checks them -

BAD_FLAGS = [("verbose", -1), ("verbose", 1.5), ("verbose", "1"), ("verbose", None),
             ("copy_x", "no"), ("copy_x", 1), ("copy_x", None),
             ("compute_labels", "no"), ("compute_labels", 0)]


@pytest.mark.parametrize("name, value", BAD_FLAGS)
def test_bad_flags_are_refused_by_name(name, value):
    """Before, accepted silently (a negative verbose printed nothing, "no" meant True)."""
    kind = ("an integer >= 0 or a bool" if name == "verbose" else "a bool")
    match = f"{name} must be {kind}, got {value!r}"
    estimators = {"verbose": [anykmeans.KMeans, anykmeans.MiniBatchKMeans],
                  "copy_x": [anykmeans.KMeans],
                  "compute_labels": [anykmeans.MiniBatchKMeans]}[name]
    for cls in estimators:
        with pytest.raises(ValueError, match=match):
            cls(2, **{name: value}).fit(X)
        if cls is anykmeans.MiniBatchKMeans:
            with pytest.raises(ValueError, match=match):
                cls(2, **{name: value}).partial_fit(X)
    if name == "verbose":
        with pytest.raises(ValueError, match=match):
            anykmeans.kmeans(X, 2, verbose=value)


@pytest.mark.parametrize("name, value", [("verbose", True), ("verbose", np.int64(0)),
                                         ("verbose", 2), ("copy_x", np.False_),
                                         ("compute_labels", np.True_)])
def test_good_flags_are_accepted(name, value, capsys):
    cls = anykmeans.MiniBatchKMeans if name == "compute_labels" else anykmeans.KMeans
    cls(2, random_state=0, **{name: value}).fit(X)
