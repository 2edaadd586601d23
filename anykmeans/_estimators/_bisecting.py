"""``BisectingKMeans``: bisecting k-means (:mod:`anykmeans._bisecting`) as an estimator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from .._bisecting import descend, fit_bisecting
from .._namespace import Array
from .._persistence import Field
from .._validation import (
    check_algorithm,
    check_bisecting_strategy,
    check_bisection_init,
    check_bool,
    check_positive_int,
    feature_names,
)
from ._base import CentresEstimator


class BisectingKMeans(CentresEstimator):
    """Bisecting k-means clustering on any Array API library: a hierarchy of clusters.

    Starting from one cluster holding every sample, the cluster with the
    largest inertia (or the most samples) is split in two by k-means, until
    there are ``n_clusters``. An integer ``random_state`` gives scikit-learn's
    ``BisectingKMeans`` answer.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters (leaves of the tree).
    init : {"k-means++", "random"} or callable, default="random"
        Each bisection's seeding of its two centres: greedy k-means++, two
        distinct samples of the cluster drawn with probability ~
        ``sample_weight``, or a callable ``init(X, 2, random_state)`` given the
        cluster's samples and returning two centres.
    n_init : int, default=1
        k-means runs per bisection, from different seeds; the best by inertia is kept.
    random_state : None, int, RandomState or Generator, default=None
        An int makes fits reproducible, and equal to scikit-learn's with that seed.
    max_iter : int, default=300
        Maximum Lloyd iterations of each run.
    verbose : int, default=0
        Print progress when positive.
    tol : float, default=1e-4
        Tolerance on the squared centre shift of each run, absolute (as
        scikit-learn's bisections take it: not scaled by the data's variance).
    copy_x : bool, default=True
        Accepted for compatibility: anykmeans never modifies ``X``.
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        "elkan" is accepted as an alias and runs Lloyd's algorithm.
    bisecting_strategy : {"biggest_inertia", "largest_cluster"}, default="biggest_inertia"
        Which cluster to split next: the one with the largest weighted
        inertia, or the one with the most samples; ties go to the first in
        the order of the labels.
    chunk_size : int, optional
        Rows processed at a time; by default chosen from a memory budget.

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
        The leaves' centres, in the library, on the device and in the dtype of
        the training data; cluster ``i`` is the ``i``-th leaf in depth-first
        order (left child first).
    labels_ : integer array of shape (n_samples,)
        Cluster of each training sample.
    inertia_ : float
        Weighted sum of squared distances of the samples to their clusters' centres.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : numpy.ndarray of str, of shape (n_features,)
        The column names of the data frame ``fit`` was given, when they are all
        strings (otherwise unset).
    node_centers_ : array of shape (2 n_clusters - 1, n_features)
        Every node's centre: node 0 is the root (its centre is the data's
        mean), bisection ``t`` made nodes ``2t + 1`` (left) and ``2t + 2``.
    splits_ : tuple of float
        The node each bisection split, in order (whole numbers).

    Notes
    -----
    ``predict`` descends the tree: at each split a sample goes to the nearer
    of the two children's centres, as scikit-learn's does; ``transform`` and
    ``score`` use the nearest of ``cluster_centers_``, as scikit-learn's do.
    """

    _model_file: ClassVar[Mapping[str, Field]] = {
        **CentresEstimator._model_file,
        "labels_": Field("array", "i", ("n",)),
        "inertia_": Field("scalar", "f"),
        "node_centers_": Field("array", "f", ("n", "d")),
        "splits_": Field("tuple", "f", ("n",)),
    }
    _param_checks: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        **CentresEstimator._param_checks,
        "init": check_bisection_init,
        "n_init": lambda value: check_positive_int(value, "n_init"),
        "copy_x": lambda value: check_bool(value, "copy_x"),
        "algorithm": check_algorithm,
        "bisecting_strategy": check_bisecting_strategy,
    }

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | Callable[..., Array] = "random",
        n_init: int = 1,
        random_state: Any = None,
        max_iter: int = 300,
        verbose: int = 0,
        tol: float = 1e-4,
        copy_x: bool = True,
        algorithm: str = "lloyd",
        bisecting_strategy: str = "biggest_inertia",
        chunk_size: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.random_state = random_state
        self.max_iter = max_iter
        self.verbose = verbose
        self.tol = tol
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.bisecting_strategy = bisecting_strategy
        self.chunk_size = chunk_size

    def fit(self, X: Array, y: Any = None, sample_weight: Array | None = None) -> BisectingKMeans:
        """Compute the bisecting k-means clustering of ``X``.

        Parameters
        ----------
        X : array or data frame of shape (n_samples, n_features)
            Training data; never modified. A data frame's string column names
            become ``feature_names_in_``.
        y : ignored
        sample_weight : array of shape (n_samples,), optional
            Non-negative weights; the seedings use them too.

        Returns
        -------
        self
        """
        names = feature_names(X)
        check_algorithm(self.algorithm)
        check_bool(self.copy_x, "copy_x")
        result, mean = fit_bisecting(
            X, self.n_clusters, sample_weight=sample_weight, init=self.init,
            n_init=self.n_init, max_iter=self.max_iter, tol=self.tol,
            random_state=self.random_state, bisecting_strategy=self.bisecting_strategy,
            chunk_size=self.chunk_size, verbose=self.verbose)
        self._replace_fit(dict(
            cluster_centers_=result.centres,
            labels_=result.labels,
            inertia_=result.inertia,
            node_centers_=result.tree.node_centres + mean,
            splits_=tuple(float(node) for node in result.tree.splits),
            n_features_in_=result.centres.shape[1],
            _n_features_out=result.centres.shape[0],
            _mean=mean,
        ), names)
        return self

    def predict(self, X: Array) -> Array:
        """The cluster of every sample of ``X``, found by descending the tree of bisections.

        Raises
        ------
        ValueError
            If the model's ``splits_`` and ``node_centers_`` do not make a tree
            of ``n_clusters`` leaves (a damaged model).
        """
        data, _ = self._prepare(X, "predict")
        n_splits = len(self.splits_)
        if n_splits != self._n_features_out - 1 or self.node_centers_.shape[0] != 2 * n_splits + 1:
            raise ValueError(f"The model's {n_splits} splits and {self.node_centers_.shape[0]} "
                             f"nodes do not make a tree of {self._n_features_out} clusters.")
        return descend(data, self.node_centers_ - data.mean, self.splits_)
