"""How a library runs a fit's passes over the rows: the eager reference strategy.

A fit is a sequence of passes over the rows of X, each followed by arithmetic
on a few model-sized arrays (centres, sums, potentials): its "small side". An
eager library (NumPy, torch, JAX, CuPy, array-api-strict) runs a pass as one
call on all the rows and keeps its small side on the data's device; a lazy
library (Dask, :class:`anykmeans._libraries._dask.DaskPasses`) may run one task
per block of rows, keep each block's state where it was computed and bring the
small results to the client in one round trip. The block passes are the
generic code's: the same maths on a block as on all rows. A library holds its
strategy as :attr:`~anykmeans._libraries._base.Library.passes`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ._types import Array, Assignment, Pass, PassData


class Passes:
    """The eager strategy: every pass is one call on all the rows, on the data's device.

    Parameters
    ----------
    library : Library
        The library whose passes these are (its plan, its primitives).
    """

    def __init__(self, library: Any) -> None:
        self.library = library

    def resident(self, X: Array, n_clusters: int) -> contextlib.AbstractContextManager[Array]:
        """``X`` as the passes of one fit read it, while the ``with`` block lasts.

        An eager library's is ``X`` itself; a lazy library may hold ``X`` in
        its workers' memory until the block ends, so that each pass reads it
        rather than computing it again. ``n_clusters``, the clusters the fit
        finds, sizes what a library sets up once per fit for its passes, some
        of which may be smaller (a bisecting fit's two-centre passes).
        """
        return contextlib.nullcontext(X)

    def to_small_side(self, *arrays: Any) -> tuple[Any, ...]:
        """Model-sized arrays (the mean, centres, statistics) on the fit's small side.

        An eager library's small side is the data's own device: the arrays are
        returned unchanged. A lazy library evaluates the lazy ones together (one
        round trip) into the library of its blocks, in the caller's process.
        """
        return arrays

    def from_small_side(self, X: Array, *arrays: Array) -> tuple[Array, ...]:
        """Arrays of the small side (:meth:`to_small_side`) as arrays of ``X``'s library on
        its device: an eager library's are already (its small side is ``X``'s device).
        """
        return arrays

    def take_rows(self, data: PassData, indices: Array) -> Any:
        """The rows of ``data.X`` at ``indices`` (not centred, dense), for :meth:`to_small_side`
        or as an operand of the next pass.

        ``indices`` are on the small side. A lazy library may return them
        unevaluated: the pass that takes them as an operand reads them in its
        own round trip and returns them evaluated (:attr:`Pass.operands`).
        """
        return self.library.dense(data.xp, self.library.rows_at(data.xp, data.X, indices))

    def run(self, data: PassData, block_pass: Callable[..., tuple[Any, Any]], state: Any,
            *operands: Any, listed: bool = False) -> Pass:
        """One pass over the rows of ``data``, each block of rows given to ``block_pass``.

        Parameters
        ----------
        data : Data
            The rows (e.g. :class:`anykmeans._primitives.Data`).
        block_pass : callable
            ``block_pass(block, rows, state, *operands) -> (state, small)`` on a
            :class:`~anykmeans._primitives.Data` ``block`` of eager arrays: ``rows``
            is the slice of ``data.X`` it holds, ``state`` what the previous pass
            returned for those rows (None at first). Defined at module level,
            so that a worker process can import it.
        state : object
            The :attr:`Pass.state` of the previous pass over ``data``, or None.
        *operands
            Model-sized arrays on the small side, or what :meth:`take_rows` returned.
        listed : bool, default=False
            List the blocks' ``small`` results in block order instead of adding
            them up (then ``small`` must be a tuple of arrays, or None in place
            of an array, that add up over blocks).

        Returns
        -------
        Pass

        Notes
        -----
        The reference runs ``block_pass`` once, on all the rows.
        """
        state, small = block_pass(data, slice(0, data.X.shape[0]), state, *operands)
        return Pass(state, [small] if listed else small, operands)

    def search(self, data: PassData, state: Any, values: Array, totals: list | None,
               select: Callable[..., Any], find: Callable[..., tuple],
               block_pass: Callable[..., tuple[Any, Any]], *operands: Any) -> Pass:
        """A pass whose first operand is found in the rows: where running sums reach ``values``.

        Parameters
        ----------
        data, state, *operands
            As for :meth:`run`.
        values : array on the small side
            What to find: for each value, the first row at which the running
            sum (over all rows, in order) of a per-row quantity reaches it.
        totals : list or None
            Each block's sum of that quantity, on the small side, where the
            previous pass had several blocks (a lazy library sends each value to
            the block that holds it); None after a pass of one block.
        select : callable
            ``select(block, state) -> selected``: what ``find`` and ``block_pass``
            read of a block's state, the searched quantity among it.
        find : callable
            ``find(block, selected, values, offset) -> found``: a tuple of arrays
            with one row per value, the first holding the found rows' indices
            within the block; ``offset`` is the running sum before the block
            (None for the first block). The library makes the indices index
            ``data.X``.
        block_pass : callable
            ``block_pass(block, rows, state, selected, found, *operands)``, as
            :meth:`run`'s, also given ``selected`` and everything found.

        Returns
        -------
        Pass
            With the blocks' small results listed, and ``found`` first among the
            evaluated operands.
        """
        selected = select(data, state)
        found = find(data, selected, values, None)
        state, small = block_pass(data, slice(0, data.X.shape[0]), state, selected, found,
                                  *operands)
        return Pass(state, [small], (found, *operands))

    def state_array(self, data: PassData, state: Any, index: int, dtype: Any) -> Array:
        """Entry ``index`` of a pass's state (a tuple of per-row arrays) for all of ``data``'s
        rows, as one array of ``data.X``'s library (lazy for a lazy library)."""
        return state[index]

    def assign(self, data: PassData, centres: Array, eager: Callable[..., Assignment],
               **options: Any) -> Assignment:
        """Run the assignment pass ``eager(data, centres, **options)`` the library's way.

        ``data`` is the pass's :class:`anykmeans._primitives.Data`. Eager libraries
        run the pass as it is; a lazy library may split it, e.g. one task per
        block of rows, each running ``eager`` on its block.
        """
        return eager(data, centres, **options)

    def rowwise(self, data: PassData, function: Callable[..., Array], *operands: Any,
                columns: int | None = None, dtype: Any = None) -> Array:
        """``function(data, *operands)``: one value (or one row of ``columns`` values) per row
        of ``data``, for the caller (``predict``, ``transform``, ``score``).

        Parameters
        ----------
        data : Data
            The rows.
        function : callable
            ``function(block, *operands) -> array`` on a
            :class:`~anykmeans._primitives.Data` ``block`` of eager arrays, with
            one entry (or row) per row of ``block``. Defined at module level, so
            that a worker process can import it.
        *operands
            Model-sized arrays (centres).
        columns : int, optional
            The result's second dimension; None for a result of one dimension.
        dtype : dtype, optional
            The result's; ``data.X``'s by default.

        Returns
        -------
        array of shape (n_samples,) or (n_samples, columns)
            Eager libraries compute it now, in one call on all the rows; a lazy
            library returns it unevaluated, one task per block of ``data.X``'s
            rows, blocked as those rows.
        """
        return function(data, *operands)

    def checked(self, X: Array, check: Callable[[Array], None]) -> Array:
        """``X``, whose values ``check`` accepts.

        ``check(X, first_row)`` raises (ValueError) on values it refuses; ``first_row``
        is the index of the first row of the ``X`` it is given among all of ``X``'s rows
        (for a message naming a row: 0 for all of ``X``). Eager libraries
        call it now; a lazy library may call it on each block of rows as the
        block is computed, so that the error is raised where the caller
        computes a result, and nothing of ``X`` is read before.
        """
        check(X, 0)
        return X

    def blocked_like(self, v: Array, X: Array) -> Array:
        """The per-row array ``v`` laid out as the rows of ``X`` (e.g. in the same blocks)."""
        return v
