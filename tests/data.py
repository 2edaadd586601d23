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


def untied_digits() -> np.ndarray:
    """scikit-learn's digits plus uniform noise of 1e-3 pixel.

    Digits are integer pixels, so a point is often exactly equidistant from two
    centres that are data rows (the first assignment of every seeding).
    anykmeans gives such ties to the lower cluster index on every backend;
    scikit-learn gives them to whichever distance its rounding made smaller.
    The noise removes exact ties and changes nothing else about the problem.
    """
    X = bundled("digits")
    return X + np.random.default_rng(0).uniform(-1e-3, 1e-3, size=X.shape)
