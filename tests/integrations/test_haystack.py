"""reba's Haystack embedders with the real haystack-ai: indexing and query pipelines, the
document store saved to disk and loaded back, the pipeline saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.document_stores.in_memory import InMemoryDocumentStore
from store_checks import DOCS, IDS, QUERIES, TOP, cosine_top_ids

from reba.integrations.haystack import RebaDocumentEmbedder, RebaTextEmbedder


def query_pipeline(store, embedder) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("embed", embedder)
    pipeline.add_component("retrieve", InMemoryEmbeddingRetriever(store, top_k=TOP))
    pipeline.connect("embed.embedding", "retrieve.query_embedding")
    return pipeline


def answers(pipeline) -> list[list[str]]:
    runs = [pipeline.run({"embed": {"text": q}})["retrieve"]["documents"] for q in QUERIES]
    return [[d.id for d in found] for found in runs]


def test_pipelines_on_disk_rank_like_reba(tmp_path, store_config, store_embedder):
    config_file = str(store_config.save(tmp_path / "best.json"))
    store = InMemoryDocumentStore(embedding_similarity_function="cosine")
    indexing = Pipeline()
    indexing.add_component("embed", RebaDocumentEmbedder(config_file))
    indexing.add_component("write", DocumentWriter(store))
    indexing.connect("embed.documents", "write.documents")
    written = indexing.run(
        {"embed": {"documents": [Document(id=i, content=t) for i, t in zip(IDS, DOCS)]}}
    )
    assert written["write"]["documents_written"] == len(DOCS)
    store.save_to_disk(str(tmp_path / "store.json"))

    loaded = InMemoryDocumentStore.load_from_disk(str(tmp_path / "store.json"))
    stored = np.array([d.embedding for d in loaded.filter_documents() if d.id == IDS[2]][0])
    np.testing.assert_allclose(stored, store_embedder.encode(DOCS[2]), atol=1e-6)
    querying = query_pipeline(loaded, RebaTextEmbedder(config_file))
    expected = cosine_top_ids(store_embedder)
    assert answers(querying) == expected

    # Saved and loaded as YAML: the embedder comes back from the configuration file.
    again = Pipeline.loads(querying.dumps(), allowed_modules=["reba.integrations.haystack"])
    assert again.get_component("embed").embedder.config == store_embedder.config
    assert answers(again) == expected


def test_prefix_meta_fields_and_bad_input(store_embedder):
    documents = [Document(content=DOCS[0], meta={"title": "Rates"}), Document(content=DOCS[1])]
    embedder = RebaDocumentEmbedder(store_embedder, prefix="d: ", meta_fields_to_embed=["title"])
    out = embedder.run(documents)
    assert documents[0].embedding is None  # new documents, the inputs unchanged
    expected = store_embedder.encode(["d: Rates\n" + DOCS[0], "d: " + DOCS[1]])
    np.testing.assert_allclose([d.embedding for d in out["documents"]], expected, atol=1e-6)
    assert out["meta"]["reba"] == store_embedder.config.to_dict()
    assert RebaDocumentEmbedder.from_dict(embedder.to_dict()).to_dict() == embedder.to_dict()
    text = RebaTextEmbedder(store_embedder, prefix="q: ").run("x")["embedding"]
    np.testing.assert_allclose(text, store_embedder.encode("q: x"), atol=1e-6)
    with pytest.raises(ValueError, match="item 1"):
        embedder.run([Document(content="fine"), Document(content="")])
    with pytest.raises(TypeError, match="RebaDocumentEmbedder"):
        RebaTextEmbedder(store_embedder).run(["a list"])
