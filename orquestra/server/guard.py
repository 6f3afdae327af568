"""What gets into `orquestra serve`: Host and Origin checked, bodies bounded, on every route.

An ASGI middleware in front of everything (the model routes, leases, the status, the
dashboard and its event stream), applying `orquestra.policy.access`: a `Host` that is not
this machine's while the scheduler listens on loopback (DNS rebinding) and an `Origin`
outside the allowlist are answered 403 with Ollama's `{"error": …}` naming the fix,
before the request reaches a route (so a refused page never makes a swap). An allowed
cross-origin page gets the CORS headers it needs, its preflight included.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable

import psutil
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orquestra.policy.access import (
    ORIGINS_SETTING,
    host_allowed,
    listens_on_loopback,
    origin_allowed,
    same_origin,
)

# What an allowed page may send (Ollama's and OpenAI SDKs' headers), and how long a
# browser may cache a preflight's answer.
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
ALLOW_HEADERS = (
    "Authorization, Content-Type, User-Agent, Accept, X-Requested-With, X-Orquestra-Lease"
)
PREFLIGHT_MAX_AGE_S = 43200


def local_addresses() -> frozenset[str]:
    """This machine's own addresses (a `Host` naming one of them is this machine)."""
    try:
        interfaces = psutil.net_if_addrs().values()
    except OSError:
        return frozenset()
    return frozenset(
        a.address.split("%", 1)[0].lower()
        for addresses in interfaces
        for a in addresses
        if a.family in (socket.AF_INET, socket.AF_INET6)
    )


def _refusal(message: str, status: int = 403) -> list[Message]:
    body = json.dumps({"error": message}).encode()
    return [
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


class BrowserGuard:
    """Refuse other hosts' names (on loopback) and origins outside the allowlist."""

    def __init__(
        self, app: ASGIApp, *, bind_host: str, origins: Iterable[str], machine_name: str = ""
    ) -> None:
        self.app = app
        self.check_host = listens_on_loopback(bind_host)
        self.origins = tuple(origins)
        self.machine_name = machine_name or socket.gethostname()
        self._local: frozenset[str] | None = None

    def _host_ok(self, host: str) -> bool:
        if host_allowed(host, self.machine_name):
            return True
        if self._local is None:  # read once, when a name is not obviously local
            self._local = local_addresses()
        return host_allowed(host, self.machine_name, self._local)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request's Host and Origin, then serve it (with CORS headers if needed)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if self.check_host and not self._host_ok(host):
            await _send_all(send, _refusal(_host_refused(host)))
            return
        origin = headers.get("origin")
        if origin is None or same_origin(origin, host):
            await self.app(scope, receive, send)
            return
        if not origin_allowed(origin, self.origins):
            await _send_all(send, _refusal(_origin_refused(origin)))
            return
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            preflight = [
                *cors,
                (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_S).encode()),
                (b"content-length", b"0"),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": preflight})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, with_cors)


async def _send_all(send: Send, messages: list[Message]) -> None:
    for message in messages:
        await send(message)


def _host_refused(host: str) -> str:
    return (
        f"host {host or '(none)'!r} refused: orquestra serve listens on loopback and answers "
        "only this machine's names (localhost, 127.0.0.1, its own name and addresses, "
        "*.localhost, *.local, *.internal). Use http://127.0.0.1:<port>; to serve other "
        "machines, listen on their network with --host."
    )


def _origin_refused(origin: str) -> str:
    return (
        f"origin {origin!r} refused: web pages may use orquestra serve only from allowed "
        f"origins. To allow this one, add it to {ORIGINS_SETTING} (comma-separated, * as a "
        "wildcard, as OLLAMA_ORIGINS) and restart orquestra serve."
    )


# The setting that raises the body limit, named in its refusal.
MAX_BODY_SETTING = "ORQUESTRA_SERVE_MAX_BODY_MB"


class BodyLimit:
    """Refuse a request body over `max_bytes` with 413, before a route reads any of it.

    A declared `Content-Length` over the limit is refused at once; a body sent without one
    is read (counted as it arrives) up to the limit, then replayed to the route.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request if its body fits, else answer 413 naming the setting."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _send_all(send, _refusal(self._too_big(), 413))
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            body.extend(message.get("body", b""))
            if len(body) > self.max_bytes:
                await _send_all(send, _refusal(self._too_big(), 413))
                return
            more = bool(message.get("more_body"))
        whole: Message = {"type": "http.request", "body": bytes(body), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    def _too_big(self) -> str:
        limit = self.max_bytes / 2**20
        return (
            f"request body too large: orquestra serve reads at most {limit:g} MiB; send less, "
            f"or raise {MAX_BODY_SETTING} and restart orquestra serve."
        )


def _replay(first: list[Message], receive: Receive) -> Receive:
    """`receive` that gives `first` back before reading on (the disconnect, later)."""
    pending = list(first)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
