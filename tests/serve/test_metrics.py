"""``GET /metrics`` scraped after a load sent with the real openai client: every count equals
what was sent (parsed with prometheus_client's own parser)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reba.serve import ServeSettings, create_app, serve_in_thread

WORDS = ["bank", "river", "bat", "cave", "ball", "fence", "rates", "boats"]


def requests_to_send() -> list[list[str]]:
    return [
        [f"{WORDS[i % 8]} {WORDS[(3 * i + j) % 8]} {i}.{j}" for j in range(i % 3 + 1)]
        for i in range(24)
    ]


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    response = httpx.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def fresh(configs):
    app = create_app(configs, settings=ServeSettings(max_items=8, max_chars=300, max_wait_ms=20))
    with serve_in_thread(app) as running:
        running.app = app
        yield running


def test_counts_after_a_load_equal_what_was_sent(fresh, tiny_lm):
    sent = requests_to_send()
    with (
        openai.OpenAI(base_url=f"{fresh.url}/v1", api_key="x", max_retries=0) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        list(
            pool.map(
                lambda texts: client.embeddings.create(model="tiny-reba-k2", input=texts), sent
            )
        )
        for _ in range(3):
            with pytest.raises(openai.BadRequestError):
                client.embeddings.create(model="tiny-mean-k1", input=["fine", "  "])
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="nope", input="a")
        client.models.list()
    samples = scrape(fresh.url)
    route = "/v1/embeddings"
    assert (
        value(samples, "reba_requests_total", route=route, model="tiny-reba-k2", status="200") == 24
    )
    assert (
        value(samples, "reba_requests_total", route=route, model="tiny-mean-k1", status="400") == 3
    )
    assert value(samples, "reba_requests_total", route=route, model="-", status="404") == 1
    assert value(samples, "reba_requests_total", route="/v1/models", model="-", status="200") == 1
    assert value(samples, "reba_request_seconds_count", route=route, model="tiny-reba-k2") == 24
    assert value(samples, "reba_request_seconds_sum", route=route, model="tiny-reba-k2") > 0
    texts = [t for request in sent for t in request]
    assert value(samples, "reba_texts_total", model="tiny-reba-k2") == len(texts)
    tokens = sum(len(tiny_lm.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    assert value(samples, "reba_tokens_total", model="tiny-reba-k2") == tokens
    assert value(samples, "reba_texts_total", model="tiny-mean-k1") == 0  # rejected requests
    stats = fresh.app.state.batchers["tiny-reba-k2"].stats
    assert value(samples, "reba_batch_texts_count", model="tiny-reba-k2") == stats.batches
    assert value(samples, "reba_batch_texts_sum", model="tiny-reba-k2") == len(texts)
    assert 1 <= stats.batches < 24  # the load was micro-batched
    assert value(samples, "reba_queue_depth", model="tiny-reba-k2") == 0
    busy = value(samples, "reba_model_busy_seconds_total", model="tiny-reba-k2")
    assert busy == pytest.approx(stats.model_seconds) and busy > 0


def test_a_refused_key_is_counted_under_its_route(configs):
    settings = ServeSettings(api_keys=("k",), public_metrics=True)
    with serve_in_thread(create_app(configs, settings=settings)) as running:
        httpx.post(f"{running.url}/v1/embeddings", json={"model": "tiny-reba-k2", "input": "a"})
        httpx.get(f"{running.url}/nowhere")
        samples = scrape(running.url)
    assert (
        value(samples, "reba_requests_total", route="/v1/embeddings", model="-", status="401") == 1
    )
    # unknown paths need a key too (nothing but the open list answers without one)
    assert value(samples, "reba_requests_total", route="unmatched", model="-", status="401") == 1
