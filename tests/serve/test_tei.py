"""TEI-compatible routes: huggingface_hub's InferenceClient (a real TEI client) and TEI's
documented request/response/error shapes, against values computed with Embedder.encode."""

from __future__ import annotations

import httpx
import huggingface_hub.constants
import numpy as np
import pytest
from huggingface_hub import InferenceClient

import reba
from reba.serve import ServeSettings, create_app, serve_in_thread

TEXTS = ["What is Deep Learning?", "我们去银行取钱", "A bat flew out of the cave at dusk."]
SETTINGS = ServeSettings(max_items=8, max_chars=300, prompts={"query": "query: "})


@pytest.fixture(scope="module")
def tei(tiny_lm):
    embedder = reba.Embedder(tiny_lm, method="reba", k=2)
    app = create_app({"tiny-reba-k2": embedder}, settings=SETTINGS)
    with serve_in_thread(app) as running:
        running.embedder = embedder
        yield running


@pytest.fixture
def client_online(monkeypatch):
    """The suite runs with HF_HUB_OFFLINE=1, which blocks every huggingface_hub request; these
    clients only talk to the loopback server (a base_url, no hub look-up)."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)


def test_inference_client_feature_extraction(tei, client_online):
    client = InferenceClient(base_url=tei.url)  # posts {"inputs": ...} to the root, as to TEI
    got = client.feature_extraction(TEXTS[0])
    assert got.shape == (1, 32) and got.dtype == np.float32
    np.testing.assert_allclose(got[0], unit(tei.embedder.encode(TEXTS[0])), atol=1e-6)
    raw = client.feature_extraction(TEXTS[1], normalize=False)
    np.testing.assert_allclose(raw[0], tei.embedder.encode(TEXTS[1]), atol=1e-6, rtol=0)


def test_inference_client_sentence_similarity(tei, client_online):
    client = InferenceClient(base_url=f"{tei.url}/similarity")
    scores = client.sentence_similarity(TEXTS[0], other_sentences=TEXTS[1:])
    vectors = unit(tei.embedder.encode(TEXTS))
    np.testing.assert_allclose(scores, vectors[1:] @ vectors[0], atol=1e-6)


def test_embed_documented_example_and_batch(tei):
    # TEI's README: curl 127.0.0.1:8080/embed -d '{"inputs":"What is Deep Learning?"}'
    one = httpx.post(f"{tei.url}/embed", json={"inputs": "What is Deep Learning?"}, timeout=30)
    assert one.status_code == 200 and len(one.json()) == 1 and len(one.json()[0]) == 32
    body = {"inputs": TEXTS, "normalize": False, "truncate": False, "truncation_direction": "Right"}
    batch = httpx.post(f"{tei.url}/embed", json=body, timeout=30)
    assert batch.status_code == 200, batch.text
    np.testing.assert_allclose(batch.json(), tei.embedder.encode(TEXTS), atol=1e-6, rtol=0)
    root = httpx.post(f"{tei.url}/", json={"inputs": TEXTS}, timeout=30).json()
    np.testing.assert_allclose(root, unit(tei.embedder.encode(TEXTS)), atol=1e-6)
    short = httpx.post(f"{tei.url}/embed", json={"inputs": TEXTS, "dimensions": 4}, timeout=30)
    np.testing.assert_allclose(short.json(), unit(tei.embedder.encode(TEXTS)[:, :4]), atol=1e-6)


def test_prompt_name_puts_the_prompt_before_the_text(tei):
    body = {"inputs": TEXTS[:2], "normalize": False, "prompt_name": "query"}
    got = httpx.post(f"{tei.url}/embed", json=body, timeout=30).json()
    expected = tei.embedder.encode(["query: " + t for t in TEXTS[:2]])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_tokenize_matches_the_tokenizer(tei, tiny_lm):
    got = httpx.post(f"{tei.url}/tokenize", json={"inputs": TEXTS[:2]}, timeout=30).json()
    assert len(got) == 2
    for text, tokens in zip(TEXTS[:2], got):
        expected = tiny_lm.tokenizer(text)["input_ids"]  # with the BOS, as TEI's default
        assert [t["id"] for t in tokens] == expected
        assert tokens[0] == {"id": 1, "text": "<s>", "special": True, "start": None, "stop": None}
        assert set(tokens[1]) == {"id", "text", "special", "start", "stop"}
        assert all(t["text"] == text[t["start"] : t["stop"]] for t in tokens[1:])
    plain = httpx.post(
        f"{tei.url}/tokenize", json={"inputs": TEXTS[0], "add_special_tokens": False}, timeout=30
    ).json()
    assert [t["id"] for t in plain[0]] == tiny_lm.tokenizer(TEXTS[0], add_special_tokens=False)[
        "input_ids"
    ]


def test_info(tei):
    info = httpx.get(f"{tei.url}/info", timeout=30).json()
    assert info["model_id"] == "tiny-reba-k2"
    assert info["model_type"] == {"embedding": {"pooling": "reba"}}
    assert info["model_dtype"] == "float32"
    assert info["max_client_batch_size"] == 8 and info["max_input_length"] == 512
    assert info["auto_truncate"] is False and info["version"] == reba.__version__


@pytest.mark.parametrize(
    ("path", "body", "status", "error_type", "words"),
    [
        ("/embed", {"inputs": []}, 400, "Empty", "`inputs` cannot be empty"),
        ("/embed", {"inputs": ["a"] * 9}, 413, "Validation", "batch size 9 > maximum allowed"),
        ("/embed", {"inputs": ["fine", " "]}, 413, "Validation", "item 1"),
        ("/embed", {"inputs": "x" * 301}, 413, "Validation", "301 characters"),
        ("/embed", {"inputs": "a", "prompt_name": "nope"}, 413, "Validation", "`nope`"),
        ("/embed", {"inputs": [1, 2]}, 422, "Validation", "token ids"),
        ("/embed", {"inputs": "a", "normalize": "yes"}, 422, "Validation", "normalize"),
        ("/embed", {"inputs": "a", "truncation_direction": "Left"}, 422, "Validation", ""),
        ("/embed", {"text": "a"}, 422, "Validation", "`inputs` is required"),
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": []}}, 400, "Empty", ""),
        ("/tokenize", {"inputs": []}, 400, "Empty", "cannot be empty"),
    ],
)
def test_errors_have_tei_shape_and_status(tei, path, body, status, error_type, words):
    response = httpx.post(f"{tei.url}{path}", json=body, timeout=30)
    assert response.status_code == status, response.text
    assert response.json().keys() == {"error", "error_type"}
    assert response.json()["error_type"] == error_type
    assert words in response.json()["error"]


def test_malformed_json_is_422_validation(tei):
    response = httpx.post(
        f"{tei.url}/embed", content=b'{"inputs": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error_type"] == "Validation"
