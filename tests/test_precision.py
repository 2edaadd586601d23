"""Every matrix product runs at full float32 precision, whatever the library's global settings.

Each library's reduced-precision settings (torch's ``allow_tf32`` and
``set_float32_matmul_precision``, JAX's ``jax_default_matmul_precision``, CuPy's
float32 compute type, which ``CUPY_TF32=1`` makes TF32) are turned to their reduced
value; the setting or argument in force where each product is made is recorded, through
fit (with k-means++, k-means|| and an empty cluster to relocate), predict, transform
and score. On a CPU these settings change no result: what is checked is what a GPU
would be told.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import anykmeans

#: Products of torch's dispatcher.
TORCH_PRODUCTS = {"mm", "addmm", "bmm", "mv", "dot", "matmul", "addmv", "baddbmm"}


def every_entry_point(asarray) -> None:
    """Fit with each seeding and an empty cluster to relocate, then predict, transform, score."""
    rng = np.random.default_rng(0)
    X = asarray(rng.standard_normal((600, 4)).astype(np.float32))
    far = asarray(np.vstack([rng.standard_normal((3, 4)), np.full((2, 4), 1e3)])
                  .astype(np.float32))
    model = anykmeans.KMeans(5, init=far, n_init=1, max_iter=3).fit(X)  # relocates two
    anykmeans.KMeans(5, init="k-means||", n_init=1, max_iter=2, random_state=0).fit(X)
    model = anykmeans.KMeans(5, n_init=1, max_iter=2, random_state=0).fit(X)
    model.predict(X)
    model.transform(X)
    model.score(X)


#: torch's reduced float32 precision, set the old way and the new (torch 2.9 on).
TORCH_REDUCED = {
    "set_float32_matmul_precision": lambda torch: torch.set_float32_matmul_precision("medium"),
    "allow_tf32": lambda torch: setattr(torch.backends.cuda.matmul, "allow_tf32", True),
    "fp32_precision": lambda torch: setattr(torch.backends.cuda.matmul, "fp32_precision",
                                            "tf32"),
}


def torch_precision(torch) -> tuple[str, str]:
    """The settings torch's float32 products follow (from torch 2.9)."""
    return (torch.backends.cuda.matmul.fp32_precision,
            torch.backends.mkldnn.matmul.fp32_precision)


@pytest.mark.parametrize("reduced", list(TORCH_REDUCED))
@pytest.mark.parametrize("plan", ["cpu", "accelerator"])
def test_torch_products_run_at_full_precision(monkeypatch, plan, reduced):
    torch = pytest.importorskip("torch")
    from torch.utils._python_dispatch import TorchDispatchMode

    if not hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        pytest.skip("torch before 2.9 has no fp32_precision settings")

    seen = []

    class Products(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.overloadpacket.__name__ in TORCH_PRODUCTS:
                seen.append(torch_precision(torch))
            return func(*args, **(kwargs or {}))

    monkeypatch.setenv("ANYKMEANS_PLAN", plan)
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")  # torch's own products on the CPU plan too
    before = torch_precision(torch)
    try:
        TORCH_REDUCED[reduced](torch)
        users = torch_precision(torch)
        assert users != before
        with Products():
            every_entry_point(torch.asarray)
        assert torch_precision(torch) == users  # put back
    finally:
        torch.backends.cuda.matmul.fp32_precision, torch.backends.mkldnn.matmul.fp32_precision \
            = before
    assert len(seen) > (20 if plan == "accelerator" else 5)
    assert set(seen) == {("ieee", "ieee")}


@pytest.mark.slow  # JAX compiles each chunk's maths: 45 s on 2 loaded cores
def test_jax_products_ask_for_the_highest_precision(monkeypatch):
    jax = pytest.importorskip("jax")
    matmul = jax.numpy.matmul
    seen = []

    def recorded(a, b, *, precision=None, **kwargs):
        seen.append(precision)
        return matmul(a, b, precision=precision, **kwargs)

    monkeypatch.setattr(jax.numpy, "matmul", recorded)
    monkeypatch.setenv("ANYKMEANS_PLAN", "accelerator")  # the one-hot products as well
    with jax.default_matmul_precision("bfloat16"):
        every_entry_point(jax.numpy.asarray)
    assert len(seen) > 20
    assert set(seen) == {jax.lax.Precision.HIGHEST}


def fake_cupy(compute_type: int) -> types.ModuleType:
    """A module standing for ``cupy._core._routines_linalg``: a float32 compute type to get
    and set, as ``CUPY_TF32=1`` leaves it."""
    linalg = types.ModuleType("cupy._core._routines_linalg")
    linalg.COMPUTE_TYPE_DEFAULT, linalg.COMPUTE_TYPE_TF32 = 1, 7
    linalg.types = {np.dtype(np.float32): compute_type}
    linalg.get_compute_type = lambda dtype: linalg.types[np.dtype(dtype)]
    linalg.set_compute_type = lambda dtype, value: linalg.types.__setitem__(np.dtype(dtype),
                                                                            value)
    return linalg


def test_cupy_products_run_with_the_full_precision_compute_type(monkeypatch):
    from anykmeans._libraries._cupy import CuPy

    linalg = fake_cupy(compute_type=7)
    core = types.ModuleType("cupy._core")
    core._routines_linalg = linalg
    cupy = types.ModuleType("cupy")
    cupy._core = core
    for name, module in (("cupy", cupy), ("cupy._core", core),
                         ("cupy._core._routines_linalg", linalg)):
        monkeypatch.setitem(sys.modules, name, module)

    class Operand:
        def __matmul__(self, other):
            return linalg.get_compute_type(np.float32)

    assert CuPy(True).matmul(np, Operand(), None) == linalg.COMPUTE_TYPE_DEFAULT
    assert linalg.get_compute_type(np.float32) == linalg.COMPUTE_TYPE_TF32  # put back
