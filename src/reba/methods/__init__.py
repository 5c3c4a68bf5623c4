"""Embedding methods as recipes: input template, forward intervention, read-out, layer.

- ``recipe``: the parts (``Recipe``, ``Repetition``, ``Prompt``);
- ``interventions``: Token Prepending and Contrastive Prompting, as data;
- ``kv_rerouting``: KV-Embedding's key/value re-routing, as data;
- ``presets``: each paper's setting under its name;
- ``parse``: method names that combine parts (``pcot+reba``, ``ke+cp[alpha=2]``);
- ``config``: a configuration checked for a level and a model;
- ``readouts``: the pooling weights.
"""

from reba.methods.config import EmbeddingConfig, Level, Method, check_config
from reba.methods.htp import HierarchicalTokenPrepending
from reba.methods.interventions import ContrastivePrompting, TokenPrepending
from reba.methods.kv_rerouting import KVRerouting
from reba.methods.parse import (
    base_methods,
    parse_method,
    register_method,
    split_method_list,
)
from reba.methods.presets import PRESETS, SOURCES
from reba.methods.readouts import ForwardOutput
from reba.methods.recipe import READOUTS, WORD_READOUTS, Prompt, Recipe, Repetition

# Names usable at each level (combinations with + are accepted too).
SENTENCE_METHODS = tuple(PRESETS)
WORD_METHODS = ("mean", "echo", "reba")

__all__ = [
    "PRESETS",
    "READOUTS",
    "SENTENCE_METHODS",
    "SOURCES",
    "WORD_METHODS",
    "WORD_READOUTS",
    "ContrastivePrompting",
    "EmbeddingConfig",
    "ForwardOutput",
    "HierarchicalTokenPrepending",
    "KVRerouting",
    "Level",
    "Method",
    "Prompt",
    "Recipe",
    "Repetition",
    "TokenPrepending",
    "base_methods",
    "check_config",
    "parse_method",
    "register_method",
    "split_method_list",
]
