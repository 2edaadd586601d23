"""``KMeans``: Lloyd's algorithm (the functional core, :mod:`anykmeans._kmeans`) as an
estimator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from .._kmeans import Init, check_algorithm_for, fit_kmeans
from .._kmeans_parallel import DEFAULT_OVERSAMPLING_FACTOR, DEFAULT_ROUNDS
from .._namespace import Array
from .._persistence import Field
from .._validation import (
    check_algorithm,
    check_bool,
    check_positive_int,
    check_positive_real,
    feature_names,
)
from ._base import CentresEstimator


class KMeans(CentresEstimator):
    """K-means clustering (Lloyd's algorithm) on any Array API library.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters and centres.
    init : {"k-means++", "k-means||", "random"}, array or callable, default="k-means++"
        Seeding: greedy k-means++; k-means|| (scalable k-means++: a few passes
        over the data, each sampling many candidates, for data too large for
        k-means++'s ``n_clusters`` passes); ``n_clusters`` distinct rows drawn with
        probability ~ ``sample_weight``; an array of shape ``(n_clusters,
        n_features)`` in the library of ``X``; or a callable
        ``init(X, n_clusters, random_state)`` returning such an array.
    n_init : "auto" or int, default="auto"
        Runs from different seeds; the best by inertia is kept. ``"auto"`` is
        1 for k-means++, k-means|| and arrays, 10 for random and callables.
    max_iter : int, default=300
        Maximum Lloyd iterations per run.
    tol : float, default=1e-4
        Tolerance on the squared centre shift, relative to the mean feature variance.
    verbose : int, default=0
        Print the inertia of each iteration when positive.
    random_state : None, int, RandomState or Generator, default=None
        An int makes fits reproducible, and equal to scikit-learn's with that seed.
    copy_x : bool, default=True
        Accepted for compatibility (a bool, as in scikit-learn): anykmeans never modifies
        ``X``, whatever its value.
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        "elkan" is accepted as an alias and runs Lloyd's algorithm, which gives
        the same result (with one cluster it warns, as scikit-learn does).
    chunk_size : int, optional
        Rows processed at a time; by default chosen from a memory budget.
    oversampling_factor : float, default=2.0
        k-means|| only: each round samples about ``oversampling_factor *
        n_clusters`` candidate rows (cuML's and dask-ml's parameter).
    init_max_iter : int, default=5
        k-means|| only: the number of sampling rounds (dask-ml's name).

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
        Centres, in the library, on the device and in the dtype of the training data.
    labels_ : integer array of shape (n_samples,)
        Cluster of each training sample; equals ``predict`` on the training data.
    inertia_ : float
        Weighted sum of squared distances of the samples to their centres.
    n_iter_ : int
        Iterations of the best run.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : numpy.ndarray of str, of shape (n_features,)
        The column names of the data frame ``fit`` was given, when they are all
        strings (otherwise unset); ``predict``, ``transform`` and ``score``
        refuse data frames whose columns differ.
    inertia_history_ : tuple of float
        Inertia after each iteration of the best run.
    inertia_histories_ : tuple of tuple of float
        Inertia after each iteration of every run, one tuple per restart in the
        order they were made (what :func:`anykmeans.plot.plot_convergence` draws).
    """

    _model_file: ClassVar[Mapping[str, Field]] = {
        **CentresEstimator._model_file,
        "labels_": Field("array", "i", ("n",)),
        "inertia_": Field("scalar", "f"),
        "n_iter_": Field("scalar", "i"),
        "inertia_history_": Field("tuple", "f", ("n",)),
        "inertia_histories_": Field("tuples", "f", ("n",)),
    }
    _param_checks: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        **CentresEstimator._param_checks,
        "copy_x": lambda value: check_bool(value, "copy_x"),
        "algorithm": check_algorithm,
        "oversampling_factor": lambda value: check_positive_real(value, "oversampling_factor"),
        "init_max_iter": lambda value: check_positive_int(value, "init_max_iter"),
    }

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: Init = "k-means++",
        n_init: int | str = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        verbose: int = 0,
        random_state: Any = None,
        copy_x: bool = True,
        algorithm: str = "lloyd",
        chunk_size: int | None = None,
        oversampling_factor: float = DEFAULT_OVERSAMPLING_FACTOR,
        init_max_iter: int = DEFAULT_ROUNDS,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.chunk_size = chunk_size
        self.oversampling_factor = oversampling_factor
        self.init_max_iter = init_max_iter

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, X: Array, y: Any = None, sample_weight: Array | None = None, *,
            on_iteration: Callable[[int, int, float], None] | None = None) -> KMeans:
        """Compute the k-means clustering of ``X``.

        Parameters
        ----------
        X : array or data frame of shape (n_samples, n_features)
            Training data; never modified. A data frame's string column names
            become ``feature_names_in_``.
        y : ignored
        sample_weight : array of shape (n_samples,), optional
            Non-negative weights; seeding uses them for "k-means++" and "random".
        on_iteration : callable, optional
            Called as ``on_iteration(restart, iteration, inertia)`` (0-based,
            host numbers) after every Lloyd iteration of every restart: a hook
            for progress displays.

        Returns
        -------
        self
        """
        names = feature_names(X)
        check_algorithm_for(self.algorithm, self.n_clusters)
        check_bool(self.copy_x, "copy_x")
        result, mean = fit_kmeans(
            X, self.n_clusters, sample_weight=sample_weight, init=self.init,
            n_init=self.n_init, max_iter=self.max_iter, tol=self.tol,
            random_state=self.random_state, chunk_size=self.chunk_size, verbose=self.verbose,
            oversampling_factor=self.oversampling_factor, init_max_iter=self.init_max_iter,
            on_iteration=on_iteration,
        )
        self._replace_fit(dict(
            cluster_centers_=result.centers,
            labels_=result.labels,
            inertia_=result.inertia,
            n_iter_=result.n_iter,
            inertia_history_=result.inertia_history,
            inertia_histories_=result.inertia_histories,
            n_features_in_=result.centers.shape[1],
            _n_features_out=result.centers.shape[0],
            _mean=mean,
        ), names)
        return self
