"""The vocabulary of the library layer: array and namespace types, what a pass reads and what
it returns."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol

Array = Any
Namespace = Any


class PassData(Protocol):
    """The rows a pass reads, as the library layer sees them (the generic code's
    :class:`anykmeans._primitives.Data` is one): ``X`` centred on ``mean`` chunk by chunk, with
    optional ``weights``, its namespace ``xp`` and the library that runs it."""

    X: Array
    mean: Array
    weights: Array | None
    chunk_size: int | None
    xp: Namespace
    library: Any

    def __init__(self, X: Array, mean: Array, weights: Array | None = None,
                 chunk_size: int | None = None) -> None: ...

    def chunks(self, n_centres: int, dtype: Any = None) -> Iterator[slice]:
        """Slices covering the rows, a chunk's worth each."""
        ...

    def centred(self, rows: slice) -> Array:
        """``X[rows] - mean``."""
        ...

    def map(self, function: Callable[[slice], Any], n_centres: int,
            dtype: Any = None) -> Iterator[Any]:
        """``function(chunk)`` for every chunk, yielded in chunk order, run the library's way."""
        ...


class Assignment(NamedTuple):
    """What one pass of assignment over the data produced.

    Attributes
    ----------
    labels : integer array of shape (n_samples,)
        Index of the nearest centre of every row (ties go to the lower index).
    inertia : 0-d array
        Weighted sum of the squared distances of the rows to their nearest
        centre, from the scores (``|x|^2 + min_j score``): the rounding of the
        assignment itself; from the residuals ``x - c`` when the pass was
        asked for the exact inertia.
    sums : array of shape (n_clusters, n_features) or None
        Weighted sum of the (centred) rows of each cluster: in float64 where the
        device has it, so that the parts of a pass (chunks, Dask's blocks) add up
        to the same sums in any order and on any library, else in ``X``'s dtype
        (within a pass, a chunk's are a pair ``hi + lo`` of them, rounded once when the
        chunks are added up); the consumer rounds the total to ``X``'s dtype.
    weight_sums : array of shape (n_clusters,) or None
        Sum of the weights of the rows of each cluster.
    x_sq_norms : array of shape (n_samples,)
        Squared norm of every centred row: what the next assignment of the
        same rows may be given instead of computing it again.
    n_changed : 0-d array or None
        How many rows got another label than the pass was given as their
        previous ones, in the rows' dtype; None when it was given none.
    """

    labels: Array
    inertia: Array
    sums: Array | None
    weight_sums: Array | None
    x_sq_norms: Array
    n_changed: Array | None = None

    def plus(self, other: Assignment,
             add_sums: Callable[[Any, Any], Any] = operator.add) -> Assignment:
        """The inertia, sums and changed labels of two parts of a pass added up (labels and
        norms dropped); the sums and weight sums by ``add_sums``."""
        def add(a: Array | None, b: Array | None, by: Callable[[Any, Any], Any] = operator.add
                ) -> Array | None:
            return None if a is None else by(a, b)

        return Assignment(None, self.inertia + other.inertia,
                          add(self.sums, other.sums, add_sums),
                          add(self.weight_sums, other.weight_sums, add_sums), None,
                          add(self.n_changed, other.n_changed))


class Pass(NamedTuple):
    """What :meth:`~anykmeans._libraries._passes.Passes.run` (or ``search``) returns.

    Attributes
    ----------
    state : object
        What the block passes returned for the rows, for the next pass over the
        same rows (``Passes.state_array`` reads it). Opaque: an eager library's
        is the block pass's own; a lazy library's stays where each block was
        computed.
    small : object
        The block passes' small results: summed over the blocks, or listed in
        block order when the pass was asked to list them; arrays of the
        library's small side (see ``Passes.to_small_side``).
    operands : tuple
        The pass's operands, evaluated on the small side (rows that
        ``Passes.take_rows`` or a search found are read here).
    """

    state: Any
    small: Any
    operands: tuple
