"""Dask: one pass over X and one small compute per Lloyd iteration, a graph that does not grow.

A lazy ``X`` whose blocks are generated on demand counts how often each
block is read; a scheduler callback records every compute (``persist``
included) with the size of its graph.
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
callbacks = pytest.importorskip("dask.callbacks")

N_BLOCKS, BLOCK_ROWS = 8, 100


def block(i: int) -> np.ndarray:
    """Block ``i`` of three well-separated blobs in 3-d."""
    return np.random.default_rng(i).standard_normal((BLOCK_ROWS, 3)) + 6.0 * (i % 3)


class Recorder(callbacks.Callback):
    """Every scheduler call as ``[tasks in its graph, blocks of X generated]``."""

    def __init__(self):
        super().__init__()
        self.calls: list[list[int]] = []

    def _start(self, dsk):
        self.calls.append([len(dsk), 0])

    def lazy_x(self):
        def generate(block_id=None):
            self.calls[-1][1] += 1
            return block(block_id[0])

        return da.map_blocks(generate, chunks=((BLOCK_ROWS,) * N_BLOCKS, (3,)), dtype=float)


def test_each_lloyd_iteration_reads_x_once_and_computes_four_numbers():
    X = np.concatenate([block(i) for i in range(N_BLOCKS)])
    init = X[[0, 150, 250, 700]]
    recorder = Recorder()
    with dask.config.set(scheduler="sync"), recorder:
        model = anykmeans.KMeans(4, init=da.from_array(init), max_iter=6, tol=0).fit(
            recorder.lazy_x())
    expected = anykmeans.KMeans(4, init=init, max_iter=6, tol=0).fit(X)
    assert model.n_iter_ == expected.n_iter_ == 6
    np.testing.assert_allclose(model.inertia_, expected.inertia_, rtol=1e-10)

    # Before the loop: validation (X, then the init), the centring mean, the seeds
    # evaluated once; X read at most twice in all. After it: the final labels with
    # their exact inertia, and the count of distinct clusters (labels stay lazy,
    # so these read X again).
    n_setup = len(recorder.calls) - 12 - 2
    setup, loop, final = (recorder.calls[:n_setup], recorder.calls[n_setup:n_setup + 12],
                          recorder.calls[n_setup + 12:])
    assert n_setup <= 4 and sum(reads for _, reads in setup) <= 2 * N_BLOCKS
    # Per iteration: one persist that reads every block once, then the convergence
    # statistics (four numbers) from the persisted results, reading nothing.
    persists, stats = loop[0::2], loop[1::2]
    assert [reads for _, reads in persists] == [N_BLOCKS] * 6
    assert all(reads == 0 and tasks <= 8 for tasks, reads in stats)
    # The graph does not grow from one iteration to the next.
    sizes = [tasks for tasks, _ in persists[1:]]
    assert max(sizes) - min(sizes) <= 4 and max(sizes) < 30 * N_BLOCKS
    assert len(final) == 2 and all(reads <= 2 * N_BLOCKS for _, reads in final)


def test_results_stay_lazy_and_small_parts_are_dask_arrays():
    X = da.from_array(np.concatenate([block(i) for i in range(N_BLOCKS)]), chunks=(BLOCK_ROWS, 3))
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    assert isinstance(model.labels_, da.Array) and isinstance(model.cluster_centers_, da.Array)
    assert model.labels_.chunks[0] == X.chunks[0]
    assert isinstance(model.inertia_, float) and isinstance(model.n_iter_, int)
    assert isinstance(model.predict(X), da.Array)
