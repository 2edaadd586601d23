"""Close calls in float32: which centre is nearest, decided the same way on every library.

Each library rounds a float32 matrix product its own way (its BLAS's order of
additions, fused multiply-adds, blocking), so two libraries' scores of one row
differ by a few units in the last place of their magnitude. A row whose two best
scores are nearer than that (a *close call*) could go to different centres on
different libraries. Here a close call is decided from squared distances computed
far beyond float32's precision, by elementwise operations only (which every
library rounds correctly) in one fixed order of additions: the same bits
everywhere, and in Numba's loop (:mod:`anykmeans._libraries._fused`), which
mirrors :func:`exactly_nearest`.
"""

from __future__ import annotations

import array_api_compat

from ._libraries import Array, Library, Namespace, fast_two_sum, halving_sum, has_float64, split

__all__ = ["close_call_bound", "exactly_nearest", "sq_distances_by_differences"]


def close_call_bound(xp: Namespace, x_sq_norms: Array, centre_sq_norms: Array,
                     n_features: int) -> Array:
    """For each row, how far apart two of its scores may be and their exact order still be
    the reverse of their rounded one: ``(n_rows,)``, in the scores' dtype.

    A score ``|c|^2 - 2 c.x`` computed in a dtype of machine epsilon ``eps`` by
    any order of additions (any BLAS, any library, with or without fused
    multiply-adds) is within ``(d + 2) eps / 2 (|c|^2 + 2 |c| |x|)`` of its exact
    value (the classic bound on a dot product of ``d`` terms, plus the norm's
    and the last addition's rounding): a row's rounded best can lose to another
    score only when the two are within twice that, taken with the largest
    centre norm (bounded here with ``eps`` rather than ``eps / 2``).
    """
    largest = xp.max(centre_sq_norms)
    return ((n_features + 2) * 2 * xp.finfo(x_sq_norms.dtype).eps
            * (largest + 2 * xp.sqrt(largest * x_sq_norms)))


def exactly_nearest(library: Library, xp: Namespace, x: Array, centres: Array,
                    candidates: Array, usable: Array | None, tie_ulps: int) -> Array:
    """For each row of ``x``, the nearest of its usable candidate centres by squared
    distances computed far beyond ``x``'s precision, the same way on every library; tied:
    the lowest index.

    Parameters
    ----------
    library : Library
        ``x``'s library, which gathers the candidates.
    x : array of shape (n_rows, n_features)
    centres : array of shape (n_clusters, n_features), ``x``'s dtype
    candidates : integer array of shape (m, n_rows)
        The candidate centres of each row (a column); the first row's are always usable.
    usable : boolean array of shape (m, n_rows), or None (every candidate is)
    tie_ulps : int
        Candidates whose distances ``sqrt(D)`` are within ``tie_ulps`` units of ``x``'s
        dtype of ``|x| + max |c|`` of the least are tied: the rounding of the centred
        rows and centres, which are the caller's rows and centres less the data's mean
        (exactly equidistant before, they stay tied).

    Returns
    -------
    integer array of shape (n_rows,), ``candidates``' dtype

    Notes
    -----
    The squared distances and norms are sums of squares in float64 where the device has
    it (the differences and squares of float32 values are then exact), otherwise of
    differences squared as unevaluated sums ``hi + lo`` of two values of ``x``'s dtype
    (error-free differences and products, compensated additions), whose gaps to the least
    (differences of the highs, exact where they are near, plus those of the lows) are what
    the tie slack is compared with. Features are added in one fixed order
    (:func:`~anykmeans._libraries._pairs.halving_sum`), and everything else is elementwise:
    every library computes the same bits. The distances and both norms are added up as the
    rows of one array where they share a dtype (each row's sum is its own: the same bits as
    one sum each, in fewer operations).
    """
    m, n_rows = candidates.shape
    shape, eps = (m * n_rows, x.shape[1]), xp.finfo(x.dtype).eps
    chosen = library.take(xp, centres, xp.reshape(candidates, (-1,)))
    lows = None  # the distances' low parts, where they are pairs
    if has_float64(xp, array_api_compat.device(x)):
        x, chosen = xp.astype(x, xp.float64), xp.astype(chosen, xp.float64)
        values = xp.concat([xp.reshape(x[None, ...] - xp.reshape(chosen, (m, *x.shape)), shape),
                            x, chosen])
        values *= values  # our own array: in place (or rebound, where immutable)
        sums, _ = halving_sum(xp, (values, None))
        distances, row_norms, centre_norms = (sums[:shape[0]],
                                              sums[shape[0]:shape[0] + n_rows],
                                              sums[shape[0] + n_rows:])
    else:
        high, low = _two_float_squares(xp, x[None, ...], xp.reshape(chosen, (m, *x.shape)))
        distances, lows = halving_sum(xp, (xp.reshape(high, shape), xp.reshape(low, shape)))
        lows = xp.reshape(lows, (m, n_rows))
        values = xp.concat([x, chosen])
        norms, _ = halving_sum(xp, (values * values, None))
        row_norms, centre_norms = norms[:n_rows], norms[n_rows:]
    distances = xp.reshape(distances, (m, n_rows))
    centre_norms = xp.reshape(centre_norms, (m, n_rows))
    if usable is not None:
        infinity = xp.full((), xp.inf, dtype=distances.dtype,
                           device=array_api_compat.device(x))
        distances = xp.where(usable, distances, infinity)
        centre_norms = xp.where(usable, centre_norms, -infinity)
    nearest = xp.min(distances, axis=0)
    roots = xp.sqrt(xp.stack([nearest, row_norms, xp.max(centre_norms, axis=0)]))
    slack = tie_ulps * eps * roots[0, :] * (roots[1, :] + roots[2, :])
    if lows is None:
        tied = distances <= (nearest + slack)[None, :]
    else:  # gaps to the least pair from exact differences of the highs, not rounded sums
        infinity = xp.full((), xp.inf, dtype=lows.dtype, device=array_api_compat.device(x))
        least_low = xp.min(xp.where(distances == nearest[None, :], lows, infinity), axis=0)
        tied = (distances - nearest[None, :]) + (lows - least_low[None, :]) <= slack[None, :]
    last = xp.full((), centres.shape[0] - 1, dtype=candidates.dtype,
                   device=array_api_compat.device(candidates))
    return xp.min(xp.where(tied, candidates, last), axis=0)


def sq_distances_by_differences(xp: Namespace, points: Array, x: Array) -> Array:
    """Squared distances ``|x_i - p_j|^2`` ``(n_points, n_rows)`` in ``x``'s dtype, from the
    differences: the same bits on every library.

    Every difference and square is rounded once (elementwise, which every library
    rounds correctly) and the features are added in one fixed order
    (:func:`~anykmeans._libraries._pairs.halving_sum`): the result is within
    ``(log2(n_features) + 2)`` units in the last place of the distance itself, not of
    ``|x| |p|`` as one from a matrix product, whose rounding is the library's. It makes
    ``n_points x n_rows x n_features`` values.

    Parameters
    ----------
    points : array of shape (n_points, n_features)
    x : array of shape (n_rows, n_features), ``points``' dtype
    """
    (n_points, n_features), n_rows = points.shape, x.shape[0]
    values = x[None, :, :] - points[:, None, :]
    values *= values  # our own array: in place (or rebound, where immutable)
    sums, _ = halving_sum(xp, (xp.reshape(values, (n_points * n_rows, n_features)), None))
    return xp.reshape(sums, (n_points, n_rows))


def _two_float_squares(xp: Namespace, x: Array, c: Array) -> tuple[Array, Array]:
    """``(x - c)^2`` elementwise as ``hi + lo``, two values of ``x``'s dtype: the
    difference's rounding recovered exactly (Knuth's two-sum), its square's by Dekker's
    product, the small terms rounded once."""
    difference = x - c
    back = difference - x
    error = (x - (difference - back)) + (-c - back)  # exactly x - c - difference
    square = difference * difference
    high, low = split(xp, difference)
    square_error = ((high * high - square) + 2 * high * low) + low * low
    return fast_two_sum(square, square_error + 2 * difference * error)

