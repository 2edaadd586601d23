"""anykmeans: k-means written once against the Python Array API standard.

The same code clusters NumPy, CuPy, PyTorch, JAX, Dask and array-api-strict
arrays; results stay in the caller's library and on the caller's device, and
an integer ``random_state`` gives scikit-learn's answer.
"""

from ._backends import Backend, backends
from ._estimators import BisectingKMeans, KMeans, MiniBatchKMeans, load
from ._exceptions import ConvergenceWarning, NotFittedError, StandardizedModelWarning
from ._kmeans import KMeansResult, k_means, kmeans, kmeans_plusplus
from ._persistence import read_scaling

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BisectingKMeans",
    "ConvergenceWarning",
    "KMeans",
    "KMeansResult",
    "MiniBatchKMeans",
    "NotFittedError",
    "StandardizedModelWarning",
    "__version__",
    "backends",
    "k_means",
    "kmeans",
    "kmeans_plusplus",
    "load",
    "read_scaling",
]
