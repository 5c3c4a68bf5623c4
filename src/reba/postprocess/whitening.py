"""Whitening (Su et al. 2021, "Whitening sentence representations", bojone/BERT-whitening):
``y = (x - mu) U Lambda^{-1/2}``, keeping the first ``dims`` columns (largest variance first).

The covariance is ``np.cov``'s (``ddof=1``), as the authors' ``compute_kernel_bias``; the
whitened fitted vectors then have exactly the identity covariance.
"""

from __future__ import annotations

import numpy as np

from reba.postprocess.axes import principal_axes
from reba.postprocess.state import PostState
from reba.postprocess.vectors import as_matrix, at_least

RELATIVE_FLOOR = 1e-10  # an eigenvalue below this share of the largest is taken as zero


def fit_whitening(
    vectors: np.ndarray, dims: int | None = None, source: dict | None = None
) -> PostState:
    """Fit whitening on ``vectors`` (n x d), to ``dims`` dimensions (``None``: all ``d``).

    Refuses a ``dims`` beyond the covariance's rank (fewer than ``dims + 1`` independent
    vectors): dividing by a zero variance would blow up, not whiten."""
    matrix = as_matrix(vectors, what="whitening")
    n, dim = matrix.shape
    dims = dim if dims is None else dims
    if not isinstance(dims, int) or not 1 <= dims <= dim:
        raise ValueError(f"whitening: dims must be an integer in 1..{dim}, got {dims!r}")
    at_least(matrix, 2, "whitening")
    mean, values, axes = principal_axes(matrix)
    rank = int(np.sum(values > values[0] * RELATIVE_FLOOR)) if values[0] > 0 else 0
    if dims > rank:
        raise ValueError(
            f"whitening: the {n} fitted vectors span only {rank} of {dim} dimensions, so they "
            f"cannot be whitened to {dims}; fit on more (and more varied) texts, or whiten to "
            f"dims <= {rank}"
        )
    return PostState(
        kind="whitening",
        params={"dims": dims},
        dim=dim,
        fitted_on=n,
        source=dict(source or {}),
        mean=mean,
        matrix=axes[:, :dims] / np.sqrt(values[:dims]),
    )
