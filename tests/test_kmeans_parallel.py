"""k-means|| seeding: the device-side hash, the same candidates on every backend, and quality.

Quality follows Bahmani et al. (Scalable k-means++, VLDB 2012), "GaussMixture":
k = 50 centres drawn from a 15-d Gaussian of variance R, unit-variance points
around them, n = 10000. The optimal potential is about d = 15 per point.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import anykmeans
from anykmeans import _kmeans_parallel
from anykmeans._kmeans import resolve_n_init
from anykmeans._kmeans_parallel import kmeans_parallel_centres, uniform_hash
from anykmeans._namespace import array_namespace, device_of, has_float64
from anykmeans._primitives import Data
from tests.conftest import host
from tests.data import blobs, weights

ROOT = Path(__file__).resolve().parents[1]


def uniform_dtype(ns, device):
    return ns.float64 if has_float64(ns, device) else ns.float32


# -- the counter-based hash ---------------------------------------------------------------


def numpy_draws(seed, stream, index, dtype=np.float64):
    return uniform_hash(np, seed, stream, np.asarray(index, dtype=np.int64), dtype)


def test_hash_same_draws_on_every_backend(xp):
    index = np.arange(3000)
    ns = array_namespace(xp.asarray(np.zeros(1)))
    on_backend = xp.backend.asarray(index)
    dtype = uniform_dtype(ns, device_of(on_backend))
    draws = host(uniform_hash(ns, 2**32 - 5, 3, on_backend, dtype))
    expected = numpy_draws(2**32 - 5, 3, index, np.float64 if dtype == ns.float64 else np.float32)
    np.testing.assert_array_equal(draws, expected)
    assert draws.dtype == expected.dtype


def test_hash_in_uint32_equals_the_int64_one():
    """Devices without int64 (JAX without x64; array-api-strict's no_x64) hash in uint32."""
    xps = pytest.importorskip("array_api_strict")
    device = xps.Device("no_x64")
    index = xps.arange(5000, dtype=xps.int32, device=device)
    draws = uniform_hash(xps, 987654321, 1, index, xps.float32)
    np.testing.assert_array_equal(host(draws), numpy_draws(987654321, 1, np.arange(5000),
                                                           np.float32))


def test_jax_without_x64_gives_numpys_draws():
    """JAX's default (32-bit) mode, in a fresh interpreter since the tests enable x64."""
    pytest.importorskip("jax")
    code = (
        "import numpy as np, jax.numpy as jnp\n"
        "from anykmeans._kmeans_parallel import uniform_hash\n"
        "print(np.asarray(uniform_hash(jnp, 7, 2, jnp.arange(50), jnp.float32)).tolist())\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    draws = np.float32(eval(run.stdout))
    np.testing.assert_array_equal(draws, numpy_draws(7, 2, np.arange(50), np.float32))


def test_hash_uses_every_part_of_the_key():
    index = np.array([0, 1, 2, 2**32, 2**32 + 1, 2**40 + 2])
    draws = numpy_draws(11, 0, index)
    assert len(set(draws.tolist())) == index.size  # the high word matters too
    for other in (numpy_draws(12, 0, index), numpy_draws(11, 1, index)):
        assert not np.any(other == draws)


def test_hash_draws_look_uniform_and_independent():
    """1e5 draws: bin counts (chi-square), moments, and no correlation between
    neighbouring rows or between rounds. Fixed seeds: the check is deterministic;
    its bounds are those a true uniform source exceeds with probability ~1e-4."""
    n = 100_000
    index = np.arange(n)
    draws = numpy_draws(2024, 0, index)
    assert np.all((draws >= 0) & (draws < 1))
    counts = np.bincount((draws * 100).astype(int), minlength=100)
    chi_square = np.sum((counts - n / 100) ** 2 / (n / 100))
    assert chi_square < 150  # 99 degrees of freedom: P(chi2 > 150) ~ 6e-4
    sigma_mean = np.sqrt(1 / 12 / n)
    assert abs(draws.mean() - 0.5) < 4 * sigma_mean
    assert abs(draws.var() - 1 / 12) < 4 * np.sqrt(1 / 180 / n)
    next_round = numpy_draws(2024, 1, index)
    for a, b in [(draws[:-1], draws[1:]), (draws, next_round)]:
        assert abs(np.corrcoef(a, b)[0, 1]) < 4 / np.sqrt(n)


# -- the same seeding and fit on every backend ---------------------------------------------


def test_same_seeds_and_fit_on_every_backend(xp):
    """The seeds themselves, then the fit from them (JAX compiles each new shape once:
    the fit reuses the seeding's shapes)."""
    X, w = blobs(800, 4, 10, seed=6), weights(800, 6)
    params = dict(n_clusters=10, init="k-means||", oversampling_factor=1.5, init_max_iter=3)

    def fit(X, w, ns):
        mean = ns.mean(X, axis=0)
        seeds = kmeans_parallel_centres(Data(X, mean, w), 10, np.random.RandomState(3),
                                        oversampling_factor=1.5, n_rounds=3)
        return seeds + mean, anykmeans.KMeans(**params, random_state=3).fit(X, sample_weight=w)

    expected_seeds, expected = fit(X.astype(xp.dtype), w.astype(xp.dtype), np)
    seeds, model = fit(xp.asarray(X), xp.asarray(w), array_namespace(xp.asarray(X)))
    scale = np.abs(X).max()
    np.testing.assert_allclose(host(seeds), expected_seeds, rtol=xp.rtol, atol=xp.rtol * scale)
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)
    assert model.n_iter_ == expected.n_iter_
    np.testing.assert_allclose(host(model.cluster_centers_), expected.cluster_centers_,
                               rtol=xp.rtol, atol=xp.rtol * scale)
    assert model.inertia_ == pytest.approx(expected.inertia_, rel=xp.rtol)


# -- what k-means|| promises ---------------------------------------------------------------


@pytest.fixture
def host_traffic(monkeypatch):
    """Sizes of every host uniform draw and every device-to-host transfer during seeding."""
    sizes = {"uniforms": [], "to_host": []}

    def recording(function, key):
        def wrapper(*args):
            out = function(*args)
            sizes[key].append(int(np.asarray(out).size))
            return out
        return wrapper

    for module in ("_kmeans_parallel", "_kmeans_plusplus", "_random", "_lloyd"):
        target = getattr(anykmeans, module)
        for name, key in (("uniform", "uniforms"), ("to_host", "to_host")):
            if hasattr(target, name):
                monkeypatch.setattr(target, name, recording(getattr(target, name), key))
    return sizes


def test_no_n_sized_array_crosses_between_host_and_device(host_traffic):
    n = 50_000
    X = blobs(n, 3, 8, seed=2)
    anykmeans.KMeans(8, init="k-means||", max_iter=1, random_state=0).fit(X)
    assert host_traffic["uniforms"] and host_traffic["to_host"]
    assert max(host_traffic["uniforms"]) < n / 100
    # The candidates are reduced where they are: what crosses is the potential (one value a
    # round) and a Lloyd iteration's four numbers; the candidates (about 2 k rows a round,
    # whatever n is) went to the host for the reduction until it ran in X's library.
    assert max(host_traffic["to_host"]) <= 4


def test_zero_weight_rows_are_never_candidates():
    X = blobs(600, 3, 6, seed=3)
    X[:20] = 1e6  # far outliers, which k-means|| would surely pick if they weighed anything
    w = np.ones(600)
    w[:20] = 0.0
    for seed in range(3):
        centres = kmeans_parallel_centres(Data(X, X.mean(axis=0), w), 6,
                                          np.random.RandomState(seed)) + X.mean(axis=0)
        assert np.abs(centres).max() < 100


def test_fewer_distinct_rows_than_clusters():
    X = np.repeat(np.eye(3) * 5.0, 10, axis=0)
    with pytest.warns(anykmeans.ConvergenceWarning, match="distinct clusters"):
        model = anykmeans.KMeans(5, init="k-means||", random_state=0).fit(X)
    assert model.inertia_ == pytest.approx(0.0, abs=1e-20)
    np.testing.assert_allclose(np.unique(model.cluster_centers_.round(12), axis=0),
                               np.unique(X, axis=0))


def test_every_row_a_centre():
    X = blobs(40, 2, 4, seed=1)
    model = anykmeans.KMeans(40, init="k-means||", random_state=0).fit(X)
    assert model.inertia_ == pytest.approx(0.0, abs=1e-20)


def test_parameters_are_checked_and_n_init_auto_is_one():
    X = blobs(100, 2, 3)
    for name, value in [("oversampling_factor", 0), ("oversampling_factor", float("nan")),
                        ("init_max_iter", 0), ("init_max_iter", 2.5)]:
        with pytest.raises(ValueError, match=name):
            anykmeans.KMeans(3, init="k-means||", **{name: value}).fit(X)
    assert resolve_n_init("auto", "k-means||") == 1
    assert anykmeans.KMeans(init="k-means||", oversampling_factor=4).get_params()[
        "oversampling_factor"] == 4


def test_more_rounds_are_made_only_while_candidates_are_short(monkeypatch):
    rounds = []
    real = _kmeans_parallel.uniform_from_keys

    def recording(xp, keys, stream, dtype):
        rounds.append(stream)
        return real(xp, keys, stream, dtype)

    monkeypatch.setattr(_kmeans_parallel, "uniform_from_keys", recording)
    X = blobs(2000, 3, 20, seed=4)
    anykmeans.kmeans(X, 20, init="k-means||", init_max_iter=3, random_state=0)
    assert rounds == [0, 1, 2]  # 3 rounds of about 40 candidates: enough
    rounds.clear()
    result = anykmeans.kmeans(X, 20, init="k-means||", init_max_iter=1, oversampling_factor=0.1,
                              random_state=0)
    assert rounds == list(range(len(rounds))) and len(rounds) >= 5  # about 2 a round
    assert np.unique(result.labels).size == 20


def gauss_mixture(R: float, seed: int, n: int = 10_000, k: int = 50, d: int = 15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=np.sqrt(R), size=(k, d))
    return centres[rng.integers(k, size=n)] + rng.standard_normal((n, d))


def test_quality_on_the_papers_gauss_mixture():
    per_point = {}
    for R in (1, 10, 100):
        for init in ("k-means||", "k-means++", "random"):
            per_point[R, init] = np.median([
                anykmeans.KMeans(50, init=init, n_init=1, random_state=seed)
                .fit(gauss_mixture(R, seed)).inertia_ / 10_000
                for seed in range(5)
            ])
        assert per_point[R, "k-means||"] <= 1.03 * per_point[R, "k-means++"]
        assert per_point[R, "k-means||"] < 1.1 * 15  # near the optimum, ~d per point
    assert per_point[100, "random"] > 5 * per_point[100, "k-means||"]
