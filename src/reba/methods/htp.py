"""Hierarchical Token Prepending (Ding, Huang et al., ACL 2026; snap-research/HTP), as data.

Token Prepending per sentence: a ``<PST>`` row before each sentence of the text and one
``<B-PST>`` row per sentence before the text (where Token Prepending's single ``<PST>`` goes:
before the quote opening the text slot, or just before the slot when the template has no
quote). Before each decoder layer ``start <= i < end`` (0-based), the state at sentence
``s``'s last token is copied into its ``<PST>`` and into the ``s``-th ``<B-PST>``. The
markers are left out of every read-out. The markers' input rows: the mean of the input
embedding's rows (``init=mean``, the default: what the authors' ``resize_token_embeddings``
gives under their transformers 4.55, whose mean resizing samples new rows from a normal of the
old rows' mean and 1e-9 times their covariance), or Token Prepending's seeded standard normal
(``init=normal``, HTP's rows in reba before 0.3.0). How the
inputs are built: ``reba.inputs.markers``; how the forward pass changes:
``reba.engine.forward_hooks``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reba.inputs.sentences import SPLITTERS
from reba.methods.interventions import prepending_end

INITS = ("mean", "normal")  # the markers' input rows


@dataclass(frozen=True)
class HierarchicalTokenPrepending:
    """HTP. ``end=None``: the authors' 7 of 32 layers, scaled to the model's depth; ``begin=0``
    drops the ``<B-PST>`` rows (the authors' ``tp_sentence`` plan); ``init=mean``: every marker
    row is the mean input embedding row (the authors'); ``init=normal``: ``<PST>`` rows are
    standard normal from ``seed``, ``<B-PST>`` rows from ``seed + 1`` (Token Prepending's rule);
    ``splitter`` names a sentence splitter of ``reba.inputs.sentences.SPLITTERS``."""

    start: int = 1
    end: int | None = None
    seed: int = 0
    begin: int = 1
    splitter: str = "rules"
    init: str = "mean"
    end_of_32: int = 7

    name = "htp"
    params = {"start": int, "end": int, "seed": int, "begin": int, "splitter": str, "init": str}

    def __post_init__(self) -> None:
        if self.begin not in (0, 1):
            raise ValueError(f"HTP's begin is 1 (with <B-PST> rows) or 0, got {self.begin!r}")
        if self.init not in INITS:
            raise ValueError(f"HTP's init is one of {', '.join(INITS)}, got {self.init!r}")
        if self.splitter not in SPLITTERS:
            raise ValueError(
                f"unknown sentence splitter {self.splitter!r}; known: {', '.join(SPLITTERS)}"
            )

    def resolved(self, depth: int) -> HierarchicalTokenPrepending:
        return replace(self, end=prepending_end(self, depth, "HTP's"))
