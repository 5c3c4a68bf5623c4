"""/v1/embeddings answers what Embedder.encode gives, in the OpenAI shape, via the openai client."""

from __future__ import annotations

import base64

import numpy as np
import pytest

TEXTS = [
    "The bank raised interest rates again this year.",
    "我们去银行取钱，然后去河边散步。",
    "A bat flew out of the cave at dusk.",
]


@pytest.mark.parametrize("name", ["tiny-reba-k2", "tiny-mean-k1"])
def test_float_embeddings_equal_encode(client, configs, name):
    response = client.embeddings.create(model=name, input=TEXTS, encoding_format="float")
    assert response.object == "list" and response.model == name
    assert [d.index for d in response.data] == [0, 1, 2]
    assert all(d.object == "embedding" for d in response.data)
    got = np.array([d.embedding for d in response.data])
    np.testing.assert_allclose(got, configs[name].encode(TEXTS), atol=1e-6, rtol=0)


def test_base64_decoded_by_the_client_equals_encode(client, configs):
    # Without encoding_format the client asks for base64 and decodes it itself.
    response = client.embeddings.create(model="tiny-reba-k2", input=TEXTS)
    got = np.array([d.embedding for d in response.data])
    np.testing.assert_allclose(got, configs["tiny-reba-k2"].encode(TEXTS), atol=1e-6, rtol=0)


def test_explicit_base64_is_little_endian_float32(client, configs):
    response = client.embeddings.create(model="tiny-reba-k2", input=TEXTS, encoding_format="base64")
    raw = [d.embedding for d in response.data]
    assert all(isinstance(r, str) for r in raw)
    got = np.stack([np.frombuffer(base64.b64decode(r), dtype="<f4") for r in raw])
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), configs["tiny-reba-k2"].dimension)
    # The server packs texts into shared rows: equal to encode to float32 rounding.
    np.testing.assert_allclose(got, configs["tiny-reba-k2"].encode(TEXTS), atol=1e-6, rtol=0)


def test_a_single_string_is_one_item(client, configs):
    response = client.embeddings.create(
        model="tiny-reba-k2", input=TEXTS[1], encoding_format="float"
    )
    assert len(response.data) == 1
    expected = configs["tiny-reba-k2"].encode(TEXTS[1])
    np.testing.assert_allclose(response.data[0].embedding, expected, atol=1e-6, rtol=0)


def test_usage_counts_the_text_tokens(client, tiny_lm):
    response = client.embeddings.create(model="tiny-reba-k2", input=TEXTS, encoding_format="float")
    tokens = sum(len(tiny_lm.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in TEXTS)
    assert tokens > len(TEXTS)
    assert response.usage.prompt_tokens == tokens
    assert response.usage.total_tokens == tokens


@pytest.mark.parametrize("dimensions", [1, 5, 32])
def test_dimensions_keeps_the_first_values_renormalised(client, configs, dimensions):
    response = client.embeddings.create(
        model="tiny-reba-k2", input=TEXTS, dimensions=dimensions, encoding_format="float"
    )
    got = np.array([d.embedding for d in response.data])
    full = configs["tiny-reba-k2"].encode(TEXTS)[:, :dimensions]
    expected = full / np.linalg.norm(full, axis=1, keepdims=True)
    assert got.shape == (3, dimensions)
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-6)


def test_models_lists_the_served_names(client, http):
    assert sorted(m.id for m in client.models.list()) == ["tiny-mean-k1", "tiny-reba-k2"]
    assert client.models.retrieve("tiny-mean-k1").id == "tiny-mean-k1"
    body = http.get("/v1/models").json()
    assert body["object"] == "list"
    assert {m["object"] for m in body["data"]} == {"model"}


def test_health(http):
    response = http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["models"]["tiny-reba-k2"]["method"] == "reba"
    assert body["models"]["tiny-reba-k2"]["k"] == 2
    assert body["models"]["tiny-mean-k1"]["dimension"] == 32
