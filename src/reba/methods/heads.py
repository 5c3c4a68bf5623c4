"""Recipe parts that read through the model's LM head (un-embedding matrix), as data.

- :class:`EmbedFilter` (Wu et al. 2026, arXiv 2606.07502): the pooled vector projected onto
  ``keep`` consecutive right singular directions of the un-embedding matrix (the middle ones
  by default). Linear, so it applies after any read-out that is a weighted sum of positions
  and after averaging several inputs; the dense vector only.
- :class:`SparseLogits` (PromptReps, Zhuang et al. 2024, arXiv 2404.18424): next to the dense
  vector, ``log(1 + relu(logits))`` of the last position's next-token logits, kept at the
  token ids of the text's own words (stopwords removed), the top ``top`` of them.

How the engine computes them is in ``reba.engine.heads``; where the head comes from is
``reba.models.loading.unembedding``.
"""

from __future__ import annotations

from dataclasses import dataclass

from reba.postprocess.embedfilter import SELECTIONS


@dataclass(frozen=True)
class EmbedFilter:
    """Keep ``keep`` directions (when given), else ``d // ratio`` (the authors'
    ``--filter_ratio``), chosen by ``selection`` (``middle``: the authors' default; ``top``;
    ``bottom``) or from ``start`` (their Mistral file: 128)."""

    ratio: int | None = 2
    keep: int | None = None
    selection: str = "middle"
    start: int | None = None

    name = "embedfilter"
    params = {"ratio": int, "keep": int, "selection": str, "start": int}

    def __post_init__(self) -> None:
        for what in ("ratio", "keep"):
            value = getattr(self, what)
            if value is not None and (type(value) is not int or value < 1):
                raise ValueError(f"embedfilter: {what} must be a positive integer, got {value!r}")
        if self.selection not in SELECTIONS:
            raise ValueError(
                f"embedfilter: selection must be one of {', '.join(SELECTIONS)}, "
                f"got {self.selection!r}"
            )
        if self.start is not None and (type(self.start) is not int or self.start < 0):
            raise ValueError(f"embedfilter: start must be an integer >= 0, got {self.start!r}")

    def kept(self, dim: int) -> int:
        """Directions kept for a model of width ``dim`` (``keep`` wins over ``ratio``)."""
        keep = self.keep if self.keep is not None else dim // (self.ratio or 1)
        if not 1 <= keep <= dim:
            raise ValueError(f"embedfilter: keeps {keep} directions, the model has d = {dim}")
        return keep


@dataclass(frozen=True)
class SparseLogits:
    """PromptReps' sparse vector: ``top`` (the authors' 128) weights at the text's own words'
    token ids; a text with no word left gets the ``fallback`` (10) largest over the whole
    vocabulary. ``stopwords``: ``english`` (NLTK's list, as the authors) or ``none``."""

    top: int = 128
    fallback: int = 10
    stopwords: str = "english"

    name = "sparse"
    params = {"top": int, "fallback": int, "stopwords": str}

    def __post_init__(self) -> None:
        from reba.inputs.stopwords import STOPWORDS

        for what in ("top", "fallback"):
            value = getattr(self, what)
            if type(value) is not int or value < 1:
                raise ValueError(f"sparse: {what} must be a positive integer, got {value!r}")
        if self.stopwords not in STOPWORDS:
            raise ValueError(
                f"sparse: stopwords must be one of {', '.join(STOPWORDS)}, got {self.stopwords!r}"
            )
