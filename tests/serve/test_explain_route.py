"""``POST /v1/explain`` and the ``/playground`` page (served over a real socket)."""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest

from reba.serve import ServeSettings, create_app, serve_in_thread

KEY = "sk-playground"
TEXTS = ["我们去银行取钱", "The bank raised rates."]


@pytest.fixture(scope="module")
def locked_playground(configs):
    settings = ServeSettings(max_items=8, max_chars=300, api_keys=(KEY,), playground=True)
    with serve_in_thread(create_app(configs, settings=settings)) as running:
        yield running


@pytest.mark.parametrize("name", ["tiny-reba-k2", "tiny-mean-k1"])
def test_explain_answers_the_embedders_own_explanation(http, configs, name):
    response = http.post("/v1/explain", json={"model": name, "input": TEXTS})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [d["index"] for d in data] == [0, 1]
    for text, got in zip(TEXTS, data):
        expected = configs[name].explain(text)
        assert got["text"] == text and got["label"] == expected.label
        [one] = got["inputs"]
        assert one["tokens"] == expected.inputs[0].tokens
        assert one["segments"] == expected.inputs[0].segments
        np.testing.assert_allclose(one["weights"], expected.inputs[0].weights, atol=1e-6)
        assert got["reconstructs"] is True


def test_explain_a_word_in_context(http, configs):
    body = {"model": "tiny-mean-k1", "input": ["We sat on the river bank."], "word": "bank"}
    [got] = http.post("/v1/explain", json=body).json()["data"]
    one = got["inputs"][0]
    assert "".join(one["tokens"][j] for j in one["word"]).strip() == "bank"
    assert sum(w for j, w in enumerate(one["weights"]) if j not in one["word"]) == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "nope", "input": "x"}, 404, "model_not_found"),
        ({"model": "tiny-mean-k1", "input": ["fine", "  "]}, 400, "invalid_input"),
        ({"model": "tiny-mean-k1", "input": ["x"] * 17}, 400, "too_many_items"),
        ({"model": "tiny-mean-k1", "input": "x" * 301}, 400, "item_too_long"),
        ({"model": "tiny-mean-k1", "input": "no such word", "word": "bank"}, 400, "invalid_input"),
        ({"model": "tiny-mean-k1"}, 400, "invalid_request"),
    ],
)
def test_explain_errors_name_the_problem(http, body, status, code):
    response = http.post("/v1/explain", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if code == "invalid_input":
        assert "item" in error["message"]


def test_explain_is_in_the_openapi_schema_without_422(http):
    document = http.get("/openapi.json").json()
    operation = document["paths"]["/v1/explain"]["post"]
    assert "422" not in operation["responses"] and "400" in operation["responses"]
    request = document["components"]["schemas"]["ExplainRequest"]["properties"]
    assert request["model"]["enum"] == ["tiny-reba-k2", "tiny-mean-k1"]
    assert request["input"]["anyOf"][1]["maxItems"] == 16


def test_the_playground_is_off_by_default(http):
    assert http.get("/playground").status_code == 404


def test_the_playground_page_is_open_but_its_routes_need_the_key(locked_playground):
    with httpx.Client(base_url=locked_playground.url, timeout=30) as http:
        page = http.get("/playground")
        assert page.status_code == 200 and "rebaRender" in page.text
        assert not re.search(r"(src|href)=\"?(https?:)?//", page.text)  # nothing from outside
        body = {"model": "tiny-mean-k1", "input": "x"}
        assert http.post("/v1/explain", json=body).status_code == 401
        document = http.get("/openapi.json").json()
        assert document["paths"]["/v1/explain"]["post"]["security"] == [{"bearerAuth": []}]
        authorized = {"Authorization": f"Bearer {KEY}"}
        assert http.post("/v1/explain", json=body, headers=authorized).status_code == 200
