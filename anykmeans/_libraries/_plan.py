"""How a library runs a pass on one of two plans: the size of a chunk, how chunks run.

:class:`Plan` is the second concern of :class:`~anykmeans._libraries._base.Library`.
The CPU plan keeps a chunk's working set near the processor's caches
(:data:`CPU_CHUNK_BYTES`). The accelerator plan (GPUs) sizes chunks from the
device's memory, so that a pass is a handful of large kernels, uses only
deterministic, synchronisation-free operations, and reads back to the host
once per Lloyd iteration. The plan follows the array's device, or the
environment variable :data:`PLAN_VARIABLE` (``cpu`` or ``accelerator``) when it
is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ._types import Array, Assignment, PassData

T = TypeVar("T")

#: The environment variable that forces a plan: ``cpu`` or ``accelerator``.
PLAN_VARIABLE = "ANYKMEANS_PLAN"
PLANS = ("cpu", "accelerator")

#: Bytes of working memory one chunk may use on the CPU plan when ``chunk_size``
#: is not given: large enough that per-operation overhead vanishes, small enough
#: that a chunk's score block stays near the caches (measured in benchmarks/).
CPU_CHUNK_BYTES = 8 * 2**20

#: The accelerator plan's chunk budget where the device's memory is unknown.
ACCELERATOR_CHUNK_BYTES = 2**30

#: The share of the device's memory (less the data's) one chunk may use on the accelerator
#: plan.
ACCELERATOR_MEMORY_SHARE = 0.4

#: Values (of the rows' dtype) a feature of a row takes at the peak of the accelerator plan's
#: recheck of float32 rows (:func:`anykmeans._exact.exactly_nearest` on four candidates):
#: the row and candidates in float64 (10), their differences (8), and all of them together
#: (18).
RECHECK_VALUES = 36

#: A chunk of sparse rows that makes its own cluster sums holds at least
#: ``n_features / SPARSE_SUMS_ROWS_RATIO`` rows: its sums are a dense ``k x n_features`` block
#: whatever its rows, paid once per chunk.
SPARSE_SUMS_ROWS_RATIO = 4

#: Rows a chunk of sparse rows holds at the least.
SPARSE_MIN_CHUNK_ROWS = 128


def sparse_chunk_rows(n_samples: int, n_features: int, stored: int, n_centres: int,
                      itemsize: int, chunk_bytes: int, chunk_size: int | None = None, *,
                      chunk_sums: bool = True) -> int:
    """Rows per chunk of sparse data of ``stored`` values: ``chunk_size`` if given; else, within
    ``chunk_bytes``, a chunk's score block with the tie test's temporaries (about ``3 k``
    values a row) and the temporaries of its stored values (about 4 a value), but at least
    :data:`SPARSE_MIN_CHUNK_ROWS`, and ``n_features / SPARSE_SUMS_ROWS_RATIO`` where each
    chunk makes its own cluster sums (``chunk_sums``)."""
    if chunk_size is None:
        per_row = (3 * n_centres + 4 * stored / max(n_samples, 1)) * itemsize
        least = n_features // SPARSE_SUMS_ROWS_RATIO if chunk_sums else 0
        chunk_size = max(int(chunk_bytes // per_row), least, SPARSE_MIN_CHUNK_ROWS)
    return min(chunk_size, n_samples)


#: Sizes per doubling on the ladder that :meth:`Plan.padded_rows` pads subsets of rows to.
PADDED_SIZES_PER_OCTAVE = 4


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


def ladder_size(n_rows: int) -> int:
    """The smallest size at least ``n_rows`` of the form ``m 2^e`` with ``m`` in
    ``(PADDED_SIZES_PER_OCTAVE, 2 PADDED_SIZES_PER_OCTAVE]`` (every size up to twice that):
    less than a quarter more than ``n_rows``."""
    steps = PADDED_SIZES_PER_OCTAVE
    if n_rows <= 2 * steps:
        return n_rows
    shift = (n_rows - 1).bit_length() - steps.bit_length()
    return -(-n_rows >> shift) << shift


class Plan:
    """Chunks and how they run; the reference runs them one after another, uncompiled.

    The accelerator plan's chunks are sized from the device's memory, which
    the library's ``device_memory`` (:class:`~anykmeans._libraries._devices.Devices`)
    tells: its total, less the data's bytes, never what is free at the moment
    (which changes between runs, and with it the chunks and the rounding).

    Parameters
    ----------
    accelerator : bool
        Run the accelerator plan rather than the CPU plan.
    """

    def __init__(self, accelerator: bool = False) -> None:
        self.accelerator = accelerator

    def chunk_bytes(self, device: Any, data_bytes: int) -> int:
        """Bytes one chunk's working set may take on ``device``, beside data of
        ``data_bytes``: on the accelerator plan a share of the device's memory less the
        data's, the same on every run."""
        if not self.accelerator:
            return CPU_CHUNK_BYTES
        total = self.device_memory(device)
        if total is None:
            return ACCELERATOR_CHUNK_BYTES
        return max(CPU_CHUNK_BYTES, int((total - data_bytes) * ACCELERATOR_MEMORY_SHARE))

    def chunk_rows(self, n_samples: int, n_features: int, n_centres: int, itemsize: int,
                   device: Any, chunk_size: int | None = None) -> int:
        """Rows per chunk: ``chunk_size`` if given, else what :meth:`chunk_bytes` allows.

        On the CPU plan a chunk holds its centred rows, its score block against
        ``n_centres`` centres and a one-hot block as wide: about
        ``2 (n_features + n_centres)`` values per row. On the accelerator plan,
        the score block with the tie test's temporaries (half as much again),
        or, after it, the float64 arrays of the recheck of float32 rows
        (:data:`RECHECK_VALUES` a feature), and the centred rows, their sorted copy
        and its float64 running sums
        (:class:`~anykmeans._libraries._ops.SortedSegments`): about
        ``max(3 n_centres / 2, 36 n_features) + 4 n_features`` values per row;
        float64 rows are summed by a one-hot block instead, ``n_centres`` more, and
        not rechecked.
        """
        if chunk_size is None:
            if self.accelerator:
                one_hot = n_centres if itemsize >= 8 else 0
                recheck = RECHECK_VALUES * n_features if itemsize < 8 else 0
                per_row = (max(3 * n_centres // 2, recheck) + one_hot
                           + 4 * n_features) * itemsize
            else:
                per_row = 2 * (n_features + n_centres) * itemsize
            data_bytes = n_samples * n_features * itemsize
            chunk_size = max(1, self.chunk_bytes(device, data_bytes) // per_row)
        return min(chunk_size, n_samples)

    def data_chunk_rows(self, X: Array, n_centres: int, itemsize: int,
                        chunk_size: int | None = None) -> int:
        """Rows per chunk of a pass over the data ``X``: :meth:`chunk_rows` of its shape (a
        sparse library's counts its stored values)."""
        n_samples, n_features = X.shape
        return self.chunk_rows(n_samples, n_features, n_centres, itemsize, self.device_of(X),
                               chunk_size)

    def padded_rows(self, n_rows: int) -> int:
        """The rows a pass over a gathered subset of ``n_rows`` rows computes on.

        ``n_rows`` on the CPU plan. On the accelerator plan the next size of a
        geometric ladder (:data:`PADDED_SIZES_PER_OCTAVE` sizes per doubling: less
        than a quarter more rows), so that passes over subsets of many sizes share
        a few shapes: a device program is compiled, and its memory planned, per
        shape. The caller pads with rows of weight zero.
        """
        return ladder_size(n_rows) if self.accelerator else n_rows

    def map_chunks(self, X: Array, function: Callable[[slice], T],
                   chunks: Iterable[slice]) -> Iterator[T]:
        """``function(chunk)`` for every chunk of rows of ``X``, yielded in chunk order."""
        return map(function, chunks)

    traced = False
    """Whether :meth:`compiled` traces a chunk's maths into a program of fixed shapes:
    then no array inside it may take a shape from the values (``nonzero``)."""

    def compiled(self, function: Callable[..., T],
                 static_argnums: tuple[int, ...]) -> Callable[..., T]:
        """``function`` of one chunk, compiled where the library compiles; the arguments at
        ``static_argnums`` are not arrays (the library, the namespace, flags)."""
        return function

    def fused_assignment(self, data: PassData, centres: Array, centre_sq_norms: Array, *,
                         update: bool, exact_inertia: bool, x_sq_norms: Array | None,
                         previous_labels: Array | None, tie_ulps: int) -> Assignment | None:
        """The assignment pass over the eager rows of ``data`` in the library's own fused
        steps, or None.

        The library's own implementation of
        :func:`anykmeans._primitives.assign_block` (same arguments; ties within
        ``tie_ulps`` ulps), chunk by chunk (``data.map``), where it has one for
        this pass; None where it has not, and the standard path runs. The
        reference has none.
        """
        return None

    def fused_two_centre_run(self, data: PassData, centres: Array, *, max_iter: int,
                             tol: float, tie_ulps: int) -> tuple | None:
        """The iterations of a two-centre Lloyd run (:func:`anykmeans._lloyd.lloyd`'s, without
        its final pass) over the eager rows of ``data`` in the library's own fused steps, or
        None where it has none for this run, and ``lloyd`` runs them.

        Returns ``(centres, state, n_iter, strict, converged, history)``: the last
        iteration's new centres, its pass's state ``(labels, x_sq_norms)``, the iterations
        made, whether they stopped on unchanged labels, whether before ``max_iter``, and each
        iteration's inertia, all as ``lloyd`` would have them, to the bit. The reference
        has none.
        """
        return None

    def fused_cluster_inertias(self, data: PassData, centres: Array,
                               labels: Array) -> Array | None:
        """Each cluster's (weighted) sum of the squared distances of the eager rows of
        ``data`` that ``labels`` give it to its centre, from the residuals, ``(n_clusters,)``
        in ``data``'s dtype, in the library's own fused steps; or None where it has none,
        and the caller adds up :func:`anykmeans._primitives.sq_distances_to_labels`. The
        reference has none.
        """
        return None

    def fused_lowering(self, data: PassData, points: Array, point_sq_norms: Array,
                       x_sq_norms: Array, weight: Array, closest: Array, pending: bool,
                       search_rows: int,
                       n_steps: int) -> Callable[[slice], tuple[Array, Array, Array]] | None:
        """A function that makes one chunk's part of a k-means++ step in one fused step, or None.

        The library's own implementation of the chunk function of
        :func:`anykmeans._kmeans_plusplus.lower_pass` (the same results, to the
        order of additions) on the rows ``data.X[chunk]``, where it has one for
        this step of a seeding of ``n_steps`` steps; None where it has not, and
        the standard path runs. The reference has none.

        Parameters
        ----------
        data : Data
            The rows and their centring offset.
        points : array of shape (n_points, n_features)
            The pending seed (first, when ``pending``) and the step's candidates,
            centred, in ``X``'s dtype.
        point_sq_norms : array of shape (n_points,)
        x_sq_norms, weight, closest : arrays of shape (n_samples,)
            The centred rows' squared norms, their weights and their distances to
            their nearest seed (the pending one not applied), in the distances' dtype.
        pending : bool
        search_rows : int
            Rows per search block; a chunk starts on one.
        n_steps : int
        """
        return None
