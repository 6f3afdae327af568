"""The front's answers: each model request placed on a node and relayed, leases kept there.

Model calls (`/api/chat`, `/api/generate`, `/api/embed`, `/v1/chat/completions`) go to
the node `orquestra.policy.placement.place` picks; a call made under a lease goes to the
lease's node. A node that fails before its answer begins (down, restarting, not proven)
is taken out and the call goes to the next node, so requests waiting on a node that dies
are served by the others. `/orquestra/lease` is relayed line by line and its node kept
for the lease's life. The listing routes answer for all nodes (`/api/tags`, `/api/ps`
merged), a lineup is registered on every node, each with that node's upstream.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from orquestra.client.wire import AFFINITY_HEADER, LEASE_HEADER, LEASE_PATH, LINEUP_PATH
from orquestra.errors import UntrustedServerError
from orquestra.front.nodes import Node, NodeSet
from orquestra.lineup import Lineup, Upstream
from orquestra.policy.placement import place
from orquestra.server.errors import ollama_error
from orquestra.server.relay import relay
from orquestra.server.routes import json_body

# Conversations whose node the front remembers (oldest forgotten first).
MAX_AFFINITIES = 4096
# Headers a client's request carries on to its node (auth and proofs are the front's own).
PASSED_HEADERS = ("content-type", "accept", "user-agent", LEASE_HEADER, AFFINITY_HEADER)
NO_NODE = (
    "no node answers: every orquestra serve behind this front is down or cannot prove it "
    "is yours. Start them, or check ORQUESTRA_NODES and ORQUESTRA_API_KEY."
)


@dataclass
class Front:
    """What the front knows between requests: its nodes, leases and conversations."""

    nodes: NodeSet
    leases: dict[str, str] = field(default_factory=dict)
    """Lease id -> the URL of the node that granted it, while it is held."""
    affinity: OrderedDict[str, str] = field(default_factory=OrderedDict)
    """Conversation key -> the URL of the node that last served it (its KV is there)."""
    placed: dict[tuple[str, str], int] = field(default_factory=dict)
    """Requests placed, by node URL and model."""
    retried: int = 0
    """Requests sent to another node after theirs failed before answering."""

    def choose(
        self, model: str, key: str | None, lease: str | None, tried: set[str]
    ) -> Node | None:
        """The node for this call: its lease's, else placement's among the nodes not tried."""
        if lease and (url := self.leases.get(lease)) and url not in tried:
            node = self.nodes.by_url(url)
            if node is not None:  # the lease is held there, whatever the last poll said
                return node
        views = [v for v in self.nodes.views() if v.url not in tried]
        chosen = place(model, views, self.affinity.get(key) if key else None)
        return self.nodes.by_url(chosen.url) if chosen else None

    def failed(self, node: Node, exc: Exception, tried: set[str]) -> None:
        """`node` failed before answering: take it out; the call goes to the next one."""
        node.in_flight -= 1
        self.nodes.mark_down(node, str(exc) or type(exc).__name__)
        tried.add(node.url)
        self.retried += 1

    def remember(self, key: str | None, node: Node, model: str, *, placed: bool = True) -> None:
        """Count a placement; the model, and this conversation's KV, are on `node` now.

        `placed`: False for a call made under a lease (its node was chosen with the lease).
        """
        if placed:
            self.placed[(node.url, model)] = self.placed.get((node.url, model), 0) + 1
        if model:
            self.nodes.served(node, model)
        if key:
            self.affinity[key] = node.url
            self.affinity.move_to_end(key)
            while len(self.affinity) > MAX_AFFINITIES:
                self.affinity.popitem(last=False)


def front_of(request: Request) -> Front:
    """The front this app serves."""
    front: Front = request.app.state.front
    return front


def _headers(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.lower() in PASSED_HEADERS}


def on_node(lineup: dict[str, Any], node: Node) -> dict[str, Any]:
    """`lineup` as `node` serves it: the same models, on that node's upstream."""
    served = (node.status or {}).get("upstream_server")
    if not served:
        return lineup
    return {**Lineup.from_dict(lineup).as_dict(), "upstream": Upstream.from_dict(served).as_dict()}


async def _send(
    front: Front, request: Request, body: bytes, model: str, key: str | None
) -> tuple[Node, httpx.Response] | Response:
    """Send the call to the chosen node, the next one when it fails before answering."""
    tried: set[str] = set()
    lease = request.headers.get(LEASE_HEADER)
    while (node := front.choose(model, key, lease, tried)) is not None:
        http = front.nodes.client(node)
        outgoing = http.build_request(
            request.method, request.url.path, content=body, headers=_headers(request)
        )
        node.in_flight += 1
        try:
            response = await http.send(outgoing, stream=True)
        except (httpx.TransportError, UntrustedServerError) as exc:
            front.failed(node, exc, tried)
            continue
        front.remember(key, node, model, placed=not (lease and lease in front.leases))
        return node, response
    return ollama_error(503, NO_NODE)


async def _relayed(node: Node, response: httpx.Response, lines: bool) -> AsyncIterator[bytes]:
    try:
        if lines:
            async for chunk in relay(response):
                yield chunk
        else:
            async for chunk in response.aiter_raw():
                yield chunk
    finally:
        node.in_flight -= 1
        await response.aclose()


def _streamed(node: Node, response: httpx.Response) -> StreamingResponse:
    media = response.headers.get("content-type", "application/json")
    return StreamingResponse(
        _relayed(node, response, "ndjson" in media),
        status_code=response.status_code,
        media_type=media,
    )


async def model_call(request: Request) -> Response:
    """A chat, generate or embed call (native or `/v1`), placed on a node and relayed."""
    body = await request.body()
    try:
        data = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        data = {}
    model = str(data.get("model") or "") if isinstance(data, dict) else ""
    key = request.headers.get(AFFINITY_HEADER)
    sent = await _send(front_of(request), request, body, model, key)
    if isinstance(sent, Response):
        return sent
    return _streamed(*sent)


async def lease(request: Request) -> Response:
    """An Orquestra client's lease, taken on the node placement picks and kept there."""
    front = front_of(request)
    body = await json_body(request)
    raw = body.get("lineup")
    lineup = Lineup.from_dict(raw) if isinstance(raw, dict) else None
    role = str(body.get("role"))
    model = lineup.model(role) if lineup and role in ("brain", "executor") else ""  # type: ignore[arg-type]
    key = str(body.get("affinity") or "") or request.headers.get(AFFINITY_HEADER)
    tried: set[str] = set()
    while (node := front.choose(model, key, None, tried)) is not None:
        sent = {**body, "lineup": on_node(raw, node)} if isinstance(raw, dict) else body
        http = front.nodes.client(node)
        node.in_flight += 1
        try:
            response = await http.send(
                http.build_request("POST", LEASE_PATH, json=sent, headers=_headers(request)),
                stream=True,
            )
        except (httpx.TransportError, UntrustedServerError) as exc:
            front.failed(node, exc, tried)
            continue
        if response.status_code != 200:
            node.in_flight -= 1
            content = await response.aread()
            await response.aclose()
            return Response(content, response.status_code, media_type="application/json")
        front.remember(key, node, model)
        return StreamingResponse(_held(front, node, response), media_type="application/x-ndjson")
    return ollama_error(503, NO_NODE)


async def _held(front: Front, node: Node, response: httpx.Response) -> AsyncIterator[bytes]:
    """The node's lease stream, relayed; the lease maps to its node while it lasts."""
    lease_id = ""
    try:
        async for line in relay(response):
            if not lease_id:
                granted = json.loads(line.split(b"\n", 1)[0] or b"{}")
                lease_id = str(granted.get("lease") or "")
                if lease_id:
                    front.leases[lease_id] = node.url
            yield line
    finally:
        front.leases.pop(lease_id, None)
        node.in_flight -= 1
        await response.aclose()


async def _each_up(
    front: Front, ask: Callable[[Node], Awaitable[httpx.Response]]
) -> list[tuple[Node, httpx.Response]]:
    async def one(node: Node) -> tuple[Node, httpx.Response] | None:
        try:
            return node, await ask(node)
        except (httpx.TransportError, UntrustedServerError) as exc:
            front.nodes.mark_down(node, str(exc) or type(exc).__name__)
            return None

    answers = await asyncio.gather(*(one(n) for n in front.nodes.up()))
    return [a for a in answers if a is not None]


async def lineup(request: Request) -> Response:
    """Register a lineup on every node (each with its own upstream); answer the first's."""
    front = front_of(request)
    body = await json_body(request)
    answers = await _each_up(
        front, lambda n: front.nodes.client(n).post(LINEUP_PATH, json=on_node(body, n))
    )
    if not answers:
        return ollama_error(503, NO_NODE)
    for _, answer in answers:
        if answer.status_code == 200:
            return JSONResponse(answer.json())
    return Response(answers[0][1].content, answers[0][1].status_code, media_type="application/json")


async def merged_list(request: Request) -> Response:
    """`/api/tags` or `/api/ps`: the models of every node, each once."""
    front = front_of(request)
    path = request.url.path
    answers = await _each_up(front, lambda n: front.nodes.client(n).get(path))
    seen: dict[str, dict[str, Any]] = {}
    for _, answer in answers:
        if answer.status_code == 200:
            for model in answer.json().get("models", []):
                seen.setdefault(str(model.get("name") or model.get("model")), model)
    if not answers:
        return ollama_error(503, NO_NODE)
    return JSONResponse({"models": list(seen.values())})


async def first_node(request: Request) -> Response:
    """`/api/version`, `/api/show`, `/v1/models`: the first node that answers."""
    front = front_of(request)
    for node in front.nodes.up():
        http = front.nodes.client(node)
        try:
            answer = await http.request(
                request.method,
                request.url.path,
                content=await request.body(),
                headers=_headers(request),
            )
        except (httpx.TransportError, UntrustedServerError) as exc:
            front.nodes.mark_down(node, str(exc) or type(exc).__name__)
            continue
        return Response(
            answer.content, answer.status_code, media_type=answer.headers.get("content-type")
        )
    return ollama_error(503, NO_NODE)


async def pull(request: Request) -> Response:
    """`/api/pull` on every node, one after the other; their progress lines, relayed."""
    front = front_of(request)
    body = await request.body()

    async def progress() -> AsyncIterator[bytes]:
        for node in front.nodes.up():
            http = front.nodes.client(node)
            outgoing = http.build_request(
                "POST", "/api/pull", content=body, headers=_headers(request)
            )
            try:
                response = await http.send(outgoing, stream=True)
            except (httpx.TransportError, UntrustedServerError) as exc:
                front.nodes.mark_down(node, str(exc) or type(exc).__name__)
                continue
            try:
                async for chunk in relay(response):
                    yield chunk
            finally:
                await response.aclose()

    return StreamingResponse(progress(), media_type="application/x-ndjson")


def front_routes() -> list[Route]:
    """The routes a front answers besides its status, metrics and dashboard."""
    return [
        *(
            Route(p, model_call, methods=["POST"])
            for p in ("/api/chat", "/api/generate", "/api/embed", "/v1/chat/completions")
        ),
        Route(LEASE_PATH, lease, methods=["POST"]),
        Route(LINEUP_PATH, lineup, methods=["POST"]),
        Route("/api/tags", merged_list, methods=["GET"]),
        Route("/api/ps", merged_list, methods=["GET"]),
        Route("/api/version", first_node, methods=["GET"]),
        Route("/api/show", first_node, methods=["POST"]),
        Route("/v1/models", first_node, methods=["GET"]),
        Route("/api/pull", pull, methods=["POST"]),
    ]
