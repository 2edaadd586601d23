"""array-api-strict: the standard and nothing else, our stand-in for a device we cannot see.

Its ``Device("device1")`` refuses implicit conversion to NumPy and mixing
devices, as a GPU does; arrays reach the host only through an explicit move
to the default device. Everything else is the reference library's.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from ._base import Library
from ._devices import Backend, unusable
from ._types import Array


class ArrayApiStrict(Library):
    """``array_api_strict`` arrays, on any of its devices."""

    name = "array_api_strict"
    install = "pip install array-api-strict"

    @staticmethod
    def owns(x: Array) -> bool:
        # array-api-compat has no is_*_array for it; its arrays carry their namespace.
        namespace = getattr(x, "__array_namespace__", None)
        return (type(x).__module__.startswith("array_api_strict") and namespace is not None
                and array_api_compat.is_array_api_strict_namespace(namespace()))

    def backends(self, module: Any) -> list[Backend]:
        xps = module
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
                found.append(unusable("array_api_strict", name,
                                      "no int64 here, which searchsorted returns"))
            else:
                found.append(Backend("array_api_strict", name, True, xps.__version__,
                                     lambda x, d=device: convert(x, d)))
        return found

    def array_on(self, device: Any = None) -> Array:
        """On a device, or the one its name gives ("cpu": the default device, CPU_DEVICE)."""
        import array_api_strict as xps

        if device is None or device == "cpu":
            device = xps.__array_namespace_info__().default_device()
        elif isinstance(device, str):
            try:
                device = xps.Device(device)
            except ValueError as exc:
                raise ValueError(f"array-api-strict has no device {device!r} ({exc}).") from exc
        return xps.empty((0,), device=device)

    def to_host(self, x: Array) -> np.ndarray:
        x = x.to_device(x.__array_namespace__().__array_namespace_info__().default_device())
        return np.asarray(x)
