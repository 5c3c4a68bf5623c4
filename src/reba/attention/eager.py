"""Backward attention from the model's own eager attention: exact for every architecture
that routes attention through transformers' attention interface, but it materialises each
layer's ``(B, H, N, N)`` probabilities (dropped right after they are folded)."""

from __future__ import annotations

import torch

from reba.attention.masks import LazyMask
from reba.attention.rerouting import Prefix, prefixed_mask
from reba.attention.transformers_internals import eager_attention_forward


def eager_forward_of(module: torch.nn.Module):
    """The eager attention function defined next to the module's class in transformers."""
    eager = eager_attention_forward(module)
    if eager is None:
        raise NotImplementedError(
            f"{type(module).__name__} has no eager_attention_forward in its transformers module; "
            "ReBA needs the attention probabilities, so this architecture cannot use reba methods"
        )
    return eager


def recording_eager(
    recorder, module, query, key, value, attention_mask, prefix: Prefix | None = None, **kwargs
):
    """Run the module's eager attention and fold its probabilities into ``recorder``; with a
    ``prefix`` (KV re-routing) its slots come before the keys and are left out of what is
    recorded."""
    if isinstance(attention_mask, LazyMask):  # a fused-path call falling back to eager
        attention_mask = attention_mask.dense(query.dtype)
    slots = 0
    if prefix is not None:
        slots = prefix.slots
        attention_mask = prefixed_mask(prefix, attention_mask, key.shape[2])
        key = torch.cat([prefix.key, key], dim=2)
        value = torch.cat([prefix.value, value], dim=2)
    output, probs = eager_forward_of(module)(module, query, key, value, attention_mask, **kwargs)
    if recorder is not None:
        recorder.observe(probs[..., slots:])
    return output, None
