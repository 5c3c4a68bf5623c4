"""Mean removal: ``x - mu``, with ``mu`` the mean of the fitted vectors."""

from __future__ import annotations

import numpy as np

from reba.postprocess.state import PostState
from reba.postprocess.vectors import as_matrix, at_least


def fit_mean(vectors: np.ndarray, source: dict | None = None) -> PostState:
    """Fit mean removal on ``vectors`` (n x d); ``source`` records what produced them."""
    matrix = as_matrix(vectors, what="mean")
    at_least(matrix, 1, "mean")
    return PostState(
        kind="mean",
        params={},
        dim=matrix.shape[1],
        fitted_on=matrix.shape[0],
        source=dict(source or {}),
        mean=matrix.mean(axis=0),
    )
