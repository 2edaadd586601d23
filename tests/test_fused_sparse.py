"""SciPy's fused sparse assignment (anykmeans._libraries._fused_sparse) gives the standard
sparse path's answer: the same labels and row norms, the same sums bit for bit, the inertia to
rounding; float32's close calls decided as NumPy's fused loop decides them; a fit gives
scikit-learn's labels.
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from anykmeans._libraries import _fused, _fused_seeding, _fused_sparse
from anykmeans._primitives import Data, assign_block
from tests.conftest import kernel_calls

sp = pytest.importorskip("scipy.sparse")


@pytest.fixture
def compiled(monkeypatch):
    """The compiled loops, used however small the data; skips without Numba."""
    if _fused_sparse.compiled_loops() is None:
        pytest.skip("Numba is not installed (pip install numba)")
    monkeypatch.setattr(_fused, "MIN_SCORES", 0)


def problem(dtype, tied, seed=0):
    """CSR rows and centres; ``tied``: small integer values and centres that are rows, so
    that many rows are exactly as far from two centres (rows sharing no column with any
    centre are as far from all of those of equal norm)."""
    rng = np.random.default_rng(seed)
    X = sp.random(300, 40, density=0.1, format="csr", random_state=seed, dtype=np.float64)
    if tied:
        X.data = rng.integers(1, 3, X.nnz).astype(np.float64)
        centres = X[rng.choice(300, 9, replace=False)].toarray()
    else:
        centres = rng.random((9, 40)) * 0.2
    return X.astype(dtype), np.asfortranarray(centres.astype(dtype))


def both_paths(monkeypatch, X, centres, weights=None, **options):
    """The assignment by the compiled loops and by the standard path, in chunks of 64 rows."""
    data = Data(X, np.zeros(X.shape[1], dtype=X.dtype), weights, chunk_size=64)
    previous = np.arange(X.shape[0]) % centres.shape[0]
    fused = assign_block(data, centres, previous_labels=previous, **options)
    with monkeypatch.context() as m:
        m.setattr(_fused_sparse, "compiled_loops", lambda: None)
        standard = assign_block(data, centres, previous_labels=previous, **options)
    return fused, standard


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tied", [False, True], ids=["spread", "ties"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weighted"])
def test_fused_sparse_pass_equals_the_standard_path(compiled, monkeypatch, dtype, tied,
                                                    weighted):
    X, centres = problem(dtype, tied)
    w = np.random.default_rng(1).random(X.shape[0]).astype(dtype) + 0.5 if weighted else None
    fused, standard = both_paths(monkeypatch, X, centres, w, update=True)
    np.testing.assert_array_equal(fused.labels, standard.labels)
    np.testing.assert_array_equal(fused.sums, standard.sums)  # the same additions, in order
    np.testing.assert_array_equal(fused.weight_sums, standard.weight_sums)
    np.testing.assert_array_equal(fused.x_sq_norms, standard.x_sq_norms)
    assert fused.n_changed == standard.n_changed
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fused.inertia, standard.inertia, rtol=rtol)
    assert fused.inertia.dtype == fused.sums.dtype == dtype
    assert fused.labels.dtype == standard.labels.dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_inertia_and_given_norms(compiled, monkeypatch, dtype):
    X, centres = problem(dtype, tied=True, seed=2)
    norms = np.asarray(X.multiply(X).sum(axis=1), dtype=dtype).ravel()
    fused, standard = both_paths(monkeypatch, X, centres, exact_inertia=True,
                                 x_sq_norms=norms)
    np.testing.assert_array_equal(fused.labels, standard.labels)
    assert fused.x_sq_norms is norms and fused.sums is None
    np.testing.assert_allclose(fused.inertia, standard.inertia,
                               rtol=1e-5 if dtype == np.float32 else 1e-13)


def test_float32_close_calls_go_to_numpy_s_fused_loop(compiled, monkeypatch):
    """Rows tied between centres are close calls in float32: NumPy's fused loop decides
    them, and the labels are the standard path's (which decides them exactly too)."""
    calls = kernel_calls(monkeypatch, _fused, _fused.compiled_kernel())
    X, centres = problem(np.float32, tied=True)
    fused = assign_block(Data(X, np.zeros(40, dtype=np.float32)), centres)
    monkeypatch.setattr(_fused_sparse, "compiled_loops", lambda: None)
    standard = assign_block(Data(X, np.zeros(40, dtype=np.float32)), centres)
    assert calls and sum(rows for _, rows in calls) < X.shape[0]  # the close calls alone
    np.testing.assert_array_equal(fused.labels, standard.labels)


def test_a_fit_with_the_compiled_loops_gives_scikit_learn_s_answer(compiled):
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    X = sp.random(400, 30, density=0.15, format="csr", random_state=0,
                  data_rvs=np.random.RandomState(0).rand)
    weights = np.random.RandomState(1).rand(400) + 0.1
    ours = anykmeans.KMeans(5, n_init=1, random_state=0).fit(X, sample_weight=weights)
    theirs = sklearn_cluster.KMeans(5, n_init=1, random_state=0).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weighted"])
def test_the_update_by_cluster_makes_the_sums_route_s_centres(compiled, dtype, weighted):
    """Each centre written over the old one is the sum the pass would have made (the same
    additions, in order) times its reciprocal weight, bit for bit, in either layout of the
    centres and however the clusters are split among runs (one; several, on the pool); the
    squared shift is the same for every split, and the centres' to rounding."""
    X, old = problem(dtype, tied=False)
    w = np.random.default_rng(1).random(X.shape[0]).astype(dtype) + 0.5 if weighted else None
    labels = np.random.default_rng(2).integers(0, 9, X.shape[0])
    data = Data(X, np.zeros(40, dtype=dtype), w)
    sums, weight_sums = data.library.labelled_sums(data, labels, 9)
    expected = sums * (1.0 / weight_sums)[:, None]
    shifts = set()
    for order, chunk_size in [("F", None), ("F", 16), ("C", 16)]:
        centres = old.copy(order=order)
        shifts.add(float(data.library.update_by_cluster(
            Data(X, np.zeros(40, dtype=dtype), w, chunk_size), labels, centres)))
        np.testing.assert_array_equal(centres, expected)
    assert len(shifts) == 1
    assert shifts.pop() == pytest.approx(np.sum((expected - old).astype(np.float64) ** 2),
                                         rel=1e-5 if dtype == np.float32 else 1e-12)


def uneven_rows(n_rows=600, n_features=50, seed=5):
    """CSR rows whose stored values crowd into the first tenth (as long documents among
    short ones): even rows would give the first chunk most of the work."""
    rng = np.random.default_rng(seed)
    per_row = np.where(np.arange(n_rows) < n_rows // 10, 40, 2)
    indices = np.concatenate([np.sort(rng.choice(n_features, m, replace=False))
                              for m in per_row])
    indptr = np.concatenate([[0], np.cumsum(per_row)])
    return sp.csr_array((rng.random(indptr[-1]), indices, indptr), shape=(n_rows, n_features))


@pytest.mark.parametrize("chunk_size", [None, 100, 7])
def test_a_pass_s_chunks_share_the_work_evenly(monkeypatch, chunk_size):
    """In order, none empty, a multiple of the usable cores, each within one row's work of
    an even share of the stored values plus ``ROW_WORK`` a row; not the caller's thread
    limit's."""
    X = uneven_rows()
    work = X.indptr + _fused_sparse.ROW_WORK * np.arange(X.shape[0] + 1)
    for cores in (1, 2, 3):
        monkeypatch.setattr(_fused_sparse, "usable_cores", lambda cores=cores: cores)
        data = Data(X, np.zeros(X.shape[1]), chunk_size=chunk_size)
        chunks = _fused_sparse.pass_chunks(data, 4)
        bounds = [c.start for c in chunks] + [chunks[-1].stop]
        assert bounds[0] == 0 and bounds[-1] == X.shape[0]
        assert all(c.stop > c.start for c in chunks) and bounds == sorted(bounds)
        planned = sum(1 for _ in data.chunks(4))
        assert len(chunks) == -(-planned // cores) * cores
        share, largest_row = work[-1] / len(chunks), np.max(np.diff(work))
        assert np.all(np.abs(np.diff(work[bounds]) - share) <= largest_row)


def test_even_cuts_leave_no_run_empty():
    assert _fused_sparse.even_cuts(lambda i: 10 * i, 10, 5) == [0, 2, 4, 6, 8, 10]
    assert _fused_sparse.even_cuts(lambda i: 10 * i, 3, 8) == [0, 1, 2, 3]
    assert _fused_sparse.even_cuts(lambda i: 0 if i < 5 else 100, 5, 4) == [0, 5]
    assert _fused_sparse.even_cuts(lambda i: [0, 90, 95, 100][i], 3, 2) == [0, 1, 3]


def test_rows_by_label_counts_each_cluster_s_stored_values(compiled):
    X = uneven_rows()
    labels = np.random.default_rng(6).integers(0, 7, X.shape[0])
    order = np.empty(X.shape[0], dtype=np.intp)
    starts, stored = np.empty(8, dtype=np.intp), np.empty(8, dtype=np.intp)
    _fused_sparse.compiled_loops()[2](labels, X.indptr, order, starts, stored)
    np.testing.assert_array_equal(order, np.argsort(labels, kind="stable"))
    np.testing.assert_array_equal(starts[1:], np.cumsum(np.bincount(labels, minlength=7)))
    np.testing.assert_array_equal(
        stored[1:], np.cumsum(np.bincount(labels, np.diff(X.indptr), minlength=7)))
    assert starts[0] == stored[0] == 0


def test_a_sparse_fit_is_the_same_bits_on_one_thread_and_two(compiled):
    """The chunks follow the cores, not the threads the caller allows: one thread or two, the
    same labels, centres, inertia and iterations, to the bit."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X = uneven_rows()
    w = np.random.default_rng(7).random(X.shape[0]) + 0.5
    fits = []
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
            fits.append(anykmeans.KMeans(6, n_init=2, random_state=0).fit(X, sample_weight=w))
    one, two = fits
    np.testing.assert_array_equal(one.labels_, two.labels_)
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)
    assert (one.inertia_, one.n_iter_) == (two.inertia_, two.n_iter_)


def test_the_update_by_cluster_leaves_a_cluster_without_weight_to_the_sums(compiled):
    X, old = problem(np.float64, tied=False)
    labels = np.arange(X.shape[0]) % 8  # cluster 8 has no row
    centres = old.copy(order="F")
    data = Data(X, np.zeros(40))
    assert data.library.update_by_cluster(data, labels, centres) is None
    np.testing.assert_array_equal(centres, old)


@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weighted"])
def test_a_fit_updating_by_cluster_is_the_sums_route_s_fit(compiled, monkeypatch, weighted):
    """The same labels, centres, inertia and iterations as the update from the pass's sums,
    an empty cluster relocated (from the sums) included, and scikit-learn's answer."""
    from anykmeans._libraries._scipy import SciPySparse

    X = sp.random(500, 30, density=0.2, format="csr", random_state=3,
                  data_rvs=np.random.RandomState(3).rand)
    w = np.random.RandomState(4).rand(500) + 0.1 if weighted else None
    init = np.asarray(X[:6].todense())
    init[5] = 50.0  # no row is nearest: its cluster is empty after the first pass
    calls = []
    update = SciPySparse.update_by_cluster
    monkeypatch.setattr(SciPySparse, "update_by_cluster",
                        lambda *args: calls.append(update(*args)) or calls[-1])

    def fit():
        return anykmeans.KMeans(6, init=init, n_init=1, tol=1e-6).fit(X, sample_weight=w)

    ours = fit()
    assert calls[0] is None and all(shift is not None for shift in calls[1:])
    monkeypatch.setattr(SciPySparse, "updates_by_cluster", False)
    by_sums = fit()
    assert len(calls) == ours.n_iter_
    np.testing.assert_array_equal(ours.labels_, by_sums.labels_)
    np.testing.assert_array_equal(ours.cluster_centers_, by_sums.cluster_centers_)
    assert (ours.inertia_, ours.n_iter_) == (by_sums.inertia_, by_sums.n_iter_)
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    theirs = sklearn_cluster.KMeans(6, init=init, n_init=1, tol=1e-6).fit(X, sample_weight=w)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)


@pytest.mark.parametrize("repeat", [None, "first row", "last row"])
def test_the_column_scan_finds_a_row_s_repeated_column(compiled, monkeypatch, repeat):
    """A row storing one column twice, its columns in any order, is found by the compiled
    scan as by the CSC copy's check, which prepares the rows without it; a column in many
    rows (all here share some) is no repeat; the matrix given is kept, or its repeats summed
    in a sorted copy."""
    from anykmeans._libraries._scipy import SciPySparse

    X = uneven_rows()
    order = np.concatenate([np.random.default_rng(row).permutation(np.arange(start, stop))
                            for row, (start, stop) in enumerate(zip(
                                X.indptr[:-1], X.indptr[1:], strict=True))])
    indices = X.indices[order]
    if repeat is not None:
        row = 0 if repeat == "first row" else X.shape[0] - 1
        indices[X.indptr[row + 1] - 1] = indices[X.indptr[row]]
    unsorted = sp.csr_array((X.data[order], indices, X.indptr), shape=X.shape)
    repeated = repeat is not None
    assert _fused_sparse.repeated_columns(unsorted) is repeated
    assert unsorted.tocsc().has_canonical_format is not repeated
    for check in (_fused_sparse.compiled_column_check, lambda: None):
        monkeypatch.setattr(_fused_sparse, "compiled_column_check", check)
        prepared = SciPySparse().prepare(unsorted, "X")
        assert (prepared is unsorted) is not repeated
        assert prepared.has_canonical_format or not repeated
    np.testing.assert_array_equal(unsorted.indices, indices)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weighted"])
def test_a_sparse_seeding_s_compiled_step_chooses_the_standard_seeds(compiled, monkeypatch,
                                                                    dtype, weighted):
    """k-means++ over CSR rows (unevenly spread values, several chunks, search blocks across
    them) by the rows' products and NumPy's compiled lowering: the standard path's seeds,
    and scikit-learn's."""
    from anykmeans._kmeans_plusplus import kmeans_plusplus_indices

    monkeypatch.setattr("anykmeans._kmeans_plusplus.SEARCH_ROWS", 50)
    X = uneven_rows().astype(dtype)
    w = (np.random.default_rng(8).uniform(0.5, 2.0, X.shape[0]) if weighted
         else np.ones(X.shape[0])).astype(dtype)
    data = Data(X, np.zeros(X.shape[1], dtype=dtype), w, chunk_size=160)
    with monkeypatch.context() as m:
        calls = kernel_calls(m, _fused_seeding, _fused_seeding.compiled_kernel())
        fused = kmeans_plusplus_indices(data, 12, np.random.RandomState(0))
    assert len(calls) == 11 * 4  # every step, every chunk of 160 rows
    monkeypatch.setattr(_fused_seeding, "compiled_kernel", lambda: None)
    np.testing.assert_array_equal(fused, kmeans_plusplus_indices(data, 12,
                                                                 np.random.RandomState(0)))
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    theirs = sklearn_cluster.kmeans_plusplus(X, 12, sample_weight=w, random_state=0)[1]
    np.testing.assert_array_equal(fused, theirs)


def test_a_small_sparse_fit_imports_no_numba():
    """A fit whose passes have fewer than ``MIN_SCORES`` products of a stored value and a
    centre takes NumPy's path: Numba's import and load would cost more than the fit."""
    import subprocess
    import sys

    code = ("import sys, scipy.sparse as sp, anykmeans\n"
            "X = sp.random(200, 30, density=0.2, format='csr', random_state=0)\n"
            "anykmeans.KMeans(3, random_state=0, n_init=1).fit(X)\n"
            "anykmeans.MiniBatchKMeans(3, random_state=0, n_init=1).fit(X)\n"
            "sys.exit('numba' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
