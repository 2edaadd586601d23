"""Mini-batch k-means (Sculley, WWW 2010), as scikit-learn 1.9 does it.

Each step assigns a small batch of rows to the nearest centres and moves
every centre that received rows to the weighted mean of everything it has
ever received: ``c <- (n c + sum_batch w x) / (n + sum_batch w)``, ``n`` the
centre's accumulated weight (its "count"), so that the learning rate of a
centre is the reciprocal of its count. Every ``10 k`` rows, and whenever a
centre has never received weight, centres whose count is below
``reassignment_ratio`` times the largest one jump to random rows of the batch.

:func:`fit_minibatch` samples batches from an array it holds, seeds from
``n_init`` candidates compared on a validation subsample, and stops early on
the centre shift or when an exponentially weighted average of the batch
inertia stops improving. The estimator ``MiniBatchKMeans``
(:mod:`anykmeans._estimators._minibatch`) also learns from a stream of chunks
with ``partial_fit``, one :func:`minibatch_step` per chunk.

Random numbers come from the host in scikit-learn's order, so an integer
``random_state`` draws scikit-learn's batches; batch indices are found on the
device from host uniforms, drawn for many steps ahead and sent down together
(:class:`~anykmeans._random.StagedUniforms`). Per step one small vector crosses
to the host (batch inertia, centre shift, centres to reassign, centres without
weight), and one more number in a step that reassigns centres while
``tol > 0``.
Centres live in a centred frame, ``x - offset``, the offset being the mean of
the first rows the model saw (the validation subsample in ``fit``, the first
chunk in ``partial_fit``).

Spherical (cosine) mini-batch k-means puts the rows on the unit sphere and the
centres back on it after every step (:mod:`anykmeans._sphere`); its inertias are
sums of ``1 - cos``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._kmeans import Init, _tolerance, resolve_n_init
from ._libraries import library_of
from ._namespace import (
    Array,
    Namespace,
    device_of,
    index_dtype,
    materialise,
    on_data_device,
    to_host,
)
from ._primitives import Data, assign, labelled_inertia, labels_and_inertia
from ._random import (
    RandomState,
    StagedUniforms,
    check_random_state,
    cumulative_distribution,
    integers,
    search_cdf,
)
from ._seeding import initial_centres
from ._sphere import COSINE_PER_SQUARED_DISTANCE, on_sphere, unit_rows
from ._validation import (
    DeferredChecks,
    check_bool,
    check_centres,
    check_data,
    check_init_method,
    check_metric,
    check_n_clusters,
    check_n_init,
    check_non_negative,
    check_positive_int,
    check_sample_weight,
    check_tol,
    check_verbose,
)

#: Candidate seedings that ``n_init="auto"`` compares for random and callable inits.
AUTO_N_INIT = 3


# -- parameters ----------------------------------------------------------------------------


def resolve_minibatch_n_init(n_init: int | str, init: Init) -> int:
    """The number of candidate seedings: ``"auto"`` is 1 for k-means++, k-means|| and
    arrays, 3 for random and callables (scikit-learn's choice for mini-batches)."""
    n_init = check_n_init(n_init)
    if n_init == "auto" and (callable(init) or (isinstance(init, str) and init == "random")):
        return AUTO_N_INIT
    return resolve_n_init(n_init, init)


def resolve_sizes(batch_size: int, init_size: int | None, n_clusters: int,
                  n_samples: int) -> tuple[int, int]:
    """``(batch_size, init_size)`` for ``n_samples`` rows, as scikit-learn sizes them.

    The batch is at most the data. The init subsample defaults to three
    batches (at least ``3 n_clusters`` rows), is raised to ``3 n_clusters``
    with a ``RuntimeWarning`` when asked smaller than ``n_clusters``, and is at
    most the data.
    """
    batch_size = min(check_positive_int(batch_size, "batch_size"), n_samples)
    if init_size is None:
        init_size = 3 * batch_size if 3 * batch_size >= n_clusters else 3 * n_clusters
    else:
        init_size = check_positive_int(init_size, "init_size")
        if init_size < n_clusters:
            warnings.warn(
                f"init_size={init_size} should be larger than n_clusters={n_clusters}. "
                "Setting it to min(3*n_clusters, n_samples)",
                RuntimeWarning,
                stacklevel=3,
            )
            init_size = 3 * n_clusters
    return batch_size, min(init_size, n_samples)


# -- one step --------------------------------------------------------------------------------


class MiniBatchStep(NamedTuple):
    """What one mini-batch step produced.

    Attributes
    ----------
    centres : array of shape (n_clusters, n_features)
        The updated centres, in the centred frame.
    counts : array of shape (n_clusters,)
        The accumulated weight of every centre.
    inertia : float
        Weighted squared distances (cosine distances, for a spherical step) of the batch to
        the centres *before* the step.
    shift : float
        Sum of squared centre moves (0.0 unless asked for).
    has_empty : bool
        Whether a centre has still received no weight (the next step then reassigns).
    n_reassigned : int
        Centres moved to random rows of the batch.
    labels : array of shape (n_rows,) or None
        The nearest updated centre of every row, when asked for (``relabel``).
    labelled_inertia : float
        Their exact weighted inertia (NaN unless asked for).
    """

    centres: Array
    counts: Array
    inertia: float
    shift: float
    has_empty: bool
    n_reassigned: int
    labels: Array | None = None
    labelled_inertia: float = math.nan


def _low_count_centres(xp: Namespace, counts: Array, ratio: float, n_rows: int) -> Array:
    """Centres to reassign: count below ``ratio * max(count)``, at most ``n_rows // 2`` of them.

    When too many qualify, the ones with the smallest counts are kept (rank by
    a stable sort; the low ones are exactly the first in that order).
    """
    low = counts < ratio * xp.max(counts)
    rank = xp.argsort(xp.argsort(counts, stable=True), stable=True)
    return low & (rank < int(0.5 * n_rows))


def _move_to_rows(xp: Namespace, centres: Array, low: Array, rows: Array) -> Array:
    """``centres`` with the ``j``-th centre flagged in ``low`` replaced by ``rows[j]``."""
    position = xp.cumulative_sum(xp.astype(low, index_dtype(xp, device_of(low)))) - 1
    first = xp.zeros((), dtype=position.dtype, device=device_of(position))
    return xp.where(low[:, None], xp.take(rows, xp.maximum(position, first), axis=0), centres)


def minibatch_step(xp: Namespace, x: Array, sample_weight: Array | None, centres: Array,
                   counts: Array, offset: Array, rng: RandomState, *, reassign: bool,
                   reassignment_ratio: float, chunk_size: int | None, with_shift: bool,
                   verbose: int = 0, spherical: bool = False,
                   before_drawing: Callable[[], None] | None = None,
                   relabel: Data | None = None,
                   checks: DeferredChecks | None = None) -> MiniBatchStep:
    """One mini-batch update of ``centres`` from the rows ``x``.

    Parameters
    ----------
    x : array of shape (n_rows, n_features)
        The batch, uncentred.
    sample_weight : array of shape (n_rows,) or None
        Weights of the batch rows; None for unit weights.
    centres : array of shape (n_clusters, n_features)
        Centres in the centred frame (``x - offset``).
    counts : array of shape (n_clusters,)
        Accumulated weight of every centre (zeros before the first step).
    offset : array of shape (n_features,)
        The centring offset.
    rng : RandomState
        Draws the batch rows that reassigned centres move to.
    reassign : bool
        Whether this step reassigns centres of low count.
    reassignment_ratio : float
    chunk_size : int or None
        Rows per assignment chunk; None lets the library choose.
    with_shift : bool
        Also measure the squared centre shift (for ``tol``).
    verbose : int
        Print the number of reassigned centres when positive.
    spherical : bool, default=False
        Spherical k-means: ``x``'s rows are unit vectors, and the moved centres
        are put back on the unit sphere (:func:`~anykmeans._sphere.on_sphere`).
    before_drawing : callable, optional
        Called before the step draws from ``rng``: a caller that drew from it
        ahead puts it back (:meth:`~anykmeans._random.StagedUniforms.settle`).
    relabel : Data, optional
        Rows to assign to the updated centres, with their exact inertia: read
        with the step's numbers (again in a step that reassigns centres).
    checks : DeferredChecks, optional
        The batch's value checks, read with the step's numbers and done before
        anything else is (a failing one raises its error).

    Returns
    -------
    MiniBatchStep
    """
    dtype = x.dtype
    step = assign(Data(x, offset, sample_weight, chunk_size), centres, update=True)
    counts_new = counts + step.weight_sums
    received = step.weight_sums > 0
    reciprocal = 1.0 / xp.where(received, counts_new, xp.ones_like(counts_new))
    sums = xp.astype(step.sums, dtype)  # added up in float64 where the pass does (Assignment)
    moved = (centres * counts[:, None] + sums) * reciprocal[:, None]
    new_centres = xp.where(received[:, None], moved, centres)
    if spherical:
        new_centres = on_sphere(xp, new_centres, offset)
    zero = xp.zeros((), dtype=dtype, device=device_of(x))
    low, n_low = None, zero
    if reassign and reassignment_ratio > 0:
        low = _low_count_centres(xp, counts_new, reassignment_ratio, x.shape[0])
        # Reassigned centres restart from the smallest count kept, not from zero.
        smallest_kept = xp.min(xp.where(low, xp.max(counts_new), counts_new))
        counts_new = xp.where(low, smallest_kept, counts_new)
        n_low = xp.sum(xp.astype(low, dtype))
    read_with = [
        step.inertia,
        xp.sum((new_centres - centres) ** 2) if with_shift else zero,
        n_low,
        xp.sum(xp.astype(counts_new == 0, dtype)),
    ]
    labels = None
    if relabel is not None:
        labels = assign(relabel, new_centres).labels
        read_with.append(labelled_inertia(relabel, new_centres, labels))
    stats = xp.stack(read_with)
    if checks is not None:
        stats = xp.concat([stats, xp.astype(checks.values, dtype)])
    new_centres, counts_new, stats = materialise(new_centres, counts_new, stats)
    read = to_host(stats)
    if checks is not None:
        checks.recheck(read[len(read_with):])
    inertia, shift, n_low, n_empty = (float(v) for v in read[:4])
    labelled = float(read[4]) if relabel is not None else math.nan
    if spherical:
        inertia *= COSINE_PER_SQUARED_DISTANCE
    n_reassigned = int(n_low)
    if n_reassigned:
        if before_drawing is not None:
            before_drawing()
        drawn = rng.choice(x.shape[0], size=n_reassigned, replace=False)
        if verbose:
            print(f"[MiniBatchKMeans] Reassigning {n_reassigned} cluster centers.")
        batch_rows = (Data(x, offset).dense_rows(xp.asarray(drawn, device=device_of(x)))
                      - offset)
        new_centres = _move_to_rows(xp, new_centres, low, batch_rows)
        if with_shift:
            shift = float(to_host(xp.sum((new_centres - centres) ** 2)))
        if relabel is not None:
            labels, labelled = labels_and_inertia(relabel, new_centres)
    return MiniBatchStep(new_centres, counts_new, inertia, shift, n_empty > 0, n_reassigned,
                         labels, labelled)


@dataclass
class ReassignSchedule:
    """When steps reassign: after every ``10 n_clusters`` rows, and while a centre has no weight."""

    n_clusters: int
    batch_size: int
    rows_since: int = 0
    has_empty: bool = True

    def due(self) -> bool:
        """Whether the coming step reassigns (counting its rows)."""
        self.rows_since += self.batch_size
        if self.has_empty or self.rows_since >= 10 * self.n_clusters:
            self.rows_since = 0
            return True
        return False


# -- fit on an array in hand ------------------------------------------------------------------


@dataclass
class EarlyStopping:
    """scikit-learn's stopping rules over the batch inertias of :func:`fit_minibatch`.

    The mean batch inertia is smoothed by an exponentially weighted average
    (weight ``2 batch_size / (n_samples + 1)``, the first step left out: it
    measures the seeding). A run stops when the centre shift is at most
    ``tol`` (when ``tol > 0``) or when the average has not reached a new
    minimum for ``max_no_improvement`` steps (when not None).
    """

    batch_size: int
    n_samples: int
    tol: float
    max_no_improvement: int | None
    verbose: int = 0
    ewa_inertia: float | None = None
    ewa_inertia_min: float | None = None
    no_improvement: int = 0

    def __call__(self, step: int, n_steps: int, shift: float, batch_inertia: float) -> bool:
        """Whether to stop after ``step`` (counted from 0)."""
        batch_inertia /= self.batch_size
        step += 1
        if step == 1:
            if self.verbose:
                print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {batch_inertia}")
            return False
        if self.ewa_inertia is None:
            self.ewa_inertia = batch_inertia
        else:
            alpha = min(self.batch_size * 2.0 / (self.n_samples + 1), 1.0)
            self.ewa_inertia = self.ewa_inertia * (1 - alpha) + batch_inertia * alpha
        if self.verbose:
            print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {batch_inertia}, "
                  f"ewa inertia: {self.ewa_inertia}")
        if self.tol > 0.0 and shift <= self.tol:
            if self.verbose:
                print(f"Converged (small centers change) at step {step}/{n_steps}")
            return True
        if self.ewa_inertia_min is None or self.ewa_inertia < self.ewa_inertia_min:
            self.no_improvement = 0
            self.ewa_inertia_min = self.ewa_inertia
        else:
            self.no_improvement += 1
        if self.max_no_improvement is not None and self.no_improvement >= self.max_no_improvement:
            if self.verbose:
                print(f"Converged (lack of improvement in inertia) at step {step}/{n_steps}")
            return True
        return False


@dataclass(frozen=True)
class MiniBatchRun:
    """What :func:`fit_minibatch` found; ``centres`` are in the centred frame.

    ``labels`` and ``inertia`` are over all of ``X`` when ``compute_labels``;
    otherwise ``labels`` is None and ``inertia`` the smoothed batch inertia
    scaled to the total weight. ``counts``, ``schedule`` and ``batch_size``
    let ``partial_fit`` continue the run.
    """

    centres: Array
    offset: Array
    counts: Array
    labels: Array | None
    inertia: float
    n_steps: int
    n_iter: int
    schedule: ReassignSchedule
    batch_size: int


def _take_rows(xp: Namespace, X: Array, indices: np.ndarray) -> Array:
    """The rows of ``X`` (data, in its own kind, or weights) at host ``indices``; only the
    indices cross to the device."""
    return library_of(X).rows_at(xp, X, xp.asarray(indices, device=device_of(X)))


def centring_offset(xp: Namespace, X: Array) -> Array:
    """The offset a mini-batch fit on ``X`` centres on: the features' mean, or zeros where
    ``X``'s library does not centre (sparse data), evaluated."""
    library = library_of(X)
    (offset,) = materialise(library.centring_offset(xp, library.feature_means(xp, X)))
    return offset


def seed_centres(xp: Namespace, X: Array, sample_weight: Array, n_clusters: int, init: Init,
                 rng: RandomState, offset: Array, init_size: int,
                 chunk_size: int | None, spherical: bool = False) -> Array:
    """Initial centres (centred frame) from ``init`` on ``init_size`` rows drawn with replacement.

    The whole of ``X`` is used, and nothing drawn, when ``init_size`` covers it.
    ``spherical``: as :func:`~anykmeans._seeding.initial_centres`'s.
    """
    if init_size < X.shape[0]:
        chosen = integers(rng, X.shape[0], init_size)
        X, sample_weight = _take_rows(xp, X, chosen), _take_rows(xp, sample_weight, chosen)
    return initial_centres(Data(X, offset, sample_weight, chunk_size), n_clusters, init, rng,
                           spherical)


@on_data_device
def fit_minibatch(X: Array, n_clusters: int, *, sample_weight: Array | None = None,
                  init: Init = "k-means++", n_init: int | str = "auto", max_iter: int = 100,
                  batch_size: int = 1024, tol: float = 0.0,
                  max_no_improvement: int | None = 10, init_size: int | None = None,
                  reassignment_ratio: float = 0.01, random_state: Any = None,
                  compute_labels: bool = True, chunk_size: int | None = None,
                  verbose: int = 0, metric: str = "euclidean") -> MiniBatchRun:
    """Mini-batch k-means on ``X``, with scikit-learn's ``MiniBatchKMeans.fit`` semantics.

    Parameters are those of :class:`MiniBatchKMeans`. Batches of
    ``batch_size`` rows are drawn with replacement with probability
    proportional to ``sample_weight`` (then given unit weight), for at most
    ``max_iter`` passes' worth of rows. The seeding is the best of ``n_init``
    candidates, each computed on ``init_size`` rows drawn with replacement and
    compared by inertia on one more such draw (the validation subsample).

    Raises
    ------
    ValueError, TypeError
        For invalid data or parameters; the message names the problem.
    """
    xp, X = check_data(X)
    n_samples = X.shape[0]
    n_clusters = check_n_clusters(n_clusters, n_samples)
    spherical = check_metric(metric) == "cosine"
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_tol(tol)
    if max_no_improvement is not None:
        max_no_improvement = check_non_negative(max_no_improvement, "max_no_improvement",
                                                integral=True)
    reassignment_ratio = check_non_negative(reassignment_ratio, "reassignment_ratio")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    compute_labels = check_bool(compute_labels, "compute_labels")
    verbose = check_verbose(verbose)
    batch_size, init_size = resolve_sizes(batch_size, init_size, n_clusters, n_samples)
    n_init = resolve_minibatch_n_init(n_init, check_init_method(init))
    rng = check_random_state(random_state)
    sample_weight = check_sample_weight(sample_weight, xp, X)
    if not isinstance(init, str) and not callable(init):
        init = check_centres(init, xp, X, n_clusters)
    if spherical:
        X = unit_rows(xp, X)

    validation = integers(rng, n_samples, init_size)
    X_valid = _take_rows(xp, X, validation)
    weight_valid = _take_rows(xp, sample_weight, validation)
    offset = centring_offset(xp, X_valid)
    validation_data = Data(X_valid, offset, weight_valid, chunk_size)
    best_centres, best_inertia = None, math.inf
    for candidate in range(n_init):
        if verbose:
            print(f"Init {candidate + 1}/{n_init} with method {init}")
        centres = seed_centres(xp, X, sample_weight, n_clusters, init, rng, offset, init_size,
                               chunk_size, spherical)
        inertia = float(to_host(assign(validation_data, centres).inertia))
        if verbose:
            print(f"Inertia for init {candidate + 1}/{n_init}: {inertia}")
        if best_centres is None or inertia < best_inertia:
            best_centres, best_inertia = centres, inertia

    centres = best_centres
    counts = xp.zeros(n_clusters, dtype=X.dtype, device=device_of(X))
    schedule = ReassignSchedule(n_clusters, batch_size)
    stopping = EarlyStopping(batch_size, n_samples, _tolerance(xp, X, tol), max_no_improvement,
                             verbose)
    cdf = cumulative_distribution(xp, sample_weight / xp.sum(sample_weight))
    draws = StagedUniforms(xp, rng, batch_size, cdf.dtype, device_of(cdf))
    n_steps = (max_iter * n_samples) // batch_size
    inertia = math.nan
    for i in range(n_steps):
        batch = library_of(X).rows_at(xp, X, search_cdf(xp, cdf, draws.next()))
        step = minibatch_step(xp, batch, None, centres, counts, offset, rng,
                              reassign=schedule.due(), reassignment_ratio=reassignment_ratio,
                              chunk_size=chunk_size, with_shift=stopping.tol > 0.0,
                              verbose=verbose, spherical=spherical,
                              before_drawing=draws.settle)
        centres, counts, inertia = step.centres, step.counts, step.inertia
        schedule.has_empty = step.has_empty
        if stopping(i, n_steps, step.shift, step.inertia):
            break
    draws.settle()
    n_steps = i + 1

    labels = None
    if compute_labels:
        labels, inertia = labels_and_inertia(Data(X, offset, sample_weight, chunk_size), centres)
        if spherical:
            inertia *= COSINE_PER_SQUARED_DISTANCE
    else:
        ewa = stopping.ewa_inertia if stopping.ewa_inertia is not None else inertia / batch_size
        inertia = ewa * float(to_host(xp.sum(sample_weight)))
    return MiniBatchRun(centres, offset, counts, labels, inertia, n_steps,
                        math.ceil(n_steps * batch_size / n_samples), schedule, batch_size)


# -- the estimator -----------------------------------------------------------------------------
