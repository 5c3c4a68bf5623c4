"""A tiny-model embedding server in a background thread, shared by the tests of a module."""

from __future__ import annotations

import httpx
import openai
import pytest
from tiny_models import make_model

import reba
from reba.serve import ServeSettings, create_app, serve_in_thread

# Small limits so the limit tests are cheap; a long wait so concurrent requests share batches.
SETTINGS = ServeSettings(max_items=8, max_chars=300, max_wait_ms=100, max_batch_items=64)


@pytest.fixture(scope="session")
def tiny_lm():
    return reba.wrap_model(*make_model("llama"), name="tiny")


@pytest.fixture(scope="session")
def configs(tiny_lm):
    return {
        "tiny-reba-k2": reba.Embedder(tiny_lm, method="reba", k=2),
        "tiny-mean-k1": reba.Embedder(tiny_lm, method="mean"),
    }


@pytest.fixture(scope="module")
def server(configs):
    app = create_app(configs, settings=SETTINGS)
    with serve_in_thread(app) as running:
        running.app = app
        yield running


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0) as c:
        yield c


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def batches(app, name: str = "tiny-reba-k2") -> int:
    return app.state.batchers[name].stats.batches
