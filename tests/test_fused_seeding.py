"""NumPy's fused k-means++ step (anykmeans._libraries._fused_seeding) gives the standard
path's seeds.

Whole seedings are run by both paths (tiles smaller than a search block and
not dividing it, several chunks, weights, both dtypes, centred and not) and
must choose the same rows; one step's distances and sums are compared to
rounding; the compiled loop is checked against its Python source; float64
seeds taken by the fused path are scikit-learn's.
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from anykmeans._kmeans_plusplus import (
    closest_distances,
    find_candidates,
    kmeans_plusplus_indices,
    lower_pass,
    start_pass,
)
from anykmeans._libraries import _fused, _fused_seeding, library_of
from anykmeans._primitives import Data
from tests.conftest import kernel_calls
from tests.data import blobs


@pytest.fixture
def compiled(monkeypatch):
    """The compiled loop, used however small the seeding; skips without Numba."""
    kernel = _fused_seeding.compiled_kernel()
    if kernel is None:
        pytest.skip("Numba is not installed (pip install numba)")
    monkeypatch.setattr(_fused_seeding, "MIN_DISTANCES", 0)
    return kernel


def seeds_both_ways(monkeypatch, kernel, data, k, **options):
    """The seeds by the fused path (tiles of 37 rows, search blocks of 50) and by the
    standard path, and the number of the fused loop's calls."""
    with monkeypatch.context() as m:
        m.setattr(_fused, "TILE_BYTES", 1)
        m.setattr(_fused, "MIN_TILE_ROWS", 37)
        m.setattr("anykmeans._kmeans_plusplus.SEARCH_ROWS", 50)
        calls = kernel_calls(m, _fused_seeding, kernel)
        fused = kmeans_plusplus_indices(data, k, np.random.RandomState(0), **options)
    with monkeypatch.context() as m:
        m.setattr("anykmeans._kmeans_plusplus.SEARCH_ROWS", 50)
        m.setattr(_fused_seeding, "compiled_kernel", lambda: None)
        standard = kmeans_plusplus_indices(data, k, np.random.RandomState(0), **options)
    return fused, standard, len(calls)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("centred", [False, True])
def test_fused_seeding_equals_the_standard_seeding(compiled, monkeypatch, dtype, weighted,
                                                   centred):
    X = (blobs(1_000, 6, 12, seed=1) + 50.0).astype(dtype)
    w = (np.random.default_rng(1).uniform(0.5, 2.0, 1_000) if weighted
         else np.ones(1_000)).astype(dtype)
    mean = X.mean(axis=0) if centred else np.zeros(6, dtype=dtype)
    data = Data(X, mean, w, chunk_size=300)
    fused, standard, calls = seeds_both_ways(monkeypatch, compiled, data, 40)
    assert calls >= 39 * 4  # every step, every chunk, several tiles
    np.testing.assert_array_equal(fused, standard)


def test_one_fused_step_equals_the_standard_step(compiled, monkeypatch):
    monkeypatch.setattr("anykmeans._kmeans_plusplus.SEARCH_ROWS", 100)
    X = blobs(700, 5, 6, seed=2)
    data = Data(X, X.mean(axis=0), np.random.default_rng(2).uniform(0.5, 2.0, 700),
                chunk_size=200)
    dtype, trials, n_rows = np.float64, 4, slice(0, 700)
    state, potential = start_pass(data, n_rows, None, X[:1], trials, dtype, None)
    selected = closest_distances(data, state, None)
    targets = np.random.default_rng(3).uniform(size=trials) * potential
    state, _ = lower_pass(data, n_rows, state, selected,
                          find_candidates(data, selected, targets, None), 2)
    # The second step: the first step's second candidate still to be applied.
    selected = closest_distances(data, state, np.array([1]))
    found = find_candidates(data, selected, targets / 2, None)
    with monkeypatch.context() as m:
        m.setattr(_fused, "TILE_BYTES", 1)
        m.setattr(_fused, "MIN_TILE_ROWS", 90)
        calls = kernel_calls(m, _fused_seeding, compiled)
        fused, fused_potentials = lower_pass(data, n_rows, state, selected, found, 2)
    assert len(calls) == 11  # chunks of 200 rows (the last 100), tiles of 90
    with monkeypatch.context() as m:
        m.setattr(_fused_seeding, "compiled_kernel", lambda: None)
        standard, standard_potentials = lower_pass(data, n_rows, state, selected, found, 2)
    np.testing.assert_allclose(fused.closest, standard.closest, rtol=1e-13)
    np.testing.assert_allclose(fused.block_sums, standard.block_sums, rtol=1e-12)
    np.testing.assert_allclose(fused_potentials, standard_potentials, rtol=1e-12)


def test_float64_seeds_of_the_fused_path_are_scikit_learns(monkeypatch):
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    kernel = _fused_seeding.compiled_kernel()
    if kernel is None:
        pytest.skip("Numba is not installed (pip install numba)")
    calls = kernel_calls(monkeypatch, _fused_seeding, kernel)
    X = np.random.default_rng(4).standard_normal((30_000, 8))
    # 30 000 rows x 7 points x 99 steps: over MIN_DISTANCES, the fused path without help.
    ours = anykmeans.kmeans_plusplus(X, 100, random_state=0)[1]
    theirs = sklearn_cluster.kmeans_plusplus(X, 100, random_state=0)[1]
    assert calls
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_on_the_cpu_runs_the_fused_step_on_views(compiled, monkeypatch, dtype):
    torch = pytest.importorskip("torch")
    X = blobs(1_000, 5, 9, seed=6).astype(dtype)
    calls = kernel_calls(monkeypatch, _fused_seeding, compiled)
    centres, indices = anykmeans.kmeans_plusplus(torch.asarray(X), 30, random_state=0)
    assert len(calls) >= 29, "the fused loop did not run"
    assert isinstance(indices, torch.Tensor) and isinstance(centres, torch.Tensor)
    monkeypatch.setattr(_fused_seeding, "compiled_kernel", lambda: None)
    np.testing.assert_array_equal(indices.numpy(),
                                  anykmeans.kmeans_plusplus(X, 30, random_state=0)[1])


def test_the_fused_step_is_the_numpy_cpu_plans_only(monkeypatch):
    monkeypatch.setattr(_fused_seeding, "compiled_kernel", lambda: _fused_seeding.lower_and_sum)
    X = np.zeros((10, 2), dtype=np.float32)
    data = Data(X, X.mean(axis=0))
    v = np.zeros(10)
    numpy = library_of(X)

    def step(points, n_steps, closest=v):
        return numpy.fused_lowering(data, points, v[:2], v, v, closest, True, 4, n_steps)

    # Small seedings: the standard path (compiling would take longer than the seeding).
    assert step(X[:2], 10) is None
    assert step(X[:2], _fused_seeding.MIN_DISTANCES // 20 + 1) is not None
    # Points of another dtype, distances of X's own (a device without float64): standard.
    assert step(X[:2].astype(np.float64), 2**40) is None
    assert step(X[:2], 2**40, closest=v.astype(np.float32)) is None
    monkeypatch.setattr(_fused_seeding, "compiled_kernel", lambda: None)
    assert step(X[:2], 2**40) is None


def test_the_compiled_loop_equals_its_python_source(compiled):
    rng = np.random.default_rng(5)
    block = rng.standard_normal((300, 6)).astype(np.float32)
    norms, x_norms = rng.uniform(0, 2, 6), rng.uniform(0, 2, 300)
    weight, closest = rng.uniform(0.5, 2, 300), rng.uniform(0, 3, 300)
    results = []
    for kernel in (compiled, _fused_seeding.lower_and_sum):
        lowered, sums = np.empty(300), np.zeros((5, 4))
        kernel(block, norms, x_norms, weight, closest, True, 100, 60, lowered, sums)
        results.append((lowered, sums))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-14)
    # The pending seed lowered the distances, never raised them; the sums are of rows 60-359.
    assert np.all(results[1][0] <= closest) and np.any(results[1][0] < closest)
    assert np.all(results[1][1][:, 0] > 0) and np.all(results[1][1][:, 3] > 0)
