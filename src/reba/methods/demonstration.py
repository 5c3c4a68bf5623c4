"""In-context PromptEOL (Jiang et al. 2023; kongds/scaling_sentemb), as data: one
demonstration before PromptEOL's template (``reba.inputs.demonstrations``). The authors define
it on PromptEOL's template only; reba refuses other templates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from reba.inputs.demonstrations import README_DEMONSTRATION, Demonstration, load_pool
from reba.inputs.templates import PROMPTEOL


@dataclass(frozen=True)
class InContext:
    """``demo``: 0 (default) the authors' README demonstration (``A jockey riding a horse.``
    -> ``Equestrian``, built in), N the demonstration on line N of the pool; ``pool``: the pool
    file (empty: reba's own; e.g. the authors' ``icl_examples.txt`` the user downloaded), also
    the candidates of ``reba eval --dev-demos``. Without ``, [ ]`` so that a method name can
    hold it."""

    demo: int = 0
    pool: str = ""

    name = "icl"
    params = {"demo": int, "pool": str}  # e.g. prompteol+icl[demo=16,pool=icl_examples.txt]

    def __post_init__(self) -> None:
        if isinstance(self.pool, os.PathLike):
            object.__setattr__(self, "pool", os.fspath(self.pool))
        if not isinstance(self.pool, str) or any(c in self.pool for c in ",[]"):
            raise ValueError(
                f"icl: pool must be a file path without , [ or ] (so that a method name can "
                f"hold it), got {self.pool!r}"
            )
        if isinstance(self.demo, bool) or not isinstance(self.demo, int) or self.demo < 0:
            raise ValueError(
                f"icl: demo is 0 (the authors' README demonstration) or a line of the pool "
                f"(1, 2, ...), got {self.demo!r}"
            )
        if self.demo or self.pool:
            self.demonstration()  # a bad pool file or a line outside it raises here

    def demonstration(self) -> Demonstration:
        """The README's demonstration (``demo=0``) or line ``demo`` of the pool."""
        pool = load_pool(self.pool) if self.demo or self.pool else None
        return README_DEMONSTRATION if pool is None or not self.demo else pool.line(self.demo)

    def pool_digest(self) -> dict[str, str]:
        """``{"pool_sha256": ...}`` when the demonstration comes from a pool (for cache keys
        and provenance: vectors from different pools never share a key)."""
        if self.demo == 0:
            return {}
        return {"pool_sha256": load_pool(self.pool).sha256}

    def template(self, template: str) -> str:
        """``template`` (PromptEOL's) with the demonstration before it."""
        if template != PROMPTEOL:
            raise ValueError(
                "in-context demonstrations are defined on PromptEOL's template only (the "
                f"authors' form, e.g. prompteol+icl); this input's template is {template!r}"
            )
        return self.demonstration().prefix + template
