"""Peak extra memory of a fit on sparse data, against the centres' size and the rows'.

    python -m benchmarks.sparse_memory                      # 1M x 100 000, 0.05 %, k = 100
    python -m benchmarks.sparse_memory --n 100000 --d 20000 --k 50
    python -m benchmarks.sparse_memory --implementation scikit-learn   # the same fit, sklearn's

A CSR matrix of ``n`` rows, each with the same number of non-zeros (``density
* d``, distinct columns, uniform values), is built in blocks; then, after a fit of
small data (what a process loads once, such as Numba's compiled loops, is not
counted), one fit (``KMeans(k, init=..., n_init=1, max_iter=..., tol=0)``) runs, and
two measures of what it adds are printed: the growth of the resident set's high-water mark
(Linux, :mod:`benchmarks.memory`'s reset) and the peak of :mod:`tracemalloc`
(NumPy's and SciPy's arrays, Python's objects). Beside them: ``X``'s bytes, the
centres' (``k d`` float64) and one float64 value per row (``8 n``), the units
of the bound "the centres' size plus O(n)".
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

import numpy as np

from .memory import _peak, _start_peak

_MB = 1 << 20

#: Rows generated at a time.
_BLOCK = 65_536

#: Rows and columns of the data of the fit run before the measured one.
_WARM_ROWS, _WARM_FEATURES = 20_000, 1_000


def sparse_rows(n: int, d: int, per_row: int, seed: int = 0):
    """A canonical CSR matrix of ``n x d`` float64 with ``per_row`` distinct columns a row.

    Columns are a random start plus increasing gaps (their total below ``d``), taken
    modulo ``d`` and sorted: distinct, so the matrix is canonical (no copy when fitted).
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    indices = np.empty(n * per_row, dtype=np.int32)
    largest_gap = max(2, d // per_row)
    for start in range(0, n, _BLOCK):
        rows = min(_BLOCK, n - start)
        gaps = rng.integers(1, largest_gap, size=(rows, per_row))
        cols = (rng.integers(0, d, size=(rows, 1)) + np.cumsum(gaps, axis=1)) % d
        cols.sort(axis=1)
        indices[start * per_row:(start + rows) * per_row] = cols.ravel()
    data = rng.random(n * per_row)
    index = np.int32 if (n + 1) * per_row < 2**31 else np.int64  # scikit-learn takes int32
    indices = indices.astype(index, copy=False)
    indptr = np.arange(0, (n + 1) * per_row, per_row, dtype=index)
    return sp.csr_array((data, indices, indptr), shape=(n, d))


def measure(n: int, d: int, density: float, k: int, iterations: int, init: str,
            implementation: str = "anykmeans") -> dict[str, object]:
    """Build the data, fit once with ``implementation`` ("anykmeans" or "scikit-learn"), and
    return the measurements (bytes, seconds)."""
    if implementation == "anykmeans":
        from anykmeans import KMeans
    else:
        from sklearn.cluster import KMeans

    per_row = max(1, round(density * d))
    # A fit of small data first (few columns: small centres, whose freed pages the measured
    # fit does not reuse): what a process loads once, such as Numba's compiled loops, is
    # not the measured fit's.
    KMeans(k, init=init, n_init=1, max_iter=1, tol=0, random_state=0).fit(
        sparse_rows(_WARM_ROWS, _WARM_FEATURES, min(per_row, _WARM_FEATURES // 2)))
    X = sparse_rows(n, d, per_row)
    assert X.has_canonical_format
    tracemalloc.start()
    tracemalloc.reset_peak()
    traced_before = tracemalloc.get_traced_memory()[0]
    before = _start_peak()
    start = time.perf_counter()
    model = KMeans(k, init=init, n_init=1, max_iter=iterations, tol=0, random_state=0).fit(X)
    seconds = time.perf_counter() - start
    rss = _peak() - before
    traced = tracemalloc.get_traced_memory()[1] - traced_before
    tracemalloc.stop()
    x_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return {"implementation": implementation, "n": n, "d": d, "nnz": X.nnz, "k": k,
            "init": init, "iterations": model.n_iter_, "seconds": seconds, "x_bytes": x_bytes,
            "centres_bytes": k * d * 8,
            "row_bytes": 8 * n, "peak_extra_rss_bytes": rss, "peak_extra_traced_bytes": traced}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sparse_memory",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=100_000)
    parser.add_argument("--density", type=float, default=0.0005)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=3, help="Lloyd iterations (tol=0)")
    parser.add_argument("--init", default="random", help="k-means++, random or k-means||")
    parser.add_argument("--implementation", choices=["anykmeans", "scikit-learn"],
                        default="anykmeans")
    parser.add_argument("--json", metavar="FILE", help="also write the result as JSON")
    args = parser.parse_args(argv)
    result = measure(args.n, args.d, args.density, args.k, args.iterations, args.init,
                     args.implementation)
    centres, rows = result["centres_bytes"], result["row_bytes"]
    print(f"{args.implementation}: X {args.n} x {args.d}, {result['nnz']} non-zeros "
          f"({result['x_bytes'] / _MB:.0f} MB), "
          f"k = {args.k}, init {args.init}, {result['iterations']} iterations, "
          f"{result['seconds']:.1f} s")
    print(f"centres {centres / _MB:.0f} MB; 8 bytes a row {rows / _MB:.0f} MB")
    for what in ("rss", "traced"):
        extra = result[f"peak_extra_{what}_bytes"]
        print(f"peak extra ({what}): {extra / _MB:.0f} MB = {extra / centres:.2f} x the centres, "
              f"or the centres + {(extra - centres) / rows:.1f} x 8 bytes a row")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
