"""Errors as Ollama's clients expect them: `{"error": "..."}` with the status code."""

from __future__ import annotations

from starlette.responses import JSONResponse

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


def ollama_error(status: int, message: str) -> JSONResponse:
    """An Ollama-shaped error response."""
    return JSONResponse({"error": message}, status_code=status)


def status_for(exc: Exception) -> int:
    """The HTTP status Ollama would answer `exc` with (500 for the rest)."""
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


def error_response(exc: Exception) -> JSONResponse:
    """`exc` as an Ollama-shaped error, its message naming the fix."""
    return ollama_error(status_for(exc), str(exc))
