"""Every input check of anykmeans and its error message.

Checks never modify their inputs. Arrays that do not belong to an Array API
library (lists, pandas frames) are converted to NumPy here, at the boundary,
and each library's module prepares its own arrays (NumPy's subclasses viewed
as plain arrays, PyTorch tensors detached from autograd: k-means is not
differentiable, and a graph kept through a fit would hold every intermediate
array); Array API arrays are kept in their library and on their device,
converted at most to a floating dtype.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from ._libraries import is_sparse, library_of
from ._namespace import (
    Array,
    Namespace,
    array_namespace,
    device_of,
    float_dtype,
    from_host,
    to_host,
)

INIT_METHODS = ("k-means++", "k-means||", "random")
ALGORITHMS = ("lloyd", "elkan")
#: How bisecting k-means chooses the leaf to split (scikit-learn's names).
BISECTING_STRATEGIES = ("biggest_inertia", "largest_cluster")
#: The seedings of one bisection (scikit-learn's).
BISECTION_INITS = ("k-means++", "random")
METRICS = ("euclidean", "cosine")


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless ``count`` is 1: "1 feature", "3 features".

    Parameters
    ----------
    count : int
    noun : str
        The singular, made plural with an "s".

    Returns
    -------
    str
    """
    return f"{count} {noun}{'' if count == 1 else 's'}"


def as_array(X: Any, name: str = "X", *, sparse: bool = False) -> Array:
    """Return ``X`` as an Array API array, converting other array-likes to NumPy.

    What its library needs at the boundary is its module's
    (:meth:`anykmeans._libraries.Library.prepare`): NumPy subclasses become
    plain ``ndarray`` views and object arrays numbers, PyTorch tensors are
    detached from autograd, Dask arrays lose their empty blocks of rows.

    Where ``sparse`` (data, not weights or centres), sparse data of a library
    anykmeans has a module for (SciPy sparse, torch sparse CSR) is kept
    sparse, as its module prepares it (CSR, canonical).

    Raises
    ------
    TypeError
        For sparse data where ``sparse`` is False, sparse matrices of other
        kinds, and what the library refuses: masked arrays, strings and other
        non-numeric content, PyTorch tensors on the ``meta`` device (they hold
        no data), sparse layouts it cannot compute on.
    """
    if is_sparse(X):
        if not sparse:
            raise TypeError(f"Sparse {name} is not supported; pass a dense array "
                            f"({name}.toarray(), or {name}.to_dense() for torch).")
        return library_of(X).prepare(X, name)
    if not array_api_compat.is_array_api_obj(X):
        if hasattr(X, "tocsr"):
            raise TypeError(
                f"Sparse input of type {type(X).__module__}.{type(X).__name__} is not supported "
                f"for {name}; pass a SciPy sparse matrix or array (e.g. "
                f"scipy.sparse.csr_array({name}.tocsr())) or a dense array."
            )
        X = _host_array(X)
    return library_of(X).prepare(X, name)


def _host_array(X: Any) -> np.ndarray:
    """``X``, not an Array API array, as a NumPy array; a data frame's (or series') missing
    values (pandas' NA, in nullable or object columns) as NaN, for the checks to find.

    NumPy makes an object array of a frame with missing values, whose NA values no number
    can be made of: such a frame is asked for its values with NaN for them (pandas'
    ``to_numpy(na_value=...)``); frames that cannot be asked so (other libraries) keep
    NumPy's conversion. Either way the object array is converted, and checked, by
    :meth:`~anykmeans._libraries.Library.prepare`.
    """
    array = np.asarray(X)
    if array.dtype.kind == "O" and callable(getattr(X, "to_numpy", None)):
        try:
            return np.asarray(X.to_numpy(na_value=np.nan))
        except (TypeError, ValueError):
            pass
    return array


def feature_names(X: Any) -> np.ndarray | None:
    """The column names of the data frame ``X`` when they are all strings, as scikit-learn's
    ``feature_names_in_``; None for anything else.

    Data frames (pandas, polars, ...) are recognised by their ``columns``, without
    importing their library; Array API arrays have no column names. Names of other
    types (pandas' default integer columns) are no feature names, as in scikit-learn.

    Returns
    -------
    numpy.ndarray of object (str), of shape (n_features,), or None

    Raises
    ------
    TypeError
        If some names are strings and others are not.
    ValueError
        If a name is repeated (whatever the names' types), as scikit-learn refuses it.
    """
    columns = getattr(X, "columns", None)
    if array_api_compat.is_array_api_obj(X) or not isinstance(columns, Iterable):
        return None
    names = list(columns)
    _check_unique(names)
    types = sorted({type(name).__qualname__ for name in names})
    if types != ["str"]:
        if "str" in types:
            raise TypeError(
                "Feature names are only supported if all input features have string names, "
                f"but your input has {types} as feature name / column name types. Convert them "
                "all to strings (e.g. X.columns = X.columns.astype(str)) for names to be "
                "stored and checked, or to another type for them to be ignored."
            )
        return None
    return np.asarray(names, dtype=object)


def _check_unique(names: list) -> None:
    """Refuse column names that repeat, listing each with its count."""
    counts = Counter(names)
    repeated = [f"- {name!r} {count} times" for name, count in counts.items() if count > 1]
    if repeated:
        raise ValueError("Expected unique column names, got:\n" + "\n".join(repeated))


def _check_same_device(X: Array, other: Array, name: str) -> None:
    if device_of(other) != device_of(X):
        raise ValueError(
            f"{name} is on device {device_of(other)} but X is on device {device_of(X)}; "
            "move them to one device first."
        )


def _following(v: Array, xp: Namespace, X: Array) -> Array:
    """``v`` in ``X``'s library (``xp``) and on its device: moved through the host if it is
    in another library or on another device."""
    try:
        array_namespace(v, X)
    except TypeError:  # another library
        return from_host(to_host(v), xp, device_of(X))
    return v if device_of(v) == device_of(X) else from_host(to_host(v), xp, device_of(X))


def _check_fitted_namespace(X: Array, fitted: Array, estimator: str, method: str,
                           array_like: bool) -> None:
    """Refuse new data ``X`` of another array library or device than the model's ``fitted``
    arrays, in scikit-learn's words (its array API checks match them).

    ``array_like`` says that ``X`` was given as an array-like that is no array of a
    library (a list, a data frame) and converted to NumPy: it goes with a NumPy model only.

    Raises
    ------
    ValueError
        Naming ``estimator.method()``, the two libraries or devices, and how
        to move the model.
    """
    fitted_xp = array_api_compat.array_namespace(fitted)
    if array_like:
        if array_api_compat.is_numpy_namespace(fitted_xp):
            return
        problem = (f"Array namespace used during fit ({fitted_xp.__name__}) is not compatible "
                   f"with the array-like input passed to {method}. Only the NumPy namespace "
                   "is compatible with array-like inputs.")
    else:
        xp = array_namespace(X)  # a sparse library's data: its dense library's namespace
        if xp is fitted_xp and device_of(X) == device_of(fitted):
            return
        problem = (f"Array namespaces used during fit ({fitted_xp.__name__}) and {method} "
                   f"({xp.__name__}) differ." if xp is not fitted_xp else
                   f"Devices used during fit ({device_of(fitted)}) and {method} "
                   f"({device_of(X)}) differ.")
    raise ValueError(
        f"Inputs passed to {estimator}.{method}() must use the same namespace and the same "
        f"device as those passed to fit(). {problem} Move the model to X's library and "
        "device with model.to(X), or X to the model's.")


def _not_finite(name: str, dtype: Any, source: Any) -> ValueError:
    """The error for NaN or infinity in ``name``, naming the conversion that may have made it."""
    converted = "" if source == dtype else f" once converted from {source} to {dtype}"
    return ValueError(f"Input {name} contains NaN or infinity{converted}.")


def _check_finite(xp: Namespace, x: Array, name: str, source: Any) -> None:
    """Reject NaN and infinity in ``x``, converted to its floating dtype from ``source``."""
    if xp.isdtype(x.dtype, "real floating") and not bool(xp.all(xp.isfinite(x))):
        raise _not_finite(name, x.dtype, source)


def largest_magnitude(xp: Namespace, X: Array) -> Array:
    """``max |X|`` as a 0-d array (NaN if ``X`` holds NaN), for :func:`check_magnitude`: the
    library's (:meth:`~anykmeans._libraries.Library.largest_magnitude`), lazy where ``X`` is,
    so that a caller can evaluate it with its other reductions."""
    return library_of(X).largest_magnitude(xp, X)


def _safe_magnitude(xp: Namespace, dtype: Any, total_weight: float, n_features: int) -> float:
    """The largest ``max |X|`` whose weighted squared distances cannot overflow ``dtype``.

    Rows, their mean and every centre (a weighted mean of rows) lie within
    ``2 M`` of each other per feature, ``M`` the largest ``|X|``: a squared
    distance is at most ``4 d M^2`` and a weighted sum of them (the inertia,
    the seeding's potential) ``total_weight`` times that. Requiring ``16
    total_weight d M^2`` to be finite leaves room for the score arithmetic
    (``|c|^2 - 2 c.x``), so that k-means never produces NaN or infinity from
    finite data.
    """
    return math.sqrt(float(xp.finfo(dtype).max) / (16.0 * total_weight * n_features))


def check_magnitude(largest: float, X: Array, name: str = "X", source: Any = None,
                    n_samples: int | None = None) -> None:
    """Reject data whose largest ``|X|`` is ``largest`` if it is not finite, or so large that
    squared distances would overflow ``X``'s dtype.

    ``X`` was converted to its floating dtype from ``source`` (None: it was
    not converted): values beyond the range of a narrower dtype became
    infinity, and the message says so. The bound is :func:`_safe_magnitude`
    with unit weights (``n_samples``: ``X``'s rows, or those of the data ``X``
    is a block of).
    """
    xp = array_namespace(X)
    if not math.isfinite(largest):
        raise _not_finite(name, X.dtype, X.dtype if source is None else source)
    n_features = X.shape[1]
    n_samples = X.shape[0] if n_samples is None else n_samples
    bound = _safe_magnitude(xp, X.dtype, n_samples, n_features)
    if largest > bound:
        raise ValueError(
            f"{name} has values of magnitude up to {largest:.3g}: squared distances between "
            f"{counted(n_samples, 'row')} of {counted(n_features, 'feature')} could overflow "
            f"{X.dtype} (largest "
            f"safe magnitude {bound:.3g}). Rescale {name} (e.g. divide it by its largest "
            "absolute value) or use a wider floating dtype."
        )


def check_data(X: Any, *, name: str = "X", n_features: int | None = None,
               estimator: str = "KMeans", method: str = "predict", like: Array | None = None,
               values: bool = True, lazily: bool = False) -> tuple[Namespace, Array]:
    """Validate a data matrix and return ``(xp, X)`` with ``X`` floating.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data. Array API arrays stay in their library and on their device;
        sparse data of a library anykmeans has a module for stays sparse
        (:func:`as_array`).
    name : str
        The name used in error messages.
    n_features : int, optional
        The number of features a fitted model expects; checked when given.
    estimator : str, default="KMeans"
        The fitted model's class name, for the message when ``n_features`` or
        the library differs.
    method : str, default="predict"
        The fitted model's method ``X`` was passed to, for the message when
        the library differs.
    like : array, optional
        An array of a fitted model: ``X`` must come from its library and device
        (a ``ValueError`` in scikit-learn's words otherwise) and is converted
        to its dtype, the one the model computes in. Otherwise ``X`` keeps a
        real floating dtype of at least 32 bits; integers, booleans and half
        precision take the namespace's default floating dtype (see
        :func:`anykmeans._namespace.float_dtype`).
    values : bool, default=True
        Check the values now (finite, not so large that squared distances
        overflow). False leaves it to the caller, who evaluates
        :func:`largest_magnitude` with its own reductions (one pass over a
        lazy ``X`` for all of them) and calls :func:`check_magnitude`.
    lazily : bool, default=False
        With ``values``, let a lazy library check them in the tasks that
        compute ``X``'s blocks instead
        (:meth:`~anykmeans._libraries._passes.Passes.checked`), for a result
        computed from every row and left lazy: the error is raised where the
        caller computes it, and nothing of ``X`` is read before.

    Returns
    -------
    xp : the namespace of ``X``
    X : array of shape (n_samples, n_features), floating. A Dask array has
        no empty block of rows (Dask's reductions fail on them): its row
        chunks are the non-empty ones of the input.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, is empty, holds NaN or infinity or values so large
        that squared distances would overflow the dtype it is computed in
        (checked after the conversion to that dtype), is complex, has the
        wrong number of features, or is of another library or device than
        ``like``.
    TypeError
        If ``X`` is sparse of a kind anykmeans does not take, masked, on PyTorch's
        meta device or not numeric.
    """
    array_like = not array_api_compat.is_array_api_obj(X) and not is_sparse(X)
    X = as_array(X, name, sparse=True)
    if like is not None:
        _check_fitted_namespace(X, like, estimator, method, array_like)
    xp = array_namespace(X, like)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array for {name}, got {X.ndim}-D with shape {tuple(X.shape)}. "
            "Reshape your data either using X.reshape(-1, 1) if it has a single feature "
            "or X.reshape(1, -1) if it contains a single sample."
        )
    shape = tuple(X.shape)
    if any(s is None or (isinstance(s, float) and math.isnan(s)) for s in shape):
        raise ValueError(
            f"{name} has unknown dimensions {shape}; compute its chunk sizes first "
            "(dask: X.compute_chunk_sizes())."
        )
    if shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required."
        )
    if shape[1] < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required."
        )
    if n_features is not None and shape[1] != n_features:
        raise ValueError(
            # scikit-learn's words, which its estimator checks match: "X has 1 features".
            f"X has {shape[1]} features, but {estimator} is expecting {n_features} features "
            "as input."
        )
    source = X.dtype
    dtype = float_dtype(xp, X)  # refuses complex and non-numeric dtypes
    if like is not None:
        dtype = like.dtype
    if source != dtype:
        X = library_of(X).astype(xp, X, dtype)
    if values:
        check = functools.partial(_check_values, name=name, source=source, n_samples=shape[0])
        if lazily:
            X = library_of(X).passes.checked(X, check)
        else:
            check(X)
    return xp, X


def _check_values(X: Array, first_row: int = 0, *, name: str, source: Any,
                  n_samples: int) -> None:
    """:func:`check_magnitude` on ``X``, rows of a data matrix of ``n_samples`` rows (a check
    of :meth:`~anykmeans._libraries._passes.Passes.checked`: its message names no row, so
    ``first_row`` is not needed)."""
    check_magnitude(float(largest_magnitude(array_namespace(X), X)), X, name, source,
                    n_samples)


def check_sample_weight(sample_weight: Any, xp: Namespace, X: Array, *,
                        values: bool = True) -> Array:
    """Return sample weights as a 1-D array of ``X``'s dtype on ``X``'s device.

    ``None`` means unit weights; a number (Python's or NumPy's) or a 0-d array
    means that weight for every sample, checked as an array of it is. A Dask
    array takes the row chunks of ``X`` (which has no empty ones).

    Weights of another array library or device than ``X`` are moved to ``X``'s
    (through the host), as scikit-learn's array API support moves them.

    The weights are used as given, not normalised: ``inertia_`` and ``score``
    are in their units. Weights that could make a weighted sum overflow are
    refused: the sum of the weights times the bound on squared distances
    (:func:`_safe_magnitude`, with the weights' sum for the number of rows)
    must be finite. So are positive weights below the smallest normal number
    of ``X``'s dtype (subnormal ones, e.g. 1e-320 in float64), whose
    reciprocals overflow: scaling every weight by one positive factor changes
    neither the labels nor the centres, only the inertia's units.

    ``values=False`` leaves the values to the caller, who reads
    :func:`deferred_checks` with its own results.

    Raises
    ------
    ValueError
        If the weights have the wrong shape, are negative, not finite, all zero,
        subnormal, or sum to so much that the weighted inertia could overflow.
    TypeError
        If they are masked or sparse.
    """
    n_samples, n_features = X.shape
    device = device_of(X)
    if sample_weight is None:
        return xp.ones(n_samples, dtype=X.dtype, device=device)
    if isinstance(sample_weight, numbers.Real):
        try:
            value = float(sample_weight)
        except OverflowError as exc:  # a Python int beyond float64's range
            raise ValueError("Input sample_weight contains a number too large for float64 "
                             f"({exc}); rescale sample_weight.") from exc
        sample_weight = xp.asarray(value, device=device)
    sample_weight = _following(as_array(sample_weight, "sample_weight"), xp, X)
    if xp.isdtype(sample_weight.dtype, "complex floating"):
        raise ValueError("sample_weight must be real-valued, got complex values.")
    if sample_weight.ndim == 0:
        sample_weight = xp.broadcast_to(sample_weight, (n_samples,))
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) to match X, "
            f"got shape {tuple(sample_weight.shape)}."
        )
    sample_weight = library_of(X).passes.blocked_like(sample_weight, X)
    source = sample_weight.dtype
    sample_weight = xp.astype(sample_weight, X.dtype)
    if not values:
        return sample_weight
    _check_finite(xp, sample_weight, "sample_weight", source)
    if bool(xp.any(sample_weight < 0)):
        raise ValueError("sample_weight must be non-negative; found negative values.")
    if not bool(xp.any(sample_weight > 0)):
        raise ValueError("sample_weight must have at least one positive value; all are zero.")
    smallest_normal = float(xp.finfo(X.dtype).smallest_normal)
    if bool(xp.any((sample_weight > 0) & (sample_weight < smallest_normal))):
        raise ValueError(
            f"sample_weight has positive values below {smallest_normal:.3g}, the smallest "
            f"normal {X.dtype}: their reciprocals overflow. Rescale sample_weight (e.g. "
            "divide it by its largest value) or set such weights to zero."
        )
    total = float(xp.sum(sample_weight))
    # check_data bounded X for n_samples unit weights: only a larger total needs X again.
    if total > n_samples:
        bound = _safe_magnitude(xp, X.dtype, total, n_features)
        largest = float(largest_magnitude(xp, X))
        if largest > bound:
            raise ValueError(
                f"sample_weight sums to {total:.3g}: with X of magnitude up to {largest:.3g}, "
                f"weighted sums of squared distances could overflow {X.dtype} (largest safe "
                f"magnitude {bound:.3g} for these weights). Rescale sample_weight (e.g. divide "
                "it by its largest value) or X."
            )
    return sample_weight


def check_row_sq_norms(x_squared_norms: Any, xp: Namespace, X: Array) -> Array:
    """Return the rows' squared norms ``x_squared_norms`` as a 1-D array of ``X``'s dtype.

    Raises
    ------
    ValueError
        If their length is not ``X``'s number of rows (scikit-learn's words),
        they are not 1-D, or hold NaN or infinity.
    TypeError
        If they come from another array library than ``X``.
    """
    norms = as_array(x_squared_norms, "x_squared_norms")
    array_namespace(X, norms)
    _check_same_device(X, norms, "x_squared_norms")
    if norms.ndim != 1:
        raise ValueError(f"x_squared_norms must be 1-D, got shape {tuple(norms.shape)}.")
    if norms.shape[0] != X.shape[0]:
        raise ValueError(f"The length of x_squared_norms {norms.shape[0]} should be equal to "
                         f"the length of n_samples {X.shape[0]}.")
    source = norms.dtype
    norms = xp.astype(norms, X.dtype)
    _check_finite(xp, norms, "x_squared_norms", source)
    return norms


class DeferredChecks(NamedTuple):
    """The value checks of :func:`check_data` and :func:`check_sample_weight` (called with
    ``values=False``), to be read with a caller's own numbers: one read, not one a check.

    Attributes
    ----------
    values : 1-D array
        What the checks read: the largest ``|X|``, then for weights whether all
        are finite, whether one is negative, one positive, one subnormal, and
        their sum.
    recheck : callable
        Given ``values`` on the host: nothing where every check passes;
        otherwise it runs the checks again, eagerly, and they raise their error.
    """

    values: Array
    recheck: Callable[[np.ndarray], None]


def deferred_checks(xp: Namespace, X: Array, sample_weight: Array | None,
                    recheck: Callable[[], Any]) -> DeferredChecks:
    """The values of ``X`` (and of ``sample_weight``, unless None) that :func:`check_data`
    and :func:`check_sample_weight` check, as one small lazy vector.

    Parameters
    ----------
    X : array
        Data as :func:`check_data` returned it with ``values=False``.
    sample_weight : array or None
        Weights as :func:`check_sample_weight` returned them with ``values=False``.
    recheck : callable
        Runs those checks again with values (``recheck()``): called when the
        values read fail one, it raises that check's error.
    """
    checks = [largest_magnitude(xp, X)]
    if sample_weight is not None:
        tiny = xp.finfo(X.dtype).smallest_normal
        checks += [xp.all(xp.isfinite(sample_weight)), xp.any(sample_weight < 0),
                   xp.any(sample_weight > 0),
                   xp.any((sample_weight > 0) & (sample_weight < tiny)),
                   xp.sum(sample_weight)]
    values = xp.stack([xp.astype(check, X.dtype) for check in checks])
    n_samples, n_features = X.shape

    def passes(read: np.ndarray) -> bool:
        largest = float(read[0])
        if not math.isfinite(largest) or largest > _safe_magnitude(xp, X.dtype, n_samples,
                                                                   n_features):
            return False
        if sample_weight is None:
            return True
        finite, negative, positive, subnormal, total = (float(v) for v in read[1:])
        return (finite and not negative and positive and not subnormal
                and (total <= n_samples
                     or largest <= _safe_magnitude(xp, X.dtype, total, n_features)))

    def check(read: np.ndarray) -> None:
        if not passes(read):
            recheck()

    return DeferredChecks(values, check)


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int if it is a positive integer (bools excluded)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_chunk_size(chunk_size: Any) -> int | None:
    """``chunk_size``, checked: None or a positive integer."""
    return None if chunk_size is None else check_positive_int(chunk_size, "chunk_size")


def check_positive_real(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite positive real number (bools excluded)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
    return float(value)


def check_non_negative(value: Any, name: str, *, integral: bool = False) -> float | int:
    """Return ``value`` if it is a finite non-negative number (an int when ``integral``).

    Bools are refused either way.
    """
    kind = numbers.Integral if integral else numbers.Real
    if (isinstance(value, bool) or not isinstance(value, kind)
            or not math.isfinite(value) or value < 0):
        noun = "integer" if integral else "finite number"
        raise ValueError(f"{name} must be a non-negative {noun}, got {value!r}.")
    return int(value) if integral else float(value)


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a bool if it is Python's or NumPy's bool (as scikit-learn's
    ``"boolean"`` constraint; 0, 1 and strings are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}.")
    return bool(value)


def check_verbose(verbose: Any) -> int:
    """Return ``verbose`` as an int if it is a bool or a non-negative integer (as
    scikit-learn's ``"verbose"`` constraint)."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if not isinstance(verbose, numbers.Integral) or verbose < 0:
        raise ValueError(f"verbose must be an integer >= 0 or a bool, got {verbose!r}.")
    return int(verbose)


def check_tol(tol: Any) -> float:
    """Return ``tol`` as a float if it is a finite non-negative real number."""
    return check_non_negative(tol, "tol")


def check_n_init(n_init: Any) -> int | str:
    """Return ``n_init``: the string ``"auto"`` or a positive integer."""
    if isinstance(n_init, str):
        if n_init != "auto":
            raise ValueError(f"n_init must be 'auto' or a positive integer, got {n_init!r}.")
        return n_init
    return check_positive_int(n_init, "n_init")


def check_algorithm(algorithm: Any) -> str:
    """Return ``algorithm`` if it is one of the accepted names."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}.")
    return algorithm


def check_bisecting_strategy(strategy: Any) -> str:
    """Return ``strategy`` if it is one of :data:`BISECTING_STRATEGIES`."""
    if not (isinstance(strategy, str) and strategy in BISECTING_STRATEGIES):
        raise ValueError(f"bisecting_strategy must be one of {BISECTING_STRATEGIES}, "
                         f"got {strategy!r}.")
    return strategy


def check_bisection_init(init: Any) -> Any:
    """Return ``init`` if it is one of :data:`BISECTION_INITS` or a callable (not an array: a
    bisection's two centres cannot be given in advance)."""
    if callable(init) or (isinstance(init, str) and init in BISECTION_INITS):
        return init
    raise ValueError(f"init must be one of {BISECTION_INITS} or a callable, got {init!r}.")
def check_metric(metric: Any) -> str:
    """Return ``metric`` if it is one of :data:`METRICS`."""
    if not (isinstance(metric, str) and metric in METRICS):
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    return metric


def check_nonzero_norms(norms: Array, first_row: int = 0, *, name: str = "X",
                        n_rows: int | None = None) -> None:
    """Refuse rows of norm zero, which have no direction (cosine distances to them are
    undefined): one read of the smallest of the rows' ``norms``.

    ``norms`` are those of rows ``first_row`` on of ``name``'s ``n_rows`` (all of them
    when ``n_rows`` is None): a check of
    :meth:`~anykmeans._libraries._passes.Passes.checked`, which may check a block of rows
    at a time.

    Raises
    ------
    ValueError
        Naming how many of these rows of ``name`` are zero and the first of them.
    """
    xp = array_namespace(norms)
    if float(to_host(xp.min(norms))) != 0:  # norms are never negative
        return
    zero = to_host(norms) == 0
    last = first_row + zero.shape[0] - 1
    among = "" if n_rows in (None, zero.shape[0]) else f" among rows {first_row} to {last}"
    raise ValueError(
        f"{name} has {counted(int(zero.sum()), 'row')} of norm zero{among} (the first is row "
        f"{first_row + int(np.argmax(zero))}): the cosine metric needs a direction for every "
        "row; drop them or use metric='euclidean'."
    )


def check_init_method(init: Any) -> Any:
    """Check that ``init`` is a known method name, a callable or an array-like."""
    if isinstance(init, str):
        if init not in INIT_METHODS:
            raise ValueError(
                f"init must be one of {INIT_METHODS}, a callable or an array of shape "
                f"(n_clusters, n_features); got {init!r}."
            )
    elif not callable(init) and not hasattr(init, "__len__") and not hasattr(init, "shape"):
        raise TypeError(
            "init must be a string, a callable or an array of shape "
            f"(n_clusters, n_features); got {type(init).__name__}."
        )
    return init


def check_centres(centres: Any, xp: Namespace, X: Array, n_clusters: int,
                  name: str = "init") -> Array:
    """Validate initial centres against ``X`` and return them in ``X``'s dtype.

    Raises
    ------
    ValueError
        For the wrong shape (in scikit-learn's words: the number of clusters is
        checked first, then the number of features) or non-finite values.
    TypeError
        If the centres come from another array library than ``X``.
    """
    centres = as_array(centres, name)
    array_namespace(X, centres)
    _check_same_device(X, centres, name)
    if xp.isdtype(centres.dtype, "complex floating"):
        raise ValueError(f"{name} must be real-valued, got complex values.")
    shape = tuple(centres.shape)
    mismatch = (f"the number of clusters {n_clusters}" if shape[:1] != (n_clusters,)
                else f"the number of features of the data {X.shape[1]}"
                if shape[1:] != (X.shape[1],) else None)
    if mismatch is not None:  # scikit-learn's words, then which centres
        raise ValueError(f"The shape of the initial centers {shape} does not match {mismatch}."
                         + ("" if name == "init" else f" The initial centers are {name}."))
    source = centres.dtype
    centres = xp.astype(centres, X.dtype, copy=True)
    _check_finite(xp, centres, name, source)
    return centres


def check_n_clusters(n_clusters: Any, n_samples: int) -> int:
    """Return ``n_clusters`` if it is a positive integer no larger than ``n_samples``."""
    n_clusters = check_positive_int(n_clusters, "n_clusters")
    if n_samples < n_clusters:
        raise ValueError(f"n_samples={n_samples} should be >= n_clusters={n_clusters}.")
    return n_clusters
