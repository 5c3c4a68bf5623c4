"""reba in LanceDB: an embedding function in its registry, and tables from ``reba embed`` folders
(``pip install 'reba[lancedb]'``).

>>> import lancedb
>>> from lancedb.embeddings import get_registry
>>> from lancedb.pydantic import LanceModel, Vector
>>> import reba.integrations.lancedb  # registers "reba"
>>> func = get_registry().get("reba").create(config="best.json")  # or an EmbedderConfig, dict
>>> class Doc(LanceModel):
...     text: str = func.SourceField()
...     vector: Vector(func.ndims()) = func.VectorField()
>>> table = lancedb.connect("lance-db").create_table("docs", schema=Doc)
>>> table.add([{"text": "一句话"}, {"text": "another text"}])
>>> table.search("what is said?").metric("cosine").limit(1).to_list()

The table stores the function's arguments (the configuration as a dict, or the file path given)
and builds it again when opened in a later process. A local model is not retried
(``max_retries`` is LanceDB's for remote APIs; a bad text raises at once, naming its item).

``table_from_folder(db, "docs", "emb/")`` makes a table straight from a ``reba embed --output
emb/`` folder: pyarrow reads the Parquet parts as a dataset and LanceDB writes them batch by
batch (the ``embedding`` column stays a ``fixed_size_list<float32, d>``: no copy through Python
lists, no whole-corpus table in memory); the folder's configuration goes into the table's
schema metadata (``reba``).
"""

from __future__ import annotations

import json
from typing import Any

from reba.cli.deps import require

require("lancedb", "reba.integrations.lancedb")

import pyarrow as pa  # noqa: E402
import pyarrow.dataset as pads  # noqa: E402
from lancedb.embeddings import TextEmbeddingFunction, register  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402

from reba.config import EmbedderConfig, as_config  # noqa: E402
from reba.embedder import Embedder  # noqa: E402
from reba.integrations._encoder import Encoder  # noqa: E402
from reba.io.folder import OutputFolder  # noqa: E402

__all__ = ["RebaEmbeddingFunction", "table_from_folder", "EMBEDDING_COLUMN"]

EMBEDDING_COLUMN = "embedding"


@register("reba")
class RebaEmbeddingFunction(TextEmbeddingFunction):
    """A LanceDB text embedding function backed by a :class:`reba.Embedder`.

    ``config`` is an ``Embedder`` or a configuration (``EmbedderConfig``, dict or saved file
    path); ``device`` applies to a configuration. Create it with
    ``get_registry().get("reba").create(config=...)`` so a table can save it.
    """

    config: Any
    device: str | None = None
    batch_size: int = 16
    normalize: bool = False
    query_prompt: str = ""
    document_prompt: str = ""
    max_retries: int = 0
    _encoder: Encoder | None = PrivateAttr(default=None)

    @classmethod
    def create(cls, **kwargs: Any) -> RebaEmbeddingFunction:
        """LanceDB's constructor (it keeps the arguments for the table). An ``Embedder`` is
        used as it is (not copied) and stored as its configuration."""
        source = kwargs.get("config")
        if isinstance(source, EmbedderConfig):
            kwargs["config"] = source.to_dict()
        if not isinstance(source, Embedder):
            return super().create(**kwargs)
        instance = super().create(**{**kwargs, "config": source.config.to_dict()})
        instance._encoder = instance._encoder_of(source)
        return instance

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        if not isinstance(self.config, Embedder):
            as_config(self.config)  # a bad configuration is refused now; the model loads on use

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self._encoder_of(self.config)
        return self._encoder

    @property
    def embedder(self) -> Embedder:
        return self.encoder.embedder

    def ndims(self) -> int:
        return self.encoder.dimension

    def generate_embeddings(self, texts, *args, **kwargs) -> list:
        return list(self.encoder.documents(list(texts)))

    def compute_query_embeddings(self, query: str, *args, **kwargs) -> list:
        return list(self.encoder.queries(self.sanitize_input(query)))

    # a local model is not retried: its faults do not pass with time
    def compute_query_embeddings_with_retry(self, *args, **kwargs) -> list:
        return self.compute_query_embeddings(*args, **kwargs)

    def compute_source_embeddings_with_retry(self, *args, **kwargs) -> list:
        return self.compute_source_embeddings(*args, **kwargs)

    def _encoder_of(self, source: Any) -> Encoder:
        return Encoder(
            source,
            device=self.device,
            batch_size=self.batch_size,
            normalize=self.normalize,
            query_prompt=self.query_prompt,
            document_prompt=self.document_prompt,
        )

    def __hash__(self) -> int:
        return hash(json.dumps(self.model_dump(), sort_keys=True, default=str))


def table_from_folder(db: Any, name: str, folder: str, **create_table: Any) -> Any:
    """A LanceDB table of a ``reba embed`` output folder (``file``, ``row``, ``id``,
    ``embedding``), written batch by batch from the Parquet parts; ``create_table`` goes to
    ``db.create_table`` (``mode="overwrite"``, ``exist_ok``...). A local path or a URI."""
    output = OutputFolder(folder)
    dataset = pads.dataset(output.path, filesystem=output.fs, format="parquet")  # skips _*
    if not dataset.files:
        raise ValueError(f"{folder}: no Parquet parts (is it a `reba embed --output` folder?)")
    names = dataset.schema.names
    kind = dataset.schema.field(EMBEDDING_COLUMN).type if EMBEDDING_COLUMN in names else None
    if kind is None or not (pa.types.is_fixed_size_list(kind) and kind.value_type == pa.float32()):
        raise ValueError(
            f"{folder}: column {EMBEDDING_COLUMN!r} must be fixed_size_list<float32, d> (found "
            f"{kind or 'none'}); is it a `reba embed --output` folder?"
        )
    manifest = output.read_manifest() or {}
    record = {  # what made the vectors; a folder of an unfinished run has no manifest yet
        "source": output.uri,
        "complete": bool(manifest.get("complete")),
        "config": manifest.get("config"),
    }
    schema = dataset.schema.with_metadata({b"reba": json.dumps(record, ensure_ascii=False)})
    batches = pa.RecordBatchReader.from_batches(schema, dataset.scanner().to_reader())
    return db.create_table(name, data=batches, **create_table)
