"""Count what a GPU would pay for: array operations and reads to the host, per step.

    python -m benchmarks.launches

A GPU runs each array operation as (at least) one kernel launch, and each read
back to the host (``item``, ``nonzero``, a copy to the host) stalls it until
the device is idle. Neither needs a GPU to be counted: a torch dispatch mode
sees every operation a fit makes whatever device its tensors are on, so
forcing the accelerator plan (``ANYKMEANS_PLAN=accelerator``) on CPU tensors
gives the counts a CUDA device would see. Printed: operations and reads per
Lloyd iteration on S1 and S4 (measured, chunked as with an H100's memory: one chunk
each), and on FAISS's size F1 (1M x 256, k = 20 000: operations per chunk and per
iteration measured on a small problem of the same kind, times the chunks the plan
makes with an H100's and an H200's memory);
then operations, reads and host-to-device copies (each a sync on CUDA) per k-means++
step, k-means|| round, MiniBatch step and ``partial_fit`` call, and what an iteration
with empty clusters adds. tests/test_plans.py and tests/test_syncs.py assert the budgets
from the same counts.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
from collections.abc import Callable, Iterator

import numpy as np

import anykmeans
from anykmeans._libraries import PLAN_VARIABLE

from .problems import GPU, STANDARD

#: Operations that read device data on the host: each one waits for the device.
READS = {"_local_scalar_dense", "nonzero", "is_nonzero", "item"}

#: Operations that make a tensor of host data (``torch.asarray`` of a Python number or a NumPy
#: array): on CUDA a copy from pageable host memory, which waits for the device, as a read does.
COPIES = {"lift_fresh"}

#: Matrix products, whose multiply-adds :func:`counter` counts (2 m n k floating-point
#: operations each).
PRODUCTS = {"mm", "addmm", "bmm", "mv"}

#: Operations that only make a new view of the same memory: no kernel runs.
VIEWS = {"view", "_unsafe_view", "unsqueeze", "squeeze", "permute", "t", "transpose", "expand",
         "slice", "select", "alias", "detach", "as_strided", "_reshape_alias"}

#: The memory of the GPUs the accelerator plan is counted for, as CUDA reports their totals:
#: an H100 (80 GB) about 79 GiB, an H200 about 139 GiB.
GPU_BYTES = {"H100": 79 * 2**30, "H200": 139 * 2**30}


def counter():
    """A torch dispatch mode counting the operations that run a kernel, the reads, the
    floating-point operations of matrix products (``flops``: ``2 m n k`` for an
    ``(m, k) x (k, n)`` product; everything else, O(n d) at most, is not counted), and,
    once ``data`` is set to a tensor, the bytes of its memory that operations read
    (``data_bytes``) and of other operands as large (``copy_bytes``).

    Copies to the host through ``Library.to_host`` (a no-op on CPU tensors, a
    read on a GPU) are counted as reads by :func:`counting`.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.operations = 0
            self.reads = 0
            self.copies = 0  # tensors made from host data: a blocking host-to-device copy
            self.flops = 0
            self.data = None  # a tensor whose memory the reads of ``data_bytes`` are counted in
            self.data_bytes = 0
            self.copy_bytes = 0  # what operations read of other operands as large as ``data``

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):

            name = func.overloadpacket.__name__
            self.operations += name not in VIEWS
            self.reads += name in READS
            self.copies += name in COPIES
            if self.data is not None and name not in VIEWS:
                self.data_bytes += self.bytes_of_data_read(name, args)
                self.copy_bytes += self.bytes_of_copies_read(args)
            out = func(*args, **(kwargs or {}))
            if name in PRODUCTS:
                inner = args[-1].shape[-2] if args[-1].ndim > 1 else args[-1].shape[-1]
                self.flops += 2 * out.numel() * inner
            return out

        def bytes_of_data_read(self, name: str, args: tuple) -> int:
            """What an operation reads of ``data``'s memory: every operand in it, whole, but
            for a gather of rows (``index_select``), which reads the rows it is given."""
            import torch

            pointer = self.data.untyped_storage().data_ptr()
            read = 0
            for a in args:
                if isinstance(a, torch.Tensor) and a.untyped_storage().data_ptr() == pointer:
                    whole = a.numel() * a.element_size()
                    read += (args[2].numel() * whole // max(a.shape[0], 1)
                             if name == "index_select" else whole)
            return read

        def bytes_of_copies_read(self, args: tuple) -> int:
            """What an operation reads of operands as large as ``data`` in other memory:
            copies of it (another dtype, re-centred) or temporaries of its size."""
            import torch

            pointer = self.data.untyped_storage().data_ptr()
            return sum(a.numel() * a.element_size() for a in args
                       if isinstance(a, torch.Tensor) and a.numel() >= self.data.numel()
                       and a.untyped_storage().data_ptr() != pointer)

        def snapshot(self) -> tuple[int, int]:
            return self.operations, self.reads

    return Count()


class counting:
    """``with counting() as count:``: the accelerator plan forced, every operation counted."""

    def __enter__(self):
        from anykmeans._libraries._torch import Torch

        self._plan = os.environ.get(PLAN_VARIABLE)
        os.environ[PLAN_VARIABLE] = "accelerator"
        self.count = counter()
        self._to_host = real = Torch.to_host
        count = self.count

        def to_host(library, x):
            count.reads += 1
            return real(library, x)

        Torch.to_host = to_host
        self.count.__enter__()
        return self.count

    def __exit__(self, *exc):
        from anykmeans._libraries._torch import Torch

        self.count.__exit__(*exc)
        Torch.to_host = self._to_host
        if self._plan is None:
            del os.environ[PLAN_VARIABLE]
        else:
            os.environ[PLAN_VARIABLE] = self._plan


def tensor(n_samples: int, n_features: int, seed: int = 0):
    """Standard normal float32 data as a CPU tensor."""
    import torch

    rng = np.random.default_rng(seed)
    return torch.asarray(rng.standard_normal((n_samples, n_features), dtype=np.float32))


@contextlib.contextmanager
def gpu_memory(gpu: str | None) -> Iterator[None]:
    """While it lasts, torch reports the memory of ``gpu`` (a key of :data:`GPU_BYTES`) for
    every device, so that the plan chunks CPU tensors as it would on that GPU; nothing
    changes when ``gpu`` is None (an unknown device's memory: the plan's default)."""
    from anykmeans._libraries._torch import Torch

    device_memory = Torch.device_memory
    if gpu is not None:
        Torch.device_memory = lambda self, device: GPU_BYTES[gpu]
    try:
        yield
    finally:
        Torch.device_memory = device_memory


def per_iteration(count, X, n_clusters: int, iterations: int = 3, gpu: str | None = None,
                  **options) -> list[tuple[int, int]]:
    """(operations, reads) of each Lloyd iteration after the first (which also computes the
    row norms that later ones reuse), from a fit started at the first rows of ``X``, chunked
    as on ``gpu`` (see :func:`gpu_memory`)."""
    marks = []
    init = X[:n_clusters].detach().clone()
    with gpu_memory(gpu):
        anykmeans.KMeans(n_clusters, init=init, n_init=1, max_iter=iterations, tol=0.0,
                         **options).fit(X, on_iteration=lambda *_: marks.append(
                             count.snapshot()))
    return [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(marks)]


def large_k_model(count, gpu: str = "H200", n_rows: int = 1000) -> tuple[float, float, int]:
    """``(fixed, per_chunk, chunks)``: operations of an F1 iteration are
    ``fixed + per_chunk * chunks``.

    ``fixed`` and ``per_chunk`` are measured on 4 000 x 256 with k = 256 (grouped
    ties, as k = 20 000 has) in one chunk and in four; ``chunks`` is what the
    plan makes of F1 with the memory of ``gpu`` (a key of :data:`GPU_BYTES`).
    """
    from anykmeans._libraries import library_of

    problem = GPU[0]
    X = tensor(4 * n_rows, problem.d)
    one = per_iteration(count, X, 256)[-1][0]
    four = per_iteration(count, X, 256, chunk_size=n_rows)[-1][0]
    per_chunk = (four - one) / 3
    with gpu_memory(gpu):
        rows = library_of(X).chunk_rows(problem.n, problem.d, problem.k, 4, X.device)
    return one - per_chunk, per_chunk, math.ceil(problem.n / rows)


def _per_unit(count, run: Callable[[int], object], small: int, large: int) -> tuple[float, ...]:
    """(operations, reads, copies) per unit of work: ``run(units)`` for ``large`` units less
    ``run(small)``, divided by the units between."""
    made = []
    for units in (small, large):
        before = (count.operations, count.reads, count.copies)
        run(units)
        made.append((count.operations - before[0], count.reads - before[1],
                     count.copies - before[2]))
    return tuple((b - a) / (large - small) for a, b in zip(*made, strict=True))


def seeding_and_streaming_rows(count) -> Iterator[list[str]]:
    """Rows for a k-means++ step, a k-means|| round, a MiniBatch step, what an iteration
    with empty clusters costs beyond one without, a bisection (k-means++ seeding, one Lloyd
    iteration and the final relabelling of its one run) and a ``partial_fit`` call, counted
    on 20 000 x 8."""
    from anykmeans._kmeans_parallel import kmeans_parallel_centres
    from anykmeans._primitives import Data

    X = tensor(20_000, 8)
    units = {
        "k-means++ step": lambda k: anykmeans.kmeans_plusplus(X, k, random_state=0),
        "k-means|| round": lambda rounds: kmeans_parallel_centres(
            Data(X, X[0] * 0, X[:, 0] * 0 + 1), 8, np.random.RandomState(0), n_rounds=rounds),
        "MiniBatch step": lambda epochs: anykmeans.MiniBatchKMeans(
            16, batch_size=2_000, max_iter=epochs, n_init=1, init=X[:16].clone(), tol=0.0,
            max_no_improvement=None, random_state=0).fit(X),
        "bisection (1 iteration)": lambda k: anykmeans.BisectingKMeans(
            k, init="k-means++", max_iter=1, random_state=0).fit(X),
    }
    for name, run in units.items():
        small, large = (3, 12) if name in ("k-means++ step", "bisection (1 iteration)") else (2, 5)
        operations, reads, copies = _per_unit(count, run, small, large)
        per = 10 if name == "MiniBatch step" else 1  # 10 steps an epoch
        yield [name, f"{operations / per:.0f}", f"{reads / per:.1f}", f"{copies / per:.1f}"]
    made = []
    for far in (False, True):  # the same one-iteration fit, with two empty clusters
        init = X[:5].clone()
        if far:
            init[3:] = 1e3
        before = (count.operations, count.reads, count.copies)
        anykmeans.KMeans(5, init=init, n_init=1, max_iter=1, tol=0.0).fit(X)
        made.append((count.operations - before[0], count.reads - before[1],
                     count.copies - before[2]))
    yield ["relocation (more than a Lloyd iteration)",
           *(str(b - a) for a, b in zip(*made, strict=True))]
    model = anykmeans.MiniBatchKMeans(16, batch_size=256, random_state=0).partial_fit(X[:1_000])
    for weights in (None, X[1_000:2_000, 0] * 0 + 1):
        before = (count.operations, count.reads, count.copies)
        model.partial_fit(X[1_000:2_000], sample_weight=weights)
        yield ["partial_fit" + (" (weights)" if weights is not None else ""),
               str(count.operations - before[0]), str(count.reads - before[1]),
               str(count.copies - before[2])]


def rows() -> Iterator[list[str]]:
    """The Lloyd table's rows: problem, operations, reads and copies per iteration, how
    counted."""
    with counting() as count:
        for problem in (STANDARD[0], STANDARD[3]):
            operations, reads = per_iteration(count, tensor(problem.n, problem.d), problem.k,
                                              gpu="H100")[-1]
            yield [problem.name, str(operations), str(reads), "measured (H100 memory)"]
        for gpu in GPU_BYTES:
            fixed, per_chunk, chunks = large_k_model(count, gpu)
            yield [f"{GPU[0].name} ({gpu})", f"{fixed + per_chunk * chunks:.0f}", "1",
                   f"{fixed:.0f} + {per_chunk:.0f} per chunk x {chunks} chunks ({gpu} memory)"]


def _print(lines: list[list[str]]) -> None:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def main() -> int:
    _print([["problem", "operations / iteration", "reads / iteration", "how counted"],
            *rows()])
    print()
    with counting() as count:
        _print([["unit", "operations", "reads", "host-to-device copies"],
                *seeding_and_streaming_rows(count)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
