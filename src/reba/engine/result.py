"""What an embedding run returns, and how results are gathered while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reba.errors import ItemFailure


@dataclass
class EmbedResult:
    """Embeddings of the items that succeeded, in input order, and what happened to the rest."""

    embeddings: np.ndarray  # (n_ok, d) float32
    indices: np.ndarray  # (n_ok,) the input positions of the rows
    failures: list[ItemFailure] = field(default_factory=list)
    truncated: list[int] = field(default_factory=list)  # input positions that were cut
    token_counts: np.ndarray | None = None  # (n_ok,) text tokens (one copy) per row
    # PromptReps' sparse vectors, one per row: {token id: weight}, weight = log(1 + relu(logit))
    # (reba.sparse: dot products, the authors' fused scores); None for methods without one
    sparse: list[dict[int, float]] | None = None


@dataclass
class Collected:
    """What one configuration (or one of its inputs) has gathered so far."""

    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    failures: dict[int, ItemFailure] = field(default_factory=dict)
    truncated: set[int] = field(default_factory=set)
    lengths: dict[int, int] = field(default_factory=dict)
    sparse: dict[int, dict[int, float]] | None = None  # set by the engine for sparse read-outs

    def fail(self, failure: ItemFailure) -> None:
        self.failures.setdefault(failure.index, failure)

    def result(self, failures: list[ItemFailure], dimension: int) -> EmbedResult:
        order = sorted(i for i in self.vectors if i not in self.failures)
        matrix = np.stack([self.vectors[i] for i in order]) if order else np.zeros((0, dimension))
        return EmbedResult(
            embeddings=matrix.astype(np.float32, copy=False),
            indices=np.asarray(order, dtype=np.int64),
            failures=sorted(failures + list(self.failures.values()), key=lambda f: f.index),
            truncated=sorted(self.truncated & set(order)),
            token_counts=np.asarray([self.lengths[i] for i in order], dtype=np.int64),
            sparse=None if self.sparse is None else [self.sparse[i] for i in order],
        )


def averaged(parts: list[Collected]) -> Collected:
    """One configuration's result from its inputs' (MetaEOL's eight prompts, CK's two): the
    plain mean of the vectors; an item fails if it failed for any input."""
    if len(parts) == 1:
        return parts[0]
    out = Collected()
    for part in parts:
        for failure in part.failures.values():
            out.fail(failure)
        out.truncated |= part.truncated
    common = set.intersection(*(set(p.vectors) for p in parts))
    for index in common:
        stacked = np.stack([p.vectors[index].astype(np.float64) for p in parts])
        out.vectors[index] = stacked.mean(axis=0).astype(np.float32)
        out.lengths[index] = parts[0].lengths[index]
    return out
