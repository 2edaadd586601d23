"""The ``anykmeans`` command line (also ``python -m anykmeans``).

Commands: ``demo``, ``fit``, ``predict``, ``backends`` and ``bench`` (the
benchmark suite of a source checkout). Every expected failure (a missing or
unreadable file, bad parameters, a backend that is not installed) is reported
as one line on stderr with exit status 2, never a traceback; output to a reader
that has gone (``| head``) ends quietly, with the status of a process killed by
SIGPIPE.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

from . import __version__
from ._backends import LIBRARIES, Backend, backends
from ._datafiles import READ_ERRORS, Table, csv_header, one_line, read_table
from ._datasets import load_iris
from ._estimators import BisectingKMeans, KMeans, load
from ._exceptions import StandardizedModelWarning
from ._kmeans import resolve_n_init
from ._libraries import library_named
from ._namespace import to_host
from ._persistence import read_scaling, save_model
from ._scaling import feature_moments, scale_hint, standardize
from ._validation import BISECTING_STRATEGIES, counted

#: Exit status of every reported error (argparse's for usage errors).
ERROR = 2
#: Exit status when stdout's reader has gone (``| head``): a process killed by SIGPIPE's.
PIPE_CLOSED = 128 + 13

#: Shell-safe spellings of ``--init`` values (``|`` is a shell operator), by the value.
INIT_SPELLINGS = {"kmeans-parallel": "k-means||"}

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


#: Erases from the cursor to the end of the line (the ANSI "erase in line" sequence).
CLEAR_LINE = "\x1b[K"


def _duration(seconds: float) -> str:
    """``seconds`` as ``45s``, ``2m05s`` or ``1h02m``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def _terminal_width(stream: IO[str]) -> int:
    """The columns of the terminal ``stream`` draws on, asked afresh (the window may have been
    resized): its own terminal's, else :func:`shutil.get_terminal_size`'s answer."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):  # no file descriptor, or not a terminal
        columns = 0
    return columns or shutil.get_terminal_size().columns


class ProgressLine:
    """A progress bar on one self-rewriting terminal line: share done, time left, restart,
    iteration, inertia.

    Call it as the ``on_iteration(restart, iteration, inertia)`` hook of
    :meth:`KMeans.fit`; it redraws at most every ``interval`` seconds (and at
    every new restart), each time to the terminal's current width (see
    :meth:`render`) and clearing the rest of the line, so that no drawing
    wraps or leaves characters behind; :meth:`close` erases the line.

    Parameters
    ----------
    stream : text stream
        Where to draw, normally ``sys.stderr`` when it is a terminal.
    n_restarts, max_iter : int
        The restarts to run, and the iterations each may take at most.
    interval : float
        The least time between two redraws of one restart, in seconds.
    """

    def __init__(self, stream: IO[str], n_restarts: int, max_iter: int,
                 interval: float = 0.1) -> None:
        self.stream, self.n_restarts, self.max_iter = stream, n_restarts, max_iter
        self.interval = interval
        self._start = time.monotonic()
        self._last_draw = -float("inf")
        self._restart, self._iterations = -1, 0  # the current restart, its iterations so far
        self._finished: list[int] = []  # the iterations of every finished restart
        self._drawn = False

    def __call__(self, restart: int, iteration: int, inertia: float) -> None:
        now = time.monotonic()
        new_restart = restart != self._restart
        if new_restart and self._restart >= 0:
            self._finished.append(self._iterations)
        self._restart, self._iterations = restart, iteration + 1
        if not new_restart and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        line = self.render(inertia, now - self._start, _terminal_width(self.stream))
        self.stream.write("\r" + line + CLEAR_LINE)
        self.stream.flush()
        self._drawn = True

    def render(self, inertia: float, elapsed: float, width: int) -> str:
        """The line to draw: shorter than ``width``, whole fields only, the most useful first.

        A bar and the share of the work done, the time left, the restart, the
        iteration and the inertia, in that order, as many as fit in
        ``width - 1`` columns (the last column is left free: writing there wraps
        some terminals). The work left is estimated in iterations: ``max_iter``
        for each restart to come until one has finished (the time left is then
        an upper bound, shown ``eta <``), the finished restarts' mean
        afterwards; the time per iteration is ``elapsed`` over those done.

        Parameters
        ----------
        inertia : float
            The current restart's latest inertia.
        elapsed : float
            Seconds since the fit started.
        width : int
            The terminal's columns.

        Returns
        -------
        str
            Without control characters.
        """
        done = sum(self._finished) + self._iterations
        per_restart = (sum(self._finished) / len(self._finished) if self._finished
                       else self.max_iter)
        left = (max(per_restart - self._iterations, 0)
                + per_restart * (self.n_restarts - self._restart - 1))
        share = done / (done + left)
        eta = elapsed / done * left if done else 0.0
        slots = min(30, max(10, width // 4))
        filled = int(slots * share)
        line = f"[{'#' * filled}{'.' * (slots - filled)}]"
        for field in (f"{share:3.0%}", f"eta {'' if self._finished else '<'}{_duration(eta)}",
                      f"restart {self._restart + 1}/{self.n_restarts}",
                      f"iteration {self._iterations}/{self.max_iter}", f"inertia {inertia:.6g}"):
            if len(line) + 2 + len(field) >= width:
                break
            line += "  " + field
        return line[:width - 1]

    def close(self) -> None:
        """Erase the line (if anything was drawn)."""
        if self._drawn:
            self.stream.write("\r" + CLEAR_LINE)
            self.stream.flush()
            self._drawn = False


# -- inputs -----------------------------------------------------------------------------------


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


def _check_plotting(path: str | None = None) -> None:
    """Raise ImportError (one line) now, before the work to draw, if matplotlib is missing;
    and CommandError if it cannot write the kind of file ``path`` names."""
    from .plot import _matplotlib

    _matplotlib()
    if path is not None:
        from matplotlib.backend_bases import FigureCanvasBase

        kinds = FigureCanvasBase.get_supported_filetypes()
        kind = Path(path).suffix.lower().removeprefix(".")
        if kind not in kinds:
            raise CommandError(f"cannot draw {path}: matplotlib writes "
                               f"{', '.join('.' + k for k in sorted(kinds))} files")


def _save_plot(path: str, X: Any, model: KMeans, feature_names: Sequence[str],
               standardized: bool = False) -> None:
    """Save :func:`anykmeans.plot.plot_fit`'s figure, saying whether ``X`` holds z-scores."""
    from .plot import plot_fit

    with warnings.catch_warnings():  # X is the file's columns, which the model names
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        figure = plot_fit(X, model, feature_names)
    if standardized:
        clusters = figure.axes[0]
        clusters.set_title(f"{clusters.get_title()} (features standardized)")
    figure.savefig(path, dpi=100)


def _feature_names(header: Sequence[str] | None, n_features: int) -> list[str]:
    return list(header) if header else [f"feature {j}" for j in range(n_features)]


def _check_range(data: np.ndarray, dtype: str) -> None:
    """Refuse ``data`` whose values lie beyond ``dtype``'s range (converted, they would
    become infinite).

    Raises
    ------
    CommandError
        Naming the largest magnitude and the range.
    """
    largest = float(max(data.max(), -data.min())) if data.dtype.kind == "f" else 0.0
    limit = float(np.finfo(dtype).max)
    if largest > limit:
        raise CommandError(f"the data holds values up to {largest:.3g}, beyond {dtype}'s range "
                           f"({limit:.3g}); use --dtype float64")


def _pick_model_columns(model: KMeans, data_file: str, columns: Sequence[str] | None
                        ) -> Sequence[str] | None:
    """The columns ``predict`` reads: those asked for, else the model's feature names where
    the file has a header (by name, in the model's order; the file's other columns are not
    read), else all.

    Raises
    ------
    CommandError
        If the file's header lacks one of the model's names.
    """
    fitted = getattr(model, "feature_names_in_", None)
    header = csv_header(data_file)
    if columns or fitted is None or header is None:
        return columns
    missing = [name for name in fitted.tolist() if name not in header]
    if missing:
        raise CommandError(f"{data_file} has no column {missing[0]!r}: the model was fitted on "
                           f"the columns {', '.join(fitted.tolist())}")
    return fitted.tolist()


def _check_model_columns(model: KMeans, data_file: str, table: Table) -> None:
    """Check that the columns read are the model's features, by name where both have names.

    Raises
    ------
    CommandError
        If both have names and they differ (in order, too).

    Warns
    -----
    UserWarning
        If only one of them has names: the columns are then taken in order.
    """
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None and table.header is not None:
        if table.header != fitted.tolist():
            raise CommandError(f"the columns {', '.join(table.header)} of {data_file} are not "
                               f"the model's, {', '.join(fitted.tolist())}, in that order")
    elif fitted is not None:
        warnings.warn(f"{data_file} has no header: its columns are taken as the model's, in "
                      f"order: {', '.join(fitted.tolist())}", UserWarning, stacklevel=2)
    elif table.header is not None:
        warnings.warn(f"the model was fitted without column names: the columns of {data_file} "
                      "are taken in their order", UserWarning, stacklevel=2)


# -- commands ---------------------------------------------------------------------------------


def demo(args: argparse.Namespace) -> int:
    """Cluster the embedded iris data on every usable backend and compare with NumPy."""
    if args.plot:
        _check_plotting()
    X, species, feature_names = load_iris()
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
        _save_plot(args.plot, X, reference, feature_names)
        print(f"\nwrote {args.plot}")
    return 0 if all(row[-1] == "yes" for row in rows) else 1


def fit(args: argparse.Namespace) -> int:
    """Cluster a data file; print a summary, optionally save the model and a plot."""
    if args.plot:
        _check_plotting(args.plot)
    data, header = read_table(args.data, args.columns, args.drop)
    file_dtype = data.dtype
    if args.output:
        args.output = _output_path(args.output, ".npz", [args.data])
    names = _feature_names(header, data.shape[1])
    if args.dtype and not args.standardize:
        _check_range(data, args.dtype)
    scaling = None
    if args.standardize:
        mean, std = feature_moments(data)
        scaling = mean, np.where(std > 0, std, 1.0)  # a constant feature is centred only
        data = standardize(data, *scaling)
    elif not args.quiet and (hint := scale_hint(data, names)):
        print(f"anykmeans: hint: {hint}", file=sys.stderr)
    if args.dtype:
        data = data.astype(args.dtype)
    backend = _backend(args.backend)
    X = backend.asarray(data)
    model = _estimator(args)
    progress = None
    if not args.quiet and sys.stderr.isatty() and not args.bisecting:
        n_restarts = resolve_n_init(args.n_init, model.init)
        progress = ProgressLine(sys.stderr, n_restarts, args.max_iter)
    try:
        model.fit(X, **({} if args.bisecting else {"on_iteration": progress}))
    finally:
        if progress is not None:
            progress.close()
    if header is not None:  # predict reads the same columns by name
        model._replace_fit({}, np.asarray(header, dtype=object))
    if args.output:
        save_model(model, args.output, scaling)
    if args.plot:
        _save_plot(args.plot, X, model, names, args.standardize)
    if not args.quiet:
        sizes = np.bincount(to_host(model.labels_), minlength=args.k)
        used = str(model.cluster_centers_.dtype).split(".")[-1]
        print(f"{args.data}: {counted(X.shape[0], 'sample')}, {counted(X.shape[1], 'feature')}; "
              f"k={args.k} on {backend.name}, in {used}"
              + ("" if used == file_dtype.name else f" (the file holds {file_dtype})"))
        if header is not None:
            print("columns clustered:" if args.columns or args.drop
                  else "first line taken as a header:", ", ".join(header))
        if args.standardize:
            print("features standardized: each centred and divided by its standard deviation"
                  + (" (kept in the model file for predict)" if args.output else ""))
        if args.bisecting:
            print(f"inertia {model.inertia_:.8g} after {counted(args.k - 1, 'bisection')} "
                  f"({model.bisecting_strategy})")
        else:
            cosine = " (sum of 1 - cos)" if args.metric == "cosine" else ""
            print(f"inertia{cosine} {model.inertia_:.8g} after "
                  f"{counted(model.n_iter_, 'iteration')} "
                  f"({counted(len(model.inertia_histories_), 'restart')}, the best kept)")
        print("cluster sizes:", " ".join(map(str, sizes)))
        for path in (args.output, args.plot):
            if path:
                print(f"wrote {path}")
    return 0


def _estimator(args: argparse.Namespace) -> KMeans | BisectingKMeans:
    """The estimator ``fit`` asked for: bisecting k-means with ``--bisecting``, else k-means.

    Raises
    ------
    CommandError
        For ``--bisecting`` with k-means|| seeding or the cosine metric, and for
        ``--bisecting-strategy`` without ``--bisecting``.
    """
    init = INIT_SPELLINGS.get(args.init, args.init)
    options = dict(init=init, max_iter=args.max_iter, tol=args.tol, random_state=args.seed)
    if not args.bisecting:
        if args.bisecting_strategy is not None:
            raise CommandError("--bisecting-strategy chooses the splits of --bisecting, which "
                               "was not given")
        return KMeans(args.k, n_init=args.n_init, metric=args.metric, **options)
    if args.metric != "euclidean":
        raise CommandError("--bisecting clusters with the Euclidean metric only")
    if init == "k-means||":
        raise CommandError("--bisecting seeds each split with k-means++ or random, not k-means||")
    if args.bisecting_strategy is not None:
        options["bisecting_strategy"] = args.bisecting_strategy
    return BisectingKMeans(args.k, n_init=1 if args.n_init == "auto" else args.n_init, **options)


def _load_model(path: str, backend: Backend) -> KMeans:
    """The model in the file ``path``, its arrays on ``backend``.

    Raises
    ------
    CommandError
        If the file is missing, or what a damaged file raises from deeper down
        than the model file's own checks.
    ValueError
        If it is not an anykmeans model file (the reason named).
    """
    if not Path(path).exists():
        raise CommandError(f"no such file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StandardizedModelWarning)  # predict applies it
            return load(path, like=backend.asarray(np.zeros((1, 1))))
    except ValueError:
        raise  # the report of a file that is not a model
    except (*READ_ERRORS, TypeError, LookupError, AttributeError) as exc:
        raise CommandError(f"{path} is not a readable anykmeans model file "
                           f"({one_line(exc)})") from exc


def predict(args: argparse.Namespace) -> int:
    """Assign the samples of a data file to the centres of a saved model (its columns by name
    where both have names; standardised as the model's were, if ``fit --standardize`` saved
    it); print or save the labels."""
    backend = _backend(args.backend)
    model = _load_model(args.model, backend)
    table = read_table(args.data, _pick_model_columns(model, args.data, args.columns), args.drop)
    _check_model_columns(model, args.data, table)
    data = table.data
    as_csv = Path(args.output or "").suffix.lower() == ".csv"
    if args.output:
        args.output = _output_path(args.output, Path(args.output).suffix if as_csv else ".npy",
                                   [args.model, args.data])
    scaling = read_scaling(args.model, model.n_features_in_)
    if scaling is not None and data.shape[1] == model.n_features_in_:  # else predict says so
        data = standardize(data, *scaling)
    with warnings.catch_warnings():  # the names were matched above, on the file's header
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        labels = np.asarray(to_host(model.predict(backend.asarray(data))))
    if not args.output:
        sys.stdout.write("".join(f"{label}\n" for label in labels.tolist()))
    elif as_csv:
        np.savetxt(args.output, labels, fmt="%d")
    else:
        np.save(args.output, labels)
    return 0


def list_backends(args: argparse.Namespace) -> int:
    """Print which array libraries and devices are usable here, and why not."""
    rows = [[b.library, b.device, "yes" if b.usable else "no", b.note] for b in backends()]
    print(_table(["library", "device", "usable", "version / why not"], rows))
    return 0


def bench(argv: Sequence[str]) -> int:
    """Run the benchmark suite of the source checkout this package is installed from (its
    ``benchmarks`` folder) in a process of its own, with ``argv``; return its exit status."""
    checkout = _benchmark_checkout()
    if checkout is None:
        raise CommandError(
            "the benchmark suite is not installed: it lives in the source repository's "
            "benchmarks/ folder; run this from a clone installed with pip install -e .")
    run_suite = ("import sys; from benchmarks.__main__ import main; "
                 "sys.exit(main(sys.argv[1:], prog='anykmeans bench'))")
    return subprocess.run([sys.executable, "-c", run_suite, *argv], cwd=checkout,
                          check=False).returncode


def _benchmark_checkout() -> Path | None:
    """The source checkout holding this package and a ``benchmarks`` suite, if it is one."""
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "benchmarks" / "__main__.py").is_file() else None


# -- the parser and the entry point -----------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


_positive_int.__name__ = "positive int"  # argparse names the type in its message


def _n_init(text: str) -> int | str:
    return text if text == "auto" else _positive_int(text)


_n_init.__name__ = "positive int or 'auto'"


def _column_list(text: str) -> list[str]:
    """A comma-separated list of column names or numbers."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ValueError(text)
    return items


_column_list.__name__ = "comma-separated list of columns"


def _add_column_options(parser: argparse.ArgumentParser) -> None:
    """``--columns`` and ``--drop``, which pick the columns of ``DATA`` to read."""
    parser.add_argument("--columns", type=_column_list, metavar="C1,C2,...",
                        help="read only these columns of DATA, in this order: names from its "
                             "header, or numbers counted from 1")
    parser.add_argument("--drop", type=_column_list, metavar="C1,C2,...",
                        help="leave out these columns of DATA (an index, a label, a target)")


def build_parser() -> argparse.ArgumentParser:
    """The ``anykmeans`` argument parser."""
    parser = ArgumentParser(prog="anykmeans", description="k-means on any Array API library.")
    parser.add_argument("--version", action="version", version=f"anykmeans {__version__}")
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
    _add_column_options(p)
    p.add_argument("-k", "--n-clusters", dest="k", type=_positive_int, required=True,
                   metavar="K", help="number of clusters")
    p.add_argument("--backend", default="numpy", metavar="B",
                   help=f"{backend_help} (default numpy)")
    p.add_argument("--init", choices=["k-means++", *INIT_SPELLINGS, "k-means||", "random"],
                   default="k-means++",
                   help="seeding (default k-means++); kmeans-parallel is k-means|| "
                        "(which a shell needs quoted: 'k-means||')")
    p.add_argument("--n-init", type=_n_init, default="auto", metavar="N",
                   help="restarts, the best kept (default auto: 1 for k-means++, 10 for random)")
    p.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    p.add_argument("--max-iter", type=_positive_int, default=300, metavar="N",
                   help="iterations per restart at most (default 300)")
    p.add_argument("--tol", type=float, default=1e-4, metavar="T",
                   help="tolerance on the centre shift, relative to the data's variance "
                        "(default 1e-4)")
    p.add_argument("--bisecting", action="store_true",
                   help="bisecting k-means: split a cluster in two until there are K "
                        "(see --bisecting-strategy); --tol is then absolute, --n-init auto is 1")
    p.add_argument("--bisecting-strategy", choices=BISECTING_STRATEGIES, metavar="STRATEGY",
                   help="with --bisecting, the cluster to split: biggest_inertia (the default) "
                        "or largest_cluster (most samples)")
    p.add_argument("--metric", choices=["euclidean", "cosine"], default="euclidean",
                   help="cosine: spherical k-means, clustering the rows' directions "
                        "(default euclidean)")
    p.add_argument("--standardize", action="store_true",
                   help="cluster z-scores: centre every feature and divide it by its standard "
                        "deviation (kept in the -o model file; predict applies them)")
    p.add_argument("--dtype", choices=["float32", "float64"],
                   help="compute in this dtype (default: the file's floats, else the "
                        "backend's default float; the summary says which)")
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
    _add_column_options(p)
    p.add_argument("-o", "--output", metavar="LABELS.npy|LABELS.csv",
                   help="save the labels: one per line in a .csv file, else a .npy file "
                        "(default: print them one per line)")
    p.add_argument("--backend", default="numpy", metavar="B",
                   help=f"{backend_help} (default numpy)")
    p.set_defaults(run=predict)

    p = commands.add_parser("backends", help="list usable array libraries and devices")
    p.set_defaults(run=list_backends)

    commands.add_parser("bench", add_help=False,
                        help="run the benchmark suite (a source checkout's; "
                             "'anykmeans bench --help' for its options)")
    return parser


def _show_warning(message: Warning | str, category: type[Warning], *args: Any,
                  **kwargs: Any) -> None:
    print(f"anykmeans: warning: {one_line(Warning(message))}", file=sys.stderr)


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
            status = run()
            sys.stdout.flush()  # a reader gone early is found here, not at the interpreter's exit
            return status
    except BrokenPipeError:
        # stdout's reader has gone (``| head``): stop quietly, as command-line tools do; stdout
        # goes to the null device, for the interpreter's last flush at exit
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
        return PIPE_CLOSED
    except (CommandError, ValueError, TypeError, OSError, ImportError) as exc:
        print(f"anykmeans: error: {one_line(exc)}", file=sys.stderr)
        return ERROR
    except KeyboardInterrupt:
        print("anykmeans: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
