"""Synchronisations on the accelerator plan, counted on torch CPU with the plan forced:
reads to the host and copies of host data to the device (each waits for the device on
CUDA), per unit of work, beside the budgets of docs/design.md (tests/test_plans.py has
the Lloyd iteration's, k-means++'s and k-means||')."""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans

torch = pytest.importorskip("torch")
from benchmarks.launches import counting, tensor  # noqa: E402


@pytest.fixture
def count():
    with counting() as counter:
        yield counter


def syncs(count) -> int:
    return count.reads + count.copies


def test_an_iteration_that_relocates_empty_clusters_syncs_twice(count):
    """One read more than an iteration without empty clusters (whose one read is asserted in
    tests/test_plans.py): the same one-iteration fit from centres of which two are empty."""
    X = tensor(5000, 8)
    made = []
    for far in (False, True):
        init = X[:5].clone()
        if far:
            init[3:] = 1e3  # two centres nobody is near
        before = syncs(count)
        model = anykmeans.KMeans(5, init=init, n_init=1, max_iter=1, tol=0.0).fit(X)
        made.append(syncs(count) - before)
    assert len(np.unique(model.labels_.numpy())) == 5  # relocated
    assert made[1] - made[0] == 1


def test_a_minibatch_step_syncs_once(count):
    """The step's one read; its batch's uniforms were sent down with many others'."""
    X = tensor(20_000, 8)
    made = []
    for epochs in (2, 5):  # 10 steps an epoch
        before = syncs(count)
        anykmeans.MiniBatchKMeans(16, batch_size=2_000, max_iter=epochs, n_init=1,
                                  init=X[:16].clone(), tol=0.0, max_no_improvement=None,
                                  random_state=0).fit(X)
        made.append(syncs(count) - before)
    assert (made[1] - made[0]) / 30 == 1


@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_syncs_once(count, weighted):
    """A later chunk's value checks (and its weights') are read with the step's numbers and
    its labels' inertia: one read."""
    X = tensor(3_000, 8)
    model = anykmeans.MiniBatchKMeans(4, random_state=0).partial_fit(X[:1_000])
    weights = X[1_000:2_000, 0] * 0 + 1 if weighted else None
    model.partial_fit(X[1_000:2_000], sample_weight=weights)  # reassigns its empty centres
    before = syncs(count)
    model.partial_fit(X[2_000:], sample_weight=None if weights is None else weights * 2)
    assert syncs(count) - before == 1


@pytest.mark.filterwarnings("ignore:(invalid value|overflow) encountered:RuntimeWarning")
@pytest.mark.parametrize("plan", ["cpu", "accelerator"])
@pytest.mark.parametrize("bad", ["nan", "inf", "huge", "negative", "zero", "subnormal",
                                 "heavy"])
def test_a_later_chunks_value_checks_raise_their_errors(monkeypatch, bad, plan):
    """Each value check, read with the step on an accelerator (eager on the CPU plan), raises
    its own message and leaves the model as it was."""
    monkeypatch.setenv("ANYKMEANS_PLAN", plan)
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = anykmeans.MiniBatchKMeans(3, random_state=0).partial_fit(X[:100])
    centres = model.cluster_centers_.copy()
    chunk, weights = X[100:].copy(), None
    match = {"nan": "NaN or infinity", "inf": "NaN or infinity", "huge": "magnitude",
             "negative": "non-negative", "zero": "at least one positive",
             "subnormal": "smallest normal", "heavy": "sums to"}[bad]
    if bad in ("nan", "inf", "huge"):
        chunk[3, 1] = {"nan": np.nan, "inf": np.inf, "huge": 1e300}[bad]
    else:
        weights = np.ones(100)
        weights[5] = {"negative": -1.0, "zero": 1.0, "subnormal": 1e-320, "heavy": 1e300}[bad]
        if bad == "zero":
            weights[:] = 0.0
        if bad == "heavy":
            chunk[0, 0] = 1e4
    with pytest.raises(ValueError, match=match):
        model.partial_fit(chunk, sample_weight=weights)
    np.testing.assert_array_equal(model.cluster_centers_, centres)
