"""The accelerator plan at its floor, counted on torch CPU with the plan forced.

A GPU runs each array operation as (at least) one kernel launch, and each read
back to the host (``item``, ``nonzero``, a copy to the host) stalls it until
the device is idle. No GPU is needed to count them: a torch dispatch mode sees
every operation a fit makes, whatever device the tensors are on, so forcing the
accelerator plan (``ANYKMEANS_PLAN=accelerator``) on CPU tensors gives the
counts a CUDA device would see, chunked as with a GPU's memory. The budgets are the
issue's: per Lloyd iteration at most 100 operations on S1 (1M x 32, k = 64), at most 300
on S4 (100k x 64, k = 1024) and on 1M x 256 with k = 20 000, and one read; no read
per k-means++ step; at most one per k-means|| round.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import anykmeans
from anykmeans._kmeans_parallel import kmeans_parallel_centres
from anykmeans._libraries import PLAN_VARIABLE, library_of
from anykmeans._primitives import Data

torch = pytest.importorskip("torch")
from benchmarks.launches import counting, large_k_model, per_iteration, tensor  # noqa: E402


@pytest.fixture
def count():
    """Operations and reads, counted with the accelerator plan forced."""
    with counting() as counter:
        yield counter


def test_the_plan_follows_the_variable(monkeypatch):
    X = tensor(10, 2)
    assert not library_of(X).accelerator
    monkeypatch.setenv(PLAN_VARIABLE, "accelerator")
    assert library_of(X).accelerator
    monkeypatch.setenv(PLAN_VARIABLE, "gpu")
    with pytest.raises(ValueError, match=PLAN_VARIABLE):
        library_of(X)


@pytest.mark.slow
def test_s1_lloyd_iteration_is_at_most_100_operations_and_one_read(count):
    for operations, reads in per_iteration(count, tensor(1_000_000, 32), 64, gpu="H100"):
        assert reads == 1
        assert operations <= 100


@pytest.mark.slow
def test_s4_lloyd_iteration_is_at_most_300_operations_and_one_read(count):
    for operations, reads in per_iteration(count, tensor(100_000, 64), 1024, gpu="H100"):
        assert reads == 1
        assert operations <= 300


@pytest.mark.parametrize("gpu", ["H100", "H200"])
def test_large_k_lloyd_iteration_is_at_most_300_operations(count, gpu):
    # 1M x 256 with k = 20 000 is ~10 TFLOP a pass: too much for a CPU, so it is counted in
    # two parts (see benchmarks.launches.large_k_model), each measured: operations per chunk
    # and per iteration, and the chunks the plan makes with the GPU's memory.
    fixed, per_chunk, chunks = large_k_model(count, gpu)
    assert per_chunk > 0 and chunks > 1
    assert fixed + per_chunk * chunks <= 300, (fixed, per_chunk, chunks)


def test_an_iteration_multiplies_little_beyond_the_assignment(count):
    # The accelerator plan's cluster sums are deterministic without a one-hot product
    # (which doubled a pass's arithmetic at large k): the matrix products of an iteration
    # are at most 1.2 times the assignment's own, 2 n d k.
    n, d, k = 20_000, 64, 256
    X = tensor(n, d)
    marks = []
    anykmeans.KMeans(k, init=X[:k].clone(), n_init=1, max_iter=3, tol=0.0).fit(
        X, on_iteration=lambda *_: marks.append(count.flops))
    assert all(0 < b - a <= 1.2 * 2 * n * d * k for a, b in itertools.pairwise(marks))


def test_chunks_do_not_follow_free_memory(monkeypatch):
    # The accelerator plan sizes chunks from the device's total memory (less the data's),
    # never from what is free: what is free changes between runs, and chunks change the
    # rounding. A CUDA device is simulated whose free memory differs on every call.
    from anykmeans._libraries._torch import Torch

    free = iter(range(10**9, 10**10, 10**8))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (next(free), 80 * 2**30))
    library = Torch(accelerator=True)
    rows = {library.chunk_rows(1_000_000, 256, 20_000, 4, torch.device("cuda"))
            for _ in range(5)}
    assert len(rows) == 1 and rows.pop() < 1_000_000


def test_no_path_calls_array_api_compats_clip(monkeypatch):
    # array-api-compat's generic clip writes through boolean masks, which read their counts
    # back (CuPy: two syncs a bound); anykmeans takes minima and maxima instead.
    import array_api_compat.torch as compat_torch

    def clip(*args, **kwargs):
        raise AssertionError("clip called")

    monkeypatch.setattr(compat_torch, "clip", clip)
    X = tensor(3000, 4)
    weights = torch.asarray(np.random.default_rng(2).uniform(0.5, 2, 3000), dtype=torch.float32)
    anykmeans.kmeans_plusplus(X, 5, random_state=0, sample_weight=weights)
    anykmeans.KMeans(5, init="random", n_init=2, random_state=0).fit(X, sample_weight=weights)
    anykmeans.KMeans(5, init="k-means||", random_state=0).fit(X)
    model = anykmeans.MiniBatchKMeans(40, batch_size=100, max_iter=3, random_state=0).fit(X)
    model.partial_fit(X[:500])


def test_one_read_per_iteration_however_many_chunks(count):
    X = tensor(4000, 16)
    for chunk_size in (None, 1000, 100):
        assert all(reads == 1 for _, reads in per_iteration(count, X, 256,
                                                             chunk_size=chunk_size))


def test_kmeans_plusplus_steps_make_no_read(count):
    X = tensor(5000, 8)
    reads = []
    for n_clusters in (3, 12):
        before = count.reads
        anykmeans.kmeans_plusplus(X, n_clusters, random_state=0)
        reads.append(count.reads - before)
    assert reads[0] == reads[1]


def test_a_kmeans_plusplus_step_reads_the_data_once_in_its_dtype(count):
    # What a step's operations read of X's memory adds up to at most 1.1 times X's bytes:
    # X once, as it is (no float64 or re-centred copy is made of it, which would be read
    # instead: the copies' reads are not X's). The blocks of 512 rows searched for a step's
    # candidates are read again: 100 000 rows keep them a few per cent of X.
    X = tensor(100_000, 16)
    count.data = X
    read, copies = [], []
    for n_clusters in (3, 12):
        before, copied = count.data_bytes, count.copy_bytes
        anykmeans.kmeans_plusplus(X, n_clusters, random_state=0)
        read.append(count.data_bytes - before)
        copies.append(count.copy_bytes - copied)
    per_step = (read[1] - read[0]) / 9
    assert 0.9 * X.numel() * X.element_size() <= per_step <= 1.1 * X.numel() * X.element_size()
    assert copies[1] == copies[0]  # no step reads an n x d copy


def syncs(count) -> int:
    """Reads to the host and copies of host data to the device: each a sync on CUDA."""
    return count.reads + count.copies


def test_kmeans_parallel_rounds_sync_at_most_once(count):
    X = tensor(5000, 8)
    origin = torch.zeros(8)
    made = []
    for n_rounds in (2, 5):
        before = syncs(count)
        kmeans_parallel_centres(Data(X, origin, torch.ones(5000)), 8,
                                np.random.RandomState(0), n_rounds=n_rounds)
        made.append(syncs(count) - before)
    assert (made[1] - made[0]) / 3 <= 1


def test_lloyd_iterations_and_kmeans_plusplus_steps_copy_nothing_to_the_device(count):
    X = tensor(5000, 8)
    marks = []
    anykmeans.KMeans(8, init=X[:8].clone(), n_init=1, max_iter=4, tol=0.0).fit(
        X, on_iteration=lambda *_: marks.append(syncs(count)))
    assert [b - a for a, b in itertools.pairwise(marks)] == [1, 1, 1]  # the one read
    made = []
    for n_clusters in (3, 12):
        before = syncs(count)
        anykmeans.kmeans_plusplus(X, n_clusters, random_state=0)
        made.append(syncs(count) - before)
    assert made[0] == made[1]


def test_reruns_on_the_accelerator_plan_are_bit_identical(count):
    X = tensor(20_000, 16)
    weights = torch.asarray(np.random.default_rng(1).uniform(0.5, 2.0, 20_000),
                            dtype=torch.float32)
    # 10 iterations (of up to 300 on these structureless rows): each reruns the float32
    # recheck of every row, slow on a CPU under the counting mode.
    fits = [anykmeans.KMeans(32, random_state=0, max_iter=10).fit(X, sample_weight=weights)
            for _ in range(2)]
    assert torch.equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert torch.equal(fits[0].labels_, fits[1].labels_)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (or a CPU-only build)")
def test_a_lloyd_iteration_on_cuda_synchronises_once():
    # torch reports every synchronising CUDA call in its sync debug mode ("warn": a warning
    # each); an iteration's one read of four numbers is the only one allowed.
    X = torch.asarray(np.random.default_rng(0).standard_normal((100_000, 16), dtype=np.float32),
                      device="cuda")
    marks = []
    with pytest.warns(UserWarning) as caught:
        torch.cuda.set_sync_debug_mode("warn")
        try:
            anykmeans.KMeans(32, init=X[:32].clone(), n_init=1, max_iter=4, tol=0.0).fit(
                X, on_iteration=lambda *_: marks.append(len(caught)))
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert [b - a for a, b in itertools.pairwise(marks)] == [1, 1, 1]
