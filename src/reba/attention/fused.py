"""Backward attention at the speed of fused attention: no N x N tensor is ever allocated.

Each layer runs a fused attention kernel that also returns the log-sum-exp of every query
row, one block of query rows at a time. Only the columns (and last rows) ReBA needs are then
recomputed exactly from the layer's queries and keys:

    X[j, i] = exp(scale * q_j . k_i + mask[j, i] - lse_j)

so memory is linear in N per head, plus ``N x C`` for the kept columns. The mask comes from
:class:`reba.attention.masks.LazyMask`, evaluated for the block's rows only; keys no row of
the block may see are left out of the kernel call (the causal upper part, keys before a
sliding window).

Kernels: on CPU ``aten._scaled_dot_product_flash_attention_for_cpu``; on CUDA
``aten._scaled_dot_product_efficient_attention`` with ``compute_log_sumexp`` (not run on a
GPU yet: the probe in ``reba.attention.probe`` checks it against eager before use). Attention
variants this cannot reproduce (logit soft-capping, position biases such as ALiBi, sinks,
dropout) and other devices run the eager path.
"""

from __future__ import annotations

import logging

import torch

from reba.attention.eager import recording_eager
from reba.attention.masks import LazyMask, additive
from reba.attention.rerouting import Prefix

logger = logging.getLogger(__name__)

QUERY_BLOCK = 512  # query rows per kernel call and per recomputation
# Above this |log-sum-exp| a block is redone in float64. float32 holds an lse only to its ulp
# (1.2e-4 at the 1,458 that Qwen2's first layers reach, where one key takes nearly all the
# attention), and exp(s - lse) inherits that error in full; eager attention normalises by the
# row's sum instead and stays at float32 rounding.
PRECISE_LSE = 32.0


def recording_fused(
    recorder, module, query, key, value, attention_mask, prefix: Prefix | None = None, **kwargs
):
    """An attention function: fused output, recomputed columns/rows folded into ``recorder``;
    ``prefix``: KV re-routing's extra slots, put before each block's keys."""
    reason = unsupported(module, kwargs) or _device_problem(query)
    if reason or not isinstance(attention_mask, LazyMask):
        if reason:
            logger.debug("reba: %s uses eager attention: %s", type(module).__name__, reason)
        return recording_eager(
            recorder, module, query, key, value, attention_mask, prefix=prefix, **kwargs
        )
    scale = kwargs.get("scaling")
    scale = query.shape[-1] ** -0.5 if scale is None else scale
    output, lse = _attend(query, key, value, attention_mask, scale, recorder, prefix)
    if recorder is not None and recorder.rows is not None:
        recorder.fold_rows(_rows(query, key, lse, attention_mask, scale, recorder.rows))
    if recorder is not None:
        recorder.layers += 1
    return output.transpose(1, 2).contiguous(), None


def unsupported(module: torch.nn.Module, kwargs: dict) -> str | None:
    """Why this attention call cannot be reproduced from a plain softmax kernel, if it can't."""
    if kwargs.get("dropout"):
        return "dropout"
    if kwargs.get("softcap") is not None:
        return "logit soft-capping"
    if kwargs.get("position_bias") is not None:
        return "a position bias (e.g. ALiBi)"
    if getattr(module, "sinks", None) is not None:
        return "attention sinks"
    return None


def _device_problem(query: torch.Tensor) -> str | None:
    return None if query.device.type in ("cpu", "cuda") else f"no fused kernel on {query.device}"


def _attend(query, key, value, mask: LazyMask, scale: float, recorder, prefix=None):
    """The layer's output and log-sum-exp, block by block, folding kept columns as it goes
    (the log-sum-exp includes ``prefix``'s slots; kept columns are of text keys only)."""
    batch, heads, n, _ = query.shape
    output = torch.empty_like(query)
    lse = torch.empty(batch, heads, n, dtype=torch.float64, device=query.device)
    columns = None if recorder is None else recorder.columns
    kept_keys = None if columns is None else _gather_positions(key, columns).float()
    keys = torch.arange(key.shape[2], device=query.device)
    for start in range(0, n, QUERY_BLOCK):
        stop = min(n, start + QUERY_BLOCK)
        allowed = mask.allowed(torch.arange(start, stop, device=query.device), keys)
        lo, hi = _visible_keys(allowed)
        bias = additive(allowed[..., lo:hi], query.dtype)
        block = query[:, :, start:stop]
        k, v = key[:, :, lo:hi], value[:, :, lo:hi]
        if prefix is not None:
            k, v = torch.cat([prefix.key, k], dim=2), torch.cat([prefix.value, v], dim=2)
            slots = prefix.bias[:, :, start:stop].to(bias.dtype)
            bias = torch.cat([slots, bias.expand(slots.shape[0], -1, -1, -1)], dim=-1)
        out, block_lse = _grouped_kernel(block, k, v, bias, scale)
        if query.device.type == "cpu" and float(block_lse.abs().amax()) > PRECISE_LSE:
            wide = torch.float64
            out, block_lse = _grouped_kernel(
                block.to(wide), k.to(wide), v.to(wide), bias.to(wide), scale
            )
        output[:, :, start:stop] = out
        lse[:, :, start:stop] = block_lse
        if kept_keys is not None:
            seen = allowed.gather(3, columns[:, None, None, :].expand(-1, 1, stop - start, -1))
            probs = _probabilities(block, kept_keys, block_lse, scale).masked_fill_(~seen, 0.0)
            recorder.fold_columns(start, probs.amax(dim=1))
    return output, lse


def _rows(query, key, lse, mask: LazyMask, scale: float, rows: torch.Tensor) -> torch.Tensor:
    """Max over heads of the attention rows at query positions ``rows`` (B, R): (B, R, N)."""
    q = _gather_positions(query, rows)  # (B, H, R, D)
    row_lse = lse.gather(2, rows[:, None, :].expand(-1, lse.shape[1], -1))
    allowed = mask.allowed(rows, torch.arange(key.shape[2], device=key.device))
    probs = _probabilities(q, key.float(), row_lse, scale).masked_fill_(~allowed, 0.0)
    return probs.amax(dim=1)


def _probabilities(queries, keys, lse, scale: float) -> torch.Tensor:
    """``exp(scale * q . k - lse)`` for (B, H, Q, D) queries and (B, H_kv, K, D) keys, each
    key head serving its group of query heads (grouped-query attention): (B, H, Q, K), in
    float32 (computed in float64 where the lse is large; see ``PRECISE_LSE``)."""
    batch, heads, q_len, dim = queries.shape
    kv_heads = keys.shape[1]
    dtype = torch.float64 if float(lse.abs().amax()) > PRECISE_LSE else torch.float32
    grouped = queries.to(dtype).reshape(batch, kv_heads, heads // kv_heads, q_len, dim)
    scores = grouped @ keys.to(dtype)[:, :, None].transpose(-1, -2)
    scores = scores.reshape(batch, heads, q_len, -1).mul_(scale).sub_(lse.to(dtype)[..., None])
    return scores.exp_().float()


def _gather_positions(states: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``states[b, :, positions[b, c]]`` for (B, H, N, D) states: (B, H, C, D)."""
    batch, heads, _, dim = states.shape
    index = positions[:, None, :, None].expand(batch, heads, -1, dim)
    return states.gather(2, index)


def _visible_keys(allowed: torch.Tensor) -> tuple[int, int]:
    """The range of keys some query of the block may see (the rest are left out)."""
    seen = allowed.any(dim=2).any(dim=0).reshape(-1).nonzero()
    if not len(seen):
        return 0, 1
    return int(seen[0]), int(seen[-1]) + 1


def _grouped_kernel(query, key, value, bias, scale: float):
    """The kernel for each key/value head and the query heads it serves (grouped-query
    attention, as transformers' ``repeat_kv``), with keys and values broadcast, not copied."""
    heads, kv_heads = query.shape[1], key.shape[1]
    if kv_heads == heads:
        return _kernel(query, key, value, bias, scale)
    group = heads // kv_heads
    outs, lses = [], []
    for h in range(kv_heads):
        shape = (key.shape[0], group, key.shape[2], key.shape[3])
        k = key[:, h : h + 1].expand(shape)
        v = value[:, h : h + 1].expand(shape)
        out, lse = _kernel(query[:, h * group : (h + 1) * group], k, v, bias, scale)
        outs.append(out)
        lses.append(lse)
    return torch.cat(outs, dim=1), torch.cat(lses, dim=1)


def _kernel(query, key, value, bias, scale: float):
    """A fused kernel's ``(output, logsumexp)`` for one block of query rows."""
    if query.device.type == "cuda":
        return _cuda_kernel(query, key, value, bias, scale)
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        query, key, value, 0.0, False, attn_mask=bias, scale=scale
    )
    return out, lse


def _cuda_kernel(query, key, value, bias, scale: float):  # pragma: no cover - no GPU here
    """Memory-efficient attention with its log-sum-exp; the bias is laid out with its last
    dimension padded to a multiple of 16 elements, as the kernel requires."""
    width = bias.shape[-1]
    padded = torch.empty(
        *bias.shape[:-1], -(-width // 16) * 16, dtype=bias.dtype, device=bias.device
    )
    padded = padded[..., :width]
    padded.copy_(bias.expand_as(padded))
    padded = padded.expand(query.shape[0], query.shape[1], -1, -1)
    out, lse, _, _ = torch.ops.aten._scaled_dot_product_efficient_attention(
        query, key, value, padded, True, 0.0, False, scale=scale
    )
    return out, lse[..., : query.shape[2]]
