"""A model input ready to run, and where the text (and the word) sit in it."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class PreparedInput:
    """One model input. Positions are 0-based indices into ``ids``.

    ``slots`` are the ``[start, end)`` token ranges of each occurrence of the text (the k
    copies of a repetition, or a template's ``{text}`` slots); ``targets`` (word level) are the
    positions of the word's tokens in each slot; ``placeholder`` is the position of Token
    Prepending's extra row, if any; ``closing`` is the position of the EOS that EmbedFilter's
    Echo input ends with (``Prompt.ends``), which the mean read-out pools with the last slot.
    """

    index: int  # the item's position in the caller's input
    preview: str  # a short snippet of the text, for messages
    ids: tuple[int, ...]
    slots: tuple[tuple[int, int], ...]
    text_tokens: int  # tokens of the text itself (one occurrence, after truncation)
    truncated_from: int | None = None  # the text's token count before it was cut, if it was
    targets: tuple[tuple[int, ...], ...] | None = None
    placeholder: int | None = None
    text: str = ""  # the text as placed (after preprocessing and truncation)
    # hierarchical Token Prepending: the <PST> row before each sentence, the <B-PST> rows
    # before the text (one per sentence, or none), and each sentence's last token
    sentence_markers: tuple[int, ...] = ()
    begin_markers: tuple[int, ...] = ()
    sentence_sources: tuple[int, ...] = ()
    closing: int | None = None

    @property
    def length(self) -> int:
        return len(self.ids)

    @property
    def last(self) -> int:
        return len(self.ids) - 1

    @property
    def markers(self) -> tuple[int, ...]:
        """Positions of HTP's marker rows, which no read-out pools."""
        return self.sentence_markers + self.begin_markers

    def slot_positions(self, slot: int) -> range | list[int]:
        """Positions of slot ``slot`` (0-based; -1 is the last), markers left out."""
        positions = range(*self.slots[slot])
        if not self.sentence_markers:
            return positions
        markers = set(self.sentence_markers)
        return [p for p in positions if p not in markers]

    def forward_key(self) -> tuple:
        """Inputs with equal keys get the same forward pass (items may differ in targets)."""
        if self.sentence_markers:
            return self.ids, self.placeholder, self.markers, self.sentence_sources
        return self.ids, self.placeholder


def repetition_prefix(item: PreparedInput, copies: int) -> PreparedInput:
    """The ``copies``-copy input read off a longer token-level repetition: under causal
    attention its first ``p + copies*n`` positions *are* the shorter input."""
    if copies == len(item.slots):
        return item
    end = item.slots[copies - 1][1]
    return replace(
        item,
        ids=item.ids[:end],
        slots=item.slots[:copies],
        targets=None if item.targets is None else item.targets[:copies],
    )
