"""The documentation builds without warnings (its API reference from the docstrings), its examples
and the README's run and are paste-safe, and the tests it cites exist."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
#: Pages whose examples run: the documentation and the README.
EXAMPLES = [*PAGES, ROOT / "README.md"]
#: Libraries an example may need that a minimal install lacks.
OPTIONAL = {"torch", "jax", "dask", "distributed", "cupy", "matplotlib", "sklearn",
            "array_api_strict"}


def python_blocks(page: Path) -> list[str]:
    """The ```python fenced blocks of a Markdown page, in order."""
    return re.findall(r"^```python\n(.*?)^```$", page.read_text(), flags=re.S | re.M)


def leading_imports_end(block: str) -> int:
    """The last line of the import statements a block starts with (0 if it starts otherwise)."""
    end = 0
    for statement in ast.parse(block).body:
        if not isinstance(statement, ast.Import | ast.ImportFrom):
            break
        end = statement.end_lineno
    return end


def test_every_page_is_found_and_some_have_examples():
    names = {page.name for page in PAGES}
    assert {"index.md", "arrays.md", "which-backend.md", "api.md", "api-reference.md", "cli.md",
            "scaling.md", "theory.md", "benchmarks.md", "benchmark-history.md"} <= names
    assert sum(len(python_blocks(page)) for page in PAGES) >= 15


@pytest.mark.parametrize("page", [p for p in EXAMPLES if python_blocks(p)], ids=lambda p: p.name)
def test_python_examples_run(page, tmp_path, monkeypatch):
    """Every block of a page runs, in order, in one namespace (as a reader would paste them).

    Paste-safe: a block needing an optional library that is not installed may stop only at
    the imports it starts with, before it has done anything; every other block still runs.
    """
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict = {"__name__": f"docs.{page.stem}"}
    missing: dict[int, str] = {}  # block number: the library it needs
    for number, block in enumerate(python_blocks(page), start=1):
        name = f"{page.name}, python block {number}"
        try:
            exec(compile(block, name, "exec"), namespace)
        except ModuleNotFoundError as exc:
            line = next(frame.lineno for frame in traceback.extract_tb(exc.__traceback__)
                        if frame.filename == name)
            if exc.name not in OPTIONAL or line > leading_imports_end(block):
                raise
            missing[number] = exc.name
    if missing:
        pytest.skip(f"{page.name}: blocks {sorted(missing)} need {sorted(set(missing.values()))}, "
                    "which are not installed; the others ran")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``mkdocs build --strict`` of the documentation: the run and the site it wrote."""
    if any(importlib.util.find_spec(name) is None for name in ("mkdocs", "mkdocstrings")):
        pytest.skip("mkdocs or mkdocstrings is not installed (pip install -e '.[docs]')")
    path = tmp_path_factory.mktemp("site")
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                          str(ROOT / "mkdocs.yml"), "--site-dir", str(path)],
                         capture_output=True, text=True, timeout=300)
    return out, path


def test_mkdocs_builds_strictly(site):
    out, path = site
    assert out.returncode == 0, out.stderr
    assert "WARNING" not in out.stderr, out.stderr
    assert (path / "theory" / "index.html").is_file()
    assert (path / "images" / "clusters.png").is_file()
    assert (path / "notes" / "benchmark-history" / "index.html").is_file()


def test_api_reference_is_generated_from_the_docstrings(site):
    out, path = site
    assert out.returncode == 0, out.stderr
    page = (path / "api-reference" / "index.html").read_text()
    assert ":::" not in page  # every directive was rendered
    for name in ("KMeans", "KMeans.fit", "KMeans.predict", "MiniBatchKMeans.partial_fit",
                 "kmeans", "kmeans_plusplus", "KMeansResult", "load", "backends", "Backend",
                 "ConvergenceWarning", "NotFittedError", "plot.plot_clusters", "plot.plot_fit"):
        assert f'id="anykmeans.{name}"' in page, name
    # KMeans's parameters, in its own section, as its docstring states them
    kmeans = page[page.index('id="anykmeans.KMeans"'):page.index('id="anykmeans.KMeans.fit"')]
    for parameter in ("n_clusters", "init", "n_init", "max_iter", "tol", "random_state",
                      "chunk_size", "oversampling_factor", "init_max_iter"):
        assert f"<code>{parameter}</code>" in kmeans, parameter
    assert "The number of clusters and centres." in kmeans
    # types as the docstring writes them, Sphinx roles as code (docs/griffe_numpydoc.py)
    assert "}, array or callable</code>" in kmeans and "<code>(None, " not in kmeans
    assert ":func:" not in page and ":class:" not in page


def test_tests_cited_in_the_docs_exist():
    cited = {(file, name) for page in PAGES
             for file, name in re.findall(r"tests/(\w+\.py)::(\w+)", page.read_text())}
    assert cited, "the docs cite no test"
    for file, name in sorted(cited):
        source = ROOT / "tests" / file
        assert source.is_file(), f"{file} does not exist"
        assert re.search(rf"^def {name}\(", source.read_text(), flags=re.M), f"{file}::{name}"


def _plot_hint(monkeypatch) -> str:
    """What anykmeans.plot says where matplotlib cannot be imported."""
    from anykmeans.plot import _matplotlib

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as where it is not installed
    with pytest.raises(ImportError) as error:
        _matplotlib()
    return str(error.value)


def test_install_hints_name_what_pip_can_install(monkeypatch):
    """anykmeans is installed from a clone, not from the package index: a hint names packages of
    the index (``pip install torch``), or the clone's extras in an editable install
    (``pip install -e ".[plot]"``), never ``anykmeans[...]``."""
    from anykmeans._libraries import LIBRARIES

    hints = {cls.name: cls.install for cls in LIBRARIES} | {"plot": _plot_hint(monkeypatch)}
    for name, hint in hints.items():
        assert "pip install" in hint and "anykmeans[" not in hint, (name, hint)
        for command in re.split(r"pip install", hint)[1:]:  # a clone's extras only with -e
            assert ".[" not in command or command.lstrip().startswith("-e"), (name, hint)
    assert "--index-url https://download.pytorch.org/whl/cpu" in hints["torch"]
    # docs/benchmarks.md quotes the output of past runs as it was
    texts = [ROOT / "README.md", *(p for p in PAGES if p.name != "benchmarks.md"),
             *sorted((ROOT / "anykmeans").rglob("*.py"))]
    for text in texts:
        assert "anykmeans[" not in text.read_text(), text.relative_to(ROOT)
