"""Saving, loading and moving fitted models, without pickle.

A model file is an ``.npz`` archive that ``numpy.load(path, allow_pickle=False)``
reads: one array per fitted attribute, named after the attribute without its
trailing underscore (``cluster_centers``, ``labels``, ``inertia``, ``n_iter``,
...), the array-valued parameters as ``param_<name>``, and a ``metadata``
entry holding JSON text: the estimator's class, its parameters, which entry
restores which attribute, the fields of private state kept in anykmeans
dataclasses, the state of the estimator's random generator (so a loaded
``MiniBatchKMeans`` goes on with ``partial_fit`` exactly as the saved one
would) and the feature names of a model fitted on a data frame. Everything
works from the estimator's parameters and fitted attributes, so it serves
every estimator that declares what it saves: a class attribute
``_model_file``, a mapping from each fitted attribute to its :class:`Field`
(this module imports no estimator; :func:`load_model` is handed the classes
it may build).

A model file is data, and may have been written to harm. :func:`load_model`
builds only the estimators it is given, the dataclasses and bit generators
their fields name, from plain JSON values, and sets only the attributes the
estimator declares, each of the kind, dtype and shape given there; nothing the
file names is imported or called. It reads the metadata first, then only the
entries the metadata names, each after its ``.npy`` header has shown the dtype
and shape the model needs and no more data than its member holds; what the
built model will take is counted before each entry is read, against
:data:`MAX_EXPANSION` times the archive's size. Anything else is refused with
one ``ValueError``.

Arrays go through the host on the way in and out (the one documented place
where a whole model crosses devices) and come back in the library and on the
device of the ``like`` array.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import os
import sys
import typing
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from typing import Any

import array_api_compat
import numpy as np

from ._exceptions import StandardizedModelWarning
from ._libraries import like_for
from ._namespace import (
    Array,
    Namespace,
    array_namespace,
    device_of,
    from_host,
    index_dtype,
    to_host,
)
from ._validation import check_magnitude

__all__ = ["Field", "load_model", "move_model", "read_entry", "read_scaling", "save_model"]

FORMAT = "anykmeans.model"
VERSION = 1

#: The most bytes the metadata entry may take (it holds parameters and small state).
MAX_METADATA_BYTES = 2**20
#: The most memory loading a file may take, in multiples of the archive's size: what its
#: members expand to when decompressed and what the built model holds (``save`` stores the
#: members as they are, so a genuine file takes a few times its size).
MAX_EXPANSION = 100
#: Bytes read from an archive member at a time.
READ_BYTES = 2**20
#: What a float held in a tuple takes (the object and its slot), and an empty tuple.
PYTHON_FLOAT_BYTES = sys.getsizeof(0.0) + 8
PYTHON_TUPLE_BYTES = sys.getsizeof(()) + 8
#: What the objects JSON text decodes to may take, per byte of text (``[{},{},...]``: a
#: dictionary of 64 bytes and its slot for every 3 bytes).
JSON_EXPANSION = 32


@dataclasses.dataclass(frozen=True)
class Field:
    """How a model file holds one attribute or array parameter of an estimator.

    Parameters
    ----------
    kind : str
        "array", "scalar" (a 0-d entry), "tuple" (of floats), "tuples" (a
        ragged tuple of tuples of floats: the values flattened, and an entry
        ``<key>_lengths``), "record" (a dataclass of plain fields, in the
        metadata), "generator" (a NumPy random generator's state, in the
        metadata) or "names" (one string per feature, a JSON list in the
        metadata).
    dtype : str
        Of entries: "f" (float32 or float64, finite), "f+" (the same, not
        negative) or "i" (integers, not negative).
    shape : tuple of str
        Of entries, in clusters "k", features "d" or any length "n".
    required : bool
        Whether every file of the estimator holds it (what its methods use);
        an optional attribute is absent from some fitted models.
    record : type, optional
        The dataclass of a "record".
    """

    kind: str
    dtype: str = ""
    shape: tuple[str, ...] = ()
    required: bool = True
    record: type | None = None


#: What configures how scikit-learn uses an estimator (``set_output``, metadata requests),
#: not the fitted model: ``to`` copies it, model files do not hold it.
CONFIGURATION = ("_sklearn_output_config", "_metadata_request")
#: Parameters that tune a run to the machine it runs on, not the model: a file does not hold
#: them (a loaded model has their default, chosen for the machine that loads it).
MACHINE_PARAMS = ("chunk_size",)
#: The parameters a model file may hold as arrays.
ARRAY_PARAMS = {"init": Field("array", "f", ("k", "d"))}
#: The entries where ``anykmeans fit --standardize`` keeps every feature's mean and scale.
SCALING_ENTRIES = ("standardize_mean", "standardize_scale")
#: NumPy's bit generators whose state a model file may hold: integers and integer arrays.
BIT_GENERATORS = {cls.__name__: cls for cls in (
    np.random.MT19937, np.random.PCG64, np.random.PCG64DXSM, np.random.SFC64)}
#: The length of MT19937's key. Its position in the key must lie in [0, 624]: NumPy's C code
#: trusts it, and reads outside the key from any other.
MT19937_KEY_LENGTH = 624

_METADATA_KEYS = {"format", "version", "estimator", "params", "array_params", "attributes"}
#: The keys of an attribute's metadata, by kind (one stored in an entry: its kind and key).
_SPEC_KEYS = {"record": {"kind", "class", "fields"}, "generator": {"kind", "class", "state"},
              "names": {"kind", "names"}}
#: The dtype kinds of each Field dtype ("U": the metadata's text; "number": data), and names.
_DTYPE_KINDS = {"f": "f", "f+": "f", "i": "iu", "U": "U", "number": "biuf"}
_DTYPE_NAMES = {"f": "float32 or float64", "f+": "float32 or float64", "i": "integers",
                "U": "text", "number": "numbers"}
#: Readers of the .npy header versions that NumPy's ``savez`` writes.
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}


def _estimator_class(name: Any, estimators: Sequence[type]) -> type:
    """The estimator class called ``name`` in a model file, one of ``estimators``.

    Raises
    ------
    ValueError
        If ``name`` is not the name of one of ``estimators``.
    """
    classes = {cls.__name__: cls for cls in estimators}
    if not (isinstance(name, str) and name in classes):
        raise ValueError(f"Unknown estimator {name!r}; model files hold {' or '.join(classes)}.")
    return classes[name]


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"



def _is_array(value: Any) -> bool:
    return array_api_compat.is_array_api_obj(value) and not isinstance(value, np.generic)


def _is_plain(value: Any) -> bool:
    """Whether ``value`` is what JSON holds as a scalar: None, a bool, a number or a string."""
    return value is None or isinstance(value, str | bool | int | float)


def _key(name: str) -> str:
    """The archive entry of attribute ``name``: ``cluster_centers_`` -> ``cluster_centers``."""
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


# -- records and generators: private state as JSON fields -------------------------------------


def _record_spec(value: Any, name: str, field: Field) -> dict[str, Any]:
    """The metadata of attribute ``name``, a dataclass of the class ``field.record``.

    Raises
    ------
    TypeError
        If ``value`` is of another type.
    """
    if type(value) is not field.record:
        raise TypeError(f"Cannot save attribute {name!r} of type {type(value).__name__}.")
    return {"kind": "record", "class": _qualified_name(field.record),
            "fields": dataclasses.asdict(value)}


def _record(spec: dict[str, Any], field: Field) -> Any:
    """The dataclass :func:`_record_spec` described, once its class is ``field.record`` and
    its fields are the declared ones.

    Raises
    ------
    ValueError
        If the class is another, or the fields are not its fields, each of its
        declared type.
    """
    cls = field.record
    if spec["class"] != _qualified_name(cls):
        raise ValueError(f"Its record class {spec['class']!r:.100} is not "
                         f"{_qualified_name(cls)!r}.")
    types = typing.get_type_hints(cls)
    declared = {item.name: types[item.name] for item in dataclasses.fields(cls)}
    fields = spec["fields"]
    if not (isinstance(fields, dict) and fields.keys() == declared.keys()
            and all(type(fields[name]) is kind for name, kind in declared.items())):
        wanted = ", ".join(f"{name}: {kind.__name__}" for name, kind in declared.items())
        raise ValueError(f"Its {cls.__name__} record does not have the fields {wanted}.")
    return cls(**fields)


def _plain(state: dict[str, Any]) -> dict[str, Any]:
    """A bit generator's ``state`` with its arrays as lists (JSON-ready)."""
    return {key: _plain(value) if isinstance(value, dict)
            else value.tolist() if isinstance(value, np.ndarray) else value
            for key, value in state.items()}


def _generator_spec(rng: Any, name: str) -> dict[str, Any]:
    """The metadata of attribute ``name``, a NumPy ``RandomState`` or ``Generator``.

    Raises
    ------
    TypeError
        If ``rng`` is neither, or its bit generator is not one of :data:`BIT_GENERATORS`.
    """
    if isinstance(rng, np.random.RandomState):
        kind, state = "RandomState", rng.get_state(legacy=False)
    elif isinstance(rng, np.random.Generator):
        kind, state = "Generator", rng.bit_generator.state
    else:
        raise TypeError(f"Cannot save attribute {name!r} of type {type(rng).__name__}.")
    if state["bit_generator"] not in BIT_GENERATORS:
        raise TypeError(f"Cannot save attribute {name!r}: its bit generator "
                        f"{state['bit_generator']} is not one of {sorted(BIT_GENERATORS)}.")
    return {"kind": "generator", "class": kind, "state": _plain(state)}


def _like(value: Any, fresh: Any) -> Any:
    """``value`` (JSON) as the generator state ``fresh`` lays it out, once it matches it.

    Dictionaries must have the same keys, strings (the bit generator's name) be
    equal, numbers be of the same type, and lists of integers have the length
    of the arrays, which they become, in the arrays' dtype.

    Raises
    ------
    ValueError
        If ``value`` does not match ``fresh``.
    OverflowError
        If an integer is out of its array's dtype's range.
    """
    if isinstance(fresh, dict):
        if not (isinstance(value, dict) and value.keys() == fresh.keys()):
            raise ValueError(f"Its random generator's state has not the keys {sorted(fresh)}.")
        return {key: _like(value[key], item) for key, item in fresh.items()}
    if isinstance(fresh, np.ndarray):
        if not (isinstance(value, list) and len(value) == fresh.size
                and all(type(item) is int for item in value)):
            raise ValueError(f"Its random generator's state has no list of {fresh.size} "
                             "integers where its bit generator keeps one.")
        return np.asarray(value, dtype=fresh.dtype)
    if type(value) is not type(fresh) or (isinstance(fresh, str) and value != fresh):
        raise ValueError(f"Its random generator's state holds {value!r:.40} where a "
                         f"{type(fresh).__name__} belongs.")
    return value


def _generator(spec: dict[str, Any]) -> np.random.RandomState | np.random.Generator:
    """The generator :func:`_generator_spec` described, its state checked against a fresh one.

    Raises
    ------
    ValueError
        If it is not a ``RandomState`` or ``Generator`` of one of
        :data:`BIT_GENERATORS`, or its state is not laid out as theirs or is
        out of range.
    """
    state = spec["state"]
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if spec["class"] not in ("RandomState", "Generator") or not (
            isinstance(name, str) and name in BIT_GENERATORS):
        raise ValueError("Its random generator is not a RandomState or Generator of "
                         f"{sorted(BIT_GENERATORS)}.")
    bit_generator = BIT_GENERATORS[name](0)
    if spec["class"] == "RandomState":
        rng = np.random.RandomState(bit_generator)
        fresh = rng.get_state(legacy=False)
    else:
        rng = np.random.Generator(bit_generator)
        fresh = bit_generator.state
    try:
        state = _like(state, fresh)
        if name == "MT19937" and not 0 <= state["state"]["pos"] <= MT19937_KEY_LENGTH:
            raise ValueError(f"Its random generator's position {state['state']['pos']} is "
                             f"outside [0, {MT19937_KEY_LENGTH}].")
        if spec["class"] == "RandomState":
            rng.set_state(state)
        else:
            bit_generator.state = state
    except OverflowError as exc:
        raise ValueError(f"Its random generator's state is out of range ({exc}).") from exc
    return rng


# -- feature names: a JSON list of strings ----------------------------------------------------


def _names_spec(names: Any, name: str) -> dict[str, Any]:
    """The metadata of attribute ``name``, feature names (a 1-D array of strings).

    Raises
    ------
    TypeError
        If ``names`` is not a 1-D NumPy array of strings.
    """
    if not (isinstance(names, np.ndarray) and names.ndim == 1
            and all(isinstance(item, str) for item in names.tolist())):
        raise TypeError(f"Cannot save attribute {name!r}: it is not a 1-D array of strings.")
    return {"kind": "names", "names": names.tolist()}


def _names(spec: dict[str, Any], n_features: int) -> np.ndarray:
    """The feature names :func:`_names_spec` described, as an object array of strings.

    Raises
    ------
    ValueError
        If they are not a list of ``n_features`` strings.
    """
    names = spec["names"]
    if not (isinstance(names, list) and len(names) == n_features
            and all(isinstance(item, str) for item in names)):
        raise ValueError(f"Its feature names are not a list of {n_features} strings.")
    return np.asarray(names, dtype=object)


# -- saving and moving ---------------------------------------------------------------------


def _state(model: Any, portable: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``model`` as metadata and host arrays of its own (copies: never the model's memory).

    With ``portable`` the metadata is JSON-ready: parameters JSON cannot hold
    (callables, random generators) are left out, with a warning, and so are
    :data:`MACHINE_PARAMS`.

    Raises
    ------
    NotFittedError
        If ``model`` is not fitted.
    TypeError
        If a fitted attribute is not one its class declares in ``_model_file``,
        or has a type its kind cannot hold.
    """
    model._check_fitted()
    params, arrays, dropped = {}, {}, []
    all_params = model.get_params()
    for name, value in all_params.items():
        if portable and name in MACHINE_PARAMS:
            continue
        if _is_array(value) or isinstance(value, np.ndarray):
            arrays[f"param_{name}"] = np.array(to_host(value), copy=True)
        elif isinstance(value, np.generic):
            params[name] = value.item()
        elif _is_plain(value):
            params[name] = value
        elif not portable:
            params[name] = copy.deepcopy(value)  # a random generator: the copy's own
        else:
            dropped.append(name)
    if dropped:
        warnings.warn(
            f"Parameters {dropped} of {type(model).__name__} (callables, random "
            "generators) cannot be saved; a loaded model has their default values.",
            UserWarning, stacklevel=3)
    attributes = {}
    for name, value in vars(model).items():
        if name in all_params or name in CONFIGURATION:
            continue
        field = model._model_file.get(name)
        if field is None:
            raise TypeError(f"Cannot save attribute {name!r}: model files do not hold it.")
        if field.kind == "record":
            attributes[name] = _record_spec(value, name, field)
            continue
        if field.kind == "generator":
            attributes[name] = _generator_spec(value, name)
            continue
        if field.kind == "names":
            attributes[name] = _names_spec(value, name)
            continue
        key = _key(name)
        if field.kind == "array":
            arrays[key] = np.array(to_host(value), copy=True)
        elif field.kind == "scalar":
            arrays[key] = np.asarray(value)
        elif field.kind == "tuple":
            arrays[key] = np.asarray(value, dtype=np.float64)
        else:  # "tuples": a ragged tuple of tuples, flattened, with its lengths
            arrays[key] = np.asarray([float(x) for v in value for x in v])
            arrays[f"{key}_lengths"] = np.asarray([len(v) for v in value], dtype=np.int64)
        attributes[name] = {"kind": field.kind, "key": key}
    array_params = sorted(key.removeprefix("param_") for key in arrays
                          if key.startswith("param_"))
    metadata = {"format": FORMAT, "version": VERSION, "estimator": type(model).__name__,
                "params": params, "array_params": array_params, "attributes": attributes}
    return metadata, arrays


def _move(host: np.ndarray, xp: Namespace, device: Any) -> Array:
    """A host array in namespace ``xp`` on ``device``: floats keep their dtype where the
    device has it (float32 otherwise), integers take the namespace's index dtype."""
    array = from_host(host, xp, device)
    if host.dtype.kind in "iu":
        array = xp.astype(array, index_dtype(xp, device))
    return array


def _ragged(values: np.ndarray, lengths: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """``values`` cut into consecutive tuples of ``lengths`` floats."""
    flat = values.tolist()
    offsets = [0, *itertools.accumulate(lengths.tolist())]
    return tuple(tuple(flat[start:end]) for start, end in itertools.pairwise(offsets))


def _build(cls: type, metadata: dict[str, Any], arrays: dict[str, np.ndarray],
           like: Array | None) -> Any:
    """A fitted ``cls`` from :func:`_state`'s output, its arrays in ``like``'s library and on
    its device (NumPy's when None).

    Raises
    ------
    ValueError
        If a record or a generator is not one ``cls`` declares.
    """
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
            value = _record(spec, cls._model_file[name])
        elif kind == "generator":
            value = _generator(spec)
        elif kind == "names":
            value = _names(spec, arrays["cluster_centers"].shape[1])
        else:
            key = spec["key"]
            value = arrays[key]
            if kind == "array":
                value = _move(value, xp, device)
            elif kind == "scalar":
                value = value.item()
            elif kind == "tuple":
                value = tuple(value.tolist())
            else:  # "tuples": a ragged tuple of tuples, flattened, with its lengths
                value = _ragged(value, arrays[f"{key}_lengths"])
        setattr(model, name, value)
    return model


# -- reading a file that may have been written to harm ----------------------------------------


class MemoryBudget:
    """What loading an archive may still take, in bytes: :data:`MAX_EXPANSION` times the
    archive's size (its members' stored bytes), charged before each allocation."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.limit = MAX_EXPANSION * sum(info.compress_size for info in archive.infolist())
        self.left = self.limit

    def charge(self, nbytes: int, what: str) -> None:
        """Take ``nbytes`` for ``what`` (a phrase: "its 'labels' entry").

        Raises
        ------
        ValueError
            If fewer are left.
        """
        if nbytes > self.left:
            raise ValueError(f"{what[0].upper()}{what[1:]} would take {nbytes} bytes in "
                             f"memory, more than the {self.left} left of {MAX_EXPANSION} times "
                             "the file's size.")
        self.left -= nbytes


def read_entry(archive: zipfile.ZipFile, key: str, dtype: str,
               shape: tuple[int | None, ...] | None,
               max_bytes: int | None = None, budget: MemoryBudget | None = None,
               built_bytes: int = 0) -> np.ndarray:
    """Entry ``key`` of ``archive``, read only once its header shows what the model needs.

    Parameters
    ----------
    archive : zipfile.ZipFile
    key : str
        The entry's name, without ``.npy``.
    dtype : {"f", "f+", "i", "U", "number"}
        float32 or float64 (not negative, with "f+"); any integer dtype; text;
        booleans, integers or floats (values unchecked).
    shape : tuple of int or None, or None
        The shape the entry must have, None where any length will do; None:
        any shape.
    max_bytes : int, optional
        The most bytes its data may take.
    budget : MemoryBudget, optional
        Charged, before the entry is read, for its data and for ``built_bytes``
        per item: what the caller will make of each.

    Returns
    -------
    numpy.ndarray
        In native byte order; floats are finite, integers not negative (but for
        "number").

    Raises
    ------
    ValueError
        If the entry is missing, encrypted, compressed otherwise than by deflate
        or more than :data:`MAX_EXPANSION`-fold, not a ``.npy`` array of the
        dtype and shape asked, declaring more data than its member holds (or
        than ``max_bytes``, or than ``budget`` has left), truncated, or holding
        values outside those ranges.
    """
    try:
        info = archive.getinfo(f"{key}.npy")
    except KeyError:
        raise ValueError(f"It has no {key!r} entry.") from None
    if (info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            or info.flag_bits & 0x1 or info.file_size > MAX_EXPANSION * info.compress_size):
        raise ValueError(f"Its {key!r} entry is encrypted, or compressed otherwise than by "
                         f"deflate or more than {MAX_EXPANSION}-fold.")
    with archive.open(info) as stream:
        try:
            read_header = _HEADER_READERS.get(np.lib.format.read_magic(stream))
            if read_header is None:
                raise ValueError("format 3.0 or later")
            declared, fortran, found = read_header(stream)
        except ValueError as exc:
            raise ValueError(f"Its {key!r} entry is not a .npy array of format 1.0 or 2.0 "
                             f"({exc}).") from exc
        if found.kind not in _DTYPE_KINDS[dtype] or (
                dtype.startswith("f") and found.itemsize not in (4, 8)):
            raise ValueError(f"Its {key!r} entry holds {found} values, not {_DTYPE_NAMES[dtype]}.")
        if shape is None:
            shape = (None,) * len(declared)
        if len(declared) != len(shape) or any(
                size < 0 or wanted not in (None, size)
                for size, wanted in zip(declared, shape, strict=True)):
            expected = str(shape).replace("None", "any")
            raise ValueError(f"Its {key!r} entry has shape {declared}, not {expected}.")
        nbytes = math.prod(declared) * found.itemsize
        limit = min(info.file_size, max_bytes or info.file_size)
        if nbytes > limit:
            raise ValueError(f"Its {key!r} entry declares {nbytes} bytes of data, more than the "
                             f"{limit} it may hold.")
        if budget is not None:
            budget.charge(nbytes + built_bytes * math.prod(declared), f"its {key!r} entry")
        array = np.empty(declared[::-1] if fortran else declared, dtype=found)
        buffer = memoryview(array.reshape(-1).view(np.uint8))
        done = 0
        while done < nbytes:
            read = stream.readinto(buffer[done:done + READ_BYTES])
            if not read:
                raise ValueError(f"Its {key!r} entry is truncated.")
            done += read
    if fortran:
        array = array.T
    if not found.isnative:
        array = array.astype(found.newbyteorder("="))
    if dtype.startswith("f") and not np.isfinite(array).all():
        raise ValueError(f"Its {key!r} entry holds NaN or infinite values.")
    if dtype in ("f+", "i") and array.size and array.min() < 0:
        raise ValueError(f"Its {key!r} entry holds negative values.")
    return array


def _read_metadata(archive: zipfile.ZipFile, estimators: Sequence[type],
                   budget: MemoryBudget) -> tuple[type, dict[str, Any]]:
    """The estimator class and the metadata of the archive, once the metadata is plain data of
    the layout :func:`_state` writes for that class.

    Raises
    ------
    ValueError
        If it is missing or larger than :data:`MAX_METADATA_BYTES` (or than
        ``budget`` allows once decoded), not JSON, of another format or version,
        names an estimator not among ``estimators``, parameters the estimator
        does not have or that are not plain values, array parameters other than
        :data:`ARRAY_PARAMS`, attributes the estimator does not declare or
        stored otherwise, or lacks one it requires.
    """
    entry = read_entry(archive, "metadata", "U", (), MAX_METADATA_BYTES, budget)
    budget.charge((1 + JSON_EXPANSION) * (entry.dtype.itemsize // 4), "its metadata")
    try:
        metadata = json.loads(entry.item())
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"Its metadata is not JSON text ({exc}).") from None
    if not (isinstance(metadata, dict) and metadata.get("format") == FORMAT):
        raise ValueError("It has no metadata written by an anykmeans model's save.")
    if metadata.get("version") != VERSION:
        raise ValueError(f"It has model format version {metadata.get('version')}; "
                         f"this anykmeans reads version {VERSION}.")
    if metadata.keys() != _METADATA_KEYS:
        raise ValueError(f"Its metadata has the entries {sorted(metadata)}, "
                         f"not {sorted(_METADATA_KEYS)}.")
    cls = _estimator_class(metadata["estimator"], estimators)
    names = cls._param_names()
    params, array_params, attributes = (metadata[key] for key in
                                        ("params", "array_params", "attributes"))
    if not isinstance(params, dict):
        raise ValueError("Its parameters are not a JSON object.")
    bad = sorted(name for name, value in params.items() if name not in names
                 or not _is_plain(value))
    if bad:
        raise ValueError(f"Its parameters {bad} are not {cls.__name__}'s or not plain values "
                         "(None, booleans, numbers, strings).")
    if not (isinstance(array_params, list) and all(
            isinstance(name, str) and name in ARRAY_PARAMS and name in names
            and name not in params for name in array_params)):
        raise ValueError(f"Its array parameters {array_params!r:.100} are not among "
                         f"{sorted(ARRAY_PARAMS)}.")
    if not isinstance(attributes, dict):
        raise ValueError("Its attributes are not a JSON object.")
    for name, spec in attributes.items():
        field = cls._model_file.get(name)
        if field is None:
            raise ValueError(f"Its attribute {name!r:.100} is not one a {cls.__name__} model "
                             "file may set.")
        keys = _SPEC_KEYS.get(field.kind, {"kind", "key"})
        if not (isinstance(spec, dict) and spec.keys() == keys and spec["kind"] == field.kind
                and spec.get("key", _key(name)) == _key(name)):
            raise ValueError(f"Its attribute {name!r} is not stored as a model file stores it "
                             f"({field.kind}).")
    missing = [name for name, field in cls._model_file.items()
               if field.required and name not in attributes]
    if missing:
        raise ValueError(f"It lacks the attributes {missing} of a {cls.__name__}.")
    metadata["params"] = {name: value for name, value in params.items()
                          if name not in MACHINE_PARAMS}  # an older file's, or a crafted one's
    return cls, metadata


#: What building a model makes of each item of an entry, by the field's kind: an array's
#: elements in the dtype of the library's (at most 8 bytes), a float in a tuple (through the
#: list ``tolist`` makes).
_BUILT_BYTES = {"array": 8, "scalar": 0, "tuple": PYTHON_FLOAT_BYTES + 8,
                "tuples": PYTHON_FLOAT_BYTES + 8}
#: What building a ragged tuple makes of each of its lengths: an offset in two lists (the
#: integer and its slots) and a tuple.
_LENGTH_BYTES = PYTHON_TUPLE_BYTES + 2 * (sys.getsizeof(2**40) + 8)


def _check_centre_magnitude(arrays: dict[str, np.ndarray], key: str) -> None:
    """Refuse centres (or an offset) so large that squared distances to them overflow."""
    values = arrays[key]
    check_magnitude(float(np.abs(values).max()), values.reshape(-1, values.shape[-1]),
                    f"its {key!r} entry")


def _read_arrays(archive: zipfile.ZipFile, cls: type, metadata: dict[str, Any],
                 budget: MemoryBudget) -> dict[str, np.ndarray]:
    """The entries ``metadata`` names (and no other), shaped as the fitted centres require.

    The centres' header gives the number of clusters ``k`` and of features
    ``d``; every other entry's shape follows from them but for lengths "n",
    which only the member's stored size bounds. Each entry is charged to
    ``budget``, with what building ``cls`` will make of it, before it is read.

    Raises
    ------
    ValueError
        As :func:`read_entry`, and if the centres are empty or so large that
        squared distances to them overflow, a label is not below ``k``,
        ``n_features_in`` is not ``d``, ``_n_features_out`` not ``k``, or a
        ragged tuple's lengths do not add up to its values.
    """
    centres = read_entry(archive, "cluster_centers", "f", (None, None), budget=budget,
                         built_bytes=_BUILT_BYTES["array"])
    k, d = centres.shape
    if not (k and d):
        raise ValueError(f"Its 'cluster_centers' entry has shape {centres.shape}.")
    sizes = {"k": k, "d": d, "n": None}
    fields = {f"param_{name}": ARRAY_PARAMS[name] for name in metadata["array_params"]}
    fields.update((spec["key"], cls._model_file[name])
                  for name, spec in metadata["attributes"].items() if "key" in spec)
    arrays = {"cluster_centers": centres}
    for key, field in fields.items():
        if key not in arrays:
            shape = tuple(sizes[size] for size in field.shape)
            arrays[key] = read_entry(archive, key, field.dtype, shape, budget=budget,
                                     built_bytes=_BUILT_BYTES[field.kind])
        if field.kind == "tuples":
            lengths = read_entry(archive, f"{key}_lengths", "i", (None,), budget=budget,
                                 built_bytes=_LENGTH_BYTES)
            if sum(lengths.tolist()) != arrays[key].size:
                raise ValueError(f"Its '{key}_lengths' entry does not add up to the "
                                 f"{arrays[key].size} values of {key!r}.")
            arrays[f"{key}_lengths"] = lengths
    if "labels" in arrays and arrays["labels"].size and arrays["labels"].max() >= k:
        raise ValueError(f"Its 'labels' entry holds labels beyond its {k} clusters.")
    for key, size in (("n_features_in", d), ("_n_features_out", k)):
        if arrays[key] != size:
            raise ValueError(f"Its {key!r} entry is {arrays[key]}, but its centres have "
                             f"shape {centres.shape}.")
    for key in ("cluster_centers", "_mean"):
        _check_centre_magnitude(arrays, key)
    return arrays


def _check_built(model: Any, k: int) -> None:
    """Check what the built ``model``'s methods will use beyond its entries: its parameters
    (as its own ``_check_params`` does), and ``n_clusters`` against its ``k`` centres.

    Raises
    ------
    ValueError
        Naming the first that is wrong.
    """
    try:
        model._check_params()
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    if model.n_clusters != k:
        raise ValueError(f"Its parameter n_clusters={model.n_clusters} does not match its {k} "
                         "centres.")


def save_model(model: Any, path: str | os.PathLike | Any,
               scaling: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Write a fitted estimator to ``path`` as an ``.npz`` archive (no pickle).

    Parameters
    ----------
    model : KMeans or another fitted anykmeans estimator
    path : str, path-like or binary file
        Where to write; NumPy adds ``.npz`` to a name without it.
    scaling : (mean, scale), optional
        The standardisation of every feature the model was fitted after
        (``anykmeans fit --standardize``), kept in the :data:`SCALING_ENTRIES`
        for :func:`read_scaling`.

    Raises
    ------
    NotFittedError
        If ``model`` is not fitted.
    TypeError
        If the model holds an attribute its class does not declare, or a random
        generator of a bit generator not in :data:`BIT_GENERATORS`.

    Warns
    -----
    UserWarning
        When a parameter (a callable ``init``, a random generator as
        ``random_state``) cannot be stored; the loaded model has its default.
    """
    metadata, arrays = _state(model, portable=True)
    if scaling is not None:
        arrays.update(zip(SCALING_ENTRIES, map(np.asarray, scaling), strict=True))
    np.savez(path, metadata=np.asarray(json.dumps(metadata)), **arrays)


def _open(path: str | bytes | os.PathLike | Any) -> zipfile.ZipFile:
    """``path`` opened as a zip archive whose member names are unique.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        As ``open`` does.
    ValueError
        If it is not a zip archive, or two of its members have one name (zip
        tools differ on which of them they read).
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    try:
        archive = zipfile.ZipFile(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise ValueError(f"It is not a readable .npz archive ({exc}).") from exc
    names = archive.namelist()
    if len(set(names)) != len(names):
        archive.close()
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"Its archive holds several members named {twice[0]!r:.100}.")
    return archive


def load_model(path: str | bytes | os.PathLike | Any, like: Any = None, *,
               estimators: Sequence[type]) -> Any:
    """Read a model written by ``model.save(path)``; a file is only ever read as data.

    Nothing the file names is imported or called; only the archive members
    its metadata names are read, each after its header, and the memory taken,
    the built model's included, is at most :data:`MAX_EXPANSION` times the
    file's size.

    Parameters
    ----------
    path : str, bytes, path-like or binary file
    like : array, module, device, str or None
        Where the model's arrays should be, as ``model.to(like)`` takes it: any
        array of that library and device (its values and shape do not matter),
        a library's module, a device, or a device's name ("cpu": NumPy); NumPy
        on the CPU when omitted.
    estimators : sequence of classes
        The estimators a file may hold, each declaring ``_model_file``.

    Returns
    -------
    A fitted estimator of the class that was saved.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        If ``path`` cannot be opened.
    ValueError
        If the file is not an anykmeans model file (not a readable ``.npz``
        archive, of another format version, or not exactly what ``save``
        writes: estimators, parameters, attributes, dtypes, shapes and values
        outside the format's allow-lists, or more than the memory bound); the
        message names ``path`` and the reason. Or if ``like`` names a device
        its library does not have here.
    TypeError
        If ``like`` names no library and device.

    Warns
    -----
    StandardizedModelWarning
        If the file keeps a standardisation (``anykmeans fit --standardize``):
        the model expects standardised data, which :func:`read_scaling` gives
        the means and scales of.
    """
    like = like_for(like, np.empty(0))  # before the file: its errors are not the file's
    try:
        with _open(path) as archive:
            budget = MemoryBudget(archive)
            cls, metadata = _read_metadata(archive, estimators, budget)
            arrays = _read_arrays(archive, cls, metadata, budget)
            scaled = any(f"{key}.npy" in archive.namelist() for key in SCALING_ENTRIES)
        model = _build(cls, metadata, arrays, like)
        _check_built(model, arrays["cluster_centers"].shape[0])
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"{path} is not an anykmeans model file. It is not a readable .npz "
                         f"archive ({exc}).") from exc
    except ValueError as exc:
        raise ValueError(f"{path} is not an anykmeans model file. {exc}") from exc
    if scaled:
        warnings.warn(
            f"{path} was fitted by 'anykmeans fit --standardize': its centres are in "
            "standardised units, and predict, transform and score expect data standardised "
            "as (X - mean) / scale, with the mean and scale that "
            "anykmeans.read_scaling(path) returns.", StandardizedModelWarning, stacklevel=3)
    return model


def read_scaling(path: str | bytes | os.PathLike | Any,
                 n_features: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The mean and scale of every feature kept in the model file ``path`` by
    ``anykmeans fit --standardize``; None if it keeps none.

    The model in such a file assigns ``(X - mean) / scale``.

    Parameters
    ----------
    path : str, bytes, path-like or binary file
    n_features : int, optional
        The number of features both must have (any, the same, when omitted).

    Returns
    -------
    (mean, scale) : tuple of numpy.ndarray, or None

    Raises
    ------
    ValueError
        If one entry is missing, or they are not of one length (``n_features``)
        of finite floats, or a scale is not positive (read as
        :func:`load_model` reads entries: the header first).
    """
    try:
        with _open(path) as archive:
            if not any(f"{key}.npy" in archive.namelist() for key in SCALING_ENTRIES):
                return None
            mean = read_entry(archive, SCALING_ENTRIES[0], "f", (n_features,))
            scale = read_entry(archive, SCALING_ENTRIES[1], "f", mean.shape)
    except ValueError as exc:
        raise ValueError(f"{path} is not an anykmeans model file. {exc}") from exc
    if not (scale > 0).all():
        raise ValueError(f"{path} is not an anykmeans model file. Its {SCALING_ENTRIES[1]!r} "
                         "entry holds scales that are not positive.")
    return mean, scale


def move_model(model: Any, like: Any) -> Any:
    """A copy of the fitted ``model`` whose arrays are in the library and on the device that
    ``like`` names: an array, a library's module, a device, a device's name in the model's
    library, or None (NumPy; see :func:`anykmeans._libraries.like_for`).

    The arrays pass through the host once and are the copy's own: writing into
    them leaves ``model`` unchanged (a random generator it holds is copied too).
    The copy keeps the model's :data:`CONFIGURATION`.

    Raises
    ------
    NotFittedError
        If ``model`` is not fitted.
    TypeError, ValueError
        If ``like`` names no library and device (see ``like_for``).
    """
    metadata, arrays = _state(model, portable=False)
    moved = _build(type(model), metadata, arrays, like_for(like, model.cluster_centers_))
    for name in CONFIGURATION:
        if name in vars(model):
            setattr(moved, name, copy.deepcopy(vars(model)[name]))
    return moved
