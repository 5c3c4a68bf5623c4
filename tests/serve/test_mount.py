"""reba's app mounted under a prefix in a parent FastAPI app, and behind a proxy's root path:
every route the app serves (enumerated from the app) refuses a keyless request but the open
ones; with a key, embeddings work mounted (the parent's lifespan starts reba's batchers)."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import httpx
import numpy as np
import openai
import pytest
from fastapi import FastAPI

from reba.serve import ServeSettings, create_app, mount, serve_in_thread
from reba.serve.paths import OPEN_PATHS

KEY = "sk-mounted"
SETTINGS = ServeSettings(max_items=8, max_chars=300, api_keys=(KEY,), playground=True)


def served_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, concrete path) of every route of ``app``, path parameters filled in. Included
    routers are walked (FastAPI >= 0.16x keeps them as one entry holding the router); the
    OpenAPI document's operations must all be among them."""
    found = set()

    def walk(routes) -> None:
        for route in routes:
            router = getattr(route, "original_router", None)  # an included router
            if router is not None:
                walk(router.routes)
            elif hasattr(route, "path"):
                found.update((method, route.path) for method in route.methods or ())

    walk(app.routes)
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= {(m, re.sub(r":path}", "}", p)) for m, p in found}, documented
    return sorted((m, re.sub(r"\{[^}]*\}", "tiny-mean-k1", p)) for m, p in found)


@pytest.fixture(scope="module")
def parent(configs):
    events = []

    @asynccontextmanager
    async def own_lifespan(app):
        events.append("parent started")
        yield {"parent_state": 1}
        events.append("parent stopped")

    parent = FastAPI(lifespan=own_lifespan)

    @parent.get("/ping")
    async def ping() -> dict:
        return {"pong": True}

    reba_app = create_app(configs, settings=SETTINGS)
    mount(parent, "/api", reba_app)
    with serve_in_thread(parent) as running:
        running.reba_app, running.events = reba_app, events
        yield running
    assert events == ["parent started", "parent stopped"]


def test_the_route_list_is_the_apps_own(parent):
    routes = served_routes(parent.reba_app)
    assert ("POST", "/v1/embeddings") in routes and ("GET", "/metrics") in routes
    assert len({path for _, path in routes} - OPEN_PATHS) >= 9  # v1, TEI, metrics


def test_mounted_every_route_refuses_a_keyless_request_but_the_open_ones(parent):
    seen_open = set()
    with httpx.Client(base_url=f"{parent.url}/api", timeout=30) as http:
        for method, path in served_routes(parent.reba_app):
            response = http.request(method, path, json={"inputs": "a", "input": "a"})
            if path in OPEN_PATHS:
                assert response.status_code == 200, (method, path, response.text)
                seen_open.add(path)
                continue
            assert response.status_code == 401, (method, path, response.status_code)
            if method != "HEAD":
                assert response.json()["error"]["code"] == "invalid_api_key"
            wrong = http.request(method, path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401, (method, path)
        assert http.post("/v1/not-a-route").status_code == 401  # unknown paths too
    assert seen_open == OPEN_PATHS


def test_mounted_embeddings_work_with_the_key(parent, configs):
    texts = ["hello", "我们去银行取钱"]
    base = f"{parent.url}/api/v1"
    with openai.OpenAI(base_url=base, api_key=KEY, max_retries=0) as client:
        out = client.embeddings.create(model="tiny-reba-k2", input=texts, encoding_format="float")
    expected = configs["tiny-reba-k2"].encode(texts)
    np.testing.assert_allclose([d.embedding for d in out.data], expected, atol=1e-6, rtol=0)
    tei = httpx.post(
        f"{parent.url}/api/embed",
        json={"inputs": texts[1], "normalize": False},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert tei.status_code == 200, tei.text
    np.testing.assert_allclose(tei.json()[0], expected[1], atol=1e-6)
    assert httpx.get(f"{parent.url}/ping").json() == {"pong": True}  # the parent's own route
    assert parent.reba_app.state.batchers["tiny-reba-k2"].stats.items >= 3


def test_behind_a_proxy_root_path_keys_hold(configs):
    """``reba serve --root-path /embeddings``: uvicorn sets the root path and prefixes it."""
    app = create_app(configs, settings=SETTINGS)
    with (
        serve_in_thread(app, root_path="/embeddings") as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        for method, path in served_routes(app):
            status = http.request(method, path, json={"input": "a"}).status_code
            assert status == (200 if path in OPEN_PATHS else 401), (method, path)
        headers = {"Authorization": f"Bearer {KEY}"}
        body = {"model": "tiny-mean-k1", "input": ["x"]}
        answer = http.post("/v1/embeddings", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        expected = configs["tiny-mean-k1"].encode(["x"])
        np.testing.assert_allclose([answer.json()["data"][0]["embedding"]], expected, atol=1e-6)


def test_mount_path_is_checked(configs):
    with pytest.raises(ValueError, match="mount path"):
        mount(FastAPI(), "api/", create_app(configs, settings=SETTINGS))
