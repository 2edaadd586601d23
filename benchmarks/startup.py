"""A new process's first large fit, and the command line against scikit-learn's script.

    python -m benchmarks.startup                 # both, 3 interleaved repeats
    python -m benchmarks.startup --repeats 5

**The wait for the compiled loop.** A child process imports anykmeans, fits
small data once (below the fused assignment's size: thread pools, namespaces),
then times two identical large fits on NumPy; the first minus the second is
what its first large fit waits for NumPy's compiled loop (Numba's import and
start, and loading the loop or compiling it). Measured three ways: with a
Numba cache folder that is empty (the first process on a machine), with the
folder the first left (every later process), and with ``NUMBA_DISABLE_JIT=1``
(the standard path: what is left is not the loop's).

**The command line end to end.** ``anykmeans fit DATA.csv -k 16`` on a CSV of
100 000 rows of 16 features, against the five-line scikit-learn script that
reads the same file and fits ``KMeans(16, random_state=0)``
(:data:`SKLEARN_SCRIPT`), each a new process, interleaved, after one untimed run
of each (which fills Numba's cache). Both write their centres.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .machine import describe, title
from .problems import Problem

#: The large fit of the wait's measurement: 2^22 scores a pass, far above the fused
#: assignment's threshold, a few milliseconds an iteration once compiled.
WAIT_PROBLEM = Problem("wait", 262_144, 16, 16, "custom")

#: Lloyd iterations of each timed fit of the wait's measurement.
WAIT_ITERATIONS = 3

#: The command line's case: a CSV of this shape, clustered with this many clusters.
CLI_PROBLEM = Problem("CLI", 100_000, 16, 16, "custom")

CHILD = """
import sys, time
import numpy as np
import anykmeans
from benchmarks.problems import Problem

n, d, k, iterations = map(int, sys.argv[1:])
X, centres = Problem("wait", n, d, k).data()
anykmeans.KMeans(4, random_state=0).fit(X[:500])  # below the fused assignment's size
seconds = []
for _ in range(2):
    start = time.perf_counter()
    anykmeans.KMeans(k, init=centres, n_init=1, max_iter=iterations, tol=0).fit(X)
    seconds.append(time.perf_counter() - start)
print(*seconds)
"""

#: What a scikit-learn user writes for the command line's case (the CSV's path, the output's).
SKLEARN_SCRIPT = """
import sys
import numpy as np
from sklearn.cluster import KMeans
X = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
np.save(sys.argv[2], KMeans(16, random_state=0).fit(X).cluster_centers_)
"""


def _environ(**changes: str | None) -> dict[str, str]:
    environ = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[1]),
                                                          environ.get("PYTHONPATH")]))
    return environ


def first_fit_wait(cache: Path, disable_jit: bool = False) -> float:
    """Seconds the first large fit of a new process takes beyond its second, Numba's cache
    in ``cache``; with ``disable_jit``, on the standard path."""
    problem = WAIT_PROBLEM
    environ = _environ(NUMBA_CACHE_DIR=str(cache),
                       NUMBA_DISABLE_JIT="1" if disable_jit else None)
    out = subprocess.run([sys.executable, "-c", CHILD, str(problem.n), str(problem.d),
                          str(problem.k), str(WAIT_ITERATIONS)], capture_output=True, text=True,
                         env=environ, check=True)
    first, second = map(float, out.stdout.split())
    return first - second


def write_csv(path: Path) -> None:
    """The command line's data: :data:`CLI_PROBLEM`'s rows, a header, 6 decimals."""
    X, _ = CLI_PROBLEM.data()
    header = ",".join(f"f{i}" for i in range(X.shape[1]))
    np.savetxt(path, X, delimiter=",", fmt="%.6f", header=header, comments="")


def _seconds(command: list[str], environ: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=environ, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def command_line(work: Path, repeats: int) -> dict[str, list[float]]:
    """Seconds of ``anykmeans fit`` and of :data:`SKLEARN_SCRIPT` on the command line's CSV,
    each a new process, ``repeats`` of each interleaved after one untimed run of each."""
    data = work / "data.csv"
    write_csv(data)
    script = work / "fit_sklearn.py"
    script.write_text(SKLEARN_SCRIPT)
    environ = _environ(NUMBA_CACHE_DIR=str(work / "numba-cache"))
    commands = {
        "anykmeans fit": [sys.executable, "-m", "anykmeans", "fit", str(data), "-k",
                          str(CLI_PROBLEM.k), "-o", str(work / "model.npz"), "-q"],
        "scikit-learn script": [sys.executable, str(script), str(data),
                                str(work / "centres.npy")],
    }
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for repeat in range(repeats + 1):
        for name, command in commands.items():
            elapsed = _seconds(command, environ, work)
            if repeat:
                seconds[name].append(elapsed)
    return seconds


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print them; the exit status (0)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each case (default 3)")
    args = parser.parse_args(argv)
    print(title(describe()))
    print(f"load average before: {_load()}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        problem = WAIT_PROBLEM
        print(f"First large fit's wait ({problem.n} x {problem.d}, k = {problem.k}, "
              f"{WAIT_ITERATIONS} iterations; median of {args.repeats} processes):")
        cases = {"Numba, empty cache (first process)": [], "Numba, cached (later process)": [],
                 "NUMBA_DISABLE_JIT=1 (standard path)": []}
        for repeat in range(args.repeats):
            cache = work / f"cache-{repeat}"
            cases["Numba, empty cache (first process)"].append(first_fit_wait(cache))
            cases["Numba, cached (later process)"].append(first_fit_wait(cache))
            cases["NUMBA_DISABLE_JIT=1 (standard path)"].append(first_fit_wait(cache, True))
        for name, waits in cases.items():
            print(f"  {name:<40} {statistics.median(waits):6.3f} s  "
                  f"({', '.join(f'{w:.3f}' for w in waits)})")
        problem = CLI_PROBLEM
        print(f"Command line, {problem.n} x {problem.d} CSV, k = {problem.k}, end to end "
              f"(median of {args.repeats}):")
        seconds = command_line(work, args.repeats)
        for name, runs in seconds.items():
            print(f"  {name:<40} {statistics.median(runs):6.2f} s  "
                  f"({', '.join(f'{s:.2f}' for s in runs)})")
        ratio = (statistics.median(seconds["anykmeans fit"])
                 / statistics.median(seconds["scikit-learn script"]))
        print(f"  anykmeans / scikit-learn: {ratio:.2f}")
    print(f"load average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
