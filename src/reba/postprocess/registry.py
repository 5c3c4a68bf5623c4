"""The fitted post-processing kinds, by name: the one table the CLI and configuration use."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reba.postprocess.abtt import fit_abtt
from reba.postprocess.mean import fit_mean
from reba.postprocess.state import PostState
from reba.postprocess.whitening import fit_whitening
from reba.postprocess.zscore import fit_zscore

FITTERS: dict[str, Callable[..., PostState]] = {
    "mean": fit_mean,
    "abtt": fit_abtt,
    "whitening": fit_whitening,
    "zscore": fit_zscore,
}


def fit(kind: str, vectors: np.ndarray, **params) -> PostState:
    """Fit the post-processing ``kind`` (a name in ``FITTERS``) on ``vectors`` (n x d)."""
    if kind not in FITTERS:
        raise ValueError(f"unknown post-processing {kind!r}; known: {', '.join(FITTERS)}")
    return FITTERS[kind](vectors, **params)
