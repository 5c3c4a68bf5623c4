"""The OpenAPI document states what the server enforces, so generated clients are not misled.

FastAPI's schema is built from the pydantic models, which cannot know a server's limits. This
module rewrites it once per app: texts are non-blank strings of at most ``--max-chars``
characters, ``input``/``inputs`` a string or 1..``--max-items`` of them (1..16 for
``/v1/explain``), ``model`` one of the served names, ``dimensions`` within the model's
dimension, ``prompt_name`` one of the configured prompts. FastAPI's 422 is removed from the
OpenAI routes (they answer 400), and when keys are set the bearer security scheme and the 401
answer are declared on protected routes.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from reba.serve.explain_schemas import EXPLAIN_MAX_ITEMS
from reba.serve.paths import is_open

# At least one character that is not whitespace (Python's str.isspace and JSON Schema's \s).
NON_BLANK = r"[^\s\x1c-\x1f\x85]"
_OPENAI_PATHS = ("/v1/embeddings", "/v1/models", "/v1/models/{model}", "/v1/explain")


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that returns the constrained document (cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = constrain(document, app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def constrain(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    document = copy.deepcopy(document)
    settings, configs = app.state.settings, app.state.configs
    schemas = document["components"]["schemas"]
    text = {
        "type": "string",
        "minLength": 1,
        "maxLength": settings.max_chars,
        "pattern": NON_BLANK,
        "description": "a non-blank text; longer than the configuration's max_length in tokens "
        "is refused unless truncate is true",
    }
    texts = _one_or_many(text, settings.max_items)
    dimension = max(e.dimension for e in configs.values())
    _set(schemas["EmbeddingRequest"], "input", texts)
    _set(schemas["EmbeddingRequest"], "model", {"type": "string", "enum": list(configs)})
    _set(schemas["ExplainRequest"], "input", _one_or_many(text, EXPLAIN_MAX_ITEMS))
    _set(schemas["ExplainRequest"], "model", {"type": "string", "enum": list(configs)})
    _set(schemas["EmbeddingRequest"], "dimensions", _optional_int(1, dimension))
    tei_dimension = configs[app.state.tei_model].dimension
    _set(schemas["EmbedRequest"], "inputs", texts)
    _set(schemas["EmbedRequest"], "dimensions", _optional_int(1, tei_dimension))
    any_text = {"type": "string", "maxLength": settings.max_chars}
    _set(schemas["TokenizeRequest"], "inputs", _one_or_many(any_text, settings.max_items))
    _set(schemas["SimilarityInput"], "source_sentence", text)
    sentences = {"type": "array", "items": text, "minItems": 1, "maxItems": settings.max_items - 1}
    _set(schemas["SimilarityInput"], "sentences", sentences)
    prompt = _prompt_name(list(settings.prompts))
    for name in ("EmbedRequest", "TokenizeRequest", "SimilarityParameters"):
        _set(schemas[name], "prompt_name", prompt)
    for path in _OPENAI_PATHS:  # these answer 400 for invalid bodies, never FastAPI's 422
        for operation in document["paths"].get(path, {}).values():
            operation["responses"].pop("422", None)
    if not _referenced(document, "HTTPValidationError"):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    if settings.api_keys:
        _declare_security(document, public_metrics=settings.public_metrics)
    return document


def _one_or_many(item: dict[str, Any], max_items: int) -> dict[str, Any]:
    many = {"type": "array", "items": item, "minItems": 1, "maxItems": max_items}
    return {"anyOf": [item, many], "description": f"a text, or a list of 1 to {max_items}"}


def _optional_int(minimum: int, maximum: int) -> dict[str, Any]:
    return {
        "anyOf": [{"type": "integer", "minimum": minimum, "maximum": maximum}, {"type": "null"}]
    }


def _prompt_name(names: list[str]) -> dict[str, Any]:
    if not names:
        return {"type": "null", "description": "no prompts are configured (--prompt)"}
    return {"anyOf": [{"type": "string", "enum": names}, {"type": "null"}]}


def _set(schema: dict[str, Any], field: str, value: dict[str, Any]) -> None:
    title = schema["properties"][field].get("title")
    schema["properties"][field] = {**value, **({"title": title} if title else {})}


def _referenced(document: dict[str, Any], name: str) -> bool:
    return f'"#/components/schemas/{name}"' in str(document).replace("'", '"')


def _declare_security(document: dict[str, Any], *, public_metrics: bool) -> None:
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "one of the server's API keys (--api-key, REBA_API_KEY, --api-key-file)",
    }
    unauthorized = {
        "description": "missing or invalid API key",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for path, operations in document["paths"].items():
        if is_open(path, public_metrics=public_metrics):
            continue
        for operation in operations.values():
            operation["security"] = [{"bearerAuth": []}]
            operation["responses"]["401"] = unauthorized
