"""The boundary between anykmeans and the caller's array library.

Everything that must know *which* library or device holds an array lives
here: finding the namespace, the dtype policy, and the few deliberate
device <-> host transfers. The rest of the package receives ``xp`` and only
calls functions of the Python Array API standard on it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np

Array = Any
Namespace = Any

__all__ = [
    "Array",
    "Namespace",
    "array_namespace",
    "can_limit_blas",
    "device_of",
    "float_dtype",
    "gather_small",
    "has_float64",
    "index_dtype",
    "itemsize",
    "materialise",
    "single_threaded_blas",
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
        libraries = sorted({type(a).__module__.split(".")[0] for a in present})
        raise TypeError(
            "All arrays must come from the same array library; got arrays from "
            f"{', '.join(libraries)}. Convert them to one library first."
        ) from exc


def device_of(x: Array) -> Any:
    """Return the device that holds ``x``."""
    return array_api_compat.device(x)


def has_float64(xp: Namespace, device: Any) -> bool:
    """Whether ``device`` of namespace ``xp`` supports float64 arithmetic."""
    info = xp.__array_namespace_info__()
    return "float64" in info.dtypes(device=device, kind="real floating")


def index_dtype(xp: Namespace, device: Any) -> Any:
    """The namespace's default index dtype on ``device`` (the dtype of labels)."""
    return xp.__array_namespace_info__().default_dtypes(device=device)["indexing"]


def float_dtype(xp: Namespace, dtype: Any, device: Any) -> Any:
    """The floating dtype k-means computes in for input of ``dtype``.

    Real floating dtypes of 32 bits or more are kept; booleans, integers and
    narrower floating dtypes (float16, PyTorch's bfloat16: too coarse to rank
    squared distances, and overflowing from magnitudes near 10) become the
    namespace's default real floating dtype on ``device``.

    Raises
    ------
    ValueError
        For complex input (not supported).
    TypeError
        For dtypes that are not numeric.
    """
    if xp.isdtype(dtype, "real floating") and xp.finfo(dtype).bits >= 32:
        return dtype
    if xp.isdtype(dtype, "complex floating"):
        raise ValueError("Complex data not supported; pass real-valued arrays.")
    if xp.isdtype(dtype, ("integral", "bool", "real floating")):
        info = xp.__array_namespace_info__()
        return info.default_dtypes(device=device)["real floating"]
    raise TypeError(f"Expected numeric data, got dtype {dtype}.")


def itemsize(xp: Namespace, dtype: Any) -> int:
    """Bytes per element of a floating ``dtype``."""
    return xp.finfo(dtype).bits // 8


def to_host(x: Array) -> np.ndarray:
    """Copy ``x`` to a NumPy array in host memory.

    This is the only function in the package that moves array data (more
    than a lone scalar, which validation reads with ``bool()``) from a device
    to the host; the Lloyd loop calls it once per iteration on four numbers,
    and the tests count its calls.
    """
    if array_api_compat.is_numpy_array(x):
        return x
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_dask_array(x):
        with single_threaded_blas():
            return np.asarray(x.compute())
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        x = x.to_device(x.__array_namespace__().__array_namespace_info__().default_device())
    return np.asarray(x)


def materialise(*arrays: Array) -> tuple[Array, ...]:
    """Evaluate lazy arrays now, keeping them where they are.

    Dask arrays are persisted so that the next Lloyd iteration builds on
    results rather than on an ever-growing task graph; every other library is
    eager and gets its arrays back unchanged.
    """
    if any(array_api_compat.is_dask_array(a) for a in arrays):
        import dask

        with single_threaded_blas():
            return dask.persist(*arrays)
    return arrays


def gather_small(*arrays: Array) -> tuple[Array, ...]:
    """Small lazy arrays as eager arrays of the library their blocks are in.

    For work too small to distribute (k-means|| reduces a few thousand
    candidates): a Dask array is computed into one NumPy (or CuPy) array in
    the client, once, instead of paying a scheduler round trip per step.
    Eager arrays come back unchanged.
    """
    if any(array_api_compat.is_dask_array(a) for a in arrays):
        import dask

        with single_threaded_blas():
            return dask.compute(*arrays)
    return arrays


@functools.cache
def can_limit_blas() -> bool:
    """Whether BLAS's thread count can be limited (``threadpoolctl`` is installed)."""
    return importlib.util.find_spec("threadpoolctl") is not None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread while our own threads (or Dask's) run chunks in parallel.

    BLAS's idle threads spin on the cores that the other chunks need: with a
    thread per core already busy, one BLAS thread per chunk is faster, as
    scikit-learn's Lloyd loop also does. Without ``threadpoolctl`` nothing changes.
    """
    if not can_limit_blas():
        yield
        return
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
