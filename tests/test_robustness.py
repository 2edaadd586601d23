"""Awkward numbers, degenerate shapes, exact ties, determinism, interrupted fits: every backend.

Expectations come from exact arithmetic (small integers), brute-force NumPy
references, scikit-learn's own warning, or a run of the same fit that nothing
disturbed.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import warnings

import numpy as np
import pytest

import anykmeans
from anykmeans._namespace import array_namespace
from anykmeans._primitives import nearest, tie_group_size
from tests.conftest import host
from tests.data import blobs


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labellings group the samples alike, whatever the cluster names."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_same_partition_helper():
    assert same_partition(np.array([0, 0, 1, 2]), np.array([2, 2, 0, 1]))
    assert not same_partition(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert not same_partition(np.array([0, 1, 1]), np.array([0, 1, 2]))


#: Most tests fit data of this shape (and 4 clusters): JAX compiles once per shape.
N_SAMPLES, N_FEATURES = 80, 3


def separated_blobs(n_samples: int = N_SAMPLES, seed: int = 3) -> np.ndarray:
    """Four unit-variance blobs whose centres are 20 apart: one obvious partition."""
    rng = np.random.default_rng(seed)
    centres = 20.0 * np.eye(4, 3)  # (20,0,0), (0,20,0), (0,0,20), (0,0,0)
    return centres[np.arange(n_samples) % 4] + rng.standard_normal((n_samples, 3))


def fit_labels(X, **params) -> np.ndarray:
    model = anykmeans.KMeans(4, random_state=0, **params).fit(X)
    assert np.all(np.isfinite(host(model.cluster_centers_))) and np.isfinite(model.inertia_)
    return host(model.labels_)


# -- precision ------------------------------------------------------------------------------

def test_float32_far_from_origin(xp):
    """float32 data offset by 1e4..1e6 is partitioned as the centred data is.

    The data is rounded to float32 *after* the offset: at 1e6 its resolution
    is 1/16, still fine against unit-variance blobs. (At 1e7 the input rounding
    itself, 1.0, moves points across boundaries: no algorithm can undo that.)
    """
    X = separated_blobs()
    centred = fit_labels(xp.backend.asarray(X.astype(np.float32)))
    assert same_partition(centred, np.arange(X.shape[0]) % 4)
    for offset in (1e4, 1e6):
        far = fit_labels(xp.backend.asarray((X + offset).astype(np.float32)))
        assert same_partition(far, centred), f"offset {offset:g} changed the partition"


def limits(dtype: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Scales near the dtype's limits that must work, and beyond them that may be refused.

    1e150 and 1e-150 sit 1e4 inside float64's square-root range (1.3e154 and
    1.5e-154, the magnitudes whose squares reach the largest and the smallest
    normal float64); 1e15 and 1e-15 are float32's analogues (1.8e19, 1.1e-19).
    """
    if dtype == "float64":
        return (1e150, 1e-150), (1e200, 1e-300)
    return (1e15, 1e-15), (1e19, 1e-30)


def test_values_near_the_float_limits(xp):
    """Near the limits: finite results, the unscaled partition; beyond: finite or a clear error."""
    X = separated_blobs()
    X = X / np.abs(X).max()
    expected = fit_labels(xp.asarray(X))
    near, beyond = limits(xp.dtype)
    for scale in near:
        Xs = xp.asarray(X * scale)
        model = anykmeans.KMeans(4, random_state=0).fit(Xs)
        assert np.all(np.isfinite(host(model.cluster_centers_))) and np.isfinite(model.inertia_)
        assert same_partition(host(model.labels_), expected), f"scale {scale:g}"
        assert np.all(np.isfinite(host(model.transform(Xs))))
        assert np.isfinite(model.score(Xs))
    for scale in beyond:
        Xs = xp.asarray(X * scale)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", anykmeans.ConvergenceWarning)
                model = anykmeans.KMeans(4, random_state=0).fit(Xs)
        except ValueError as error:
            assert "Rescale X" in str(error), str(error)
            continue
        assert np.all(np.isfinite(host(model.cluster_centers_))), f"scale {scale:g}"
        assert np.isfinite(model.inertia_), f"scale {scale:g}"
        assert np.all(np.isfinite(host(model.transform(Xs)))), f"scale {scale:g}"


def test_nearest_labels_rows_with_nan_scores_in_range(xp):
    """A row whose scores are NaN gets a label below ``n_clusters``, the others their nearest.

    Validation keeps NaN out of the fit; ``nearest`` must not return the
    label ``n_clusters`` (an index past the centres) when it gets one anyway.
    130 centres take the grouped tie test (groups of 4, the last padded);
    not on Dask arrays, which lack ``take_along_axis`` (a fit runs ``nearest``
    on each block, an array of the library the blocks are in).
    """
    rng = np.random.default_rng(2)
    rows = rng.standard_normal((6, 3))
    rows[[1, 4]] = np.nan
    for n_clusters in (3,) if xp.backend.library == "dask" else (3, 130):
        assert (tie_group_size(n_clusters) > 1) == (n_clusters == 130)
        centres = rng.standard_normal((n_clusters, 3))
        x, c = xp.asarray(rows), xp.asarray(centres)
        ns = array_namespace(x)
        labels, _ = nearest(ns, x, ns.sum(x * x, axis=1), c, ns.sum(c * c, axis=1))
        labels = host(labels)
        assert np.all((labels >= 0) & (labels < n_clusters)), labels
        finite = [0, 2, 3, 5]
        expected = ((rows[finite, None] - centres[None]) ** 2).sum(2).argmin(1)
        np.testing.assert_array_equal(labels[finite], expected)


# -- degenerate data ------------------------------------------------------------------------

FOUR_POINTS = np.array([[0.0, 1.0], [3.0, 1.0], [0.0, 5.0], [2.0, 2.0]])
DEGENERATE = {
    # name: (X, n_clusters); mostly 12 x 2, as JAX compiles once per shape
    "duplicates": (np.repeat(FOUR_POINTS, 3, axis=0), 3),
    "fewer distinct than k": (np.repeat(FOUR_POINTS[:3], 4, axis=0), 5),
    "constant": (np.full((12, 2), 7.0), 3),
    "k = n": (np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [5.0, 5.0], [-1.0, 3.0]]), 5),
    "k = 1": (blobs(12, 2, 2, seed=4), 1),
    "n = 1": (np.array([[1.5, -2.0]]), 1),
    "d = 1": (np.array([[0.0], [0.5], [1.0], [10.0], [10.5], [30.0], [31.0]]), 3),
}


def sklearn_warnings(X: np.ndarray, n_clusters: int) -> list[str]:
    """The ConvergenceWarning messages scikit-learn's KMeans gives on this data."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        KMeans(n_clusters, random_state=0).fit(X)
    return [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_data(name):
    """NumPy: finite results, means and inertia by brute force, scikit-learn's warning exactly."""
    X, n_clusters = DEGENERATE[name]
    check_degenerate(lambda a: a, X, n_clusters, sklearn_warnings(X, n_clusters))


def test_degenerate_data_every_backend(xp):
    for name in sorted(DEGENERATE):
        X, n_clusters = DEGENERATE[name]
        expected = None if xp.backend.library != "numpy" else sklearn_warnings(X, n_clusters)
        check_degenerate(xp.asarray, X, n_clusters, expected)


def check_degenerate(asarray, X: np.ndarray, n_clusters: int, expected_warnings) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = anykmeans.KMeans(n_clusters, random_state=0).fit(asarray(X))
    messages = [str(w.message) for w in caught
                if issubclass(w.category, anykmeans.ConvergenceWarning)]
    if expected_warnings is not None:
        assert messages == expected_warnings
    centres = host(model.cluster_centers_).astype(np.float64)
    labels = host(model.labels_)
    assert centres.shape == (n_clusters, X.shape[1])
    assert np.all(np.isfinite(centres)) and np.isfinite(model.inertia_)
    assert np.all((labels >= 0) & (labels < n_clusters))
    for j in np.unique(labels):
        np.testing.assert_allclose(centres[j], X[labels == j].mean(axis=0), rtol=1e-6, atol=1e-6)
    inertia = ((X - centres[labels]) ** 2).sum()
    assert model.inertia_ == pytest.approx(inertia, rel=1e-5, abs=1e-9)
    n_distinct = np.unique(X, axis=0).shape[0]
    if n_distinct < n_clusters:
        assert model.inertia_ == pytest.approx(0.0, abs=1e-9)
        assert messages == [f"Number of distinct clusters ({n_distinct}) found smaller than "
                            f"n_clusters ({n_clusters}). Possibly due to duplicate points in X."]


def test_fewer_distinct_points_than_clusters_as_scikit_learn():
    """Parity, not consistency: with fewer distinct points than clusters, scikit-learn's answer.

    Lloyd's loop stops when the labels repeat; the update that preceded the
    stop gave the clusters left empty a copy of another centre, so
    ``labels_`` name centres that are no longer the nearest, and ``predict``
    on the training data differs from ``labels_``. scikit-learn 1.9's model
    contradicts itself the same way, and anykmeans returns the same labels,
    centres and inertia (docs/guarantees.md).
    """
    from sklearn.cluster import KMeans

    X = np.array([[-7.6], [-10.4], [-10.4], [7.7], [-7.6], [7.7], [7.7], [7.7], [-10.4],
                  [-10.4], [-10.4], [-7.6]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", anykmeans.ConvergenceWarning)
        ours = anykmeans.KMeans(6, random_state=0).fit(X)
        theirs = KMeans(6, random_state=0).fit(X)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-12)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-12)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert not np.array_equal(ours.predict(X), ours.labels_)


# -- exact ties -----------------------------------------------------------------------------

#: Corners of a square (the clusters) and, with weight zero, points equidistant
#: from two or four of them, all small integers: distances are exact.
CORNERS = np.array([[2.0, 2.0], [0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
TIED = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [2.0, 1.0], [1.0, 2.0], [1.0, -5.0]])


def test_ties_go_to_the_lower_cluster_index(xp):
    """Equidistant centres: the lowest index wins, in ``labels_`` and ``predict``, in any order.

    Scaled and moved away from the origin, the centred distances are no
    longer exact; ties must still be recognised as ties.
    """
    grid = np.stack(np.meshgrid(np.arange(-1.0, 4.0), np.arange(-1.0, 4.0)), -1).reshape(-1, 2)
    for order, scale, offset in [([0, 1, 2, 3], 1.0, 0.0), ([3, 2, 1, 0], 1000.0, 0.0),
                                 ([1, 3, 0, 2], 0.5, 1000.0)]:
        corners = CORNERS[order]
        X = np.concatenate([corners, TIED]) * scale + offset
        weights = np.r_[np.ones(4), np.zeros(len(TIED))]
        model = anykmeans.KMeans(4, init=xp.asarray(corners * scale + offset)).fit(
            xp.asarray(X), sample_weight=xp.asarray(weights))
        np.testing.assert_array_equal(host(model.cluster_centers_), corners * scale + offset)
        queries = np.concatenate([TIED, grid]) * scale + offset
        # Exact integer distances (before scaling): argmin returns the first of equals.
        expected = ((np.concatenate([TIED, grid])[:, None] - corners[None]) ** 2).sum(2).argmin(1)
        np.testing.assert_array_equal(host(model.labels_)[4:], expected[:len(TIED)])
        np.testing.assert_array_equal(host(model.predict(xp.asarray(queries))), expected)


# -- determinism ----------------------------------------------------------------------------

def fitted_state(model) -> dict:
    """Every fitted attribute, arrays brought to NumPy."""
    return {name: host(value) if hasattr(value, "shape") else value
            for name, value in vars(model).items() if name.endswith("_")}


def same_state(a: dict, b: dict) -> bool:
    """Whether two :func:`fitted_state` hold the same attributes with equal values."""
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k] for k in a)


def assert_identical_states(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if isinstance(a[name], np.ndarray):
            assert a[name].dtype == b[name].dtype and a[name].tobytes() == b[name].tobytes(), name
        else:
            assert a[name] == b[name], name


def test_same_seed_bit_identical(xp):
    """The estimator (k-means++) and the functional core (random, 2 restarts), each run twice."""
    X = xp.asarray(blobs(N_SAMPLES, N_FEATURES, 4, seed=7))
    states = [fitted_state(anykmeans.KMeans(4, random_state=11).fit(X)) for _ in range(2)]
    assert_identical_states(*states)
    results = [anykmeans.kmeans(X, 4, init="random", n_init=2, random_state=11) for _ in range(2)]
    for a, b in zip(*(map(host, (r.centers, r.labels)) for r in results), strict=True):
        assert a.tobytes() == b.tobytes()
    assert results[0].inertia_histories == results[1].inertia_histories


def test_thread_count_does_not_change_labels(xp):
    """One or two threads: for BLAS, for anykmeans' own chunk pool, for Dask's scheduler.

    JAX is left out: XLA sizes its thread pool once, from ``XLA_FLAGS`` at start-up.
    """
    if xp.backend.library == "jax":
        pytest.skip("XLA's thread count is fixed when JAX starts")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X = xp.asarray(blobs(1000, 8, 8, seed=8))
    params = dict(n_clusters=8, random_state=1, chunk_size=200, max_iter=4)
    if xp.backend.library == "dask":  # k-means++ computes a small graph per seed: slow, and
        params.update(init="random", n_init=1)  # the same kernels as the Lloyd steps
    fits = []
    has_affinity = hasattr(os, "sched_getaffinity")
    cores = os.sched_getaffinity(0) if has_affinity else None
    for threads in (1, 2):
        try:
            if has_affinity and len(cores) >= 2:  # the pool sizes itself from the usable cores
                os.sched_setaffinity(0, sorted(cores)[:threads])
            with threadpoolctl.threadpool_limits(limits=threads), dask_workers(xp, threads):
                fits.append(anykmeans.KMeans(**params).fit(X))
        finally:
            if has_affinity:
                os.sched_setaffinity(0, cores)
    one, two = fits
    np.testing.assert_array_equal(host(one.labels_), host(two.labels_))
    assert one.n_iter_ == two.n_iter_
    np.testing.assert_allclose(host(one.cluster_centers_), host(two.cluster_centers_),
                               rtol=xp.rtol, atol=xp.rtol)


def dask_workers(xp, n: int):
    """Dask's threaded scheduler with ``n`` workers, for a Dask case; else nothing."""
    if xp.backend.library != "dask":
        return contextlib.nullcontext()
    import dask

    return dask.config.set(scheduler="threads", num_workers=n)


# -- interrupted fits -----------------------------------------------------------------------

def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


class RaisesOnRead:
    """An array-like whose every read raises KeyboardInterrupt (a user pressing Ctrl-C)."""

    def __array__(self, *args, **kwargs):
        raise KeyboardInterrupt

    def __len__(self):
        raise KeyboardInterrupt


def interrupted_fits(X):
    """Fits interrupted at different stages: seeding, a sample-weight read, a later restart."""
    yield lambda model: model.set_params(init=interrupt).fit(X)
    yield lambda model: model.fit(X, sample_weight=RaisesOnRead())
    yield lambda model: model.set_params(init="random", n_init=3).fit(
        X, on_iteration=lambda restart, iteration, inertia: restart == 1 and interrupt())


def test_interrupted_fit_leaves_a_fresh_estimator_unfitted(xp):
    X = xp.asarray(blobs(N_SAMPLES, N_FEATURES, 4, seed=1))
    for fit in interrupted_fits(X):
        model = anykmeans.KMeans(4, random_state=0)
        with pytest.raises(KeyboardInterrupt):
            fit(model)
        assert not [name for name in vars(model) if name.endswith("_")]
        with pytest.raises(anykmeans.NotFittedError):
            model.predict(X)


def test_interrupted_refit_keeps_the_previous_fit(xp):
    X = xp.asarray(blobs(N_SAMPLES, N_FEATURES, 4, seed=1))
    fitted = anykmeans.KMeans(4, random_state=0).fit(
        xp.asarray(blobs(N_SAMPLES, N_FEATURES, 4, seed=2)))
    for fit in interrupted_fits(X):
        model = copy.copy(fitted)  # the same attribute objects, in a fresh __dict__
        before = dict(vars(model))
        with pytest.raises(KeyboardInterrupt):
            fit(model)
        after = {name: value for name, value in vars(model).items() if name.endswith("_")}
        # The very same objects: nothing rewritten, not even with equal values.
        assert after.keys() == {n for n in before if n.endswith("_")}
        assert all(after[name] is before[name] for name in after)


ESTIMATORS = ["KMeans", "MiniBatchKMeans"]


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_interrupt_at_every_line_of_fit(estimator):
    """An interrupt at any line of the estimator's own code leaves it old or new, never mixed.

    A trace function raises KeyboardInterrupt at the N-th line executed in the
    estimator's methods (its class's and its base classes' in anykmeans), for
    every N until a fit completes: the fitted attributes must then equal those
    of the previous fit or those of an undisturbed new fit, all of them.
    """
    cls = getattr(anykmeans, estimator)
    classes = {c.__name__ for c in cls.__mro__ if c.__module__.startswith("anykmeans")}
    old_X, new_X = blobs(60, 3, 3, seed=2), blobs(90, 3, 4, seed=3)
    params = dict(n_clusters=4, random_state=0)
    old = fitted_state(cls(**params).fit(old_X))
    new = fitted_state(cls(**params).fit(new_X))

    for n in range(1, 10_000):
        model = cls(**params).fit(old_X)
        seen = [0]

        def tracer(frame, event, arg, n=n, seen=seen):
            if frame.f_code.co_qualname.split(".")[0] not in classes:
                return None
            if event == "line":
                seen[0] += 1
                if seen[0] == n:
                    raise KeyboardInterrupt
            return tracer

        sys.settrace(tracer)
        try:
            model.fit(new_X)
            completed = True
        except KeyboardInterrupt:
            completed = False
        finally:
            sys.settrace(None)
        state = fitted_state(model)
        if not same_state(state, old):
            assert same_state(state, new), f"half-written by an interrupt at line event {n}"
        if completed:
            break
    assert n > 3, "the trace never reached the estimator's code"
