"""A recipe as plain JSON data and back: how a custom method travels in a configuration file.

    {"inputs": [{"template": "This sentence : \\"{text}\\" means in one word:\\"", "whole": true}],
     "readout": "last", "layer": -2, "intervention": {"type": "tp", "start": 1, ...},
     "repeats": false, "default_k": 1, "description": "..."}

An input is ``"repetition"`` or a prompt ``{"template", "whole"}`` (with ``"ends": true`` for
EmbedFilter's Echo input); an intervention is ``null``
or its type (``tp``, ``cp``, ``kv``) with every parameter; ``embedfilter``, ``sparse``
(read-outs through the LM head), ``moee`` and ``values`` (``{"type": "va" | "alignedwva", ...}``)
appear only when the recipe has them, with every parameter. The same pieces are the recipe's
part of a method's fingerprint (cache keys, provenance), so what is saved is what is compared.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reba.methods.demonstration import InContext
from reba.methods.heads import EmbedFilter, SparseLogits
from reba.methods.htp import HierarchicalTokenPrepending
from reba.methods.interventions import ContrastivePrompting, TokenPrepending
from reba.methods.kv_rerouting import KVRerouting
from reba.methods.moee import RouterWeights
from reba.methods.recipe import Prompt, Recipe, Repetition
from reba.methods.values import VALUE_PARTS

INTERVENTION_TYPES = {
    cls.name: cls
    for cls in (TokenPrepending, ContrastivePrompting, HierarchicalTokenPrepending, KVRerouting)
}
# Recipe fields by name: read-outs through the LM head, MoEE, in-context's demonstration
HEAD_PARTS = {
    "embedfilter": EmbedFilter,
    "sparse": SparseLogits,
    "moee": RouterWeights,
    "icl": InContext,
}
_RECIPE_KEYS = (
    "inputs",
    "readout",
    "layer",
    "intervention",
    "repeats",
    "default_k",
    "description",
    *HEAD_PARTS,
    "values",
)


def describe_input(spec: Repetition | Prompt) -> Any:
    if isinstance(spec, Prompt):
        ends = {"ends": True} if spec.ends else {}  # only when set: other keys stay as they were
        return {"template": spec.template, "whole": spec.whole, **ends}
    return "repetition"


def describe_intervention(intervention) -> Any:
    if intervention is None:
        return None
    return {"type": type(intervention).name, **dataclasses.asdict(intervention)}


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    return {
        "inputs": [describe_input(i) for i in recipe.inputs],
        "readout": recipe.readout,
        "layer": recipe.layer,
        "intervention": describe_intervention(recipe.intervention),
        "repeats": recipe.repeats,
        "default_k": recipe.default_k,
        "description": recipe.description,
        **describe_heads(recipe),
    }


def describe_heads(recipe: Recipe) -> dict[str, Any]:
    """The read-outs through the LM head the recipe has (none: nothing, so that the other
    recipes' descriptions and fingerprints stay as they were)."""
    described = {
        kind: dataclasses.asdict(part)
        for kind in HEAD_PARTS
        if (part := getattr(recipe, kind)) is not None
    }
    if recipe.values is not None:  # VA / AlignedWVA: likewise only when present
        described["values"] = {"type": recipe.values.name, **dataclasses.asdict(recipe.values)}
    return described


def recipe_from_dict(data: Any, *, source: str = "recipe") -> Recipe:
    """The recipe ``data`` describes; a ValueError names the part that is wrong."""
    if isinstance(data, Recipe):
        return data
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_RECIPE_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(unknown)}")
    if not isinstance(data.get("inputs"), list):
        raise ValueError(f"{source}: 'inputs' must be a list of inputs")
    try:
        return Recipe(
            inputs=tuple(
                _input(spec, f"{source}.inputs[{i}]") for i, spec in enumerate(data["inputs"])
            ),
            readout=data.get("readout"),
            layer=_integer(data.get("layer", -1), f"{source}.layer"),
            intervention=_intervention(data.get("intervention"), f"{source}.intervention"),
            repeats=bool(data.get("repeats", False)),
            default_k=_integer(data.get("default_k", 1), f"{source}.default_k"),
            description=str(data.get("description", "")),
            **{
                kind: _head(kind, data[kind], f"{source}.{kind}")
                for kind in HEAD_PARTS
                if data.get(kind) is not None
            },
            values=_values(data.get("values"), f"{source}.values"),
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: {err}") from None


def _input(spec: Any, where: str) -> Repetition | Prompt:
    if spec == "repetition":
        return Repetition()
    if isinstance(spec, dict) and set(spec) <= {"template", "whole", "ends"} and "template" in spec:
        whole, ends = bool(spec.get("whole", True)), bool(spec.get("ends", False))
        return Prompt(spec["template"], whole, ends)
    raise ValueError(
        f'{where}: expected "repetition" or {{"template": ..., "whole": ..., "ends": ...}}'
    )


def _intervention(spec: Any, where: str):
    if spec is None:
        return None
    if not isinstance(spec, dict) or spec.get("type") not in INTERVENTION_TYPES:
        raise ValueError(
            f"{where}: expected null or an object with type {list(INTERVENTION_TYPES)}"
        )
    cls = INTERVENTION_TYPES[spec["type"]]
    fields = {f.name for f in dataclasses.fields(cls)}
    params = {key: value for key, value in spec.items() if key != "type"}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ValueError(f"{where}: unknown parameter(s) {', '.join(unknown)} of {spec['type']}")
    return cls(**params)


def _head(kind: str, spec: Any, where: str):
    cls = HEAD_PARTS[kind]
    fields = {f.name for f in dataclasses.fields(cls)}
    if not isinstance(spec, dict) or set(spec) - fields:
        raise ValueError(f"{where}: expected null or an object with keys from {sorted(fields)}")
    return cls(**spec)


def _values(spec: Any, where: str):
    if spec is None:
        return None
    if not isinstance(spec, dict) or spec.get("type") not in VALUE_PARTS:
        raise ValueError(f"{where}: expected null or an object with type {list(VALUE_PARTS)}")
    cls = VALUE_PARTS[spec["type"]]
    params = {key: value for key, value in spec.items() if key != "type"}
    unknown = sorted(set(params) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"{where}: unknown parameter(s) {', '.join(unknown)} of {spec['type']}")
    return cls(**params)


def _integer(value: Any, where: str) -> int:
    if type(value) is not int:
        raise ValueError(f"{where} must be an integer, got {value!r}")
    return value
