"""All-but-the-top (Mu & Viswanath, ICLR 2018, Algorithm 1): remove the mean and the top ``k``
principal directions.

The paper writes ``v' = v~ - sum_i (u_i . v) u_i`` with ``v~ = v - mu``: the projections are
of the raw ``v``, which differs from projecting ``v~`` by the constant ``sum_i (u_i . mu) u_i``.
``projection="centred"`` (default) projects ``v~``, so the output is the centred vectors with
the top directions removed (mean zero); ``projection="raw"`` is the paper's formula as printed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from reba.postprocess.axes import principal_axes
from reba.postprocess.state import PostState
from reba.postprocess.vectors import as_matrix, at_least

PROJECTIONS = ("centred", "raw")


def default_k(dim: int) -> int:
    """The paper's rule of thumb, ``D ~ d / 100`` (at least 1)."""
    return max(1, round(dim / 100))


def fit_abtt(
    vectors: np.ndarray,
    k: int | None = None,
    projection: Literal["centred", "raw"] = "centred",
    source: dict | None = None,
) -> PostState:
    """Fit all-but-the-top on ``vectors`` (n x d): ``k`` directions (``None``: ``d/100``)."""
    matrix = as_matrix(vectors, what="abtt")
    n, dim = matrix.shape
    k = default_k(dim) if k is None else k
    if projection not in PROJECTIONS:
        raise ValueError(f"abtt: projection must be one of {PROJECTIONS}, got {projection!r}")
    if not isinstance(k, int) or not 1 <= k < dim:
        raise ValueError(f"abtt: k must be an integer in 1..{dim - 1} (d = {dim}), got {k!r}")
    at_least(matrix, k + 1, f"abtt with k={k}")
    mean, _, axes = principal_axes(matrix)
    directions = axes[:, :k]
    offset = -(mean @ directions) @ directions.T if projection == "raw" else None
    return PostState(
        kind="abtt",
        params={"k": k, "projection": projection},
        dim=dim,
        fitted_on=n,
        source=dict(source or {}),
        mean=mean,
        remove=directions,
        offset=offset,
    )
