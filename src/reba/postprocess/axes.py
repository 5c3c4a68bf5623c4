"""Principal axes of a set of vectors, in float64, with deterministic signs."""

from __future__ import annotations

import numpy as np


def fix_signs(columns: np.ndarray) -> np.ndarray:
    """Each column flipped so that its entry of largest magnitude (the first such) is positive:
    an eigenvector's sign is arbitrary, and a saved state must not depend on the LAPACK build."""
    rows = np.argmax(np.abs(columns), axis=0)
    signs = np.sign(columns[rows, np.arange(columns.shape[1])])
    signs[signs == 0] = 1.0
    return columns * signs


def principal_axes(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, eigenvalues, eigenvectors)`` of the covariance (``ddof=1``, as ``np.cov``),
    eigenvalues in decreasing order, eigenvectors as sign-fixed columns."""
    mean = matrix.mean(axis=0)
    centred = matrix - mean
    covariance = centred.T @ centred / (matrix.shape[0] - 1)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    return mean, np.clip(values[order], 0.0, None), fix_signs(vectors[:, order])
