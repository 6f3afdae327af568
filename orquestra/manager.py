"""ModelManager: leases on the brain and the executor, one swap at a time, the home model.

A facade over the scheduler. Callers ask for a role (`ensure`, `use`); the request
queues in a `LeaseQueue`, which grants what `orquestra.policy.admission` admits (same-model
work batched, the other role never starved) and names the swap the oldest waiter needs.
The manager plans that swap with `orquestra.policy.decision.decide` and hands the plan to
the `Swapper`, which carries it out. No swap ever evicts a model while a lease on it is
held, and swaps never overlap. When nothing runs, the home model comes back after
`ORQUESTRA_HOME_AFTER_S`.
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
from orquestra.policy.decision import (
    GIB,
    Blocked,
    Limits,
    Refusal,
    Resident,
    SwapPlan,
    SwapRequest,
    decide,
    gib,
)
from orquestra.prefetch import WarmResult
from orquestra.scheduler.leases import LeaseQueue
from orquestra.scheduler.prefetcher import Prefetcher
from orquestra.scheduler.sizing import footprint, read_budget
from orquestra.scheduler.status import ManagerStatus
from orquestra.scheduler.swap_log import SwapListener, SwapLog
from orquestra.scheduler.swapper import Swapper
from orquestra.settings import ROLES, Role, Settings
from orquestra.vram import NvmlProbe, VramProbe

log = logging.getLogger(__name__)


def _check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ValueError(f"Unknown role {role!r}: use 'brain' or 'executor'.")


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
        self.limits = Limits(
            budget=self.budget_bytes,
            policy=settings.swap_policy,
            margin=int(settings.vram_margin_gb * GIB),
            allow_partial_offload=settings.allow_partial_offload,
        )
        self._models = {r: backend.canonical(settings.model_for(r)) for r in ROLES}
        self._prefetcher = Prefetcher(settings, backend, self._models)
        self._swapper = Swapper(settings, backend, self.probe, self.ledger, self._prefetcher)
        self._log = SwapLog()
        self._chat_models: dict[Role, BaseChatModel] = {}
        self._resident: dict[str, LoadedModel] = {}
        # Models asked to unload by a swap that then failed: the server may still list
        # them, but they are leaving, so no request is granted them until they are gone.
        self._stopping: set[str] = set()
        self._home_failed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_error: str | None = None
        self._bind_loop(None)

    def _bind_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        # A new event loop (a second asyncio.run, a notebook kernel): tasks and futures
        # of the old one are dead, so the queue starts empty and residency is read again.
        self._loop = loop
        self._queue = LeaseQueue(self._models, self.settings.batch_limit)
        self._evicting: frozenset[str] = frozenset()
        self._swap_task: asyncio.Task[None] | None = None
        self._swap_role: Role | None = None
        self._home_task: asyncio.Task[None] | None = None
        self._released = asyncio.Event()
        self._pumped = asyncio.Event()  # every change of leases, waiters and swaps pumps
        self._prefetcher.forget_tasks()

    def _on_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._bind_loop(loop)

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
        checked = _check_role(role)
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
            yield self._chat_model(checked)
        finally:
            self._release(checked)

    def _release(self, role: Role) -> None:
        self._queue.release(self._models[role])
        self._released.set()
        self._pump()

    def _servable(self) -> frozenset[Role]:
        gone = self._evicting | self._stopping
        return frozenset(r for r in ROLES if self._models[r] in self._resident.keys() - gone)

    def _pump(self) -> None:
        """Admit what can run now, start the swap the oldest waiter needs, arm the home timer."""
        admission = self._queue.admit(self._servable())
        if admission.next_role is not None and self._swap_task is None:
            self._start_swap(admission.next_role, "request")
        self._arm_home()
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

    def _chat_model(self, role: Role) -> BaseChatModel:
        if role in self._chat_models:
            return self._chat_models[role]
        chat = self.backend.chat_model(
            self.settings.model_for(role),
            self.settings.options_for(role),
            self.settings.keep_alive_for(role),
        )
        if self.backend.capabilities.reusable_chat_models:
            self._chat_models[role] = chat
        return chat

    # -- swaps ---------------------------------------------------------------------------

    def _start_swap(self, role: Role, reason: str) -> None:
        self._swap_role = role
        self._swap_task = asyncio.get_running_loop().create_task(
            self._swap(role, reason), name=f"orquestra-swap-{role}"
        )

    async def refresh(self) -> dict[str, LoadedModel]:
        """Re-read what the server holds (the manager also does this before every swap)."""
        self._resident = {self.backend.canonical(m.name): m for m in await self.backend.loaded()}
        self._stopping &= self._resident.keys()
        return dict(self._resident)

    def _residents(self) -> list[Resident]:
        roles = {model: role for role, model in self._models.items()}
        leases = self._queue.leases_on
        return [
            Resident(name, m.size_vram, leases=leases(name), role=roles.get(name))
            for name, m in self._resident.items()
        ]

    async def _plan(self, role: Role) -> tuple[SwapPlan, int]:
        """Decide, waiting out `Blocked` answers until the leases in the way are released."""
        model = self._models[role]
        await self.refresh()
        if model in self._stopping:  # it must leave before it can load again
            await self.backend.wait_unloaded(model, self.settings.unload_timeout_s)
            await self.refresh()
        if model in self._resident:
            return SwapPlan(), 0
        size = await footprint(
            self.backend,
            self.ledger,
            self.settings.model_for(role),
            self.settings.options_for(role),
        )
        while True:
            decision = decide(SwapRequest(role, model, size), self._residents(), self.limits)
            if isinstance(decision, Blocked):
                self._released.clear()
                self._pump()  # admissions may have changed now that residency is fresh
                await self._released.wait()
                await self.refresh()
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
                self._evicting = frozenset(plan.unloads)
                event, self._resident = await self._swapper.run(
                    plan,
                    resident=self._resident,
                    roles={model: r for r, model in self._models.items()},
                    leased=self._queue.leased_models(),
                    estimated=size,
                    reason=reason,
                )
                self._log.record(event)
                for other in ROLES:  # whatever comes next brings the model that is out back
                    self._prefetcher.start(other, self._resident)
            self._home_failed, self.last_error = False, None
        except Exception as exc:
            self.last_error = str(exc)
            self._stopping.update(plan.unloads)  # asked to leave; the server decides when
            if reason == "home":
                self._home_failed = True
                log.warning("Could not bring the home model back: %s", exc)
            self._queue.fail(role, exc)
            with suppress(Exception):
                await self.refresh()
        finally:
            self._evicting = frozenset()
            self._swap_task, self._swap_role = None, None
            self._pump()

    # -- the home model ------------------------------------------------------------------

    def _home_due(self) -> bool:
        home = self.settings.home_role
        return home_due(
            None if home == "none" else home,
            frozenset(r for r in ROLES if self._models[r] in self._resident),
            queued=self._queue.waiting,
            leased=self._queue.leased_roles(),
            swapping=self._swap_task is not None,
            failed=self._home_failed,
        )

    def _arm_home(self) -> None:
        due = self._home_due()
        if due and self._home_task is None:
            self._home_task = asyncio.get_running_loop().create_task(
                self._go_home(), name="orquestra-home"
            )
        elif not due and self._home_task is not None:
            self._home_task.cancel()
            self._home_task = None

    async def _go_home(self) -> None:
        try:
            await asyncio.sleep(self.settings.home_after_s)
        except asyncio.CancelledError:
            return
        self._home_task = None
        home = self.settings.home_role
        if home != "none" and self._home_due():
            self._start_swap(home, "home")

    # -- prefetch, events, status --------------------------------------------------------

    async def prefetch(self, role: str) -> None:
        """Start reading `role`'s weights into the page cache in the background.

        Returns at once. Nothing happens when prefetching is off, the model is resident,
        a prefetch of it is running, or its weights are not readable on this machine.
        """
        checked = _check_role(role)
        self._on_loop()
        self._prefetcher.start(checked, self._resident)

    @property
    def prefetched(self) -> dict[str, WarmResult]:
        """Completed prefetches not yet used by a load, by canonical model name."""
        return self._prefetcher.prefetched

    def model_for(self, role: str) -> str:
        """The (canonical) model tag serving `role`."""
        return self._models[_check_role(role)]

    def subscribe(self, listener: SwapListener) -> Callable[[], None]:
        """Call `listener` with every swap event; returns a function that unsubscribes."""
        return self._log.subscribe(listener)

    @property
    def events(self) -> list[SwapEvent]:
        """Swap events so far (the most recent ones)."""
        return self._log.events

    def status(self) -> ManagerStatus:
        """Residency, VRAM and swap figures now."""
        resident = [r for r in ROLES if self._models[r] in self._resident]
        last_role = self._queue.last_granted
        current = last_role if last_role in resident else next(iter(resident), None)
        reading = self.probe.read()
        used = reading.used if reading else sum(m.size_vram for m in self._resident.values())
        last_s, last = ManagerStatus.last_of(self._log.events)
        leases = self._queue.leases_on
        return ManagerStatus(
            current_model=self._models[current] if current else None,
            current_role=current,
            vram_used_gb=gib(used),
            vram_total_gb=gib(reading.total if reading else self.budget_bytes),
            brain_loaded="brain" in resident,
            executor_loaded="executor" in resident,
            brain_model=self._models["brain"],
            executor_model=self._models["executor"],
            policy=self.settings.swap_policy,
            budget_gb=gib(self.budget_bytes),
            budget_source=self.budget_source,
            nvml=reading is not None,
            backend=self.backend.name,
            suspended=self.backend.suspended(),
            swaps=self._log.count,
            last_swap_s=last_s,
            last_swap=last,
            swapping_to=self._swap_role,
            leases={r: leases(self._models[r]) for r in ROLES},
            queued=self._queue.queued(),
            home_role=self.settings.home_role,
            last_error=self.last_error,
        )

    def get_status(self) -> dict[str, Any]:
        """`status()` as plain data (the founding design's keys, and more)."""
        return self.status().as_dict()

    async def aclose(self) -> None:
        """Stop background work and close the backend's connections."""
        for task in (self._home_task, self._swap_task):
            if task is not None and not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await task
        self._home_task = self._swap_task = None
        await self._prefetcher.cancel()
        await self.backend.aclose()
