"""Cost bounded before work: a body over ``max_body_bytes`` is refused while it is read (413 in
the route's shape), and a request past ``request_timeout`` is answered 503 with its queued work
dropped; the server stays healthy and serves the next request after each."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import numpy as np
import pytest
from tiny_models import make_model

import reba
from reba.serve import ServeSettings, create_app, serve_in_thread

LIMIT = 64 * 1024
BIG = 64 * 1024 * 1024  # 64 MB


@pytest.fixture(scope="module")
def limited(configs):
    settings = ServeSettings(max_items=8, max_chars=300, max_body_bytes=LIMIT)
    with serve_in_thread(create_app(configs, settings=settings)) as running:
        yield running


def chunks(total: int, size: int = 1 << 20):
    """A body without Content-Length (chunked): the server cannot refuse it from the header."""
    yield b'{"input": ["'
    for _ in range(total // size):
        yield b"a" * size


def assert_serving(url: str, configs) -> None:
    assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"
    body = {"model": "tiny-mean-k1", "input": ["after"], "encoding_format": "float"}
    answer = httpx.post(f"{url}/v1/embeddings", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    expected = configs["tiny-mean-k1"].encode(["after"])
    np.testing.assert_allclose([answer.json()["data"][0]["embedding"]], expected, atol=1e-6)


def test_a_declared_64_mb_body_is_answered_413_before_it_is_sent(limited, configs):
    """The status arrives while the client is still sending: the server does not read it."""
    with socket.create_connection((limited.host, limited.port), timeout=10) as sock:
        start = time.monotonic()
        sock.sendall(
            b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {BIG}\r\n\r\n".encode()
            + b'{"input": ["'
            + b"a" * 65536
        )
        head = sock.recv(65536)
        elapsed = time.monotonic() - start
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert elapsed < 1.0, f"413 after {elapsed:.2f} s (machine shared/loaded)"
    assert b'"code":"request_too_large"' in head and b"65536 bytes" in head
    assert_serving(limited.url, configs)


def test_a_64_mb_body_sent_whole_gets_the_openai_413(limited, configs):
    start = time.monotonic()
    response = httpx.post(
        f"{limited.url}/v1/embeddings", content=b"a" * BIG, timeout=30,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert response.status_code == 413 and elapsed < 5.0, (response.text, elapsed)
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_too_large")
    assert "--max-body-bytes" in error["message"]
    assert_serving(limited.url, configs)


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/v1/embeddings", "openai"), ("/embed", "tei"), ("/similarity", "tei"), ("/", "tei")],
)
def test_a_chunked_body_is_refused_while_it_is_read(limited, configs, path, shape):
    start = time.monotonic()
    response = httpx.post(f"{limited.url}{path}", content=chunks(BIG), timeout=30)
    assert response.status_code == 413 and time.monotonic() - start < 5.0
    if shape == "tei":
        assert response.json()["error_type"] == "Validation"
        assert "--max-body-bytes" in response.json()["error"]
    else:
        assert response.json()["error"]["code"] == "request_too_large"
    assert_serving(limited.url, configs)


def test_a_body_under_the_limit_is_served(limited, configs):
    texts = ["x" * 250] * 8  # about 2 kB
    body = {"model": "tiny-mean-k1", "input": texts, "encoding_format": "float"}
    answer = httpx.post(f"{limited.url}/v1/embeddings", json=body, timeout=30)
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def slow():
    """A tiny model whose forward pass sleeps ``delay[0]`` seconds: a busy model thread."""
    lm = reba.wrap_model(*make_model("llama"), name="slow")
    delay = [0.0]
    lm.model.register_forward_pre_hook(lambda module, args: time.sleep(delay[0]))
    embedder = reba.Embedder(lm, method="mean")
    settings = ServeSettings(request_timeout=0.5, max_wait_ms=0, packing=False)
    with serve_in_thread(create_app({"slow": embedder}, settings=settings)) as running:
        running.delay, running.embedder = delay, embedder
        running.stats = running.server.config.app.state.batchers["slow"].stats
        yield running


def post(url: str, results: dict, key: str, path: str = "/v1/embeddings", **body) -> None:
    start = time.monotonic()
    response = httpx.post(f"{url}{path}", json=body, timeout=30)
    results[key] = (response, time.monotonic() - start)


def test_a_request_past_its_deadline_is_answered_and_its_queued_work_dropped(slow):
    slow.delay[0] = 2.0
    results: dict = {}
    first = threading.Thread(
        target=post, args=(slow.url, results, "running"), kwargs={"model": "slow", "input": ["a"]}
    )
    first.start()
    deadline = time.monotonic() + 10
    while slow.stats.batches < 1 and time.monotonic() < deadline:  # the model is now busy
        time.sleep(0.01)
    post(slow.url, results, "queued", model="slow", input=["b", "c", "d"])
    post(slow.url, results, "tei", path="/embed", inputs=["e"])
    health = httpx.get(f"{slow.url}/health", timeout=5)  # the event loop is free meanwhile
    first.join()
    for key in ("running", "queued"):
        response, elapsed = results[key]
        assert response.status_code == 503, (key, response.text)
        assert response.json()["error"]["code"] == "timeout"
        assert "0.5 s" in response.json()["error"]["message"]
        assert elapsed < 1.8, f"{key}: answered after {elapsed:.2f} s (machine shared/loaded)"
    tei, _ = results["tei"]
    assert tei.status_code == 503 and tei.json()["error_type"] == "Overloaded"
    assert health.status_code == 200
    time.sleep(2.5)  # the running batch finishes; the queued requests must not reach the model
    slow.delay[0] = 0.0
    assert (slow.stats.batches, slow.stats.items) == (1, 1)
    answer = httpx.post(
        f"{slow.url}/v1/embeddings", json={"model": "slow", "input": ["next"]}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    expected = slow.embedder.encode(["next"])
    np.testing.assert_allclose([answer.json()["data"][0]["embedding"]], expected, atol=1e-6)
    assert slow.stats.batches == 2 and slow.stats.items == 2
