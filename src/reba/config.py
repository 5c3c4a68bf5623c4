"""One configuration object: everything that defines an embedding, in one frozen value.

``EmbedderConfig`` is what ``Embedder.from_config`` builds from, what ``embedder.config``
returns, and what every entry point (``reba embed/serve/export/eval --config FILE``, the
integrations) loads, so that the keyword list is written once. It is saved as JSON with a
schema name and version::

    {"schema": "reba.embedder-config", "version": 3, "model": "gemma-3-270m",
     "method": "reba", "k": 2, "layer": null, ..., "recipe": null, "postprocess": null}

A custom method (a :class:`reba.methods.Recipe` registered under a name) travels with its
configuration: ``recipe`` holds its full content (inputs and templates, read-out, layer,
intervention; ``reba.methods.serialize``), and loading the file registers it under the method's
base name, so ``mine`` or ``mine+reba`` works in a process that never defined it. A name
already registered here with another recipe is refused, never silently replaced.

Post-processing (mean removal, all-but-the-top, whitening) fitted on the configuration's own
vectors travels as ``postprocess``: a reference to the saved state (kind, params, sha256 digest
and folder; ``reba.postprocess.reference``), verified when an ``Embedder`` is built from it. A
relative folder is relative to the configuration file (``load`` resolves it).

Versions. Version 3 added ``postprocess``, version 2 ``recipe``; version 1 and 2 files (without
them) load unchanged. The rules:
a new field with a default that keeps old behaviour bumps the version and old files keep
loading (the field takes its default); a removed, renamed or re-interpreted field bumps it and
``from_dict`` either converts the old form or refuses it with a message saying what to change.
A file of a newer version, or with a field this version does not know, is refused with a
message naming it, never half-read. The device is not part of a configuration (the same
configuration runs on any device); the dtype is, since it changes the vectors.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reba.methods.recipe import Recipe
from reba.methods.serialize import recipe_from_dict, recipe_to_dict
from reba.models.registry import DEFAULT_MODEL
from reba.postprocess.reference import PostprocessRef

SCHEMA = "reba.embedder-config"
SCHEMA_VERSION = 3  # 3: "postprocess"; 2: "recipe" (custom methods); 1: the first fields
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class EmbedderConfig:
    """Everything that defines an embedding besides the device.

    - ``model``: a bundled alias, a local folder or ``.gguf`` file, or a hub id;
    - ``method``: a preset or a combination (``reba``, ``pcot+reba``, ``ke+cp[alpha=2]``);
    - ``k``: copies of the text (``None``: the method's default);
    - ``layer``: the hidden layer read (``None``: the method's own);
    - ``include_prefix``, ``preprocess``: ReBA's prefix rows, SentEval preprocessing;
    - ``max_length``: longest model input in tokens (``None``: the model's);
    - ``dtype``: ``float32``, ``bfloat16``, ``float16`` (``None``: reba's choice for the device);
    - ``recipe``: the full recipe of a custom (registered) base method; filled in from this
      process's registry when ``method`` names one, ``None`` for the presets;
    - ``postprocess``: a fitted post-processing state applied to every vector after the
      read-out, before any normalisation (``Embedder.fit``, ``reba fit``); ``None``: none.
    """

    model: str = DEFAULT_MODEL
    method: str = "reba"
    k: int | None = None
    layer: int | None = None
    include_prefix: bool = False
    preprocess: str | None = None
    max_length: int | None = None
    dtype: str | None = None
    recipe: Recipe | None = None
    postprocess: PostprocessRef | None = None

    def __post_init__(self) -> None:
        if isinstance(self.recipe, dict):
            object.__setattr__(self, "recipe", recipe_from_dict(self.recipe))
        if isinstance(self.postprocess, dict):
            object.__setattr__(self, "postprocess", PostprocessRef.from_dict(self.postprocess))
        _attach_recipe(self)
        errors = list(_field_errors(self))
        if errors:
            raise ValueError("invalid configuration: " + "; ".join(errors))

    # --- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.recipe is not None:
            fields["recipe"] = recipe_to_dict(self.recipe)
        if self.postprocess is not None:
            fields["postprocess"] = self.postprocess.to_dict()
        return {"schema": SCHEMA, "version": SCHEMA_VERSION, **fields}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "configuration") -> EmbedderConfig:
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(data).__name__}")
        data = dict(data)
        schema = data.pop("schema", SCHEMA)
        version = data.pop("version", SCHEMA_VERSION)
        if schema != SCHEMA:
            raise ValueError(f"{source}: not a reba configuration (schema {schema!r})")
        if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
            raise ValueError(
                f"{source}: configuration version {version!r} is not supported by this reba "
                f"(it reads versions 1..{SCHEMA_VERSION}); upgrade reba"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{source}: unknown field(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        try:
            if data.get("recipe") is not None:
                data["recipe"] = recipe_from_dict(data["recipe"], source="recipe")
            return cls(**data)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None

    def save(self, path: str | os.PathLike) -> Path:
        """Write the configuration as JSON (atomically) and return the path."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> EmbedderConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"configuration file not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not a JSON configuration ({err})") from None
        config = cls.from_dict(data, source=str(path))
        if config.postprocess is not None:  # a relative state folder is the file's neighbour
            config = config.replace(postprocess=config.postprocess.resolved(path.parent))
        return config

    def replace(self, **changes: Any) -> EmbedderConfig:
        return dataclasses.replace(self, **changes)

    def __reduce__(self):
        """Pickled as its file form, so unpickling (e.g. in a Ray worker) validates it and
        registers a custom recipe there too."""
        return (_from_dict, (self.to_dict(),))


def _from_dict(data: dict[str, Any]) -> EmbedderConfig:
    return EmbedderConfig.from_dict(data)


def as_config(config: EmbedderConfig | dict | str | os.PathLike) -> EmbedderConfig:
    """A configuration from an object, a dict, or the path of a saved file."""
    if isinstance(config, EmbedderConfig):
        return config
    if isinstance(config, dict):
        return EmbedderConfig.from_dict(config)
    if isinstance(config, str | os.PathLike):
        return EmbedderConfig.load(config)
    raise TypeError(
        f"expected an EmbedderConfig, a dict or a file path, got {type(config).__name__}"
    )


def _attach_recipe(config: EmbedderConfig) -> None:
    """Register a carried recipe under the method's base name, or carry the registered one."""
    from reba.methods.parse import base_methods, register_method, split_parts
    from reba.methods.presets import PRESETS

    if not isinstance(config.method, str) or not config.method.strip():
        return  # reported by _field_errors
    try:
        base = split_parts(config.method.strip())[0]
    except ValueError:
        return
    registered = base_methods().get(base) if base not in PRESETS else None
    if config.recipe is None:
        object.__setattr__(config, "recipe", registered)
        return
    if not isinstance(config.recipe, Recipe):
        raise ValueError(f"recipe must be a reba.methods.Recipe or its dict, got {config.recipe!r}")
    if base in PRESETS:
        raise ValueError(
            f"invalid configuration: method {config.method!r} starts with the preset {base!r}, "
            "so it takes no recipe; name the custom method (e.g. method='mine')"
        )
    if registered is not None and registered != config.recipe:
        raise ValueError(
            f"invalid configuration: method {base!r} is already registered in this process with "
            "another recipe; give this configuration's method another name"
        )
    if registered is None:
        register_method(base, config.recipe)


def _field_errors(config: EmbedderConfig):
    from reba.inputs.templates import PREPROCESSORS
    from reba.methods.parse import parse_method

    if not isinstance(config.model, str) or not config.model:
        yield f"model must be a non-empty string, got {config.model!r}"
    if not isinstance(config.method, str):
        yield f"method must be a string, got {type(config.method).__name__}"
    else:
        try:
            parse_method(config.method)
        except ValueError as err:
            yield str(err)
    for name, what, low in (("k", "the number of copies", 1), ("max_length", "in tokens", 2)):
        value = getattr(config, name)
        if value is not None and (type(value) is not int or value < low):
            yield f"{name} ({what}) must be an integer >= {low}, got {value!r}"
    if config.layer is not None and type(config.layer) is not int:
        yield f"layer must be an integer, got {config.layer!r}"
    if type(config.include_prefix) is not bool:
        yield f"include_prefix must be true or false, got {config.include_prefix!r}"
    if config.preprocess is not None and config.preprocess not in PREPROCESSORS:
        yield f"preprocess must be one of {sorted(PREPROCESSORS)}, got {config.preprocess!r}"
    if config.dtype is not None and config.dtype not in DTYPES:
        yield f"dtype must be one of {', '.join(DTYPES)}, got {config.dtype!r}"
    if config.postprocess is not None and not isinstance(config.postprocess, PostprocessRef):
        yield f"postprocess must be a reference to a saved state, got {config.postprocess!r}"
