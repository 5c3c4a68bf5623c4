"""The embedding methods of the spec ("Embeddings"), as pooling weights over token positions.

Every method is ``e = sum_j w_j H[j] / sum_j w_j`` for some weights ``w`` over the positions of
one prepared input; classical and Echo pooling use 0/1 weights, ReBA uses backward attention.
A method says whether it repeats the text, which attention it needs, and how to weigh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from reba.inputs import PreparedInput

Level = Literal["sentence", "word"]
AttentionNeed = Literal["none", "columns", "last_row"]

PROMPTEOL_TEMPLATE = 'This sentence : "{text}" means in one word:"'


@dataclass(frozen=True)
class EmbeddingConfig:
    """One way of embedding: a method, its number of copies, the layer, and the ReBA option."""

    method: str
    k: int = 1
    layer: int = -1
    include_prefix: bool = False  # ReBA sentence mean form: also sum the special-prefix rows

    def label(self) -> str:
        """e.g. ``reba-2``, ``mean``, ``echo-3/L12``: k is shown for methods that repeat."""
        repeats = any(m.repeats for (_, name), m in METHODS.items() if name == self.method)
        parts = [f"{self.method}-{self.k}" if repeats else self.method]
        if self.layer != -1:
            parts.append(f"L{self.layer}")
        if self.include_prefix:
            parts.append("prefix")
        return "/".join(parts)


@dataclass
class ForwardOutput:
    """What one forward pass leaves for one input: hidden states and reduced attention."""

    hidden: dict[int, torch.Tensor]  # layer -> (N, d)
    column_positions: tuple[int, ...] = ()  # key positions whose attention columns were kept
    column_max: torch.Tensor | None = None  # (N, C): max over l,h of X[j, column_positions[c]]
    row_positions: tuple[int, ...] = ()  # query positions whose attention rows were kept
    row_max: torch.Tensor | None = None  # (R, N): max over l,h of X[row_positions[r], j]


WeightFn = Callable[[PreparedInput, ForwardOutput, EmbeddingConfig], torch.Tensor]
RowsFn = Callable[[PreparedInput, EmbeddingConfig], list[int]]


@dataclass(frozen=True)
class Method:
    name: str
    level: Level
    description: str
    weights: WeightFn
    repeats: bool = False  # accepts k > 1
    attention: AttentionNeed = "none"
    rows: RowsFn | None = None  # for attention == "columns": the rows of U that are summed
    template: str | None = None


# --- weights -------------------------------------------------------------------------------


def _indicator(length: int, positions: list[int] | range) -> torch.Tensor:
    w = torch.zeros(length)
    w[list(positions)] = 1.0
    return w


def _last_copy(item: PreparedInput, out: ForwardOutput, cfg: EmbeddingConfig) -> torch.Tensor:
    return _indicator(item.length, item.copy_positions(item.copies))


def _last_token(item: PreparedInput, out: ForwardOutput, cfg: EmbeddingConfig) -> torch.Tensor:
    return _indicator(item.length, [item.length - 1])


def _word_last_copy(item: PreparedInput, out: ForwardOutput, cfg: EmbeddingConfig) -> torch.Tensor:
    return _indicator(item.length, item.target_positions(item.copies))


def _backward_over(rows_of: RowsFn) -> WeightFn:
    """``w_j = sum over rows i of U[i, j]``, ``U = triu(S)``: S[i,j] = max X[j,i]/2 for j > i."""

    def weights(item: PreparedInput, out: ForwardOutput, cfg: EmbeddingConfig) -> torch.Tensor:
        rows = rows_of(item, cfg)
        where = {p: c for c, p in enumerate(out.column_positions)}
        attention = out.column_max[:, [where[r] for r in rows]]  # (N, R) copy: X[:, i] per row i
        i = torch.tensor(rows)
        diagonal = attention[i, torch.arange(len(rows))]  # X[i, i]: U[i, i] is not halved
        # In place on the copy: long inputs make (N, R) temporaries costly.
        attention.masked_fill_(torch.arange(item.length)[:, None] <= i[None, :], 0.0)
        return (attention.sum(dim=1) / 2).index_add_(0, i, diagonal)

    return weights


def _backward_last(item: PreparedInput, out: ForwardOutput, cfg: EmbeddingConfig) -> torch.Tensor:
    """``w_j = S[N-1, j]``: half the last token's attention to j, and its full self-attention."""
    row = out.row_max[out.row_positions.index(item.length - 1)]
    w = row / 2
    w[-1] = row[-1]
    return w


def _copy_one_rows(item: PreparedInput, cfg: EmbeddingConfig) -> list[int]:
    rows = list(item.copy_positions(1))
    return list(range(item.text_start)) + rows if cfg.include_prefix else rows


def _word_rows(item: PreparedInput, cfg: EmbeddingConfig) -> list[int]:
    return item.target_positions(1)


# --- the table -----------------------------------------------------------------------------

_ALL = (
    Method("mean", "sentence", "classical: mean of the text's tokens (k=1)", _last_copy),
    Method("last", "sentence", "classical: the last token (k=1)", _last_token),
    Method("echo", "sentence", "Echo: mean of the last copy", _last_copy, repeats=True),
    Method("echo-last", "sentence", "Echo: last token of the last copy", _last_token, repeats=True),
    Method(
        "prompteol",
        "sentence",
        "PromptEOL: last token of the one-word prompt (k=1)",
        _last_token,
        template=PROMPTEOL_TEMPLATE,
    ),
    Method(
        "reba",
        "sentence",
        "ReBA mean form: backward-attention weights summed over copy 1's rows",
        _backward_over(_copy_one_rows),
        repeats=True,
        attention="columns",
        rows=_copy_one_rows,
    ),
    Method(
        "reba-last",
        "sentence",
        "ReBA last-token form: weights from the last row of S",
        _backward_last,
        repeats=True,
        attention="last_row",
    ),
    Method("mean", "word", "classical: mean of the word's tokens (k=1)", _word_last_copy),
    Method(
        "echo",
        "word",
        "Echo: mean of the word's tokens in the last copy",
        _word_last_copy,
        repeats=True,
    ),
    Method(
        "reba",
        "word",
        "ReBA: backward-attention weights summed over the word's rows in copy 1",
        _backward_over(_word_rows),
        repeats=True,
        attention="columns",
        rows=_word_rows,
    ),
)
METHODS: dict[tuple[Level, str], Method] = {(m.level, m.name): m for m in _ALL}
SENTENCE_METHODS = tuple(m.name for m in _ALL if m.level == "sentence")
WORD_METHODS = tuple(m.name for m in _ALL if m.level == "word")


def get_method(name: str, level: Level) -> Method:
    """The method ``name`` at ``level``, or a ValueError that lists the valid names."""
    method = METHODS.get((level, name))
    if method is None:
        valid = SENTENCE_METHODS if level == "sentence" else WORD_METHODS
        known = name in SENTENCE_METHODS or name in WORD_METHODS
        hint = f"{name!r} has no {level}-level form" if known else f"unknown method {name!r}"
        raise ValueError(f"{hint}; {level}-level methods are: {', '.join(valid)}")
    return method


def check_config(config: EmbeddingConfig, level: Level) -> Method:
    """Validate a config for ``level`` and return its method."""
    method = get_method(config.method, level)
    if isinstance(config.k, bool) or not isinstance(config.k, int) or config.k < 1:
        raise ValueError(f"k (the number of copies) must be an integer >= 1, got {config.k!r}")
    if config.k > 1 and not method.repeats:
        raise ValueError(
            f"method {config.method!r} does not repeat the text (k must be 1, got {config.k}); "
            "use 'echo' or 'reba' for repetition"
        )
    if config.include_prefix and not (level == "sentence" and config.method == "reba"):
        raise ValueError("include_prefix applies to the sentence-level 'reba' method only")
    return method


def embed_one(
    item: PreparedInput, out: ForwardOutput, cfg: EmbeddingConfig, method: Method
) -> torch.Tensor:
    """Pool one input's hidden states with ``method``'s weights.

    In float64: activations of real LMs reach ~100, where float32 sums lose ~1e-5; the cost is
    negligible next to the forward pass.
    """
    hidden = out.hidden[cfg.layer].double()
    weights = method.weights(item, out, cfg).to(hidden.device, torch.float64)
    return ((weights @ hidden) / weights.sum()).float()
