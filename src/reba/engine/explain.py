"""Which tokens a read-out weighs: the pooling weights of the embedding run itself.

``explain_configs`` runs ``embed_configs`` with an observer (``embed.Pooled``) and keeps, per
configuration and item, every model input it read: the tokens as the model sees them, a
segment mark per token and the normalised weights ``w / sum(w)``; the embedding is the run's
own. ``embedding = sum_j weights[j] * H[layer][j]`` over the model's hidden states of those
tokens holds when the method reads one input without an intervention (mean, last, echo,
reba, reba-last, the prompt methods and their ``+reba``/``+mean`` combinations). It does not
hold for:

- several inputs (MetaEOL's eight prompts, CK's two): the embedding is the mean of the
  inputs' read-outs, each of which is such a sum over its own hidden states;
- interventions (``+tp``, ``+cp``): they change the hidden states during the forward pass, so
  the weights apply to hidden states that a plain forward of the tokens does not produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from reba.engine.embed import Pooled, check_method, embed_configs
from reba.errors import items_error
from reba.inputs import PreparedInput
from reba.methods import EmbeddingConfig, Level, Repetition
from reba.models import LoadedModel

DECODE_CONTEXT = 6  # tokens decoded before each token to find its own characters


@dataclass
class ExplainedInput:
    """One model input of a read-out.

    ``tokens``: each token's characters as the model sees them ("" for a token that only
    starts a character finished by the next one); ``segments``: per token ``"special"`` (a
    repetition's prefix such as BOS), ``"copy N"`` (the N-th copy of the text, 1-based),
    ``"template"`` (a prompt's own tokens), ``"text"`` (the text inside a prompt) or
    ``"placeholder"`` (Token Prepending's extra token, HTP's markers); ``word``: positions of
    the word's tokens (word level); ``weights``: the read-out's pooling weights, summing to 1.
    """

    ids: list[int]
    tokens: list[str]
    segments: list[str]
    weights: np.ndarray  # (N,) float64, sums to 1
    word: list[int] = field(default_factory=list)


@dataclass
class Explanation:
    """What one configuration's embedding of one text (or word in context) weighs.

    ``inputs``: one per model input read (eight for MetaEOL); ``embedding``: the vector
    ``Embedder.embed`` returns; ``layer``: the hidden layer read (negative index);
    ``reconstructs``: whether ``embedding == sum_j weights[j] * H[layer][j]`` over the model's
    plain hidden states of the one input, and ``note`` why not when it does not.
    """

    label: str
    text: str
    word: str | None
    inputs: list[ExplainedInput]
    embedding: np.ndarray  # (d,) float32
    layer: int
    reconstructs: bool
    note: str = ""

    def to_json(self) -> dict:
        """A JSON-ready dict (lists of plain numbers)."""
        return {
            "label": self.label,
            "text": self.text,
            "word": self.word,
            "layer": self.layer,
            "reconstructs": self.reconstructs,
            "note": self.note,
            "inputs": [
                {
                    "tokens": i.tokens,
                    "segments": i.segments,
                    "weights": [round(float(w), 6) for w in i.weights],
                    "word": i.word,
                }
                for i in self.inputs
            ],
        }


def explain_configs(
    lm: LoadedModel,
    items: Sequence[object],
    configs: Sequence[EmbeddingConfig],
    *,
    level: Level = "sentence",
    max_length: int | None = None,
) -> dict[EmbeddingConfig, list[Explanation]]:
    """Explanations of ``items`` under each configuration, in input order; a bad item raises
    (``reba.errors.items_error``: which item, what is wrong)."""
    items = list(items)
    pooled: dict[tuple[EmbeddingConfig, int], list[Pooled]] = {}

    def observe(p: Pooled) -> None:
        pooled.setdefault((p.config, p.item.index), []).append(p)

    results = embed_configs(
        lm, items, configs, level=level, max_length=max_length, show_progress_bar=False,
        observe=observe,
    )  # fmt: skip
    out: dict[EmbeddingConfig, list[Explanation]] = {}
    for cfg in configs:
        result = results[cfg]
        if result.failures:
            raise items_error(result.failures)
        method = check_method(lm, cfg, level)
        recipe = method.recipe
        note = _why_not(len(recipe.inputs), recipe.intervention)
        explained = []
        for index, vector in zip(result.indices.tolist(), result.embeddings):
            reads = sorted(pooled[(cfg, index)], key=lambda p: p.input)
            inputs = [_explain_input(lm, p, recipe.input_specs()[p.input]) for p in reads]
            text, word = _item_text(items[index])
            explained.append(
                Explanation(cfg.label(), text, word, inputs, vector, method.layer, not note, note)
            )
        out[cfg] = explained
    return out


def _why_not(inputs: int, intervention) -> str:
    if intervention is not None:
        return (
            f"{type(intervention).__name__} changes the hidden states during the forward pass: "
            "the weights apply to those changed states, not to a plain forward's"
        )
    if inputs > 1:
        return (
            f"the embedding is the mean of {inputs} inputs' read-outs, each a weighted sum of "
            "its own hidden states"
        )
    return ""


def _explain_input(lm: LoadedModel, p: Pooled, spec) -> ExplainedInput:
    w = p.weights.double().numpy()
    item = p.item
    word = sorted({j for target in item.targets or () for j in target})
    return ExplainedInput(
        ids=list(item.ids),
        tokens=token_pieces(lm.tokenizer, item.ids),
        segments=segments(item, isinstance(spec, Repetition)),
        weights=w / w.sum(),
        word=word,
    )


def segments(item: PreparedInput, repetition: bool) -> list[str]:
    """Each position's segment mark (see ``ExplainedInput``)."""
    marks = ["special" if repetition else "template"] * item.length
    for n, (start, end) in enumerate(item.slots):
        marks[start:end] = [f"copy {n + 1}" if repetition else "text"] * (end - start)
    for position in (item.placeholder, *item.markers):  # TP's row, HTP's marker rows
        if position is not None:
            marks[position] = "placeholder"
    if item.closing is not None:  # EmbedFilter's Echo EOS: pooled with the last slot
        marks[item.closing] = "special"
    return marks


def token_pieces(tokenizer, ids: Sequence[int]) -> list[str]:
    """Each token's own characters: the decoded text grown by that token, decoded with a few
    tokens of context (so SentencePiece's word-initial spaces survive). A character split over
    several byte tokens is given to the token that completes it; the others get ""."""
    ids = list(ids)
    pieces = []
    start = 0  # first token whose characters are not yet given out
    for i in range(len(ids)):
        context = max(0, start - DECODE_CONTEXT)
        before = _decode(tokenizer, ids[context:start])
        now = _decode(tokenizer, ids[context : i + 1])
        if now.endswith("\ufffd") and i + 1 < len(ids):
            pieces.append("")  # an unfinished character: the next token completes it
            continue
        own = now[len(before) :] if now.startswith(before) else None
        pieces.append(own if own is not None else _decode(tokenizer, ids[start : i + 1]))
        start = i + 1
    return pieces


def _decode(tokenizer, ids: list[int]) -> str:
    if not ids:
        return ""
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def _item_text(item) -> tuple[str, str | None]:
    if isinstance(item, str):
        return item, None
    text, word = item
    if isinstance(word, str):
        return text, word
    start, end = word
    return text, text[start:end]
