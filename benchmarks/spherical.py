"""Spherical (cosine) k-means: anykmeans' ``metric="cosine"`` against faiss-cpu's
``Kmeans(spherical=True)``, per Lloyd iteration.

    python -m benchmarks.spherical                          # 200 000 x 384, k = 256
    python -m benchmarks.spherical --shape 50000 128 64 --repeats 2
    python -m benchmarks.spherical --threads 1             # both on one thread

The data are float32 unit vectors around ``k`` random directions (embeddings
normalised as FAISS's users normalise them). Both start from the same ``k`` rows
and run ``--iterations`` iterations (``tol=0``), timed in one process with their
repeats interleaved: faiss-cpu on every point (no subsampling) with its OpenMP
threads, anykmeans on NumPy with its defaults (one pool thread per core); ``--threads N``
holds both at ``N`` threads (faiss's OpenMP threads, threadpoolctl's limit that anykmeans
honours): on a loaded machine OpenMP's threads wait for each other at every barrier, which
one thread each leaves out of the comparison. anykmeans' fit also normalises the
rows (a copy), centres them and relabels once at the end, which faiss does not:
so each one also runs ``2 * iterations``, and the difference of the two times per
extra iteration is reported beside the plain time per iteration. anykmeans' Euclidean fit
of the same rows is timed too: what the cosine metric adds to the passes they share. The machine's
load (``os.getloadavg``) before and after, its CPU and BLAS are printed with the
numbers, and the floor: an iteration's matrix product (``2 n k d`` flops) at the float32
GEMM rate measured in the same run, on the same threads. A loaded machine's ratios are the
numbers to read, not its times.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time

import numpy as np

from .machine import describe
from .measure import gemm_rate
from .peers import faiss_lloyd


def unit_directions(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """``n`` float32 unit rows around ``k`` random directions (noise of the directions' size)."""
    rng = np.random.default_rng(seed)
    axes = rng.standard_normal((k, d), dtype=np.float32)
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    X = rng.standard_normal((n, d), dtype=np.float32) / np.float32(np.sqrt(d))
    X += axes[rng.integers(k, size=n)]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def anykmeans_lloyd(metric: str):
    """A driver of anykmeans' ``KMeans`` with ``metric`` from ``centres`` for ``iterations``
    (``tol=0``), as :mod:`benchmarks.peers`' drivers."""
    import anykmeans

    def prepare(X: np.ndarray, centres: np.ndarray, iterations: int):
        def run() -> int:
            model = anykmeans.KMeans(len(centres), init=centres, metric=metric,
                                     max_iter=iterations, tol=0)
            return int(model.fit(X).n_iter_)

        return run

    return prepare


#: What is timed: anykmeans' cosine fit, faiss's spherical one, and anykmeans' Euclidean fit
#: of the same unit rows (what the cosine metric adds to the passes it shares).
DRIVERS = {
    "anykmeans": anykmeans_lloyd("cosine"),
    "faiss": lambda X, c, i: faiss_lloyd(X, c, i, spherical=True),
    "euclidean": anykmeans_lloyd("euclidean"),
}


def threads_held(threads: int | None) -> contextlib.AbstractContextManager:
    """faiss's OpenMP threads and threadpoolctl's limit (which anykmeans' pool honours) at
    ``threads`` while the block lasts; nothing held when None."""
    if threads is None:
        return contextlib.nullcontext()
    import faiss
    from threadpoolctl import threadpool_limits

    stack = contextlib.ExitStack()
    stack.enter_context(threadpool_limits(threads))
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    stack.callback(faiss.omp_set_num_threads, previous)
    return stack


def measure(n: int, d: int, k: int, iterations: int, repeats: int,
            threads: int | None = None) -> dict:
    """Seconds of every run of both, at ``iterations`` and ``2 * iterations``, interleaved,
    on ``threads`` threads each (None: each library's default)."""
    X = unit_directions(n, d, k)
    centres = X[np.random.default_rng(1).choice(n, k, replace=False)]
    runs = {(name, its): make(X, centres, its)
            for its in (iterations, 2 * iterations)
            for name, make in DRIVERS.items()}
    seconds: dict = {key: [] for key in runs}
    ran: dict = {}
    with threads_held(threads):
        runs[("anykmeans", iterations)]()  # warm-up: Numba's compilation,
        runs[("faiss", iterations)]()  # faiss's thread pool
        load_before = os.getloadavg()
        flops = gemm_rate()
        for _ in range(repeats):
            for key, run in runs.items():
                start = time.perf_counter()
                ran[key] = run()
                seconds[key].append(time.perf_counter() - start)
        load_after = os.getloadavg()
    result = {"shape": [n, d, k], "iterations": iterations, "repeats": repeats,
              "threads": threads, "gemm_floor_ms": 2 * n * k * d / flops * 1e3,
              "load_before": load_before, "load_after": load_after, "machine": describe(),
              "seconds": {f"{name} {its}": s for (name, its), s in seconds.items()},
              "ran": {f"{name} {its}": r for (name, its), r in ran.items()}}
    for name in DRIVERS:
        short = statistics.median(seconds[(name, iterations)])
        long = statistics.median(seconds[(name, 2 * iterations)])
        result[name] = {"ms_per_iteration": short / ran[(name, iterations)] * 1e3,
                        "ms_per_extra_iteration": (long - short) / (
                            ran[(name, 2 * iterations)] - ran[(name, iterations)]) * 1e3}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spherical",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", nargs=3, type=int, default=[200_000, 384, 256],
                        metavar=("N", "D", "K"))
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="threads of each (default: their own)")
    parser.add_argument("--json", help="also write the measurements to this file")
    args = parser.parse_args(argv)
    result = measure(*args.shape, args.iterations, args.repeats, args.threads)
    machine = result["machine"]
    print(f"{machine['cores']} cores, {machine['cpu']}; BLAS: {machine['blas']}; "
          f"NumPy assignment: {machine['numpy_assignment']}")
    print(f"load average (1, 5, 15 min) before {result['load_before']}, "
          f"after {result['load_after']}")
    n, d, k = result["shape"]
    print(f"{n} x {d} float32 unit vectors, k = {k}, {args.iterations} and "
          f"{2 * args.iterations} iterations, median of {args.repeats}, "
          f"{'default threads' if args.threads is None else f'{args.threads} thread(s) each'}")
    for name in DRIVERS:
        r = result[name]
        print(f"  {name:10s} {r['ms_per_iteration']:8.1f} ms/iteration, "
              f"{r['ms_per_extra_iteration']:8.1f} ms per extra iteration")
    print(f"  GEMM floor {result['gemm_floor_ms']:8.1f} ms/iteration")
    ours, theirs = result["anykmeans"], result["faiss"]
    print(f"  anykmeans / faiss: {ours['ms_per_iteration'] / theirs['ms_per_iteration']:.2f} "
          f"per iteration, {ours['ms_per_extra_iteration'] / theirs['ms_per_extra_iteration']:.2f}"
          " per extra iteration")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
