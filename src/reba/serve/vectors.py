"""How embeddings go on the wire: ``dimensions`` shortening and base64 encoding.

``dimensions=d`` keeps the first ``d`` values and L2-normalises them, as OpenAI does for
text-embedding-3 (its shortened vectors are unit length). Without ``dimensions`` the vectors are
exactly ``Embedder.encode``'s (not normalised) unless the server runs with ``--normalize``.
"""

from __future__ import annotations

import base64

import numpy as np


def shape_vectors(matrix: np.ndarray, dimensions: int | None, normalize: bool) -> np.ndarray:
    """The rows to send: shortened to ``dimensions`` (then unit length), or as they are."""
    if dimensions is not None:
        return l2_normalize(matrix[:, :dimensions])
    return l2_normalize(matrix) if normalize else matrix


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix.astype(np.float64), axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, np.finfo(np.float32).tiny)).astype(np.float32)


def to_base64(vector: np.ndarray) -> str:
    """Little-endian float32 bytes, base64-encoded (what the OpenAI client decodes)."""
    return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")


def to_floats(vector: np.ndarray) -> list[float]:
    return vector.astype(np.float32, copy=False).tolist()
