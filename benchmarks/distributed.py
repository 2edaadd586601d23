"""anykmeans and dask-ml's KMeans on the same dask.distributed LocalCluster and data.

    python -m benchmarks.distributed             # 1M x 16 float32, k=16, 250 000-row blocks
    python -m benchmarks.distributed --rows 3000000 --json dask-3M.json
    python -m benchmarks.distributed --impls "anykmeans,dask-ml"
    python -m benchmarks.distributed --scheduler tcp://scheduler:8786   # an existing cluster

The data is a mixture of unit-variance blobs generated lazily, block by block,
on the workers (no process ever holds all of it). Every fit uses the same
random_state and each library's defaults otherwise; the implementations:

- ``anykmeans``: k-means||, ``X`` held in the workers' memory for the fit
  (Dask configuration ``anykmeans.persist="auto"``, the default);
- ``anykmeans-lazy``: the same with ``anykmeans.persist=False`` (every pass
  computes ``X`` again);
- ``anykmeans-k-means++``: greedy k-means++ seeding, ``X`` held;
- ``dask-ml``: dask-ml's ``KMeans`` (k-means||) on the lazy ``X``;
- ``dask-ml-persisted``: the same on ``X`` persisted first (the persist timed
  with the fit), as dask-ml's documentation advises.

Per fit: the wall time, the seeding's time, the median time of a Lloyd
iteration, the round trips to the scheduler (graphs submitted) and the tasks
run, of the seeding and per iteration; the inertia per point and the
iterations. Times are also given as multiples of one bare pass over the lazy
``X`` (``X.sum().compute()``, median of 3) measured just before that fit: the
machine may be shared, so compare within a run. A first, untimed fit of each
implementation on two blocks warms the workers up.

dask-ml is optional: ``pip install dask-ml`` (it brings pandas, pyarrow and numba).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

from benchmarks.machine import describe

IMPLEMENTATIONS = ("anykmeans", "anykmeans-lazy", "anykmeans-k-means++", "dask-ml",
                   "dask-ml-persisted")


def lazy_blobs(rows: int, block_rows: int, features: int, centres: int, dtype: str):
    """A dask array of ``rows`` points around ``centres`` blobs, each block made by its task."""
    import dask.array as da
    import numpy as np

    blocks = (block_rows,) * (rows // block_rows) + ((rows % block_rows,) if rows % block_rows
                                                     else ())

    def make(block_id=None, block_info=None):
        rng = np.random.default_rng(1000 + block_id[0])
        means = np.random.default_rng(0).uniform(-20, 20, size=(centres, features))
        n = block_info[None]["chunk-shape"][0]
        return (means[rng.integers(centres, size=n)]
                + rng.standard_normal((n, features))).astype(dtype)

    return da.map_blocks(make, chunks=(blocks, (features,)), dtype=dtype,
                         meta=np.empty((0, features), dtype=dtype))


def _make_counter():
    """A scheduler plugin counting graphs submitted (round trips) and tasks run."""
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Counter(SchedulerPlugin):
        name = "anykmeans-benchmark-counter"

        def __init__(self):
            self.graphs = self.tasks = 0

        def update_graph(self, scheduler, **kwargs):
            self.graphs += 1

        def transition(self, key, start, finish, *args, **kwargs):
            if start == "processing" and finish == "memory":
                self.tasks += 1

    return Counter()


def _read_counter(dask_scheduler) -> tuple[int, int]:
    counter = dask_scheduler.plugins["anykmeans-benchmark-counter"]
    return counter.graphs, counter.tasks


@dataclass
class Timeline:
    """Timestamps and (round trips, tasks) counts at the phases of one fit."""

    client: object
    marks: list[tuple[str, float, tuple[int, int]]] = field(default_factory=list)

    def mark(self, name: str) -> None:
        counts = tuple(self.client.run_on_scheduler(_read_counter))
        self.marks.append((name, time.perf_counter(), counts))

    def first(self, name: str) -> tuple[float, tuple[int, int]]:
        return next((t, c) for n, t, c in self.marks if n == name)

    def every(self, name: str) -> list[tuple[float, tuple[int, int]]]:
        return [(t, c) for n, t, c in self.marks if n == name]


@contextlib.contextmanager
def patched(module, name: str, wrapper: Callable) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, wrapper(original))
    try:
        yield
    finally:
        setattr(module, name, original)


def _anykmeans(init: str, persist: object) -> Callable:
    def fit(X, clusters: int, seed: int, timeline: Timeline):
        import dask

        import anykmeans
        from anykmeans import _kmeans

        def seeding(original):
            def run(*args, **kwargs):
                timeline.mark("seeding")
                return original(*args, **kwargs)
            return run

        def lloyd(original):
            def run(*args, **kwargs):
                timeline.mark("lloyd")
                return original(*args, **kwargs)
            return run

        with patched(_kmeans, "initial_centres", seeding), patched(_kmeans, "lloyd", lloyd), \
                dask.config.set({"anykmeans.persist": persist}):
            model = anykmeans.KMeans(clusters, init=init, random_state=seed).fit(
                X, on_iteration=lambda *_: timeline.mark("iteration"))
        return model.inertia_, model.n_iter_

    return fit


def _dask_ml(persist: bool) -> Callable:
    def fit(X, clusters: int, seed: int, timeline: Timeline):
        from dask_ml.cluster import KMeans, k_means

        def seeding(original):
            def run(*args, **kwargs):
                timeline.mark("seeding")
                out = original(*args, **kwargs)
                timeline.mark("lloyd")
                return out
            return run

        def compute(original):
            def run(*args, **kwargs):
                out = original(*args, **kwargs)
                if any(name == "lloyd" for name, *_ in timeline.marks):
                    timeline.mark("iteration")
                return out
            return run

        if persist:
            from distributed import wait

            X = timeline.client.persist(X)
            wait(X)
        with patched(k_means, "k_init", seeding), patched(k_means, "compute", compute):
            model = KMeans(n_clusters=clusters, init="k-means||", random_state=seed).fit(X)
        return float(model.inertia_), int(model.n_iter_)

    return fit


def fitters(names: list[str]) -> dict[str, Callable]:
    """The implementations named that can run here."""
    every = {"anykmeans": _anykmeans("k-means||", "auto"),
             "anykmeans-lazy": _anykmeans("k-means||", False),
             "anykmeans-k-means++": _anykmeans("k-means++", "auto")}
    try:
        import dask_ml.cluster  # noqa: F401
    except ImportError as exc:
        print(f"dask-ml not available ({exc}); timing anykmeans only.", file=sys.stderr)
    else:
        every.update({"dask-ml": _dask_ml(False), "dask-ml-persisted": _dask_ml(True)})
    return {name: every[name] for name in names if name in every}


def bare_pass(X) -> float:
    """One pass over ``X`` that only reads it: the median of three ``X.sum().compute()``."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        X.sum().compute()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Fit:
    """One fit's measurements (seconds, round trips, tasks)."""

    bare_pass: float
    seconds: float
    seeding: float
    iteration: float
    n_iter: int
    inertia_per_point: float
    round_trips: int
    tasks: int
    seeding_round_trips: int
    seeding_tasks: int
    iteration_round_trips: float
    iteration_tasks: float

    def passes(self, seconds: float) -> float:
        return seconds / self.bare_pass


def measure(fit: Callable, X, clusters: int, seed: int, client) -> Fit:
    """Time one fit of ``X``, after a bare pass over it."""
    pass_seconds = bare_pass(X)
    timeline = Timeline(client)
    timeline.mark("start")
    inertia, n_iter = fit(X, clusters, seed, timeline)
    timeline.mark("end")
    (start, at_start), (end, at_end) = timeline.first("start"), timeline.first("end")
    (seeded, at_seeding), (lloyd, at_lloyd) = timeline.first("seeding"), timeline.first("lloyd")
    iterations = timeline.every("iteration")
    stamps = [lloyd] + [t for t, _ in iterations]
    at_last = iterations[-1][1]
    return Fit(
        bare_pass=pass_seconds, seconds=end - start, seeding=lloyd - seeded,
        iteration=statistics.median(b - a for a, b in itertools.pairwise(stamps)),
        n_iter=n_iter, inertia_per_point=inertia / X.shape[0],
        round_trips=at_end[0] - at_start[0], tasks=at_end[1] - at_start[1],
        seeding_round_trips=at_lloyd[0] - at_seeding[0],
        seeding_tasks=at_lloyd[1] - at_seeding[1],
        iteration_round_trips=(at_last[0] - at_lloyd[0]) / len(iterations),
        iteration_tasks=(at_last[1] - at_lloyd[1]) / len(iterations),
    )


def run(args: argparse.Namespace) -> dict:
    """Fit every implementation ``args.repeats`` times; return the results as a dict."""
    import cloudpickle
    import distributed

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    if args.scheduler:
        cluster = None
        client = distributed.Client(args.scheduler)
    else:
        import dask

        environ = dict(variable.split("=", 1) for variable in args.worker_env)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": {
                **dask.config.get("distributed.nanny.pre-spawn-environ"), **environ}}):
            cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                               processes=True, memory_limit=args.memory_limit,
                                               dashboard_address=":0")
        client = distributed.Client(cluster)
    try:
        client.register_plugin(_make_counter())
        X = lazy_blobs(args.rows, args.block_rows, args.features, args.clusters, args.dtype)
        implementations = fitters(args.impls.split(","))
        warm_up = X[:2 * args.block_rows]
        for fit in implementations.values():
            fit(warm_up, args.clusters, args.seed, Timeline(client))
        fits: dict[str, list[Fit]] = {name: [] for name in implementations}
        for _ in range(args.repeats):
            for name, fit in implementations.items():
                fits[name].append(measure(fit, X, args.clusters, args.seed, client))
                print(f"{name}: {fits[name][-1]}", file=sys.stderr)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return {
        "data": {"rows": args.rows, "features": args.features, "clusters": args.clusters,
                 "block_rows": args.block_rows, "dtype": args.dtype, "workers": args.workers,
                 "memory_limit": args.memory_limit, "worker_env": args.worker_env,
                 "scheduler": args.scheduler or "LocalCluster"},
        "machine": describe(),
        "date": time.strftime("%Y-%m-%d"),
        "results": {name: [asdict(f) for f in runs] for name, runs in fits.items()},
    }


def table(results: dict) -> str:
    """The results as a Markdown table (each repeat a row), times also in bare passes."""
    lines = [
        "| implementation | bare pass (s) | fit, s (passes) | seeding, s (passes) "
        "| Lloyd iteration, s (passes) | iterations | round trips: fit / seeding / iteration "
        "| tasks: fit / seeding / iteration | inertia per point |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results["results"].items():
        for row in runs:
            fit = Fit(**row)
            lines.append(
                f"| {name} | {fit.bare_pass:.2f}"
                f" | {fit.seconds:.2f} ({fit.passes(fit.seconds):.1f})"
                f" | {fit.seeding:.2f} ({fit.passes(fit.seeding):.1f})"
                f" | {fit.iteration:.2f} ({fit.passes(fit.iteration):.1f}) | {fit.n_iter}"
                f" | {fit.round_trips} / {fit.seeding_round_trips} / "
                f"{fit.iteration_round_trips:g} | {fit.tasks} / {fit.seeding_tasks} / "
                f"{fit.iteration_tasks:g} | {fit.inertia_per_point:.4f} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--clusters", type=int, default=16)
    parser.add_argument("--block-rows", type=int, default=250_000)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="1GB", help="per worker (LocalCluster only)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable of the workers, over Dask's "
                             "(LocalCluster only; repeatable), e.g. "
                             "MALLOC_MMAP_THRESHOLD_=67108864")
    parser.add_argument("--impls", default=",".join(IMPLEMENTATIONS),
                        help=f"comma-separated, from {', '.join(IMPLEMENTATIONS)}")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scheduler", help="a running cluster (default: a LocalCluster)")
    parser.add_argument("--json", help="also write the results to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the table."""
    args = build_parser().parse_args(argv)
    unknown = set(args.impls.split(",")) - set(IMPLEMENTATIONS)
    if unknown:
        raise SystemExit(f"unknown implementations {sorted(unknown)}; choose from "
                         f"{', '.join(IMPLEMENTATIONS)}")
    results = run(args)
    print(json.dumps(results["data"]))
    print(table(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
