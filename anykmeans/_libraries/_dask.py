"""Dask: a pass is one task per block of rows, and one round trip.

A fit's passes (:meth:`DaskPasses.run`, :meth:`DaskPasses.search`) each build one
graph: a task per block of rows runs the generic block pass on its block, in
the block's own library (NumPy, CuPy); the blocks' small results meet in a
tree of additions (or a list); the client evaluates the graph in one round
trip and gets the small results. Each block's state (labels, row norms,
distances) stays where its task computed it, a future on a distributed
cluster (a value in this process on Dask's local schedulers), and goes to the
task of the same block in the next pass: nothing n-sized is built on the
client. The small side of a fit (:meth:`DaskPasses.to_small_side`) is the blocks' library
in the client's process: centres, the mean and candidates go into the tasks
as values, never as Dask collections, which ``dask.delayed`` would copy, with
their whole graph, into every task.

While a fit runs, ``X`` is held in the workers' memory when it fits (the
``anykmeans.persist`` setting of Dask's configuration: ``"auto"``, True or
False), so that each pass reads it rather than computing it again.

Lazy results for the caller (``predict``, ``transform``; ``score``'s distances) are one
task per block of ``X``, left unevaluated (:meth:`DaskPasses.rowwise`), with ``X``'s values
checked inside those tasks (:meth:`DaskPasses.checked`). BLAS runs one thread per task while
Dask's own threads run the blocks.

A pass that is interrupted (Ctrl-C) or fails is cancelled before the exception
reaches the caller: its futures are released, and its tasks that run in this
process stop at their next chunk, so that BLAS has its thread limit back.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import inspect
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from ._base import Library
from ._devices import Backend
from ._passes import Passes
from ._threads import single_threaded_blas
from ._types import Array, Assignment, Pass, PassData

#: The key of Dask's configuration that says whether a fit holds ``X`` in the workers'
#: memory: ``"auto"`` (the default), True or False.
PERSIST_KEY = "anykmeans.persist"

#: ``"auto"`` holds ``X`` on a distributed cluster whose workers' memory limits add up to
#: at least this many times its size (on Dask's local schedulers it never does: they run
#: in the caller's process, whose memory lazily generated data is meant to spare).
PERSIST_HEADROOM = 4

#: At the end of a fit, how long to wait for the scheduler to release the persisted ``X``, and
#: how often to ask (seconds).
RELEASE_TIMEOUT, RELEASE_POLL = 10.0, 0.01

#: The blocks' small results are added up in a tree of this many parts per addition.
SPLIT_EVERY = 8

#: After an interrupt, how long to wait for the pass's tasks in this process to stop (seconds):
#: each stops at its next chunk.
CANCEL_TIMEOUT = 10.0


class DaskPasses(Passes):
    """The lazy strategy: a pass is one task per block of rows and one round trip."""

    @contextlib.contextmanager
    def resident(self, X: Array, n_clusters: int) -> Iterator[Array]:
        """``X`` under keys of the fit's own, persisted where :data:`PERSIST_KEY` asks for it.

        A scheduler keeps the tasks that results it holds were computed from:
        a fit's labels would keep ``X``'s, and Dask's optimisation fuses them
        differently in different graphs (a reduction, ``persist``, a
        ``compute`` of ``predict``), which the scheduler then warns about.
        The fit computes a copy of ``X``'s graph under fresh keys instead. An
        ``X`` already in memory is used as it is. On a distributed cluster the
        fit's references to the blocks it persisted are released as it ends,
        and it waits until the scheduler has let go of them, so that the
        workers' memory is free again when it returns. A fit whose client is
        closed, or loses its scheduler, ends with an error that says so
        (:func:`_connected`).
        """
        persisting, client = _persisting(X), _client()
        with _connected(client):
            if _in_memory(X):
                yield X
                return
            X = _own_copy(X)
            if not persisting:
                yield X
                return
            if client is None:
                with single_threaded_blas():
                    held = X.persist()
                yield held
                return
            from distributed import futures_of

            held = client.persist(X, optimize_graph=False)  # as the passes submit it: _blocks
            try:
                yield held
            finally:
                futures = futures_of(held)
                for future in futures:
                    future.release()
                if client.status == "running":
                    _wait_until_released(client, [f.key for f in futures])

    def to_small_side(self, *arrays: Any) -> tuple[Any, ...]:
        """The Dask arrays (and delayed rows) among ``arrays`` evaluated in one round trip; an
        array of one block already in this process's memory is read without one."""
        import dask

        out = [_value_in_graph(a) for a in arrays]
        lazy = [i for i, a in enumerate(out) if _is_lazy(a)]
        with single_threaded_blas():
            values = dask.compute(*(out[i] for i in lazy)) if lazy else ()
        for i, value in zip(lazy, values, strict=True):
            out[i] = value
        return tuple(out)

    def from_small_side(self, X: Array, *arrays: Array) -> tuple[Array, ...]:
        """One-block Dask arrays of the small side's arrays, in their own library (Dask's
        ``asarray`` would convert them to NumPy, which CuPy refuses)."""
        import dask.array as da

        return tuple(a if _is_lazy(a) else da.from_array(a, chunks=a.shape, asarray=False)
                     for a in arrays)

    def take_rows(self, data: PassData, indices: Array) -> Any:
        """A delayed value: only the blocks that hold ``indices`` are read, by one small task
        each, in the graph of the pass (or :meth:`to_small_side`) that evaluates it."""
        import dask

        (indices,) = self.to_small_side(indices)
        indices = self.library.to_host(indices)
        blocks = _blocks(data)
        starts = np.asarray([rows.start for rows in blocks.rows])
        holder = np.searchsorted(starts, indices, side="right") - 1
        take = dask.delayed(_take_rows, pure=False)
        positions, parts = [], []
        for b in np.unique(holder):
            where = np.flatnonzero(holder == b)
            positions.append(where)
            parts.append(take(blocks.X[b], indices[where] - starts[b]))
        return dask.delayed(_in_order, pure=False)(positions, parts)

    def run(self, data: PassData, block_pass: Callable[..., tuple[Any, Any]], state: Any,
            *operands: Any, listed: bool = False) -> Pass:
        """One task per block of rows and a tree of additions (or a list), one round trip.

        A pass over ``b`` blocks is ``b`` block tasks, ``b`` small picks of their
        small results and ``ceil(b / SPLIT_EVERY)`` additions, plus reading
        ``X``'s blocks (and evaluating what :meth:`take_rows` returned among the
        operands).
        """
        blocks = _blocks(data)
        operands = tuple(_operand(o) for o in operands)
        token = uuid.uuid4().hex
        return _evaluate_pass(_block_tasks(blocks, data, block_pass, state, operands, token),
                              operands, listed, token)

    def search(self, data: PassData, state: Any, values: Array, totals: list | None,
               select: Callable[..., Any], find: Callable[..., tuple],
               block_pass: Callable[..., tuple[Any, Any]], *operands: Any) -> Pass:
        """Each value is sent to the block whose running total reaches it first (by the
        ``totals``); a small task per block that receives values finds them, and every
        block's task takes what was found: one graph, one round trip."""
        import dask

        blocks = _blocks(data)
        values = self.library.to_host(values)
        if totals is None:
            holder, ends = np.zeros(values.shape[0], dtype=np.intp), None
        else:
            ends = np.cumsum([self.library.to_host(total) for total in totals])
            holder = np.minimum(np.searchsorted(ends, values), len(blocks.rows) - 1)
        finder = dask.delayed(_find_in_block, pure=False)
        token = uuid.uuid4().hex
        positions, parts = [], []
        for b in np.unique(holder):
            where = np.flatnonzero(holder == b)
            positions.append(where)
            parts.append(finder(token, find, select, type(data), blocks.X[b], blocks.mean,
                                blocks.weights[b], data.chunk_size, blocks.rows[b],
                                state.parts[b], values[where], None if b == 0 else ends[b - 1]))
        found = dask.delayed(_in_order, pure=False)(positions, parts)
        operands = (found, *(_operand(o) for o in operands))
        function = functools.partial(_searched_block, select, block_pass)
        return _evaluate_pass(_block_tasks(blocks, data, function, state, operands, token),
                              operands, listed=True, token=token)

    def state_array(self, data: PassData, state: Any, index: int, dtype: Any) -> Array:
        """Lazy, with ``X``'s row chunks, each block read from where its task left it."""
        import dask
        import dask.array as da

        field = dask.delayed(_state_field, pure=False)
        return da.concatenate([
            da.from_delayed(field(part, index), shape=(rows.stop - rows.start,), dtype=dtype)
            for part, rows in zip(state.parts, _blocks(data).rows, strict=True)])

    def assign(self, data: PassData, centres: Array, eager: Callable[..., Assignment], *,
               update: bool = False, exact_inertia: bool = False,
               x_sq_norms: Array | None = None) -> Assignment:
        """``eager`` on every block of rows, one task each, results added in a binary tree,
        left lazy (an assignment outside a fit's passes, e.g. of k-means|| candidates or a
        mini-batch: see :meth:`run` for a fit's, :meth:`rowwise` for the caller's).

        Reading ``X`` once, the graph has ``O(blocks)`` tasks whatever the number
        of iterations before it. Task keys are fresh on every call
        (``pure=False``), ``X``'s included (see :meth:`resident`), so that a
        scheduler still holding earlier results never meets a known key with a
        different task.
        """
        import dask
        import dask.array as da

        if not _in_memory(data.X):
            data = dataclasses.replace(data, X=_own_copy(data.X))
        X = data.X.rechunk({1: -1})
        blocks = _blocks(data).X

        def row_blocks(v: Array | None) -> list:
            return [None] * len(blocks) if v is None else _row_blocks(v, X)

        task = dask.delayed(_assign_block, pure=False)
        centres_operand, mean = _operand(centres), _operand(data.mean)
        parts = [task(eager, type(data), block, centres_operand, mean, w, data.chunk_size,
                      update, exact_inertia, norms)
                 for block, w, norms in zip(blocks, row_blocks(data.weights),
                                            row_blocks(x_sq_norms), strict=True)]

        def rows_of(field: str, dtype: Any) -> Array:
            return da.concatenate([da.from_delayed(getattr(part, field), shape=(n_rows,),
                                                   dtype=dtype)
                                   for part, n_rows in zip(parts, X.chunks[0], strict=True)])

        labels = rows_of("labels", data.xp.__array_namespace_info__().default_dtypes()["indexing"])
        if x_sq_norms is None:
            x_sq_norms = rows_of("x_sq_norms", X.dtype)
        add = dask.delayed(Assignment.plus, pure=False)
        while len(parts) > 1:
            parts = [add(*parts[i:i + 2]) if i + 1 < len(parts) else parts[i]
                     for i in range(0, len(parts), 2)]
        total = parts[0]
        n_clusters, n_features = centres.shape
        inertia = da.from_delayed(total.inertia, shape=(), dtype=X.dtype)
        sums = weight_sums = None
        if update:
            # Added up in float64 (Primitives.cluster_sums; NumPy and CuPy blocks have it).
            sums = da.from_delayed(total.sums, shape=(n_clusters, n_features), dtype=np.float64)
            weight_sums = da.from_delayed(total.weight_sums, shape=(n_clusters,), dtype=X.dtype)
        return Assignment(labels, inertia, sums, weight_sums, x_sq_norms)

    def rowwise(self, data: PassData, function: Callable[..., Array], *operands: Any,
                columns: int | None = None, dtype: Any = None) -> Array:
        """Lazy: one task per block of ``X``'s rows, each running ``function`` on its block in
        the block's own library; the result has ``X``'s row chunks.

        Built with :func:`dask.array.blockwise`, so that Dask's optimisation fuses each
        task with those that compute its block of ``X`` (and check its values: see
        :meth:`checked`): one task per block when the caller computes it. The mean and
        the operands go into the tasks as values (:meth:`to_small_side`: a round trip
        where they are lazy, reading nothing of ``X``): a task that depends on another
        graph's is not fused.
        """
        import dask.array as da

        X = data.X.rechunk({1: -1})
        weights = (None, None) if data.weights is None else (self.blocked_like(data.weights, X),
                                                             "i")
        dtype = X.dtype if dtype is None else dtype
        xp = array_api_compat.array_namespace(X._meta)
        meta = X._meta[:0, :0] if columns is not None else xp.reshape(X._meta[:0, :0], (0,))
        small = [argument for operand in self.to_small_side(data.mean, *operands)
                 for argument in (operand, None)]
        return da.blockwise(_rowwise_block, "i" if columns is None else "ik",
                            function, None, type(data), None, data.chunk_size, None,
                            X, "ij", *weights, *small,
                            new_axes={} if columns is None else {"k": columns},
                            concatenate=True, dtype=dtype, meta=xp.astype(meta, dtype),
                            token=function.__name__.strip("_").replace("_", "-"))

    def checked(self, X: Array, check: Callable[[Array], None]) -> Array:
        """Lazy: each block is checked by the task that computes it (fused into it by Dask's
        optimisation): a refused value raises as the caller computes a result."""
        return X.map_blocks(_checked_block, check, dtype=X.dtype, meta=X._meta,
                            token="checked")

    def blocked_like(self, v: Array, X: Array) -> Array:
        return v.rechunk((X.chunks[0],))


class Dask(Library):
    """``dask.array.Array`` arrays, whatever library their blocks are in."""

    name = "dask"
    passes_type = DaskPasses
    traced = True  # a lazy array's shapes cannot come from its values
    install = "pip install 'dask[array]' (and distributed for a cluster)"

    #: The library of an array of a Dask computation's result, its blocks' library: set by
    #: :mod:`anykmeans._libraries`, which knows every library (a module below it cannot).
    block_library: Callable[[Array], Library]

    @staticmethod
    def owns(x: Array) -> bool:
        return array_api_compat.is_dask_array(x)

    def backends(self, module: Any) -> list[Backend]:
        import dask.array as da

        def convert(x):
            rows = max(1, -(-x.shape[0] // 4)) if x.ndim else ()
            return da.from_array(x, chunks=(rows, *x.shape[1:]) if x.ndim else ())

        return [Backend("dask", "cpu", True, module.__version__, convert)]

    def array_on(self, device: Any = None) -> Array:
        if device not in (None, "cpu"):
            raise ValueError(f"Dask arrays are on the CPU (\"cpu\"), not on {device!r}.")
        import dask.array as da

        return da.empty((0,))

    def prepare(self, x: Array, name: str) -> Array:
        """Without empty blocks of rows (Dask's reductions fail on them); an array with no
        rows keeps one empty block, for the checks to refuse as they refuse any empty array."""
        if x.ndim and 0 in x.chunks[0]:
            rows = tuple(rows for rows in x.chunks[0] if rows) or (0,)
            x = x.rechunk((rows, *x.chunks[1:]))
        return x

    def to_host(self, x: Array) -> np.ndarray:
        """``x`` computed (an array already computed as it is), then copied by the library of
        the result (its blocks' library: ``get`` for CuPy, which refuses ``np.asarray``)."""
        if _is_lazy(x):
            with single_threaded_blas():
                x = x.compute()
        return self.block_library(x).to_host(x)

    def materialise(self, *arrays: Array) -> tuple[Array, ...]:
        import dask

        with single_threaded_blas():
            return dask.persist(*arrays)


class _Blocks(NamedTuple):
    """The blocks of rows of a pass's data, as task arguments."""

    X: list
    weights: list
    rows: list[slice]
    mean: Any


class _State(NamedTuple):
    """A pass's state: per block, its task's result (a future, or the value itself)."""

    parts: list


def _blocks(data: PassData) -> _Blocks:
    """``data``'s blocks of rows, each with every feature, and its weights in the same rows.

    Graphs are taken unoptimised: Dask's optimisation fuses ``X``'s tasks
    differently in different graphs, and a scheduler that still knows a key
    warns when it meets it with another task.
    """
    X = data.X.rechunk({1: -1})
    ends = np.cumsum(X.chunks[0])
    rows = [slice(int(end - n), int(end)) for end, n in zip(ends, X.chunks[0], strict=True)]
    weights = [None] * len(rows) if data.weights is None else _row_blocks(data.weights, X)
    return _Blocks(list(X.to_delayed(optimize_graph=False)[:, 0]), weights, rows,
                   _operand(data.mean))


def _row_blocks(v: Array, X: Array) -> list:
    """The blocks of the per-row array ``v`` in ``X``'s rows."""
    return list(v.rechunk((X.chunks[0],)).to_delayed(optimize_graph=False))


def _operand(x: Any) -> Any:
    """A model-sized operand as a task argument: a Dask array becomes the delayed value of its
    one block, which the tasks share (as a Dask array, every task would get its own copy
    of its graph)."""
    if array_api_compat.is_dask_array(x):
        return x.rechunk(x.shape).to_delayed(optimize_graph=False).ravel()[0]
    return x


def _is_lazy(x: Any) -> bool:
    from dask.base import is_dask_collection

    return is_dask_collection(x)


def _value_in_graph(x: Any) -> Any:
    """A Dask array of one block whose graph holds the block itself: that block; else ``x``."""
    if not array_api_compat.is_dask_array(x) or x.npartitions != 1:
        return x
    from dask.core import flatten

    graph = dict(x.__dask_graph__())
    (key,) = flatten(x.__dask_keys__())
    value = graph.get(key)
    return value if len(graph) == 1 and array_api_compat.is_array_api_obj(value) else x


def _client() -> Any:
    """The ``distributed`` client Dask computes with now, or None for a local scheduler."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    from dask.base import get_scheduler

    scheduler = get_scheduler()  # a client, or its ``get`` method
    client = getattr(scheduler, "__self__", scheduler)
    return client if isinstance(client, distributed.Client) else None


def _persisting(X: Array) -> bool:
    """Whether a fit holds ``X`` in memory (:data:`PERSIST_KEY`)."""
    import dask

    choice = dask.config.get(PERSIST_KEY, "auto")
    if choice not in ("auto", True, False):
        raise ValueError(f"Dask's configuration sets {PERSIST_KEY} to {choice!r}; use 'auto', "
                         "True or False.")
    if choice is False:
        return False
    if choice is True:
        return True
    client = _client()
    if client is None:
        return False
    limits = _memory_limits(client)
    return 0 not in limits and PERSIST_HEADROOM * X.nbytes <= sum(limits)


def _memory_limits(client: Any) -> list:
    """The memory limit of every worker of ``client``'s cluster (0 where it has none).

    ``Client.scheduler_info`` lists only the first five workers unless it is asked
    for all of them (``n_workers=-1``) on the versions of ``distributed`` that take
    that argument (since dask/distributed#9045, 2025) until dask/distributed#9308
    (2026) made all the default; earlier versions take no argument and list all.
    """
    info = client.scheduler_info
    everyone = {"n_workers": -1} if "n_workers" in inspect.signature(info).parameters else {}
    return [worker.get("memory_limit") or 0 for worker in info(**everyone)["workers"].values()]


@contextlib.contextmanager
def _connected(client: Any) -> Iterator[None]:
    """A failure in the block while ``client`` (None: a local scheduler) is no longer running
    (closed, or cut off from its scheduler) raised again as a RuntimeError naming the client
    and its status, from the failure (a cancelled future, a missing dependency, a closed
    connection: whichever the fit met first)."""
    if client is None:
        yield
        return
    name = repr(client)
    try:
        yield
    except Exception as exc:
        if client.status == "running":
            raise
        raise RuntimeError(
            f"The Dask client this fit computed with, {name}, was closed or lost its "
            f"scheduler during the fit (its status is now {client.status!r}); the fit is "
            "abandoned. Fit again with a running client.") from exc


def _wait_until_released(client: Any, keys: list, timeout: float = RELEASE_TIMEOUT) -> None:
    """Wait (at most ``timeout`` seconds) until the scheduler knows no worker holding ``keys``."""
    deadline = time.monotonic() + timeout
    while (keys and any(client.sync(client.scheduler.who_has, keys=keys).values())
           and time.monotonic() < deadline):
        time.sleep(RELEASE_POLL)


def _own_copy(X: Array) -> Array:
    """``X`` computed by a copy of its graph whose every key has a fresh suffix.

    Uses Dask's task-spec graph (``dask._task_spec``, Dask 2024.12 on, the version the
    ``dask`` extra asks for): the public ``dask.graph_manipulation.clone`` fails on arrays of
    several layers in Dask 2026.8.
    """
    import dask.array as da
    from dask._task_spec import convert_legacy_graph

    suffix = uuid.uuid4().hex

    def renamed(key: Any) -> Any:
        return (f"{key[0]}-{suffix}", *key[1:]) if isinstance(key, tuple) else f"{key}-{suffix}"

    graph = convert_legacy_graph(dict(X.__dask_graph__()))
    keys = {key: renamed(key) for key in graph}
    copy = {keys[key]: node.substitute(keys, key=keys[key]) for key, node in graph.items()}
    return da.Array(copy, renamed(X.name), X.chunks, meta=X._meta)


def _in_memory(X: Array) -> bool:
    """Whether ``X``'s graph holds nothing but its blocks (it is persisted, or made of arrays)."""
    from dask.core import istask

    graph = dict(X.__dask_graph__())
    return len(graph) == X.npartitions and not any(map(istask, graph.values()))


def _block_tasks(blocks: _Blocks, data: PassData, function: Callable[..., tuple[Any, Any]],
                 state: _State | None, operands: tuple, token: str) -> list:
    """One task per block: ``function`` on the block and the block's state, in the pass
    ``token`` (see :data:`_PASSES`)."""
    import dask

    task = dask.delayed(_run_block, pure=False)
    previous = [None] * len(blocks.rows) if state is None else state.parts
    return [task(token, function, type(data), X, blocks.mean, w, data.chunk_size, rows, part,
                 *operands)
            for X, w, rows, part in zip(blocks.X, blocks.weights, blocks.rows, previous,
                                        strict=True)]


def _evaluate_pass(parts: list, operands: tuple, listed: bool, token: str) -> Pass:
    """The block tasks ``parts`` of the pass ``token`` evaluated in one round trip, with their
    small results added up (or listed) and the delayed operands: the blocks' results stay
    where they are.

    Interrupted (Ctrl-C: KeyboardInterrupt), or failing, the pass is cancelled before the
    exception goes on (:func:`_cancel`): its tasks in this process stop at their next
    chunk, and BLAS has its thread limit back when the caller sees the exception.
    """
    import dask
    from dask.delayed import Delayed

    small = [part[1] for part in parts]
    if listed:
        root = dask.delayed(_listed, pure=False)(*small)
    else:
        add = dask.delayed(_add_up, pure=False)
        while len(small) > 1:
            small = [add(*small[i:i + SPLIT_EVERY]) for i in range(0, len(small), SPLIT_EVERY)]
        root = small[0]
    lazy = [i for i, operand in enumerate(operands) if isinstance(operand, Delayed)]
    handles: list = []
    try:
        handles = _evaluate([*parts, root, *(operands[i] for i in lazy)])
        values = [_value(handle) for handle in handles[len(parts):]]
    except BaseException:
        _cancel(token, handles)
        raise
    evaluated = list(operands)
    for i, value in zip(lazy, values[1:], strict=True):
        evaluated[i] = value
    return Pass(_State(handles[:len(parts)]), values[0], tuple(evaluated))


def _evaluate(graphs: list) -> list:
    """``graphs`` computed in one round trip: futures on a distributed client (the results stay
    on the workers), values on a local scheduler."""
    import dask

    client = _client()
    if client is None:
        with single_threaded_blas():
            return list(dask.compute(*graphs))
    return client.compute(graphs)


def _cancel(token: str, handles: list) -> None:
    """Cancel the pass ``token``: its futures on a distributed cluster are released, and its
    tasks that run in this process (a local scheduler's threads, or a cluster's workers in
    this process) stop at their next chunk; wait (at most :data:`CANCEL_TIMEOUT` seconds)
    until those have stopped, and with them their hold on BLAS's thread limit.

    Released, futures that no one else holds are forgotten by the scheduler, which then
    starts none of their tasks that had not begun. (``Client.cancel`` of the pass's futures,
    which depend on each other, fails an assertion in the scheduler of distributed
    2026.x and disconnects the client.) Tasks already running in other processes cannot
    be reached: they end on their own, and their results are dropped.
    """
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        for handle in handles:
            if isinstance(handle, distributed.Future):
                handle.release()
    _PASSES.cancel(token, CANCEL_TIMEOUT)


def _value(handle: Any) -> Any:
    """A future's result, here; anything else as it is."""
    distributed = sys.modules.get("distributed")
    if distributed is not None and isinstance(handle, distributed.Future):
        return handle.result()
    return handle


# -- cancelling a pass -------------------------------------------------------------------------


class PassCancelled(Exception):
    """Raised in a task of a pass that was cancelled (the caller no longer waits for it)."""


class _RunningPasses:
    """The passes of this process that were cancelled, and how many tasks of each run here.

    A task runs inside :meth:`task`, and calls :meth:`check` as it begins and
    before each chunk: it stops (:class:`PassCancelled`) once its pass is
    cancelled. :meth:`cancel` marks a pass and waits for its running tasks to
    end. Marks are kept (a few dozen bytes per interrupted pass), so that a
    task that a scheduler starts late still finds its pass cancelled.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: collections.Counter[str] = collections.Counter()
        self._cancelled: set[str] = set()
        self._current = threading.local()

    @contextlib.contextmanager
    def task(self, token: str) -> Iterator[None]:
        """Run a task of the pass ``token`` in this thread (:meth:`check` then knows it)."""
        with self._changed:
            self._running[token] += 1
        outer = getattr(self._current, "token", None)
        self._current.token = token
        try:
            yield
        finally:
            self._current.token = outer
            with self._changed:
                self._running[token] -= 1
                if not self._running[token]:
                    del self._running[token]
                    self._changed.notify_all()

    def check(self) -> None:
        """Stop the task that runs in this thread if its pass was cancelled."""
        token = getattr(self._current, "token", None)
        if token is not None and token in self._cancelled:
            raise PassCancelled(token)

    def cancel(self, token: str, timeout: float) -> None:
        """Cancel the pass ``token``; wait at most ``timeout`` seconds for its tasks here."""
        with self._changed:
            self._cancelled.add(token)
            self._changed.wait_for(lambda: not self._running[token], timeout)


#: The passes of this process, for their tasks (see :class:`_RunningPasses`).
_PASSES = _RunningPasses()

#: What a block task of a cancelled pass returns: the state and small result it did not
#: compute. The tasks after it (picks, additions, gathering what was found) pass None on.
CANCELLED = (None, None)


@functools.cache
def _cancellable(data_type: type) -> type:
    """``data_type`` (the generic code's rows of a pass) whose chunks stop the task that reads
    them once its pass is cancelled: a check before each chunk is read."""

    class Cancellable(data_type):
        def chunks(self, n_centres: int, dtype: Any = None) -> Iterator[slice]:
            for chunk in super().chunks(n_centres, dtype):
                _PASSES.check()
                yield chunk

        def centred(self, rows: slice) -> Array:
            _PASSES.check()
            return super().centred(rows)

    Cancellable.__name__ = Cancellable.__qualname__ = f"Cancellable{data_type.__name__}"
    return Cancellable


# -- what the tasks run ------------------------------------------------------------------------


def _run_block(token: str, function: Callable[..., tuple[Any, Any]], data_type: type,
               X: Array, mean: Any, weights: Array | None, chunk_size: int | None,
               rows: slice, previous: Any, *operands: Any) -> tuple[Any, Any] | None:
    """A block pass on one block of the pass ``token``, given the state the block's previous
    task left (Dask runs blocks in parallel, so the block's chunks run one after another on
    one BLAS thread); once the pass is cancelled it stops at a chunk and returns
    :data:`CANCELLED`, for no one (a failed task would be logged as an error by a
    cluster's worker, and so would the tasks after it that failed on its result)."""
    with contextlib.suppress(PassCancelled), _PASSES.task(token):
        _PASSES.check()  # before BLAS is limited: a task that starts late does nothing
        with single_threaded_blas():
            return function(_cancellable(data_type)(X, mean, weights, chunk_size), rows,
                            None if previous is None else previous[0], *operands)
    return CANCELLED


def _searched_block(select: Callable[..., Any], block_pass: Callable[..., tuple[Any, Any]],
                    data: PassData, rows: slice, state: Any, found: tuple,
                    *operands: Any) -> tuple[Any, Any]:
    """``block_pass`` of :meth:`DaskPasses.search`, given what ``select`` reads of the state."""
    return block_pass(data, rows, state, select(data, state), found, *operands)


def _find_in_block(token: str, find: Callable[..., tuple], select: Callable[..., Any],
                   data_type: type, X: Array, mean: Any, weights: Array | None,
                   chunk_size: int | None, rows: slice, previous: Any, values: np.ndarray,
                   offset: Any) -> tuple | None:
    """``find`` on one block of the pass ``token``, its row indices made to index the whole
    of ``X`` (None once the pass is cancelled, as :func:`_run_block`)."""
    with contextlib.suppress(PassCancelled), _PASSES.task(token):
        _PASSES.check()
        with single_threaded_blas():
            data = _cancellable(data_type)(X, mean, weights, chunk_size)
            found = find(data, select(data, previous[0]), values, offset)
            return (found[0] + rows.start, *found[1:])
    return None


def _take_rows(X: Array, indices: np.ndarray) -> Array:
    xp = array_api_compat.array_namespace(X)
    return xp.take(X, xp.asarray(indices, device=array_api_compat.device(X)), axis=0)


def _in_order(positions: list[np.ndarray], parts: list) -> Any:
    """The parts (arrays, or tuples of arrays) found for ``positions``, put together in the
    order of the positions; None if a part is None (its pass was cancelled)."""
    if any(part is None for part in parts):
        return None
    order = np.argsort(np.concatenate(positions), kind="stable")

    def together(arrays: list) -> Array:
        xp = array_api_compat.array_namespace(*arrays)
        return xp.take(xp.concat(arrays), xp.asarray(order), axis=0)

    if isinstance(parts[0], tuple):
        return tuple(together(list(arrays)) for arrays in zip(*parts, strict=True))
    return together(parts)


def _listed(*parts: Any) -> list:
    return list(parts)


def _add_up(*parts: Any) -> Any:
    """The sum of the small results ``parts`` (arrays, or tuples of arrays and Nones); None
    if one is None: a task of a cancelled pass stopped (:data:`CANCELLED`)."""
    if any(part is None for part in parts):
        return None

    def add(a: Any, b: Any) -> Any:
        if not isinstance(a, tuple):
            return a + b
        sums = [None if x is None else x + y for x, y in zip(a, b, strict=True)]
        return type(a)(*sums) if hasattr(a, "_fields") else tuple(sums)

    return functools.reduce(add, parts)


def _rowwise_block(function: Callable[..., Array], data_type: type, chunk_size: int | None,
                   X: Array, weights: Array | None, mean: Array, *operands: Any) -> Array:
    """One task of :meth:`DaskPasses.rowwise`: ``function`` on one block (its chunks one
    after another on one BLAS thread, as Dask runs blocks in parallel)."""
    with single_threaded_blas():
        return function(data_type(X, mean, weights, chunk_size), *operands)


def _checked_block(X: Array, check: Callable[[Array, int], None],
                   block_info: dict | None = None) -> Array:
    """One task of :meth:`DaskPasses.checked`: ``check`` on one block, given where its rows
    start (from Dask's ``block_info``)."""
    check(X, block_info[0]["array-location"][0][0])
    return X


def _state_field(part: tuple[Any, Any], index: int) -> Array:
    return part[0][index]


def _assign_block(eager: Callable[..., Assignment], data_type: type, block: Array,
                  centres: Array, mean: Array, weights: Array | None, chunk_size: int | None,
                  update: bool, exact_inertia: bool, x_sq_norms: Array | None) -> Assignment:
    """One task: ``eager`` on one block, in the block's own library (Dask runs blocks in
    parallel, so the block's chunks run one after another on one BLAS thread)."""
    with single_threaded_blas():
        return eager(data_type(block, mean, weights, chunk_size), centres, update=update,
                     exact_inertia=exact_inertia, x_sq_norms=x_sq_norms)
