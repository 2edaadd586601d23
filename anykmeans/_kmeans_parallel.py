"""k-means|| seeding (scalable k-means++, Bahmani et al., VLDB 2012).

A few rounds each sample many candidates at once, every row independently with
probability ``l * w_i D_i^2 / phi`` (``D_i`` its distance to the nearest
candidate so far, ``phi`` the weighted potential, ``l`` the oversampling
factor times ``k``): a handful of passes over the data instead of k-means++'s
``k``. The candidates, weighted by the weight of the rows nearest them, are
then reduced to ``k`` centres by weighted greedy k-means++ and a weighted
Lloyd run.

The standard has no random number generator, and shipping ``n`` host uniforms
per round would move the data's size across the bus. The per-row uniforms are
instead derived on the device from ``(seed, round, row index)`` by a
counter-based integer hash (:func:`uniform_hash`) written in Array API
operations, so the same seed picks the same candidates on every backend. Only
the seed (one host draw) goes down, and only the picked rows (about ``l`` per
round) are found, by one read of their count. The reduction works on a few
thousand weighted candidates, thousands of small dependent steps: it runs on
the host, in NumPy, after one transfer of the candidates and their weights (as
dask-ml gathers them), and the ``k`` centres go back in one.

Each round is one pass over the rows (:func:`sampling_pass`, run by the
library). A lazy library runs it as one task per block of rows, each keeping
its rows' distances where it was computed; a block does not know the whole
potential ``phi``, so it picks with its own (smaller) potential, a superset of
the rows the whole potential picks, and the rows it returns are sifted on the
small side with the whole potential, by the same comparison.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from typing import Any, NamedTuple

from ._kmeans_plusplus import default_local_trials, kmeans_plusplus_indices
from ._namespace import (
    Array,
    Namespace,
    array_namespace,
    device_of,
    has_float64,
    index_dtype,
    to_host,
)
from ._primitives import Data, assign, sq_distances_to_labels
from ._random import RandomState, choice, uniform

#: Defaults as in cuML and Spark: ``l = 2 k`` candidates a round, and 5 rounds.
DEFAULT_OVERSAMPLING_FACTOR = 2.0
DEFAULT_ROUNDS = 5

#: The candidates' k-means++ tries up to this many times the candidates per seed of a
#: seeding over the data (``2 + int(log k)``). Candidates are few, and more tries are what
#: brings one seeding of them to greedy k-means++'s quality (docs/kmeans-parallel.md).
REDUCE_TRIALS_FACTOR = 2

_MASK32 = 0xFFFFFFFF


def _word_dtype(xp: Namespace, device) -> object:
    """int64 where the device has it (products of 16- and 32-bit words fit), else uint32."""
    signed = xp.__array_namespace_info__().dtypes(device=device, kind="signed integer")
    return xp.int64 if "int64" in signed else xp.uint32


def _mul32(xp: Namespace, h: Array, constant: int) -> Array:
    """``(h * constant) mod 2**32`` for 32-bit words ``h``.

    In int64 the word is split into 16-bit halves so that no product exceeds
    2**49. uint32 (devices without int64, such as JAX without x64) wraps
    modulo 2**32 by itself, as unsigned arithmetic does in every library
    that has it.
    """
    if h.dtype == xp.uint32:  # (JAX refuses Python ints beyond int32 here: pass an array,
        # filled on the device: a copy of a host scalar would be a synchronising transfer)
        return h * xp.full((), constant, dtype=h.dtype, device=device_of(h))
    low, high = h & 0xFFFF, h >> 16
    return (low * constant + (((high * constant) & 0xFFFF) << 16)) & _MASK32


def _fmix32(xp: Namespace, h: Array) -> Array:
    """MurmurHash3's 32-bit finaliser: a bijection of 32-bit words with full avalanche."""
    h = h ^ (h >> 16)
    h = _mul32(xp, h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = _mul32(xp, h, 0xC2B2AE35)
    return h ^ (h >> 16)


def row_keys(xp: Namespace, seed: int, index: Array) -> Array:
    """32-bit keys of the counters ``index`` under ``seed``, the per-row half of the hash.

    Each counter is split into 32-bit halves, mixed with the seed by two
    MurmurHash3 finalisers. k-means|| computes the keys once per fit and
    derives every round's uniforms from them with :func:`uniform_from_keys`.
    """
    device = device_of(index)
    word = _word_dtype(xp, device)
    key = _fmix32(xp, xp.full((), seed & _MASK32, dtype=word, device=device))
    words = xp.astype(index, word)
    if word == xp.uint32:
        low, high = words, xp.zeros_like(words)
    else:
        low, high = words & _MASK32, words >> 32
    return _fmix32(xp, _fmix32(xp, low ^ key) ^ high)


def uniform_from_keys(xp: Namespace, keys: Array, stream: int, dtype) -> Array:
    """Uniforms in [0, 1) for round ``stream`` from :func:`row_keys`' keys (one per key)."""
    # A Weyl step keeps the stream key of round 0 away from fmix32's fixed point 0.
    stream_key = _fmix32(xp, xp.full((), ((stream + 1) * 0x9E3779B9) & _MASK32, dtype=keys.dtype,
                                     device=device_of(keys)))
    h = _fmix32(xp, keys ^ stream_key)
    if dtype == xp.float32:
        return xp.astype(h >> 8, xp.float32) * 2.0**-24
    return xp.astype(h, dtype) * 2.0**-32


def uniform_hash(xp: Namespace, seed: int, stream: int, index: Array, dtype) -> Array:
    """Uniforms in [0, 1), one per entry of ``index``, a pure function of ``(seed, stream, index)``.

    Parameters
    ----------
    seed : int
        In ``[0, 2**32)``.
    stream : int
        A second key (the k-means|| round), so that each round draws
        independently of the others.
    index : integer array
        Non-negative counters (row indices); the result has its shape and device.
    dtype : floating dtype
        float64 gives multiples of ``2**-32``; float32 multiples of ``2**-24``,
        the first 24 of the same 32 bits, so that they are exact.

    Notes
    -----
    Three MurmurHash3 finalisers: two mix the counter with the seed
    (:func:`row_keys`), one mixes that with the stream
    (:func:`uniform_from_keys`). The arithmetic is done in int64 with masking
    (never overflowing) or, on devices without int64, in wrapping uint32; both
    give the same bits, so every backend gets the same uniforms.
    """
    return uniform_from_keys(xp, row_keys(xp, seed, index), stream, dtype)


def _probability_dtype(xp: Namespace, X: Array):
    """float64 where the device has it, so that every backend picks the same rows."""
    return xp.float64 if has_float64(xp, device_of(X)) else X.dtype


class Sample(NamedTuple):
    """The rows a sampling pass picked, with what deciding on them again needs."""

    potential: Array
    rows: Array
    draws: Array
    weight: Array
    closest: Array


def _picked(xp: Namespace, draws: Array, weight: Array, closest: Array, oversampling: float,
            potential: Array) -> Array:
    """Which rows the draws pick: ``u < l w D^2 / phi`` (``u < p`` holds for ``p >= 1``: no
    need to clip ``p`` to 1)."""
    scale = oversampling / xp.where(potential > 0, potential, xp.ones_like(potential))
    return draws < scale * weight * closest


def sampling_pass(data: Data, rows: slice, state: tuple | None, points: Array | None,
                  offset: int, seed: int, stream: int, oversampling: float,
                  dtype) -> tuple[tuple, Sample]:
    """One k-means|| round over ``data``: distances lowered to ``points``, then rows drawn.

    A block pass of :meth:`~anykmeans._libraries._passes.Passes.run`. ``state``
    holds the rows' hash keys, weights (in ``dtype``), squared distances to
    the nearest candidate so far and that candidate's index; at first (None)
    they are made, the distances to ``points``. ``points`` (rows of ``X``,
    not centred) are the candidates picked since, or None; ``offset`` is the
    number of candidates before them. Round ``stream`` then picks each row
    with probability ``l w D^2 / phi``, ``phi`` the rows' weighted potential.

    Returns
    -------
    state : (keys, weight, closest, nearest)
    sample : Sample
        The potential, and the picked rows with their draws, weights and distances.
    """
    xp, X = data.xp, data.X
    if state is None:
        device = device_of(X)
        index = xp.arange(rows.start, rows.stop, dtype=index_dtype(xp, device), device=device)
        keys, weight = row_keys(xp, seed, index), xp.astype(data.weights, dtype)
        nearest, closest = _nearest_candidates(data, points, offset, dtype)
    else:
        keys, weight, closest, nearest = state
        if points is not None:
            closest, nearest = _lowered(data, closest, nearest, points, offset, dtype)
    potential = xp.sum(weight * closest)
    draws = uniform_from_keys(xp, keys, stream, dtype)
    picked = xp.nonzero(_picked(xp, draws, weight, closest, oversampling, potential))[0]
    sample = Sample(potential, data.dense_rows(picked), xp.take(draws, picked),
                    xp.take(weight, picked), xp.take(closest, picked))
    return (keys, weight, closest, nearest), sample


def _nearest_candidates(data: Data, points: Array, offset: int,
                        dtype) -> tuple[Array, Array]:
    """Every row's nearest row among ``points`` (not centred; ties to the lower index), as
    a candidate index (``offset`` plus its position), and the squared distance to it in
    ``dtype``, from the residuals."""
    unweighted = dataclasses.replace(data, weights=None)
    centred = points - data.mean
    labels = assign(unweighted, centred).labels
    distances = data.xp.astype(sq_distances_to_labels(unweighted, centred, labels), dtype)
    return labels + offset, distances


def _lowered(data: Data, closest: Array, nearest: Array, points: Array, offset: int,
             dtype) -> tuple[Array, Array]:
    """``closest`` and ``nearest`` lowered to the candidates ``points``: a row changes its
    nearest candidate only for one strictly nearer (ties stay with the earlier one)."""
    xp = data.xp
    labels, distances = _nearest_candidates(data, points, offset, dtype)
    return xp.minimum(closest, distances), xp.where(distances < closest, labels, nearest)


def weighing_pass(data: Data, rows: slice, state: tuple, points: Array | None, offset: int,
                  n_candidates: int) -> tuple[None, Array]:
    """The weight of the rows nearest each candidate, the last ``points`` (picked in the
    last round, at ``offset``) applied first: a block pass."""
    xp, library = data.xp, data.library
    _, weight, closest, nearest = state
    if points is not None:
        _, nearest = _lowered(data, closest, nearest, points, offset, closest.dtype)

    def chunk(s: slice) -> Array:
        return library.segment_sum(xp, weight[s], nearest[s], n_candidates)

    return None, functools.reduce(operator.add, data.map(chunk, n_candidates, weight.dtype))


def _sift(samples: list[Sample], oversampling: float) -> tuple[Array, Array]:
    """The whole potential and the rows it picks, from the samples of the blocks.

    A block picked with its own potential, at most the whole one; ``u < p`` is
    monotone in ``p`` under rounding, so the whole potential picks a subset of
    the rows returned, found by the same comparison. One block's rows are
    those the whole potential picks.
    """
    if len(samples) == 1:
        return samples[0].potential, samples[0].rows
    xs = array_namespace(samples[0].rows)
    potential = functools.reduce(operator.add, (sample.potential for sample in samples))
    rows = [xs.take(sample.rows, xs.nonzero(_picked(xs, sample.draws, sample.weight,
                                                    sample.closest, oversampling,
                                                    potential))[0], axis=0)
            for sample in samples]
    return potential, xs.concat(rows)


def kmeans_parallel_centres(data: Data, n_clusters: int, rng: RandomState, *,
                            oversampling_factor: float = DEFAULT_OVERSAMPLING_FACTOR,
                            n_rounds: int = DEFAULT_ROUNDS) -> Array:
    """``n_clusters`` initial centres by k-means||, in the centred frame (``X - mean``).

    Parameters
    ----------
    data : Data
        The rows, their centring offset and their (non-optional) weights,
        which scale both the sampling and the candidates' weights.
    rng : numpy RandomState or Generator
        Draws the first candidate (as k-means++ draws its first seed), the
        hash seed, and the k-means++ draws over the candidates.
    oversampling_factor : float
        ``l / n_clusters``: each round picks about ``l`` rows.
    n_rounds : int
        Sampling rounds. More are made while there are fewer than
        ``n_clusters`` candidates and rows left at a positive distance.

    Returns
    -------
    centres : array of shape (n_clusters, n_features), ``X``'s dtype and device.
        Repeated rows only when ``X`` has fewer distinct rows (of positive
        weight) than ``n_clusters``.

    Notes
    -----
    The first candidate (its index) is one evaluation, each round one pass
    and the candidates' weights one more: ``n_rounds + 2`` round trips to a
    lazy library's workers.
    """
    xp, X, library = data.xp, data.X, data.library
    dtype = _probability_dtype(xp, X)
    oversampling = oversampling_factor * n_clusters
    first, mean = library.passes.to_small_side(
        xp.reshape(choice(xp, rng, data.weights), (1,)), data.mean)
    seed = int(uniform(rng, 1)[0] * 2**32)
    picked: Any = library.passes.take_rows(data, first)
    candidates = []
    n_candidates, offset, potential, state, round_ = 1, 0, None, None, 0
    while round_ < n_rounds or (n_candidates < n_clusters and float(to_host(potential)) > 0):
        state, samples, (points, *_) = library.passes.run(
            data, sampling_pass, state, picked, offset, seed, round_, oversampling, dtype,
            listed=True)
        if points is not None:
            candidates.append(points)
        potential, picked = _sift(samples, oversampling)
        round_ += 1
        if picked.shape[0] == 0:
            picked = None
        offset = n_candidates  # the index of the first row picked
        n_candidates += 0 if picked is None else picked.shape[0]
    if picked is not None:
        candidates.append(picked)

    xs = array_namespace(candidates[0])  # the small side
    candidates = xs.concat(candidates) - mean
    if n_candidates < n_clusters:  # every row sits on a candidate: repeat some
        repeat = xs.arange(n_clusters, dtype=index_dtype(xs, device_of(candidates)),
                           device=device_of(candidates)) % n_candidates
        return library.passes.from_small_side(X, xs.take(candidates, repeat, axis=0))[0]
    nearest_weight = library.passes.run(data, weighing_pass, state, picked, offset,
                                      n_candidates).small
    return library.passes.from_small_side(X, _reduce(
        candidates, xs.astype(nearest_weight, X.dtype), n_clusters, X.shape[0], rng))[0]


def reduce_trials(n_clusters: int, n_candidates: int, n_samples: int) -> int:
    """Tries per seed of the candidates' k-means++: :data:`REDUCE_TRIALS_FACTOR` times the
    usual, but no more than keeps its work (candidates times tries) within half of a
    k-means++ seeding's over the ``n_samples`` rows, and never fewer than the usual."""
    usual = default_local_trials(n_clusters)
    affordable = usual * n_samples // (2 * n_candidates)
    return max(usual, min(REDUCE_TRIALS_FACTOR * usual, affordable))


def _reduce(candidates: Array, weight: Array, n_clusters: int, n_samples: int,
            rng: RandomState) -> Array:
    """``n_clusters`` centres of the weighted ``candidates`` (in the centred frame), where
    they are: one weighted greedy k-means++ seeding (:func:`reduce_trials` tries per seed)."""
    xs = array_namespace(candidates)
    origin = xs.zeros(candidates.shape[1], dtype=candidates.dtype,
                      device=device_of(candidates))
    seeds = kmeans_plusplus_indices(Data(candidates, origin, weight), n_clusters, rng,
                                    reduce_trials(n_clusters, candidates.shape[0], n_samples))
    return xs.take(candidates, seeds, axis=0)
