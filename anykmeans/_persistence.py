"""Saving, loading and moving fitted models, without pickle.

A model file is an ``.npz`` archive that ``numpy.load(path, allow_pickle=False)``
reads: one array per fitted attribute, named after the attribute without its
trailing underscore (``cluster_centers``, ``labels``, ``inertia``, ``n_iter``,
...), the array-valued parameters as ``param_<name>``, and a ``metadata``
entry holding JSON text: the estimator's class, its parameters, which entry
restores which attribute, and the fields of private state kept in anykmeans
dataclasses (so a loaded ``MiniBatchKMeans`` can go on with ``partial_fit``).
Everything works from the estimator's
parameters and fitted attributes, so it serves every estimator built on
:class:`anykmeans._estimator.CentresEstimator`.

Arrays go through the host on the way in and out (the one documented place
where a whole model crosses devices) and come back in the library and on the
device of the ``like`` array.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import warnings
from numbers import Real
from typing import Any

import array_api_compat
import numpy as np

from ._namespace import (
    Array,
    Namespace,
    array_namespace,
    device_of,
    has_float64,
    index_dtype,
    to_host,
)

__all__ = ["load_model", "move_model", "save_model"]

FORMAT = "anykmeans.model"
VERSION = 1


def _is_array(value: Any) -> bool:
    return array_api_compat.is_array_api_obj(value) and not isinstance(value, np.generic)


def _is_record(value: Any) -> bool:
    """An anykmeans dataclass instance of plain numbers (an estimator's private state)."""
    return (dataclasses.is_dataclass(value) and not isinstance(value, type)
            and type(value).__module__.startswith("anykmeans.")
            and all(v is None or isinstance(v, str | bool | int | float)
                    for v in dataclasses.asdict(value).values()))


def _record(spec: dict[str, Any]) -> Any:
    """The dataclass instance :func:`_is_record` accepted, rebuilt from its fields."""
    module, _, name = spec["class"].partition(":")
    if not module.startswith("anykmeans."):
        raise ValueError(f"Refusing to rebuild {spec['class']!r}: not an anykmeans class.")
    cls = getattr(importlib.import_module(module), name)
    return cls(**spec["fields"])


def _key(name: str) -> str:
    """The archive entry of attribute ``name``: ``cluster_centers_`` -> ``cluster_centers``."""
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def _state(model: Any, portable: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``model`` as metadata and host arrays.

    With ``portable`` the metadata is JSON-ready: parameters JSON cannot hold
    (callables, random generators) are left out, with a warning.

    Raises
    ------
    NotFittedError
        If ``model`` is not fitted.
    TypeError
        If a fitted attribute has a type the format cannot hold.
    """
    model._check_fitted()
    params, arrays, dropped = {}, {}, []
    for name, value in model.get_params().items():
        if _is_array(value) or isinstance(value, np.ndarray):
            arrays[f"param_{name}"] = np.asarray(to_host(value))
        elif isinstance(value, np.generic):
            params[name] = value.item()
        elif not portable or value is None or isinstance(value, str | bool | int | float):
            params[name] = value
        else:
            dropped.append(name)
    if dropped:
        warnings.warn(
            f"Parameters {dropped} of {type(model).__name__} (callables, random "
            "generators) cannot be saved; a loaded model has their default values.",
            UserWarning, stacklevel=3)
    attributes = {}
    for name, value in vars(model).items():
        if name in model.get_params():
            continue
        key = _key(name)
        if _is_array(value):
            arrays[key], kind = np.asarray(to_host(value)), "array"
        elif isinstance(value, bool | Real):
            arrays[key], kind = np.asarray(value), "scalar"
        elif isinstance(value, tuple) and all(isinstance(v, Real) for v in value):
            arrays[key], kind = np.asarray(value, dtype=np.float64), "tuple"
        elif isinstance(value, tuple) and all(
                isinstance(v, tuple) and all(isinstance(x, Real) for x in v) for v in value):
            arrays[key], kind = np.asarray([float(x) for v in value for x in v]), "tuples"
            arrays[f"{key}_lengths"] = np.asarray([len(v) for v in value], dtype=np.int64)
        elif _is_record(value):
            cls = type(value)
            attributes[name] = {"kind": "record", "class": f"{cls.__module__}:{cls.__qualname__}",
                                "fields": dataclasses.asdict(value)}
            continue
        else:
            raise TypeError(f"Cannot save attribute {name!r} of type {type(value).__name__}.")
        attributes[name] = {"kind": kind, "key": key}
    array_params = sorted(key.removeprefix("param_") for key in arrays
                          if key.startswith("param_"))
    metadata = {"format": FORMAT, "version": VERSION, "estimator": type(model).__name__,
                "params": params, "array_params": array_params, "attributes": attributes}
    return metadata, arrays


def _move(host: np.ndarray, xp: Namespace, device: Any) -> Array:
    """A host array in namespace ``xp`` on ``device``: floats keep their dtype where the
    device has it (float32 otherwise), integers take the namespace's index dtype."""
    if host.dtype == np.float64 and not has_float64(xp, device):
        host = host.astype(np.float32)
    array = xp.asarray(host, device=device)
    if host.dtype.kind in "iu":
        array = xp.astype(array, index_dtype(xp, device))
    return array


def _build(metadata: dict[str, Any], arrays: dict[str, np.ndarray], like: Array | None) -> Any:
    """A fitted estimator from :func:`_state`'s output, its arrays in ``like``'s library."""
    import anykmeans

    from ._estimator import CentresEstimator

    cls = getattr(anykmeans, str(metadata.get("estimator")), None)
    if not (isinstance(cls, type) and issubclass(cls, CentresEstimator)):
        raise ValueError(f"Unknown estimator {metadata.get('estimator')!r} in the model file.")
    if like is None:
        like = np.empty(0)
    xp = array_namespace(like)
    device = device_of(like)
    params = dict(metadata["params"])
    for name in metadata["array_params"]:
        params[name] = _move(arrays[f"param_{name}"], xp, device)
    model = cls(**params)
    for name, spec in metadata["attributes"].items():
        kind = spec["kind"]
        if kind == "record":
            setattr(model, name, _record(spec))
            continue
        key = spec["key"]
        value = arrays[key]
        if kind == "array":
            value = _move(value, xp, device)
        elif kind == "scalar":
            value = value.item()
        elif kind == "tuple":
            value = tuple(value.tolist())
        else:  # "tuples": a ragged tuple of tuples, flattened, with its lengths
            ends = np.cumsum(arrays[f"{key}_lengths"])[:-1]
            parts = np.split(value, ends) if arrays[f"{key}_lengths"].size else []
            value = tuple(tuple(part.tolist()) for part in parts)
        setattr(model, name, value)
    return model


def save_model(model: Any, path: str | os.PathLike | Any) -> None:
    """Write a fitted estimator to ``path`` as an ``.npz`` archive (no pickle).

    Parameters
    ----------
    model : KMeans or another fitted anykmeans estimator
    path : str, path-like or binary file
        Where to write; NumPy adds ``.npz`` to a name without it.

    Raises
    ------
    NotFittedError
        If ``model`` is not fitted.

    Warns
    -----
    UserWarning
        When a parameter (a callable ``init``, a random generator as
        ``random_state``) cannot be stored; the loaded model has its default.
    """
    metadata, arrays = _state(model, portable=True)
    np.savez(path, metadata=np.asarray(json.dumps(metadata)), **arrays)


def load_model(path: str | os.PathLike | Any, like: Array | None = None) -> Any:
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    path : str, path-like or binary file
    like : array, optional
        Any array of the library and device the model's arrays should be in
        (its values and shape do not matter); NumPy on the CPU when omitted.

    Returns
    -------
    A fitted estimator of the class that was saved.

    Raises
    ------
    ValueError
        If the file is not an anykmeans model (or not an ``.npz`` archive).
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable .npz archive ({exc}).") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not a readable .npz archive (it holds a single array).")
    with archive:
        arrays = {name: archive[name] for name in archive.files}
    try:
        metadata = json.loads(str(arrays.pop("metadata")))
        if metadata.get("format") != FORMAT:
            raise ValueError
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path} is not an anykmeans model file (no metadata entry "
                         "written by KMeans.save).") from exc
    if metadata.get("version") != VERSION:
        raise ValueError(f"{path} has model format version {metadata.get('version')}; "
                         f"this anykmeans reads version {VERSION}.")
    return _build(metadata, arrays, like)


def move_model(model: Any, like: Array | None) -> Any:
    """A copy of the fitted ``model`` whose arrays are in ``like``'s library and device.

    The arrays pass through the host once; ``model`` itself is unchanged.
    """
    metadata, arrays = _state(model, portable=False)
    return _build(metadata, arrays, like)
