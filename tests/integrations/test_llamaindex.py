"""``RebaEmbedding`` with the real llama-index-core: an index persisted on disk and loaded back."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode
from store_checks import DOCS, IDS, QUERIES, TOP, cosine_top_ids

from reba.integrations.llamaindex import RebaEmbedding


def retrieved(index, embed_model) -> list[list[str]]:
    retriever = index.as_retriever(similarity_top_k=TOP, embed_model=embed_model)
    return [[hit.node.node_id for hit in retriever.retrieve(q)] for q in QUERIES]


def test_index_on_disk_retrieves_like_reba(tmp_path, store_config, store_embedder):
    embed_model = RebaEmbedding(store_config.save(tmp_path / "best.json"), embed_batch_size=4)
    assert isinstance(embed_model, BaseEmbedding)
    nodes = [TextNode(text=t, id_=i) for i, t in zip(IDS, DOCS)]
    index = VectorStoreIndex(nodes, embed_model=embed_model)
    index.storage_context.persist(persist_dir=str(tmp_path / "index"))
    expected = cosine_top_ids(store_embedder)
    assert retrieved(index, embed_model) == expected

    storage = StorageContext.from_defaults(persist_dir=str(tmp_path / "index"))
    loaded = load_index_from_storage(storage, embed_model=RebaEmbedding(store_embedder))
    assert retrieved(loaded, loaded._embed_model) == expected
    stored = np.array(loaded.vector_store.get(IDS[3]))
    np.testing.assert_allclose(stored, store_embedder.encode(DOCS[3]), atol=1e-6)


def test_sync_async_and_prompts(store_embedder):
    embed_model = RebaEmbedding(store_embedder, query_prompt="q: ", document_prompt="d: ")
    expected = store_embedder.encode(["d: " + t for t in DOCS[:3]])
    np.testing.assert_allclose(embed_model.get_text_embedding_batch(DOCS[:3]), expected, atol=1e-6)
    np.testing.assert_allclose(
        embed_model.get_query_embedding("x"), store_embedder.encode("q: x"), atol=1e-6
    )

    async def both():
        return await asyncio.gather(
            embed_model.aget_text_embedding_batch(DOCS[:3]), embed_model.aget_query_embedding("x")
        )

    documents, query = asyncio.run(both())
    np.testing.assert_allclose(documents, expected, atol=1e-6)
    np.testing.assert_allclose(query, store_embedder.encode("q: x"), atol=1e-6)
    with pytest.raises(ValueError, match="item 0"):
        embed_model.get_text_embedding(" ")
