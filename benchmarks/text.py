"""A sparse problem of real text: TF-IDF vectors of the standard library's docstrings.

The corpus ships with every Python: the docstrings of the modules, classes and
functions of the standard library's own source files (read with :mod:`ast`,
nothing imported; its test suites included, installed packages not), each
paragraph of at least :data:`MIN_WORDS` words a document, repeats dropped, in
file order, at most :data:`N_DOCUMENTS` of them (Python 3.11's has about 17 000).
scikit-learn's ``TfidfVectorizer`` turns them into a SciPy CSR matrix, with the
settings of scikit-learn's own text-clustering example.
"""

from __future__ import annotations

import ast
import functools
import sysconfig
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .problems import Problem

#: Documents of the corpus at most.
N_DOCUMENTS = 20_000

#: A docstring's paragraph needs this many words to be a document.
MIN_WORDS = 5

#: Folders under the standard library's that hold installed packages, not the library.
_SKIPPED = {"site-packages", "dist-packages", "__pycache__"}


def _docstrings(path: Path) -> list[str]:
    """The docstrings of a source file's module, classes and functions, in file order."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return []
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    found = (ast.get_docstring(node) for node in ast.walk(tree) if isinstance(node, nodes))
    return [doc for doc in found if doc]


@functools.cache
def corpus(n_documents: int = N_DOCUMENTS) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The documents and the module each came from (its path under the standard library).

    Returns
    -------
    documents, sources : tuples of str
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    documents, sources, seen = [], [], set()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if _SKIPPED.intersection(relative.parts[:-1]):
            continue
        paragraphs = (p.strip() for doc in _docstrings(path) for p in doc.split("\n\n"))
        for paragraph in paragraphs:
            if len(paragraph.split()) >= MIN_WORDS and paragraph not in seen:
                seen.add(paragraph)
                documents.append(paragraph)
                sources.append(str(relative.with_suffix("")).replace("/", "."))
            if len(documents) == n_documents:
                return tuple(documents), tuple(sources)
    return tuple(documents), tuple(sources)


def vectorise(documents: tuple[str, ...]):
    """scikit-learn's ``TfidfVectorizer`` as its text-clustering example sets it: words in at
    least 5 documents and at most half of them, English stop words left out.

    Returns
    -------
    X : scipy.sparse.csr_matrix of float64, ``(n_documents, n_terms)``, rows of unit norm
    terms : ndarray of str, the feature names
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectoriser = TfidfVectorizer(max_df=0.5, min_df=5, stop_words="english")
    X = vectoriser.fit_transform(documents)
    return X, vectoriser.get_feature_names_out()


@functools.cache
def tfidf():
    """:func:`vectorise` of :func:`corpus`, computed once per process."""
    return vectorise(corpus()[0])


@dataclass(frozen=True)
class TextProblem(Problem):
    """The TF-IDF problem: the shape is the corpus's (``n``, ``d`` filled in by :func:`text`).

    Its data is a SciPy CSR matrix; the initial centres are ``k`` distinct rows of it, dense,
    drawn with the seed.
    """

    nnz: int = 0
    sparse = True

    @property
    def flops(self) -> int:
        """Floating-point operations of one assignment's sparse product, ``2 nnz k``."""
        return 2 * self.nnz * self.k

    def data(self, seed: int = 0):
        X, _ = tfidf()
        rng = np.random.default_rng(seed)
        centres = X[np.sort(rng.choice(X.shape[0], self.k, replace=False))].toarray()
        return X, centres


def text(k: int = 20) -> TextProblem:
    """The problem "T1": the corpus's TF-IDF matrix with ``k`` clusters."""
    X, _ = tfidf()
    return TextProblem("T1", X.shape[0], X.shape[1], k, "text", X.nnz)


def top_terms(centres: np.ndarray, terms: np.ndarray, n_terms: int = 8) -> list[list[str]]:
    """The ``n_terms`` terms of largest weight in each centre, largest first."""
    order = np.argsort(-centres, axis=1, kind="stable")[:, :n_terms]
    return [[str(terms[i]) for i in row] for row in order]


def cpu_per_iteration(k: int = 20, seed: int = 0, repeats: int = 7,
                      iterations: int = 20) -> dict[str, float]:
    """CPU milliseconds per Lloyd iteration of anykmeans and of scikit-learn on the corpus, at
    one thread each, interleaved: the median over ``repeats`` of the process's CPU time of a
    fit of ``iterations + 1`` iterations less that of a fit of one (``tol=0``, the same
    initial centres: :meth:`TextProblem.data`). CPU time, not wall time: on a shared machine
    a thread's wait for a core is not counted."""
    import time

    from sklearn.cluster import KMeans as TheirKMeans
    from threadpoolctl import threadpool_limits

    import anykmeans

    X, init = text(k).data(seed)
    kinds = {"anykmeans": anykmeans.KMeans, "scikit-learn": TheirKMeans}

    def cpu(kind, max_iter: int) -> float:
        start = time.process_time()
        kind(k, init=init, n_init=1, max_iter=max_iter, tol=0).fit(X)
        return time.process_time() - start

    times: dict[str, list[float]] = {name: [] for name in kinds}
    with threadpool_limits(1):
        for kind in kinds.values():
            cpu(kind, 2)  # what a process loads once
        for _ in range(repeats):
            for name, kind in kinds.items():
                times[name].append((cpu(kind, iterations + 1) - cpu(kind, 1)) / iterations)
    return {name: 1e3 * float(np.median(values)) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Cluster the corpus with anykmeans and scikit-learn (the same seed), print each
    cluster's size and top terms, whether the two agree, and each fit's time; with
    ``--cpu-per-iteration``, the CPU time of a Lloyd iteration of each at one thread
    (:func:`cpu_per_iteration`) instead."""
    import argparse
    import time

    import anykmeans

    parser = argparse.ArgumentParser(prog="python -m benchmarks.text", description=main.__doc__)
    parser.add_argument("--k", type=int, default=20, help="clusters (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    parser.add_argument("--cpu-per-iteration", action="store_true",
                        help="CPU ms per Lloyd iteration at one thread, each implementation")
    args = parser.parse_args(argv)
    if args.cpu_per_iteration:
        ms = cpu_per_iteration(args.k, args.seed)
        print(f"CPU ms per Lloyd iteration, one thread: anykmeans {ms['anykmeans']:.2f}, "
              f"scikit-learn {ms['scikit-learn']:.2f}, "
              f"ratio {ms['anykmeans'] / ms['scikit-learn']:.2f}")
        return 0
    X, terms = tfidf()
    print(f"{X.shape[0]} documents, {X.shape[1]} terms, {X.nnz} non-zeros "
          f"({100 * X.nnz / (X.shape[0] * X.shape[1]):.2f} %)")
    start = time.perf_counter()
    model = anykmeans.KMeans(args.k, random_state=args.seed).fit(X)
    ours = time.perf_counter() - start
    from sklearn.cluster import KMeans

    start = time.perf_counter()
    theirs = KMeans(args.k, random_state=args.seed).fit(X)
    seconds = time.perf_counter() - start
    sizes = np.bincount(model.labels_, minlength=args.k)
    for j, words in enumerate(top_terms(model.cluster_centers_, terms)):
        print(f"cluster {j:2d} ({sizes[j]:5d} documents): {' '.join(words)}")
    same = bool(np.array_equal(model.labels_, theirs.labels_))
    print(f"anykmeans: {model.n_iter_} iterations, inertia {model.inertia_:.6f}, {ours:.2f} s")
    print(f"scikit-learn: {theirs.n_iter_} iterations, inertia {theirs.inertia_:.6f}, "
          f"{seconds:.2f} s; the same labels: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
