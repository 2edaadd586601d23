"""float32 across backends: labels and n_iter of one fit on every library, against NumPy's.

    python -m benchmarks.float32_identity                 # blobs and structureless, all backends
    python -m benchmarks.float32_identity --case blobs    # one case
    python -m benchmarks.float32_identity --before /tmp/old   # an older checkout too, same run

Cases (float32, ``KMeans(64, random_state=0)``, every other option the default):

- ``blobs``: scikit-learn's ``make_blobs(300 000, 32, centers=64, cluster_std=2,
  random_state=0)``, data with cluster structure.
- ``random``: 100 000 x 32 standard normal values (``default_rng(0)``), no structure:
  Lloyd runs to ``max_iter`` and every row is near a boundary between cells.

Each backend fits in a child process (``--child CASE BACKEND``), with the checkout under
test first on ``PYTHONPATH``: ``numpy`` (with Numba's fused loop), ``numpy-nonumba``
(``NUMBA_DISABLE_JIT=1``: the standard path), ``torch`` (CPU), ``torch-accelerator``
(CPU tensors on the accelerator plan, the path a CUDA tensor takes), ``jax`` (x64 off,
JAX's default), ``jax-x64``, ``dask`` (NumPy blocks, the threaded scheduler) and
``array_api_strict``. Printed for each: n_iter, the labels that differ from NumPy's, the
inertia's relative difference, and the seconds the fit took.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHECKOUT = Path(__file__).resolve().parent.parent

BACKENDS = ("numpy", "numpy-nonumba", "torch", "torch-accelerator", "jax", "jax-x64", "dask",
            "array_api_strict")

#: Environment variables each backend's child runs with.
ENVIRONMENT = {"numpy-nonumba": {"NUMBA_DISABLE_JIT": "1"},
               "torch-accelerator": {"ANYKMEANS_PLAN": "accelerator"},
               "jax": {"JAX_ENABLE_X64": "0"}, "jax-x64": {"JAX_ENABLE_X64": "1"}}


def make_data(case: str) -> np.ndarray:
    """The float32 rows of ``case``."""
    if case == "blobs":
        from sklearn.datasets import make_blobs

        X, _ = make_blobs(300_000, 32, centers=64, cluster_std=2, random_state=0)
        return X.astype(np.float32)
    return np.random.default_rng(0).standard_normal((100_000, 32), dtype=np.float32)


def convert(backend: str, X: np.ndarray):
    """``X`` as ``backend``'s array."""
    if backend.startswith("torch"):
        import torch

        return torch.from_numpy(X)
    if backend.startswith("jax"):
        import jax.numpy as jnp

        return jnp.asarray(X)
    if backend == "dask":
        import dask.array as da

        return da.from_array(X, chunks=(75_000, X.shape[1]))
    if backend == "array_api_strict":
        import array_api_strict

        return array_api_strict.asarray(X)
    return X


def child(case: str, backend: str, out: str) -> None:
    """Fit ``backend`` on ``case``; write its labels to ``out`` and print n_iter, inertia, s."""
    import time

    import anykmeans
    from anykmeans._namespace import to_host

    X = convert(backend, make_data(case))
    if backend == "dask":
        import dask

        dask.config.set(scheduler="threads")
    start = time.perf_counter()
    model = anykmeans.KMeans(64, random_state=0).fit(X)
    seconds = time.perf_counter() - start
    np.save(out, np.asarray(to_host(model.labels_)))
    print(json.dumps({"n_iter": model.n_iter_, "inertia": float(model.inertia_),
                      "seconds": seconds}))


def run(checkout: Path, case: str, backend: str, directory: str) -> dict:
    """One child's result, with its labels loaded."""
    out = os.path.join(directory, f"{case}-{backend}.npy")
    env = {**os.environ, "PYTHONPATH": str(checkout), **ENVIRONMENT.get(backend, {})}
    done = subprocess.run([sys.executable, "-m", "benchmarks.float32_identity", "--child", case,
                           backend, out], env=env, cwd=CHECKOUT, capture_output=True,
                          text=True, timeout=1800)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["labels"] = np.load(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("blobs", "random"), action="append")
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    parser.add_argument("--before", type=Path, help="an older checkout, run the same way")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    checkouts = {"this": CHECKOUT, **({"before": args.before} if args.before else {})}
    backends = args.backend or BACKENDS
    with tempfile.TemporaryDirectory() as directory:
        for case in args.case or ("blobs", "random"):
            for name, checkout in checkouts.items():
                reference = run(checkout, case, "numpy", directory)
                print(f"{case} ({name}): numpy n_iter {reference['n_iter']}, "
                      f"inertia {reference['inertia']:.6g}, {reference['seconds']:.1f} s")
                for backend in backends[1:] if backends[0] == "numpy" else backends:
                    got = run(checkout, case, backend, directory)
                    if "error" in got:
                        print(f"  {backend:18s} failed: {got['error']}")
                        continue
                    differ = int(np.sum(got["labels"] != reference["labels"]))
                    relative = got["inertia"] / reference["inertia"] - 1
                    print(f"  {backend:18s} n_iter {got['n_iter']:3d}  labels differing "
                          f"{differ:6d}  inertia {relative:+.2e}  {got['seconds']:.1f} s",
                          flush=True)


if __name__ == "__main__":
    main()
