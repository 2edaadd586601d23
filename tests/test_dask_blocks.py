"""Dask arrays whose blocks refuse implicit conversion to NumPy, as CuPy's do: every result
of a block reaches the host through its own library, never ``np.asarray``."""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from anykmeans._namespace import to_host
from tests.data import blobs
from tests.refusing import Refusing

da = pytest.importorskip("dask.array")


def test_a_refusing_block_refuses():
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(Refusing(np.zeros(3)))


@pytest.mark.parametrize("init", ["k-means++", "k-means||", "random"])
def test_fit_predict_transform_on_blocks_that_refuse_numpy(init):
    X = blobs(400, 3, 4, seed=3)
    D = da.from_array(Refusing(X), chunks=(100, 3), asarray=False)
    expected = anykmeans.KMeans(4, init=init, n_init=1, random_state=0).fit(X)
    model = anykmeans.KMeans(4, init=init, n_init=1, random_state=0).fit(D)
    assert model.n_iter_ == expected.n_iter_
    np.testing.assert_array_equal(to_host(model.labels_), expected.labels_)
    np.testing.assert_allclose(to_host(model.cluster_centers_), expected.cluster_centers_,
                               rtol=1e-12)
    np.testing.assert_array_equal(to_host(model.predict(D)), expected.labels_)
    np.testing.assert_allclose(to_host(model.transform(D)), expected.transform(X), rtol=1e-12)
