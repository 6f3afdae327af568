"""The `orquestra serve` application: routes, the upstream client, the idle exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware

from orquestra.errors import OrquestraError, SettingsError
from orquestra.events import SwapEvent
from orquestra.lineup import redact_text
from orquestra.manager import ModelManager
from orquestra.policy.auth import bind_refusal
from orquestra.runtime import build_model_manager
from orquestra.server.auth import front_door
from orquestra.server.dashboard import dashboard_routes
from orquestra.server.embedded_upstream import EmbeddedUpstream
from orquestra.server.gateway import Gateway
from orquestra.server.observe import Observer, RecordRequests
from orquestra.server.openai import openai_routes
from orquestra.server.routes import native_routes
from orquestra.settings import DEFAULT_SERVE_HOST, Settings, http_url

log = logging.getLogger(__name__)

# Generations can take minutes; reading an answer never times out on its own.
UPSTREAM_TIMEOUT = httpx.Timeout(10.0, read=None)
# How often an autostarted server checks whether it has been idle long enough to exit.
IDLE_CHECK_S = 1.0


def create_app(
    manager: ModelManager,
    *,
    max_queue: int,
    idle_exit_s: float | None = None,
    bind_host: str = DEFAULT_SERVE_HOST,
    open_access: bool = False,
) -> Starlette:
    """The ASGI app serving Ollama's API through `manager`.

    Args:
        manager: The one manager for this GPU; its backend's server is the upstream (for
            the embedded backend, the models this process holds).
        max_queue: Requests that may wait for a model before more get 503.
        idle_exit_s: Exit after this many seconds without a request or lease (autostart:
            such a scheduler may also be replaced by a client for another upstream).
        bind_host: The address it listens on: on loopback, only this machine's host
            names are answered (`BrowserGuard`).
        open_access: `--no-auth`: serve everyone who reaches the port (`ClientAuth`).

    Raises:
        SettingsError: The user's key file cannot be used (the message names the fix).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with _upstream(manager) as upstream:
            gateway = Gateway(manager, upstream, max_queue, autostarted=bool(idle_exit_s))
            app.state.gateway = gateway
            observer.attach(gateway)
            with contextlib.suppress(OrquestraError):  # an upstream down now may come later
                await manager.refresh()
            tasks = [asyncio.create_task(_keep_residency_true(manager))]
            if idle_exit_s:
                tasks.append(asyncio.create_task(_exit_when_idle(app, gateway, idle_exit_s)))
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                observer.close()
                await manager.aclose()

    observer = Observer(manager)
    app = Starlette(
        routes=[*native_routes(), *openai_routes(), *dashboard_routes()],
        middleware=[
            *front_door(manager.settings, bind_host=bind_host, open_access=open_access),
            Middleware(RecordRequests, observer=observer),
        ],
        lifespan=lifespan,
    )
    app.state.server = None
    app.state.observer = observer
    return app


async def _keep_residency_true(manager: ModelManager) -> None:
    """Re-read what the upstream holds while idle (a restart, another client's unload)."""
    while True:
        await asyncio.sleep(manager.settings.residency_poll_s)
        if not manager.busy():
            with contextlib.suppress(OrquestraError):
                await manager.refresh()


def _upstream(manager: ModelManager) -> httpx.AsyncClient:
    """The backend's server when it speaks Ollama's API, else that API answered in-process."""
    backend = manager.backend
    if backend.capabilities.ollama_api:
        return httpx.AsyncClient(base_url=backend.url, timeout=UPSTREAM_TIMEOUT)
    transport = httpx.ASGITransport(app=EmbeddedUpstream(manager).app())
    return httpx.AsyncClient(transport=transport, base_url=f"http://{manager.backend.name}")


async def _exit_when_idle(app: Starlette, gateway: Gateway, idle_exit_s: float) -> None:
    while True:
        await asyncio.sleep(IDLE_CHECK_S)
        idle = gateway.active == 0 and not gateway.held and gateway.waiting == 0
        if idle and time.monotonic() - gateway.last_active >= idle_exit_s:
            log.info("No client for %.0f s: orquestra serve exits", idle_exit_s)
            server = app.state.server
            if server is not None:
                server.should_exit = True
            return


def _log_swap(event: SwapEvent) -> None:
    log.info(
        "%s (unload %.2f s, VRAM wait %.2f s, load %.2f s%s)",
        event.describe(),
        event.unload_s,
        event.vram_wait_s,
        event.load_s,
        ", OOM retry" if event.oom_retry else "",
    )


class RedactSecrets(logging.Filter):
    """Replace the password of any URL in a log line by `***` (in any library's message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message in place; never drops it."""
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def checked_bind_host(settings: Settings, host: str | None, *, open_access: bool) -> str:
    """The address to listen on, once it is allowed.

    Raises:
        SettingsError: It is beyond loopback with no API key and no `--no-auth`.
    """
    bind_host = host or settings.serve_host
    api_key_set = bool(settings.api_key.get_secret_value())
    refusal = bind_refusal(bind_host, api_key_set=api_key_set, open_access=open_access)
    if refusal:
        raise SettingsError(refusal)
    return bind_host


def serving_logs() -> None:
    """`orquestra serve`'s log: one line per event, URL passwords redacted, HTTP calls quiet."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_scheduler(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    idle_exit_s: float | None = None,
    open_access: bool = False,
) -> None:
    """Run `orquestra serve` until interrupted (or idle, when `idle_exit_s` is set).

    Raises:
        SettingsError: It would listen beyond loopback with no API key and no
            `open_access` (`--no-auth`), or the user's key file cannot be used.
        OrquestraError: No Ollama answers (the message names the fix).
    """
    bind_host = checked_bind_host(settings, host, open_access=open_access)
    serving_logs()
    # One line per swap (with its stages, from `_log_swap`), not the swap log's own.
    logging.getLogger("orquestra.scheduler.swap_log").setLevel(logging.WARNING)
    manager = build_model_manager(settings.model_copy(update={"orquestra_url": "none"}))
    manager.subscribe(_log_swap)
    app = create_app(
        manager,
        max_queue=settings.serve_max_queue,
        idle_exit_s=idle_exit_s,
        bind_host=bind_host,
        open_access=open_access,
    )
    config = uvicorn.Config(
        app,
        host=bind_host,
        port=port or settings.serve_port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    app.state.server = server
    log.info(
        "orquestra serve on http://%s:%s for %s",
        config.host,
        config.port,
        manager.upstream.describe(),
    )
    if open_access:
        log.warning(
            "--no-auth: orquestra serve answers anyone who reaches %s:%s, with no key: they "
            "can use your models and GPU, hold leases and read the status",
            config.host,
            config.port,
        )
    server.run()


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    idle_exit_s: float | None = None,
    open_access: bool = False,
    nodes: list[str] | None = None,
) -> None:
    """`orquestra serve`: a front for the nodes given, else this GPU's scheduler.

    Nodes come from `nodes` (`--node`) or `ORQUESTRA_NODES`; the scheduler budgets the GPU
    `settings.gpu_index` names (`--gpu`).
    """
    urls = [http_url(u, "http://127.0.0.1:11435") for u in nodes or []] or settings.node_urls
    if urls:
        from orquestra.front.app import run_front

        run_front(settings, urls, host=host, port=port, open_access=open_access)
        return
    run_scheduler(settings, host=host, port=port, idle_exit_s=idle_exit_s, open_access=open_access)
