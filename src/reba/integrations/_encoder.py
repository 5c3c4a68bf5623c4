"""What the vector-store wrappers embed with: a ready ``Embedder`` or a configuration, prompts.

Every wrapper (Chroma, LanceDB, Qdrant, LlamaIndex, Haystack) takes a ``reba.Embedder``, or a
configuration (an ``EmbedderConfig``, its dict, or the path of a saved file) that
``Embedder.from_config`` builds one from, plus the same few settings: ``batch_size`` (reba's),
``normalize`` (unit vectors) and the prompts put before queries and documents.
"""

from __future__ import annotations

import os
import threading
from typing import Any, TypedDict

import numpy as np

from reba.config import EmbedderConfig
from reba.embedder import Embedder

Source = Embedder | EmbedderConfig | dict | str | os.PathLike


class Settings(TypedDict, total=False):
    """The keywords every store wrapper passes on to :class:`Encoder`."""

    device: Any  # for a configuration only
    batch_size: int  # reba's batch size
    normalize: bool  # unit vectors
    query_prompt: str  # put before every query
    document_prompt: str  # put before every document


def as_embedder(source: Source, *, device: Any = None) -> Embedder:
    """``source`` itself if it is an ``Embedder``, else ``Embedder.from_config(source)``.

    ``device`` applies to a configuration only (a ready embedder already has its device)."""
    if isinstance(source, Embedder):
        if device is not None:
            raise TypeError("device applies to a configuration; this Embedder is already loaded")
        return source
    if isinstance(source, EmbedderConfig | dict | str | os.PathLike):
        return Embedder.from_config(source, device=device)
    raise TypeError(
        "expected a reba.Embedder, an EmbedderConfig, a configuration dict or the path of a "
        f"saved configuration, got {type(source).__name__}"
    )


class Encoder:
    """An embedder with a store's settings; one model call at a time, from any thread."""

    def __init__(
        self,
        source: Source,
        *,
        device: Any = None,
        batch_size: int = 16,
        normalize: bool = False,
        query_prompt: str = "",
        document_prompt: str = "",
    ):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        for name, prompt in (("query_prompt", query_prompt), ("document_prompt", document_prompt)):
            if not isinstance(prompt, str):
                raise TypeError(f"{name} must be a string, got {type(prompt).__name__}")
        self.embedder = as_embedder(source, device=device)
        self.batch_size = batch_size
        self.normalize = bool(normalize)
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def documents(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32, one row per text, each with the document prompt before it."""
        return self._encode([self.document_prompt + _text(t, i) for i, t in enumerate(texts)])

    def queries(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32, one row per text, each with the query prompt before it."""
        return self._encode([self.query_prompt + _text(t, i) for i, t in enumerate(texts)])

    def settings(self) -> dict[str, Any]:
        """Everything needed to build this encoder again (JSON-ready), with the configuration."""
        return {
            "config": self.embedder.config.to_dict(),
            "batch_size": self.batch_size,
            "normalize": self.normalize,
            "query_prompt": self.query_prompt,
            "document_prompt": self.document_prompt,
        }

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return self.embedder.encode(
                texts, batch_size=self.batch_size, normalize=self.normalize, show_progress_bar=False
            )

    def __repr__(self) -> str:
        return f"Encoder({self.embedder!r}, normalize={self.normalize})"


def _text(text: Any, index: int) -> str:
    if not isinstance(text, str):
        raise TypeError(f"item {index}: expected a string, got {type(text).__name__}")
    if not text.strip():  # checked before a prompt is put in front of it
        raise ValueError(f"item {index}: empty text (nothing to embed)")
    return text
