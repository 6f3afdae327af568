"""Ollama's native API in front of the gateway: chat, generate, embed, and passthroughs."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from orquestra.client.wire import (
    EXIT_PATH,
    HOME_PATH,
    LEASE_HEADER,
    LEASE_PATH,
    LINEUP_PATH,
    STATUS_PATH,
)
from orquestra.errors import OrquestraError
from orquestra.lineup import Lineup, ModelSpec
from orquestra.policy.lease_bounds import expiry_message
from orquestra.server.auth import CLIENT_STATE
from orquestra.server.errors import error_response, ollama_error
from orquestra.server.gateway import ClientGone, Gateway, LeasedStream
from orquestra.server.relay import relay, upstream_broke
from orquestra.server.shapes import check_native
from orquestra.settings import check_role

log = logging.getLogger(__name__)

# Ollama's status for a client that went away while its request waited.
CLIENT_GONE = 499
# The refusal of a pull over plain HTTP or an unverified certificate.
INSECURE_PULL = (
    "insecure pulls are refused: orquestra serve does not ask Ollama to pull over plain HTTP or "
    "without checking the registry's certificate. Pull with `ollama pull --insecure` yourself, "
    "or set ORQUESTRA_ALLOW_INSECURE_PULL=true and restart orquestra serve."
)
# How often a held lease tells its client it is still held (and learns it is still there).
LEASE_HEARTBEAT_S = 5.0


async def hung_up(request: Request) -> None:
    """Return when the client closes its connection (its body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


Handler = Callable[[Request], Awaitable[Response]]


def answers_like_ollama(handler: Handler) -> Handler:
    """`handler` with errors and hang-ups answered as Ollama does.

    Bad input is a 400, a scheduling error has its own status, a hang-up is a 499, and an
    upstream that broke while a whole answer was read is a 502 naming it.
    """

    @functools.wraps(handler)
    async def answering(request: Request) -> Response:
        try:
            return await handler(request)
        except ClientGone:
            return Response(status_code=CLIENT_GONE)
        except ValueError as exc:
            return ollama_error(400, str(exc))
        except OrquestraError as exc:
            return error_response(exc)
        except httpx.TransportError as exc:  # the upstream went away while an answer was read
            error = upstream_broke(exc)
            log.warning("%s %s: %s", request.method, request.url.path, error)
            return error_response(error)

    return answering


async def forward_for(
    request: Request, path: str, body: dict[str, Any], spec: ModelSpec
) -> Response:
    """`body` forwarded under the client's lease, or one taken now, until it hangs up."""
    lease = request.headers.get(LEASE_HEADER)
    return await gateway_of(request).forward(path, body, spec, lease, lambda: hung_up(request))


def gateway_of(request: Request) -> Gateway:
    """The gateway this app serves."""
    gateway: Gateway = request.app.state.gateway
    return gateway


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or ValueError with Ollama's wording."""
    raw = await request.body()
    if not raw:
        raise ValueError("missing request body")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _done(model: str, *, chat: bool, reason: str) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "model": model,
        "created_at": datetime.now(UTC).isoformat(),
        "done": True,
        "done_reason": reason,
    }
    if chat:
        reply["message"] = {"role": "assistant", "content": ""}
    else:
        reply["response"] = ""
    return reply


@answers_like_ollama
async def generation(request: Request) -> Response:
    """`/api/chat`, `/api/generate`, `/api/embed`: leased, pinned, forwarded."""
    gateway = gateway_of(request)
    path = request.url.path
    chat = path == "/api/chat"
    body = await json_body(request)
    check_native(path, body)
    model = str(body.get("model") or "")
    if not model:
        return ollama_error(400, "model is required")
    spec = await gateway.spec_of(model)
    content = body.get("messages") if chat else body.get("prompt", body.get("input"))
    if not content and path != "/api/embed":
        if body.get("keep_alive") in (0, "0", 0.0):  # unloads are the scheduler's call
            gateway.ignored_unloads[model] += 1
            return JSONResponse(_done(model, chat=chat, reason="unload"))
        async with AsyncExitStack() as stack:  # a load request: make it resident
            await gateway.hold(spec, stack, lambda: hung_up(request))
        return JSONResponse(_done(model, chat=chat, reason="load"))
    return await forward_for(request, path, body, spec)


@answers_like_ollama
async def lease(request: Request) -> Response:
    """Hold a lease for an Orquestra client until it hangs up (NDJSON heartbeats).

    The body names the role and the client's lineup (registered now if it is new); a
    role alone means the scheduler's own lineup's model. A client asking for more leases
    than its bound, or than all may hold, is refused (429, 503); a lease with no request
    under it for `ORQUESTRA_SERVE_LEASE_IDLE_S` is taken back: its stream ends with an
    `{"error": …}` line saying so.
    """
    gateway = gateway_of(request)
    body = await json_body(request)
    role = check_role(str(body.get("role")))
    raw = body.get("lineup")
    if raw is not None and not isinstance(raw, dict):
        raise ValueError("lineup must be an object (Lineup.as_dict())")
    client = client_of(request)
    refusal = gateway.lease_refusal(client)
    if refusal is not None:
        return ollama_error(refusal.status, refusal.message)
    lineup = gateway.manager.register(Lineup.from_dict(raw)) if raw else gateway.manager.lineup
    spec = lineup.spec(role)
    stack = AsyncExitStack()
    try:
        with gateway.asking_for_lease(client):
            swaps = await gateway.hold(spec, stack, lambda: hung_up(request))
    except BaseException:
        await stack.aclose()
        raise
    lease_id = gateway.new_lease(spec.model, client, stack)
    granted = {
        "status": "granted",
        "lease": lease_id,
        "role": role,
        "model": spec.model,
        "swaps": [event.as_dict() for event in swaps],
    }
    beat_s = min(LEASE_HEARTBEAT_S, gateway.limits.idle_s / 2)

    async def heartbeats() -> AsyncIterator[bytes]:
        yield (json.dumps(granted) + "\n").encode()
        while True:
            await asyncio.sleep(beat_s)
            if gateway.expired(lease_id):
                expired = {"status": "expired", "error": expiry_message(gateway.limits)}
                yield (json.dumps(expired) + "\n").encode()
                return  # the stream ends: the lease is given back
            yield b'{"status": "held"}\n'

    return LeasedStream(heartbeats(), stack, "application/x-ndjson")


def client_of(request: Request) -> str:
    """Who the request counts as, for per-client bounds (set by `ClientAuth`)."""
    client = getattr(request.state, CLIENT_STATE, None)
    if isinstance(client, str):
        return client
    return request.client.host if request.client else "unknown"


@answers_like_ollama
async def passthrough(request: Request) -> Response:
    """Forward a request that needs no lease (ps, show, version, pull) as it is."""
    gateway = gateway_of(request)
    if request.method == "POST":  # show, pull: the body is an object of the right shape
        body = await json_body(request)
        check_native(request.url.path, body)
        if body.get("insecure") and not gateway.manager.settings.allow_insecure_pull:
            return ollama_error(403, INSECURE_PULL)
    upstream = gateway.upstream.build_request(
        request.method, request.url.path, content=await request.body()
    )
    try:
        response = await gateway.upstream.send(upstream, stream=True)
    except httpx.TransportError:
        return error_response(gateway.unreachable())
    media_type = response.headers.get("content-type", "application/json")
    if "ndjson" in media_type:
        return StreamingResponse(
            _relay(response), status_code=response.status_code, media_type=media_type
        )
    content = await response.aread()
    await response.aclose()
    return Response(content, status_code=response.status_code, media_type=media_type)


async def _relay(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in relay(response):
            yield chunk
    finally:
        await response.aclose()


@answers_like_ollama
async def home(request: Request) -> Response:
    """Set the role whose model this scheduler brings back when idle (`none`: none)."""
    body = await json_body(request)
    role = body.get("role")
    if role not in ("brain", "executor", "none"):
        raise ValueError("role must be 'brain', 'executor' or 'none'")
    gateway_of(request).manager.set_home_role(role)
    return JSONResponse({"home_role": role})


@answers_like_ollama
async def lineup(request: Request) -> Response:
    """Register a client's lineup; answer it as served (409 for another upstream)."""
    served = gateway_of(request).manager.register(Lineup.from_dict(await json_body(request)))
    return JSONResponse(served.as_dict())


async def exit_when_idle(request: Request) -> Response:
    """An autostarted scheduler with no client exits, so one for another upstream can start."""
    gateway = gateway_of(request)
    # Only clients count: a home-model swap in flight is nobody's, and stops with the process.
    busy = gateway.active or gateway.held or gateway.waiting
    if not gateway.autostarted or busy:
        why = "in use" if gateway.autostarted else "started by hand"
        return ollama_error(409, f"orquestra serve is {why}: it does not exit on request")
    server = request.app.state.server
    if server is not None:
        server.should_exit = True
    return JSONResponse({"status": "exiting"})


async def status(request: Request) -> Response:
    """`/orquestra/status`: the one shared state (a client asking is not idle)."""
    gateway = gateway_of(request)
    gateway.last_active = time.monotonic()
    return JSONResponse(gateway.status())


async def alive(request: Request) -> Response:
    """`GET /`: liveness, as Ollama answers it; a browser is sent to the dashboard."""
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/dashboard", status_code=307)
    return PlainTextResponse("Ollama is running (orquestra serve)")


def native_routes() -> list[Route]:
    """The routes of Ollama's API and Orquestra's own."""
    return [
        Route("/", alive, methods=["GET", "HEAD"]),
        Route("/api/chat", generation, methods=["POST"]),
        Route("/api/generate", generation, methods=["POST"]),
        Route("/api/embed", generation, methods=["POST"]),
        Route("/api/tags", passthrough, methods=["GET"]),
        Route("/api/ps", passthrough, methods=["GET"]),
        Route("/api/version", passthrough, methods=["GET"]),
        Route("/api/show", passthrough, methods=["POST"]),
        Route("/api/pull", passthrough, methods=["POST"]),
        Route(STATUS_PATH, status, methods=["GET"]),
        Route(LEASE_PATH, lease, methods=["POST"]),
        Route(LINEUP_PATH, lineup, methods=["POST"]),
        Route(HOME_PATH, home, methods=["POST"]),
        Route(EXIT_PATH, exit_when_idle, methods=["POST"]),
    ]
