"""CuPy: CUDA arrays, always on the accelerator plan.

The accelerator plan's segment sum is the reference one-hot product:
``cupyx.scatter_add`` adds atomically, in an order that changes from run to
run. Chunks are sized from the device's free memory, counting what CuPy's
memory pool holds unused.
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from ._base import Library
from ._devices import Backend, unusable
from ._types import Array


class CuPy(Library):
    """``cupy.ndarray`` arrays (CUDA devices)."""

    name = "cupy"
    install = "pip install cupy-cuda12x (or cupy-cuda13x for CUDA 13), on a machine with a CUDA GPU"

    @staticmethod
    def owns(x: Array) -> bool:
        return array_api_compat.is_cupy_array(x)

    def is_accelerator(self, device: Any) -> bool:
        return True

    def backends(self, module: Any) -> list[Backend]:
        cupy = module
        try:
            n_devices = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # the CUDA runtime raises its own error types
            return [unusable("cupy", "cuda", f"no usable CUDA device ({exc})")]
        if n_devices == 0:
            return [unusable("cupy", "cuda", "no CUDA device")]
        return [Backend("cupy", "cuda", True, cupy.__version__, lambda x: cupy.asarray(x))]

    def array_on(self, device: Any = None) -> Array:
        """On a CUDA device: a ``cupy.cuda.Device``, its index, or its name "cuda[:index]"."""
        import cupy

        if isinstance(device, str):
            kind, _, index = device.partition(":")
            if kind != "cuda" or not (index or "0").isdigit():
                raise ValueError(f"CuPy arrays are on CUDA devices ('cuda', 'cuda:1'), not on "
                                 f"{device!r}; to move the model to the CPU, pass numpy.")
            device = int(index or 0)
        try:
            with cupy.cuda.Device(device):
                return cupy.empty(0)
        except RuntimeError as exc:  # CUDARuntimeError: no such device
            raise ValueError(f"CuPy has no device {device!r} here ({exc}).") from exc

    def to_host(self, x: Array):
        return x.get()

    def device_memory(self, device: Any) -> int | None:
        import cupy

        with cupy.cuda.Device(device.id if hasattr(device, "id") else device):
            _, total = cupy.cuda.runtime.memGetInfo()
        return total
