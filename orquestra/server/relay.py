"""An upstream's NDJSON answer relayed in whole lines, and ended cleanly if the upstream breaks.

Ollama ends a stream that fails after it began with a last `{"error": ...}` line (the
status, 200, is sent already). An upstream that dies mid-answer sends no such line: its
connection just breaks. Relayed here, the client still gets Ollama's ending, naming the
upstream and the fix, instead of a raw "peer closed connection"; a line cut in half is
dropped rather than passed on; the scheduler logs one line, not a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx

from orquestra.errors import BackendUnavailableError

log = logging.getLogger(__name__)


def upstream_broke(exc: httpx.TransportError) -> BackendUnavailableError:
    """The error for an upstream whose connection broke mid-answer, naming it and the fix."""
    try:
        url = exc.request.url
        upstream = f"Ollama at {url.scheme}://{url.netloc.decode()}"
    except RuntimeError:  # an error raised outside any request
        upstream = "Ollama"
    return BackendUnavailableError(
        f"{upstream}: the connection broke mid-answer ({exc or type(exc).__name__}); the "
        "answer is incomplete. Check that Ollama is running (`ollama serve`) and retry."
    )


def error_line(message: str) -> bytes:
    """Ollama's last line of a stream that failed after it began."""
    return (json.dumps({"error": message}) + "\n").encode()


async def relay(response: httpx.Response) -> AsyncIterator[bytes]:
    """`response`'s NDJSON body as it comes, in whole lines; Ollama's error line if it breaks."""
    pending = b""
    try:
        async for chunk in response.aiter_raw():
            pending += chunk
            cut = pending.rfind(b"\n") + 1
            if cut:
                yield pending[:cut]
                pending = pending[cut:]
    except httpx.TransportError as exc:
        error = upstream_broke(exc)
        log.warning("%s %s: %s", response.request.method, response.request.url.path, error)
        yield error_line(str(error))
        return
    if pending:
        yield pending
