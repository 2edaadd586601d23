"""A fitted model's ``transform``, ``predict`` and ``score`` on a lazy Dask ``X``, against
``X.map_blocks`` over the same model in NumPy.

    python -m benchmarks.dask_methods             # 10M x 16 float32, k=256, 250 000-row blocks
    python -m benchmarks.dask_methods --rows 1000000 --json methods-1M.json
    python -m benchmarks.dask_methods --calls-only --methods transform,predict
    python -m benchmarks.dask_methods --scheduler tcp://scheduler:8786   # an existing cluster

The data is :func:`benchmarks.distributed.lazy_blobs` (made block by block on the
workers); the model is fitted in NumPy on one block, then moved to Dask
(``model.to(dask.array)``), so that every method sees the same centres. Per
method:

- the call: the seconds until the method returns its lazy result, the first
  call's (which imports what Dask needs for it) and the median of three more
  (``score`` returns its number: it has no call time apart from its compute);
- the graph: the tasks of the optimised graph, not counting Dask's aliases
  (each fused task keeps its output's key as one);
- the compute: the result reduced on the workers (``.sum()``: the output of
  ``transform`` is ``rows x k`` numbers), against the same reduction of
  ``X.map_blocks`` over the NumPy model's method, measured interleaved
  (ours, the peer, the peer, ours; the medians) after a warm-up of each.

The machine may be shared: compare within a run, and read the load printed
with it (``os.getloadavg`` before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from benchmarks.distributed import lazy_blobs
from benchmarks.machine import describe

METHODS = ("transform", "predict", "score")


def _tasks(result) -> int:
    """The optimised graph's tasks, without Dask's aliases of fused keys."""
    from dask._task_spec import Alias

    graph = dict(result.__dask_optimize__(result.__dask_graph__(), result.__dask_keys__()))
    return sum(not isinstance(node, Alias) for node in graph.values())


def _peer(X, numpy_model, method: str):
    """``X.map_blocks`` over the NumPy model's ``method``, reduced as ours is."""
    import numpy as np

    if method == "transform":
        out = X.map_blocks(numpy_model.transform, chunks=(X.chunks[0], (numpy_model.n_clusters,)),
                           dtype=X.dtype)
    elif method == "predict":
        out = X.map_blocks(numpy_model.predict, drop_axis=1, dtype=np.intp)
    else:
        out = X.map_blocks(lambda block: np.asarray([numpy_model.score(block)]), drop_axis=1,
                           chunks=((1,) * X.numblocks[0],), dtype=X.dtype)
    return out.sum()


def _timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def measure(X, model, numpy_model, method: str, compute: bool = True) -> dict:
    """Call time, graph size and compute times (ours and the peer's; not with ``compute``
    False) of one method."""
    if method == "score":
        first = call = 0.0
        compute_ours = lambda: model.score(X)  # noqa: E731
        tasks = None
    else:
        first, lazy = _timed(lambda: getattr(model, method)(X))
        call = statistics.median(_timed(lambda: getattr(model, method)(X))[0] for _ in range(3))
        tasks = _tasks(lazy)
        ours = lazy.sum()
        compute_ours = ours.compute
    if not compute:
        return {"first_call_s": first, "call_s": call, "tasks": tasks, "blocks": X.numblocks[0]}
    peer = _peer(X, numpy_model, method)
    compute_ours(), peer.compute()  # warm-up
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for name in ("ours", "peer", "peer", "ours"):
        seconds, _ = _timed(compute_ours if name == "ours" else peer.compute)
        times[name].append(seconds)
    ours_s, peer_s = statistics.median(times["ours"]), statistics.median(times["peer"])
    return {"first_call_s": first, "call_s": call, "tasks": tasks, "blocks": X.numblocks[0],
            "compute_s": ours_s, "peer_compute_s": peer_s, "ratio": ours_s / peer_s, "times": times}


def run(args: argparse.Namespace) -> dict:
    """Every method measured on one cluster; the results as a dict."""
    import cloudpickle
    import dask.array as da
    import distributed

    import anykmeans

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cloudpickle.register_pickle_by_value(sys.modules["benchmarks.distributed"])
    if args.scheduler:
        cluster, client = None, distributed.Client(args.scheduler)
    else:
        cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                           processes=True, memory_limit=args.memory_limit,
                                           dashboard_address=":0")
        client = distributed.Client(cluster)
    try:
        X = lazy_blobs(args.rows, args.block_rows, args.features, args.blobs, args.dtype)
        numpy_model = anykmeans.KMeans(args.clusters, n_init=1, max_iter=20,
                                       random_state=args.seed).fit(X[:args.block_rows].compute())
        model = numpy_model.to(da)
        load_before = os.getloadavg()
        results = {method: measure(X, model, numpy_model, method, not args.calls_only)
                   for method in args.methods.split(",")}
        load_after = os.getloadavg()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return {
        "data": {"rows": args.rows, "features": args.features, "clusters": args.clusters,
                 "blobs": args.blobs, "block_rows": args.block_rows, "dtype": args.dtype,
                 "workers": args.workers, "memory_limit": args.memory_limit,
                 "scheduler": args.scheduler or "LocalCluster"},
        "machine": describe(),
        "load": {"before": load_before, "after": load_after},
        "date": time.strftime("%Y-%m-%d"),
        "results": results,
    }


def table(results: dict) -> str:
    """The results as a Markdown table."""
    lines = ["| method | call, first / then (s) | tasks / blocks | compute (s) "
             "| map_blocks over NumPy (s) | ratio |", "|---|---|---|---|---|---|"]
    for method, row in results["results"].items():
        tasks = "-" if row["tasks"] is None else f"{row['tasks']} / {row['blocks']}"
        if "compute_s" not in row:
            lines.append(f"| {method} | {row['first_call_s']:.3f} / {row['call_s']:.3f} "
                         f"| {tasks} | - | - | - |")
            continue
        lines.append(f"| {method} | {row['first_call_s']:.3f} / {row['call_s']:.3f} | {tasks} "
                     f"| {row['compute_s']:.2f} | {row['peer_compute_s']:.2f} "
                     f"| {row['ratio']:.2f} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dask_methods",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--clusters", type=int, default=256)
    parser.add_argument("--blobs", type=int, default=16, help="blobs in the data")
    parser.add_argument("--block-rows", type=int, default=250_000)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB", help="per worker (LocalCluster only)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calls-only", action="store_true",
                        help="time the calls only (transform and predict), computing nothing")
    parser.add_argument("--scheduler", help="a running cluster (default: a LocalCluster)")
    parser.add_argument("--json", help="also write the results to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print the table."""
    args = build_parser().parse_args(argv)
    results = run(args)
    print(json.dumps({"data": results["data"], "load": results["load"]}))
    print(table(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
