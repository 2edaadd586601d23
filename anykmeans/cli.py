"""The ``anykmeans`` command line (also ``python -m anykmeans``).

Commands: ``demo``, ``fit``, ``predict``, ``backends`` and ``bench`` (the
benchmark suite of a source checkout). Every expected failure (a missing or
unreadable file, bad parameters, a backend that is not installed) is reported
as one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.util
import os
import sys
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

from ._backends import LIBRARIES, Backend, backends
from ._datasets import load_iris
from ._estimator import KMeans
from ._kmeans import resolve_n_init
from ._libraries import library_named
from ._namespace import to_host
from ._persistence import load_model

#: Exit status of every reported error (argparse's for usage errors).
ERROR = 2

try:
    from lzma import LZMAError
except ImportError:  # a Python built without liblzma, whose zipfile refuses LZMA members
    LZMAError = zlib.error

#: What reading a damaged or hostile data or model file raises: ValueError, OSError and EOFError
#: from NumPy (a bad header, a truncated file), MemoryError (a header claiming a huge shape),
#: csv.Error (a field over the csv module's size limit), and from the zip archive of a ``.npz``
#: BadZipFile, zlib.error and LZMAError (corrupt compressed data) and RuntimeError (an encrypted
#: member, or one compressed by a method the zipfile module lacks).
READ_ERRORS = (ValueError, OSError, EOFError, MemoryError, RuntimeError, csv.Error,
               zipfile.BadZipFile, zlib.error, LZMAError)


class CommandError(Exception):
    """A problem to report on one line of stderr, without a traceback."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, reporting a usage error on one line (with a pointer to ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- output helpers ---------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class ProgressLine:
    """A progress bar on one self-rewriting terminal line: restarts, iterations, inertia.

    Call it as the ``on_iteration(restart, iteration, inertia)`` hook of
    :meth:`KMeans.fit`; it redraws at most every ``interval`` seconds (and at
    every new restart), and :meth:`close` erases the line.

    Parameters
    ----------
    stream : text stream
        Where to draw, normally ``sys.stderr`` when it is a terminal.
    n_restarts, max_iter : int
        The totals shown (and the bar's scale: one slot per restart).
    """

    WIDTH = 20

    def __init__(self, stream: IO[str], n_restarts: int, max_iter: int,
                 interval: float = 0.1) -> None:
        self.stream, self.n_restarts, self.max_iter = stream, n_restarts, max_iter
        self.interval = interval
        self._last_draw = -float("inf")
        self._last_restart = -1
        self._drawn = 0

    def __call__(self, restart: int, iteration: int, inertia: float) -> None:
        now = time.monotonic()
        if restart == self._last_restart and now - self._last_draw < self.interval:
            return
        self._last_draw, self._last_restart = now, restart
        done = (restart + (iteration + 1) / self.max_iter) / self.n_restarts
        filled = int(self.WIDTH * done)
        text = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] restart {restart + 1}/"
                f"{self.n_restarts}  iteration {iteration + 1}/{self.max_iter}  "
                f"inertia {inertia:.6g}")
        self.stream.write("\r" + text.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(text)

    def close(self) -> None:
        """Erase the line (if anything was drawn)."""
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0


# -- inputs -----------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """Comma-separated numbers, one sample a line, in UTF-8 (with or without a byte-order mark),
    and the header: the first line's fields if they are not all numbers, else None."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        first = next(csv.reader(f), [])
    header = first if first and not all(_is_number(field) for field in first) else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            data = np.loadtxt(path, delimiter=",", skiprows=int(header is not None), ndmin=2,
                              encoding="utf-8-sig")
    except ValueError:
        with path.open(newline="", encoding="utf-8-sig") as f:
            for line, row in enumerate(csv.reader(f), start=1):
                if line == 1 and header is not None:
                    continue
                bad = [field for field in row if not _is_number(field)]
                if bad:
                    raise CommandError(
                        f"{path}, line {line}: {bad[0]!r} is not a number") from None
                if len(row) != len(first):
                    raise CommandError(f"{path}, line {line}: {len(row)} columns, "
                                       f"expected {len(first)}") from None
        raise
    return data, header


def read_data(name: str) -> tuple[np.ndarray, list[str] | None]:
    """The array stored in a ``.npy``, ``.npz`` (holding one array) or ``.csv`` file.

    Returns
    -------
    data : numpy.ndarray
        The samples in rows (a 1-D array becomes one feature).
    header : list of str or None
        The column names of a ``.csv`` file whose first line is not all numbers (that line
        is not a sample); None otherwise.

    Raises
    ------
    CommandError
        If the file is missing, of another kind, damaged, or does not hold one
        numeric array of samples.
    """
    path = Path(name)
    if not path.is_file():
        raise CommandError(f"no such file: {name}")
    suffix = path.suffix.lower()
    header = None
    try:
        if suffix == ".csv":
            data, header = _read_csv(path)
        elif suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                if len(archive.files) != 1:
                    raise CommandError(f"{name} holds {len(archive.files)} arrays "
                                       f"({', '.join(archive.files)}); expected one")
                data = archive[archive.files[0]]
                if not isinstance(data, np.ndarray):  # the bytes of a member not a .npy file
                    raise CommandError(f"{name} holds {archive.files[0]}, not a NumPy array")
        else:
            raise CommandError(f"cannot read {name}: expected a .npy, .npz or .csv file")
    except READ_ERRORS as exc:
        raise CommandError(f"cannot read {name}: {_one_line(exc)}") from exc
    if data.dtype.kind not in "biuf":
        raise CommandError(f"{name} holds {data.dtype} data, not numbers")
    if data.ndim == 1:
        data = data[:, None]
    if data.size == 0:
        raise CommandError(f"{name} holds no data")
    return data, header


def _output_path(name: str, suffix: str, inputs: Sequence[str]) -> str:
    """The file NumPy writes when asked to save to ``name`` (it appends ``suffix`` if missing).

    Raises
    ------
    CommandError
        If that file is one of the ``inputs`` (existing files), which writing would replace.
    """
    path = name if name.endswith(suffix) else name + suffix
    if os.path.exists(path):
        for source in inputs:
            if os.path.samefile(path, source):
                raise CommandError(f"output {path} is the input {source}; choose another file")
    return path


def _select(names: Sequence[str] | None) -> list[Backend]:
    """Usable backends named (a library, or ``library:device``) in ``names``; all if None.

    A library name selects its usable devices; a name selecting none is an error.
    """
    if not names:
        return [b for b in backends() if b.usable]
    unknown = [n for n in names if n.split(":")[0] not in LIBRARIES]
    if unknown:
        raise CommandError(f"unknown backend {unknown[0]!r}; choose from {', '.join(LIBRARIES)}")
    probed = backends(tuple(dict.fromkeys(n.split(":")[0] for n in names)))
    chosen: list[Backend] = []
    for name in names:
        matches = [b for b in probed if name in (b.library, b.name, f"{b.library}:{b.device}")]
        usable = [b for b in matches if b.usable]
        if not usable:
            why = matches[0].note if matches else "no such device (see anykmeans backends)"
            raise CommandError(f"backend {name} is not usable here: {why}")
        chosen += [b for b in usable if b not in chosen]
    return chosen


def _backend(name: str) -> Backend:
    """The first usable device of a library (or the ``library:device`` named), its arrays
    float64 where the library can make them so (JAX's are float32 unless asked)."""
    backend = _select([name])[0]
    library_named(backend.library).enable_float64()
    return backend


def _save_plot(path: str, X: Any, model: KMeans) -> None:
    from .plot import plot_fit

    plot_fit(X, model).savefig(path, dpi=100)


# -- commands ---------------------------------------------------------------------------------


def demo(args: argparse.Namespace) -> int:
    """Cluster the embedded iris data on every usable backend and compare with NumPy."""
    X, species, _ = load_iris()
    rows, reference = [], KMeans(n_clusters=3, random_state=args.seed).fit(X)
    for backend in _select(args.backend):
        library_named(backend.library).enable_float64()
        data = backend.asarray(X)
        start = time.perf_counter()
        model = KMeans(n_clusters=3, random_state=args.seed).fit(data)
        labels = to_host(model.labels_)
        elapsed = time.perf_counter() - start
        same = bool(np.array_equal(labels, reference.labels_))
        rows.append([backend.library, backend.device, str(data.dtype).split(".")[-1],
                     f"{elapsed * 1e3:.1f}", f"{model.inertia_:.6f}", model.n_iter_,
                     "yes" if same else "NO"])
    print(f"k-means (k=3, random_state={args.seed}) of Fisher's iris data: "
          f"{X.shape[0]} flowers, {X.shape[1]} measurements\n")
    print(_table(["backend", "device", "dtype", "ms", "inertia", "n_iter", "labels == numpy"],
                 rows))
    print("\nClusters against species (rows: cluster, columns: species):")
    names = sorted(set(species))
    counts = [[int(np.sum((reference.labels_ == c) & (species == s))) for s in names]
              for c in range(3)]
    print(_table(["cluster", *names], [[c, *row] for c, row in enumerate(counts)]))
    if args.plot:
        _save_plot(args.plot, X, reference)
        print(f"\nwrote {args.plot}")
    return 0 if all(row[-1] == "yes" for row in rows) else 1


def fit(args: argparse.Namespace) -> int:
    """Cluster a data file; print a summary, optionally save the model and a plot."""
    data, header = read_data(args.data)
    if args.output:
        args.output = _output_path(args.output, ".npz", [args.data])
    if args.dtype:
        data = data.astype(args.dtype)
    backend = _backend(args.backend)
    X = backend.asarray(data)
    model = KMeans(args.k, init=args.init, n_init=args.n_init, max_iter=args.max_iter,
                   tol=args.tol, random_state=args.seed)
    progress = None
    if not args.quiet and sys.stderr.isatty():
        n_restarts = resolve_n_init(args.n_init, args.init)
        progress = ProgressLine(sys.stderr, n_restarts, args.max_iter)
    try:
        model.fit(X, on_iteration=progress)
    finally:
        if progress is not None:
            progress.close()
    if args.output:
        model.save(args.output)
    if args.plot:
        _save_plot(args.plot, X, model)
    if not args.quiet:
        sizes = np.bincount(to_host(model.labels_), minlength=args.k)
        print(f"{args.data}: {X.shape[0]} samples, {X.shape[1]} features; k={args.k} on "
              f"{backend.name} ({str(X.dtype).split('.')[-1]})")
        if header is not None:
            print("first line taken as a header:", ", ".join(header))
        print(f"inertia {model.inertia_:.8g} after {model.n_iter_} iterations "
              f"({len(model.inertia_histories_)} restart(s), the best kept)")
        print("cluster sizes:", " ".join(map(str, sizes)))
        for path in (args.output, args.plot):
            if path:
                print(f"wrote {path}")
    return 0


def predict(args: argparse.Namespace) -> int:
    """Assign the samples of a data file to the centres of a saved model."""
    if not Path(args.model).is_file():
        raise CommandError(f"no such file: {args.model}")
    data, _ = read_data(args.data)
    if args.output:
        args.output = _output_path(args.output, ".npy", [args.model, args.data])
    X = _backend(args.backend).asarray(data)
    try:
        model = load_model(args.model, like=X)
    except ValueError:
        raise  # load_model's own report of a file that is not a model
    except (*READ_ERRORS, TypeError, LookupError, AttributeError) as exc:
        # what a damaged or hostile file can still raise from deeper down
        raise CommandError(f"{args.model} is not a readable anykmeans model file "
                           f"({_one_line(exc)})") from exc
    labels = np.asarray(to_host(model.predict(X)))
    if args.output:
        np.save(args.output, labels)
    else:
        sys.stdout.write("".join(f"{label}\n" for label in labels.tolist()))
    return 0


def list_backends(args: argparse.Namespace) -> int:
    """Print which array libraries and devices are usable here, and why not."""
    rows = [[b.library, b.device, "yes" if b.usable else "no", b.note] for b in backends()]
    print(_table(["library", "device", "usable", "version / why not"], rows))
    return 0


def bench(argv: Sequence[str]) -> int:
    """Forward ``argv`` to the benchmark suite's ``main`` (a source checkout's ``benchmarks``)."""
    try:
        suite = _import_benchmarks()
    except ModuleNotFoundError as exc:
        raise CommandError(
            "the benchmark suite is not installed: it lives in the source repository's "
            "benchmarks/ folder; run this from a clone installed with pip install -e . "
            f"({_one_line(exc)})") from exc
    return int(suite.main(list(argv)) or 0)


def _import_benchmarks() -> Any:
    """``benchmarks.__main__``, from the path or else from the checkout this package is in."""
    try:
        return importlib.import_module("benchmarks.__main__")
    except ModuleNotFoundError as exc:
        checkout = Path(__file__).resolve().parent.parent
        if exc.name != "benchmarks" or not (checkout / "benchmarks" / "__main__.py").is_file():
            raise
        sys.path.insert(0, str(checkout))
        return importlib.import_module("benchmarks.__main__")


# -- the parser and the entry point -----------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


_positive_int.__name__ = "positive int"  # argparse names the type in its message


def _n_init(text: str) -> int | str:
    return text if text == "auto" else _positive_int(text)


def build_parser() -> argparse.ArgumentParser:
    """The ``anykmeans`` argument parser."""
    parser = ArgumentParser(prog="anykmeans", description="k-means on any Array API library.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    backend_help = ("numpy, torch, jax, dask, cupy or array_api_strict, or library:device "
                    "(see 'anykmeans backends')")

    p = commands.add_parser("demo", help="cluster the embedded iris data on every usable backend",
                            description="Cluster Fisher's iris data on every usable backend "
                                        "and check that each gives NumPy's labels.")
    p.add_argument("--backend", action="append", metavar="B",
                   help=f"{backend_help}; repeat for several (default: all usable)")
    p.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    p.add_argument("--plot", metavar="FILE.png", help="save a picture of the clusters")
    p.set_defaults(run=demo)

    p = commands.add_parser("fit", help="cluster a .npy, .npz or .csv file",
                            description="Cluster the rows of DATA (.npy, .npz with one array, "
                                        "or .csv with an optional header row).")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-k", "--n-clusters", dest="k", type=_positive_int, required=True,
                   metavar="K", help="number of clusters")
    p.add_argument("--backend", default="numpy", metavar="B",
                   help=f"{backend_help} (default numpy)")
    p.add_argument("--init", choices=["k-means++", "k-means||", "random"], default="k-means++",
                   help="seeding (default k-means++)")
    p.add_argument("--n-init", type=_n_init, default="auto", metavar="N",
                   help="restarts, the best kept (default auto: 1 for k-means++, 10 for random)")
    p.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    p.add_argument("--max-iter", type=_positive_int, default=300, metavar="N",
                   help="iterations per restart at most (default 300)")
    p.add_argument("--tol", type=float, default=1e-4, metavar="T",
                   help="tolerance on the centre shift, relative to the data's variance "
                        "(default 1e-4)")
    p.add_argument("--dtype", choices=["float32", "float64"],
                   help="compute in this dtype (default: the file's floats, else float64)")
    p.add_argument("-o", "--output", metavar="OUT.npz", help="save the fitted model")
    p.add_argument("--plot", metavar="FILE.png", help="save a picture of the clusters and "
                   "of the convergence (needs matplotlib)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing on success; no progress bar")
    p.set_defaults(run=fit)

    p = commands.add_parser("predict", help="assign data to a saved model's clusters",
                            description="Assign the rows of DATA to the nearest centre of "
                                        "MODEL.npz (written by 'anykmeans fit -o').")
    p.add_argument("model", metavar="MODEL.npz")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-o", "--output", metavar="LABELS.npy",
                   help="save the labels (default: print one per line)")
    p.add_argument("--backend", default="numpy", metavar="B",
                   help=f"{backend_help} (default numpy)")
    p.set_defaults(run=predict)

    p = commands.add_parser("backends", help="list usable array libraries and devices")
    p.set_defaults(run=list_backends)

    commands.add_parser("bench", add_help=False,
                        help="run the benchmark suite (a source checkout's; "
                             "'anykmeans bench --help' for its options)")
    return parser


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split("\n")).strip() or type(exc).__name__


def _show_warning(message: Warning | str, category: type[Warning], *args: Any,
                  **kwargs: Any) -> None:
    print(f"anykmeans: warning: {_one_line(Warning(message))}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    run: Callable[[], int]
    if argv[:1] == ["bench"]:
        def run() -> int:
            return bench(argv[1:])
    else:
        args = build_parser().parse_args(argv)

        def run() -> int:
            return args.run(args)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return run()
    except (CommandError, ValueError, TypeError, OSError, ImportError) as exc:
        print(f"anykmeans: error: {_one_line(exc)}", file=sys.stderr)
        return ERROR
    except KeyboardInterrupt:
        print("anykmeans: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
