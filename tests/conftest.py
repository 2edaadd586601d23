"""The ``xp`` fixture: every test that takes it runs on every usable backend.

Cases come from :func:`anykmeans._backends.backends`, so the tests, the demo
and the benchmarks agree on what a backend is. CuPy and CUDA cases are
listed and skipped with the reason where no CUDA device exists.

``ANYKMEANS_TEST_BACKENDS``, a comma-separated list of backend names
(``numpy,torch,array_api_strict:device1``, or library names such as ``torch``
for all of its devices), limits the cases to those backends. JAX keeps its
compiled programs in a persistent cache (``ANYKMEANS_JAX_CACHE``, by default
``.pytest_cache/jax`` beside the tests), so that a second run compiles nothing.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from anykmeans._backends import Backend, backends
from anykmeans._namespace import to_host

#: The environment variable that limits the backends the tests run on.
BACKENDS_VARIABLE = "ANYKMEANS_TEST_BACKENDS"

try:  # JAX computes in float32 unless asked; the tests compare float64 runs.
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_compilation_cache_dir", os.environ.get(
        "ANYKMEANS_JAX_CACHE", str(Path(__file__).parent.parent / ".pytest_cache" / "jax")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
except ImportError:
    pass


def _selected(backend: Backend) -> bool:
    """Whether :data:`BACKENDS_VARIABLE` (unset: every backend) selects ``backend``."""
    names = os.environ.get(BACKENDS_VARIABLE, "").strip()
    if not names:
        return True
    wanted = {name.strip() for name in names.split(",")}
    return backend.name in wanted or backend.library in wanted


@dataclass(frozen=True)
class Case:
    """One backend and the floating dtype its data is given in."""

    backend: Backend
    dtype: str

    @property
    def id(self) -> str:
        return f"{self.backend.name}-{self.dtype}"

    def asarray(self, x):
        """``x`` (NumPy) in this case's library, device and dtype (floats only)."""
        x = np.asarray(x)
        if x.dtype.kind == "f":
            x = x.astype(self.dtype)
        return self.backend.asarray(x)

    @property
    def rtol(self) -> float:
        """Relative tolerance for centres and inertia against NumPy float64.

        float64: a few ulps of accumulated rounding. float32: the data and
        centres are rounded to 24 bits (6e-8) and sums over ~1e3 rows in
        a different order lose a few more bits.
        """
        return 1e-10 if self.dtype == "float64" else 2e-5


#: CPU_DEVICE; device1, our stand-in for a GPU (no implicit NumPy conversion, no
#: mixing devices); no_float64, a stand-in for devices without float64.
STRICT_DEVICES = ("CPU_DEVICE", "device1", "no_float64")


def _cases() -> list:
    params = []
    for backend in backends():
        if backend.library == "array_api_strict" and backend.device not in STRICT_DEVICES:
            continue
        if not _selected(backend):
            continue
        dtypes = ["float64"]
        if backend.library == "torch" or backend.device == "no_float64":
            dtypes = ["float32"] if backend.device == "no_float64" else ["float32", "float64"]
        for dtype in dtypes:
            case = Case(backend, dtype)
            marks = [] if backend.usable else [pytest.mark.skip(reason=backend.note)]
            if backend.library == "jax":  # compiles every new shape: seconds per test
                marks.append(pytest.mark.slow)
            params.append(pytest.param(case, id=case.id, marks=marks))
    return params


CASES = _cases()


@pytest.fixture(params=CASES)
def xp(request) -> Case:
    """A backend case: ``xp.asarray(numpy_array)`` puts data on it."""
    return request.param


def host(x) -> np.ndarray:
    """A result as a NumPy array, for comparing."""
    return np.asarray(to_host(x))


def kernel_calls(monkeypatch, module, kernel,
                 name: str = "compiled_kernel") -> list[tuple[int, ...]]:
    """Make ``module``'s fused path (its ``compiled_kernel``, or the function ``name``) call
    ``kernel``, recording the shape of every call's first argument (a score block, a chunk,
    rows) in the returned list."""
    calls = []

    def counting(*args):
        calls.append(args[0].shape)
        return kernel(*args)

    monkeypatch.setattr(module, name, lambda: counting)
    return calls


@pytest.fixture
def transfers(monkeypatch) -> list[int]:
    """The sizes of every array anykmeans moves to the host, in order, while the test runs.

    ``to_host`` is the package's one device-to-host transfer; it is counted in
    every module of the package that imported it.
    """
    from anykmeans import _namespace

    sizes = []
    real = _namespace.to_host

    def counting(x, *library):
        out = real(x, *library)
        sizes.append(int(np.asarray(out).size))
        return out

    for name, module in list(sys.modules.items()):
        if name.startswith("anykmeans.") and getattr(module, "to_host", None) is real:
            monkeypatch.setattr(module, "to_host", counting)
    return sizes


@pytest.fixture(params=["fused", "standard"])
def numpy_path(request, monkeypatch) -> str:
    """Run a test on both of NumPy's assignment paths: the fused loop Numba compiles
    (skipped without Numba) and the standard-only path."""
    from anykmeans._libraries import _fused

    if request.param == "fused":
        if _fused.compiled_kernel() is None:
            pytest.skip("Numba is not installed (pip install numba): no fused path")
        monkeypatch.setattr(_fused, "MIN_SCORES", 0)  # however small the data
    else:
        monkeypatch.setattr(_fused, "compiled_kernel", lambda: None)
    return request.param
