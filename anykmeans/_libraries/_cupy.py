"""CuPy: CUDA arrays, always on the accelerator plan.

The accelerator plan's segment sum is the reference one-hot product:
``cupyx.scatter_add`` adds atomically, in an order that changes from run to
run. Chunks are sized from the device's free memory, counting what CuPy's
memory pool holds unused.
"""

from __future__ import annotations

import contextlib
from typing import Any

import array_api_compat

from ._base import Library
from ._devices import Backend, unusable
from ._threads import SharedLimit
from ._types import Array, Namespace


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

    def on_device(self, device: Any) -> contextlib.AbstractContextManager[Any]:
        """CuPy's current device: array-api-compat's CuPy ``zeros``, ``arange``, ``full`` and
        ``empty`` make arrays there whatever their ``device=`` says."""
        import cupy

        return cupy.cuda.Device(getattr(device, "id", device))

    def half_precision_dtype(self, xp: Namespace, device: Any) -> Any:
        """float32, as torch and JAX on a GPU (CuPy's default floating dtype is float64,
        whose products run at a fraction of float32's rate on most GPUs)."""
        return xp.float32

    def matmul(self, xp: Namespace, a: Array, b: Array) -> Array:
        """``a @ b`` with CuPy's float32 products at full precision while it runs: CuPy's
        compute type for float32 (TF32 under ``CUPY_TF32=1``, or whatever
        ``set_compute_type`` chose) is held at the default, full-precision one by
        :data:`_full_precision` while any of our products runs, and put back after."""
        with _full_precision():
            return a @ b

    def device_memory(self, device: Any) -> int | None:
        import cupy

        with cupy.cuda.Device(device.id if hasattr(device, "id") else device):
            _, total = cupy.cuda.runtime.memGetInfo()
        return total


def _float32_at_full_precision():
    """Set CuPy's compute type for float32 products to its full-precision default; return
    what puts back the type found."""
    import numpy as np
    from cupy._core import _routines_linalg as linalg

    found = linalg.get_compute_type(np.float32)
    linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_DEFAULT)
    return lambda: linalg.set_compute_type(np.float32, found)


#: CuPy's float32 products at full precision while any of anykmeans' products runs, from any
#: thread (Dask's).
_full_precision = SharedLimit(_float32_at_full_precision)
