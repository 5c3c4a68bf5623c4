"""The FastAPI application: OpenAI-compatible ``/v1/embeddings`` and ``/v1/models``, ``/health``.

``create_app({"name": Embedder, ...})`` serves each embedder under its name (the request's
``model``). One micro-batcher per name; all of them share one model thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from pydantic_core import to_json

from reba.embedder import Embedder
from reba.serve.batcher import BatcherClosed, ItemsRejected, MicroBatcher, QueueFull
from reba.serve.errors import APIError, install_error_handlers, items_rejected, model_not_found
from reba.serve.schemas import (
    ConfigHealth,
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorResponse,
    Health,
    ModelCard,
    ModelList,
)
from reba.serve.vectors import shape_vectors, to_base64, to_floats


@dataclass(frozen=True)
class ServeSettings:
    """Limits and batching; every limit answers 4xx, never 500 or a hung connection."""

    max_items: int = 2048  # texts per request (-> 400)
    max_chars: int = 8192  # characters per text (-> 400 naming the item)
    max_queue: int = 1024  # requests waiting per configuration (-> 429)
    max_wait_ms: float = 50.0  # longest wait for company (only when company is expected)
    max_batch_items: int = 128  # texts per micro-batch (a larger request runs alone)
    batch_size: int = 16  # Embedder.embed batch size (model rows) within a micro-batch
    packing: bool = True  # several short texts per model row (reba.packing)
    normalize: bool = False  # L2-normalise every returned vector


_ERRORS = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in [
        (400, "invalid request, or an item that cannot be embedded"),
        (404, "unknown model"),
        (429, "too many queued requests"),
        (503, "shutting down"),
    ]
}


def create_app(
    configs: Mapping[str, Embedder], *, settings: ServeSettings | None = None
) -> FastAPI:
    """An app serving each embedder of ``configs`` under its name."""
    if not configs:
        raise ValueError("create_app needs at least one configuration to serve")
    settings = settings or ServeSettings()
    configs = dict(configs)
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reba-model")
        batchers = {
            name: MicroBatcher(
                embedder,
                executor,
                max_wait_ms=settings.max_wait_ms,
                max_batch_items=settings.max_batch_items,
                max_queue=settings.max_queue,
                batch_size=settings.batch_size,
                packing=settings.packing,
            )
            for name, embedder in configs.items()
        }
        for batcher in batchers.values():
            batcher.start()
        app.state.batchers = batchers
        try:
            yield
        finally:  # in-flight and queued requests finish before the model thread stops
            await asyncio.gather(*(b.close() for b in batchers.values()))
            executor.shutdown(wait=True)

    app = FastAPI(
        title="reba embeddings",
        description="OpenAI-compatible embeddings from causal language models (ReBA, Echo, ...)",
        lifespan=lifespan,
    )
    app.state.configs = configs
    app.state.settings = settings
    install_error_handlers(app)

    @app.post("/v1/embeddings", response_model=EmbeddingResponse, responses=_ERRORS)
    async def create_embeddings(body: EmbeddingRequest, request: Request) -> Response:
        embedder = configs.get(body.model)
        if embedder is None:
            raise model_not_found(body.model, list(configs))
        check_limits(body, settings, embedder.dimension)
        try:
            out = await request.app.state.batchers[body.model].submit(body.input)
        except ItemsRejected as err:
            raise items_rejected(err.failures) from None
        except QueueFull as err:
            raise APIError(429, str(err), code="queue_full", headers={"Retry-After": "1"}) from None
        except BatcherClosed as err:
            raise APIError(503, str(err), code="shutting_down") from None
        vectors = shape_vectors(out.embeddings, body.dimensions, settings.normalize)
        encode = to_base64 if body.encoding_format == "base64" else to_floats
        tokens = int(out.token_counts.sum())
        payload = {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": encode(v)}
                for i, v in enumerate(vectors)
            ],
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Response(to_json(payload), media_type="application/json")

    @app.get("/v1/models", response_model=ModelList)
    async def list_models() -> ModelList:
        return ModelList(data=[ModelCard(id=name, created=created) for name in configs])

    @app.get("/v1/models/{model:path}", response_model=ModelCard, responses=_ERRORS)
    async def retrieve_model(model: str) -> ModelCard:
        if model not in configs:
            raise model_not_found(model, list(configs))
        return ModelCard(id=model, created=created)

    @app.get("/health", response_model=Health)
    async def health(request: Request) -> Health:
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
            for name, embedder in configs.items()
        }
        draining = any(b.closing for b in batchers.values())
        return Health(status="draining" if draining else "ok", models=models)

    return app


def check_limits(body: EmbeddingRequest, settings: ServeSettings, dimension: int) -> None:
    """400 for requests over the server's limits or asking for impossible ``dimensions``."""
    if len(body.input) > settings.max_items:
        raise APIError(
            400,
            f"`input` has {len(body.input)} items; this server accepts at most "
            f"{settings.max_items} per request",
            param="input",
            code="too_many_items",
        )
    for index, text in enumerate(body.input):
        if len(text) > settings.max_chars:
            raise APIError(
                400,
                f"input item {index} has {len(text)} characters; this server accepts at most "
                f"{settings.max_chars} per item",
                param="input",
                code="item_too_long",
            )
    if body.dimensions is not None and not 1 <= body.dimensions <= dimension:
        raise APIError(
            400,
            f"`dimensions` must be between 1 and {dimension} for model {body.model!r}, "
            f"got {body.dimensions}",
            param="dimensions",
            code="invalid_dimensions",
        )
