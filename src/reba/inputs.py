"""From raw items to model inputs: validation, tokenization, truncation and repetition.

A prepared input is ``z = P + pre + x * k + post`` (spec, "Definitions" 1-2): ``P`` the model's
special prefix, ``x`` the text's tokens, ``k`` copies with no separator. ``pre``/``post`` are a
prompt template's tokens (PromptEOL) and are empty otherwise. Word targets are the tokens of copy
1 whose character offsets overlap the word's span.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from reba.errors import ItemFailure, snippet

logger = logging.getLogger(__name__)

Span = tuple[int, int]
WordItem = tuple[str, "str | Span"]


@dataclass(frozen=True)
class Template:
    """A prompt around the text, e.g. PromptEOL's one-word template."""

    before: str
    after: str

    @classmethod
    def parse(cls, template: str) -> Template:
        before, _, after = template.partition("{text}")
        return cls(before, after)


@dataclass(frozen=True)
class Tokenized:
    """A text's own tokens (no special tokens), with character offsets and the word target."""

    index: int
    preview: str
    ids: tuple[int, ...]
    targets: tuple[int, ...] | None = None  # token indices of the word, for word items


@dataclass(frozen=True)
class PreparedInput:
    """One model input and where its parts sit (all positions are 0-based in ``ids``)."""

    index: int  # the item's position in the caller's input
    preview: str  # a short snippet of the text, for messages
    ids: tuple[int, ...]
    text_start: int  # first position of copy 1
    text_len: int  # n, tokens per copy (after truncation)
    copies: int  # k
    targets: tuple[int, ...] | None  # word tokens, as indices within one copy
    truncated_from: int | None  # the text's token count before truncation, if it was cut

    @property
    def length(self) -> int:
        return len(self.ids)

    def copy_positions(self, copy: int) -> range:
        """Positions of copy ``copy`` (1-based)."""
        start = self.text_start + (copy - 1) * self.text_len
        return range(start, start + self.text_len)

    def target_positions(self, copy: int) -> list[int]:
        start = self.text_start + (copy - 1) * self.text_len
        return [start + t for t in self.targets or ()]


def tokenize_texts(tokenizer, texts: Sequence[object]) -> tuple[list[Tokenized], list[ItemFailure]]:
    """Tokenize sentence items; bad items become failures, never exceptions."""
    good: list[tuple[int, str]] = []
    failures: list[ItemFailure] = []
    for index, text in enumerate(texts):
        problem = _text_problem(text)
        if problem:
            failures.append(ItemFailure(index, snippet(text), problem.reason, problem.kind))
        else:
            good.append((index, text))
    encoded = _encode(tokenizer, [t for _, t in good], offsets=False)
    tokenized = []
    for (index, text), ids in zip(good, encoded["input_ids"]):
        if not ids:
            failures.append(ItemFailure(index, snippet(text), "text produces no tokens"))
        else:
            tokenized.append(Tokenized(index, snippet(text), tuple(ids)))
    return tokenized, failures


def tokenize_words(tokenizer, items: Sequence[object]) -> tuple[list[Tokenized], list[ItemFailure]]:
    """Tokenize ``(text, word)`` or ``(text, (start, end))`` items and locate the word's tokens."""
    good: list[tuple[int, str, Span]] = []
    failures: list[ItemFailure] = []
    for index, item in enumerate(items):
        span = _word_span(item)
        if isinstance(span, _Problem):
            failures.append(ItemFailure(index, snippet(item), span.reason, span.kind))
        else:
            good.append((index, item[0], span))
    encoded = _encode(tokenizer, [text for _, text, _ in good], offsets=True)
    tokenized = []
    for (index, text, span), ids, offsets in zip(
        good, encoded["input_ids"], encoded["offset_mapping"]
    ):
        targets = tuple(
            i for i, (a, b) in enumerate(offsets) if b > a and a < span[1] and b > span[0]
        )
        if not targets:
            reason = f"span {span} ({text[span[0] : span[1]]!r}) is not aligned to any token"
            failures.append(ItemFailure(index, snippet(text), reason))
        else:
            tokenized.append(Tokenized(index, snippet(text), tuple(ids), targets))
    return tokenized, failures


def prepare(
    tokenized: Sequence[Tokenized],
    *,
    prefix: Sequence[int],
    copies: int,
    max_length: int,
    template: tuple[Sequence[int], Sequence[int]] = ((), ()),
    suffix: Sequence[int] = (),
    report: bool = True,
) -> tuple[list[PreparedInput], list[ItemFailure]]:
    """Repeat each text ``copies`` times after ``prefix``, truncating first so copies stay whole."""
    before, after = template
    fixed = len(prefix) + len(before) + len(after) + len(suffix)
    budget = (max_length - fixed) // copies
    prepared, failures = [], []
    for item in tokenized:
        if budget < 1:
            reason = f"max_length {max_length} leaves no room for {copies} copies of the text"
            failures.append(ItemFailure(item.index, item.preview, reason))
            continue
        ids = item.ids[:budget]
        if item.targets and max(item.targets) >= budget:
            reason = f"the word lies beyond the truncation limit ({budget} tokens per copy)"
            failures.append(ItemFailure(item.index, item.preview, reason))
            continue
        full = (*prefix, *before, *(ids * copies), *after, *suffix)
        prepared.append(
            PreparedInput(
                index=item.index,
                preview=item.preview,
                ids=full,
                text_start=len(prefix) + len(before),
                text_len=len(ids),
                copies=copies,
                targets=item.targets,
                truncated_from=len(item.ids) if len(ids) < len(item.ids) else None,
            )
        )
    if report:
        _report_truncation(prepared, budget)
    return prepared, failures


def _report_truncation(prepared: Sequence[PreparedInput], budget: int) -> None:
    cut = [p for p in prepared if p.truncated_from is not None]
    for p in cut[:5]:
        logger.warning(
            "reba: item %d truncated from %d to %d tokens per copy",
            p.index,
            p.truncated_from,
            budget,
        )
    if cut:
        logger.warning("reba: %d item(s) truncated in total", len(cut))


@dataclass(frozen=True)
class _Problem:
    reason: str
    kind: str = "value"


def _text_problem(text: object) -> _Problem | None:
    if not isinstance(text, str):
        return _Problem(f"expected a string, got {type(text).__name__}", kind="type")
    if not text.strip():
        return _Problem("text is empty or whitespace-only")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # e.g. a lone surrogate from bad JSON escaping
        return _Problem(f"text is not valid Unicode ({err.reason} at character {err.start})")
    return None


def _word_span(item: object) -> Span | _Problem:
    """The word's character span in its text, or what is wrong with the item."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        return _Problem("expected a (text, word) or (text, (start, end)) pair", kind="type")
    text, target = item
    problem = _text_problem(text)
    if problem:
        return problem
    if isinstance(target, str):
        if not target.strip():
            return _Problem("the word is empty or whitespace-only")
        start = text.find(target)
        if start < 0:
            return _Problem(f"word {target!r} does not occur in the text")
        return (start, start + len(target))
    if (
        isinstance(target, (tuple, list))
        and len(target) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in target)
    ):
        start, end = target
        if not 0 <= start < end <= len(text):
            return _Problem(
                f"span {tuple(target)} is outside the text (length {len(text)}) or empty"
            )
        return (start, end)
    return _Problem(
        f"the target must be a word string or a (start, end) span, got {target!r}", kind="type"
    )


def _encode(tokenizer, texts: list[str], *, offsets: bool) -> dict:
    if not texts:
        return {"input_ids": [], "offset_mapping": []}
    if offsets and not getattr(tokenizer, "is_fast", False):
        raise TypeError("word-level embeddings need a fast (Rust) tokenizer for character offsets")
    return tokenizer(texts, add_special_tokens=False, return_offsets_mapping=offsets)
