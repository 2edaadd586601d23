"""NumPy's fused assignment: the nearest centres and the cluster sums in one compiled loop.

With Numba installed (``pip install ".[fast]"``), the NumPy plan
assigns a chunk of rows tile by tile: the tile's rows centred into one of two
buffers of the thread's own, one BLAS product for its score block (one per
centre for two centres; for a few centres of float32 rows, the product laid out row
by row, which the loop copies centre by centre), and one compiled loop over the block
(:func:`nearest_and_sums`) that finds each row's nearest centre, adds its
squared distance to the inertia and its values to its cluster's sums, and
centres the next tile's rows into the other buffer as it goes (their read from
memory then overlaps the arithmetic). Two centres of float64 rows (a bisection's
passes) take a loop of their own, which the library hands in
(:mod:`~anykmeans._libraries._fused_bisection`): no tiles, no BLAS product; each row
is read once, centred, scored against both centres, labelled and added to its
cluster's sums while it is near the processor.

The standard-only path reads and writes a chunk-sized block five or six times,
sorts the labels for the sums, and allocates fresh memory for every step (the
operating system clears each new page: at small ``k`` that costs more than the
arithmetic); here a tile is written once and read once, near the caches, and
the buffers are reused.

The loop decides as :func:`anykmeans._primitives.nearest` does (ties within
``TIE_ULPS`` ulps go to the lower index; a row with a NaN score goes to the
last centre) and adds each cluster's rows in row order, so the two paths give
the same labels, and sums and inertia equal to rounding (the inertia is added
in float64 here, in the data's dtype there). Without Numba the standard path
runs; ``tests/test_fused.py`` compares the two.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import operator
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._types import Array, Assignment, PassData

#: A tile's score block and centred rows take about this many bytes: about a core's L2
#: cache, below which a chunk's time rises (docs/notes/benchmark-history.md). A constant:
#: Python has no portable way to read cache sizes (``os.sysconf`` lacks the names; ``/sys``
#: is a file fitting may not open).
TILE_BYTES = 2**20

#: Rows of a tile at the least, however many centres.
MIN_TILE_ROWS = 256

#: Up to this many centres, a tile's scores are a matrix-vector product per centre: BLAS's
#: matrix product of two centres with the rows costs more (docs/notes/benchmark-history.md).
MAX_VECTOR_PRODUCTS = 2

#: Passes with fewer scores (rows times centres) than this take the standard path: they
#: take milliseconds; the loop's compilation, once per dtype, about a second, and loading
#: it from Numba's cache in a later process (with Numba's import) more than half of that.
#: Within a fit (:func:`for_fit`), the fit's scores count instead where they are more.
MIN_SCORES = 2**20

#: Up to this many centres of float32 rows of :data:`MIN_ROW_MAJOR_FEATURES` features or more,
#: a tile's scores come from BLAS's product laid out row by row (``x @ (-2 c).T``), which the
#: loop copies into its centre-major block: OpenBLAS makes that product in about half the
#: time of the centre-major one at these shapes, and the copy takes less than the difference
#: (docs/benchmarks.md). Float64's two products take about the same time.
MAX_ROW_MAJOR_CENTRES = 32

#: Rows of fewer features keep the centre-major product: it is as fast (docs/benchmarks.md).
MIN_ROW_MAJOR_FEATURES = 16

#: The dtypes the loop is compiled for.
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def nearest_and_sums(block: Array, centre_sq_norms: Array, x: Array, x_sq_norms: Array,
                     w: Array, centres: Array, slack_scale: Any, max_centre_sq_norm: Any,
                     labels: Array, sums: Array, weight_sums: Array, update: bool,
                     exact: bool, next_rows: Array, mean: Array, next_x: Array,
                     recheck: bool = False, tie_scale: float = 0.0,
                     by_row: Array | None = None) -> float:
    """Label a tile's rows from their scores; accumulate the inertia and cluster sums.

    Parameters
    ----------
    block : array of shape (n_clusters, n_rows)
        ``-2 c_j . x_i`` (the centre norms not yet added), centre by centre; where
        ``by_row`` is given, written from it first.
    centre_sq_norms : array of shape (n_clusters,)
    x : array of shape (n_rows, n_features)
        The tile's centred rows.
    x_sq_norms : array of shape (n_rows,)
    w : array of shape (n_rows,) or (0,)
        The rows' weights; empty for unit weights.
    centres : array of shape (n_clusters, n_features)
        Read only when ``exact`` or ``recheck``.
    slack_scale, max_centre_sq_norm : scalars of the block's dtype
        A row's ties are the scores within ``slack_scale * (|x|^2 + max |c|^2)`` of its
        best score; when ``recheck``, close calls within ``slack_scale * (max |c|^2 + 2 max
        |c| |x|) + 2 tie_scale (|x|^2 + max |c|^2)``
        (:func:`anykmeans._primitives.close_call_bound`).
    labels : integer array of shape (n_rows,)
        Written: each row's nearest centre.
    sums : float64 array of shape (n_clusters, n_features)
        Added to, when ``update``: each row's weighted values, to its cluster's.
    weight_sums : float64 array of shape (n_clusters,)
        Added to, when ``update``: each row's weight.
    update : bool
    exact : bool
        Take the squared distances from the residuals ``x - c`` rather than
        from the scores.
    next_rows : array of shape (n_next, n_features), n_next <= n_rows
        The next tile's rows, not centred (none after the last tile).
    mean : array of shape (n_features,)
    next_x : array of shape (n_next, n_features)
        Written: ``next_rows - mean``, row by row with this tile's, so that reading the
        next tile from memory overlaps this one's arithmetic.
    recheck : bool
        Decide as :func:`anykmeans._primitives.nearest` does for scores coarser than
        float64: on a close call, the nearest of its candidates by squared distances in
        float64, as :func:`anykmeans._exact.exactly_nearest` decides.
    tie_scale : float
        When ``recheck``: ``exactly_nearest``'s ``tie_ulps`` times the dtype's epsilon.
    by_row : array of shape (n_rows, n_clusters), optional
        The same scores row by row (the layout of BLAS's faster product for few centres:
        :data:`MAX_ROW_MAJOR_CENTRES`), copied into ``block`` before anything else.

    Returns
    -------
    float
        The tile's weighted sum of squared distances, added in float64.

    Notes
    -----
    Each step runs along the rows, centre by centre, with selections rather
    than branches: the compiler makes vector instructions of the loops over
    rows, and the processor never guesses which centre wins.
    """
    n_clusters, n_rows = block.shape
    n_features = x.shape[1]
    if by_row is not None:  # row by row: reads of one cache line, writes kept near
        for i in range(n_rows):
            for j in range(n_clusters):
                block[j, i] = by_row[i, j]
    best = np.empty(n_rows, dtype=block.dtype)
    has_nan = np.empty(n_rows, dtype=np.bool_)
    # Each row's centre: rechecked rows find the first of the best score as they go (as a
    # number of the scores' type: the same vector lanes), the others in a pass of their own.
    first_best = np.zeros(n_rows if recheck else 0, dtype=block.dtype)
    nearest = np.empty(0 if recheck else n_rows, dtype=np.int32)
    runner_up = np.full(n_rows if recheck else 0, np.inf, dtype=block.dtype)  # 2nd best score
    for i in range(n_rows):
        best[i] = block[0, i] + centre_sq_norms[0]
        has_nan[i] = best[i] != best[i]
    for j in range(1, n_clusters):
        j_number = block.dtype.type(j)
        for i in range(n_rows):
            score = block[j, i] + centre_sq_norms[j]
            if recheck:  # the runner-up, and the first centre of the best score, as they come
                runner_up[i] = min(runner_up[i], max(best[i], score))
                first_best[i] = j_number if score < best[i] else first_best[i]
            best[i] = score if score < best[i] else best[i]
            has_nan[i] |= score != score
    for i in range(n_rows):  # ties: the lowest centre within the slack of the best score
        if recheck:  # close calls: as nearest's window (float32 arithmetic, its order)
            best[i] += (slack_scale * (max_centre_sq_norm
                                       + 2 * np.sqrt(max_centre_sq_norm * x_sq_norms[i]))
                        + np.float32(2 * tie_scale) * (x_sq_norms[i] + max_centre_sq_norm))
        else:
            best[i] += slack_scale * (x_sq_norms[i] + max_centre_sq_norm)
    if not recheck:  # the first centre within the window
        nearest[:] = n_clusters
        for j in range(n_clusters):
            for i in range(n_rows):
                within = block[j, i] + centre_sq_norms[j] <= best[i]
                nearest[i] = min(nearest[i], j if within else n_clusters)
    weighted = w.shape[0] > 0
    n_next = next_rows.shape[0]
    inertia = 0.0
    halves = np.empty(n_features, dtype=np.float64)
    for i in range(n_rows):
        if has_nan[i]:  # no centre is nearest
            label = n_clusters - 1
        else:
            label = int(first_best[i]) if recheck else nearest[i]
        if recheck and not has_nan[i] and runner_up[i] <= best[i]:  # a close call
            for j in range(n_clusters):  # the first centre in the window, not the best's
                if block[j, i] + centre_sq_norms[j] <= best[i]:
                    label = j
                    break
            others = (label, n_clusters, n_clusters)  # the first, then the two best-scoring
            for rank in range(1, 3):
                lowest = np.inf
                for j in range(n_clusters):
                    score = block[j, i] + centre_sq_norms[j]
                    taken = j == others[0] or j == others[1]
                    if not taken and score < lowest:
                        lowest = score
                        others = (others[0], j, others[2]) if rank == 1 else (
                            others[0], others[1], j)
                if rank == 2 and lowest > best[i]:  # the third is no close call
                    others = (others[0], others[1], n_clusters)
            # exactly_nearest: the candidates' squared distances and norms and the row's
            # norm in float64, in halving order; ties within the centring's rounding
            distances = np.full(3, np.inf)
            centre_norms = np.full(3, -np.inf)
            row_norm = 0.0
            for which in range(4):  # the three candidates, then the row
                centre = others[which] if which < 3 else 0
                if which < 3 and centre == n_clusters:
                    continue
                for part in range(2 if which < 3 else 1):
                    for f in range(n_features):
                        if which == 3:
                            value = np.float64(x[i, f])
                        elif part == 0:
                            value = np.float64(x[i, f]) - np.float64(centres[centre, f])
                        else:
                            value = np.float64(centres[centre, f])
                        halves[f] = value * value
                    length = n_features
                    while length > 1:
                        half = length // 2
                        for f in range(half):
                            halves[f] += halves[f + half]
                        if length % 2:
                            halves[half] = halves[2 * half]
                        length = half + length % 2
                    if which == 3:
                        row_norm = halves[0]
                    elif part == 0:
                        distances[which] = halves[0]
                    else:
                        centre_norms[which] = halves[0]
            least = distances.min()
            limit = least + tie_scale * np.sqrt(least) * (np.sqrt(row_norm)
                                                          + np.sqrt(centre_norms.max()))
            label = n_clusters
            for which in range(3):
                if distances[which] <= limit:
                    label = min(label, others[which])
        labels[i] = label
        if exact:
            distance = 0.0
            for f in range(n_features):
                residual = x[i, f] - centres[label, f]
                distance += float(residual * residual)
        elif has_nan[i]:
            distance = np.nan
        else:  # the best score again: the slack taken off
            score = block[label, i] + centre_sq_norms[label]
            distance = max(float(x_sq_norms[i] + score), 0.0)
        if i < n_next:
            for f in range(n_features):
                next_x[i, f] = next_rows[i, f] - mean[f]
        weight = float(w[i]) if weighted else 1.0
        inertia += weight * distance
        if update:
            weight_sums[label] += weight
            if weighted:
                for f in range(n_features):
                    sums[label, f] += x[i, f] * w[i]
            else:
                for f in range(n_features):
                    sums[label, f] += x[i, f]
    return inertia


@functools.cache
def compiled_kernel() -> Callable[..., float] | None:
    """:func:`nearest_and_sums` compiled by Numba on first use, or None where Numba is not
    installed.

    The machine code is cached by Numba, so that later processes load it rather than
    compile it again: in ``NUMBA_CACHE_DIR`` where that is set, else in the
    ``__pycache__`` folder beside this module, else in Numba's folder in the user's
    cache (docs/guarantees.md). Where none of them can be written, the loop is compiled
    in memory, once per process, and nothing is written.
    """
    return compile_loop(nearest_and_sums)


def compile_loop(function: Callable[..., Any], *,
                 reordered_sums: bool = False) -> Callable[..., Any] | None:
    """``function`` compiled by Numba, its machine code cached as :func:`compiled_kernel`
    says, or None where Numba is not installed (or ``NUMBA_DISABLE_JIT`` is set).

    With ``reordered_sums``, the compiler may reassociate the function's additions
    (Numba's ``fastmath={"reassoc"}``: a sum over a row's features is then added several
    features at a time); no other fast-math flag is set (no fused multiply-add, NaN and
    infinity kept).
    """
    if importlib.util.find_spec("numba") is None:
        return None
    import numba

    if numba.config.DISABLE_JIT:  # NUMBA_DISABLE_JIT: the loop would run in Python
        return None
    fastmath = {"reassoc"} if reordered_sums else False
    try:
        return numba.njit(nogil=True, cache=True, fastmath=fastmath)(function)
    except RuntimeError:  # Numba found no folder it can write its cache to
        return numba.njit(nogil=True, cache=False, fastmath=fastmath)(function)


#: A thread keeps a buffer for its next tiles only up to this size: what a fit with very many
#: centres needed is not held by the pool's threads after it.
MAX_HELD_BYTES = 8 * 2**20

_scratch = threading.local()


def _buffer(name: str, shape: tuple[int, int], dtype: np.dtype) -> Array:
    """A C-contiguous array of ``shape`` owned by the calling thread, reused across calls
    (fresh memory costs a page fault per 4 KiB, more than a small tile's arithmetic); one
    larger than :data:`MAX_HELD_BYTES` is made afresh each time."""
    size = shape[0] * shape[1]
    if size * dtype.itemsize > MAX_HELD_BYTES:
        return np.empty(shape, dtype=dtype)
    held = getattr(_scratch, name, None)
    if held is None or held.dtype != dtype or held.size < size:
        held = np.empty(size, dtype=dtype)
        setattr(_scratch, name, held)
    return held[:size].reshape(shape)


def tile_rows(n_rows: int, n_features: int, n_clusters: int, itemsize: int) -> int:
    """Rows per tile of a chunk of ``n_rows`` rows: as many tiles as :data:`TILE_BYTES` of
    scores and centred rows each (at least :data:`MIN_TILE_ROWS` rows) need, of even size
    (no tile of a few rows left over, which would cost a tile's calls for nothing), rounded
    up to an odd multiple of 16 rows (the last tile fewer).

    A centre-major block whose rows are a multiple of 4 KiB long puts a column's values in
    one set of the first-level cache: BLAS's product into it then takes up to two fifths
    longer, and the loop's copy of a row-major block into it (:data:`MAX_ROW_MAJOR_CENTRES`)
    ten times longer (docs/benchmarks.md). An odd multiple of 16 rows spreads them.
    """
    most = max(MIN_TILE_ROWS, TILE_BYTES // ((n_features + n_clusters) * itemsize))
    n_tiles = max(1, -(-n_rows // most))
    rows = max(1, -(-n_rows // n_tiles))
    return rows if rows <= 16 else (rows + 15) // 32 * 32 + 16


_fit = threading.local()


@contextlib.contextmanager
def for_fit(scores: int) -> Iterator[None]:
    """While the ``with`` block lasts, the passes of the fit that the calling thread runs take
    the fused loop where ``scores``, a pass's over all of the fit's rows against all of its
    clusters, reach :data:`MIN_SCORES`, however few their own: a bisecting fit's two-centre
    passes over one cluster's rows are many, and the loop's compilation is paid once.

    A fit inside another (in the same thread) keeps the outer one's.
    """
    if getattr(_fit, "scores", None) is not None:
        yield
        return
    _fit.scores = scores
    try:
        yield
    finally:
        del _fit.scores


def takes_fit() -> bool:
    """Whether the passes of the fit that the calling thread runs take the fused loop by
    their scores (:func:`for_fit`), Numba aside."""
    return getattr(_fit, "scores", 0) >= MIN_SCORES


def window(dtype: np.dtype, n_features: int, centre_sq_norms: Array,
           tie_ulps: int) -> tuple[Any, Any, bool, float]:
    """What :func:`nearest_and_sums` needs of a pass to bound each row's window: its
    ``slack_scale``, ``max_centre_sq_norm``, ``recheck`` and ``tie_scale``, for rows of
    ``dtype`` with ``n_features`` features.

    Float32 rows are rechecked, as :func:`anykmeans._primitives.nearest` rechecks them: the
    window is then ``2 (d + 2)`` units of ``|x|^2 + max |c|^2``, which holds the rounding
    any library's product may make (:func:`~anykmeans._exact.close_call_bound`); float64
    rows' is the ties' ``tie_ulps`` units.
    """
    recheck = dtype != np.float64
    eps = np.finfo(dtype).eps
    scale = 2 * (n_features + 2) if recheck else tie_ulps
    return (dtype.type(scale * eps), dtype.type(np.max(centre_sq_norms)), recheck,
            tie_ulps * float(eps))


def assignment(data: PassData, X: Array, mean: Array, weights: Array | None, centres: Array,
               centre_sq_norms: Array, x_sq_norms: Array | None, previous_labels: Array | None,
               *, update: bool, exact_inertia: bool, tie_ulps: int,
               two_centre_loop: Callable[[], Callable[..., float] | None]) -> Assignment | None:
    """The assignment pass over the rows of ``data``, chunk by chunk, or None where the pass is
    not for the fused loop: Numba is not installed, the rows are not float32 or float64, the
    centres are of another dtype, or the pass has fewer than :data:`MIN_SCORES` scores (and
    so has the fit it belongs to: :func:`for_fit`). Two centres of float64 rows take the loop
    ``two_centre_loop()`` returns, where it returns one
    (:func:`~anykmeans._libraries._fused_bisection.compiled_two_centre_kernel`).

    The contract of :func:`anykmeans._primitives.assign_block`. ``X`` and the arrays
    after it are NumPy arrays: ``data``'s own, or NumPy views of them; ``data``'s
    library runs the chunks (:meth:`~anykmeans._primitives.Data.map`). Each chunk
    writes its labels, and its rows' squared norms where they are not given, into
    the pass's arrays; its inertia, sums and count of changed labels are added up
    here, in chunk order.
    """
    if (X.dtype not in DTYPES or centres.dtype != X.dtype
            or (X.shape[0] * centres.shape[0] < MIN_SCORES and not takes_fit())):
        return None
    kernel = compiled_kernel()
    if kernel is None:
        return None
    dtype = X.dtype
    labels = np.empty(X.shape[0], dtype=np.intp)
    norms = np.empty(X.shape[0], dtype=dtype) if x_sq_norms is None else x_sq_norms
    slack_scale, max_norm, recheck, tie_scale = window(dtype, X.shape[1], centre_sq_norms,
                                                       tie_ulps)
    in_place = X.flags.c_contiguous and not np.any(mean)
    two_centres = two_centre_loop() if centres.shape[0] == 2 and not recheck else None
    chunk = functools.partial(assign_chunk, kernel, two_centres, X, mean, in_place, weights,
                              centres, centre_sq_norms, x_sq_norms is None, previous_labels,
                              update, exact_inertia, -2.0 * centres, slack_scale, max_norm,
                              recheck, tie_scale, labels, norms)
    total = None
    for part in data.map(chunk, centres.shape[0]):
        total = part if total is None else tuple(map(operator.add, total, part))
    inertia, *added = total
    sums, weight_sums = added[:2] if update else (None, None)
    n_changed = None if previous_labels is None else added[-1]
    return Assignment(labels, inertia, sums, weight_sums, norms, n_changed)


def assign_chunk(kernel: Callable[..., float], two_centres: Callable[..., float] | None,
                 X: Array, mean: Array, in_place: bool,
                 weights: Array | None, centres: Array, centre_sq_norms: Array,
                 computes_norms: bool, previous_labels: Array | None, update: bool,
                 exact_inertia: bool, scaled: Array, slack_scale: Any, max_norm: Any,
                 recheck: bool, tie_scale: float, labels: Array, norms: Array,
                 rows: slice) -> tuple[Array, ...]:
    """The assignment of the rows ``X[rows]`` (centred on ``mean``), tile by tile, or in one
    call of ``two_centres`` (``assignment``'s ``two_centre_loop()``, or None: two centres
    of float64 take it, the rows read where they are).

    Where ``in_place`` (``mean`` is zero and ``X`` C-contiguous: a bisection's rows,
    centred when gathered), the tiles are read where they are, not copied. Writes the
    rows' labels into ``labels[rows]`` and, where ``computes_norms``, their squared norms
    into ``norms[rows]`` (else reads them there). ``kernel`` is
    :func:`compiled_kernel`'s (or :func:`nearest_and_sums` itself). What is the same
    for every chunk of a pass comes made: ``scaled`` is ``-2 centres``,
    ``slack_scale``, ``max_norm``, ``recheck`` and ``tie_scale`` are
    :func:`nearest_and_sums`'s.

    Returns
    -------
    tuple of arrays
        What adds up over chunks: the inertia (0-d, ``X``'s dtype); with
        ``update``, the float64 cluster sums and the weight per cluster in ``X``'s
        dtype; given ``previous_labels``, how many rows changed label (0-d).
    """
    dtype = X.dtype
    n_clusters, n_features = centres.shape
    n_rows = rows.stop - rows.start
    labels, norms = labels[rows], norms[rows]
    sums = np.zeros((n_clusters, n_features), dtype=np.float64)
    weight_sums = np.zeros(n_clusters, dtype=np.float64)
    no_weights = np.empty(0, dtype=dtype)
    if two_centres is not None:  # the whole chunk in one call: no tiles, no buffers
        inertia = two_centres(X[rows], mean, scaled, centre_sq_norms, norms, computes_norms,
                              no_weights if weights is None else weights[rows], centres,
                              slack_scale, max_norm, labels, sums, weight_sums, update,
                              exact_inertia)
    else:
        row_major = (dtype == np.float32 and MAX_VECTOR_PRODUCTS < n_clusters
                     <= MAX_ROW_MAJOR_CENTRES and n_features >= MIN_ROW_MAJOR_FEATURES)
        step = tile_rows(n_rows, n_features, n_clusters, dtype.itemsize)
        # Each tile's centred rows are written by the loop over the tile before (see
        # nearest_and_sums), into the other of two buffers; the first tile's here.
        x = X[rows.start:rows.start + min(step, n_rows)]
        if not in_place:
            shape = (min(step, n_rows), n_features)
            buffers = [_buffer("x", shape, dtype), _buffer("next", shape, dtype)]
            x = np.subtract(x, mean, out=buffers[0])
        inertia = 0.0
        for start in range(0, n_rows, step):
            stop = min(start + step, n_rows)
            tile = slice(rows.start + start, rows.start + stop)
            if computes_norms:
                np.einsum("ij,ij->i", x, x, out=norms[start:stop])
            block = _buffer("scores", (n_clusters, stop - start), dtype)
            by_row = None
            if n_clusters <= MAX_VECTOR_PRODUCTS:
                for j in range(n_clusters):
                    np.matmul(x, scaled[j], out=block[j])
            elif row_major:
                by_row = np.matmul(x, scaled.T,
                                   out=_buffer("by_row", (stop - start, n_clusters), dtype))
            else:
                np.matmul(scaled, x.T, out=block)
            next_rows = X[rows.start + stop:rows.start + min(stop + step, n_rows)]
            if in_place:  # the next tile is read where it is: nothing to centre
                next_x, next_rows = next_rows, X[:0]
            else:
                next_x = buffers[1][:next_rows.shape[0]]
                buffers.reverse()
            inertia += kernel(block, centre_sq_norms, x, norms[start:stop],
                              no_weights if weights is None else weights[tile], centres,
                              slack_scale, max_norm, labels[start:stop], sums, weight_sums,
                              update, exact_inertia, next_rows, mean, next_x, recheck,
                              tie_scale, by_row)
            x = next_x
    added = [np.asarray(inertia, dtype=dtype)]
    if update:
        added += [sums, weight_sums.astype(dtype)]
    if previous_labels is not None:
        added.append(np.asarray(np.count_nonzero(labels != previous_labels[rows]), dtype=dtype))
    return tuple(added)
