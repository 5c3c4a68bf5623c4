"""``POST /v1/explain``: the tokens a served configuration's embedding weighs.

It runs ``reba.engine.explain`` on the server's model thread (torch calls never overlap with
the micro-batches) and answers in OpenAI's error shapes, like ``/v1/embeddings``.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from reba.errors import InvalidItemError, NonFiniteEmbeddingError
from reba.serve.errors import APIError, model_not_found
from reba.serve.explain_schemas import EXPLAIN_MAX_ITEMS, ExplainRequest, ExplainResponse
from reba.serve.openai_routes import ERRORS
from reba.serve.service import LimitExceeded, check_texts, set_metric_model

router = APIRouter(tags=["reba extensions"])


@router.post("/v1/explain", response_model=ExplainResponse, responses=ERRORS)
async def explain(body: ExplainRequest, request: Request) -> ExplainResponse:
    """Per text: the tokens as the model sees them, each one's segment and its normalised
    weight in the configuration's read-out, from the embedding run itself (at most
    16 texts)."""
    state = request.app.state
    embedder = state.configs.get(body.model)
    if embedder is None:
        raise model_not_found(body.model, list(state.configs))
    set_metric_model(request, body.model)
    if len(body.input) > EXPLAIN_MAX_ITEMS:
        raise APIError(
            400,
            f"`input` has {len(body.input)} items; explain accepts at most {EXPLAIN_MAX_ITEMS}",
            param="input",
            code="too_many_items",
        )
    try:
        check_texts(body.input, state.settings)
    except LimitExceeded as err:
        raise APIError(400, err.message, param="input", code=err.code) from None
    items = [(t, body.word) for t in body.input] if body.word else list(body.input)
    level = "word" if body.word else "sentence"

    loop = asyncio.get_running_loop()
    try:
        explained = await loop.run_in_executor(state.executor, embedder.explain_many, items, level)
    except (InvalidItemError, NonFiniteEmbeddingError) as err:
        raise APIError(400, str(err), param="input", code="invalid_input") from None
    data = [{"index": i, **e.to_json()} for i, e in enumerate(explained)]
    return ExplainResponse(model=body.model, data=data)
