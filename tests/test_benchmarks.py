"""Smoke test of the benchmark suite (``python -m benchmarks``): it runs and its outputs are sane.

Timings are not checked (speed belongs in the suite, not in tests); the JSON's
internal consistency, the chart's existence and the problems' data are.
"""

from __future__ import annotations

import json
import math
import sys
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
        floor_ms = 2 * 2000 * 3 * 4 / data["gemm_flops"] * 1e3
        assert math.isclose(row["vs_gemm_floor"], row["ms_per_iter"] / floor_ms)
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
