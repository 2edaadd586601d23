"""The hot operations: ties, segment sums (each library's vs the reference), chunking."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import anykmeans
from anykmeans._libraries import Library, first_true, first_true_and_count, library_of
from anykmeans._libraries._numpy import FEATURE_MAJOR_MAX_FEATURES, NumPy
from anykmeans._libraries._plan import CPU_CHUNK_BYTES
from anykmeans._namespace import array_namespace
from anykmeans._primitives import (
    Data,
    assign,
    assign_block,
    labelled_inertia,
    nearest,
    tie_group_size,
)
from tests.conftest import host
from tests.data import blobs


def test_exact_ties_go_to_the_lower_cluster_index(xp):
    # Every point is exactly as far from centre 0 as from centre 2 (mirror
    # images across x = 0), and far from centre 1.
    points = np.array([[0.0, 0.0], [0.0, 3.0], [0.0, -7.5], [0.0, 0.1]])
    centres = np.array([[1.25, 0.5], [40.0, 40.0], [-1.25, 0.5]])
    X, C = xp.asarray(points), xp.asarray(centres)
    ns = array_namespace(X)
    mean = ns.zeros(2, dtype=X.dtype, device=anykmeans._namespace.device_of(X))
    labels = assign(Data(X, mean, chunk_size=2), C).labels
    np.testing.assert_array_equal(host(labels), [0, 0, 0, 0])
    order = ns.asarray([2, 1, 0], device=anykmeans._namespace.device_of(C))
    swapped = assign(Data(X, mean, chunk_size=3), ns.take(C, order, axis=0)).labels
    np.testing.assert_array_equal(host(swapped), [0, 0, 0, 0])


# (257, 5) and (257, 6): NumPy sorts (rows added as complex pairs when the width is
# even); (30, 5): fewer rows than SORT_MIN_ROWS_PER_SEGMENT per segment, NumPy scatter-adds.
@pytest.mark.parametrize("shape", [(257,), (257, 5), (257, 6), (30, 5)])
def test_native_segment_sum_equals_generic(xp, shape):
    rng = np.random.default_rng(0)
    values = xp.asarray(rng.standard_normal(shape))
    ids = xp.backend.asarray(rng.integers(0, 11, size=shape[0]))
    ns = array_namespace(values)
    ours = host(library_of(values).segment_sum(ns, values, ids, 13))
    generic = host(Library().segment_sum(ns, values, ids, 13))
    assert ours.shape == generic.shape == (13, *shape[1:])
    np.testing.assert_allclose(ours, generic, rtol=xp.rtol * 10, atol=xp.rtol * 10)
    expected = np.zeros((13, *shape[1:]))
    np.add.at(expected, host(ids), host(values).astype(np.float64))
    np.testing.assert_allclose(ours, expected, rtol=xp.rtol * 10, atol=xp.rtol * 10)


@pytest.mark.parametrize("chunk_size", [7, 64, 5000])
def test_chunk_size_does_not_change_the_answer(xp, chunk_size):
    X = blobs(300, 3, 5, seed=4)
    expected = anykmeans.KMeans(5, random_state=0).fit(X.astype(xp.dtype))
    model = anykmeans.KMeans(5, random_state=0, chunk_size=chunk_size).fit(xp.asarray(X))
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)
    assert model.n_iter_ == expected.n_iter_


def test_chunks_are_bounded_by_the_memory_budget():
    # 2M x 32 float32 with k = 4096: the n x k matrix would be 32 GB.
    library = NumPy()
    rows = library.chunk_rows(2_000_000, 32, 4096, 4, "cpu")
    assert rows * 2 * (32 + 4096) * 4 <= CPU_CHUNK_BYTES
    assert rows >= 1
    assert library.chunk_rows(100, 2, 3, 8, "cpu") == 100
    assert library.chunk_rows(10**6, 2, 3, 8, "cpu", chunk_size=1000) == 1000


def test_numpy_shares_a_chunk_among_the_cores(monkeypatch):
    from anykmeans._libraries import _numpy

    monkeypatch.setattr(_numpy, "usable_cores", lambda: 4)
    library = NumPy()
    assert library.chunk_rows(10_000, 32, 2, 8, "cpu") == 2500  # one chunk's worth
    assert library.chunk_rows(5_000, 32, 2, 8, "cpu") == 2500  # at least 2048 rows each
    assert library.chunk_rows(4_000, 32, 2, 8, "cpu") == 4000
    budget = library.chunk_rows(2_000_000, 32, 4096, 4, "cpu")  # many chunks already
    monkeypatch.setattr(_numpy, "usable_cores", lambda: 1)
    assert library.chunk_rows(2_000_000, 32, 4096, 4, "cpu") == budget
    assert library.chunk_rows(10_000, 32, 2, 8, "cpu") == 10_000


def test_one_chunk_runs_in_the_calling_thread():
    from anykmeans._libraries._threads import run_chunks

    def thread(rows):
        return threading.get_ident()

    assert list(run_chunks(thread, [slice(0, 5)], 2)) == [threading.get_ident()]
    assert list(run_chunks(thread, [], 2)) == []
    assert len(list(run_chunks(thread, [slice(0, 5), slice(5, 9)], 2))) == 2


def test_the_calling_thread_runs_the_chunks_no_pool_thread_has_begun():
    """The pool's threads all busy: the caller computes every chunk, in order, and returns
    without waiting for them."""
    from anykmeans._libraries import _threads

    release = threading.Event()
    busy = [_threads._thread_pool(2).submit(release.wait, 10) for _ in range(2)]
    try:
        start = time.perf_counter()
        done = list(_threads.run_chunks(lambda rows: (rows.start, threading.get_ident()),
                                        [slice(i, i + 1) for i in range(6)], 2))
        assert time.perf_counter() - start < 5
    finally:
        release.set()
    assert done == [(i, threading.get_ident()) for i in range(6)]
    assert all(future.result() for future in busy)


def test_the_calling_thread_computes_beside_the_pool():
    """``run_chunks``: every chunk once, the results in chunk order, the caller among the
    threads (a single chunk on the caller alone), and a chunk's exception raised once no
    thread computes any more."""
    from anykmeans._libraries._threads import run_chunks

    chunks = [slice(i, i + 1) for i in range(40)]
    threads = []

    def work(rows):
        threads.append(threading.get_ident())
        time.sleep(0.001)
        return rows.start

    assert list(run_chunks(work, iter(chunks), 2)) == list(range(40))
    assert len(threads) == 40 and threading.get_ident() in threads and len(set(threads)) == 2
    threads.clear()
    assert list(run_chunks(work, chunks[:1], 2)) == [0] and threads == [threading.get_ident()]
    done = []

    def fails(rows):
        if rows.start == 3:
            raise KeyError(3)
        time.sleep(0.001)
        done.append(rows.start)

    with pytest.raises(KeyError):
        list(run_chunks(fails, chunks, 2))
    count = len(done)
    time.sleep(0.01)
    assert len(done) == count < 39  # stopped early, nothing after the raise


def test_chunks_run_at_most_twice_the_threads_ahead_of_the_results():
    """A slow reader of the results holds at most ``2 workers`` chunks taken and not yet
    read; closing the iterator early stops the taking of chunks."""
    from anykmeans._libraries._threads import run_chunks

    started = []

    def work(rows):
        started.append(rows.start)
        return rows.start

    results = run_chunks(work, [slice(i, i + 1) for i in range(30)], 2)
    for read, value in enumerate(results):
        assert value == read
        time.sleep(0.002)  # the pool's thread runs ahead meanwhile, up to the window
        assert max(started) <= read + 4
        if read == 9:
            break
    results.close()
    count = len(started)
    time.sleep(0.01)
    assert len(started) == count <= 15


def test_threaded_numpy_chunks_give_the_serial_answer_bit_for_bit(monkeypatch):
    pytest.importorskip("threadpoolctl")
    from anykmeans._libraries import _numpy

    rng = np.random.default_rng(3)
    X = blobs(5000, 6, 9, seed=3).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, size=X.shape[0]).astype(np.float32)
    centres = X[:9] - X.mean(axis=0)
    data = Data(X, X.mean(axis=0), weights, chunk_size=97)
    threaded = assign(data, centres, update=True)
    if _numpy.workers_for(X) < 2:
        pytest.skip("a single core: NumPy chunks run serially anyway")
    monkeypatch.setattr(_numpy, "workers_for", lambda X: 1)
    serial = assign(data, centres, update=True)
    for a, b in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("n_rows, width", [(500, 4), (500, 5), (30, 4), (30, 5)])
def test_numpy_segment_sum_every_path_equals_scatter_add(order, n_rows, width):
    # Rows in either memory layout (narrow chunks are feature-major), even and odd
    # widths (even ones are added as complex pairs), many and few rows per segment.
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        values = np.asarray(rng.standard_normal((n_rows, width)), dtype=dtype, order=order)
        ids = rng.integers(0, 13, size=n_rows)
        ids[ids == 5] = 6  # an empty segment
        expected = np.zeros((13, width))
        np.add.at(expected, ids, values.astype(np.float64))
        ours = NumPy().segment_sum(array_namespace(values), values, ids, 13)
        assert ours.dtype == dtype and ours.shape == (13, width)
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(ours[5], 0)


@pytest.mark.parametrize("n_rows", [300, 40_000])
def test_numpy_feature_major_float32_rows_summed_in_float64_are_the_sorted_route_s_bits(n_rows):
    # Feature-major float32 rows added up in float64 take bincount per feature, row-major
    # ones the sorted reduceat: the same additions in the same order, so the same bits (the
    # sums of a narrow chunk do not depend on its layout; 40 000 rows: segments longer than
    # reduceat's cast buffer), empty segments zero.
    rng = np.random.default_rng(4)
    values = rng.standard_normal((n_rows, 5)).astype(np.float32) * 1e3
    ids = rng.integers(0, 5, size=n_rows)
    ids[ids == 3] = 4
    ns = array_namespace(values)
    by_features = NumPy().segment_sum(ns, np.asfortranarray(values), ids, 5, np.float64)
    by_rows = NumPy().segment_sum(ns, np.ascontiguousarray(values), ids, 5, np.float64)
    assert by_features.dtype == np.float64
    np.testing.assert_array_equal(by_features, by_rows)
    np.testing.assert_array_equal(by_features[3], 0)


def test_narrow_numpy_chunks_are_feature_major_and_equal_the_plain_difference():
    X = np.random.default_rng(2).standard_normal((40, FEATURE_MAJOR_MAX_FEATURES))
    mean = X.mean(axis=0)
    x = NumPy().centred_rows(array_namespace(X), X, slice(5, 25), mean)
    assert x.flags.f_contiguous and not x.flags.c_contiguous
    np.testing.assert_array_equal(x, X[5:25] - mean)
    wide = np.hstack([X, X[:, :1]])
    wide_rows = NumPy().centred_rows(array_namespace(wide), wide, slice(5, 25),
                                     wide.mean(axis=0))
    assert wide_rows.flags.c_contiguous


@pytest.mark.parametrize("n_clusters", [26 * 5, 26 * 10])
def test_ties_go_to_the_lowest_index_when_centres_are_grouped(xp, n_clusters):
    # Every centre appears n_clusters / 26 times, at shuffled positions: each row's
    # nearest centre is tied exactly with its copies, across groups and within one
    # (130 centres: groups of 4, the last one padded; 260: groups of 4, none padded).
    assert tie_group_size(n_clusters) > 1
    rng = np.random.default_rng(5)
    distinct = rng.standard_normal((26, 3))
    centres = distinct[rng.permutation(np.arange(n_clusters) % 26)]
    points = rng.standard_normal((400, 3))
    sq = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    expected = np.argmax(sq <= sq.min(axis=1, keepdims=True) * (1 + 1e-9), axis=1)
    X, C = xp.asarray(points), xp.asarray(centres)
    ns = array_namespace(X)
    mean = ns.zeros(3, dtype=X.dtype, device=anykmeans._namespace.device_of(X))
    # 150 rows a chunk: centre-major blocks; 10 rows: NumPy lays them out row by row.
    for chunk_size in (150, 10):
        labels = assign(Data(X, mean, chunk_size=chunk_size), C).labels
        np.testing.assert_array_equal(host(labels), expected)


@pytest.mark.parametrize("m", [5, 130])
@pytest.mark.parametrize("axis", [0, 1])
def test_first_true_and_count(xp, m, axis):
    # Columns (or rows) with none, one and many set, past 127 (int8's limit).
    mask = np.zeros((m, 4), dtype=bool)
    mask[2, 1] = True
    mask[1:, 2] = True
    mask[[0, m - 1], 3] = True
    mask = mask if axis == 0 else mask.T
    ns = array_namespace(xp.asarray(np.zeros(1)))
    first, count = first_true_and_count(ns, xp.asarray(mask), axis)
    np.testing.assert_array_equal(host(first), [m - 1, 2, 1, 0])
    np.testing.assert_array_equal(host(count), [0, 1, m - 1, 2])
    for dtype in (None, ns.int64):  # the CPU plan's way and the accelerator plan's
        np.testing.assert_array_equal(host(first_true(ns, xp.asarray(mask), axis, dtype)),
                                      [m - 1, 2, 1, 0])


class RowsFirst(Library):
    """The reference library with row-major score blocks: the generic by-rows tie test."""

    def row_major_scores(self, n_rows, n_centres):
        return True


@pytest.mark.parametrize("n_clusters", [3, 26 * 5])
def test_row_major_blocks_break_ties_to_the_lowest_index(xp, n_clusters):
    # The standard-only by-rows path (the reference first_true) on every backend: exact
    # ties across copies of each centre go to the lowest index, the best score is the
    # squared distance less |x|^2, and rows whose scores are all NaN get a label in range.
    rng = np.random.default_rng(6)
    distinct = rng.standard_normal((min(n_clusters, 26), 3))
    centres = distinct[rng.permutation(np.arange(n_clusters) % len(distinct))]
    points = rng.standard_normal((60, 3))
    sq = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    expected = np.argmax(sq <= sq.min(axis=1, keepdims=True) * (1 + 1e-9), axis=1)
    X, C = xp.asarray(points), xp.asarray(centres)
    ns = array_namespace(X)
    x_sq, c_sq = ns.sum(X * X, axis=1), ns.sum(C * C, axis=1)
    labels, best = nearest(ns, X, x_sq, C, c_sq, RowsFirst())
    np.testing.assert_array_equal(host(labels), expected)
    np.testing.assert_allclose(host(best) + (points**2).sum(axis=1), sq.min(axis=1),
                               rtol=xp.rtol * 10, atol=xp.rtol * 10)
    nan_row = ns.full((1, 3), float("nan"), dtype=X.dtype,
                      device=anykmeans._namespace.device_of(X))
    labels, _ = nearest(ns, nan_row, ns.sum(nan_row * nan_row, axis=1), C, c_sq, RowsFirst())
    assert 0 <= int(host(labels)[0]) < n_clusters


def test_segment_count_equals_the_segment_sum_of_ones(xp):
    ids = xp.backend.asarray(np.random.default_rng(3).integers(0, 7, size=200))
    ids_host = host(ids)
    ns = array_namespace(ids)
    dtype = xp.asarray(np.zeros(1)).dtype
    counts = library_of(ids).segment_count(ns, ids, 9, dtype)
    assert counts.dtype == dtype
    np.testing.assert_array_equal(host(counts), np.bincount(ids_host, minlength=9))


def test_exact_inertia_of_an_assignment_is_the_labelled_inertia(xp):
    # A wide spread of norms, so that the scores' rounding would show.
    rng = np.random.default_rng(6)
    points = rng.standard_normal((300, 4)) * np.array([1.0, 10.0, 100.0, 1000.0])
    X = xp.asarray(points)
    weights = xp.asarray(rng.uniform(0.5, 2.0, size=300))
    ns = array_namespace(X)
    mean = ns.mean(X, axis=0)
    seeds = ns.asarray([0, 50, 100, 150, 200], device=anykmeans._namespace.device_of(X))
    centres = ns.take(X, seeds, axis=0) - mean
    data = Data(X, mean, weights, chunk_size=64)
    step = assign(data, centres, exact_inertia=True)
    expected = labelled_inertia(data, centres, step.labels)
    np.testing.assert_allclose(float(host(step.inertia)), float(host(expected)), rtol=xp.rtol)
    d2 = ((points[:, None, :] - host(centres)[None] - host(mean)) ** 2).sum(axis=2)
    np.testing.assert_allclose(float(host(step.inertia)),
                               (host(weights) * d2[np.arange(300), host(step.labels)]).sum(),
                               rtol=xp.rtol * 10)


def test_transform_holds_its_output_once():
    """The chunks' distance blocks are copied into the output as they come: the pass's peak
    memory is the output and a few blocks, where a concatenation of kept blocks held the
    output twice."""
    import tracemalloc

    import anykmeans

    X = np.random.default_rng(0).standard_normal((40_000, 8))
    model = anykmeans.KMeans(64, init=X[:64], n_init=1, max_iter=1, chunk_size=1000).fit(X)
    tracemalloc.start()
    try:
        out = model.transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (40_000, 64)
    assert peak < 1.5 * out.nbytes


class SortsRecorded:
    """A namespace that records the length of every array it sorts."""

    def __init__(self, xp):
        self.xp, self.sorted = xp, []

    def __getattr__(self, name):
        return getattr(self.xp, name)

    def argsort(self, x, **kwargs):
        self.sorted.append(x.shape[0])
        return self.xp.argsort(x, **kwargs)

    def sort(self, x, **kwargs):
        self.sorted.append(x.shape[0])
        return self.xp.sort(x, **kwargs)


@pytest.mark.parametrize("n", [1, 2, 5, 37])
def test_farthest_rows_are_the_first_of_a_stable_descending_sort(n):
    """Ties (few distinct values) to the lower index, whatever the blocks; only about
    ``sqrt(rows n)`` values sorted at a time, never all the rows."""
    from anykmeans._lloyd import farthest_rows

    rng = np.random.default_rng(n)
    for n_rows in (n, n + 1, 97, 1000, 10_007):
        for values in (rng.integers(0, 4, n_rows), rng.standard_normal(n_rows) ** 2):
            d = values.astype(np.float64)
            xp = SortsRecorded(array_namespace(d))
            expected = np.argsort(-d, kind="stable")[:n]
            np.testing.assert_array_equal(farthest_rows(xp, d, n), expected)
            assert max(xp.sorted) <= 2 * np.sqrt(n_rows * n) + n


def test_stacked_rows_are_the_blocks_one_under_the_other():
    from anykmeans._libraries import Library

    parts = [np.arange(6.0).reshape(3, 2), np.arange(6.0, 10.0).reshape(2, 2)]
    np.testing.assert_array_equal(Library().stacked_rows(np, iter(parts), 5),
                                  np.concatenate(parts))
    assert Library().stacked_rows(np, iter(parts[:1]), 3) is parts[0]  # one block: no copy


def test_a_pass_counts_the_labels_that_changed_chunk_by_chunk(numpy_path, monkeypatch):
    """Given the previous labels, each chunk counts its changed rows, on both NumPy paths;
    given none, nothing is counted."""
    X = blobs(1000, 3, 5, seed=4).astype(np.float32)
    data = Data(X, X.mean(axis=0), chunk_size=128)
    centres = X[[0, 300, 600, 900, 999]] - data.mean
    labels = assign_block(data, centres).labels
    previous = labels.copy()
    previous[::7] = (previous[::7] + 1) % 5  # every 7th row had another label
    step = assign_block(data, centres, update=True, previous_labels=previous)
    np.testing.assert_array_equal(step.labels, labels)
    assert step.n_changed.dtype == X.dtype and int(step.n_changed) == len(X[::7])
    assert assign_block(data, centres, update=True).n_changed is None
