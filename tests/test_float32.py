"""float32 gives NumPy's labels and n_iter on every backend: close calls are decided exactly.

Each library rounds its float32 matrix product its own way, so a row whose two
best scores are within that rounding would go to different centres on different
libraries; such rows are decided from squared distances computed far more
precisely (float64, or two float32 values where a device has no float64), the
same on every library and in Numba's fused loop. Means and cluster sums are
accumulated in float64 (compensated without it), so the centres agree too.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import anykmeans
from anykmeans._exact import close_call_bound, exactly_nearest, sq_distances_by_differences
from anykmeans._kmeans_plusplus import kmeans_plusplus_indices
from anykmeans._libraries import PLAN_VARIABLE, _fused, _ops, library_of
from anykmeans._namespace import array_namespace
from anykmeans._primitives import TIE_ULPS, Data, assign, nearest
from tests.conftest import CASES, Case, host


def _float32_cases() -> list:
    """Every backend of the ``xp`` cases once, its data in float32."""
    seen, params = set(), []
    for param in CASES:
        case = param.values[0]
        if case.backend.name not in seen:
            seen.add(case.backend.name)
            float32 = Case(case.backend, "float32")
            params.append(pytest.param(float32, id=float32.id, marks=param.marks))
    return params


FLOAT32 = _float32_cases()

def near_a_common_point(n: int, k: int, d: int = 16, seed: int = 0):
    """Rows around ``k / 2`` points 1000 from the origin (not centred), and ``k`` centres: each
    point and a copy about a unit from it. Each row's two nearest centres are a pair whose
    squared distances differ by less than the rounding of its float32 scores (``|c|^2 -
    2 c.x``, about 3e7): every row is a close call, nearly none a tie."""
    rng = np.random.default_rng(seed)
    points = 1000 + rng.uniform(0, 100, size=(k // 2, d))
    centres = np.concatenate([points, points + rng.uniform(-1, 1, size=points.shape)])
    X = points[rng.integers(0, k // 2, n)] + rng.standard_normal((n, d))
    return X.astype(np.float32), centres.astype(np.float32)


def assert_exactly_nearest(labels, X, centres):
    """Each label is the nearest centre by float64 residuals of the float32 values, or tied
    with it (``exactly_nearest``'s slack, taken with the largest centre)."""
    x, c = X.astype(np.float64), centres.astype(np.float64)
    distances = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    least = distances.min(axis=1)
    slack = (TIE_ULPS * np.finfo(np.float32).eps * np.sqrt(least)
             * (np.sqrt((x * x).sum(1)) + np.sqrt((c * c).sum(1).max())))
    assert np.all(distances[np.arange(len(X)), labels] <= least + slack)
    clear = np.sort(distances, axis=1)[:, 1] > least + slack
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(labels[clear], distances.argmin(axis=1)[clear])


def groups_of_blobs(n: int = 20_000, d: int = 16, k: int = 32, far: float = 600):
    """Overlapping blobs (std 2, centres in a box of 20) in four groups ``far`` apart, float32:
    scores about 1e7 whose rounding is near the gaps between neighbouring blobs."""
    rng = np.random.default_rng(0)
    groups = rng.choice([-far, far], size=(4, d))
    centres = groups[rng.integers(0, 4, k)] + rng.uniform(-10, 10, (k, d))
    return (centres[rng.integers(0, k, n)] + 2 * rng.standard_normal((n, d))).astype(np.float32)


@pytest.mark.parametrize("case", FLOAT32, ids=lambda c: c.id)
def test_close_calls_go_to_the_exactly_nearest_centre(case):
    X, centres = near_a_common_point(3000, 40)
    x, c = case.asarray(X), case.asarray(centres)
    xp, library = array_namespace(x), library_of(x)
    labels, _ = nearest(xp, x, library.sq_norms(xp, x), c, library.sq_norms(xp, c), library)
    labels = host(labels)
    assert_exactly_nearest(labels, X, centres)
    reference, _ = nearest(np, X, np.einsum("ij,ij->i", X, X), centres,
                           np.einsum("ij,ij->i", centres, centres))
    np.testing.assert_array_equal(labels, reference)


def test_the_fused_loop_decides_close_calls_as_nearest(monkeypatch):
    if _fused.compiled_kernel() is None:
        pytest.skip("Numba is not installed (pip install numba)")
    monkeypatch.setattr(_fused, "MIN_SCORES", 0)
    X, centres = near_a_common_point(3000, 40)
    data = Data(X, np.zeros(X.shape[1], dtype=np.float32), chunk_size=1000)
    labels = assign(data, centres, update=True).labels
    assert_exactly_nearest(labels, X, centres)
    standard, _ = nearest(np, X, np.einsum("ij,ij->i", X, X), centres,
                          np.einsum("ij,ij->i", centres, centres))
    np.testing.assert_array_equal(labels, standard)


def test_the_accelerator_plan_decides_close_calls_as_the_cpu_plan(monkeypatch):
    """Forced on torch CPU, the accelerator plan (fixed shapes: every row rechecked) gives
    NumPy's labels where every row is a close call, which torch's product alone decides
    otherwise on some rows."""
    torch = pytest.importorskip("torch")
    monkeypatch.setenv(PLAN_VARIABLE, "accelerator")
    X, centres = near_a_common_point(3000, 40)
    x, c = torch.asarray(X), torch.asarray(centres)
    xp, library = array_namespace(x), library_of(x)
    assert library.accelerator
    c_sq = library.sq_norms(xp, c)
    labels = host(nearest(xp, x, library.sq_norms(xp, x), c, c_sq, library)[0])
    assert_exactly_nearest(labels, X, centres)
    reference, _ = nearest(np, X, np.einsum("ij,ij->i", X, X), centres,
                           np.einsum("ij,ij->i", centres, centres))
    np.testing.assert_array_equal(labels, reference)
    by_product = host(xp.argmin(library.scores(xp, c, x, c_sq), axis=0))
    assert np.any(by_product != labels)


def test_the_accelerator_plan_gives_numpys_lloyd_run(monkeypatch):
    """Forced on torch CPU, the accelerator plan gives NumPy's labels and n_iter on float32
    blobs from the same centres, where hundreds of rows are close calls at the end (their
    two nearest centres within the rounding a float32 product may make)."""
    torch = pytest.importorskip("torch")
    X = groups_of_blobs(5000)
    init = X[np.random.default_rng(5).choice(len(X), 32, replace=False)]
    expected = anykmeans.KMeans(32, init=init, n_init=1).fit(X)
    mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)  # the frame a fit computes in
    x, c = X - mean, expected.cluster_centers_ - mean
    distances = np.sort(((x[:, None, :].astype(np.float64) - c[None, :, :]) ** 2).sum(2), axis=1)
    bound = close_call_bound(np, np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", c, c),
                             x.shape[1])
    assert np.sum(distances[:, 1] - distances[:, 0] < bound) > 100
    monkeypatch.setenv(PLAN_VARIABLE, "accelerator")
    model = anykmeans.KMeans(32, init=torch.asarray(init), n_init=1).fit(torch.asarray(X))
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)
    assert model.n_iter_ == expected.n_iter_


def test_ties_without_float64_are_float64s(without_float64):
    """Rows whose two candidates' distances differ by about the tie slack: tied or not as by
    float64 distances, where rounded float32 distances and threshold decide some otherwise."""
    rng = np.random.default_rng(6)
    n, d = 4000, 8
    centres = np.zeros((2, d), dtype=np.float32)
    centres[1, 0] = 0.5
    X = rng.uniform(-3, 3, (n, d)).astype(np.float32)
    X[:, 0] = 0.25  # equidistant: |x - c_1|^2 - |x - c_0|^2 = 0.25 - x_0
    x = X.astype(np.float64)
    slack = (TIE_ULPS * np.finfo(np.float32).eps * np.sqrt((x * x).sum(1))
             * (np.sqrt((x * x).sum(1)) + 0.5))
    X[:, 0] = (0.25 - slack * rng.uniform(0.98, 1.02, n) * rng.choice([-1, 1], n))
    x = X.astype(np.float64)
    distances = ((x[None, :, :] - centres[:, None, :].astype(np.float64)) ** 2).sum(axis=2)
    candidates = np.stack([np.zeros(n), np.ones(n)]).astype(np.int64)
    expected = exactly_nearest(library_of(X), np, X, centres, candidates, None, TIE_ULPS)
    rounded = distances.astype(np.float32)
    least = rounded.min(0)
    slack32 = (TIE_ULPS * np.finfo(np.float32).eps * np.sqrt(least)
               * (np.sqrt((X * X).sum(1)) + np.float32(0.5))).astype(np.float32)
    by_rounding = np.where(rounded[0] <= least + slack32, 0, 1)
    assert np.any(by_rounding != expected)
    got = exactly_nearest(library_of(without_float64(X)), array_namespace(without_float64(X)),
                          without_float64(X), without_float64(centres),
                          without_float64(candidates), None, TIE_ULPS)
    np.testing.assert_array_equal(host(got), expected)


@pytest.mark.parametrize("case", FLOAT32, ids=lambda c: c.id)
def test_sq_distances_by_differences_are_the_same_bits_everywhere(case):
    """Rows near their points, far from the origin (a float32 product's rounding, about
    3e7 here, dwarfs the distances), an odd number of features: within a few units in the
    last place of the distances themselves, and NumPy's bits."""
    X, centres = near_a_common_point(500, 6, d=13)
    x, c = case.asarray(X), case.asarray(centres)
    distances = host(sq_distances_by_differences(array_namespace(x), c, x))
    np.testing.assert_array_equal(distances,
                                  sq_distances_by_differences(np, centres, X))
    exact = ((X[None, :, :].astype(np.float64) - centres[:, None, :]) ** 2).sum(axis=2)
    assert distances.dtype == np.float32
    assert np.all(np.abs(distances - exact) <= (np.log2(13) + 2) * np.spacing(distances))


def test_float32_seeds_are_those_of_their_values_in_float64():
    """The seeding computes a float32 row's distances from exact products in float64: the
    seeds are those of the same values in float64, which a float32 product's rounding (near
    the gaps between neighbouring blobs here) would not give."""
    X = groups_of_blobs(5000)
    seeds = [kmeans_plusplus_indices(Data(x, np.zeros(x.shape[1], dtype=x.dtype),
                                          np.ones(len(x), dtype=x.dtype)),
                                     32, np.random.RandomState(0))
             for x in (X, X.astype(np.float64))]
    np.testing.assert_array_equal(*seeds)


@pytest.mark.parametrize("case", FLOAT32, ids=lambda c: c.id)
def test_same_seeds_as_numpy(case):
    """k-means++ in a fit's frame (centred on the data's mean) chooses NumPy's rows."""
    X = groups_of_blobs()
    mean, weights = X.mean(axis=0, dtype=np.float64).astype(np.float32), np.ones(len(X))

    def seeds(asarray) -> np.ndarray:
        data = Data(asarray(X), asarray(mean), asarray(weights))
        return host(kmeans_plusplus_indices(data, 32, np.random.RandomState(0)))

    np.testing.assert_array_equal(seeds(case.asarray), seeds(np.float32))


@pytest.fixture(scope="module")
def numpy_fit():
    """The reference: NumPy, float32, Numba's fused loop where installed."""
    return anykmeans.KMeans(32, random_state=0).fit(groups_of_blobs())


@pytest.mark.parametrize("case", FLOAT32, ids=lambda c: c.id)
def test_same_labels_and_n_iter_as_numpy(case, numpy_fit):
    model = anykmeans.KMeans(32, random_state=0).fit(case.asarray(groups_of_blobs()))
    np.testing.assert_array_equal(host(model.labels_), numpy_fit.labels_)
    assert model.n_iter_ == numpy_fit.n_iter_
    np.testing.assert_array_equal(host(model.cluster_centers_), numpy_fit.cluster_centers_)


@pytest.mark.parametrize("case", FLOAT32, ids=lambda c: c.id)
def test_same_lloyd_run_from_the_same_centres(case):
    X = groups_of_blobs()
    init = X[np.random.default_rng(5).choice(len(X), 32, replace=False)]
    expected = anykmeans.KMeans(32, init=init, n_init=1).fit(X)
    model = anykmeans.KMeans(32, init=case.asarray(init), n_init=1).fit(case.asarray(X))
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)
    assert model.n_iter_ == expected.n_iter_


def test_numpy_without_numba_same_as_with_it(numpy_fit, monkeypatch):
    monkeypatch.setattr(_fused, "compiled_kernel", lambda: None)
    model = anykmeans.KMeans(32, random_state=0).fit(groups_of_blobs())
    np.testing.assert_array_equal(model.labels_, numpy_fit.labels_)
    assert model.n_iter_ == numpy_fit.n_iter_


@pytest.mark.slow
def test_jax_without_x64_same_as_numpy(numpy_fit):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    enabled = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        model = anykmeans.KMeans(32, random_state=0).fit(jnp.asarray(groups_of_blobs()))
        labels, n_iter = np.asarray(model.labels_), model.n_iter_
        centres = np.asarray(model.cluster_centers_)
    finally:
        jax.config.update("jax_enable_x64", enabled)
    np.testing.assert_array_equal(labels, numpy_fit.labels_)
    assert n_iter == numpy_fit.n_iter_
    np.testing.assert_array_equal(centres, numpy_fit.cluster_centers_)


@pytest.fixture(params=["array_api_strict:no_float64",
                        pytest.param("jax:x64-off", marks=pytest.mark.slow)])
def without_float64(request):
    """A library and device without float64: its ``asarray`` of NumPy arrays (JAX with
    ``jax_enable_x64`` off while the test runs)."""
    if request.param.startswith("jax"):
        jax = pytest.importorskip("jax")
        enabled = jax.config.jax_enable_x64
        jax.config.update("jax_enable_x64", False)
        try:
            yield jax.numpy.asarray
        finally:
            jax.config.update("jax_enable_x64", enabled)
    else:
        xps = pytest.importorskip("array_api_strict")
        yield lambda a: xps.asarray(a, device=xps.Device("no_float64"))


def spread_rows(n: int, d: int, seed: int = 3) -> np.ndarray:
    """float32 rows of magnitudes from 1e-3 to 1e4 about an offset: sums of a few thousand
    of them in float32 round otherwise than in float64."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(-3, 4, size=(n, 1))
    return (rng.standard_normal((n, d)) * scale + rng.uniform(-50, 50, d)).astype(np.float32)


def test_cluster_sums_without_float64_are_numpys(without_float64):
    """A pass's cluster sums and weight sums on a device without float64 (in chunks, under
    JAX's compiler) are NumPy's float64 sums rounded once, where float32 sums are not."""
    asarray = without_float64
    X = spread_rows(5003, 9)
    rng = np.random.default_rng(4)
    weights = rng.uniform(0.5, 2.0, len(X)).astype(np.float32)
    centres = X[rng.choice(len(X), 6, replace=False)]
    step = assign(Data(asarray(X), asarray(np.zeros(9, dtype=np.float32)), asarray(weights),
                       chunk_size=1700), asarray(centres), update=True)
    labels = host(step.labels)
    weighted = X * weights[:, None]  # the pass's rows, weighted in float32

    def sums(values: np.ndarray, dtype) -> np.ndarray:
        out = np.zeros((6, *values.shape[1:]), dtype=dtype)
        np.add.at(out, labels, values.astype(dtype))
        return out.astype(np.float32)

    expected = sums(weighted, np.float64), sums(weights, np.float64)
    for got, wanted, plain in zip((step.sums, step.weight_sums), expected,
                                  (sums(weighted, np.float32), sums(weights, np.float32)),
                                  strict=True):
        np.testing.assert_array_equal(host(got), wanted)
        assert np.any(plain != wanted)


def test_weighted_random_seeding_without_float64_is_numpys_and_warns_nothing(without_float64):
    """Random seeding with weights counts the positive weights in the device's index dtype:
    JAX without x64 has no int64 (asking for it warns) and gives NumPy's fit."""
    X = groups_of_blobs(3000, 4, 8)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(X)).astype(np.float32)
    expected = anykmeans.KMeans(8, init="random", random_state=0).fit(X, sample_weight=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = anykmeans.KMeans(8, init="random", random_state=0).fit(
            without_float64(X), sample_weight=without_float64(weights))
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)
    assert model.n_iter_ == expected.n_iter_


def test_feature_means_without_float64_are_numpys(without_float64, monkeypatch):
    """The centring offset on a device without float64 is NumPy's float64 mean rounded once
    (over more rows than one of its pairwise sums takes), where float32's mean is not."""
    monkeypatch.setattr(_ops, "MEAN_ROWS", 4096)
    X = spread_rows(3 * 4096 + 1001, 5)
    x = without_float64(X)
    means = host(library_of(x).feature_means(array_namespace(x), x))
    expected = (X.sum(axis=0, dtype=np.float64) / len(X)).astype(np.float32)
    np.testing.assert_array_equal(means, expected)
    assert np.any(X.mean(axis=0) != expected)


def test_float64_support_follows_jax_x64():
    """Turning ``jax_enable_x64`` off after a fit with it on must not leave the recheck asking
    JAX for float64 (which JAX then truncates to float32, silently)."""
    jax = pytest.importorskip("jax")
    from anykmeans._libraries import has_float64

    xp, enabled = array_namespace(jax.numpy.zeros(1)), jax.config.jax_enable_x64
    try:
        answers = []
        for x64 in (True, False, True):
            jax.config.update("jax_enable_x64", x64)
            answers.append(has_float64(xp, jax.devices()[0]))
    finally:
        jax.config.update("jax_enable_x64", enabled)
    assert answers == [True, False, True]
