"""How to drive the libraries a user would pick instead of anykmeans.

Each driver takes host float32 data and returns a zero-argument callable that
runs one fit and returns the number of Lloyd iterations it ran, so that the
caller can time it and divide by what was really run. Preparing (copying the
data where the library wants it) happens before the callable is returned, and
is not timed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: A prepared fit: runs once per call, returns the Lloyd iterations it ran.
Run = Callable[[], int]


def sklearn_lloyd(X: np.ndarray, centres: np.ndarray, iterations: int) -> Run:
    """scikit-learn's ``KMeans(algorithm="lloyd")`` from ``centres`` for ``iterations``.

    ``tol=0``, so it stops early only if the labels stop changing.
    """
    from sklearn.cluster import KMeans

    def run() -> int:
        model = KMeans(len(centres), init=centres, n_init=1, max_iter=iterations, tol=0,
                       algorithm="lloyd")
        return int(model.fit(X).n_iter_)

    return run


def sklearn_fit(X: np.ndarray, k: int) -> Run:
    """scikit-learn's end-to-end ``KMeans(k, random_state=0).fit(X)`` (k-means++, default tol)."""
    from sklearn.cluster import KMeans

    return lambda: int(KMeans(k, random_state=0).fit(X).n_iter_)


def faiss_lloyd(X: np.ndarray, centres: np.ndarray, iterations: int) -> Run:
    """faiss-cpu's ``Kmeans`` from ``centres`` for ``iterations``, on every point.

    ``max_points_per_centroid = n`` turns subsampling off (faiss subsamples
    when ``n > k * max_points_per_centroid``); ``min_points_per_centroid = 1``
    silences its warning on small problems. faiss always runs ``niter``
    iterations and, unlike scikit-learn and anykmeans, no final relabelling.
    """
    import faiss

    n, d = X.shape
    points = np.ascontiguousarray(X, dtype=np.float32)
    start = np.ascontiguousarray(centres, dtype=np.float32)

    def run() -> int:
        model = faiss.Kmeans(d, len(start), niter=iterations, max_points_per_centroid=n,
                             min_points_per_centroid=1, verbose=False, seed=0)
        model.train(points, init_centroids=start)
        return len(model.obj)

    return run
