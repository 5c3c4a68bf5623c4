"""The running max over layers and heads of the attention columns and rows ReBA needs.

ReBA needs ``S = max over layers l and heads h of (X[l,h] + X[l,h]^T) / 2`` but only a few of
its rows: the rows of a word's tokens or of the text's first occurrence (which, for ``j > i``,
are *columns* of the causal attention ``X[l,h][j, i]``), or the last row. Each attention layer
folds just those into this recorder, then its probabilities are dropped.
"""

from __future__ import annotations

import torch


class BackwardAttention:
    """Running max over layers and heads of selected attention columns and rows.

    ``columns[b, c]`` is a key position of batch row ``b``; after the forward,
    ``column_max[b, j, c] = max over l, h of X[l,h][b, j, columns[b, c]]``.
    ``rows[b, r]`` is a query position (e.g. a last token); ``row_max[b, r, j]`` likewise.
    ``layers`` counts the attention layers folded in (0 after a forward means the model's
    attention never went through transformers' attention interface).
    """

    def __init__(self, columns: torch.Tensor | None, rows: torch.Tensor | None, length: int = 0):
        self.columns = columns
        self.length = length  # query positions per batch row
        self.rows = rows
        self.column_max: torch.Tensor | None = None
        self.row_max: torch.Tensor | None = None
        self.layers = 0

    def observe(self, probs: torch.Tensor) -> None:
        """Fold one layer's full probabilities ``(B, H, N_query, N_key)`` (eager path)."""
        self.length = self.length or probs.shape[2]
        over_heads = probs.amax(dim=1)  # (B, N_query, N_key)
        if self.columns is not None:
            index = self.columns[:, None, :].expand(-1, over_heads.shape[1], -1)
            self.fold_columns(0, over_heads.gather(2, index))
        if self.rows is not None:
            index = self.rows[:, :, None].expand(-1, -1, over_heads.shape[2])
            self.fold_rows(over_heads.gather(1, index))
        self.layers += 1

    def fold_columns(self, start: int, values: torch.Tensor) -> None:
        """Fold ``values[b, j, c]`` (max over heads of X[start + j, columns[b, c]])."""
        values = values.float()
        if self.column_max is None and start == 0 and values.shape[1] == self.length:
            self.column_max = values
            return
        if self.column_max is None:
            self.column_max = torch.zeros(
                values.shape[0], self.length, values.shape[2], device=values.device
            )
        view = self.column_max[:, start : start + values.shape[1]]
        torch.maximum(view, values, out=view)

    def fold_rows(self, values: torch.Tensor) -> None:
        """Fold ``values[b, r, j]`` (max over heads of X[rows[b, r], j])."""
        values = values.float()
        self.row_max = values if self.row_max is None else torch.maximum(self.row_max, values)
