"""Every bad request gets a 4xx in the OpenAI error shape, naming what is wrong."""

from __future__ import annotations

import json

import openai
import pytest

from reba.serve.schemas import TOKEN_IDS_MESSAGE


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_unknown_model_is_404_model_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="nope", input="hello")
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    assert caught.value.type == "invalid_request_error"
    assert "nope" in caught.value.message and "tiny-reba-k2" in caught.value.message


def test_unknown_model_retrieve_is_404(client):
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


def test_empty_text_is_400_naming_the_item(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="tiny-reba-k2", input=["fine", "   ", "also fine"])
    assert caught.value.param == "input"
    assert "item 1" in caught.value.message
    assert "empty" in caught.value.message


def test_too_many_items_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="tiny-reba-k2", input=["a text"] * 9)
    assert caught.value.code == "too_many_items"
    assert "at most 8" in caught.value.message


def test_too_long_item_is_400_naming_it(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="tiny-reba-k2", input=["short", "x" * 301])
    assert caught.value.code == "item_too_long"
    assert "item 1" in caught.value.message and "301" in caught.value.message


@pytest.mark.parametrize("dimensions", [0, -1, 33])
def test_impossible_dimensions_is_400(client, dimensions):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="tiny-reba-k2", input="hello", dimensions=dimensions)
    assert caught.value.param == "dimensions"


@pytest.mark.parametrize("tokens", [[1, 2, 3], [[1, 2], [3]]])
def test_token_id_arrays_are_rejected(client, tokens):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="tiny-reba-k2", input=tokens)
    assert caught.value.body["message"] == TOKEN_IDS_MESSAGE
    assert caught.value.param == "input"


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"model": "tiny-reba-k2", "input": 12}, "input", "string or a list of strings"),
        ({"model": "tiny-reba-k2", "input": ["a", 3]}, "input", "item 1 must be a string"),
        ({"model": "tiny-reba-k2", "input": []}, "input", "empty"),
        ({"model": "tiny-reba-k2", "input": None}, "input", "got null"),
        ({"model": "tiny-reba-k2"}, "input", "required"),
        ({"input": "a"}, "model", "required"),
        ({"model": 3, "input": "a"}, "model", "string"),
        ({"model": "tiny-reba-k2", "input": "a", "dimensions": "4"}, "dimensions", "integer"),
        ({"model": "tiny-reba-k2", "input": "a", "dimensions": True}, "dimensions", "integer"),
        ({"model": "tiny-reba-k2", "input": "a", "encoding_format": "int8"}, "encoding_format", ""),
        ({"model": "tiny-reba-k2", "input": ["ok", "a\ud800b"]}, "input", "item 1"),
    ],
)
def test_wrong_types_are_400_not_422(http, body, param, words):
    content = json.dumps(body)  # ASCII-escaped, so a lone surrogate travels as \ud800
    headers = {"content-type": "application/json"}
    error = error_of(http.post("/v1/embeddings", content=content, headers=headers), 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert words in error["message"]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"model": "tiny-reba-k2", "input": ', {"content-type": "application/json"}),
        (b"[1, 2]", {"content-type": "application/json"}),
        (b"", {"content-type": "application/json"}),
        (b'"just a string"', {"content-type": "application/json"}),
        (b'{"model": "tiny-reba-k2", "input": "\xff\xfe"}', {"content-type": "application/json"}),
        (b'{"model": "tiny-reba-k2", "input": "a"}', {"content-type": "text/plain"}),
    ],
)
def test_malformed_bodies_are_400(http, content, headers):
    error = error_of(http.post("/v1/embeddings", content=content, headers=headers), 400)
    assert error["type"] == "invalid_request_error"
    assert error["message"]


def test_unknown_route_and_method_keep_the_shape(http):
    assert error_of(http.get("/v2/nothing"), 404)["message"] == "No route GET /v2/nothing"
    assert "not allowed" in error_of(http.get("/v1/embeddings"), 405)["message"]


def test_extra_fields_and_user_are_ignored(http):
    body = {"model": "tiny-reba-k2", "input": "a", "user": {"id": 3}, "extra": [1]}
    response = http.post("/v1/embeddings", json=body)
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
