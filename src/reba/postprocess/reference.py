"""How a configuration names a fitted post-processing state: its folder, digest, kind, params.

``PostprocessRef`` is the ``postprocess`` field of :class:`reba.EmbedderConfig`. Its file form::

    "postprocess": {"kind": "abtt", "params": {"k": 2, "projection": "centred"},
                    "sha256": "<64 hex>", "path": "postprocess"}

A relative ``path`` is relative to the configuration file that holds it (``EmbedderConfig.load``
resolves it), so a folder holding a configuration and its state can be moved or exported whole.
The state itself stays in its folder (``reba.postprocess.files``), never inline: one form to
verify (the digest of the saved arrays), and configurations stay small and readable even for
whitening (d x d numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reba.postprocess.files import StateFileError, load_state
from reba.postprocess.registry import FITTERS
from reba.postprocess.state import PostState

KINDS = (*FITTERS, "embedfilter")  # what a saved state may be
_HEX64 = re.compile(r"[0-9a-f]{64}")
FIELDS = ("kind", "params", "sha256", "path")


@dataclass(frozen=True)
class PostprocessRef:
    """A saved post-processing state: ``kind`` and ``params`` as recorded in it, its
    ``sha256`` digest (``PostState.digest``) and the ``path`` of its folder."""

    kind: str
    sha256: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        errors = list(_errors(self))
        if errors:
            raise ValueError("postprocess: " + "; ".join(errors))

    def __hash__(self) -> int:
        return hash((self.kind, self.sha256, self.path))

    @classmethod
    def of(cls, state: PostState, path: str | Path) -> PostprocessRef:
        """The reference to ``state`` saved in the folder ``path``."""
        return cls(kind=state.kind, sha256=state.digest, path=str(path), params=dict(state.params))

    @classmethod
    def from_dict(cls, data: Any) -> PostprocessRef:
        if not isinstance(data, dict):
            raise ValueError(
                f"postprocess: expected an object with {', '.join(FIELDS)}, got {data!r}"
            )
        unknown = sorted(set(data) - set(FIELDS))
        missing = [name for name in FIELDS if name not in data and name != "params"]
        if unknown or missing:
            raise ValueError(
                f"postprocess: unknown field(s) {unknown}, missing {missing}; "
                f"fields: {', '.join(FIELDS)}"
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.params, "sha256": self.sha256, "path": self.path}

    def resolved(self, base: str | Path) -> PostprocessRef:
        """The reference with a relative ``path`` taken relative to the folder ``base``."""
        path = Path(self.path).expanduser()
        return self if path.is_absolute() else replace(self, path=str(Path(base) / path))

    def load(self, dim: int | None = None) -> PostState:
        """The state, verified: its digest is ``sha256``, its kind and params are the ones
        recorded here, and it takes ``dim``-dimensional vectors."""
        state = load_state(self.path, dim=dim, sha256=self.sha256)
        if state.kind != self.kind or state.params != self.params:
            raise StateFileError(
                f"{self.path}: the state is {state.kind} {state.params}, the configuration "
                f"records {self.kind} {self.params}; edit the configuration or fit again"
            )
        return state


def _errors(ref: PostprocessRef):
    if ref.kind not in KINDS:
        yield f"kind must be one of {', '.join(KINDS)}, got {ref.kind!r}"
    if not isinstance(ref.sha256, str) or not _HEX64.fullmatch(ref.sha256):
        yield f"sha256 must be 64 lower-case hex characters, got {ref.sha256!r}"
    if not isinstance(ref.path, str) or not ref.path:
        yield f"path must be a non-empty string (the state's folder), got {ref.path!r}"
    if not isinstance(ref.params, dict):
        yield f"params must be an object, got {ref.params!r}"
