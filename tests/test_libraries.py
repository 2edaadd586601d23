"""Every primitive a library's module overrides gives the reference's answer on the same inputs.

The reference :class:`~anykmeans._libraries.Library` writes each primitive in the
Array API standard alone. A library module (``_numpy``, ``_torch``, ``_jax``, ...)
overrides some of them with its own functions; here each override, on both
plans, is run beside the reference on inputs chosen where implementations part:
exact ties, rows of NaN, weights, segments and clusters without a row. A new
library module is tested by being a backend of the ``xp`` fixture.
"""

from __future__ import annotations

import numpy as np
import pytest

from anykmeans._libraries import Library, has_float64, library_of, sums_rounded
from anykmeans._libraries._ops import Primitives
from anykmeans._namespace import array_namespace, device_of, index_dtype
from tests.conftest import host

#: The primitives a library module may override (names of :class:`Library` methods).
PRIMITIVES = ("first_true", "centred_rows", "sq_norms", "segment_sum", "segment_count",
              "cluster_sums", "matmul", "stacked_rows", "feature_means", "scores",
              "non_negative", "take", "take_along_axis", "least", "rows_at", "centred_rows_at",
              "residual_sq_norms")


def libraries(xp) -> list[Library]:
    """The library of ``xp``'s arrays on both plans (each a separate instance)."""
    cls = type(library_of(xp.asarray(np.zeros(1))))
    return [cls(accelerator=False), cls(accelerator=True)]


def overrides(library: Library, name: str) -> bool:
    return getattr(type(library), name) is not getattr(Library, name)


def test_every_primitive_a_library_overrides_is_compared_here(xp):
    """A primitive (a method of the reference's ``Primitives``) that a library's module
    overrides is one :data:`PRIMITIVES` names, or the layout decision ``row_major_scores``
    (a choice of path, compared through the assignment tests)."""
    cls = type(library_of(xp.asarray(np.zeros(1))))
    primitives = {name for name in vars(Primitives) if callable(getattr(Primitives, name))
                  and not name.startswith("_")}
    assert set(PRIMITIVES) <= primitives
    overridden = {name for name in primitives if overrides(cls(), name)}
    assert overridden <= {*PRIMITIVES, "row_major_scores"}


def inputs(xp, weighted: bool):
    """Rows with exact ties (small integers), one row of NaN, optional weights, labels that
    leave clusters 1 and 6 without a row."""
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, size=(41, 5)).astype(np.float64)
    x[7] = np.nan
    labels = rng.choice([0, 2, 3, 4, 5], size=41)
    w = rng.uniform(0.5, 2.0, size=41) if weighted else None
    X = xp.asarray(x)
    ns = array_namespace(X)
    ids = ns.astype(xp.backend.asarray(labels), index_dtype(ns, device_of(X)))
    return ns, X, (None if w is None else xp.asarray(w)), ids


def assert_same(ours, reference, xp):
    np.testing.assert_allclose(host(ours), host(reference), rtol=xp.rtol * 10,
                               atol=xp.rtol * 10, equal_nan=True)


@pytest.mark.parametrize("weighted", [False, True])
def test_overridden_primitives_equal_the_reference(xp, weighted):
    ns, X, w, ids = inputs(xp, weighted)
    reference = Library()
    finite = ns.take(X, ns.asarray([i for i in range(41) if i != 7], device=device_of(X)), axis=0)
    finite_ids = ns.take(ids, ns.asarray([i for i in range(41) if i != 7], device=device_of(X)))
    mean = ns.mean(finite, axis=0)
    tested = 0
    for library in libraries(xp):
        if overrides(library, "sq_norms"):
            assert_same(library.sq_norms(ns, X), reference.sq_norms(ns, X), xp)
            tested += 1
        if overrides(library, "centred_rows"):
            for rows in (slice(0, 41), slice(5, 20)):
                assert_same(library.centred_rows(ns, X, rows, mean),
                            reference.centred_rows(ns, X, rows, mean), xp)
            tested += 1
        if overrides(library, "segment_sum"):
            values = finite if w is None else finite * ns.take(w, ns.arange(40), axis=0)[:, None]
            for v in (values, values[:, 0]):
                assert_same(library.segment_sum(ns, v, finite_ids, 7),
                            reference.segment_sum(ns, v, finite_ids, 7), xp)
            if has_float64(ns, device_of(X)):  # float32 rows added up in float64
                narrow = ns.astype(values, ns.float32)
                wide = library.segment_sum(ns, narrow, finite_ids, 7, ns.float64)
                assert wide.dtype == ns.float64
                assert_same(wide, reference.segment_sum(ns, narrow, finite_ids, 7, ns.float64), xp)
            tested += 1
        if overrides(library, "segment_count"):
            assert_same(library.segment_count(ns, ids, 7, X.dtype),
                        reference.segment_count(ns, ids, 7, X.dtype), xp)
            tested += 1
        if overrides(library, "cluster_sums") or overrides(library, "segment_sum"):
            weights = None if w is None else ns.take(w, ns.arange(40), axis=0)
            for ours, theirs in zip(library.cluster_sums(ns, finite, weights, finite_ids, 7),
                                    reference.cluster_sums(ns, finite, weights, finite_ids, 7),
                                    strict=True):
                assert_same(sums_rounded(ours), sums_rounded(theirs), xp)
            tested += 1
        if overrides(library, "matmul"):
            for a, b in ((finite, finite.T), (finite.T, finite[:, 0])):
                assert_same(library.matmul(ns, a, b), reference.matmul(ns, a, b), xp)
            tested += 1
        if overrides(library, "stacked_rows"):  # the reference writes in place: not on JAX
            parts = [finite[:10, :], finite[10:, :]]
            assert_same(library.stacked_rows(ns, iter(parts), 40), ns.concat(parts), xp)
            tested += 1
        if overrides(library, "feature_means"):
            for x in (finite, ns.astype(finite, ns.float32)):
                assert_same(library.feature_means(ns, x), reference.feature_means(ns, x), xp)
            tested += 1
        if overrides(library, "first_true"):
            mask = X > 0  # the NaN row has no True: its last index
            assert_same(library.first_true(ns, mask), reference.first_true(ns, mask), xp)
            tested += 1
        tested += _compare_gathers_and_scores(library, reference, ns, X, finite, xp)
        if overrides(library, "rows_at"):  # of a chunk in the library's layout too
            at = ns.asarray([38, 3, 3, 7], device=device_of(X))
            for x in (X, library.centred_rows(ns, X, slice(2, 41), mean)):
                assert_same(library.rows_at(ns, x, at), reference.rows_at(ns, x, at), xp)
            tested += 1
        tested += _compare_residuals(library, reference, ns, X, finite, finite_ids, mean, xp)
    assert tested or not any(overrides(libraries(xp)[0], name) for name in PRIMITIVES)


def _compare_residuals(library: Library, reference: Library, ns, X, finite, labels, mean,
                       xp) -> int:
    """:func:`test_overridden_primitives_equal_the_reference` for centred gathers and
    residual norms, also where the offset or the centres are of a wider dtype than the rows
    (the result is then the wider); how many were overridden."""
    tested = 0
    pairs = [(X, mean), (finite, finite[:6, :])]
    if has_float64(ns, device_of(X)) and X.dtype == ns.float64:
        pairs += [(ns.astype(X, ns.float32), mean),
                  (ns.astype(finite, ns.float32), finite[:6, :])]
    if overrides(library, "centred_rows_at"):
        at = ns.asarray([38, 3, 3, 7], device=device_of(X))
        for x, offset in pairs[::2]:
            before = host(x).copy()
            ours = library.centred_rows_at(ns, x, at, offset)
            assert ours.dtype == reference.centred_rows_at(ns, x, at, offset).dtype
            assert_same(ours, reference.centred_rows_at(ns, x, at, offset), xp)
            np.testing.assert_array_equal(host(x), before)  # the rows are not written
        tested += 1
    if overrides(library, "residual_sq_norms"):
        for x, centres in pairs[1::2]:
            ours = library.residual_sq_norms(ns, x, centres, labels)
            assert ours.dtype == reference.residual_sq_norms(ns, x, centres, labels).dtype
            assert_same(ours, reference.residual_sq_norms(ns, x, centres, labels), xp)
        tested += 1
    return tested


def _compare_gathers_and_scores(library: Library, reference: Library, ns, X, finite,
                                xp) -> int:
    """:func:`test_overridden_primitives_equal_the_reference` for the score block, the
    clamp at zero (the NaN row stays NaN), the gathers and the least of each column (ties
    in any order: their values compared); how many were overridden."""
    tested = 0
    centres = finite[:6, :]
    if overrides(library, "scores"):
        norms = reference.sq_norms(ns, centres)
        assert_same(library.scores(ns, centres, finite, norms),
                    reference.scores(ns, centres, finite, norms), xp)
        tested += 1
    if overrides(library, "non_negative"):
        assert_same(library.non_negative(ns, X - 1), reference.non_negative(ns, X - 1), xp)
        tested += 1
    at = ns.asarray([3, 0, 3, 39], dtype=index_dtype(ns, device_of(X)), device=device_of(X))
    if overrides(library, "take"):
        for axis in (0, 1):
            indices = at if axis == 0 else at[:3] % 5
            assert_same(library.take(ns, finite, indices, axis=axis),
                        reference.take(ns, finite, indices, axis=axis), xp)
        tested += 1
    if overrides(library, "take_along_axis"):
        indices = ns.reshape(at[:3] % 5, (1, 3))  # broadcast along the rows
        for axis, x in ((1, finite[:, :4]), (0, finite[:3, :].T)):
            ids = indices if axis == 1 else indices.T
            assert_same(library.take_along_axis(ns, x, ids, axis),
                        reference.take_along_axis(ns, x, ids, axis), xp)
        tested += 1
    if overrides(library, "least"):
        for count in (1, 3):
            values = [ns.sort(ns.take_along_axis(finite, lib.least(ns, finite, count), axis=0),
                              axis=0) for lib in (library, reference)]
            assert_same(*values, xp)
        tested += 1
    return tested


def test_the_reference_sums_clusters_without_rows_to_zero(xp):
    ns, X, _, ids = inputs(xp, weighted=False)
    finite = ns.take(X, ns.asarray([i for i in range(41) if i != 7], device=device_of(X)), axis=0)
    finite_ids = ns.take(ids, ns.asarray([i for i in range(41) if i != 7], device=device_of(X)))
    sums, counts = map(sums_rounded, Library().cluster_sums(ns, finite, None, finite_ids, 7))
    assert host(counts)[[1, 6]].tolist() == [0, 0]
    assert not host(sums)[[1, 6]].any()
    assert host(counts).sum() == 40
