"""Request, response and error bodies of the text-embeddings-inference (TEI) routes.

Shapes follow TEI's OpenAPI document (``docs/openapi.json`` of huggingface/
text-embeddings-inference): errors are ``{"error": str, "error_type": ErrorType}`` with TEI's
statuses (``Empty`` 400, ``Validation`` 413, ``Overloaded`` 429, ``Tokenizer`` 422, ``Backend``
424, ``Unhealthy`` 503). A body that is not valid JSON or has wrong types is 422 ``Validation``
(TEI's JSON extractor answers 422 there too, in plain text).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from reba.serve.schemas import json_type

TEI_PATHS = frozenset({"/", "/embed", "/similarity", "/tokenize", "/info"})

ErrorType = Literal["Unhealthy", "Backend", "Overloaded", "Validation", "Tokenizer", "Empty"]
STATUS = {
    "Empty": 400,
    "Validation": 413,
    "Tokenizer": 422,
    "Backend": 424,
    "Overloaded": 429,
    "Unhealthy": 503,
}
# Only right truncation exists in reba (the text is cut at its end, before repeating).
Direction = Literal["Right", "right"]


class TEIError(Exception):
    """An error answered in TEI's shape, with the status TEI gives its ``error_type``."""

    def __init__(self, error_type: ErrorType, message: str, *, status: int | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status or STATUS[error_type]

    def response(self) -> JSONResponse:
        return tei_error_response(self.status, self.message, self.error_type)


def tei_error_response(status: int, message: str, error_type: str) -> JSONResponse:
    body = TEIErrorResponse(error=message, error_type=error_type)  # type: ignore[arg-type]
    return JSONResponse(body.model_dump(), status_code=status)


class TEIErrorResponse(BaseModel):
    error: str
    error_type: ErrorType


def _texts(value: Any) -> list[str]:
    """A string or a list of strings (may be empty: the route answers that with ``Empty``)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise PydanticCustomError(
            "inputs_type",
            "`inputs` must be a string or a list of strings, got {kind}",
            {"kind": json_type(value)},
        )
    for index, text in enumerate(value):
        if not isinstance(text, str):
            raise PydanticCustomError(
                "inputs_item_type",
                "inputs item {index} must be a string, got {kind} (token ids are not accepted)",
                {"index": index, "kind": json_type(text)},
            )
    return value


class _Inputs(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: list[str]

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs(cls, value: Any) -> list[str]:
        return _texts(value)


class EmbedRequest(_Inputs):
    """``POST /embed`` (and ``POST /``)."""

    normalize: StrictBool = True
    truncate: StrictBool | None = False
    truncation_direction: Direction = "Right"
    prompt_name: StrictStr | None = None
    dimensions: StrictInt | None = None


class TokenizeRequest(_Inputs):
    add_special_tokens: StrictBool = True
    prompt_name: StrictStr | None = None


class SimilarityInput(BaseModel):
    source_sentence: StrictStr
    sentences: list[StrictStr]


class SimilarityParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt_name: StrictStr | None = None
    truncate: StrictBool | None = False
    truncation_direction: Direction = "Right"


class SimilarityRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: SimilarityInput
    parameters: SimilarityParameters | None = None


class SimpleToken(BaseModel):
    id: int
    text: str
    special: bool
    start: int | None
    stop: int | None


class EmbeddingModel(BaseModel):
    pooling: str


class ModelType(BaseModel):
    embedding: EmbeddingModel


class Info(BaseModel):
    model_id: str
    model_sha: str | None = None
    model_dtype: str
    model_type: ModelType
    max_concurrent_requests: int
    max_input_length: int
    max_batch_tokens: int
    max_batch_requests: int | None = None
    max_client_batch_size: int
    auto_truncate: bool = False
    tokenization_workers: int
    version: str
    sha: str | None = None
    docker_label: str | None = None
    # reba's addition: each served name's configuration, as its file (EmbedderConfig.to_dict)
    reba_configs: dict[str, dict] = {}
