"""`orquestra serve --node URL …`: one address for several schedulers, each request placed.

The front speaks the same API as a scheduler (Ollama's, `/v1`, Orquestra's leases), so
every client works unchanged, and lets in only what a scheduler lets in (the same Host,
Origin, user and API-key checks and body bound). Its `/orquestra/status`, `/metrics` and
`/dashboard` show every node. It keeps no state a restart would lose: it reads the nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from orquestra.client.wire import CODE_RUNS_PATH, EXIT_PATH, STATUS_PATH
from orquestra.errors import SettingsError
from orquestra.front.nodes import Node, NodeSet
from orquestra.front.routes import NO_NODE, Front, first_node, front_of, front_routes
from orquestra.lineup import redact_text
from orquestra.policy.decision import gib
from orquestra.server.app import checked_bind_host, serving_logs
from orquestra.server.auth import front_door
from orquestra.server.errors import ollama_error
from orquestra.server.metrics import CONTENT_TYPE
from orquestra.settings import DEFAULT_SERVE_HOST, Settings

log = logging.getLogger(__name__)

# How often the dashboard page reloads itself.
DASHBOARD_REFRESH_S = 2


def node_summary(node: Node) -> dict[str, Any]:
    """One node in the front's status: up or down, and what it holds."""
    status = node.status or {}
    serve = status.get("serve") or {}
    sizes = status.get("bytes") or {}
    return {
        "url": redact_text(node.url),
        "up": node.up,
        "since": node.since,
        "error": redact_text(node.error),
        "gpu_index": serve.get("gpu_index"),
        "home_role": status.get("home_role"),
        "backend": status.get("backend"),
        "upstream": status.get("upstream"),
        "resident": [m["model"] for m in status.get("models", []) if m.get("resident")],
        "leases": {m["model"]: m["leases"] for m in status.get("models", []) if m.get("leases")},
        "queued": sum(int(m.get("queued", 0)) for m in status.get("models", [])),
        "in_flight": node.in_flight,
        "swaps": status.get("swaps", 0),
        "vram_used_gb": gib(int(sizes.get("vram_used", 0))),
        "budget_gb": gib(int(sizes.get("budget", 0))),
    }


def front_status(front: Front) -> dict[str, Any] | None:
    """The status of all nodes as one scheduler's (for Orquestra's clients), plus each node.

    None when no node is up (there is no status to read then).
    """
    up = [n for n in front.nodes.nodes if n.status is not None]
    if not up:
        return None
    base: dict[str, Any] = dict(up[0].status or {})
    models: dict[str, dict[str, Any]] = {}
    for node in up:
        for model in (node.status or {}).get("models", []):
            merged = models.setdefault(model["model"], {**model, "resident": False, "leases": 0})
            merged["resident"] = merged["resident"] or model.get("resident", False)
            merged["leases"] += int(model.get("leases", 0))
    totals = {
        key: sum(int((n.status or {}).get("bytes", {}).get(key, 0)) for n in up)
        for key in ("vram_used", "vram_total", "budget")
    }
    base.update(
        models=list(models.values()),
        bytes=totals,
        vram_used_gb=gib(totals["vram_used"]),
        vram_total_gb=gib(totals["vram_total"]),
        budget_gb=gib(totals["budget"]),
        swaps=sum(int((n.status or {}).get("swaps", 0)) for n in up),
    )
    base.pop("serve", None)
    base["front"] = front_counters(front)
    base["nodes"] = [node_summary(n) for n in front.nodes.nodes]
    return base


def front_counters(front: Front) -> dict[str, Any]:
    """The front's own counters."""
    return {
        "nodes": len(front.nodes.nodes),
        "up": len(front.nodes.up()),
        "held_leases": len(front.leases),
        "retried": front.retried,
        "placed": [
            {"node": redact_text(url), "model": model, "count": n}
            for (url, model), n in sorted(front.placed.items())
        ],
    }


async def status(request: Request) -> Response:
    """`/orquestra/status`: every node, and their sum as one scheduler's status."""
    front = front_of(request)
    summed = front_status(front)
    if summed is None:
        nodes = [node_summary(n) for n in front.nodes.nodes]
        return JSONResponse({"error": NO_NODE, "front": front_counters(front), "nodes": nodes}, 503)
    return JSONResponse(summed)


async def exit_refused(request: Request) -> Response:
    """A front is started by hand: it does not exit on a client's request."""
    return ollama_error(409, "orquestra serve (a front of several nodes) does not exit on request")


async def dashboard(request: Request) -> Response:
    """A page listing every node: up or down, its GPU, home, models, leases and queue."""
    front = front_of(request)
    rows = []
    for node in front.nodes.nodes:
        s = node_summary(node)
        state = "up" if s["up"] else f"down: {s['error']}"
        cells = [
            s["url"],
            state,
            "" if s["gpu_index"] is None else str(s["gpu_index"]),
            str(s["home_role"] or ""),
            ", ".join(s["resident"]) or "-",
            ", ".join(f"{m} x{n}" for m, n in s["leases"].items()) or "-",
            str(s["queued"] + s["in_flight"]),
            f"{s['vram_used_gb']:.1f} / {s['budget_gb']:.1f} GiB",
            str(s["swaps"]),
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    heads = ("node", "state", "GPU", "home", "resident", "leases", "queue", "VRAM", "swaps")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{DASHBOARD_REFRESH_S}'>"
        "<title>orquestra front</title><style>body{font-family:sans-serif}"
        "td,th{padding:4px 10px;text-align:left;border-bottom:1px solid #ddd}</style></head>"
        f"<body><h1>orquestra serve: {len(front.nodes.up())} of {len(front.nodes.nodes)} "
        "nodes up</h1><table><tr>"
        + "".join(f"<th>{h}</th>" for h in heads)
        + "</tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
    return HTMLResponse(page)


class _FrontCollector(Collector):
    """Each node's state and the front's placements, read at each scrape."""

    def __init__(self, front: Front) -> None:
        self.front = front

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("orquestra_node_up", "1 when the node answered.", labels=["node"])
        loaded = GaugeMetricFamily(
            "orquestra_node_loaded_models",
            "Models resident on each node.",
            labels=["node", "model"],
        )
        queue = GaugeMetricFamily(
            "orquestra_node_queue", "Requests waiting on each node.", labels=["node"]
        )
        for node in self.front.nodes.nodes:
            s = node_summary(node)
            up.add_metric([s["url"]], 1.0 if s["up"] else 0.0)
            for model in s["resident"]:
                loaded.add_metric([s["url"], model], 1.0)
            queue.add_metric([s["url"]], float(s["queued"] + s["in_flight"]))
        yield from (up, loaded, queue)
        placed = CounterMetricFamily(
            "orquestra_front_placements",
            "Requests placed, by node and model.",
            labels=["node", "model"],
        )
        for (url, model), n in sorted(self.front.placed.items()):
            placed.add_metric([redact_text(url), model], float(n))
        yield placed
        yield CounterMetricFamily(
            "orquestra_front_retries",
            "Requests sent to another node after theirs failed before answering.",
            value=float(self.front.retried),
        )


def create_front(
    urls: list[str],
    settings: Settings,
    *,
    bind_host: str = DEFAULT_SERVE_HOST,
    open_access: bool = False,
) -> Starlette:
    """The ASGI app of a front before the schedulers at `urls`.

    Raises:
        SettingsError: No node given, or the user's key file cannot be used.
    """
    if not urls:
        raise SettingsError("A front needs at least one node: --node URL (or ORQUESTRA_NODES).")
    nodes = NodeSet(urls, settings)
    front = Front(nodes)
    registry = CollectorRegistry()
    registry.register(_FrontCollector(front))

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await nodes.poll()
        poller = asyncio.create_task(nodes.keep_polling(settings.node_poll_s))
        try:
            yield
        finally:
            poller.cancel()
            await nodes.aclose()

    app = Starlette(
        routes=[
            *front_routes(),
            Route(STATUS_PATH, status, methods=["GET"]),
            Route(EXIT_PATH, exit_refused, methods=["POST"]),
            Route(CODE_RUNS_PATH, first_node, methods=["POST"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/dashboard", dashboard, methods=["GET"]),
            Route("/", dashboard, methods=["GET"]),
        ],
        middleware=front_door(settings, bind_host=bind_host, open_access=open_access),
        lifespan=lifespan,
    )
    app.state.front = front
    return app


def run_front(
    settings: Settings,
    urls: list[str],
    *,
    host: str | None = None,
    port: int | None = None,
    open_access: bool = False,
) -> None:
    """Run a front before the nodes at `urls` until interrupted.

    Raises:
        SettingsError: It would listen beyond loopback with no API key and no `--no-auth`,
            no node is given, or the user's key file cannot be used.
    """
    bind_host = checked_bind_host(settings, host, open_access=open_access)
    serving_logs()
    app = create_front(urls, settings, bind_host=bind_host, open_access=open_access)
    config = uvicorn.Config(
        app, host=bind_host, port=port or settings.serve_port, log_level="warning", lifespan="on"
    )
    log.info(
        "orquestra serve (front) on http://%s:%s for %d nodes: %s",
        config.host,
        config.port,
        len(urls),
        ", ".join(redact_text(u) for u in urls),
    )
    if open_access:
        log.warning(
            "--no-auth: the front answers anyone who reaches %s:%s", config.host, config.port
        )
    started = time.monotonic()
    uvicorn.Server(config).run()
    log.info("orquestra serve (front) stopped after %.0f s", time.monotonic() - started)
