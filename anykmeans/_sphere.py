"""The unit sphere of spherical (cosine) k-means: rows and centres put on it.

Spherical k-means clusters directions: every row is divided by its norm, and
the centres are after every update (FAISS's ``spherical=True``). Between unit
vectors ``|x - c|^2 = 2 - 2 x.c``, so the nearest centre by Euclidean distance
is the one of largest inner product (cosine), and the cosine distance
``1 - cos`` is half the squared distance: the Euclidean passes serve
unchanged, k-means++ among them (its ``D(x)^2`` is twice the cosine distance,
a factor that changes no draw and no choice).
"""

from __future__ import annotations

import functools

from ._libraries import library_of
from ._namespace import Array, Namespace
from ._validation import check_nonzero_norms

#: The cosine distance ``1 - cos(x, c)`` per squared distance ``|x - c|^2`` of unit vectors.
COSINE_PER_SQUARED_DISTANCE = 0.5


def unit_rows(xp: Namespace, X: Array, name: str = "X", *, lazily: bool = False) -> Array:
    """``X`` with every row divided by its Euclidean norm: a new array, ``X``'s dtype and
    kind (sparse data stays sparse: its stored values scaled, the library's
    :meth:`~anykmeans._libraries.Library.scale_rows`).

    With ``lazily``, a lazy library checks the norms in the tasks that compute
    the rows (:meth:`~anykmeans._libraries._passes.Passes.checked`, as
    :func:`~anykmeans._validation.check_data`'s ``lazily``): nothing of ``X``
    is read before the caller computes a result.

    Raises
    ------
    ValueError
        If a row of ``X`` is zero (:func:`~anykmeans._validation.check_nonzero_norms`).
    """
    library = library_of(X)
    norms = xp.sqrt(library.sq_norms(xp, X))
    check = functools.partial(check_nonzero_norms, name=name, n_rows=X.shape[0])
    if lazily:
        norms = library.passes.checked(norms, check)
    else:
        check(norms)
    return library.scale_rows(xp, X, 1 / norms)


def on_sphere(xp: Namespace, centres: Array, mean: Array) -> Array:
    """Centres of the frame centred on ``mean`` moved to the unit sphere of the data's frame:
    ``c / |c| - mean`` with ``c`` the centre plus ``mean``; a zero ``c`` (a cluster whose
    rows add up to zero) stays where it is, as FAISS leaves it."""
    c = centres + mean
    norms = xp.linalg.vector_norm(c, axis=1)
    return c / xp.where(norms > 0, norms, xp.ones_like(norms))[:, None] - mean
