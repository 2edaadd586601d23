"""scikit-learn's conventions beyond ``check_estimator``: data frames, ``set_output``, notebooks'
HTML, metadata routing, and ``model.to`` given a device or a library."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import anykmeans
from anykmeans._libraries import library_of
from anykmeans._namespace import device_of
from tests.conftest import host
from tests.data import blobs, weights

try:
    import pandas as pd
except ImportError:
    pd = None

needs_pandas = pytest.mark.skipif(pd is None, reason="pandas is not installed")

X = blobs(150, 4, 3, seed=11)
NAMES = ["alcohol", "ash", "hue", "proline"]
ESTIMATORS = [anykmeans.KMeans, anykmeans.MiniBatchKMeans]
MISMATCH = "The feature names should match those that were passed during fit."


def frame(values=X, columns=NAMES, **kwargs):
    return pd.DataFrame(values, columns=columns, **kwargs)


def fitted(cls, data=None):
    return cls(3, random_state=0).fit(frame() if data is None else data)


# -- feature names ---------------------------------------------------------------------------

@needs_pandas
def test_wine_with_reordered_columns_is_refused():
    """The issue's case: before, 39% of the labels agreed with the fit, and nothing was said."""
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).data
    model = anykmeans.KMeans(3, random_state=0).fit(wine)
    with pytest.raises(ValueError, match="must be in the same order as they were in fit"):
        model.predict(wine[wine.columns[::-1]])
    np.testing.assert_array_equal(model.predict(wine), model.labels_)


@needs_pandas
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_on_a_data_frame_records_its_column_names(cls):
    model = fitted(cls)
    assert isinstance(model.feature_names_in_, np.ndarray)
    assert model.feature_names_in_.dtype == object
    assert model.feature_names_in_.tolist() == NAMES
    if cls is anykmeans.MiniBatchKMeans:
        assert cls(3, random_state=0).partial_fit(frame()).feature_names_in_.tolist() == NAMES
    model.fit(X)  # a refit on names-less data forgets them, as scikit-learn
    assert not hasattr(model, "feature_names_in_")


@needs_pandas
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(("columns", "detail"), [
    (NAMES[::-1], "Feature names must be in the same order as they were in fit.\n"),
    (["alcohol", "ash", "hue", "magnesium"],
     "Feature names unseen at fit time:\n- magnesium\n"
     "Feature names seen at fit time, yet now missing:\n- proline\n"),
])
def test_other_columns_are_refused_by_every_method(cls, columns, detail):
    model = fitted(cls)
    bad = frame(columns=columns)
    message = MISMATCH + "\n" + detail
    methods = [model.predict, model.transform, model.score]
    if cls is anykmeans.MiniBatchKMeans:
        methods.append(model.partial_fit)
    for method in methods:
        with pytest.raises(ValueError) as error:
            method(bad)
        assert str(error.value) == message, method.__name__


@needs_pandas
def test_missing_columns_are_named_before_their_number():
    model = fitted(anykmeans.KMeans)
    with pytest.raises(ValueError, match="seen at fit time, yet now missing:\n- hue\n- proline"):
        model.predict(frame()[NAMES[:2]])


@needs_pandas
def test_long_lists_of_names_are_cut_after_five():
    columns = [f"f{i}" for i in range(8)]
    model = anykmeans.KMeans(2, random_state=0).fit(frame(blobs(40, 8, 2), columns))
    other = frame(blobs(10, 8, 2), [f"g{i}" for i in range(8)])
    with pytest.raises(ValueError, match=r"- g4\n- \.\.\.\nFeature names seen"):
        model.predict(other)


@needs_pandas
def test_names_on_one_side_only_warn():
    named = fitted(anykmeans.KMeans)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but KMeans was "
                                         "fitted with feature names") as record:
        named.predict(X)
    assert record[0].filename == __file__  # the caller's line
    plain = anykmeans.MiniBatchKMeans(3, random_state=0).fit(X)
    with pytest.warns(UserWarning, match="X has feature names, but MiniBatchKMeans was fitted "
                                         "without feature names"):
        plain.transform(frame())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        named.predict(frame())
        plain.predict(X)


@needs_pandas
def test_only_string_names_are_feature_names():
    model = anykmeans.KMeans(3, random_state=0).fit(frame(columns=range(4)))
    assert not hasattr(model, "feature_names_in_")
    with pytest.raises(TypeError, match="only supported if all input features have string"):
        anykmeans.KMeans(3).fit(frame(columns=["a", 1, "b", 2]))


@needs_pandas
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("columns", [["alcohol", "ash", "alcohol", "proline"], [0, 1, 0, 0]])
def test_duplicate_column_names_are_refused(cls, columns):
    """As scikit-learn refuses them, by fit and by every method given new data; before,
    accepted (and ``feature_names_in_`` held a name twice)."""
    repeated = columns[0]
    times = columns.count(repeated)
    match = f"Expected unique column names, got:\n- {repeated!r} {times} times"
    with pytest.raises(ValueError, match=match):
        cls(3, random_state=0).fit(frame(columns=columns))
    model = cls(3, random_state=0).fit(X)
    for method in (model.predict, model.transform, model.score):
        with pytest.raises(ValueError, match=match):
            method(frame(columns=columns))
    if cls is anykmeans.MiniBatchKMeans:
        with pytest.raises(ValueError, match=match):
            cls(3, random_state=0).partial_fit(frame(columns=columns))


@needs_pandas
def test_input_features_are_checked_against_the_names():
    model = fitted(anykmeans.KMeans)
    assert model.get_feature_names_out(NAMES).tolist() == ["kmeans0", "kmeans1", "kmeans2"]
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        model.get_feature_names_out(NAMES[::-1])
    with pytest.raises(ValueError, match=r"should have length equal to number of features \(4"):
        anykmeans.KMeans(3, random_state=0).fit(X).get_feature_names_out(["a"])


@needs_pandas
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_scikit_learn_checks_column_names(cls):
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import (
        check_dataframe_column_names_consistency,
        check_n_features_in_after_fitting,
    )

    check_dataframe_column_names_consistency(cls.__name__, cls(3))
    check_n_features_in_after_fitting(cls.__name__, cls(3))


@needs_pandas
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_save_load_and_to_keep_the_names(cls, tmp_path):
    model = fitted(cls)
    model.save(tmp_path / "model.npz")
    for copy in (anykmeans.load(tmp_path / "model.npz"), model.to(None)):
        assert copy.feature_names_in_.dtype == object
        assert copy.feature_names_in_.tolist() == NAMES
        with pytest.raises(ValueError, match=MISMATCH):
            copy.predict(frame(columns=NAMES[::-1]))
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:  # plain data
        assert json.loads(str(archive["metadata"]))["attributes"]["feature_names_in_"] == {
            "kind": "names", "names": NAMES}


@needs_pandas
@pytest.mark.parametrize("names", [
    "alcohol", ["alcohol", "ash"], ["alcohol", "ash", "hue", 4], [["a"], "b", "c", "d"], None])
def test_files_with_other_names_are_refused(tmp_path, names):
    fitted(anykmeans.KMeans).save(tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:
        arrays = dict(archive)
    metadata = json.loads(str(arrays.pop("metadata")))
    metadata["attributes"]["feature_names_in_"]["names"] = names
    np.savez(tmp_path / "crafted.npz", metadata=np.asarray(json.dumps(metadata)), **arrays)
    with pytest.raises(ValueError, match=r"is not an anykmeans model file\. Its feature names"):
        anykmeans.load(tmp_path / "crafted.npz")


# -- set_output ------------------------------------------------------------------------------

@needs_pandas
def test_a_pipeline_outputs_pandas():
    """Before, ``set_output`` raised ValueError: KMeans had none."""
    pytest.importorskip("sklearn")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = frame(index=[f"row{i}" for i in range(len(X))])
    pipe = make_pipeline(StandardScaler(), anykmeans.KMeans(3, random_state=0))
    out = pipe.set_output(transform="pandas").fit_transform(data)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["kmeans0", "kmeans1", "kmeans2"]
    assert out.index.equals(data.index)
    assert pipe[-1].feature_names_in_.tolist() == NAMES  # the scaler's pandas output
    np.testing.assert_array_equal(out.to_numpy().argmin(axis=1), pipe[-1].labels_)


@needs_pandas
def test_pandas_output_on_every_backend(xp):
    data = xp.asarray(X)
    model = anykmeans.KMeans(3, random_state=0).set_output(transform="pandas")
    out = model.fit_transform(data)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["kmeans0", "kmeans1",
                                                                   "kmeans2"]
    np.testing.assert_array_equal(out.to_numpy(), model.transform(data).to_numpy())
    default = model.set_output(transform="default").transform(data)
    assert type(default) is type(data) and device_of(default) == device_of(data)
    np.testing.assert_array_equal(out.to_numpy(), host(default))


def test_set_output_refuses_other_containers():
    model = anykmeans.KMeans(3)
    assert model.set_output(transform=None) is model and not hasattr(
        model, "_sklearn_output_config")
    with pytest.raises(ValueError, match="transform must be one of"):
        model.set_output(transform="arrow")


def test_polars_output():
    pl = pytest.importorskip("polars")
    out = anykmeans.KMeans(3, random_state=0).set_output(transform="polars").fit_transform(X)
    assert isinstance(out, pl.DataFrame) and out.columns == ["kmeans0", "kmeans1", "kmeans2"]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("check", ["check_set_output_transform",
                                   "check_set_output_transform_pandas",
                                   "check_global_output_transform_pandas"])
def test_scikit_learn_checks_set_output(cls, check):
    pytest.importorskip("sklearn")
    from sklearn.utils import estimator_checks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fit on a frame, transform an array
        getattr(estimator_checks, check)(cls.__name__, cls(3))


@needs_pandas
def test_configuration_survives_clone_and_to_but_not_files(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.base import clone

    model = anykmeans.KMeans(3, random_state=0).set_output(transform="pandas")
    assert isinstance(clone(model).fit_transform(X), pd.DataFrame)
    model.fit(X)
    assert isinstance(model.to(None).transform(X), pd.DataFrame)
    model.save(tmp_path / "model.npz")  # a file holds the model, not how scikit-learn uses it
    assert isinstance(anykmeans.load(tmp_path / "model.npz").transform(X), np.ndarray)


# -- notebooks -------------------------------------------------------------------------------

def test_html_repr_is_escaped_and_self_contained():
    model = anykmeans.KMeans(3, algorithm="<b>elkan</b>")
    html = model._repr_html_()
    assert "KMeans" in html and "n_clusters=3" in html and "not fitted" in html
    assert "&lt;b&gt;elkan&lt;/b&gt;" in html and "<b>" not in html
    bundle = model._repr_mimebundle_()
    assert bundle == {"text/plain": repr(model), "text/html": html}
    assert "fitted" in anykmeans.MiniBatchKMeans(2).fit(X)._repr_html_()


def test_conventions_import_no_optional_library():
    """Default output, the HTML repr and ``to`` import neither scikit-learn nor pandas."""
    code = ("import sys, numpy as np, anykmeans; X = np.random.default_rng(0).normal(size=(50, 2))"
            "; m = anykmeans.KMeans(2, random_state=0); m.set_output(transform='default'); "
            "m.fit_transform(X); m._repr_html_(); m.to('cpu').predict(X); print(sorted(n for n in "
            "('sklearn', 'pandas', 'polars', 'torch') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- metadata routing ------------------------------------------------------------------------

@pytest.fixture
def routing():
    """scikit-learn with metadata routing enabled, and a record of the weights fit and score got."""
    sklearn = pytest.importorskip("sklearn")
    seen = []
    with sklearn.config_context(enable_metadata_routing=True):
        yield seen


def recording(cls, seen):
    """A subclass of ``cls`` that notes whether ``fit`` and ``score`` got sample weights."""
    class Recording(cls):
        def fit(self, X, y=None, sample_weight=None):
            seen.append(("fit", sample_weight is not None))
            return super().fit(X, sample_weight=sample_weight)

        def score(self, X, y=None, sample_weight=None):
            seen.append(("score", sample_weight is not None))
            return super().score(X, sample_weight=sample_weight)

    return Recording


def test_a_pipeline_routes_sample_weight_to_fit(routing):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    w = weights(len(X))
    model = anykmeans.KMeans(3, random_state=0).set_fit_request(sample_weight=True)
    pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), model)
    pipe.fit(X, sample_weight=w)
    scaled = StandardScaler().fit_transform(X)
    expected = anykmeans.KMeans(3, random_state=0).fit(scaled, sample_weight=w)
    np.testing.assert_array_equal(pipe[-1].cluster_centers_, expected.cluster_centers_)
    unweighted = anykmeans.KMeans(3, random_state=0).fit(scaled)
    assert not np.array_equal(pipe[-1].cluster_centers_, unweighted.cluster_centers_)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_grid_search_routes_sample_weight_to_fit_and_score(routing, cls):
    from sklearn.model_selection import GridSearchCV

    model = recording(cls, routing)(random_state=0)
    model.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
    search = GridSearchCV(model, {"n_clusters": [2, 3]}, cv=3)
    search.fit(X, sample_weight=weights(len(X)))
    assert routing and all(weighted for _, weighted in routing)
    assert {method for method, _ in routing} == {"fit", "score"}


def test_unrequested_weights_are_refused_and_requests_need_routing(routing):
    import sklearn
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    with pytest.raises(ValueError, match=r"sample_weight.*KMeans\.fit"):
        GridSearchCV(anykmeans.KMeans(), {"n_clusters": [2]}).fit(X, sample_weight=weights(150))
    model = anykmeans.KMeans().set_fit_request(sample_weight="w")
    routed = clone(model).get_metadata_routing()
    assert routed.fit.requests == {"sample_weight": "w"}
    assert routed.score.requests == {"sample_weight": None}
    assert anykmeans.MiniBatchKMeans().set_partial_fit_request(
        sample_weight=True).get_metadata_routing().partial_fit.requests == {"sample_weight": True}
    with pytest.raises(ValueError, match="valid identifier"):
        model.set_score_request(sample_weight="not an identifier")
    with sklearn.config_context(enable_metadata_routing=False), pytest.raises(
            RuntimeError, match="only available when metadata routing is enabled"):
        anykmeans.KMeans().set_fit_request(sample_weight=True)


def test_requested_models_save_and_move(routing, tmp_path):
    model = anykmeans.KMeans(3, random_state=0).set_fit_request(sample_weight=True).fit(X)
    assert model.to(None).get_metadata_routing().fit.requests == {"sample_weight": True}
    model.save(tmp_path / "model.npz")
    assert anykmeans.load(tmp_path / "model.npz").get_metadata_routing().fit.requests == {
        "sample_weight": None}


# -- model.to(device or library) -------------------------------------------------------------

def test_to_a_device_or_a_library_on_every_backend(xp):
    """Before, ``to("cpu")``, ``to(torch.device(...))`` and ``to(torch)`` raised
    "got arrays from builtins"."""
    data = xp.asarray(X)
    model = anykmeans.KMeans(3, random_state=0).fit(data)
    library = library_of(model.cluster_centers_).name
    module = importlib.import_module(xp.backend.library)
    targets = {"its device": device_of(data), "its module": module}
    if library != "cupy":  # CuPy has no CPU device: "cpu" is refused (below)
        targets["cpu"] = "cpu"
    for name, target in targets.items():
        moved = model.to(target)
        assert library_of(moved.cluster_centers_).name == library, name
        np.testing.assert_array_equal(host(moved.cluster_centers_),
                                      host(model.cluster_centers_), err_msg=name)
    assert device_of(model.to(device_of(data)).cluster_centers_) == device_of(data)
    assert "cpu" in str(device_of(model.to("cpu").cluster_centers_)).lower()


def test_to_another_library_by_module_or_device():
    torch = pytest.importorskip("torch")
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    for target in (torch, torch.device("cpu")):
        moved = model.to(target)
        assert isinstance(moved.cluster_centers_, torch.Tensor)
        assert moved.cluster_centers_.device == torch.device("cpu")
        np.testing.assert_array_equal(moved.predict(torch.asarray(X)).numpy(), model.labels_)
        for back in (np, None):
            assert isinstance(moved.to(back).cluster_centers_, np.ndarray)
    assert isinstance(moved.to("cpu").cluster_centers_, torch.Tensor)  # its own CPU


def test_to_jax_and_array_api_strict_by_module():
    jax = pytest.importorskip("jax")
    xps = pytest.importorskip("array_api_strict")
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    for module in (jax, jax.numpy):
        assert isinstance(model.to(module).cluster_centers_, jax.Array)
    assert isinstance(model.to(jax.devices("cpu")[0]).cluster_centers_, jax.Array)
    on_strict = model.to(xps.Device("device1"))
    assert library_of(on_strict.cluster_centers_).name == "array_api_strict"
    assert on_strict.to("CPU_DEVICE").cluster_centers_.device == xps.Device("CPU_DEVICE")


def test_to_refuses_what_names_no_place():
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"NumPy arrays are on the CPU only, not on 'cuda'"):
        model.to("cuda")
    with pytest.raises(TypeError, match=r"like must be an array.*a library's module.*got int"):
        model.to(3)
    with pytest.raises(TypeError, match="got module"):
        model.to(json)
    torch = pytest.importorskip("torch")
    on_torch = model.to(torch)
    with pytest.raises(ValueError, match="PyTorch has no device 'bogus'"):
        on_torch.to("bogus")
    with pytest.raises(anykmeans.NotFittedError):
        anykmeans.KMeans().to("cpu")
