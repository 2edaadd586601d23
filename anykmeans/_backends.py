"""Which array libraries and devices are usable on this machine, and how to reach them.

Used by :func:`anykmeans.backends`, the command line, the benchmarks and the
tests. Listing the backends imports the libraries that are installed (that is
what being asked means); importing anykmeans imports none of them.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._namespace import Array

LIBRARIES = ("numpy", "array_api_strict", "torch", "jax", "dask", "cupy")


@dataclass(frozen=True)
class Backend:
    """One array library on one device.

    Attributes
    ----------
    library : str
        Import name of the library ("numpy", "torch", ...).
    device : str
        The device, as the library names it.
    usable : bool
        Whether arrays can be made here.
    note : str
        The library's version, or why the backend is not usable.
    """

    library: str
    device: str
    usable: bool
    note: str
    _convert: Callable[[np.ndarray], Array] | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """``library`` or ``library:device`` where the library has several devices."""
        return self.library if self.device == "cpu" else f"{self.library}:{self.device}"

    def asarray(self, x: Any) -> Array:
        """Copy the NumPy array ``x`` into this library and device.

        The dtype is kept where the device supports it; float64 becomes float32
        on devices without float64 (and in JAX without ``jax_enable_x64``).
        """
        if self._convert is None:
            raise RuntimeError(f"backend {self.name} is not usable here: {self.note}")
        return self._convert(np.asarray(x))


def _unusable(library: str, device: str, why: str) -> Backend:
    return Backend(library, device, False, why)


def _numpy() -> list[Backend]:
    return [Backend("numpy", "cpu", True, np.__version__, lambda x: x)]


def _array_api_strict(xps) -> list[Backend]:
    info = xps.__array_namespace_info__()

    def convert(x, device):
        supported = info.dtypes(device=device)
        dtype = str(x.dtype) if str(x.dtype) in supported else (
            "float32" if x.dtype.kind == "f" else "int32")
        return xps.asarray(x.astype(dtype, copy=False), device=device)

    found = []
    for device in info.devices():
        name = str(device).split("'")[1]
        if "int64" not in info.dtypes(device=device):
            found.append(_unusable("array_api_strict", name,
                                   "no int64 here, which searchsorted returns"))
        else:
            found.append(Backend("array_api_strict", name, True, xps.__version__,
                                 lambda x, d=device: convert(x, d)))
    return found


def _torch(torch) -> list[Backend]:
    found = [Backend("torch", "cpu", True, torch.__version__, lambda x: torch.asarray(x))]
    if torch.cuda.is_available():
        found.append(Backend("torch", "cuda", True, torch.__version__,
                             lambda x: torch.asarray(x, device="cuda")))
    else:
        found.append(_unusable("torch", "cuda", "no CUDA device (or a CPU-only build)"))
    return found


def _jax(jax) -> list[Backend]:
    import jax.numpy as jnp

    note = jax.__version__ + ("" if jax.config.jax_enable_x64 else "; float64 needs jax_enable_x64")
    return [Backend("jax", str(d.platform), True, note,
                    lambda x, d=d: jax.device_put(jnp.asarray(x), d))
            for d in jax.devices()]


def _dask(dask) -> list[Backend]:
    import dask.array as da

    def convert(x):
        rows = max(1, -(-x.shape[0] // 4)) if x.ndim else ()
        return da.from_array(x, chunks=(rows, *x.shape[1:]) if x.ndim else ())

    return [Backend("dask", "cpu", True, dask.__version__, convert)]


def _cupy(cupy) -> list[Backend]:
    try:
        n_devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # the CUDA runtime raises its own error types
        return [_unusable("cupy", "cuda", f"no usable CUDA device ({exc})")]
    if n_devices == 0:
        return [_unusable("cupy", "cuda", "no CUDA device")]
    return [Backend("cupy", "cuda", True, cupy.__version__, lambda x: cupy.asarray(x))]


_INSTALL = {
    "array_api_strict": "pip install array-api-strict",
    "torch": "pip install anykmeans[torch]",
    "jax": "pip install anykmeans[jax]",
    "dask": "pip install anykmeans[dask]",
    "cupy": "pip install anykmeans[cuda12] or anykmeans[cuda13], on a machine with a CUDA GPU",
}

_PROBES = {
    "numpy": _numpy,
    "array_api_strict": _array_api_strict,
    "torch": _torch,
    "jax": _jax,
    "dask": _dask,
    "cupy": _cupy,
}


def backends(libraries: tuple[str, ...] = LIBRARIES) -> list[Backend]:
    """List the array libraries and devices anykmeans can use here.

    Parameters
    ----------
    libraries : tuple of str
        Library names to probe, by default all that anykmeans supports.

    Returns
    -------
    list of Backend
        One entry per library and device, usable or not, with the reason.
    """
    found: list[Backend] = []
    for library in libraries:
        if library not in _PROBES:
            raise ValueError(f"Unknown array library {library!r}; choose from {LIBRARIES}.")
        if library == "numpy":
            found.extend(_numpy())
            continue
        if importlib.util.find_spec(library) is None:
            found.append(_unusable(library, "-", f"not installed ({_INSTALL[library]})"))
            continue
        try:
            module = importlib.import_module(library)
        except Exception as exc:  # a broken install: report it, do not crash the listing
            found.append(_unusable(library, "-", f"import failed: {exc}"))
            continue
        found.extend(_PROBES[library](module))
    return found
