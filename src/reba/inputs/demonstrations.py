"""In-context PromptEOL's demonstration pool (Jiang et al. 2023; kongds/scaling_sentemb).

``data/icl_examples.txt`` is the authors' file verbatim (kongds/scaling_sentemb @ 8567aa0,
``icl_examples.txt``, 300 lines, sha256 92c3a40d...; the repository states no licence): each
line is a whole template, ``_`` standing for a space and ``*sent_0*`` for the text:

    This_sentence_:_"A_jockey_riding_a_horse."_means_in_one_word:"Equestrian".This_sentence_:_"*sent_0*"_means_in_one_word:"

Demonstrations are numbered by their line in the file (1-based). ``AUTHORS_CHOICES`` are the
lines their ``run_icl.sh`` uses per OPT size (chosen on STS-B dev).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from reba.inputs.templates import SLOT

POOL_FILE = "icl_examples.txt"
_LINE = re.compile(
    r'^This_sentence_:_"(?P<sentence>.*)"_means_in_one_word:"(?P<word>.*)"\.'
    r'This_sentence_:_"\*sent_0\*"_means_in_one_word:"$'
)
DEFAULT_LINE = 59  # "A jockey riding a horse." -> "Equestrian" (the README's example; OPT-2.7B)
AUTHORS_CHOICES = {
    "opt-125m": 16,
    "opt-350m": 18,
    "opt-1.3b": 124,
    "opt-2.7b": 59,
    "opt-6.7b": 29,
    "opt-13b": 161,
    "opt-30b": 60,
    "opt-66b": 192,
}


@dataclass(frozen=True)
class Demonstration:
    """One line of the pool: the authors' template string and its (sentence, word) pair."""

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


@cache
def pool() -> tuple[Demonstration, ...]:
    """The 300 demonstrations, in file order."""
    text = files("reba.inputs").joinpath("data", POOL_FILE).read_text(encoding="utf-8")
    out = []
    for number, raw in enumerate(text.split("\n")[:-1], start=1):
        match = _LINE.match(raw)
        if match is None:
            raise ValueError(f"{POOL_FILE} line {number} is not a PromptEOL demonstration")
        word = match["word"].replace("_", " ")
        out.append(Demonstration(number, raw, match["sentence"].replace("_", " "), word))
    return tuple(out)


def demonstration(line: int) -> Demonstration:
    """Line ``line`` (1-based) of the pool; a ValueError says the valid range."""
    demos = pool()
    if isinstance(line, bool) or not isinstance(line, int) or not 1 <= line <= len(demos):
        raise ValueError(f"a demonstration is a line 1..{len(demos)} of the pool, got {line!r}")
    return demos[line - 1]
