"""scikit-learn's conventions beyond ``check_estimator``: data frames, ``set_output``, notebooks'
HTML, metadata routing, and ``model.to`` given a device or a library."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

import anykmeans
from anykmeans._libraries import library_of
from anykmeans._namespace import device_of
from tests.conftest import host
from tests.data import blobs

X = blobs(150, 4, 3, seed=11)


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
