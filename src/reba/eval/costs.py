"""What each method costs on a model: texts per second and forward rows per text, measured
on a fixed set of texts, one method at a time (each its own forwards, nothing shared)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from reba.config import EmbedderConfig
from reba.embedder import Embedder
from reba.models import LoadedModel


def measure_costs(
    lm: LoadedModel,
    methods: Sequence[str | EmbedderConfig],
    texts: Sequence[str],
    batch_size: int = 16,
) -> dict[str, dict]:
    """``{method: {"texts_per_second", "forwards_per_text", "texts"}}`` of each configuration
    (a method name: at its default k and own layer) run on ``lm``, after one untimed warm-up
    batch each."""
    out = {}
    for method in methods:
        config = method if isinstance(method, EmbedderConfig) else EmbedderConfig(lm.name, method)
        embedder = Embedder.from_config(config, model=lm)
        out[embedder.method] = measure_cost(embedder, texts, batch_size)
    return out


def measure_cost(embedder: Embedder, texts: Sequence[str], batch_size: int = 16) -> dict:
    """``{"texts_per_second", "forwards_per_text", "texts"}`` of one embedder on ``texts``,
    after one untimed warm-up batch."""
    embedder.encode(list(texts[:2]), show_progress_bar=False)
    rows = _RowCount(embedder.lm.model)
    start = time.perf_counter()
    try:
        embedder.encode(list(texts), batch_size=batch_size, show_progress_bar=False)
    finally:
        rows.remove()
    seconds = time.perf_counter() - start
    return {
        "texts_per_second": round(len(texts) / seconds, 2),
        "forwards_per_text": round(rows.rows / len(texts), 2),
        "texts": len(texts),
    }


class _RowCount:
    def __init__(self, model):
        self.rows = 0
        self.handle = model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids")
        self.rows += (ids if ids is not None else kwargs["inputs_embeds"]).shape[0]

    def remove(self) -> None:
        self.handle.remove()
