"""A fitted post-processing step: one affine map, and the digest that names it.

``apply``: ``z = x - mean``; ``z = z * scale`` (per dimension); ``z = z - (z R) R^T``
(``remove``: orthonormal columns R);
``z = z M`` (``matrix``); ``z = z + offset``. Absent parts are skipped. Computed in float64,
returned as float32.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reba.postprocess.vectors import as_matrix

ARRAYS = ("mean", "remove", "matrix", "offset", "scale")
FORMAT = 1  # bump when the meaning of a saved state changes


@dataclass(frozen=True, eq=False)
class PostState:
    """A post-processing step: its ``kind`` and ``params``, the input dimension ``dim``, the
    number of vectors it was fitted on (0: data-free), ``source`` (what produced those vectors,
    e.g. model and embedding configuration) and its float64 arrays."""

    kind: str
    params: dict[str, Any]
    dim: int
    fitted_on: int
    source: dict[str, Any] = field(default_factory=dict)
    mean: np.ndarray | None = None  # (dim,)
    remove: np.ndarray | None = None  # (dim, k), orthonormal columns
    matrix: np.ndarray | None = None  # (dim, dim_out)
    offset: np.ndarray | None = None  # (dim_out,)
    scale: np.ndarray | None = None  # (dim,), per dimension, after the mean (z-scores)

    @property
    def dim_out(self) -> int:
        return self.dim if self.matrix is None else int(self.matrix.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays present, by name, as contiguous little-endian float64."""
        present = {name: getattr(self, name) for name in ARRAYS}
        return {
            name: np.ascontiguousarray(value, dtype="<f8")
            for name, value in present.items()
            if value is not None
        }

    def meta(self) -> dict[str, Any]:
        """Everything but the arrays, as JSON-ready data (the digest covers it)."""
        return {
            "format": FORMAT,
            "kind": self.kind,
            "params": self.params,
            "dim": self.dim,
            "dim_out": self.dim_out,
            "fitted_on": self.fitted_on,
            "source": self.source,
        }

    @property
    def digest(self) -> str:
        """sha256 over the metadata (canonical JSON) and each array's name, shape and bytes:
        the name of this state in configurations and cache keys."""
        hasher = hashlib.sha256(json.dumps(self.meta(), sort_keys=True).encode())
        for name, value in sorted(self.arrays().items()):
            hasher.update(f"|{name}{list(value.shape)}|".encode())
            hasher.update(value.tobytes())
        return hasher.hexdigest()

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """The step applied to ``vectors`` (n x dim): float32 (n x dim_out)."""
        return self.transform(vectors).astype(np.float32)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """As ``apply``, in float64 (for chaining steps)."""
        z = as_matrix(vectors, self.dim, what=f"{self.kind} post-processing")
        if self.mean is not None:
            z = z - self.mean
        if self.scale is not None:
            z = z * self.scale
        if self.remove is not None:
            z = z - (z @ self.remove) @ self.remove.T
        if self.matrix is not None:
            z = z @ self.matrix
        if self.offset is not None:
            z = z + self.offset
        return z


def apply_all(states: Sequence[PostState], vectors: np.ndarray) -> np.ndarray:
    """Several steps in order (e.g. EmbedFilter's projection, then whitening fitted on projected
    vectors); refuses a chain whose dimensions do not meet. Float64 between steps."""
    out = np.asarray(vectors)
    for i, state in enumerate(states):
        if i and states[i - 1].dim_out != state.dim:
            raise ValueError(
                f"post-processing step {i + 1} ({state.kind}) takes {state.dim} dimensions, but "
                f"step {i} ({states[i - 1].kind}) gives {states[i - 1].dim_out}"
            )
        out = state.transform(out)
    return out.astype(np.float32)
