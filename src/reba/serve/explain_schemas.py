"""Bodies of ``POST /v1/explain`` (reba's extension: which tokens a configuration weighs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, field_validator

from reba.serve.schemas import texts_of

EXPLAIN_MAX_ITEMS = 16  # texts per explain request: one forward each, answered in full


class ExplainRequest(BaseModel):
    """Explain the served configuration ``model``'s embedding of each text of ``input`` (or,
    with ``word``, of that word's first occurrence in each text)."""

    model_config = ConfigDict(extra="ignore")

    input: list[str]
    model: StrictStr
    word: StrictStr | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> list[str]:
        return texts_of(value)


class ExplainedInputBody(BaseModel):
    """One model input: tokens as the model sees them, a segment mark per token (``special``,
    ``copy N``, ``template``, ``text``, ``placeholder``), the read-out's weights (summing to 1)
    and the word's token positions (with ``word``)."""

    tokens: list[str]
    segments: list[str]
    weights: list[float]
    word: list[int]


class ExplanationBody(BaseModel):
    """One text's explanation; ``reconstructs``: the embedding is the weighted sum of the
    hidden states of layer ``layer`` (else ``note`` says why not)."""

    index: int
    label: str
    text: str
    word: str | None
    layer: int
    reconstructs: bool
    note: str
    inputs: list[ExplainedInputBody]


class ExplainResponse(BaseModel):
    object: str = "list"
    model: str
    data: list[ExplanationBody]
