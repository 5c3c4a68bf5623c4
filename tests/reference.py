"""A naive, obviously-correct implementation of the spec, for checking the fast path.

One text at a time, the model's full attention tensors (L x H x N x N), the formulas of
docs/method.md written out literally. Nothing here is shared with the library.
"""

from __future__ import annotations

import torch

PROMPTEOL = ('This sentence : "', '" means in one word:"')


def special_prefix(tokenizer) -> list[int]:
    bare = tokenizer("x y", add_special_tokens=False)["input_ids"]
    full = tokenizer("x y", add_special_tokens=True)["input_ids"]
    return full[: full.index(bare[0])] if bare[0] in full else []


def build_input(tokenizer, text, k, prompt=False, max_length=None):
    """z = P + x*k (or P + prompt + x + prompt), truncating x first; returns z, p, n."""
    P = special_prefix(tokenizer)
    x = tokenizer(text, add_special_tokens=False)["input_ids"]
    pre = tokenizer(PROMPTEOL[0], add_special_tokens=False)["input_ids"] if prompt else []
    post = tokenizer(PROMPTEOL[1], add_special_tokens=False)["input_ids"] if prompt else []
    if max_length is not None:
        x = x[: (max_length - len(P) - len(pre) - len(post)) // k]
    return P + pre + x * k + post, len(P) + len(pre), len(x)


def word_tokens(tokenizer, text, span):
    """Indices i of the text's tokens whose character offsets overlap [a, b)."""
    a, b = span
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    return [i for i, (s, e) in enumerate(offsets) if e > s and s < b and e > a]


@torch.no_grad()
def run(model, z, layer=-1, attention=True):
    """Hidden states H (N x d) of ``layer`` and S = max_{l,h} (X + X^T) / 2 (N x N).

    The spec runs methods that need attention with eager attention and the others with the
    model's fused kernel; H comes from the same kernel here, so that differences measure the
    formulas, not float32 rounding of two kernels (which reaches 1e-5 at real activations).
    """
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager" if attention else "sdpa")
    try:
        out = model(
            input_ids=torch.tensor([z]), output_attentions=attention, output_hidden_states=True
        )
    finally:
        model.set_attn_implementation(previous)
    H = out.hidden_states[layer][0].double()
    if not attention:
        return H, None
    X = torch.stack(out.attentions)[:, 0].double()  # L x H x N x N
    S = ((X + X.transpose(-1, -2)) / 2).amax(dim=(0, 1))
    return H, S


def weighted(H, w):
    return (w[:, None] * H).sum(0) / w.sum()


def sentence(model, tokenizer, text, method, k=1, layer=-1, include_prefix=False, max_length=None):
    z, p, n = build_input(tokenizer, text, k, prompt=method == "prompteol", max_length=max_length)
    N = len(z)
    H, S = run(model, z, layer, attention=method.startswith("reba"))
    if method == "mean":
        return H[p : p + n].mean(0)
    if method in ("last", "echo-last", "prompteol"):
        return H[N - 1]
    if method == "echo":
        return H[p + (k - 1) * n : p + k * n].mean(0)
    if method == "reba":
        U = torch.triu(S)
        rows = list(range(0, p + n)) if include_prefix else list(range(p, p + n))
        return weighted(H, sum(U[i] for i in rows))
    if method == "reba-last":
        return weighted(H, S[N - 1])
    raise ValueError(method)


def word(model, tokenizer, text, span, method, k=1, layer=-1):
    z, p, n = build_input(tokenizer, text, k)
    H, S = run(model, z, layer, attention=method == "reba")
    I = word_tokens(tokenizer, text, span)
    if method == "mean":
        return H[[p + i for i in I]].mean(0)
    if method == "echo":
        return H[[p + (k - 1) * n + i for i in I]].mean(0)
    if method == "reba":
        U = torch.triu(S)
        return weighted(H, sum(U[p + i] for i in I))
    raise ValueError(method)
