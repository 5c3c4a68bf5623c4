"""Shared by the vector-store tests: a small corpus, a tiny model on disk, reba's own ranking.

Every store test indexes ``DOCS`` on disk and checks that the store's top hits for ``QUERIES``
equal the cosine ranking computed here with numpy from ``Embedder.encode``.
"""

from __future__ import annotations

import numpy as np
from tiny_models import CORPUS

DOCS = [*dict.fromkeys(CORPUS)] + [  # the tiny tokenizer's corpus, and two more
    "The boats drifted past the bank of the river.",
    "Interest rates and the price of apples.",
]
IDS = [f"d{i}" for i in range(len(DOCS))]
QUERIES = ["rates at the bank", "a bat in the cave", "苹果", "early tokens and repetition"]
TOP = 3


def cosine_top(embedder, queries: list[str], docs: list[str], top: int = TOP) -> list[list[int]]:
    """For each query, the indices of its ``top`` nearest docs by cosine, best first."""
    q = np.asarray(embedder.encode(queries), dtype=np.float64)
    d = np.asarray(embedder.encode(docs), dtype=np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    scores = q @ d.T
    for row in np.sort(scores, axis=1)[:, ::-1]:  # the ranking must not hang on a near tie
        assert np.all(np.diff(row[: top + 1]) < -1e-4), row[: top + 1]
    return [list(np.argsort(-row, kind="stable")[:top]) for row in scores]


def cosine_top_ids(embedder, queries=QUERIES, docs=DOCS, ids=IDS, top: int = TOP) -> list[list]:
    return [[ids[i] for i in row] for row in cosine_top(embedder, queries, docs, top)]
