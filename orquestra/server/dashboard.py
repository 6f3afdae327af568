"""The dashboard (`/dashboard`, live over server-sent events) and `/metrics`.

Every asset is served from this package (no CDN): the page works offline. The page
subscribes to `/orquestra/events`, which sends a snapshot of the scheduler (see
`Observer.snapshot`) at once, on every swap and request as it happens, and once a second.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from orquestra import telemetry
from orquestra.client.wire import CODE_RUNS_PATH
from orquestra.server.metrics import CONTENT_TYPE
from orquestra.server.observe import Observer

DASHBOARD_PATH = "/dashboard"
SNAPSHOT_PATH = "/orquestra/dashboard"
EVENTS_PATH = "/orquestra/events"
# The setting that raises the subscriber bound, named in its refusal.
SUBSCRIBERS_SETTING = "ORQUESTRA_SERVE_MAX_SUBSCRIBERS"
# A snapshot at least this often, so the page's clock and timeline move when nothing happens.
TICK_S = 1.0
_ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


def observer_of(request: Request) -> Observer:
    """The observer of this app."""
    observer: Observer = request.app.state.observer
    return observer


def _asset(name: str) -> str:
    return resources.files("orquestra.server").joinpath("static", name).read_text("utf-8")


async def page(request: Request) -> Response:
    """`/dashboard`: the page (its script and style are served next to it)."""
    return Response(_asset("dashboard.html"), media_type="text/html; charset=utf-8")


async def asset(request: Request) -> Response:
    """`/dashboard/<name>`: the page's script and stylesheet."""
    name = request.path_params["name"]
    if name not in _ASSETS:
        return Response("not found", status_code=404)
    return Response(_asset(name), media_type=f"{_ASSETS[name]}; charset=utf-8")


async def snapshot(request: Request) -> Response:
    """`/orquestra/dashboard`: what the dashboard shows now, as JSON."""
    return JSONResponse(observer_of(request).snapshot())


async def events(request: Request) -> Response:
    """`/orquestra/events`: snapshots as server-sent events, on every change and each second."""
    observer = observer_of(request)
    limit = observer.manager.settings.serve_max_subscribers
    if observer.subscribers >= limit:
        message = (
            f"too many event-stream subscribers: {limit} are open; close a dashboard or "
            f"`orquestra status --watch`, or raise {SUBSCRIBERS_SETTING} and restart "
            "orquestra serve"
        )
        return JSONResponse({"error": message}, status_code=503)
    observer.subscribers += 1

    async def stream() -> AsyncIterator[bytes]:
        try:
            while True:
                data = json.dumps(observer.snapshot(), default=str)
                yield f"event: snapshot\ndata: {data}\n\n".encode()
                await observer.next_change(TICK_S)
        finally:
            observer.subscribers -= 1

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def metrics(request: Request) -> Response:
    """`/metrics`: Prometheus' text format."""
    return Response(observer_of(request).metrics.exposition(), media_type=CONTENT_TYPE)


async def code_runs(request: Request) -> Response:
    """`POST /orquestra/code-runs` `{"exit": "ok"}`: a client reports one sandbox run."""
    try:
        outcome = (await request.json()).get("exit")
        observer_of(request).metrics.code_run(str(outcome))
    except (ValueError, AttributeError):
        choices = ", ".join(telemetry.CODE_RUN_OUTCOMES)
        return JSONResponse({"error": f"send {{'exit': one of {choices}}}"}, status_code=400)
    return JSONResponse({"status": "counted"})


def dashboard_routes() -> list[Route]:
    """The dashboard's page, assets, snapshot and stream; `/metrics`; run reports."""
    return [
        Route(DASHBOARD_PATH, page, methods=["GET"]),
        Route(DASHBOARD_PATH + "/{name}", asset, methods=["GET"]),
        Route(SNAPSHOT_PATH, snapshot, methods=["GET"]),
        Route(EVENTS_PATH, events, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route(CODE_RUNS_PATH, code_runs, methods=["POST"]),
    ]
