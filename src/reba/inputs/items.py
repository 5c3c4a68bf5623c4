"""Checking raw items before any model work: each bad item becomes a failure naming it.

A sentence item is a text. A word item is ``(text, word)`` (the word's first occurrence) or
``(text, (start, end))`` (a character span).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reba.errors import ItemFailure, snippet

Span = tuple[int, int]


@dataclass(frozen=True)
class Item:
    """A valid item: its position in the caller's input, its text and (word level) span."""

    index: int
    text: str
    span: Span | None = None

    @property
    def preview(self) -> str:
        return snippet(self.text)


def check_texts(texts: Sequence[object]) -> tuple[list[Item], list[ItemFailure]]:
    """Sentence items: valid texts, and failures for the rest."""
    items, failures = [], []
    for index, text in enumerate(texts):
        problem = text_problem(text)
        if problem:
            failures.append(ItemFailure(index, snippet(text), problem.reason, problem.kind))
        else:
            items.append(Item(index, text))
    return items, failures


def check_words(pairs: Sequence[object]) -> tuple[list[Item], list[ItemFailure]]:
    """Word items: ``(text, word|span)`` pairs resolved to character spans."""
    items, failures = [], []
    for index, pair in enumerate(pairs):
        span = word_span(pair)
        if isinstance(span, Problem):
            failures.append(ItemFailure(index, snippet(pair), span.reason, span.kind))
        else:
            items.append(Item(index, pair[0], span))
    return items, failures


@dataclass(frozen=True)
class Problem:
    reason: str
    kind: str = "value"


def text_problem(text: object) -> Problem | None:
    if not isinstance(text, str):
        return Problem(f"expected a string, got {type(text).__name__}", kind="type")
    if not text.strip():
        return Problem("text is empty or whitespace-only")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # e.g. a lone surrogate from bad JSON escaping
        return Problem(f"text is not valid Unicode ({err.reason} at character {err.start})")
    return None


def word_span(pair: object) -> Span | Problem:
    """The word's character span in its text, or what is wrong with the item."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        return Problem("expected a (text, word) or (text, (start, end)) pair", kind="type")
    text, target = pair
    problem = text_problem(text)
    if problem:
        return problem
    if isinstance(target, str):
        if not target.strip():
            return Problem("the word is empty or whitespace-only")
        start = text.find(target)
        if start < 0:
            return Problem(f"word {target!r} does not occur in the text")
        return (start, start + len(target))
    if (
        isinstance(target, (tuple, list))
        and len(target) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in target)
    ):
        start, end = target
        if not 0 <= start < end <= len(text):
            return Problem(
                f"span {tuple(target)} is outside the text (length {len(text)}) or empty"
            )
        return (start, end)
    return Problem(
        f"the target must be a word string or a (start, end) span, got {target!r}", kind="type"
    )
