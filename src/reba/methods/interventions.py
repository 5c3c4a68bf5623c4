"""Forward interventions, as data: Token Prepending and Contrastive Prompting.

Their papers give layers for 32-layer models (Llama-2-7B). For other depths a layer ``a`` of
a 32-layer model becomes ``round(a * depth / 32)``: on gemma-3-270m (18 layers) TP's end 7
becomes 4 and CP's layers 4 and 6 become 2 and 3; on smollm2-135m (30 layers) 7, 4 and 6.
How an intervention changes a forward pass is in ``reba.engine.forward_hooks``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from reba.inputs.templates import CP_AUXILIARY, check_template

REFERENCE_DEPTH = 32  # Llama-2-7B, for which the papers give their layers


def scaled_layer(layer_of_32: int, depth: int) -> int:
    """A layer index given for a 32-layer model, at the same relative depth of ``depth``."""
    return round(layer_of_32 * depth / REFERENCE_DEPTH)


@dataclass(frozen=True)
class TokenPrepending:
    """Token Prepending (Fu et al., ACL 2025): a ``<PST>`` row before the text's opening
    quote, whose state is overwritten with the last token's before each decoder layer
    ``start <= i < end`` (0-based). ``end=None``: the paper's 7 of 32 layers, scaled."""

    start: int = 1
    end: int | None = None
    seed: int = 0  # the <PST> input row is standard normal from this seed
    end_of_32: int = 7

    name = "tp"
    params = {"start": int, "end": int, "seed": int}  # settable in a method name: tp[end=4]

    def resolved(self, depth: int) -> TokenPrepending:
        return replace(self, end=prepending_end(self, depth, "Token Prepending"))


def prepending_end(part, depth: int, what: str) -> int:
    """The last-plus-one layer of a prepending part (``start``, ``end``, ``end_of_32``) on a
    model of ``depth`` decoder layers; ``end=None``: ``end_of_32`` scaled, at least start+1."""
    end = scaled_layer(part.end_of_32, depth) if part.end is None else part.end
    end = max(end, part.start + 1) if part.end is None else end
    if not 0 <= part.start < end <= depth:
        raise ValueError(
            f"{what} layers must satisfy 0 <= start < end <= {depth} (the model's decoder "
            f"layers), got start={part.start}, end={end}"
        )
    return end


@dataclass(frozen=True)
class ContrastivePrompting:
    """Contrastive Prompting (Cheng et al., ACL 2025): at decoder layer ``layer`` (0-based),
    the last position's input to the attention output projection ``a`` becomes
    ``alpha * (a - b)`` (``ns``) or ``(a - b) * |a| / (|a - b| + 1e-7)`` (``nr``), ``b``
    being the same quantity from the auxiliary prompt. ``layer=None``: ``layer_of_32``
    scaled to the model's depth."""

    layer: int | None = None
    alpha: float = 2.0
    mode: Literal["ns", "nr"] = "ns"
    layer_of_32: int = 4
    auxiliary: str = CP_AUXILIARY

    name = "cp"
    params = {"layer": int, "alpha": float, "mode": str}  # e.g. cp[layer=3,alpha=2,mode=nr]

    def __post_init__(self) -> None:
        if self.mode not in ("ns", "nr"):
            raise ValueError(f"Contrastive Prompting mode must be 'ns' or 'nr', got {self.mode!r}")
        check_template(self.auxiliary)

    def resolved(self, depth: int) -> ContrastivePrompting:
        layer = scaled_layer(self.layer_of_32, depth) if self.layer is None else self.layer
        if not 0 <= layer < depth:
            raise ValueError(
                f"Contrastive Prompting's layer must be a decoder layer 0..{depth - 1}, got {layer}"
            )
        return replace(self, layer=layer)
