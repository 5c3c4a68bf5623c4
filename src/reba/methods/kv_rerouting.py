"""KV-Embedding's intervention (Tang & Yang 2026, arXiv 2601.01046), as data.

At each decoder layer ``start <= i < end`` (0-based), the attention of every position of an
input also sees one extra key/value slot: the key and value that layer computed for the
input's last token (keys as the attention function receives them, i.e. after the model's
position encoding: RoPE of the last token's position). The slot's logit gets ``bias`` added.
One forward pass: the last token's key and value at layer ``i`` come from that layer's own
input, which already carries the re-routing of the layers below. How it runs is in
``reba.attention.rerouting``; the recipe and what the paper leaves open are in
docs/methods-2026.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class KVRerouting:
    """The last token's key/value as a prefix slot at decoder layers ``start <= i < end``.

    ``start``/``end`` ``None``: the middle third of the model's layers (``depth // 3`` to
    ``2 * depth // 3``; reba's default, the paper's per-model layers being chosen by intrinsic
    dimension: ``reba.methods.intrinsic.kv_layers`` picks them from unlabeled texts).
    ``bias``: added to the prefix slot's attention logit (after scaling)."""

    start: int | None = None
    end: int | None = None
    bias: float = 0.0

    name = "kv"
    params = {"start": int, "end": int, "bias": float}  # e.g. kv[start=8,end=12,bias=1]

    def resolved(self, depth: int) -> KVRerouting:
        start = depth // 3 if self.start is None else self.start
        end = max(2 * depth // 3, start + 1) if self.end is None else self.end
        if not 0 <= start < end <= depth:
            raise ValueError(
                f"KV re-routing layers must satisfy 0 <= start < end <= {depth} (the model's "
                f"decoder layers), got start={start}, end={end}"
            )
        return replace(self, start=start, end=end)
