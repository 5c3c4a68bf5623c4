"""Evaluation metrics as small pure functions over numpy arrays.

Similarities are computed in float64 whatever the embedding dtype. Where scipy or sklearn
define a metric it is used, so the numbers match MTEB's definitions.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Collection, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, v_measure_score

logger = logging.getLogger(__name__)


def _unit(x: ArrayLike) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    # A zero vector has no direction: give it cosine 0 with everything instead of NaN.
    return x / np.where(norms == 0.0, 1.0, norms)


def cosine_matrix(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Cosine similarity of every row of `a` (n, d) with every row of `b` (m, d): (n, m)."""
    return _unit(a) @ _unit(b).T


def paired_cosine(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Cosine similarity of row i of `a` with row i of `b`: (n,)."""
    return np.einsum("nd,nd->n", _unit(a), _unit(b))


def odd_one_out_predictions(vectors: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Predict the odd one of each group of four vectors (q, 4, d).

    The four vectors are centred on their mean first. Returns (distance, cosine) index arrays:
    distance picks the largest centred norm, cosine the lowest mean cosine similarity to the
    four centred vectors (itself included, which adds the same 1 to every candidate).
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 3 or v.shape[1] != 4:
        raise ValueError(f"expected vectors of shape (q, 4, d), got {v.shape}")
    centred = v - v.mean(axis=1, keepdims=True)
    distance = np.linalg.norm(centred, axis=2).argmax(axis=1)
    unit = _unit(centred)
    cosine = (unit @ unit.transpose(0, 2, 1)).mean(axis=2).argmin(axis=1)
    return distance, cosine


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman rank correlation (MTEB's cosine_spearman when x is cosine similarity)."""
    return float(spearmanr(x, y).statistic)


def average_precision(scores: ArrayLike, labels: ArrayLike) -> float:
    """Average precision of `scores` for the items labelled 1 (MTEB's cosine_ap)."""
    return float(average_precision_score(np.asarray(labels), np.asarray(scores)))


def threshold_accuracy(scores: ArrayLike, labels: ArrayLike, threshold: float) -> float:
    """Accuracy of predicting label 1 exactly when score >= threshold."""
    predicted = np.asarray(scores, dtype=np.float64) >= threshold
    return float(np.mean(predicted == np.asarray(labels).astype(bool)))


def best_threshold_accuracy(scores: ArrayLike, labels: ArrayLike) -> tuple[float, float]:
    """The threshold (score >= threshold means label 1) maximising accuracy, and that accuracy.

    Cuts are only placed between distinct scores, at their midpoint; ties between cuts go to
    the lowest threshold.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order]
    n = len(s)
    # Cut c predicts 0 for sorted items [0, c) and 1 for [c, n).
    negatives_below = np.concatenate([[0], np.cumsum(~y)])
    positives_from = y.sum() - np.concatenate([[0], np.cumsum(y)])
    correct = negatives_below + positives_from
    valid = np.ones(n + 1, dtype=bool)
    valid[1:-1] = s[1:] > s[:-1]
    cut = int(np.flatnonzero(valid)[np.argmax(correct[valid])])
    if cut == 0:
        threshold = s[0]
    elif cut == n:
        threshold = s[-1] + 1.0
    else:
        threshold = (s[cut - 1] + s[cut]) / 2
    return float(threshold), float(correct[cut] / n)


def logistic_regression_accuracy(
    train_x: ArrayLike,
    train_y: Sequence,
    test_x: ArrayLike,
    test_y: Sequence,
    *,
    seed: int = 0,
    max_iter: int = 1000,
) -> float:
    """Fit a logistic regression on (train_x, train_y); accuracy on (test_x, test_y).

    A fit that stops at ``max_iter`` before converging still counts (as in MTEB); it is logged
    in one line instead of sklearn's multi-line warning.
    """
    predicted = logistic_regression_predictions(
        train_x, train_y, test_x, seed=seed, max_iter=max_iter
    )
    return float(np.mean(predicted == np.asarray(test_y)))


def logistic_regression_predictions(
    train_x: ArrayLike,
    train_y: Sequence,
    test_x: ArrayLike,
    *,
    seed: int = 0,
    max_iter: int = 1000,
) -> np.ndarray:
    """The labels a logistic regression fit on (train_x, train_y) predicts for test_x."""
    model = LogisticRegression(random_state=seed, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(np.asarray(train_x, dtype=np.float64), np.asarray(train_y))
    if (np.asarray(model.n_iter_) >= max_iter).any():
        logger.info("reba eval: logistic regression stopped at max_iter=%d, unconverged", max_iter)
    return model.predict(np.asarray(test_x, dtype=np.float64))


def kmeans_v_measure(x: ArrayLike, labels: Sequence, *, seed: int = 0, n_init: int = 10) -> float:
    """V-measure of k-means clusters of `x` against `labels`, k = number of distinct labels."""
    return v_measure(labels, kmeans_clusters(x, labels, seed=seed, n_init=n_init))


def kmeans_clusters(x: ArrayLike, labels: Sequence, *, seed: int = 0, n_init: int = 10):
    """k-means cluster of each row of `x`, k = number of distinct labels."""
    k = len(np.unique(np.asarray(labels)))
    return KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit_predict(
        np.asarray(x, dtype=np.float64)
    )


def v_measure(labels: Sequence, clusters: Sequence) -> float:
    return float(v_measure_score(np.asarray(labels), np.asarray(clusters)))


def ndcg_at_k(scores: ArrayLike, relevant: Sequence[Collection[int]], k: int = 10) -> float:
    """Mean nDCG@k over queries with binary relevance (the pytrec_eval definition MTEB uses).

    scores: (queries, documents); relevant[q]: column indices relevant to query q.
    DCG = sum over ranks i < k of rel_i / log2(i + 2); the ideal DCG has min(|relevant|, k)
    hits. Equal scores keep document order (stable sort).
    """
    return float(np.mean(ndcg_per_query(scores, relevant, k)))


def ndcg_per_query(scores: ArrayLike, relevant: Sequence[Collection[int]], k: int = 10):
    """nDCG@k of each query (see ``ndcg_at_k``)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or len(scores) != len(relevant):
        raise ValueError("scores must be (queries, documents) with one relevant set per query")
    discounts = 1.0 / np.log2(np.arange(k) + 2)
    values = []
    for row, rel in zip(scores, relevant, strict=True):
        top = np.argsort(-row, kind="stable")[:k]
        hits = np.isin(top, list(rel))
        ideal = discounts[: min(len(rel), k)].sum()
        values.append(discounts[: len(top)][hits].sum() / ideal if ideal > 0 else 0.0)
    return np.asarray(values)


def mean_average_precision(scores: Sequence[ArrayLike], labels: Sequence[ArrayLike]) -> float:
    """Mean over queries of the average precision of each query's candidate scores (MAP)."""
    if len(scores) != len(labels) or not scores:
        raise ValueError("need one label array per score array, and at least one query")
    return float(np.mean([average_precision(s, y) for s, y in zip(scores, labels, strict=True)]))


def bootstrap(metric, n: int, resamples: int, seed: int = 0) -> list[float]:
    """``metric(indices)`` on ``resamples`` resamples with replacement of ``n`` units. The
    resamples depend only on ``n`` and ``seed``: two configurations scored on the same units
    get the same resamples, so their differences can be bootstrapped in pairs."""
    rng = np.random.default_rng(seed)
    return [float(metric(rng.integers(0, n, n))) for _ in range(resamples)]


def standard_error(values: Sequence[float]) -> float:
    """The standard deviation of bootstrap values (NaN resamples, e.g. of one class only, are
    left out)."""
    values = [v for v in values if v == v]
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def bootstrap_se(metric, n: int, resamples: int, seed: int = 0) -> float:
    """Standard error of ``metric(indices)`` over ``n`` units (see ``bootstrap``)."""
    return standard_error(bootstrap(metric, n, resamples, seed))


def alignment(x: ArrayLike, y: ArrayLike, alpha: float = 2.0) -> float:
    """Alignment of positive pairs (Wang & Isola 2020, arXiv 2005.10242, eq. 4): the mean of
    ``||f(x_i) - f(y_i)||_2 ** alpha`` over pairs, on L2-normalised vectors (lower: closer)."""
    return float(np.mean(np.linalg.norm(_unit(x) - _unit(y), axis=1) ** alpha))


def uniformity(x: ArrayLike, t: float = 2.0) -> float:
    """Uniformity (Wang & Isola 2020, eq. 5): ``log`` of the mean over pairs i < j of
    ``exp(-t ||f(x_i) - f(x_j)||_2 ** 2)``, on L2-normalised vectors (lower: more uniform)."""
    unit = _unit(x)
    if len(unit) < 2:
        return float("nan")
    upper = np.triu_indices(len(unit), k=1)
    squared = np.maximum(2.0 - 2.0 * (unit @ unit.T)[upper], 0.0)  # ||a - b||^2 of unit a, b
    exponents = -t * squared
    top = exponents.max()
    return float(top + np.log(np.mean(np.exp(exponents - top))))
