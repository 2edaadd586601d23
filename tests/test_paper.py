"""Arthur and Vassilvitskii's synthetic experiment (k-means++, SODA 2007, "Synthetic").

k true centres uniform in a cube of side 500, n = 10000 points around them with
unit variance in each of d dimensions. The optimal potential is about d per
point (each point's squared distance to its true centre). k-means++ followed by
Lloyd should land there; random seeding followed by Lloyd gets stuck with
several true clusters merged, far above it.
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans


def synthetic(n_centres: int, n_features: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 500, size=(n_centres, n_features))
    labels = rng.integers(n_centres, size=10_000)
    return centres[labels] + rng.standard_normal((10_000, n_features))


@pytest.mark.parametrize("n_centres, n_features", [(10, 5), (25, 15)])
def test_kmeans_plusplus_finds_the_optimum_and_random_seeding_does_not(n_centres, n_features):
    per_point = {init: [] for init in ("k-means++", "random")}
    for seed in range(5):
        X = synthetic(n_centres, n_features, seed)
        for init in per_point:
            model = anykmeans.KMeans(n_centres, init=init, n_init=1, random_state=seed).fit(X)
            per_point[init].append(model.inertia_ / X.shape[0])
    plusplus, random = np.median(per_point["k-means++"]), np.median(per_point["random"])
    assert 0.9 * n_features < plusplus < 1.1 * n_features
    assert random > 50 * n_features
