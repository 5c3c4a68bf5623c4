"""reba in LanceDB with the real lancedb: its registry's function, and a table made from a
``reba embed`` folder, both on disk."""

from __future__ import annotations

import json

import lancedb
import numpy as np
import pyarrow as pa
import pytest
from lancedb.embeddings import get_registry
from lancedb.pydantic import LanceModel, Vector
from store_checks import DOCS, IDS, QUERIES, TOP, cosine_top_ids

import reba.integrations.lancedb  # noqa: F401  (registers "reba")
from reba.cli.main import main
from reba.integrations.lancedb import RebaEmbeddingFunction, table_from_folder


def search_ids(table, query, column=None) -> list[str]:
    hits = table.search(query, vector_column_name=column).metric("cosine").limit(TOP).to_list()
    return [hit["id"] for hit in hits]


def test_registry_function_on_disk(tmp_path, store_config, store_embedder):
    config_file = store_config.save(tmp_path / "best.json")
    func = get_registry().get("reba").create(config=str(config_file))
    assert isinstance(func, RebaEmbeddingFunction) and func.ndims() == store_embedder.dimension

    class Doc(LanceModel):
        id: str
        text: str = func.SourceField()
        vector: Vector(func.ndims()) = func.VectorField()

    table = lancedb.connect(tmp_path / "db").create_table("docs", schema=Doc)
    table.add([{"id": i, "text": t} for i, t in zip(IDS, DOCS)])
    stored = np.stack(table.to_arrow().column("vector").to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(stored, store_embedder.encode(DOCS), atol=1e-6)
    expected = cosine_top_ids(store_embedder)
    assert [search_ids(table, q) for q in QUERIES] == expected  # queries embedded by reba

    # Another connection builds the function again from what the table stored.
    again = lancedb.connect(tmp_path / "db").open_table("docs")
    assert [search_ids(again, q) for q in QUERIES] == expected
    (conf,) = again.embedding_functions.values()
    assert conf.function.embedder.config == store_embedder.config and conf.function is not func


def test_function_from_an_embedder_stores_its_configuration(store_embedder):
    func = get_registry().get("reba").create(config=store_embedder, query_prompt="q: ")
    assert func.embedder is store_embedder
    assert func.safe_model_dump()["config"] == store_embedder.config.to_dict()
    json.dumps(func.safe_model_dump())  # what a table stores is JSON
    np.testing.assert_allclose(
        func.compute_query_embeddings("x")[0], store_embedder.encode("q: x"), atol=1e-6
    )
    with pytest.raises(ValueError, match="item 1"):  # raised at once, not retried
        func.compute_source_embeddings(["fine", " "])


def test_table_from_a_reba_embed_folder(tmp_path, tiny_folder, store_embedder):
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"id": i, "text": t} for i, t in zip(IDS, DOCS)]
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = tmp_path / "emb"
    command = ["embed", "--model", str(tiny_folder), "--method", "reba", "-k", "2"]
    command += ["--input", str(corpus), "--output", f"{out}/", "--shard-rows", "4"]
    assert main(command) == 0  # three parts

    table = table_from_folder(lancedb.connect(tmp_path / "db"), "docs", str(out))
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), store_embedder.dimension)
    record = json.loads(table.schema.metadata[b"reba"])
    assert record["complete"] and record["config"]["method"] == "reba"
    assert record["config"]["model"] == store_embedder.model_name
    arrow = table.to_arrow().sort_by("row")
    assert arrow.column("id").to_pylist() == IDS
    stored = np.stack(arrow.column("embedding").to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(stored, store_embedder.encode(DOCS), atol=1e-5)
    queries = store_embedder.encode(QUERIES)
    assert [search_ids(table, q, "embedding") for q in queries] == cosine_top_ids(store_embedder)


def test_a_folder_that_is_not_reba_output_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no Parquet parts"):
        table_from_folder(lancedb.connect(tmp_path / "db"), "x", str(tmp_path))
    pa.parquet.write_table(pa.table({"embedding": [[1.0, 2.0]]}), tmp_path / "part.parquet")
    with pytest.raises(ValueError, match="fixed_size_list<float32, d>"):
        table_from_folder(lancedb.connect(tmp_path / "db"), "x", str(tmp_path))
