"""reba's two attention implementations, registered with transformers' attention interfaces.

``reba_eager`` runs the model's own eager attention and records from its probabilities;
``reba_fused`` runs a fused kernel and recomputes only what ReBA needs (``fused.py``), with
masks evaluated lazily (``masks.py``). Both take KV re-routing's prefix slots when it is
active (``rerouting.py``). Either records into the :class:`BackwardAttention`
active in the current context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

from reba.attention.eager import recording_eager
from reba.attention.fused import recording_fused
from reba.attention.masks import lazy_mask
from reba.attention.recorder import BackwardAttention
from reba.attention.rerouting import active_prefix
from reba.attention.transformers_internals import attn_implementation, masking_utils

Path = Literal["fused", "eager"]
IMPLEMENTATIONS: dict[str, str] = {"eager": "reba_eager", "fused": "reba_fused"}

_active: ContextVar[BackwardAttention | None] = ContextVar("reba_backward_attention", default=None)
_registered = False


def _eager(module, query, key, value, attention_mask, **kwargs):
    prefix = active_prefix(module, key, value, query.dtype)
    return recording_eager(
        _active.get(), module, query, key, value, attention_mask, prefix=prefix, **kwargs
    )


def _fused(module, query, key, value, attention_mask, **kwargs):
    prefix = active_prefix(module, key, value, query.dtype)
    return recording_fused(
        _active.get(), module, query, key, value, attention_mask, prefix=prefix, **kwargs
    )


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface

    masks = masking_utils("AttentionMaskInterface")
    AttentionInterface.register(IMPLEMENTATIONS["eager"], _eager)
    masks.register(IMPLEMENTATIONS["eager"], masking_utils("eager_mask"))
    AttentionInterface.register(IMPLEMENTATIONS["fused"], _fused)
    masks.register(IMPLEMENTATIONS["fused"], lazy_mask)
    _registered = True


@contextmanager
def attention_implementation(model, name: str) -> Iterator[None]:
    """Run ``model`` with attention implementation ``name``, restoring the previous one after."""
    previous = attn_implementation(model)
    if name == previous:
        yield
        return
    model.set_attn_implementation(name)
    try:
        yield
    finally:
        model.set_attn_implementation(previous)


@contextmanager
def recording(
    model, recorder: BackwardAttention, path: Path = "fused"
) -> Iterator[BackwardAttention]:
    """Run ``model`` with backward attention folded into ``recorder``, by ``path``."""
    _register()
    token = _active.set(recorder)
    try:
        with attention_implementation(model, IMPLEMENTATIONS[path]):
            yield recorder
    finally:
        _active.reset(token)
