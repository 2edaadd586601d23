"""No hidden device-to-host transfers: one small vector per Lloyd iteration.

``anykmeans._namespace.to_host`` is the only function that moves array data
to the host. Counting its calls catches a new transfer; running on
array-api-strict's device1, which refuses any implicit conversion to NumPy,
catches a transfer that bypasses it.
"""

from __future__ import annotations

import pytest

import anykmeans
from tests.data import blobs


@pytest.mark.parametrize("max_iter", [1, 5, 20])
def test_one_small_transfer_per_iteration(xp, transfers, max_iter):
    X = xp.asarray(blobs(2000, 4, 6, seed=8))
    model = anykmeans.KMeans(6, random_state=0, max_iter=max_iter, tol=0.0).fit(X)
    # per iteration: the stats vector (4 values); per fit: tol (none with tol=0),
    # the final inertia, the distinct-cluster count.
    assert len(transfers) == model.n_iter_ + 2
    assert max(transfers) <= 4


def test_random_seeding_moves_only_the_chosen_indices(xp, transfers):
    X = xp.asarray(blobs(2000, 4, 6, seed=8))
    anykmeans.kmeans_plusplus(X, 6, random_state=0)
    assert transfers == []
    model = anykmeans.KMeans(6, init="random", n_init=1, max_iter=3, tol=0.0, random_state=0)
    model.fit(X)
    seeding = transfers[: len(transfers) - model.n_iter_ - 2]
    assert sum(seeding) <= 6 + 1  # the chosen indices, and the count of positive weights
