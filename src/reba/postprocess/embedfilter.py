"""EmbedFilter's data-free projection (Wu et al. 2026, arXiv 2606.07502; CentreChen/EmbFilter,
``models/modeling_*_lr.py``, ``set_lm_embed``): the un-embedding matrix ``W`` (vocab x d, the
LM head) is decomposed as ``W = U S Vh`` (singular values decreasing) and a hidden state ``h``
becomes ``Vh[start:start + keep] h``: ``keep`` consecutive right singular directions, no
centring, no scaling by the singular values.

Which directions (the authors' ``filter_type``): ``"middle"`` (their default, named ``edge``
in the code: ``start = (d - keep) // 2``, so the largest and the smallest directions are
dropped in equal numbers), ``"top"`` (their ``tail``: ``Vh[:keep]``), ``"bottom"`` (their
``head``: ``Vh[-keep:]``), or an explicit ``start`` (their Mistral file uses ``start = 128``).
``keep = d`` is the identity in the authors' code; here too.

``Vh`` comes from the eigenvectors of the Gram matrix ``W^T W = Vh^T S^2 Vh``, accumulated in
float64 over blocks of the vocabulary (a float64 copy of a 262k x 640 head is 1.3 GB), with
sign-fixed rows: a sign flips one output coordinate and changes no cosine, but a saved state
must be the same on every machine.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from reba.postprocess.axes import fix_signs
from reba.postprocess.state import PostState

Selection = Literal["middle", "top", "bottom"]
SELECTIONS: tuple[Selection, ...] = ("middle", "top", "bottom")
VOCAB_BLOCK = 8192  # vocabulary rows per block of the Gram matrix
Matrix = Any  # a (vocab x d) numpy array or torch tensor of any float dtype


def right_singular_vectors(unembedding: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """``(singular values, Vh)`` of ``unembedding`` (vocab x d; a numpy array or a torch
    tensor of any float dtype), values decreasing, rows of ``Vh`` sign-fixed."""
    vocab, dim = unembedding.shape
    if vocab < dim:
        raise ValueError(
            f"embedfilter: expected a vocab x d un-embedding matrix, got {vocab}x{dim}"
        )
    gram = np.zeros((dim, dim))
    for start in range(0, vocab, VOCAB_BLOCK):
        block = _float64(unembedding[start : start + VOCAB_BLOCK])
        if not np.isfinite(block).all():
            raise ValueError(
                f"embedfilter: the un-embedding matrix holds NaN or inf near row {start}"
            )
        gram += block.T @ block
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1]
    singular = np.sqrt(np.clip(values[order], 0.0, None))
    return singular, fix_signs(vectors[:, order]).T


def selected_rows(
    dim: int, keep: int, selection: Selection = "middle", start: int | None = None
) -> range:
    """The indices of ``Vh``'s rows kept (see the module docstring)."""
    if not isinstance(keep, int) or not 1 <= keep <= dim:
        raise ValueError(f"embedfilter: keep must be an integer in 1..{dim}, got {keep!r}")
    if start is None:
        if selection not in SELECTIONS:
            raise ValueError(
                f"embedfilter: selection must be one of {SELECTIONS}, got {selection!r}"
            )
        start = {"middle": (dim - keep) // 2, "top": 0, "bottom": dim - keep}[selection]
    if not 0 <= start <= dim - keep:
        raise ValueError(f"embedfilter: start {start} with keep {keep} runs past d = {dim}")
    return range(start, start + keep)


def embedfilter_projection(
    unembedding: Matrix, keep: int, selection: Selection = "middle", start: int | None = None
) -> np.ndarray:
    """The (keep x d) float64 matrix ``P`` with ``h -> P h``; the identity when ``keep = d``."""
    dim = unembedding.shape[1]
    rows = selected_rows(dim, keep, selection, start)
    if keep == dim:
        return np.eye(dim)
    _, vh = right_singular_vectors(unembedding)
    return vh[rows.start : rows.stop]


def embedfilter_state(
    unembedding: Matrix,
    keep: int | None = None,
    ratio: int | None = None,
    selection: Selection = "middle",
    start: int | None = None,
    source: dict | None = None,
) -> PostState:
    """EmbedFilter as a post-processing step: ``keep`` directions, or ``d // ratio`` (the
    authors' ``--filter_ratio``: 2 keeps half). ``source`` should name the model."""
    dim = unembedding.shape[1]
    if (keep is None) == (ratio is None):
        raise ValueError("embedfilter: give exactly one of keep (directions) or ratio (d // ratio)")
    if ratio is not None:
        if not isinstance(ratio, int) or ratio < 1:
            raise ValueError(f"embedfilter: ratio must be a positive integer, got {ratio!r}")
        keep = dim // ratio
    projection = embedfilter_projection(unembedding, keep, selection, start)
    return projection_state(projection, selection, start, source)


def projection_state(
    projection: np.ndarray,
    selection: Selection = "middle",
    start: int | None = None,
    source: dict | None = None,
) -> PostState:
    """The state of a (keep x d) projection already computed (e.g. rows of a cached ``Vh``)."""
    keep, dim = projection.shape
    return PostState(
        kind="embedfilter",
        params={"keep": keep, "selection": selection, "start": start},
        dim=dim,
        fitted_on=0,
        source=dict(source or {}),
        matrix=projection.T,
    )


def _float64(block: Matrix) -> np.ndarray:
    if hasattr(block, "detach"):  # a torch tensor (bf16 has no numpy dtype: go through float64)
        import torch

        return block.detach().to("cpu", torch.float64).numpy()
    return np.asarray(block, dtype=np.float64)
