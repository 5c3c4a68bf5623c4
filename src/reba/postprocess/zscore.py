"""Z-scores per dimension: ``(x - mu) / (sigma + eps)``, ``mu`` and ``sigma`` the mean and the
unbiased standard deviation (``ddof=1``, torch's ``std``) of the fitted vectors; ``eps`` 1e-8,
as MoEE's authors (tianyi-lab/MoE-Embedding ``moee.py``), who compute them per batch.

``zscore_rows`` is that per-batch form on the vectors themselves (for reproducing them);
``fit_zscore`` fits the statistics once, on a corpus, so a vector depends on nothing else.
"""

from __future__ import annotations

import numpy as np

from reba.postprocess.state import PostState
from reba.postprocess.vectors import as_matrix, at_least

EPS = 1e-8


def fit_zscore(vectors: np.ndarray, source: dict | None = None) -> PostState:
    """Fit per-dimension z-scores on ``vectors`` (n x d, n >= 2); ``source`` records what
    produced them."""
    matrix = as_matrix(vectors, what="zscore")
    at_least(matrix, 2, "zscore")
    return PostState(
        kind="zscore",
        params={"eps": EPS, "ddof": 1},
        dim=matrix.shape[1],
        fitted_on=matrix.shape[0],
        source=dict(source or {}),
        mean=matrix.mean(axis=0),
        scale=1.0 / (matrix.std(axis=0, ddof=1) + EPS),
    )


def zscore_rows(vectors: np.ndarray) -> np.ndarray:
    """The authors' per-batch form: ``vectors`` z-scored with their own statistics (float64);
    a single row has no standard deviation: NaN, set to 0 as the authors do."""
    matrix = np.asarray(vectors, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = matrix.std(axis=0, ddof=1) if len(matrix) > 1 else np.full(matrix.shape[1], np.nan)
        out = (matrix - matrix.mean(axis=0)) / (std + EPS)
    return np.nan_to_num(out, nan=0.0)
