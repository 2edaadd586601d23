"""The boundary between anykmeans and the caller's array library.

Finding the namespace and the device of an array, the dtype policy, and the
few deliberate device <-> host transfers, which the array's library module
carries out (:mod:`anykmeans._libraries`). The rest of the package receives
``xp`` and only calls functions of the Python Array API standard on it.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from ._libraries import Array, Namespace, has_float64, library_of

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


def to_host(x: Array) -> np.ndarray:
    """Copy ``x`` to a NumPy array in host memory.

    This is the only function in the package that moves array data (more
    than a lone scalar, which validation reads with ``bool()``) from a device
    to the host; the Lloyd loop calls it once per iteration on four numbers,
    and the tests count its calls. How is the library's business
    (:meth:`anykmeans._libraries.Library.to_host`).
    """
    return library_of(x).to_host(x)


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
