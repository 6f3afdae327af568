"""Errors in each client's dialect: Ollama's `{"error": "..."}`, or OpenAI's for `/v1`.

The Ollama-shaped response is the one record; OpenAI's shape is built from it, so a route
of `/v1` answers whatever the native code (or the upstream) said, with the same status.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse, Response

from orquestra.errors import (
    BackendUnavailableError,
    ManagerBusyError,
    ModelNotFoundError,
    ModelTooLargeError,
    OrquestraError,
    PolicyError,
    ServerBusyError,
)

# Ollama's own text for a full queue (its clients match on it).
QUEUE_FULL = "server busy, please try again.  maximum pending requests exceeded"

_STATUS: tuple[tuple[type[OrquestraError], int], ...] = (
    (ModelNotFoundError, 404),
    (ServerBusyError, 503),
    (ManagerBusyError, 503),
    (BackendUnavailableError, 502),
    (ModelTooLargeError, 500),
    (PolicyError, 500),
)

# OpenAI's error `type` (worded as Ollama's own `/v1` words it) and `code`, by status.
_OPENAI_KIND: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    404: ("not_found_error", "model_not_found"),
    500: ("api_error", "server_error"),
    502: ("api_error", "upstream_error"),
    503: ("api_error", "server_busy"),
}
# The status an error has when it ends a stream: it came from (or was) the upstream.
MID_STREAM_STATUS = 502


def ollama_error(status: int, message: str) -> JSONResponse:
    """An Ollama-shaped error response."""
    return JSONResponse({"error": message}, status_code=status)


def status_for(exc: Exception) -> int:
    """The HTTP status Ollama would answer `exc` with (500 for the rest)."""
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


def error_response(exc: Exception) -> JSONResponse:
    """`exc` as an Ollama-shaped error, its message naming the fix."""
    return ollama_error(status_for(exc), str(exc))


def openai_error_body(status: int, message: str) -> dict[str, Any]:
    """OpenAI's error object: its SDKs raise with `message` and expose `type` and `code`."""
    fallback = ("invalid_request_error", "invalid_request")
    if status >= 500:
        fallback = ("api_error", "server_error")
    kind, code = _OPENAI_KIND.get(status, fallback)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def as_openai(response: Response) -> Response:
    """An Ollama-shaped error response in OpenAI's shape; any other response as it is."""
    if response.status_code < 400:
        return response
    try:
        message = json.loads(bytes(response.body))["error"]
    except (AttributeError, ValueError, KeyError, TypeError):  # no body, or not Ollama's
        return response
    if not isinstance(message, str):
        return response
    return JSONResponse(openai_error_body(response.status_code, message), response.status_code)
