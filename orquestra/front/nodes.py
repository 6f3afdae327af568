"""The nodes behind a front: each one's last status, read every second, and who is up.

A node is any `orquestra serve` (one GPU), on this machine or another. The front reads
each node's `/orquestra/status` every `ORQUESTRA_NODE_POLL_S`; a node that refuses the
connection, fails a request, cannot prove it is the user's (or the API key's), or lets
`MISSES_TO_DOWN` status reads in a row time out is taken out and its requests go to the
others; one that answers again is taken back in and given its home
role again. Nothing here outlives the process: a restarted front reads the nodes anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from orquestra.client.trust import Trust
from orquestra.client.wire import HOME_PATH, STATUS_PATH
from orquestra.errors import OrquestraError
from orquestra.lineup import redact_text
from orquestra.policy.placement import ModelCost, NodeView, home_roles
from orquestra.settings import Settings

log = logging.getLogger(__name__)

# How long a node may take to answer its status before it counts as down.
STATUS_TIMEOUT_S = 2.0
# Status reads in a row that may time out before a node counts as down (a node that
# refuses the connection is down at once).
MISSES_TO_DOWN = 2
# Connecting to a node is bounded; an answer may take as long as its generation.
NODE_TIMEOUT = httpx.Timeout(STATUS_TIMEOUT_S, read=None)


def node_view(url: str, status: Mapping[str, Any] | None) -> NodeView:
    """What placement needs of a node, from its status (None: it is down)."""
    if status is None:
        return NodeView(url, up=False)
    models = status.get("models", [])
    serve = status.get("serve") or {}
    hints = serve.get("placement") or {}
    costs = {
        str(model): ModelCost(
            footprint=c.get("footprint"), load_s=c.get("load_s"), unload_s=c.get("unload_s")
        )
        for model, c in (hints.get("costs") or {}).items()
    }
    queued = sum(int(m.get("queued", 0)) for m in models)
    return NodeView(
        url=url,
        up=True,
        resident=frozenset(str(m["model"]) for m in models if m.get("resident")),
        leased=frozenset(str(m["model"]) for m in models if m.get("leases")),
        queue=max(queued, int(hints.get("waiting", 0))),
        free=int(hints.get("free_bytes", 0)),
        costs=costs,
    )


@dataclass
class Node:
    """One node: where it is, how it is proven, and what it said last."""

    url: str
    trust: Trust
    status: dict[str, Any] | None = None
    """Its last status; None while it is down."""
    error: str = ""
    """Why it is down."""
    since: float = field(default_factory=time.time)
    """When it went up or down (Unix time)."""
    home_given: str | None = None
    """The home role it was last given."""
    in_flight: int = 0
    """Requests the front is forwarding to it now."""
    misses: int = 0
    """Status reads in a row that went unanswered (slow, not refused)."""

    @property
    def up(self) -> bool:
        """Whether it answered its last status."""
        return self.status is not None

    def view(self) -> NodeView:
        """The node as placement sees it (the front's own requests in flight included)."""
        view = node_view(self.url, self.status)
        return replace(view, queue=view.queue + self.in_flight) if view.up else view


class NodeSet:
    """Every node of a front, polled in the background."""

    def __init__(self, urls: list[str], settings: Settings) -> None:
        self.settings = settings
        self.nodes = [Node(url.rstrip("/"), Trust.of(url.rstrip("/"), settings)) for url in urls]
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._refreshing: set[asyncio.Task[None]] = set()

    def client(self, node: Node) -> httpx.AsyncClient:
        """The HTTP client for `node` (its answers proven, the API key sent)."""
        if node.url not in self._clients:
            self._clients[node.url] = httpx.AsyncClient(
                base_url=node.url,
                timeout=NODE_TIMEOUT,
                event_hooks=node.trust.async_event_hooks(),
            )
        return self._clients[node.url]

    def by_url(self, url: str) -> Node | None:
        """The node at `url`, if it is one of these."""
        return next((n for n in self.nodes if n.url == url), None)

    def views(self) -> list[NodeView]:
        """Every node as placement sees it, in the order given."""
        return [n.view() for n in self.nodes]

    def up(self) -> list[Node]:
        """The nodes that answered last."""
        return [n for n in self.nodes if n.up]

    async def poll(self) -> None:
        """Read every node's status once (concurrently); give homes to nodes come back."""
        await asyncio.gather(*(self._read(n) for n in self.nodes))
        if len(self.nodes) > 1:
            homes = home_roles([n.url for n in self.nodes])
            await asyncio.gather(
                *(
                    self._give_home(n, homes[n.url])
                    for n in self.up()
                    if n.home_given != homes[n.url]
                )
            )

    async def _read(self, node: Node) -> None:
        try:
            response = await self.client(node).get(STATUS_PATH, timeout=STATUS_TIMEOUT_S)
            if response.status_code != 200:
                raise OrquestraError(f"HTTP {response.status_code}: {response.text[:200]}")
            status: dict[str, Any] = response.json()
        except httpx.TimeoutException as exc:
            node.misses += 1
            if node.misses >= MISSES_TO_DOWN:
                self.mark_down(node, f"no status within {STATUS_TIMEOUT_S:g} s ({exc})")
            return
        except (httpx.HTTPError, OrquestraError, ValueError) as exc:
            self.mark_down(node, str(exc) or type(exc).__name__)
            return
        node.misses = 0
        if not node.up:
            log.info("Node %s is up", redact_text(node.url))
            node.since = time.time()
        node.status, node.error = status, ""

    def served(self, node: Node, model: str) -> None:
        """`node` just served `model`: it is resident there now; read the node again.

        Until that reading comes, the front's view of the node says so already, so the
        next request is placed knowing it (the poll alone would be up to a period late).
        """
        if node.status is not None:
            models = list(node.status.get("models", []))
            known = next((m for m in models if m.get("model") == model), None)
            if known is None:
                models.append({"model": model, "resident": True, "leases": 0, "queued": 0})
            else:
                models[models.index(known)] = {**known, "resident": True}
            node.status = {**node.status, "models": models}
        task = asyncio.get_running_loop().create_task(self._read(node))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    def mark_down(self, node: Node, why: str) -> None:
        """Take `node` out until it answers again."""
        if node.up or not node.error:
            log.warning("Node %s is down: %s", redact_text(node.url), redact_text(why))
            node.since = time.time()
        node.status, node.error, node.home_given = None, why, None

    async def _give_home(self, node: Node, role: str) -> None:
        with contextlib.suppress(httpx.HTTPError, OrquestraError):
            answer = await self.client(node).post(
                HOME_PATH, json={"role": role}, timeout=STATUS_TIMEOUT_S
            )
            if answer.status_code == 200:
                node.home_given = role

    async def keep_polling(self, every_s: float) -> None:
        """Poll forever (until cancelled)."""
        while True:
            await self.poll()
            await asyncio.sleep(every_s)

    async def aclose(self) -> None:
        """Close the connections to the nodes."""
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()
