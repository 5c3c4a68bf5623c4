"""Backward attention: ReBA's reduced attention, recorded while the model runs.

- ``recorder``: the running max of the needed columns and rows;
- ``eager``: from the model's own eager attention (exact everywhere, O(N^2) per layer);
- ``fused``: from a fused kernel's log-sum-exp (no N x N tensor);
- ``masks``: masks evaluated a block of rows at a time;
- ``interface``: the two registered attention implementations;
- ``probe``: which path a model runs.
"""

from reba.attention.interface import Path, attention_implementation, recording
from reba.attention.probe import backward_attention_path, force_path
from reba.attention.recorder import BackwardAttention

__all__ = [
    "BackwardAttention",
    "Path",
    "attention_implementation",
    "backward_attention_path",
    "force_path",
    "recording",
]
