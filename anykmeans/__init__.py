"""anykmeans: k-means written once against the Python Array API standard.

The same code clusters NumPy, CuPy, PyTorch, JAX, Dask and array-api-strict
arrays; results stay in the caller's library and on the caller's device, and
an integer ``random_state`` gives scikit-learn's answer.
"""

from ._backends import Backend, backends
from ._estimator import KMeans
from ._exceptions import ConvergenceWarning, NotFittedError
from ._kmeans import KMeansResult, kmeans, kmeans_plusplus
from ._minibatch import MiniBatchKMeans
from ._persistence import load_model as load

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "ConvergenceWarning",
    "KMeans",
    "KMeansResult",
    "MiniBatchKMeans",
    "NotFittedError",
    "__version__",
    "backends",
    "kmeans",
    "kmeans_plusplus",
    "load",
]
