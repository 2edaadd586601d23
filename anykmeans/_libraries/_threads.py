"""Chunks on a pool of threads, and process-wide thread limits shared by concurrent fits.

Libraries that compute each operation on one core (NumPy), or whose own
threads fight for the cores under load (PyTorch on the CPU), run a pass's
chunks on one pool thread per core while their own threading is held at one
thread. Both the pool and the limits are process-wide; both survive ``fork()``
(a child makes its own pool and forgets the parent's other threads).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_on_pool(function: Callable[[slice], T], chunks: Iterable[slice],
                workers: int) -> Iterator[T]:
    """``function(chunk)`` for every chunk on a pool of ``workers`` threads, yielded in order.

    At most two chunks per thread are in flight, so memory stays bounded by
    the chunk size; results come in chunk order, so that sums over them do
    not depend on the threads.
    """
    pending: deque = deque()
    try:
        for chunk in chunks:
            pending.append(_thread_pool(workers).submit(function, chunk))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


@functools.cache
def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of ``workers`` threads for :func:`run_on_pool`.

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
