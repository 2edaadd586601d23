"""What identifies a library's arrays and devices, and moves arrays across the boundary.

:class:`Devices` is the first concern of :class:`~anykmeans._libraries._base.Library`:
whether an array, a module or a device object is the library's, its devices
and which are accelerators, an array on a named device (what a model is moved
like), making an array computable at the boundary, copying to the host,
evaluating lazy arrays, and the memory of a device. Its defaults know no
library; a library's module overrides what it can tell.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

from ._types import Array, Namespace


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


def unusable(library: str, device: str, why: str) -> Backend:
    """A :class:`Backend` that cannot be used here, and why."""
    return Backend(library, device, False, why)


class Devices:
    """A library's arrays and devices (the reference knows none), and its boundary.

    Attributes
    ----------
    name : str
        The library's import name ("" for arrays of a library anykmeans has no module for).
    install : str
        How a user installs the library.
    modules : tuple of str
        Other top-level modules whose objects (device types) belong to the library.
    """

    name = ""
    install = ""
    modules: tuple[str, ...] = ()

    @staticmethod
    def owns(x: Array) -> bool:
        """Whether ``x`` is an array of this library (never imports the library)."""
        return False

    @classmethod
    def owns_object(cls, obj: Any) -> bool:
        """Whether ``obj``, a module (``torch``, ``jax.numpy``, array-api-compat's wrapper of the
        library) or a device object, is this library's (never imports the library)."""
        module = obj.__name__ if isinstance(obj, ModuleType) else type(obj).__module__
        top = module.removeprefix("array_api_compat.").partition(".")[0]
        return bool(cls.name) and top in (cls.name, *cls.modules)

    #: The device that holds an array of the library (array-api-compat's ``device``).
    device_of = staticmethod(array_api_compat.device)

    def stand_in(self, x: Array) -> Array:
        """An array of the namespace that computes on ``x``: ``x`` itself, where ``x`` is an
        Array API array; a sparse library's dense arrays' (for namespace checks)."""
        return x

    def is_accelerator(self, device: Any) -> bool:
        """Whether ``device`` is an accelerator, which then gets the accelerator plan."""
        return False

    def array_on(self, device: Any = None) -> Array:
        """An empty array of the (imported) library on ``device``: what a model is moved like.

        Parameters
        ----------
        device : device object, str or None
            A device of the library, a device's name (``"cpu"``: the library's
            CPU device), or None: the library's default device.

        Raises
        ------
        ValueError
            If the library has no such device here. The reference knows no
            device: a library without a module of its own is named by its arrays.
        """
        raise ValueError(f"anykmeans cannot name a device of {self.name or 'this library'} "
                         f"({device!r}); pass an array of the library, on that device, as like.")

    def backends(self, module: Any) -> list[Backend]:
        """The devices of the imported library ``module``, usable or not."""
        return []

    def enable_float64(self) -> None:
        """Let the library make float64 arrays where it needs to be asked (the command line
        computes in float64 on every library, as NumPy does)."""

    def on_device(self, device: Any) -> contextlib.AbstractContextManager[Any]:
        """A context in which the library's creation functions (``zeros``, ``arange``,
        ``full``, ...) make arrays on ``device``: for a library whose functions follow a
        current device rather than their ``device=`` argument. The reference's take it."""
        return contextlib.nullcontext()

    def half_precision_dtype(self, xp: Namespace, device: Any) -> Any:
        """The floating dtype that half-precision input (float16, bfloat16) is computed in
        on ``device``: the namespace's default real floating dtype (NumPy's float64, as
        scikit-learn converts it; float32 in torch and JAX)."""
        return xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]

    def prepare(self, x: Array, name: str) -> Array:
        """``x`` as anykmeans computes on it, at the boundary: the same values, in an array
        the rest of the package can use (e.g. detached from an autograd graph).

        Raises
        ------
        TypeError
            If ``x`` cannot be computed on (the message names it ``name``).
        """
        return x


    def to_host(self, x: Array) -> np.ndarray:
        """``x`` copied to a NumPy array in host memory: through DLPack where ``x`` refuses an
        implicit conversion (as arrays of a device do; the standard's way to share host
        memory)."""
        try:
            return np.asarray(x)
        except TypeError:
            return np.from_dlpack(x)

    def materialise(self, *arrays: Array) -> tuple[Array, ...]:
        """Lazy arrays evaluated now, kept where they are; eager ones unchanged."""
        return arrays

    def device_memory(self, device: Any) -> int | None:
        """Bytes of memory ``device`` has in all (not what is free now, which changes between
        runs), or None where unknown."""
        return None
