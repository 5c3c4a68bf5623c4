"""From checked items to model inputs: tokenization, placement, truncation (spec, Definitions).

Three ways to place a text:

- **repetition** ``z = P + x*k``: the text's own tokens ``x`` repeated at the token level after
  the model's special prefix ``P``, so every copy is identical (ReBA, Echo, classical pooling);
- a **template, whole**: the prompt string with the text in its slots is tokenized as one
  string with the tokenizer's special tokens, as the PromptEOL family's authors do (text and
  template may merge at the boundary, e.g. ``."``); the text's tokens are those whose
  character offsets overlap the text;
- a **template, in pieces**: each literal piece and the text are tokenized apart and joined
  (Echo's authors; every slot holds identical tokens).

A template may also be placed between **ends** (EmbedFilter's Echo input): exactly one BOS
before it and an EOS after it, instead of the tokenizer's own special tokens.

Truncation cuts the text before it is placed, so every copy or slot holds the same (cut) text;
it is reported per item. Word targets are the tokens overlapping the word's character span.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from reba.errors import ItemFailure
from reba.inputs.items import Item, Span
from reba.inputs.markers import marker_rows, with_sentence_markers
from reba.inputs.prepared import PreparedInput
from reba.inputs.sentences import Splitter
from reba.inputs.templates import PLACEHOLDER, SLOT, split_template

logger = logging.getLogger(__name__)

# Token id put at Token Prepending's position; the row is replaced before the model sees it.
PLACEHOLDER_ID = 0


@dataclass(frozen=True)
class Tokenizer:
    """What building inputs needs to know about a model's tokenizer."""

    tokenizer: object
    prefix: tuple[int, ...]  # special tokens before a text (e.g. BOS)
    suffix: tuple[int, ...]  # special tokens after a text (encoders' [SEP]; rare for LMs)


@dataclass(frozen=True)
class _Text:
    """A text's own tokens (no special tokens) with character offsets."""

    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]

    def overlapping(self, span: Span) -> tuple[int, ...]:
        return _overlapping(self.offsets, span)


def build_repetition(
    tok: Tokenizer,
    items: Sequence[Item],
    *,
    copies: int,
    max_length: int,
    with_suffix: bool = False,
    report: bool = True,
) -> tuple[list[PreparedInput], list[ItemFailure]]:
    """``P + x*copies`` for each item, ``x`` cut first so that every copy stays whole."""
    prefix, suffix = tok.prefix, tok.suffix if with_suffix else ()
    budget = (max_length - len(prefix) - len(suffix)) // copies
    prepared, failures = [], []
    for item, text in zip(items, _tokenize(tok, [i.text for i in items])):
        problem = _no_tokens(text) or _no_room(budget, f"{copies} copies of the text", max_length)
        targets = None
        if not problem and item.span is not None:
            targets = text.overlapping(item.span)
            problem = _word_problem(item, targets, budget)
        if problem:
            failures.append(ItemFailure(item.index, item.preview, problem))
            continue
        x = text.ids[:budget]
        n, p = len(x), len(prefix)
        slots = tuple((p + c * n, p + (c + 1) * n) for c in range(copies))
        prepared.append(
            PreparedInput(
                index=item.index,
                preview=item.preview,
                ids=(*prefix, *(x * copies), *suffix),
                slots=slots,
                text_tokens=n,
                truncated_from=len(text.ids) if n < len(text.ids) else None,
                targets=None if targets is None else tuple(_shift(targets, s) for s, _ in slots),
                text=item.text if n == len(text.ids) else item.text[: text.offsets[n - 1][1]],
            )
        )
    if report:
        report_truncation(prepared)
    return prepared, failures


def build_template(
    tok: Tokenizer,
    items: Sequence[Item],
    template: str,
    *,
    whole: bool,
    max_length: int,
    also_fits: Sequence[str] = (),
    report: bool = True,
    sentences: Splitter | None = None,
    begin: bool = True,
    ends: bool = False,
) -> tuple[list[PreparedInput], list[ItemFailure]]:
    """Each item's text placed in ``template`` (see the module doc for ``whole`` and ``ends``).

    The text is cut, if needed, so that it also fits every template of ``also_fits`` (e.g.
    Contrastive Prompting's auxiliary prompt, which must hold the same text). With
    ``sentences`` (a splitter), HTP's marker rows go before each sentence of the (cut) text
    and, with ``begin``, at the template's placeholder (``reba.inputs.markers``); they count
    towards ``max_length``.
    """
    extra = (lambda text: marker_rows(sentences(text), begin)) if sentences else None
    layout = _Layout(tok, template, whole, ends)
    others = [_Layout(tok, t, whole, ends) for t in also_fits]
    prepared, failures = [], []
    for item, text in zip(items, _tokenize(tok, [i.text for i in items])):
        problem = _no_tokens(text)
        cut = len(text.ids)
        if not problem:
            cut = _longest_fit(item.text, text, [layout, *others], max_length, extra)
            problem = None if cut else _no_room(0, "the prompt", max_length)
        if not problem and item.span is not None:
            problem = _word_problem(item, text.overlapping(item.span), cut)
        placed = None
        if not problem:
            own = _Text(text.ids[:cut], text.offsets[:cut])
            placed = layout.place(_cut(item.text, text, cut), own, item.span)
            problem = placed if isinstance(placed, str) else None
        if problem:
            failures.append(ItemFailure(item.index, item.preview, problem))
            continue
        ids, slots, targets, placeholder, offsets = placed
        closing = len(ids) - 1 if ends else None
        prepared.append(
            PreparedInput(
                index=item.index,
                preview=item.preview,
                ids=ids,
                slots=slots,
                text_tokens=cut,
                truncated_from=len(text.ids) if cut < len(text.ids) else None,
                targets=targets,
                placeholder=placeholder,
                text=_cut(item.text, text, cut),
                closing=closing,
            )
        )
        if sentences is not None:
            spans = sentences(prepared[-1].text)
            prepared[-1] = with_sentence_markers(prepared[-1], offsets, spans, begin)
    if report:
        report_truncation(prepared)
    return prepared, failures


class _Layout:
    """A template's tokens for a given text: literal tokens are computed once (pieces), or
    the whole string is tokenized per text (whole)."""

    def __init__(self, tok: Tokenizer, template: str, whole: bool, ends: bool = False):
        self.tok = tok
        self.whole = whole
        # the special tokens around the prompt: the tokenizer's, or EmbedFilter's Echo ends
        self.prefix, self.suffix = ends_ids(tok) if ends else (tok.prefix, tok.suffix)
        self.ends = ends
        # segments: strings (with slots) around the placeholder, if there is one
        self.segments = template.split(PLACEHOLDER)
        self.n_slots = template.count(SLOT)
        if not whole:
            self.literals = {
                piece.literal: _ids(tok, piece.literal)
                for segment in self.segments
                for piece in split_template(segment)
                if not piece.is_slot
            }

    def length(self, text: str, text_ids: Sequence[int]) -> int:
        if self.whole:
            return len(self.place(text, None, None)[0])
        fixed = sum(len(self.literals[p.literal]) for p in self._pieces() if not p.is_slot)
        extra = len(self.segments) - 1  # the placeholder
        ends = len(self.suffix) if self.ends else 0  # the tokenizer's suffix: whole only
        return len(self.prefix) + fixed + extra + self.n_slots * len(text_ids) + ends

    def _pieces(self):
        return [p for segment in self.segments for p in split_template(segment)]

    def place(self, text: str, own: _Text | None, span: Span | None):
        """``(ids, slots, targets, placeholder, offsets)`` for ``text`` (whose own tokens are
        ``own``; needed in pieces), or the reason the word cannot be found; ``offsets``: the
        character offsets in ``text`` of the first slot's tokens."""
        ids: list[int] = list(self.prefix)
        slots: list[tuple[int, int]] = []
        targets: list[tuple[int, ...]] = []
        offsets: list[tuple[int, int]] = []
        placeholder = None
        for s, segment in enumerate(self.segments):
            if s:
                placeholder = len(ids)
                ids.append(PLACEHOLDER_ID)
            if self.whole:
                self._place_whole(segment, text, span, ids, slots, targets, offsets)
            else:
                self._place_pieces(segment, own, span, ids, slots, targets, offsets)
        if self.whole or self.ends:
            ids += self.suffix
        if span is not None and not all(targets):
            return f"the word {text[span[0] : span[1]]!r} is not aligned to any token in the prompt"
        targets_ = tuple(targets) if span else None
        return tuple(ids), tuple(slots), targets_, placeholder, tuple(offsets)

    def _place_whole(self, segment, text, span, ids, slots, targets, offsets) -> None:
        string, starts = _fill(segment, text)
        encoded = _encode(self.tok, [string])[0]  # no special tokens: self.prefix/suffix
        base = len(ids)
        ids += encoded.ids
        for start in starts:
            positions = encoded.overlapping((start, start + len(text)))
            slots.append((base + positions[0], base + positions[-1] + 1))
            if not offsets:
                own = encoded.offsets[positions[0] : positions[-1] + 1]
                offsets += [(s - start, e - start) for s, e in own]
            if span is not None:
                word = encoded.overlapping((start + span[0], start + span[1]))
                targets.append(_shift(word, base))

    def _place_pieces(self, segment, own: _Text, span, ids, slots, targets, offsets) -> None:
        for piece in split_template(segment):
            if not piece.is_slot:
                ids += self.literals[piece.literal]
                continue
            start = len(ids)
            ids += own.ids
            if not slots:
                offsets += own.offsets
            slots.append((start, len(ids)))
            if span is not None:
                targets.append(_shift(own.overlapping(span), start))


def ends_ids(tok: Tokenizer) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """EmbedFilter's Echo ends, ``((BOS,), (EOS,))``: the tokenizer's BOS, or its EOS when it
    has none (``run4*_echo.py``: ``if tokenizer.bos_token_id is None: tokenizer.bos_token_id =
    tokenizer.eos_token_id``); a ValueError when it has no EOS."""
    eos = getattr(tok.tokenizer, "eos_token_id", None)
    if eos is None:
        raise ValueError(
            "the 'ends' input (EmbedFilter's Echo: [BOS] + prompt + [EOS]) needs an EOS token, "
            "and this model's tokenizer has none (eos_token_id is None)"
        )
    bos = getattr(tok.tokenizer, "bos_token_id", None)
    return (eos if bos is None else bos,), (eos,)


def _fill(segment: str, text: str) -> tuple[str, list[int]]:
    """The segment with ``text`` in its slots, and where each slot's text starts."""
    out, starts = "", []
    for piece in split_template(segment):
        if piece.is_slot:
            starts.append(len(out))
            out += text
        else:
            out += piece.literal
    return out, starts


def _longest_fit(text: str, own: _Text, layouts: list[_Layout], max_length: int, extra) -> int:
    """The most text tokens (a prefix of the text's own tokens) with which every layout fits
    in ``max_length`` (with ``extra(cut text)`` more rows, if given); 0 if none does."""

    def fits(n: int) -> bool:
        cut = _cut(text, own, n)
        limit = max_length - (extra(cut) if extra else 0)
        return all(lay.length(cut, own.ids[:n]) <= limit for lay in layouts)

    n = len(own.ids)
    if fits(n):
        return n
    over = max(lay.length(text, own.ids) for lay in layouts) - max_length
    n = max(0, n - -(-over // max(1, max(lay.n_slots for lay in layouts))))
    while n > 0 and not fits(n):  # whole-string tokenization may merge at the cut: step back
        n -= 1
    return n


def _cut(text: str, own: _Text, n: int) -> str:
    return text if n >= len(own.ids) else text[: own.offsets[n - 1][1]]


def _tokenize(tok: Tokenizer, texts: list[str]) -> list[_Text]:
    return _encode(tok, texts)


def _encode(tok: Tokenizer, strings: list[str]) -> list[_Text]:
    if not strings:
        return []
    if not getattr(tok.tokenizer, "is_fast", False):
        raise TypeError("reba needs a fast (Rust) tokenizer: it locates texts by character offsets")
    enc = tok.tokenizer(strings, add_special_tokens=False, return_offsets_mapping=True)
    return [
        _Text(tuple(ids), tuple(map(tuple, offsets)))
        for ids, offsets in zip(enc["input_ids"], enc["offset_mapping"])
    ]


def _ids(tok: Tokenizer, string: str) -> tuple[int, ...]:
    return tuple(tok.tokenizer(string, add_special_tokens=False)["input_ids"]) if string else ()


def _overlapping(offsets: Sequence[tuple[int, int]], span: Span) -> tuple[int, ...]:
    a, b = span
    return tuple(i for i, (s, e) in enumerate(offsets) if e > s and s < b and e > a)


def _shift(positions: Sequence[int], by: int) -> tuple[int, ...]:
    return tuple(by + p for p in positions)


def _no_tokens(text: _Text) -> str | None:
    return None if text.ids else "text produces no tokens"


def _no_room(budget: int, what: str, max_length: int) -> str | None:
    return None if budget >= 1 else f"max_length {max_length} leaves no room for {what}"


def _word_problem(item: Item, targets: tuple[int, ...], budget: int) -> str | None:
    span = item.span
    if not targets:
        return f"span {span} ({item.text[span[0] : span[1]]!r}) is not aligned to any token"
    if max(targets) >= budget:
        return f"the word lies beyond the truncation limit ({budget} tokens per copy)"
    return None


def report_truncation(prepared: Sequence[PreparedInput]) -> None:
    cut = [p for p in prepared if p.truncated_from is not None]
    for p in cut[:5]:
        logger.warning(
            "reba: item %d truncated from %d to %d tokens of text",
            p.index,
            p.truncated_from,
            p.text_tokens,
        )
    if cut:
        logger.warning("reba: %d item(s) truncated in total", len(cut))
