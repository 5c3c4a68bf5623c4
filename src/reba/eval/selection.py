"""Choosing a method's layer (and number of copies) on dev data, never on the test scores.

Candidates: the layers at about 1/3, 1/2, 2/3 and 5/6 of the depth, the top three, and the
method's own; each task's dev half (``reba.eval.splits``) picks the best, and the test half
is reported at that choice.
"""

from __future__ import annotations

import math


def dev_layers(depth: int) -> list[int]:
    """Candidate layers as negative indices (``-1`` = the last of ``depth + 1`` states)."""
    positive = {round(depth * f) for f in (1 / 3, 1 / 2, 2 / 3, 5 / 6)}
    positive |= {depth - 2, depth - 1, depth}
    return sorted(p - (depth + 1) for p in positive if 1 <= p <= depth)


def best(dev_scores: dict) -> object:
    """The key with the highest dev score (NaN never wins; ties: the first given)."""
    usable = {key: v for key, v in dev_scores.items() if not math.isnan(v)}
    if not usable:
        return next(iter(dev_scores))
    top = max(usable.values())
    return next(key for key, v in usable.items() if v == top)
