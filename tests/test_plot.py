"""anykmeans.plot: the pictures show the data, the clusters and the inertia they were given."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import anykmeans
from tests.data import blobs

matplotlib = pytest.importorskip("matplotlib", reason="the plot extra is not installed")
matplotlib.use("Agg")

from anykmeans.plot import (  # noqa: E402
    plot_clusters,
    plot_convergence,
    plot_fit,
    plot_hierarchy,
    principal_axes,
)

X = blobs(300, 5, 4, seed=7)


def test_importing_the_module_does_not_import_matplotlib():
    code = "import anykmeans.plot, sys; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_principal_axes_are_scikit_learns_components():
    from sklearn.decomposition import PCA

    mean, axes = principal_axes(X)
    components = PCA(2).fit(X).components_.T
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(np.abs(axes), np.abs(components), atol=1e-10)
    np.testing.assert_allclose(axes.T @ axes, np.eye(2), atol=1e-12)
    for column in axes.T:  # the sign convention: the largest entry is positive
        assert column[np.argmax(np.abs(column))] > 0


def test_clusters_scatter_shows_projected_points_and_centres():
    model = anykmeans.KMeans(4, random_state=0).fit(X)
    ax = plot_clusters(X, model.labels_, model.cluster_centers_)
    points, centres = ax.collections
    mean, axes = principal_axes(X)
    np.testing.assert_allclose(points.get_offsets(), (X - mean) @ axes, atol=1e-10)
    np.testing.assert_allclose(centres.get_offsets(), (model.cluster_centers_ - mean) @ axes,
                               atol=1e-10)
    colours = points.get_facecolors()
    for j in range(4):  # one colour per cluster, different clusters different colours
        assert len(np.unique(colours[model.labels_ == j], axis=0)) == 1
    assert len(np.unique(colours, axis=0)) == 4
    assert "principal component" in ax.get_xlabel()


def test_two_features_are_drawn_as_they_are_and_from_any_library():
    torch = pytest.importorskip("torch")
    X2 = torch.asarray(X[:, :2])
    model = anykmeans.KMeans(3, random_state=0).fit(X2)
    ax = plot_clusters(X2, model.labels_, model.cluster_centers_, title="two")
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), X[:, :2])
    assert ax.get_title() == "two" and ax.get_xlabel() == "feature 0"


def test_convergence_draws_one_line_per_restart():
    model = anykmeans.KMeans(4, init="random", n_init=5, random_state=0).fit(X)
    best = model.inertia_histories_.index(model.inertia_history_)
    ax = plot_convergence(model.inertia_histories_, best=best)
    lines = ax.get_lines()
    assert len(lines) == 5
    for line, history in zip(lines, model.inertia_histories_, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), history)
        np.testing.assert_array_equal(line.get_xdata(), np.arange(len(history)))
    assert lines[best].get_linewidth() > lines[(best + 1) % 5].get_linewidth()
    assert "(kept)" in lines[best].get_label()


def test_hierarchy_draws_every_split_above_its_children():
    X = blobs(400, 2, 6, seed=4)
    model = anykmeans.BisectingKMeans(5, random_state=1).fit(X)
    ax = plot_hierarchy(model)
    segments = [line.get_xydata() for line in ax.get_lines()]
    assert len(segments) == 2 * 4  # a parent to each of its two children, per split
    for points in segments:
        (_, top), (x1, same), (x2, bottom) = points
        assert same == top > bottom and x1 == x2
    leaves = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(np.sort(leaves[:, 0]), np.arange(5))
    assert not leaves[:, 1].any()
    sizes = np.bincount(model.labels_)
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{j}\n{sizes[j]}"
                                                             for j in range(5)]
    # the first split hangs from the top, under the root
    assert max(p[0, 1] for p in segments) == 4
    assert plot_fit(X, model).axes[1].get_title() == "4 bisections (biggest_inertia)"


def test_plot_fit_saves_a_png(tmp_path):
    model = anykmeans.KMeans(4, n_init=2, random_state=0).fit(X)
    figure = plot_fit(X, model)
    clusters, convergence = figure.axes
    assert len(convergence.get_lines()) == 2 and len(clusters.collections) == 2
    figure.savefig(tmp_path / "fit.png")
    assert (tmp_path / "fit.png").read_bytes()[:4] == b"\x89PNG"


def test_convergence_axis_is_logarithmic_only_for_a_wide_range():
    assert plot_convergence([(1000.0, 50.0, 40.0)]).get_yscale() == "log"
    assert plot_convergence([(100.0, 90.0, 85.0)]).get_yscale() == "linear"


NAMES = ["alcohol", "malic acid", "ash", "magnesium", "proline"]


def test_principal_component_axes_are_equal_scaled_and_name_the_features():
    model = anykmeans.KMeans(4, random_state=0).fit(X)
    ax = plot_clusters(X, model.labels_, model.cluster_centers_, feature_names=NAMES)
    assert ax.get_aspect() == 1.0  # a distance looks the same along both components
    _, axes = principal_axes(X)
    for label, axis in zip((ax.get_xlabel(), ax.get_ylabel()), axes.T, strict=True):
        heaviest = NAMES[int(np.argmax(np.abs(axis)))]
        assert f"{axis.max():+.2f} {heaviest}" in label and "feature" not in label


def test_two_named_features_label_the_axes():
    ax = plot_clusters(X[:, :2], np.zeros(len(X), dtype=int), feature_names=NAMES[:2])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("alcohol", "malic acid")
    assert ax.get_aspect() == "auto"  # features in their own units are not forced to one scale


def test_feature_names_must_name_every_feature():
    with pytest.raises(ValueError, match="4 names for 5 features"):
        plot_clusters(X, np.zeros(len(X), dtype=int), feature_names=NAMES[:4])


def test_the_legend_is_a_colour_key_of_the_clusters():
    model = anykmeans.KMeans(4, random_state=0).fit(X)
    ax = plot_clusters(X, model.labels_, model.cluster_centers_)
    legend = ax.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "cluster 0", "cluster 1", "cluster 2", "cluster 3", "centres"]
    points = ax.collections[0].get_facecolors()
    for j, handle in enumerate(legend.legend_handles[:4]):
        colour = matplotlib.colors.to_rgba(handle.get_color())
        np.testing.assert_allclose(points[model.labels_ == j][0][:3], colour[:3])


def test_no_colour_key_where_colours_repeat():
    labels = np.arange(len(X)) % 25  # more clusters than the palette has colours
    ax = plot_clusters(X, labels, X[:25])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["centres"]


def test_plot_fit_passes_the_feature_names_on():
    model = anykmeans.KMeans(4, random_state=0).fit(X[:, :2])
    clusters, _ = plot_fit(X[:, :2], model, feature_names=NAMES[:2]).axes
    assert (clusters.get_xlabel(), clusters.get_ylabel()) == ("alcohol", "malic acid")


def test_data_frames_and_lists_are_drawn_with_the_frames_column_names():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(X[:, :2], columns=NAMES[:2])
    model = anykmeans.KMeans(3, random_state=0).fit(frame)
    ax = plot_clusters(frame, pandas.Series(model.labels_), model.cluster_centers_)
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), X[:, :2])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("alcohol", "malic acid")
    ax = plot_clusters(X[:, :2].tolist(), model.labels_.tolist(), feature_names=["x", "y"])
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), X[:, :2])
    assert ax.get_xlabel() == "x"


def test_plot_fit_takes_a_data_frame_and_names_the_axes_after_the_model():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(X[:, :2], columns=NAMES[:2])
    model = anykmeans.KMeans(3, random_state=0).fit(frame)
    clusters, _ = plot_fit(frame, model).axes
    assert (clusters.get_xlabel(), clusters.get_ylabel()) == ("alcohol", "malic acid")
    with pytest.warns(UserWarning, match="does not have valid feature names"):  # as predict
        clusters, _ = plot_fit(X[:, :2], model).axes  # the model's names name NumPy's columns
    assert (clusters.get_xlabel(), clusters.get_ylabel()) == ("alcohol", "malic acid")
    clusters, _ = plot_fit(frame, model, feature_names=["x", "y"]).axes
    assert clusters.get_xlabel() == "x"  # the caller's names come first


def _labels_inside_the_figure(ax) -> bool:
    ax.figure.draw_without_rendering()  # lays the figure out
    inside = ax.figure.bbox.padded(0.5)  # half a pixel for rounding
    return all(inside.contains(*corner) for label in (ax.xaxis.label, ax.yaxis.label)
               for corner in label.get_window_extent().corners())


LONG_NAMES = ["the first feature, with a rather long name", "another quite long feature name",
              "a third feature whose name goes on and on", "d", "e"]


@pytest.mark.parametrize("names", [None, LONG_NAMES], ids=["default names", "long names"])
def test_axis_labels_lie_inside_the_figure(names):
    model = anykmeans.KMeans(3, random_state=0).fit(X)
    assert _labels_inside_the_figure(
        plot_clusters(X, model.labels_, model.cluster_centers_, feature_names=names))
    clusters, convergence = plot_fit(X, model, feature_names=names).axes
    assert _labels_inside_the_figure(clusters) and _labels_inside_the_figure(convergence)


def test_long_names_of_two_features_lie_inside_the_figure():
    ax = plot_clusters(X[:, :2], np.zeros(len(X), dtype=int), feature_names=[
        "a feature name far too long to fit beside the axes unless it is wrapped " * 2,
        "another feature name far too long to fit beside the axes unless wrapped " * 2])
    assert _labels_inside_the_figure(ax)
