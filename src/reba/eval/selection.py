"""Choosing a method's layer (and number of copies) on dev data, never on the test scores.

Candidates: the layers at about 1/3, 1/2, 2/3 and 5/6 of the depth, the top three, and the
method's own; each task's dev half (``reba.eval.splits``) picks the best, and the test half
is reported at that choice. In-context PromptEOL chooses its demonstration instead (every
line of the method's pool, or those given), at its own layer: one forward pass per demonstration.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from reba.inputs.demonstrations import load_pool
from reba.methods import EmbeddingConfig, parse_method
from reba.methods.parse import canonical_name, split_parts


def dev_layers(depth: int) -> list[int]:
    """Candidate layers as negative indices (``-1`` = the last of ``depth + 1`` states)."""
    positive = {round(depth * f) for f in (1 / 3, 1 / 2, 2 / 3, 5 / 6)}
    positive |= {depth - 2, depth - 1, depth}
    return sorted(p - (depth + 1) for p in positive if 1 <= p <= depth)


def demonstration_configs(cfg: EmbeddingConfig, lines: Sequence[int]) -> list[EmbeddingConfig]:
    """``cfg`` (a method with a demonstration) with each demonstration of ``lines`` (lines of
    the method's pool; empty: the whole pool) in its place, at the method's own layer."""
    recipe = parse_method(cfg.method).recipe
    base = split_parts(parse_method(cfg.method).name)[0]  # canonical: a plain base first
    out = []
    for line in lines or range(1, len(load_pool(recipe.icl.pool)) + 1):
        with_line = dataclasses.replace(recipe, icl=dataclasses.replace(recipe.icl, demo=line))
        out.append(dataclasses.replace(cfg, method=canonical_name(base, with_line), layer=None))
    return out


def best(dev_scores: dict) -> object:
    """The key with the highest dev score (NaN never wins; ties: the first given)."""
    usable = {key: v for key, v in dev_scores.items() if not math.isnan(v)}
    if not usable:
        return next(iter(dev_scores))
    top = max(usable.values())
    return next(key for key, v in usable.items() if v == top)
