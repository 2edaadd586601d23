"""Pictures of a clustering: the clusters, and how the inertia fell.

Needs matplotlib (``pip install matplotlib``), imported only when a
function here is called. Data from any supported library is brought to the
host (these are pictures: every point is drawn anyway).

- :func:`plot_clusters`: a scatter of the data coloured by cluster, with a
  colour key and the centres marked; data with more than two features is shown
  on its first two principal components, drawn to the same scale.
- :func:`plot_convergence`: inertia per Lloyd iteration, one line per restart.
- :func:`plot_hierarchy`: the tree of a ``BisectingKMeans``' splits.
- :func:`plot_fit`: the clusters beside the convergence (or the tree), as a
  figure ready to save.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validation
from ._namespace import Array, to_host

__all__ = ["plot_clusters", "plot_convergence", "plot_fit", "plot_hierarchy", "principal_axes"]


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ModuleNotFoundError(
            "Plotting needs matplotlib: pip install matplotlib (from a clone: "
            "pip install -e '.[plot]').") from exc
    return matplotlib


def _new_axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    _matplotlib()
    import matplotlib.pyplot as plt

    return plt.figure(layout="constrained").add_subplot()  # room for the axis labels


def _on_host(x: Any) -> np.ndarray:
    """``x`` (an array of any supported library, a data frame, a list) as a NumPy array."""
    return np.asarray(to_host(_validation.as_array(x)))


def principal_axes(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean of ``X`` and its first two principal axes, by NumPy's SVD.

    Parameters
    ----------
    X : NumPy array of shape (n_samples, n_features), n_features > 2

    Returns
    -------
    mean : array of shape (n_features,)
    axes : array of shape (n_features, 2)
        Orthonormal columns, the directions of largest variance first; each
        column's sign is fixed so its largest-magnitude entry is positive.
        ``(X - mean) @ axes`` are the first two principal components.
    """
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    if vt.shape[0] < 2:  # one sample: no direction has variance, the first features will do
        vt = np.eye(X.shape[1])
    axes = vt[:2].T
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), [0, 1]])
    return mean, axes * np.where(signs == 0, 1.0, signs)


def _label_width(ax: Any, along: str) -> int:
    """How many characters of an axis label fit ``along`` the "x" or "y" side of ``ax``."""
    position = ax.get_position()
    inches = ax.figure.get_size_inches()
    length = position.width * inches[0] if along == "x" else position.height * inches[1]
    label = ax.xaxis.label if along == "x" else ax.yaxis.label
    # 0.6 em is wider than the mean character of the default fonts; 0.9 of the length leaves
    # room for the axes to shrink when the layout makes room for the labels.
    return max(12, int(0.9 * length * 72 / (0.6 * label.get_fontsize())))


def _wrapped(text: str, width: int) -> str:
    """``text`` broken into lines of at most ``width`` characters (its own lines kept)."""
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def _component_label(ordinal: str, axis: np.ndarray, names: Sequence[str], width: int) -> str:
    """An axis label naming, from its second line on, the features that weigh most in a
    principal ``axis`` and their weights, in lines of at most ``width`` characters that break
    between features where they can."""
    top = np.argsort(-np.abs(axis), kind="stable")[:2]
    terms = [f"{axis[j]:+.2f} {names[j]}" for j in top] + (["..."] if len(axis) > 2 else [])
    lines = [f"({terms[0]}"]
    for term in terms[1:]:
        if len(lines[-1]) + len(term) + 3 <= width:
            lines[-1] += f", {term}"
        else:
            lines[-1] += ","
            lines.append(term)
    return _wrapped(f"{ordinal} principal component\n" + "\n".join(lines) + ")", width)


def plot_clusters(X: Array, labels: Array, centers: Array | None = None, *,
                  feature_names: Sequence[str] | None = None, ax: Any = None,
                  title: str | None = None) -> Any:
    """Scatter the samples coloured by cluster, with a colour key and the centres marked.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data: an array of any supported library, or what ``KMeans.fit``
        takes besides (a data frame, nested lists). With more than two features it
        is drawn on its first two principal components (:func:`principal_axes`),
        the centres projected the same way, with equal scales on both axes (so
        that distances look as they are), each axis labelled with the two
        features that weigh most in it; with one feature, against zero.
    labels : integer array-like of shape (n_samples,)
        Cluster of every sample, e.g. ``model.labels_`` or ``model.predict(X)``.
    centers : array-like of shape (n_clusters, n_features), optional
        e.g. ``model.cluster_centers_``; drawn as black crosses.
    feature_names : sequence of str, optional
        The name of every feature (a CSV file's header); by default the columns
        of a data frame ``X`` with string column names, else "feature 0",
        "feature 1", ...
    ax : matplotlib Axes, optional
        Where to draw; a new figure's axes by default.
    title : str, optional

    Returns
    -------
    matplotlib Axes
        Its legend is the colour key: one entry per cluster when the palette
        has a colour for each (at most 20 clusters; beyond, colours repeat and
        are not listed), and the centres.

    Raises
    ------
    ValueError
        If ``feature_names`` does not name every feature of ``X``.
    """
    if feature_names is None:
        feature_names = _validation.feature_names(X)
    X = _on_host(X).astype(np.float64)
    labels = _on_host(labels)
    points = None if centers is None else _on_host(centers).astype(np.float64)
    names = [f"feature {j}" for j in range(X.shape[1])] if feature_names is None else [
        str(name) for name in feature_names]
    if len(names) != X.shape[1]:
        raise ValueError(f"feature_names has {len(names)} names for {X.shape[1]} features.")
    ax = _new_axes(ax)
    if X.shape[1] > 2:
        mean, axes = principal_axes(X)
        X = (X - mean) @ axes
        points = None if points is None else (points - mean) @ axes
        ax.set_xlabel(_component_label("first", axes[:, 0], names, _label_width(ax, "x")))
        ax.set_ylabel(_component_label("second", axes[:, 1], names, _label_width(ax, "y")))
        ax.set_aspect("equal", adjustable="datalim")
    elif X.shape[1] == 2:
        ax.set_xlabel(_wrapped(names[0], _label_width(ax, "x")))
        ax.set_ylabel(_wrapped(names[1], _label_width(ax, "y")))
    else:
        X = np.column_stack([X[:, 0], np.zeros(len(X))])
        points = None if points is None else np.column_stack([points[:, 0],
                                                              np.zeros(len(points))])
        ax.set_xlabel(_wrapped(names[0], _label_width(ax, "x")))
    n_clusters = int(labels.max(initial=-1)) + 1
    palette = _matplotlib().colormaps["tab10" if n_clusters <= 10 else "tab20"]
    ax.scatter(X[:, 0], X[:, 1], color=palette(labels % palette.N),
               s=max(1.0, min(20.0, 4e4 / max(len(X), 1))), alpha=0.8, linewidths=0)
    from matplotlib.lines import Line2D

    key = [Line2D([], [], linestyle="", marker="o", color=palette(j), label=f"cluster {j}")
           for j in range(n_clusters)] if n_clusters <= palette.N else []
    if points is not None:
        key.append(ax.scatter(points[:, 0], points[:, 1], marker="x", c="black", s=80,
                              linewidths=2, label="centres"))
    if key:
        ax.legend(handles=key, loc="best", fontsize="small", ncols=1 if len(key) <= 11 else 2)
    ax.set_title(title if title is not None else f"{len(X)} samples, {n_clusters} clusters")
    return ax


def plot_convergence(histories: Sequence[Sequence[float]], *, best: int | None = None,
                     ax: Any = None, title: str | None = None) -> Any:
    """Inertia after each Lloyd iteration, one line per restart.

    Parameters
    ----------
    histories : sequence of sequences of float
        One inertia history per restart: a fitted ``KMeans``'s
        ``inertia_histories_`` (or ``[model.inertia_history_]`` for the kept
        run alone).
    best : int, optional
        Index of the kept restart, drawn thicker.
    ax : matplotlib Axes, optional
        Where to draw; a new figure's axes by default. The inertia axis is
        logarithmic when the values span more than a factor of ten.
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _new_axes(ax)
    for restart, history in enumerate(histories):
        ax.plot(np.arange(len(history)), history, marker="." if len(history) < 50 else None,
                linewidth=2.5 if restart == best else 1.0,
                label=f"restart {restart}" + (" (kept)" if restart == best else ""))
    ax.set_xlabel("iteration")
    ax.set_ylabel("inertia")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    values = [v for history in histories for v in history if v > 0]
    if values and max(values) > 10 * min(values):  # a first drop that would hide the rest
        ax.set_yscale("log")
    if len(histories) <= 10:
        ax.legend(loc="upper right")
    ax.set_title(title if title is not None else "Convergence")
    return ax


def plot_hierarchy(model: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """The tree of a fitted ``BisectingKMeans``: the root on top, each split drawn lower
    than the one before, the clusters (leaves) along the bottom.

    Parameters
    ----------
    model : a fitted BisectingKMeans
        Its ``splits_`` give the tree; its ``labels_`` the size of every
        cluster, written under its leaf, whose marker has the cluster's colour
        in :func:`plot_clusters`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure's axes by default.
    title : str, optional

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``model.splits_`` is not a tree.
    """
    from ._bisecting import tree_layout

    children, leaf_labels, _ = tree_layout(model.splits_)
    n_splits = len(model.splits_)
    n_clusters = n_splits + 1
    # a node is drawn at the height of the split that made it: the root's n_splits, a leaf 0
    height = np.zeros(len(children))
    height[0] = n_splits
    for t, node in enumerate(model.splits_):
        height[int(node)] = n_splits - t
    x = np.zeros(len(children))
    is_leaf = children[:, 0] == np.arange(len(children))
    x[is_leaf] = leaf_labels[is_leaf]
    for t in reversed(range(n_splits)):  # children were made after their parent
        node = int(model.splits_[t])
        x[node] = x[children[node]].mean()
    ax = _new_axes(ax)
    for node in np.flatnonzero(~is_leaf):
        for child in children[node]:
            ax.plot([x[node], x[child], x[child]], [height[node], height[node], height[child]],
                    color="0.35", linewidth=1.2)
    palette = _matplotlib().colormaps["tab10" if n_clusters <= 10 else "tab20"]
    leaves = np.flatnonzero(is_leaf)
    ax.scatter(x[leaves], np.zeros(len(leaves)), color=palette(leaf_labels[leaves] % palette.N),
               s=60, zorder=3)
    sizes = np.bincount(_on_host(model.labels_), minlength=n_clusters)
    if n_clusters <= 40:
        ax.set_xticks(np.arange(n_clusters),
                      [f"{j}\n{sizes[j]}" for j in range(n_clusters)], fontsize="small")
        ax.set_xlabel("cluster (and its samples)")
    else:
        ax.set_xlabel("cluster")
    ax.set_ylabel("order of the splits (first on top)")
    ax.set_yticks([])
    ax.set_title(title if title is not None else
                 f"{n_splits} bisections ({model.bisecting_strategy})")
    return ax


def plot_fit(X: Array, model: Any, feature_names: Sequence[str] | None = None) -> Any:
    """A figure with a fitted model's clusters of ``X`` and its convergence (a
    ``BisectingKMeans``': its tree, :func:`plot_hierarchy`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data to draw, assigned by ``model.predict``: what the model's
        ``predict`` takes (an array of any supported library, a data frame).
    model : a fitted KMeans or BisectingKMeans
    feature_names : sequence of str, optional
        The name of every feature, as :func:`plot_clusters` takes them; by
        default the model's ``feature_names_in_`` (it was fitted on a data
        frame), else the columns of a data frame ``X``.

    Returns
    -------
    matplotlib Figure
        Not attached to pyplot: save it with ``figure.savefig(path)``.
    """
    _matplotlib()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2), layout="constrained")
    clusters, convergence = figure.subplots(1, 2)
    if feature_names is None:
        feature_names = getattr(model, "feature_names_in_", None)
    plot_clusters(X, model.predict(X), model.cluster_centers_, feature_names=feature_names,
                  ax=clusters)
    if hasattr(model, "splits_"):
        plot_hierarchy(model, ax=convergence)
        return figure
    histories = model.inertia_histories_
    plot_convergence(histories, best=list(histories).index(model.inertia_history_),
                     ax=convergence)
    return figure
