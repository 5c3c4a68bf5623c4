"""What the OpenAI and TEI routes share: request limits, the micro-batched call, truncation.

The routes translate the exceptions raised here into their own error shapes (OpenAI's
``{"error": {...}}`` or TEI's ``{"error", "error_type"}``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request

from reba.embedder import Embedder
from reba.serve.batcher import BatchOutput
from reba.serve.settings import ServeSettings


@dataclass
class LimitExceeded(Exception):
    """A request over the server's limits: which limit (``code``) and a message naming it."""

    code: str  # "too_many_items" or "item_too_long"
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class InputsTooLong(Exception):
    """Items longer than the configuration's ``max_length`` tokens, without ``truncate``."""

    indices: list[int]
    max_length: int

    def __str__(self) -> str:
        shown = ", ".join(map(str, self.indices[:10]))
        more = f" and {len(self.indices) - 10} more" if len(self.indices) > 10 else ""
        return (
            f"input item{'s' if len(self.indices) > 1 else ''} {shown}{more} "
            f"{'are' if len(self.indices) > 1 else 'is'} longer than this configuration accepts "
            f"({self.max_length} model tokens, counting every copy of the text and any template); "
            "send truncate=true to cut the text before it is repeated"
        )


@dataclass
class DeadlineExceeded(Exception):
    """A request not answered within ``--request-timeout`` seconds; its queued work is dropped."""

    seconds: float

    def __str__(self) -> str:
        return (
            f"the request was not answered within {self.seconds:g} s (--request-timeout) and was "
            "dropped; the server is busy: retry later or send fewer texts per request"
        )


def check_texts(texts: Sequence[str], settings: ServeSettings) -> None:
    """Raise ``LimitExceeded`` for more than ``max_items`` texts or one over ``max_chars``."""
    if len(texts) > settings.max_items:
        raise LimitExceeded(
            "too_many_items",
            f"`input` has {len(texts)} items; this server accepts at most "
            f"{settings.max_items} per request",
        )
    for index, text in enumerate(texts):
        if len(text) > settings.max_chars:
            raise LimitExceeded(
                "item_too_long",
                f"input item {index} has {len(text)} characters; this server accepts at most "
                f"{settings.max_chars} per item",
            )


def token_limit(embedder: Embedder) -> int:
    """The longest model input of a configuration, in tokens (templates and copies included)."""
    return int(embedder.max_length or embedder.lm.max_length)


async def embed_texts(
    request: Request, name: str, texts: list[str], *, truncate: bool
) -> BatchOutput:
    """Embed ``texts`` with configuration ``name`` in the next micro-batch.

    Without ``truncate``, texts over the configuration's ``max_length`` are found by the
    tokenizer (off the event loop) and refused before the queue. Raises ``InputsTooLong``,
    ``ItemsRejected``, ``QueueFull``, ``BatcherClosed`` (from the batcher) or
    ``DeadlineExceeded`` after ``request_timeout`` seconds (the request's queued work is then
    dropped). Counts the texts and tokens embedded in the app's metrics.
    """
    state = request.app.state
    timeout = state.settings.request_timeout
    try:
        out = await asyncio.wait_for(_embed(state, name, texts, truncate), timeout)
    except asyncio.TimeoutError:
        raise DeadlineExceeded(timeout) from None
    state.metrics.count_embedded(name, len(texts), int(out.token_counts.sum()))
    return out


async def _embed(state, name: str, texts: list[str], truncate: bool) -> BatchOutput:
    embedder = state.configs[name]
    if not truncate:
        cut = await asyncio.to_thread(embedder.truncated, texts)  # the tokenizer alone
        if cut:
            raise InputsTooLong(cut, token_limit(embedder))
    out = await state.batchers[name].submit(texts)
    if out.truncated and not truncate:
        raise InputsTooLong(out.truncated, token_limit(embedder))
    return out


def truncation_headers(out: BatchOutput) -> dict[str, str]:
    """``X-Truncated-Inputs: 0,3`` when items were cut (request-relative indices)."""
    if not out.truncated:
        return {}
    return {"X-Truncated-Inputs": ",".join(map(str, out.truncated))}


def set_metric_model(request: Request, name: str) -> None:
    """Label this request's metrics with the configuration it used."""
    request.scope.setdefault("state", {})["reba_model"] = name
