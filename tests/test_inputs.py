"""Inputs at the boundary: what is converted, what is refused, and that either is said clearly.

Data beyond a fitted model's dtype, scalar and extreme sample weights, half
precision, NumPy's subclasses and masked arrays, PyTorch's autograd and meta
tensors, Dask arrays with empty blocks. Expectations are the same fit on
plain data (the conversion must change nothing else) or a clear error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import anykmeans
from anykmeans._libraries import Library, library_of
from anykmeans._namespace import array_namespace, device_of
from tests.conftest import host
from tests.data import blobs

X = blobs(40, 3, 3)
INIT = X[[0, 1, 2]]


# -- data beyond the model's dtype ----------------------------------------------------------

#: Rows a float32 model cannot compute with: beyond float32's range (1e39 becomes
#: infinity) and within it but with squares that overflow (1e30).
BEYOND_FLOAT32 = [(1e39, "X contains NaN or infinity"), (1e30, "Rescale X")]


@pytest.mark.parametrize("value, match", BEYOND_FLOAT32)
def test_data_beyond_the_models_dtype_is_refused(xp, value, match):
    """A float32 model refuses float64 rows it would compute infinities from.

    Before, ``predict`` returned the label ``n_clusters``, ``transform`` NaN,
    ``score`` an IndexError, and ``partial_fit`` updated the centres with them.
    (A lazy library's results raise as they are computed.)
    """
    X32 = xp.backend.asarray(X.astype(np.float32))
    queries = xp.backend.asarray(np.array([[value, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    model = anykmeans.KMeans(3, random_state=0).fit(X32)
    for method in (model.predict, model.transform):
        with pytest.raises(ValueError, match=match):
            host(method(queries))
    with pytest.raises(ValueError, match=match):
        model.score(queries)
    stream = anykmeans.MiniBatchKMeans(3, random_state=0).partial_fit(X32)
    with pytest.raises(ValueError, match=match):
        stream.partial_fit(queries)


# -- sample weights -------------------------------------------------------------------------

BAD_SCALAR_WEIGHTS = [(-1.0, "non-negative"), (0.0, "all are zero"),
                      (float("nan"), "sample_weight contains NaN"),
                      (float("inf"), "sample_weight contains NaN or infinity")]


@pytest.mark.parametrize("weight, match", BAD_SCALAR_WEIGHTS)
def test_scalar_sample_weight_is_checked_like_an_array(xp, weight, match):
    """Before, -1.0 gave a negative inertia, 0.0 an inertia of zero, NaN a broadcast error."""
    data = xp.asarray(X)
    model = anykmeans.KMeans(3, random_state=0).fit(data)
    calls = [lambda: anykmeans.KMeans(3, random_state=0).fit(data, sample_weight=weight),
             lambda: anykmeans.kmeans_plusplus(data, 3, sample_weight=weight, random_state=0),
             lambda: model.score(data, sample_weight=weight)]
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("weight", [2.0, 3, np.float32(2.0), np.array(2.0)])
def test_scalar_sample_weight_weighs_every_sample(weight):
    """A Python or NumPy number, or a 0-d array: the labels of unit weights, inertia times it."""
    unit = anykmeans.KMeans(3, init=INIT).fit(X)
    weighted = anykmeans.KMeans(3, init=INIT).fit(X, sample_weight=weight)
    np.testing.assert_array_equal(weighted.labels_, unit.labels_)
    assert weighted.inertia_ == pytest.approx(float(weight) * unit.inertia_, rel=1e-12)
    assert unit.score(X, sample_weight=weight) == pytest.approx(-float(weight) * unit.inertia_)


def extreme_weights(dtype: str) -> dict[str, float]:
    """Weights near the limits of ``dtype``: ``huge`` and ``subnormal`` are refused.

    ``huge`` times 40 rows overflows; ``large`` times 40 rows times the data's
    squared distances (about 1e3) stays far from overflow; ``small`` is normal
    and its products with the data's values and squared distances stay normal.
    """
    info = np.finfo(dtype)
    if dtype == "float64":
        return dict(huge=float(info.max) / 2, subnormal=float(info.smallest_normal) / 4,
                    large=1e290, small=1e-290)
    return dict(huge=float(info.max) / 2, subnormal=float(info.smallest_normal) / 4,
                large=1e30, small=1e-30)


def test_weights_that_overflow_or_are_subnormal_are_refused(xp):
    """Before, 1e306 gave an infinite inertia and another partition; 1e-320 a broadcast error.

    JAX (XLA on the CPU) flushes subnormal numbers to zero in every
    operation: there a subnormal weight is a weight of zero.
    """
    data, n = xp.asarray(X), X.shape[0]
    weights = extreme_weights(xp.dtype)
    with pytest.raises(ValueError, match=r"sample_weight sums to .* could overflow"):
        anykmeans.KMeans(3, init=xp.asarray(INIT)).fit(
            data, sample_weight=xp.asarray(np.full(n, weights["huge"])))
    subnormal = np.ones(n)
    subnormal[5] = weights["subnormal"]
    subnormal = xp.asarray(subnormal)
    ns = array_namespace(subnormal)
    if bool(subnormal[5] > 0):
        with pytest.raises(ValueError, match=r"below .* the smallest normal"):
            anykmeans.KMeans(3, init=xp.asarray(INIT)).fit(data, sample_weight=subnormal)
    else:
        flushed = anykmeans.KMeans(3, init=xp.asarray(INIT)).fit(data, sample_weight=subnormal)
        zero = anykmeans.KMeans(3, init=xp.asarray(INIT)).fit(
            data, sample_weight=ns.where(subnormal > 0, subnormal, 0.0))
        np.testing.assert_array_equal(host(flushed.cluster_centers_),
                                      host(zero.cluster_centers_))


def test_large_and_small_weights_give_the_unit_weights_partition(xp):
    data, n = xp.asarray(X), X.shape[0]
    unit = anykmeans.KMeans(3, init=xp.asarray(INIT)).fit(data)
    for name in ("large", "small"):
        weight = extreme_weights(xp.dtype)[name]
        model = anykmeans.KMeans(3, init=xp.asarray(INIT)).fit(
            data, sample_weight=xp.asarray(np.full(n, weight)))
        np.testing.assert_array_equal(host(model.labels_), host(unit.labels_), err_msg=name)
        np.testing.assert_allclose(host(model.cluster_centers_), host(unit.cluster_centers_),
                                   rtol=xp.rtol, atol=xp.rtol, err_msg=name)
        assert model.inertia_ == pytest.approx(weight * unit.inertia_, rel=100 * xp.rtol), name


# -- half precision -------------------------------------------------------------------------

def test_numpy_float16_is_computed_in_float64():
    """float16 data gives the float64 fit of its values, and float64 centres.

    Before, it was computed in float16: squared distances rounded to 11 bits put
    points in clusters whose centre is not the nearest, and values above about
    1 were refused as overflowing.
    """
    data = blobs(2000, 2, 6, seed=5)
    data16 = (data / np.abs(data).max()).astype(np.float16)
    half = anykmeans.KMeans(6, random_state=0).fit(data16)
    full = anykmeans.KMeans(6, random_state=0).fit(data16.astype(np.float64))
    assert half.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(half.labels_, full.labels_)
    np.testing.assert_array_equal(half.cluster_centers_, full.cluster_centers_)
    np.testing.assert_array_equal(half.predict(data16), full.labels_)
    # Magnitudes that overflowed float16's squared distances are fine in float64.
    model = anykmeans.KMeans(6, random_state=0).fit(data.astype(np.float16))
    assert np.isfinite(model.inertia_)


def test_half_precision_is_computed_in_the_libraries_dtype_for_it(xp):
    """float16 on every library that has it: the fit of its values in the dtype the library
    computes half precision in (the default dtype but on CuPy: float32)."""
    data = xp.asarray(blobs(200, 2, 3, seed=6))
    ns = array_namespace(data)
    if not hasattr(ns, "float16"):
        pytest.skip(f"{xp.backend.name} has no float16")
    wide = library_of(data).half_precision_dtype(ns, device_of(data))
    data16 = ns.astype(data, ns.float16)
    half = anykmeans.KMeans(3, random_state=0).fit(data16)
    full = anykmeans.KMeans(3, random_state=0).fit(ns.astype(data16, wide))
    assert half.cluster_centers_.dtype == wide
    np.testing.assert_array_equal(host(half.labels_), host(full.labels_))
    np.testing.assert_array_equal(host(half.cluster_centers_), host(full.cluster_centers_))


def test_cupy_computes_half_precision_in_float32_as_torch_and_jax():
    from anykmeans._libraries._cupy import CuPy

    assert Library().half_precision_dtype(np, None) == np.float64  # NumPy's default
    assert CuPy(True).half_precision_dtype(np, None) == np.float32


def test_torch_bfloat16_fits():
    """Before, bfloat16 tensors crashed in ``to_host`` (NumPy has no bfloat16)."""
    torch = pytest.importorskip("torch")
    data = torch.asarray(blobs(200, 2, 3, seed=6)).to(torch.bfloat16)
    half = anykmeans.KMeans(3, random_state=0).fit(data)
    full = anykmeans.KMeans(3, random_state=0).fit(data.to(torch.get_default_dtype()))
    assert half.cluster_centers_.dtype == torch.get_default_dtype()
    assert torch.equal(half.labels_, full.labels_)
    assert torch.equal(half.cluster_centers_, full.cluster_centers_)


# -- NumPy subclasses and masked arrays -----------------------------------------------------

class Tagged(np.ndarray):
    """An ndarray subclass that misbehaves as subclasses may: its products are elementwise."""

    def __matmul__(self, other):
        return np.multiply(self, other)


def subclasses(tmp_path) -> dict:
    memmap = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=X.dtype,
                                       shape=X.shape)
    memmap[...] = X
    return {"matrix": np.asmatrix(X), "memmap": memmap, "subclass": X.view(Tagged)}


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("kind", ["matrix", "memmap", "subclass"])
def test_ndarray_subclasses_are_fitted_as_plain_arrays(tmp_path, kind):
    """Results are plain ndarrays equal to those of the same data as an ndarray."""
    data = subclasses(tmp_path)[kind]
    before = np.array(data)
    weights = np.linspace(0.5, 2.0, X.shape[0])
    expected = anykmeans.KMeans(3, random_state=0).fit(X, sample_weight=weights)
    model = anykmeans.KMeans(3, random_state=0).fit(data, sample_weight=weights)
    for name in ("cluster_centers_", "labels_"):
        assert type(getattr(model, name)) is np.ndarray, name
        np.testing.assert_array_equal(getattr(model, name), getattr(expected, name))
    assert model.inertia_ == expected.inertia_
    for out, reference in [(model.predict(data), expected.labels_),
                           (model.transform(data), expected.transform(X))]:
        assert type(out) is np.ndarray
        np.testing.assert_array_equal(out, reference)
    np.testing.assert_array_equal(np.asarray(data), before)


def test_masked_arrays_are_refused():
    """Before, a broadcasting error from deep inside the fit."""
    masked = np.ma.masked_array(X, mask=X > 5)
    message = "Masked arrays are not supported for {}; fill the masked values"
    with pytest.raises(TypeError, match=message.format("X")):
        anykmeans.KMeans(3).fit(masked)
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    with pytest.raises(TypeError, match=message.format("X")):
        model.predict(masked)
    with pytest.raises(TypeError, match=message.format("sample_weight")):
        model.score(X, sample_weight=np.ma.masked_array(np.ones(40), mask=X[:, 0] > 5))
    with pytest.raises(TypeError, match=message.format("init")):
        anykmeans.KMeans(3, init=masked[:3]).fit(X)


# -- PyTorch: autograd and the meta device --------------------------------------------------

def test_tensors_that_require_grad_are_fitted_detached():
    """No result keeps an autograd graph, and PyTorch warns of nothing.

    Before, the centres carried a ``grad_fn`` and the graph held every
    intermediate array of the fit (867 MiB where the fit needs 20).
    """
    torch = pytest.importorskip("torch")
    data = torch.asarray(X).requires_grad_(True)
    weights = torch.ones(X.shape[0], dtype=data.dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = anykmeans.KMeans(3, random_state=0).fit(data, sample_weight=weights)
        seeded = anykmeans.KMeans(3, init=data[:3] * 1.0).fit(data)
        stream = anykmeans.MiniBatchKMeans(3, random_state=0).partial_fit(data)
        results = {
            "cluster_centers_": model.cluster_centers_, "labels_": model.labels_,
            "seeded centres": seeded.cluster_centers_, "predict": model.predict(data),
            "transform": model.transform(data), "fit_transform":
                anykmeans.KMeans(3, random_state=0).fit_transform(data),
            "kmeans_plusplus": anykmeans.kmeans_plusplus(data, 3, random_state=0)[0],
            "kmeans": anykmeans.kmeans(data, 3, random_state=0).centers,
            "partial_fit": stream.partial_fit(data).cluster_centers_,
        }
        score = model.score(data, sample_weight=weights)
    for name, result in results.items():
        assert not result.requires_grad and result.grad_fn is None, name
    assert isinstance(score, float) and isinstance(model.inertia_, float)
    assert data.grad is None and weights.grad is None
    expected = anykmeans.KMeans(3, random_state=0).fit(X, sample_weight=np.ones(X.shape[0]))
    np.testing.assert_array_equal(host(model.labels_), expected.labels_)


def test_meta_tensors_are_refused():
    """Before, a RuntimeError from ``.item()``."""
    torch = pytest.importorskip("torch")
    meta = torch.empty(X.shape, dtype=torch.float64, device="meta")
    with pytest.raises(TypeError, match="X is on PyTorch's meta device"):
        anykmeans.KMeans(3).fit(meta)
    with pytest.raises(TypeError, match="meta device"):
        anykmeans.kmeans_plusplus(meta, 3)
    model = anykmeans.KMeans(3, random_state=0).fit(torch.asarray(X))
    with pytest.raises(TypeError, match="meta device"):
        model.predict(meta)



#: torch tensors whose layout holds no data anykmeans can compute on, each made from a dense
#: tensor, and the words the refusal must use (sparse CSR and CSC: tests/test_sparse.py).
TORCH_LAYOUTS = {
    "sparse_coo": (lambda t: t.to_sparse(), "sparse torch tensors of layout .* not supported"),
    "sparse_bsr": (lambda t: t.to_sparse_bsr((1, 1)),
                   "sparse torch tensors of layout .* not supported"),
    "mkldnn": (lambda t: t.float().to_mkldnn(), "mkldnn torch tensors are not supported"),
    "nested": (lambda t: torch_nested(t), "nested torch tensors are not supported"),
}


def torch_nested(t):
    """A nested tensor of two pieces of ``t``'s rows."""
    import torch

    return torch.nested.nested_tensor([t[:20], t[20:]])


@pytest.mark.filterwarnings("ignore:.*(beta|prototype):UserWarning")
@pytest.mark.parametrize("layout", sorted(TORCH_LAYOUTS))
def test_torch_tensors_without_strided_data_are_refused(layout):
    """X, sample_weight and init are refused at the boundary, saying how to densify.

    Before, fit, predict, transform and score failed inside torch
    (``NotImplementedError: Could not run 'aten::amax' ...``, or a nested
    tensor's "Internal error: NestedTensorImpl doesn't support sizes").
    """
    torch = pytest.importorskip("torch")
    make, match = TORCH_LAYOUTS[layout]
    dense = torch.asarray(X)
    odd = make(dense)
    match = f"{match}.*to_dense|{match}.*unbind"
    with pytest.raises(TypeError, match=match):
        anykmeans.KMeans(3, random_state=0).fit(odd)
    with pytest.raises(TypeError, match=match):
        anykmeans.MiniBatchKMeans(3, random_state=0).partial_fit(odd)
    with pytest.raises(TypeError, match=match):
        anykmeans.kmeans_plusplus(odd, 3, random_state=0)
    model = anykmeans.KMeans(3, random_state=0).fit(dense)
    for method in (model.predict, model.transform, model.score):
        with pytest.raises(TypeError, match=match):
            method(odd)
    if layout != "nested":
        weights = make(torch.ones(X.shape[0], dtype=dense.dtype)[:, None])
        with pytest.raises(TypeError, match="sample_weight"):
            model.score(dense, sample_weight=weights)
        with pytest.raises(TypeError, match="init"):
            anykmeans.KMeans(3, init=make(dense[:3])).fit(dense)


# -- Dask: empty blocks ---------------------------------------------------------------------

def empty_block_arrays(da) -> dict:
    """X (and weights) as Dask arrays with an empty block of rows, made two ways."""
    given = da.from_array(X, chunks=((20, 0, 20), (3,)))
    filtered = da.from_array(X, chunks=(10, 3))
    keep = da.from_array(np.arange(X.shape[0]) // 10 != 1, chunks=10)
    filtered = filtered[keep]  # the second block loses every row
    filtered.compute_chunk_sizes()
    return {"given": given, "filtered": filtered}


@pytest.mark.parametrize("made", ["given", "filtered"])
def test_dask_empty_blocks_are_dropped(made):
    """The fit, with weights in blocks of their own, equals the fit of the same rows in NumPy.

    Before, Dask's reductions failed on the empty block.
    """
    da = pytest.importorskip("dask.array")
    data = empty_block_arrays(da)[made]
    assert 0 in data.chunks[0]
    rows = data.compute()
    weights = np.linspace(0.5, 2.0, rows.shape[0])
    dask_weights = da.from_array(weights, chunks=((5, 0, rows.shape[0] - 5),))
    ours = anykmeans.KMeans(3, random_state=0).fit(data, sample_weight=dask_weights)
    expected = anykmeans.KMeans(3, random_state=0).fit(rows, sample_weight=weights)
    np.testing.assert_array_equal(ours.labels_.compute(), expected.labels_)
    np.testing.assert_allclose(ours.cluster_centers_.compute(), expected.cluster_centers_,
                               rtol=1e-12)
    assert ours.inertia_ == pytest.approx(expected.inertia_, rel=1e-12)
    np.testing.assert_array_equal(ours.predict(data).compute(), expected.labels_)
    np.testing.assert_allclose(ours.transform(data).compute(), expected.transform(rows),
                               rtol=1e-12)
    assert ours.score(data) == pytest.approx(expected.score(rows), rel=1e-12)
