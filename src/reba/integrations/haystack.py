"""reba as Haystack text and document embedders (``pip install 'reba[haystack]'``).

>>> from haystack import Document, Pipeline
>>> from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
>>> from haystack.document_stores.in_memory import InMemoryDocumentStore
>>> from reba.integrations.haystack import RebaDocumentEmbedder, RebaTextEmbedder
>>> store = InMemoryDocumentStore(embedding_similarity_function="cosine")
>>> docs = RebaDocumentEmbedder("best.json").run([Document(content="一句话")])["documents"]
>>> store.write_documents(docs)
>>> query = Pipeline()
>>> query.add_component("embed", RebaTextEmbedder("best.json"))
>>> query.add_component("retrieve", InMemoryEmbeddingRetriever(store, top_k=1))
>>> query.connect("embed.embedding", "retrieve.query_embedding")
>>> query.run({"embed": {"text": "what is said?"}})["retrieve"]["documents"]

Both take an ``Embedder`` or a configuration (``EmbedderConfig``, dict, saved file path); a
configuration's model is loaded by ``warm_up`` (which pipelines call) or on the first run.
``prefix`` is put before every text (Haystack's name for a prompt); the document embedder also
embeds the ``meta_fields_to_embed``, joined with ``embedding_separator`` before the content,
and returns new documents (the inputs are not changed). ``to_dict`` saves the configuration, so
a pipeline saved with ``Pipeline.dumps`` loads with the same embedder
(``Pipeline.loads(text, allowed_modules=["reba.integrations.haystack"])``: Haystack loads
classes only from modules the caller trusts).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from reba.cli.deps import require

require("haystack", "reba.integrations.haystack")

from haystack import Document, component, default_from_dict, default_to_dict  # noqa: E402

from reba.config import EmbedderConfig  # noqa: E402
from reba.embedder import Embedder  # noqa: E402
from reba.integrations._encoder import Encoder, Source  # noqa: E402

__all__ = ["RebaDocumentEmbedder", "RebaTextEmbedder"]


class _RebaComponent:
    """What both embedders share: the source, the settings, loading and (de)serialisation."""

    def __init__(
        self,
        source: Source,
        *,
        device: str | None = None,
        batch_size: int = 16,
        normalize: bool = False,
        prefix: str = "",
    ):
        self.source = source
        self.device = None if device is None else str(device)
        self.batch_size = batch_size
        self.normalize = normalize
        self.prefix = prefix
        self._encoder: Encoder | None = None
        if isinstance(source, Embedder):
            self.warm_up()  # already loaded: check the settings now

    def warm_up(self) -> None:
        """Load the model (once)."""
        if self._encoder is None:
            self._encoder = Encoder(
                self.source,
                device=self.device,
                batch_size=self.batch_size,
                normalize=self.normalize,
                query_prompt=self.prefix,
                document_prompt=self.prefix,
            )

    @property
    def embedder(self) -> Embedder:
        self.warm_up()
        return self._encoder.embedder

    def _encode(self, texts: list[str]) -> list[list[float]]:
        self.warm_up()
        return self._encoder.documents(texts).tolist()

    def _meta(self) -> dict[str, Any]:
        config = self.embedder.config
        return {"model": config.model, "reba": config.to_dict()}

    def to_dict(self, **more: Any) -> dict[str, Any]:
        source = self.source  # saved as a file path, or as the configuration's dict
        if isinstance(source, Embedder):
            source = source.config
        if isinstance(source, EmbedderConfig):
            source = source.to_dict()
        return default_to_dict(
            self,
            source=os.fspath(source) if isinstance(source, os.PathLike) else source,
            device=self.device,
            batch_size=self.batch_size,
            normalize=self.normalize,
            prefix=self.prefix,
            **more,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        return default_from_dict(cls, data)


@component
class RebaTextEmbedder(_RebaComponent):
    """Embeds one text (a query) into a vector: ``run(text) -> {"embedding", "meta"}``."""

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        if not isinstance(text, str):
            raise TypeError(
                "RebaTextEmbedder embeds one string; for a list of Documents use "
                f"RebaDocumentEmbedder (got {type(text).__name__})"
            )
        return {"embedding": self._encode([text])[0], "meta": self._meta()}


@component
class RebaDocumentEmbedder(_RebaComponent):
    """Embeds documents: ``run(documents) -> {"documents", "meta"}``, each with its embedding."""

    def __init__(
        self,
        source: Source,
        *,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        **settings: Any,
    ):
        """``settings`` are the text embedder's: ``device``, ``batch_size``, ``normalize``,
        ``prefix``."""
        # @component makes a new class, so super() without arguments does not work here
        _RebaComponent.__init__(self, source, **settings)
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator

    def to_dict(self) -> dict[str, Any]:
        return _RebaComponent.to_dict(
            self,
            meta_fields_to_embed=self.meta_fields_to_embed,
            embedding_separator=self.embedding_separator,
        )

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise TypeError(
                "RebaDocumentEmbedder embeds a list of Documents; for one string use "
                "RebaTextEmbedder"
            )
        texts = [self._text(d) for d in documents]
        vectors = self._encode(texts) if texts else []
        embedded = [dataclasses.replace(d, embedding=v) for d, v in zip(documents, vectors)]
        return {"documents": embedded, "meta": self._meta()}

    def _text(self, document: Document) -> str:
        fields = [
            str(document.meta[key])
            for key in self.meta_fields_to_embed
            if document.meta.get(key) is not None
        ]
        return self.embedding_separator.join([*fields, document.content or ""])
