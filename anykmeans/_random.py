"""Random numbers, drawn on the host so that every backend sees the same ones.

The Array API standard has no random number generator. anykmeans draws its
uniforms from a NumPy ``RandomState`` or ``Generator`` and turns them into
sample indices on the caller's device, using the same inverse-CDF algorithm
as ``numpy.random.RandomState.choice``. With a ``RandomState`` (what an
integer seed becomes) the draws are therefore the ones scikit-learn makes.
"""

from __future__ import annotations

import numbers
from typing import Any, Union

import numpy as np

from ._namespace import Array, Namespace, device_of, has_float64, index_dtype, to_host

RandomState = Union[np.random.RandomState, np.random.Generator]  # noqa: UP007


def check_random_state(seed: Any) -> RandomState:
    """Turn ``seed`` into a NumPy random generator.

    ``None`` gives NumPy's global ``RandomState``; an integer a new
    ``RandomState`` seeded with it; a ``RandomState`` or ``Generator`` is used
    as it is (and advanced).
    """
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.RandomState(int(seed))
    raise ValueError(
        "random_state must be None, an int, a numpy.random.RandomState or a "
        f"numpy.random.Generator; got {seed!r}."
    )


def uniform(rng: RandomState, size: int) -> np.ndarray:
    """Draw ``size`` float64 uniforms in [0, 1) on the host."""
    if isinstance(rng, np.random.Generator):
        return rng.random(size)
    return rng.random_sample(size)


def integers(rng: RandomState, high: int, size: int) -> np.ndarray:
    """Draw ``size`` integers uniformly in [0, ``high``) on the host (with replacement)."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(high, size=size)
    return rng.randint(0, high, size)


#: Uniforms that :class:`StagedUniforms` sends to the device in one transfer, at most
#: (8 MiB of float64): a batch's draws are a transfer of their own where they are more.
STAGED_UNIFORMS = 2**20


class StagedUniforms:
    """Draws of ``size`` uniforms each, drawn from ``rng`` ahead of use and sent to the device
    together, so that most draws cost no transfer (on CUDA a copy from the host waits for
    the device, as a read does).

    The draws are the numbers that drawing them one at a time gives (a
    generator's uniforms come in the same order however many are asked for at
    once). Before ``rng`` draws anything else, :meth:`settle` puts it back where
    the draws taken so far leave it, and the uniforms staged beyond them are
    dropped: the order of every draw is the order without staging.

    Parameters
    ----------
    xp : namespace
    rng : RandomState
    size : int
        Uniforms per draw.
    dtype, device
        What the uniforms are on the device.
    """

    def __init__(self, xp: Namespace, rng: RandomState, size: int, dtype: Any,
                 device: Any) -> None:
        self.xp, self.rng, self.size, self.dtype, self.device = xp, rng, size, dtype, device
        self.per_transfer = max(1, STAGED_UNIFORMS // size)
        self._staged: Array | None = None
        self._state: Any = None
        self._taken = 0

    def next(self) -> Array:
        """The next draw's ``size`` uniforms, on the device."""
        if self._staged is None or self._taken == self.per_transfer:
            self._state = _generator_state(self.rng)
            self._staged = self.xp.asarray(uniform(self.rng, self.per_transfer * self.size),
                                           dtype=self.dtype, device=self.device)
            self._taken = 0
        start = self._taken * self.size
        self._taken += 1
        return self._staged[start:start + self.size]

    def settle(self) -> None:
        """Put ``rng`` where the draws taken so far leave it (the rest are dropped)."""
        if self._staged is None:
            return
        _set_generator_state(self.rng, self._state)
        uniform(self.rng, self._taken * self.size)
        self._staged = None


def _generator_state(rng: RandomState) -> Any:
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.state
    return rng.get_state()


def _set_generator_state(rng: RandomState, state: Any) -> None:
    if isinstance(rng, np.random.Generator):
        rng.bit_generator.state = state
    else:
        rng.set_state(state)


def _sampling_dtype(xp: Namespace, weights: Array) -> Any:
    """float64 where the device has it (as NumPy samples), else the weights' dtype."""
    return xp.float64 if has_float64(xp, device_of(weights)) else weights.dtype


def cumulative_distribution(xp: Namespace, weights: Array) -> Array:
    """The normalised cumulative sum of ``weights`` (last value 1), for :func:`search_cdf`."""
    cdf = xp.cumulative_sum(xp.astype(weights, _sampling_dtype(xp, weights)))
    return cdf / cdf[-1]


def search_cdf(xp: Namespace, cdf: Array, u: np.ndarray | Array) -> Array:
    """Indices drawn by inverting a :func:`cumulative_distribution`.

    ``u`` holds uniforms in [0, 1), on the host or already on ``cdf``'s device
    in its dtype (:class:`StagedUniforms`); index
    ``i`` is returned for the ``u`` that falls in the ``i``-th slice of ``cdf``.
    """
    u = xp.asarray(u, dtype=cdf.dtype, device=device_of(cdf))
    index = xp.searchsorted(cdf, u, side="right")
    # Rounding in the cumulative sum can leave u above cdf[-1] == 1: the last index then
    # (a minimum, not array-api-compat's clip, which writes through boolean masks: syncs).
    last = xp.full((), cdf.shape[0] - 1, dtype=index.dtype, device=device_of(index))
    return xp.minimum(index, last)


def inverse_cdf(xp: Namespace, weights: Array, u: np.ndarray) -> Array:
    """Indices drawn with probability proportional to ``weights``, one per uniform in ``u``.

    The cumulative distribution is built on each call; draw repeatedly from
    the same weights with :func:`search_cdf` on one :func:`cumulative_distribution`.
    """
    return search_cdf(xp, cumulative_distribution(xp, weights), u)


def choice(xp: Namespace, rng: RandomState, weights: Array) -> Array:
    """One index drawn with probability proportional to ``weights`` (0-D array)."""
    return inverse_cdf(xp, weights / xp.sum(weights), uniform(rng, 1))[0]


def choice_without_replacement(xp: Namespace, rng: RandomState, weights: Array, size: int) -> Array:
    """``size`` distinct indices drawn with probability proportional to ``weights``.

    Draws are repeated for the indices that came out twice, with the weight of
    those already chosen set to zero, exactly as NumPy's ``choice`` does.
    Only the ``size`` chosen indices cross to the host.

    Raises
    ------
    ValueError
        If fewer than ``size`` weights are positive.
    """
    n_positive = int(xp.sum(xp.astype(weights > 0, index_dtype(xp, device_of(weights)))))
    if n_positive < size:
        raise ValueError(
            f"Cannot draw {size} distinct samples: only {n_positive} have a positive sample_weight."
        )
    p = weights / xp.sum(weights)
    positions = xp.arange(p.shape[0], device=device_of(p))
    found: list[int] = []
    while len(found) < size:
        u = uniform(rng, size - len(found))
        if found:
            chosen = xp.asarray(sorted(found), device=device_of(p))
            slot = xp.searchsorted(chosen, positions)
            slot = xp.minimum(slot, xp.full((), len(found) - 1, dtype=slot.dtype,
                                            device=device_of(slot)))
            p = xp.where(xp.take(chosen, slot) == positions, xp.zeros_like(p), p)
        drawn = to_host(inverse_cdf(xp, p, u))
        _, first = np.unique(drawn, return_index=True)
        found.extend(int(i) for i in drawn[np.sort(first)])
    return xp.asarray(found, device=device_of(weights))
