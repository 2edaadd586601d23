"""Inputs at the boundary: what is converted, what is refused, and that either is said clearly.

Expectations are the same fit on plain data (the conversion must change
nothing else) or a clear error.
"""

from __future__ import annotations

import numpy as np
import pytest

import anykmeans
from tests.data import blobs

X = blobs(40, 3, 3)


# -- data beyond the model's dtype ----------------------------------------------------------

#: Rows a float32 model cannot compute with: beyond float32's range (1e39 becomes
#: infinity) and within it but with squares that overflow (1e30).
BEYOND_FLOAT32 = [(1e39, "X contains NaN or infinity"), (1e30, "Rescale X")]


@pytest.mark.parametrize("value, match", BEYOND_FLOAT32)
def test_data_beyond_the_models_dtype_is_refused(xp, value, match):
    """A float32 model refuses float64 rows it would compute infinities from.

    Before, ``predict`` returned the label ``n_clusters``, ``transform`` NaN,
    ``score`` an IndexError, and ``partial_fit`` updated the centres with them.
    """
    X32 = xp.backend.asarray(X.astype(np.float32))
    queries = xp.backend.asarray(np.array([[value, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    model = anykmeans.KMeans(3, random_state=0).fit(X32)
    for method in (model.predict, model.transform, model.score):
        with pytest.raises(ValueError, match=match):
            method(queries)
    stream = anykmeans.MiniBatchKMeans(3, random_state=0).partial_fit(X32)
    with pytest.raises(ValueError, match=match):
        stream.partial_fit(queries)
