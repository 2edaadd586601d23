"""The dataset embedded in the package, for the demo and the examples."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np


def load_iris() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Fisher's iris measurements (150 flowers, 4 features in cm, 3 species).

    Returns
    -------
    X : float64 array of shape (150, 4)
    species : array of str, shape (150,)
    feature_names : list of str
    """
    with resources.files("anykmeans").joinpath("data/iris.csv").open(newline="") as f:
        header, *rows = list(csv.reader(f))
    X = np.asarray([[float(v) for v in row[:-1]] for row in rows])
    return X, np.asarray([row[-1] for row in rows]), header[:-1]
