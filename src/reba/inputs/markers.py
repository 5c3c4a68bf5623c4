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


def sentence_starts(offsets: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[int]:
    """Indices of the slot tokens where each sentence starts (increasing, at least ``[0]``)."""
    starts: list[int] = []
    for a, b in spans:
        first = next((i for i, (s, e) in enumerate(offsets) if e > s and e > a and s < b), None)
        if first is not None and (not starts or first > starts[-1]):
            starts.append(first)
    if not starts or starts[0] != 0:  # tokens before the first sentence (spaces) join it
        starts = [0, *starts[1:]] if starts else [0]
    return starts


def with_sentence_markers(
    item: PreparedInput, offsets: Sequence[tuple[int, int]], spans: Sequence[Span], begin: bool
) -> PreparedInput:
    """``item`` (one text slot, its placeholder where the ``<B-PST>`` rows go) with the marker
    rows inserted; ``offsets`` are the slot tokens' character offsets in ``item.text``."""
    a, b = item.slots[0]
    starts = {a + t for t in sentence_starts(offsets, spans)}
    n = len(starts)
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
    sources = tuple(m - 1 for m in sentence_markers[1:]) + (where[b - 1],)
    return replace(
        item,
        ids=tuple(ids),
        slots=tuple((where[s] - (s in starts), where[e - 1] + 1) for s, e in item.slots),
        targets=None
        if item.targets is None
        else tuple(tuple(where[p] for p in t) for t in item.targets),
        placeholder=None,
        sentence_markers=tuple(sentence_markers),
        begin_markers=begin_markers,
        sentence_sources=sources,
    )


def marker_rows(spans: Sequence[Span], begin: bool) -> int:
    """Rows HTP adds to an input besides its placeholder, at most (for length limits)."""
    n = max(1, len(spans))
    return n + (n if begin else 0) - 1
