"""Every implementation the suite can time: anykmeans on each usable backend, and the peers.

An :class:`Implementation` knows how to prepare a fixed-iteration Lloyd fit
and, where the library has one, an end-to-end ``KMeans(k).fit``. Names are the
anykmeans backend names ("numpy", "torch", "jax", "dask", "cupy:cuda",
"torch:cuda", ...) and the peers' ("scikit-learn", "faiss").
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import anykmeans
from anykmeans._backends import LIBRARIES, Backend, backends
from anykmeans._namespace import to_host

from . import peers
from .peers import Run

#: The libraries timed: all that anykmeans supports but array-api-strict, a test library.
_TIMED = tuple(library for library in LIBRARIES if library != "array_api_strict")


@dataclass(frozen=True)
class Implementation:
    """One thing to time.

    Attributes
    ----------
    name : str
        Its name in the table, the JSON and the chart.
    lloyd : callable
        ``lloyd(X, centres, iterations)`` prepares a fit from ``centres`` with
        ``tol=0`` and ``max_iter=iterations`` and returns its :data:`Run`.
    fit : callable or None
        ``fit(X, k)`` prepares the end-to-end ``KMeans(k, random_state=0).fit(X)``
        (default k-means++ seeding and tol) and returns its :data:`Run`; None
        where the library has no such call (faiss seeds differently).
    """

    name: str
    lloyd: Callable[[np.ndarray, np.ndarray, int], Run]
    fit: Callable[[np.ndarray, int], Run] | None


def _on_backend(backend: Backend, X: Any) -> Any:
    """``X`` on ``backend``: a NumPy array copied there; a SciPy sparse matrix kept as it is on
    NumPy, a sparse CSR tensor on torch's devices.

    Raises
    ------
    TypeError
        For sparse ``X`` and a library without sparse data (the suite notes it).
    """
    if not type(X).__module__.startswith("scipy.sparse"):
        return backend.asarray(X)
    if backend.library == "numpy":
        return X
    if backend.library == "torch":
        import torch

        return torch.sparse_csr_tensor(*(torch.asarray(a) for a in (X.indptr, X.indices,
                                                                      X.data)),
                                       size=X.shape, device=backend.device)
    raise TypeError(f"{backend.name} has no sparse arrays anykmeans takes")


def _anykmeans(backend: Backend) -> Implementation:
    def lloyd(X: Any, centres: np.ndarray, iterations: int) -> Run:
        data, start = _on_backend(backend, X), backend.asarray(centres)

        def run() -> int:
            model = anykmeans.KMeans(len(centres), init=start, n_init=1, max_iter=iterations,
                                     tol=0).fit(data)
            to_host(model.labels_[:1])  # waits for asynchronous devices
            return int(model.n_iter_)

        return run

    def fit(X: Any, k: int) -> Run:
        data = _on_backend(backend, X)

        def run() -> int:
            model = anykmeans.KMeans(k, random_state=0).fit(data)
            to_host(model.labels_[:1])
            return int(model.n_iter_)

        return run

    return Implementation(backend.name, lloyd, fit)


_PEERS = {
    "scikit-learn": ("sklearn", Implementation("scikit-learn", peers.sklearn_lloyd,
                                               peers.sklearn_fit)),
    "faiss": ("faiss", Implementation("faiss", peers.faiss_lloyd, None)),
    "torch-loop": ("torch", Implementation("torch-loop", peers.torch_lloyd("cpu"), None)),
    "torch-loop:cuda": ("torch", Implementation("torch-loop:cuda", peers.torch_lloyd("cuda"),
                                                None)),
}

#: The peers timed when none are named: the hand-written torch loops only when asked for.
_DEFAULT_PEERS = ("scikit-learn", "faiss")

_PEER_INSTALL = {"scikit-learn": "pip install scikit-learn", "faiss": "pip install faiss-cpu",
                 "torch-loop": "pip install torch", "torch-loop:cuda": "pip install torch"}


def available(libraries: Sequence[str] = _TIMED, peer_names: Sequence[str] = _DEFAULT_PEERS,
              ) -> tuple[list[Implementation], dict[str, str]]:
    """The implementations usable here among those asked for, and why each other one is not.

    Parameters
    ----------
    libraries : sequence of str
        The array libraries to probe (each is imported if installed).
    peer_names : sequence of str
        The peers to look for.

    Returns
    -------
    implementations : list of Implementation
        anykmeans on every usable backend but array-api-strict (CuPy and
        torch's CUDA device appear where a CUDA device exists), then the peers
        that are installed.
    unusable : dict
        The reason for each backend or peer left out, by name (the library's
        name alone where it is not installed).
    """
    found, unusable = [], {}
    for backend in backends(tuple(libraries)):
        if backend.usable:
            found.append(_anykmeans(backend))
        else:
            unusable[backend.library if backend.device == "-" else backend.name] = backend.note
    for name in peer_names:
        module, implementation = _PEERS[name]
        if importlib.util.find_spec(module) is None:
            unusable[name] = f"not installed ({_PEER_INSTALL[name]})"
        elif name.endswith(":cuda") and not peers.cuda_available():
            unusable[name] = "no CUDA device (or a CPU-only build of torch)"
        else:
            found.append(implementation)
    return found, unusable


def select(names: Sequence[str] | None) -> tuple[list[Implementation], list[str]]:
    """The implementations called ``names`` (every usable one if None), in the order given.

    A library's name alone ("cupy") names its device where it has only
    non-CPU ones ("cupy:cuda"); "torch" is torch on the CPU, "torch:cuda" on the GPU.

    Returns
    -------
    implementations : list of Implementation
    notes : list of str
        One line per implementation asked for (or, for None, existing) but not
        usable here, with the reason.

    Raises
    ------
    ValueError
        For a name that is neither a peer nor an anykmeans backend (``library``
        or ``library:device``).
    """
    if names is None:
        usable, unusable = available()
        return usable, [f"{name}: skipped, {why}" for name, why in unusable.items()]
    unknown = [name for name in names
               if name not in _PEERS and name.split(":")[0] not in _TIMED]
    if unknown:
        raise ValueError(f"unknown implementation(s) {', '.join(unknown)}; choose from "
                         f"{', '.join([*_TIMED, *_PEERS])} (a library may name its device: "
                         "torch:cuda)")
    usable, unusable = available(
        tuple(dict.fromkeys(name.split(":")[0] for name in names if name not in _PEERS)),
        [name for name in names if name in _PEERS])
    chosen, notes = [], []
    for name in names:
        matches = _matching(name, usable)
        if not matches:
            why = unusable.get(name) or unusable.get(name.split(":")[0], "not usable here")
            notes.append(f"{name}: skipped, {why}")
        chosen += [impl for impl in matches if impl not in chosen]
    return chosen, notes


def _matching(name: str, usable: Sequence[Implementation]) -> list[Implementation]:
    """The implementation called ``name``, else for a bare library name all its devices."""
    exact = [impl for impl in usable if impl.name == name]
    if exact or ":" in name:
        return exact
    return [impl for impl in usable if impl.name.startswith(name + ":")]
