"""Served configurations: ``[NAME=]MODEL[:METHOD[:K]]`` specs, default names, shared models."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reba.embedder import Embedder
from reba.methods import parse_method
from reba.models import LoadedModel, load_model

_NAME = re.compile(r"^[\w.:/+=,\[\]-]+$")


@dataclass(frozen=True)
class ServedConfig:
    """One configuration to serve; ``name`` None means the default name."""

    model: str
    method: str = "reba"
    k: int | None = None
    name: str | None = None


def parse_serve_spec(spec: str) -> ServedConfig:
    """``[NAME=]MODEL[:METHOD[:K]]``, e.g. ``zh=gemma-3-270m:reba:2``, ``smollm2-135m:mean`` or
    ``en=smollm2-135m:ke+cp[alpha=2]`` (an ``=`` after the first ``:`` belongs to the method)."""
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
    return ServedConfig(model=model, method=method, k=k, name=name)


def default_name(embedder: Embedder, model: str) -> str:
    """E.g. ``gemma-3-270m-reba-k2`` or ``gemma-3-270m-pcot+reba-k1`` (``-L<layer>`` is added
    for a layer other than the method's own)."""
    stem = Path(model.rstrip("/")).name
    stem = stem[: -len(".gguf")] if stem.endswith(".gguf") else stem
    layer = "" if embedder.config.layer is None else f"-L{embedder.config.layer}"
    return f"{stem}-{embedder.method}-k{embedder.k}{layer}"


def build_embedders(
    configs: Sequence[ServedConfig],
    *,
    loader: Callable[..., LoadedModel] | None = None,
    device: Any = None,
    dtype: Any = None,
    **embedder_options: Any,
) -> dict[str, Embedder]:
    """One ``Embedder`` per configuration, keyed by served name; each model is loaded once."""
    loader = loader or load_model
    models: dict[str, LoadedModel] = {}
    served: dict[str, Embedder] = {}
    for config in configs:
        if config.model not in models:
            models[config.model] = loader(config.model, device=device, dtype=dtype)
        embedder = Embedder(
            models[config.model], method=config.method, k=config.k, **embedder_options
        )
        name = config.name or default_name(embedder, config.model)
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
