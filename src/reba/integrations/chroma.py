"""reba as a Chroma embedding function (``pip install 'reba[chroma]'``).

>>> import chromadb
>>> from reba.integrations.chroma import RebaEmbeddingFunction
>>> client = chromadb.PersistentClient(path="chroma-db")
>>> ef = RebaEmbeddingFunction("best.json")          # or an Embedder, EmbedderConfig or dict
>>> docs = client.get_or_create_collection("docs", embedding_function=ef)
>>> docs.add(ids=["a", "b"], documents=["一句话", "another text"])
>>> docs.query(query_texts=["what is said?"], n_results=1)

The function is registered under the name ``reba``: a collection stores its configuration
(``get_config``), and ``client.get_collection("docs")`` in a later process builds it again
from there (the configuration's model must then be loadable by name or path). Its default
space is cosine. Vectors are ``Embedder.encode``'s; queries go through ``embed_query``
(with ``query_prompt``), documents through ``__call__`` (with ``document_prompt``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reba.cli.deps import require

require("chroma", "reba.integrations.chroma")

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space  # noqa: E402
from chromadb.utils.embedding_functions import register_embedding_function  # noqa: E402

from reba.integrations._encoder import Encoder, Settings, Source  # noqa: E402

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

__all__ = ["RebaEmbeddingFunction"]


@register_embedding_function
class RebaEmbeddingFunction(EmbeddingFunction[Documents]):
    """A Chroma ``EmbeddingFunction`` backed by a :class:`reba.Embedder`.

    ``source`` is an ``Embedder`` or a configuration (``EmbedderConfig``, dict, saved file
    path); ``settings`` are ``device``, ``batch_size``, ``normalize``, ``query_prompt`` and
    ``document_prompt`` (see ``reba.integrations._encoder.Settings``).
    """

    def __init__(self, source: Source, **settings: Unpack[Settings]):
        self.encoder = Encoder(source, **settings)

    @property
    def embedder(self):
        return self.encoder.embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.encoder.documents(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return list(self.encoder.queries(list(input)))

    @staticmethod
    def name() -> str:
        return "reba"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return self.encoder.settings()

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> RebaEmbeddingFunction:
        settings = dict(config)
        return RebaEmbeddingFunction(settings.pop("config"), **settings)

    def __repr__(self) -> str:
        return f"RebaEmbeddingFunction({self.embedder!r}, normalize={self.encoder.normalize})"
