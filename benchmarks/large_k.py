"""Large k: seeding times, k-means||'s quality and a default fit's peak memory.

    python -m benchmarks.large_k                       # this checkout
    python -m benchmarks.large_k --before /tmp/old     # and an older checkout, in the same run

Every case runs in a child process (``python -m benchmarks.large_k --child CASE ...``)
with the checkout under test first on ``PYTHONPATH`` and a time limit, so that a
case that does not finish is reported as such. Cases:

- ``seeding N D K REPEATS DTYPE``: k-means|| and k-means++ seeding as a fit makes them (the
  centred frame, unit weights) and scikit-learn's ``kmeans_plusplus``, the median seconds
  of each over ``REPEATS`` interleaved runs, Gaussian-mixture data of ``DTYPE``
  (``--seeding-dtype``, float64 by default).
- ``plusplus N D K DTYPE REPEATS``: the public ``kmeans_plusplus`` against scikit-learn's,
  interleaved, medians and their ratio, standard normal data of ``DTYPE``.
- ``quality R N K``: the paper's GaussMixture data (Bahmani et al. 2012; d = 15):
  the median over seeds of the final inertia per point after Lloyd from each init.
- ``memory N D K``: the peak extra resident memory of ``KMeans(K, max_iter=2).fit(X)``
  with every default, float64 (Linux's high-water mark, reset after the data is made).

Each timed case first seeds a small problem untimed (Numba's import and compiled loops).
The run ends with a table of the results, the machine and its load before and after;
compare columns of one run only (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CHECKOUT = Path(__file__).resolve().parent.parent


def gauss_mixture(n: int, d: int, k: int, R: float, seed: int) -> np.ndarray:
    """``k`` centres from a ``d``-dim Gaussian of variance ``R``, unit-variance points around."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=np.sqrt(R), size=(k, d))
    return centres[rng.integers(k, size=n)] + rng.standard_normal((n, d))


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _medians(runs: dict, repeats: int) -> dict:
    """The median seconds of each of ``runs`` (callables) over ``repeats`` interleaved runs."""
    sys.path.append(str(CHECKOUT))  # after the checkout under test, which may have its own
    from benchmarks import measure

    timings = measure.interleaved({name: lambda run=run: (run(), 0)[1]
                                   for name, run in runs.items()}, repeats, warmup=False)
    return {name: (timing.error or float(np.median(timing.seconds)))
            for name, timing in timings.items()}


def _seeding(n: int, d: int, k: int, repeats: int = 1, dtype: str = "float64") -> dict:
    from sklearn.cluster import kmeans_plusplus

    from anykmeans._primitives import Data
    from anykmeans._seeding import initial_centres

    X = gauss_mixture(n, d, k, 10.0, 0).astype(dtype)
    data = Data(X, X.mean(axis=0), np.ones(n, dtype=dtype))
    for init in ("k-means||", "k-means++"):
        initial_centres(Data(X[:50_000], data.mean, data.weights[:50_000]), 200, init,
                        np.random.RandomState(0))
    runs = {init: functools.partial(initial_centres, data, k, init, np.random.RandomState(0))
            for init in ("k-means||", "k-means++")}
    runs["sklearn k-means++"] = lambda: kmeans_plusplus(X, k, random_state=0)
    return _medians(runs, repeats)


def _plusplus(n: int, d: int, k: int, dtype: str = "float64", repeats: int = 1) -> dict:
    from sklearn.cluster import kmeans_plusplus

    import anykmeans

    X = np.random.default_rng(0).standard_normal((n, d)).astype(dtype)
    anykmeans.kmeans_plusplus(X[:50_000], 200, random_state=0)
    out = _medians({"anykmeans": lambda: anykmeans.kmeans_plusplus(X, k, random_state=0),
                    "sklearn": lambda: kmeans_plusplus(X, k, random_state=0)}, repeats)
    return {**out, "ratio": out["anykmeans"] / out["sklearn"]}


def _quality(R: float, n: int, k: int, seeds: int = 5) -> dict:
    import anykmeans

    out = {}
    for init in ("k-means||", "k-means++"):
        out[init] = float(np.median([
            anykmeans.KMeans(k, init=init, n_init=1, random_state=seed)
            .fit(gauss_mixture(n, 15, k, R, seed)).inertia_ / n for seed in range(seeds)]))
    out["ratio"] = out["k-means||"] / out["k-means++"]
    return out


def _memory(n: int, d: int, k: int, warm: int = 0) -> dict:
    """The peak a default fit adds; with ``warm``, after a small fit in the same process
    (which compiles NumPy's fused loop where Numba is installed: the first fit of a process
    pays that once)."""
    import anykmeans

    sys.path.append(str(CHECKOUT))  # after the checkout under test, which may have its own
    from benchmarks import memory
    X = np.random.default_rng(0).standard_normal((n, d))
    if warm:
        anykmeans.KMeans(64, max_iter=1, random_state=0).fit(X[:20_000])
    before = memory._start_peak()
    seconds = _timed(lambda: anykmeans.KMeans(k, max_iter=2, random_state=0).fit(X))
    extra = memory._peak() - before
    return {"peak_extra_mb": extra / 2**20, "x_mb": X.nbytes / 2**20,
            "budget_mb": 100 + 0.1 * X.nbytes / 2**20, "seconds": seconds}


CASES = {"seeding": _seeding, "plusplus": _plusplus, "quality": _quality, "memory": _memory}


def run_case(checkout: Path, case: str, args: list, timeout: float) -> dict:
    """``case`` with ``args`` in a child process importing anykmeans from ``checkout``."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    command = [sys.executable, __file__, "--child", case, *map(str, args)]
    try:
        child = subprocess.run(command, capture_output=True, text=True, env=env,
                               timeout=timeout, cwd=checkout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if child.returncode != 0:
        return {"error": (child.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(child.stdout.strip().splitlines()[-1])


def _argument(value: str) -> int | float | str:
    """A case's argument from the command line: a number where it reads as one."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _seconds(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.2f}"


def table(results: list[dict]) -> str:
    """The issue's table (Markdown) of one run's results: ``kmeans_plusplus`` against
    scikit-learn's, the three seedings, and k-means||'s quality against k-means++'s."""
    lines = ["| case | code | anykmeans (s) | scikit-learn (s) | ratio |", "|---|---|---|---|---|"]
    lines += [f"| kmeans_plusplus {r['args'][0]} x {r['args'][1]}, k = {r['args'][2]}, "
              f"{r['args'][3]} | {r['code']} | {_seconds(r.get('anykmeans', r.get('error')))} "
              f"| {_seconds(r.get('sklearn', ''))} | {_seconds(r.get('ratio', ''))} |"
              for r in results if r["case"] == "plusplus"]
    lines += ["", "| seeding n x d, k | code | k-means&#124;&#124; (s) | k-means++ (s) "
              "| scikit-learn k-means++ (s) |", "|---|---|---|---|---|"]
    lines += [f"| {r['args'][0]} x {r['args'][1]}, k = {r['args'][2]}, {r['args'][4]} "
              f"| {r['code']} | "
              + " | ".join(_seconds(r.get(name, r.get("error", "")))
                           for name in ("k-means||", "k-means++", "sklearn k-means++")) + " |"
              for r in results if r["case"] == "seeding"]
    lines += ["", "| quality R (n, k) | code | k-means&#124;&#124; | k-means++ | ratio |",
              "|---|---|---|---|---|"]
    lines += [f"| {r['args'][0]} ({r['args'][1]}, {r['args'][2]}) | {r['code']} | "
              + " | ".join(_seconds(r.get(name, r.get("error", "")))
                           for name in ("k-means||", "k-means++")) + " | "
              + (f"{r['ratio']:.3f}" if "ratio" in r else "") + " |"
              for r in results if r["case"] == "quality"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the cases for each checkout and print one JSON line per result, then the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.large_k")
    parser.add_argument("--before", type=Path, help="an older checkout, measured first")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--ks", nargs="+", type=int, default=[256, 1024, 5000])
    parser.add_argument("--seeding-dtype", choices=("float32", "float64"), default="float64",
                        help="the seeding case's data")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved runs of each timed seeding (medians reported)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        case, *arguments = options.child
        print(json.dumps(CASES[case](*map(_argument, arguments))))
        return 0
    sys.path.append(str(CHECKOUT))
    from benchmarks import machine

    checkouts = ([("before", options.before)] if options.before else []) + [("after", CHECKOUT)]
    repeats = options.repeats
    plan = {"seeding": [(100_000, 32, k, repeats, options.seeding_dtype) for k in options.ks],
            "plusplus": [(200_000, 64, 1024, dtype, repeats)
                         for dtype in ("float32", "float64")],
            "quality": [(R, 10_000, 50) for R in (1.0, 10.0, 100.0)],
            "memory": [(2_000_000, 32, 4096, 0), (2_000_000, 32, 4096, 1)]}
    load_before, results = os.getloadavg(), []
    for case in options.cases:
        for args in plan[case]:
            for label, checkout in checkouts:
                result = run_case(checkout, case, list(args), options.timeout)
                results.append({"case": case, "args": args, "code": label, **result})
                print(json.dumps(results[-1]), flush=True)
    print(f"\n{machine.title(machine.describe())}; load average (1, 5, 15 min) "
          f"{', '.join(f'{v:.1f}' for v in load_before)} before, "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())} after\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
