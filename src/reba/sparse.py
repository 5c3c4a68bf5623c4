"""PromptReps' sparse vectors, and the authors' fusion of dense and sparse scores.

A sparse vector is ``{token id: weight}`` (``EmbedResult.sparse``, ``Embedder.encode_sparse``;
ids of the model's tokenizer). PromptReps (ielab/PromptReps, ``hybrid.py``) fuses two runs per
query: each run's scores over the top ``depth`` documents min-max normalised (range floored at
1e-9), ``alpha * dense + (1 - alpha) * sparse``, a document missing from a run's top ``depth``
getting 0 from it. The authors store weights as integers ``rint(100 * w)`` (Lucene impacts):
``quantized``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Sparse = dict[int, float]


def sparse_scores(queries: Sequence[Sparse], documents: Sequence[Sparse]) -> np.ndarray:
    """Dot products ``(len(queries), len(documents))`` of sparse vectors, float64."""
    out = np.zeros((len(queries), len(documents)))
    for i, q in enumerate(queries):
        for j, d in enumerate(documents):
            small, large = (q, d) if len(q) <= len(d) else (d, q)
            out[i, j] = sum(w * large[t] for t, w in small.items() if t in large)
    return out


def dense_scores(queries: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """Inner products of the L2-normalised dense vectors (the authors' ``--normalize``)."""
    q, d = (np.atleast_2d(np.asarray(x, dtype=np.float64)) for x in (queries, documents))
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    return q @ d.T


def fused_scores(
    dense_queries: np.ndarray,
    sparse_queries: Sequence[Sparse],
    dense_documents: np.ndarray,
    sparse_documents: Sequence[Sparse],
    *,
    alpha: float = 0.5,
    depth: int = 1000,
) -> np.ndarray:
    """The authors' hybrid score of every (query, document): ``(n_queries, n_documents)``;
    documents outside both runs' top ``depth`` for a query score 0."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    if len(dense_queries) != len(sparse_queries) or len(dense_documents) != len(sparse_documents):
        raise ValueError("dense and sparse vectors must come in equal numbers, in the same order")
    dense = _normalised_top(dense_scores(dense_queries, dense_documents), depth)
    sparse = _normalised_top(sparse_scores(sparse_queries, sparse_documents), depth)
    return alpha * dense + (1 - alpha) * sparse


def quantized(vector: Sparse) -> dict[int, int]:
    """The authors' integer impacts ``rint(100 * w)``, zeros dropped."""
    out = {t: int(np.rint(w * 100)) for t, w in vector.items()}
    return {t: w for t, w in out.items() if w}


def _normalised_top(scores: np.ndarray, depth: int) -> np.ndarray:
    """Per row: min-max over the row's ``depth`` best scores; 0 for the rest."""
    out = np.zeros_like(scores)
    for i, row in enumerate(scores):
        top = np.argsort(-row, kind="stable")[:depth]
        low, high = row[top].min(), row[top].max()
        out[i, top] = (row[top] - low) / max(high - low, 1e-9)
    return out
