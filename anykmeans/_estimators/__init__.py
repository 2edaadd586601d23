"""The estimators, in scikit-learn's style: ``KMeans``, ``MiniBatchKMeans`` and
``BisectingKMeans``, and ``load``.

Each estimator is a module over its algorithm (``_kmeans``: Lloyd's, from
:mod:`anykmeans._kmeans`; ``_minibatch``: mini-batch, from
:mod:`anykmeans._minibatch`; ``_bisecting``: bisecting, from
:mod:`anykmeans._bisecting`), on :class:`~anykmeans._estimators._base.CentresEstimator`,
and declares what its model file holds; :func:`load` reads a model file into
the estimator it names, among :data:`ESTIMATORS`.
"""

from __future__ import annotations

from typing import Any

from .._persistence import load_model
from ._bisecting import BisectingKMeans
from ._kmeans import KMeans
from ._minibatch import MiniBatchKMeans

__all__ = ["ESTIMATORS", "BisectingKMeans", "KMeans", "MiniBatchKMeans", "load"]

#: The estimators a model file may hold.
ESTIMATORS = (KMeans, MiniBatchKMeans, BisectingKMeans)


def load(path: Any, like: Any = None) -> KMeans | MiniBatchKMeans | BisectingKMeans:
    """Read a model written by ``model.save(path)``; a file is only ever read as data.

    See :func:`anykmeans._persistence.load_model`, which this calls with
    :data:`ESTIMATORS`: nothing the file names is imported or called, and the
    memory taken, the built model's included, is at most about 100 times the
    file's size. ``like`` says where the model's arrays go, as
    ``model.to(like)`` takes it (NumPy on the CPU when omitted).
    """
    return load_model(path, like, estimators=ESTIMATORS)
