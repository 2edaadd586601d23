"""Chunks on a pool of threads, and process-wide thread limits shared by concurrent fits:
the service every library's module uses to run a pass's chunks and hold BLAS at one thread.

Libraries that compute each operation on one core (NumPy), or whose own
threads fight for the cores under load (PyTorch on the CPU), run a pass's
chunks on one pool thread per core while their own threading is held at one
thread. Both the pool and the limits are process-wide; both survive ``fork()``
(a child makes its own pool and forgets the parent's other threads).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_chunks(function: Callable[[slice], T], chunks: Iterable[slice],
               workers: int) -> Iterator[T]:
    """``function(chunk)`` for every chunk on up to ``workers`` threads, the calling thread one
    of them, yielded in chunk order.

    The calling thread computes rather than waits: a pass of one chunk per core wakes one
    pool thread fewer, a single chunk none, and no core holds a third thread that evicts the
    others' tiles from its caches. Each thread takes the next chunk not yet taken as it
    comes free, so long as fewer than ``2 workers`` chunks are taken and not yet yielded
    (memory stays bounded by the chunk size); results come in chunk order, so that sums
    over them do not depend on the threads. A pool thread that has not started when the
    chunks run out (no core for it) is not waited for. A chunk's exception stops the taking
    of chunks, and is raised once every thread that took one has stopped; so does closing
    the iterator early.
    """
    chunks = list(chunks)
    if len(chunks) <= 1 or workers <= 1:
        yield from map(function, chunks)
        return
    window = 2 * workers
    done: dict[int, T] = {}  # results not yet yielded, by chunk
    changed = threading.Condition()
    taken = yielded = 0
    stopped = False
    failure: BaseException | None = None

    def take_chunks(helper: bool) -> None:
        """Take and compute chunks until none is left to take; the caller (not ``helper``)
        one chunk at most, and none while the window is full (a helper waits)."""
        nonlocal taken, stopped, failure
        while True:
            with changed:
                while helper and not stopped and taken - yielded >= window:
                    changed.wait()
                if stopped or taken == len(chunks) or taken - yielded >= window:
                    return
                index = taken
                taken += 1
            try:
                result = function(chunks[index])
            except BaseException as error:
                with changed:
                    failure = failure or error
                    stopped = True
                    changed.notify_all()
                return
            with changed:
                done[index] = result
                changed.notify_all()
            if not helper:
                return

    helpers = []
    for _ in range(min(workers, len(chunks)) - 1):
        helpers.append(_thread_pool(workers).submit(take_chunks, True))
    try:
        while yielded < len(chunks):
            with changed:
                ready = yielded in done or failure is not None
                if not ready and (taken == len(chunks) or taken - yielded >= window):
                    changed.wait()  # the next result is a helper's: wait for it
                    continue
            if not ready:
                take_chunks(helper=False)
                continue
            with changed:
                if failure is not None:
                    break
                result = done.pop(yielded)
                yielded += 1
                changed.notify_all()
            yield result
    finally:
        with changed:
            stopped = True
            changed.notify_all()
        for helper in helpers:  # a helper not yet started is not waited for
            if not helper.cancel():
                helper.exception()
    if failure is not None:
        raise failure


@functools.cache
def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of ``workers`` threads for :func:`run_chunks`.

    Made once per process: a child of ``fork()`` inherits the parent's pool
    without its threads, so the child forgets it and makes its own.
    """
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anykmeans")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_thread_pool.cache_clear)


class SharedLimit:
    """A process-wide thread limit held while any caller is inside, from any thread.

    ``with limit(): ...``: the first caller to enter sets the limit, the last
    to leave restores what the first found, however the calls of concurrent
    fits overlap.

    Parameters
    ----------
    impose : callable
        Sets the limit and returns the callable that restores what it found.
    """

    def __init__(self, impose: Callable[[], Callable[[], None]]) -> None:
        self._impose = impose
        self._restore: Callable[[], None] | None = None
        self._forget_users()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget_users)

    def _forget_users(self) -> None:
        """In a child of ``fork()``: the parent's other threads, and any lock they held, are
        gone. A limit they had set stays (with what it found) until the child's own last
        caller leaves."""
        self.lock = threading.Lock()
        self._users = 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if self._restore is None:
                self._restore = self._impose()
            self._users += 1
        try:
            yield
        finally:
            with self.lock:
                self._users -= 1
                if self._users == 0:
                    self._restore()
                    self._restore = None


# -- BLAS's threads -----------------------------------------------------------------------


def workers_for(X: Any) -> int:
    """Threads for the chunks of a pass over ``X`` (see :meth:`NumPy.map_chunks`).

    The usable cores, but no more than BLAS may use now: a caller's
    ``threadpoolctl.threadpool_limits(n)``, or ``OMP_NUM_THREADS`` /
    ``OPENBLAS_NUM_THREADS`` read by BLAS when it loaded, limit our threads as
    they limit BLAS's (as scikit-learn honours them). Inside a Dask task, whose
    BLAS runs one thread, a block's chunks run one after another.
    """
    if X.shape[0] == 0 or not can_limit_blas():
        return 1
    blas = [library.num_threads
            for library in _blas_controller().select(user_api="blas").lib_controllers]
    return max(1, min(usable_cores(), *blas))


@functools.cache
def can_limit_blas() -> bool:
    """Whether BLAS's thread count can be limited (``threadpoolctl`` is installed)."""
    return importlib.util.find_spec("threadpoolctl") is not None


def _blas_at_one_thread():
    """Set BLAS to one thread; return what puts back the limits found.

    BLAS's idle threads spin on the cores that the other chunks need: with a
    thread per core already busy, one BLAS thread per chunk is faster, as
    scikit-learn's Lloyd loop also does.
    """
    limiter = _blas_controller().limit(limits=1, user_api="blas")
    _release_blas_control()

    def restore() -> None:
        limiter.restore_original_limits()
        _release_blas_control()

    return restore


def _release_blas_control() -> None:
    """Let any thread set OpenBLAS's process-wide limit next, so that another can restore it.

    From threadpoolctl 3.8, only the thread that set it may change it until it lets go.
    """
    import threadpoolctl

    release = getattr(threadpoolctl.OpenBLASController, "clear_controlling_thread", None)
    if release is not None:
        release()


_blas_limit = SharedLimit(_blas_at_one_thread)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread while our own threads (or Dask's) run chunks in parallel.

    Calls may overlap, in any threads (concurrent fits): the first to begin
    sets the limit, and the last to end restores the limits the first found.
    Without ``threadpoolctl`` nothing changes.
    """
    if not can_limit_blas():
        yield
        return
    with _blas_limit():
        yield


#: The chunk threads of the fit the calling thread runs (its ``workers``, an int), set by
#: :func:`held_for_fit` while the fit lasts; no ``workers`` outside a fit.
fit_threads = threading.local()


@contextlib.contextmanager
def held_for_fit(value: T, workers: int) -> Iterator[T]:
    """``value``, while the fit in the calling thread runs its passes' chunks on ``workers``
    threads (kept in :data:`fit_threads`) and, where they are several, BLAS at one thread
    (:func:`single_threaded_blas`), entered once for the whole fit rather than per pass.

    ``workers`` is counted before BLAS is held (:func:`workers_for` reads BLAS's limit).
    A fit inside another (in the same thread) keeps the outer one's.
    """
    if getattr(fit_threads, "workers", None) is not None:
        yield value
        return
    fit_threads.workers = workers
    try:
        with single_threaded_blas() if workers > 1 else contextlib.nullcontext():
            yield value
    finally:
        del fit_threads.workers


@functools.cache
def _blas_controller():
    """threadpoolctl's view of the BLAS libraries loaded, imported and made on first use.

    Importing threadpoolctl sets ``KMP_DUPLICATE_LIB_OK`` (so that several OpenMP runtimes
    may load); anykmeans changes no environment variable, so it is put back as it was.
    Making the controller reads ``/proc/self/maps`` on Linux, where threadpoolctl finds the
    loaded libraries (docs/guarantees.md).
    """
    previous = os.environ.get("KMP_DUPLICATE_LIB_OK")
    from threadpoolctl import ThreadpoolController

    if previous is None:
        os.environ.pop("KMP_DUPLICATE_LIB_OK", None)
    else:
        os.environ["KMP_DUPLICATE_LIB_OK"] = previous
    return ThreadpoolController()
