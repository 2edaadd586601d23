"""The benchmark problems: their shapes, their data and their fixed initial centres.

Every problem is float32 Gaussian blobs, generated directly in float32 and in
row blocks, so that building the data allocates nothing beyond the data itself
(the memory measurement takes its baseline after the data is built).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Rows generated at a time: bounds the temporaries of data generation.
_BLOCK = 8192

#: Standard deviation of the blob centres; the noise around each centre has unit variance.
CENTRE_SPREAD = 2.0


@dataclass(frozen=True)
class Problem:
    """One benchmark problem: ``n`` points in ``d`` dimensions, ``k`` clusters.

    Attributes
    ----------
    name : str
        Label in the table, the JSON and the chart ("S1", "n=125000", ...).
    n, d, k : int
        Number of points, of features and of clusters.
    series : str
        Which group the problem belongs to: "standard", "custom", "n" or "k"
        (the scaling series) or "memory" (the memory target).
    """

    name: str
    n: int
    d: int
    k: int
    series: str = "standard"

    #: Whether the data is a SciPy sparse matrix (:mod:`benchmarks.text`).
    sparse = False

    @property
    def flops(self) -> int:
        """Floating-point operations of one assignment's GEMM, ``2 n k d``."""
        return 2 * self.n * self.k * self.d

    @property
    def nbytes(self) -> int:
        """Bytes of the float32 data ``X``: what one read of it moves."""
        return 4 * self.n * self.d

    def data(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The points and the initial centres, the same for every implementation.

        Parameters
        ----------
        seed : int
            Seed of the generator; the same seed gives the same arrays.

        Returns
        -------
        X : ndarray of shape (n, d), float32, C-contiguous
            ``k`` Gaussian blobs: unit-variance noise around centres drawn with
            standard deviation :data:`CENTRE_SPREAD`, each point's blob uniform.
        centres : ndarray of shape (k, d), float32
            ``k`` distinct rows of ``X`` drawn with the same seed.
        """
        rng = np.random.default_rng(seed)
        blobs = rng.standard_normal((self.k, self.d), dtype=np.float32) * CENTRE_SPREAD
        X = np.empty((self.n, self.d), dtype=np.float32)
        for start in range(0, self.n, _BLOCK):
            block = X[start:start + _BLOCK]
            rng.standard_normal(block.shape, dtype=np.float32, out=block)
            block += blobs[rng.integers(self.k, size=len(block))]
        centres = X[rng.choice(self.n, self.k, replace=False)]
        return X, centres


STANDARD = (
    Problem("S1", 1_000_000, 32, 64),
    Problem("S2", 200_000, 128, 256),
    Problem("S3", 1_000_000, 4, 16),
    Problem("S4", 100_000, 64, 1024),
)

#: The two shapes beside S1-S4 in issue 27's table: wide rows, few centres (W1); three
#: features (N1), where one read of ``X`` is most of the floor (``--problems W1 N1``).
EXTRA = (
    Problem("W1", 300_000, 256, 100, "extra"),
    Problem("N1", 2_000_000, 3, 8, "extra"),
)

#: Large k on a CPU: an inverted-file index's coarse quantiser at a size a CPU runs
#: (``--problems L1``; each iteration is ~100 GFLOP).
LARGE_K = (Problem("L1", 200_000, 64, 4096, "large k"),)

#: Problems for a GPU: FAISS's published size (1M x 256, k = 20 000). On a CPU one
#: iteration is ~10 TFLOP: run it with --problems F1 where a GPU is lent.
GPU = (Problem("F1", 1_000_000, 256, 20_000, "gpu"),)

#: Scaling series: n at d=32, k=64, and k at n=200k, d=32.
SCALING = {
    "n": tuple(Problem(f"n={n}", n, 32, 64, "n") for n in (125_000, 250_000, 500_000, 1_000_000)),
    "k": tuple(Problem(f"k={k}", 200_000, 32, k, "k") for k in (16, 64, 256, 1024)),
}

#: The memory target: its n x k float32 score matrix would take 32 GB.
MEMORY_TARGET = Problem("M (2M, 32, 4096)", 2_000_000, 32, 4096, "memory")

#: The memory target's bound on the extra peak memory of a fit, in bytes.
MEMORY_TARGET_BYTES = 1 << 30


def custom(n: int, d: int, k: int) -> Problem:
    """A problem of the caller's shape (``--shape N D K``)."""
    return Problem(f"custom ({n}, {d}, {k})", n, d, k, "custom")
