"""``reba serve --api-key`` as a real process, used as a new user would: the openai client with
and without the key, a TEI client, then ``/metrics`` scraped."""

from __future__ import annotations

import httpx
import huggingface_hub.constants
import numpy as np
import openai
import pytest
from huggingface_hub import InferenceClient
from prometheus_client.parser import text_string_to_metric_families

import reba

from .processes import serve_process

KEY = "sk-process-key"
TEXTS = ["hello world", "我们去银行取钱"]


@pytest.fixture
def secured(tmp_path):
    args = ["--model", "tiny-random-llama", "--method", "mean", "--device", "cpu"]
    with serve_process(args, tmp_path / "server.log", env={"REBA_API_KEY": KEY}) as url:
        yield url
    assert "1 API key required" in (tmp_path / "server.log").read_text()


def test_a_secured_server_process(secured, monkeypatch):
    name = "tiny-random-llama-mean-k1"
    with openai.OpenAI(base_url=f"{secured}/v1", api_key=KEY, max_retries=0) as client:
        out = client.embeddings.create(model=name, input=TEXTS, encoding_format="float")
    wrong = openai.OpenAI(base_url=f"{secured}/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.embeddings.create(model=name, input=TEXTS)
    expected = reba.Embedder("tiny-random-llama", method="mean").encode(TEXTS)
    np.testing.assert_allclose([d.embedding for d in out.data], expected, atol=1e-6, rtol=0)

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # loopback only
    tei = InferenceClient(base_url=secured, api_key=KEY).feature_extraction(TEXTS[1])
    unit = expected[1] / np.linalg.norm(expected[1])
    np.testing.assert_allclose(tei[0], unit, atol=1e-6)

    assert httpx.get(f"{secured}/metrics").status_code == 401
    metrics = httpx.get(f"{secured}/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
    samples = {
        (s.name, s.labels.get("route"), s.labels.get("status")): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
    }
    assert samples[("reba_requests_total", "/v1/embeddings", "200")] == 1
    assert samples[("reba_requests_total", "/v1/embeddings", "401")] == 1
    assert samples[("reba_requests_total", "/", "200")] == 1
    assert samples[("reba_texts_total", None, None)] == 3
