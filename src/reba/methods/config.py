"""A configuration (method, copies, layer, options), checked against a level and a model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from reba.inputs.templates import PREPROCESSORS
from reba.methods.parse import parse_method
from reba.methods.recipe import WORD_READOUTS, Recipe, Repetition
from reba.methods.serialize import describe_heads, describe_input, describe_intervention

Level = Literal["sentence", "word"]


@dataclass(frozen=True)
class EmbeddingConfig:
    """One way of embedding: a method name (a preset or a combination, e.g. ``pcot+reba``),
    its number of copies ``k`` (repetition methods), the layer (``None``: the method's own),
    ReBA's prefix-rows option and an optional text preprocessing (``"senteval"``)."""

    method: str
    k: int = 1
    layer: int | None = None
    include_prefix: bool = False
    preprocess: str | None = None

    def label(self) -> str:
        """e.g. ``reba-2``, ``mean``, ``pcot+reba/L12``: k is shown for methods that repeat,
        the layer when it is not the method's own."""
        try:
            parsed = parse_method(self.method)
        except ValueError:
            name, repeats, own_layer = self.method, self.k > 1, -1
        else:
            name, repeats, own_layer = parsed.name, parsed.recipe.repeats, parsed.recipe.layer
        parts = [f"{name}-{self.k}" if repeats else name]
        if self.layer is not None and self.layer != own_layer:
            parts.append(f"L{self.layer}")
        if self.include_prefix:
            parts.append("prefix")
        if self.preprocess:
            parts.append(self.preprocess)
        return "/".join(parts)


@dataclass(frozen=True)
class Method:
    """A configuration checked for a level: the canonical name, the recipe, k and layer."""

    config: EmbeddingConfig
    name: str
    recipe: Recipe
    level: Level
    k: int
    layer: int

    @property
    def copies(self) -> int:
        return self.k if self.recipe.repeats else 1

    def bind(self, depth: int) -> Method:
        """This method with its intervention's layers made concrete for a model of ``depth``
        decoder layers, and its read-out layer checked and written as a negative index (so
        ``layer=18`` and ``layer=-1`` of an 18-layer model are the same configuration)."""
        if not -depth - 1 <= self.layer <= depth:
            raise ValueError(
                f"{self.config.label()}: layer {self.layer} is out of range: this model returns "
                f"layers 0..{depth} (or -{depth + 1}..-1)"
            )
        layer = self.layer if self.layer < 0 else self.layer - (depth + 1)  # one spelling each
        intervention = self.recipe.intervention
        recipe = self.recipe
        if intervention is not None:
            recipe = dataclasses.replace(recipe, intervention=intervention.resolved(depth))
        return dataclasses.replace(self, recipe=recipe, layer=layer)

    def fingerprint(self) -> dict[str, Any]:
        """Everything the vectors depend on besides model, input and length limit (for cache
        keys): a renamed or re-registered method with other templates gets other keys."""
        recipe = self.recipe
        return {
            "method": self.name,
            "level": self.level,
            "k": self.copies,
            "layer": self.layer,
            "include_prefix": self.config.include_prefix,
            "preprocess": self.config.preprocess,
            "readout": recipe.readout,
            "inputs": [describe_input(i) for i in recipe.inputs],
            "intervention": describe_intervention(recipe.intervention),
            **describe_heads(recipe),  # only when present: older methods keep their keys
            **(recipe.moee.statistics_digest() if recipe.moee is not None else {}),
            **(recipe.icl.pool_digest() if recipe.icl is not None else {}),
        }

    def dimension(self, width: int) -> int:
        """The dense vector's dimension on a model whose hidden states have ``width``."""
        return width if self.recipe.embedfilter is None else self.recipe.embedfilter.kept(width)


def check_config(config: EmbeddingConfig, level: Level) -> Method:
    """Validate ``config`` for ``level``; a ValueError names what is wrong."""
    parsed = parse_method(config.method)
    recipe = parsed.recipe
    k = config.k
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (the number of copies) must be an integer >= 1, got {k!r}")
    if k > 1 and not recipe.repeats:
        raise ValueError(
            f"method {parsed.name!r} does not repeat the text (k must be 1, got {k}); "
            "use 'echo' or 'reba' for repetition"
        )
    if level == "word" and recipe.sparse is not None:
        raise ValueError(
            f"{parsed.name!r}: the sparse (PromptReps) read-out is sentence-level only (it "
            "reads the next-token logits after the whole text)"
        )
    if level == "word" and recipe.readout not in WORD_READOUTS:
        raise ValueError(
            f"{parsed.name!r} has no word-level form (its read-out {recipe.readout!r} does not "
            f"locate the word); word-level read-outs: {', '.join(WORD_READOUTS)}"
            + (f", e.g. {parsed.name}+mean or {parsed.name}+reba" if recipe.prompts else "")
        )
    repetition_reba = recipe.readout == "reba" and isinstance(recipe.inputs[0], Repetition)
    if config.include_prefix and not (level == "sentence" and repetition_reba):
        raise ValueError("include_prefix applies to the sentence-level 'reba' method only")
    if config.preprocess is not None and config.preprocess not in PREPROCESSORS:
        raise ValueError(
            f"unknown preprocessing {config.preprocess!r}; known: {', '.join(PREPROCESSORS)}"
        )
    layer = recipe.layer if config.layer is None else config.layer
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise ValueError(f"layer must be an integer, got {layer!r}")
    return Method(config, parsed.name, recipe, level, k, layer)
