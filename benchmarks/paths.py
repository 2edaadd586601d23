"""NumPy's two assignment paths, and torch's, against scikit-learn in one process.

    python -m benchmarks.paths                        # S1-S4, W1, N1
    python -m benchmarks.paths --problems S3 N1 --iterations 3 --repeats 2

The same fixed-iteration Lloyd fits as ``python -m benchmarks``, interleaved in
one process: anykmeans on NumPy and on torch's CPU tensors, each with Numba's
fused assignment ("numpy", "torch") and with the standard-only path that runs
without Numba ("numpy standard", "torch standard"), and scikit-learn. The
standard path is forced as the tests force it (``_fused.compiled_kernel``
answering None while a fit runs), so both paths meet the same load. Needs
Numba, torch and scikit-learn.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

import numpy as np

import anykmeans
from anykmeans._libraries import _fused

from . import measure, report
from .implementations import Implementation
from .machine import describe, title
from .peers import Run, sklearn_lloyd
from .problems import EXTRA, STANDARD
from .suite import run_problem


@contextlib.contextmanager
def _standard_path() -> Iterator[None]:
    compiled = _fused.compiled_kernel
    _fused.compiled_kernel = lambda: None
    try:
        yield
    finally:
        _fused.compiled_kernel = compiled


def _anykmeans(name: str, standard: bool, to_array) -> Implementation:
    def lloyd(X: np.ndarray, centres: np.ndarray, iterations: int) -> Run:
        data, start = to_array(X), to_array(centres)

        def run() -> int:
            with _standard_path() if standard else contextlib.nullcontext():
                model = anykmeans.KMeans(len(centres), init=start, n_init=1,
                                         max_iter=iterations, tol=0).fit(data)
            return int(model.n_iter_)

        return run

    return Implementation(name, lloyd, None)


def implementations() -> list[Implementation]:
    """numpy, numpy standard, torch, torch standard, scikit-learn."""
    import torch

    return [_anykmeans("numpy", False, np.asarray), _anykmeans("numpy standard", True, np.asarray),
            _anykmeans("torch", False, torch.asarray),
            _anykmeans("torch standard", True, torch.asarray),
            Implementation("scikit-learn", sklearn_lloyd, None)]


def main(argv: list[str] | None = None) -> int:
    """Time the problems asked for; print the table; the exit status (0)."""
    problems = {p.name: p for p in STANDARD + EXTRA}
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paths", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", nargs="+", default=list(problems), choices=list(problems))
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if _fused.compiled_kernel() is None:
        parser.error("needs Numba (pip install numba): it compares the fused path")
    gemm_flops, read_bytes = measure.gemm_rate(), measure.read_rate()
    load = os.getloadavg()[0]
    rows, notes = [], []
    for name in args.problems:
        rows += run_problem(problems[name], implementations(), iterations=args.iterations,
                            repeats=args.repeats, gemm_flops=gemm_flops,
                            read_bytes=read_bytes, notes=notes)
    print(f"{title(describe())}; float32 GEMM {gemm_flops / 1e9:.0f} GF/s, memory read "
          f"{read_bytes / 1e9:.1f} GB/s; load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    print(f"Lloyd: {args.iterations} iterations per fit, median of {args.repeats} fits")
    print(report.table(rows))
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
