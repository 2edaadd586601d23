"""Greedy k-means++ seeding.

All seeding happens on the caller's device. The host supplies uniforms (see
:mod:`anykmeans._random`); sampling turns them into row indices with a
cumulative sum and a sorted search, and nothing n-sized crosses to the host.
Seeds are returned as row indices.

Each step is one pass over the rows (:meth:`~anykmeans._libraries.Passes.search`):
the candidates are found where the running sum of ``weight * D(x)^2`` reaches
the step's targets, then every row's distance to each of them is lowered and
summed. A lazy library runs it as one round trip, one task per block of rows
(plus a small one per block that holds a candidate), each block keeping its
distances where it was computed.
"""

from __future__ import annotations

import functools
import math
import operator

from ._namespace import Array, Namespace, array_namespace, device_of, has_float64, index_dtype
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


def _centred(data: Data, rows: Array, dtype) -> Array:
    """``rows - mean`` in the distances' ``dtype``."""
    return data.xp.astype(rows - data.mean, dtype)


def _sq_distances_to(data: Data, s: slice, x_sq_norms: Array, points: Array,
                     point_sq_norms: Array) -> Array:
    """Squared distances ``(len(points), rows in s)``, at least zero whatever the rounding."""
    xp, x = data.xp, _centred(data, data.X[s, :], points.dtype)
    sq = scores(x, points, point_sq_norms) + x_sq_norms[None, s]
    return xp.maximum(sq, xp.zeros((), dtype=points.dtype, device=device_of(data.X)))


def start_pass(data: Data, rows: slice, state: None, first: Array, n_local_trials: int,
               dtype) -> tuple[tuple, Array]:
    """Distances to the first seed ``first`` (a row of ``X``): a block pass.

    Returns
    -------
    state : (row squared norms, weights in ``dtype``, squared distances to the seed)
    potential : the weighted sum of the squared distances
    """
    xp, library = data.xp, data.library
    chunks = list(data.chunks(n_local_trials, dtype))
    x_sq_norms = xp.concat([library.sq_norms(xp, _centred(data, data.X[s, :], dtype))
                            for s in chunks])
    seeds = _centred(data, first, dtype)
    seed_norms = library.sq_norms(xp, seeds)
    closest = xp.concat(list(library.map_chunks(
        data.X, lambda s: _sq_distances_to(data, s, x_sq_norms, seeds, seed_norms)[0, :],
        chunks)))
    weight = xp.astype(data.weights, dtype)
    return (x_sq_norms, weight, closest), xp.sum(closest * weight)


def closest_distances(data: Data, state: tuple, best: Array | None) -> tuple[Array, Array]:
    """The rows' weights and squared distances to their nearest seed: the first seed's, or
    ``best``'s among the candidates of the last step (``state``'s lowered distances)."""
    xp, (_, weight, lowered) = data.xp, state
    if best is None:
        return weight, lowered
    return weight, xp.concat([xp.take(block, best, axis=0)[0, :] for block in lowered])


def find_candidates(data: Data, closest: tuple[Array, Array], targets: Array,
                    offset: Array | None) -> tuple[Array, Array, Array]:
    """The rows where the running sum of ``weight * distance`` (``closest``, plus ``offset``)
    reaches each of ``targets``: their indices, centred rows (in the distances' dtype) and
    squared norms."""
    xp, X = data.xp, data.X
    weight, closest = closest
    cumulative = xp.cumulative_sum(weight * closest)
    if offset is not None:
        cumulative = offset + cumulative
    candidate_ids = xp.searchsorted(cumulative, targets)
    # Rounding in the cumulative sum can put a target past its end.
    last_row = xp.full((), X.shape[0] - 1, dtype=index_dtype(xp, device_of(X)),
                       device=device_of(X))
    candidate_ids = xp.minimum(xp.astype(candidate_ids, last_row.dtype), last_row)
    candidates = _centred(data, xp.take(X, candidate_ids, axis=0), closest.dtype)
    return candidate_ids, candidates, data.library.sq_norms(xp, candidates)


def lower_pass(data: Data, rows: slice, state: tuple, closest: tuple[Array, Array],
               found: tuple[Array, Array, Array]) -> tuple[tuple, Array]:
    """Every row's squared distance (``closest``) lowered to each candidate of ``found``: a
    block pass.

    Returns
    -------
    state : ``state`` with the lowered distances, ``(candidates, rows)`` by chunk
    potentials : for each candidate, the weighted sum of the lowered distances
    """
    x_sq_norms = state[0]
    weight, closest = closest
    _, candidates, candidate_norms = found
    xp = data.xp

    def lowered(s: slice) -> tuple[Array, Array]:
        block = xp.minimum(closest[None, s],
                           _sq_distances_to(data, s, x_sq_norms, candidates, candidate_norms))
        return block, block @ weight[s]

    blocks, potentials = [], 0.0
    chunks = list(data.chunks(candidates.shape[0], closest.dtype))
    for block, partial in data.library.map_chunks(data.X, lowered, chunks):
        blocks.append(block)
        potentials = potentials + partial
    return (x_sq_norms, weight, blocks), potentials


def kmeans_plusplus_indices(data: Data, n_clusters: int, rng: RandomState,
                            n_local_trials: int | None = None) -> Array:
    """Row indices of ``n_clusters`` seeds chosen by greedy k-means++.

    The first seed is drawn with probability proportional to ``data.weights``.
    Each further seed is the best of ``n_local_trials`` candidates drawn with
    probability proportional to ``weight * D(x)^2`` (``D`` the distance to the
    nearest seed so far): the one that lowers the weighted potential most. The
    draws are those of scikit-learn's ``kmeans_plusplus`` for the same
    ``RandomState``: every step's uniforms are drawn from it at once (the same
    numbers, in the same order) and go to the small side in one transfer, so
    that a step makes no transfer of its own.

    Parameters
    ----------
    data : Data
        The rows and their (non-optional) weights.

    Returns
    -------
    indices : integer array of shape (n_clusters,), on the library's small side
        (:meth:`~anykmeans._libraries._passes.Passes.to_small_side`)
    """
    if n_local_trials is None:
        n_local_trials = default_local_trials(n_clusters)
    xp, library = data.xp, data.library
    dtype = _distance_dtype(xp, data.X)
    (first,) = library.passes.to_small_side(xp.reshape(choice(xp, rng, data.weights), (1,)))
    state, parts, _ = library.passes.run(data, start_pass, None,
                                         library.passes.take_rows(data, first), n_local_trials,
                                         dtype, listed=True)
    potential = functools.reduce(operator.add, parts)
    xs = array_namespace(potential)  # the small side
    targets = xs.asarray(uniform(rng, (n_clusters - 1) * n_local_trials), dtype=dtype,
                         device=device_of(potential))
    indices, best, totals = [first], None, parts if len(parts) > 1 else None
    for step in range(n_clusters - 1):
        step_targets = targets[step * n_local_trials:(step + 1) * n_local_trials]
        state, parts, (found,) = library.passes.search(
            data, state, step_targets * potential, totals,
            functools.partial(closest_distances, best=best), find_candidates, lower_pass)
        potentials = functools.reduce(operator.add, parts)
        best = xs.reshape(xs.argmin(potentials), (1,))
        potential = xs.take(potentials, best)[0]
        totals = [xs.take(part, best)[0] for part in parts] if len(parts) > 1 else None
        indices.append(xs.take(found[0], best))
    return xs.concat(indices)
