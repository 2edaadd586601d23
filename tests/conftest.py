"""The ``xp`` fixture: every test that takes it runs on every usable backend.

Cases come from :func:`anykmeans._backends.backends`, so the tests, the demo
and the benchmarks agree on what a backend is. CuPy and CUDA cases are
listed and skipped with the reason where no CUDA device exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from anykmeans._backends import Backend, backends
from anykmeans._namespace import to_host

try:  # JAX computes in float32 unless asked; the tests compare float64 runs.
    import jax

    jax.config.update("jax_enable_x64", True)
except ImportError:
    pass


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
        dtypes = ["float64"]
        if backend.library == "torch" or backend.device == "no_float64":
            dtypes = ["float32"] if backend.device == "no_float64" else ["float32", "float64"]
        for dtype in dtypes:
            case = Case(backend, dtype)
            marks = [] if backend.usable else [pytest.mark.skip(reason=backend.note)]
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


@pytest.fixture
def transfers(monkeypatch) -> list[int]:
    """The sizes of every array anykmeans moves to the host, in order, while the test runs.

    ``to_host`` is the package's one device-to-host transfer; it is counted in
    every module that calls it.
    """
    import anykmeans
    from anykmeans import _namespace

    sizes = []
    real = _namespace.to_host

    def counting(x):
        out = real(x)
        sizes.append(int(np.asarray(out).size))
        return out

    for module in ("_namespace", "_lloyd", "_kmeans", "_random", "_estimator", "_minibatch"):
        target = getattr(anykmeans, module)
        if hasattr(target, "to_host"):
            monkeypatch.setattr(target, "to_host", counting)
    return sizes
