"""Timing: the GEMM and memory read rates, and interleaved repeats of fits that count iterations."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np


def gemm_rate(size: int = 2048, repeats: int = 5, budget: float = 1.0) -> float:
    """Float32 GEMM rate in flops per second: the best of up to ``repeats`` square products.

    NumPy's BLAS runs with all its threads (measure this before any fit that
    might limit them). One product before the timed ones warms the caches and
    the thread pool; timing stops after two products once ``budget`` seconds
    are spent (a 2048-square product takes about 50 ms on an idle 2-core machine).
    """
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    out = a @ a
    times: list[float] = []
    while len(times) < repeats and (len(times) < 2 or sum(times) < budget):
        start = time.perf_counter()
        np.matmul(a, a, out=out)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times)


def read_rate(size: int = 1 << 28, repeats: int = 5, budget: float = 1.0) -> float:
    """Rate in bytes per second at which the machine's cores read memory together.

    One float32 array of ``size`` bytes (far beyond the caches) summed in as
    many parts as there are usable cores, each on its own thread (NumPy's sums
    release the GIL): as a pass over ``X`` reads it. The best of up to
    ``repeats`` reads, after one untimed one; timing stops after two once
    ``budget`` seconds are spent.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    parts = np.array_split(np.ones(size // 4, dtype=np.float32), cores)
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(np.sum, parts))
        times: list[float] = []
        while len(times) < repeats and (len(times) < 2 or sum(times) < budget):
            start = time.perf_counter()
            list(pool.map(np.sum, parts))
            times.append(time.perf_counter() - start)
    return size / min(times)


@dataclass
class Timing:
    """The timed runs of one implementation on one problem.

    Attributes
    ----------
    seconds : list of float
        Wall time of each run.
    iterations : list of int
        Lloyd iterations each run reported.
    error : str or None
        Why the implementation failed, if it did (its runs are then dropped).
    """

    seconds: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def median_seconds(self) -> float:
        """Median wall time of a run (NaN without runs)."""
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def median_ms_per_iteration(self) -> float:
        """Median over runs of each run's time divided by the iterations it ran."""
        if not self.seconds:
            return float("nan")
        return statistics.median(s / max(i, 1) * 1e3
                                 for s, i in zip(self.seconds, self.iterations, strict=True))


def interleaved(runs: Mapping[str, Callable[[], int]], repeats: int,
                warmup: bool = True) -> dict[str, Timing]:
    """Time every run ``repeats`` times, round-robin, so noise hits them all alike.

    Parameters
    ----------
    runs : mapping of name to callable
        Each call runs one fit and returns the Lloyd iterations it ran.
    repeats : int
        Timed calls of each run.
    warmup : bool
        Call each run once, untimed, first (compilation, thread pools, caches).

    Returns
    -------
    dict of name to Timing
        An exception in a run is caught and recorded as that run's ``error``;
        the others go on.
    """
    timings = {name: Timing() for name in runs}
    order = list(runs)
    rounds = ([None] if warmup else []) + list(range(repeats))
    for round_ in rounds:
        for name in order:
            timing = timings[name]
            if timing.error is not None:
                continue
            try:
                start = time.perf_counter()
                iterations = runs[name]()
                elapsed = time.perf_counter() - start
            except Exception as exc:  # any library's failure: report it, time the others
                timing.error = f"{type(exc).__name__}: {exc}"
                timing.seconds.clear()
                timing.iterations.clear()
                continue
            if round_ is not None:
                timing.seconds.append(elapsed)
                timing.iterations.append(iterations)
        order = order[1:] + order[:1]  # a different one goes first each round
    return timings
