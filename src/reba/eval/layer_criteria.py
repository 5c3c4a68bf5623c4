"""Label-free scores of a layer, from the vectors a method gives a task's texts at that layer
(no labels): ``reba eval --layers free`` reads each method at the candidate layer (and k) the
criterion prefers.

- ``entropy``: dataset entropy, Skean et al. 2025 ("Layer by Layer", arXiv 2502.02013;
  OFSkean/information_flow ``compute_entropy``): the rows (one vector per text) centred on
  their mean and scaled to unit length, ``K = Z Z^T``, ``lambda = eig(K) / tr(K)``,
  ``H = -sum lambda log lambda`` (the matrix-based Renyi entropy at alpha = 1), divided by
  ``log(min(N, D))`` (their ``maxEntropy`` normalisation, in [0, 1]). reba prefers the
  **highest** (texts spread over more directions); the paper relates the metrics to
  downstream scores but the direction for choosing a layer is reba's.
- ``twonn``: intrinsic dimension by TwoNN (Facco et al. 2017; as dadapy's ``compute_id_2NN``
  that the Layer by Layer code calls, and the criterion KV-Embedding, arXiv 2601.01046, is
  summarised to use): ``mu_i = r2 / r1`` (distances to each point's second and first nearest
  neighbour), the smallest 90% of ``log mu`` sorted against ``-log(1 - i / N)``, slope of the
  least-squares line through the origin. reba prefers the **lowest** (KV-Embedding's rule as
  summarised; its paper was not read). Points with a duplicate (``r1 = 0``) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from reba.eval.intrinsic import twonn


def dataset_entropy(vectors: np.ndarray) -> float:
    """Normalised matrix-based entropy (alpha = 1) of the Gram matrix of ``vectors`` (N x D)."""
    x = _matrix(vectors, at_least=2)
    z = x - x.mean(axis=0)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    z = z / np.where(norms > 0, norms, 1.0)
    eigenvalues = np.linalg.eigvalsh(z @ z.T)
    p = eigenvalues[eigenvalues > 1e-12 * max(eigenvalues.max(), 1e-300)]
    p = p / p.sum()
    n, d = x.shape
    return float(-(p * np.log(p)).sum() / math.log(min(n, d)))


def twonn_dimension(vectors: np.ndarray, fraction: float = 0.9) -> float:
    """TwoNN intrinsic dimension of ``vectors`` (N x D), fitted on the smallest ``fraction`` of
    the ratios: ``reba.eval.intrinsic.twonn`` (one estimator for KV-Embedding's layers and for
    ``--layers free``; identical vectors counted once)."""
    _matrix(vectors, at_least=3)
    return twonn(vectors, discard=1.0 - fraction)


def _matrix(vectors: np.ndarray, at_least: int) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < at_least:
        raise ValueError(
            f"a layer criterion needs an (N x D) matrix of at least {at_least} vectors, "
            f"got shape {x.shape}"
        )
    return x


# name -> (score, +1: higher is better / -1: lower is better)
CRITERIA: dict[str, tuple[Callable[[np.ndarray], float], int]] = {
    "entropy": (dataset_entropy, +1),
    "twonn": (twonn_dimension, -1),
}


def layer_score(name: str, vectors: np.ndarray) -> float:
    """The criterion ``name`` on ``vectors``, signed so that higher is preferred."""
    if name not in CRITERIA:
        raise ValueError(f"unknown layer criterion {name!r}; known: {', '.join(CRITERIA)}")
    score, sign = CRITERIA[name]
    return sign * score(vectors)
