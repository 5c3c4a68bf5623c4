"""OpenAI-compatible routes: POST /v1/embeddings, GET /v1/models, GET /v1/models/{id}."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic_core import to_json

from reba.serve.batcher import BatcherClosed, ItemsRejected, QueueFull
from reba.serve.errors import APIError, items_rejected, model_not_found
from reba.serve.schemas import (
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorResponse,
    ModelCard,
    ModelList,
)
from reba.serve.service import (
    DeadlineExceeded,
    InputsTooLong,
    LimitExceeded,
    check_texts,
    embed_texts,
    set_metric_model,
    truncation_headers,
)
from reba.serve.vectors import shape_vectors, to_base64, to_floats

ERRORS = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in [
        (400, "invalid request, an item over the limits, or an item that cannot be embedded"),
        (404, "unknown model"),
        (413, "the request body is over --max-body-bytes"),
        (429, "too many queued requests"),
        (503, "shutting down, or not answered within --request-timeout"),
    ]
}

router = APIRouter(tags=["OpenAI-compatible"])


@router.post("/v1/embeddings", response_model=EmbeddingResponse, responses=ERRORS)
async def create_embeddings(body: EmbeddingRequest, request: Request) -> Response:
    """Embeddings in OpenAI's shape; ``truncate: true`` (an extension) cuts too-long texts
    instead of refusing them, and ``X-Truncated-Inputs`` lists the items that were cut."""
    configs = request.app.state.configs
    embedder = configs.get(body.model)
    if embedder is None:
        raise model_not_found(body.model, list(configs))
    set_metric_model(request, body.model)
    check_request(body, request.app.state.settings, embedder.dimension)
    try:
        out = await embed_texts(request, body.model, body.input, truncate=bool(body.truncate))
    except ItemsRejected as err:
        raise items_rejected(err.failures) from None
    except InputsTooLong as err:
        raise APIError(400, str(err), param="input", code="context_length_exceeded") from None
    except QueueFull as err:
        raise APIError(429, str(err), code="queue_full", headers={"Retry-After": "1"}) from None
    except BatcherClosed as err:
        raise APIError(503, str(err), code="shutting_down") from None
    except DeadlineExceeded as err:
        raise APIError(503, str(err), code="timeout", headers={"Retry-After": "1"}) from None
    settings = request.app.state.settings
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
    return Response(
        to_json(payload), media_type="application/json", headers=truncation_headers(out)
    )


@router.get("/v1/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    created = request.app.state.created
    return ModelList(
        data=[ModelCard(id=name, created=created) for name in request.app.state.configs]
    )


@router.get("/v1/models/{model:path}", response_model=ModelCard, responses=ERRORS)
async def retrieve_model(model: str, request: Request) -> ModelCard:
    configs = request.app.state.configs
    if model not in configs:
        raise model_not_found(model, list(configs))
    return ModelCard(id=model, created=request.app.state.created)


def check_request(body: EmbeddingRequest, settings, dimension: int) -> None:
    """400 for requests over the server's limits or asking for impossible ``dimensions``."""
    try:
        check_texts(body.input, settings)
    except LimitExceeded as err:
        raise APIError(400, err.message, param="input", code=err.code) from None
    if body.dimensions is not None and not 1 <= body.dimensions <= dimension:
        raise APIError(
            400,
            f"`dimensions` must be between 1 and {dimension} for model {body.model!r}, "
            f"got {body.dimensions}",
            param="dimensions",
            code="invalid_dimensions",
        )
