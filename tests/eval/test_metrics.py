"""Each metric against a small case computed by hand (the arithmetic is in the comments)."""

import logging
import math

import numpy as np
import pytest

from reba.eval import metrics


def test_cosine_matrix_and_paired_cosine():
    a = np.array([[1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    b = np.array([[0.0, 2.0], [3.0, 0.0]], dtype=np.float32)
    r = 1 / math.sqrt(2)
    expected = np.array([[0.0, 1.0], [r, r]])
    np.testing.assert_allclose(metrics.cosine_matrix(a, b), expected, atol=1e-12)
    np.testing.assert_allclose(metrics.paired_cosine(a, b), [0.0, r], atol=1e-12)
    assert metrics.cosine_matrix(a, b).dtype == np.float64


def test_cosine_of_zero_vector_is_zero_not_nan():
    assert metrics.cosine_matrix([[0.0, 0.0]], [[1.0, 0.0]])[0, 0] == 0.0


# Already centred (columns sum to 0). Norms: 4, 1, 2.5, sqrt(11.25) = 3.354 -> distance picks 0.
# Unit vectors: (1,0), (1,0), (-0.8,0.6), (-0.894,-0.447); their sum U = (0.306, 0.153).
# Mean cosine of j to the four = u_j . U / 4 = 0.076, 0.076, -0.038, -0.085 -> cosine picks 3.
DISAGREE = [[4.0, 0.0], [1.0, 0.0], [-2.0, 1.5], [-3.0, -1.5]]


def test_odd_one_out_predictors_disagree():
    distance, cosine = metrics.odd_one_out_predictions(np.array([DISAGREE]))
    assert distance.tolist() == [0]
    assert cosine.tolist() == [3]


def test_odd_one_out_obvious_case_and_centring():
    # Three copies of (1, 0) and one (0, 1): both predictors pick 3. The shift by (10, -7)
    # puts every raw vector near the same direction; centring must remove it.
    obvious = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    shift = np.array([10.0, -7.0])
    batch = np.stack([obvious + shift, np.array(DISAGREE) + shift]).astype(np.float32)
    distance, cosine = metrics.odd_one_out_predictions(batch)
    assert distance.tolist() == [3, 0]
    assert cosine.tolist() == [3, 3]


def test_odd_one_out_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(q, 4, d\)"):
        metrics.odd_one_out_predictions(np.zeros((2, 3, 5)))


def test_spearman():
    # Ranks differ by one swap: sum d^2 = 2, rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert metrics.spearman([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)


def test_average_precision():
    # Ranking: 1 (hit), 0, 1 (hit), 0 -> AP = (1/1 + 2/3) / 2.
    ap = metrics.average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])
    assert ap == pytest.approx((1 + 2 / 3) / 2)


def test_best_threshold_accuracy_separable():
    # Sorted: .1(0) .2(0) .3(1) .6(1) .7(1): cut between .2 and .3 is perfect.
    threshold, accuracy = metrics.best_threshold_accuracy(
        [0.1, 0.2, 0.6, 0.7, 0.3], [0, 0, 1, 1, 1]
    )
    assert threshold == pytest.approx(0.25)
    assert accuracy == 1.0


def test_best_threshold_accuracy_tie_goes_to_lowest_and_ignores_equal_scores():
    # Sorted .1(0) .35(1) .4(0) .8(1): cuts .225 and .6 both get 3/4; the lower one wins.
    assert metrics.best_threshold_accuracy([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == (
        pytest.approx(0.225),
        0.75,
    )
    # Equal scores cannot be separated: the best is to call both 1 (1/2) at threshold 0.5.
    assert metrics.best_threshold_accuracy([0.5, 0.5], [0, 1]) == (0.5, 0.5)


def test_threshold_accuracy():
    # Predictions at 0.5: 1, 0, 1, 0 against labels 1, 1, 0, 0 -> 2 of 4.
    assert metrics.threshold_accuracy([0.9, 0.2, 0.5, 0.1], [1, 1, 0, 0], 0.5) == 0.5


def test_logistic_regression_accuracy():
    # Separable at 0; the test point 0.5 labelled "a" lands on the "b" side -> 2 of 3.
    train_x = [[-2.0], [-1.0], [1.0], [2.0]]
    test_x = [[-3.0], [3.0], [0.5]]
    accuracy = metrics.logistic_regression_accuracy(
        train_x, ["a", "a", "b", "b"], test_x, ["a", "b", "a"]
    )
    assert accuracy == pytest.approx(2 / 3)


def test_an_unconverged_logistic_regression_is_one_log_line_not_a_warning(caplog, recwarn):
    caplog.set_level(logging.INFO, logger="reba")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 20)) * 1000
    y = (x[:, 0] > 0).astype(int)
    metrics.logistic_regression_accuracy(x, y, x, y, max_iter=2)
    assert not recwarn.list
    assert "logistic regression stopped at max_iter=2" in caplog.text


def test_kmeans_v_measure():
    points = [[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]]
    assert metrics.kmeans_v_measure(points, ["x", "x", "y", "y"]) == pytest.approx(1.0)
    # Labels independent of the two obvious clusters: homogeneity 0, so V-measure 0.
    assert metrics.kmeans_v_measure(points, ["x", "y", "x", "y"]) == pytest.approx(0.0)


def test_ndcg_at_k():
    # Query 1 ranks docs 0, 2, 1 with 1 and 2 relevant: gains 0, 1, 1.
    # DCG = 1/log2(3) + 1/log2(4) = 0.6309 + 0.5; IDCG = 1 + 0.6309.
    # Query 2 ranks doc 2 first and it is the only relevant one: 1.
    scores = [[0.9, 0.5, 0.7], [0.1, 0.2, 0.3]]
    relevant = [{1, 2}, {2}]
    q1 = (0.6309298 + 0.5) / (1 + 0.6309298)
    assert metrics.ndcg_at_k(scores, relevant, k=10) == pytest.approx((q1 + 1) / 2, abs=1e-6)
    # At k=1 query 1's top doc is irrelevant: (0 + 1) / 2.
    assert metrics.ndcg_at_k(scores, relevant, k=1) == pytest.approx(0.5)


def test_ndcg_ideal_uses_at_most_k_hits():
    # 3 relevant docs ranked 0, 1, 2 with k=2: DCG = IDCG = 1 + 1/log2(3).
    assert metrics.ndcg_at_k([[3.0, 2.0, 1.0]], [{0, 1, 2}], k=2) == pytest.approx(1.0)


def test_mean_average_precision():
    # Query 1 ranks hit, hit, miss: AP 1. Query 2 ranks miss, miss, hit: AP 1/3.
    scores = [[0.9, 0.1, 0.5], [0.2, 0.8, 0.5]]
    labels = [[1, 0, 1], [1, 0, 0]]
    assert metrics.mean_average_precision(scores, labels) == pytest.approx(2 / 3)
