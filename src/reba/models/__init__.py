"""Finding, converting and loading models."""

from reba.models.loading import LoadedModel, cache_dir, load_model, unembedding, wrap_model
from reba.models.registry import BUNDLED_MODELS, DEFAULT_MODEL

__all__ = [
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "LoadedModel",
    "cache_dir",
    "load_model",
    "unembedding",
    "wrap_model",
]
