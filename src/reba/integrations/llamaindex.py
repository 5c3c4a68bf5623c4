"""reba as a LlamaIndex embedding model (``pip install 'reba[llamaindex]'``).

>>> from llama_index.core import VectorStoreIndex
>>> from llama_index.core.schema import TextNode
>>> from reba.integrations.llamaindex import RebaEmbedding
>>> embed_model = RebaEmbedding("best.json")          # or an Embedder, EmbedderConfig or dict
>>> index = VectorStoreIndex([TextNode(text="一句话"), TextNode(text="another text")],
...                          embed_model=embed_model)
>>> index.as_retriever(similarity_top_k=1).retrieve("what is said?")

A ``BaseEmbedding``: texts go through ``Embedder.encode`` (with ``document_prompt``), queries
with ``query_prompt``; the async methods run the model on a worker thread, one call at a time.
``embed_batch_size`` is how many texts LlamaIndex hands over per call (reba then sorts and
batches them by ``batch_size``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from reba.cli.deps import require

require("llamaindex", "reba.integrations.llamaindex")

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402

from reba.embedder import Embedder  # noqa: E402
from reba.integrations._encoder import Encoder, Settings, Source  # noqa: E402

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

__all__ = ["RebaEmbedding"]


class RebaEmbedding(BaseEmbedding):
    """A LlamaIndex ``BaseEmbedding`` backed by a :class:`reba.Embedder`.

    ``source`` is an ``Embedder`` or a configuration (``EmbedderConfig``, dict, saved file
    path); ``settings`` (``device``, ``batch_size``, ``normalize``, the prompts) are as for
    every store (``reba.integrations._encoder.Settings``).
    """

    _encoder: Encoder = PrivateAttr()

    def __init__(self, source: Source, *, embed_batch_size: int = 64, **settings: Unpack[Settings]):
        encoder = Encoder(source, **settings)
        config = encoder.embedder.config
        super().__init__(
            model_name=f"reba/{config.model}/{config.method}/k{config.k}",
            embed_batch_size=embed_batch_size,
        )
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        return "RebaEmbedding"

    @property
    def embedder(self) -> Embedder:
        return self._encoder.embedder

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._encoder.queries([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._encoder.documents([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._encoder.documents(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
