"""The gateway: every request a lease, every lease through the one manager, then upstream.

A request names a model; the gateway finds the role it serves, takes a lease on it (the
manager makes it resident first, batching requests of all clients), pins the request to
the role's runner options and keep_alive, and forwards it to Ollama. The lease lasts until
the last byte of the answer is sent, or until the client hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import httpx
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from orquestra.errors import BackendUnavailableError, ModelNotFoundError, ServerBusyError
from orquestra.events import SwapEvent
from orquestra.manager import ModelManager
from orquestra.policy.pinning import pin_request
from orquestra.server.errors import QUEUE_FULL
from orquestra.server.relay import relay
from orquestra.settings import ROLES, Role

T = TypeVar("T")


class ClientGone(Exception):
    """The client hung up before its answer began (Ollama logs it as 499)."""


async def unless_gone(work: Awaitable[T], gone: Awaitable[object]) -> T:
    """`work`'s result, unless `gone` completes first: then `work` is cancelled."""
    task, watcher = asyncio.ensure_future(work), asyncio.ensure_future(gone)
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise ClientGone


class LeasedStream(StreamingResponse):
    """A streamed answer that gives its lease back however the stream ends."""

    def __init__(self, content: AsyncIterator[bytes], stack: AsyncExitStack, media_type: str):
        super().__init__(content, media_type=media_type)
        self.stack = stack
        """Holds the lease (and the upstream response); closed when the stream ends."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream; release the lease at its end, on error, or when the client goes."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.stack.aclose()


class Gateway:
    """Leases, option pinning and forwarding for one upstream Ollama and one manager."""

    def __init__(self, manager: ModelManager, upstream: httpx.AsyncClient, max_queue: int):
        self.manager = manager
        self.upstream = upstream
        self.max_queue = max_queue
        self.waiting = 0
        self.held: dict[str, Role] = {}
        """Leases Orquestra clients hold across their calls, by lease id."""
        self.requests: Counter[tuple[str, int]] = Counter()
        self.pins: Counter[str] = Counter()
        self.ignored_unloads: Counter[str] = Counter()
        self.calls_under_lease = 0
        """Requests made under a lease a client holds (no second lease taken)."""
        self.active = 0
        self.last_active = time.monotonic()

    def role_of(self, model: str) -> Role:
        """The role `model` serves; a clear 404 for a model this scheduler does not run."""
        wanted = self.manager.backend.canonical(model) if model else ""
        for role in ROLES:
            if self.manager.model_for(role) == wanted:
                return role
        served = ", ".join(f"{r} {self.manager.model_for(r)}" for r in ROLES)
        raise ModelNotFoundError(
            f"model '{model}' not found: this orquestra serve schedules {served}. Ask for one "
            "of them, or start orquestra serve with DEFAULT_MODEL / EXECUTOR_MODEL naming it."
        )

    def count(self, model: str, status: int) -> None:
        """Count one finished request."""
        self.requests[(model, status)] += 1

    async def hold(
        self,
        role: Role,
        stack: AsyncExitStack,
        gone: Callable[[], Awaitable[object]] | None = None,
    ) -> list[SwapEvent]:
        """Take a lease on `role`'s model into `stack`; return the swaps made for it.

        Raises:
            ServerBusyError: The queue is full (Ollama's 503 text).
            ClientGone: `gone()` completed (the client hung up) while waiting.
        """
        if self.waiting >= self.max_queue:
            self.count(self.manager.model_for(role), 503)
            raise ServerBusyError(QUEUE_FULL)
        swaps: list[SwapEvent] = []
        unsubscribe = self.manager.subscribe(swaps.append)
        self.waiting += 1
        try:
            entering = stack.enter_async_context(self.manager.use(role))
            await (unless_gone(entering, gone()) if gone is not None else entering)
        finally:
            self.waiting -= 1
            unsubscribe()
        self.active += 1
        stack.callback(self._idle)
        return swaps

    def _idle(self) -> None:
        self.active -= 1
        self.last_active = time.monotonic()

    def new_lease(self, role: Role, stack: AsyncExitStack) -> str:
        """Register a lease an Orquestra client holds across calls; forgotten with `stack`."""
        lease = uuid.uuid4().hex
        self.held[lease] = role
        stack.callback(self.held.pop, lease, None)
        return lease

    def unreachable(self) -> BackendUnavailableError:
        """The error for an upstream that does not answer, naming the fix."""
        return BackendUnavailableError(
            f"Cannot reach Ollama at {self.upstream.base_url}: start it with "
            "`ollama serve`, or restart orquestra serve with OLLAMA_BASE_URL set."
        )

    def pin(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        """`body` pinned to the role's runner options and keep_alive (changes counted)."""
        settings = self.manager.settings
        pinned = pin_request(body, settings.options_for(role), settings.keep_alive_for(role))
        if pinned.overridden or pinned.keep_alive_overridden:
            self.pins[self.manager.model_for(role)] += 1
        return pinned.body

    async def forward(
        self,
        path: str,
        body: dict[str, Any],
        role: Role,
        lease: str | None,
        gone: Callable[[], Awaitable[object]],
    ) -> Response:
        """Send `body` upstream under a lease on `role` (the caller's, or one taken now).

        `gone()` completes when the client hangs up: waiting for the lease or for the
        first byte of the answer then stops, and the lease is given back.
        """
        stack = AsyncExitStack()
        try:
            if self.held.get(lease or "") == role:
                self.calls_under_lease += 1
            else:
                await self.hold(role, stack, gone)
            request = self.upstream.build_request("POST", path, json=self.pin(role, body))
            try:
                response = await unless_gone(self.upstream.send(request, stream=True), gone())
            except httpx.TransportError:
                raise self.unreachable() from None
            stack.push_async_callback(response.aclose)
            model = self.manager.model_for(role)
            self.count(model, response.status_code)
            streams = body.get("stream", True) and path != "/api/embed"
            if response.status_code != 200 or not streams:
                content = await response.aread()
                await stack.aclose()
                return Response(
                    content,
                    status_code=response.status_code,
                    media_type=response.headers.get("content-type", "application/json"),
                )
            return LeasedStream(relay(response), stack, "application/x-ndjson")
        except BaseException:
            await stack.aclose()
            raise

    def status(self) -> dict[str, Any]:
        """The manager's status and the gateway's own counters."""
        status = self.manager.get_status()
        status["serve"] = {
            "waiting": self.waiting,
            "active_requests": self.active,
            "held_leases": len(self.held),
            "calls_under_lease": self.calls_under_lease,
            "requests": [
                {"model": model, "status": code, "count": n}
                for (model, code), n in sorted(self.requests.items())
            ],
            "option_pins": dict(self.pins),
            "ignored_unloads": dict(self.ignored_unloads),
        }
        return status
