"""anykmeans' MiniBatchKMeans and scikit-learn's on the same data and settings.

    python -m benchmarks.minibatch                       # S1: 1M x 32, k = 64
    python -m benchmarks.minibatch --problem S3 --repeats 3 --backends numpy torch

Both estimators run with scikit-learn's defaults (batch_size=1024, max_iter=100,
k-means++ seeding on init_size rows, early stopping) and the same random_state,
once with ``fit`` on the whole array and once with ``partial_fit`` over chunks of
``--chunk`` rows (one pass, as a stream would come). Runs are interleaved; each
line gives the median wall time, the steps taken and the inertia of the final
centres on the whole data (one definition for all, by brute force in float64),
so quality is compared as well as speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from .problems import STANDARD


def _fitters(backends: list[str]) -> dict:
    """Name -> (estimator class, array conversion) for everything that can run here."""
    import anykmeans
    from anykmeans._backends import backends as probe

    found = {}
    for backend in probe(tuple(backends)):
        if backend.usable and backend.name in backends:
            found[f"anykmeans {backend.name}"] = (anykmeans.MiniBatchKMeans, backend.asarray)
    try:
        from sklearn.cluster import MiniBatchKMeans
    except ImportError as exc:
        print(f"scikit-learn not available ({exc})", file=sys.stderr)
    else:
        found["scikit-learn"] = (MiniBatchKMeans, np.asarray)
    return found


def _inertia(X: np.ndarray, centres: np.ndarray, rows: int = 4096) -> float:
    """Inertia of ``centres`` on ``X`` in float64, by brute force: one measure for all."""
    centres = centres.astype(np.float64)
    total = 0.0
    for start in range(0, len(X), rows):
        x = X[start:start + rows].astype(np.float64)
        sq = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        total += float(sq.min(axis=1).sum())
    return total


def run(args: argparse.Namespace) -> dict:
    """Time ``fit`` and a one-pass ``partial_fit`` stream of every implementation."""
    from anykmeans._namespace import to_host

    problem = next(p for p in STANDARD if p.name == args.problem)
    X, _ = problem.data()
    fitters = _fitters(args.backends)
    times = {(name, mode): [] for name in fitters for mode in ("fit", "partial_fit")}
    outcome = {}
    for repeat in range(args.repeats + 1):
        for name, (cls, convert) in fitters.items():
            data = convert(X)
            chunks = [convert(X[s:s + args.chunk]) for s in range(0, problem.n, args.chunk)]
            for mode in ("fit", "partial_fit"):
                model = cls(problem.k, random_state=args.seed)
                start = time.perf_counter()
                if mode == "fit":
                    model.fit(data)
                else:
                    for chunk in chunks:
                        model.partial_fit(chunk)
                centres = np.asarray(to_host(model.cluster_centers_))
                seconds = time.perf_counter() - start
                if repeat:  # the first round warms up (JAX compiles, caches fill)
                    times[name, mode].append(seconds)
                outcome[name, mode] = (centres, int(model.n_steps_))
    results = {}
    for (name, mode), (centres, steps) in outcome.items():
        results[f"{name} {mode}"] = {
            "seconds": statistics.median(times[name, mode]), "steps": steps,
            "inertia_per_point": _inertia(X, centres) / problem.n}
    return {"problem": {"name": problem.name, "n": problem.n, "d": problem.d, "k": problem.k,
                        "chunk": args.chunk}, "results": results}


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.minibatch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="S1", choices=[p.name for p in STANDARD])
    parser.add_argument("--backends", nargs="+", default=["numpy", "torch"])
    parser.add_argument("--chunk", type=int, default=100_000, help="rows per partial_fit call")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print one line per implementation and mode."""
    args = build_parser().parse_args(argv)
    results = run(args)
    print(json.dumps(results["problem"]))
    print(f"{'implementation':<28} {'seconds':>9} {'steps':>6} {'inertia/point':>14}")
    for name, row in results["results"].items():
        print(f"{name:<28} {row['seconds']:>9.2f} {row['steps']:>6} "
              f"{row['inertia_per_point']:>14.4f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
