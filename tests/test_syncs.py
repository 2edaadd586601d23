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
