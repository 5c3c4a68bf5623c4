"""reba: training-free text embeddings from causal language models.

ReBA (repetition + backward attention) and the training-free methods it is measured against
(classical pooling, Echo, PromptEOL, PCoT, KE, CK, MetaEOL, Token Prepending, Contrastive
Prompting), exactly as specified, composable, with a batched engine that reduces attention
layer by layer.
"""

import logging as _logging
import sys as _sys

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
    Prompt,
    Recipe,
    Repetition,
    TokenPrepending,
    register_method,
)
from reba.models import BUNDLED_MODELS, DEFAULT_MODEL, LoadedModel, load_model, wrap_model


class _CurrentStderr(_logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (so redirection and capture work)."""

    @property
    def stream(self):
        return _sys.stderr

    @stream.setter
    def stream(self, value):
        pass


# Library messages (model conversion, truncation) reach the user's terminal unless they
# configure logging themselves.
_logger = _logging.getLogger("reba")
if not _logger.handlers:
    _handler = _CurrentStderr()
    _handler.setFormatter(_logging.Formatter("%(message)s"))
    _logger.addHandler(_handler)
    _logger.setLevel(_logging.INFO)
    _logger.propagate = False

__all__ = [
    "BUNDLED_MODELS",
    "PRESETS",
    "ContrastivePrompting",
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
