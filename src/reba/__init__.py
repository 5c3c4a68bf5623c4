"""reba: training-free text embeddings from causal language models.

ReBA (repetition + backward attention) and the training-free methods it is measured against
(classical pooling, Echo, PromptEOL, PCoT, KE, CK, MetaEOL, Token Prepending, Contrastive
Prompting), exactly as specified, composable, with a batched engine that reduces attention
layer by layer.
"""

import logging as _logging

from reba._version import __version__
from reba.config import EmbedderConfig
from reba.embedder import Embedder
from reba.engine import EmbedResult, embed_configs
from reba.errors import InvalidItemError, ItemFailure, NonFiniteEmbeddingError
from reba.methods import (
    PRESETS,
    SENTENCE_METHODS,
    WORD_METHODS,
    ContrastivePrompting,
    EmbeddingConfig,
    HierarchicalTokenPrepending,
    Prompt,
    Recipe,
    Repetition,
    TokenPrepending,
    register_method,
)
from reba.models import BUNDLED_MODELS, DEFAULT_MODEL, LoadedModel, load_model, wrap_model

# A library's logging: a NullHandler and propagation, so the application's configuration
# decides where reba's messages go (the ``reba`` command line prints them; reba.cli.logs).
_logging.getLogger("reba").addHandler(_logging.NullHandler())

__all__ = [
    "BUNDLED_MODELS",
    "PRESETS",
    "ContrastivePrompting",
    "HierarchicalTokenPrepending",
    "Prompt",
    "Recipe",
    "Repetition",
    "TokenPrepending",
    "register_method",
    "DEFAULT_MODEL",
    "SENTENCE_METHODS",
    "WORD_METHODS",
    "EmbedResult",
    "Embedder",
    "EmbedderConfig",
    "EmbeddingConfig",
    "InvalidItemError",
    "ItemFailure",
    "LoadedModel",
    "NonFiniteEmbeddingError",
    "__version__",
    "embed_configs",
    "load_model",
    "wrap_model",
]
