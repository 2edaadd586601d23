"""Greedy k-means++ seeding.

All seeding happens on the caller's device. The host supplies uniforms (see
:mod:`anykmeans._random`); sampling turns them into row indices with a
cumulative sum and a sorted search, and nothing n-sized crosses to the host.
Seeds are returned as row indices.

Each step is one pass over the rows (:meth:`~anykmeans._libraries._passes.Passes.search`)
that reads ``X`` once, in its own dtype: every chunk is centred and multiplied
by the step's candidates and by the seed the previous step chose, whose
distances lower the rows' distances to their nearest seed there, before the
candidates' do. Distances and potentials are computed in float64 (where the
device has it: float32 rows are widened, and their products are exact), in
vectors of ``n`` values and in blocks of a chunk; the rows' squared norms are
computed once per seeding. Without float64, the distances are computed from the
differences, the same bits on every library (see :func:`_sq_distances`).

The candidates are found where the running sum of ``weight * D(x)^2`` reaches
the step's targets, ``D`` lowered by the previous step's seed, which the pass
has not applied yet. The previous pass left, for each candidate it tried, the
sum of the lowered distances over every block of :data:`SEARCH_ROWS` rows: the
chosen one's sums locate each target's block, and only those blocks are
lowered and searched row by row (a few thousand rows a step). A lazy library
runs a step as one round trip, one task per block of rows (plus a small one
per block that holds a candidate), each block keeping its distances where it
was computed.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import NamedTuple

from ._exact import sq_distances_by_differences
from ._libraries import Library
from ._namespace import Array, Namespace, array_namespace, device_of, has_float64, index_dtype
from ._primitives import Data
from ._random import RandomState, choice, uniform

#: Rows per search block: a step lowers and searches at most one such block per candidate.
SEARCH_ROWS = 512


def default_local_trials(n_clusters: int) -> int:
    """``2 + int(log(k))`` candidates per centre, as Arthur and Vassilvitskii suggest."""
    return 2 + int(math.log(n_clusters))


def _distance_dtype(xp: Namespace, X: Array):
    """Seeding distances are accumulated in float64 where the device has it.

    Sampling compares cumulative sums of these distances with uniforms; float64
    keeps the chosen rows the same on every backend for float32 data too.
    """
    return xp.float64 if has_float64(xp, device_of(X)) else X.dtype


class Points(NamedTuple):
    """Rows of ``X`` in the centred frame, in ``X``'s dtype, with their squared norms in the
    distances' dtype."""

    rows: Array
    sq_norms: Array


class Seeding(NamedTuple):
    """A block's k-means++ state between steps.

    Attributes
    ----------
    x_sq_norms, weight : arrays of shape (n_rows,), the distances' dtype
    closest : array of shape (n_rows,)
        Squared distance of every row to its nearest seed, but for the seed the
        last step chose (not applied yet).
    tried : Points or None
        The last step's candidates (None after the first seed).
    block_sums : array of shape (len(tried), n_search_blocks) or (1, n_search_blocks)
        For each candidate, the weighted sums of the distances it lowered, by search block.
    """

    x_sq_norms: Array
    weight: Array
    closest: Array
    tried: Points | None
    block_sums: Array


class Selected(NamedTuple):
    """What a step reads of a block's :class:`Seeding`: the previous step's seed applied
    lazily (``pending``) and the weighted sums of the distances it leaves, by search block."""

    x_sq_norms: Array
    weight: Array
    closest: Array
    pending: Points | None
    block_sums: Array


def _search_rows(n_rows: int) -> int:
    """Rows per search block of a block of ``n_rows`` rows."""
    return max(1, min(SEARCH_ROWS, n_rows))


def _by_differences(xp: Namespace, dtype) -> bool:
    """Whether the distances are computed from the differences (:func:`_sq_distances`):
    where they are not in float64."""
    return dtype != xp.float64


def _chunks(data: Data, n_points: int, dtype) -> list[slice]:
    """The pass's chunks, each a whole number of search blocks (but for the last), sized for
    the values a chunk's distances to ``n_points`` points make."""
    n_rows, block = data.X.shape[0], _search_rows(data.X.shape[0])
    values = n_points * data.X.shape[1] if _by_differences(data.xp, dtype) else n_points
    rows = max(block, data.chunk_rows(values, dtype) // block * block)
    return [slice(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


def _points(data: Data, rows: Array, dtype) -> Points:
    """Rows of ``X`` centred (``X``'s dtype), with their squared norms in ``dtype``."""
    xp = data.xp
    centred = rows - data.mean
    return Points(centred, data.library.sq_norms(xp, xp.astype(centred, dtype)))


def _widened(library: Library, xp: Namespace, x: Array, dtype) -> Array:
    """A chunk ``x`` of centred rows in the distances' ``dtype`` (``x`` itself if it is)."""
    return x if x.dtype == dtype else library.astype(xp, x, dtype)


def _sq_distances(library: Library, xp: Namespace, x: Array, x_sq_norms: Array,
                  points: Points, dtype) -> Array:
    """Squared distances ``(len(points), rows of x)`` in ``dtype``, at least zero whatever the
    rounding, the same on every library to far beyond the precision that sampling and
    comparing the candidates need.

    In float64, from the product of ``x`` (:func:`_widened`) and the points, and the
    norms: the products of two float32 features are exact, and a library's product
    rounds only where it adds them up (about one float64 unit in the last place of
    ``|p| |x|``), not where it rounds float32 products its own way. Without float64
    (:func:`_by_differences`), from the differences, the same bits on every library
    (:func:`~anykmeans._exact.sq_distances_by_differences`, compiled where the library
    compiles: one loop over ``x`` rather than one pass per operation): a float32
    product's rounding, a few units of ``|p| |x|``, can be a large part of a small
    distance.
    """
    if _by_differences(xp, dtype):
        by_differences = library.compiled(sq_distances_by_differences, static_argnums=(0,))
        return by_differences(xp, points.rows, library.dense(xp, x))
    sq = library.cross(xp, -2.0 * xp.astype(points.rows, dtype), _widened(library, xp, x, dtype))
    sq += points.sq_norms[:, None]  # our own block: in place (or rebound, where immutable)
    sq += x_sq_norms[None, :]
    return xp.maximum(sq, xp.zeros((), dtype=dtype, device=device_of(x)))


def _block_sums(xp: Namespace, weighted: Array, block: int) -> Array:
    """Sums of the columns of ``weighted`` ``(m, rows)`` over consecutive blocks of ``block``
    columns (the last one shorter): ``(m, ceil(rows / block))``."""
    m, n_rows = weighted.shape
    whole = n_rows // block * block
    parts = [] if whole == 0 else [
        xp.sum(xp.reshape(weighted[:, :whole], (m, whole // block, block)), axis=2)]
    if whole < n_rows:
        parts.append(xp.sum(weighted[:, whole:], axis=1)[:, None])
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=1)


def start_pass(data: Data, rows: slice, state: None, first: Array, n_local_trials: int,
               dtype, x_sq_norms: Array | None) -> tuple[Seeding, Array]:
    """The rows' squared norms (those of ``x_sq_norms``, the squared norms of all of
    ``X``'s centred rows, when given) and distances to the first seed ``first`` (a row of
    ``X``): a block pass.

    Returns
    -------
    state : Seeding
    potential : the weighted sum of the squared distances
    """
    xp, library = data.xp, data.library
    seed = _points(data, first, dtype)
    weight = xp.astype(data.weights, dtype)
    block = _search_rows(data.X.shape[0])

    def chunk(s: slice) -> tuple[Array, Array]:
        x = _widened(library, xp, data.centred(s), dtype)
        norms = (library.sq_norms(xp, x) if x_sq_norms is None
                 else xp.astype(x_sq_norms[rows][s], dtype))
        return norms, _sq_distances(library, xp, x, norms, seed, dtype)[0, :]

    norms, closest = zip(*library.map_chunks(data.X, chunk, _chunks(data, n_local_trials,
                                                                    dtype)), strict=True)
    closest = xp.concat(closest)
    weighted = weight * closest
    sums = _block_sums(xp, weighted[None, :], block)
    return Seeding(xp.concat(norms), weight, closest, None, sums), xp.sum(weighted)


def closest_distances(data: Data, state: Seeding, best: Array | None) -> Selected:
    """What a step reads of ``state``: the seed ``best`` (among the last step's candidates;
    None for the first seed, already applied) still to be applied, and its block sums."""
    xp = data.xp
    if best is None:
        return Selected(state.x_sq_norms, state.weight, state.closest, None,
                        state.block_sums[0, :])
    pending = Points(xp.take(state.tried.rows, best, axis=0),
                     xp.take(state.tried.sq_norms, best))
    return Selected(state.x_sq_norms, state.weight, state.closest, pending,
                    xp.take(state.block_sums, best, axis=0)[0, :])


def find_candidates(data: Data, selected: Selected, targets: Array,
                    offset: Array | None) -> tuple[Array, Array, Array]:
    """The rows where the running sum of ``weight * distance`` (plus ``offset``) reaches each
    of ``targets``: their indices, centred rows (``X``'s dtype) and squared norms.

    The search blocks' sums locate each target's block; those blocks alone
    are lowered by the pending seed and searched row by row.
    """
    xp, X, dtype = data.xp, data.X, selected.closest.dtype
    device, n_rows = device_of(X), X.shape[0]
    index = index_dtype(xp, device)
    block = _search_rows(n_rows)
    ends = xp.cumulative_sum(selected.block_sums)
    if offset is not None:
        ends = offset + ends
    n_blocks = ends.shape[0]
    last_block = xp.full((), n_blocks - 1, dtype=index, device=device)
    found = xp.minimum(xp.astype(xp.searchsorted(ends, targets), index), last_block)
    starts = found * block
    before = xp.take(ends, found) - xp.take(selected.block_sums, found)
    within = xp.arange(block, dtype=index, device=device)
    last_row = xp.full((), n_rows - 1, dtype=index, device=device)
    ids = xp.reshape(xp.minimum(starts[:, None] + within[None, :], last_row), (-1,))
    valid = xp.reshape(starts[:, None] + within[None, :] <= last_row, (-1,))
    closest = xp.take(selected.closest, ids)
    if selected.pending is not None:
        x = data.centred_at(ids)
        pending = _sq_distances(data.library, xp, x, xp.take(selected.x_sq_norms, ids),
                                selected.pending, dtype)
        closest = xp.minimum(closest, pending[0, :])
    weighted = xp.where(valid, xp.take(selected.weight, ids) * closest,
                        xp.zeros((), dtype=dtype, device=device))
    running = (xp.cumulative_sum(xp.reshape(weighted, (-1, block)), axis=1)
               + before[:, None])
    # searchsorted (left) within each block: the rows whose running sum is below the target.
    position = xp.sum(xp.astype(running < targets[:, None], index), axis=1)
    candidate_ids = xp.minimum(starts + xp.minimum(position, within[-1]), last_row)
    return (candidate_ids, *_points(data, data.dense_rows(candidate_ids), dtype))


def lower_pass(data: Data, rows: slice, state: Seeding, selected: Selected,
               found: tuple[Array, Array, Array], n_steps: int) -> tuple[Seeding, Array]:
    """Every row's squared distance lowered by the pending seed, then to each candidate of
    ``found``: a block pass of a seeding of ``n_steps`` steps, each chunk by the library's
    fused step where it has one
    (:meth:`~anykmeans._libraries._plan.Plan.fused_lowering`).

    Returns
    -------
    state : Seeding
        The distances lowered by the pending seed, the candidates, and the sums
        of the distances each of them lowers, by search block.
    potentials : for each candidate, the weighted sum of the lowered distances
    """
    xp = data.xp
    candidates = Points(*found[1:])
    weight, dtype = selected.weight, selected.closest.dtype
    pending = selected.pending
    points = candidates if pending is None else Points(
        xp.concat([pending.rows, candidates.rows]),
        xp.concat([pending.sq_norms, candidates.sq_norms]))
    block = _search_rows(data.X.shape[0])

    def lowered(s: slice) -> tuple[Array, Array, Array]:
        sq = _sq_distances(data.library, xp, data.centred(s), selected.x_sq_norms[s], points,
                           dtype)
        closest = selected.closest[s]
        if pending is not None:
            closest, sq = xp.minimum(closest, sq[0, :]), sq[1:, :]
        sq = xp.minimum(closest[None, :], sq)
        return (closest, data.library.matmul(xp, sq, weight[s]),
                _block_sums(xp, sq * weight[None, s], block))

    closest, potentials, sums = [], 0.0, []
    fused = data.library.fused_lowering(data, points.rows, points.sq_norms,
                                        selected.x_sq_norms, weight, selected.closest,
                                        pending is not None, block, n_steps)
    for part, partial, block_sums in data.library.map_chunks(
            data.X, fused or lowered, _chunks(data, points.rows.shape[0], dtype)):
        closest.append(part)
        potentials = potentials + partial
        sums.append(block_sums)
    state = Seeding(selected.x_sq_norms, weight, xp.concat(closest), candidates,
                    xp.concat(sums, axis=1))
    return state, potentials


def kmeans_plusplus_indices(data: Data, n_clusters: int, rng: RandomState,
                            n_local_trials: int | None = None,
                            x_sq_norms: Array | None = None) -> Array:
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
    x_sq_norms : array of shape (n_samples,), optional
        The squared norms of the centred rows, on the small side, used as given
        (a lazy library's blocks each read their rows of it); computed when None.

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
                                         dtype, x_sq_norms, listed=True)
    potential = functools.reduce(operator.add, parts)
    xs = array_namespace(potential)  # the small side
    targets = xs.asarray(uniform(rng, (n_clusters - 1) * n_local_trials), dtype=dtype,
                         device=device_of(potential))
    indices, best, totals = [first], None, parts if len(parts) > 1 else None
    for step in range(n_clusters - 1):
        step_targets = targets[step * n_local_trials:(step + 1) * n_local_trials]
        state, parts, (found, _) = library.passes.search(
            data, state, step_targets * potential, totals,
            functools.partial(closest_distances, best=best), find_candidates, lower_pass,
            n_clusters - 1)
        potentials = functools.reduce(operator.add, parts)
        best = xs.reshape(xs.argmin(potentials), (1,))
        potential = xs.take(potentials, best)[0]
        totals = [xs.take(part, best)[0] for part in parts] if len(parts) > 1 else None
        indices.append(xs.take(found[0], best))
    return xs.concat(indices)
