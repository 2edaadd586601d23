"""Nothing lost, nothing read that was not asked for.

1. No input array is ever modified: every input of every public call (data,
   sample weights, initial centres, the array a callable init returns, a
   fitted model's own centres) is fingerprinted before and after the call,
   on every backend, for ``copy_x`` True and False and every kind of init.
   NumPy inputs are also passed read-only, so an in-place write would raise.
2. The library touches no file, environment variable, process or network
   resource the caller did not name (the command line: its DATA and -o files).
   How this is checked, and its limits:

   * Python's audit hooks (PEP 578) report every ``open``, socket, process,
     ``os.putenv``/``os.unsetenv``, directory and unpickling event in the
     interpreter. A hook installed once per session records the events raised
     while a guard is active and *attributed to anykmeans*: the innermost
     frame outside the standard library that led to the event is anykmeans
     code. So anykmeans asking Python for I/O, directly or through any
     standard-library helper, is caught; what an array library does inside
     its own code is that library's (Dask pickles its task graphs and reads
     ``/proc``, JAX reads ``XLA_FLAGS`` when it compiles, threadpoolctl reads
     ``/proc/self/maps`` to find the BLAS libraries), and importing a module is
     not counted. Code in C that bypasses Python (a C ``fopen`` or
     ``getenv``) raises no event: the check covers what Python code can do.
   * ``os.environ`` raises no audit event when read, so during the guard it is
     replaced by a mapping that records the reads and writes attributed to
     anykmeans the same way (``os.getenv`` reads through it too).
   * Audit hooks cannot be removed; the hook is a no-op outside a guard.
"""

from __future__ import annotations

import collections.abc
import contextlib
import io
import os
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import numpy as np
import pytest

import anykmeans
from anykmeans._libraries import PLAN_VARIABLE
from tests.conftest import host
from tests.data import blobs, weights

PACKAGE_DIR = str(Path(anykmeans.__file__).parent)


# -- fingerprints ---------------------------------------------------------------------------

def fingerprint(x) -> tuple:
    """Everything observable about an array's contents: type, dtype, shape, bytes (and versions).

    ``torch.Tensor._version`` counts in-place operations, even ones that
    restore the same values; NumPy arrays also keep their flags and strides.
    """
    values = host(x)
    extra = ()
    if hasattr(x, "_version"):
        extra = (x._version,)
    if isinstance(x, np.ndarray):
        extra = (x.flags.writeable, x.flags.c_contiguous, x.strides)
    return (type(x), str(x.dtype), tuple(x.shape), values.tobytes(), *extra)


def assert_untouched(call, *inputs, **named_inputs):
    """Run ``call()`` and check that none of the inputs changed; return its result."""
    arrays = [a for a in (*inputs, *named_inputs.values()) if hasattr(a, "shape")]
    before = [fingerprint(a) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicates, n_init with an array init...
        result = call()
    after = [fingerprint(a) for a in arrays]
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        assert b == a, f"input {i} of {getattr(call, '__name__', call)} was modified"
    return result


def read_only(x):
    """NumPy arrays made read-only (a write would raise); other arrays as they are."""
    if isinstance(x, np.ndarray):
        x = x.copy()
        x.flags.writeable = False
    return x


def inputs(xp, n_clusters: int = 4):
    X = read_only(xp.asarray(blobs(80, 3, n_clusters, seed=5)))
    w = read_only(xp.asarray(weights(80, 5)))
    init = read_only(xp.asarray(blobs(80, 3, n_clusters, seed=5)[:n_clusters] + 0.5))
    return X, w, init


def init_callable(returned: list):
    """An init callable that returns a *view* of the caller's X (and remembers it)."""
    def init(X, n_clusters, random_state):
        centres = X[:n_clusters, :]
        returned.append((centres, fingerprint(centres)))
        return centres
    return init


def param_sets(init_array, init_returned):
    """Every kind of init, ``copy_x`` both ways, small chunks, restarts, the elkan alias."""
    return [
        dict(init="k-means++", copy_x=True),
        dict(init=init_array, copy_x=False),
        dict(init="random", n_init=2, copy_x=False, chunk_size=25, algorithm="elkan"),
        dict(init="k-means||", copy_x=True),
        dict(init=init_callable(init_returned), n_init=1, copy_x=False),
    ]


def core_params(params: dict) -> dict:
    return {k: v for k, v in params.items() if k not in ("copy_x", "algorithm")}


def check_estimator_calls(X, w, init, params):
    """fit, predict, transform and score with ``params``: inputs untouched."""
    model = assert_untouched(
        lambda: anykmeans.KMeans(4, random_state=0, **params).fit(X, sample_weight=w), X, w, init)
    centres = model.cluster_centers_
    assert_untouched(lambda: model.predict(X), X, init, centres)
    assert_untouched(lambda: model.transform(X), X, init, centres)
    assert_untouched(lambda: model.score(X, sample_weight=w), X, w, init, centres)
    return model


def test_no_input_is_modified(xp):
    """Each public call on each backend, the parameter sets spread over the calls.

    JAX arrays are immutable, so on JAX the check is a formality: it runs with
    the initial centres given (an array, a callable), which skips the seeding
    code that JAX compiles op by op for seconds on a cold cache.
    """
    X, w, init = inputs(xp)
    returned = []
    fit_params, predict_params, transform_params, core_1, core_2 = param_sets(init, returned)
    if xp.backend.library == "jax":
        fit_params, transform_params, core_1 = predict_params, core_2, predict_params
    check_estimator_calls(X, w, init, fit_params)
    assert_untouched(lambda: anykmeans.KMeans(4, random_state=0, **predict_params)
                     .fit_predict(X, sample_weight=w), X, w, init)
    assert_untouched(lambda: anykmeans.KMeans(4, random_state=0, **transform_params)
                     .fit_transform(X, sample_weight=w), X, w, init)
    for params in (core_1, core_2):
        assert_untouched(lambda p=params: anykmeans.kmeans(X, 4, sample_weight=w, random_state=1,
                                                           **core_params(p)), X, w, init)
    assert_untouched(lambda: anykmeans.kmeans_plusplus(X, 4, sample_weight=w, random_state=2),
                     X, w)
    assert returned, "the init callable was never called"
    for centres, print_ in returned:
        assert fingerprint(centres) == print_, "the array the init callable returned was modified"


@pytest.mark.parametrize("params_index", range(5))
def test_no_input_is_modified_numpy_every_parameter(params_index):
    """NumPy, read-only inputs: every parameter set through every estimator call."""
    from tests.conftest import CASES

    numpy_case = next(p.values[0] for p in CASES if p.values[0].backend.library == "numpy")
    X, w, init = inputs(numpy_case)
    returned = []
    params = param_sets(init, returned)[params_index]
    check_estimator_calls(X, w, init, params)
    assert_untouched(lambda: anykmeans.KMeans(4, random_state=0, **params)
                     .fit_predict(X, sample_weight=w), X, w, init)
    assert_untouched(lambda: anykmeans.KMeans(4, random_state=0, **params)
                     .fit_transform(X, sample_weight=w), X, w, init)
    assert_untouched(lambda: anykmeans.kmeans(X, 4, sample_weight=w, **core_params(params)),
                     X, w, init)
    for centres, print_ in returned:
        assert fingerprint(centres) == print_


@pytest.mark.parametrize("layout", ["fortran", "strided view", "float32", "int64"])
def test_no_input_is_modified_numpy_layouts(layout):
    """Layouts and dtypes that tempt a library into converting in place."""
    base = blobs(60, 3, 3, seed=6)
    X = {"fortran": np.asfortranarray(base), "strided view": np.repeat(base, 2, axis=0)[::2],
         "float32": base.astype(np.float32), "int64": np.round(base * 10).astype(np.int64)}[layout]
    X = read_only(X)
    w = read_only(weights(60, 6).astype(np.float32))  # another dtype than X: converted, not cast
    check_estimator_calls(X, w, None, dict(init="k-means++", copy_x=False, chunk_size=9))


@pytest.mark.skipif(not hasattr(anykmeans, "MiniBatchKMeans"), reason="no MiniBatchKMeans yet")
def test_no_input_is_modified_minibatch(xp):
    X, w, init = inputs(xp)
    model = assert_untouched(
        lambda: anykmeans.MiniBatchKMeans(4, init=init, batch_size=16, max_iter=3, random_state=0)
        .fit(X, sample_weight=w), X, w, init)
    assert_untouched(lambda: model.partial_fit(X[:20, :], sample_weight=w[:20]), X, w, init)
    centres = model.cluster_centers_
    assert_untouched(lambda: model.predict(X), X, centres)
    assert_untouched(lambda: model.transform(X), X, centres)
    assert_untouched(lambda: model.score(X, sample_weight=w), X, w, centres)


@pytest.mark.skipif(not hasattr(anykmeans, "load"), reason="no anykmeans.load yet")
def test_load_modifies_neither_the_file_nor_like(xp, tmp_path):
    X = inputs(xp)[0]
    path = tmp_path / "model.npz"
    anykmeans.KMeans(4, random_state=0).fit(X).save(path)
    contents = path.read_bytes()
    loaded = assert_untouched(lambda: anykmeans.load(path, like=X), X)
    assert path.read_bytes() == contents
    assert_untouched(lambda: loaded.predict(X), X, loaded.cluster_centers_)


# -- nothing read that was not asked for ----------------------------------------------------

#: Audit events (PEP 578 and the standard library's table) that touch the world
#: outside the process's memory.
WATCHED_EVENTS = (
    "open", "os.listdir", "os.scandir", "os.remove", "os.rename", "os.mkdir", "os.rmdir",
    "os.chmod", "os.chown", "os.truncate", "os.link", "os.symlink", "os.utime", "os.chdir",
    "os.putenv", "os.unsetenv", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
    "os.fork", "os.startfile", "os.kill", "subprocess.Popen", "socket.", "urllib.Request",
    "http.client.", "ftplib.", "smtplib.", "shutil.", "tempfile.", "sqlite3.connect",
    "glob.glob", "pickle.find_class", "marshal.load", "webbrowser.open",
)

_guard = {"active": False, "events": [], "allowed": set(), "environ": set()}


STDLIB_DIR = sysconfig.get_paths()["stdlib"]


def _in_stdlib(filename: str) -> bool:
    return filename.startswith("<") or (
        filename.startswith(STDLIB_DIR) and "-packages" not in filename)


def _attributed_to_anykmeans(frame) -> bool:
    """Whether the innermost frame outside the standard library, from ``frame`` out, is ours.

    Events raised while the import system runs (loading a module) are not attributed.
    """
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<frozen importlib"):
            return False
        if not _in_stdlib(filename):
            return filename.startswith(PACKAGE_DIR)
        frame = frame.f_back
    return False


def _audit(event: str, args: tuple) -> None:
    if not _guard["active"] or not event.startswith(WATCHED_EVENTS):
        return
    if event == "open" and args and str(args[0]) in _guard["allowed"]:
        return
    if _attributed_to_anykmeans(sys._getframe(1)):
        _guard["events"].append((event, args[:2]))


class _RecordingEnviron(collections.abc.MutableMapping):
    """``os.environ``, recording the keys anykmeans code reads or writes."""

    def __init__(self, environ):
        self._environ = environ

    def _note(self, key):
        if key not in _guard["environ"] and _attributed_to_anykmeans(sys._getframe(2)):
            _guard["events"].append(("os.environ", key))

    def __getitem__(self, key):
        self._note(key)
        return self._environ[key]

    def __setitem__(self, key, value):
        self._note(key)
        self._environ[key] = value

    def __delitem__(self, key):
        self._note(key)
        del self._environ[key]

    def __iter__(self):
        self._note("<all>")
        return iter(self._environ)

    def __len__(self):
        return len(self._environ)

    def __contains__(self, key):
        self._note(key)
        return key in self._environ

    def copy(self):
        self._note("<all>")
        return dict(self._environ)


@pytest.fixture(scope="session")
def _audit_hook():
    sys.addaudithook(_audit)  # cannot be removed; inert outside `guard`


@pytest.fixture
def guard(_audit_hook, monkeypatch):
    """``with guard(*allowed_paths, environ=allowed_keys) as events: ...`` records the rest."""
    @contextlib.contextmanager
    def guarding(*allowed, environ=()):
        events: list = []
        monkeypatch.setattr(os, "environ", _RecordingEnviron(os.environ))
        # ANYKMEANS_PLAN is anykmeans' own documented switch between plans: always read.
        _guard.update(active=True, events=events, allowed={str(p) for p in allowed},
                      environ={*environ, PLAN_VARIABLE})
        try:
            yield events
        finally:
            _guard.update(active=False, events=[], allowed=set(), environ=set())
            monkeypatch.undo()

    return guarding


def test_the_guard_sees_file_and_environment_access(guard, tmp_path):
    """The guard is able to fail: anykmeans-looking code that opens a file and reads a variable."""
    fake = compile("open(path, 'w').close()\nimport os\nos.environ.get('HOME')",
                   os.path.join(PACKAGE_DIR, "_not_a_module.py"), "exec")
    with guard() as events:
        exec(fake, {"path": str(tmp_path / "x")})
    kinds = [event for event, _ in events]
    assert "open" in kinds and "os.environ" in kinds


#: Importing threadpoolctl (on the first NumPy fit) sets this variable; anykmeans reads it
#: before and puts it back after, leaving it as it was (tests/test_processes.py checks that).
THREADPOOLCTL_ENVIRON = ("KMP_DUPLICATE_LIB_OK",)


def test_fitting_touches_no_outside_resource(xp, guard):
    X, w, _ = inputs(xp)
    returned = []
    calls = [
        lambda: anykmeans.KMeans(4, random_state=0, verbose=1).fit(X, sample_weight=w)
        .transform(X),
        lambda: anykmeans.kmeans(X, 4, init=init_callable(returned), random_state=0),
    ]
    if hasattr(anykmeans, "MiniBatchKMeans"):
        calls.append(lambda: anykmeans.MiniBatchKMeans(4, batch_size=16, max_iter=2,
                                                       random_state=0).fit(X).predict(X))
    if xp.backend.library == "numpy":  # the other inits, on NumPy only (time)
        calls += [lambda: anykmeans.kmeans(X, 4, init="k-means||", random_state=0),
                  lambda: anykmeans.kmeans(X, 4, init="random", n_init=2, random_state=0)]
    for call in calls:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with guard(environ=THREADPOOLCTL_ENVIRON) as events:
                call()
        assert events == [], f"anykmeans touched {events}"


def test_both_numpy_paths_touch_no_outside_resource(numpy_path, guard):
    """The fused path (forced on small data) as the standard one: what Numba reads while it
    compiles is Numba's (docs/guarantees.md); anykmeans' own code asks for nothing."""
    X = blobs(500, 3, 4)
    with guard(environ=THREADPOOLCTL_ENVIRON) as events:
        anykmeans.KMeans(4, random_state=0).fit(X.astype(np.float32)).predict(X)
    assert events == [], f"anykmeans touched {events}"


NUMBA_COMPILES = """
import os, sys
import numpy as np
import anykmeans
from anykmeans._libraries import _fused

_fused.MIN_SCORES = 0  # however small the data
if sys.argv[1:] == ["no-folder"]:  # no folder Numba may write its cache to
    from numba.core import caching
    caching.CacheImpl._locator_classes = []
written = []

WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def hook(event, args):
    if event == "open":
        path, mode, flags = args
        if (isinstance(mode, str) and set(mode) & set("wax+")) or (flags or 0) & WRITING:
            written.append(str(path))
    elif event in ("os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir",
                   "shutil.copyfile"):
        written.append(str(args[0]))

sys.addaudithook(hook)
X = np.random.default_rng(0).standard_normal((600, 3))
for dtype in (np.float32, np.float64):
    anykmeans.KMeans(4, random_state=0).fit(X.astype(dtype), sample_weight=np.ones(600, dtype))
stats = _fused.compiled_kernel().stats
assert _fused.compiled_kernel().signatures, "the loop was not compiled"
print(len(stats.cache_hits), len(stats.cache_misses))
print("\\n".join(written))
"""


def compile_in_a_process(cwd, cache, *args):
    """Run :data:`NUMBA_COMPILES` in a new process, Numba's cache in ``cache``: the loop's
    signatures loaded from the cache and compiled, and the paths the process wrote."""
    environ = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", NUMBA_COMPILES, *args], capture_output=True,
                         text=True, cwd=cwd, timeout=300, check=True, env=environ)
    counts, *written = out.stdout.splitlines()
    loaded, compiled = map(int, counts.split())
    return loaded, compiled, [path for path in written if path]


def test_the_fused_loop_is_compiled_once_into_numbas_cache(tmp_path):
    """The first process compiles the loop (one signature per dtype; and the float32 feature
    means' loop) and writes only into Numba's cache folder; the next loads them and changes
    no file there (Numba opens a temporary file to check that the folder is writable)
    (docs/guarantees.md)."""
    pytest.importorskip("numba")
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()

    def cached_files():
        return {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in cache.rglob("*")
                if path.is_file()}

    files = None
    for loaded_before in (0, 2):
        loaded, compiled, written = compile_in_a_process(work, cache)
        assert (loaded, compiled) == (loaded_before, 2 - loaded_before)
        assert written and all(Path(path).is_relative_to(cache) for path in written), written
        if loaded_before:
            assert cached_files() == files
        files = cached_files()
        assert sorted((path.name.split("-")[0], path.suffix) for path in files) == [
            ("_fused.nearest_and_sums", ".nbc"), ("_fused.nearest_and_sums", ".nbc"),
            ("_fused.nearest_and_sums", ".nbi"), ("_fused_means.add_columns", ".nbc"),
            ("_fused_means.add_columns", ".nbi")]
    assert list(work.iterdir()) == []


def test_without_a_cache_folder_the_fused_loop_is_compiled_in_memory(tmp_path):
    """Where Numba can write no cache folder, the loop is compiled in each process and
    nothing is written."""
    pytest.importorskip("numba")
    loaded, compiled, written = compile_in_a_process(tmp_path, tmp_path / "cache", "no-folder")
    assert (loaded, compiled, written) == (0, 2, [])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(anykmeans, "load"), reason="no anykmeans.load yet")
def test_save_and_load_touch_only_the_named_file(guard, tmp_path):
    X = blobs(50, 2, 3)
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    path = tmp_path / "model.npz"
    with guard(path) as events:
        model.save(path)
        loaded = anykmeans.load(path)
    assert events == [], f"anykmeans touched {events}"
    np.testing.assert_array_equal(loaded.predict(X), model.labels_)


class _Trap:
    """Unpickling this calls :func:`_sprung`: proof that the file ran code."""

    def __reduce__(self):
        return (_sprung, ())


_sprung_calls: list = []


def _sprung():
    _sprung_calls.append(1)
    return 0


@pytest.mark.skipif(not hasattr(anykmeans, "load"), reason="no anykmeans.load yet")
def test_load_never_unpickles(guard, tmp_path):
    """A model file whose arrays hold a pickle: load refuses it without running it."""
    path = tmp_path / "model.npz"
    anykmeans.KMeans(3, random_state=0).fit(blobs(50, 2, 3)).save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    for name in arrays:
        if name != "metadata":
            tampered = tmp_path / f"tampered_{name}.npz"
            np.savez(tampered, **{**arrays, name: np.array([_Trap()], dtype=object)})
            with guard(tampered) as events, pytest.raises(ValueError):
                anykmeans.load(tampered)
            assert events == [] and _sprung_calls == [], f"{name}: {events}"


def test_the_command_line_touches_only_data_and_output(guard, tmp_path):
    """`anykmeans fit DATA -o MODEL`, `predict MODEL DATA -o LABELS`: those files only."""
    from anykmeans.cli import main

    data, model, labels = tmp_path / "data.npy", tmp_path / "model.npz", tmp_path / "labels.npy"
    np.save(data, blobs(60, 2, 3))
    # argparse reads the locale (gettext) and the terminal size (help layout): a command
    # line's conventions, read by the standard library on the CLI's behalf.
    conventions = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG", "COLUMNS", "LINES")
    allowed = (*conventions, *THREADPOOLCTL_ENVIRON)
    with guard(data, model, environ=allowed) as events:
        assert main(["fit", str(data), "-k", "3", "-o", str(model), "-q"]) == 0
    assert events == [], f"anykmeans fit touched {events}"
    with guard(model, data, labels, environ=allowed) as events:
        assert main(["predict", str(model), str(data), "-o", str(labels)]) == 0
    assert events == [], f"anykmeans predict touched {events}"
    assert np.load(labels).shape == (60,)
