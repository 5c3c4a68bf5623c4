"""Served configurations: ``[NAME=]MODEL[:METHOD[:K]]`` specs, ``[NAME=]FILE`` configuration
files, default names, shared models."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reba.config import EmbedderConfig
from reba.embedder import Embedder
from reba.methods import parse_method
from reba.models import LoadedModel, load_model

_NAME = re.compile(r"^[\w.:/+=,\[\]-]+$")


@dataclass(frozen=True)
class ServedConfig:
    """One configuration to serve; ``name`` None means the default name."""

    config: EmbedderConfig
    name: str | None = None


def parse_config_spec(spec: str) -> ServedConfig:
    """``[NAME=]FILE``: a saved configuration served as written (an existing path is a file
    even if it contains ``=``)."""
    name, sep, path = spec.partition("=")
    if not sep or os.path.exists(spec):
        name, path = None, spec
    if name is not None and (not name or not path):
        raise ValueError(f"--config {spec!r}: expected [NAME=]FILE")
    return ServedConfig(EmbedderConfig.load(path), name)


def parse_serve_spec(spec: str, defaults: EmbedderConfig | None = None) -> ServedConfig:
    """``[NAME=]MODEL[:METHOD[:K]]``, e.g. ``zh=gemma-3-270m:reba:2``, ``smollm2-135m:mean`` or
    ``en=smollm2-135m:ke+cp[alpha=2]`` (an ``=`` after the first ``:`` belongs to the method).
    The other fields come from ``defaults`` (the command line's --layer, --dtype, ...)."""
    name, sep, rest = spec.partition("=")
    if not sep or ":" in name or "[" in name:
        name, rest = None, spec
    parts = rest.split(":")
    k = None
    if len(parts) > 1 and parts[-1].isdigit():
        k = int(parts.pop())
    method = "reba"
    if len(parts) > 1 and _is_method(parts[-1]):
        method = parts.pop()
    elif k is not None:
        raise ValueError(f"--serve {spec!r}: K must follow a method (e.g. reba, pcot, ke+cp)")
    model = ":".join(parts)
    if not model or (name is not None and not name):
        raise ValueError(f"--serve {spec!r}: expected [NAME=]MODEL[:METHOD[:K]]")
    base = defaults or EmbedderConfig()
    return ServedConfig(base.replace(model=model, method=method, k=k, recipe=None), name)


def default_name(embedder: Embedder, model: str) -> str:
    """E.g. ``gemma-3-270m-reba-k2`` or ``gemma-3-270m-pcot+reba-k1`` (``-L<layer>`` is added
    for a layer other than the method's own)."""
    stem = Path(model.rstrip("/")).name
    stem = stem[: -len(".gguf")] if stem.endswith(".gguf") else stem
    layer = "" if embedder.config.layer is None else f"-L{embedder.config.layer}"
    return f"{stem}-{embedder.method}-k{embedder.k}{layer}"


def build_embedders(
    served_configs: Sequence[ServedConfig],
    *,
    loader: Callable[..., LoadedModel] | None = None,
    device: Any = None,
) -> dict[str, Embedder]:
    """One ``Embedder`` per configuration, keyed by served name; each model is loaded once per
    dtype."""
    loader = loader or load_model
    models: dict[tuple[str, str | None], LoadedModel] = {}
    served: dict[str, Embedder] = {}
    for spec in served_configs:
        config = spec.config
        key = (config.model, config.dtype)
        if key not in models:
            models[key] = loader(config.model, device=device, dtype=config.dtype)
        embedder = Embedder.from_config(config, model=models[key])
        _refuse_batch_statistics(embedder)
        name = spec.name or default_name(embedder, config.model)
        if not _NAME.match(name):
            raise ValueError(f"served name {name!r} may only use letters, digits and . _ - : /")
        if name in served:
            raise ValueError(f"two configurations are served as {name!r}; give one a NAME=")
        served[name] = embedder
    return served


def _is_method(text: str) -> bool:
    try:
        parse_method(text)
    except ValueError:
        return False
    return True


def _refuse_batch_statistics(embedder: Embedder) -> None:
    """MoEE's per-batch statistics make a vector depend on the request it came in with."""
    from reba.methods import parse_method

    part = parse_method(embedder.method).recipe.moee
    if part is not None and part.stats == "batch":
        raise ValueError(
            f"{embedder.method}: MoEE's per-batch statistics (stats=batch) make a vector depend "
            "on the other texts of its request; serve it with statistics fitted on a corpus "
            "(reba fit-moee, then moee[stats=DIR])"
        )
