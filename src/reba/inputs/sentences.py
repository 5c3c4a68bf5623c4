"""Sentences of a text, as character spans: what hierarchical Token Prepending marks.

A rule-based splitter for English, Chinese and mixed text (the HTP authors use spaCy's
English model; reba needs no model and no language setting):

- a sentence ends at ``。！？；…`` (and full-width ``．！？；``) wherever they are, and at ``.``,
  ``!``, ``?`` followed by whitespace or the end of the text (so ``3.5``, ``e.g.x`` and
  ``www.a.org`` never split); a run of enders (``?!``, ``...``, ``……``) ends once;
- closing quotes and brackets right after the end belong to the sentence (``He said "No." Then``
  splits after the quote);
- ``.`` after a title (``Mr.``, ``Dr.``; ``No.`` before a number), after a single letter
  (initials: ``J. Smith``), or before a lower-case word (``e.g. apples``) does not end a
  sentence, nor does a full-width point between digits (``３．５``);
- a blank line ends a sentence (headings without a full stop);
- spans are stripped of surrounding whitespace; a piece with no letter, digit or ideograph
  (a lone ``"...``) joins the sentence before it, so no sentence is empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Span = tuple[int, int]

ALWAYS_ENDS = "。！？；…．"  # end a sentence wherever they are (CJK and full-width)
ENDS_BEFORE_SPACE = ".!?"  # end a sentence only before whitespace or the end of the text
CLOSERS = "\"'”’」』）)]】》〉＂］｝}"
# "." after these (lower-case, without the dot) never ends a sentence.
TITLES = frozenset(
    "mr mrs ms dr prof sr jr st mt vs fig figs vol pp ed eds rev gen col lt sgt capt "  # noqa: SIM905
    "gov sen rep hon approx dept univ est".split()
)

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_CONTENT = re.compile(r"\w")  # a letter, digit or ideograph


def split_sentences(text: str) -> list[Span]:
    """The ``[start, end)`` character spans of ``text``'s sentences (no empty ones), in order."""
    spans: list[Span] = []
    start = 0
    for end in _ends(text):
        spans += _stripped(text, start, end)
        start = end
    spans += _stripped(text, start, len(text))
    return _merge_empty(text, spans)


def _ends(text: str):
    """Positions just after each sentence end (after its closing quotes)."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in ALWAYS_ENDS or ch in ENDS_BEFORE_SPACE:
            j = i
            while j < n and (text[j] in ALWAYS_ENDS or text[j] in ENDS_BEFORE_SPACE):
                j += 1
            while j < n and text[j] in CLOSERS:
                j += 1
            run = text[i:j]
            if _decimal(text, i, j):
                pass
            elif any(c in ALWAYS_ENDS for c in run) or _ends_english(text, i, j):
                yield j
            i = j
            continue
        blank = _BLANK_LINE.match(text, i) if ch == "\n" else None
        if blank:
            yield blank.end()
            i = blank.end()
            continue
        i += 1


def _decimal(text: str, i: int, j: int) -> bool:
    """A full-width point between digits (３．５)."""
    return (
        text[i:j] == "．"
        and i > 0
        and j < len(text)
        and text[i - 1].isdigit()
        and text[j].isdigit()
    )


def _ends_english(text: str, i: int, j: int) -> bool:
    """Whether ``.!?`` from ``i`` (closers up to ``j``) ends an English sentence."""
    if j < len(text) and not (text[j].isspace() or _ideograph(text[j])):
        return False
    following = text[j:].lstrip()
    lower_next = bool(following) and following[0].islower()
    if text[i:j].rstrip(CLOSERS) != ".":
        return not lower_next if text[i] == "." else True  # "..." before lower case goes on
    if j > i + 1:  # a closing quote or bracket after the dot: the sentence is over
        return not lower_next
    match = _WORD_BEFORE.search(text, 0, i)
    word = match.group(1).lower().strip(".") if match else ""
    if word in TITLES or (word in ("no", "nos") and following[:1].isdigit()):
        return False
    if len(word) == 1 and word.isalpha():  # an initial
        return False
    return not lower_next  # "e.g. the", "approx. two", "etc. and": one sentence


def _ideograph(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _stripped(text: str, start: int, end: int) -> list[Span]:
    piece = text[start:end]
    if not piece.strip():
        return []
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    return [(start + lead, end - trail)]


def _merge_empty(text: str, spans: list[Span]) -> list[Span]:
    """Pieces without content join the sentence before (the first one, the one after)."""
    out: list[Span] = []
    pending: int | None = None
    for a, b in spans:
        if not _CONTENT.search(text, a, b):
            if out:
                out[-1] = (out[-1][0], b)
            elif pending is None:
                pending = a
            continue
        out.append((a if pending is None else pending, b))
        pending = None
    if pending is not None:  # nothing but punctuation: one sentence
        out.append((pending, spans[-1][1]))
    return out


Splitter = Callable[[str], list[Span]]
SPLITTERS: dict[str, Splitter] = {"rules": split_sentences}
