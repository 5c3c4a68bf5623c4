"""``reba serve --api-key`` as a real process, used as a new user would: the openai client with
and without the key, a TEI client, then ``/metrics`` scraped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import huggingface_hub.constants
import numpy as np
import openai
import pytest
from huggingface_hub import InferenceClient
from prometheus_client.parser import text_string_to_metric_families

import reba

SRC = Path(__file__).resolve().parents[2] / "src"
KEY = "sk-process-key"
TEXTS = ["hello world", "我们去银行取钱"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def secured(tmp_path):
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    env = {**os.environ, "PYTHONPATH": str(SRC), "REBA_API_KEY": KEY}
    command = [sys.executable, "-m", "reba.cli.main", "serve", "--model", "tiny-random-llama"]
    command += ["--method", "mean", "--port", str(port), "--device", "cpu"]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not come up"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:  # open, no key
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
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
