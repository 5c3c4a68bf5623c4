"""KV re-routing inside reba's attention functions: extra key/value slots before the keys.

While :func:`rerouting` is active, each attention call of a chosen module gets, per batch row,
one extra key/value slot per input in that row (one for a padded row, several for a packed
one): slot ``s`` holds the key and value of input ``s``'s last token, taken from the call's
own ``key``/``value`` (so after the model's position encoding), and only input ``s``'s
positions may see it, with ``bias`` added to its logit. The text keys keep their own mask.
Both attention paths (eager and fused) take the slots as a :class:`Prefix`; the slots are
not text positions, so backward attention is recorded over the text keys only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Prefix:
    """Extra key/value slots put before a layer's keys: ``key``/``value`` ``(B, H_kv, P, D)``
    and the additive ``bias`` ``(B, 1, N, P)`` of each query for each slot."""

    key: torch.Tensor
    value: torch.Tensor
    bias: torch.Tensor

    @property
    def slots(self) -> int:
        return self.key.shape[2]


@dataclass(frozen=True)
class Rerouting:
    """Which attention modules re-route, and where each input's last token and positions are.

    ``lasts[b, s]``: position of the last token of the ``s``-th input of row ``b`` (any
    position where row ``b`` has fewer inputs); ``owner[b, j]``: the slot ``s`` of the input
    position ``j`` belongs to, -1 for padding.
    """

    modules: frozenset[int]  # id() of every submodule of the chosen decoder layers
    lasts: torch.Tensor
    owner: torch.Tensor
    bias: float

    def prefix(self, module, key: torch.Tensor, value: torch.Tensor, dtype) -> Prefix | None:
        if id(module) not in self.modules:
            return None
        batch, heads, _, dim = key.shape
        index = self.lasts[:, None, :, None].expand(batch, heads, -1, dim)
        slots = torch.arange(self.lasts.shape[1], device=key.device)
        seen = self.owner[:, None, :, None] == slots  # (B, 1, N, P)
        bias = torch.full((), self.bias, dtype=dtype, device=key.device)
        bias = torch.where(seen, bias, torch.finfo(dtype).min)
        return Prefix(key.gather(2, index), value.gather(2, index), bias)


_active: ContextVar[Rerouting | None] = ContextVar("reba_kv_rerouting", default=None)


def active_prefix(module, key: torch.Tensor, value: torch.Tensor, dtype) -> Prefix | None:
    """The prefix slots of this attention call, or None when it is not re-routed."""
    state = _active.get()
    return None if state is None else state.prefix(module, key, value, dtype)


@contextmanager
def rerouting(state: Rerouting) -> Iterator[None]:
    """Re-route keys and values as ``state`` says while the block runs (reba's attention
    implementations must be active: ``reba.attention.recording``)."""
    token = _active.set(state)
    try:
        yield
    finally:
        _active.reset(token)


def prefixed_mask(prefix: Prefix, mask: torch.Tensor | None, keys: int) -> torch.Tensor:
    """The additive mask over ``[slots; keys]`` for eager attention: the slots' bias, then the
    text mask (``mask`` None: every key visible)."""
    bias = prefix.bias
    if mask is None:
        text = torch.zeros(*bias.shape[:3], keys, dtype=bias.dtype, device=bias.device)
    elif mask.dtype == torch.bool:
        text = torch.where(mask[..., :keys], 0.0, torch.finfo(bias.dtype).min).to(bias.dtype)
    else:
        text = mask[..., :keys].to(bias.dtype)
    text = text.expand(bias.shape[0], -1, bias.shape[2], -1)
    return torch.cat([bias, text], dim=-1)
