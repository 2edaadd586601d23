"""Dask: a fit costs passes, not round trips: one graph per pass, one task per block.

A lazy ``X`` whose blocks are generated on demand counts how often each
block is read; a scheduler callback records every evaluation (``compute``,
``persist``: a round trip to a cluster's scheduler) with the size of its
graph. The sync scheduler runs everything in this process.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import pytest

import anykmeans
from anykmeans import _kmeans
from anykmeans._kmeans_plusplus import default_local_trials
from anykmeans._primitives import Data, assign

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
callbacks = pytest.importorskip("dask.callbacks")

N_BLOCKS, BLOCK_ROWS = 8, 100


def block(i: int) -> np.ndarray:
    """Block ``i`` of three well-separated blobs in 3-d."""
    return np.random.default_rng(i).standard_normal((BLOCK_ROWS, 3)) + 6.0 * (i % 3)


def in_memory() -> np.ndarray:
    return np.concatenate([block(i) for i in range(N_BLOCKS)])


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


@pytest.fixture
def recorder(monkeypatch):
    """A recorder on the sync scheduler, ``X`` never persisted, marking where seeding starts
    and ends (``recorder.seeding``: the indices of its first and next calls)."""
    recorder = Recorder()
    seeding = _kmeans.initial_centres

    def marked(*args, **kwargs):
        start = len(recorder.calls)
        centres = seeding(*args, **kwargs)
        recorder.seeding = (start, len(recorder.calls))
        return centres

    monkeypatch.setattr(_kmeans, "initial_centres", marked)
    with dask.config.set({"scheduler": "sync", "anykmeans.persist": False}), recorder:
        yield recorder


def test_each_lloyd_iteration_is_one_round_trip_reading_x_once(recorder):
    X = in_memory()
    init = X[[0, 150, 250, 700]]
    model = anykmeans.KMeans(4, init=da.from_array(init), max_iter=6, tol=0).fit(
        recorder.lazy_x())
    calls = list(recorder.calls)
    expected = anykmeans.KMeans(4, init=init, max_iter=6, tol=0).fit(X)
    assert model.n_iter_ == expected.n_iter_ == 6
    np.testing.assert_allclose(model.inertia_, expected.inertia_, rtol=1e-10)
    np.testing.assert_array_equal(model.labels_.compute(), expected.labels_)

    # Before the loop: validation of the init, then X's values checked with the centring
    # mean (one pass: X read once), the seeds. After it, one pass: the final labels, their
    # exact inertia and the rows per cluster (for the count of distinct clusters).
    setup, loop, final = calls[:-7], calls[-7:-1], calls[-1]
    assert len(setup) <= 4 and sum(reads for _, reads in setup) == N_BLOCKS
    # Per iteration one evaluation: X read once, and per block its read, its task and the
    # pick of its small result, then one addition of the blocks' sums.
    assert [reads for _, reads in loop] == [N_BLOCKS] * 6
    assert all(tasks <= 3 * N_BLOCKS + 1 for tasks, _ in loop)
    assert final[1] == N_BLOCKS


def test_kmeans_parallel_seeding_is_one_round_trip_per_round(recorder):
    n_rounds = 3
    expected = anykmeans.KMeans(3, init="k-means||", init_max_iter=n_rounds,
                                random_state=0).fit(in_memory())
    model = anykmeans.KMeans(3, init="k-means||", init_max_iter=n_rounds, random_state=0).fit(
        recorder.lazy_x())
    np.testing.assert_array_equal(model.labels_.compute(), expected.labels_)
    np.testing.assert_allclose(model.inertia_, expected.inertia_, rtol=1e-10)

    # The first candidate's index (from the weights alone), one pass per round, one pass
    # for the candidates' weights: rounds + 2 round trips.
    start, end = recorder.seeding
    first, rounds, weighing = (recorder.calls[start], recorder.calls[start + 1:end - 1],
                               recorder.calls[end - 1])
    assert end - start == n_rounds + 2
    assert first[1] == 0
    assert [reads for _, reads in rounds] == [N_BLOCKS] * n_rounds and weighing[1] == N_BLOCKS
    # Per block: its read, its weights in X's blocks (two tasks), its task and the pick of
    # its sample; then the list of samples, the first candidate's row (two tasks), the weights.
    assert all(tasks <= 5 * N_BLOCKS + 4 for tasks, _ in rounds)


def test_kmeans_plusplus_is_one_round_trip_per_step(recorder):
    n_clusters = 5
    centres, indices = anykmeans.kmeans_plusplus(recorder.lazy_x(), n_clusters, random_state=0)
    expected_centres, expected_indices = anykmeans.kmeans_plusplus(in_memory(), n_clusters,
                                                                   random_state=0)
    np.testing.assert_array_equal(indices.compute(), expected_indices)
    np.testing.assert_array_equal(centres.compute(), expected_centres)

    # Validation; the first seed's index (from the weights alone); the distances to it; one
    # pass per further seed.
    calls = recorder.calls[:2 + n_clusters]
    steps = calls[3:]
    assert calls[1][1] == 0 and len(steps) == n_clusters - 1
    assert [reads for _, reads in steps] == [N_BLOCKS] * (n_clusters - 1)
    # As a k-means|| round, and at most a search task per candidate.
    trials = default_local_trials(n_clusters)
    assert all(tasks <= 5 * N_BLOCKS + 3 + trials for tasks, _ in steps)


def test_a_persisted_x_is_generated_once():
    recorder = Recorder()
    with dask.config.set({"scheduler": "sync", "anykmeans.persist": True}), recorder:
        model = anykmeans.KMeans(3, init="k-means||", random_state=0).fit(recorder.lazy_x())
    expected = anykmeans.KMeans(3, init="k-means||", random_state=0).fit(in_memory())
    np.testing.assert_array_equal(model.labels_.compute(), expected.labels_)
    # Persisting reads X (its values are checked afterwards, from the persisted blocks), and
    # nothing after that.
    assert sum(reads for _, reads in recorder.calls) == N_BLOCKS


def test_the_persist_setting_is_checked():
    X = da.from_array(in_memory(), chunks=(BLOCK_ROWS, 3))
    with dask.config.set({"anykmeans.persist": "always"}), \
            pytest.raises(ValueError, match=r"anykmeans\.persist"):
        anykmeans.KMeans(3).fit(X)


def test_small_operands_are_evaluated_once_not_copied_into_every_task():
    # Centres computed lazily from X itself: handed to every block's task as a Dask array,
    # each task would get a copy of their graph and generate all of X's blocks again
    # (N_BLOCKS**2 reads). Evaluated once, they read X once, and the pass once more.
    recorder = Recorder()
    with dask.config.set(scheduler="sync"), recorder:
        X = recorder.lazy_x()
        mean = X.mean(axis=0)
        labels = assign(Data(X, mean), X[::250] - mean).labels
        labels.compute()
    assert recorder.calls[-1][1] <= 2 * N_BLOCKS


def test_results_stay_lazy_and_small_parts_are_dask_arrays():
    X = da.from_array(in_memory(), chunks=(BLOCK_ROWS, 3))
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    assert isinstance(model.labels_, da.Array) and isinstance(model.cluster_centers_, da.Array)
    assert model.labels_.chunks[0] == X.chunks[0]
    assert isinstance(model.inertia_, float) and isinstance(model.n_iter_, int)
    assert isinstance(model.predict(X), da.Array)


@pytest.mark.distributed
def test_fits_on_a_cluster_make_no_scheduler_warnings(caplog):
    distributed = pytest.importorskip("distributed")
    X = da.from_array(in_memory(), chunks=(BLOCK_ROWS, 3))[:-BLOCK_ROWS // 2]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster), caplog.at_level(logging.WARNING):
        for persist in ("auto", False, True):
            with dask.config.set({"anykmeans.persist": persist}):
                model = anykmeans.KMeans(3, init="k-means||", random_state=0).fit(X)
                model.predict(X).compute()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


# -- an interrupted fit ----------------------------------------------------------------------

def blas_threads() -> list[int]:
    """BLAS's thread limit, for every BLAS library loaded, as ``threadpoolctl`` reports it."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return [info["num_threads"] for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"]


def running_block_tasks() -> list[str]:
    """The threads of this process that are inside one of anykmeans' Dask tasks now."""
    import sys
    import threading

    from anykmeans._libraries import _dask

    tasks = {_dask._run_block.__code__, _dask._find_in_block.__code__}
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    running = []
    for ident, frame in sys._current_frames().items():
        while frame is not None:
            if frame.f_code in tasks:
                running.append(names.get(ident, str(ident)))
                break
            frame = frame.f_back
    return running


@contextlib.contextmanager
def scheduler(kind: str):
    """Dask's threaded scheduler, or a client of a cluster whose workers are threads of this
    process (where the test can see its tasks)."""
    if kind == "threads":
        with dask.config.set(scheduler="threads"):
            yield
        return
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster):
        yield


@pytest.mark.parametrize("kind", ["threads",
                                  pytest.param("cluster", marks=pytest.mark.distributed)])
def test_an_interrupt_stops_the_fits_tasks_and_restores_blas(kind, caplog):
    """Ctrl-C while a pass runs: when KeyboardInterrupt reaches the caller, no task of the fit
    still runs and BLAS has its thread limit back; a cluster's client says nothing wrong.

    Before, the pass's tasks ran on for a second or more after the interrupt, holding BLAS at
    one thread until the last of them ended. The interrupt is a real SIGINT to the main
    thread, sent while the second pass runs (one-row chunks make each pass take a second).
    """
    import signal
    import threading

    pytest.importorskip("threadpoolctl")
    rows = np.random.default_rng(0).standard_normal((20_000, 3))
    data = da.from_array(rows, chunks=(5_000, 3))
    before = blas_threads()
    main = threading.main_thread().ident
    timers = []

    def interrupt_soon(restart, iteration, inertia):
        if not timers:
            timers.append(threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT)))
            timers[0].start()

    model = anykmeans.KMeans(3, init=data[:3], n_init=1, max_iter=50, tol=0, chunk_size=1)
    with scheduler(kind), caplog.at_level(logging.WARNING):
        with pytest.raises(KeyboardInterrupt):
            model.fit(data, on_iteration=interrupt_soon)
        running, after = running_block_tasks(), blas_threads()
        timers[0].join()
        assert running == []
        assert after == before
        # The client still works: the cluster did not drop it.
        assert anykmeans.KMeans(3, init=data[:3], n_init=1, max_iter=2).fit(data).n_iter_ >= 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


# -- predict, transform and score ------------------------------------------------------------

@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_predict_transform_and_score_are_a_task_per_block_and_read_nothing_before(metric):
    """Their results are one task per block of X, blocked as X's rows, and nothing of X is
    read before the caller computes them (``score``, a number, computes once); the model's
    small arrays may be. A spherical model's rows are normalised, and their norms checked,
    in the same tasks.

    Before, ``transform`` sliced X by the plan's chunks (263 output blocks for 4 of X's at 1M
    rows), and every method read X once at the call to check its values (a spherical
    model's, once more to check the rows' norms).
    """
    model = anykmeans.KMeans(3, random_state=0, metric=metric).fit(in_memory())
    dask_model = model.to(da)
    recorder = Recorder()
    with dask.config.set(scheduler="sync"), recorder:
        X = recorder.lazy_x()
        labels, distances = dask_model.predict(X), dask_model.transform(X)
        assert all(reads == 0 for _, reads in recorder.calls)
        assert labels.chunks[0] == distances.chunks[0] == X.chunks[0]
        recorder.calls.clear()
        score = dask_model.score(X)
        recorder.calls = [call for call in recorder.calls if call[1]]  # those reading X
        np.testing.assert_array_equal(labels.compute(), model.predict(in_memory()))
        np.testing.assert_allclose(distances.compute(), model.transform(in_memory()),
                                   rtol=1e-12)
    np.testing.assert_allclose(score, model.score(in_memory()), rtol=1e-12)
    # One graph each, reading every block once. predict's and transform's: a task per block
    # (X's block made, checked and used in one: Dask fuses them and keeps the output's key as
    # an alias of the fused task's), and the concatenation of the result. A spherical model's
    # normalisation adds three a block, which Dask does not fuse (X's block feeds two tasks):
    # the rows' norms, their check, the rows divided by them.
    assert [reads for _, reads in recorder.calls] == [N_BLOCKS] * 3
    per_block = 2 if metric == "euclidean" else 5
    assert [tasks for tasks, _ in recorder.calls[1:]] == [per_block * N_BLOCKS + 1] * 2


@pytest.mark.parametrize("value, match", [(np.nan, "NaN or infinity"), (1e300, "Rescale X")])
def test_values_are_checked_as_the_result_is_computed(value, match):
    model = anykmeans.KMeans(3, random_state=0).fit(in_memory()).to(da)
    rows = in_memory()
    rows[-1, 0] = value
    X = da.from_array(rows, chunks=(BLOCK_ROWS, 3))
    for result in (model.predict(X), model.transform(X)):
        with pytest.raises(ValueError, match=match):
            result.compute()
    with pytest.raises(ValueError, match=match):
        model.score(X)


def test_a_spherical_models_zero_rows_are_refused_as_the_result_is_computed():
    model = anykmeans.KMeans(3, random_state=0, metric="cosine").fit(in_memory()).to(da)
    rows = in_memory()
    rows[[250, 260]] = 0
    X = da.from_array(rows, chunks=(BLOCK_ROWS, 3))
    match = r"X has 2 rows of norm zero among rows 200 to 299 \(the first is row 250\)"
    for result in (model.predict(X), model.transform(X)):
        with pytest.raises(ValueError, match=match):
            result.compute()
    with pytest.raises(ValueError, match=match):
        model.score(X)


# -- the persist rule, and a cluster that goes away ------------------------------------------

class FakeClient:
    """A client of 8 workers of 1 GB, whose ``scheduler_info`` lists the first five unless
    asked for all (as distributed does from dask/distributed#9045 until #9308), or lists all
    and takes no argument (``listing="all"``, as before)."""

    def __init__(self, listing: str):
        self.workers = {f"tcp://10.0.0.{i}:8786": {"memory_limit": 10**9} for i in range(8)}
        if listing == "all":
            self.scheduler_info = lambda: {"workers": self.workers}

    def scheduler_info(self, n_workers: int = 5):
        listed = list(self.workers.items())
        return {"workers": dict(listed if n_workers == -1 else listed[:n_workers])}


@pytest.mark.parametrize("listing", ["first five", "all"])
def test_auto_persists_when_all_the_workers_memory_holds_x(monkeypatch, listing):
    """8 workers of 1 GB hold a 2 GB ``X`` (4 x its size): counting only five, it would not be."""
    from anykmeans._libraries import _dask

    monkeypatch.setattr(_dask, "_client", lambda: FakeClient(listing))
    assert _dask._persisting(da.zeros((250_000_000,), dtype=np.float64))
    assert not _dask._persisting(da.zeros((250_000_001,), dtype=np.float64))


@pytest.mark.distributed
@pytest.mark.parametrize("closing", ["client", "cluster"])
def test_a_closed_client_or_a_lost_cluster_ends_the_fit_with_an_error_naming_it(closing):
    """Before, closing the client mid-fit ended it with ``AttributeError: 'NoneType' object
    has no attribute 'who_has'``, the real failure only its chained cause."""
    distributed = pytest.importorskip("distributed")
    X = da.from_array(in_memory(), chunks=(BLOCK_ROWS, 3))
    # The outer setting puts Dask's scheduler back: a client closed early leaves its own.
    with dask.config.set(scheduler="sync"), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                     dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client, \
            dask.config.set({"anykmeans.persist": True}):

        def close(restart, iteration, inertia):
            (client if closing == "client" else cluster).close()

        model = anykmeans.KMeans(3, random_state=0, n_init=1, max_iter=5, tol=0)
        with pytest.raises(RuntimeError, match=r"The Dask client .*Client.* was closed or "
                                               r"lost its scheduler during the fit"):
            model.fit(X, on_iteration=close)


# -- the same fit as NumPy's, in float32 too --------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_fit_equals_numpys_in_either_dtype(dtype):
    """The mean and the cluster sums add up in float64 (where X's are float32), so that Dask's
    order (by blocks) rounds to NumPy's values (one chunk after another): the same labels and
    iterations, and in float32 the same mean and centres. The blocks are large enough for
    NumPy's compiled loop (``_fused.MIN_SCORES``), which both fits then run.

    Before, in float32, Dask's mean differed from NumPy's in every feature, its cluster sums
    in the last bits, and fits with many clusters took other paths.
    """
    pytest.importorskip("numba")
    n_clusters, block_rows = 32, 2**20 // 32
    rng = np.random.default_rng(0)
    rows = (rng.standard_normal((3 * block_rows, 4)) + rng.uniform(-20, 20, (8, 4))[
        rng.integers(8, size=3 * block_rows)]).astype(dtype)
    X = da.from_array(rows, chunks=(block_rows, 4))
    expected = anykmeans.KMeans(n_clusters, random_state=0, n_init=1).fit(rows)
    with dask.config.set(scheduler="threads"):
        model = anykmeans.KMeans(n_clusters, random_state=0, n_init=1).fit(X)
    np.testing.assert_array_equal(model.labels_.compute(), expected.labels_)
    assert model.n_iter_ == expected.n_iter_
    same = (np.testing.assert_array_equal if dtype == np.float32 else
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12))
    same(model._mean.compute(), expected._mean)
    same(model.cluster_centers_.compute(), expected.cluster_centers_)
