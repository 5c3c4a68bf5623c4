"""VA and AlignedWVA written out (docs/methods-2026.md), one text at a time, by a route that
shares nothing with reba's hooks: each layer's values recomputed from ``hidden_states[l]``
(the layer's input) through its input norm and value projection; each attention output
recomputed as ``W_O concat_h(sum_j A[l, h, N-1, j] v_j^{kv(h)}) + b_O`` from eager attention's
probabilities. Everything in float64 after the model's own float32 pass.
"""

from __future__ import annotations

import reference as R
import torch


def _block(model, layer):
    """(input norm, attention module) of decoder layer ``layer``, by family."""
    if R._family(model) == "gpt2":
        block = model.h[layer]
        return block.ln_1, block.attn
    block = model.layers[layer]
    return block.input_layernorm, block.self_attn


@torch.no_grad()
def eager_pass(model, ids):
    """Hidden states (layer inputs) and attention probabilities (L x H x N x N) of ``ids``."""
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        out = model(
            input_ids=torch.tensor([ids]), output_hidden_states=True, output_attentions=True
        )
    finally:
        model.set_attn_implementation(previous)
    return [h[0] for h in out.hidden_states], [a[0].double() for a in out.attentions]


@torch.no_grad()
def values_at(model, hidden, layer):
    """``v_j = W_V LN(h_j) + b_V`` of layer ``layer`` at every position (N x kv heads*hd)."""
    norm, attention = _block(model, layer)
    x = norm(hidden[layer][None])[0].double()
    if R._family(model) == "gpt2":  # fused c_attn (Conv1D, weight in x out): the last third
        d = model.config.hidden_size
        W, b = attention.c_attn.weight.double()[:, 2 * d :], attention.c_attn.bias.double()[2 * d :]
        return x @ W + b
    v = attention.v_proj
    return x @ v.weight.double().T + (0 if v.bias is None else v.bias.double())


@torch.no_grad()
def attention_output_at(model, hidden, probs, layer, position):
    """The attention sub-layer's output at ``position``: heads' weighted values through W_O."""
    config = model.config
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    v = values_at(model, hidden, layer)
    head_dim = v.shape[1] // kv
    v = v.view(-1, kv, head_dim)
    mixed = torch.cat([probs[layer][h, position] @ v[:, h // (heads // kv)] for h in range(heads)])
    _, attention = _block(model, layer)
    if R._family(model) == "gpt2":
        return mixed @ attention.c_proj.weight.double() + attention.c_proj.bias.double()
    o = attention.o_proj
    return o.weight.double() @ mixed + (0 if o.bias is None else o.bias.double())


def _layers(model, start=0, end=None):
    return list(range(model.config.num_hidden_layers))[start:end]


def _unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def va(model, ids, weights, start=0, end=None, norm="none"):
    """VA: ``sum_j w_j mean_l v_j^l / sum_j w_j`` (each ``v_j^l`` unit-length first with l2)."""
    hidden, _ = eager_pass(model, ids)
    per_layer = [values_at(model, hidden, layer) for layer in _layers(model, start, end)]
    if norm == "l2":
        per_layer = [_unit(v) for v in per_layer]
    return R.weighted(torch.stack(per_layer).mean(0), weights.double())


def alignedwva(model, ids, start=0, end=None, norm="none"):
    """AlignedWVA: the mean over layers of the attention output at the last position."""
    hidden, probs = eager_pass(model, ids)
    last = len(ids) - 1
    outs = [attention_output_at(model, hidden, probs, i, last) for i in _layers(model, start, end)]
    if norm == "l2":
        outs = [_unit(o) for o in outs]
    return torch.stack(outs).mean(0)


def indicator(length, positions):
    w = torch.zeros(length, dtype=torch.float64)
    w[list(positions)] = 1.0
    return w
