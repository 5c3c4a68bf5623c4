"""In-context PromptEOL's demonstrations (Jiang et al. 2023; kongds/scaling_sentemb).

A pool is a text file in the authors' format: one demonstration per line, a whole template
with ``_`` standing for a space and ``*sent_0*`` for the text:

    This_sentence_:_"<sentence>"_means_in_one_word:"<Word>".This_sentence_:_"*sent_0*"_means_in_one_word:"

Demonstrations are numbered by their line (1-based). reba ships its own pool
(``data/demonstrations.txt``: 24 English and 8 Chinese demonstrations written for reba, under
reba's licence). The authors' pool (``icl_examples.txt``, 300 lines) is not shipped: their
repository states no licence. A user who downloads it passes its path (``icl[pool=PATH]``);
``AUTHORS_SHA256`` verifies the download and ``AUTHORS_CHOICES`` are the lines of THEIR file
that their ``run_icl.sh`` uses per OPT size (chosen on STS-B dev).

``README_DEMONSTRATION`` is the one demonstration the authors' README quotes, built here as a
citation (no file needed): the preset ``prompteol-icl``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from reba.inputs.templates import SLOT

OWN_POOL = "demonstrations.txt"  # reba's pool, in reba.inputs/data
AUTHORS_SHA256 = "92c3a40dbd756c14abaf97266543843bb8bd1365ef21d020ccc48a40667d8777"
AUTHORS_CHOICES = {  # lines of the authors' icl_examples.txt (kongds/scaling_sentemb @ 8567aa0)
    "opt-125m": 16,
    "opt-350m": 18,
    "opt-1.3b": 124,
    "opt-2.7b": 59,
    "opt-6.7b": 29,
    "opt-13b": 161,
    "opt-30b": 60,
    "opt-66b": 192,
}
_LINE = re.compile(
    r'^This_sentence_:_"(?P<sentence>.*)"_means_in_one_word:"(?P<word>.*)"\.'
    r'This_sentence_:_"\*sent_0\*"_means_in_one_word:"$'
)
_FORMAT = 'This_sentence_:_"<sentence>"_means_in_one_word:"<Word>".This_sentence_:_"*sent_0*"_means_in_one_word:"'  # noqa: E501


def authors_line(sentence: str, word: str) -> str:
    """A demonstration in the authors' format (spaces written as ``_``)."""
    return (
        f'This_sentence_:_"{sentence.replace(" ", "_")}"_means_in_one_word:"'
        f'{word.replace(" ", "_")}".This_sentence_:_"*sent_0*"_means_in_one_word:"'
    )


@dataclass(frozen=True)
class Demonstration:
    """One demonstration: the authors' template string and its (sentence, word) pair;
    ``line`` is its line in the pool (0: the README's, built in)."""

    line: int
    raw: str  # the line as in the file
    sentence: str
    word: str

    @property
    def template(self) -> str:
        """The authors' template with reba's slot: ``_`` -> space before the text goes in (as
        their ``evaluation.py`` does), ``*sent 0*`` -> ``{text}``."""
        return self.raw.replace("_", " ").replace("*sent 0*", SLOT)

    @property
    def prefix(self) -> str:
        """What the demonstration puts before PromptEOL's template."""
        return self.template[: self.template.index('This sentence : "{text}"')]


# The authors' README (kongds/scaling_sentemb @ 8567aa0, README.md, the in-context example):
# 'This_sentence_:_"A_jockey_riding_a_horse."_means_in_one_word:"Equestrian".This_sentence_:_"*sent_0*"_means_in_one_word:"'  # noqa: E501
README_DEMONSTRATION = Demonstration(
    0,
    authors_line("A jockey riding a horse.", "Equestrian"),
    "A jockey riding a horse.",
    "Equestrian",
)


@dataclass(frozen=True)
class Pool:
    """A demonstration pool read and checked: where from, its sha256, its demonstrations."""

    source: str  # "" for reba's own pool, else the path given
    sha256: str
    demonstrations: tuple[Demonstration, ...]

    def __len__(self) -> int:
        return len(self.demonstrations)

    def line(self, number: int) -> Demonstration:
        """Line ``number`` (1-based); a ValueError says the valid range."""
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(self):
            pool = self.source or "reba's own"
            raise ValueError(
                f"a demonstration is a line 1..{len(self)} of the pool ({pool}), got {number!r}"
            )
        return self.demonstrations[number - 1]


def parse_pool(data: bytes, source: str) -> Pool:
    """The pool in ``data``; a ValueError names the first bad line (and ``source``)."""
    where = source or f"reba's pool ({OWN_POOL})"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"demonstration pool {where}: not UTF-8 text ({err})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines:
        raise ValueError(f"demonstration pool {where}: the file is empty")
    out = []
    for number, raw in enumerate(lines, start=1):
        raw = raw.removesuffix("\r")
        match = _LINE.match(raw)
        if match is None:
            shown = raw if len(raw) <= 80 else raw[:77] + "..."
            raise ValueError(
                f"demonstration pool {where}, line {number}: not a PromptEOL demonstration in "
                f"the authors' format {_FORMAT}; got {shown!r}"
            )
        sentence, word = (match[k].replace("_", " ") for k in ("sentence", "word"))
        out.append(Demonstration(number, raw, sentence, word))
    return Pool(source, hashlib.sha256(data).hexdigest(), tuple(out))


def load_pool(path: str = "") -> Pool:
    """reba's pool (``path=""``) or the pool file at ``path``, read and checked (re-read when
    the file changes)."""
    if not path:
        return _own_pool()
    try:
        stat = os.stat(path)
    except OSError as err:
        raise ValueError(f"demonstration pool {path!r}: cannot read it ({err.strerror})") from None
    return _read_pool(path, stat.st_mtime_ns, stat.st_size)


@cache
def _own_pool() -> Pool:
    return parse_pool(files("reba.inputs").joinpath("data", OWN_POOL).read_bytes(), "")


@cache
def _read_pool(path: str, mtime_ns: int, size: int) -> Pool:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ValueError(f"demonstration pool {path!r}: cannot read it ({err.strerror})") from None
    return parse_pool(data, path)
