"""Request and response bodies of the OpenAI-compatible API (pydantic models)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError

TOKEN_IDS_MESSAGE = (
    "token-id arrays are not accepted: this server embeds text only; send `input` as a "
    "string or a list of strings"
)


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``. Unknown fields are ignored, as OpenAI-compatible servers do."""

    model_config = ConfigDict(extra="ignore")

    input: list[str]  # a single string arrives here as a one-item list
    model: StrictStr
    encoding_format: Literal["float", "base64"] | None = None  # None means "float"
    dimensions: StrictInt | None = None
    user: Any = None  # accepted and ignored
    # Extension: cut texts longer than the configuration's max_length (the reba way: before
    # repeating) instead of answering 400; the cut items are listed in X-Truncated-Inputs.
    truncate: StrictBool | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> list[str]:
        return texts_of(value)


def texts_of(value: Any) -> list[str]:
    """The texts of an ``input`` value, or a validation error that says what is wrong."""
    if isinstance(value, str):
        value = [value]
    elif not isinstance(value, list):
        raise PydanticCustomError(
            "input_type",
            "`input` must be a string or a list of strings, got {kind}",
            {"kind": json_type(value)},
        )
    if not value:
        raise PydanticCustomError("input_empty", "`input` must not be an empty list")
    if all(_is_int(v) for v in value) or all(isinstance(v, list) for v in value):
        raise PydanticCustomError("input_token_ids", TOKEN_IDS_MESSAGE)
    for index, text in enumerate(value):
        if not isinstance(text, str):
            raise PydanticCustomError(
                "input_item_type",
                "input item {index} must be a string, got {kind}",
                {"index": index, "kind": json_type(text)},
            )
        if not _encodable(text):
            raise PydanticCustomError(
                "input_item_unicode",
                "input item {index} is not valid Unicode text (it contains a lone surrogate)",
                {"index": index},
            )
    return value


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str  # floats, or base64 of little-endian float32


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "reba"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ConfigHealth(BaseModel):
    model: str
    method: str
    k: int
    dimension: int
    requests: int  # requests answered by the model (including rejected items)
    items: int  # texts sent to the model
    batches: int  # model calls (micro-batches)
    model_seconds: float  # wall time spent in model calls (busy / uptime = utilisation)
    queued: int  # requests waiting for the next micro-batch


class Health(BaseModel):
    status: Literal["ok", "draining"]
    models: dict[str, ConfigHealth]
