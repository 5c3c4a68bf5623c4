"""``RebaEmbeddings`` with the real langchain-core: sync, async and in a vector store."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore

import reba
from reba.integrations.langchain import RebaEmbeddings

TEXTS = ["The bank raised interest rates.", "我们去银行取钱", "A bat flew out of the cave."]


@pytest.fixture(scope="module")
def embedder(tiny):
    return reba.Embedder(tiny, method="reba", k=2)


def test_documents_and_query_equal_encode(embedder):
    embeddings = RebaEmbeddings(embedder)
    assert isinstance(embeddings, Embeddings)
    documents = embeddings.embed_documents(TEXTS)
    assert isinstance(documents, list) and all(isinstance(v, list) for v in documents)
    assert isinstance(documents[0][0], float)
    np.testing.assert_allclose(documents, embedder.encode(TEXTS), atol=1e-6, rtol=0)
    query = embeddings.embed_query(TEXTS[1])
    np.testing.assert_allclose(query, embedder.encode(TEXTS[1]), atol=1e-6, rtol=0)
    assert embeddings.embed_documents([]) == []


def test_async_variants(embedder):
    embeddings = RebaEmbeddings(embedder, normalize=True)

    async def both():
        return await asyncio.gather(
            embeddings.aembed_documents(TEXTS), embeddings.aembed_query(TEXTS[0])
        )

    documents, query = asyncio.run(both())
    expected = embedder.encode(TEXTS, normalize=True)
    np.testing.assert_allclose(documents, expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(query, expected[0], atol=1e-6, rtol=0)


def test_prompts_and_building_from_arguments(tiny, embedder):
    embeddings = RebaEmbeddings(tiny, method="echo", k=3, query_prompt="q: ", document_prompt="d: ")
    echo = reba.Embedder(tiny, method="echo", k=3)
    assert embeddings.embedder.method == "echo" and embeddings.embedder.k == 3
    np.testing.assert_allclose(embeddings.embed_query("x"), echo.encode("q: x"), atol=1e-6)
    np.testing.assert_allclose(embeddings.embed_documents(["x"]), echo.encode(["d: x"]), atol=1e-6)
    with pytest.raises(TypeError, match="one of them"):
        RebaEmbeddings(embedder, k=3)
    with pytest.raises(ValueError, match="item 0"):
        RebaEmbeddings(embedder).embed_documents([" "])


def test_a_langchain_vector_store_retrieves_with_it(embedder):
    store = InMemoryVectorStore(RebaEmbeddings(embedder))
    store.add_documents([Document(page_content=t) for t in TEXTS])
    found = store.similarity_search(TEXTS[2], k=1)
    assert found[0].page_content == TEXTS[2]  # a text's own vector is its nearest neighbour
