"""Truncation by request: a too-long text is a 400 (TEI: 413) unless the request asks for
``truncate``; then it is cut the reba way (before repeating) and reported."""

from __future__ import annotations

import httpx
import numpy as np
import openai
import pytest

import reba
from reba.serve import ServeSettings, create_app, serve_in_thread

LONG = "The bank raised interest rates again this year and we sat on the river bank."
SHORT = "A bat flew."
MAX_LENGTH = 16  # reba k=2 with a BOS: (16 - 1) // 2 = 7 text tokens per copy


@pytest.fixture(scope="module")
def short_server(tiny_lm):
    embedder = reba.Embedder(tiny_lm, method="reba", k=2, max_length=MAX_LENGTH)
    app = create_app({"short": embedder}, settings=ServeSettings(max_items=8, max_chars=300))
    with serve_in_thread(app) as running:
        running.embedder = embedder
        yield running


def cut_text(tiny_lm) -> str:
    """LONG cut to 7 tokens, independently of the engine: decode the first tokens."""
    ids = tiny_lm.tokenizer(LONG, add_special_tokens=False)["input_ids"]
    assert len(ids) > 7
    text = tiny_lm.tokenizer.decode(ids[:7])
    assert tiny_lm.tokenizer(text, add_special_tokens=False)["input_ids"] == ids[:7]
    return text


def test_openai_too_long_is_400_naming_the_item(short_server):
    client = openai.OpenAI(base_url=f"{short_server.url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="short", input=[SHORT, LONG])
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.param == "input"
    assert (
        "input item 1 is longer" in caught.value.message
        and "16 model tokens" in caught.value.message
    )


def test_openai_truncate_cuts_before_repeating_and_reports(short_server, tiny_lm):
    client = openai.OpenAI(base_url=f"{short_server.url}/v1", api_key="x", max_retries=0)
    raw = client.embeddings.with_raw_response.create(
        model="short", input=[SHORT, LONG], encoding_format="float", extra_body={"truncate": True}
    )
    assert raw.headers["x-truncated-inputs"] == "1"
    got = np.array([d.embedding for d in raw.parse().data])
    full = reba.Embedder(tiny_lm, method="reba", k=2)  # no max_length: nothing is cut
    expected = full.encode([SHORT, cut_text(tiny_lm)])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    assert not np.allclose(got[1], full.encode(LONG), atol=1e-3)
    plain = client.embeddings.with_raw_response.create(
        model="short", input=[SHORT], extra_body={"truncate": True}
    )
    assert "x-truncated-inputs" not in plain.headers


def test_tei_truncate(short_server, tiny_lm):
    url = f"{short_server.url}/embed"
    refused = httpx.post(url, json={"inputs": [SHORT, LONG]}, timeout=30)
    assert refused.status_code == 413
    assert refused.json()["error_type"] == "Validation" and "item 1" in refused.json()["error"]
    body = {"inputs": [LONG], "truncate": True, "normalize": False}
    cut = httpx.post(url, json=body, timeout=30)
    assert cut.status_code == 200 and cut.headers["x-truncated-inputs"] == "0"
    expected = reba.Embedder(tiny_lm, method="reba", k=2).encode([cut_text(tiny_lm)])
    np.testing.assert_allclose(cut.json(), expected, atol=1e-6, rtol=0)


def test_too_long_is_found_by_the_tokenizer_before_any_forward_pass(short_server, tiny_lm):
    """The refused items are those whose 2 copies and BOS exceed 16 tokens, counted here with
    the tokenizer alone; the model is never called for the refused request."""
    texts = [SHORT, LONG, "We sat on the river.", "A bat flew out of the cave at dusk.", "x"]
    counts = [len(tiny_lm.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    over = [i for i, n in enumerate(counts) if 1 + 2 * n > MAX_LENGTH]
    assert over and len(over) < len(texts)
    stats = short_server.server.config.app.state.batchers["short"].stats
    before = (stats.batches, stats.items, stats.model_seconds)
    body = {"model": "short", "input": texts}
    refused = httpx.post(f"{short_server.url}/v1/embeddings", json=body, timeout=30)
    assert (
        refused.status_code == 400 and refused.json()["error"]["code"] == "context_length_exceeded"
    )
    named = refused.json()["error"]["message"].split(" are longer")[0].removeprefix("input items ")
    assert [int(i) for i in named.split(", ")] == over
    tei = httpx.post(f"{short_server.url}/embed", json={"inputs": texts}, timeout=30)
    assert tei.status_code == 413 and tei.json()["error_type"] == "Validation"
    assert (stats.batches, stats.items, stats.model_seconds) == before


@pytest.mark.parametrize(
    ("method", "max_length"),
    [("reba", 60), ("echo", 60), ("prompteol", 60), ("pcot", 60), ("mean", 20), ("ke+cp", 160)],
)
def test_the_tokenizer_only_check_agrees_with_the_engine(tiny_lm, method, max_length):
    texts = [SHORT, LONG, "我们去银行取钱，然后去河边散步。", "x", LONG * 2]
    embedder = reba.Embedder(tiny_lm, method=method, max_length=max_length)
    found = embedder.truncated(texts)
    assert found == embedder.embed(texts).truncated
    assert found  # the check is not vacuous
