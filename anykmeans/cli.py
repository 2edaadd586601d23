"""The ``anykmeans`` command line (also ``python -m anykmeans``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from ._backends import LIBRARIES, Backend, backends
from ._datasets import load_iris
from ._estimator import KMeans
from ._namespace import to_host


class CommandError(Exception):
    """A problem to report on one line of stderr, without a traceback."""


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _select(names: Sequence[str] | None) -> list[Backend]:
    """Usable backends whose library (or ``library:device``) is in ``names``; all if None."""
    if names:
        unknown = [n for n in names if n.split(":")[0] not in LIBRARIES]
        if unknown:
            raise CommandError(
                f"unknown backend {unknown[0]!r}; choose from {', '.join(LIBRARIES)}")
    probed = backends(tuple(dict.fromkeys(n.split(":")[0] for n in names)) if names else LIBRARIES)
    chosen = [b for b in probed if not names or b.name in names or b.library in names]
    missing = [b for b in chosen if not b.usable and names]
    if missing:
        raise CommandError(f"backend {missing[0].name} is not usable here: {missing[0].note}")
    return [b for b in chosen if b.usable]


def demo(args: argparse.Namespace) -> int:
    """Cluster the embedded iris data on every usable backend and compare with NumPy."""
    _enable_jax_x64()
    X, species, _ = load_iris()
    rows, reference = [], None
    for backend in _select(args.backend):
        data = backend.asarray(X)
        start = time.perf_counter()
        model = KMeans(n_clusters=3, random_state=args.seed).fit(data)
        labels = to_host(model.labels_)
        elapsed = time.perf_counter() - start
        if reference is None:
            reference = KMeans(n_clusters=3, random_state=args.seed).fit(X)
        same = bool(np.array_equal(labels, reference.labels_))
        rows.append([backend.name, str(data.dtype).split(".")[-1], f"{elapsed * 1e3:.1f}",
                     f"{model.inertia_:.6f}", model.n_iter_, "yes" if same else "NO"])
    print(f"k-means (k=3, random_state={args.seed}) of Fisher's iris data: "
          f"{X.shape[0]} flowers, {X.shape[1]} measurements\n")
    print(_table(["backend", "dtype", "ms", "inertia", "n_iter", "labels == numpy"], rows))
    print("\nClusters against species (rows: cluster, columns: species):")
    names = sorted(set(species))
    counts = [[int(np.sum((reference.labels_ == c) & (species == s))) for s in names]
              for c in range(3)]
    print(_table(["cluster", *names], [[c, *row] for c, row in enumerate(counts)]))
    return 0 if all(row[-1] == "yes" for row in rows) else 1


def list_backends(args: argparse.Namespace) -> int:
    """Print which array libraries and devices are usable here, and why not."""
    rows = [[b.library, b.device, "yes" if b.usable else "no", b.note] for b in backends()]
    print(_table(["library", "device", "usable", "version / why not"], rows))
    return 0


def _enable_jax_x64() -> None:
    """Let the command line's JAX arrays be float64, as the other libraries' are."""
    if "jax" in sys.modules or _installed("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anykmeans", description="k-means on any Array API library.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="cluster the embedded iris data on every usable backend")
    p.add_argument("--backend", action="append", metavar="B",
                   help="a library (numpy, torch, jax, dask, cupy, array_api_strict) or "
                        "library:device; repeat for several (default: all usable)")
    p.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    p.set_defaults(run=demo)
    p = commands.add_parser("backends", help="list usable array libraries and devices")
    p.set_defaults(run=list_backends)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CommandError as exc:
        print(f"anykmeans: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
