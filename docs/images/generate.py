"""Draw the pictures the documentation shows: ``python docs/images/generate.py``.

Needs matplotlib (``pip install -e ".[plot]"``). Writes ``clusters.png`` and
``convergence.png`` next to this file.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import anykmeans
from anykmeans._datasets import load_iris
from anykmeans.plot import plot_clusters, plot_convergence

HERE = Path(__file__).parent
X, _, _ = load_iris()

model = anykmeans.KMeans(3, random_state=0).fit(X)
ax = plot_clusters(X, model.labels_, model.cluster_centers_,
                   title="Fisher's iris data, k=3 (first two principal components)")
ax.figure.set_size_inches(6, 4.5)
ax.figure.savefig(HERE / "clusters.png", dpi=80, bbox_inches="tight")

model = anykmeans.KMeans(3, init="random", n_init=10, random_state=0).fit(X)
ax = plot_convergence(model.inertia_histories_,
                      best=model.inertia_histories_.index(model.inertia_history_),
                      title="Iris, k=3, 10 random restarts")
ax.figure.set_size_inches(6, 4.5)
ax.figure.savefig(HERE / "convergence.png", dpi=80, bbox_inches="tight")
