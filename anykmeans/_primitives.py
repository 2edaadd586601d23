"""The passes of k-means over the data, in the Array API standard alone.

A pass reads ``X`` chunk by chunk (:class:`Data`), so that memory stays
bounded: assignment computes, for a chunk of rows ``x`` and centres ``c``, the
scores ``|c|^2 - 2 c.x`` with one matrix product and takes the tie-aware
argmin per row, a ``k x n_rows`` block that never grows past the chunk; the
centre update is a segment sum of the rows by label, accumulated in the same
pass. How many rows a chunk holds, how the chunks run (a thread pool, one
task per block, compiled), the primitives the standard lacks (segment sums,
row norms, a chunk's layout) and whether a chunk's whole assignment runs as one
fused step instead (NumPy's, with Numba) are the array library's
(:mod:`anykmeans._libraries`): no library is named here.

Data is centred per chunk (``x - mean``) for precision: the caller's ``X`` is
never copied or modified. The rows' squared norms are computed once per Lloyd
run and handed back to each pass (:class:`Assignment`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._exact import close_call_bound, exactly_nearest
from ._libraries import (
    Array,
    Assignment,
    Library,
    Namespace,
    first_true,
    first_true_and_count,
    library_of,
    sums_added,
    sums_rounded,
)
from ._namespace import array_namespace, device_of, index_dtype, to_host

__all__ = [
    "TIE_ULPS",
    "Assignment",
    "Data",
    "assign",
    "assign_block",
    "distances",
    "inertia",
    "labelled_inertia",
    "labels_and_inertia",
    "nearest",
    "nearest_labels",
    "residual_sq_norms",
    "scores",
    "sq_distances_to_labels",
    "tie_group_size",
]

#: Score differences below this many ulps of the score's magnitude are ties.
TIE_ULPS = 16

#: Candidates a recheck of every row (:func:`nearest`, in fixed shapes) decides among: the
#: row's label and the three best-scoring centres.
RECHECKED = 4


@dataclass(frozen=True)
class Data:
    """The rows a pass reads: ``X`` in the frame centred on ``mean``, chunk by chunk.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    mean : array of shape (n_features,)
        The centring offset, subtracted from each chunk of ``X``.
    weights : array of shape (n_samples,), optional
        The rows' weights; unit weights (never multiplied) when None.
    chunk_size : int, optional
        Rows per chunk; by default the library's plan chooses.

    Attributes
    ----------
    xp : namespace
        ``X``'s Array API namespace.
    library : Library
        ``X``'s library, on the plan its device asks for: it runs the passes.
    """

    X: Array
    mean: Array
    weights: Array | None = None
    chunk_size: int | None = None
    xp: Namespace = field(init=False, repr=False, compare=False)
    library: Library = field(init=False, repr=False, compare=False)
    _chunk_rows: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "xp", array_namespace(self.X))
        object.__setattr__(self, "library", library_of(self.X))
        object.__setattr__(self, "_chunk_rows", {})

    def chunk_rows(self, n_centres: int, dtype: Any = None) -> int:
        """Rows per chunk of a pass against ``n_centres`` centres, in ``dtype`` (``X``'s): what
        the library's plan says the first time it is asked, the same for every later pass
        over these rows (a fit's chunks do not follow the device's free memory)."""
        key = (n_centres, None if dtype is None or dtype == self.X.dtype else str(dtype))
        if key not in self._chunk_rows:
            dtype = self.X.dtype if dtype is None else dtype
            self._chunk_rows[key] = self.library.data_chunk_rows(
                self.X, n_centres, self.xp.finfo(dtype).bits // 8, self.chunk_size)
        return self._chunk_rows[key]

    def chunks(self, n_centres: int, dtype: Any = None) -> Iterator[slice]:
        """Slices covering the rows in consecutive chunks (see :meth:`chunk_rows`)."""
        n_samples, rows = self.X.shape[0], self.chunk_rows(n_centres, dtype)
        for start in range(0, n_samples, rows):
            yield slice(start, min(start + rows, n_samples))

    def centred(self, rows: slice) -> Array:
        """``X[rows] - mean``, a new array laid out as the library computes fastest."""
        return self.library.centred_rows(self.xp, self.X, rows, self.mean)

    def centred_at(self, indices: Array) -> Array:
        """The rows at ``indices`` minus ``mean``, in ``X``'s kind (a sparse library's stay
        sparse): rows to compute on, as a chunk."""
        return self.library.centred_rows_at(self.xp, self.X, indices, self.mean)

    def dense_rows(self, indices: Array) -> Array:
        """The rows at ``indices``, not centred, as a dense array: rows that become centres."""
        return self.library.dense(self.xp, self.library.rows_at(self.xp, self.X, indices))

    def map(self, function: Callable[[slice], Any], n_centres: int,
            dtype: Any = None) -> Iterator[Any]:
        """``function(chunk)`` for every chunk, yielded in chunk order, run the library's way."""
        return self.library.map_chunks(self.X, function, self.chunks(n_centres, dtype))


def scores(library: Library, xp: Namespace, x: Array, centres: Array,
           centre_sq_norms: Array) -> Array:
    """``|c_j|^2 - 2 c_j . x_i`` for every centre ``j`` and row ``i`` of ``x``: ``(k, n_rows)``.

    The squared distance minus ``|x_i|^2``, from one matrix product. The block
    is centre-major: a reduction over centres then runs along whole rows of
    the block, which every library vectorises well (a reduction along short
    rows of length ``k`` does not). ``library`` makes it
    (:meth:`~anykmeans._libraries.Library.scores`: at full precision, of a sparse
    ``x`` too).
    """
    return library.scores(xp, centres, x, centre_sq_norms)


def nearest(xp: Namespace, x: Array, x_sq_norms: Array, centres: Array,
            centre_sq_norms: Array, library: Library | None = None) -> tuple[Array, Array]:
    """Nearest centre of every row of ``x``, ties to the lower index.

    Parameters
    ----------
    x : array of shape (n_rows, n_features)
    x_sq_norms : array of shape (n_rows,)
    centres : array of shape (n_clusters, n_features)
    centre_sq_norms : array of shape (n_clusters,)
    library : Library, optional
        The library that makes the product and lays out the block; by default
        ``x``'s own.

    Returns
    -------
    labels : array of shape (n_rows,), the namespace's default index dtype
        Always in ``[0, n_clusters)``: a row whose scores are all NaN (no
        centre compares as nearest) gets the last index.
    best : array of shape (n_rows,), the smallest score, so that
        ``x_sq_norms + best`` is the squared distance to the nearest centre.

    Notes
    -----
    Two centres count as tied for a row when their scores differ by less than
    the rounding of the score computation (``TIE_ULPS`` units in the last place
    of ``|x|^2 + max |c|^2``). Exact ties are common (integer data, seeds that
    are data rows) and each library rounds its matrix product differently;
    deciding them by index rather than by rounding is what makes every backend
    give the same labels.

    Scores coarser than float64 (float32) on the CPU plan are compared within
    a wider window, the rounding any library's product may make
    (:func:`~anykmeans._exact.close_call_bound`) and twice the ties' slack (which
    holds every centre tied with the nearest in exact distances): a row with one centre in it
    goes to that centre; a row with more (a close call) to the exactly nearest
    of its candidates (:func:`_close_calls_decided`), so that every library
    gives it the same label. Where shapes must not follow the values (the
    accelerator plan, and a library that traces its chunks:
    :attr:`~anykmeans._libraries.Library.traced`), every row goes instead to the
    exactly nearest of its label and the :data:`RECHECKED` ``- 1`` best-scoring
    centres of the block (:meth:`~anykmeans._libraries.Library.least`): they hold
    every centre of that window where it holds at most three, and a centre outside
    it is neither nearer nor tied, so the labels are the same.

    From 128 centres on, the centres are taken in consecutive groups of
    :func:`tie_group_size` (the last one padded with centres scoring
    infinity): the lowest tied index lies in the lowest group whose best score
    is tied, so the tie test runs on the group minima and then on that
    group's members only, and the score block is read once, for the minima.

    Where ``library`` lays the block out row by row for this chunk
    (:meth:`~anykmeans._libraries.Library.row_major_scores`: far more centres than
    rows), each row's scores are one contiguous run of ``k`` values: its
    minimum and its first tied centre are found along it, without groups.
    """
    library = library or library_of(x)
    every_row = x.dtype != xp.float64 and (library.traced or library.accelerator)
    rechecked = x.dtype != xp.float64 and not every_row
    magnitude = x_sq_norms + xp.max(centre_sq_norms)
    if rechecked:  # every centre exactly tied with the nearest (exactly_nearest) falls in it
        slack = (close_call_bound(xp, x_sq_norms, centre_sq_norms, x.shape[1])
                 + 2 * TIE_ULPS * xp.finfo(x.dtype).eps * magnitude)
    else:
        slack = TIE_ULPS * xp.finfo(x.dtype).eps * magnitude
    if library.row_major_scores(x.shape[0], centres.shape[0]):
        labels, best, close, block = _nearest_by_rows(xp, library, x, centres,
                                                      centre_sq_norms, slack, rechecked)
    else:
        labels, best, close, block = _nearest_by_groups(xp, library, x, centres,
                                                        centre_sq_norms, slack, rechecked)
    if every_row:
        best_scoring = library.least(xp, block, min(RECHECKED - 1, centres.shape[0]))
        del block  # the recheck's arrays take its memory
        candidates = xp.concat([labels[None, :],
                                xp.astype(best_scoring, labels.dtype, copy=False)])
        labels = exactly_nearest(library, xp, x, centres, candidates, None, TIE_ULPS)
    elif rechecked:
        del block
        labels = _close_calls_decided(library, xp, x, centres, centre_sq_norms, labels,
                                      best + slack, close)
    return labels, best


def _nearest_by_groups(xp: Namespace, library: Library, x: Array, centres: Array,
                       centre_sq_norms: Array, slack: Array,
                       counted: bool) -> tuple[Array, Array, Array | None, Array]:
    """:func:`nearest` on a centre-major ``(k, n_rows)`` score block: each row's label, best
    score, when ``counted`` whether more than one centre scores within ``slack`` of it (None
    otherwise), and the block."""
    n_clusters, n_rows = centres.shape[0], x.shape[0]
    group_size = tie_group_size(n_clusters)
    n_groups = -(-n_clusters // group_size)
    padding = n_groups * group_size - n_clusters
    if padding:
        centres = xp.concat([centres, xp.zeros((padding, centres.shape[1]), dtype=centres.dtype,
                                               device=device_of(centres))])
        centre_sq_norms = xp.concat([centre_sq_norms, xp.full(padding, xp.inf,
                                                              dtype=centre_sq_norms.dtype,
                                                              device=device_of(centres))])
    centre_major = scores(library, xp, x, centres, centre_sq_norms)
    block = xp.reshape(centre_major, (n_groups, group_size, n_rows))
    group_best = xp.min(block, axis=1) if group_size > 1 else block[:, 0, :]
    best = xp.min(group_best, axis=0)
    threshold = best + slack
    index = index_dtype(xp, device_of(x))
    groups_within = group_best <= threshold
    # On the accelerator plan found in the index dtype (no cast after, one launch fewer); on
    # the CPU plan in the narrowest (fewer bytes to read), then cast.
    found = index if library.accelerator else None
    group, close = _first_and_close(xp, groups_within, found, counted)
    group = xp.astype(group, index, copy=False)
    if group_size == 1:
        return group, best, close, centre_major
    members = library.take_along_axis(xp, block, xp.reshape(group, (1, 1, n_rows)),
                                      axis=0)[0, ...]
    member, close_members = _first_and_close(xp, members <= threshold, found, counted)
    labels = group * group_size + xp.astype(member, index, copy=False)
    if counted:
        close = close | close_members
    if padding:  # a row without a nearest centre falls in the padding: the last centre
        labels = xp.minimum(labels, xp.full((), n_clusters - 1, dtype=index,
                                            device=device_of(x)))
    return labels, best, close, centre_major[:n_clusters, ...]


def _first_and_close(xp: Namespace, within: Array, dtype: Any,
                     counted: bool) -> tuple[Array, Array | None]:
    """The first True down each column of ``within`` (:func:`first_true`, in ``dtype``) and,
    when ``counted``, whether the column has more than one (None otherwise)."""
    if not counted:
        return first_true(xp, within, 0, dtype), None
    first, count = first_true_and_count(xp, within, 0)
    return first, count > 1


def _nearest_by_rows(xp: Namespace, library: Library, x: Array, centres: Array,
                     centre_sq_norms: Array, slack: Array,
                     counted: bool) -> tuple[Array, Array, Array | None, Array]:
    """:func:`_nearest_by_groups` on a row-major ``(n_rows, k)`` score block: the same
    ties, the same labels; the block returned centre-major (a transposed view)."""
    block = library.matmul(xp, x, centres.T)
    block *= -2.0  # exact: the product with -2 c, bit for bit, without a copy of c
    block += centre_sq_norms[None, :]
    best = xp.min(block, axis=1)
    tied = block <= (best + slack)[:, None]
    index = index_dtype(xp, device_of(x))
    close = xp.sum(xp.astype(tied, xp.int8), axis=1, dtype=xp.int32) > 1 if counted else None
    return xp.astype(library.first_true(xp, tied), index), best, close, block.T


def _close_calls_decided(library: Library, xp: Namespace, x: Array, centres: Array,
                         centre_sq_norms: Array, labels: Array, window: Array,
                         close: Array) -> Array:
    """``labels`` with each close call (a row with ``close`` set) sent to the exactly
    nearest of its candidates: its label (the lowest centre scoring within ``window``)
    and the two best-scoring of the others that score within it too.

    The close calls' scores are computed again and their candidates' distances
    exactly (:func:`~anykmeans._exact.exactly_nearest`). The exactly nearest centre
    always scores within the window, so a row that is no close call has one answer on
    every library, and so has a close call among up to three centres.
    """
    (at,) = xp.nonzero(close)
    if at.shape[0] == 0:
        return labels
    rows = library.dense(xp, library.rows_at(xp, x, at))  # sparse rows too
    first, window = xp.take(labels, at), xp.take(window, at)
    index = labels.dtype
    infinity = xp.full((), xp.inf, dtype=x.dtype, device=device_of(x))
    ids = xp.arange(centres.shape[0], dtype=index, device=device_of(x))[:, None]
    others = xp.where(ids == first[None, :], infinity,
                      scores(library, xp, rows, centres, centre_sq_norms))
    second = xp.astype(xp.argmin(others, axis=0), index)
    rest = xp.where(ids == second[None, :], infinity, others)
    third = xp.astype(xp.argmin(rest, axis=0), index)
    third_within = xp.min(rest, axis=0) <= window
    usable = xp.stack([xp.ones_like(third_within), xp.ones_like(third_within), third_within])
    labels[close] = exactly_nearest(library, xp, rows, centres,
                                    xp.stack([first, second, third]), usable, TIE_ULPS)
    return labels  # our own array


def tie_group_size(n_clusters: int) -> int:
    """Centres per group in :func:`nearest`: 1 below 128 centres, else about ``sqrt(k) / 4``.

    Grouping replaces a tie test on all ``k`` scores of a row by one on its
    ``k / g`` group minima and one on ``g`` gathered scores, at the cost of a
    gather and of a few passes over the rows. Measured on NumPy (benchmarks
    notes), that pays from ``k = 128`` on, best with groups of 4 to 16
    centres at ``k`` of 256 to 1024: a power of two near ``sqrt(k) / 4``.
    """
    if n_clusters < 128:
        return 1
    return 2 ** round(math.log2(math.sqrt(n_clusters) / 4))


def assign(data: Data, centres: Array, *, update: bool = False, exact_inertia: bool = False,
           x_sq_norms: Array | None = None) -> Assignment:
    """Assign every row of ``data`` to its nearest centre, in one pass.

    Parameters
    ----------
    data : Data
        The rows, their centring offset and weights.
    centres : array of shape (n_clusters, n_features)
        Centres in the centred frame (``X - mean``).
    update : bool, default=False
        Also accumulate, in the same pass, the per-cluster sums that the
        centre update needs (``sums`` and ``weight_sums``; None otherwise).
    exact_inertia : bool, default=False
        Take the inertia from the residuals ``x - c`` (the inertia a fit
        reports, as :func:`labelled_inertia`) rather than from the scores.
    x_sq_norms : array of shape (n_samples,), optional
        The squared norms of the centred rows, as an earlier assignment of
        the same rows returned them (a Lloyd run computes them once);
        computed chunk by chunk when omitted.

    Notes
    -----
    The library runs the pass (:meth:`~anykmeans._libraries._passes.Passes.assign`):
    a lazy library may run one task per block; parts are added up in row order,
    so the result does not depend on it. A block pass, whose rows are eager
    already, calls :func:`assign_block`.
    """
    return data.library.passes.assign(data, centres, assign_block, update=update,
                                      exact_inertia=exact_inertia, x_sq_norms=x_sq_norms)


def assign_block(data: Data, centres: Array, *, update: bool = False,
                 exact_inertia: bool = False, x_sq_norms: Array | None = None,
                 previous_labels: Array | None = None) -> Assignment:
    """:func:`assign` on eager arrays (a block pass's rows): the chunks' assignments, run the
    library's way (concurrently) and added up in chunk order, or the library's own fused
    pass where it has one (:meth:`~anykmeans._libraries.Library.fused_assignment`).

    Given the rows' ``previous_labels``, each chunk also counts the rows whose label
    changed (``n_changed``), while its labels are at hand.
    """
    xp, library = data.xp, data.library
    centre_sq_norms = library.sq_norms(xp, centres)
    fused = library.fused_assignment(data, centres, centre_sq_norms, update=update,
                                     exact_inertia=exact_inertia, x_sq_norms=x_sq_norms,
                                     previous_labels=previous_labels, tie_ulps=TIE_ULPS)
    if fused is not None:
        return fused
    by_labels = update and library.sums_by_labels
    assign_rows = library.compiled(_assign_rows, static_argnums=(0, 1, 7, 8))
    chunk_centres = library.chunk_centres(xp, centres)

    def assign_chunk(rows: slice) -> Assignment:
        w = None if data.weights is None else data.weights[rows]
        norms = None if x_sq_norms is None else x_sq_norms[rows]
        part = assign_rows(library, xp, data.centred(rows), norms, w, chunk_centres,
                           centre_sq_norms, update and not by_labels, exact_inertia)
        if previous_labels is None:
            return part
        changed = part.labels != previous_labels[rows]
        return part._replace(n_changed=xp.sum(xp.astype(changed, data.X.dtype)))

    labels, norms, total = [], [], None
    for part in data.map(assign_chunk, centres.shape[0]):
        labels.append(part.labels)
        norms.append(part.x_sq_norms)
        total = part if total is None else total.plus(part, sums_added)
    total = total._replace(labels=xp.concat(labels),
                           x_sq_norms=xp.concat(norms) if x_sq_norms is None else x_sq_norms)
    if update and not by_labels:  # pairs (a device without float64) rounded once
        total = total._replace(sums=sums_rounded(total.sums),
                               weight_sums=sums_rounded(total.weight_sums))
    if by_labels:
        sums, weight_sums = library.labelled_sums(data, total.labels, centres.shape[0])
        total = total._replace(sums=sums, weight_sums=weight_sums)
    return total


def _assign_rows(library: Library, xp: Namespace, x: Array, x_sq_norms: Array | None,
                 w: Array | None, centres: Array, centre_sq_norms: Array, update: bool,
                 exact_inertia: bool) -> Assignment:
    """:func:`assign` on one chunk ``x`` of centred rows with weights ``w`` (None: ones).

    ``x_sq_norms``, the rows' squared norms, is computed when None.
    """
    if x_sq_norms is None:
        x_sq_norms = library.sq_norms(xp, x)
    labels, best = nearest(xp, x, x_sq_norms, centres, centre_sq_norms, library)
    sq_distances = (residual_sq_norms(library, xp, x, centres, labels) if exact_inertia
                    else library.non_negative(xp, x_sq_norms + best))
    if w is None:
        inertia = xp.sum(sq_distances)
    else:
        inertia = xp.sum(w * sq_distances)
        x = library.scale_rows(xp, x, w)
    if not update:
        return Assignment(labels, inertia, None, None, x_sq_norms)
    sums, weight_sums = library.cluster_sums(xp, x, w, labels, centres.shape[0])
    return Assignment(labels, inertia, sums, weight_sums, x_sq_norms)


def sq_distances_to_labels(data: Data, centres: Array, labels: Array) -> Array:
    """Squared distance of every row to the centre its label names.

    Computed from the residuals ``x - c`` (no cancellation), for the reported
    inertia and for choosing the rows that found new clusters.
    """
    xp, library = data.xp, data.library

    def chunk(rows: slice) -> Array:
        return residual_sq_norms(library, xp, data.centred(rows), centres, labels[rows])

    return xp.concat(list(data.map(chunk, centres.shape[0])))


def residual_sq_norms(library: Library, xp: Namespace, x: Array, centres: Array,
                      labels: Array) -> Array:
    """``|x_i - c_(labels_i)|^2`` for centred rows ``x``: exact, no cancellation (the
    library's :meth:`~anykmeans._libraries.Library.residual_sq_norms`)."""
    return library.residual_sq_norms(xp, x, centres, labels)


def labelled_inertia(data: Data, centres: Array, labels: Array) -> Array:
    """Weighted sum of the exact squared distances of the rows to their labels' centres (0-d).

    The inertia a fit reports.
    """
    return _weighted_sum(data, sq_distances_to_labels(data, centres, labels))


def distances(data: Data, centres: Array, *, rows_are_centres: bool = False,
              squared: bool = False) -> Array:
    """Euclidean distances of every row to every centre, ``(n_samples, n_clusters)``; their
    squares when ``squared``.

    Only for callers that asked for this matrix (``transform``); computed by
    chunk like the rest, run by rows the library's way
    (:meth:`~anykmeans._libraries._passes.Passes.rowwise`: lazy on a lazy library).
    With ``rows_are_centres`` (the rows are the centres themselves, the very
    array), row ``i``'s distance to centre ``i`` is exactly zero, as
    scikit-learn's ``euclidean_distances(X, X)`` makes it, where the expansion
    ``|x|^2 - 2 x.c + |c|^2`` leaves its rounding; each chunk is corrected on
    its own (a lazy library's rows are counted within each block: the centres
    are one block).
    """
    return data.library.passes.rowwise(data, _distances, centres, rows_are_centres, squared,
                                       columns=centres.shape[0])


def _distances(data: Data, centres: Array, rows_are_centres: bool, squared: bool) -> Array:
    """:func:`distances` on eager arrays."""
    xp, library = data.xp, data.library
    centre_sq_norms = library.sq_norms(xp, centres)
    device = device_of(centres)
    index = index_dtype(xp, device)
    zero = xp.zeros((), dtype=centres.dtype, device=device)

    def block(rows: slice) -> Array:
        x = data.centred(rows)
        sq = scores(library, xp, x, centres, centre_sq_norms).T + library.sq_norms(xp, x)[:, None]
        if rows_are_centres:
            own = (xp.arange(rows.start, rows.stop, dtype=index, device=device)[:, None]
                   == xp.arange(centres.shape[0], dtype=index, device=device)[None, :])
            sq = xp.where(own, zero, sq)
        sq = library.non_negative(xp, sq)
        return sq if squared else xp.sqrt(sq)

    return library.stacked_rows(xp, data.map(block, centres.shape[0]), data.X.shape[0])


def nearest_labels(data: Data, centres: Array) -> Array:
    """The nearest centre of every row of ``data`` (``predict``), run by rows the library's
    way (:meth:`~anykmeans._libraries._passes.Passes.rowwise`: lazy on a lazy library).

    ``centres`` are in the frame ``X - data.mean``.
    """
    return data.library.passes.rowwise(data, _nearest_labels, centres,
                                       dtype=index_dtype(data.xp, device_of(data.X)))


def _nearest_labels(data: Data, centres: Array) -> Array:
    return assign(data, centres).labels


def inertia(data: Data, centres: Array) -> float:
    """The weighted inertia of ``data`` under ``centres`` (``score``), from exact residuals:
    the squared distances of the rows to their nearest centres, run by rows the library's
    way (:meth:`~anykmeans._libraries._passes.Passes.rowwise`), then summed.

    ``centres`` are in the frame ``X - data.mean``.
    """
    sq_distances = data.library.passes.rowwise(data, _nearest_sq_distances, centres)
    return float(to_host(_weighted_sum(data, sq_distances)))


def _nearest_sq_distances(data: Data, centres: Array) -> Array:
    return sq_distances_to_labels(data, centres, _nearest_labels(data, centres))


def _weighted_sum(data: Data, values: Array) -> Array:
    """The sum of per-row ``values`` weighted by ``data``'s weights (0-d)."""
    return data.xp.sum(values if data.weights is None else data.weights * values)


def labels_and_inertia(data: Data, centres: Array) -> tuple[Array, float]:
    """Nearest centre of every row of ``data`` and the weighted inertia, from exact residuals.

    ``centres`` are in the frame ``X - data.mean``.
    """
    labels = assign(data, centres).labels
    return labels, float(to_host(labelled_inertia(data, centres, labels)))
