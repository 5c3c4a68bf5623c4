"""In-context PromptEOL (Jiang et al. 2023; kongds/scaling_sentemb), as data: one
demonstration from the authors' pool (``reba.inputs.demonstrations``) before PromptEOL's
template. The authors define it on PromptEOL's template only; reba refuses other templates.
"""

from __future__ import annotations

from dataclasses import dataclass

from reba.inputs.demonstrations import DEFAULT_LINE, demonstration
from reba.inputs.templates import PROMPTEOL


@dataclass(frozen=True)
class InContext:
    """``demo``: the demonstration's line in the pool (1-based; default the authors' README
    example, ``A jockey riding a horse.`` -> ``Equestrian``)."""

    demo: int = DEFAULT_LINE

    name = "icl"
    params = {"demo": int}  # e.g. prompteol+icl[demo=16]

    def __post_init__(self) -> None:
        demonstration(self.demo)  # raises for a line outside the pool

    def template(self, template: str) -> str:
        """``template`` (PromptEOL's) with the demonstration before it."""
        if template != PROMPTEOL:
            raise ValueError(
                "in-context demonstrations are defined on PromptEOL's template only (the "
                f"authors' form, e.g. prompteol+icl); this input's template is {template!r}"
            )
        return demonstration(self.demo).prefix + template
