"""anykmeans' BisectingKMeans and scikit-learn's, on the same NumPy data and seed.

    python -m benchmarks.bisecting                      # 200k x 32, k = 64 and 512
    python -m benchmarks.bisecting --k 64 --repeats 3 --strategy largest_cluster
    python -m benchmarks.bisecting --threads 1          # both on one thread (a loaded machine)

The data are :class:`benchmarks.problems.Problem`'s blobs (as many blobs as
clusters), in float64 unless ``--dtype float32``. Both estimators run with
scikit-learn's defaults (random seeding, one run per bisection) and the same
``random_state``; fits are interleaved in one process, so a loaded machine
slows both alike, though not equally: scikit-learn's OpenMP threads wait far
longer than anykmeans' pool when other processes hold the cores, so on a loaded
machine ``--threads 1`` (both held at one thread by threadpoolctl) compares them
more fairly. Each estimator first makes one untimed fit of the data (32 clusters,
or as many as the compiled loops need: :func:`warm_up_clusters`): a process's first
fit loads Numba and its compiled loops (``benchmarks.startup`` times that). Each
line gives every fit's wall time, their median ratio and whether the labels agree.
The machine's load (``os.getloadavg``), CPU and BLAS go with the numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

import numpy as np

from .machine import describe
from .problems import custom


def run(args: argparse.Namespace) -> list[dict]:
    """Time both estimators on each ``k``, interleaved, ``args.repeats`` times; with
    ``args.threads``, both held at that many threads (threadpoolctl)."""
    from sklearn.cluster import BisectingKMeans
    from threadpoolctl import threadpool_limits

    import anykmeans

    limits = threadpool_limits(args.threads) if args.threads else contextlib.nullcontext()
    with limits:
        return [_compare(args, k, {"scikit-learn": BisectingKMeans,
                                   "anykmeans": anykmeans.BisectingKMeans})
                for k in args.k]


def warm_up_clusters(n_samples: int, k: int) -> int:
    """Clusters of the untimed first fit: enough that its passes take the compiled loops
    (:data:`anykmeans._libraries._fused.MIN_SCORES` scores over the data) and that it
    bisects clusters too small to share their runs among threads (32 clusters of 200 000
    rows: about 6 000 rows each), so that the loops a timed fit runs are loaded before it
    (at 4 clusters none was: the first timed fit at k = 64 took 1.25 s, the next 0.83); no
    more than ``k``."""
    from anykmeans._libraries._fused import MIN_SCORES

    return min(k, max(32, -(-MIN_SCORES // n_samples)))


def _compare(args: argparse.Namespace, k: int, estimators: dict[str, type]) -> dict:
    """Each of ``estimators`` fitted with ``k`` clusters, interleaved, ``args.repeats`` times."""
    X, _ = custom(args.n, args.d, k).data(seed=0)
    X = X.astype(args.dtype)
    params = dict(n_clusters=k, random_state=0, bisecting_strategy=args.strategy)
    times: dict[str, list[float]] = {name: [] for name in estimators}
    labels = {}
    for cls in estimators.values():  # untimed: a process's first fit loads compiled loops
        cls(**{**params, "n_clusters": warm_up_clusters(len(X), k)}).fit(X)
    for _ in range(args.repeats):
        for name, cls in estimators.items():
            start = time.perf_counter()
            model = cls(**params).fit(X)
            times[name].append(time.perf_counter() - start)
            labels[name] = np.asarray(model.labels_)
    ratio = statistics.median(a / b for a, b in zip(times["anykmeans"], times["scikit-learn"],
                                                     strict=True))
    result = {"n": args.n, "d": args.d, "k": k, "dtype": args.dtype, "strategy": args.strategy,
              "threads": args.threads, "seconds": times, "ratio": ratio,
              "same_labels": bool((labels["anykmeans"] == labels["scikit-learn"]).all()),
              "load": os.getloadavg()}
    print(f"{args.n} x {args.d}, k = {k} ({args.dtype}, {args.strategy}"
          f"{f', {args.threads} thread(s)' if args.threads else ''}): anykmeans "
          f"{', '.join(f'{t:.2f}' for t in times['anykmeans'])} s, scikit-learn "
          f"{', '.join(f'{t:.2f}' for t in times['scikit-learn'])} s; median ratio "
          f"{ratio:.2f}; same labels: {result['same_labels']}; "
          f"load {result['load'][0]:.1f}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--k", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--strategy", choices=["biggest_inertia", "largest_cluster"],
                        default="biggest_inertia")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int,
                        help="hold both at this many threads (threadpoolctl); default: all")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    machine = describe()
    print(f"{machine['cores']} cores, {machine['cpu']}, BLAS: {machine['blas']}, "
          f"NumPy assignment: {machine['numpy_assignment']}", flush=True)
    results = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
