"""Initial centres: greedy k-means++, k-means||, random rows, or what the caller gives.

Centres are returned in the centred frame, ``X[i] - mean``.
"""

from __future__ import annotations

from ._kmeans_parallel import kmeans_parallel_centres
from ._kmeans_plusplus import kmeans_plusplus_indices
from ._namespace import Array
from ._primitives import Data
from ._random import RandomState, choice_without_replacement
from ._sphere import unit_rows
from ._validation import check_centres


def initial_centres(data: Data, n_clusters: int, init, rng: RandomState,
                    spherical: bool = False, **parallel_options) -> Array:
    """Initial centres in the centred frame, ``(n_clusters, n_features)``.

    Parameters
    ----------
    data : Data
        The rows, their centring offset and their (non-optional) weights.
    init : {"k-means++", "k-means||", "random"}, callable or array
        A validated init: an array is taken as given (in ``X``'s frame); a
        callable is called as ``init(X, n_clusters, random_state=rng)`` on the
        caller's (uncentred) data and its result validated like an array.
    spherical : bool, default=False
        Spherical k-means: the rows of ``data`` are unit vectors (the rows
        chosen as seeds are too), and so are made an array's or a callable's
        centres (a zero centre is refused).
    **parallel_options
        ``oversampling_factor`` and ``n_rounds`` of "k-means||".
    """
    xp, X = data.xp, data.X
    if isinstance(init, str):
        if init == "k-means||":
            return kmeans_parallel_centres(data, n_clusters, rng, **parallel_options)
        if init == "k-means++":
            indices = kmeans_plusplus_indices(data, n_clusters, rng)
        else:
            indices = choice_without_replacement(xp, rng, data.weights, n_clusters)
        centres = data.dense_rows(indices)
        # Rows of data that is not centred are the centres: no copy beside them.
        return centres - data.mean if data.library.centring else centres
    if callable(init):
        init = check_centres(init(X, n_clusters, random_state=rng), xp, X, n_clusters,
                             name="the result of the init callable")
    if spherical:
        init = unit_rows(xp, init, "init")
    return init - data.mean
