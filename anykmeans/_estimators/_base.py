"""What the centre-based estimators share: scikit-learn's conventions over fitted centres.

The estimators do not import scikit-learn. They follow its conventions by
hand (parameters stored untouched in ``__init__``, ``get_params``/``set_params``,
fitted attributes ending in ``_``, the column names of data frames checked as
``feature_names_in_``, ``set_output``, an HTML repr for notebooks) and describe
themselves to scikit-learn through ``__sklearn_tags__`` and
``get_metadata_routing``, which import scikit-learn only when scikit-learn
itself asks (as do the ``set_*_request`` methods, which only work under its
metadata routing). :class:`CentresEstimator` holds that protocol, ``predict``,
``transform`` and ``score`` on fitted centres, saving and moving; each
estimator declares what its model file holds and how its parameters are
checked.
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

from .._exceptions import NotFittedError, sklearn_compatible
from .._libraries import library_of
from .._namespace import Array, on_device_of, to_host
from .._persistence import Field, move_model, save_model
from .._primitives import Data, distances, inertia, nearest_labels
from .._random import check_random_state
from .._sphere import COSINE_PER_SQUARED_DISTANCE, unit_rows
from .._validation import (
    check_chunk_size,
    check_data,
    check_init_method,
    check_metric,
    check_n_init,
    check_positive_int,
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
    names (see :meth:`_replace_fit`). An estimator with a ``metric`` parameter
    clusters directions when it is "cosine" (:meth:`_spherical`).
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
    #: A check of each parameter that needs no data (it raises ValueError or TypeError):
    #: here those every centre-based estimator has.
    _param_checks: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "n_clusters": lambda value: check_positive_int(value, "n_clusters"),
        "init": check_init_method,
        "n_init": check_n_init,
        "max_iter": lambda value: check_positive_int(value, "max_iter"),
        "tol": check_tol,
        "verbose": check_verbose,
        "random_state": check_random_state,
        "chunk_size": check_chunk_size,
    }

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
            array_api_support=True,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]),
            input_tags=InputTags(two_d_array=True, allow_nan=False, sparse=True),
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
            raise sklearn_compatible(NotFittedError)(
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

    def _spherical(self) -> bool:
        """Whether the model clusters directions: its ``metric`` (checked) is "cosine"; an
        estimator without that parameter is Euclidean."""
        return check_metric(getattr(self, "metric", "euclidean")) == "cosine"

    def _prepare(self, X: Array, method: str, sample_weight: Any = None, *,
                 values: bool = True) -> tuple[Data, Array]:
        """New data validated against the fitted model, and the centres in its frame.

        The column names of a data frame ``X`` are checked against those seen
        in fit (:meth:`_check_feature_names`). ``X`` is converted to the model's
        dtype before its values are checked, so that data beyond that dtype's
        range is refused rather than assigned from infinite scores (a lazy
        library's as the result is computed). ``X`` must be in the model's
        library and on its device (a ``ValueError`` naming ``method``
        otherwise, in scikit-learn's words). A spherical model's rows are put on
        the unit sphere (a zero row is refused; a lazy library's as the result is
        computed). ``sample_weight`` is validated
        too; None stays None (unit weights). The model's ``chunk_size`` is
        checked here, as a loaded or re-parametrised model may carry any value.
        Sparse ``X`` is not centred: its frame is ``X`` itself, whatever the
        model was fitted on. ``values=False`` leaves the values of ``X`` and
        ``sample_weight`` unchecked, for the caller to read
        (:func:`~anykmeans._validation.deferred_checks`).
        """
        self._check_fitted()
        self._check_feature_names(X)
        xp, X = check_data(X, n_features=self.n_features_in_, estimator=type(self).__name__,
                           method=method, like=self.cluster_centers_, values=values,
                           lazily=True)
        if self._spherical():
            X = unit_rows(xp, X, lazily=True)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, xp, X, values=values)
        offset = library_of(X).centring_offset(xp, self._mean)  # zeros for sparse X
        data = Data(X, offset, sample_weight, self._chunk_size())
        return data, self.cluster_centers_ - offset

    def _chunk_size(self) -> int | None:
        """The ``chunk_size`` parameter, checked: None or a positive integer."""
        return check_chunk_size(self.chunk_size)

    def predict(self, X: Array) -> Array:
        """The index of the nearest centre of every sample of ``X`` (of largest cosine, for a
        spherical model)."""
        data, centres = self._prepare(X, "predict")
        with on_device_of(data.X):
            return nearest_labels(data, centres)

    def transform(self, X: Array) -> Any:
        """Distances of every sample to every centre, ``(n_samples, n_clusters)``.

        Euclidean distances; a spherical model's are cosine distances
        ``1 - cos`` (in ``[0, 2]``, the smallest at the predicted centre;
        FAISS's inner products are ``1 -`` them). An array of ``X``'s
        library, or the data frame :meth:`set_output` asked for.
        ``transform(model.cluster_centers_)`` (that very array) has an exact zero
        diagonal, as in scikit-learn.
        """
        data, centres = self._prepare(X, "transform")
        own = X is self.cluster_centers_
        with on_device_of(data.X):
            if self._spherical():
                return self._output(distances(data, centres, rows_are_centres=own, squared=True)
                                    * COSINE_PER_SQUARED_DISTANCE, X)
            return self._output(distances(data, centres, rows_are_centres=own), X)

    def score(self, X: Array, y: Any = None, sample_weight: Array | None = None) -> float:
        """Minus the inertia of ``X`` under the fitted centres (higher is better): the
        weighted sum of squared distances, of cosine distances for a spherical model."""
        data, centres = self._prepare(X, "score", sample_weight)
        with on_device_of(data.X):
            total = inertia(data, centres)
        return -total * (COSINE_PER_SQUARED_DISTANCE if self._spherical() else 1.0)

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


