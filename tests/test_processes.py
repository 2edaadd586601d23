"""Processes and threads: fits in forked children.

1. A fit in a child made by ``fork()`` works after the parent has fitted: on
   NumPy, the parent's chunk thread pool is not inherited without its threads.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

import numpy as np
import pytest

import anykmeans
from anykmeans import _primitives
from tests.conftest import host
from tests.data import blobs

#: Seconds a child process or a thread gets before the test calls it hung.
TIMEOUT = 60


def fit_labels(X) -> np.ndarray:
    return host(anykmeans.KMeans(4, random_state=0, chunk_size=100).fit(X).labels_)


def in_forked_child(function: Callable, *args):
    """``function(*args)`` run in a child made by ``fork()``; fails if the child hangs."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_send, args=(sender, function, *args))
    child.start()
    try:
        answered = receiver.poll(TIMEOUT)
        if answered:
            result = receiver.recv()
            child.join(TIMEOUT)
    finally:
        if child.is_alive():
            child.kill()
            child.join()
    assert answered, f"the forked child did not answer in {TIMEOUT} s"
    assert child.exitcode == 0
    return result


def _send(connection, function: Callable, *args) -> None:
    connection.send(function(*args))
    connection.close()


fork_only = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                               reason="no fork()")

#: Libraries that cannot fit in a forked child, for reasons of their own.
NOT_AFTER_FORK = {
    "jax": "JAX is multithreaded and does not support fork()",
    "dask": "Dask's threaded scheduler keeps a thread pool of its own, which a forked child "
            "inherits without its threads",
    "cupy": "CUDA cannot be used in a child forked after the parent used it",
}


@fork_only
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")  # JAX's
def test_fit_in_a_forked_child_after_a_fit_in_the_parent(xp, monkeypatch):
    """The parent fits (NumPy: on its chunk thread pool), then a forked child fits: same labels."""
    if xp.backend.library in NOT_AFTER_FORK:
        pytest.skip(NOT_AFTER_FORK[xp.backend.library])
    X = xp.asarray(blobs(1000, 3, 4, seed=2))
    numpy = xp.backend.library == "numpy"
    if numpy and _primitives._numpy_workers(X) < 2:  # a single core, or no threadpoolctl
        monkeypatch.setattr(_primitives, "_numpy_workers", lambda X: 2)
    expected = fit_labels(X)
    if numpy:
        assert _primitives._thread_pool.cache_info().currsize > 0, "the parent used no pool"
    np.testing.assert_array_equal(in_forked_child(fit_labels, X), expected)
