"""From raw items to model inputs: checking, templates, tokenization, truncation, placement."""

from reba.inputs.build import Tokenizer, build_repetition, build_template, report_truncation
from reba.inputs.items import Item, Span, check_texts, check_words
from reba.inputs.prepared import PreparedInput, repetition_prefix

__all__ = [
    "Item",
    "PreparedInput",
    "Span",
    "Tokenizer",
    "build_repetition",
    "build_template",
    "check_texts",
    "check_words",
    "repetition_prefix",
    "report_truncation",
]
