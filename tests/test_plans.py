"""The accelerator plan at its floor, counted on torch CPU with the plan forced.

A GPU runs each array operation as (at least) one kernel launch, and each read
back to the host (``item``, ``nonzero``, a copy to the host) stalls it until
the device is idle. No GPU is needed to count them: a torch dispatch mode sees
every operation a fit makes, whatever device the tensors are on, so forcing the
accelerator plan (``ANYKMEANS_PLAN=accelerator``) on CPU tensors gives the
counts a CUDA device would see. The budgets are the issue's: per Lloyd
iteration at most 100 operations on S1 (1M x 32, k = 64), at most 300 on S4
(100k x 64, k = 1024) and on 1M x 256 with k = 20 000, and one read; no read
per k-means++ step; at most one per k-means|| round.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import anykmeans
from anykmeans._kmeans_parallel import kmeans_parallel_centres
from anykmeans._libraries import PLAN_VARIABLE, library_of
from anykmeans._libraries._torch import Torch
from anykmeans._primitives import Data

torch = pytest.importorskip("torch")
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

#: Operations that read device data on the host: each one waits for the device.
READS = {"_local_scalar_dense", "nonzero", "is_nonzero", "item"}

#: Operations that only make a new view of the same memory: no kernel runs.
VIEWS = {"view", "_unsafe_view", "unsqueeze", "squeeze", "permute", "t", "transpose", "expand",
         "slice", "select", "alias", "detach", "as_strided", "_reshape_alias"}

#: Free memory of an H200 as anykmeans would find it: about 139 GiB.
H200_FREE_BYTES = 139 * 2**30


class Count(TorchDispatchMode):
    """The torch operations made while active that run a kernel, and the reads to the host
    among them."""

    def __init__(self):
        super().__init__()
        self.operations = 0
        self.reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        self.operations += name not in VIEWS
        self.reads += name in READS
        return func(*args, **(kwargs or {}))

    def snapshot(self) -> tuple[int, int]:
        return self.operations, self.reads


@pytest.fixture
def count(monkeypatch):
    """A :class:`Count` active during the test, with the accelerator plan forced; copies to
    the host (``Library.to_host``, a no-op on CPU tensors) count as reads too."""
    monkeypatch.setenv(PLAN_VARIABLE, "accelerator")
    counter = Count()
    real = Torch.to_host

    def counting(self, x):
        counter.reads += 1
        return real(self, x)

    monkeypatch.setattr(Torch, "to_host", counting)
    with counter:
        yield counter


def data(n_samples: int, n_features: int, seed: int = 0):
    return torch.asarray(np.random.default_rng(seed).standard_normal((n_samples, n_features),
                                                                      dtype=np.float32))


def per_iteration(count: Count, X, n_clusters: int, iterations: int = 3, **options):
    """Operations and reads of each Lloyd iteration after the first (which also computes
    the row norms the later ones reuse), from a fit started at the first rows."""
    marks = []
    with torch.no_grad():
        init = X[:n_clusters].clone()
    anykmeans.KMeans(n_clusters, init=init, n_init=1, max_iter=iterations, tol=0.0,
                     **options).fit(X, on_iteration=lambda *_: marks.append(count.snapshot()))
    assert len(marks) == iterations
    return [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(marks)]


def test_the_plan_follows_the_variable(monkeypatch):
    X = data(10, 2)
    assert not library_of(X).accelerator
    monkeypatch.setenv(PLAN_VARIABLE, "accelerator")
    assert library_of(X).accelerator
    monkeypatch.setenv(PLAN_VARIABLE, "gpu")
    with pytest.raises(ValueError, match=PLAN_VARIABLE):
        library_of(X)


@pytest.mark.slow
def test_s1_lloyd_iteration_is_at_most_100_operations_and_one_read(count):
    for operations, reads in per_iteration(count, data(1_000_000, 32), 64):
        assert reads == 1
        assert operations <= 100


@pytest.mark.slow
def test_s4_lloyd_iteration_is_at_most_300_operations_and_one_read(count):
    for operations, reads in per_iteration(count, data(100_000, 64), 1024):
        assert reads == 1
        assert operations <= 300


def test_large_k_lloyd_iteration_is_at_most_300_operations_on_an_h200(count, monkeypatch):
    # 1M x 256 with k = 20 000 is ~10 TFLOP a pass: too much for a CPU, so it is counted
    # in two parts. Operations per chunk and per iteration are measured on a small problem
    # with grouped ties (k >= 128, as k = 20 000 has), run in 1 and in 4 chunks; the
    # number of chunks is the plan's for the large problem with an H200's free memory.
    n_clusters, n_features, rows = 256, 256, 1000
    X = data(4 * rows, n_features)
    one_chunk = per_iteration(count, X, n_clusters)[-1]
    four_chunks = per_iteration(count, X, n_clusters, chunk_size=rows)[-1]
    per_chunk = (four_chunks[0] - one_chunk[0]) / 3
    fixed = one_chunk[0] - per_chunk
    assert four_chunks[1] == one_chunk[1] == 1  # one read per iteration, however many chunks
    monkeypatch.setattr(Torch, "free_memory", lambda self, device: H200_FREE_BYTES)
    library = library_of(X)
    chunk_rows = library.chunk_rows(10**6, 256, 20_000, 4, X.device)
    assert chunk_rows * 2 * (256 + 20_000) * 4 <= H200_FREE_BYTES / 2
    chunks = math.ceil(10**6 / chunk_rows)
    assert fixed + per_chunk * chunks <= 300, (fixed, per_chunk, chunks)


def test_kmeans_plusplus_steps_make_no_read(count):
    X = data(5000, 8)
    reads = []
    for n_clusters in (3, 12):
        before = count.reads
        anykmeans.kmeans_plusplus(X, n_clusters, random_state=0)
        reads.append(count.reads - before)
    assert reads[0] == reads[1]


def test_kmeans_parallel_rounds_make_at_most_one_read(count):
    X = data(5000, 8)
    origin = torch.zeros(8)
    reads = []
    for n_rounds in (2, 5):
        before = count.reads
        kmeans_parallel_centres(Data(X, origin, torch.ones(5000)), 8,
                                np.random.RandomState(0), n_rounds=n_rounds)
        reads.append(count.reads - before)
    assert (reads[1] - reads[0]) / 3 <= 1


def test_reruns_on_the_accelerator_plan_are_bit_identical(count):
    X = data(20_000, 16)
    weights = torch.asarray(np.random.default_rng(1).uniform(0.5, 2.0, 20_000),
                            dtype=torch.float32)
    fits = [anykmeans.KMeans(32, random_state=0).fit(X, sample_weight=weights)
            for _ in range(2)]
    assert torch.equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert torch.equal(fits[0].labels_, fits[1].labels_)
