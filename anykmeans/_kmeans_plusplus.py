"""Greedy k-means++ seeding.

All seeding happens on the caller's device. The host supplies uniforms (see
:mod:`anykmeans._random`); sampling turns them into row indices with a
cumulative sum and a sorted search, and nothing n-sized crosses to the host.
Seeds are returned as row indices.
"""

from __future__ import annotations

import functools
import math

from ._namespace import Array, Namespace, device_of, has_float64, index_dtype, materialise
from ._primitives import Data, scores
from ._random import RandomState, choice, uniform


def default_local_trials(n_clusters: int) -> int:
    """``2 + int(log(k))`` candidates per centre, as Arthur and Vassilvitskii suggest."""
    return 2 + int(math.log(n_clusters))


def _distance_dtype(xp: Namespace, X: Array):
    """Seeding distances are computed in float64 where the device has it.

    Sampling compares cumulative sums of these distances with uniforms; float64
    keeps the chosen rows the same on every backend for float32 data too.
    """
    return xp.float64 if has_float64(xp, device_of(X)) else X.dtype


def kmeans_plusplus_indices(data: Data, n_clusters: int, rng: RandomState,
                            n_local_trials: int | None = None) -> Array:
    """Row indices of ``n_clusters`` seeds chosen by greedy k-means++.

    The first seed is drawn with probability proportional to ``data.weights``.
    Each further seed is the best of ``n_local_trials`` candidates drawn with
    probability proportional to ``weight * D(x)^2`` (``D`` the distance to the
    nearest seed so far): the one that lowers the weighted potential most. The
    draws are those of scikit-learn's ``kmeans_plusplus`` for the same
    ``RandomState``: every step's uniforms are drawn from it at once (the same
    numbers, in the same order) and go to the device in one transfer, so that
    a step makes no transfer of its own.

    Parameters
    ----------
    data : Data
        The rows and their (non-optional) weights.

    Returns
    -------
    indices : integer array of shape (n_clusters,) on ``X``'s device
    """
    if n_local_trials is None:
        n_local_trials = default_local_trials(n_clusters)
    xp, X, library = data.xp, data.X, data.library
    dtype = _distance_dtype(xp, X)
    weight = xp.astype(data.weights, dtype)
    chunks = list(data.chunks(n_local_trials, dtype))

    def centred(rows_or_index):
        return xp.astype(rows_or_index - data.mean, dtype)

    x_sq_norms = xp.concat([library.sq_norms(xp, centred(X[s, :])) for s in chunks])

    def sq_distances_to(s: slice, points: Array, point_sq_norms: Array) -> Array:
        """Squared distances ``(len(points), rows in s)``, at least zero whatever the rounding."""
        sq = scores(centred(X[s, :]), points, point_sq_norms) + x_sq_norms[None, s]
        return xp.maximum(sq, xp.zeros((), dtype=dtype, device=device_of(X)))

    def lowered(s: slice, closest: Array, candidates: Array, candidate_norms: Array):
        """``min(closest, D(candidate))^2`` on the rows ``s``, and each candidate's potential."""
        block = xp.minimum(closest[None, s], sq_distances_to(s, candidates, candidate_norms))
        return block, block @ weight[s]

    def seed_rows(indices):
        candidates = centred(xp.take(X, indices, axis=0))
        return candidates, library.sq_norms(xp, candidates)

    first = xp.reshape(choice(xp, rng, data.weights), (1,))
    seeds, seed_norms = seed_rows(first)
    closest = xp.concat(list(library.map_chunks(
        X, lambda s: sq_distances_to(s, seeds, seed_norms)[0, :], chunks)))
    potential = xp.sum(closest * weight)
    targets = xp.asarray(uniform(rng, (n_clusters - 1) * n_local_trials), dtype=dtype,
                         device=device_of(X))
    last_row = xp.full((), X.shape[0] - 1, dtype=index_dtype(xp, device_of(X)),
                       device=device_of(X))
    indices = [first]
    for step in range(n_clusters - 1):
        step_targets = targets[step * n_local_trials:(step + 1) * n_local_trials]
        candidate_ids = xp.searchsorted(xp.cumulative_sum(weight * closest),
                                        step_targets * potential)
        # Rounding in the cumulative sum can put a target past its end.
        candidate_ids = xp.minimum(xp.astype(candidate_ids, last_row.dtype), last_row)
        candidates, candidate_norms = seed_rows(candidate_ids)
        pass_over_rows = functools.partial(lowered, closest=closest, candidates=candidates,
                                           candidate_norms=candidate_norms)
        blocks, potentials = [], 0.0
        for block, partial in library.map_chunks(X, pass_over_rows, chunks):
            blocks.append(block)
            potentials = potentials + partial
        best = xp.reshape(xp.argmin(potentials), (1,))
        potential = xp.take(potentials, best)[0]
        closest = xp.concat([xp.take(block, best, axis=0)[0, :] for block in blocks])
        indices.append(xp.take(candidate_ids, best))
        # Dask: evaluate each step, so that the graph does not grow with k.
        closest, potential, indices[-1] = materialise(closest, potential, indices[-1])
    return xp.concat(indices)
