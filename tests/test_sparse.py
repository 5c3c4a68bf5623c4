"""reba.sparse against hand computations (PromptReps' hybrid.py fusion)."""

import numpy as np
import pytest

from reba.sparse import dense_scores, fused_scores, quantized, sparse_scores

Q = [{1: 0.5, 2: 2.0}, {}]
D = [{1: 1.0}, {2: 1.0, 3: 4.0}, {3: 1.0}]


def test_sparse_dot_products():
    want = [[0.5, 2.0, 0.0], [0.0, 0.0, 0.0]]
    np.testing.assert_allclose(sparse_scores(Q, D), want)


def test_fusion_is_min_max_per_query_then_weighted():
    dq = np.array([[1.0, 0.0], [0.0, 2.0]])
    dd = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    cos = np.array([[1.0, 2**-0.5, 0.0], [0.0, 2**-0.5, 1.0]])
    np.testing.assert_allclose(dense_scores(dq, dd), cos, atol=1e-12)
    dense = np.array([[1.0, 2**-0.5, 0.0], [0.0, 2**-0.5, 1.0]])  # already 0..1 per row
    sparse = np.array([[0.25, 1.0, 0.0], [0.0, 0.0, 0.0]])  # row 2: range floored at 1e-9
    got = fused_scores(dq, Q, dd, D, alpha=0.3)
    np.testing.assert_allclose(got, 0.3 * dense + 0.7 * sparse, atol=1e-12)


def test_fusion_depth_leaves_the_rest_at_zero():
    dq = np.array([[1.0, 0.0]])
    dd = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    got = fused_scores(dq, [{1: 1.0}], dd, [{1: 3.0}, {1: 2.0}, {1: 1.0}], alpha=0.5, depth=2)
    # dense top 2: docs 0 (1.0) and 1 (0.707) -> 1, 0; sparse top 2: docs 0 (3), 1 (2) -> 1, 0
    np.testing.assert_allclose(got, [[1.0, 0.0, 0.0]], atol=1e-12)


def test_quantized_and_bad_alpha():
    assert quantized({5: 0.004, 6: 1.234, 7: 0.015}) == {6: 123, 7: 2}
    with pytest.raises(ValueError, match="alpha must be in"):
        fused_scores(np.ones((1, 2)), [{}], np.ones((1, 2)), [{}], alpha=2)
