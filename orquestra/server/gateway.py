"""The gateway: every request a lease, every lease through the one manager, then upstream.

A request names a model, any model the upstream has; the gateway finds the spec it is
pinned to (a lineup's, or the scheduler's defaults), takes a lease on it (the manager
makes it resident first, batching requests of all clients), pins the request to the
spec's runner options and keep_alive, and forwards it upstream. The lease lasts until
the last byte of the answer is sent, or until the client hangs up. A model found gone
from the upstream (unloaded behind the scheduler's back, an upstream restart) is loaded
again through the budget before anything is forwarded, and an upstream error answer is
retried once after residency is re-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AsyncExitStack
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from langchain_core.language_models import BaseChatModel
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from orquestra.backends import llama_thread
from orquestra.errors import BackendUnavailableError, ServerBusyError
from orquestra.events import SwapEvent
from orquestra.lineup import ModelSpec
from orquestra.manager import ModelManager
from orquestra.policy.lease_bounds import LeaseLimits, Refusal, idle_too_long, lease_refusal
from orquestra.policy.pinning import pin_request
from orquestra.server.errors import QUEUE_FULL
from orquestra.server.relay import relay
from orquestra.server.sampling import sampling_kwargs

T = TypeVar("T")

# The chat model of the lease a request is forwarded under: an in-process upstream
# (`EmbeddedUpstream`, reached through `httpx.ASGITransport` in the same task) answers with
# it rather than building a second one.
LEASED_CHAT: ContextVar[BaseChatModel | None] = ContextVar("orquestra_leased_chat", default=None)


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


@dataclass
class HeldLease:
    """A lease an Orquestra client holds across its calls (one `/orquestra/lease` stream)."""

    model: str
    chat: BaseChatModel | None
    """The chat model it was granted with (what an in-process upstream answers with)."""
    client: str
    """Who holds it (a user, or an address)."""
    last_used: float
    """When it was granted, or when the last request under it ended (monotonic)."""
    calls: int = 0
    """Requests under it now."""

    def idle_s(self, now: float) -> float:
        """How long it has had no request under it."""
        return 0.0 if self.calls else now - self.last_used


class Gateway:
    """Leases, option pinning and forwarding for one upstream Ollama and one manager."""

    def __init__(
        self,
        manager: ModelManager,
        upstream: httpx.AsyncClient,
        max_queue: int,
        *,
        autostarted: bool = False,
    ):
        self.manager = manager
        self.autostarted = autostarted
        """Started by a client (exits when idle, may be replaced), not by hand."""
        self.upstream = upstream
        self.max_queue = max_queue
        self.waiting = 0
        settings = manager.settings
        self.limits = LeaseLimits(
            total=settings.serve_max_leases,
            per_client=settings.serve_max_leases_per_client,
            idle_s=settings.serve_lease_idle_s,
        )
        self.held: dict[str, HeldLease] = {}
        """The leases Orquestra clients hold across their calls, by lease id."""
        self.asking: Counter[str] = Counter()
        """Leases asked for and not granted yet, by client."""
        self.leases_refused = 0
        self.leases_expired = 0
        self.requests: Counter[tuple[str, int]] = Counter()
        self.pins: Counter[str] = Counter()
        self.ignored_unloads: Counter[str] = Counter()
        self.calls_under_lease = 0
        """Requests made under a lease a client holds (no second lease taken)."""
        self.active = 0
        self.last_active = time.monotonic()
        self.upstream_retries = 0
        """Requests re-sent once after an upstream error and a fresh look at residency."""

    async def spec_of(self, model: str) -> ModelSpec:
        """The spec `model` is served with; a clear 404 when the upstream does not have it."""
        return await self.manager.spec_for(model)

    def count(self, model: str, status: int) -> None:
        """Count one finished request."""
        self.requests[(model, status)] += 1

    async def hold(
        self,
        spec: ModelSpec,
        stack: AsyncExitStack,
        gone: Callable[[], Awaitable[object]] | None = None,
    ) -> list[SwapEvent]:
        """Take a lease on `spec`'s model into `stack`; return the swaps made for it.

        Raises:
            ServerBusyError: The queue is full (Ollama's 503 text).
            ClientGone: `gone()` completed (the client hung up) while waiting.
        """
        if self.waiting >= self.max_queue:
            self.count(spec.model, 503)
            raise ServerBusyError(QUEUE_FULL)
        swaps: list[SwapEvent] = []
        unsubscribe = self.manager.subscribe(swaps.append)
        self.waiting += 1
        try:
            entering = stack.enter_async_context(self.manager.lease(spec))
            chat = await (unless_gone(entering, gone()) if gone is not None else entering)
            LEASED_CHAT.set(chat)  # what an in-process upstream answers with
        finally:
            self.waiting -= 1
            unsubscribe()
        self.active += 1
        stack.callback(self._idle)
        return swaps

    def _idle(self) -> None:
        self.active -= 1
        self.last_active = time.monotonic()

    def lease_refusal(self, client: str) -> Refusal | None:
        """Why `client` may not ask for one more lease now, or None (counted when refused)."""
        of_client = self.asking[client] + sum(h.client == client for h in self.held.values())
        total = sum(self.asking.values()) + len(self.held)
        refusal = lease_refusal(total, of_client, client, self.limits)
        self.leases_refused += refusal is not None
        return refusal

    @contextlib.contextmanager
    def asking_for_lease(self, client: str) -> Iterator[None]:
        """Count `client`'s lease request as asked for while it waits."""
        self.asking[client] += 1
        try:
            yield
        finally:
            self.asking[client] -= 1
            if not self.asking[client]:
                del self.asking[client]

    def new_lease(self, model: str, client: str, stack: AsyncExitStack) -> str:
        """Register a lease an Orquestra client holds across calls; forgotten with `stack`."""
        lease = uuid.uuid4().hex
        self.held[lease] = HeldLease(model, LEASED_CHAT.get(), client, time.monotonic())
        stack.callback(self.held.pop, lease, None)
        return lease

    def expired(self, lease: str) -> bool:
        """Whether `lease` has had no request under it for too long (it is then let go)."""
        held = self.held.get(lease)
        if held is None or not idle_too_long(held.idle_s(time.monotonic()), self.limits):
            return False
        self.leases_expired += 1
        return True

    def _under(self, held: HeldLease, stack: AsyncExitStack) -> None:
        held.calls += 1

        def ended() -> None:
            held.calls -= 1
            held.last_used = time.monotonic()

        stack.callback(ended)

    def unreachable(self) -> BackendUnavailableError:
        """The error for an upstream that does not answer, naming the fix."""
        self.manager.forget_residency()  # whatever comes back is read anew
        return BackendUnavailableError(
            f"Cannot reach {self.manager.upstream.describe()}: start it (`ollama serve`), "
            "or restart orquestra serve with OLLAMA_BASE_URL (or LLAMA_SERVER_URL) set."
        )

    def pin(self, spec: ModelSpec, body: Mapping[str, Any]) -> dict[str, Any]:
        """`body` pinned to the spec's runner options and keep_alive (changes counted)."""
        pinned = pin_request(body, spec.options, spec.keep_alive)
        if pinned.overridden or pinned.keep_alive_overridden:
            self.pins[spec.model] += 1
        return pinned.body

    async def forward(
        self,
        path: str,
        body: dict[str, Any],
        spec: ModelSpec,
        lease: str | None,
        gone: Callable[[], Awaitable[object]],
    ) -> Response:
        """Send `body` upstream under a lease on `spec`'s model (the caller's, or one now).

        `gone()` completes when the client hangs up: waiting for the lease or for the
        first byte of the answer then stops, and the lease is given back.
        """
        sampling_kwargs(body.get("options"))  # a bad option is a 400 before any swap
        stack = AsyncExitStack()
        try:
            held = self.held.get(lease or "")
            if held is None or held.model != spec.model:
                await self.hold(spec, stack, gone)
            else:
                self.calls_under_lease += 1
                self._under(held, stack)
                LEASED_CHAT.set(held.chat)
                if not await self.manager.resident(spec.model):  # gone behind our back
                    await self.hold(spec, stack, gone)
            response = await self._send(path, body, spec, gone, stack)
            if response.status_code >= 500 and not await self.manager.resident(spec.model, 0):
                # The upstream lost the model (restart, another client): load it through
                # the budget and ask once more, rather than answer its raw error.
                await response.aclose()
                self.upstream_retries += 1
                await self.hold(spec, stack, gone)
                response = await self._send(path, body, spec, gone, stack)
            self.count(spec.model, response.status_code)
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

    async def _send(
        self,
        path: str,
        body: dict[str, Any],
        spec: ModelSpec,
        gone: Callable[[], Awaitable[object]],
        stack: AsyncExitStack,
    ) -> httpx.Response:
        request = self.upstream.build_request("POST", path, json=self.pin(spec, body))
        try:
            response = await unless_gone(self.upstream.send(request, stream=True), gone())
        except httpx.TransportError:
            raise self.unreachable() from None
        stack.push_async_callback(response.aclose)
        return response

    def status(self) -> dict[str, Any]:
        """The manager's status and the gateway's own counters."""
        status = self.manager.get_status()
        status["serve"] = {
            "autostarted": self.autostarted,
            "waiting": self.waiting,
            "active_requests": self.active,
            "held_leases": len(self.held),
            "leases_refused": self.leases_refused,
            "leases_expired": self.leases_expired,
            "calls_under_lease": self.calls_under_lease,
            "requests": [
                {"model": model, "status": code, "count": n}
                for (model, code), n in sorted(self.requests.items())
            ],
            "option_pins": dict(self.pins),
            "ignored_unloads": dict(self.ignored_unloads),
            "upstream_retries": self.upstream_retries,
            "generations_stopped": llama_thread.stopped_total(),
            "gpu_index": self.manager.settings.gpu_index,
            "placement": self.placement_hints(status),
        }
        return status

    def placement_hints(self, status: Mapping[str, Any]) -> dict[str, Any]:
        """What a front needs to place a request here: free VRAM and each model's costs.

        Costs are this scheduler's own measurements: the last load time and footprint of
        each model it loaded, the last unload time of each it unloaded.
        """
        sizes = status["bytes"]
        costs: dict[str, dict[str, float | int | None]] = {}
        for event in self.manager.events:
            loaded = costs.setdefault(event.to_model, {})
            loaded["load_s"] = event.load_s
            loaded["footprint"] = int(event.footprint_gb * 2**30) or None
            for model in event.from_models:
                costs.setdefault(model, {})["unload_s"] = event.unload_s
        waiting = self.waiting + sum(self.asking.values())
        return {
            "free_bytes": max(0, int(sizes["budget"]) - int(sizes["vram_used"])),
            "waiting": waiting,
            "costs": costs,
        }
