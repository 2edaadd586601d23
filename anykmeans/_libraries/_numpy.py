"""NumPy: the CPU plan's home, a thread per core, BLAS kept to one thread per chunk.

NumPy computes each operation on one core; with ``threadpoolctl`` installed,
a pass runs its chunks on a pool of one thread per core with BLAS limited to
one thread each, as scikit-learn runs its Lloyd loop. The fast primitives
are NumPy's own: ``einsum`` row norms (scikit-learn's rounding), a sorted
segment sum (``bincount`` by feature for narrow chunks' float64 sums),
``bincount`` counts, and feature-major narrow chunks.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import array_api_compat
import numpy as np

from . import _fused, _fused_bisection, _fused_means, _fused_seeding
from ._base import Library
from ._devices import Backend
from ._passes import Passes
from ._threads import (
    fit_threads,
    held_for_fit,
    run_chunks,
    single_threaded_blas,
    usable_cores,
    workers_for,
)
from ._types import Array, Assignment, Namespace, PassData

T = TypeVar("T")

#: Chunks of at most this many features are laid out feature by feature.
FEATURE_MAJOR_MAX_FEATURES = 8

#: Rows a chunk holds at the least, whatever the memory budget says (see NumPy.chunk_rows).
MIN_CHUNK_ROWS = 128

#: A pass's rows are shared among the cores where each then gets at least this many (a chunk
#: handed to a thread costs tens of microseconds).
MIN_SHARED_ROWS = 2048

#: A two-centre Lloyd run over fewer rows than this makes its iterations in one compiled call
#: on one thread, even where its passes' chunks would be shared among the cores, and a fit's
#: gather of fewer rows is one call: sharing an iteration or a gather (waking a thread,
#: waiting for it) costs about what the second core saves below this (docs/bisecting.md#speed).
MIN_SHARED_RUN_ROWS = 2**14

#: Score blocks are laid out row by row where centres outnumber a chunk's rows this much.
ROWS_FIRST_RATIO = 8

#: The segment sum scatter-adds directly below this many rows per segment and
#: sorts above it (each the faster on its side: docs/notes/benchmark-history.md).
SORT_MIN_ROWS_PER_SEGMENT = 4


class NumPyPasses(Passes):
    """The eager strategy, a fit's chunk threads and BLAS's limit held while the fit lasts."""

    @contextlib.contextmanager
    def resident(self, X: Array, n_clusters: int) -> Iterator[Array]:
        """``X`` itself; on the CPU plan, the fit's passes run their chunks on the threads
        :func:`~anykmeans._libraries._threads.workers_for` counts when it begins, BLAS at
        one thread until it ends (:func:`~anykmeans._libraries._threads.held_for_fit`), as
        scikit-learn holds BLAS while a Lloyd run lasts: the limit is not set and put back
        at every pass. The fused loop takes the fit's passes where a pass over ``X``
        against ``n_clusters`` centres would take it
        (:func:`~anykmeans._libraries._fused.for_fit`)."""
        if self.library.accelerator:
            yield X
            return
        with held_for_fit(X, workers_for(X)), _fused.for_fit(X.shape[0] * n_clusters):
            yield X


class NumPy(Library):
    """NumPy arrays (always on the CPU; the accelerator plan only when forced)."""

    name = "numpy"
    native_segment_sum = True
    passes_type = NumPyPasses
    install = "pip install numpy"

    @staticmethod
    def owns(x: Array) -> bool:
        return array_api_compat.is_numpy_array(x)

    def backends(self, module: Any) -> list[Backend]:
        return [Backend("numpy", "cpu", True, np.__version__, lambda x: x)]

    def array_on(self, device: Any = None) -> Array:
        if device not in (None, "cpu"):
            raise ValueError(f"NumPy arrays are on the CPU only, not on {device!r}; to move "
                             "the model to another library, pass its module (e.g. torch) or "
                             "one of its arrays.")
        return np.empty(0)

    def prepare(self, x: Array, name: str) -> Array:
        """A plain ``ndarray`` (subclasses such as ``np.matrix`` and ``np.memmap`` viewed as
        one, no copy); object arrays converted to float64; masked arrays, strings and Python
        integers beyond float64's range refused.
        """
        if isinstance(x, np.ma.MaskedArray):
            raise TypeError(
                f"Masked arrays are not supported for {name}; fill the masked values "
                "(for example X.filled(value)) or drop the rows that hold them."
            )
        x = np.asarray(x)
        if x.dtype.kind in "USV":
            raise TypeError(f"{name} must be numeric, got dtype {x.dtype}.")
        if x.dtype.kind == "O":
            try:
                return x.astype(np.float64)
            except OverflowError as exc:  # a Python int beyond float64's range
                raise ValueError(f"Input {name} contains a number too large for float64 "
                                 f"({exc}); rescale {name}.") from exc
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{name} must be numeric; converting it failed: {exc}") from exc
        return x

    def to_host(self, x: Array) -> np.ndarray:
        """``x`` itself, a plain ``ndarray`` (a subclass viewed as one): NumPy's arrays are in
        host memory."""
        return np.asarray(x)

    # -- running a pass ----------------------------------------------------------------------

    def map_chunks(self, X: Array, function: Callable[[slice], T],
                   chunks: Iterable[slice]) -> Iterator[T]:
        """``function(chunk)`` for every chunk, on the thread pool (see the module's docstring).

        Within a fit, on the threads it counted, BLAS held by it
        (:class:`NumPyPasses`); outside one (``predict``, a mini-batch step), on
        the threads counted now, BLAS held while the pass runs; the calling thread
        one of them (:func:`~anykmeans._libraries._threads.run_chunks`). Without
        ``threadpoolctl``, on one core, or on the accelerator plan, the chunks run one
        after another.
        """
        held = None if self.accelerator else getattr(fit_threads, "workers", None)
        workers = 1 if self.accelerator else held or workers_for(X)
        if workers == 1:
            yield from map(function, chunks)
            return
        with contextlib.nullcontext() if held else single_threaded_blas():
            yield from run_chunks(function, chunks, workers)

    def fused_assignment(self, data: PassData, centres: Array, centre_sq_norms: Array, *,
                         update: bool, exact_inertia: bool, x_sq_norms: Array | None,
                         previous_labels: Array | None, tie_ulps: int) -> Assignment | None:
        """:mod:`~anykmeans._libraries._fused`'s tiles and compiled loop on the CPU plan, where
        it takes the pass (:func:`~anykmeans._libraries._fused.assignment`)."""
        if self.accelerator:
            return None
        return _fused.assignment(data, data.X, data.mean, data.weights, centres,
                                 centre_sq_norms, x_sq_norms, previous_labels, update=update,
                                 exact_inertia=exact_inertia, tie_ulps=tie_ulps,
                                 two_centre_loop=_fused_bisection.compiled_two_centre_kernel)

    def fused_two_centre_run(self, data: PassData, centres: Array, *, max_iter: int,
                             tol: float, tie_ulps: int) -> tuple | None:
        """:mod:`~anykmeans._libraries._fused_bisection`'s two-centre Lloyd run in compiled
        calls on the CPU plan, where it takes the run
        (:func:`~anykmeans._libraries._fused_bisection.two_centre_run`): its chunks on the
        calling thread, unless the passes run on several threads and the rows are
        :data:`MIN_SHARED_RUN_ROWS` or more (each iteration's chunks are then shared among
        the threads)."""
        if self.accelerator:
            return None
        # The threads map_chunks runs the passes on (inline there: the iteration's route).
        workers = getattr(fit_threads, "workers", None) or workers_for(data.X)
        threads = workers if data.X.shape[0] >= MIN_SHARED_RUN_ROWS else 1
        return _fused_bisection.two_centre_run(data, centres, max_iter=max_iter, tol=tol,
                                               tie_ulps=tie_ulps, threads=threads)

    def fused_cluster_inertias(self, data: PassData, centres: Array,
                               labels: Array) -> Array | None:
        """:mod:`~anykmeans._libraries._fused_bisection`'s compiled loop on the CPU plan, where
        it takes the pass (:func:`~anykmeans._libraries._fused_bisection.cluster_inertias`)."""
        if self.accelerator:
            return None
        return _fused_bisection.cluster_inertias(data, centres, labels)

    def fused_lowering(self, data: PassData, points: Array, point_sq_norms: Array,
                       x_sq_norms: Array, weight: Array, closest: Array, pending: bool,
                       search_rows: int,
                       n_steps: int) -> Callable[[slice], tuple[Array, Array, Array]] | None:
        """:mod:`~anykmeans._libraries._fused_seeding`'s tiles and compiled loop on the CPU
        plan, where it takes the step
        (:func:`~anykmeans._libraries._fused_seeding.chunk_lowering`)."""
        if self.accelerator:
            return None
        return _fused_seeding.chunk_lowering(data.X, data.mean, points, point_sq_norms,
                                             x_sq_norms, weight, closest, pending,
                                             search_rows, n_steps)

    # -- primitives --------------------------------------------------------------------------

    def chunk_rows(self, n_samples: int, n_features: int, n_centres: int, itemsize: int,
                   device: Any, chunk_size: int | None = None) -> int:
        """The reference's rows, but at least :data:`MIN_CHUNK_ROWS` when ``chunk_size`` is not
        given: a chunk's cluster sums cost ``O(k d)`` whatever its rows, and at very large
        ``k`` the memory budget alone would leave a few dozen rows to spread that over
        (docs/notes/benchmark-history.md). On the CPU plan, rows that the budget would
        leave in fewer chunks than the usable cores are shared among them, at least
        :data:`MIN_SHARED_ROWS` each (a bisecting fit's passes over one cluster): counted
        from the cores, not from the threads a caller allows, so that the chunks, and the
        order in which the sums add up, do not depend on the caller's limits."""
        rows = super().chunk_rows(n_samples, n_features, n_centres, itemsize, device, chunk_size)
        if chunk_size is not None:
            return rows
        rows = max(rows, min(MIN_CHUNK_ROWS, n_samples))
        if self.accelerator:
            return rows
        shares = max(1, min(usable_cores(), n_samples // MIN_SHARED_ROWS))
        return min(rows, -(-n_samples // shares))

    def row_major_scores(self, n_rows: int, n_centres: int) -> bool:
        """Row-major score blocks where centres outnumber rows :data:`ROWS_FIRST_RATIO`-fold.

        A reduction over centres then runs along rows of ``k`` values instead of
        down ``k`` rows of a few values: NumPy pays per inner loop
        (docs/notes/benchmark-history.md).
        """
        return n_centres >= ROWS_FIRST_RATIO * n_rows

    def first_true(self, xp: Namespace, mask: Array) -> Array:
        """``argmax`` along each row (NumPy's stops at the first True); the last index for a
        row without one, as the reference."""
        return np.where(mask.any(axis=1), np.argmax(mask, axis=1), mask.shape[1] - 1)

    def centred_rows(self, xp: Namespace, X: Array, rows: slice, mean: Array) -> Array:
        """``X[rows] - mean``; a chunk of at most :data:`FEATURE_MAJOR_MAX_FEATURES` features
        feature-major (Fortran order): the score product then reads it as a plain
        matrix and the row norms add whole columns, where short rows would make
        every operation pay per row (docs/notes/benchmark-history.md)."""
        chunk = X[rows, :]
        if X.shape[1] <= FEATURE_MAJOR_MAX_FEATURES:
            return np.subtract(chunk, mean, order="F")
        return chunk - mean

    def feature_means(self, xp: Namespace, X: Array) -> Array:
        """The reference's means; a fit's float32 rows, where the fit takes the fused loop,
        added up by :mod:`~anykmeans._libraries._fused_means`'s compiled loop (the same
        sums, without NumPy's per-row cost on few features)."""
        means = _fused_means.feature_means(X)
        return super().feature_means(xp, X) if means is None else means

    def rows_at(self, xp: Namespace, X: Array, indices: Array) -> Array:
        """``X[indices]``: a gather of a feature-major chunk's rows (see :meth:`centred_rows`)
        without the C-ordered copy of the whole chunk that ``take`` makes first."""
        return X[indices]

    def centred_rows_at(self, xp: Namespace, X: Array, indices: Array, mean: Array) -> Array:
        """``X[indices] - mean``: on the CPU plan gathered and centred in one compiled pass
        where it takes the gather
        (:func:`~anykmeans._libraries._fused_bisection.centred_rows_at`: a bisection gathers
        its cluster's rows at every split; within a fit, shared among its threads from
        :data:`MIN_SHARED_RUN_ROWS` rows), else centred in the gathered copy itself (no
        second array of its size) where ``mean``'s dtype leaves ``X``'s unchanged."""
        workers = getattr(fit_threads, "workers", None) or 1  # shared only within a fit
        parts = workers if indices.shape[0] >= MIN_SHARED_RUN_ROWS else 1
        rows = None if self.accelerator else _fused_bisection.centred_rows_at(
            X, indices, mean, parts=parts, run=functools.partial(self.map_chunks, X))
        if rows is not None:
            return rows
        rows = self.rows_at(xp, X, indices)
        if np.result_type(rows, mean) != rows.dtype:
            return rows - mean
        return np.subtract(rows, mean, out=rows)

    def sq_norms(self, xp: Namespace, x: Array) -> Array:
        """``einsum``, as scikit-learn: no temporary, and scikit-learn's rounding, which
        decides exact ties between centres (common on integer data) the same way."""
        return np.einsum("ij,ij->i", x, x)

    def residual_sq_norms(self, xp: Namespace, x: Array, centres: Array,
                          labels: Array) -> Array:
        """The reference's ``|x_i - c_(labels_i)|^2``, the residuals written over the gathered
        centres (one array of the chunk's size made, not two) where their dtype is the
        result's."""
        residuals = np.take(centres, labels, axis=0)
        if np.result_type(x, centres) != residuals.dtype:
            return super().residual_sq_norms(xp, x, centres, labels)
        return self.sq_norms(xp, np.subtract(x, residuals, out=residuals))

    def segment_count(self, xp: Namespace, segment_ids: Array, n_segments: int,
                      dtype: Any) -> Array:
        return np.bincount(segment_ids, minlength=n_segments).astype(dtype)

    def segment_sum(self, xp: Namespace, values: Array, segment_ids: Array,
                    n_segments: int, dtype: Any = None) -> Array:
        """Sort the rows by segment, then add up each run of equal ids.

        ``np.add.at`` is the direct scatter-add; its per-index overhead makes it
        slower than a radix sort of narrow ids, a gather and ``np.add.reduceat``
        (rows keep their order within a segment) unless segments get only a few
        rows each. ``reduceat`` pays per row and per inner loop, so rows of an
        even number of real values are added as half as many complex ones:
        complex addition adds the real and the imaginary parts on their own, so
        the sums are the same real additions. A wider ``dtype`` is the additions' own
        (``reduceat``'s), with no wider copy of the rows.

        Feature-major rows (narrow chunks: :meth:`centred_rows`) are gathered and added
        feature by feature; those summed in float64, wider than they are, take
        ``bincount`` instead, on each feature's contiguous column: the same additions
        (in float64, in row order, as the buffered ``reduceat`` of the sorted rows makes
        them), without the sort and the gather.
        """
        dtype = values.dtype if dtype is None else np.dtype(dtype)
        if values.ndim == 1:
            return np.bincount(segment_ids, weights=values,
                               minlength=n_segments).astype(dtype)
        n_rows, width = values.shape
        feature_major = values.flags.f_contiguous and not values.flags.c_contiguous
        if feature_major and values.dtype != dtype == np.float64:
            out = np.empty((n_segments, width), dtype=dtype)
            for feature in range(width):
                out[:, feature] = np.bincount(segment_ids, weights=values[:, feature],
                                              minlength=n_segments)
            return out
        if n_rows < SORT_MIN_ROWS_PER_SEGMENT * n_segments:
            out = np.zeros(n_segments * width, dtype=dtype)
            flat_ids = (segment_ids[:, None] * width + np.arange(width)).ravel()
            np.add.at(out, flat_ids, values.ravel().astype(dtype, copy=False))  # one dtype: fast
            return out.reshape(n_segments, width)
        narrow = np.int16 if n_segments <= np.iinfo(np.int16).max else np.int32
        ids = segment_ids.astype(narrow)
        order = np.argsort(ids, kind="stable")
        # Where each segment's run starts in the sorted ids (searchsorted runs without the
        # GIL, so that chunks on other threads go on; bincount holds it).
        bounds = np.searchsorted(np.take(ids, order), np.arange(n_segments + 1, dtype=narrow))
        present = bounds[:-1] < bounds[1:]
        starts = bounds[:-1][present]
        out = np.zeros((n_segments, width), dtype=dtype)
        if feature_major:  # gather and add along each feature
            out[present] = np.add.reduceat(np.take(values.T, order, axis=1), starts, axis=1,
                                           dtype=dtype).T
            return out
        rows = np.take(values, order, axis=0)
        pair = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}
        if width % 2 == 0 and values.dtype in pair and dtype in pair:
            out[present] = np.add.reduceat(rows.view(pair[values.dtype]), starts, axis=0,
                                           dtype=pair[dtype]).view(dtype)
        else:
            out[present] = np.add.reduceat(rows, starts, axis=0, dtype=dtype)
        return out
