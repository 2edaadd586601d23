"""Smoke test of the benchmark suite (``python -m benchmarks``): it runs and its outputs are sane.

Timings are not checked (speed belongs in the suite, not in tests); the JSON's
internal consistency, the chart's existence and the problems' data are.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import chart
from benchmarks.__main__ import main
from benchmarks.implementations import Implementation, _matching
from benchmarks.peers import sklearn_lloyd
from benchmarks.problems import STANDARD, Problem
from benchmarks.report import geometric_means

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One run of the entry point on a tiny shape, numpy and scikit-learn only."""
    tmp = tmp_path_factory.mktemp("bench")
    argv = ["--shape", "2000", "4", "3", "--iterations", "2", "--repeats", "1",
            "--implementations", "numpy", "scikit-learn", "--end-to-end",
            "--json", str(tmp / "r.json"), "--chart", str(tmp / "r.png")]
    assert main(argv) == 0
    return json.loads((tmp / "r.json").read_text()), tmp / "r.png"


@pytest.mark.slow
def test_json_has_one_sane_row_per_implementation(results):
    data, _ = results
    rows = {row["implementation"]: row for row in data["rows"]}
    assert set(rows) == {"numpy", "scikit-learn"}
    assert data["gemm_flops"] > 0
    for row in rows.values():
        assert (row["n"], row["d"], row["k"]) == (2000, 4, 3)
        assert row["ms_per_iter"] > 0
        assert 1 <= row["iterations"] <= 2
        gemm_ms = 2 * 2000 * 3 * 4 / data["gemm_flops"] * 1e3
        assert math.isclose(row["vs_gemm_floor"], row["ms_per_iter"] / gemm_ms)
        # the floor: the product, and one read of the 2000 x 4 float32 rows
        assert math.isclose(row["floor_ms"], gemm_ms + 4 * 2000 * 4 / data["read_bytes"] * 1e3)
        assert math.isclose(row["vs_floor"], row["ms_per_iter"] / row["floor_ms"])
        if row["iterations"] == 2:  # an extra iteration: the fit of two less the fit of one
            assert row["extra_ms"] is not None
            assert math.isclose(row["extra_vs_floor"], row["extra_ms"] / row["floor_ms"])
        assert math.isclose(row["vs_sklearn"],
                            row["ms_per_iter"] / rows["scikit-learn"]["ms_per_iter"])
        assert row["fit_s"] > 0 and row["fit_iterations"] >= 1
        assert row["peak_extra_mb"] is not None and row["peak_extra_mb"] >= 0
    assert rows["scikit-learn"]["vs_sklearn"] == 1.0
    assert rows["scikit-learn"]["fit_vs_sklearn"] == 1.0


def test_chart_is_a_png(results):
    _, png = results
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_chart_draws_the_scaling_series(results, tmp_path):
    data, _ = results
    series = [dict(row, series=s, problem=f"{s}={v}", **{s: v}, ms_per_iter=v / 1e3)
              for s in ("n", "k") for v in (1000, 2000) for row in data["rows"]]
    chart.draw(tmp_path / "s.png", dict(data, rows=data["rows"] + series))
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG_SIGNATURE


def test_unknown_implementation_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--shape", "10", "2", "2", "--implementations", "nope"])
    assert exit_.value.code == 2
    assert "nope" in capsys.readouterr().err


def test_a_bare_library_name_selects_its_gpu_device_but_not_torch_cuda():
    usable = [Implementation(name, sklearn_lloyd, None)
              for name in ("numpy", "torch", "torch:cuda", "cupy:cuda")]
    names = {name: [impl.name for impl in _matching(name, usable)]
             for name in ("cupy", "torch", "torch:cuda", "jax", "cupy:cuda")}
    assert names == {"cupy": ["cupy:cuda"], "torch": ["torch"], "torch:cuda": ["torch:cuda"],
                     "jax": [], "cupy:cuda": ["cupy:cuda"]}


def test_geometric_mean_of_the_ratios_over_the_standard_problems():
    rows = [{"series": "standard", "problem": p, "implementation": name, "vs_sklearn": r}
            for p, ratios in (("S1", (2.0, 1.0)), ("S2", (0.5, 1.0)), ("S3", (4.0, None)))
            for name, r in zip(("numpy", "scikit-learn"), ratios, strict=True)]
    rows.append({"series": "k", "problem": "k=16", "implementation": "numpy", "vs_sklearn": 9.0})
    means = geometric_means(rows)
    assert means.keys() == {"numpy"}  # scikit-learn has no ratio on S3: left out
    assert math.isclose(means["numpy"], (2.0 * 0.5 * 4.0) ** (1 / 3))


def test_problems_are_float32_with_distinct_initial_rows_and_reproducible():
    problem = Problem("tiny", 500, 3, 7)
    X, centres = problem.data()
    assert X.dtype == centres.dtype == np.float32
    assert X.shape == (500, 3) and centres.shape == (7, 3)
    assert len(np.unique(centres, axis=0)) == 7
    assert all((X == row).all(axis=1).any() for row in centres)  # rows of X
    X2, centres2 = problem.data()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(centres, centres2)
    assert [(p.n, p.d, p.k) for p in STANDARD] == [
        (1_000_000, 32, 64), (200_000, 128, 256), (1_000_000, 4, 16), (100_000, 64, 1024)]


def test_faiss_trains_on_the_gpu_where_it_sees_one(monkeypatch):
    """faiss-gpu on a machine with CUDA: the FAISS peer is asked for ``gpu=True``."""
    from benchmarks import peers

    made = []

    class Kmeans:
        def __init__(self, d, k, **options):
            made.append(options)
            self.obj = [0.0]

        def train(self, points, init_centroids):
            pass

    for gpus in (0, 1):
        faiss = types.SimpleNamespace(Kmeans=Kmeans, get_num_gpus=lambda gpus=gpus: gpus)
        monkeypatch.setitem(sys.modules, "faiss", faiss)
        peers.faiss_lloyd(np.zeros((8, 2), np.float32), np.zeros((2, 2), np.float32), 1)()
    assert [options["gpu"] for options in made] == [False, True]


@pytest.mark.slow
def test_the_command_line_and_the_sklearn_script_fit_the_same_data_alike(monkeypatch, tmp_path):
    """benchmarks.startup times a like-for-like pair: the script and ``anykmeans fit`` read the
    same CSV and find the same centres (scikit-learn's answer, same seed)."""
    import anykmeans
    from benchmarks import startup

    monkeypatch.setattr(startup, "CLI_PROBLEM", Problem("CLI", 2000, 3, 16, "custom"))
    seconds = startup.command_line(tmp_path, repeats=1)
    assert {name: len(runs) for name, runs in seconds.items()} == {
        "anykmeans fit": 1, "scikit-learn script": 1}
    ours = anykmeans.load(tmp_path / "model.npz").cluster_centers_
    np.testing.assert_allclose(ours, np.load(tmp_path / "centres.npy"), rtol=1e-6, atol=1e-6)


def test_benchmarks_paths_forces_the_standard_path_only_while_its_fit_runs(monkeypatch):
    """benchmarks.paths: "numpy standard" runs no compiled loop, "numpy" does, and the
    standard path's switch is undone after each fit."""
    pytest.importorskip("torch")
    from anykmeans._libraries import _fused
    from benchmarks import paths

    if _fused.compiled_kernel() is None:
        pytest.skip("Numba is not installed")
    calls = []
    real = _fused.compiled_kernel()

    def counting():
        calls.append(1)
        return real

    monkeypatch.setattr(_fused, "MIN_SCORES", 0)
    monkeypatch.setattr(_fused, "compiled_kernel", counting)
    found = {impl.name: impl for impl in paths.implementations()}
    X, centres = Problem("tiny", 500, 3, 4).data()
    assert found["numpy standard"].lloyd(X, centres, 2)() >= 1
    assert calls == [] and _fused.compiled_kernel is counting
    found["numpy"].lloyd(X, centres, 2)()
    assert calls


def test_text_corpus_is_docstring_paragraphs_and_sparse_runs_on_numpy_and_torch():
    """The T1 problem's pieces on a small corpus: paragraphs of the standard library's
    docstrings, TF-IDF as CSR, the top terms of centres, and sparse data on the backends."""
    import scipy.sparse as sp

    from anykmeans._backends import backends
    from benchmarks.implementations import _on_backend
    from benchmarks.text import MIN_WORDS, corpus, top_terms, vectorise

    documents, sources = corpus(300)
    assert len(documents) == len(set(documents)) == len(sources) == 300
    assert all(len(doc.split()) >= MIN_WORDS and "\n\n" not in doc for doc in documents)
    X, terms = vectorise(documents)
    assert sp.issparse(X) and X.format == "csr" and X.shape == (300, len(terms))
    centres = np.zeros((2, len(terms)))
    centres[0, [3, 1]], centres[1, 0] = (2.0, 1.0), 5.0
    assert top_terms(centres, terms, 2) == [[terms[3], terms[1]], [terms[0], terms[1]]]
    for backend in backends(("numpy", "torch")):
        if backend.usable and backend.device == "cpu":
            data = _on_backend(backend, X)
            assert "sparse" in str(getattr(data, "layout", type(data)))


def test_text_cpu_per_iteration_times_both_on_the_same_problem(monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("threadpoolctl")
    from benchmarks import text

    small = text.vectorise(text.corpus(300)[0])
    monkeypatch.setattr(text, "tfidf", lambda: small)
    ms = text.cpu_per_iteration(k=3, repeats=1, iterations=2)
    assert set(ms) == {"anykmeans", "scikit-learn"} and all(v >= 0 for v in ms.values())


def test_large_k_plusplus_case_times_both_and_the_table_shows_it(monkeypatch):
    from benchmarks import large_k

    monkeypatch.setattr(large_k, "CHECKOUT", Path(__file__).resolve().parent.parent)
    result = large_k._plusplus(2_000, 4, 8, "float32", 2)
    assert result["anykmeans"] > 0 and result["sklearn"] > 0
    assert result["ratio"] == pytest.approx(result["anykmeans"] / result["sklearn"])
    assert large_k._argument("float32") == "float32" and large_k._argument("2") == 2
    rows = [{"case": "plusplus", "args": (2_000, 4, 8, "float32", 2), "code": "after", **result},
            {"case": "seeding", "args": (100, 2, 5, 1, "float32"), "code": "after",
             "k-means||": 1.0, "k-means++": 2.0, "sklearn k-means++": "over 1 s"},
            {"case": "quality", "args": (1.0, 100, 5), "code": "after", "k-means||": 14.0,
             "k-means++": 14.5, "ratio": 14.0 / 14.5}]
    text = large_k.table(rows)
    assert f"| kmeans_plusplus 2000 x 4, k = 8, float32 | after | {result['anykmeans']:.2f} |" \
        in text
    assert "| 100 x 2, k = 5, float32 | after | 1.00 | 2.00 | over 1 s |" in text
    assert "| 1.0 (100, 5) | after | 14.00 | 14.50 | 0.966 |" in text


def test_the_bisecting_benchmarks_untimed_fit_reaches_the_compiled_loops():
    """The untimed first fit has enough clusters that its passes take the compiled loops
    (``MIN_SCORES`` scores over the data), at least 32, never more than the timed fit's."""
    from anykmeans._libraries._fused import MIN_SCORES
    from benchmarks.bisecting import warm_up_clusters

    assert warm_up_clusters(200_000, 64) == 32
    assert warm_up_clusters(200_000, 8) == 8
    assert warm_up_clusters(10_000, 512) * 10_000 >= MIN_SCORES
    assert warm_up_clusters(10_000, 512) < 512
