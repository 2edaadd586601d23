"""Processes and threads: fits in forked children, concurrent fits, the environment left alone.

1. A fit in a child made by ``fork()`` works after the parent has fitted: on
   NumPy, the parent's chunk thread pool is not inherited without its threads.
2. Fits running concurrently in several threads leave BLAS's thread limit as
   they found it, whatever order they start and end in.
3. The first NumPy fit (which imports ``threadpoolctl``) leaves ``os.environ``
   as it was.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import anykmeans
from anykmeans._libraries import _numpy, _threads
from anykmeans._libraries._threads import single_threaded_blas
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

#: Libraries (or backends) that cannot fit in a forked child, for reasons of their own.
NOT_AFTER_FORK = {
    "jax": "JAX is multithreaded and does not support fork()",
    "dask": "Dask's threaded scheduler keeps a thread pool of its own, which a forked child "
            "inherits without its threads",
    "cupy": "CUDA cannot be used in a child forked after the parent used it",
    "torch:cuda": "CUDA cannot be used in a child forked after the parent used it",
}


def not_after_fork(backend) -> str | None:
    """Why ``backend`` cannot fit in a forked child, or None."""
    return NOT_AFTER_FORK.get(backend.name) or NOT_AFTER_FORK.get(backend.library)


@fork_only
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")  # JAX's
def test_fit_in_a_forked_child_after_a_fit_in_the_parent(xp, monkeypatch):
    """The parent fits (NumPy: on its chunk thread pool), then a forked child fits: same labels."""
    if not_after_fork(xp.backend):
        pytest.skip(not_after_fork(xp.backend))
    X = xp.asarray(blobs(1000, 3, 4, seed=2))
    numpy = xp.backend.library == "numpy"
    if numpy and _threads.workers_for(X) < 2:  # a single core, or no threadpoolctl
        monkeypatch.setattr(_numpy, "workers_for", lambda X: 2)
    expected = fit_labels(X)
    if numpy:
        assert _threads._thread_pool.cache_info().currsize > 0, "the parent used no pool"
    np.testing.assert_array_equal(in_forked_child(fit_labels, X), expected)


def blas_threads() -> list[int]:
    """BLAS's thread limit, for every BLAS library loaded, as ``threadpoolctl`` reports it."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return [info["num_threads"] for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"]


def skip_unless_blas_threads_can_be_seen() -> list[int]:
    before = blas_threads()
    if not before or all(n == 1 for n in before):
        pytest.skip("no BLAS library with more than one thread: a limit of 1 cannot be seen")
    return before


class BlasUser(threading.Thread):
    """A thread inside ``single_threaded_blas()`` from ``entered`` until ``leave`` is set.

    The thread stays alive until ``finish`` is set, so that a thread which set
    a limit is still running when another one restores it.
    """

    def __init__(self, finish: threading.Event):
        super().__init__(daemon=True)
        self.entered, self.leave, self.left = (threading.Event() for _ in range(3))
        self.finish = finish

    def run(self) -> None:
        with single_threaded_blas():
            self.entered.set()
            self.leave.wait(TIMEOUT)
        self.left.set()
        self.finish.wait(TIMEOUT)


def wait(event: threading.Event) -> None:
    assert event.wait(TIMEOUT), f"a thread did not get there in {TIMEOUT} s"


@pytest.mark.parametrize("first_out", ["first in", "last in"])
def test_overlapping_single_threaded_blas_restores_the_limit_it_found(first_out):
    """A enters, B enters, A or B exits first: BLAS is at 1 until both are out, then restored."""
    before = skip_unless_blas_threads_can_be_seen()
    finish = threading.Event()
    a, b = BlasUser(finish), BlasUser(finish)
    try:
        a.start()
        wait(a.entered)
        assert blas_threads() == [1] * len(before)
        b.start()
        wait(b.entered)
        out_first, out_last = (a, b) if first_out == "first in" else (b, a)
        out_first.leave.set()
        wait(out_first.left)
        assert blas_threads() == [1] * len(before), "BLAS unlimited while a user is inside"
        out_last.leave.set()
        wait(out_last.left)
        assert blas_threads() == before
    finally:
        for thread in (a, b):
            thread.leave.set()
        finish.set()
        a.join(TIMEOUT)
        b.join(TIMEOUT)
    assert blas_threads() == before


def _limit_blas_and_look() -> tuple[list[int], list[int]]:
    """BLAS's thread limits inside ``single_threaded_blas()`` and after it."""
    with single_threaded_blas():
        inside = blas_threads()
    return inside, blas_threads()


@fork_only
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")  # JAX's
def test_a_child_forked_while_blas_is_limited_restores_the_limits_found():
    """Forked while another thread limits BLAS, and with the lock held: the child's own limit
    ends with BLAS as the parent's thread found it."""
    before = skip_unless_blas_threads_can_be_seen()
    finish = threading.Event()
    user = BlasUser(finish)
    user.start()
    try:
        wait(user.entered)
        with _threads._blas_limit.lock:  # held by the parent at the moment it forks
            inside, after = in_forked_child(_limit_blas_and_look)
    finally:
        user.leave.set()
        finish.set()
        user.join(TIMEOUT)
    assert inside == [1] * len(before)
    assert after == before
    assert blas_threads() == before


def test_a_numpy_fit_limits_blas_once_for_all_its_passes(monkeypatch):
    """BLAS is held at one thread when a fit begins and put back when it ends, not at every
    pass: one limit for two restarts of several iterations, one thread between passes."""
    before = skip_unless_blas_threads_can_be_seen()
    X = blobs(3000, 4, 5, seed=1)
    if _threads.workers_for(X) < 2:
        pytest.skip("a single core: NumPy chunks run serially, BLAS is not limited")
    limits = []
    impose = _threads._blas_limit._impose
    monkeypatch.setattr(_threads._blas_limit, "_impose", lambda: limits.append(1) or impose())
    between = []
    model = anykmeans.KMeans(5, random_state=0, n_init=2, chunk_size=100).fit(
        X, on_iteration=lambda *_: between.append(blas_threads()))
    assert limits == [1]
    assert len(between) > 2 and all(threads == [1] * len(before) for threads in between)
    assert blas_threads() == before
    np.testing.assert_array_equal(model.predict(X), model.labels_)  # a pass outside a fit
    assert limits == [1, 1] and blas_threads() == before


def test_concurrent_fits_in_threads_leave_the_blas_limit_as_they_found_it(xp):
    """Three threads fit at once, started together, staggered by 0, 1 and 2 shorter fits."""
    before = blas_threads()
    X = xp.asarray(blobs(1000, 4, 5, seed=7))
    expected = fit_labels(X)
    barrier = threading.Barrier(3, timeout=TIMEOUT)
    results: list = []

    def fits(shorter_fits: int) -> None:
        barrier.wait()
        for _ in range(shorter_fits):
            fit_labels(X[:300, :])
        results.append(fit_labels(X))

    threads = [threading.Thread(target=fits, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert len(results) == 3, "a fit failed or did not finish"
    for labels in results:
        np.testing.assert_array_equal(labels, expected)
    assert blas_threads() == before


ROOT = Path(__file__).resolve().parents[1]

#: Fits on NumPy in a fresh interpreter (where ``threadpoolctl`` is not yet imported), then
#: reports the variable that importing ``threadpoolctl`` sets and whether it was imported.
FIRST_FIT = """
import json, os, sys
import numpy as np
import anykmeans
assert "threadpoolctl" not in sys.modules
anykmeans.KMeans(3, random_state=0).fit(np.random.default_rng(0).normal(size=(500, 2)))
print(json.dumps([os.environ.get("KMP_DUPLICATE_LIB_OK"), "threadpoolctl" in sys.modules]))
"""


@pytest.mark.parametrize("previous", [None, "FALSE"], ids=["absent", "set"])
def test_the_first_numpy_fit_leaves_the_environment_as_it_was(previous):
    pytest.importorskip("threadpoolctl")
    env = {k: v for k, v in os.environ.items() if k != "KMP_DUPLICATE_LIB_OK"}
    if previous is not None:
        env["KMP_DUPLICATE_LIB_OK"] = previous
    run = subprocess.run([sys.executable, "-c", FIRST_FIT], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=TIMEOUT, check=True)
    value, imported = json.loads(run.stdout.splitlines()[-1])
    if not imported:
        pytest.skip("this fit did not use threadpoolctl (a single core)")
    assert value == previous


def test_numpy_chunk_threads_follow_the_callers_thread_limits(monkeypatch):
    """``threadpool_limits(1)`` and ``OMP_NUM_THREADS=1`` keep our chunks on one thread too."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X = blobs(3000, 4, 5, seed=1)
    if _threads.workers_for(X) < 2:
        pytest.skip("a single core: NumPy chunks run serially anyway")

    def no_pool(workers):
        raise AssertionError(f"a pool of {workers} threads was asked for")

    monkeypatch.setattr(_threads, "_thread_pool", no_pool)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        limited = anykmeans.KMeans(5, random_state=0, chunk_size=100).fit(X)
    monkeypatch.undo()
    np.testing.assert_array_equal(
        limited.labels_, anykmeans.KMeans(5, random_state=0, chunk_size=100).fit(X).labels_)
    code = ("import numpy as np\nfrom anykmeans._libraries._threads import workers_for\n"
            "print(workers_for(np.zeros((10, 2))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120, check=True)
    assert out.stdout.strip() == "1"


def test_torch_cpu_chunks_on_the_pool_give_the_one_thread_answer_bit_for_bit(monkeypatch):
    """The CPU plan runs torch chunks on the pool, one torch thread each; the caller's own
    thread count is one while the fit runs and put back after, and the answer is the serial
    one-thread answer exactly."""
    torch = pytest.importorskip("torch")
    from anykmeans._libraries._threads import usable_cores

    if min(usable_cores(), torch.get_num_threads()) < 2:
        pytest.skip("one core or one torch thread: torch chunks run serially anyway")
    X = torch.asarray(blobs(5000, 6, 9, seed=3).astype(np.float32))
    w = torch.asarray(np.random.default_rng(3).uniform(0.5, 2.0, 5000).astype(np.float32))
    threads = torch.get_num_threads()
    used = set()
    real = _threads.run_chunks

    def recording(function, chunks, workers):
        used.add(workers)
        return real(function, chunks, workers)

    monkeypatch.setattr("anykmeans._libraries._torch.run_chunks", recording)
    during = set()  # the calling thread's count between passes: one (no OpenMP threads
    # spinning on the cores the next pass needs), while the pool keeps the caller's size
    pooled = anykmeans.KMeans(9, random_state=0, chunk_size=97).fit(
        X, sample_weight=w, on_iteration=lambda *_: during.add(torch.get_num_threads()))
    assert used == {min(usable_cores(), threads)}
    assert during == {1}
    assert torch.get_num_threads() == threads
    torch.set_num_threads(1)
    try:
        serial = anykmeans.KMeans(9, random_state=0, chunk_size=97).fit(X, sample_weight=w)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(pooled.labels_, serial.labels_)
    assert torch.equal(pooled.cluster_centers_, serial.cluster_centers_)
    assert pooled.inertia_ == serial.inertia_
