"""Sums beyond a dtype's precision, in the standard alone: values as unevaluated pairs ``hi + lo``.

Where a device has no float64 (JAX without x64, a float32-only device), float32
values are added up as pairs of float32 values by error-free transformations
(Knuth's two-sum, Dekker's fast two-sum and product, Veltkamp's split), so that
a sum rounded once at the end is the float32 value that adding up in float64
and rounding gives, whatever the library: every step is elementwise (which
every library rounds correctly) or an addition that is exact in any order.

Long sums over rows (:func:`paired_sums`) split each value into parts on grids
coarse enough that any library's additions of a block's parts are exact (Rump,
Ogita and Oishi's extraction): a reduction, a segment sum or a matrix product
of them then loses nothing, whatever its order, and only the last part, a few
units in the 33rd bit below the block's largest value, is rounded. The blocks'
pairs are then added in one fixed order.

None of this may be simplified by a compiler that reassociates floating-point
arithmetic (fast-math): JAX's does not by default.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import array_api_compat

#: Rows a block of :func:`paired_sums` holds at most: its parts' grids, and with them how
#: many bits each part holds (about ``23 - log2(4 (rows + 1))``: 10 for 1024 rows), follow
#: from how many values an exact sum may have.
BLOCK_ROWS = 1024

#: Parts :func:`paired_sums` adds up exactly before the rounded rest: about 30 bits below
#: a block's largest value (33 for blocks of 1024 rows), the rest's rounding about 2^-57
#: of the block's sum of magnitudes, far below a float64 sum's own.
EXACT_PARTS = 3

#: An unevaluated sum ``hi + lo`` of two arrays of one dtype and shape.
Pair = tuple[Any, Any]


def split(xp: Any, a: Any) -> Pair:
    """``a`` as ``high + low``, exactly, each with half of the dtype's significand
    (Veltkamp)."""
    scaled = (2.0 ** _half_bits(xp, a.dtype) + 1) * a
    high = scaled - (scaled - a)
    return high, a - high


def _half_bits(xp: Any, dtype: Any) -> int:
    """Half the significand bits of ``dtype`` (the hidden one too), rounded up."""
    bits = 2 - math.frexp(xp.finfo(dtype).eps)[1]
    return -(-bits // 2)


def fast_two_sum(a: Any, b: Any) -> Pair:
    """``a + b`` as ``hi + lo`` exactly, for ``|a| >= |b|`` (Dekker)."""
    total = a + b
    return total, b - (total - a)


def pair_add(a: Pair, b: Pair) -> Pair:
    """The sum of two ``hi + lo`` pairs as one, renormalised (Knuth's two-sum on the
    highs)."""
    total = a[0] + b[0]
    back = total - a[0]
    error = (a[0] - (total - back)) + (b[0] - back)
    return fast_two_sum(total, error + (a[1] + b[1]))


def rounded_quotient(xp: Any, pair: Pair, divisor: int) -> Any:
    """``(hi + lo) / divisor``, rounded once to the pair's dtype (to the nearest but where the
    quotient is within about 2^-46 of its value of halfway between two), for a ``divisor``
    the dtype holds exactly (up to 2^24 in float32).

    The first quotient's product with the divisor is made exactly (Dekker), the
    remainder divided again, and the two quotients added once.
    """
    high, low = pair
    quotient = high / divisor
    product = quotient * divisor
    q_high, q_low = split(xp, quotient)
    half = _half_bits(xp, high.dtype)
    d_high, d_low = float(divisor >> half << half), float(divisor & ((1 << half) - 1))
    error = ((q_high * d_high - product) + q_high * d_low + q_low * d_high) + q_low * d_low
    remainder = ((high - product) - error) + low
    return quotient + remainder / divisor


def halving_sum(xp: Any, values: tuple[Any, Any]) -> tuple[Any, Any]:
    """Sums along axis 1 of ``values`` (an array, or ``hi + lo`` pairs with ``lo`` not
    None), in one fixed order whatever the library: the first half of the columns added
    to the second, the odd one out kept last, until one column is left."""
    high, low = values
    while high.shape[1] > 1:
        half, odd = high.shape[1] // 2, high.shape[1] % 2
        if low is None:
            parts = (high[:, :half] + high[:, half:2 * half], None)
        else:
            parts = pair_add((high[:, :half], low[:, :half]),
                             (high[:, half:2 * half], low[:, half:2 * half]))
        if odd:
            parts = tuple(None if p is None else xp.concat([p, v[:, 2 * half:]], axis=1)
                          for p, v in zip(parts, (high, low), strict=True))
        high, low = parts
    return high[:, 0], None if low is None else low[:, 0]


def exact_parts(xp: Any, blocks: Any, n_exact: int = EXACT_PARTS) -> list[Any]:
    """``blocks`` ``(n_blocks, rows, width)`` as ``n_exact + 1`` parts of its shape that add
    up to it exactly; each of the first ``n_exact`` adds up exactly over the rows of a block,
    in any order.

    A part is the rest rounded to a multiple of a grid: ``(s + r) - s`` with ``s``
    ``4 (rows + 1)`` times the column's largest ``|r|`` in the block, whose sum
    over the block's rows is a multiple of the grid below ``s`` (all its
    partial sums too: exact), and the rest ``r`` less it is exact.
    """
    scale = 4.0 * (blocks.shape[1] + 1)
    parts, rest = [], blocks
    for _ in range(n_exact):
        grid = xp.max(xp.abs(rest), axis=1, keepdims=True) * scale
        part = (grid + rest) - grid
        parts.append(part)
        rest = rest - part
    parts.append(rest)
    return parts


def paired_sums(xp: Any, values: Any, add_up: Callable[[Any], Any]) -> Pair:
    """Sums of the rows of ``values`` ``(n_rows, width)`` as ``hi + lo`` pairs: ``add_up``'s
    sums, made as if in twice the dtype's precision.

    Parameters
    ----------
    values : array of shape (n_rows, width)
    add_up : callable
        ``add_up(blocks)``: of ``(n_blocks, rows, w)`` values (the rows in blocks of
        at most :data:`BLOCK_ROWS`, the last padded with zero rows), the sums
        ``(n_blocks, m, w)`` of whichever rows of each block make each of ``m`` sums
        (a sum over the block, its rows' sums by label), by any additions.

    Returns
    -------
    hi, lo : arrays of shape (m, width), ``values``' dtype

    Notes
    -----
    Each block's values are split into :func:`exact_parts`, added up together
    (one call of ``add_up``), each part's sums made into a pair in one fixed
    order, and the blocks' pairs added in halving order (:func:`halving_sum`).
    """
    n_rows, width = values.shape
    rows = min(n_rows, BLOCK_ROWS)
    n_blocks = -(-n_rows // rows)
    padding = n_blocks * rows - n_rows
    if padding:
        values = xp.concat([values, xp.zeros((padding, width), dtype=values.dtype,
                                             device=array_api_compat.device(values))])
    parts = exact_parts(xp, xp.reshape(values, (n_blocks, rows, width)))
    sums = add_up(xp.concat(parts, axis=2))
    last = len(parts) - 1
    pair = (sums[..., last * width:], xp.zeros_like(sums[..., :width]))
    for j in range(last - 1, -1, -1):
        part = sums[..., j * width:(j + 1) * width]
        pair = pair_add((part, xp.zeros_like(part)), pair)
    m = sums.shape[1]
    high, low = (xp.reshape(p, (n_blocks, m * width)).T for p in pair)
    high, low = halving_sum(xp, (high, low))
    return xp.reshape(high, (m, width)), xp.reshape(low, (m, width))

