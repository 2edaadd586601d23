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


def faiss_lloyd(X: np.ndarray, centres: np.ndarray, iterations: int,
                spherical: bool = False) -> Run:
    """faiss-cpu's ``Kmeans`` from ``centres`` for ``iterations``, on every point.

    ``max_points_per_centroid = n`` turns subsampling off (faiss subsamples
    when ``n > k * max_points_per_centroid``); ``min_points_per_centroid = 1``
    silences its warning on small problems. faiss always runs ``niter``
    iterations and, unlike scikit-learn and anykmeans, no final relabelling.
    ``spherical``: faiss's spherical k-means (inner-product assignment, centres
    normalised after each update; it does not normalise ``X``).
    """
    import faiss

    n, d = X.shape
    points = np.ascontiguousarray(X, dtype=np.float32)
    start = np.ascontiguousarray(centres, dtype=np.float32)

    def run() -> int:
        model = faiss.Kmeans(d, len(start), niter=iterations, max_points_per_centroid=n,
                             min_points_per_centroid=1, verbose=False, seed=0,
                             spherical=spherical)
        model.train(points, init_centroids=start)
        return len(model.obj)

    return run


#: Scores computed at a time by :func:`torch_lloyd`: bounds its memory (2 GiB of float32).
_TORCH_SCORE_BLOCK = 2**29


def torch_lloyd(device: str) -> Callable[[np.ndarray, np.ndarray, int], Run]:
    """A hand-written PyTorch Lloyd loop on ``device``: the speed-of-light peer for a GPU.

    What a user would write in a few lines, with no tie handling, no centring,
    no empty-cluster relocation and no convergence test: per block of rows one
    ``addmm`` for the scores, ``argmin``, ``index_add_`` and ``bincount`` for the
    sums; the centres are updated on the device and nothing is read back
    until the end. Returns a driver ``(X, centres, iterations) -> Run``.
    """
    def prepare(X: np.ndarray, centres: np.ndarray, iterations: int) -> Run:
        import torch

        points = torch.asarray(X, device=device)
        start = torch.asarray(centres, device=device)
        rows = max(1, _TORCH_SCORE_BLOCK // len(centres))

        def run() -> int:
            c = start.clone()
            for _ in range(iterations):
                sums = torch.zeros_like(c)
                counts = torch.zeros(len(c), dtype=c.dtype, device=device)
                c_sq_norms = (c * c).sum(dim=1)
                for first in range(0, len(points), rows):
                    x = points[first:first + rows]
                    labels = torch.addmm(c_sq_norms, x, c.T, alpha=-2).argmin(dim=1)
                    sums.index_add_(0, labels, x)
                    counts += torch.bincount(labels, minlength=len(c))
                c = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], c)
            c.cpu()  # waits for the device
            return iterations

        return run

    return prepare


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False where torch is missing or CPU-only)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()
