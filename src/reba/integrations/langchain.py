"""reba as LangChain embeddings, in-process (``pip install 'reba[langchain]'``).

>>> from reba.integrations.langchain import RebaEmbeddings
>>> embeddings = RebaEmbeddings("gemma-3-270m", method="reba", k=2)
>>> embeddings = RebaEmbeddings(config="best.json")       # a saved reba.EmbedderConfig
>>> vectors = embeddings.embed_documents(["一句话", "another text"])
>>> query = embeddings.embed_query("what is said?")

Any LangChain vector store takes it (``InMemoryVectorStore(embeddings)``, Chroma, FAISS, ...).
Vectors are ``Embedder.encode``'s, as lists of floats. ``query_prompt``/``document_prompt`` are
put before the texts (and embedded with them); the async methods run the model on one worker
thread, never two calls at once.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

try:
    from langchain_core.embeddings import Embeddings
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "reba.integrations.langchain needs langchain-core; install it with:"
        "  pip install 'reba[langchain]'"
    ) from err

from reba.config import EmbedderConfig
from reba.embedder import Embedder
from reba.models import DEFAULT_MODEL

__all__ = ["RebaEmbeddings"]


class RebaEmbeddings(Embeddings):
    """LangChain ``Embeddings`` backed by a :class:`reba.Embedder`.

    Pass a ready ``Embedder`` as ``model``; or a configuration as ``config`` (an
    :class:`reba.EmbedderConfig`, its dict or a saved file; ``device`` may be added); or a model
    name or path with any ``Embedder`` keyword (``method``, ``k``, ``layer``, ``max_length``,
    ``device``, ``dtype``, ...). ``normalize`` returns unit vectors; ``batch_size`` is reba's.
    """

    def __init__(
        self,
        model: str | Embedder | None = None,
        *,
        config: EmbedderConfig | dict | str | os.PathLike | None = None,
        batch_size: int = 16,
        normalize: bool = False,
        query_prompt: str = "",
        document_prompt: str = "",
        **embedder_kwargs: Any,
    ):
        if isinstance(model, Embedder) or config is not None:
            if embedder_kwargs.keys() - ({"device"} if config is not None else set()) or (
                config is not None and model is not None
            ):
                raise TypeError(
                    "pass an Embedder, a config, or a model and its keywords: one of them"
                )
            self.embedder = model or Embedder.from_config(config, **embedder_kwargs)
        else:
            self.embedder = Embedder(model or DEFAULT_MODEL, **embedder_kwargs)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.normalize = normalize
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self._lock = threading.Lock()  # one model call at a time, from any thread
        self._executor: ThreadPoolExecutor | None = None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; an empty list gives an empty list."""
        if not texts:
            return []
        return self._encode([self.document_prompt + text for text in texts]).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([self.query_prompt + text])[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await self._run(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await self._run(self.embed_query, text)

    def _encode(self, texts: list[str]):
        with self._lock:
            return self.embedder.encode(
                texts, batch_size=self.batch_size, normalize=self.normalize, show_progress_bar=False
            )

    async def _run(self, function, argument):
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="reba-langchain")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, argument)

    def __repr__(self) -> str:
        return f"RebaEmbeddings({self.embedder!r}, normalize={self.normalize})"
