"""The reference library: what anykmeans does with arrays of any Array API library.

:class:`Library` holds every decision that depends on the array library, each
with a default written in the standard alone, in four concerns of a module
each:

- its arrays and devices, and the boundary (:mod:`._devices`): is an array the
  library's, which devices, copying to the host, evaluating lazy arrays;
- its plan (:mod:`._plan`): how many rows a chunk holds, how chunks run (a
  thread pool, compiled), a fused assignment;
- the primitives the standard lacks (:mod:`._ops`): segment sums, row norms,
  the layout of a chunk;
- how a fit's passes run (:mod:`._passes`), a strategy of its own: eager
  (the reference) or lazy (Dask's).

A library's own module (``_numpy``, ``_torch``, ...) subclasses it and
overrides only what its library does differently; a library anykmeans has no
module for gets these defaults, which are correct everywhere.
"""

from __future__ import annotations

from ._devices import Devices
from ._ops import Primitives
from ._passes import Passes
from ._plan import Plan


class Library(Devices, Plan, Primitives):
    """An array library as anykmeans uses it, on one plan; the standard-only reference.

    Parameters
    ----------
    accelerator : bool
        Run the accelerator plan (see :mod:`anykmeans._libraries._plan`) rather
        than the CPU plan.

    Attributes
    ----------
    passes_type : type
        The strategy by which the library runs a fit's passes: :class:`Passes`
        (eager) unless the library's module says otherwise.
    passes : Passes
        This library's instance of it.

    Notes
    -----
    Subclasses set :attr:`name` (the import name) and :attr:`install` (how to
    get the library) and override what their library does differently.
    Instances are made by :func:`anykmeans._libraries.library_of`, one per class
    and plan.
    """

    passes_type: type[Passes] = Passes

    def __init__(self, accelerator: bool = False) -> None:
        super().__init__(accelerator)
        self.passes = self.passes_type(self)

    def __repr__(self) -> str:
        plan = "accelerator" if self.accelerator else "cpu"
        return f"<{type(self).__name__} library, {plan} plan>"
