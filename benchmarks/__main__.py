"""Time Lloyd iterations of anykmeans on every usable backend and of scikit-learn.

    python -m benchmarks                      # the standard shapes S1-S4, float32
    python -m benchmarks --shape 200000 32 64 --iterations 5 --repeats 3

Every problem runs from the same fixed initial centres for a fixed number of
iterations (``tol=0``), so the timing is per Lloyd iteration and comparable
across implementations. Reported: the median over repeats of ms per iteration,
its ratio to scikit-learn's, and its ratio to the GEMM floor (``2 n k d``
flops at the float32 GEMM rate measured in the same run). Ratios within one run
are the numbers to trust: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

import anykmeans
from anykmeans._backends import backends
from anykmeans._namespace import to_host

SHAPES = {"S1": (1_000_000, 32, 64), "S2": (200_000, 128, 256),
          "S3": (1_000_000, 4, 16), "S4": (100_000, 64, 1024)}


def gemm_rate(dtype=np.float32, size: int = 2048) -> float:
    """Measured GEMM flops per second for square matrices of ``size``."""
    a = np.random.default_rng(0).standard_normal((size, size)).astype(dtype)
    a @ a
    start = time.perf_counter()
    a @ a
    return 2 * size**3 / (time.perf_counter() - start)


def ms_per_iteration(fit, iterations: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        times.append((time.perf_counter() - start) / iterations * 1e3)
    return statistics.median(times)


def run(name: str, shape, iterations: int, repeats: int, libraries, rate: float) -> list[dict]:
    n, d, k = shape
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
    init = X[rng.choice(n, k, replace=False)]
    rows = []
    try:
        from sklearn.cluster import KMeans as SkKMeans

        sk = ms_per_iteration(lambda: SkKMeans(k, init=init, n_init=1, max_iter=iterations,
                                               tol=0).fit(X), iterations, repeats)
        rows.append({"problem": name, "backend": "scikit-learn", "ms_per_iter": sk})
    except ImportError:
        sk = float("nan")
    for backend in backends(libraries):
        if not backend.usable or backend.library == "array_api_strict":
            continue
        data, centres = backend.asarray(X), backend.asarray(init)

        def fit(data=data, centres=centres):
            model = anykmeans.KMeans(k, init=centres, n_init=1, max_iter=iterations, tol=0)
            to_host(model.fit(data).labels_[:1])

        rows.append({"problem": name, "backend": backend.name,
                     "ms_per_iter": ms_per_iteration(fit, iterations, repeats)})
    for row in rows:
        row["vs_sklearn"] = row["ms_per_iter"] / sk
        row["vs_gemm_floor"] = row["ms_per_iter"] / (2 * n * k * d / rate * 1e3)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--shape", nargs=3, type=int, metavar=("N", "D", "K"))
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="*", default=["numpy", "torch", "jax", "cupy"])
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    if args.shape:
        problems = {"custom": tuple(args.shape)}
    else:
        problems = {p: SHAPES[p] for p in args.problems}
    rate = gemm_rate()
    print(f"float32 GEMM: {rate / 1e9:.0f} GF/s")
    results = []
    for name, shape in problems.items():
        results += run(name, shape, args.iterations, args.repeats, tuple(args.backends), rate)
    print(f"{'problem':8} {'backend':14} {'ms/iter':>9} {'vs sklearn':>11} {'vs GEMM floor':>14}")
    for r in results:
        print(f"{r['problem']:8} {r['backend']:14} {r['ms_per_iter']:9.1f} "
              f"{r['vs_sklearn']:11.2f} {r['vs_gemm_floor']:14.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gemm_flops": rate, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
