"""The engine: batched forward passes shared between configurations, and pooling.

- ``embed``: ``embed_configs``, from items to embeddings for many configurations at once;
- ``forward``: one batched forward pass and what it keeps per input;
- ``batching``: cutting inputs into batches by length and memory;
- ``packing``: several short inputs per row;
- ``forward_hooks``: how Token Prepending and Contrastive Prompting change a forward pass;
- ``result``: ``EmbedResult``.
"""

from reba.engine.batching import plan_batches
from reba.engine.embed import check_method, embed_configs, progress_bar, truncated_items
from reba.engine.result import EmbedResult

__all__ = [
    "EmbedResult",
    "check_method",
    "embed_configs",
    "plan_batches",
    "progress_bar",
    "truncated_items",
]
