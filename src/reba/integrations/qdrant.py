"""reba vectors in a Qdrant collection (``pip install 'reba[qdrant]'``).

>>> from qdrant_client import QdrantClient
>>> from reba.integrations.qdrant import RebaQdrant
>>> docs = RebaQdrant(QdrantClient(path="qdrant-db"), "docs", "best.json")  # or an Embedder
>>> docs.create(exist_ok=True)
>>> docs.add(["一句话", "another text"], ids=["a", "b"])
>>> [(hit.payload["id"], hit.score) for hit in docs.search("what is said?", limit=1)]

Any client works: local mode on disk (``path=``), in memory, or a server (``url=``). The
collection is created with the embedder's dimension and cosine distance, and records the
configuration in its metadata (``reba``); opening an existing collection made with another
configuration is refused instead of mixing vectors. Qdrant point ids are unsigned integers or
UUIDs: other ids (strings such as ``"a"``) become a UUID derived from them, and every point's
payload keeps the given ``id`` and its ``text``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reba.cli.deps import require

require("qdrant", "reba.integrations.qdrant")

from qdrant_client import QdrantClient, models  # noqa: E402

from reba.embedder import Embedder  # noqa: E402
from reba.integrations._encoder import Encoder, Settings, Source  # noqa: E402

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

__all__ = ["RebaQdrant", "point_id"]

_IDS = uuid.UUID("8f7d1f52-6c1e-4a8e-9a3c-2f4f1b6d0e11")  # namespace of ids made from strings


def point_id(value: Any) -> int | str:
    """A Qdrant point id for ``value``: a non-negative int or a UUID as it is, else a UUID5."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return str(uuid.uuid5(_IDS, text))


class RebaQdrant:
    """One Qdrant collection embedded by a :class:`reba.Embedder`.

    ``source`` is an ``Embedder`` or a configuration (``EmbedderConfig``, dict, saved file
    path); ``settings`` (``device``, ``batch_size``, ``normalize``, the prompts) are as for
    every store (``reba.integrations._encoder.Settings``).
    """

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        source: Source,
        **settings: Unpack[Settings],
    ):
        self.client = client
        self.collection = collection
        self.encoder = Encoder(source, **settings)

    @property
    def embedder(self) -> Embedder:
        return self.encoder.embedder

    def create(self, *, exist_ok: bool = False, **create_collection: Any) -> None:
        """Create the collection (cosine, the embedder's dimension, the configuration in its
        metadata); with ``exist_ok``, an existing one made with the same configuration is kept."""
        config = self.encoder.embedder.config.to_dict()
        if self.client.collection_exists(self.collection):
            if not exist_ok:
                raise ValueError(f"Qdrant collection {self.collection!r} already exists")
            found = (self.client.get_collection(self.collection).config.metadata or {}).get("reba")
            if found != config:
                raise ValueError(
                    f"Qdrant collection {self.collection!r} was made with another configuration "
                    f"({found}); this one is {config}. Use another collection name."
                )
            return
        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(
                size=self.encoder.dimension, distance=models.Distance.COSINE
            ),
            metadata={"reba": config},
            **create_collection,
        )

    def add(
        self,
        texts: Sequence[str],
        ids: Sequence[Any] | None = None,
        payloads: Sequence[dict] | None = None,
    ) -> list[int | str]:
        """Embed ``texts`` as documents and upsert them; return their point ids."""
        texts = list(texts)
        ids = list(range(len(texts))) if ids is None else list(ids)
        payloads = [{} for _ in texts] if payloads is None else list(payloads)
        if not len(ids) == len(payloads) == len(texts):
            raise ValueError(
                f"{len(texts)} texts, {len(ids)} ids and {len(payloads)} payloads: one each"
            )
        vectors = self.encoder.documents(texts)
        points = [
            models.PointStruct(id=point_id(i), vector=v.tolist(), payload={**p, "id": i, "text": t})
            for t, i, p, v in zip(texts, ids, payloads, vectors)
        ]
        self.client.upsert(self.collection, points=points, wait=True)
        return [point.id for point in points]

    def search(self, query: str, limit: int = 10, **query_points: Any) -> list[Any]:
        """The ``limit`` nearest points to ``query`` (embedded with the query prompt), best
        first; ``query_points`` goes to ``client.query_points`` (``query_filter``...)."""
        vector = self.encoder.queries([query])[0]
        found = self.client.query_points(
            self.collection, query=vector.tolist(), limit=limit, **query_points
        )
        return found.points

    def __repr__(self) -> str:
        return f"RebaQdrant({self.collection!r}, {self.embedder!r})"
