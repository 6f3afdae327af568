"""ModelManager: leases on the brain and the executor, one swap at a time, the home model.

A facade over the scheduler. A request for a role queues in a `LeaseQueue`, which grants
what `orquestra.policy.admission` admits (same-model work batched, no role starved) and
names the swap the oldest waiter needs; `orquestra.policy.decision.decide` plans it and
the `Swapper` carries it out. No swap evicts a leased model; swaps never overlap; when
idle, the home model comes back after `ORQUESTRA_HOME_AFTER_S`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from langchain_core.language_models import BaseChatModel

from orquestra.backends.base import LoadedModel, ModelBackend
from orquestra.errors import ModelTooLargeError, PolicyError
from orquestra.events import SwapEvent
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.policy.admission import home_due
from orquestra.policy.budget import Budget
from orquestra.policy.decision import (
    Blocked,
    Limits,
    Refusal,
    SwapPlan,
    SwapRequest,
    decide,
)
from orquestra.prefetch import WarmResult
from orquestra.scheduler.chat_models import ChatModels
from orquestra.scheduler.home import HomeTimer
from orquestra.scheduler.leases import LeaseQueue
from orquestra.scheduler.prefetcher import Prefetcher
from orquestra.scheduler.residency import Residency
from orquestra.scheduler.sizing import footprint, read_budget
from orquestra.scheduler.status import ManagerStatus, read_status
from orquestra.scheduler.swap_log import SwapListener, SwapLog
from orquestra.scheduler.swapper import Swapper
from orquestra.settings import ROLES, Role, Settings, check_role
from orquestra.vram import NvmlProbe, VramProbe

log = logging.getLogger(__name__)


class ModelManager:
    """Makes the brain or the executor resident on demand, within the VRAM budget."""

    def __init__(
        self,
        settings: Settings,
        backend: ModelBackend,
        *,
        probe: VramProbe | None = None,
        ledger: FootprintLedger | None = None,
        budget_source: str | None = None,
    ) -> None:
        self.settings, self.backend = settings, backend
        self.probe: VramProbe = probe or NvmlProbe(settings.gpu_index)
        self.ledger = ledger or FootprintLedger(settings.cache_dir / LEDGER_FILENAME)
        budget = read_budget(settings, self.probe)
        self.budget_bytes = budget.bytes
        self.budget_source = budget_source or budget.source  # chosen for the user, if given
        self.limits = Limits.of(settings, self.budget_bytes)
        self._models = {r: backend.canonical(settings.model_for(r)) for r in ROLES}
        self._prefetcher = Prefetcher(settings, backend, self._models)
        self._swapper = Swapper(settings, backend, self.probe, self.ledger, self._prefetcher)
        self._log = SwapLog()
        self._chats = ChatModels(settings, backend)
        self._held = Residency(backend, self._models)
        self._home_failed = False
        self._home = HomeTimer(settings.home_after_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_error: str | None = None
        self._reset()

    def _on_loop(self) -> None:
        if self._loop is not asyncio.get_running_loop():
            self._loop = asyncio.get_running_loop()
            self._reset()

    def _reset(self) -> None:
        # A new event loop (a second asyncio.run, a notebook kernel): tasks and futures
        # of the old one are dead, so the queue starts empty and residency is read again.
        self._queue = LeaseQueue(self._models, self.settings.batch_limit)
        self._swap_task: asyncio.Task[None] | None = None
        self._swap_role: Role | None = None
        self._home.forget()
        self._released = asyncio.Event()
        self._pumped = asyncio.Event()  # every change of leases, waiters and swaps pumps
        self._prefetcher.forget_tasks()

    # -- leases --------------------------------------------------------------------------

    async def ensure(self, role: str) -> None:
        """Make `role`'s model resident under the policy (waiting for any swap it needs)."""
        async with self.use(role):
            pass

    @asynccontextmanager
    async def use(self, role: str) -> AsyncIterator[BaseChatModel]:
        """Hold a lease on `role`'s model and yield a chat model bound to its pinned options.

        While the lease is held no swap evicts the model. Raises the backend's clear
        errors (Ollama unreachable, model not pulled, too large for the budget).
        """
        checked = check_role(role)
        self._on_loop()
        ticket, granted = self._queue.enter(checked)
        self._pump()
        try:
            await granted
        except asyncio.CancelledError:
            if self._queue.withdraw(ticket, granted):
                self._release(checked)
            self._pump()
            raise
        try:
            yield self._chats.for_role(checked)
        finally:
            self._release(checked)

    def _release(self, role: Role) -> None:
        self._queue.release(self._models[role])
        self._released.set()
        self._pump()

    def _pump(self) -> None:
        """Admit what can run now, start the swap the oldest waiter needs, arm the home timer."""
        admission = self._queue.admit(self._held.servable())
        if admission.next_role is not None and self._swap_task is None:
            self._start_swap(admission.next_role, "request")
        self._home.arm(self._home_due, self._go_home)
        self._pumped.set()

    def busy(self) -> bool:
        """Whether a lease is held, a request waits or a swap runs on this event loop."""
        if self._loop is not asyncio.get_running_loop():
            return False  # nothing of another (finished) loop can still be running
        return not self._queue.idle or self._swap_task is not None

    async def drained(self) -> None:
        """Return once no lease is held, no request waits and no swap runs."""
        while self.busy():
            self._pumped.clear()
            await self._pumped.wait()

    # -- swaps ---------------------------------------------------------------------------

    def _start_swap(self, role: Role, reason: str) -> None:
        self._swap_role = role
        self._swap_task = asyncio.get_running_loop().create_task(
            self._swap(role, reason), name=f"orquestra-swap-{role}"
        )

    async def refresh(self) -> dict[str, LoadedModel]:
        """Re-read what the server holds (the manager also does this before every swap)."""
        return await self._held.refresh()

    async def _plan(self, role: Role) -> tuple[SwapPlan, int]:
        """Decide, waiting out `Blocked` answers until the leases in the way are released."""
        model = self._models[role]
        await self._held.refresh()
        if model in self._held.stopping:  # it must leave before it can load again
            await self.backend.wait_unloaded(model, self.settings.unload_timeout_s)
            await self._held.refresh()
        if model in self._held.loaded:
            return SwapPlan(), 0
        size = await footprint(self.backend, self.ledger, self.settings, role)
        while True:
            decision = decide(
                SwapRequest(role, model, size),
                self._held.residents(self._queue.leases_on),
                self.limits,
            )
            if isinstance(decision, Blocked):
                self._released.clear()
                self._pump()  # admissions may have changed now that residency is fresh
                await self._released.wait()
                await self._held.refresh()
            elif isinstance(decision, Refusal):
                error = ModelTooLargeError if decision.kind == "too_large" else PolicyError
                raise error(decision.reason)
            else:
                return decision, size

    async def _swap(self, role: Role, reason: str) -> None:
        plan = SwapPlan()
        try:
            plan, size = await self._plan(role)
            if plan.actions:
                self._held.evicting = frozenset(plan.unloads)
                event, self._held.loaded = await self._swapper.run(
                    plan,
                    resident=self._held.loaded,
                    roles={model: r for r, model in self._models.items()},
                    leased=self._queue.leased_models(),
                    estimated=size,
                    reason=reason,
                )
                self._log.record(event)
                for other in ROLES:  # whatever comes next brings the model that is out back
                    self._prefetcher.start(other, self._held.loaded)
            self._home_failed, self.last_error = False, None
        except Exception as exc:
            self.last_error = str(exc)
            self._held.stopping.update(plan.unloads)  # asked to leave; the server decides when
            if reason == "home":
                self._home_failed = True
                log.warning("Could not bring the home model back: %s", exc)
            self._queue.fail(role, exc)
            with suppress(Exception):
                await self._held.refresh()
        finally:
            self._held.evicting = frozenset()
            self._swap_task, self._swap_role = None, None
            self._pump()

    # -- the home model: `HomeTimer` waits while `home_due` holds ----------------------

    def _home_due(self) -> bool:
        home = self.settings.home_role
        return home_due(
            None if home == "none" else home,
            self._held.roles(),
            queued=self._queue.waiting,
            leased=self._queue.leased_roles(),
            swapping=self._swap_task is not None,
            failed=self._home_failed,
        )

    def _go_home(self) -> None:
        if self.settings.home_role != "none":
            self._start_swap(self.settings.home_role, "home")

    async def prefetch(self, role: str) -> None:
        """Start reading `role`'s weights into the page cache in the background.

        Returns at once. Nothing happens when prefetching is off, the model is resident,
        a prefetch of it is running, or its weights are not readable on this machine.
        """
        checked = check_role(role)
        self._on_loop()
        self._prefetcher.start(checked, self._held.loaded)

    @property
    def prefetched(self) -> dict[str, WarmResult]:
        """Completed prefetches not yet used by a load, by canonical model name."""
        return self._prefetcher.prefetched

    def model_for(self, role: str) -> str:
        """The (canonical) model tag serving `role`."""
        return self._models[check_role(role)]

    def subscribe(self, listener: SwapListener) -> Callable[[], None]:
        """Call `listener` with every swap event; returns a function that unsubscribes."""
        return self._log.subscribe(listener)

    @property
    def events(self) -> list[SwapEvent]:
        """Swap events so far (the most recent ones)."""
        return self._log.events

    def status(self) -> ManagerStatus:
        """Residency, VRAM and swap figures now."""
        return read_status(
            self.settings,
            self.backend,
            self.probe,
            self._models,
            self._held,
            self._queue,
            self._log,
            budget=Budget(self.budget_bytes, self.budget_source),
            swapping_to=self._swap_role,
            last_error=self.last_error,
        )

    def get_status(self) -> dict[str, Any]:
        """`status()` as plain data (the founding design's keys, and more)."""
        return self.status().as_dict()

    async def astatus(self) -> dict[str, Any]:
        """`get_status()`, awaitable like a remote scheduler's."""
        return self.get_status()

    async def aclose(self) -> None:
        """Stop background work and close the backend's connections."""
        await self._home.cancel()
        if self._swap_task is not None and not self._swap_task.done():
            self._swap_task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._swap_task
        self._swap_task = None
        await self._prefetcher.cancel()
        await self.backend.aclose()
