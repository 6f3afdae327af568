"""What the dashboard and `orquestra status --watch` show: one snapshot, pushed on change.

The `Observer` of an app counts swaps into its metrics, keeps the last requests of each
client (an ASGI wrapper records them as their answers begin) and wakes the dashboard's
server-sent-event streams whenever a swap or a request happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orquestra.client.wire import LEASE_PATH
from orquestra.events import SwapEvent
from orquestra.manager import ModelManager
from orquestra.server.gateway import Gateway
from orquestra.server.metrics import SchedulerMetrics

# Requests whose model and client the dashboard lists (passthroughs are not model work).
MODEL_PATHS = ("/api/chat", "/api/generate", "/api/embed", "/v1/chat/completions")
# The most of a request body read to find its model.
BODY_PEEK_BYTES = 64 * 1024
RECENT_REQUESTS = 200
RECENT_SWAPS = 50


@dataclass(frozen=True)
class RequestRecord:
    """One model request as the dashboard lists it."""

    at: float
    """Unix time its answer began."""
    client: str
    """`X-Orquestra-Client`, else the User-Agent's product, and the client's address."""
    path: str
    model: str
    status: int
    seconds: float
    """Seconds from the request to the first byte of its answer (waiting for a swap too)."""


class Observer:
    """Metrics, recent requests and change notification for one app."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager
        self.metrics = SchedulerMetrics()
        self.requests: deque[RequestRecord] = deque(maxlen=RECENT_REQUESTS)
        self.started_at = time.time()
        self._gateway: Gateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self._unsubscribe = manager.subscribe(self.swap)
        self.subscribers = 0
        """Event streams open now (bounded by ORQUESTRA_SERVE_MAX_SUBSCRIBERS)."""

    def attach(self, gateway: Gateway) -> None:
        """Observe `gateway` (called on the app's event loop when it starts)."""
        self._gateway = gateway
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self.metrics.watch(gateway)

    def close(self) -> None:
        """Stop observing the manager."""
        self._unsubscribe()

    def swap(self, event: SwapEvent) -> None:
        """A swap happened: count it and push the news."""
        self.metrics.swap(event)
        self.changed()

    def request(self, record: RequestRecord) -> None:
        """A model request was answered (its first byte): list it and push the news."""
        self.requests.append(record)
        self.changed()

    def changed(self) -> None:
        """Wake every stream waiting for news (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def next_change(self, timeout_s: float) -> None:
        """Return at the next change, or after `timeout_s` (the page's clock ticks too)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    def snapshot(self) -> dict[str, Any]:
        """Everything the dashboard shows, as JSON-ready data."""
        status = self._gateway.status() if self._gateway else self.manager.get_status()
        typed = self.manager.snapshot()
        models = [
            {
                "role": self.manager.lineups.role_of(m.model) or "",
                "model": m.model,
                "loaded": m.resident,
                "leases": m.leases,
                "queued": m.queued,
                "swapping_to": typed.swapping_to == m.model,
            }
            for m in typed.models
        ]
        return {
            "now": time.time(),
            "started_at": self.started_at,
            "models": models,
            "vram": {
                "used_gb": status["vram_used_gb"],
                "total_gb": status["vram_total_gb"],
                "budget_gb": status["budget_gb"],
                "nvml": status["nvml"],
            },
            "policy": status["policy"],
            "backend": status["backend"],
            "swap_count": status["swaps"],
            "swaps": [event.as_dict() for event in self.manager.events[-RECENT_SWAPS:]],
            "requests": [asdict(r) for r in reversed(self.requests)][:50],
            "clients": _per_client(self.requests),
            "serve": status.get("serve", {}),
            "last_error": status["last_error"],
        }


def _per_client(records: deque[RequestRecord]) -> list[dict[str, Any]]:
    clients: dict[str, dict[str, Any]] = {}
    for record in records:
        entry = clients.setdefault(record.client, {"client": record.client, "requests": 0})
        entry["requests"] += 1
        entry["last_at"], entry["last_model"] = record.at, record.model
        entry["last_status"] = record.status
    return sorted(clients.values(), key=lambda c: -float(c["last_at"]))


def _client_name(scope: Scope) -> str:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    name = headers.get("x-orquestra-client") or headers.get("user-agent", "unknown").split(" ")[0]
    peer = scope.get("client")
    return f"{name} @ {peer[0]}" if peer else name


class RecordRequests:
    """ASGI middleware telling the observer of each model request when its answer begins."""

    def __init__(self, app: ASGIApp, observer: Observer) -> None:
        self.app, self.observer = app, observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request; note a model request's client, model and status."""
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path in MODEL_PATHS or path == LEASE_PATH):
            await self.app(scope, receive, send)
            return
        begun, body, watcher = time.monotonic(), bytearray(), self.observer

        async def peeking() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) < BODY_PEEK_BYTES:
                body.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                watcher.request(
                    RequestRecord(
                        at=time.time(),
                        client=_client_name(scope),
                        path=path,
                        model=_model_of(bytes(body), watcher.manager, lease=path == LEASE_PATH),
                        status=int(message["status"]),
                        seconds=round(time.monotonic() - begun, 3),
                    )
                )
            await send(message)

        await self.app(scope, peeking, sending)


def _model_of(body: bytes, manager: ModelManager, *, lease: bool) -> str:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, cut short, or nested too deeply
        return ""
    if not isinstance(data, dict):
        return ""
    if not lease:
        return str(data.get("model") or "")
    role, lineup = data.get("role"), data.get("lineup")
    if role not in ("brain", "executor"):
        return ""
    if isinstance(lineup, dict) and isinstance(lineup.get(role), dict):
        return manager.backend.canonical(str(lineup[role].get("model") or ""))
    return manager.lineup.model(role)
