"""KV-Embedding's re-routing for one batched forward: which attention modules re-route, and
each input's slot, last position and positions, for padded and packed rows alike."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reba.attention.rerouting import Rerouting, rerouting
from reba.methods import KVRerouting
from reba.models.anatomy import decoder_layers


def kv_rerouting(
    model: torch.nn.Module,
    kv: KVRerouting,
    inputs: Sequence[tuple[int, slice, int]],
    shape: tuple[int, int],
    device: torch.device,
):
    """A context re-routing keys and values at decoder layers ``kv.start <= i < kv.end``;
    ``inputs``: per input, its batch row, its span of positions and its last position, in
    row order (the ``s``-th input of a row gets slot ``s``)."""
    layers = decoder_layers(model)[kv.start : kv.end]
    modules = frozenset(id(m) for layer in layers for m in layer.modules())
    rows, width = shape
    per_row = [0] * rows
    owner = torch.full((rows, width), -1, dtype=torch.long)
    lasts_of: list[list[int]] = [[] for _ in range(rows)]
    for b, span, last in inputs:
        owner[b, span] = per_row[b]
        lasts_of[b].append(last)
        per_row[b] += 1
    slots = max(per_row)
    lasts = torch.tensor([row + [0] * (slots - len(row)) for row in lasts_of], dtype=torch.long)
    state = Rerouting(modules, lasts.to(device), owner.to(device), float(kv.bias))
    return rerouting(state)
