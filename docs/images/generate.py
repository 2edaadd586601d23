"""Draw the pictures the documentation shows: ``python docs/images/generate.py``.

Needs matplotlib (``pip install -e ".[plot]"``). Writes ``clusters.png``,
``convergence.png`` and ``bisecting.png`` next to this file.
"""

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

import anykmeans
from anykmeans._datasets import load_iris
from anykmeans.plot import plot_clusters, plot_convergence, plot_fit

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

# Uneven groups: a large one made of three close blobs, two small ones far away.
rng = np.random.default_rng(0)
groups = [((0, 0), 0.6, 900), ((2.2, 0.4), 0.6, 900), ((1.0, 2.0), 0.6, 900),
          ((9, 7), 0.8, 150), ((-7, 6), 0.8, 150)]
uneven = np.concatenate([rng.normal(centre, scale, size=(n, 2)) for centre, scale, n in groups])
model = anykmeans.BisectingKMeans(5, init="k-means++", random_state=0).fit(uneven)
figure = plot_fit(uneven, model, ["x", "y"])
figure.savefig(HERE / "bisecting.png", dpi=80, bbox_inches="tight")
plain = anykmeans.KMeans(5, random_state=0).fit(uneven)
print(f"uneven groups, k=5: bisecting inertia {model.inertia_:.1f} "
      f"(sizes {np.bincount(model.labels_).tolist()}), k-means {plain.inertia_:.1f} "
      f"(sizes {np.bincount(plain.labels_).tolist()})")
