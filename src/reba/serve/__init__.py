"""HTTP embedding service, OpenAI- and TEI-compatible (``reba serve``; needs ``reba[serve]``).

Endpoints
  ``POST /v1/embeddings``  OpenAI request/response schema. ``input``: a string or a list of
      strings (token-id arrays are refused with 400: text only). ``model``: a served name.
      ``encoding_format``: ``"float"`` (default) or ``"base64"`` (little-endian float32 bytes).
      ``dimensions``: keep the first ``d`` values and L2-normalise them, as OpenAI does for
      text-embedding-3 (1 <= d <= the model's dimension, else 400). Note that these vectors are
      not trained for truncation (no Matryoshka loss), so a short prefix loses much of the
      meaning. Without ``dimensions`` the vectors are exactly ``Embedder.encode``'s (not
      normalised) unless the server runs with ``--normalize``. ``user`` and unknown fields are
      ignored. ``usage.prompt_tokens == usage.total_tokens`` = the texts' own tokens (one copy,
      no special tokens; ``EmbedResult.token_counts``).
  ``GET /v1/models``, ``GET /v1/models/{name}``  the served names, OpenAI list/model shape.
      ``truncate`` (extension): cut texts over the configuration's max_length instead of a
      400 (``context_length_exceeded``); cut items are listed in ``X-Truncated-Inputs``.
  ``GET /health``  ``{"status": "ok", "models": {name: {model, method, k, dimension, requests,
      items, batches, queued}}}``; ``batches`` counts model calls (micro-batches).
  TEI routes ``POST /embed``, ``POST /``, ``POST /similarity``, ``POST /tokenize``,
      ``GET /info``: see ``reba.serve.tei``. ``GET /metrics``: see ``reba.serve.metrics``.
  API keys (``reba.serve.auth``): when set, every route but ``/health``, ``/docs``, ``/redoc``
      and ``/openapi.json`` needs ``Authorization: Bearer KEY``; else 401
      ``authentication_error`` / ``invalid_api_key``. Decided on the path relative to the app's
      root, so ``mount`` (``reba.serve.mount``) and ``--root-path`` open nothing.

Errors, always ``{"error": {"message", "type", "param", "code"}}``
  400 invalid_request_error: malformed JSON, wrong types, missing fields (not FastAPI's 422),
      token ids (param ``input``), too many items (``too_many_items``), a too long item
      (``item_too_long``, naming the item), a text over the configuration's max_length tokens
      without ``truncate`` (``context_length_exceeded``, found by the tokenizer before the
      queue), bad ``dimensions`` (``invalid_dimensions``), an item
      the model cannot embed, e.g. an empty text (``invalid_input``, naming the item and why:
      only that request fails, not the others of its micro-batch).
  404 ``model_not_found`` (param ``model``); other unknown routes 404, wrong method 405.
  413 ``request_too_large``: a body over ``--max-body-bytes`` (``reba.serve.limits``), refused
      while it is read.
  429 rate_limit_error ``queue_full`` with ``Retry-After: 1``: ``--max-queue`` requests already
      wait for that configuration.
  503 ``shutting_down``: a request that arrives after shutdown began; ``timeout``: not answered
      within ``--request-timeout`` seconds (its queued work is dropped).
  500 server_error: only for a bug or a model crash (each request of a failed batch is retried
      alone, so only the one that triggers the crash fails).
"""

from reba.serve.app import create_app
from reba.serve.batcher import MicroBatcher
from reba.serve.configs import ServedConfig, build_embedders, parse_serve_spec
from reba.serve.mount import mount
from reba.serve.server import run_server, serve_in_thread
from reba.serve.settings import ServeSettings

__all__ = [
    "MicroBatcher",
    "ServeSettings",
    "ServedConfig",
    "build_embedders",
    "create_app",
    "mount",
    "parse_serve_spec",
    "run_server",
    "serve_in_thread",
]
