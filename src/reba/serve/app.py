"""The FastAPI application: it wires the routes, the micro-batchers, keys and metrics.

``create_app({"name": Embedder, ...})`` serves each embedder under its name (the OpenAI
request's ``model``; TEI routes use the first). One micro-batcher per name; all of them share
one model thread. Routes: ``openai_routes`` (``/v1/*``), ``explain_routes`` (``/v1/explain``),
``playground`` (``/playground``, with ``--playground``), ``tei`` (``/embed``, ``/``,
``/similarity``, ``/tokenize``, ``/info``), ``/health`` and ``/metrics`` here. Middleware, from
the outside in: metrics, keys (``auth``), the body-size limit (``limits``). The micro-batchers
start in the app's lifespan: inside another app, mount it with ``reba.serve.mount``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from reba.embedder import Embedder
from reba.serve import explain_routes, openai_routes
from reba.serve.auth import BearerAuth
from reba.serve.batcher import MicroBatcher
from reba.serve.errors import install_error_handlers
from reba.serve.limits import BodyLimit
from reba.serve.metrics import CONTENT_TYPE, MetricsMiddleware, ServeMetrics
from reba.serve.openapi import install_openapi
from reba.serve.playground import install_playground
from reba.serve.schemas import ConfigHealth, Health
from reba.serve.settings import ServeSettings
from reba.serve.tei import install_tei

__all__ = ["ServeSettings", "create_app"]


def create_app(
    configs: Mapping[str, Embedder], *, settings: ServeSettings | None = None
) -> FastAPI:
    """An app serving each embedder of ``configs`` under its name."""
    if not configs:
        raise ValueError("create_app needs at least one configuration to serve")
    settings = settings or ServeSettings()
    configs = dict(configs)
    batchers: dict[str, MicroBatcher] = {}
    metrics = ServeMetrics(lambda: batchers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reba-model")
        app.state.executor = executor  # the model thread, also for /v1/explain
        for name, embedder in configs.items():
            batchers[name] = _batcher(embedder, executor, settings, metrics.batch_observer(name))
            batchers[name].start()
        try:
            yield
        finally:  # in-flight and queued requests finish before the model thread stops
            await asyncio.gather(*(b.close() for b in batchers.values()))
            executor.shutdown(wait=True)

    app = FastAPI(
        title="reba embeddings",
        description="OpenAI- and TEI-compatible embeddings from causal language models "
        "(ReBA, Echo, PromptEOL, ...)",
        lifespan=lifespan,
    )
    state = app.state
    state.configs, state.settings, state.batchers = configs, settings, batchers
    state.metrics, state.created, state.tei_model = metrics, int(time.time()), next(iter(configs))
    install_error_handlers(app)
    app.include_router(openai_routes.router)
    app.include_router(explain_routes.router)
    install_tei(app)
    if settings.playground:
        install_playground(app)
    _add_health_and_metrics(app)
    install_openapi(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.api_keys:  # outside the body limit: a keyless request is refused unread
        app.add_middleware(
            BearerAuth, keys=settings.api_keys, public_metrics=settings.public_metrics
        )
    paths = frozenset(path for path in app.openapi()["paths"] if "{" not in path)
    app.add_middleware(MetricsMiddleware, metrics=metrics, paths=paths)  # outermost: sees 401s
    return app


def _batcher(embedder, executor, settings: ServeSettings, on_batch) -> MicroBatcher:
    return MicroBatcher(
        embedder,
        executor,
        max_wait_ms=settings.max_wait_ms,
        max_batch_items=settings.max_batch_items,
        max_queue=settings.max_queue,
        batch_size=settings.batch_size,
        packing=settings.packing,
        on_batch=on_batch,
    )


def _add_health_and_metrics(app: FastAPI) -> None:
    @app.get("/health", response_model=Health, tags=["operations"])
    async def health(request: Request) -> Health:
        """Per-configuration request, item and batch counts; always open (no key)."""
        batchers = request.app.state.batchers
        models = {
            name: ConfigHealth(
                model=embedder.model_name,
                method=embedder.method,
                k=embedder.k,
                dimension=embedder.dimension,
                requests=batchers[name].stats.requests,
                items=batchers[name].stats.items,
                batches=batchers[name].stats.batches,
                model_seconds=round(batchers[name].stats.model_seconds, 3),
                queued=batchers[name].queued,
            )
            for name, embedder in request.app.state.configs.items()
        }
        draining = any(b.closing for b in batchers.values())
        return Health(status="draining" if draining else "ok", models=models)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={
            200: {
                "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
                "description": "Prometheus text format",
            }
        },
    )
    async def metrics(request: Request) -> Response:
        """Prometheus metrics (see ``reba.serve.metrics``)."""
        return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
