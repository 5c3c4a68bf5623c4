"""The server's limits, batching and security settings (``reba serve`` options)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServeSettings:
    """Limits and batching; every limit answers 4xx, never 500 or a hung connection."""

    max_items: int = 2048  # texts per request (-> 400)
    max_chars: int = 8192  # characters per text (-> 400 naming the item)
    max_queue: int = 1024  # requests waiting per configuration (-> 429)
    max_body_bytes: int = 4 * 1024 * 1024  # request body, counted while it is read (-> 413)
    # Seconds from a request's texts being checked to its answer (tokenization, queue, model);
    # past it the request is answered 503 and its queued work dropped. None: no deadline.
    request_timeout: float | None = 60.0
    max_wait_ms: float = 50.0  # longest wait for company (only when company is expected)
    max_batch_items: int = 128  # texts per micro-batch (a larger request runs alone)
    batch_size: int = 16  # Embedder.embed batch size (model rows) within a micro-batch
    packing: bool = True  # several short texts per model row (reba.packing)
    normalize: bool = False  # L2-normalise every returned vector (OpenAI route)
    # Bearer keys: when any is set, every /v1/* and TEI route needs one (see reba.serve.auth).
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    public_metrics: bool = False  # /metrics without a key even when keys are set
    # Named prompts (TEI's prompt_name): the prompt text is put before the text.
    prompts: Mapping[str, str] = field(default_factory=dict)
    playground: bool = False  # serve the /playground page (reba.serve.playground)

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {self.max_body_bytes}")
        if self.request_timeout is not None and not self.request_timeout > 0:
            raise ValueError(f"request_timeout must be > 0 seconds, got {self.request_timeout}")

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)
