"""Time k-means Lloyd iterations of anykmeans on every backend and of its peers.

    python -m benchmarks                          # S1-S4 on everything installed
    python -m benchmarks --problems S1 --end-to-end
    python -m benchmarks --problems --scaling n k # only the scaling series
    python -m benchmarks --memory-target          # adds the 2M x 32, k=4096 memory case
    python -m benchmarks --shape 200000 32 64 --iterations 5 --repeats 3 --json r.json --chart r.png
    python -m benchmarks --problems T1 --implementations numpy torch scikit-learn
                                                  # TF-IDF of the standard library's docstrings
    python -m benchmarks --problems S1 S4 F1 --implementations cupy torch:cuda torch-loop:cuda
                                                  # on a GPU, against a hand-written torch loop

Every problem is float32 and runs from the same fixed initial centres for a
fixed number of iterations (tol=0) on every implementation, timed in one
process, repeats interleaved. Reported per problem and implementation: median
ms per Lloyd iteration, its ratio to scikit-learn's, its ratio to the GEMM floor
(2 n k d flops at the float32 GEMM rate measured in the same run), the floor of
an iteration (that product plus one read of X at the memory read rate measured
in the same run) and the ratio to it, optionally
the end-to-end KMeans(k, random_state=0).fit time, and the peak extra memory of
a fit (in a child process). Ratios within one run are the numbers to trust on a
shared machine. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from . import chart, implementations, measure, report
from .machine import describe, title
from .problems import EXTRA, GPU, LARGE_K, SCALING, STANDARD, custom
from .suite import MEMORY_TARGET_ITERATIONS, memory_target, run_problem
from .text import text


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def build_parser(prog: str = "python -m benchmarks") -> argparse.ArgumentParser:
    """The command line's parser, its usage and examples spelled with ``prog``."""
    parser = argparse.ArgumentParser(prog=prog,
                                     description=__doc__.replace("python -m benchmarks", prog),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [p.name for p in STANDARD]
    parser.add_argument("--problems", nargs="*", default=names,
                        choices=names + [p.name for p in EXTRA + LARGE_K + GPU] + ["T1"],
                        metavar="S",
                        help="problems to run: S1-S4 (default: all; none if the flag is "
                             "given alone), W1 (300k x 256, k = 100), N1 (2M x 3, k = 8), "
                             "L1 (200k x 64, k = 4 096: large k on a CPU), "
                             "F1 (1M x 256, k = 20 000: FAISS's GPU size), T1 (sparse: TF-IDF "
                             "of the standard library's docstrings, k = 20; needs scikit-learn, "
                             "and a minute to build)")
    parser.add_argument("--shape", nargs=3, type=_positive, metavar=("N", "D", "K"),
                        help="run this shape instead of the standard problems")
    parser.add_argument("--scaling", nargs="+", choices=sorted(SCALING), default=[],
                        help="also run the scaling series in n (d=32, k=64) and/or in k "
                             "(n=200k, d=32)")
    parser.add_argument("--iterations", type=_positive, default=5,
                        help="Lloyd iterations per timed fit (default 5)")
    parser.add_argument("--repeats", type=_positive, default=3,
                        help="timed fits per implementation, after a warm-up (default 3)")
    parser.add_argument("--implementations", nargs="+", metavar="NAME",
                        help="what to time on the problems: anykmeans backends (numpy, torch, "
                             "jax, dask, cupy, torch:cuda) and peers (scikit-learn, faiss); "
                             "default: all usable here")
    parser.add_argument("--scaling-implementations", nargs="+", metavar="NAME",
                        default=["numpy", "torch", "scikit-learn"],
                        help="what to time on the scaling series (default: numpy torch "
                             "scikit-learn)")
    parser.add_argument("--end-to-end", action="store_true",
                        help="also time KMeans(k, random_state=0).fit(X) (k-means++ seeding, "
                             "default tol) on the problems")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the peak-memory measurement (a child process per case)")
    parser.add_argument("--memory-target", action="store_true",
                        help="also fit 2M x 32 float32 with k=4096 for one iteration and report "
                             "its extra peak memory (target: under 1 GB)")
    parser.add_argument("--memory-target-implementations", nargs="+", metavar="NAME",
                        default=["numpy", "scikit-learn"],
                        help="what to run on the memory target (default: numpy scikit-learn)")
    parser.add_argument("--json", metavar="FILE", help="write every result to FILE as JSON")
    parser.add_argument("--chart", metavar="FILE.png", help="draw the results into FILE.png")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m benchmarks") -> int:
    """Run the suite with the command-line arguments ``argv`` (``sys.argv[1:]`` if None),
    ``prog`` naming the command in its help and messages (``anykmeans bench`` runs it too).

    Returns
    -------
    int
        The exit status: 0 (usage errors exit with argparse's status 2).
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.chart and importlib.util.find_spec("matplotlib") is None:
        parser.error("--chart needs matplotlib (pip install matplotlib)")
    problems = [custom(*args.shape)] if args.shape else [
        p for p in STANDARD + EXTRA + LARGE_K + GPU if p.name in args.problems]
    if not args.shape and "T1" in args.problems:
        problems.append(text())
    if args.shape and args.shape[2] > args.shape[0]:
        parser.error("--shape N D K needs K <= N (the initial centres are K distinct rows)")
    if args.chart and not (problems or args.scaling):
        parser.error("--chart needs a problem or a scaling series to draw")
    try:
        chosen, notes = implementations.select(args.implementations if problems else [])
        scaling_chosen, scaling_notes = implementations.select(
            args.scaling_implementations if args.scaling else [])
        memory_chosen, memory_notes = implementations.select(
            args.memory_target_implementations if args.memory_target else [])
    except ValueError as exc:
        parser.error(str(exc))
    notes += [note for note in scaling_notes + memory_notes if note not in notes]

    gemm_flops = measure.gemm_rate()  # first, while BLAS has all its threads
    read_bytes = measure.read_rate()
    machine = describe()
    rates = f"float32 GEMM {gemm_flops / 1e9:.0f} GF/s, memory read {read_bytes / 1e9:.1f} GB/s"
    print(f"{title(machine)}; {rates}", file=sys.stderr)
    rows = []
    for problem in problems:
        rows += run_problem(problem, chosen, iterations=args.iterations, repeats=args.repeats,
                            gemm_flops=gemm_flops, read_bytes=read_bytes,
                            end_to_end=args.end_to_end,
                            memory=args.memory, notes=notes)
    for series in args.scaling:
        for problem in SCALING[series]:
            rows += run_problem(problem, scaling_chosen, iterations=args.iterations,
                                repeats=args.repeats, gemm_flops=gemm_flops,
                                read_bytes=read_bytes, notes=notes)
    memory_rows = memory_target([impl.name for impl in memory_chosen], notes)

    print(f"{title(machine)}; {rates}; load average {os.getloadavg()[0]:.1f}")
    if rows:
        print(f"Lloyd: {args.iterations} iterations per fit, median of {args.repeats} fits")
        print(report.table(rows))
        means = report.geometric_means(rows)
        if means:
            print("geometric mean of vs sklearn over the problems: " + ", ".join(
                f"{name} {mean:.2f}" for name, mean in means.items()))
    if memory_rows:
        print(f"Memory target: {MEMORY_TARGET_ITERATIONS} iteration, extra peak memory of the fit")
        print(report.table(memory_rows))
    for note in notes:
        print(f"note: {note}")
    results = {"machine": machine, "gemm_flops": gemm_flops, "read_bytes": read_bytes,
               "load_average": os.getloadavg(),
               "settings": {"iterations": args.iterations, "repeats": args.repeats,
                            "end_to_end": args.end_to_end, "memory": args.memory},
               "rows": rows, "geomean_vs_sklearn": report.geometric_means(rows),
               "memory_target": memory_rows, "notes": notes}
    if args.json:
        report.write_json(args.json, results)
    if args.chart:
        chart.draw(args.chart, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
