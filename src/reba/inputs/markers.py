"""Hierarchical Token Prepending's inputs: a ``<PST>`` row before each sentence of the text and
``<B-PST>`` rows before it (``reba.methods.htp``).

The text is tokenized exactly as without HTP and the marker rows are inserted between its
tokens: before the first token of each sentence (the token overlapping the sentence's first
character; sentences starting in the same token as the one before are merged into it).
The authors write ``<PST> `` into the text string before tokenizing, so their sentence
tokens may differ at sentence starts; reba keeps the text's tokens and offsets intact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reba.inputs.prepared import PreparedInput
from reba.inputs.sentences import Span
from reba.inputs.templates import PLACEHOLDER, SLOT, with_placeholder

MARKER_ID = 0  # token id at a marker row; the row is replaced before the model sees it


def htp_template(template: str) -> str:
    """The template with the place of the ``<B-PST>`` rows marked: Token Prepending's place
    (before the quote that opens the text) when there is one, else just before the text."""
    if template.count(SLOT) != 1:
        raise ValueError(
            "hierarchical Token Prepending marks the sentences of one text slot, but this "
            f"template has {template.count(SLOT)}: {template!r}"
        )
    try:
        return with_placeholder(template)
    except ValueError:
        return template.replace(SLOT, PLACEHOLDER + SLOT)


def sentence_tokens(
    offsets: Sequence[tuple[int, int]], spans: Sequence[Span]
) -> list[tuple[int, int]]:
    """``(first, last)`` slot token of each sentence: the first and last tokens overlapping
    it; a sentence sharing a token with the one before joins it; tokens before the first
    sentence (spaces) belong to it. At least one sentence: the whole slot."""
    bounds: list[tuple[int, int]] = []
    for a, b in spans:
        own = [i for i, (s, e) in enumerate(offsets) if e > s and e > a and s < b]
        if not own:
            continue
        if bounds and own[0] <= bounds[-1][1]:
            bounds[-1] = (bounds[-1][0], max(bounds[-1][1], own[-1]))
        else:
            bounds.append((own[0], own[-1]))
    if not bounds:
        return [(0, len(offsets) - 1)]
    return [(0, bounds[0][1]), *bounds[1:]]


def with_sentence_markers(
    item: PreparedInput, offsets: Sequence[tuple[int, int]], spans: Sequence[Span], begin: bool
) -> PreparedInput:
    """``item`` (one text slot, its placeholder where the ``<B-PST>`` rows go) with the marker
    rows inserted; ``offsets`` are the slot tokens' character offsets in ``item.text``."""
    a, b = item.slots[0]
    bounds = [(a + first, a + last) for first, last in sentence_tokens(offsets, spans)]
    starts = {first for first, _ in bounds}
    n = len(bounds)
    ids: list[int] = []
    where: dict[int, int] = {}  # old position -> new
    sentence_markers: list[int] = []
    begin_markers: tuple[int, ...] = ()
    for old, token in enumerate(item.ids):
        if old == item.placeholder:
            if begin:
                begin_markers = tuple(range(len(ids), len(ids) + n))
                ids += [MARKER_ID] * n
            continue
        if old in starts:
            sentence_markers.append(len(ids))
            ids.append(MARKER_ID)
        where[old] = len(ids)
        ids.append(token)
    sources = tuple(where[last] for _, last in bounds)
    return replace(
        item,
        ids=tuple(ids),
        slots=tuple((where[s] - (s in starts), where[e - 1] + 1) for s, e in item.slots),
        targets=None
        if item.targets is None
        else tuple(tuple(where[p] for p in t) for t in item.targets),
        placeholder=None,
        closing=None if item.closing is None else where[item.closing],
        sentence_markers=tuple(sentence_markers),
        begin_markers=begin_markers,
        sentence_sources=sources,
    )


def marker_rows(spans: Sequence[Span], begin: bool) -> int:
    """Rows HTP adds to an input besides its placeholder, at most (for length limits)."""
    n = max(1, len(spans))
    return n + (n if begin else 0) - 1
