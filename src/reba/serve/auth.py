"""API keys: ``Authorization: Bearer KEY`` on every route but the open list.

Keys come from ``--api-key`` (repeatable), the ``REBA_API_KEY`` environment variable (one key,
or several separated by commas) and ``--api-key-file`` (one key per line; blank lines and
``#`` comments are skipped). A request's key is compared with every configured key by
``hmac.compare_digest`` (constant time, no early exit). A missing or wrong key gets 401 in
OpenAI's error shape with ``WWW-Authenticate: Bearer``, before the body is read.
Only ``reba.serve.paths.OPEN_PATHS`` (``/health``, ``/docs``, ``/redoc``, ``/openapi.json``)
stay open, and ``/metrics`` with ``--public-metrics``; every other path, unknown ones included,
needs a key. The path is taken relative to the app's root (``reba.serve.paths.route_path``), so
mounting the app under a prefix or serving it behind a proxy's ``root_path`` opens nothing.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from reba.serve.errors import error_response
from reba.serve.paths import is_open, route_path

ENV_VAR = "REBA_API_KEY"
_UNAUTHORIZED = (
    "Missing or invalid API key: send it as `Authorization: Bearer <key>` (the openai client's "
    "api_key)"
)


def load_api_keys(
    keys: Sequence[str] = (),
    key_file: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """Every configured key, de-duplicated in order; ``ValueError`` for an unusable one."""
    environ = os.environ if environ is None else environ
    found: list[tuple[str, str]] = [(key, "--api-key") for key in keys]
    found += [(k.strip(), ENV_VAR) for k in environ.get(ENV_VAR, "").split(",") if k.strip()]
    if key_file is not None:
        found += [(key, f"{key_file}") for key in _read_key_file(Path(key_file))]
    for key, source in found:
        if not key or not key.isascii() or not key.isprintable() or " " in key:
            raise ValueError(
                f"an API key from {source} is empty or has spaces or non-ASCII characters; "
                "keys go into an HTTP header"
            )
    return tuple(dict.fromkeys(key for key, _ in found))


def _read_key_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ValueError(f"cannot read --api-key-file {path}: {err.strerror}") from None
    keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise ValueError(f"--api-key-file {path} holds no key")
    return keys


def key_matches(authorization: str | None, keys: Iterable[str]) -> bool:
    """Whether an ``Authorization`` header value carries one of ``keys`` (constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    given_bytes = given.strip().encode("utf-8", "replace")
    matched = False
    for key in keys:  # compare with every key: the time does not tell which one matched
        matched |= hmac.compare_digest(given_bytes, key.encode())
    return matched and scheme.lower() == "bearer"


class BearerAuth:
    """ASGI middleware answering 401 to every route but the open ones without a configured
    key."""

    def __init__(self, app: ASGIApp, keys: Sequence[str], *, public_metrics: bool = False):
        self.app = app
        self.keys = tuple(keys)
        self.public_metrics = public_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.keys
            and not is_open(route_path(scope), public_metrics=self.public_metrics)
            and not key_matches(_header(scope, b"authorization"), self.keys)
        ):
            response = error_response(
                401,
                _UNAUTHORIZED,
                "authentication_error",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None
