"""Model files written to harm: ``anykmeans.load`` reads data only, in bounded memory.

Every file here is crafted by the test from a genuine one. A refused file
raises one ``ValueError`` that names the path and says it "is not an anykmeans
model file", never NumPy's advice to load it with ``allow_pickle``.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import anykmeans
from tests.data import blobs

X = blobs(120, 3, 4, seed=7)
NOT_A_MODEL = "is not an anykmeans model file"
MIB = 2**20


def saved(tmp_path, model=None) -> tuple[dict, dict]:
    """The metadata and the arrays of a genuine file (a fitted KMeans unless ``model``)."""
    model = model if model is not None else anykmeans.KMeans(4, random_state=0).fit(X)
    model.save(tmp_path / "genuine.npz")
    with np.load(tmp_path / "genuine.npz", allow_pickle=False) as archive:
        arrays = dict(archive)
    return json.loads(str(arrays.pop("metadata"))), arrays


def write(path, metadata, arrays):
    """A model file holding ``metadata`` (JSON text, or data to encode) and ``arrays``."""
    text = metadata if isinstance(metadata, str) else json.dumps(metadata)
    np.savez(path, metadata=np.asarray(text), **arrays)
    return path


def npy_header(shape, descr="<f8") -> bytes:
    """The header of a .npy file declaring ``shape`` and ``descr``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "shape": shape, "fortran_order": False})
    return buffer.getvalue()


def append(path, name, header, *, zero_mib=0, payload=b""):
    """Add member ``name`` to the archive: ``header``, then ``zero_mib`` MiB of zeros (deflated)."""
    with (zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive,
          archive.open(name, "w", force_zip64=True) as member):
        member.write(header + payload)
        for _ in range(zero_mib):
            member.write(bytes(MIB))


def refused(path, match=NOT_A_MODEL) -> str:
    """The message ``load(path)`` refuses the file with."""
    with pytest.raises(ValueError, match=match) as info:
        anykmeans.load(path)
    message = str(info.value)
    assert str(path) in message and NOT_A_MODEL in message
    assert "allow_pickle" not in message
    return message


def peak_bytes(call) -> int:
    """The most memory Python and NumPy held at once during ``call()``."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- data only: nothing named by a file is imported or called ------------------------------------


def test_a_record_naming_the_command_line_runs_nothing(tmp_path):
    metadata, arrays = saved(tmp_path)
    np.save(tmp_path / "data.npy", X)
    written = tmp_path / "written"
    argv = ["fit", str(tmp_path / "data.npy"), "-k", "1", "-q", "-o", str(written)]
    metadata["attributes"]["_schedule"] = {"kind": "record", "class": "anykmeans.cli:main",
                                           "fields": {"argv": argv}}
    refused(write(tmp_path / "cli.npz", metadata, arrays))
    assert not (tmp_path / "written.npz").exists()


def test_a_record_naming_the_package_main_does_not_exit(tmp_path):
    metadata, arrays = saved(tmp_path)
    metadata["attributes"]["_schedule"] = {"kind": "record", "class": "anykmeans.__main__:main",
                                           "fields": {}}
    refused(write(tmp_path / "main.npz", metadata, arrays))
    assert "anykmeans.__main__" not in sys.modules


def test_a_record_naming_load_does_not_recurse(tmp_path):
    metadata, arrays = saved(tmp_path)
    path = tmp_path / "self.npz"
    metadata["attributes"]["_schedule"] = {
        "kind": "record", "class": "anykmeans._persistence:load_model",
        "fields": {"path": str(path)}}
    refused(write(path, metadata, arrays))


@pytest.mark.parametrize("fields", [
    {"n_clusters": "4", "batch_size": 10, "rows_since": 0, "has_empty": False},
    {"n_clusters": 4, "batch_size": 10, "rows_since": 0, "has_empty": 1},
    {"n_clusters": 4, "batch_size": 10, "rows_since": 0},
    {"n_clusters": 4, "batch_size": 10, "rows_since": 0, "has_empty": False, "extra": 1},
])
def test_a_record_must_have_its_dataclass_fields_and_types(tmp_path, fields):
    model = anykmeans.MiniBatchKMeans(4, random_state=0, batch_size=30).fit(X)
    metadata, arrays = saved(tmp_path, model)
    metadata["attributes"]["_schedule"]["fields"] = fields
    refused(write(tmp_path / "record.npz", metadata, arrays))


@pytest.mark.parametrize("estimator", ["os", "CentresEstimator", "kmeans", ["KMeans"], None])
def test_only_anykmeans_estimators_are_built(tmp_path, estimator):
    metadata, arrays = saved(tmp_path)
    metadata["estimator"] = estimator
    refused(write(tmp_path / "estimator.npz", metadata, arrays), match="Unknown estimator")


@pytest.mark.parametrize("params", [
    {"evil": 1},
    {"n_clusters": [4]},
    {"init": {"k-means++": 1}},
    {"__class__": "KMeans"},
])
def test_parameters_are_the_estimators_with_plain_values(tmp_path, params):
    metadata, arrays = saved(tmp_path)
    metadata["params"].update(params)
    refused(write(tmp_path / "params.npz", metadata, arrays))


@pytest.mark.parametrize("name, spec", [
    ("predict", {"kind": "scalar", "key": "inertia"}),  # would shadow a method
    ("__dict__", {"kind": "scalar", "key": "inertia"}),
    ("cluster_centers_", {"kind": "scalar", "key": "inertia"}),  # not its kind
    ("labels_", {"kind": "array", "key": "cluster_centers"}),  # not its entry
    ("labels_", {"kind": "array", "key": "labels", "class": "os:system"}),
    ("labels_", "array"),
])
def test_attributes_are_the_formats_with_their_kinds(tmp_path, name, spec):
    metadata, arrays = saved(tmp_path)
    metadata["attributes"][name] = spec
    refused(write(tmp_path / "attributes.npz", metadata, arrays))


def test_array_parameters_are_the_formats(tmp_path):
    metadata, arrays = saved(tmp_path)
    metadata["array_params"] = ["n_clusters"]
    del metadata["params"]["n_clusters"]
    arrays["param_n_clusters"] = np.ones(3)
    refused(write(tmp_path / "n_clusters.npz", metadata, arrays))
    metadata, arrays = saved(tmp_path)
    metadata["array_params"] = ["init"]
    del metadata["params"]["init"]
    init = arrays["cluster_centers"].copy()
    loaded = anykmeans.load(write(tmp_path / "init.npz", metadata, {**arrays, "param_init": init}))
    np.testing.assert_array_equal(loaded.init, init)
    for bad in (init[:, :2], np.full_like(init, np.nan)):
        refused(write(tmp_path / "bad_init.npz", metadata, {**arrays, "param_init": bad}))


# -- bounded memory: only the named members are read, each after its header ---------------------


def test_a_huge_extra_member_is_never_read(tmp_path):
    metadata, arrays = saved(tmp_path)
    path = write(tmp_path / "extra.npz", metadata, arrays)
    append(path, "extra.npy", npy_header((200 * MIB // 8,)), zero_mib=200)
    assert path.stat().st_size < 2 * MIB
    loaded = []
    assert peak_bytes(lambda: loaded.append(anykmeans.load(path))) < 8 * MIB
    np.testing.assert_array_equal(loaded[0].cluster_centers_, arrays["cluster_centers"])


def test_a_named_member_that_expands_a_thousandfold_is_refused_unread(tmp_path):
    metadata, arrays = saved(tmp_path)
    del arrays["labels"]
    path = write(tmp_path / "bomb.npz", metadata, arrays)
    append(path, "labels.npy", npy_header((200 * MIB // 8,), "<i8"), zero_mib=200)
    assert peak_bytes(lambda: refused(path, match="labels")) < 8 * MIB


@pytest.mark.parametrize("name, shape", [
    ("cluster_centers", (10**6, 10**6)),
    ("labels", (10**12,)),
    ("_mean", (10**12,)),
])
def test_a_header_declaring_a_terabyte_is_refused_without_allocating(tmp_path, name, shape):
    metadata, arrays = saved(tmp_path)
    del arrays[name]
    path = write(tmp_path / "huge.npz", metadata, arrays)
    descr = "<i8" if name == "labels" else "<f8"
    append(path, f"{name}.npy", npy_header(shape, descr), payload=bytes(64))
    refused(path, match=name)


def test_the_metadata_is_read_first_and_bounded(tmp_path):
    metadata, arrays = saved(tmp_path)
    metadata["params"]["algorithm"] = "lloyd" + " " * (2 * MIB)
    path = write(tmp_path / "long.npz", metadata, arrays)
    assert peak_bytes(lambda: refused(path, match="metadata")) < 8 * MIB


def test_compressed_fortran_and_big_endian_members_still_load(tmp_path):
    model = anykmeans.KMeans(4, random_state=0).fit(X)
    metadata, arrays = saved(tmp_path, model)
    arrays["cluster_centers"] = np.asfortranarray(arrays["cluster_centers"])
    arrays["_mean"] = arrays["_mean"].astype(">f8")
    arrays["labels"] = arrays["labels"].astype(">i4")
    path = tmp_path / "unusual.npz"
    np.savez_compressed(path, metadata=np.asarray(json.dumps(metadata)), **arrays)
    loaded = anykmeans.load(path)
    np.testing.assert_array_equal(loaded.cluster_centers_, model.cluster_centers_)
    np.testing.assert_array_equal(loaded.predict(X), model.labels_)


# -- loaded values are checked ------------------------------------------------------------------


def _with(key, change):
    return pytest.param(key, change, id=f"{key}-{change.__name__}")


def nan(a):
    return np.where(np.arange(a.size).reshape(a.shape) == 0, np.nan, a)


def inf(a):
    return np.where(np.arange(a.size).reshape(a.shape) == 0, np.inf, a)


def complex_(a):
    return a.astype(np.complex128)


def float16(a):
    return a.astype(np.float16)


def flat(a):
    return a.reshape(-1)


def longer(a):
    return np.concatenate([a, a[:1]])


def too_large(a):
    return a + 4


def negative(a):
    return a - 1 if a.ndim else np.asarray(-1)


def floats(a):
    return a.astype(np.float64)


def objects(a):
    return np.asarray([None], dtype=object)


def text(a):
    return np.asarray("4")


@pytest.mark.parametrize("key, change", [
    _with("cluster_centers", nan), _with("cluster_centers", inf),
    _with("cluster_centers", complex_), _with("cluster_centers", float16),
    _with("cluster_centers", flat), _with("cluster_centers", objects),
    _with("_mean", nan), _with("_mean", longer), _with("_mean", complex_),
    _with("labels", too_large), _with("labels", negative), _with("labels", floats),
    _with("labels", objects),
    _with("inertia", nan), _with("n_iter", negative), _with("n_features_in", too_large),
    _with("_n_features_out", text), _with("inertia_history", inf),
    _with("inertia_histories_lengths", longer),
])
def test_loaded_arrays_are_finite_real_and_consistent(tmp_path, key, change):
    metadata, arrays = saved(tmp_path)
    arrays[key] = change(arrays[key])
    refused(write(tmp_path / "values.npz", metadata, arrays), match=key)


# -- malformed files: one error ---------------------------------------------------------------


@pytest.mark.parametrize("content", [
    b"", b"PK\x03\x04 truncated", b"\x00\x01 garbage " * 50,
    pickle.dumps(anykmeans.KMeans(2)), pickle.dumps(np.ones(3)),
])
def test_files_that_are_not_archives_are_refused(tmp_path, content):
    path = tmp_path / "bytes.npz"
    path.write_bytes(content)
    refused(path)


def test_a_truncated_model_and_a_pickled_model_are_refused(tmp_path):
    model = anykmeans.KMeans(4, random_state=0).fit(X)
    model.save(tmp_path / "model.npz")
    contents = (tmp_path / "model.npz").read_bytes()
    for size in (len(contents) // 2, len(contents) - 30):
        (tmp_path / "truncated.npz").write_bytes(contents[:size])
        refused(tmp_path / "truncated.npz")
    (tmp_path / "pickled.npz").write_bytes(pickle.dumps(model))
    refused(tmp_path / "pickled.npz")


@pytest.mark.parametrize("metadata", [
    "{", "[" * 100_000, "[]", '"anykmeans.model"', json.dumps({"format": "anykmeans.model"}),
    json.dumps({"format": "anykmeans.model", "version": 1, "estimator": "KMeans"}),
])
def test_malformed_metadata_is_refused(tmp_path, metadata):
    _, arrays = saved(tmp_path)
    refused(write(tmp_path / "metadata.npz", metadata, arrays))


@pytest.mark.parametrize("change", ["params", "attributes", "array_params", "missing", "extra"])
def test_metadata_of_the_wrong_layout_is_refused(tmp_path, change):
    metadata, arrays = saved(tmp_path)
    if change == "missing":
        del metadata["attributes"]["_mean"]
    elif change == "extra":
        metadata["attributes"]["labels_"] = {"kind": "array", "key": "labels"}
        del arrays["labels"]
    else:
        metadata[change] = 1
    refused(write(tmp_path / "layout.npz", metadata, arrays))


def test_a_metadata_entry_that_is_not_text_is_refused(tmp_path):
    _, arrays = saved(tmp_path)
    np.savez(tmp_path / "numbers.npz", metadata=np.ones(3), **arrays)
    refused(tmp_path / "numbers.npz", match="metadata")


# -- MiniBatchKMeans goes on after save, load and to -------------------------------------------


def chunks(n: int = 6) -> list[np.ndarray]:
    return np.array_split(blobs(600, 3, 5, seed=2), n)


def streamed(random_state) -> anykmeans.MiniBatchKMeans:
    """A MiniBatchKMeans after two chunks, reassigning centres at every step (draws)."""
    model = anykmeans.MiniBatchKMeans(5, random_state=random_state, reassignment_ratio=0.9)
    for chunk in chunks()[:2]:
        model.partial_fit(chunk)
    return model


def go_on(model) -> anykmeans.MiniBatchKMeans:
    for chunk in chunks()[2:]:
        model.partial_fit(chunk)
    return model


@pytest.mark.parametrize("random_state", [0, "generator", "pcg64_random_state"])
def test_partial_fit_models_save_load_move_and_go_on_identically(tmp_path, random_state):
    random_state = {"generator": np.random.default_rng(3),
                    "pcg64_random_state": np.random.RandomState(np.random.PCG64(3))
                    }.get(random_state, random_state)
    model = streamed(random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a generator as random_state is not saved
        model.save(tmp_path / "stream.npz")
    loaded = anykmeans.load(tmp_path / "stream.npz")
    moved = model.to(np.empty(0))
    restarted = model.to(np.empty(0))
    restarted._random_state = np.random.RandomState(0)
    for other in (loaded, moved, restarted):
        assert other._random_state is not model._random_state
    for m in (model, loaded, moved, restarted):
        go_on(m)
    for other in (loaded, moved):
        np.testing.assert_array_equal(other.cluster_centers_, model.cluster_centers_)
        np.testing.assert_array_equal(other._counts, model._counts)
        np.testing.assert_array_equal(other.labels_, model.labels_)
        assert other.n_steps_ == model.n_steps_ == len(chunks())
    # The continuation draws random numbers: another generator state goes elsewhere.
    assert not np.array_equal(restarted.cluster_centers_, model.cluster_centers_)


def test_an_unsupported_bit_generator_is_refused_when_saving(tmp_path):
    model = streamed(np.random.Generator(np.random.Philox(0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="Philox"):
            model.save(tmp_path / "philox.npz")


@pytest.mark.parametrize("change", ["pos", "key_length", "key_range", "bit_generator", "class"])
def test_a_generator_state_outside_its_bounds_is_refused(tmp_path, change):
    metadata, arrays = saved(tmp_path, streamed(0))
    spec = metadata["attributes"]["_random_state"]
    state = spec["state"]["state"]
    if change == "pos":  # NumPy's MT19937 would read outside its key: a crash
        state["pos"] = 10**8
    elif change == "key_length":
        state["key"] = state["key"][:-1]
    elif change == "key_range":
        state["key"][0] = 2**40
    elif change == "bit_generator":
        spec["state"]["bit_generator"] = "Philox"
    else:
        spec["class"] = "os:system"
    refused(write(tmp_path / "generator.npz", metadata, arrays))


# -- the memory bound counts what the built model holds -----------------------------------------


def compressed(tmp_path, name, metadata, arrays):
    path = tmp_path / name
    np.savez_compressed(path, metadata=np.asarray(json.dumps(metadata)), **arrays)
    return path


def sparse(n, dtype, every, values, seed=0):
    """``n`` zeros of ``dtype`` but one in ``every``, drawn from ``values``: data that deflate
    compresses a few dozen times, within the 100-fold a member may expand."""
    rng = np.random.default_rng(seed)
    array = np.zeros(n, dtype=dtype)
    array[rng.integers(0, n, n // every)] = rng.choice(values, n // every)
    return array


def expansion(path, key):
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{key}.npy")
    return info.file_size / info.compress_size


@pytest.mark.parametrize("key", ["labels", "inertia_histories", "inertia_histories_lengths"])
def test_what_compressed_entries_build_stays_within_the_bound(tmp_path, key):
    metadata, arrays = saved(tmp_path)
    if key == "labels":  # uint8 widened to int64 when built
        arrays["labels"] = sparse(20 * MIB, np.uint8, 200, [1, 2, 3])
    elif key == "inertia_histories":  # Python floats when built
        arrays["inertia_histories"] = sparse(2 * MIB, np.float64, 50, np.linspace(1, 2, 99))
        arrays["inertia_histories_lengths"] = np.asarray([2 * MIB])
    else:  # a tuple for every length
        arrays["inertia_histories_lengths"] = sparse(MIB, np.int64, 30, [1, 2, 3])
        size = int(arrays["inertia_histories_lengths"].sum())
        arrays["inertia_histories"] = np.random.default_rng(1).random(size)
    path = compressed(tmp_path, "built.npz", metadata, arrays)
    assert 20 < expansion(path, key) < 100  # each member within the per-member bound
    size = path.stat().st_size
    assert peak_bytes(lambda: refused(path, match="times the file's size")) < 100 * size


def test_a_large_genuine_model_loads_within_a_few_times_its_size(tmp_path):
    model = anykmeans.KMeans(8, n_init=3, init="random", random_state=0).fit(blobs(200_000, 4, 8))
    model.save(tmp_path / "large.npz")
    size = (tmp_path / "large.npz").stat().st_size
    loaded = []
    assert peak_bytes(lambda: loaded.append(anykmeans.load(tmp_path / "large.npz"))) < 4 * size
    np.testing.assert_array_equal(loaded[0].labels_, model.labels_)


# -- what the methods use is checked at load ------------------------------------------------------


def test_negative_counts_are_refused(tmp_path):
    model = anykmeans.MiniBatchKMeans(4, random_state=0, batch_size=30).fit(X)
    metadata, arrays = saved(tmp_path, model)
    arrays["_counts"] = -arrays["_counts"] - 1
    refused(write(tmp_path / "counts.npz", metadata, arrays), match="_counts")


@pytest.mark.parametrize("missing", ["_centres", "_counts", "_schedule", "n_steps_"])
def test_an_incomplete_minibatch_file_is_refused(tmp_path, missing):
    model = anykmeans.MiniBatchKMeans(4, random_state=0, batch_size=30).fit(X)
    metadata, arrays = saved(tmp_path, model)
    del metadata["attributes"][missing]
    refused(write(tmp_path / "incomplete.npz", metadata, arrays), match=missing)


def test_a_kmeans_file_relabelled_as_minibatch_is_refused(tmp_path):
    metadata, arrays = saved(tmp_path)
    metadata["estimator"] = "MiniBatchKMeans"
    metadata["params"] = {"n_clusters": 4}
    refused(write(tmp_path / "relabelled.npz", metadata, arrays), match="MiniBatchKMeans")


@pytest.mark.parametrize("params, match", [
    ({"n_clusters": 5}, "n_clusters"),
    ({"tol": float("nan")}, "tol"),
    ({"max_iter": 0}, "max_iter"),
    ({"algorithm": "fast"}, "algorithm"),
    ({"random_state": "seed"}, "random_state|seed"),
])
def test_parameters_are_checked_at_load(tmp_path, params, match):
    metadata, arrays = saved(tmp_path)
    metadata["params"].update(params)
    refused(write(tmp_path / "params.npz", metadata, arrays), match=match)


@pytest.mark.parametrize("chunk_size", [0, -1, 1])
def test_a_files_chunk_size_is_not_applied(tmp_path, chunk_size):
    metadata, arrays = saved(tmp_path)
    metadata["params"]["chunk_size"] = chunk_size
    assert anykmeans.load(write(tmp_path / "chunks.npz", metadata, arrays)).chunk_size is None


@pytest.mark.parametrize("key", ["cluster_centers", "_mean"])
def test_centres_whose_distances_overflow_are_refused(tmp_path, key):
    metadata, arrays = saved(tmp_path)
    arrays[key] = arrays[key] * 1e300
    refused(write(tmp_path / "far.npz", metadata, arrays), match=key)


def test_lengths_whose_sum_wraps_are_refused(tmp_path):
    metadata, arrays = saved(tmp_path)
    size = arrays["inertia_histories"].size
    arrays["inertia_histories_lengths"] = np.asarray([2**62] * 3 + [2**62 + size])  # 2**64 + size
    refused(write(tmp_path / "wrap.npz", metadata, arrays), match="inertia_histories_lengths")


def test_a_member_stored_twice_is_refused(tmp_path):
    metadata, arrays = saved(tmp_path)
    path = write(tmp_path / "twice.npz", metadata, arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        with zipfile.ZipFile(path, "a") as archive:
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, arrays["cluster_centers"] + 1)
            archive.writestr("cluster_centers.npy", buffer.getvalue())
    refused(path, match="several members named 'cluster_centers.npy'")


def test_load_takes_bytes_and_says_file_not_found(tmp_path):
    saved(tmp_path)
    assert anykmeans.load(bytes(tmp_path / "genuine.npz")).n_clusters == 4
    with pytest.raises(FileNotFoundError):
        anykmeans.load(tmp_path / "missing.npz")
