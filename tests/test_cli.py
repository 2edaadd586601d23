"""The command line, run as a user runs it: a subprocess on the real entry point."""

from __future__ import annotations

import csv
import fcntl
import importlib.util
import io
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import tracemalloc
import warnings
import zipfile
from contextlib import redirect_stdout

import numpy as np
import pytest

import anykmeans
from anykmeans import cli
from anykmeans._datafiles import read_table
from anykmeans._scaling import scale_hint
from tests.data import blobs, bundled

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
needs_matplotlib = pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib not installed")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "anykmeans", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def without_matplotlib(tmp_path):
    """An environment in which ``import matplotlib`` fails, as where it is not installed."""
    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ImportError('not installed')\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def assert_one_line_error(out, *needles):
    assert out.returncode == cli.ERROR, out.stderr
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0, out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three small blobs in every file format, with scikit-learn's labels for seed 3."""
    folder = tmp_path_factory.mktemp("data")
    X = blobs(240, 3, 4, seed=1)
    np.save(folder / "X.npy", X)
    np.savez(folder / "X.npz", measurements=X)
    np.savetxt(folder / "X.csv", X, delimiter=",", fmt="%.17g")
    np.savetxt(folder / "header.csv", X, delimiter=",", fmt="%.17g", header="a,b,c",
               comments="")
    return folder, X


# -- demo, backends -----------------------------------------------------------------------------


def test_demo_on_numpy_finds_the_three_species():
    out = run("demo", "--backend", "numpy")
    assert out.returncode == 0, out.stderr
    assert "numpy" in out.stdout and "78.85" in out.stdout  # iris k=3 inertia
    counts = out.stdout.split("Clusters against species")[1]
    assert "50" in counts  # setosa is one cluster of its own


@pytest.mark.slow
def test_demo_on_every_backend_agrees_with_numpy():
    out = run("demo")
    assert out.returncode == 0, out.stdout + out.stderr
    assert " NO" not in out.stdout


def test_demo_library_name_selects_its_usable_devices():
    # array_api_strict lists an unusable device (no_x64); naming the library runs on the rest.
    out = run("demo", "--backend", "array_api_strict")
    assert out.returncode == 0, out.stderr
    assert "device1" in out.stdout and "no_x64" not in out.stdout


@needs_matplotlib
def test_demo_plot_writes_a_png(tmp_path):
    out = run("demo", "--backend", "numpy", "--plot", tmp_path / "iris.png")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "iris.png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.slow
def test_backends_lists_libraries():
    out = run("backends")
    assert out.returncode == 0
    assert "numpy" in out.stdout and "usable" in out.stdout


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout == f"anykmeans {anykmeans.__version__}\n"


def test_console_script_runs_every_command():
    script = shutil.which("anykmeans")
    if script is None:
        pytest.skip("the anykmeans console script is not on PATH (package not installed)")
    for command in ("demo", "fit", "predict", "backends"):
        out = subprocess.run([script, command, "--help"], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        assert f"anykmeans {command}" in out.stdout


# -- fit ----------------------------------------------------------------------------------------


def test_fit_same_labels_whatever_the_file_format(data, tmp_path):
    folder, X = data
    from sklearn.cluster import KMeans as SkKMeans

    expected = SkKMeans(4, random_state=3, n_init=1).fit(X).labels_
    for name in ("X.npy", "X.npz", "X.csv", "header.csv"):
        out = run("fit", folder / name, "-k", 4, "--seed", 3, "-o", tmp_path / f"{name}.npz")
        assert out.returncode == 0, (name, out.stderr)
        with np.load(tmp_path / f"{name}.npz", allow_pickle=False) as model:
            np.testing.assert_array_equal(model["labels"], expected, err_msg=name)


@pytest.mark.parametrize("backend", ["torch", "jax", "dask", "array_api_strict:device1"])
def test_fit_same_labels_whatever_the_backend(data, tmp_path, backend):
    # In process (the subprocess path is the same code, tested above on NumPy): a fresh
    # interpreter per backend would spend most of its time importing the library.
    if not any(b.usable for b in anykmeans.backends((backend.split(":")[0],))):
        pytest.skip(f"{backend} is not usable here")
    folder, X = data
    from sklearn.cluster import KMeans as SkKMeans

    expected = SkKMeans(4, random_state=3, n_init=1).fit(X).labels_
    status = cli.main(["fit", str(folder / "X.csv"), "-k", "4", "--seed", "3", "--quiet",
                       "--backend", backend, "-o", str(tmp_path / "m.npz")])
    assert status == 0
    with np.load(tmp_path / "m.npz", allow_pickle=False) as model:
        np.testing.assert_array_equal(model["labels"], expected)


def test_fit_output_holds_a_consistent_model(data, tmp_path):
    folder, X = data
    out = run("fit", folder / "header.csv", "-k", 4, "--init", "random", "--n-init", 3,
              "--max-iter", 50, "--tol", 0, "-o", tmp_path / "model.npz")
    assert out.returncode == 0, out.stderr
    assert "inertia" in out.stdout and "wrote" in out.stdout
    with np.load(tmp_path / "model.npz", allow_pickle=False) as model:
        centres, labels = model["cluster_centers"], model["labels"]
        inertia, n_iter = float(model["inertia"]), int(model["n_iter"])
        params = json.loads(str(model["metadata"]))["params"]
    assert centres.shape == (4, 3) and labels.shape == (240,)
    # inertia is the sum of squared distances to the assigned centres, each the cluster mean
    assert inertia == pytest.approx(np.sum((X - centres[labels]) ** 2), rel=1e-10)
    for j in range(4):
        np.testing.assert_allclose(centres[j], X[labels == j].mean(axis=0), rtol=1e-10)
    assert 1 <= n_iter <= 50
    assert params["init"] == "random" and params["n_init"] == 3 and params["tol"] == 0


@pytest.mark.parametrize("strategy", [None, "largest_cluster"])
def test_fit_bisecting_gives_sklearns_tree_and_predict_descends_it(data, tmp_path, capsys,
                                                                   strategy):
    from sklearn.cluster import BisectingKMeans

    folder, X = data
    args = ["fit", str(folder / "X.npy"), "-k", "5", "--init", "random", "--seed", "2",
            "--bisecting", *(["--bisecting-strategy", strategy] if strategy else []),
            "-o", str(tmp_path / "m.npz")]
    assert cli.main(args) == 0
    strategy = strategy or "biggest_inertia"
    assert f"after 4 bisections ({strategy})" in capsys.readouterr().out
    model = anykmeans.load(tmp_path / "m.npz")
    theirs = BisectingKMeans(5, random_state=2, bisecting_strategy=strategy).fit(X)
    assert isinstance(model, anykmeans.BisectingKMeans) and model.bisecting_strategy == strategy
    np.testing.assert_array_equal(model.labels_, theirs.labels_)
    assert cli.main(["predict", str(tmp_path / "m.npz"), str(folder / "X.npy"), "-o",
                     str(tmp_path / "labels.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), theirs.predict(X))


def test_fit_bisecting_refuses_kmeans_parallel_seeding(data):
    folder, _ = data
    assert_one_line_error(run("fit", folder / "X.npy", "-k", 3, "--bisecting", "--init",
                              "k-means||"), "--bisecting", "k-means||")


def test_fit_bisecting_takes_no_value_so_data_may_follow_it(data, tmp_path):
    folder, X = data
    for strategy in ([], ["--bisecting-strategy", "largest_cluster"]):
        output = tmp_path / f"m{len(strategy)}.npz"
        assert cli.main(["fit", "--bisecting", str(folder / "X.npy"), "-k", "4", *strategy,
                         "-o", str(output), "-q"]) == 0
        model = anykmeans.load(output)
        expected = anykmeans.BisectingKMeans(4, init="k-means++", random_state=0,
                                             bisecting_strategy=strategy[1] if strategy
                                             else "biggest_inertia").fit(X)
        assert model.bisecting_strategy == expected.bisecting_strategy
        np.testing.assert_array_equal(model.labels_, expected.labels_)


def test_fit_bisecting_strategy_needs_bisecting(data):
    folder, _ = data
    assert_one_line_error(run("fit", folder / "X.npy", "-k", 3, "--bisecting-strategy",
                              "largest_cluster"), "--bisecting-strategy", "--bisecting")


def test_fit_dtype_float32(data, tmp_path):
    folder, _ = data
    out = run("fit", folder / "X.npy", "-k", 4, "--dtype", "float32", "-o", tmp_path / "m.npz")
    assert out.returncode == 0, out.stderr
    with np.load(tmp_path / "m.npz", allow_pickle=False) as model:
        assert model["cluster_centers"].dtype == np.float32


def test_fit_quiet_prints_nothing(data):
    folder, _ = data
    out = run("fit", folder / "X.npy", "-k", 4, "--quiet")
    assert out.returncode == 0 and out.stdout == "" and out.stderr == ""


def test_fit_one_dimensional_data_and_an_output_name_without_suffix(tmp_path, capsys):
    values = np.concatenate([np.zeros(20), np.full(30, 10.0)])
    np.save(tmp_path / "one.npy", values)
    assert cli.main(["fit", str(tmp_path / "one.npy"), "-k", "2", "-o",
                     str(tmp_path / "model")]) == 0
    assert f"wrote {tmp_path / 'model.npz'}" in capsys.readouterr().out
    with np.load(tmp_path / "model.npz", allow_pickle=False) as model:
        np.testing.assert_array_equal(np.sort(model["cluster_centers"][:, 0]), [0.0, 10.0])
        assert model["inertia"] == 0.0


def test_fit_csv_with_a_byte_order_mark_keeps_its_first_row(data, tmp_path):
    folder, _ = data
    (tmp_path / "bom.csv").write_text("\ufeff" + (folder / "X.csv").read_text(), encoding="utf-8")
    out = run("fit", tmp_path / "bom.csv", "-k", 4)
    assert out.returncode == 0, out.stderr
    assert "240 samples" in out.stdout and "header" not in out.stdout


def test_fit_names_the_header_it_skipped(data, tmp_path):
    folder, _ = data
    (tmp_path / "bom.csv").write_text("\ufeffa,b,c\n" + (folder / "X.csv").read_text(),
                                      encoding="utf-8")
    out = run("fit", tmp_path / "bom.csv", "-k", 4)
    assert out.returncode == 0, out.stderr
    assert "240 samples" in out.stdout
    assert "\nfirst line taken as a header: a, b, c\n" in out.stdout


def test_warnings_are_one_line_too(tmp_path):
    np.save(tmp_path / "dup.npy", np.ones((10, 2)))  # one distinct point, three clusters asked
    out = run("fit", tmp_path / "dup.npy", "-k", 3)
    assert out.returncode == 0
    assert out.stderr.startswith("anykmeans: warning: Number of distinct clusters (1)")
    assert out.stderr.count("\n") == 1


@needs_matplotlib
def test_fit_plot_writes_a_png(data, tmp_path):
    folder, _ = data
    out = run("fit", folder / "X.csv", "-k", 4, "--init", "random", "--plot", tmp_path / "f.png")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "f.png").read_bytes().startswith(PNG_SIGNATURE)


@needs_matplotlib
def test_fit_plot_uses_the_header_names(data, tmp_path, monkeypatch):
    import anykmeans.plot

    figures = []

    def spy(*args, plot_fit=anykmeans.plot.plot_fit):
        figures.append(plot_fit(*args))
        return figures[-1]

    monkeypatch.setattr(anykmeans.plot, "plot_fit", spy)
    folder, _ = data
    assert cli.main(["fit", str(folder / "header.csv"), "-k", "4", "-q",
                     "--plot", str(tmp_path / "f.png")]) == 0
    clusters = figures[0].axes[0]
    labels = clusters.get_xlabel() + clusters.get_ylabel()
    assert "feature" not in labels and re.search(r"[+-]0\.\d\d [abc]\b", labels)


@pytest.mark.parametrize("command", [["fit", "X.npy", "-k", "4", "-o", "m.npz"], ["demo"]])
def test_plot_without_matplotlib_is_refused_before_the_work(data, tmp_path, command):
    folder, _ = data
    out = run(*command, "--plot", "f.png", cwd=folder, env=without_matplotlib(tmp_path))
    assert_one_line_error(out, "needs matplotlib")
    assert not (folder / "m.npz").exists()  # refused before the fit, not after


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_fit_says_which_dtype_it_computed_in(tmp_path, backend):
    if not any(b.usable for b in anykmeans.backends((backend,))):
        pytest.skip(f"{backend} is not usable here")
    np.save(tmp_path / "counts.npy", np.rint(blobs(60, 2, 3, seed=0) * 10).astype(np.int64))
    out = run("fit", tmp_path / "counts.npy", "-k", 3, "--backend", backend,
              "-o", tmp_path / "m.npz")
    assert out.returncode == 0, out.stderr
    with np.load(tmp_path / "m.npz", allow_pickle=False) as model:
        used = model["cluster_centers"].dtype
    assert f"k=3 on {backend}, in {used} (the file holds int64)\n" in out.stdout


def test_init_has_a_shell_safe_spelling_of_k_means_parallel(data, tmp_path):
    folder, _ = data
    anykmeans_command = f"'{sys.executable}' -m anykmeans fit X.npy -k 4 -q"
    for init in ("kmeans-parallel", "'k-means||'"):  # as typed in a shell
        out = subprocess.run(["sh", "-c", f"{anykmeans_command} --init {init} -o '{tmp_path}/m'"],
                             capture_output=True, text=True, timeout=300, cwd=folder)
        assert out.returncode == 0, out.stderr
        with np.load(tmp_path / "m.npz", allow_pickle=False) as model:
            assert json.loads(str(model["metadata"]))["params"]["init"] == "k-means||"


@pytest.fixture(scope="module")
def scales(tmp_path_factory):
    """Two groups 10 apart in 'signal' (standard deviation 1), and a 'noise' feature 1000 times
    wider that hides them from k-means on the raw values."""
    folder = tmp_path_factory.mktemp("scales")
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1], 100)
    X = np.column_stack([10.0 * groups + rng.normal(size=200), rng.normal(0, 1000, 200)])
    np.savetxt(folder / "X.csv", X, delimiter=",", fmt="%.17g", header="signal,noise",
               comments="")
    np.savetxt(folder / "new.csv", [[10.0, -2000.0], [0.0, 2000.0]], delimiter=",")
    return folder, X, groups


def same_partition(labels, groups):
    return len(set(zip(labels.tolist(), groups.tolist(), strict=True))) == len(set(groups))


def test_standardize_clusters_z_scores_and_predict_applies_the_same_scaling(scales):
    folder, X, groups = scales
    out = run("fit", "X.csv", "-k", 2, "-o", "raw.npz", cwd=folder)
    with np.load(folder / "raw.npz", allow_pickle=False) as model:
        assert not same_partition(model["labels"], groups)  # the noise decides, not the signal
    out = run("fit", "X.csv", "-k", 2, "--standardize", "-o", "z.npz", cwd=folder)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert "features standardized" in out.stdout
    with np.load(folder / "z.npz", allow_pickle=False) as model:
        fitted = model["labels"]
        np.testing.assert_allclose(model["standardize_mean"], X.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(model["standardize_scale"], X.std(axis=0), rtol=1e-12)
    assert same_partition(fitted, groups)
    out = run("predict", "z.npz", "X.csv", cwd=folder)
    assert out.returncode == 0, out.stderr
    np.testing.assert_array_equal(np.asarray(out.stdout.split(), dtype=int), fitted)
    out = run("predict", "z.npz", "new.csv", cwd=folder)  # by signal, whatever the noise
    assert out.stdout.split() == [str(fitted[groups == 1][0]), str(fitted[groups == 0][0])]
    loaded = anykmeans.load(folder / "z.npz")  # still a model file, of the standardised data
    np.testing.assert_array_equal(loaded.labels_, fitted)


def test_scales_orders_of_magnitude_apart_get_a_hint(scales):
    folder, _, _ = scales
    out = run("fit", "X.csv", "-k", 2, cwd=folder)
    assert out.returncode == 0
    assert out.stderr.startswith("anykmeans: hint: the features' scales differ ")
    assert "range of noise 6.84e+03" in out.stderr and "of signal 14.1" in out.stderr  # by name
    assert "--standardize" in out.stderr and out.stderr.count("\n") == 1
    for flag in ("--standardize", "--quiet"):
        assert run("fit", "X.csv", "-k", 2, flag, cwd=folder).stderr == ""


def test_fit_reads_quoted_numbers(data, tmp_path):
    folder, X = data
    with open(tmp_path / "quoted.csv", "w", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL).writerows([["a", "b", "c"], *X.tolist()])
    for name in (folder / "header.csv", tmp_path / "quoted.csv"):
        assert run("fit", name, "-k", 4, "-o", tmp_path / f"{name.stem}.npz").returncode == 0
    with (np.load(tmp_path / "quoted.npz", allow_pickle=False) as quoted,
          np.load(tmp_path / "header.npz", allow_pickle=False) as plain):
        np.testing.assert_array_equal(quoted["labels"], plain["labels"])


# -- predict ------------------------------------------------------------------------------------


def test_predict_on_the_training_data_gives_the_fitted_labels(data, tmp_path):
    folder, _ = data
    assert run("fit", folder / "X.npy", "-k", 4, "-o", tmp_path / "m.npz").returncode == 0
    with np.load(tmp_path / "m.npz", allow_pickle=False) as model:
        fitted = model["labels"]
    out = run("predict", tmp_path / "m.npz", folder / "header.csv", "-o", tmp_path / "l.npy")
    assert out.returncode == 0, out.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), fitted)
    out = run("predict", tmp_path / "m.npz", folder / "X.npz", "--backend",
              "array_api_strict:device1")
    assert out.returncode == 0, out.stderr
    np.testing.assert_array_equal(np.asarray(out.stdout.split(), dtype=int), fitted)


def test_predict_writes_csv_when_asked_for_csv(data, tmp_path):
    folder, _ = data
    assert run("fit", folder / "X.npy", "-k", 4, "-o", tmp_path / "m.npz").returncode == 0
    with np.load(tmp_path / "m.npz", allow_pickle=False) as model:
        fitted = model["labels"]
    for name in ("labels.csv", "upper.CSV", "labels.npy"):
        out = run("predict", tmp_path / "m.npz", folder / "X.npy", "-o", tmp_path / name)
        assert out.returncode == 0 and out.stdout == "", out.stderr
    for name in ("labels.csv", "upper.CSV"):
        assert (tmp_path / name).read_text() == "".join(f"{j}\n" for j in fitted)
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), fitted)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "labels.csv", "labels.npy", "m.npz", "upper.CSV"]


@pytest.mark.parametrize("command", [["predict", "m.npz", "X.npy"], ["fit", "X.npy", "-k", "2"]])
def test_output_to_a_reader_that_has_gone_ends_quietly(tmp_path, command):
    """``anykmeans predict m.npz X.npy | head -1`` once head has its line: no traceback, no
    "Broken pipe"; the exit status of a process killed by SIGPIPE."""
    X = blobs(1000, 2, 2, seed=0)
    np.save(tmp_path / "X.npy", X)
    anykmeans.KMeans(2, random_state=0).fit(X).save(tmp_path / "m.npz")
    reader, writer = os.pipe()
    os.close(reader)  # gone before the first line: the first write fails
    try:
        out = subprocess.run([sys.executable, "-m", "anykmeans", *command], cwd=tmp_path,
                             stdout=writer, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(writer)
    assert out.stderr == "" and out.returncode == cli.PIPE_CLOSED


# -- errors -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "words.csv").write_text("a,b\n1,2\n3,x\n")
    (folder / "ragged.csv").write_text("1,2\n3,4\n5\n")
    (folder / "semicolons.csv").write_text("1;2\n3;4\n")
    (folder / "semicolons_header.csv").write_text("a;b\n1;2\n3;4\n")
    (folder / "decimal_commas.csv").write_text("1,5;2,25\n3,5;4,75\n")
    (folder / "empty.csv").write_text("")
    (folder / "data.txt").write_text("1,2\n")
    (folder / "garbage.npy").write_bytes(b"not an npy file")
    np.save(folder / "strings.npy", np.asarray(["a", "b"]))
    np.savez(folder / "two.npz", a=np.ones((3, 2)), b=np.ones((3, 2)))
    np.save(folder / "X.npy", blobs(30, 2, 2, seed=0))
    return folder


@pytest.mark.parametrize(("args", "needle"), [
    (["fit", "missing.csv", "-k", "2"], "no such file: missing.csv"),
    (["fit", "words.csv", "-k", "2"], "line 3: 'x' is not a number"),
    (["fit", "ragged.csv", "-k", "2"], "line 3: 1 columns, expected 2"),
    (["fit", "semicolons.csv", "-k", "2"],
     "line 1: '1;2' is not a number (separated by semicolons?"),
    (["fit", "semicolons_header.csv", "-k", "2"], "line 2: '1;2' is not a number (separated by "),
    (["fit", "decimal_commas.csv", "-k", "2"], "line 1: '5;2' is not a number (separated by "),
    (["fit", "empty.csv", "-k", "2"], "holds no data"),
    (["fit", "data.txt", "-k", "2"], "expected a .npy, .npz or .csv file"),
    (["fit", "garbage.npy", "-k", "2"], "cannot read garbage.npy"),
    (["fit", "strings.npy", "-k", "2"], "not numbers"),
    (["fit", "two.npz", "-k", "2"], "holds 2 arrays (a, b); expected one"),
    (["fit", "X.npy", "-k", "0"], "invalid positive int value: '0'"),
    (["fit", "X.npy", "-k", "two"], "invalid positive int value: 'two'"),
    (["fit", "X.npy", "-k", "31"], "n_clusters=31"),
    (["fit", "X.npy", "-k", "2", "--backend", "tensorflow"], "unknown backend 'tensorflow'"),
    (["fit", "X.npy", "-k", "2", "--backend", "torch:tpu"], "backend torch:tpu is not usable"),
    (["fit", "X.npy", "-k", "2", "--init", "best"], "invalid choice: 'best'"),
    (["predict", "X.npy", "X.npy"], "not a readable .npz archive"),
    (["predict", "two.npz", "X.npy"], "not an anykmeans model file"),
    (["predict", "missing.npz", "X.npy"], "no such file: missing.npz"),
    (["demo", "--backend", "tensorflow"], "unknown backend 'tensorflow'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_errors_are_one_line_on_stderr(bad_files, args, needle, monkeypatch, capsys):
    monkeypatch.chdir(bad_files)
    try:
        status = cli.main(args)
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    captured = capsys.readouterr()
    assert_one_line_error(subprocess.CompletedProcess(args, status, captured.out, captured.err),
                          needle)


def test_errors_through_the_entry_point_have_no_traceback(bad_files):
    for args, needle in [(["fit", "missing.csv", "-k", "2"], "no such file"),
                         (["fit", "words.csv", "-k", "2"], "is not a number"),
                         (["fit", "X.npy", "-k", "0"], "invalid positive int"),
                         (["fit", "X.npy", "-k", "2", "--backend", "tf"], "unknown backend"),
                         (["predict", "X.npy", "X.npy"], "not a readable .npz")]:
        assert_one_line_error(run(*args, cwd=bad_files), needle)


def test_backend_not_installed_is_one_line(bad_files):
    usable = [b for b in anykmeans.backends(("cupy",)) if b.usable]
    if usable:
        pytest.skip("cupy is usable here")
    out = run("fit", "X.npy", "-k", "2", "--backend", "cupy", cwd=bad_files)
    assert_one_line_error(out, "backend cupy is not usable here")


def test_predict_with_the_wrong_number_of_features(bad_files, tmp_path, data):
    folder, _ = data
    assert run("fit", folder / "X.npy", "-k", 2, "-o", tmp_path / "m.npz").returncode == 0
    out = run("predict", tmp_path / "m.npz", bad_files / "X.npy")
    assert_one_line_error(out, "features")


def save_crafted_model(path, model, metadata=None, drop=()):
    """``model`` (a saved model's path) rewritten with other ``metadata`` JSON text (or
    object), without the entries in ``drop``."""
    with np.load(model, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if name not in drop}
    if metadata is not None:
        text = metadata if isinstance(metadata, str) else json.dumps(metadata)
        arrays["metadata"] = np.asarray(text)
    np.savez(path, **arrays)


@pytest.fixture(scope="module")
def damaged_files(tmp_path_factory):
    """Damaged and crafted data and model files, each named after what is wrong with it."""
    folder = tmp_path_factory.mktemp("damaged")
    X = blobs(30, 2, 2, seed=0)
    np.save(folder / "X.npy", X)
    long_field = "1" * 200_000  # the csv module's limit is 131 072 characters
    (folder / "long_field_first.csv").write_text(f"{long_field},2\n1,2\n")
    (folder / "long_field_later.csv").write_text(f"1,2\n3,4\nx{long_field},2\n")
    np.savez(folder / "valid.npz", X=X)
    archive = (folder / "valid.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(archive[:len(archive) // 2])
    (folder / "not_a_zip.npz").write_bytes(b"PK\x03\x04" + b"not a zip archive" * 4)
    np.savez_compressed(folder / "compressed.npz", X=X)
    archive = bytearray((folder / "compressed.npz").read_bytes())
    start = archive.index(b"X.npy") + len(b"X.npy") + 20
    archive[start:start + 40] = bytes(b ^ 0xFF for b in archive[start:start + 40])
    (folder / "corrupt_compressed.npz").write_bytes(bytes(archive))
    with open(folder / "huge_shape.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 2)})
        f.write(bytes(64))

    model = folder / "model.npz"
    anykmeans.KMeans(2, random_state=0).fit(X).save(model)
    with np.load(model, allow_pickle=False) as archive:
        metadata = json.loads(str(archive["metadata"]))
    for key in ("params", "array_params", "attributes"):
        save_crafted_model(folder / f"model_without_{key}.npz", model,
                           {k: v for k, v in metadata.items() if k != key})
    save_crafted_model(folder / "model_metadata_a_list.npz", model, [metadata])
    save_crafted_model(folder / "model_attributes_a_list.npz", model,
                       {**metadata, "attributes": list(metadata["attributes"])})
    save_crafted_model(folder / "model_attribute_without_kind.npz", model,
                       {**metadata, "attributes": {"cluster_centers_": {}}})
    save_crafted_model(folder / "model_metadata_deeply_nested.npz", model,
                       "[" * 100_000 + "]" * 100_000)
    save_crafted_model(folder / "model_without_centres.npz", model, drop=("cluster_centers",))
    save_crafted_model(folder / "model_huge_metadata.npz", model, drop=("metadata",))
    with zipfile.ZipFile(folder / "model_huge_metadata.npz", "a") as archive:
        archive.write(folder / "huge_shape.npy", "metadata.npy")
    for name, scale in [("model_scale_zero.npz", [1.0, 0.0]),
                        ("model_scale_nan.npz", [1.0, np.nan]),
                        ("model_scale_too_long.npz", [1.0, 1.0, 1.0]),
                        ("model_scale_without_mean.npz", [1.0, 1.0])]:
        save_crafted_model(folder / name, model)
        with zipfile.ZipFile(folder / name, "a") as archive:
            for key, values in (("standardize_mean", np.zeros(2)),
                                ("standardize_scale", np.asarray(scale))):
                entry = io.BytesIO()
                np.lib.format.write_array(entry, values)
                archive.writestr(f"{key}.npy", entry.getvalue())
    save_crafted_model(folder / "model_scale_without_mean.npz",
                       folder / "model_scale_without_mean.npz", drop=("standardize_mean",))
    archive = model.read_bytes()
    (folder / "model_truncated.npz").write_bytes(archive[:len(archive) // 2])
    (folder / "model_not_a_zip.npz").write_bytes(b"PK\x03\x04" + b"not a zip archive" * 4)
    return folder


@pytest.mark.parametrize("name", [
    "long_field_first.csv", "long_field_later.csv", "truncated.npz", "not_a_zip.npz",
    "corrupt_compressed.npz", "huge_shape.npy", "model_without_params.npz",
    "model_without_array_params.npz", "model_without_attributes.npz",
    "model_metadata_a_list.npz", "model_attributes_a_list.npz",
    "model_attribute_without_kind.npz", "model_metadata_deeply_nested.npz",
    "model_without_centres.npz", "model_huge_metadata.npz", "model_truncated.npz",
    "model_not_a_zip.npz", "model_scale_zero.npz", "model_scale_nan.npz",
    "model_scale_too_long.npz", "model_scale_without_mean.npz",
])
def test_damaged_files_are_one_line_errors(damaged_files, name):
    if name.startswith("model_"):  # reported by anykmeans.load or, failing that, the CLI
        assert_one_line_error(run("predict", name, "X.npy", cwd=damaged_files))
    else:
        assert_one_line_error(run("fit", name, "-k", 2, cwd=damaged_files), f"cannot read {name}")


@pytest.mark.parametrize(("args", "output"), [
    (["predict", "model.npz", "X.npy"], "X.npy"),
    (["predict", "model.npz", "X.npy"], "X"),  # np.save appends .npy
    (["predict", "model.npz", "X.npy"], "link.npy"),  # a symbolic link to X.npy
    (["fit", "X.npz", "-k", "2"], "X.npz"),
    (["fit", "X.npz", "-k", "2"], "X"),  # np.savez appends .npz
])
def test_output_over_an_input_is_refused(tmp_path, args, output):
    X = blobs(30, 2, 2, seed=0)
    np.save(tmp_path / "X.npy", X)
    np.savez(tmp_path / "X.npz", X=X)
    (tmp_path / "link.npy").symlink_to(tmp_path / "X.npy")
    anykmeans.KMeans(2, random_state=0).fit(X).save(tmp_path / "model.npz")
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    out = run(*args, "-o", output, cwd=tmp_path)
    assert_one_line_error(out, "is the input")
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


# -- bench --------------------------------------------------------------------------------------


def test_bench_forwards_to_the_benchmark_suite():
    out = run("bench", "--help")
    assert out.returncode == 0, out.stderr
    assert "benchmarks" in out.stdout


def test_bench_help_names_the_command_it_was_given_as():
    out = run("bench", "--help")
    assert out.stdout.startswith("usage: anykmeans bench ")
    assert "python -m benchmarks" not in out.stdout


def test_bench_without_the_suite_is_one_line(monkeypatch, capsys):
    def missing():
        return None

    monkeypatch.setattr(cli, "_benchmark_checkout", missing)
    assert cli.main(["bench", "--problems", "S1"]) == cli.ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "benchmark suite is not installed" in err


# -- progress -----------------------------------------------------------------------------------


def run_on_a_terminal(*args, columns=None):
    """Run the command line with stderr on a pseudo-terminal (``columns`` wide, if given);
    return (stdout, terminal text)."""
    leader, follower = pty.openpty()
    if columns is not None:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "anykmeans", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout = process.communicate(timeout=300)[0].decode()
    os.close(leader)
    assert process.returncode == 0
    return stdout, b"".join(chunks).decode()


def test_progress_bar_on_a_terminal_only(data):
    folder, _ = data
    args = ("fit", folder / "X.npy", "-k", 4, "--init", "random", "--n-init", 3)
    stdout, terminal = run_on_a_terminal(*args)
    assert "restart 1/3" in terminal and "iteration 1/300" in terminal and "inertia" in stdout
    assert terminal.endswith("\r" + cli.CLEAR_LINE)  # the bar erased itself
    stdout, terminal = run_on_a_terminal(*args, "--quiet")
    assert stdout == "" and terminal == ""
    out = run(*args)  # not a terminal: no bar
    assert out.returncode == 0 and out.stderr == ""


def test_progress_bar_fits_a_narrow_terminal(data):
    folder, _ = data
    _, terminal = run_on_a_terminal("fit", folder / "X.npy", "-k", 4, "--init", "random",
                                    "--n-init", 3, columns=50)
    frames = terminal.split("\r")[1:]
    assert len(frames) >= 4 and frames[-1] == cli.CLEAR_LINE  # one per restart, then erased
    for frame in frames:  # each shorter than the line, clearing what an older one left
        assert frame.endswith(cli.CLEAR_LINE) and len(frame) - len(cli.CLEAR_LINE) < 50


def test_progress_line_redraws_each_restart_and_throttles_iterations(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # the width asked of a stream that is not a terminal
    stream = io.StringIO()
    progress = cli.ProgressLine(stream, n_restarts=2, max_iter=10, interval=3600)
    for restart in range(2):
        for iteration in range(5):
            progress(restart, iteration, 100.0 - iteration)
    progress.close()
    frames = stream.getvalue().split("\r")
    assert len(frames) == 4 and frames[0] == "" and frames[3] == cli.CLEAR_LINE
    assert re.fullmatch(r"\[#\.{29}\]   5%  eta <\d+s  restart 1/2  iteration 1/10  "
                        r"inertia 100\x1b\[K", frames[1])  # 1 of at most 20 iterations
    assert re.fullmatch(r"\[#{18}\.{12}\]  60%  eta \d+s  restart 2/2  iteration 1/10  "
                        r"inertia 100\x1b\[K", frames[2])  # 6 of 5 + 5 (the first took 5)


def progress_after(*restarts):
    """A ProgressLine of 3 restarts, fed ``restarts[i]`` iterations of restart ``i``."""
    progress = cli.ProgressLine(io.StringIO(), n_restarts=3, max_iter=300)
    for restart, iterations in enumerate(restarts):
        for iteration in range(iterations):
            progress(restart, iteration, 5.0)
    return progress


def test_progress_line_fits_the_width_with_whole_fields_most_useful_first():
    progress = progress_after(40, 10)  # 50 iterations done, 30 + 40 expected: 42%
    assert progress.render(5.0, elapsed=10.0, width=120) == (
        "[############..................]  42%  eta 14s  restart 2/3  iteration 10/300  "
        "inertia 5")
    assert progress.render(5.0, elapsed=10.0, width=50) == (
        "[#####.......]  42%  eta 14s  restart 2/3")
    for width in range(1, 130):
        assert len(progress.render(5.0, elapsed=10.0, width=width)) < max(width, 2)


def test_progress_eta_is_an_upper_bound_until_a_restart_has_finished():
    progress = progress_after(10)  # 10 iterations of at most 900
    assert progress.render(7.5, elapsed=2.0, width=50) == (
        "[............]   1%  eta <2m58s  restart 1/3")


def test_on_iteration_sees_every_iteration_of_every_restart():
    X = blobs(200, 2, 3, seed=0)
    calls = []
    model = anykmeans.KMeans(3, init="random", n_init=4, random_state=0).fit(
        X, on_iteration=lambda *call: calls.append(call))
    expected = [(r, i, inertia) for r, history in enumerate(model.inertia_histories_)
                for i, inertia in enumerate(history)]
    assert calls == expected
    assert len(model.inertia_histories_) == 4
    assert model.inertia_history_ in model.inertia_histories_


def test_verbose_prints_scikit_learns_lines():
    from sklearn.cluster import KMeans as SkKMeans

    X = blobs(300, 3, 4, seed=2)

    def lines(estimator):
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            estimator(4, init="random", n_init=2, random_state=0, verbose=1).fit(X)
        return buffer.getvalue().splitlines()

    ours, theirs = lines(anykmeans.KMeans), lines(SkKMeans)
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        words, expected = mine.split(), reference.split()
        assert len(words) == len(expected)
        for word, other in zip(words, expected, strict=True):
            try:
                assert float(word.rstrip(".")) == pytest.approx(float(other.rstrip(".")),
                                                                rel=1e-9)
            except ValueError:
                assert word == other, (mine, reference)


# -- awkward inputs: columns, headers, scales -----------------------------------------------------


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory):
    """Iris with a header, with its columns reversed, as pandas' ``to_csv`` writes it (a row
    index first), headerless, and with the species as a text column."""
    from anykmeans._datasets import load_iris

    folder = tmp_path_factory.mktemp("iris")
    X, species, names = load_iris()
    rows = [",".join(map(repr, row)) for row in X.tolist()]
    header = ",".join(names)
    (folder / "iris.csv").write_text("\n".join([header, *rows]) + "\n")
    (folder / "reversed.csv").write_text("\n".join(
        [",".join(names[::-1])] + [",".join(map(repr, row[::-1])) for row in X.tolist()]) + "\n")
    (folder / "headerless.csv").write_text("\n".join(rows) + "\n")
    (folder / "indexed.csv").write_text("\n".join(
        ["," + header] + [f"{i},{row}" for i, row in enumerate(rows)]) + "\n")
    (folder / "unnamed.csv").write_text("\n".join(
        ["Unnamed: 0," + header] + [f"{i},{row}" for i, row in enumerate(rows)]) + "\n")
    (folder / "species.csv").write_text("\n".join(
        [header + ",species"] + [f"{row},{s}" for row, s in zip(rows, species, strict=True)])
        + "\n")
    return folder, X


def labels_of(out):
    assert out.returncode == 0, out.stderr
    return np.asarray(out.stdout.split(), dtype=int)


def test_predict_takes_the_models_columns_by_name(iris_files):
    folder, _ = iris_files
    assert run("fit", "iris.csv", "-k", 3, "-q", "-o", "m.npz", cwd=folder).returncode == 0
    assert anykmeans.load(folder / "m.npz").feature_names_in_.tolist()[0] == "sepal_length_cm"
    fitted = labels_of(run("predict", "m.npz", "iris.csv", cwd=folder))
    np.testing.assert_array_equal(labels_of(run("predict", "m.npz", "reversed.csv", cwd=folder)),
                                  fitted)
    np.testing.assert_array_equal(labels_of(run("predict", "m.npz", "species.csv", cwd=folder)),
                                  fitted)  # the text column is not read
    out = run("predict", "m.npz", "headerless.csv", cwd=folder)  # by position, and says so
    np.testing.assert_array_equal(labels_of(out), fitted)
    assert "has no header" in out.stderr
    out = run("predict", "m.npz", "reversed.csv", "--columns", "1,2,3,4", cwd=folder)
    assert_one_line_error(out, "are not the model's")
    (folder / "short.csv").write_text("a,b,c,d\n1,2,3,4\n")
    assert_one_line_error(run("predict", "m.npz", "short.csv", cwd=folder),
                          "has no column 'sepal_length_cm'")


@pytest.mark.parametrize("name", ["indexed.csv", "unnamed.csv"])
def test_a_row_index_column_is_refused_and_can_be_dropped(iris_files, name):
    folder, _ = iris_files
    assert_one_line_error(run("fit", name, "-k", 3, cwd=folder), "row index", "--drop 1")
    out = run("fit", name, "-k", 3, "--drop", "1", cwd=folder)
    assert out.returncode == 0, out.stderr
    assert "inertia 78.85" in out.stdout and "columns clustered: sepal_length_cm," in out.stdout


def test_columns_and_drop_pick_columns_by_name_or_number(iris_files, tmp_path):
    folder, X = iris_files
    out = run("fit", "species.csv", "-k", 3, "--drop", "species", cwd=folder)
    assert out.returncode == 0 and "inertia 78.85" in out.stdout, out.stderr
    assert_one_line_error(run("fit", "species.csv", "-k", 3, cwd=folder),
                          "'setosa' is not a number")
    by_name = run("fit", "iris.csv", "-k", 3, "-q", "--columns", "petal_width_cm,sepal_width_cm",
                  "-o", tmp_path / "named.npz", cwd=folder)
    np.save(tmp_path / "X.npy", X)
    by_number = run("fit", tmp_path / "X.npy", "-k", 3, "-q", "--columns", "4,2",
                    "-o", tmp_path / "numbered.npz")
    assert by_name.returncode == by_number.returncode == 0, by_name.stderr + by_number.stderr
    with (np.load(tmp_path / "named.npz") as named, np.load(tmp_path / "numbered.npz") as numbered):
        np.testing.assert_array_equal(named["labels"], numbered["labels"])
        np.testing.assert_allclose(named["cluster_centers"], numbered["cluster_centers"],
                                   rtol=1e-14)  # the .npy's columns are Fortran-ordered
        assert named["cluster_centers"].shape == (3, 2)
    for bad in ("5", "0", "petals", "1,1"):
        assert_one_line_error(run("fit", "iris.csv", "-k", 3, "--columns", bad, cwd=folder))
    assert_one_line_error(run("fit", "iris.csv", "-k", 3, "--drop", "1,2,3,4", cwd=folder),
                          "no column is left")


def test_standardize_copes_with_a_feature_near_the_float64_limit(tmp_path):
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1], 50)
    X = np.column_stack([groups + 0.1 * rng.normal(size=100), 5e307 * (1 + 0.1 * groups)])
    np.save(tmp_path / "huge.npy", X)
    out = run("fit", "huge.npy", "-k", 2, "--standardize", "-q", "-o", "z.npz", cwd=tmp_path)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    with np.load(tmp_path / "z.npz") as archive:
        assert np.isfinite(archive["standardize_scale"]).all()
        assert np.ptp(archive["cluster_centers"][:, 1]) > 1  # the feature was not zeroed
        fitted = archive["labels"]
    assert same_partition(fitted, groups)
    np.testing.assert_array_equal(labels_of(run("predict", "z.npz", "huge.npy", cwd=tmp_path)),
                                  fitted)


def test_a_standardized_model_says_so_when_loaded_in_python(scales):
    folder, X, _ = scales
    assert run("fit", "X.csv", "-k", 2, "-q", "--standardize", "-o", "zz.npz",
               cwd=folder).returncode == 0
    with pytest.warns(anykmeans.StandardizedModelWarning, match="read_scaling"):
        loaded = anykmeans.load(folder / "zz.npz")
    mean, scale = anykmeans.read_scaling(folder / "zz.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fitted with the header's names
        labels = loaded.predict((X - mean) / scale)
    np.testing.assert_array_equal(labels, loaded.labels_)
    assert anykmeans.read_scaling(folder / "raw.npz") is None


@needs_matplotlib
def test_awkward_files_are_one_line_errors_or_work(tmp_path):
    (tmp_path / "short_header.csv").write_text("a,b\n1,2,3\n4,5,6\n")
    assert_one_line_error(run("fit", "short_header.csv", "-k", 1, cwd=tmp_path), "line 2",
                          "the header (line 1) names 2")
    (tmp_path / "commented.csv").write_text("# written by numpy.savetxt\n1,2000\n2,4000\n3,1\n")
    out = run("fit", "commented.csv", "-k", 1, cwd=tmp_path)
    assert out.returncode == 0 and "3 samples, 2 features" in out.stdout, out.stderr
    np.save(tmp_path / "scalar.npy", np.float64(3.0))
    assert_one_line_error(run("fit", "scalar.npy", "-k", 1, cwd=tmp_path), "a single value")
    np.save(tmp_path / "one_row.npy", np.ones((1, 3)))
    out = run("fit", "one_row.npy", "-k", 1, "--plot", "one.png", cwd=tmp_path)
    assert "Traceback" not in out.stderr and out.returncode in (0, cli.ERROR), out.stderr


def test_a_missing_value_in_the_first_line_is_not_a_header(tmp_path):
    (tmp_path / "gap.csv").write_text("1,,3\n4,5,6\n7,8,9\n")
    assert_one_line_error(run("fit", "gap.csv", "-k", 1, cwd=tmp_path), "line 1",
                          "a value is missing")


@pytest.mark.parametrize("name", ["folder", "/dev/null", "fifo"])
def test_what_is_not_a_regular_file_is_named_so(tmp_path, name):
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    assert_one_line_error(run("fit", name, "-k", 1, cwd=tmp_path), "not a regular file")


def test_values_beyond_float32_are_named_before_the_cast(tmp_path):
    np.save(tmp_path / "wide.npy", np.asarray([[1e39, 1.0], [2.0, 3.0]]))
    assert_one_line_error(run("fit", "wide.npy", "-k", 1, "--dtype", "float32", cwd=tmp_path),
                          "beyond float32's range", "--dtype float64")


@needs_matplotlib
def test_a_plot_of_an_unknown_kind_is_refused_before_the_fit(data, tmp_path):
    folder, _ = data
    out = run("fit", folder / "X.npy", "-k", 2, "--plot", tmp_path / "c.xyz",
              "-o", tmp_path / "m.npz")
    assert_one_line_error(out, "cannot draw", ".png")
    assert not (tmp_path / "m.npz").exists()


def test_counts_and_n_init_read_as_english(tmp_path):
    np.save(tmp_path / "two.npy", np.asarray([[0.0], [1.0]]))
    out = run("fit", "two.npy", "-k", 2, cwd=tmp_path)
    assert "2 samples, 1 feature;" in out.stdout and "after 1 iteration (1 restart," in out.stdout
    out = run("fit", "two.npy", "-k", 2, "--n-init", 0, cwd=tmp_path)
    assert "positive int or 'auto'" in out.stderr and "_n_init" not in out.stderr


def test_near_constant_features_give_no_scale_hint(tmp_path):
    np.save(tmp_path / "digits.npy", bundled("digits"))
    out = run("fit", "digits.npy", "-k", 10, cwd=tmp_path)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_wide_lines_are_read_without_a_list_of_their_fields(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text((",".join(["12"] * 1_000_000) + "\n") * 2)  # a str object per field
    tracemalloc.start()
    try:
        table = read_table(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert table.data.shape == (2, 1_000_000)
    assert peak < 10 * path.stat().st_size  # NumPy's loadtxt itself takes 8 times


def test_the_scale_hint_makes_no_copy_of_the_data():
    data = np.random.default_rng(0).normal(size=(400_000, 20)).astype(np.float32)
    tracemalloc.start()
    try:
        scale_hint(data, [f"f{j}" for j in range(20)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < data.nbytes / 4


def test_bench_runs_the_checkouts_suite_not_one_in_the_current_folder(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "__init__.py").write_text("")
    (tmp_path / "benchmarks" / "__main__.py").write_text(
        "open('ran', 'w').close()\ndef main(argv, prog):\n    return 0\n")
    out = run("bench", "--help", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("usage: anykmeans bench ")
    assert not (tmp_path / "ran").exists()


def test_a_data_archive_that_expands_a_thousandfold_is_refused_unread(tmp_path):
    np.savez_compressed(tmp_path / "bomb.npz", X=np.zeros((300_000, 100)))  # 240 MB of zeros
    assert (tmp_path / "bomb.npz").stat().st_size < 2**20
    assert_one_line_error(run("fit", "bomb.npz", "-k", 2, cwd=tmp_path), "cannot read bomb.npz",
                          "100-fold")
