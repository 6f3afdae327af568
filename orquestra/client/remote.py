"""`RemoteManager`: this process's leases, held by the one `orquestra serve` for the GPU.

It offers what `ModelManager` offers the graph, the commander and the CLI, for this
process's own lineup: the lineup is registered with the scheduler first (which resolves
its names and pins each model's runner options), then every lease names its model. A
lease is one streamed request to `/orquestra/lease` that stays open while it is held:
closing it (or this process dying) gives it back at once, so a crashed client never
blocks the GPU. Chat calls made under a lease carry its id, so the scheduler does not
queue them behind the lease they are part of.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables.config import var_child_runnable_config
from langchain_ollama import ChatOllama

from orquestra.client.run_reports import report_code_runs_to
from orquestra.client.trust import Trust
from orquestra.client.wire import LEASE_HEADER, LEASE_PATH, LINEUP_PATH, STATUS_PATH
from orquestra.errors import (
    BackendError,
    BackendUnavailableError,
    ModelNotFoundError,
    OrquestraError,
    PolicyError,
    ServerBusyError,
    UntrustedServerError,
)
from orquestra.events import SwapEvent
from orquestra.lineup import Lineup
from orquestra.scheduler.status import ManagerStatus
from orquestra.scheduler.swap_log import SwapLog
from orquestra.settings import Role, Settings, check_role

# Seconds to wait for the scheduler to answer a status request.
STATUS_TIMEOUT_S = 5.0
# A lease may wait behind a long swap; only connecting is bounded.
LEASE_TIMEOUT = httpx.Timeout(10.0, read=None)

# The lease the current task's model calls are made under (sent as LEASE_HEADER).
_LEASE: ContextVar[str | None] = ContextVar("orquestra_lease", default=None)

_ERRORS: dict[int, type[OrquestraError]] = {
    404: ModelNotFoundError,
    409: PolicyError,
    429: ServerBusyError,
    502: BackendUnavailableError,
    503: ServerBusyError,
}


def _lease_header(request: httpx.Request) -> None:
    lease = _LEASE.get()
    if lease:
        request.headers[LEASE_HEADER] = lease


async def _alease_header(request: httpx.Request) -> None:
    _lease_header(request)


def error_of(url: str, status: int, body: bytes) -> OrquestraError:
    """The scheduler's error answer as the error it stands for."""
    try:
        data = json.loads(body)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):  # OpenAI's shape
            error = error.get("message")
        message = str(error or body.decode(errors="replace"))
    except (ValueError, AttributeError):
        message = body.decode(errors="replace")
    return _ERRORS.get(status, BackendError)(f"orquestra serve at {url}: {message}")


def unreachable(url: str) -> BackendUnavailableError:
    """The error for a scheduler that does not answer, naming the fix."""
    return BackendUnavailableError(
        f"Cannot reach orquestra serve at {url}. Start it with `orquestra serve`, point "
        "ORQUESTRA_URL at where it runs, or set ORQUESTRA_URL=none to decide in this process."
    )


class RemoteManager:
    """The manager protocol over HTTP, for one lineup, against one `orquestra serve`."""

    def __init__(
        self, url: str, settings: Settings, lineup: Lineup, trust: Trust | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.settings = settings
        self.trust = trust or Trust.of(self.url, settings)
        """How its answers are proven (each must carry the scheduler's proof)."""
        self.lineup = lineup
        """This process's lineup as the scheduler serves it (names resolved, specs pinned)."""
        self._log = SwapLog()
        self._held = 0
        self._idle: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._chats: dict[Role, BaseChatModel] = {}
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def connect(cls, url: str, settings: Settings, lineup: Lineup) -> RemoteManager:
        """A client of the scheduler at `url` for `lineup` (blocking: registers it once).

        This process's sandbox runs are reported to it from then on.

        Raises:
            PolicyError: The scheduler drives another upstream (the message names the fix).
            UntrustedServerError: What answers cannot prove it is the user's scheduler.
        """
        trust = Trust.of(url, settings)
        try:
            with httpx.Client(event_hooks=trust.event_hooks()) as http:
                response = http.post(
                    f"{trust.url}{LINEUP_PATH}", json=lineup.as_dict(), timeout=STATUS_TIMEOUT_S
                )
        except httpx.TransportError:
            raise unreachable(url) from None
        manager = cls(url, settings, _served(url, response), trust)
        report_code_runs_to(manager.url, trust.headers())
        return manager

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(
                base_url=self.url,
                timeout=LEASE_TIMEOUT,
                event_hooks=self.trust.async_event_hooks(),
            )
            self._client_loop = loop
        return self._client

    def model_for(self, role: str) -> str:
        """The model the scheduler serves `role` with, for this lineup."""
        return self.lineup.model(check_role(role))

    async def for_models(self, brain: str = "", executor: str = "") -> RemoteManager:
        """The scheduler for other models (registered now; empty names: this lineup's)."""
        wanted = self.lineup.with_models(brain, executor)
        if wanted == self.lineup:
            return self
        try:
            response = await self._http().post(
                LINEUP_PATH, json=wanted.as_dict(), timeout=STATUS_TIMEOUT_S
            )
        except httpx.TransportError:
            raise unreachable(self.url) from None
        return RemoteManager(self.url, self.settings, _served(self.url, response), self.trust)

    @contextlib.asynccontextmanager
    async def use(self, role: str) -> AsyncIterator[BaseChatModel]:
        """Hold a lease on `role`'s model at the scheduler; yields a chat model through it."""
        checked = check_role(role)
        self._held += 1
        try:
            # The whole lineup travels with each lease, so a scheduler started since (the
            # autostarted one exits when idle) serves it just the same.
            request: dict[str, Any] = {"role": checked, "lineup": self.lineup.as_dict()}
            if affinity := _thread_id():
                request["affinity"] = affinity  # a front keeps a run's calls by its KV
            async with self._http().stream("POST", LEASE_PATH, json=request) as response:
                if response.status_code != 200:
                    raise error_of(self.url, response.status_code, await response.aread())
                lines = response.aiter_lines()
                granted = json.loads(await anext(lines))
                for swap in granted.get("swaps", []):
                    self._log.record(SwapEvent.from_dict(swap))
                token = _LEASE.set(str(granted["lease"]))
                try:
                    yield self._chat_model(checked)
                finally:
                    _LEASE.reset(token)
        except httpx.TransportError:
            raise unreachable(self.url) from None
        finally:
            self._held -= 1
            if not self._held and self._idle is not None:
                self._idle.set()

    def _chat_model(self, role: Role) -> BaseChatModel:
        # One per role: building one costs tens of milliseconds (its HTTP clients), while
        # the lease it works under travels per request, from `_LEASE`.
        if role not in self._chats:
            spec = self.lineup.spec(role)
            keep_alive = spec.keep_alive
            sync_hooks, async_hooks = self.trust.event_hooks(), self.trust.async_event_hooks()
            sync_hooks["request"].append(_lease_header)
            async_hooks["request"].append(_alease_header)
            self._chats[role] = ChatOllama(
                model=spec.model,
                base_url=self.url,
                keep_alive=keep_alive if isinstance(keep_alive, str) else int(keep_alive),
                sync_client_kwargs={"event_hooks": sync_hooks},
                async_client_kwargs={"event_hooks": async_hooks},
                **spec.options,
            )
        return self._chats[role]

    async def ensure(self, role: str) -> None:
        """Make `role`'s model resident at the scheduler."""
        async with self.use(role):
            pass

    async def prefetch(self, role: str) -> None:
        """The scheduler prefetches the models that are out after each swap on its own."""
        check_role(role)

    def subscribe(self, listener: Callable[[SwapEvent], None]) -> Callable[[], None]:
        """Call `listener` with every swap made to grant this process a lease."""
        return self._log.subscribe(listener)

    @property
    def events(self) -> list[SwapEvent]:
        """Swaps made to grant this process's leases."""
        return self._log.events

    def get_status(self) -> dict[str, Any]:
        """The scheduler's status seen from this lineup, as plain data (blocking)."""
        status = ManagerStatus.from_dict(fetch_status(self.trust)).for_lineup(self.lineup)
        return status.as_dict()

    async def status(self) -> ManagerStatus:
        """The scheduler's status (the one state its clients share), seen from this lineup."""
        try:
            response = await self._http().get(STATUS_PATH, timeout=STATUS_TIMEOUT_S)
        except httpx.TransportError:
            raise unreachable(self.url) from None
        if response.status_code != 200:
            raise error_of(self.url, response.status_code, response.content)
        return ManagerStatus.from_dict(response.json()).for_lineup(self.lineup)

    def busy(self) -> bool:
        """Whether this process holds or waits for a lease."""
        return self._held > 0

    async def drained(self) -> None:
        """Return once this process holds no lease."""
        while self._held:
            self._idle = asyncio.Event()
            await self._idle.wait()

    async def aclose(self) -> None:
        """Close the connection to the scheduler (its leases are given back)."""
        client, self._client = self._client, None
        if client is not None and self._client_loop is asyncio.get_running_loop():
            await client.aclose()


def _thread_id() -> str | None:
    """The thread id of the graph run this lease is taken for, if any."""
    config = var_child_runnable_config.get() or {}
    thread = (config.get("configurable") or {}).get("thread_id")
    return str(thread) if thread else None


def _served(url: str, response: httpx.Response) -> Lineup:
    if response.status_code != 200:
        raise error_of(url, response.status_code, response.content)
    return Lineup.from_dict(response.json())


def fetch_status(trust: Trust, timeout_s: float = STATUS_TIMEOUT_S) -> dict[str, Any]:
    """The status of the scheduler `trust` proves, as plain data (blocking; raises the fix).

    Raises:
        BackendUnavailableError: Nothing answers.
        UntrustedServerError: What answers cannot prove it is the user's scheduler.
    """
    try:
        with httpx.Client(event_hooks=trust.event_hooks(), timeout=timeout_s) as http:
            response = http.get(f"{trust.url}{STATUS_PATH}")
    except httpx.TransportError:
        raise unreachable(trust.url) from None
    if response.status_code != 200:
        raise error_of(trust.url, response.status_code, response.content)
    status: dict[str, Any] = response.json()
    return status


def probe_status(trust: Trust, timeout_s: float) -> dict[str, Any] | None:
    """The status of the user's `orquestra serve` there, or None when nothing answers.

    Raises:
        UntrustedServerError: Something answers that cannot prove it is the user's.
    """
    try:
        return fetch_status(trust, timeout_s)
    except UntrustedServerError:
        raise
    except OrquestraError:
        return None


def scheduler_answers(trust: Trust, timeout_s: float) -> bool:
    """Whether the user's `orquestra serve` answers there (blocking; raises for an impostor)."""
    return probe_status(trust, timeout_s) is not None
