"""Capturing VA's values and AlignedWVA's attention outputs during a batched forward pass.

A forward hook on each chosen layer's value projection (VA) or attention output projection
(AlignedWVA) adds that module's output, at every position of the batch, into one running sum
per part; divided by the number of layers it is the per-position vector the read-out then
pools instead of a hidden state. Projections act per position and the attention output at a
position sees only its own input's keys (right padding; packed rows masked per input), so
padded and packed batches give each input the values it would get alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from reba.methods.values import AlignedWVA, ValueAggregation, ValueReadout
from reba.models import LoadedModel
from reba.models.anatomy import (
    attention_output_projection,
    attention_value_projection,
    decoder_layers,
)


def projections(model: torch.nn.Module, part: ValueReadout) -> list[torch.nn.Module]:
    """The modules whose outputs ``part`` averages, one per chosen decoder layer."""
    find = attention_value_projection if isinstance(part, ValueAggregation) else None
    find = find or attention_output_projection
    return [find(model, i) for i in part.layers(len(decoder_layers(model)))]


def check_values(lm: LoadedModel, part: ValueReadout) -> None:
    """Refuse, naming the problem, a part the model cannot give (no layer in the range, no
    separate value projection)."""
    projections(lm.model, part)


def values_dimension(lm: LoadedModel, part: ValueReadout) -> int:
    """Width of the vectors ``part`` reads: the value projection's output (``num_kv_heads *
    head_dim``) for VA, the hidden size for AlignedWVA."""
    if isinstance(part, AlignedWVA):
        return lm.dimension
    module = projections(lm.model, part)[0]
    if isinstance(module, torch.nn.Linear):
        return module.out_features
    weight = next(module.parameters())
    with torch.inference_mode():
        probe = torch.zeros(1, 1, lm.dimension, dtype=weight.dtype, device=weight.device)
        return int(module(probe).shape[-1])


def read_width(lm: LoadedModel, method) -> int:
    """Width of what ``method`` pools: the values' for VA, else the hidden size."""
    values = method.recipe.values
    return lm.dimension if values is None else values_dimension(lm, values)


class LayerSum:
    """The running sum over layers of one part's projection outputs, (B, W, width)."""

    def __init__(self, part: ValueReadout, layers: int) -> None:
        self.part = part
        self.layers = layers
        self.seen = 0
        self.total: torch.Tensor | None = None

    def add(self, module, args, output) -> None:
        x = (output[0] if isinstance(output, tuple) else output).float()
        if self.part.norm == "l2":
            x = torch.nn.functional.normalize(x, dim=-1)
        self.total = x.clone() if self.total is None else self.total.add_(x)
        self.seen += 1

    def mean(self) -> torch.Tensor:
        if self.seen != self.layers or self.total is None:
            raise RuntimeError(
                f"{self.part.name}: {self.seen} of {self.layers} projections ran during the "
                "forward pass; the model does not call them once per layer"
            )
        return self.total / self.layers


@contextmanager
def capturing(model: torch.nn.Module, parts) -> Iterator[dict[ValueReadout, LayerSum]]:
    """Hooks summing each part's projection outputs while the block runs; the sums by part."""
    sums, handles = {}, []
    try:
        for part in parts:
            modules = projections(model, part)
            sums[part] = LayerSum(part, len(modules))
            handles += [m.register_forward_hook(sums[part].add) for m in modules]
        yield sums
    finally:
        for handle in handles:
            handle.remove()
