"""Backward attention, reduced layer by layer while the model runs (spec, "the way out").

ReBA needs ``S = max over layers l and heads h of (X[l,h] + X[l,h]^T) / 2`` but only a few of
its rows: the rows of the word's tokens or of copy 1 (which, for ``j > i``, are *columns* of the
causal attention ``X[l,h][j, i]``), or the last row. We register an attention function with
transformers' ``AttentionInterface`` that runs the model's own eager attention, folds the needed
columns/row into a running max over heads and layers, and drops the probabilities: no layer's
full ``(B, H, N, N)`` attention outlives that layer.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch

IMPLEMENTATION = "reba_eager"

_active: ContextVar[BackwardAttention | None] = ContextVar("reba_backward_attention", default=None)
_registered = False


class BackwardAttention:
    """Running max over layers and heads of selected attention columns and rows.

    ``columns[b, c]`` is a key position of batch item ``b``; after the forward,
    ``column_max[b, j, c] = max over l, h of X[l,h][b, j, columns[b, c]]``.
    ``rows[b, r]`` is a query position (e.g. a last token); ``row_max[b, r, j]`` likewise.
    """

    def __init__(self, columns: torch.Tensor | None, rows: torch.Tensor | None):
        self.columns = columns
        self.rows = rows
        self.column_max: torch.Tensor | None = None
        self.row_max: torch.Tensor | None = None

    def observe(self, probs: torch.Tensor) -> None:
        over_heads = probs.amax(dim=1)  # (B, N_query, N_key)
        if self.columns is not None:
            index = self.columns[:, None, :].expand(-1, over_heads.shape[1], -1)
            picked = over_heads.gather(2, index)
            self.column_max = _fold_max(self.column_max, picked)
        if self.rows is not None:
            index = self.rows[:, :, None].expand(-1, -1, over_heads.shape[2])
            picked = over_heads.gather(1, index)
            self.row_max = _fold_max(self.row_max, picked)


def _fold_max(running: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
    return new.float() if running is None else torch.maximum(running, new.float())


def _eager_forward_of(module: torch.nn.Module):
    """The eager attention function defined next to the module's class in transformers."""
    eager = getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)
    if eager is None:
        raise NotImplementedError(
            f"{type(module).__name__} has no eager_attention_forward in its transformers module; "
            "ReBA needs the attention probabilities, so this architecture cannot use reba methods"
        )
    return eager


def _recording_attention(module, query, key, value, attention_mask, **kwargs):
    output, probs = _eager_forward_of(module)(module, query, key, value, attention_mask, **kwargs)
    recorder = _active.get()
    if recorder is not None:
        recorder.observe(probs)
    return output, None


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(IMPLEMENTATION, _recording_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, eager_mask)
    _registered = True


@contextmanager
def attention_implementation(model, name: str) -> Iterator[None]:
    """Run ``model`` with attention implementation ``name``, restoring the previous one after."""
    previous = model.config._attn_implementation
    if name == previous:
        yield
        return
    model.set_attn_implementation(name)
    try:
        yield
    finally:
        model.set_attn_implementation(previous)


@contextmanager
def recording(model, recorder: BackwardAttention) -> Iterator[BackwardAttention]:
    """Run ``model`` with eager attention whose probabilities are folded into ``recorder``."""
    _register()
    token = _active.set(recorder)
    try:
        with attention_implementation(model, IMPLEMENTATION):
            yield recorder
    finally:
        _active.reset(token)
