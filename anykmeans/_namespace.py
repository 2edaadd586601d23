"""The boundary between anykmeans and the caller's array library.

Finding the namespace and the device of an array, the dtype policy, and the
few deliberate device <-> host transfers, which the array's library module
carries out (:mod:`anykmeans._libraries`). The rest of the package receives
``xp`` and only calls functions of the Python Array API standard on it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import array_api_compat
import numpy as np

from ._libraries import Array, Library, Namespace, has_float64, is_sparse, library_of

T = TypeVar("T")

__all__ = [
    "Array",
    "Namespace",
    "array_namespace",
    "device_of",
    "float_dtype",
    "from_host",
    "has_float64",
    "index_dtype",
    "materialise",
    "on_data_device",
    "on_device_of",
    "to_host",
]


def array_namespace(*arrays: Array) -> Namespace:
    """Return the Array API namespace shared by ``arrays`` (``None`` is skipped).

    Raises
    ------
    TypeError
        If the arrays come from different array libraries.
    """
    present = [a for a in arrays if a is not None]
    try:
        return array_api_compat.array_namespace(*present)
    except TypeError as exc:
        if any(is_sparse(a) for a in present):  # sparse data computes in a dense namespace
            return array_namespace(*(library_of(a).stand_in(a) for a in present))
        libraries = sorted({type(a).__module__.split(".")[0] for a in present})
        raise TypeError(
            "All arrays must come from the same array library; got arrays from "
            f"{', '.join(libraries)}. Convert them to one library first."
        ) from exc


def device_of(x: Array) -> Any:
    """Return the device that holds ``x`` (its library's answer where the array has no
    ``device``: SciPy's sparse data)."""
    try:
        return array_api_compat.device(x)
    except AttributeError:
        return library_of(x).device_of(x)


def on_device_of(X: Any) -> contextlib.AbstractContextManager[Any]:
    """A context in which arrays are made on the device of ``X``, where ``X`` is an array
    (:meth:`~anykmeans._libraries.Library.on_device`: CuPy's creation functions follow the
    current device, not ``device=``); nothing for other data (lists, data frames)."""
    if not array_api_compat.is_array_api_obj(X):
        return contextlib.nullcontext()
    return library_of(X).on_device(device_of(X))


def on_data_device(function: Callable[..., T]) -> Callable[..., T]:
    """A decorator: ``function(X, ...)`` runs :func:`on_device_of` its data, its first
    argument (or ``X=``)."""
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> T:
        with on_device_of(args[0] if args else kwargs.get("X")):
            return function(*args, **kwargs)

    return run


def index_dtype(xp: Namespace, device: Any) -> Any:
    """The namespace's default index dtype on ``device`` (the dtype of labels)."""
    return xp.__array_namespace_info__().default_dtypes(device=device)["indexing"]


def float_dtype(xp: Namespace, x: Array) -> Any:
    """The floating dtype k-means computes in for the input ``x``.

    Real floating dtypes of 32 bits or more are kept; booleans and integers
    become the namespace's default real floating dtype on ``x``'s device;
    narrower floating dtypes (float16, PyTorch's bfloat16: too coarse to rank
    squared distances, and overflowing from magnitudes near 10) the one the
    library computes half precision in
    (:meth:`~anykmeans._libraries.Library.half_precision_dtype`).

    Raises
    ------
    ValueError
        For complex input (not supported).
    TypeError
        For dtypes that are not numeric.
    """
    dtype, device = x.dtype, device_of(x)
    if xp.isdtype(dtype, "real floating") and xp.finfo(dtype).bits >= 32:
        return dtype
    if xp.isdtype(dtype, "complex floating"):
        raise ValueError("Complex data not supported; pass real-valued arrays.")
    if xp.isdtype(dtype, "real floating"):
        return library_of(x).half_precision_dtype(xp, device)
    if xp.isdtype(dtype, ("integral", "bool")):
        info = xp.__array_namespace_info__()
        return info.default_dtypes(device=device)["real floating"]
    raise TypeError(f"Expected numeric data, got dtype {dtype}.")


def to_host(x: Array, library: Library | None = None) -> np.ndarray:
    """Copy ``x`` to a NumPy array in host memory.

    This is the only function in the package that moves array data (more
    than a lone scalar, which validation reads with ``bool()``) from a device
    to the host; the Lloyd loop calls it once per iteration on four numbers,
    and the tests count its calls. How is the library's business
    (:meth:`anykmeans._libraries.Library.to_host`): ``library``, where the caller
    has the one of the data ``x`` was computed from (any plan; a lazy library
    copies an evaluated ``x`` through its blocks' library), else ``x``'s own.
    """
    return (library or library_of(x)).to_host(x)


def from_host(host: np.ndarray, xp: Namespace, device: Any) -> Array:
    """A host array in namespace ``xp`` on ``device``: float64 as float32 where the device
    has no float64 (the other way of :func:`to_host`)."""
    if host.dtype == np.float64 and not has_float64(xp, device):
        host = host.astype(np.float32)
    return xp.asarray(host, device=device)


def materialise(*arrays: Array) -> tuple[Array, ...]:
    """Evaluate lazy arrays now, keeping them where they are.

    Dask arrays are persisted so that the next mini-batch step builds on
    results rather than on an ever-growing task graph; every other library is
    eager and gets its arrays back unchanged.
    """
    return library_of(arrays[0]).materialise(*arrays)
