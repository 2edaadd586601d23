"""The functional core: :func:`kmeans`, :func:`k_means` and :func:`kmeans_plusplus`.

Validation, then seeding and Lloyd runs, keeping the best of ``n_init``.
Nothing here knows about scikit-learn's estimator conventions; nothing here
knows which array library it holds.
"""

from __future__ import annotations

import functools
import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from ._exceptions import ConvergenceWarning, sklearn_compatible
from ._kmeans_parallel import DEFAULT_OVERSAMPLING_FACTOR, DEFAULT_ROUNDS
from ._kmeans_plusplus import kmeans_plusplus_indices
from ._libraries import Library, library_of
from ._lloyd import LloydRun, lloyd
from ._namespace import Array, Namespace, array_namespace, device_of, on_data_device, to_host
from ._primitives import Data
from ._random import check_random_state
from ._seeding import initial_centres
from ._sphere import unit_rows
from ._validation import (
    check_algorithm,
    check_bool,
    check_centres,
    check_data,
    check_init_method,
    check_magnitude,
    check_metric,
    check_n_clusters,
    check_n_init,
    check_positive_int,
    check_positive_real,
    check_row_sq_norms,
    check_sample_weight,
    check_tol,
    check_verbose,
    largest_magnitude,
)

Init = Union[str, Array, Callable[..., Array]]  # noqa: UP007 (a runtime alias)

#: Restarts that ``n_init="auto"`` makes for random and callable inits.
AUTO_N_INIT = 10


@dataclass(frozen=True)
class KMeansResult:
    """What :func:`kmeans` found.

    Attributes
    ----------
    centers : array of shape (n_clusters, n_features)
        Cluster centres, in the library, on the device and in the dtype of the data.
    labels : integer array of shape (n_samples,)
        Index of the centre nearest to each sample.
    inertia : float
        Weighted sum of squared distances of the samples to their centres
        (of cosine distances ``1 - cos`` with ``metric="cosine"``).
    n_iter : int
        Lloyd iterations of the best run.
    converged : bool
        Whether the best run stopped on convergence rather than on ``max_iter``.
    inertia_history : tuple of float
        The best run's inertia after each iteration's assignment, measured
        against the centres that assignment used; it never increases.
    inertia_histories : tuple of tuple of float
        Every run's ``inertia_history``, in the order the runs were made (one
        per restart of ``n_init``); the best run's is among them.
    """

    centers: Array
    labels: Array
    inertia: float
    n_iter: int
    converged: bool
    inertia_history: tuple[float, ...]
    inertia_histories: tuple[tuple[float, ...], ...]


def resolve_n_init(n_init: int | str, init: Init) -> int:
    """The number of runs ``n_init`` asks for: ``"auto"`` is 1 for k-means++, k-means|| and arrays.

    An explicit array of centres gives one run whatever ``n_init`` says, with a
    ``RuntimeWarning`` when more were asked for.
    """
    explicit = not isinstance(init, str) and not callable(init)
    if n_init == "auto":
        return 1 if explicit or init in ("k-means++", "k-means||") else AUTO_N_INIT
    if explicit and n_init != 1:
        warnings.warn(
            "Explicit initial center position passed: performing only one init "
            f"in KMeans instead of n_init={n_init}.",
            RuntimeWarning,
            stacklevel=3,
        )
        return 1
    return n_init


def check_algorithm_for(algorithm: Any, n_clusters: Any) -> str:
    """Return ``algorithm`` if it is an accepted name (Lloyd's algorithm runs either way).

    Warns
    -----
    RuntimeWarning
        For ``"elkan"`` with one cluster, as scikit-learn warns (its words).
    """
    algorithm = check_algorithm(algorithm)
    if algorithm == "elkan" and n_clusters == 1:
        warnings.warn("algorithm='elkan' doesn't make sense for a single cluster. Using "
                      "'lloyd' instead.", RuntimeWarning, stacklevel=3)
    return algorithm


def variance_pass(data: Data, rows: slice, state: None) -> tuple[None, Array]:
    """The per-feature sums of the squared centred rows of ``data``, chunk by chunk: a block
    pass of :meth:`~anykmeans._libraries._passes.Passes.run`."""
    def chunk(s: slice) -> Array:
        return data.library.sq_deviation_sums(data.xp, data.X, s, data.mean)

    return None, functools.reduce(operator.add, data.map(chunk, 1))


def _mean_variance(xp: Namespace, X: Array, mean: Array | None = None) -> Array:
    """The mean variance of the features (0-d, on the library's small side), from the sums
    of squares of centred chunks (no temporary of ``X``'s size); ``mean``, the features'
    mean on the small side, is computed when None."""
    library = library_of(X)
    if mean is None:
        (mean,) = library.passes.to_small_side(library.feature_means(xp, X))
    sums = library.passes.run(Data(X, mean), variance_pass, None).small
    return array_namespace(sums).mean(sums) / X.shape[0]


def _tolerance(xp: Namespace, X: Array, tol: float) -> float:
    """``tol`` scaled by the mean variance of the features."""
    if tol == 0:
        return 0.0
    return float(to_host(_mean_variance(xp, X))) * tol


def _seeds(data: Data, n_clusters: int, init: Init, rng: Any, spherical: bool, verbose: int,
           **parallel_options: Any) -> Array:
    """A run's initial centres (:func:`~anykmeans._seeding.initial_centres`) on the library's
    small side."""
    (centres,) = data.library.passes.to_small_side(initial_centres(
        data, n_clusters, init, rng, spherical, **parallel_options))
    if verbose:
        print("Initialization complete")
    return centres


def _centring(xp: Namespace, library: Library, X: Array, tol: float, *,
              means: bool = True) -> tuple[Array, float, Array | None]:
    """The centring offset (the mean of ``X``, on the library's small side; zeros for a
    library that does not centre, :meth:`~anykmeans._libraries.Library.centring_offset`),
    ``tol`` scaled as :func:`_tolerance` does and the features' means (small side), with
    ``X``'s values checked (:func:`check_magnitude`): the check and the mean are one pass
    over a lazy ``X``, the variance (when ``tol`` is not zero) one more. Without ``means``
    the features' means are None, and not computed where nothing needs them (a library
    that does not centre, ``tol`` zero: scikit-learn computes none for sparse data then)."""
    if means or tol != 0 or library.centring:
        largest, mean = library.passes.to_small_side(largest_magnitude(xp, X),
                                                     library.feature_means(xp, X))
    else:
        (largest,) = library.passes.to_small_side(largest_magnitude(xp, X))
        mean = array_namespace(largest).zeros(X.shape[1], dtype=X.dtype,
                                              device=device_of(largest))
    check_magnitude(float(largest), X)  # a lone scalar, as validation reads it
    offset = library.centring_offset(array_namespace(mean), mean)
    feature_means = mean if means else None
    if tol == 0:
        return offset, 0.0, feature_means
    return offset, float(to_host(_mean_variance(xp, X, mean))) * tol, feature_means


def same_clustering(xp: Namespace, labels: Array, other: Array) -> bool:
    """Whether two labellings are the same partition up to renaming the clusters.

    They are when, sorting the samples by one labelling, the other one is
    constant on every run of equal labels, and the same the other way round.
    """
    def is_function_of(keys: Array, values: Array) -> bool:
        order = xp.argsort(keys, stable=True)
        keys, values = xp.take(keys, order), xp.take(values, order)
        same_key = keys[1:] == keys[:-1]
        return bool(xp.all(~same_key | (values[1:] == values[:-1])))

    return is_function_of(labels, other) and is_function_of(other, labels)


@on_data_device
def fit_kmeans(X: Array, n_clusters: int, *, sample_weight: Array | None, init: Init,
               n_init: int | str, max_iter: int, tol: float, random_state: Any,
               chunk_size: int | None, verbose: int,
               oversampling_factor: float = DEFAULT_OVERSAMPLING_FACTOR,
               init_max_iter: int = DEFAULT_ROUNDS,
               on_iteration: Callable[[int, int, float], None] | None = None,
               metric: str = "euclidean") -> tuple[KMeansResult, Array]:
    """:func:`kmeans`, also returning the centring offset (the mean of ``X``).

    The estimator keeps the offset to assign new data in the same frame, so
    that ``predict`` on the training data gives back the fitted labels exactly.
    ``on_iteration``, when given, is called as ``on_iteration(restart,
    iteration, inertia)`` (0-based restart and iteration, host numbers) after
    every Lloyd iteration of every restart, for progress reporting. With
    ``metric="cosine"`` the offset is the mean of the rows put on the unit sphere.
    """
    spherical = check_metric(metric) == "cosine"
    # Values are checked with the mean (see _centring), a cosine fit's before its rows' norms.
    xp, X = check_data(X, values=spherical)
    n_clusters = check_n_clusters(n_clusters, X.shape[0])
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_tol(tol)
    n_init = resolve_n_init(check_n_init(n_init), check_init_method(init))
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    oversampling_factor = check_positive_real(oversampling_factor, "oversampling_factor")
    init_max_iter = check_positive_int(init_max_iter, "init_max_iter")
    verbose = check_verbose(verbose)
    rng = check_random_state(random_state)
    unit_weights = sample_weight is None
    sample_weight = check_sample_weight(sample_weight, xp, X)
    if not isinstance(init, str) and not callable(init):
        init = check_centres(init, xp, X, n_clusters)

    library = library_of(X)
    if spherical:
        X = unit_rows(xp, X)
    with library.passes.resident(X, n_clusters) as X:
        mean, tol, _ = _centring(xp, library, X, tol, means=False)
        seeding = Data(X, mean, sample_weight, chunk_size)
        data = Data(X, mean, None if unit_weights else sample_weight, chunk_size)
        best: LloydRun | None = None
        histories = []
        for restart in range(n_init):
            # The seeds are handed to the run, not kept beside its centres.
            run = lloyd(data, _seeds(seeding, n_clusters, init, rng, spherical, verbose,
                                     oversampling_factor=oversampling_factor,
                                     n_rounds=init_max_iter),
                        max_iter=max_iter, tol=tol, verbose=verbose,
                        on_iteration=None if on_iteration is None
                        else functools.partial(on_iteration, restart), spherical=spherical)
            histories.append(run.inertia_history)
            if best is None or (run.inertia < best.inertia
                                and not same_clustering(xp, run.labels, best.labels)):
                best = run

    xs = array_namespace(best.counts)  # the small side
    n_distinct = int(to_host(xs.sum(xs.astype(best.counts > 0, best.counts.dtype))))
    if n_distinct < n_clusters:
        warnings.warn(
            f"Number of distinct clusters ({n_distinct}) found smaller than "
            f"n_clusters ({n_clusters}). Possibly due to duplicate points in X.",
            sklearn_compatible(ConvergenceWarning),
            stacklevel=2,
        )
    centres = best.centres  # the run's own array
    centres += mean  # in place (immutable arrays rebind): no second array of the centres
    centres, mean = library.passes.from_small_side(X, centres, mean)
    result = KMeansResult(centres, best.labels, best.inertia, best.n_iter, best.converged,
                          best.inertia_history, tuple(histories))
    return result, mean


def kmeans(
    X: Array,
    n_clusters: int,
    *,
    sample_weight: Array | None = None,
    init: Init = "k-means++",
    n_init: int | str = "auto",
    max_iter: int = 300,
    tol: float = 1e-4,
    random_state: Any = None,
    chunk_size: int | None = None,
    verbose: int = 0,
    oversampling_factor: float = DEFAULT_OVERSAMPLING_FACTOR,
    init_max_iter: int = DEFAULT_ROUNDS,
    metric: str = "euclidean",
) -> KMeansResult:
    """Cluster ``X`` into ``n_clusters`` clusters with Lloyd's k-means.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Data from any Array API library (NumPy, CuPy, PyTorch, JAX, Dask,
        array-api-strict) or an array-like (converted to NumPy). Never modified.
    n_clusters : int
        Number of clusters, at most ``n_samples``.
    sample_weight : array of shape (n_samples,), optional
        Non-negative weights of the samples; unit weights when omitted.
    init : {"k-means++", "k-means||", "random"}, array or callable
        How to seed: greedy k-means++, k-means|| (scalable k-means++, a few
        passes over the data; see ``oversampling_factor``), ``n_clusters``
        distinct rows drawn with
        probability ~ ``sample_weight``, an array of shape ``(n_clusters,
        n_features)``, or ``init(X, n_clusters, random_state=rng)``
        returning one.
    n_init : int or "auto"
        Runs from different seeds; the one with the lowest inertia is kept.
        ``"auto"``: 1 for k-means++ and arrays, 10 otherwise.
    max_iter : int
        Maximum Lloyd iterations per run.
    tol : float
        Convergence tolerance on the squared centre shift, relative to the mean
        feature variance of ``X``.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        Source of the seeding's randomness. An int gives the same draws as
        scikit-learn's ``KMeans`` with that ``random_state``.
    chunk_size : int, optional
        Rows processed at a time; by default chosen from a memory budget.
    verbose : int
        Print progress when positive.
    oversampling_factor : float
        k-means|| only: each round samples about ``oversampling_factor *
        n_clusters`` candidate rows (as cuML's and dask-ml's parameter).
    init_max_iter : int
        k-means|| only: the number of sampling rounds (dask-ml's name; Spark's
        ``initSteps``); more are made only while there are fewer candidates
        than clusters.
    metric : {"euclidean", "cosine"}
        "cosine": spherical k-means (FAISS's ``spherical=True``), clustering
        directions: rows (none may be zero) and centres are unit vectors, each
        row goes to the centre of largest cosine, and the inertia is the
        weighted sum of ``1 - cos``. Seeding is k-means++ (or k-means||,
        random rows) with that distance; the centres of an array or callable
        ``init`` are normalised (a callable receives the normalised rows).

    Returns
    -------
    KMeansResult

    Raises
    ------
    ValueError, TypeError
        For invalid data or parameters; the message names the problem.

    Warns
    -----
    ConvergenceWarning
        When fewer distinct clusters than ``n_clusters`` are found.
    RuntimeWarning
        When an array ``init`` is combined with ``n_init`` > 1.
    """
    result, _ = fit_kmeans(X, n_clusters, sample_weight=sample_weight, init=init,
                           n_init=n_init, max_iter=max_iter, tol=tol,
                           random_state=random_state, chunk_size=chunk_size, verbose=verbose,
                           oversampling_factor=oversampling_factor, init_max_iter=init_max_iter,
                           metric=metric)
    return result


def k_means(
    X: Array,
    n_clusters: int,
    *,
    sample_weight: Array | None = None,
    init: Init = "k-means++",
    n_init: int | str = "auto",
    max_iter: int = 300,
    verbose: int = 0,
    tol: float = 1e-4,
    random_state: Any = None,
    copy_x: bool = True,
    algorithm: str = "lloyd",
    return_n_iter: bool = False,
) -> tuple[Array, Array, float] | tuple[Array, Array, float, int]:
    """scikit-learn's ``k_means``: :func:`kmeans` with scikit-learn's parameters, returning a tuple.

    Parameters
    ----------
    X, n_clusters, sample_weight, init, n_init, max_iter, verbose, tol, random_state
        As for :func:`kmeans`.
    copy_x : bool, default=True
        Accepted for compatibility: ``X`` is never modified, whatever its value.
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        Accepted for compatibility: Lloyd's algorithm runs, which gives the same result.
    return_n_iter : bool, default=False
        Also return the number of iterations.

    Returns
    -------
    centers : array of shape (n_clusters, n_features)
        As :attr:`KMeansResult.centers`.
    labels : integer array of shape (n_samples,)
    inertia : float
    n_iter : int
        Lloyd iterations of the best run; returned only when ``return_n_iter``.

    Raises
    ------
    ValueError, TypeError
        For invalid data or parameters; the message names the problem.

    Warns
    -----
    ConvergenceWarning
        When fewer distinct clusters than ``n_clusters`` are found.
    RuntimeWarning
        When an array ``init`` is combined with ``n_init`` > 1, and for
        ``algorithm="elkan"`` with one cluster (as scikit-learn).
    """
    check_bool(copy_x, "copy_x")
    return_n_iter = check_bool(return_n_iter, "return_n_iter")
    check_algorithm_for(algorithm, n_clusters)
    result = kmeans(X, n_clusters, sample_weight=sample_weight, init=init, n_init=n_init,
                    max_iter=max_iter, tol=tol, random_state=random_state, verbose=verbose)
    fitted = (result.centers, result.labels, result.inertia)
    return (*fitted, result.n_iter) if return_n_iter else fitted


@on_data_device
def kmeans_plusplus(
    X: Array,
    n_clusters: int,
    *,
    sample_weight: Array | None = None,
    x_squared_norms: Array | None = None,
    random_state: Any = None,
    n_local_trials: int | None = None,
) -> tuple[Array, Array]:
    """Choose ``n_clusters`` seeds from the rows of ``X`` by greedy k-means++.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : array of shape (n_samples,), optional
    x_squared_norms : array of shape (n_samples,), optional
        The squared Euclidean norms of the rows of ``X``, in ``X``'s library and
        on its device. As in scikit-learn, used as given for float64 ``X``
        (distances are ``|x|^2 - 2 x.c + |c|^2`` with these ``|x|^2``) and
        only checked for float32 ``X`` (whose norms are computed in float64).
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        An int gives the seeds scikit-learn's ``kmeans_plusplus`` gives.
    n_local_trials : int, optional
        Candidates tried per seed; ``2 + int(log(n_clusters))`` by default.
        1 is the original (non-greedy) k-means++.

    Returns
    -------
    centers : array of shape (n_clusters, n_features)
        The chosen rows of ``X``, in ``X``'s library, device and floating dtype; dense
        where ``X`` is sparse.
    indices : integer array of shape (n_clusters,)
        Their row indices: ``centers[j] == X[indices[j]]``.

    Raises
    ------
    ValueError, TypeError
        For invalid data or parameters (``x_squared_norms`` of another length
        than ``X``'s rows among them); the message names the problem.
    """
    xp, X = check_data(X)
    n_clusters = check_n_clusters(n_clusters, X.shape[0])
    if n_local_trials is not None:
        n_local_trials = check_positive_int(n_local_trials, "n_local_trials")
    sample_weight = check_sample_weight(sample_weight, xp, X)
    if x_squared_norms is not None:
        x_squared_norms = check_row_sq_norms(x_squared_norms, xp, X)
        if X.dtype != xp.float64:
            x_squared_norms = None
    rng = check_random_state(random_state)
    origin = xp.zeros(X.shape[1], dtype=X.dtype, device=device_of(X))
    data = Data(X, origin, sample_weight)
    indices = kmeans_plusplus_indices(data, n_clusters, rng, n_local_trials, x_squared_norms)
    return data.dense_rows(indices), xp.asarray(indices, device=device_of(X))
