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
        with pytest.raises(ValueError, match=r"X is on device .*CPU_DEVICE.* but the model is "
                                              r"on device .*device1"):
            method(elsewhere)
    np.testing.assert_array_equal(
        np.asarray(strict.asarray(model.predict(strict.asarray(
            X, device=strict.Device("device1"))), device=strict.Device("CPU_DEVICE"))),
        np.asarray(strict.asarray(model.labels_, device=strict.Device("CPU_DEVICE"))))
