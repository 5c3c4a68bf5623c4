"""Errors in the OpenAI shape, ``{"error": {"message", "type", "param", "code"}}``, for every
failure: validation errors become 400 (not FastAPI's 422), unknown routes 404, bugs 500."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reba.errors import ItemFailure
from reba.serve.paths import is_tei, route_path
from reba.serve.schemas import ErrorDetail, ErrorResponse
from reba.serve.tei_schemas import tei_error_response

logger = logging.getLogger(__name__)

_TYPES = {429: "rate_limit_error", 401: "authentication_error", 403: "permission_error"}


class APIError(Exception):
    """An error response: HTTP status and the OpenAI error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or _error_type(status)
        self.headers = headers

    def response(self) -> JSONResponse:
        return error_response(
            self.status, self.message, self.type, self.param, self.code, self.headers
        )


def model_not_found(name: str, served: Sequence[str]) -> APIError:
    return APIError(
        404,
        f"The model {name!r} does not exist on this server; served models: {', '.join(served)}",
        param="model",
        code="model_not_found",
    )


def items_rejected(failures: Sequence[ItemFailure]) -> APIError:
    shown = "; ".join(f"input {f}" for f in failures[:10])
    more = f"; and {len(failures) - 10} more" if len(failures) > 10 else ""
    count = f"{len(failures)} input item{'s' if len(failures) != 1 else ''} cannot be embedded"
    return APIError(400, f"{count}: {shown}{more}", param="input", code="invalid_input")


def error_response(
    status: int,
    message: str,
    type: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(message=message, type=type, param=param, code=code))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def too_large(path: str, message: str) -> JSONResponse:
    """413 for a body over the limit, in the shape of the route ``path`` (TEI or OpenAI)."""
    if is_tei(path):
        return tei_error_response(413, message, "Validation")
    return error_response(413, message, "invalid_request_error", code="request_too_large")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return exc.response()


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    message, param = validation_message(errors[0]) if errors else ("invalid request", None)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    if is_tei(route_path(request.scope)):  # TEI's shape: its JSON extractor answers 422
        return tei_error_response(422, message, "Validation")
    return error_response(400, message, "invalid_request_error", param, "invalid_request")


def validation_message(error: dict) -> tuple[str, str | None]:
    """A readable message and the offending top-level field for one pydantic error."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        return f"The request body is not valid JSON: {detail}".rstrip(": "), None
    field = loc[1] if len(loc) > 1 and loc[0] == "body" else None
    if field is None or not isinstance(field, str):
        return (
            "The request body must be a JSON object with the documented fields "
            "(Content-Type: application/json)",
            None,
        )
    if kind == "missing":
        return f"`{field}` is required", field
    if kind.startswith(("input_", "inputs_")):  # our own messages (texts_of, TEI) are complete
        return error["msg"], field
    return f"Invalid `{field}`: {error.get('msg', 'invalid value')}", field


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        message = f"No route {request.method} {request.url.path}"
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    elif status == 413:  # the body limit (reba.serve.limits), raised while the body is read
        return too_large(route_path(request.scope), str(exc.detail))
    elif status == 400:
        message = f"{exc.detail} (send a UTF-8 JSON object, Content-Type: application/json)"
        if is_tei(route_path(request.scope)):  # an unreadable body, in TEI's shape
            return tei_error_response(422, message, "Validation")
    else:
        message = str(exc.detail)
    return error_response(status, message, _error_type(status), headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("reba serve: unexpected error on %s", request.url.path, exc_info=exc)
    return error_response(
        500, f"Internal server error ({type(exc).__name__}); see the server log", "server_error"
    )


def _error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"
