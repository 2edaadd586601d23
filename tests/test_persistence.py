"""Saving, loading, pickling and moving fitted models between libraries and devices."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest

import anykmeans
from anykmeans._namespace import array_namespace, device_of
from tests.conftest import host
from tests.data import blobs

X_TRAIN = blobs(200, 3, 4, seed=5)
X_NEW = blobs(50, 3, 4, seed=6)
FITTED = ("cluster_centers_", "labels_", "inertia_", "n_iter_", "inertia_history_",
          "inertia_histories_", "n_features_in_")


def same_place(array, like):
    """Whether ``array`` is in ``like``'s library and on its device."""
    return array_namespace(array) is array_namespace(like) and device_of(array) == device_of(like)


def assert_same_model(model, reference):
    assert type(model) is type(reference)
    assert model.get_params().keys() == reference.get_params().keys()
    for name in FITTED:
        mine, theirs = getattr(model, name), getattr(reference, name)
        if name in ("cluster_centers_", "labels_"):
            np.testing.assert_array_equal(host(mine), host(theirs), err_msg=name)
        else:
            assert mine == theirs, name


def test_save_and_load_on_every_backend(xp, tmp_path):
    X, X_new = xp.asarray(X_TRAIN), xp.asarray(X_NEW)
    model = anykmeans.KMeans(4, init="random", n_init=2, random_state=0).fit(X)
    model.save(tmp_path / "model.npz")
    loaded = anykmeans.load(tmp_path / "model.npz", like=X_new)
    assert_same_model(loaded, model)
    assert same_place(loaded.cluster_centers_, X_new) and same_place(loaded.labels_, X_new)
    assert loaded.cluster_centers_.dtype == model.cluster_centers_.dtype
    assert same_place(loaded.predict(X_new), X_new)
    np.testing.assert_array_equal(host(loaded.predict(X_new)), host(model.predict(X_new)))
    np.testing.assert_array_equal(host(loaded.predict(X)), host(model.labels_))
    assert loaded.score(X_new) == model.score(X_new)


def test_load_defaults_to_numpy(tmp_path):
    model = anykmeans.KMeans(4, random_state=0).fit(X_TRAIN)
    model.save(tmp_path / "model.npz")
    loaded = anykmeans.load(tmp_path / "model.npz")
    assert isinstance(loaded.cluster_centers_, np.ndarray)
    assert_same_model(loaded, model)


def test_the_file_is_plain_npz_with_named_arrays_and_json_parameters(tmp_path):
    model = anykmeans.KMeans(4, n_init=3, init="random", tol=0.0, random_state=0).fit(X_TRAIN)
    model.save(tmp_path / "model")  # NumPy adds the suffix
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:
        assert {"cluster_centers", "labels", "inertia", "n_iter", "metadata"} <= set(archive.files)
        np.testing.assert_array_equal(archive["cluster_centers"], model.cluster_centers_)
        assert float(archive["inertia"]) == model.inertia_
        metadata = json.loads(str(archive["metadata"]))
    assert metadata["estimator"] == "KMeans"
    params = model.get_params()
    del params["chunk_size"]  # tuned to a machine, not part of the model
    assert metadata["params"] == {**params, "n_init": 3}


def test_a_file_leaves_out_the_chunk_size_a_copy_keeps_it(tmp_path):
    model = anykmeans.KMeans(4, chunk_size=7, random_state=0).fit(X_TRAIN)
    model.save(tmp_path / "model.npz")
    assert anykmeans.load(tmp_path / "model.npz").chunk_size is None
    assert model.to(None).chunk_size == 7


def test_load_takes_a_module_a_device_or_a_device_name_as_to_does(tmp_path):
    model = anykmeans.KMeans(4, random_state=0).fit(X_TRAIN)
    model.save(tmp_path / "model.npz")
    path = tmp_path / "model.npz"
    assert isinstance(anykmeans.load(path, like=np).cluster_centers_, np.ndarray)
    assert isinstance(anykmeans.load(path, like="cpu").cluster_centers_, np.ndarray)
    with pytest.raises(ValueError, match="NumPy arrays are on the CPU only"):
        anykmeans.load(path, like="cuda")
    with pytest.raises(TypeError, match="like"):
        anykmeans.load(path, like=3.5)
    torch = pytest.importorskip("torch")
    for like in (torch, torch.device("cpu")):
        loaded = anykmeans.load(path, like=like)
        assert isinstance(loaded.cluster_centers_, torch.Tensor)
        assert_same_model(loaded, model)


def test_array_init_is_kept_and_callables_warn(tmp_path):
    init = X_TRAIN[:4]
    model = anykmeans.KMeans(4, init=init, n_init=1).fit(X_TRAIN)
    model.save(tmp_path / "array.npz")
    loaded = anykmeans.load(tmp_path / "array.npz")
    np.testing.assert_array_equal(loaded.init, init)
    np.testing.assert_array_equal(loaded.fit(X_TRAIN).labels_, model.labels_)

    model = anykmeans.KMeans(4, init=lambda X, k, random_state: X[:k], n_init=1,
                             random_state=np.random.RandomState(0)).fit(X_TRAIN)
    with pytest.warns(UserWarning, match=r"\['init', 'random_state'\]"):
        model.save(tmp_path / "callable.npz")
    loaded = anykmeans.load(tmp_path / "callable.npz")
    assert loaded.init == "k-means++" and loaded.random_state is None
    np.testing.assert_array_equal(loaded.cluster_centers_, model.cluster_centers_)


def test_unfitted_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(anykmeans.NotFittedError):
        anykmeans.KMeans(3).save(tmp_path / "x.npz")
    np.savez(tmp_path / "other.npz", cluster_centers=np.ones((2, 2)))
    with pytest.raises(ValueError, match="not an anykmeans model file"):
        anykmeans.load(tmp_path / "other.npz")
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match=r"not a readable \.npz archive"):
        anykmeans.load(tmp_path / "single.npy")
    model = anykmeans.KMeans(2, random_state=0).fit(X_TRAIN)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = dict(archive)
    metadata = json.loads(str(arrays["metadata"]))
    arrays["metadata"] = np.asarray(json.dumps({**metadata, "version": 99}))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ValueError, match="version 99"):
        anykmeans.load(tmp_path / "future.npz")
    arrays["metadata"] = np.asarray(json.dumps({**metadata, "estimator": "os"}))
    np.savez(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ValueError, match="Unknown estimator 'os'"):
        anykmeans.load(tmp_path / "evil.npz")


def test_pickle_on_every_backend(xp):
    X = xp.asarray(X_TRAIN)
    model = anykmeans.KMeans(4, random_state=0).fit(X)
    copy = pickle.loads(pickle.dumps(model))
    assert_same_model(copy, model)
    assert same_place(copy.cluster_centers_, X)
    np.testing.assert_array_equal(host(copy.predict(X)), host(model.labels_))


def test_to_moves_a_model_between_libraries_and_devices(xp):
    X = xp.asarray(X_TRAIN)
    on_backend = anykmeans.KMeans(4, random_state=0).fit(X)
    on_numpy = on_backend.to(np.empty(0))
    assert isinstance(on_numpy.cluster_centers_, np.ndarray)
    assert same_place(on_backend.cluster_centers_, X)  # the original is unchanged
    assert_same_model(on_numpy, on_backend)
    np.testing.assert_array_equal(on_numpy.predict(X_NEW),
                                  host(on_backend.predict(xp.asarray(X_NEW))))
    back = on_numpy.to(X)
    assert same_place(back.cluster_centers_, X) and same_place(back.labels_, X)
    assert_same_model(back, on_backend)


def test_to_without_float64_gives_float32():
    import array_api_strict as xps

    device = xps.Device("no_float64")
    like = xps.asarray(np.zeros(1, dtype=np.float32), device=device)
    model = anykmeans.KMeans(4, random_state=0).fit(X_TRAIN).to(like)
    assert model.cluster_centers_.dtype == xps.float32 and model.cluster_centers_.device == device
    np.testing.assert_array_equal(
        host(model.predict(xps.asarray(X_NEW.astype(np.float32), device=device))),
        anykmeans.KMeans(4, random_state=0).fit(X_TRAIN).predict(X_NEW))


def test_minibatch_models_save_and_go_on_with_partial_fit(tmp_path):
    if not hasattr(anykmeans, "MiniBatchKMeans"):
        pytest.skip("MiniBatchKMeans is not part of this version")
    model = anykmeans.MiniBatchKMeans(4, random_state=0, batch_size=64).fit(X_TRAIN)
    model.save(tmp_path / "mb.npz")
    loaded = anykmeans.load(tmp_path / "mb.npz")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(X_NEW), model.predict(X_NEW))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X_NEW)
        loaded.partial_fit(X_NEW)
    np.testing.assert_array_equal(loaded.cluster_centers_, model.cluster_centers_)


@pytest.mark.parametrize("like", [np, None, "cpu", "torch"])
def test_to_makes_arrays_of_its_own(like):
    init = X_TRAIN[:4].copy()
    if like == "torch":
        torch = pytest.importorskip("torch")
        X, init, like = torch.asarray(X_TRAIN), torch.asarray(init), torch
    else:
        X = X_TRAIN
    model = anykmeans.KMeans(4, init=init, random_state=0).fit(X)
    before = {name: host(getattr(model, name)).copy() for name in ("cluster_centers_", "_mean")}
    copy = model.to(like)
    for name in ("cluster_centers_", "_mean", "labels_", "init"):
        getattr(copy, name)[0] += 1
    for name, values in before.items():
        np.testing.assert_array_equal(host(getattr(model, name)), values, err_msg=name)
    np.testing.assert_array_equal(host(model.init), X_TRAIN[:4])
