"""text-embeddings-inference (TEI) compatible routes, so TEI clients work unchanged.

``POST /embed`` and ``POST /`` (``{"inputs": str | [str], "normalize": true, "truncate": false,
"truncation_direction": "Right", "prompt_name": null, "dimensions": null}`` -> ``[[float]]``),
``POST /similarity`` (``{"inputs": {"source_sentence", "sentences"}, "parameters": {...}}`` ->
cosine similarities), ``POST /tokenize`` (-> per-token ``{id, text, special, start, stop}``,
``start``/``stop`` in characters) and ``GET /info``. They serve the first configuration of
``reba serve`` (TEI requests name no model). ``truncate: true`` cuts the reba way (before
repeating); the cut items are listed in ``X-Truncated-Inputs``. Only right truncation exists:
``truncation_direction: "Left"`` is refused (422, like any value outside the schema).
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic_core import to_json

from reba.serve.batcher import BatcherClosed, BatchOutput, ItemsRejected, QueueFull
from reba.serve.service import (
    DeadlineExceeded,
    InputsTooLong,
    LimitExceeded,
    check_texts,
    embed_texts,
    set_metric_model,
    token_limit,
    truncation_headers,
)
from reba.serve.tei_schemas import (
    EmbedRequest,
    Info,
    ModelType,
    SimilarityRequest,
    SimpleToken,
    TEIError,
    TEIErrorResponse,
    TokenizeRequest,
)
from reba.serve.vectors import l2_normalize

logger = logging.getLogger(__name__)

ERRORS = {
    status: {"model": TEIErrorResponse, "description": text}
    for status, text in [
        (400, "`inputs` is empty (error_type Empty)"),
        (413, "over the limits (body size too), too long without truncate, or not embeddable"),
        (422, "malformed JSON or wrong types (Validation), or a tokenizer error (Tokenizer)"),
        (424, "the model failed (Backend)"),
        (429, "too many queued requests (Overloaded)"),
        (503, "shutting down (Unhealthy), or past --request-timeout (Overloaded)"),
    ]
}

router = APIRouter(tags=["TEI-compatible"])


def install_tei(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TEIError)
        return exc.response()

    app.add_exception_handler(TEIError, handler)
    app.include_router(router)


@router.post("/embed", response_model=list[list[float]], responses=ERRORS)
async def embed(body: EmbedRequest, request: Request) -> Response:
    """Embeddings of ``inputs``, L2-normalised unless ``normalize`` is false."""
    return await _embed_response(body, request)


@router.post("/", response_model=list[list[float]], responses=ERRORS)
async def embed_root(body: EmbedRequest, request: Request) -> Response:
    """The same as ``POST /embed`` (TEI serves an embedding model's task at the root)."""
    return await _embed_response(body, request)


@router.post("/similarity", response_model=list[float], responses=ERRORS)
async def similarity(body: SimilarityRequest, request: Request) -> Response:
    """Cosine similarity of ``source_sentence`` with each of ``sentences``."""
    if not body.inputs.sentences:
        raise TEIError("Empty", "`inputs.sentences` cannot be empty")
    params = body.parameters
    texts = [body.inputs.source_sentence, *body.inputs.sentences]
    out = await _embed(
        request,
        texts,
        prompt_name=params.prompt_name if params else None,
        truncate=bool(params and params.truncate),
    )
    matrix = out.embeddings.astype(np.float64)
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-300)
    scores = (unit[1:] @ unit[0]).astype(np.float32).tolist()
    return Response(to_json(scores), media_type="application/json", headers=truncation_headers(out))


@router.post("/tokenize", response_model=list[list[SimpleToken]], responses=ERRORS)
async def tokenize(body: TokenizeRequest, request: Request) -> list[list[SimpleToken]]:
    """The model tokenizer's tokens of each input (one copy, no repetition or template)."""
    name = request.app.state.tei_model
    set_metric_model(request, name)
    texts = _checked_texts(request, body.inputs, body.prompt_name)
    tokenizer = request.app.state.configs[name].lm.tokenizer
    try:
        return [_tokens(tokenizer, text, body.add_special_tokens) for text in texts]
    except (NotImplementedError, ValueError, TypeError) as err:
        raise TEIError("Tokenizer", f"tokenization failed: {err}") from None


@router.get("/info", response_model=Info)
async def info(request: Request) -> Info:
    """The served configuration and the server's limits, in TEI's shape."""
    from reba._version import __version__
    from reba.models.identity import model_digest

    state = request.app.state
    name = state.tei_model
    embedder = state.configs[name]
    settings = state.settings
    parameter = next(embedder.lm.model.parameters(), None)
    dtype = str(parameter.dtype).removeprefix("torch.") if parameter is not None else "unknown"
    limit = token_limit(embedder)
    return Info(
        model_id=name,
        model_sha=await asyncio.to_thread(model_digest, embedder.lm),  # hashed once, cached
        model_dtype=dtype,
        model_type=ModelType(embedding={"pooling": embedder.method}),
        max_concurrent_requests=settings.max_queue,
        max_input_length=limit,
        max_batch_tokens=settings.max_batch_items * limit,
        max_client_batch_size=settings.max_items,
        tokenization_workers=1,
        version=__version__,
        reba_configs={n: e.config.to_dict() for n, e in state.configs.items()},
    )


async def _embed_response(body: EmbedRequest, request: Request) -> Response:
    out = await _embed(
        request,
        body.inputs,
        prompt_name=body.prompt_name,
        truncate=bool(body.truncate),
    )
    vectors = out.embeddings
    if body.dimensions is not None:
        dimension = vectors.shape[1]
        if not 1 <= body.dimensions <= dimension:
            raise TEIError(
                "Validation",
                f"`dimensions` must be between 1 and {dimension}, got {body.dimensions}",
            )
        vectors = vectors[:, : body.dimensions]
    if body.normalize:
        vectors = l2_normalize(vectors)
    payload = to_json(vectors.astype(np.float32, copy=False).tolist())
    return Response(payload, media_type="application/json", headers=truncation_headers(out))


async def _embed(
    request: Request, texts: list[str], *, prompt_name: str | None, truncate: bool
) -> BatchOutput:
    name = request.app.state.tei_model
    set_metric_model(request, name)
    texts = _checked_texts(request, texts, prompt_name)
    try:
        return await embed_texts(request, name, texts, truncate=truncate)
    except (ItemsRejected, InputsTooLong) as err:
        raise TEIError("Validation", str(err)) from None
    except QueueFull as err:
        raise TEIError("Overloaded", str(err)) from None
    except BatcherClosed as err:
        raise TEIError("Unhealthy", str(err)) from None
    except DeadlineExceeded as err:
        raise TEIError("Overloaded", str(err), status=503) from None
    except Exception as err:  # the model call failed: TEI's Backend error
        logger.error("reba serve: the model failed on a TEI request", exc_info=err)
        raise TEIError("Backend", f"Inference failed ({type(err).__name__})") from None


def _checked_texts(request: Request, texts: list[str], prompt_name: str | None) -> list[str]:
    """TEI's checks (empty batch, batch size, length), then the named prompt put before each."""
    settings = request.app.state.settings
    if not texts:
        raise TEIError("Empty", "`inputs` cannot be empty")
    try:
        check_texts(texts, settings)
    except LimitExceeded as err:
        message = err.message
        if err.code == "too_many_items":
            message = f"batch size {len(texts)} > maximum allowed batch size {settings.max_items}"
        raise TEIError("Validation", message) from None
    if prompt_name is None:
        return texts
    prompt = settings.prompts.get(prompt_name)
    if prompt is None:
        known = ", ".join(settings.prompts) or "none"
        raise TEIError(
            "Validation",
            f"Prompt name `{prompt_name}` was not found in the definition list (known: {known})",
        )
    return [prompt + text for text in texts]


def _tokens(tokenizer, text: str, add_special_tokens: bool) -> list[SimpleToken]:
    encoded = tokenizer(
        text, add_special_tokens=add_special_tokens, return_offsets_mapping=True, verbose=False
    )
    special_ids = set(tokenizer.all_special_ids)
    tokens = []
    for token_id, (start, stop) in zip(encoded["input_ids"], encoded["offset_mapping"]):
        special = token_id in special_ids and stop <= start
        if special:
            piece = tokenizer.convert_ids_to_tokens(token_id)
            tokens.append(SimpleToken(id=token_id, text=piece, special=True, start=None, stop=None))
        else:
            piece = text[start:stop]
            tokens.append(
                SimpleToken(id=token_id, text=piece, special=False, start=start, stop=stop)
            )
    return tokens
