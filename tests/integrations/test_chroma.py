"""``RebaEmbeddingFunction`` with the real chromadb: a persistent collection on disk."""

from __future__ import annotations

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings
from store_checks import DOCS, IDS, QUERIES, TOP, cosine_top_ids

from reba.integrations.chroma import RebaEmbeddingFunction


def client(path):
    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


def test_persistent_collection_ranks_like_reba(tmp_path, store_config, store_embedder):
    config_file = store_config.save(tmp_path / "best.json")
    ef = RebaEmbeddingFunction(config_file)  # a saved configuration
    docs = client(tmp_path / "db").create_collection("docs", embedding_function=ef)
    assert docs.configuration["hnsw"]["space"] == "cosine"
    docs.add(ids=IDS, documents=DOCS)
    found = docs.query(query_texts=QUERIES, n_results=TOP)
    expected = cosine_top_ids(store_embedder)
    assert found["ids"] == expected

    # A new client on the same folder rebuilds the function from the stored configuration.
    again = client(tmp_path / "db").get_collection("docs")
    rebuilt = again.configuration["embedding_function"]
    assert isinstance(rebuilt, RebaEmbeddingFunction) and rebuilt is not ef
    assert rebuilt.embedder.config == store_embedder.config
    assert again.query(query_texts=QUERIES, n_results=TOP)["ids"] == expected


def test_vectors_and_prompts_are_encodes(store_embedder, store_config):
    ef = RebaEmbeddingFunction(store_embedder, query_prompt="q: ", document_prompt="d: ")
    np.testing.assert_allclose(
        np.stack(ef(DOCS[:3])), store_embedder.encode(["d: " + t for t in DOCS[:3]]), atol=1e-6
    )
    np.testing.assert_allclose(
        np.stack(ef.embed_query(QUERIES[:1])),
        store_embedder.encode(["q: " + QUERIES[0]]),
        atol=1e-6,
    )
    unit = RebaEmbeddingFunction(store_config.to_dict(), normalize=True)  # a dict
    np.testing.assert_allclose(np.linalg.norm(np.stack(unit(DOCS[:2])), axis=1), 1, atol=1e-6)
    with pytest.raises(ValueError, match="item 1"):
        ef(["fine", "  "])
    with pytest.raises(TypeError, match="Embedder, an EmbedderConfig"):
        RebaEmbeddingFunction(42)
