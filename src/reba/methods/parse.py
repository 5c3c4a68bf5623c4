"""Method names: a preset, or a preset combined with other parts by ``+``.

    method      := base ("+" part)*
    part        := read-out | intervention | head | values | tokenization
    read-out    := "mean" | "last" | "reba" | "reba-last" | "hybrid"
    intervention:= ("tp" | "cp" | "htp" | "kv") [params]
    head        := ("embedfilter" | "sparse" | "moee") [params]
    demonstration := "icl" [params]
    values      := ("va" | "alignedwva") [params]
    params      := "[" name "=" value ("," name "=" value)* "]"
    tokenization:= "whole" | "pieces" | "ends" | "no-ends"

``base`` is a preset (``reba.methods.presets``) or a method registered with
:func:`register_method`. ``pcot+reba`` is PCoT's prompt read with ReBA's backward attention;
``ke+cp[alpha=2]`` overrides a parameter; ``prompteol+embedfilter[ratio=4]`` projects
PromptEOL's vector with EmbedFilter, ``prompteol+sparse`` adds PromptReps' sparse vector,
``prompteol+moee[stats=DIR]`` MoEE's router weights (mixture-of-experts models);
``prompteol+va`` pools attention values instead of the hidden state;
parts may come in any order. An intervention starts
from the paper's setting for that base when there is one (``prompteol+tp`` reads layer
depth-5), else from its defaults on the base's layer. Every name has one canonical spelling,
used in labels and cache keys (``echo+last`` is ``echo-last``). ``ends`` places a prompt
between one BOS and an EOS, pooled by the mean read-out (EmbedFilter's Echo input:
``echo-prompt+ends``); ``no-ends`` takes them off (``embedfilter-echo+no-ends``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from reba.methods.demonstration import InContext
from reba.methods.heads import EmbedFilter, SparseLogits
from reba.methods.htp import HierarchicalTokenPrepending
from reba.methods.interventions import ContrastivePrompting, TokenPrepending
from reba.methods.kv_rerouting import KVRerouting
from reba.methods.moee import RouterWeights
from reba.methods.presets import PRESETS
from reba.methods.recipe import READOUTS, Prompt, Recipe
from reba.methods.values import VALUE_PARTS

INTERVENTIONS = {
    "tp": TokenPrepending,
    "cp": ContrastivePrompting,
    "htp": HierarchicalTokenPrepending,
    "kv": KVRerouting,
}
# Optional parametrised parts held in Recipe fields of the same name
HEADS = {
    "embedfilter": EmbedFilter,
    "sparse": SparseLogits,
    "moee": RouterWeights,
    "icl": InContext,
}
PARAMETRISED = {**INTERVENTIONS, **HEADS, **VALUE_PARTS}  # VALUE_PARTS: Recipe.values
TOKENIZATIONS = ("whole", "pieces")
ENDS = {"ends": True, "no-ends": False}

_registered: dict[str, Recipe] = {}
_PART = re.compile(r"^([a-z][a-z0-9_-]*)(?:\[([^\]]*)\])?$")


@dataclass(frozen=True)
class ParsedMethod:
    name: str  # canonical
    recipe: Recipe


def register_method(name: str, recipe: Recipe) -> None:
    """Make ``name`` usable wherever a method is named (and combinable: ``name+reba``)."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name or ""):
        raise ValueError(f"method names are lower-case letters, digits, - and _: {name!r}")
    if name in PRESETS or name in READOUTS or name in PARAMETRISED or name in TOKENIZATIONS:
        raise ValueError(f"{name!r} is a built-in name; choose another")
    if not isinstance(recipe, Recipe):
        raise TypeError(f"expected a reba.methods.Recipe, got {type(recipe).__name__}")
    _registered[name] = recipe


def base_methods() -> dict[str, Recipe]:
    """Presets and registered methods usable as a base (names without ``+``)."""
    return {**{n: r for n, r in PRESETS.items() if "+" not in n}, **_registered}


def parse_method(name: str) -> ParsedMethod:
    """The recipe and canonical name of a method name; a ValueError says what is wrong."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a method name must be a non-empty string, got {name!r}")
    parts = _own_part_parameters(split_parts(name.strip()))
    bases = base_methods()
    if parts[0] not in bases:
        raise ValueError(_unknown(parts[0], bases))
    readout, intervention, tokenization, heads, values, ends = _modifiers(name, parts[1:])
    recipe = _start(parts[0], intervention)
    own = recipe.intervention
    if intervention is not None and own is not None and type(own).name != intervention[0]:
        raise ValueError(
            f"method {name!r}: {parts[0]} already has an intervention ({type(own).name}); "
            "at most one intervention (tp, cp or kv) per recipe"
        )
    changes: dict[str, object] = {} if readout is None else {"readout": readout}
    try:
        if intervention is not None:
            kind, params = intervention
            changes["intervention"] = _with_params(recipe.intervention, kind, params)
        for kind, params in heads.items():
            changes[kind] = _with_params(getattr(recipe, kind), kind, params)
        if values is not None:
            changes["values"] = _with_params(recipe.values, *values)
        recipe = dataclasses.replace(recipe, **changes)  # one change: checked as a whole
    except ValueError as err:
        raise ValueError(f"method {name!r}: {err}") from None
    if tokenization is not None or ends is not None:
        recipe = _tokenized(recipe, tokenization, ends, name)
    return ParsedMethod(canonical_name(parts[0], recipe), recipe)


def _own_part_parameters(parts: list[str]) -> list[str]:
    """``moee-sum[stats=DIR]``: a base with parameters gives them to its own (only) part
    through the LM head: ``moee-sum+moee[stats=DIR]``."""
    match = _PART.match(parts[0])
    base = base_methods().get(match.group(1)) if match and match.group(2) is not None else None
    own = [kind for kind in HEADS if base is not None and getattr(base, kind) is not None]
    if len(own) != 1:
        return parts
    return [match.group(1), f"{own[0]}[{match.group(2)}]", *parts[1:]]


def split_parts(name: str) -> list[str]:
    """``'ke+cp[layer=3,alpha=2]+reba'`` -> ``['ke', 'cp[layer=3,alpha=2]', 'reba']``."""
    parts, depth, current = [], 0, ""
    for ch in name:
        depth += (ch == "[") - (ch == "]")
        if ch == "+" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    if any(not p for p in parts):
        raise ValueError(f"method {name!r}: empty part between '+' signs")
    return parts


def split_method_list(text: str) -> list[str]:
    """A comma-separated list of methods, commas inside ``[...]`` kept: ``a,b+cp[x=1,y=2]``."""
    out, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    out.append(current.strip())
    return [m for m in out if m]


def _modifiers(name: str, parts: list[str]):
    readout = intervention = tokenization = values = ends = None
    heads: dict[str, dict[str, object]] = {}
    for part in parts:
        match = _PART.match(part)
        word, params = (match.group(1), match.group(2)) if match else (part, None)
        if word in READOUTS and params is None:
            if readout is not None:
                raise ValueError(f"method {name!r}: two read-outs ({readout}, {word})")
            readout = word
        elif word in INTERVENTIONS and match:
            if intervention is not None:
                raise ValueError(
                    f"method {name!r}: at most one intervention ({', '.join(INTERVENTIONS)})"
                )
            intervention = (word, _params(name, word, params))
        elif word in HEADS and match:
            if word in heads:
                raise ValueError(f"method {name!r}: {word} given twice")
            heads[word] = _params(name, word, params)
        elif word in VALUE_PARTS and match:
            if values is not None:
                raise ValueError(f"method {name!r}: at most one value read-out (va or alignedwva)")
            values = (word, _params(name, word, params))
        elif word in TOKENIZATIONS and params is None:
            tokenization = word
        elif word in ENDS and params is None:
            if ends is not None:
                raise ValueError(f"method {name!r}: ends given twice")
            ends = ENDS[word]
        else:
            raise ValueError(
                f"method {name!r}: unknown part {part!r}; after the base method come read-outs "
                f"({', '.join(READOUTS)}), interventions ({', '.join(INTERVENTIONS)}, e.g. "
                f"cp[alpha=2]), read-outs through the LM head (embedfilter, sparse, e.g. "
                f"embedfilter[ratio=4]), router weights (moee), value read-outs (va, alignedwva, "
                f"e.g. va[start=2]), a demonstration "
                f"(icl[demo=N,pool=PATH]), tokenizations ({', '.join(TOKENIZATIONS)}) or "
                f"a prompt's ends ({', '.join(ENDS)})"
            )
    return readout, intervention, tokenization, heads, values, ends


def _params(name: str, kind: str, text: str | None) -> dict[str, object]:
    allowed = PARAMETRISED[kind].params
    params: dict[str, object] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, eq, value = (s.strip() for s in item.partition("="))
        if not eq or key not in allowed:
            raise ValueError(
                f"method {name!r}: {kind} takes {', '.join(f'{k}=' for k in allowed)}; "
                f"got {item.strip()!r}"
            )
        try:
            params[key] = allowed[key](value)
        except ValueError:
            raise ValueError(
                f"method {name!r}: {kind}[{key}] must be {allowed[key].__name__}, got {value!r}"
            ) from None
    return params


def _start(base: str, intervention) -> Recipe:
    """The base's recipe, or the paper's setting of base + intervention when there is one."""
    if intervention is not None and f"{base}+{intervention[0]}" in PRESETS:
        return PRESETS[f"{base}+{intervention[0]}"]
    return base_methods()[base]


def _with_params(current, kind: str, params: dict[str, object]):
    """The base's part of this kind with ``params`` changed (the part's defaults if the base
    has none)."""
    if not isinstance(current, PARAMETRISED[kind]):
        current = PARAMETRISED[kind]()
    return dataclasses.replace(current, **params)


def _tokenized(recipe: Recipe, tokenization: str | None, ends: bool | None, name: str) -> Recipe:
    if not recipe.prompts or len(recipe.prompts) != len(recipe.inputs):
        what = "whole/pieces tokenization" if tokenization else "ends (BOS ... EOS)"
        raise ValueError(f"method {name!r}: {what} applies to prompts only")
    inputs = tuple(
        Prompt(
            p.template,
            p.whole if tokenization is None else tokenization == "whole",
            p.ends if ends is None else ends,
        )
        for p in recipe.prompts
    )
    try:
        return dataclasses.replace(recipe, inputs=inputs)
    except ValueError as err:
        raise ValueError(f"method {name!r}: {err}") from None


def canonical_name(base: str, recipe: Recipe) -> str:
    """The preset name when ``recipe`` is a preset, else base plus what differs from it."""
    for name, preset in {**PRESETS, **_registered}.items():
        if preset == recipe:
            return name
    kind = type(recipe.intervention).name if recipe.intervention is not None else None
    start = _start(base, (kind,) if kind else None)
    name = base
    if kind:
        default = start.intervention
        if type(default) is not type(recipe.intervention):
            default = type(recipe.intervention)()
        changed = _changed(default, recipe.intervention)
        own = base_methods()[base].intervention  # a base with this part already (kv-embedding)
        if changed or type(own) is not type(recipe.intervention):
            name += f"+{kind}" + (f"[{changed}]" if changed else "")
    for kind, part in HEADS.items():
        value, default = getattr(recipe, kind), getattr(start, kind) or part()
        if value is not None and value != getattr(start, kind):
            changed = _changed(default, value)
            name += f"+{kind}" + (f"[{changed}]" if changed else "")
    if recipe.values is not None and recipe.values != start.values:
        default = start.values if type(start.values) is type(recipe.values) else None
        changed = _changed(default or type(recipe.values)(), recipe.values)
        name += f"+{recipe.values.name}" + (f"[{changed}]" if changed else "")
    if recipe.readout != start.readout:
        name += f"+{recipe.readout}"
    if [p.whole for p in recipe.prompts] != [p.whole for p in start.prompts]:
        name += "+whole" if recipe.prompts[0].whole else "+pieces"
    if [p.ends for p in recipe.prompts] != [p.ends for p in start.prompts]:
        name += "+ends" if recipe.prompts[0].ends else "+no-ends"
    return name


def _changed(default, value) -> str:
    fields = type(value).params
    return ",".join(
        f"{k}={_format(getattr(value, k))}"
        for k in fields
        if getattr(value, k) != getattr(default, k)
    )


def _format(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unknown(word: str, bases: dict[str, Recipe]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(bases), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown method {word!r}{hint}. Methods: {', '.join(bases)}; combine with + "
        "(e.g. pcot+reba, prompteol+tp, ke+cp, prompteol+embedfilter)"
    )
