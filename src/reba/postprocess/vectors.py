"""Checking a matrix of vectors before fitting or applying: a clear message, never a deep trace."""

from __future__ import annotations

import numpy as np


def as_matrix(vectors, dim: int | None = None, what: str = "vectors") -> np.ndarray:
    """``vectors`` as a float64 (n, d) array; refuses other shapes, a wrong ``dim`` and
    non-finite values, naming the first bad row."""
    try:
        matrix = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what}: not a numeric matrix ({err})") from None
    if matrix.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D array (n vectors x d), got shape {matrix.shape}")
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(
            f"{what}: vectors have {matrix.shape[1]} dimensions, this state was fitted on {dim}"
        )
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{what}: row {bad[0]} holds NaN or inf ({bad.size} row{'s' if bad.size > 1 else ''} "
            "in all)"
        )
    return matrix


def at_least(matrix: np.ndarray, n: int, kind: str) -> None:
    """Refuse fitting ``kind`` on fewer than ``n`` vectors."""
    if matrix.shape[0] < n:
        raise ValueError(f"{kind}: needs at least {n} vectors to fit, got {matrix.shape[0]}")
