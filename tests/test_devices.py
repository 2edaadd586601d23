"""Arrays on a second device: a model refuses data from another device by name, and every
array a fit makes is made on the data's device.

array-api-strict's ``Device("device1")`` stands for a GPU beside the CPU: it refuses
to mix devices, as CUDA does.
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from tests.data import blobs


def test_predict_on_another_device_than_the_model_names_both():
    strict = pytest.importorskip("array_api_strict")
    X = blobs(200, 3, 4, seed=0)
    model = anykmeans.KMeans(4, n_init=1, random_state=0).fit(
        strict.asarray(X, device=strict.Device("device1")))
    elsewhere = strict.asarray(X, device=strict.Device("CPU_DEVICE"))
    for method in (model.predict, model.transform, model.score):
        with pytest.raises(ValueError, match=r"during fit \(.*device1.*\) and \w+ "
                                              r"\(.*CPU_DEVICE.*\) differ"):
            method(elsewhere)
    np.testing.assert_array_equal(
        np.asarray(strict.asarray(model.predict(strict.asarray(
            X, device=strict.Device("device1"))), device=strict.Device("CPU_DEVICE"))),
        np.asarray(strict.asarray(model.labels_, device=strict.Device("CPU_DEVICE"))))


def test_every_entry_point_makes_its_arrays_on_the_datas_device(monkeypatch):
    """Each public computation runs inside its library's ``on_device`` for the data's device
    (CuPy's current device: array-api-compat's CuPy creation functions ignore ``device=``)."""
    import contextlib

    from anykmeans._libraries._numpy import NumPy

    inside = []

    @contextlib.contextmanager
    def on_device(library, device):
        inside.append(device)
        yield
        inside.append(None)

    monkeypatch.setattr(NumPy, "on_device", on_device)
    X = blobs(300, 3, 4, seed=1)
    calls = {
        "KMeans.fit": lambda: anykmeans.KMeans(4, n_init=1, random_state=0).fit(X),
        "kmeans": lambda: anykmeans.kmeans(X, 4, n_init=1, random_state=0),
        "kmeans_plusplus": lambda: anykmeans.kmeans_plusplus(X, 4, random_state=0),
        "MiniBatchKMeans.fit": lambda: anykmeans.MiniBatchKMeans(4, random_state=0).fit(X),
        "partial_fit": lambda: anykmeans.MiniBatchKMeans(4, random_state=0).partial_fit(X),
    }
    model = anykmeans.KMeans(4, n_init=1, random_state=0).fit(X)
    calls.update(predict=lambda: model.predict(X), transform=lambda: model.transform(X),
                 score=lambda: model.score(X))
    for name, call in calls.items():
        inside.clear()
        call()
        assert inside[:1] == ["cpu"] and inside[-1] is None, name


def test_cupy_makes_arrays_on_the_datas_device(monkeypatch):
    """A stand-in for ``cupy``: ``on_device`` is its ``cuda.Device`` of the data's index."""
    import sys
    import types

    from anykmeans._libraries._cupy import CuPy

    class Device:
        def __init__(self, index):
            self.id = index

        def __enter__(self):
            entered.append(self.id)

        def __exit__(self, *exc):
            entered.append(None)

    entered = []
    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(Device=Device)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    with CuPy(True).on_device(Device(1)):
        assert entered == [1]
    assert entered == [1, None]
