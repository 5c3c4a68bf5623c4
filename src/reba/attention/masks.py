"""Attention masks that are never materialised whole: evaluated a block of query rows at a
time from transformers' own mask functions (padding, causal, sliding windows, packed rows).

Registered with transformers' ``AttentionMaskInterface``, :func:`lazy_mask` receives exactly
what a dense mask builder receives and returns a :class:`LazyMask`; the attention function
asks it for the rows it is working on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from reba.attention.transformers_internals import masking_utils


@dataclass
class LazyMask:
    """Which keys each query may see, as transformers' index-based ``mask_function``."""

    batch_size: int
    q_length: int
    kv_length: int
    q_offset: int
    kv_offset: int
    mask_function: Callable
    device: torch.device

    def allowed(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Boolean ``(B, 1, Q, K)``: may query ``queries[..]`` see key ``keys[..]``.

        ``queries`` is ``(Q,)`` (the same rows for every batch row) or ``(B, Q)``.
        """
        batch = torch.arange(self.batch_size, device=self.device)[:, None, None, None]
        head = torch.zeros(1, device=self.device, dtype=torch.long)[None, :, None, None]
        if queries.dim() == 1:
            q = (queries + self.q_offset)[None, None, :, None]
        else:
            q = (queries + self.q_offset)[:, None, :, None]
        kv = (keys + self.kv_offset)[None, None, None, :]
        allowed = self.mask_function(batch, head, q, kv)
        return allowed.expand(self.batch_size, 1, q.shape[2], kv.shape[3])

    def dense(self, dtype: torch.dtype) -> torch.Tensor:
        """The whole additive mask ``(B, 1, Q, K)`` (eager fallback only: it is N x N)."""
        queries = torch.arange(self.q_length, device=self.device)
        keys = torch.arange(self.kv_length, device=self.device)
        return additive(self.allowed(queries, keys), dtype)


def additive(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """0 where allowed, the dtype's minimum elsewhere (as transformers' eager masks)."""
    zero = torch.zeros((), device=allowed.device, dtype=dtype)
    return torch.where(allowed, zero, torch.finfo(dtype).min)


def lazy_mask(
    batch_size: int,
    q_length: int,
    kv_length: int,
    q_offset: int = 0,
    kv_offset: int = 0,
    mask_function: Callable | None = None,
    attention_mask: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    **kwargs,
) -> LazyMask:
    """An ``AttentionMaskInterface`` function: the arguments of ``sdpa_mask``, kept."""
    padding = masking_utils("prepare_padding_mask")(attention_mask, kv_length, kv_offset)
    if padding is not None:
        padded = masking_utils("padding_mask_function")(padding)
        mask_function = masking_utils("and_masks")(mask_function, padded)
    return LazyMask(
        batch_size, q_length, kv_length, q_offset, kv_offset, mask_function, torch.device(device)
    )
