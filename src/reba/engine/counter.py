"""Counting a model's forward passes: calls, rows and real (unpadded) tokens."""

from __future__ import annotations

from torch import nn


class ForwardCounter:
    """Counts every forward of ``model`` while active (``with ForwardCounter(model) as c:``).

    ``calls`` is batches run, ``rows`` the sequences in them, ``tokens`` the attended tokens.
    Contrastive Prompting's auxiliary passes stop at its layer; they count like full ones.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.calls = self.rows = self.tokens = 0
        self._handle = None

    def __enter__(self) -> ForwardCounter:
        self._handle = self.model.register_forward_pre_hook(self._count, with_kwargs=True)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()

    def _count(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids")
        if ids is None and args:
            ids = args[0]
        if ids is None:
            ids = kwargs["inputs_embeds"][..., 0]
        mask = kwargs.get("attention_mask")
        self.calls += 1
        self.rows += ids.shape[0]
        padded = mask is not None and mask.dim() == 2
        self.tokens += int((mask > 0).sum()) if padded else ids.numel()

    def as_dict(self) -> dict[str, int]:
        return {
            "forward_calls": self.calls,
            "forward_rows": self.rows,
            "forward_tokens": self.tokens,
        }
