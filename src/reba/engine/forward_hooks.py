"""How Token Prepending and Contrastive Prompting change a batched forward pass.

Both work through forward pre-hooks on the user's model, removed after each pass; neither
touches the model's weights or the tokenizer. Positions are given per input as ``(row,
position)`` pairs in the batch, so padded and packed batches work alike.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import torch
from torch.func import functional_call

from reba.methods import ContrastivePrompting, HierarchicalTokenPrepending, TokenPrepending
from reba.models.anatomy import attention_output_projection, decoder_layers, hidden_states_argument


@dataclass(frozen=True)
class Positions:
    """Batch rows and positions of some inputs, as index tensors."""

    rows: torch.Tensor
    at: torch.Tensor


@contextmanager
def pre_hooks(modules, hook: Callable) -> Iterator[None]:
    handles = [m.register_forward_pre_hook(hook, with_kwargs=True) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


# --- Token Prepending -----------------------------------------------------------------------


def placeholder_row(model: torch.nn.Module, seed: int | None) -> torch.Tensor:
    """The ``<PST>`` input row: a seeded standard-normal vector (``seed=None``: the mean of the
    embedding's rows, as a vocabulary resized with transformers' mean resizing gives) passed
    through the model's own embedding module (so Gemma's embedding scaling applies, as to any
    token)."""
    embedding = model.get_input_embeddings()
    weight = embedding.weight
    if seed is None:
        vector = _mean_row(embedding)
    else:
        generator = torch.Generator().manual_seed(seed)
        vector = torch.randn(weight.shape[1], generator=generator).to(weight.device, weight.dtype)
    # A small table holding the vector at row 0 (and room for a padding index, if any).
    rows = max(1, (getattr(embedding, "padding_idx", None) or 0) + 1)
    table = torch.zeros(rows, weight.shape[1], dtype=weight.dtype, device=weight.device)
    table[0] = vector
    ids = torch.zeros(1, 1, dtype=torch.long, device=weight.device)
    return functional_call(embedding, {"weight": table}, (ids,))[0, 0]


# embedding module -> (its weight, the mean of its rows)
_MEAN_ROWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _mean_row(embedding: torch.nn.Module) -> torch.Tensor:
    """The mean of the embedding's rows, computed once per module and weight (a 262k-row
    vocabulary takes seconds; reba never changes a model's weights)."""
    weight = embedding.weight
    cached = _MEAN_ROWS.get(embedding)
    if cached is None or cached[0] is not weight:
        row = weight.detach().double().mean(dim=0).to(weight.dtype)
        cached = _MEAN_ROWS[embedding] = (weight, row)
    return cached[1]


def token_prepending_embeddings(
    model: torch.nn.Module, ids: torch.Tensor, tp: TokenPrepending, placeholders: Positions
) -> torch.Tensor:
    """The batch's input embeddings with the ``<PST>`` row at each placeholder."""
    embeds = model.get_input_embeddings()(ids)
    return put_rows(model, embeds, placeholders, tp.seed)


def put_rows(
    model: torch.nn.Module, embeds: torch.Tensor, positions: Positions, seed: int | None
) -> torch.Tensor:
    """``embeds`` with the placeholder row of ``seed`` (``None``: the mean row) at
    ``positions`` (in place)."""
    embeds[positions.rows, positions.at] = placeholder_row(model, seed).to(embeds.dtype)
    return embeds


@contextmanager
def token_prepending(
    model: torch.nn.Module,
    tp: TokenPrepending | HierarchicalTokenPrepending,
    placeholders: Positions,
    lasts: Positions,
) -> Iterator[None]:
    """Before each decoder layer ``tp.start <= i < tp.end``, the state at each placeholder
    becomes the state at its source (TP: its input's last position; HTP: its sentence's last
    token), the previous layer's output there."""

    def overwrite(module, args, kwargs):
        hidden, positional = hidden_states_argument(args, kwargs)
        hidden = hidden.clone()
        hidden[placeholders.rows, placeholders.at] = hidden[lasts.rows, lasts.at]
        if positional:
            return (hidden, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": hidden}

    with pre_hooks(decoder_layers(model)[tp.start : tp.end], overwrite):
        yield


# --- Contrastive Prompting ------------------------------------------------------------------


class _Captured(Exception):
    """Stops the auxiliary pass once layer ``l``'s projection input has been read."""


def contrastive_reference(
    model: torch.nn.Module, cp: ContrastivePrompting, run: Callable[[], object], lasts: Positions
) -> torch.Tensor:
    """``b``: the input of layer ``cp.layer``'s attention output projection at each
    auxiliary input's last position, from a pass that ``run`` starts and that stops there."""
    captured: list[torch.Tensor] = []

    def capture(module, args, kwargs):
        x, _ = hidden_states_argument(args, kwargs)
        captured.append(x[lasts.rows, lasts.at].clone())
        raise _Captured

    projection = attention_output_projection(model, cp.layer)
    with pre_hooks([projection], capture), suppress(_Captured):
        run()
    if not captured:
        raise RuntimeError(
            f"{type(model).__name__}: layer {cp.layer}'s attention output projection was not "
            "called during the auxiliary pass"
        )
    return captured[0]


@contextmanager
def contrastive_prompting(
    model: torch.nn.Module, cp: ContrastivePrompting, lasts: Positions, reference: torch.Tensor
) -> Iterator[None]:
    """At layer ``cp.layer``, the last position's projection input ``a`` becomes
    ``alpha * (a - b)`` (NS) or ``(a - b) * |a| / (|a - b| + 1e-7)`` (NR)."""

    def intervene(module, args, kwargs):
        x, positional = hidden_states_argument(args, kwargs)
        x = x.clone()
        a = x[lasts.rows, lasts.at].float()
        x[lasts.rows, lasts.at] = contrast(a, reference.float(), cp).to(x.dtype)
        if positional:
            return (x, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": x}

    with pre_hooks([attention_output_projection(model, cp.layer)], intervene):
        yield


def contrast(a: torch.Tensor, b: torch.Tensor, cp: ContrastivePrompting) -> torch.Tensor:
    """CP's replacement of ``a`` (rows of vectors) given the auxiliary ``b``."""
    difference = a - b
    if cp.mode == "ns":
        return cp.alpha * difference
    norm_a = a.norm(dim=-1, keepdim=True)
    return difference * norm_a / (difference.norm(dim=-1, keepdim=True) + 1e-7)
