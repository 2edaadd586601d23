"""KMeans on a real ``dask.distributed`` cluster, on data no worker ever holds whole.

The test starts its own ``LocalCluster`` (two worker processes, one thread and
400 MB each). The data is generated lazily block by block on the workers, each
block from its own seed; the reference is the same blocks made in this process
and fitted in memory with NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.distributed

N_BLOCKS, BLOCK_ROWS, N_FEATURES, N_CENTRES = 8, 5_000, 8, 8


def true_centres() -> np.ndarray:
    return np.random.default_rng(12345).uniform(-20, 20, size=(N_CENTRES, N_FEATURES))


def block(i: int) -> np.ndarray:
    """Block ``i`` of a mixture of unit-variance blobs around :func:`true_centres`."""
    rng = np.random.default_rng(1000 + i)
    labels = rng.integers(N_CENTRES, size=BLOCK_ROWS)
    return true_centres()[labels] + rng.standard_normal((BLOCK_ROWS, N_FEATURES))


def lazy_data():
    """The blocks as a dask array whose tasks make each block where it is needed.

    The generator is a closure so that it travels to the worker processes by
    value (they cannot import the test module).
    """
    def make(block_id=None):
        return block(block_id[0])

    return da.map_blocks(make, chunks=((BLOCK_ROWS,) * N_BLOCKS, (N_FEATURES,)),
                         dtype=np.float64, meta=np.empty((0, N_FEATURES)))


@pytest.fixture(scope="module")
def client():
    cloudpickle = pytest.importorskip("cloudpickle")
    import sys

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit="400MB", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def stored_bytes(client) -> list[int]:
    """Bytes of task results each worker holds right now."""
    def held(dask_worker):
        return int(sum(getattr(v, "nbytes", 0) for v in dask_worker.data.values()))

    return list(client.run(held).values())


@pytest.mark.slow
def test_fit_on_a_local_cluster_equals_the_in_memory_fit(client):
    X = lazy_data()
    with distributed.get_task_stream(client) as tasks:
        model = anykmeans.KMeans(N_CENTRES, init="k-means||", random_state=0).fit(X)
        held = stored_bytes(client)
    expected = anykmeans.KMeans(N_CENTRES, init="k-means||", random_state=0).fit(
        np.concatenate([block(i) for i in range(N_BLOCKS)]))

    assert isinstance(model.labels_, da.Array)
    np.testing.assert_array_equal(model.labels_.compute(), expected.labels_)
    assert model.n_iter_ == expected.n_iter_
    assert model.inertia_ == pytest.approx(expected.inertia_, rel=1e-10)
    np.testing.assert_allclose(model.cluster_centers_.compute(), expected.cluster_centers_,
                               rtol=1e-10, atol=1e-10)
    # The work ran on both workers, and neither was left holding the data.
    assert {task["worker"] for task in tasks.data} == set(client.scheduler_info()["workers"])
    assert max(held) < X.nbytes / 2
