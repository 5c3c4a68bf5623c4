"""Cutting a set of inputs into batches: by length, by memory, and by the cost of a forward.

Inputs (or packed rows of several inputs) are sorted longest first, so a memory problem shows
at once, and cut where more padding would cost more than another forward pass. A batch is
also capped so that what its rows need beyond the weights fits in ``MEMORY_BUDGET_BYTES``:
eager attention's ``(heads, N, N)`` probabilities, or, on the fused path and without
attention, what grows with ``N`` (hidden states, activations, kept attention columns).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from reba.engine.packing import pack_rows
from reba.inputs import PreparedInput

MEMORY_BUDGET_BYTES = 1 << 30
# What one more forward pass costs, in padded tokens: Python and per-layer kernel overhead.
# ~20-30 on a 2-core CPU (gemma-3-270m, batch 1 against batch 16 in benchmarks/RESULTS.md).
FORWARD_OVERHEAD_TOKENS = 24


def row_bytes(model_config, width: int, columns: int, attention: str, hidden_layers: int) -> int:
    """Transient memory of one batch row of ``width`` tokens: activations and kept hidden
    states (linear in N), kept attention columns (N x C), and eager attention's N x N."""
    hidden = int(getattr(model_config, "hidden_size", 1024))
    inner = int(getattr(model_config, "intermediate_size", None) or 4 * hidden)
    heads = int(getattr(model_config, "num_attention_heads", 1))
    linear = width * 4 * (3 * inner + (hidden_layers + 4) * hidden)
    kept = width * columns * 4
    if attention == "eager":
        return linear + kept + 3 * heads * width * width * 4  # scores, probabilities, temporaries
    if attention == "fused":
        block = min(width, 512)  # one block of query rows: scores of kept columns, mask
        return linear + 2 * kept + block * (heads * columns + 2 * width) * 4
    return linear


def batches(
    prepared: Sequence[PreparedInput],
    batch_size: int,
    row_cost,
    packing: bool = False,
) -> Iterator[list[list[PreparedInput]]]:
    """Rows (one input each, or several packed), longest first, cut where padding costs more
    than a forward pass; ``row_cost(row)`` gives a row's bytes at a given width."""
    if packing:
        rows = [[prepared[i] for i in row] for row in pack_rows([p.length for p in prepared])]
    else:
        rows = [[p] for p in prepared]
    lengths = [sum(p.length for p in row) for row in rows]
    order = sorted(range(len(rows)), key=lambda r: lengths[r], reverse=True)
    limits = [
        max(1, min(batch_size, MEMORY_BUDGET_BYTES // max(1, row_cost(rows[r], lengths[r]))))
        for r in order
    ]
    for start, stop in plan_batches([lengths[r] for r in order], limits):
        yield [rows[r] for r in order[start:stop]]


def plan_batches(
    lengths: Sequence[int], limits: Sequence[int], overhead: int = FORWARD_OVERHEAD_TOKENS
) -> list[tuple[int, int]]:
    """Cut ``lengths`` (sorted longest first) into contiguous batches ``[start, stop)``.

    A batch costs ``overhead`` plus its padded tokens (size x longest); the plan minimises the
    total, with at most ``limits[start]`` items in a batch starting at ``start``. Without the
    cuts, a batch of 16 random short sentences is about half padding. Dynamic programming over
    cut points: O(len x max(limits)).
    """
    n = len(lengths)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest plan for the first j inputs
    cut = [0] * (n + 1)
    widest = max(limits, default=1)
    for j in range(1, n + 1):
        for i in range(max(0, j - widest), j):
            if j - i <= limits[i]:
                cost = best[i] + overhead + (j - i) * lengths[i]
                if cost <= best[j]:  # ties: later cut, so earlier batches are full
                    best[j], cut[j] = cost, i
    plan = []
    while n:
        plan.append((cut[n], n))
        n = cut[n]
    return plan[::-1]
