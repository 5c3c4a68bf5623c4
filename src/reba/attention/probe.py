"""Which backward-attention path a model runs: the fused one if, on a short padded batch, it
gives what the model's own eager attention gives; else eager, with a warning. Probed once per
model and device."""

from __future__ import annotations

import logging
import weakref

import torch

from reba.attention.interface import Path, recording
from reba.attention.recorder import BackwardAttention

logger = logging.getLogger(__name__)

_verdicts: weakref.WeakKeyDictionary[torch.nn.Module, dict[str, Path]] = weakref.WeakKeyDictionary()
_forced: Path | None = None  # tests and benchmarks: force a path


def backward_attention_path(model: torch.nn.Module) -> Path:
    """``"fused"`` or ``"eager"`` for ``model`` on its current device."""
    if _forced is not None:
        return _forced
    device = next(model.parameters()).device.type
    verdicts = _verdicts.setdefault(model, {})
    if device not in verdicts:
        problem = _probe(model)
        verdicts[device] = "eager" if problem else "fused"
        if problem:
            logger.warning(
                "reba: %s: the fused backward-attention path does not match eager attention on "
                "%s (%s); using eager attention (slower and O(N^2) memory at long inputs)",
                type(model).__name__,
                device,
                problem,
            )
        else:
            logger.debug(
                "reba: %s runs backward attention fused on %s", type(model).__name__, device
            )
    return verdicts[device]


def force_path(path: Path | None) -> None:
    """Force every model onto one path (``None``: probe again as usual)."""
    global _forced
    _forced = path


@torch.inference_mode()
def _probe(model: torch.nn.Module) -> str | None:
    """What differs between the paths on two padded inputs, or None when they agree."""
    vocab = int(model.config.vocab_size)
    device = next(model.parameters()).device
    ids = (torch.arange(3, 3 + 2 * 9).reshape(2, 9) % vocab).to(device)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    columns = torch.tensor([[1, 2, 4], [0, 3, 5]], device=device)
    rows = torch.tensor([[8], [5]], device=device)
    results = {}
    for path in ("eager", "fused"):
        recorder = BackwardAttention(columns, rows, length=ids.shape[1])
        try:
            with recording(model, recorder, path):
                out = model(input_ids=ids, attention_mask=mask, use_cache=False)
        except Exception as err:  # noqa: BLE001 - any failure means: do not use this path
            return f"{type(err).__name__}: {err}"
        results[path] = (out.last_hidden_state.float(), recorder)
    return _difference(*results["eager"], *results["fused"])


def _difference(hidden_e, rec_e, hidden_f, rec_f) -> str | None:
    dtype_tolerance = 1e-4 if hidden_e.dtype == torch.float32 else 3e-2
    real = [(0, slice(0, 9)), (1, slice(0, 6))]
    pairs = [
        ("hidden states", hidden_e, hidden_f, 1 + float(hidden_e.abs().max())),
        ("attention columns", rec_e.column_max, rec_f.column_max, 1.0),
        ("attention rows", rec_e.row_max, rec_f.row_max, 1.0),
    ]
    for what, a, b, scale in pairs:
        if a is None or b is None or a.shape != b.shape:
            return f"{what} missing"
        for row, span in real:
            picked = (
                (a[row, span], b[row, span])
                if what != "attention rows"
                else (a[row][:, span], b[row][:, span])
            )
            if not torch.allclose(*picked, atol=dtype_tolerance * scale, rtol=0):
                return f"{what} differ by {float((picked[0] - picked[1]).abs().max()):.2e}"
    return None
