"""Initial centres: greedy k-means++, random rows, or what the caller gives.

All seeding happens on the caller's device. The host supplies uniforms (see
:mod:`anykmeans._random`); sampling turns them into row indices with a
cumulative sum and a sorted search, and nothing n-sized crosses to the host.
Centres are returned in the centred frame, ``X[i] - mean``.
"""

from __future__ import annotations

import functools
import math

from ._namespace import Array, Namespace, device_of, has_float64, materialise
from ._primitives import map_chunks, row_chunks, scores, sq_norms
from ._random import RandomState, choice, choice_without_replacement, uniform
from ._validation import check_centres


def default_local_trials(n_clusters: int) -> int:
    """``2 + int(log(k))`` candidates per centre, as Arthur and Vassilvitskii suggest."""
    return 2 + int(math.log(n_clusters))


def _distance_dtype(xp: Namespace, X: Array):
    """Seeding distances are computed in float64 where the device has it.

    Sampling compares cumulative sums of these distances with uniforms; float64
    keeps the chosen rows the same on every backend for float32 data too.
    """
    return xp.float64 if has_float64(xp, device_of(X)) else X.dtype


def kmeans_plusplus_indices(xp: Namespace, X: Array, sample_weight: Array, n_clusters: int,
                            rng: RandomState, mean: Array, rows: int,
                            n_local_trials: int | None = None) -> Array:
    """Row indices of ``n_clusters`` seeds chosen by greedy k-means++.

    The first seed is drawn with probability proportional to ``sample_weight``.
    Each further seed is the best of ``n_local_trials`` candidates drawn with
    probability proportional to ``weight * D(x)^2`` (``D`` the distance to the
    nearest seed so far): the one that lowers the weighted potential most. The
    draws are those of scikit-learn's ``kmeans_plusplus`` for the same
    ``RandomState``.

    Returns
    -------
    indices : integer array of shape (n_clusters,) on ``X``'s device
    """
    if n_local_trials is None:
        n_local_trials = default_local_trials(n_clusters)
    dtype = _distance_dtype(xp, X)
    weight = xp.astype(sample_weight, dtype)
    chunks = list(row_chunks(X.shape[0], rows))

    def centred(rows_or_index):
        return xp.astype(rows_or_index - mean, dtype)

    x_sq_norms = xp.concat([sq_norms(xp, centred(X[s, :])) for s in chunks])

    def sq_distances_to(s: slice, points: Array, point_sq_norms: Array) -> Array:
        """Squared distances ``(len(points), rows in s)``, clipped at zero against rounding."""
        sq = scores(centred(X[s, :]), points, point_sq_norms) + x_sq_norms[None, s]
        return xp.clip(sq, min=0.0)

    def lowered(s: slice, closest: Array, candidates: Array, candidate_norms: Array):
        """``min(closest, D(candidate))^2`` on the rows ``s``, and each candidate's potential."""
        block = xp.minimum(closest[None, s], sq_distances_to(s, candidates, candidate_norms))
        return block, block @ weight[s]

    def seed_rows(indices):
        candidates = centred(xp.take(X, indices, axis=0))
        return candidates, sq_norms(xp, candidates)

    first = xp.reshape(choice(xp, rng, sample_weight), (1,))
    seeds, seed_norms = seed_rows(first)
    closest = xp.concat(list(map_chunks(
        X, lambda s: sq_distances_to(s, seeds, seed_norms)[0, :], chunks)))
    potential = xp.sum(closest * weight)
    indices = [first]
    for _ in range(1, n_clusters):
        targets = xp.asarray(uniform(rng, n_local_trials), dtype=dtype, device=device_of(X))
        candidate_ids = xp.searchsorted(xp.cumulative_sum(weight * closest), targets * potential)
        candidate_ids = xp.clip(candidate_ids, max=X.shape[0] - 1)
        candidates, candidate_norms = seed_rows(candidate_ids)
        pass_over_rows = functools.partial(lowered, closest=closest, candidates=candidates,
                                           candidate_norms=candidate_norms)
        blocks, potentials = [], 0.0
        for block, partial in map_chunks(X, pass_over_rows, chunks):
            blocks.append(block)
            potentials = potentials + partial
        best = xp.reshape(xp.argmin(potentials), (1,))
        potential = xp.take(potentials, best)[0]
        closest = xp.concat([xp.take(block, best, axis=0)[0, :] for block in blocks])
        indices.append(xp.take(candidate_ids, best))
        # Dask: evaluate each step, so that the graph does not grow with k.
        closest, potential, indices[-1] = materialise(closest, potential, indices[-1])
    return xp.concat(indices)


def initial_centres(xp: Namespace, X: Array, sample_weight: Array, n_clusters: int, init,
                    rng: RandomState, mean: Array, rows: int, **parallel_options) -> Array:
    """Initial centres in the centred frame, ``(n_clusters, n_features)``.

    Parameters
    ----------
    init : {"k-means++", "k-means||", "random"}, callable or array
        A validated init: an array is taken as given (in ``X``'s frame); a
        callable is called as ``init(X, n_clusters, random_state=rng)`` on the
        caller's (uncentred) data and its result validated like an array.
    **parallel_options
        ``oversampling_factor`` and ``n_rounds`` of "k-means||".
    """
    if isinstance(init, str):
        if init == "k-means||":
            from ._kmeans_parallel import kmeans_parallel_centres  # it imports this module

            return kmeans_parallel_centres(xp, X, sample_weight, n_clusters, rng, mean, rows,
                                           **parallel_options)
        if init == "k-means++":
            indices = kmeans_plusplus_indices(xp, X, sample_weight, n_clusters, rng, mean, rows)
        else:
            indices = choice_without_replacement(xp, rng, sample_weight, n_clusters)
        return xp.take(X, indices, axis=0) - mean
    if callable(init):
        init = check_centres(init(X, n_clusters, random_state=rng), xp, X, n_clusters,
                             name="the result of the init callable")
    return init - mean
