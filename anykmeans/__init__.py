"""anykmeans: k-means written once against the Python Array API standard.

The same code clusters NumPy, CuPy, PyTorch, JAX, Dask and array-api-strict
arrays; results stay in the caller's library and on the caller's device, and
an integer ``random_state`` gives scikit-learn's answer.
"""

from typing import Any

from ._backends import Backend, backends
from ._estimator import KMeans
from ._exceptions import ConvergenceWarning, NotFittedError, StandardizedModelWarning
from ._kmeans import KMeansResult, kmeans, kmeans_plusplus
from ._minibatch import MiniBatchKMeans
from ._persistence import load_model, read_scaling

#: The estimators a model file may hold.
ESTIMATORS = (KMeans, MiniBatchKMeans)


def load(path: Any, like: Any = None) -> KMeans | MiniBatchKMeans:
    """Read a model written by ``model.save(path)``; a file is only ever read as data.

    See :func:`anykmeans._persistence.load_model`, which this calls with
    :data:`ESTIMATORS`: nothing the file names is imported or called, and the
    memory taken, the built model's included, is at most about 100 times the
    file's size. ``like`` says where the model's arrays go, as
    ``model.to(like)`` takes it (NumPy on the CPU when omitted).
    """
    return load_model(path, like, estimators=ESTIMATORS)

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "ConvergenceWarning",
    "KMeans",
    "KMeansResult",
    "MiniBatchKMeans",
    "NotFittedError",
    "StandardizedModelWarning",
    "__version__",
    "backends",
    "kmeans",
    "kmeans_plusplus",
    "load",
    "read_scaling",
]
