"""What anykmeans knows about each array library: one module per library.

Each module holds everything about its library (recognising its arrays,
listing its devices, moving arrays to the host, evaluating lazy ones, its fast
primitives and its plan for running a pass) in a subclass of the reference
:class:`~anykmeans._libraries._base.Library`, whose defaults use the Array API
standard alone. Libraries are recognised through ``array_api_compat``, which
looks in ``sys.modules``: nothing is imported that the caller has not.
Supporting another library is one more module here.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import array_api_compat

from ._base import Library
from ._cupy import CuPy
from ._cupy_sparse import CuPySparse
from ._dask import Dask
from ._devices import Backend, unusable
from ._jax import Jax
from ._numpy import NumPy
from ._ops import first_true, first_true_and_count, has_float64, sums_added, sums_rounded
from ._pairs import fast_two_sum, halving_sum, split
from ._plan import PLAN_VARIABLE, forced_plan
from ._scipy import SciPySparse
from ._strict import ArrayApiStrict
from ._torch import Torch
from ._torch_sparse import TorchSparse
from ._types import Array, Assignment, Namespace, PassData

__all__ = [
    "LIBRARIES",
    "PLAN_VARIABLE",
    "Array",
    "Assignment",
    "Backend",
    "Library",
    "Namespace",
    "PassData",
    "fast_two_sum",
    "first_true",
    "first_true_and_count",
    "halving_sum",
    "has_float64",
    "is_sparse",
    "library_named",
    "library_of",
    "like_for",
    "split",
    "sums_added",
    "sums_rounded",
    "unusable",
]

#: The libraries anykmeans has a module for, in the order ``anykmeans.backends()`` lists them.
LIBRARIES: tuple[type[Library], ...] = (NumPy, ArrayApiStrict, Torch, Jax, Dask, CuPy)

#: The libraries of sparse data anykmeans has a module for: each computes with a dense
#: library's namespace (SciPy's with NumPy's, torch sparse CSR with torch's, CuPy's sparse
#: with CuPy's) and is recognised before it.
SPARSE_LIBRARIES: tuple[type[Library], ...] = (SciPySparse, TorchSparse, CuPySparse)

#: Every library, in the order an array is recognised: NumPy's first (the common case), each
#: sparse library before the dense one it extends.
_RECOGNISED = (NumPy, ArrayApiStrict, *SPARSE_LIBRARIES, Torch, Jax, Dask, CuPy)


def library_of(x: Array) -> Library:
    """The library of the array ``x``, on the plan its device (or :data:`PLAN_VARIABLE`) asks for.

    Arrays of a library without a module of its own get the reference
    :class:`Library`, which uses the standard alone.
    """
    cls = next((cls for cls in _RECOGNISED if cls.owns(x)), Library)
    plan = forced_plan()
    if plan is None:
        library = _instance(cls, False)
        accelerator = library.is_accelerator(library.device_of(x))
    else:
        accelerator = plan == "accelerator"
    return _instance(cls, accelerator)


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is sparse data of a library anykmeans has a module for (never imports
    the library)."""
    return any(cls.owns(x) for cls in SPARSE_LIBRARIES)


def library_named(name: str) -> Library:
    """The library whose import name is ``name``, on the CPU plan.

    Raises
    ------
    ValueError
        If anykmeans has no module for ``name``.
    """
    for cls in LIBRARIES:
        if cls.name == name:
            return _instance(cls, False)
    names = tuple(cls.name for cls in LIBRARIES)
    raise ValueError(f"Unknown array library {name!r}; choose from {names}.")


def like_for(target: Any, current: Array) -> Array | None:
    """The array that ``target`` names as the place to move a model whose arrays are like
    ``current``: an array of the target library, on the target device.

    Parameters
    ----------
    target : array, module, device, str or None
        An array, or None (NumPy): returned as they are. A library's module
        (``numpy``, ``torch``, ``jax`` or ``jax.numpy``, ``dask.array``, ...): that
        library, on its default device. A device object (``torch.device``, a JAX
        device, ...): its library, on it. A device's name ("cuda:1"): the library
        of ``current``, on that device; "cpu" is NumPy for a NumPy model and the
        library's CPU device otherwise.
    current : array

    Raises
    ------
    TypeError
        If ``target`` is none of these.
    ValueError
        If the library has no such device here.
    """
    if target is None or array_api_compat.is_array_api_obj(target):
        return target
    if isinstance(target, str):
        return library_of(current).array_on(target)
    cls = next((cls for cls in LIBRARIES if cls.owns_object(target)), None)
    if cls is None:
        raise TypeError(
            "like must be an array of the target library and device, a library's module "
            "(e.g. torch), a device (e.g. torch.device('cuda')), a device name in the model's "
            f"library (e.g. 'cpu'), or None (NumPy); got {type(target).__name__}.")
    return _instance(cls, False).array_on(None if isinstance(target, ModuleType) else target)


@functools.cache
def _instance(cls: type[Library], accelerator: bool) -> Library:
    return cls(accelerator)


Dask.block_library = staticmethod(library_of)
