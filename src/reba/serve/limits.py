"""The body-size limit, enforced while the body is read (``--max-body-bytes``).

A declared ``Content-Length`` over the limit is answered 413 before any byte of the body is
read; a body without one (chunked) is counted as it arrives and refused at the first chunk
that crosses the limit, without buffering or reading the rest. The 413 is in the route's error
shape (OpenAI's, or TEI's ``Validation`` on TEI routes).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reba.serve.errors import too_large
from reba.serve.paths import route_path


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body crosses the limit; answered by the app's handler."""

    def __init__(self, limit: int):
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return (
        f"The request body is larger than this server accepts ({limit} bytes, "
        "--max-body-bytes); send fewer or shorter texts per request"
    )


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = too_large(route_path(scope), too_large_message(self.max_bytes))
            response.headers["Connection"] = "close"  # the unread body makes the stream unusable
            await response(scope, receive, send)
            return
        read = 0

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
