"""NumPy's fused assignment (anykmeans._libraries._fused) gives the standard path's answer.

The compiled loop is checked against the standard-only path on every shape
that takes a different branch of the standard path (one centre; centres in
groups; row-major score blocks; feature-major narrow chunks), on exact ties,
with weights, in both dtypes, over several chunks and tiles, on NumPy and
on views of CPU tensors. Its Python source is checked against the standard
``nearest`` without Numba too, NaN scores included.
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from anykmeans._libraries import _fused, _fused_bisection, _numpy, library_of
from anykmeans._libraries._threads import held_for_fit, workers_for
from anykmeans._lloyd import lloyd
from anykmeans._primitives import TIE_ULPS, Data, assign, nearest, sq_distances_to_labels
from tests.conftest import kernel_calls
from tests.data import blobs, weights


@pytest.fixture
def compiled(monkeypatch):
    """The compiled loop, used however small the data; skips without Numba."""
    kernel = _fused.compiled_kernel()
    if kernel is None:
        pytest.skip("Numba is not installed (pip install numba)")
    monkeypatch.setattr(_fused, "MIN_SCORES", 0)
    return kernel


def problem(n, d, k, dtype, tied, seed=0):
    """Rows and centres drawn from them; ``tied``: small integers, so that many rows are
    exactly as far from two centres (and some centres coincide)."""
    rng = np.random.default_rng(seed)
    if tied:
        X = rng.integers(0, 3, size=(n, d)).astype(dtype)
        return X, X[rng.integers(0, n, k)]
    X = blobs(n, d, max(k // 2, 1), seed=seed).astype(dtype)
    return X, X[rng.integers(0, n, k)] + dtype(0.25)


def both_paths(monkeypatch, X, centres, **options):
    """The assignment by the fused path (tiles of 7 rows) and by the standard path."""
    data = Data(X, X.mean(axis=0), chunk_size=50, weights=options.pop("w", None))
    with monkeypatch.context() as m:
        m.setattr(_fused, "TILE_BYTES", 1)
        m.setattr(_fused, "MIN_TILE_ROWS", 7)
        fused = assign(data, centres - data.mean, **options)
    with monkeypatch.context() as m:
        m.setattr(_fused, "compiled_kernel", lambda: None)
        standard = assign(data, centres - data.mean, **options)
    return fused, standard


# (d, k): one centre and two (a matrix-vector product per centre); few; centres in groups
# (k >= 128); row-major blocks (k >= 8 x rows of a chunk); one feature; feature-major chunks
# (d <= 8).
SHAPES = [(3, 1), (32, 2), (33, 7), (8, 130), (5, 600), (1, 4), (4, 16)]


@pytest.mark.parametrize("d, k", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tied", [False, True], ids=["blobs", "ties"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weighted"])
def test_fused_lloyd_pass_equals_the_standard_path(compiled, monkeypatch, d, k, dtype, tied,
                                                   weighted):
    X, centres = problem(333, d, k, dtype, tied)
    w = weights(len(X)).astype(dtype) if weighted else None
    fused, standard = both_paths(monkeypatch, X, centres, update=True, w=w)
    np.testing.assert_array_equal(fused.labels, standard.labels)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    # Both paths add the sums up in float64 whatever the rows' dtype (Assignment.sums):
    # chunks and Dask's blocks then add up to the same sums in any order.
    np.testing.assert_allclose(fused.sums, standard.sums, rtol=1e-12,
                               atol=1e-12 * np.abs(X).max() * len(X))
    np.testing.assert_allclose(fused.weight_sums, standard.weight_sums, rtol=rtol)
    np.testing.assert_allclose(fused.inertia, standard.inertia, rtol=rtol)
    np.testing.assert_allclose(fused.x_sq_norms, standard.x_sq_norms, rtol=rtol)
    assert fused.labels.dtype == standard.labels.dtype
    assert fused.inertia.dtype == dtype
    assert fused.sums.dtype == standard.sums.dtype == np.float64


@pytest.mark.parametrize("d, k", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_final_pass_takes_the_inertia_from_the_residuals(compiled, monkeypatch, d, k,
                                                               dtype):
    X, centres = problem(333, d, k, dtype, tied=False)
    fused, standard = both_paths(monkeypatch, X, centres, exact_inertia=True)
    np.testing.assert_array_equal(fused.labels, standard.labels)
    assert fused.sums is None and standard.sums is None
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fused.inertia, standard.inertia, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weighted"])
def test_fused_fit_equals_the_standard_fit(compiled, monkeypatch, dtype, weighted):
    X = blobs(3000, 6, 9, seed=2).astype(dtype)
    w = weights(len(X)).astype(dtype) if weighted else None
    fused = anykmeans.KMeans(9, random_state=0, chunk_size=700).fit(X, sample_weight=w)
    monkeypatch.setattr(_fused, "compiled_kernel", lambda: None)
    standard = anykmeans.KMeans(9, random_state=0, chunk_size=700).fit(X, sample_weight=w)
    np.testing.assert_array_equal(fused.labels_, standard.labels_)
    assert fused.n_iter_ == standard.n_iter_
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fused.cluster_centers_, standard.cluster_centers_, rtol=rtol,
                               atol=rtol * 10)
    assert fused.inertia_ == pytest.approx(standard.inertia_, rel=rtol)
    np.testing.assert_array_equal(fused.predict(X), standard.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_on_the_cpu_runs_the_fused_assignment_on_views(compiled, monkeypatch, dtype):
    torch = pytest.importorskip("torch")
    X = blobs(2000, 5, 7, seed=3).astype(dtype)
    w = weights(len(X)).astype(dtype)
    calls = kernel_calls(monkeypatch, _fused, compiled)
    fused = anykmeans.KMeans(7, random_state=0, chunk_size=300).fit(torch.asarray(X),
                                                                   sample_weight=torch.asarray(w))
    assert calls, "the fused loop did not run"
    assert isinstance(fused.labels_, torch.Tensor) and fused.labels_.dtype == torch.int64
    assert isinstance(fused.cluster_centers_, torch.Tensor)
    assert fused.cluster_centers_.dtype == getattr(torch, np.dtype(dtype).name)
    monkeypatch.setattr(_fused, "compiled_kernel", lambda: None)
    standard = anykmeans.KMeans(7, random_state=0, chunk_size=300).fit(
        torch.asarray(X), sample_weight=torch.asarray(w))
    numpy = anykmeans.KMeans(7, random_state=0, chunk_size=300).fit(X, sample_weight=w)
    for other in (standard, numpy):
        np.testing.assert_array_equal(np.asarray(fused.labels_), np.asarray(other.labels_))
        assert fused.n_iter_ == other.n_iter_
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(np.asarray(fused.cluster_centers_),
                                   np.asarray(other.cluster_centers_), rtol=rtol, atol=rtol)


def test_fits_on_numpy_run_the_compiled_loop(compiled, monkeypatch):
    calls = kernel_calls(monkeypatch, _fused, compiled)
    X = blobs(500, 3, 4).astype(np.float32)
    model = anykmeans.KMeans(4, random_state=0).fit(X)
    model.predict(X)
    assert len(calls) >= model.n_iter_ + 1  # every Lloyd pass, and predict
    assert calls[0] == (4, 500)  # one tile: (centres, rows)


@pytest.mark.parametrize("fit_scores_reach_it", [True, False])
def test_a_bisecting_fit_runs_the_compiled_loop_where_its_scores_reach_the_threshold(
        compiled, monkeypatch, fit_scores_reach_it):
    # Each bisection's passes have two centres and one cluster's rows, far fewer scores than
    # the fit's (its rows times its clusters), which decide.
    # float64 rows: each Lloyd run's iterations in one call (a chunk's rows), its final
    # pass the two-centre loop's.
    calls, runs = two_centre_calls(monkeypatch), two_centre_run_calls(monkeypatch)
    X = blobs(500, 3, 4)
    monkeypatch.setattr(_fused, "MIN_SCORES", 500 * 6 + (0 if fit_scores_reach_it else 1))
    anykmeans.BisectingKMeans(6, random_state=0).fit(X)
    assert bool(runs) == fit_scores_reach_it
    assert all(rows <= 500 and features == 3 for rows, features in calls + runs)
    calls.clear()
    runs.clear()
    anykmeans.KMeans(2, n_init=1, random_state=0).fit(X)  # a KMeans fit: its own passes'
    assert calls == runs == []


def requested_buffers(monkeypatch) -> list[str]:
    """Make the fused path's thread-held buffers record their names as they are asked for."""
    requested = []
    buffer = _fused._buffer
    monkeypatch.setattr(_fused, "_buffer", lambda name, *args: (requested.append(name),
                                                                buffer(name, *args))[1])
    return requested


def test_rows_with_a_zero_offset_are_read_where_they_are(compiled, monkeypatch):
    # A bisection's rows, centred when gathered: no tile is copied, the answer is the
    # standard path's. 40 000 rows: chunks of several tiles.
    X = blobs(40_000, 5, 4)
    X = X - X.mean(axis=0)
    centres = X[:4] + 0.25
    data = Data(X, np.zeros(5))
    requested = requested_buffers(monkeypatch)
    fused = assign(data, centres, update=True)
    assert "scores" in requested and "x" not in requested
    monkeypatch.setattr(_fused, "compiled_kernel", lambda: None)
    standard = assign(data, centres, update=True)
    np.testing.assert_array_equal(fused.labels, standard.labels)
    np.testing.assert_allclose(fused.sums, standard.sums, rtol=1e-12)
    assert fused.inertia == pytest.approx(standard.inertia, rel=1e-12)


def test_the_fused_path_is_the_numpy_cpu_plans_only(monkeypatch):
    monkeypatch.setattr(_fused, "compiled_kernel", lambda: _fused.nearest_and_sums)
    X = np.zeros((10, 2), dtype=np.float32)
    data = Data(X, X.mean(axis=0))
    options = dict(update=True, exact_inertia=False, x_sq_norms=None, previous_labels=None,
                   tie_ulps=TIE_ULPS)
    numpy = library_of(X)
    # Small passes: the standard path (compiling would take longer than the fit).
    assert numpy.fused_assignment(data, X[:2], X[:2, 0], **options) is None
    monkeypatch.setattr(_fused, "MIN_SCORES", 20)
    assert numpy.fused_assignment(data, X[:2], X[:2, 0], **options) is not None
    # Centres of another dtype, integer rows: the standard path.
    assert numpy.fused_assignment(data, X[:2].astype(np.float64), X[:2, 0], **options) is None
    assert numpy.fused_assignment(Data(X.astype(np.int64), X.mean(axis=0)), X[:2], X[:2, 0],
                                  **options) is None
    monkeypatch.setattr(_fused, "compiled_kernel", lambda: None)
    assert numpy.fused_assignment(data, X[:2], X[:2, 0], **options) is None


@pytest.mark.parametrize("tied", [False, True], ids=["blobs", "ties"])
def test_few_centres_of_float32_take_the_row_major_product(compiled, monkeypatch, tied):
    """Float32 rows of 16 features or more against 3 to 32 centres: the tile's scores come
    from the row-major product, copied into the block by the loop; the labels are the
    centre-major product's, the sums and inertia equal to rounding. Float64 rows, fewer
    features or more centres keep the centre-major product."""
    X, centres = problem(3_000, 20, 12, np.float32, tied)
    data = Data(X, X.mean(axis=0), chunk_size=1_000)
    requested = requested_buffers(monkeypatch)
    by_rows = assign(data, centres - data.mean, update=True)
    assert "by_row" in requested
    with monkeypatch.context() as m:
        m.setattr(_fused, "MAX_ROW_MAJOR_CENTRES", 2)
        requested.clear()
        by_centres = assign(data, centres - data.mean, update=True)
        assert "by_row" not in requested
    np.testing.assert_array_equal(by_rows.labels, by_centres.labels)
    np.testing.assert_allclose(by_rows.sums, by_centres.sums, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(by_rows.inertia, by_centres.inertia, rtol=1e-5)
    for X_other, k in [(X.astype(np.float64), 12), (X[:, :8].copy(), 12), (X, 40)]:
        requested.clear()
        assign(Data(X_other, X_other.mean(axis=0)), X_other[:k] - X_other.mean(axis=0))
        assert "by_row" not in requested and "scores" in requested


def test_tiles_spread_over_the_cache_sets():
    """Tiles of even size rounded up to an odd multiple of 16 rows: at most as many as
    :data:`_fused.TILE_BYTES` asks for, fewer than 32 rows more than even tiles."""
    for n_rows, d, k in [(21_845, 32, 16), (40_000, 32, 32), (4_096, 64, 64), (100, 4, 3),
                         (2_000_000, 64, 1_024)]:
        most = max(_fused.MIN_TILE_ROWS, _fused.TILE_BYTES // ((d + k) * 4))
        n_tiles = -(-n_rows // most)
        even = -(-n_rows // n_tiles)
        rows = _fused.tile_rows(n_rows, d, k, 4)
        assert -(-n_rows // rows) <= n_tiles
        assert rows % 32 == 16 and 0 <= rows - even < 32


def test_threads_keep_small_buffers_only():
    small = _fused._buffer("scores", (16, 1000), np.dtype(np.float32))
    assert _fused._buffer("scores", (16, 999), np.dtype(np.float32)).base is small.base
    rows = _fused.MAX_HELD_BYTES // (4 * 1000) + 1
    large = _fused._buffer("scores", (rows, 1000), np.dtype(np.float32))
    assert large.shape == (rows, 1000) and large.flags.c_contiguous
    assert _fused._buffer("scores", (16, 999), np.dtype(np.float32)).base is small.base


def run_loop(kernel, x, centres, update=False, w=None):
    """:func:`_fused.nearest_and_sums` on centred rows ``x``: labels, inertia, sums."""
    dtype = x.dtype
    n, d = x.shape
    k = centres.shape[0]
    centre_sq_norms = np.einsum("ij,ij->i", centres, centres)
    x_sq_norms = np.einsum("ij,ij->i", x, x)
    labels = np.empty(n, dtype=np.intp)
    sums, weight_sums = np.zeros((k, d), dtype=dtype), np.zeros(k)
    nothing = np.empty((0, d), dtype)
    inertia = kernel((-2.0 * centres) @ x.T, centre_sq_norms, x, x_sq_norms,
                     np.empty(0, dtype) if w is None else w, centres,
                     dtype.type(TIE_ULPS * np.finfo(dtype).eps),
                     dtype.type(centre_sq_norms.max()), labels, sums, weight_sums, update,
                     False, nothing, np.zeros(d, dtype), nothing)
    return labels, inertia, sums, weight_sums


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_loop_in_python_decides_as_the_standard_nearest(dtype):
    """Runs without Numba: the loop's source, interpreted, against ``nearest``."""
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, size=(40, 3)).astype(dtype)  # exact ties
    centres = np.vstack([x[:5], x[:2]])  # duplicated centres: ties to the lower index
    centres[3, 0] = np.nan  # every row has a NaN score: no centre is nearest
    labels, inertia, _, _ = run_loop(_fused.nearest_and_sums, x, centres)
    expected, best = nearest(np, x, np.einsum("ij,ij->i", x, x), centres,
                             np.einsum("ij,ij->i", centres, centres))
    np.testing.assert_array_equal(labels, expected)
    assert np.all(labels == len(centres) - 1) and np.isnan(inertia) and np.isnan(best).all()
    centres[3, 0] = 0.5
    labels, inertia, sums, counts = run_loop(_fused.nearest_and_sums, x, centres, update=True)
    x_sq_norms = np.einsum("ij,ij->i", x, x)
    expected, best = nearest(np, x, x_sq_norms, centres, np.einsum("ij,ij->i", centres, centres))
    np.testing.assert_array_equal(labels, expected)
    assert set(labels) <= {0, 1, 2, 3, 4}  # the duplicates (5, 6) never win
    assert inertia == pytest.approx(np.maximum(x_sq_norms + best, 0).sum())
    np.testing.assert_array_equal(counts, np.bincount(labels, minlength=len(centres)))
    expected_sums = np.zeros_like(sums)
    np.add.at(expected_sums, labels, x)
    np.testing.assert_array_equal(sums, expected_sums)


def test_the_compiled_loop_equals_its_python_source(compiled):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 5)).astype(np.float32)
    centres = x[:12] + np.float32(0.1)
    w = rng.uniform(0.5, 2, 300).astype(np.float32)
    ours = run_loop(compiled, x, centres, update=True, w=w)
    python = run_loop(_fused.nearest_and_sums, x, centres, update=True, w=w)
    np.testing.assert_array_equal(ours[0], python[0])
    assert ours[1] == pytest.approx(python[1], rel=1e-12)
    np.testing.assert_array_equal(ours[2], python[2])
    np.testing.assert_array_equal(ours[3], python[3])


def test_the_loop_copies_row_major_scores_into_its_block(compiled):
    """Given the scores row by row, the loop (compiled and in Python) writes them into its
    block and decides as it does from the block itself."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 24)).astype(np.float32)
    centres = x[:9] + np.float32(0.1)
    centre_sq_norms = np.einsum("ij,ij->i", centres, centres)
    x_sq_norms = np.einsum("ij,ij->i", x, x)
    block = (-2.0 * centres) @ x.T
    slack, max_norm, recheck, tie_scale = _fused.window(x.dtype, 24, centre_sq_norms, TIE_ULPS)
    nothing = np.empty((0, 24), np.float32)
    answers = []
    for kernel in (compiled, _fused.nearest_and_sums):
        for by_row in (None, np.ascontiguousarray(block.T)):
            labels = np.empty(200, dtype=np.intp)
            sums, weight_sums = np.zeros((9, 24)), np.zeros(9)
            scratch = block.copy() if by_row is None else np.full_like(block, np.nan)
            inertia = kernel(scratch, centre_sq_norms, x, x_sq_norms, np.empty(0, np.float32),
                             centres, slack, max_norm, labels, sums, weight_sums, True, False,
                             nothing, np.zeros(24, np.float32), nothing, recheck, tie_scale,
                             by_row)
            np.testing.assert_array_equal(scratch, block)
            answers.append((labels, inertia, sums, weight_sums))
    for labels, inertia, sums, weight_sums in answers[1:]:
        np.testing.assert_array_equal(labels, answers[0][0])
        assert inertia == pytest.approx(answers[0][1], rel=1e-12)
        np.testing.assert_array_equal(sums, answers[0][2])
        np.testing.assert_array_equal(weight_sums, answers[0][3])


def two_centre_calls(monkeypatch) -> list[tuple[int, ...]]:
    """Make the fused path's two-centre loop record the shape of the rows of every call."""
    return kernel_calls(monkeypatch, _fused_bisection,
                        _fused_bisection.compiled_two_centre_kernel(),
                        "compiled_two_centre_kernel")


def two_centre_run_calls(monkeypatch) -> list[tuple[int, ...]]:
    """Make the two-centre Lloyd run in one call record the shape of the rows of every call."""
    return kernel_calls(monkeypatch, _fused_bisection,
                        _fused_bisection.compiled_two_centre_run(),
                        "compiled_two_centre_run")


def lloyd_with_and_without_the_run(monkeypatch, data, centres, **options):
    """:func:`lloyd` from ``centres`` as it runs, and with its iterations in Python."""
    ours = lloyd(data, centres.copy(), **options)
    with monkeypatch.context() as patched:
        patched.setattr(_fused_bisection, "compiled_two_centre_run", lambda: None)
        python = lloyd(data, centres.copy(), **options)
    return ours, python


def test_a_two_centre_run_in_one_call_is_lloyds_to_the_bit(compiled, monkeypatch):
    # Small clusters, rows on a grid (exact ties) or not, weights or not, rows centred or
    # not, tol = 0 and above, runs that stop at max_iter, on the tolerance and strictly.
    runs = two_centre_run_calls(monkeypatch)
    rng = np.random.default_rng(7)
    endings = set()
    for case in range(48):
        n, d = int(rng.integers(20, 1500)), int(rng.integers(1, 40))
        X = rng.normal(size=(n, d)) * 3
        X = np.round(X) if case % 3 == 0 else X
        w = rng.uniform(0.1, 3, n) if case % 2 else None
        data = Data(X, X.mean(axis=0) if case % 5 == 0 else np.zeros(d), w)
        centres = X[rng.choice(n, 2, replace=False)] - data.mean
        options = dict(max_iter=(2, 5, 300)[case % 3], tol=(0.0, 1e-4, 1e-2, 1.0)[case % 4])
        ours, python = lloyd_with_and_without_the_run(monkeypatch, data, centres, **options)
        np.testing.assert_array_equal(ours.centres, python.centres)
        np.testing.assert_array_equal(ours.labels, python.labels)
        np.testing.assert_array_equal(ours.counts, python.counts)
        assert ours[2:6] == python[2:6]  # inertia, n_iter, converged, history
        endings.add((ours.converged, ours.n_iter == options["max_iter"]))
    assert len(runs) == 48 and endings == {(True, True), (True, False), (False, True)}


def test_a_two_centre_run_with_an_empty_cluster_or_several_chunks_is_lloyds(compiled,
                                                                            monkeypatch):
    # A cluster without weight is relocated in Python, the run begun again there. Several
    # chunks on one thread, or too few rows to share, are one call, their sums added chunk
    # by chunk as a pass adds them; else the chunks' passes are shared among the threads.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    runs = two_centre_run_calls(monkeypatch)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 6))
    w = rng.uniform(0.5, 2, 400)
    cases = [(Data(X, np.zeros(6)), X[[5, 5]]),  # every row to the first
             (Data(X, np.zeros(6), chunk_size=100), X[[5, 9]]),
             (Data(X, X.mean(axis=0), w, chunk_size=150), X[[5, 9]] - X.mean(axis=0))]
    for threads, shared_from in [(1, 0), (None, 0), (None, 401)]:
        monkeypatch.setattr(_numpy, "MIN_SHARED_RUN_ROWS", shared_from)
        with threadpoolctl.threadpool_limits(threads):
            one_thread = workers_for(X) == 1 or shared_from > 400
            for data, centres in cases:
                ours, python = lloyd_with_and_without_the_run(monkeypatch, data, centres,
                                                              max_iter=50, tol=0.0)
                np.testing.assert_array_equal(ours.labels, python.labels)
                np.testing.assert_array_equal(ours.centres, python.centres)
                assert ours[2:6] == python[2:6] and np.all(ours.counts > 0)
        # The empty cluster's run is begun, then left to Python.
        assert runs == [(400, 6)] * (3 if one_thread else 1)
        runs.clear()


@pytest.mark.parametrize("dtype, taken", [(np.float64, True), (np.float32, False)])
def test_two_centres_of_float64_take_the_two_centre_loop(compiled, monkeypatch, dtype, taken):
    # float32 rows have their close calls rechecked: the general loop's.
    calls, general = two_centre_calls(monkeypatch), kernel_calls(monkeypatch, _fused, compiled)
    X, centres = problem(333, 6, 2, dtype, tied=False)
    data = Data(X, X.mean(axis=0), chunk_size=100)
    fused = assign(data, centres - data.mean, update=True)
    assert calls == ([(100, 6)] * 3 + [(33, 6)] if taken else [])
    assert bool(general) != taken
    monkeypatch.setattr(_fused, "compiled_kernel", lambda: None)
    standard = assign(data, centres - data.mean, update=True)
    np.testing.assert_array_equal(fused.labels, standard.labels)


def run_two_centres(kernel, x, mean, centres, update=False, w=None, exact=False):
    """:func:`_fused_bisection.two_centre_sums` on rows ``x`` centred on ``mean``: labels, inertia,
    sums, weight sums and the rows' squared norms it wrote."""
    n, d = x.shape
    centre_sq_norms = np.einsum("ij,ij->i", centres, centres)
    labels, x_sq_norms = np.empty(n, dtype=np.intp), np.empty(n)
    sums, weight_sums = np.zeros((2, d)), np.zeros(2)
    inertia = kernel(x, mean, -2.0 * centres, centre_sq_norms, x_sq_norms, True,
                     np.empty(0) if w is None else w, centres, TIE_ULPS * np.finfo(float).eps,
                     centre_sq_norms.max(), labels, sums, weight_sums, update, exact)
    return labels, inertia, sums, weight_sums, x_sq_norms


def test_the_two_centre_loop_in_python_decides_as_the_standard_nearest():
    """Runs without Numba: the loop's source, interpreted, against ``nearest``."""
    rng = np.random.default_rng(1)
    X = rng.integers(-2, 3, size=(40, 3)).astype(np.float64)  # exact ties
    mean = np.array([0.5, -0.25, 0.0])
    x = X - mean
    for centres in (x[[3, 3]], x[[7, 3]]):  # one centre twice: ties to the lower index
        labels, inertia, sums, counts, x_sq_norms = run_two_centres(
            _fused_bisection.two_centre_sums, X, mean, centres, update=True)
        np.testing.assert_array_equal(x_sq_norms, np.einsum("ij,ij->i", x, x))
        expected, best = nearest(np, x, x_sq_norms, centres,
                                 np.einsum("ij,ij->i", centres, centres))
        np.testing.assert_array_equal(labels, expected)
        assert inertia == pytest.approx(np.maximum(x_sq_norms + best, 0).sum())
        np.testing.assert_array_equal(counts, np.bincount(labels, minlength=2))
        expected_sums = np.zeros_like(sums)
        np.add.at(expected_sums, labels, x)  # row by row, in row order
        np.testing.assert_array_equal(sums, expected_sums)
        exact = run_two_centres(_fused_bisection.two_centre_sums, X, mean, centres, exact=True)[1]
        assert exact == pytest.approx(((x - centres[labels]) ** 2).sum(), rel=1e-12)
    assert set(labels) == {0, 1}
    centres = x[[7, 3]].copy()
    centres[0, 1] = np.nan  # every row has a NaN score: the last centre, a NaN inertia
    labels, inertia, _, _, _ = run_two_centres(_fused_bisection.two_centre_sums, X, mean, centres)
    assert np.all(labels == 1) and np.isnan(inertia)


def test_the_compiled_two_centre_loop_equals_its_python_source(compiled):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 37))
    mean, centres = X.mean(axis=0), X[:2] - X.mean(axis=0) + 0.1
    w = rng.uniform(0.5, 2, 300)
    ours = run_two_centres(_fused_bisection.compiled_two_centre_kernel(), X, mean, centres,
                           update=True, w=w)
    python = run_two_centres(_fused_bisection.two_centre_sums, X, mean, centres, update=True, w=w)
    np.testing.assert_array_equal(ours[0], python[0])
    assert ours[1] == pytest.approx(python[1], rel=1e-12)  # its norms may add in another order
    np.testing.assert_array_equal(ours[2], python[2])  # the sums add in row order
    np.testing.assert_array_equal(ours[3], python[3])
    np.testing.assert_allclose(ours[4], python[4], rtol=1e-14)


@pytest.mark.parametrize("n_features", [5, 32])
def test_a_bisecting_fit_on_the_two_centre_loop_does_not_depend_on_threads(compiled,
                                                                           monkeypatch,
                                                                           n_features):
    # Clusters of several chunks shared among the cores, an iteration's pass at a time: the
    # same bits as their runs in one call on one thread.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(_numpy, "MIN_SHARED_RUN_ROWS", 0)
    calls = kernel_calls(monkeypatch, _fused_bisection,
                         _fused_bisection.compiled_two_centre_pass(),
                         "compiled_two_centre_pass")
    X = blobs(6000, n_features, 6)
    fits = [anykmeans.BisectingKMeans(6, random_state=0).fit(X)]
    assert calls or workers_for(X) == 1
    with threadpoolctl.threadpool_limits(1):
        fits.append(anykmeans.BisectingKMeans(6, random_state=0).fit(X))
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert fits[0].inertia_ == fits[1].inertia_


@pytest.mark.parametrize("dtype, weighted", [(np.float64, False), (np.float64, True),
                                             (np.float32, True)])
def test_cluster_inertias_in_one_loop_are_the_residuals_sums(compiled, dtype, weighted):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(700, 9)).astype(dtype)
    w = rng.uniform(0.5, 2, 700).astype(dtype) if weighted else None
    data = Data(X, X.mean(axis=0), w, chunk_size=200)
    centres = rng.normal(size=(3, 9)).astype(dtype)
    labels = rng.integers(0, 3, 700)
    ours = library_of(X).fused_cluster_inertias(data, centres, labels)
    sq = sq_distances_to_labels(data, centres, labels).astype(np.float64)
    sq = sq if w is None else w * sq
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, [sq[labels == j].sum() for j in range(3)],
                               rtol=1e-13 if dtype == np.float64 else 1e-5)


def test_a_bisecting_fit_adds_its_childrens_inertias_in_one_loop(compiled, monkeypatch):
    calls = kernel_calls(monkeypatch, _fused_bisection,
                         _fused_bisection.compiled_cluster_residual_sums(),
                         "compiled_cluster_residual_sums")
    X = blobs(3000, 4, 5)
    ours = anykmeans.BisectingKMeans(5, random_state=0).fit(X)
    assert len(calls) >= 4  # a chunk or more per bisection
    monkeypatch.setattr(_fused_bisection, "compiled_cluster_residual_sums", lambda: None)
    standard = anykmeans.BisectingKMeans(5, random_state=0).fit(X)
    np.testing.assert_array_equal(ours.labels_, standard.labels_)
    assert ours.inertia_ == pytest.approx(standard.inertia_, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_gathered_and_centred_in_one_loop_are_numpys(compiled, monkeypatch, dtype):
    calls = kernel_calls(monkeypatch, _fused_bisection,
                         _fused_bisection.compiled_gather_centred(),
                         "compiled_gather_centred")
    monkeypatch.setattr(_fused_bisection, "MIN_GATHERED_ROWS", 100)
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 7)).astype(dtype)
    mean = X.mean(axis=0)
    indices = np.sort(rng.choice(300, 120, replace=False))
    ours = library_of(X).centred_rows_at(np, X, indices, mean)
    assert calls == [(300, 7)] and ours.flags.c_contiguous
    np.testing.assert_array_equal(ours, X[indices] - mean)
    # Fewer rows (a seeding step's candidates) are NumPy's indexing: the loop is not loaded.
    few = library_of(X).centred_rows_at(np, X, indices[:99], mean)
    assert calls == [(300, 7)]
    np.testing.assert_array_equal(few, X[indices[:99]] - mean)
    # Within a fit on two threads, from MIN_SHARED_RUN_ROWS rows, a call per thread.
    monkeypatch.setattr(_numpy, "MIN_SHARED_RUN_ROWS", 110)
    with held_for_fit(X, 2):
        shared = library_of(X).centred_rows_at(np, X, indices, mean)
    assert calls == [(300, 7)] * 3
    np.testing.assert_array_equal(shared, X[indices] - mean)
    # A fit's bisections gather their clusters' rows with it.
    anykmeans.BisectingKMeans(3, random_state=0).fit(X)
    assert len(calls) > 3
