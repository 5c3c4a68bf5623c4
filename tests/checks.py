"""Comparisons shared by the tests."""

import numpy as np

TOLERANCE = 1e-5


def assert_close(got, want, tolerance: float = TOLERANCE) -> None:
    """Within ``tolerance`` relative to the largest value (at least 1): hidden states of real
    and tiny random models reach 20-40, where float32 kernels on other shapes (batches, fused
    attention) differ by a few ulp."""
    want = np.asarray(want)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance * scale)
