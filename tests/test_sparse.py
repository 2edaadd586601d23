"""Sparse input: SciPy sparse matrices and arrays, torch sparse CSR tensors.

scikit-learn's semantics (no centring, CSR) and its answers for the same seed; dense and
sparse versions of the same rows agree; nothing the size of X is made dense.
"""

import warnings

import numpy as np
import pytest

import anykmeans

sp = pytest.importorskip("scipy.sparse")
sklearn_cluster = pytest.importorskip("sklearn.cluster")

FORMATS = {
    "csr_matrix": sp.csr_matrix,
    "csr_array": sp.csr_array,
    "csc_matrix": sp.csc_matrix,
    "csc_array": sp.csc_array,
}


def sparse_data(n=400, d=30, density=0.15, seed=0):
    X = sp.random(n, d, density=density, format="csr", random_state=seed,
                  data_rvs=np.random.RandomState(seed).rand)
    weights = np.random.RandomState(seed + 1).rand(n) + 0.1
    return X, weights


@pytest.mark.parametrize(("fmt", "init"), [
    ("csr_matrix", "k-means++"), ("csr_array", "random"), ("csc_matrix", "array"),
    ("csc_array", "k-means++"), ("csr_array", "array"), ("csc_matrix", "random")])
def test_kmeans_matches_scikit_learn(fmt, init):
    X, weights = sparse_data()
    X = FORMATS[fmt](X)
    if init == "array":
        init = X[[3, 50, 120, 200, 399]].toarray()
    ours = anykmeans.KMeans(5, init=init, n_init=1, random_state=0).fit(X, sample_weight=weights)
    theirs = sklearn_cluster.KMeans(5, init=init, n_init=1, random_state=0).fit(
        X, sample_weight=weights)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-12)
    assert isinstance(ours.cluster_centers_, np.ndarray)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), atol=1e-10)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-10)


def test_kmeans_function_and_fit_helpers_take_sparse():
    X, weights = sparse_data(seed=3)
    result = anykmeans.kmeans(X, 4, random_state=1, sample_weight=weights)
    model = anykmeans.KMeans(4, random_state=1)
    np.testing.assert_array_equal(model.fit_predict(X, sample_weight=weights), result.labels)
    distances = anykmeans.KMeans(4, random_state=1).fit_transform(X, sample_weight=weights)
    np.testing.assert_allclose(distances, model.transform(X), atol=1e-12)


def test_kmeans_parallel_sparse_equals_dense():
    """scikit-learn has no k-means||: the sparse fit is the dense one's (for the same rows)."""
    X, weights = sparse_data(seed=4)
    sparse = anykmeans.KMeans(6, init="k-means||", random_state=2).fit(X, sample_weight=weights)
    dense = anykmeans.KMeans(6, init="k-means||", random_state=2).fit(
        X.toarray(), sample_weight=weights)
    np.testing.assert_array_equal(sparse.labels_, dense.labels_)
    assert sparse.n_iter_ == dense.n_iter_
    assert sparse.inertia_ == pytest.approx(dense.inertia_, rel=1e-10)


@pytest.mark.parametrize("fmt", ["csr_array", "csc_matrix"])
def test_kmeans_plusplus_matches_scikit_learn(fmt):
    X, weights = sparse_data(seed=5)
    X = FORMATS[fmt](X)
    centres, indices = anykmeans.kmeans_plusplus(X, 7, sample_weight=weights, random_state=3)
    their_centres, their_indices = sklearn_cluster.kmeans_plusplus(
        X, 7, sample_weight=weights, random_state=3)
    np.testing.assert_array_equal(indices, their_indices)
    assert isinstance(centres, np.ndarray)
    np.testing.assert_array_equal(centres, their_centres)


def test_minibatch_matches_scikit_learn():
    X, weights = sparse_data(n=600, seed=6)
    kwargs = dict(n_clusters=5, batch_size=64, random_state=4, n_init=1, max_iter=3)
    ours = anykmeans.MiniBatchKMeans(**kwargs).fit(X, sample_weight=weights)
    theirs = sklearn_cluster.MiniBatchKMeans(**kwargs).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_steps_ == theirs.n_steps_
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-8)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-10)


def test_partial_fit_matches_scikit_learn():
    X, _ = sparse_data(n=300, seed=7)
    ours = anykmeans.MiniBatchKMeans(4, random_state=5)
    theirs = sklearn_cluster.MiniBatchKMeans(4, random_state=5)
    for start in range(0, 300, 100):
        ours.partial_fit(X[start:start + 100])
        theirs.partial_fit(X[start:start + 100])
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize(("fmt", "strategy", "init", "weighted"), [
    ("csr_matrix", "biggest_inertia", "k-means++", False),
    ("csr_array", "largest_cluster", "random", True),
    ("csc_matrix", "largest_cluster", "k-means++", True),
    ("csc_array", "biggest_inertia", "random", False),
    ("csr_array", "biggest_inertia", "k-means++", True),
    ("csc_matrix", "largest_cluster", "random", False)])
def test_bisecting_matches_scikit_learn(fmt, strategy, init, weighted):
    X, weights = sparse_data(seed=20)
    X = FORMATS[fmt](X)
    weights = weights if weighted else None
    params = dict(n_clusters=7, init=init, n_init=2, random_state=4, bisecting_strategy=strategy)
    ours = anykmeans.BisectingKMeans(**params).fit(X, sample_weight=weights)
    theirs = sklearn_cluster.BisectingKMeans(**params).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-12)
    assert isinstance(ours.cluster_centers_, np.ndarray)
    assert not np.any(ours._mean)  # not centred, as scikit-learn
    np.testing.assert_allclose(ours.node_centers_[0], np.asarray(X.mean(axis=0)).ravel(),
                               rtol=1e-12)  # the root's centre is still the data's mean
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), atol=1e-10)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-10)


def test_bisecting_predict_dense_and_sparse_rows_agree():
    X, _ = sparse_data(seed=21)
    new = sp.random(100, X.shape[1], density=0.3, format="csr", random_state=1)
    for fitted_on in (X, X.toarray()):
        model = anykmeans.BisectingKMeans(6, random_state=0).fit(fitted_on)
        for rows in (X, new):
            np.testing.assert_array_equal(model.predict(rows), model.predict(rows.toarray()))
            np.testing.assert_allclose(model.transform(rows), model.transform(rows.toarray()),
                                       atol=1e-10)
            assert model.score(rows) == pytest.approx(model.score(rows.toarray()), rel=1e-10)


def test_bisecting_says_it_takes_sparse_data():
    from sklearn.utils import get_tags

    assert get_tags(anykmeans.BisectingKMeans()).input_tags.sparse is True


def test_predict_dense_and_sparse_rows_agree():
    X, _ = sparse_data(seed=8)
    for fitted_on in (X, X.toarray()):
        model = anykmeans.KMeans(5, random_state=0).fit(fitted_on)
        np.testing.assert_array_equal(model.predict(X), model.predict(X.toarray()))
        np.testing.assert_allclose(model.transform(X), model.transform(X.toarray()), atol=1e-10)


def test_sparse_is_not_centred_and_centres_are_dense_and_saved(tmp_path):
    X, _ = sparse_data(seed=9)
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    assert not np.any(model._mean)  # scikit-learn does not centre sparse data
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = anykmeans.load(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(model.to("cpu").cluster_centers_, model.cluster_centers_)


def test_other_scipy_formats_are_converted_and_the_callers_matrix_kept():
    X, _ = sparse_data(seed=10)
    coo = X.tocoo()
    first = X.indptr[1]  # row 0's entries, stored twice
    duplicated = sp.csr_matrix((np.r_[X.data[:first], X.data], np.r_[X.indices[:first], X.indices],
                                np.r_[0, X.indptr[1:] + first]), shape=X.shape)
    assert not duplicated.has_canonical_format
    before = duplicated.data.copy()
    summed = duplicated.copy()
    summed.sum_duplicates()
    for given, same_as in ((coo, X), (X.todok(), X), (X.tolil(), X), (duplicated, summed)):
        labels = anykmeans.KMeans(3, random_state=0).fit(given).labels_
        np.testing.assert_array_equal(labels, anykmeans.KMeans(3, random_state=0).fit(
            same_as).labels_)
    np.testing.assert_array_equal(duplicated.data, before)


def reversed_rows(X):
    """``X`` (CSR) with each row's stored values in reverse order: its columns unsorted (as
    ``TfidfVectorizer`` leaves them), none repeated."""
    order = np.concatenate([np.arange(stop - 1, start - 1, -1)
                            for start, stop in zip(X.indptr[:-1], X.indptr[1:], strict=True)])
    return sp.csr_matrix((X.data[order], X.indices[order], X.indptr.copy()), shape=X.shape)


def test_unsorted_columns_are_used_as_they_are():
    """A CSR matrix whose rows' columns are not sorted (none repeated) is computed on as it
    is, neither copied nor sorted: its sorted copy's labels and iterations, scikit-learn's
    answer on it, for every estimator; the caller's arrays untouched."""
    X, weights = sparse_data(seed=13)
    unsorted = reversed_rows(X)
    assert not unsorted.has_sorted_indices
    kept = [unsorted.data.copy(), unsorted.indices.copy(), unsorted.indptr.copy()]
    assert anykmeans._libraries.library_of(unsorted).prepare(unsorted, "X") is unsorted
    ours = anykmeans.KMeans(4, random_state=0).fit(unsorted, sample_weight=weights)
    on_sorted = anykmeans.KMeans(4, random_state=0).fit(X, sample_weight=weights)
    theirs = sklearn_cluster.KMeans(4, random_state=0).fit(unsorted, sample_weight=weights)
    for other in (on_sorted, theirs):
        np.testing.assert_array_equal(ours.labels_, other.labels_)
        assert ours.n_iter_ == other.n_iter_
        assert ours.inertia_ == pytest.approx(other.inertia_, rel=1e-10)
        np.testing.assert_allclose(ours.cluster_centers_, other.cluster_centers_, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(unsorted), ours.predict(X))
    np.testing.assert_allclose(ours.transform(unsorted), ours.transform(X), atol=1e-12)
    for cls in (anykmeans.MiniBatchKMeans, anykmeans.BisectingKMeans):
        np.testing.assert_array_equal(cls(4, random_state=0).fit(unsorted).labels_,
                                      cls(4, random_state=0).fit(X).labels_)
    for before, after in zip(kept, (unsorted.data, unsorted.indices, unsorted.indptr),
                             strict=True):
        np.testing.assert_array_equal(after, before)


def test_a_sparse_fit_without_tolerance_computes_no_feature_means(monkeypatch):
    """Sparse data is not centred: with ``tol=0`` nothing needs the features' means (as
    scikit-learn computes none), with a tolerance their variance does."""
    from anykmeans._libraries._scipy import SciPySparse

    X, _ = sparse_data(seed=14)
    calls = []
    means = SciPySparse.feature_means
    monkeypatch.setattr(SciPySparse, "feature_means",
                        lambda *args: calls.append(1) or means(*args))
    ours = anykmeans.KMeans(3, random_state=0, tol=0).fit(X)
    assert not calls
    theirs = sklearn_cluster.KMeans(3, random_state=0, tol=0).fit(X)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    anykmeans.KMeans(3, random_state=0).fit(X)
    assert calls
    with pytest.raises(ValueError, match="contains NaN or infinity"):
        bad = X.copy()
        bad.data[0] = np.inf
        anykmeans.KMeans(3, random_state=0, tol=0).fit(bad)


def test_integer_and_float32_sparse():
    X, _ = sparse_data(seed=11)
    counts = sp.csr_matrix(np.round(X.toarray() * 5).astype(np.int64))
    model = anykmeans.KMeans(3, random_state=0).fit(counts)
    assert model.cluster_centers_.dtype == np.float64
    theirs = sklearn_cluster.KMeans(3, random_state=0, n_init=1).fit(counts)
    np.testing.assert_array_equal(model.labels_, theirs.labels_)
    single = anykmeans.KMeans(3, random_state=0).fit(X.astype(np.float32))
    assert single.cluster_centers_.dtype == np.float32


def test_sparse_weights_and_init_are_refused():
    X, _ = sparse_data(seed=16)
    with pytest.raises(TypeError, match="Sparse sample_weight is not supported"):
        anykmeans.KMeans(2).fit(X, sample_weight=sp.csr_matrix(np.ones((1, X.shape[0]))))
    with pytest.raises(TypeError, match="Sparse init is not supported"):
        anykmeans.KMeans(2, init=X[:2]).fit(X)


def test_bad_sparse_values_are_refused():
    X, _ = sparse_data(seed=12)
    X = X.copy()
    X.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        anykmeans.KMeans(2).fit(X)


def test_no_dense_array_of_the_data_s_size_is_made(monkeypatch):
    """A spy on NumPy's array makers and SciPy's densifiers: no n x d array in a fit."""
    n, d = 3000, 2000
    X = sp.random(n, d, density=0.002, format="csr", random_state=0)
    seen = []
    for name in ("zeros", "empty", "ones", "full", "asarray", "array"):
        original = getattr(np, name)

        def spy(*args, _original=original, **kwargs):
            out = _original(*args, **kwargs)
            if isinstance(out, np.ndarray):
                seen.append(out.size)
            return out

        monkeypatch.setattr(np, name, spy)
    for cls in (sp.csr_matrix, sp.csr_array):
        for method in ("toarray", "todense"):
            original = getattr(cls, method)

            def densify(self, *args, _original=original, **kwargs):
                out = _original(self, *args, **kwargs)
                seen.append(np.size(out))
                return out

            monkeypatch.setattr(cls, method, densify)
    for init in ("k-means++", "random", "k-means||"):
        model = anykmeans.KMeans(8, init=init, random_state=0, max_iter=2).fit(X)
        model.predict(X)
        model.transform(X)
    anykmeans.MiniBatchKMeans(8, random_state=0, max_iter=2).fit(X)
    bisecting = anykmeans.BisectingKMeans(8, random_state=0, max_iter=2).fit(X)
    bisecting.predict(X)
    bisecting.transform(X)
    directions = X[X.getnnz(axis=1) > 0]  # no zero row: spherical k-means refuses them
    spherical = anykmeans.KMeans(8, metric="cosine", random_state=0, max_iter=2).fit(directions)
    spherical.predict(directions)
    spherical.transform(directions)
    anykmeans.MiniBatchKMeans(8, metric="cosine", random_state=0, max_iter=2).fit(
        directions).partial_fit(directions)
    assert seen and max(seen) < n * d / 4


def test_cupy_sparse_data_gets_cupy_s_sparse_library_without_importing_cupy():
    """An object whose type lives in cupyx.scipy.sparse is CuPy's sparse data: recognised by
    its type's module, on the accelerator plan, and nothing imported (CuPy is not here)."""
    import sys
    import types

    from anykmeans._libraries import is_sparse, library_of
    from anykmeans._libraries._cupy_sparse import CuPySparse

    fake_type = type("csr_matrix", (), {"__module__": "cupyx.scipy.sparse._csr"})
    fake = fake_type()
    fake.data = types.SimpleNamespace(device="cuda device 0")
    imported = set(sys.modules)
    library = library_of(fake)
    assert isinstance(library, CuPySparse) and library.accelerator
    assert is_sparse(fake) and library.device_of(fake) == "cuda device 0"
    assert not any(name.partition(".")[0] in ("cupy", "cupyx")
                   for name in set(sys.modules) - imported)
    assert not library_of(sp.csr_array((2, 2))).accelerator  # SciPy's is not CuPy's


def assert_same_fit(ours, rows, expected, X, host):
    """``ours``, fitted on ``rows`` (another library's copy of ``X``), has ``expected``'s labels,
    ``n_iter`` and inertia, and predicts and transforms ``rows`` as it does ``X``; ``host``
    copies one of ``ours``' arrays to NumPy."""
    np.testing.assert_array_equal(host(ours.labels_), expected.labels_)
    assert ours.n_iter_ == expected.n_iter_
    assert ours.inertia_ == pytest.approx(expected.inertia_, rel=1e-10)
    np.testing.assert_array_equal(host(ours.predict(rows)), expected.predict(X))
    np.testing.assert_allclose(host(ours.transform(rows)), expected.transform(X), atol=1e-10)


def cuda_cupy():
    """CuPy with a CUDA device, or a skip."""
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            pytest.skip("no CUDA device")
    except Exception as exc:  # the CUDA runtime raises its own error types
        pytest.skip(f"no usable CUDA device ({exc})")
    return cupy


@pytest.mark.parametrize("init", ["k-means++", "random", "k-means||"])
def test_cupy_sparse_cuda_matches_scipy(init):
    """cupyx.scipy.sparse CSR and CSC on the GPU: SciPy's labels, results on the data's device."""
    cupy = cuda_cupy()
    import cupyx.scipy.sparse as csp

    X, weights = sparse_data(seed=21)
    scipy_fit = anykmeans.KMeans(5, init=init, random_state=0).fit(X, sample_weight=weights)
    for convert in (csp.csr_matrix, csp.csc_matrix):
        G = convert(X)
        ours = anykmeans.KMeans(5, init=init, random_state=0).fit(
            G, sample_weight=cupy.asarray(weights))
        assert isinstance(ours.cluster_centers_, cupy.ndarray)
        assert isinstance(ours.labels_, cupy.ndarray)
        assert ours.cluster_centers_.device == G.data.device
        assert_same_fit(ours, G, scipy_fit, X, lambda a: a.get())


def test_cupy_sparse_cuda_minibatch_and_kmeans_plusplus_match_scipy():
    cupy = cuda_cupy()
    import cupyx.scipy.sparse as csp

    X, _ = sparse_data(n=500, seed=22)
    G = csp.csr_matrix(X)
    ours = anykmeans.MiniBatchKMeans(4, batch_size=64, random_state=1, max_iter=3).fit(G)
    scipy_fit = anykmeans.MiniBatchKMeans(4, batch_size=64, random_state=1, max_iter=3).fit(X)
    np.testing.assert_array_equal(cupy.asnumpy(ours.labels_), scipy_fit.labels_)
    _, indices = anykmeans.kmeans_plusplus(G, 6, random_state=2)
    _, scipy_indices = anykmeans.kmeans_plusplus(X, 6, random_state=2)
    np.testing.assert_array_equal(cupy.asnumpy(indices), scipy_indices)


torch = pytest.importorskip("torch")


def torch_csr(X):
    X = sp.csr_matrix(X)
    return torch.sparse_csr_tensor(torch.tensor(X.indptr), torch.tensor(X.indices),
                                   torch.tensor(X.data), size=X.shape)


@pytest.mark.parametrize("init", ["k-means++", "random", "k-means||"])
def test_torch_sparse_csr_matches_scipy(init):
    X, weights = sparse_data(seed=13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "sparse CSR support is in beta"
        T = torch_csr(X)
        ours = anykmeans.KMeans(5, init=init, random_state=0).fit(
            T, sample_weight=torch.asarray(weights))
        scipy_fit = anykmeans.KMeans(5, init=init, random_state=0).fit(X, sample_weight=weights)
        assert isinstance(ours.cluster_centers_, torch.Tensor)
        assert isinstance(ours.labels_, torch.Tensor)
        assert_same_fit(ours, T, scipy_fit, X, lambda a: a.numpy())
        csc = anykmeans.KMeans(5, init=init, random_state=0).fit(
            T.to_sparse_csc(), sample_weight=torch.asarray(weights))
        np.testing.assert_array_equal(csc.labels_.numpy(), scipy_fit.labels_)


def test_torch_sparse_minibatch_and_kmeans_plusplus_match_scipy():
    X, _ = sparse_data(n=500, seed=14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        T = torch_csr(X)
        ours = anykmeans.MiniBatchKMeans(4, batch_size=64, random_state=1, max_iter=3).fit(T)
        scipy_fit = anykmeans.MiniBatchKMeans(4, batch_size=64, random_state=1,
                                              max_iter=3).fit(X)
        np.testing.assert_array_equal(ours.labels_.numpy(), scipy_fit.labels_)
        _, indices = anykmeans.kmeans_plusplus(T, 6, random_state=2)
        _, scipy_indices = anykmeans.kmeans_plusplus(X, 6, random_state=2)
        np.testing.assert_array_equal(indices.numpy(), scipy_indices)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_torch_sparse_bisecting_matches_scipy(init):
    X, weights = sparse_data(seed=22)
    params = dict(n_clusters=6, init=init, n_init=2, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        T = torch_csr(X)
        ours = anykmeans.BisectingKMeans(**params).fit(T, sample_weight=torch.asarray(weights))
        scipy_fit = anykmeans.BisectingKMeans(**params).fit(X, sample_weight=weights)
        assert isinstance(ours.labels_, torch.Tensor)
        np.testing.assert_array_equal(ours.labels_.numpy(), scipy_fit.labels_)
        assert ours.splits_ == scipy_fit.splits_
        assert ours.inertia_ == pytest.approx(scipy_fit.inertia_, rel=1e-10)
        np.testing.assert_allclose(ours.cluster_centers_.numpy(), scipy_fit.cluster_centers_,
                                   atol=1e-12)
        np.testing.assert_array_equal(ours.predict(T).numpy(), scipy_fit.predict(X))


def test_torch_sparse_cosine_matches_scipy():
    X, weights = sparse_data(seed=23)
    X = X[X.getnnz(axis=1) > 0]  # no zero row: spherical k-means refuses them
    weights = weights[:X.shape[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        T = torch_csr(X)
        for estimator in (anykmeans.KMeans, anykmeans.MiniBatchKMeans):
            ours = estimator(5, metric="cosine", random_state=0).fit(
                T, sample_weight=torch.asarray(weights))
            scipy_fit = estimator(5, metric="cosine", random_state=0).fit(
                X, sample_weight=weights)
            np.testing.assert_array_equal(ours.labels_.numpy(), scipy_fit.labels_)
            np.testing.assert_allclose(ours.cluster_centers_.numpy(),
                                       scipy_fit.cluster_centers_, atol=1e-12)
            np.testing.assert_array_equal(ours.predict(T).numpy(), scipy_fit.predict(X))


@pytest.mark.parametrize("layout", ["to_sparse", "to_sparse_bsr"])
def test_other_torch_sparse_layouts_are_refused(layout):
    X, _ = sparse_data(seed=15)
    dense = torch.asarray(X.toarray())
    tensor = dense.to_sparse() if layout == "to_sparse" else dense.to_sparse_bsr((1, 1))
    with pytest.raises(TypeError, match="to_sparse_csr"):
        anykmeans.KMeans(2).fit(tensor)



def sparse_libraries():
    """(library, its namespace, to its sparse data, to its dense arrays, back to NumPy) for
    SciPy and torch."""
    from array_api_compat import numpy as xnp
    from array_api_compat import torch as xtorch

    from anykmeans._libraries._scipy import SciPySparse
    from anykmeans._libraries._torch_sparse import TorchSparse

    return [
        (SciPySparse(), xnp, sp.csr_array, lambda a: a, lambda a: np.asarray(a)),
        (TorchSparse(), xtorch, torch_csr, torch.asarray, lambda a: a.numpy()),
    ]


@pytest.mark.filterwarnings("ignore:.*(beta|prototype):UserWarning")
def test_sparse_primitives_equal_the_reference_on_dense_rows():
    """Each sparse override against the standard-only reference on the same rows, dense."""
    from array_api_compat import numpy as xnp

    from anykmeans._libraries import Library
    from anykmeans._primitives import Data

    reference = Library()
    X, weights = sparse_data(n=60, d=12, seed=17)
    dense = X.toarray()
    rng = np.random.RandomState(0)
    centres, labels = rng.rand(4, 12), rng.randint(0, 4, 60)
    mean = dense.mean(axis=0)
    rows = slice(10, 50)
    expected = {
        "sq_norms": reference.sq_norms(xnp, dense),
        "residual": reference.residual_sq_norms(xnp, dense, centres, labels),
        "scaled": reference.scale_rows(xnp, dense, weights),
        "sums": reference.cluster_sums(xnp, dense * weights[:, None], weights, labels, 4)[0],
        "weight_sums": reference.cluster_sums(xnp, dense, weights, labels, 4)[1],
        "deviations": reference.sq_deviation_sums(xnp, dense, rows, mean),
        "means": reference.feature_means(xnp, dense),
        "largest": reference.largest_magnitude(xnp, dense),
        "rows_at": dense[[5, 0, 59, 5]],
        "cross": centres @ dense.T,
        "chunk": dense[rows],
    }
    for library, xp, sparse, dense_of, host in sparse_libraries():
        S = sparse(X)
        at = dense_of(np.array([5, 0, 59, 5]))
        c, w, lab = dense_of(centres), dense_of(weights), dense_of(labels)
        got = {
            "sq_norms": host(library.sq_norms(xp, S)),
            "residual": host(library.residual_sq_norms(xp, S, c, lab)),
            "scaled": host(library.dense(xp, library.scale_rows(xp, S, w))),
            "sums": host(library.labelled_sums(Data(S, dense_of(mean) * 0, w, 7), lab, 4)[0]),
            "weight_sums": host(library.labelled_sums(Data(S, dense_of(mean) * 0, w, 7), lab,
                                                      4)[1]),
            "deviations": host(library.sq_deviation_sums(xp, S, rows, dense_of(mean))),
            "means": host(library.feature_means(xp, S)),
            "largest": host(library.largest_magnitude(xp, S)),
            "rows_at": host(library.dense(xp, library.rows_at(xp, S, at))),
            "cross": host(library.cross(xp, c, S)),
            "chunk": host(library.dense(xp, library.centred_rows(xp, S, rows, None))),
        }
        for name, value in expected.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{type(library).__name__}: {name}")


def test_the_update_keeps_the_sums_layout_so_a_pass_copies_no_centres():
    """SciPy's sums are column by column; the new centres made of them are too, so that the
    next pass's product reads them as they are (no copy), with scikit-learn's fill of
    clusters without weight (before the heaviest its sum, after it its mean)."""
    from array_api_compat import numpy as xnp

    from anykmeans._libraries._scipy import SciPySparse
    from anykmeans._lloyd import average_centres

    rng = np.random.RandomState(0)
    weight_sums = np.array([0.0, 2.0, 0.0, 5.0, 0.0, 1.0])
    sums = np.asfortranarray(rng.rand(6, 7) * (weight_sums > 0)[:, None])
    centres = average_centres(xnp, sums, weight_sums)
    expected = sums.copy()  # scikit-learn's in-place loop
    for j in range(6):
        if weight_sums[j] > 0:
            expected[j] *= 1.0 / weight_sums[j]
        else:
            expected[j] = expected[3]
    np.testing.assert_array_equal(centres, expected)
    assert centres.flags.f_contiguous
    assert SciPySparse().chunk_centres(xnp, centres) is centres


def test_a_fit_adds_at_most_the_centres_and_its_rows_vectors():
    """The issue's bound: no second array of the centres' size. With Numba each new centre is
    made from its rows and written over the old one (else the pass's sums beside the
    centres, then the new centres in place of them, the shift a block of rows at a time);
    the seeds are made column by column, as the passes read them, and the mean is added to
    the final centres in place. Beside them, vectors of the rows and of the features."""
    import tracemalloc

    from anykmeans._libraries import _fused, _fused_sparse
    from anykmeans._lloyd import SHIFT_BLOCK

    n, d, k = 1000, 20_000, 40
    X = sp.random(n, d, density=0.002, format="csr", random_state=0)
    assert X.nnz * k >= _fused.MIN_SCORES  # a pass the compiled loops take, as they are
    model = anykmeans.KMeans(k, init="random", n_init=1, max_iter=3, tol=0, random_state=0)
    model.fit(X)  # what a process loads once
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        model.fit(X)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    centres = k * d * 8
    sums = 0 if _fused_sparse.compiled_loops() else centres + SHIFT_BLOCK * 8
    assert peak < centres + sums + 100 * n * 8 + 10 * d * 8, peak / centres
