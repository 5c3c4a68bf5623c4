"""Label-free layer choice by intrinsic dimension (KV-Embedding's criterion).

The TwoNN estimator (Facco et al. 2017, Sci. Rep. 7:12140): for each point, ``mu`` is the
ratio of the distances to its second and first nearest neighbours; under local uniformity
``mu`` is Pareto with exponent ``d``, so ``-log(1 - F(mu)) = d log(mu)``, fitted as a line
through the origin after discarding the largest 10% of ratios (the authors' procedure).
KV-Embedding (arXiv 2601.01046) re-routes keys and values where the intrinsic dimension of the
representations is lowest (the layers where meaning is most compressed), skipping the first
layers. Only texts are needed, never labels."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from reba.engine import embed_configs
from reba.methods import EmbeddingConfig, KVRerouting
from reba.models import LoadedModel

logger = logging.getLogger(__name__)


def twonn(points: np.ndarray, discard: float = 0.1) -> float:
    """TwoNN intrinsic dimension of ``points`` (n x D, Euclidean), Facco et al.'s estimator.

    Identical rows are counted once. Each point's ``mu = r2 / r1``; sorted, with the empirical
    ``F(mu_i) = i / n``, ``d`` is the slope through the origin of ``-log(1 - F)`` against
    ``log mu`` over all but the ``discard`` fraction of largest ``mu`` (near-duplicates, e.g.
    texts that differ by one word, give huge ratios that would otherwise decide ``d``).
    Fewer than 3 distinct points, or ratios all 1, are refused."""
    x = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(
            f"TwoNN needs at least 3 distinct points as an (n, D) array, got shape "
            f"{np.shape(points)} with {len(x)} distinct"
        )
    squared = (x * x).sum(axis=1)
    d2 = np.maximum(squared[:, None] + squared[None, :] - 2.0 * (x @ x.T), 0.0)
    np.fill_diagonal(d2, np.inf)
    nearest = np.sqrt(np.partition(d2, 1, axis=1)[:, :2])
    mu = np.sort(nearest[:, 1] / np.maximum(nearest[:, 0], np.finfo(np.float64).tiny))
    n = len(mu)
    kept = max(2, min(n - 1, int(n * (1.0 - discard))))  # F = 1 (the largest) has no log
    log_mu = np.log(mu[:kept])
    y = -np.log1p(-np.arange(1, kept + 1) / n)
    denominator = float((log_mu * log_mu).sum())
    if denominator == 0:  # every second neighbour as near as the first
        raise ValueError("TwoNN: every point's two nearest neighbours are equally far")
    return float((log_mu * y).sum()) / denominator


def layer_profile(
    lm: LoadedModel, texts: Sequence[str], method: str = "prompteol", batch_size: int = 16
) -> list[float]:
    """TwoNN dimension of ``method``'s vectors of ``texts`` at every hidden layer
    ``0..depth`` (``hidden_states[l]``, the input of decoder layer ``l``), from one forward
    per text. ``method`` must have no intervention (the profile chooses where one goes).
    A layer where the vectors coincide (layer 0 of a last-token read-out: every prompt ends
    in the same token) has no dimension: NaN, and it is said in the log."""
    depth = lm.num_layers
    configs = [EmbeddingConfig(method, layer=layer) for layer in range(depth + 1)]
    results = embed_configs(lm, list(texts), configs, batch_size=batch_size)
    profile = []
    for layer, config in enumerate(configs):
        try:
            profile.append(twonn(results[config].embeddings))
        except ValueError as err:
            logger.info("reba: layer %d has no TwoNN dimension (%s)", layer, err)
            profile.append(math.nan)
    logger.info("reba: TwoNN dimension by layer: %s", ", ".join(f"{d:.1f}" for d in profile))
    return profile


def kv_layers(profile: Sequence[float], skip: float = 0.2, width: int | None = None) -> tuple:
    """``(start, end)`` decoder layers for KV re-routing from a ``layer_profile``: from the
    layer of lowest dimension among layers ``>= skip * depth``, ``width`` layers (default
    ``max(1, depth // 10)``; cut at the last layer)."""
    depth = len(profile) - 1
    first = math.ceil(skip * depth)
    candidates = [layer for layer in range(first, depth) if math.isfinite(profile[layer])]
    if not candidates:
        raise ValueError(
            f"no decoder layer from {first} to {depth - 1} has a finite TwoNN dimension "
            f"(profile: {list(profile)}); give more, and more varied, texts or a smaller skip"
        )
    start = min(candidates, key=lambda layer: profile[layer])
    width = max(1, depth // 10) if width is None else width
    return start, min(depth, start + width)


def choose_kv_layers(
    lm: LoadedModel,
    texts: Sequence[str],
    method: str = "prompteol",
    skip: float = 0.2,
    width: int | None = None,
    bias: float = 0.0,
) -> KVRerouting:
    """KV re-routing at the layers of lowest intrinsic dimension of ``texts`` (unlabeled)."""
    start, end = kv_layers(layer_profile(lm, texts, method), skip, width)
    return KVRerouting(start=start, end=end, bias=bias)
