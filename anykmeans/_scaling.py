"""Feature scales for the command line: standardisation (``fit --standardize``) and the hint.

Everything here works on a NumPy table on the host, in float64, a block of
rows at a time (no temporary the size of the table), and holds for any finite
data: a feature near the largest float64 is standardised like any other,
since every feature is first divided by a power of two near its largest
magnitude (exactly: the z-scores are those of ``(x - mean) / scale``, bit
for bit, wherever that does not overflow).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["feature_moments", "scale_hint", "standardize"]

#: Rows taken at a time.
BLOCK_ROWS = 2**16
#: How many times wider than another one feature's range may be before ``fit`` hints at
#: ``--standardize``.
SCALE_RATIO_HINT = 100


def _blocks(n_rows: int) -> range:
    return range(0, n_rows, BLOCK_ROWS)


def _power_of_two(magnitude: np.ndarray) -> np.ndarray:
    """The power of two at or below each positive ``magnitude`` (1 for 0 and below 1)."""
    exponents = np.frexp(np.maximum(magnitude, 1.0))[1] - 1
    return np.ldexp(1.0, exponents)


def feature_moments(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and standard deviation of every column of ``data``, in float64.

    Both are finite for finite data: each column is divided by a power of two
    at most its largest magnitude before its sums are taken.
    """
    n_rows = data.shape[0]
    largest = np.zeros(data.shape[1])
    for start in _blocks(n_rows):
        block = np.abs(data[start:start + BLOCK_ROWS], dtype=np.float64)
        np.maximum(largest, block.max(axis=0), out=largest)
    unit = _power_of_two(largest)
    total = np.zeros(data.shape[1])
    for start in _blocks(n_rows):
        total += (data[start:start + BLOCK_ROWS] / unit).sum(axis=0)
    mean = total / n_rows
    squares = np.zeros(data.shape[1])
    for start in _blocks(n_rows):
        squares += ((data[start:start + BLOCK_ROWS] / unit - mean) ** 2).sum(axis=0)
    return mean * unit, np.sqrt(squares / n_rows) * unit


def standardize(data: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(data - mean) / scale`` in float64, each column first divided by a power of two near
    its scale (exact), so that no finite value overflows on the way."""
    unit = _power_of_two(scale)
    out = np.empty(data.shape, dtype=np.float64)
    for start in _blocks(data.shape[0]):
        rows = slice(start, start + BLOCK_ROWS)
        np.divide(data[rows], unit, out=out[rows])
        out[rows] -= mean / unit
        out[rows] /= scale / unit
    return out


def scale_hint(data: np.ndarray, names: Sequence[str]) -> str | None:
    """A hint at ``--standardize`` if the widest feature's range (largest minus smallest
    value) is more than :data:`SCALE_RATIO_HINT` times the narrowest's (constant features
    aside), else None.

    Ranges, not standard deviations: a feature that is nearly constant (an image's border
    pixel, zero but in a few rows) has a tiny deviation in the units of the others.
    """
    low = np.full(data.shape[1], np.inf)
    high = np.full(data.shape[1], -np.inf)
    for start in _blocks(data.shape[0]):
        block = data[start:start + BLOCK_ROWS]
        np.minimum(low, block.min(axis=0), out=low)
        np.maximum(high, block.max(axis=0), out=high)
    with np.errstate(over="ignore"):
        spread = high - low  # inf where the range exceeds float64: the widest, as it is
    varying = np.flatnonzero(spread > 0)
    if varying.size < 2:
        return None
    widest, narrowest = varying[np.argmax(spread[varying])], varying[np.argmin(spread[varying])]
    with np.errstate(over="ignore"):
        ratio = spread[widest] / spread[narrowest]
    if ratio <= SCALE_RATIO_HINT:
        return None
    fold = f"{ratio:,.0f}" if ratio < 1e6 else f"{ratio:.1e}"
    return (f"the features' scales differ {fold}-fold (range of {names[widest]} "
            f"{spread[widest]:.3g}, of {names[narrowest]} {spread[narrowest]:.3g}), and the "
            "widest dominate the distances; --standardize clusters z-scores")
