"""Value read-outs (Zhang et al. 2026, arXiv 2602.01572), as data: the vector pooled over
positions is not a hidden state but, averaged over a range of decoder layers,

- :class:`ValueAggregation` (``va``): the attention **values** ``v_j^l = W_V^l LN(h_j^{l-1})``
  (the value projection's output, every key/value head concatenated: ``num_kv_heads *
  head_dim`` wide), pooled with the recipe's read-out weights (mean, last, ReBA's);
- :class:`AlignedWVA` (``alignedwva``): the attention sub-layer's output
  ``W_O concat_h(sum_j A^{l,h}_{N-1,j} v_j^{l,h})`` (the output projection's output, before
  the residual add) at the last position: the last token's attention weights the values and
  ``W_O`` aligns them with the residual stream. Read at the last token only.

The paper's text was not read (abstract only): the layer range, the per-layer normalisation
and the inputs are reba's choices, each a parameter (docs/methods-2026.md). How the engine
captures them is ``reba.engine.values``.
"""

from __future__ import annotations

from dataclasses import dataclass

NORMS = ("none", "l2")


@dataclass(frozen=True)
class LayerAverage:
    """Average over decoder layers ``start <= i < end`` (0-based, Python slice semantics:
    negative counts from the last layer; ``end`` unset: through the last). ``norm``: ``none``
    (plain mean) or ``l2`` (each layer's vector at each position scaled to unit length first)."""

    start: int = 0
    end: int | None = None
    norm: str = "none"

    name = ""
    params = {"start": int, "end": int, "norm": str}

    def __post_init__(self) -> None:
        for what in ("start", "end"):
            value = getattr(self, what)
            if value is not None and type(value) is not int:
                raise ValueError(f"{self.name}: {what} must be an integer, got {value!r}")
        if self.norm not in NORMS:
            raise ValueError(
                f"{self.name}: norm must be one of {', '.join(NORMS)}, got {self.norm!r}"
            )

    def layers(self, depth: int) -> list[int]:
        """The decoder layers averaged on a model of ``depth`` layers (refused when none)."""
        chosen = list(range(depth))[self.start : self.end]
        if not chosen:
            raise ValueError(
                f"{self.name}[start={self.start},end={self.end}] selects no decoder layer of a "
                f"{depth}-layer model"
            )
        return chosen


@dataclass(frozen=True)
class ValueAggregation(LayerAverage):
    """VA: the value projection's outputs, averaged over layers, pooled over positions."""

    name = "va"


@dataclass(frozen=True)
class AlignedWVA(LayerAverage):
    """AlignedWVA: the attention output projection's outputs at the last position, averaged
    over layers."""

    name = "alignedwva"


ValueReadout = ValueAggregation | AlignedWVA
VALUE_PARTS: dict[str, type[LayerAverage]] = {"va": ValueAggregation, "alignedwva": AlignedWVA}
