"""``MiniBatchKMeans``: mini-batch k-means (:mod:`anykmeans._minibatch`) as an estimator,
with ``partial_fit`` for streams."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from .._kmeans import Init
from .._minibatch import (
    ReassignSchedule,
    fit_minibatch,
    minibatch_step,
    resolve_sizes,
    seed_centres,
)
from .._namespace import Array, device_of, materialise
from .._persistence import Field
from .._primitives import Data, labels_and_inertia
from .._random import (
    check_random_state,
)
from .._validation import (
    check_bool,
    check_centres,
    check_data,
    check_init_method,
    check_n_clusters,
    check_non_negative,
    check_positive_int,
    check_sample_weight,
    check_verbose,
    feature_names,
)
from ._base import UNCHANGED, CentresEstimator


class MiniBatchKMeans(CentresEstimator):
    """Mini-batch k-means clustering on any Array API library, with ``partial_fit`` for streams.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters and centres.
    init : {"k-means++", "k-means||", "random"}, array or callable, default="k-means++"
        Seeding, computed on ``init_size`` rows (see :class:`KMeans`).
    max_iter : int, default=100
        At most this many passes' worth of rows are drawn in batches (``fit``).
    batch_size : int, default=1024
        Rows per batch.
    verbose : int, default=0
        Print the progress of every step when positive.
    compute_labels : bool, default=True
        Assign all of ``X`` at the end of ``fit`` (and the chunk after each
        ``partial_fit``) to set ``labels_`` and an exact ``inertia_``.
    random_state : None, int, RandomState or Generator, default=None
        An int draws scikit-learn's batches and seeds.
    tol : float, default=0.0
        Stop when the squared centre shift of a step is at most ``tol`` times
        the mean feature variance; 0 disables this rule.
    max_no_improvement : int or None, default=10
        Stop after this many steps without a new minimum of the smoothed batch
        inertia; None disables this rule.
    init_size : int, optional
        Rows drawn for the seeding and for comparing seedings; three batches
        (at least ``3 n_clusters``) by default.
    n_init : "auto" or int, default="auto"
        Seedings compared; ``"auto"`` is 1 for k-means++, k-means|| and arrays,
        3 for random and callables. ``partial_fit`` seeds once.
    reassignment_ratio : float, default=0.01
        Centres whose count is below this fraction of the largest count move to
        random rows of the batch; higher values reassign more.
    chunk_size : int, optional
        Rows assigned at a time; by default chosen from a memory budget.

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
        Centres, in the library, on the device and in the dtype of the training data.
    labels_ : integer array of shape (n_samples,)
        Cluster of each row of the training data (of the last chunk after
        ``partial_fit``); only when ``compute_labels``.
    inertia_ : float
        Weighted sum of squared distances to the centres, over the training
        data (the last chunk after ``partial_fit``); the smoothed batch
        inertia scaled to the data's total weight when not ``compute_labels``.
    n_iter_ : int
        Passes' worth of rows that ``fit`` used.
    n_steps_ : int
        Mini-batch steps made.
    n_features_in_ : int
        Number of features seen in ``fit`` or the first ``partial_fit``.
    feature_names_in_ : numpy.ndarray of str, of shape (n_features,)
        The column names of the data frame ``fit`` or the first ``partial_fit``
        was given, when they are all strings (otherwise unset); later calls
        refuse data frames whose columns differ.
    """

    _metadata: ClassVar[dict[str, tuple[str, ...]]] = {**CentresEstimator._metadata,
                                                       "partial_fit": ("sample_weight",)}

    _model_file: ClassVar[Mapping[str, Field]] = {
        **CentresEstimator._model_file,
        "labels_": Field("array", "i", ("n",), required=False),
        "inertia_": Field("scalar", "f", required=False),
        "n_iter_": Field("scalar", "i", required=False),
        "n_steps_": Field("scalar", "i"),
        # the state partial_fit goes on from
        "_centres": Field("array", "f", ("k", "d")),
        "_counts": Field("array", "f+", ("k",)),
        "_batch_size": Field("scalar", "i"),
        "_schedule": Field("record", record=ReassignSchedule),
        "_random_state": Field("generator", required=False),
    }
    _param_checks: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        **CentresEstimator._param_checks,
        "batch_size": lambda value: check_positive_int(value, "batch_size"),
        "compute_labels": lambda value: check_bool(value, "compute_labels"),
        "max_no_improvement": lambda value: value is None or check_non_negative(
            value, "max_no_improvement", integral=True),
        "init_size": lambda value: value is None or check_positive_int(value, "init_size"),
        "reassignment_ratio": lambda value: check_non_negative(value, "reassignment_ratio"),
    }

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: Init = "k-means++",
        max_iter: int = 100,
        batch_size: int = 1024,
        verbose: int = 0,
        compute_labels: bool = True,
        random_state: Any = None,
        tol: float = 0.0,
        max_no_improvement: int | None = 10,
        init_size: int | None = None,
        n_init: int | str = "auto",
        reassignment_ratio: float = 0.01,
        chunk_size: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.chunk_size = chunk_size

    @staticmethod
    def _centre_attributes(centres: Array, offset: Array) -> dict[str, Any]:
        """The attributes that describe fitted ``centres`` (in the frame ``X - offset``).

        Callers write them, with the rest of a fit's attributes, in one assignment
        (:meth:`_replace_fit`, or one ``vars(self).update`` for a later step of
        ``partial_fit``): an interrupt leaves the previous fit or the new one.
        """
        return {"_centres": centres, "_mean": offset, "cluster_centers_": centres + offset,
                "n_features_in_": centres.shape[1], "_n_features_out": centres.shape[0]}

    def fit(self, X: Array, y: Any = None, sample_weight: Array | None = None) -> MiniBatchKMeans:
        """Cluster ``X`` by mini-batch k-means.

        Parameters
        ----------
        X : array or data frame of shape (n_samples, n_features)
            Training data; never modified. A data frame's string column names
            become ``feature_names_in_``.
        y : ignored
        sample_weight : array of shape (n_samples,), optional
            Non-negative weights: batches draw rows with probability
            proportional to them, and the seeding uses them for "k-means++"
            and "random".

        Returns
        -------
        self
        """
        names = feature_names(X)
        run = fit_minibatch(
            X, self.n_clusters, sample_weight=sample_weight, init=self.init, n_init=self.n_init,
            max_iter=self.max_iter, batch_size=self.batch_size, tol=self.tol,
            max_no_improvement=self.max_no_improvement, init_size=self.init_size,
            reassignment_ratio=self.reassignment_ratio, random_state=self.random_state,
            compute_labels=self.compute_labels, chunk_size=self.chunk_size, verbose=self.verbose,
        )
        fitted = self._centre_attributes(run.centres, run.offset)
        fitted.update(_counts=run.counts, _schedule=run.schedule, _batch_size=run.batch_size,
                      inertia_=run.inertia, n_steps_=run.n_steps, n_iter_=run.n_iter)
        if run.labels is not None:
            fitted["labels_"] = run.labels
        self._replace_fit(fitted, names)
        return self

    def partial_fit(self, X: Array, y: Any = None,
                    sample_weight: Array | None = None) -> MiniBatchKMeans:
        """Update the centres with one mini-batch step on the chunk ``X``.

        The first call seeds from ``X`` (``init_size`` of its rows) and fixes
        the number of features (and their names, for a data frame), the
        library, device and dtype; later chunks must match them (other dtypes
        are converted).

        Parameters
        ----------
        X : array or data frame of shape (n_samples, n_features)
            One chunk of the stream; never modified.
        y : ignored
        sample_weight : array of shape (n_samples,), optional
            Non-negative weights of the chunk's rows.

        Returns
        -------
        self
        """
        verbose = check_verbose(self.verbose)
        compute_labels = check_bool(self.compute_labels, "compute_labels")
        if not hasattr(self, "_random_state"):
            self._random_state = check_random_state(self.random_state)
        rng = self._random_state
        first = not hasattr(self, "cluster_centers_")
        if first:
            names = feature_names(X)
            xp, X = check_data(X)
            n_clusters = check_n_clusters(self.n_clusters, X.shape[0])
            batch_size, init_size = resolve_sizes(self.batch_size, self.init_size, n_clusters,
                                                  X.shape[0])
            check_init_method(self.init)
            init = self.init
            if not isinstance(init, str) and not callable(init):
                init = check_centres(init, xp, X, n_clusters)
            check_non_negative(self.reassignment_ratio, "reassignment_ratio")
            chunk_size = self._chunk_size()
            (offset,) = materialise(xp.mean(X, axis=0))
            weights = check_sample_weight(sample_weight, xp, X)
            centres = seed_centres(xp, X, weights, n_clusters, init, rng, offset, init_size,
                                   chunk_size)
            counts = xp.zeros(n_clusters, dtype=X.dtype, device=device_of(X))
            schedule = ReassignSchedule(n_clusters, batch_size)
            fitted = {"_batch_size": batch_size}
        else:
            data, _ = self._prepare(X, "partial_fit")
            xp, X, chunk_size = data.xp, data.X, self._chunk_size()
            weights = check_sample_weight(sample_weight, xp, X)
            centres, offset, counts = self._centres, self._mean, self._counts
            schedule = dataclasses.replace(self._schedule)
            fitted = {}
        step = minibatch_step(
            xp, X, None if sample_weight is None else weights, centres, counts, offset, rng,
            reassign=schedule.due(), reassignment_ratio=self.reassignment_ratio,
            chunk_size=chunk_size, with_shift=False, verbose=verbose)
        schedule.has_empty = step.has_empty
        fitted.update(self._centre_attributes(step.centres, offset), _counts=step.counts,
                      _schedule=schedule, n_steps_=getattr(self, "n_steps_", 0) + 1)
        if compute_labels:
            fitted["labels_"], fitted["inertia_"] = labels_and_inertia(
                Data(X, offset, weights, chunk_size), step.centres)
        if first:
            self._replace_fit(fitted, names)
        else:
            vars(self).update(fitted)  # one update: the previous step or this one
        return self

    def set_partial_fit_request(self, *, sample_weight: bool | str | None = UNCHANGED
                                ) -> MiniBatchKMeans:
        """Whether scikit-learn's metadata routing passes ``sample_weight`` to ``partial_fit``
        (see :meth:`set_fit_request`)."""
        return self._set_request("partial_fit", sample_weight=sample_weight)
