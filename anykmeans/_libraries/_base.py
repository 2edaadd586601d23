"""The reference library: what anykmeans does with arrays of any Array API library.

:class:`Library` holds every decision that depends on the array library, each
with a default written in the standard alone: finding out whether an array is
the library's, moving arrays to the host, evaluating lazy arrays, the fast
primitives the standard lacks (segment sums, row norms, the layout of a chunk),
how many rows a chunk holds and how the chunks of a pass are run. A library's
own module (``_numpy``, ``_torch``, ...) subclasses it and overrides only what
its library does better; a library anykmeans has no module for gets these
defaults, which are correct everywhere.

Each library runs one of two plans. The CPU plan keeps a chunk's working set
near the processor's caches (:data:`CPU_CHUNK_BYTES`). The accelerator plan
(GPUs) sizes chunks from the device's free memory, so that a pass is a handful
of large kernels, uses only deterministic, synchronisation-free operations, and
reads back to the host once per Lloyd iteration. The plan follows the array's
device, or the environment variable :data:`PLAN_VARIABLE` (``cpu`` or
``accelerator``) when it is set.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NamedTuple, TypeVar

import array_api_compat
import numpy as np

Array = Any
Namespace = Any
T = TypeVar("T")

#: The environment variable that forces a plan: ``cpu`` or ``accelerator``.
PLAN_VARIABLE = "ANYKMEANS_PLAN"
PLANS = ("cpu", "accelerator")

#: Bytes of working memory one chunk may use on the CPU plan when ``chunk_size``
#: is not given: large enough that per-operation overhead vanishes, small enough
#: that a chunk's score block stays near the caches (measured in benchmarks/).
CPU_CHUNK_BYTES = 8 * 2**20

#: The accelerator plan's chunk budget where the device's free memory is unknown.
ACCELERATOR_CHUNK_BYTES = 2**30

#: The share of the device's free memory one chunk may use on the accelerator plan.
ACCELERATOR_MEMORY_SHARE = 0.25


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


def first_true(xp: Namespace, mask: Array, axis: int) -> Array:
    """Index of the first True along ``axis`` (0 or 1) of a 2-D boolean ``mask``; the last
    index where there is none (a row whose scores are all NaN), so that indices stay in range.

    ``(m - 1) - max_j(mask_j * (m - 1 - j))``, in the narrowest integer type that holds
    ``m``: the standard's ``argmax`` is not defined on booleans, and along axis 0 this
    vectorises like a reduction along whole rows, which an argmax down the columns does not.
    """
    m = mask.shape[axis]
    dtype = xp.int8 if m < 2**7 else xp.int16 if m < 2**15 else xp.int32
    countdown = xp.arange(m - 1, -1, -1, dtype=dtype, device=array_api_compat.device(mask))
    marked = xp.astype(mask, dtype)
    marked *= countdown[:, None] if axis == 0 else countdown[None, :]
    return (m - 1) - xp.max(marked, axis=axis)


def unusable(library: str, device: str, why: str) -> Backend:
    """A :class:`Backend` that cannot be used here, and why."""
    return Backend(library, device, False, why)


def forced_plan() -> str | None:
    """The plan :data:`PLAN_VARIABLE` forces, or None when it is unset or empty.

    Raises
    ------
    ValueError
        If the variable names no plan.
    """
    plan = os.environ.get(PLAN_VARIABLE, "").strip().lower()
    if not plan:
        return None
    if plan not in PLANS:
        raise ValueError(f"{PLAN_VARIABLE}={os.environ[PLAN_VARIABLE]!r} names no plan; "
                         f"use one of {PLANS} (or leave it unset).")
    return plan


class Assignment(NamedTuple):
    """What one pass of assignment over the data produced.

    Attributes
    ----------
    labels : integer array of shape (n_samples,)
        Index of the nearest centre of every row (ties go to the lower index).
    inertia : 0-d array
        Weighted sum of the squared distances of the rows to their nearest
        centre, from the scores (``|x|^2 + min_j score``): the rounding of the
        assignment itself; from the residuals ``x - c`` when the pass was
        asked for the exact inertia.
    sums : array of shape (n_clusters, n_features) or None
        Weighted sum of the (centred) rows of each cluster.
    weight_sums : array of shape (n_clusters,) or None
        Sum of the weights of the rows of each cluster.
    x_sq_norms : array of shape (n_samples,)
        Squared norm of every centred row: what the next assignment of the
        same rows may be given instead of computing it again.
    """

    labels: Array
    inertia: Array
    sums: Array | None
    weight_sums: Array | None
    x_sq_norms: Array

    def plus(self, other: Assignment) -> Assignment:
        """The inertia and sums of two parts of a pass added up (labels and norms dropped)."""
        def add(a: Array | None, b: Array | None) -> Array | None:
            return None if a is None else a + b

        return Assignment(None, self.inertia + other.inertia, add(self.sums, other.sums),
                          add(self.weight_sums, other.weight_sums), None)


class Pass(NamedTuple):
    """What :meth:`Library.run_pass` (or :meth:`Library.search_pass`) returns.

    Attributes
    ----------
    state : object
        What the block passes returned for the rows, for the next pass over the
        same rows (:meth:`Library.state_rows` reads it). Opaque: an eager
        library's is the block pass's own; a lazy library's stays where each
        block was computed.
    small : object
        The block passes' small results: summed over the blocks, or listed in
        block order when the pass was asked to ``gather`` them; arrays of the
        library's small side (see :meth:`Library.gather`).
    operands : tuple
        The pass's operands, evaluated on the small side (rows that
        :meth:`Library.rows` or a search found are read here).
    """

    state: Any
    small: Any
    operands: tuple


class Library:
    """An array library as anykmeans uses it, on one plan; the standard-only reference.

    Parameters
    ----------
    accelerator : bool
        Run the accelerator plan (see the module's docstring) rather than the CPU plan.

    Notes
    -----
    Subclasses set :attr:`name` (the import name) and :attr:`install` (how to
    get the library) and override what their library does better. Instances
    are made by :func:`anykmeans._libraries.library_of`, one per class and plan.
    """

    #: The library's import name ("" for arrays of a library anykmeans has no module for).
    name = ""
    #: How a user installs the library.
    install = ""
    #: Other top-level modules whose objects (device types) belong to the library.
    modules: tuple[str, ...] = ()

    def __init__(self, accelerator: bool = False) -> None:
        self.accelerator = accelerator

    def __repr__(self) -> str:
        plan = "accelerator" if self.accelerator else "cpu"
        return f"<{type(self).__name__} library, {plan} plan>"

    # -- which arrays, which devices ---------------------------------------------------------

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

    def is_accelerator(self, device: Any) -> bool:
        """Whether ``device`` is an accelerator, which then gets the accelerator plan."""
        return False

    def empty(self, device: Any = None) -> Array:
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

    # -- the boundary ------------------------------------------------------------------------

    def prepare(self, x: Array, name: str) -> Array:
        """``x`` as anykmeans computes on it, at the boundary: the same values, in an array
        the rest of the package can use (e.g. detached from an autograd graph).

        Raises
        ------
        TypeError
            If ``x`` cannot be computed on (the message names it ``name``).
        """
        return x

    def rows_like(self, v: Array, X: Array) -> Array:
        """The per-row array ``v`` laid out as the rows of ``X`` (e.g. in the same blocks)."""
        return v

    def to_host(self, x: Array) -> np.ndarray:
        """``x`` copied to a NumPy array in host memory."""
        return np.asarray(x)

    def materialise(self, *arrays: Array) -> tuple[Array, ...]:
        """Lazy arrays evaluated now, kept where they are; eager ones unchanged."""
        return arrays

    # -- the plan ----------------------------------------------------------------------------

    def free_memory(self, device: Any) -> int | None:
        """Bytes free on ``device`` for a chunk's working set, or None where unknown."""
        return None

    def chunk_bytes(self, device: Any) -> int:
        """Bytes one chunk's working set may take on ``device``."""
        if not self.accelerator:
            return CPU_CHUNK_BYTES
        free = self.free_memory(device)
        if free is None:
            return ACCELERATOR_CHUNK_BYTES
        return max(CPU_CHUNK_BYTES, int(free * ACCELERATOR_MEMORY_SHARE))

    def chunk_rows(self, n_samples: int, n_features: int, n_centres: int, itemsize: int,
                   device: Any, chunk_size: int | None = None) -> int:
        """Rows per chunk: ``chunk_size`` if given, else what :meth:`chunk_bytes` allows.

        A chunk holds its centred rows, its score block against ``n_centres``
        centres and the one-hot block of the generic segment sum: about
        ``2 (n_features + n_centres)`` values per row.
        """
        if chunk_size is None:
            per_row = 2 * (n_features + n_centres) * itemsize
            chunk_size = max(1, self.chunk_bytes(device) // per_row)
        return min(chunk_size, n_samples)

    def map_chunks(self, X: Array, function: Callable[[slice], T],
                   chunks: Iterable[slice]) -> Iterator[T]:
        """``function(chunk)`` for every chunk of rows of ``X``, yielded in chunk order."""
        return map(function, chunks)

    def compiled(self, function: Callable[..., T],
                 static_argnums: tuple[int, ...]) -> Callable[..., T]:
        """``function`` of one chunk, compiled where the library compiles; the arguments at
        ``static_argnums`` are not arrays (the library, the namespace, flags)."""
        return function

    def fused_assignment(self, data: Any, centres: Array, centre_sq_norms: Array, *,
                         update: bool, exact_inertia: bool, x_sq_norms: Array | None,
                         tie_ulps: int) -> Callable[[slice], Assignment] | None:
        """A function that assigns one chunk of rows of a pass in one fused step, or None.

        The library's own implementation of
        :func:`anykmeans._primitives.assign` on the rows ``data.X[chunk]``
        (same arguments; ties within ``tie_ulps`` ulps), where it has one for
        this pass; None where it has not, and the standard path runs. The
        reference has none.
        """
        return None

    def assign(self, data: Any, centres: Array, eager: Callable[..., Assignment],
               **options: Any) -> Assignment:
        """Run the assignment pass ``eager(data, centres, **options)`` the library's way.

        ``data`` is the pass's :class:`anykmeans._primitives.Data`. Eager libraries
        run the pass as it is; a lazy library may split it, e.g. one task per
        block of rows, each running ``eager`` on its block.
        """
        return eager(data, centres, **options)

    # -- a fit's passes ----------------------------------------------------------------------
    #
    # A fit is a sequence of passes over the rows of X, each followed by arithmetic on a few
    # model-sized arrays (centres, sums, potentials): its "small side". An eager library
    # runs a pass as one call on all the rows and keeps its small side on the data's
    # device; a lazy library may run one task per block of rows, keep each block's state
    # where it was computed and bring the small results to the client in one round trip.
    # The block passes are the generic code's: the same maths on a block as on all rows.

    def resident(self, X: Array) -> contextlib.AbstractContextManager[Array]:
        """``X`` as the passes of one fit read it, while the ``with`` block lasts.

        An eager library's is ``X`` itself; a lazy library may hold ``X`` in
        its workers' memory until the block ends, so that each pass reads it
        rather than computing it again.
        """
        return contextlib.nullcontext(X)

    def gather(self, *arrays: Any) -> tuple[Any, ...]:
        """Model-sized arrays (the mean, centres, statistics) on the fit's small side.

        An eager library's small side is the data's own device: the arrays are
        returned unchanged. A lazy library evaluates the lazy ones together (one
        round trip) into the library of its blocks, in the caller's process.
        """
        return arrays

    def rows(self, data: Any, indices: Array) -> Any:
        """The rows of ``data.X`` at ``indices`` (not centred), for :meth:`gather` or as an
        operand of the next pass.

        ``indices`` are on the small side. A lazy library may return them
        unevaluated: the pass that takes them as an operand reads them in its
        own round trip and returns them evaluated (:attr:`Pass.operands`).
        """
        return data.xp.take(data.X, indices, axis=0)

    def run_pass(self, data: Any, block_pass: Callable[..., tuple[Any, Any]], state: Any,
                 *operands: Any, gather: bool = False) -> Pass:
        """One pass over the rows of ``data``, each block of rows given to ``block_pass``.

        Parameters
        ----------
        data : Data
            The rows (:class:`anykmeans._primitives.Data`).
        block_pass : callable
            ``block_pass(block, rows, state, *operands) -> (state, small)`` on a
            :class:`~anykmeans._primitives.Data` ``block`` of eager arrays: ``rows``
            is the slice of ``data.X`` it holds, ``state`` what the previous pass
            returned for those rows (None at first). Defined at module level,
            so that a worker process can import it.
        state : object
            The :attr:`Pass.state` of the previous pass over ``data``, or None.
        *operands
            Model-sized arrays on the small side, or what :meth:`rows` returned.
        gather : bool, default=False
            List the blocks' ``small`` results in block order instead of adding
            them up (then ``small`` must be a tuple of arrays, or None in place
            of an array, that add up over blocks).

        Returns
        -------
        Pass

        Notes
        -----
        The reference runs ``block_pass`` once, on all the rows.
        """
        state, small = block_pass(data, slice(0, data.X.shape[0]), state, *operands)
        return Pass(state, [small] if gather else small, operands)

    def search_pass(self, data: Any, state: Any, values: Array, totals: list | None,
                    select: Callable[..., Any], find: Callable[..., tuple],
                    block_pass: Callable[..., tuple[Any, Any]], *operands: Any) -> Pass:
        """A pass whose first operand is found in the rows: where running sums reach ``values``.

        Parameters
        ----------
        data, state, *operands
            As for :meth:`run_pass`.
        values : array on the small side
            What to find: for each value, the first row at which the running
            sum (over all rows, in order) of a per-row quantity reaches it.
        totals : list or None
            Each block's sum of that quantity, on the small side, where the
            previous pass had several blocks (a lazy library sends each value to
            the block that holds it); None after a pass of one block.
        select : callable
            ``select(block, state) -> selected``: what ``find`` and ``block_pass``
            read of a block's state, the searched quantity among it.
        find : callable
            ``find(block, selected, values, offset) -> found``: a tuple of arrays
            with one row per value, the first holding the found rows' indices
            within the block; ``offset`` is the running sum before the block
            (None for the first block). The library makes the indices index
            ``data.X``.
        block_pass : callable
            ``block_pass(block, rows, state, selected, found, *operands)``, as
            :meth:`run_pass`'s, also given ``selected`` and everything found.

        Returns
        -------
        Pass
            With the blocks' small results listed, and ``found`` first among the
            evaluated operands.
        """
        selected = select(data, state)
        found = find(data, selected, values, None)
        state, small = block_pass(data, slice(0, data.X.shape[0]), state, selected, found,
                                  *operands)
        return Pass(state, [small], (found, *operands))

    def state_rows(self, data: Any, state: Any, index: int, dtype: Any) -> Array:
        """Entry ``index`` of a pass's state (a tuple of per-row arrays) for all of ``data``'s
        rows, as one array of ``data.X``'s library (lazy for a lazy library)."""
        return state[index]

    # -- primitives the standard lacks -------------------------------------------------------

    def rows_first(self, n_rows: int, n_centres: int) -> bool:
        """Whether a chunk's score block is laid out row by row (``(n_rows, n_centres)``)
        rather than centre by centre: where the library reduces long rows best. The
        reference keeps centre-major blocks (see :func:`anykmeans._primitives.scores`)."""
        return False

    def first_true(self, xp: Namespace, mask: Array) -> Array:
        """Index of the first True along each row of a 2-D boolean ``mask`` (the reference:
        :func:`first_true` along axis 1)."""
        return first_true(xp, mask, axis=1)


    def centred_rows(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """``X[rows] - mean``: a chunk of rows in the centred frame, a new array."""
        return X[rows, :] - mean

    def sq_norms(self, xp: Namespace, x: Array) -> Array:
        """Squared Euclidean norm of every row of ``x``."""
        return xp.sum(x * x, axis=1)

    def segment_sum(self, xp: Namespace, values: Array, segment_ids: Array,
                    n_segments: int) -> Array:
        """Sum the rows of ``values`` that share a segment id.

        Parameters
        ----------
        values : array of shape (n,) or (n, d)
        segment_ids : integer array of shape (n,), values in ``[0, n_segments)``
        n_segments : int

        Returns
        -------
        array of shape (n_segments,) or (n_segments, d), ``values``' dtype, where
        row ``j`` is the sum of the rows of ``values`` whose id is ``j``.

        Notes
        -----
        The reference is a one-hot matrix product, deterministic on every
        device (no atomic additions). Its ``n x n_segments`` one-hot block is
        a chunk's working set: callers pass a chunk's rows, not all of ``X``.
        """
        segments = xp.arange(n_segments, dtype=segment_ids.dtype,
                             device=array_api_compat.device(values))
        one_hot = xp.astype(segment_ids[:, None] == segments[None, :], values.dtype)
        return one_hot.T @ values

    def cluster_sums(self, xp: Namespace, x: Array, w: Array | None, labels: Array,
                     n_clusters: int) -> tuple[Array, Array]:
        """Per-cluster sums of a chunk's rows ``x`` (already weighted) and of their weights.

        Parameters
        ----------
        x : array of shape (n_rows, n_features)
        w : array of shape (n_rows,) or None
            The rows' weights; None for unit weights (the sums of weights are counts).
        labels : integer array of shape (n_rows,)
        n_clusters : int

        Returns
        -------
        sums : array of shape (n_clusters, n_features)
        weight_sums : array of shape (n_clusters,), ``x``'s dtype

        Notes
        -----
        A library with segment sums of its own uses them on the CPU plan; otherwise,
        and on every accelerator (where they add atomically), the one-hot block of the
        reference :meth:`segment_sum` is built once for both sums.
        """
        if not self.accelerator and type(self).segment_sum is not Library.segment_sum:
            weight_sums = (self.segment_count(xp, labels, n_clusters, x.dtype) if w is None
                           else self.segment_sum(xp, w, labels, n_clusters))
            return self.segment_sum(xp, x, labels, n_clusters), weight_sums
        clusters = xp.arange(n_clusters, dtype=labels.dtype, device=array_api_compat.device(x))
        one_hot = xp.astype(labels[:, None] == clusters[None, :], x.dtype)
        weight_sums = xp.sum(one_hot, axis=0) if w is None else one_hot.T @ w
        return one_hot.T @ x, weight_sums

    def segment_count(self, xp: Namespace, segment_ids: Array, n_segments: int,
                      dtype: Any) -> Array:
        """How many of ``segment_ids`` equal each segment, ``(n_segments,)`` in ``dtype``."""
        ones = xp.ones(segment_ids.shape[0], dtype=dtype,
                       device=array_api_compat.device(segment_ids))
        return self.segment_sum(xp, ones, segment_ids, n_segments)

