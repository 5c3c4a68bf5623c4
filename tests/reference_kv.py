"""KV-Embedding written out naively (docs/methods-2026.md), for checking reba's fast path.

One text at a time. Attention is a function registered with transformers that does it all by
hand in float64: keys and values repeated per query head, and at the re-routed layers the last
token's key and value (as the layer computed them, after RoPE) concatenated explicitly in
front as slot 0, with logit bias ``bias``; the text part keeps transformers' eager mask
(causal, sliding windows). Nothing here is shared with the library.
"""

from __future__ import annotations

import reference as R
import torch
from transformers import AttentionInterface
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

# Verbatim from docs/methods-2026.md, not imported from reba.
KV_CONTEXT_T = "Context: {text} Compress the Context in one word:"
KV_QUERY_T = "Query: {text} Compress the Query in one word:"
NAME = "reference_kv"
_setting: dict = {"layers": (), "bias": 0.0, "probs": []}


def _attention(module, query, key, value, attention_mask, scaling=None, softcap=None, **kwargs):
    groups = query.shape[1] // key.shape[1]
    k = key.double().repeat_interleave(groups, dim=1)
    v = value.double().repeat_interleave(groups, dim=1)
    n = k.shape[2]
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    mask = attention_mask[..., :n].double()
    rerouted = module.layer_idx in _setting["layers"]
    if rerouted:
        k = torch.cat([k[:, :, n - 1 : n], k], dim=2)
        v = torch.cat([v[:, :, n - 1 : n], v], dim=2)
        slot = torch.full((*mask.shape[:3], 1), float(_setting["bias"]), dtype=torch.float64)
        mask = torch.cat([slot, mask], dim=-1)
    scores = (query.double() @ k.transpose(-1, -2)) * scaling
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    probs = torch.softmax(scores + mask, dim=-1)
    _setting["probs"].append(probs[..., 1:] if rerouted else probs)
    out = probs @ v
    return out.transpose(1, 2).to(query.dtype).contiguous(), None


AttentionInterface.register(NAME, _attention)
ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, eager_mask)


def default_layers(model) -> tuple[int, ...]:
    depth = model.config.num_hidden_layers
    return tuple(range(depth // 3, 2 * depth // 3))


@torch.no_grad()
def run(model, ids, layers, bias=0.0, layer=-1):
    """Hidden states of ``layer`` (N x d, float64) and S = max_{l,h} (X + X^T) / 2 over the
    text keys, with the last token's K/V re-routed at ``layers``."""
    previous = model.config._attn_implementation
    _setting.update(layers=tuple(layers), bias=bias, probs=[])
    model.set_attn_implementation(NAME)
    try:
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True, use_cache=False)
    finally:
        model.set_attn_implementation(previous)
    X = torch.stack([p[0] for p in _setting["probs"]])  # L x H x N x N
    S = ((X + X.transpose(-1, -2)) / 2).amax(dim=(0, 1))
    return out.hidden_states[layer][0].double(), S


def hybrid(H):
    """(mean over every position + last token) / 2."""
    return (H.mean(0) + H[-1]) / 2


def embed(model, tokenizer, text, template=KV_CONTEXT_T, readout="hybrid", layers=None, bias=0.0):
    """KV-Embedding of one text: ``template`` tokenized whole, re-routed at ``layers``
    (default: the middle third), read out at the last layer."""
    layers = default_layers(model) if layers is None else layers
    if template is None:  # the repetition input, once (mean/last over the text)
        ids, p, n = R.build_input(tokenizer, text, 1)
        slots = [list(range(p, p + n))]
    else:
        ids, slots, *_ = R.prompt_input(tokenizer, template, text)
    H, S = run(model, ids, layers, bias)
    if readout == "hybrid":
        return hybrid(H)
    return R.readout(H, S, slots, readout)
