"""Datasets the tests share: scikit-learn's bundled ones and seeded synthetic blobs."""

from __future__ import annotations

import numpy as np


def blobs(n_samples: int = 600, n_features: int = 5, n_centres: int = 6, seed: int = 0,
          spread: float = 10.0) -> np.ndarray:
    """Gaussian blobs of unit variance around centres drawn uniformly in a cube."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-spread, spread, size=(n_centres, n_features))
    labels = rng.integers(n_centres, size=n_samples)
    return centres[labels] + rng.standard_normal((n_samples, n_features))


def weights(n_samples: int, seed: int = 0) -> np.ndarray:
    """Positive sample weights spanning two orders of magnitude."""
    return np.random.default_rng(seed + 100).uniform(0.05, 5.0, size=n_samples)


def bundled(name: str) -> np.ndarray:
    """One of scikit-learn's bundled datasets, by loader name."""
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")().data
