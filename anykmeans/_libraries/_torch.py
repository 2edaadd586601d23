"""PyTorch: the CPU plan on CPU tensors, the accelerator plan on CUDA, MPS and XPU tensors.

Results are computed on detached tensors, so that no autograd graph follows a
fit. On the CPU plan the segment sum is ``scatter_add_`` (deterministic on the
CPU, and many times faster there than ``index_add_`` when few segments take
many rows); on an accelerator ``scatter_add_`` adds atomically, in an order
that changes from run to run, so the accelerator plan keeps the reference
one-hot product, which gives the same bits on every rerun.

A CPU tensor is a NumPy array without a copy (``Tensor.numpy``, ``torch.from_numpy``):
where NumPy's fused assignment takes a pass (:mod:`~anykmeans._libraries._fused`, with
Numba), the CPU plan runs it on views of the tensors, and the results are tensors again.
torch's own product (MKL) was the slower of the two there (docs/notes/benchmark-history.md).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import array_api_compat
import numpy as np

from . import _fused, _fused_bisection, _fused_means, _fused_seeding
from ._base import Library
from ._devices import Backend, unusable
from ._passes import Passes
from ._threads import SharedLimit, run_chunks, single_threaded_blas, usable_cores
from ._types import Array, Assignment, Namespace, PassData

T = TypeVar("T")


class TorchPasses(Passes):
    """The eager strategy, the calling thread at one torch thread while a fit lasts."""

    @contextlib.contextmanager
    def resident(self, X: Array, n_clusters: int) -> Iterator[Array]:
        """``X`` itself; on the CPU plan, the calling thread runs torch on one thread while
        the fit lasts (its count is put back after), and NumPy's fused loop takes the fit's
        passes as it would NumPy's (:func:`~anykmeans._libraries._fused.for_fit`).

        Between passes the fit computes on its small side (the new centres,
        the convergence test, the labels that changed) in the calling thread.
        On more threads, torch's OpenMP threads wait for work by spinning after
        each of those operations, on the cores the next pass's chunks need
        (docs/notes/benchmark-history.md).
        """
        if self.library.accelerator:
            yield X
            return
        with _one_torch_thread(X), _fused.for_fit(X.shape[0] * n_clusters):
            yield X


class Torch(Library):
    """``torch.Tensor`` arrays, on any device."""

    name = "torch"
    native_segment_sum = True
    passes_type = TorchPasses
    install = ("pip install torch --index-url https://download.pytorch.org/whl/cpu for the CPU "
               "build; a plain pip install torch brings the CUDA one on Linux")

    @staticmethod
    def owns(x: Array) -> bool:
        return array_api_compat.is_torch_array(x)

    def is_accelerator(self, device: Any) -> bool:
        return getattr(device, "type", "cpu") != "cpu"

    def backends(self, module: Any) -> list[Backend]:
        torch = module
        found = [Backend("torch", "cpu", True, torch.__version__, lambda x: torch.asarray(x))]
        if torch.cuda.is_available():
            found.append(Backend("torch", "cuda", True, torch.__version__,
                                 lambda x: torch.asarray(x, device="cuda")))
        else:
            found.append(unusable("torch", "cuda", "no CUDA device (or a CPU-only build)"))
        return found

    def array_on(self, device: Any = None) -> Array:
        """On any device torch names (``torch.device``, "cuda:1", "mps", ...)."""
        import torch

        try:
            return torch.empty(0, device=device)
        except (RuntimeError, AssertionError, TypeError) as exc:  # AssertionError: no CUDA build
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"PyTorch has no device {device!r} here ({reason}).") from exc

    def prepare(self, x: Array, name: str) -> Array:
        """Detached from autograd (a view, no copy); tensors that hold no strided data (sparse,
        mkldnn, nested) and tensors on the meta device are refused."""
        _check_strided(x, name)
        if x.device.type == "meta":
            raise TypeError(f"{name} is on PyTorch's meta device, which holds no data; "
                            "pass a tensor on a real device.")
        return x.detach()

    def to_host(self, x: Array):
        return x.detach().cpu().numpy()

    def device_memory(self, device: Any) -> int | None:
        """The memory of a CUDA device."""
        import torch

        if getattr(device, "type", None) != "cuda":
            return None
        _, total = torch.cuda.mem_get_info(device)
        return total

    def map_chunks(self, X: Array, function: Callable[[slice], T],
                   chunks: Iterable[slice]) -> Iterator[T]:
        """On the CPU plan, the chunks on one thread per core (the calling thread one of them:
        :func:`~anykmeans._libraries._threads.run_chunks`), torch at one thread in each.

        torch's own threads split every operation of a chunk across the cores
        and wait for each other at its end; when anything else runs on those
        cores they wait far longer than the operation takes (fits 7 to 40 times
        slower under load: docs/which-backend.md). A chunk per core, each on
        one torch thread, keeps the cores busy without that. torch's thread
        count is per thread: the pool's threads are set to one, and the calling
        thread while the pass runs (its count is put back after), and no more
        pool threads run than the caller's ``torch.get_num_threads()``.
        """
        import torch

        workers = 1 if self.accelerator else min(usable_cores(), _callers_threads())
        if workers == 1 or X.shape[0] == 0:
            yield from map(function, chunks)
            return

        def on_one_thread(chunk: slice) -> T:
            torch.set_num_threads(1)
            return function(chunk)

        # The calling thread computes chunks and adds up their results on one thread too:
        # its small additions would otherwise wait for the busy cores
        # (docs/notes/benchmark-history.md).
        with _one_torch_thread(X), single_threaded_blas():  # NumPy's BLAS: the fused path
            yield from run_chunks(on_one_thread, chunks, workers)

    def fused_assignment(self, data: PassData, centres: Array, centre_sq_norms: Array, *,
                         update: bool, exact_inertia: bool, x_sq_norms: Array | None,
                         previous_labels: Array | None, tie_ulps: int) -> Assignment | None:
        """On the CPU plan, NumPy's fused assignment on NumPy views of the tensors, where it
        takes the pass; its results viewed as tensors (no copies either way)."""
        if self.accelerator:
            return None
        import torch

        def view(x: Array | None) -> Any:
            return None if x is None else x.numpy()

        fused = _fused.assignment(data, view(data.X), view(data.mean), view(data.weights),
                                  view(centres), view(centre_sq_norms), view(x_sq_norms),
                                  view(previous_labels), update=update,
                                  exact_inertia=exact_inertia, tie_ulps=tie_ulps,
                                  two_centre_loop=_fused_bisection.compiled_two_centre_kernel)
        if fused is None:
            return None
        # np.asarray: a sum of 0-d arrays is a NumPy scalar.
        return Assignment(*(None if a is None else torch.from_numpy(np.asarray(a))
                            for a in fused))

    def feature_means(self, xp: Namespace, X: Array) -> Array:
        """On the CPU plan, NumPy's computed on a view of ``X`` (a tensor again, no copy):
        its compiled loop where a fit takes the fused loop
        (:func:`~anykmeans._libraries._fused_means.feature_means`), else the reference by
        NumPy. torch's sum of float32 into float64 converts ``X`` first, many times slower
        than the sum; the same arithmetic gives NumPy's bits."""
        if self.accelerator:
            return super().feature_means(xp, X)
        import torch

        view = X.numpy()
        means = _fused_means.feature_means(view)
        if means is None:
            means = super().feature_means(array_api_compat.array_namespace(view), view)
        return torch.from_numpy(means)

    def fused_lowering(self, data: PassData, points: Array, point_sq_norms: Array,
                       x_sq_norms: Array, weight: Array, closest: Array, pending: bool,
                       search_rows: int,
                       n_steps: int) -> Callable[[slice], tuple[Array, Array, Array]] | None:
        """On the CPU plan, NumPy's fused k-means++ step on NumPy views of the tensors, where
        it takes the step; its results viewed as tensors (no copies either way)."""
        if self.accelerator:
            return None
        import torch

        lower_chunk = _fused_seeding.chunk_lowering(
            data.X.numpy(), data.mean.numpy(), points.numpy(), point_sq_norms.numpy(),
            x_sq_norms.numpy(), weight.numpy(), closest.numpy(), pending, search_rows, n_steps)
        if lower_chunk is None:
            return None

        def as_tensors(rows: slice) -> tuple[Array, Array, Array]:
            return tuple(torch.from_numpy(a) for a in lower_chunk(rows))

        return as_tensors

    def matmul(self, xp: Namespace, a: Array, b: Array) -> Array:
        """``a @ b`` with torch's float32 products at full precision while it runs: neither
        ``torch.backends.cuda.matmul.allow_tf32``, ``torch.set_float32_matmul_precision``
        below ``"highest"`` nor a backend's ``fp32_precision`` of ``"tf32"`` or ``"bf16"``
        reach it (all process-wide: held by :data:`_full_precision` while any of our
        products runs, put back after)."""
        with _full_precision():
            return a @ b

    def scores(self, xp: Namespace, centres: Array, x: Array, centre_sq_norms: Array) -> Array:
        """One ``addmm`` for a dense chunk (``-2`` as its scale: exact, so the same product),
        at full precision as :meth:`matmul`; a sparse chunk's the reference's."""
        import torch

        if x.layout != torch.strided:
            return super().scores(xp, centres, x, centre_sq_norms)
        with _full_precision():
            return torch.addmm(centre_sq_norms[:, None], centres, x.T, alpha=-2.0)

    def non_negative(self, xp: Namespace, x: Array) -> Array:
        """``clamp_min`` with a number: no zero made on the device (one operation fewer)."""
        import torch

        return torch.clamp_min(x, 0.0)

    def take(self, xp: Namespace, x: Array, indices: Array, axis: int = 0) -> Array:
        """``index_select``: array-api-compat's ``take`` maps negative indices first, three
        operations on the indices (kernel launches on a GPU) for every gather."""
        import torch

        return torch.index_select(x, axis, indices)

    def take_along_axis(self, xp: Namespace, x: Array, indices: Array, axis: int) -> Array:
        """``gather`` of the indices broadcast to the result's shape: neither
        array-api-compat's mapping of negative indices (see :meth:`take`) nor
        ``take_along_dim``'s (a ``remainder``)."""
        import torch

        shape = list(x.shape)
        shape[axis] = indices.shape[axis]
        return torch.gather(x, axis, indices.expand(shape))

    def least(self, xp: Namespace, values: Array, count: int) -> Array:
        """``topk``: one selection for all ``count``."""
        import torch

        return torch.topk(values, count, dim=0, largest=False).indices

    def segment_sum(self, xp: Namespace, values: Array, segment_ids: Array,
                    n_segments: int, dtype: Any = None) -> Array:
        if self.accelerator:
            return super().segment_sum(xp, values, segment_ids, n_segments, dtype)
        if dtype is not None:
            values = values.to(dtype)
        out = values.new_zeros((n_segments, *values.shape[1:]))
        index = segment_ids.reshape(-1, *(1,) * (values.ndim - 1)).expand(values.shape)
        return out.scatter_add_(0, index, values)

    def segment_count(self, xp: Namespace, segment_ids: Array, n_segments: int,
                      dtype: Any) -> Array:
        """On the CPU plan ``bincount``: one pass over the ids, where the reference sorts them
        (a fit's final pass counts every row so). On an accelerator, the reference's."""
        import torch

        if self.accelerator:
            return super().segment_count(xp, segment_ids, n_segments, dtype)
        return torch.bincount(segment_ids, minlength=n_segments).to(dtype)


def _check_strided(x: Array, name: str) -> None:
    """Refuse a tensor whose layout is not torch's ordinary dense (strided) one.

    Sparse CSR and CSC tensors are :mod:`._torch_sparse`'s; other sparse
    layouts (COO, BSR, BSC) and mkldnn tensors lack most of the operations a
    fit needs, and a nested tensor has no single shape: each failed deep
    inside torch.

    Raises
    ------
    TypeError
        Naming the layout, ``name`` and how to make a dense tensor of it.
    """
    if getattr(x, "is_nested", False):
        raise TypeError(f"nested torch tensors are not supported for {name}; pass one dense "
                        f"2-D tensor (e.g. torch.cat({name}.unbind()) for pieces of rows).")
    layout = str(x.layout).removeprefix("torch.")
    if layout == "strided":
        return
    if layout.startswith("sparse"):
        raise TypeError(f"sparse torch tensors of layout {x.layout} are not supported for "
                        f"{name}; pass a sparse CSR tensor ({name}.to_sparse_csr()) or a dense "
                        f"one ({name}.to_dense()).")
    raise TypeError(f"{layout.lstrip('_')} torch tensors are not supported for {name} (layout "
                    f"{x.layout}); densify with {name}.to_dense().")


def _float32_at_full_precision():
    """Set torch's float32 products to full precision (IEEE float32: no TF32 on CUDA, no
    bfloat16 or TF32 through oneDNN on the CPU); return what puts back the settings found.

    From torch 2.9 the settings are the backends' ``fp32_precision``, which the older
    ``allow_tf32`` and ``set_float32_matmul_precision`` only set; before, those two.
    """
    import torch

    settings = [matmul for matmul in (torch.backends.cuda.matmul,
                                      getattr(torch.backends.mkldnn, "matmul", None))
                if hasattr(matmul, "fp32_precision")]
    if not settings:
        precision = torch.get_float32_matmul_precision()
        allow_tf32 = torch.backends.cuda.matmul.allow_tf32
        torch.set_float32_matmul_precision("highest")  # also turns allow_tf32 off

        def restore_legacy() -> None:
            torch.set_float32_matmul_precision(precision)
            torch.backends.cuda.matmul.allow_tf32 = allow_tf32

        return restore_legacy
    found = [matmul.fp32_precision for matmul in settings]
    for matmul in settings:
        matmul.fp32_precision = "ieee"

    def restore() -> None:
        for matmul, value in zip(settings, found, strict=True):
            matmul.fp32_precision = value

    return restore


#: torch's float32 products at full precision while any of anykmeans' products runs, from
#: any thread (pool threads, Dask's).
_full_precision = SharedLimit(_float32_at_full_precision)


#: The torch thread count of a thread that :func:`_one_torch_thread` holds at one thread.
_caller = threading.local()


@contextlib.contextmanager
def _one_torch_thread(value: T) -> Iterator[T]:
    """``value``, while the calling thread runs torch on one thread; its count is put back
    after, and kept meanwhile for :func:`_callers_threads` (the outermost, when nested)."""
    import torch

    previous = torch.get_num_threads()
    outermost = getattr(_caller, "threads", None) is None
    if outermost:
        _caller.threads = previous
    torch.set_num_threads(1)
    try:
        yield value
    finally:
        torch.set_num_threads(previous)
        if outermost:
            del _caller.threads


def _callers_threads() -> int:
    """The calling thread's torch thread count, as it was before :func:`_one_torch_thread`."""
    import torch

    return getattr(_caller, "threads", None) or torch.get_num_threads()
