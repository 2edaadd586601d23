"""``KMeans``: scikit-learn's estimator conventions over the functional core.

The estimators do not import scikit-learn. They follow its conventions by
hand (parameters stored untouched in ``__init__``, ``get_params``/``set_params``,
fitted attributes ending in ``_``, the column names of data frames checked as
``feature_names_in_``, ``set_output``, an HTML repr for notebooks) and describe
themselves to scikit-learn through ``__sklearn_tags__`` and
``get_metadata_routing``, which import scikit-learn only when scikit-learn
itself asks (as do the ``set_*_request`` methods, which only work under its
metadata routing). What every centre-based estimator shares (that protocol,
and ``predict``/``transform``/``score`` on fitted centres) lives in
:class:`CentresEstimator`; ``KMeans`` adds Lloyd's ``fit``, and
``MiniBatchKMeans`` (in :mod:`anykmeans._minibatch`) mini-batch updates.
"""

from __future__ import annotations

import html
import importlib
import inspect
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from ._exceptions import not_fitted_error
from ._kmeans import Init, fit_kmeans
from ._kmeans_parallel import DEFAULT_OVERSAMPLING_FACTOR, DEFAULT_ROUNDS
from ._namespace import Array, to_host
from ._persistence import Field, move_model, save_model
from ._primitives import Data, assign, distances, labelled_inertia
from ._random import check_random_state
from ._validation import (
    check_algorithm,
    check_bool,
    check_data,
    check_init_method,
    check_n_init,
    check_positive_int,
    check_positive_real,
    check_sample_weight,
    check_tol,
    check_verbose,
    feature_names,
)

#: The containers ``set_output`` offers for ``transform``'s output (scikit-learn's names).
OUTPUT_CONTAINERS = ("default", "pandas", "polars")
#: scikit-learn's value for a metadata request that a ``set_*_request`` call leaves as it is.
UNCHANGED = "$UNCHANGED$"
#: The most names a feature-name mismatch lists, per kind (scikit-learn's number).
MAX_LISTED_NAMES = 5


def labels_and_inertia(data: Data, centres: Array) -> tuple[Array, float]:
    """Nearest centre of every row of ``data`` and the weighted inertia, from exact residuals.

    ``centres`` are in the frame ``X - data.mean``.
    """
    labels = assign(data, centres).labels
    return labels, float(to_host(labelled_inertia(data, centres, labels)))


def check_chunk_size(chunk_size: Any) -> int | None:
    """``chunk_size``, checked: None or a positive integer."""
    return None if chunk_size is None else check_positive_int(chunk_size, "chunk_size")


def _listed(names: list[str]) -> str:
    """``names`` one per line, each after "- ", cut after :data:`MAX_LISTED_NAMES`."""
    lines = [f"- {name}\n" for name in names[:MAX_LISTED_NAMES]]
    return "".join(lines) + ("- ...\n" if len(names) > MAX_LISTED_NAMES else "")


def _data_frame(library: str, values: np.ndarray, columns: np.ndarray, X: Any) -> Any:
    """``values`` as a data frame of ``library`` ("pandas" or "polars") with ``columns``, as
    scikit-learn's ``set_output`` makes it: a pandas frame takes the index of ``X`` when ``X``
    is a pandas DataFrame or Series.

    Raises
    ------
    ImportError
        If ``library`` is not installed.
    """
    try:
        module = importlib.import_module(library)
    except ImportError as exc:
        raise ImportError(f"Setting output container to '{library}' requires {library} to be "
                          "installed.") from exc
    if library == "polars":
        return module.DataFrame(values, schema=columns.tolist(), orient="row")
    index = X.index if isinstance(X, module.DataFrame | module.Series) else None
    return module.DataFrame(values, index=index, columns=columns)


class CentresEstimator:
    """What the centre-based estimators share: scikit-learn's protocol and the fitted model's use.

    Subclasses define ``__init__`` (parameters stored untouched, ``chunk_size``
    among them) and ``fit``, which sets ``cluster_centers_``, ``labels_``,
    ``n_features_in_``, ``_n_features_out`` (the number of centres) and
    ``_mean``: the offset that assignment subtracts from every row, so that new
    data is assigned in the frame the model was fitted in; and
    ``feature_names_in_`` when it was fitted on a data frame with string column
    names (see :meth:`_replace_fit`).
    """

    #: The metadata each method takes, which scikit-learn's metadata routing may route to it.
    _metadata: ClassVar[dict[str, tuple[str, ...]]] = {"fit": ("sample_weight",),
                                                       "score": ("sample_weight",)}
    #: What a model file holds of a fitted estimator, by attribute (see
    #: :mod:`anykmeans._persistence`): here what ``predict`` needs.
    _model_file: ClassVar[Mapping[str, Field]] = {
        "cluster_centers_": Field("array", "f", ("k", "d")),
        "n_features_in_": Field("scalar", "i"),
        "_n_features_out": Field("scalar", "i"),
        "_mean": Field("array", "f", ("d",)),
        "feature_names_in_": Field("names", required=False),
    }
    #: A check of each parameter that needs no data (it raises ValueError or TypeError).
    _param_checks: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    # -- scikit-learn's parameter protocol -------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters, by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> CentresEstimator:
        """Set parameters by name and return the estimator."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = []
        for name, value in self.get_params().items():
            default = defaults[name].default
            if hasattr(value, "shape"):
                changed.append(f"{name}=array-like")
            elif not (value is default or (type(value) is type(default) and value == default)):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def _repr_html_(self) -> str:
        """The repr as notebooks show it: escaped HTML, and whether the model is fitted."""
        state = "fitted" if hasattr(self, "cluster_centers_") else "not fitted"
        return (f'<div class="anykmeans-estimator"><pre>{html.escape(repr(self))}</pre>'
                f"<small>{state}</small></div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        """The plain and HTML reprs, by MIME type (what Jupyter asks for)."""
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def __sklearn_tags__(self):
        """Describe the estimator to scikit-learn (imported only when it asks)."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type="clusterer",
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]),
            input_tags=InputTags(two_d_array=True, allow_nan=False),
        )

    def fit_predict(self, X: Array, y: Any = None, sample_weight: Array | None = None) -> Array:
        """Fit and return the cluster of every sample (``labels_``)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X: Array, y: Any = None, sample_weight: Array | None = None) -> Any:
        """Fit and return the distances of every sample to every centre (as :meth:`transform`)."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    # -- scikit-learn's output containers and metadata routing --------------------------------

    def set_output(self, *, transform: str | None = None) -> CentresEstimator:
        """Set the container of the output of ``transform`` and ``fit_transform``.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None
            ``"default"``: an array of ``X``'s library, on its device;
            ``"pandas"``, ``"polars"``: a data frame on the host, whose columns
            are :meth:`get_feature_names_out` and, for pandas, whose index is
            ``X``'s when ``X`` is a pandas DataFrame; None: unchanged. Until it
            is set, scikit-learn's global ``transform_output``
            (``sklearn.set_config``) applies, when scikit-learn is imported.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For another container.
        """
        if transform is None:
            return self
        if transform not in OUTPUT_CONTAINERS:
            raise ValueError(f"transform must be one of {OUTPUT_CONTAINERS} or None, "
                             f"got {transform!r}.")
        # scikit-learn's attribute, which its clone copies.
        self._sklearn_output_config = {**getattr(self, "_sklearn_output_config", {}),
                                       "transform": transform}
        return self

    def _output(self, distances: Array, X: Any) -> Any:
        """``transform``'s ``distances`` of the rows of ``X``, in the container set for them."""
        container = getattr(self, "_sklearn_output_config", {}).get("transform")
        if container is None:  # scikit-learn's global setting, if it is imported
            sklearn = sys.modules.get("sklearn")
            container = "default" if sklearn is None else sklearn.get_config()["transform_output"]
        if container == "default":
            return distances
        return _data_frame(container, to_host(distances), self.get_feature_names_out(), X)

    def get_metadata_routing(self) -> Any:
        """scikit-learn's ``MetadataRequest`` of this estimator (imports scikit-learn, which asks).

        ``sample_weight`` of ``fit`` and ``score`` (and ``partial_fit``) is routed
        as the ``set_*_request`` methods asked; unrequested (None) by default.
        """
        from sklearn.utils.metadata_routing import MetadataRequest, get_routing_for_object

        if hasattr(self, "_metadata_request"):
            return get_routing_for_object(self._metadata_request)
        request = MetadataRequest(owner=type(self).__name__)
        for method, params in self._metadata.items():
            for param in params:
                getattr(request, method).add_request(param=param, alias=None)
        return request

    def _set_request(self, method: str, **aliases: Any) -> CentresEstimator:
        """Record how scikit-learn's metadata routing passes ``aliases`` to ``method``.

        Raises
        ------
        RuntimeError
            Unless scikit-learn's metadata routing is enabled (as scikit-learn's own).
        ValueError
            For an alias that is neither a bool, None nor a valid identifier.
        """
        import sklearn

        if not sklearn.get_config().get("enable_metadata_routing", False):
            raise RuntimeError(
                "This method is only available when metadata routing is enabled. You can "
                "enable it using sklearn.set_config(enable_metadata_routing=True).")
        request = self.get_metadata_routing()
        for param, alias in aliases.items():
            if not (isinstance(alias, str) and alias == UNCHANGED):
                getattr(request, method).add_request(param=param, alias=alias)
        self._metadata_request = request  # scikit-learn's attribute, which its clone copies
        return self

    def set_fit_request(self, *, sample_weight: bool | str | None = UNCHANGED
                        ) -> CentresEstimator:
        """Whether scikit-learn's metadata routing passes ``sample_weight`` to ``fit``.

        Parameters
        ----------
        sample_weight : bool, str or None
            True: passed; False: not passed; None: an error if given; a string:
            passed when given under that name; left unchanged by default.

        Returns
        -------
        self

        Raises
        ------
        RuntimeError
            Unless ``sklearn.set_config(enable_metadata_routing=True)``.
        """
        return self._set_request("fit", sample_weight=sample_weight)

    def set_score_request(self, *, sample_weight: bool | str | None = UNCHANGED
                          ) -> CentresEstimator:
        """Whether scikit-learn's metadata routing passes ``sample_weight`` to ``score``
        (see :meth:`set_fit_request`)."""
        return self._set_request("score", sample_weight=sample_weight)

    # -- using a fitted model ---------------------------------------------------------------

    def _check_params(self) -> None:
        """Check every parameter of :attr:`_param_checks` (a loaded model's among them).

        Raises
        ------
        ValueError, TypeError
            For the first parameter of the wrong value or type.
        """
        for name, check in self._param_checks.items():
            check(getattr(self, name))

    def _check_fitted(self) -> None:
        if not hasattr(self, "cluster_centers_"):
            raise not_fitted_error(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _replace_fit(self, fitted: dict[str, Any], names: np.ndarray | None) -> None:
        """Set the attributes ``fitted`` and ``feature_names_in_`` (``names``; removed when
        None) in one assignment: an interrupt (Ctrl-C) lands before or after it, never
        halfway, so the model is the previous fit or the new one."""
        state = {key: value for key, value in vars(self).items() if key != "feature_names_in_"}
        state.update(fitted)
        if names is not None:
            state["feature_names_in_"] = names
        self.__dict__ = state

    def _check_feature_names(self, X: Any) -> None:
        """Check the column names of ``X`` against ``feature_names_in_``, as scikit-learn does.

        Raises
        ------
        ValueError
            If both have names and they differ: the message lists the names
            unseen in fit and those missing, or says that the order differs.

        Warns
        -----
        UserWarning
            If only one of them has names.
        """
        fitted, names = getattr(self, "feature_names_in_", None), feature_names(X)
        estimator = type(self).__name__
        if fitted is None or names is None:
            if names is not None:
                warnings.warn(f"X has feature names, but {estimator} was fitted without "
                              "feature names", UserWarning, stacklevel=4)
            elif fitted is not None:
                warnings.warn(f"X does not have valid feature names, but {estimator} was "
                              "fitted with feature names", UserWarning, stacklevel=4)
            return
        if names.tolist() == fitted.tolist():
            return
        unexpected = sorted(set(names) - set(fitted))
        missing = sorted(set(fitted) - set(names))
        message = "The feature names should match those that were passed during fit.\n"
        if unexpected:
            message += "Feature names unseen at fit time:\n" + _listed(unexpected)
        if missing:
            message += "Feature names seen at fit time, yet now missing:\n" + _listed(missing)
        if not (unexpected or missing):
            message += "Feature names must be in the same order as they were in fit.\n"
        raise ValueError(message)

    def _prepare(self, X: Array, sample_weight: Any = None) -> tuple[Data, Array]:
        """New data validated against the fitted model, and the centres in its frame.

        The column names of a data frame ``X`` are checked against those seen
        in fit (:meth:`_check_feature_names`). ``X`` is converted to the model's
        dtype before its values are checked, so that data beyond that dtype's
        range is refused rather than assigned from infinite scores.
        ``sample_weight`` is validated too; None stays None (unit weights). The
        model's ``chunk_size`` is checked here, as a loaded or re-parametrised
        model may carry any value.
        """
        self._check_fitted()
        self._check_feature_names(X)
        xp, X = check_data(X, n_features=self.n_features_in_, estimator=type(self).__name__,
                           like=self.cluster_centers_)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, xp, X)
        data = Data(X, self._mean, sample_weight, self._chunk_size())
        return data, self.cluster_centers_ - self._mean

    def _chunk_size(self) -> int | None:
        """The ``chunk_size`` parameter, checked: None or a positive integer."""
        return check_chunk_size(self.chunk_size)

    def predict(self, X: Array) -> Array:
        """The index of the nearest centre of every sample of ``X``."""
        return assign(*self._prepare(X)).labels

    def transform(self, X: Array) -> Any:
        """Euclidean distances of every sample to every centre, ``(n_samples, n_clusters)``.

        An array of ``X``'s library, or the data frame :meth:`set_output` asked for.
        """
        return self._output(distances(*self._prepare(X)), X)

    def score(self, X: Array, y: Any = None, sample_weight: Array | None = None) -> float:
        """Minus the inertia of ``X`` under the fitted centres (higher is better)."""
        return -labels_and_inertia(*self._prepare(X, sample_weight))[1]

    # -- persistence -------------------------------------------------------------------------

    def save(self, path: Any) -> None:
        """Write the fitted model to ``path`` as an ``.npz`` archive, without pickle.

        Read it back with :func:`anykmeans.load`. The archive holds one array
        per fitted attribute and JSON metadata (the class, its parameters, the
        random generator's state): data only, no pickle (docs/guarantees.md).
        """
        save_model(self, path)

    def to(self, like: Any) -> CentresEstimator:
        """A fitted copy whose arrays are in the library and on the device ``like`` names.

        ``like`` is any array of the target library and device; a library's
        module (``numpy``, ``torch``, ``jax``, ...: its default device); a device
        object (``torch.device("cuda")``, a JAX device, ...); a device name, read
        in the model's library (``"cuda:1"``; ``"cpu"``: the library's CPU device,
        NumPy for a NumPy model); or None (NumPy). E.g. ``model.to("cpu")``
        brings a PyTorch model fitted on a GPU to the CPU, ``model.to(numpy)``
        to NumPy. This model is unchanged.

        Raises
        ------
        TypeError
            If ``like`` is none of these.
        ValueError
            If the library has no such device here.
        """
        return move_model(self, like)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the ``transform`` output columns: ``kmeans0``, ``kmeans1``, ...

        Parameters
        ----------
        input_features : array-like of str, optional
            Checked only, as scikit-learn checks it: it must equal
            ``feature_names_in_`` where the model has names, and have
            ``n_features_in_`` names.

        Raises
        ------
        ValueError
            If ``input_features`` does not match the features seen in fit.
        """
        self._check_fitted()
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            names = getattr(self, "feature_names_in_", None)
            if names is not None and input_features.tolist() != names.tolist():
                raise ValueError("input_features is not equal to feature_names_in_")
            if len(input_features) != self.n_features_in_:
                raise ValueError("input_features should have length equal to number of "
                                 f"features ({self.n_features_in_}), got {len(input_features)}")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self._n_features_out)], dtype=object)


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
        the same result.
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
        "n_clusters": lambda value: check_positive_int(value, "n_clusters"),
        "init": check_init_method,
        "n_init": check_n_init,
        "max_iter": lambda value: check_positive_int(value, "max_iter"),
        "tol": check_tol,
        "verbose": check_verbose,
        "random_state": check_random_state,
        "copy_x": lambda value: check_bool(value, "copy_x"),
        "algorithm": check_algorithm,
        "chunk_size": check_chunk_size,
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
        check_algorithm(self.algorithm)
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
