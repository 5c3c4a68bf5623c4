"""Read-outs: an embedding is ``e = sum_j w_j H[j] / sum_j w_j`` over one input's positions.

Mean and last-token read-outs use 0/1 weights; ReBA's use backward attention (spec,
"Embeddings"): with ``S = max over layers, heads of (X + X^T)/2`` and ``U = triu(S)``,
``w_j = sum over rows i of U[i, j]`` (mean form: the rows of the text's first occurrence, or
of the word's tokens in it) or ``w_j = S[N-1, j]`` (last-token form).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from reba.inputs.prepared import PreparedInput

POOL_BLOCK = 512  # positions per block when summing backward attention


@dataclass
class ForwardOutput:
    """What one forward pass leaves for one input: hidden states and reduced attention."""

    hidden: dict[int, torch.Tensor]  # layer -> (N, d)
    column_positions: tuple[int, ...] = ()  # key positions whose attention columns were kept
    column_max: torch.Tensor | None = None  # (N, C): max over l,h of X[j, column_positions[c]]
    row_positions: tuple[int, ...] = ()  # query positions whose attention rows were kept
    row_max: torch.Tensor | None = None  # (R, N): max over l,h of X[row_positions[r], j]
    routing: torch.Tensor | None = None  # (N, experts x MoE layers): router logits (MoEE)
    values: dict = field(default_factory=dict)  # VA/AlignedWVA part -> (N, width), layer mean


def attention_columns(readout: str, level: str, item: PreparedInput, prefix_rows: bool) -> list:
    """Key positions whose attention columns a read-out needs (the rows of U it sums)."""
    return backward_rows(level, item, prefix_rows) if readout == "reba" else []


def attention_rows(readout: str, item: PreparedInput) -> list[int]:
    """Query positions whose attention rows a read-out needs."""
    return [item.last] if readout == "reba-last" else []


def backward_rows(level: str, item: PreparedInput, prefix_rows: bool) -> list[int]:
    """ReBA's summed rows: the first occurrence's tokens (and, with ``prefix_rows``, the
    special prefix before it), or the word's tokens in the first occurrence."""
    if level == "word":
        return list(item.targets[0])
    rows = list(item.slot_positions(0))
    return list(range(item.slots[0][0])) + rows if prefix_rows else rows


def weights(
    readout: str, level: str, item: PreparedInput, out: ForwardOutput, prefix_rows: bool = False
) -> torch.Tensor:
    """The pooling weights ``w`` over the input's ``N`` positions (0 at HTP's markers)."""
    w = _weights(readout, level, item, out, prefix_rows)
    if item.markers:
        w[list(item.markers)] = 0.0
    return w


def _weights(readout, level, item, out, prefix_rows) -> torch.Tensor:
    if readout == "mean":
        if level == "word":
            return _indicator(item.length, item.targets[-1])
        closing = [] if item.closing is None else [item.closing]  # EmbedFilter's Echo EOS
        return _indicator(item.length, [*item.slot_positions(-1), *closing])
    if readout == "last":
        return _indicator(item.length, [item.last])
    if readout == "reba":
        return _backward_over(backward_rows(level, item, prefix_rows), item, out)
    if readout == "reba-last":
        return _backward_last(item, out)
    if readout == "hybrid":  # (mean over all N positions + last token) / 2
        return torch.full((item.length,), 1.0 / item.length) + _indicator(item.length, [item.last])
    raise ValueError(f"unknown read-out {readout!r}")


def pool(hidden: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``sum_j w_j H[j] / sum_j w_j`` in float64: activations of real LMs reach ~100, where
    float32 sums lose ~1e-5; the cost is negligible next to the forward pass."""
    hidden = hidden.double()
    w = w.to(hidden.device, torch.float64)
    return ((w @ hidden) / w.sum()).float()


def _indicator(length: int, positions) -> torch.Tensor:
    w = torch.zeros(length)
    w[list(positions)] = 1.0
    return w


def _backward_over(rows: list[int], item: PreparedInput, out: ForwardOutput) -> torch.Tensor:
    """``w_j = sum over rows i of U[i, j]``, ``U = triu(S)``: S[i,j] = max X[j,i]/2 for j > i.

    In blocks of positions ``j``: a copy of the kept columns (N x R) would double the largest
    tensor of a long input."""
    where = {p: c for c, p in enumerate(out.column_positions)}
    columns = torch.tensor([where[r] for r in rows])
    i = torch.tensor(rows)
    w = torch.empty(item.length, dtype=out.column_max.dtype)
    for start in range(0, item.length, POOL_BLOCK):
        stop = min(item.length, start + POOL_BLOCK)
        block = out.column_max[start:stop, columns]  # X[j, i] for the block's j, every row i
        block.masked_fill_(torch.arange(start, stop)[:, None] <= i[None, :], 0.0)
        w[start:stop] = block.sum(dim=1) / 2
    return w.index_add_(0, i, out.column_max[i, columns])  # U[i, i] = X[i, i], not halved


def _backward_last(item: PreparedInput, out: ForwardOutput) -> torch.Tensor:
    """``w_j = S[N-1, j]``: half the last token's attention to j, and its full self-attention."""
    row = out.row_max[out.row_positions.index(item.last)]
    w = row / 2
    w[-1] = row[-1]
    return w
