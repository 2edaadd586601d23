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

import array_api_compat

from ._base import (
    PLAN_VARIABLE,
    Array,
    Assignment,
    Backend,
    Library,
    Namespace,
    forced_plan,
    unusable,
)
from ._cupy import CuPy
from ._dask import Dask
from ._jax import Jax
from ._numpy import NumPy
from ._strict import ArrayApiStrict
from ._torch import Torch

__all__ = [
    "LIBRARIES",
    "PLAN_VARIABLE",
    "Array",
    "Assignment",
    "Backend",
    "Library",
    "Namespace",
    "library_named",
    "library_of",
    "unusable",
]

#: The libraries anykmeans has a module for, in the order ``anykmeans.backends()`` lists them.
LIBRARIES: tuple[type[Library], ...] = (NumPy, ArrayApiStrict, Torch, Jax, Dask, CuPy)


def library_of(x: Array) -> Library:
    """The library of the array ``x``, on the plan its device (or :data:`PLAN_VARIABLE`) asks for.

    Arrays of a library without a module of its own get the reference
    :class:`Library`, which uses the standard alone.
    """
    cls = next((cls for cls in LIBRARIES if cls.owns(x)), Library)
    plan = forced_plan()
    if plan is None:
        accelerator = _instance(cls, False).is_accelerator(array_api_compat.device(x))
    else:
        accelerator = plan == "accelerator"
    return _instance(cls, accelerator)


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


@functools.cache
def _instance(cls: type[Library], accelerator: bool) -> Library:
    return cls(accelerator)
