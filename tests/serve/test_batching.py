"""Concurrent requests share model batches, each gets its own rows, a bad one fails alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import openai
import pytest

from reba.serve import ServeSettings, create_app, serve_in_thread

WORDS = [
    "bank",
    "river",
    "bat",
    "cave",
    "ball",
    "fence",
    "rates",
    "boats",
    "dusk",
    "swung",
    "watched",
    "interest",
]


def texts_for(i: int) -> list[str]:
    """1-3 different texts per request, so rows can't be mixed up unnoticed."""
    return [f"{WORDS[i % 12]} {WORDS[(i * 5 + j) % 12]} number {i}-{j}" for j in range(i % 3 + 1)]


def burst(client, inputs: list[list[str]]) -> list[object]:
    """Send every request at once from its own thread; results (or exceptions) in order."""
    barrier = threading.Barrier(len(inputs))

    def send(texts):
        barrier.wait()
        try:
            return client.embeddings.create(
                model="tiny-reba-k2", input=texts, encoding_format="float"
            )
        except openai.APIError as err:
            return err

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(send, inputs))


def test_concurrent_requests_get_their_own_rows_in_few_batches(server, client, configs):
    inputs = [texts_for(i) for i in range(16)]
    before = server.app.state.batchers["tiny-reba-k2"].stats.batches
    results = burst(client, inputs)
    used = server.app.state.batchers["tiny-reba-k2"].stats.batches - before
    for texts, result in zip(inputs, results):
        assert not isinstance(result, Exception), result
        got = np.array([d.embedding for d in result.data])
        np.testing.assert_allclose(got, configs["tiny-reba-k2"].encode(texts), atol=1e-6, rtol=0)
    assert 1 <= used < len(inputs)


def test_a_bad_request_in_a_burst_fails_alone(server, client, configs):
    inputs = [texts_for(i) for i in range(12)]
    inputs[5] = ["a good one", "", "another good one"]
    before = server.app.state.batchers["tiny-reba-k2"].stats.batches
    results = burst(client, inputs)
    used = server.app.state.batchers["tiny-reba-k2"].stats.batches - before
    bad = results[5]
    assert isinstance(bad, openai.BadRequestError)
    assert bad.param == "input" and "item 1" in bad.message
    for i, (texts, result) in enumerate(zip(inputs, results)):
        if i != 5:
            assert not isinstance(result, Exception), result
            got = np.array([d.embedding for d in result.data])
            expected = configs["tiny-reba-k2"].encode(texts)
            np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    assert used < len(inputs)


class SlowEmbedder:
    """A real embedder whose model calls take at least ``seconds``."""

    def __init__(self, embedder, seconds: float):
        self.inner, self.seconds = embedder, seconds

    def embed(self, items, **options):
        time.sleep(self.seconds)
        return self.inner.embed(items, **options)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_shutdown_finishes_in_flight_and_queued_requests(configs):
    slow = SlowEmbedder(configs["tiny-reba-k2"], 0.5)
    settings = ServeSettings(max_wait_ms=0, max_batch_items=1)
    app = create_app({"slow": slow}, settings=settings)
    with serve_in_thread(app) as running:
        batcher = app.state.batchers["slow"]

        def post(text):
            body = {"model": "slow", "input": text}
            return httpx.post(f"{running.url}/v1/embeddings", json=body, timeout=30)

        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(post, "first text")
            _wait_for(lambda: batcher.stats.batches == 1)  # the first is in the model
            second = pool.submit(post, "second text")
            _wait_for(lambda: batcher.queued == 1)  # the second waits for the next batch
            running.stop()  # what uvicorn does on SIGTERM
            responses = [first.result(), second.result()]
    assert [r.status_code for r in responses] == [200, 200]
    assert batcher.stats.batches == 2 and batcher.closing
    expected = configs["tiny-reba-k2"].encode(["first text", "second text"])
    got = np.array([r.json()["data"][0]["embedding"] for r in responses])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.005)


class BrokenEmbedder(SlowEmbedder):
    def embed(self, items, **options):
        raise RuntimeError("the model fell over")


def test_a_model_crash_is_a_500_in_the_openai_shape(configs):
    app = create_app({"broken": BrokenEmbedder(configs["tiny-reba-k2"], 0)})
    with serve_in_thread(app, log_level="critical") as running:
        response = httpx.post(
            f"{running.url}/v1/embeddings", json={"model": "broken", "input": "a"}, timeout=30
        )
        health = httpx.get(f"{running.url}/health", timeout=30)
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    assert "RuntimeError" in response.json()["error"]["message"]
    assert health.status_code == 200  # the server goes on


def test_a_full_queue_is_429_with_retry_after(configs):
    slow = SlowEmbedder(configs["tiny-reba-k2"], 0.5)
    settings = ServeSettings(max_wait_ms=0, max_batch_items=1, max_queue=1)
    app = create_app({"slow": slow}, settings=settings)
    with serve_in_thread(app) as running, ThreadPoolExecutor(2) as pool:
        batcher = app.state.batchers["slow"]
        client = openai.OpenAI(base_url=f"{running.url}/v1", api_key="x", max_retries=0)
        first = pool.submit(client.embeddings.create, model="slow", input="one")
        _wait_for(lambda: batcher.stats.batches == 1)
        second = pool.submit(client.embeddings.create, model="slow", input="two")
        _wait_for(lambda: batcher.queued == 1)
        with pytest.raises(openai.RateLimitError) as caught:
            client.embeddings.create(model="slow", input="three")
        assert caught.value.code == "queue_full"
        assert caught.value.response.headers["retry-after"] == "1"
        assert len(first.result().data) == len(second.result().data) == 1
