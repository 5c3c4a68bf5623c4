"""``RebaQdrant`` with the real qdrant-client in local mode, on disk."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient
from store_checks import DOCS, IDS, QUERIES, TOP, cosine_top_ids

from reba.integrations.qdrant import RebaQdrant, point_id


def test_local_collection_on_disk_ranks_like_reba(tmp_path, store_config, store_embedder):
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    docs = RebaQdrant(client, "docs", store_config.save(tmp_path / "best.json"))
    docs.create()
    assert docs.add(DOCS, ids=IDS, payloads=[{"n": n} for n in range(len(DOCS))]) == [
        point_id(i) for i in IDS
    ]
    expected = cosine_top_ids(store_embedder)
    hits = [docs.search(q, limit=TOP) for q in QUERIES]
    assert [[h.payload["id"] for h in row] for row in hits] == expected
    assert hits[0][0].payload["text"] == DOCS[IDS.index(expected[0][0])]
    stored = client.retrieve("docs", [point_id(IDS[4])], with_vectors=True)[0]
    v = store_embedder.encode(DOCS[4])
    np.testing.assert_allclose(stored.vector, v / np.linalg.norm(v), atol=1e-6)  # cosine: unit
    client.close()

    # Reopened from disk by another client: the same collection, the same configuration.
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    again = RebaQdrant(client, "docs", store_embedder)
    again.create(exist_ok=True)
    assert [[h.payload["id"] for h in again.search(q, limit=TOP)] for q in QUERIES] == expected
    with pytest.raises(ValueError, match="already exists"):
        again.create()
    other = RebaQdrant(client, "docs", store_config.replace(k=3).to_dict())
    with pytest.raises(ValueError, match="another configuration"):
        other.create(exist_ok=True)
    client.close()


def test_ids_and_bad_input(store_embedder):
    assert point_id(7) == 7 and point_id("7") == point_id("7") != point_id("8")
    docs = RebaQdrant(QdrantClient(":memory:"), "docs", store_embedder, query_prompt="q: ")
    docs.create()
    with pytest.raises(ValueError, match="one each"):
        docs.add(DOCS[:2], ids=["a"])
    with pytest.raises(ValueError, match="item 1"):
        docs.add(["fine", ""])
    docs.add(DOCS)
    hit = docs.search(DOCS[2], limit=1)[0]
    q, d = store_embedder.encode(["q: " + DOCS[2], DOCS[hit.payload["id"]]])
    assert hit.score == pytest.approx(q @ d / np.linalg.norm(q) / np.linalg.norm(d), abs=1e-5)
