"""anykmeans and dask-ml's KMeans on the same dask.distributed LocalCluster and data.

    python -m benchmarks.distributed                               # 400k x 16, k=32
    python -m benchmarks.distributed --rows 2000000 --blocks 40 --clusters 64 --repeats 3
    python -m benchmarks.distributed --scheduler tcp://scheduler:8786   # an existing cluster

The data is a mixture of unit-variance blobs generated lazily, block by block,
on the workers (no process ever holds all of it). Both libraries fit it with
k-means|| seeding and their defaults otherwise (max_iter=300, tol=1e-4), from
the same random_state; the runs are interleaved and each reported as the median
wall time of a fit, the inertia it reports (per point), and its iterations.
A first, untimed fit of each warms the workers up.

dask-ml is optional: ``pip install dask-ml`` (it brings pandas, pyarrow and
numba). Install it in a separate environment from the one the tests run in:
with pandas importable, scikit-learn's ``check_estimator`` runs its DataFrame
checks, which anykmeans' estimators do not claim to pass.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def lazy_blobs(rows: int, blocks: int, features: int, centres: int):
    """A dask array of ``rows`` points around ``centres`` blobs, each block made by its task."""
    import dask.array as da
    import numpy as np

    block_rows = [rows // blocks + (i < rows % blocks) for i in range(blocks)]

    def make(block_id=None, block_info=None):
        rng = np.random.default_rng(1000 + block_id[0])
        means = np.random.default_rng(0).uniform(-20, 20, size=(centres, features))
        n = block_info[None]["chunk-shape"][0]
        return means[rng.integers(centres, size=n)] + rng.standard_normal((n, features))

    return da.map_blocks(make, chunks=(tuple(block_rows), (features,)), dtype=np.float64,
                         meta=np.empty((0, features)))


def _anykmeans(X, clusters: int, seed: int):
    import anykmeans

    model = anykmeans.KMeans(clusters, init="k-means||", random_state=seed).fit(X)
    return model.inertia_, model.n_iter_


def _dask_ml(X, clusters: int, seed: int):
    from dask_ml.cluster import KMeans

    model = KMeans(n_clusters=clusters, init="k-means||", random_state=seed).fit(X)
    return float(model.inertia_), int(model.n_iter_)


def fitters() -> dict:
    """The implementations that can run here, by name."""
    found = {"anykmeans": _anykmeans}
    try:
        import dask_ml.cluster  # noqa: F401
    except ImportError as exc:
        print(f"dask-ml not available ({exc}); timing anykmeans only.", file=sys.stderr)
    else:
        found["dask-ml"] = _dask_ml
    return found


def run(args: argparse.Namespace) -> dict:
    """Fit every implementation ``args.repeats`` times; return the results as a dict."""
    import distributed

    if args.scheduler:
        cluster = None
        client = distributed.Client(args.scheduler)
    else:
        cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                           processes=True, memory_limit=args.memory_limit,
                                           dashboard_address=":0")
        client = distributed.Client(cluster)
    try:
        X = lazy_blobs(args.rows, args.blocks, args.features, args.clusters)
        implementations = fitters()
        times = {name: [] for name in implementations}
        outcome = {}
        for repeat in range(args.repeats + 1):
            for name, fit in implementations.items():
                start = time.perf_counter()
                outcome[name] = fit(X, args.clusters, args.seed)
                if repeat:  # the first round warms the workers up
                    times[name].append(time.perf_counter() - start)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return {
        "data": {"rows": args.rows, "features": args.features, "clusters": args.clusters,
                 "blocks": args.blocks, "workers": args.workers, "memory_limit": args.memory_limit,
                 "scheduler": args.scheduler or "LocalCluster"},
        "results": {name: {"seconds": statistics.median(times[name]),
                           "inertia_per_point": outcome[name][0] / args.rows,
                           "n_iter": outcome[name][1]} for name in implementations},
    }


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--clusters", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="1GB", help="per worker (LocalCluster only)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scheduler", help="a running cluster (default: a LocalCluster)")
    parser.add_argument("--json", help="also write the results to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print one line per implementation."""
    args = build_parser().parse_args(argv)
    results = run(args)
    print(json.dumps(results["data"]))
    print(f"{'implementation':<12} {'seconds':>9} {'inertia/point':>14} {'n_iter':>7}")
    for name, row in results["results"].items():
        print(f"{name:<12} {row['seconds']:>9.2f} {row['inertia_per_point']:>14.4f} "
              f"{row['n_iter']:>7}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
