"""ModelManager: leases on models for every lineup, one swap at a time, the home model.

A facade over the scheduler. A request for a model (a lineup's role, or a model a plain
client names) queues in a `LeaseQueue`, which grants what `orquestra.policy.admission`
admits (same-model work batched, no model starved) and names the swap the oldest waiter
needs; `orquestra.policy.decision.decide` plans it and the `Swapper` carries it out. No
swap evicts a leased model; swaps never overlap; when idle, a lineup's home model comes
back after `ORQUESTRA_HOME_AFTER_S`. What the server holds is re-read before a lease
when the last reading is older than `ORQUESTRA_RESIDENCY_FRESH_S`, so a model unloaded
behind the manager's back is loaded again through the budget, never implicitly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any

from langchain_core.language_models import BaseChatModel

from orquestra.backends.base import LoadedModel, ModelBackend
from orquestra.errors import ModelTooLargeError, PolicyError
from orquestra.events import SwapEvent
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.lineup import Lineup, ModelSpec, Upstream
from orquestra.policy.admission import home_target
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
from orquestra.scheduler.lineups import Lineups
from orquestra.scheduler.prefetcher import Prefetcher
from orquestra.scheduler.residency import Residency
from orquestra.scheduler.sizing import footprint, read_budget
from orquestra.scheduler.status import ManagerStatus, read_status
from orquestra.scheduler.swap_log import SwapListener, SwapLog
from orquestra.scheduler.swapper import Swapper
from orquestra.settings import (
    ALL_LAYERS_ON_GPU,
    DEFAULT_NUM_CTX,
    HomeRole,
    Settings,
    check_role,
)
from orquestra.vram import NvmlProbe, VramProbe

log = logging.getLogger(__name__)


class ModelManager:
    """Makes any lineup's models resident on demand, within the VRAM budget."""

    def __init__(
        self,
        settings: Settings,
        backend: ModelBackend,
        *,
        probe: VramProbe | None = None,
        ledger: FootprintLedger | None = None,
        budget_source: str | None = None,
        lineup: Lineup | None = None,
    ) -> None:
        self.settings, self.backend = settings, backend
        self.upstream = Upstream(backend.name, backend.url)
        self.probe: VramProbe = probe or NvmlProbe(settings.gpu_index)
        self.ledger = ledger or FootprintLedger(settings.cache_dir / LEDGER_FILENAME)
        budget = read_budget(settings, self.probe)
        self.budget_bytes = budget.bytes
        self.budget_source = budget_source or budget.source  # chosen for the user, if given
        self.limits = Limits.of(settings, self.budget_bytes)
        # How old a reading of what the server holds may be before a lease trusts it: none
        # for a server that loads a model by itself when asked for it (another client may
        # have unloaded ours a moment ago, and forwarding would load it outside the budget).
        self.fresh_s = 0.0 if backend.capabilities.loads_on_request else settings.residency_fresh_s
        own = lineup or Lineup.of(settings, self.upstream)
        self.lineups = Lineups(own.resolved(backend.canonical), settings.home_role)
        self._prefetcher = Prefetcher(settings, backend)
        self._swapper = Swapper(settings, backend, self.probe, self.ledger, self._prefetcher)
        self._log = SwapLog()
        self._chats = ChatModels(backend)
        self._held = Residency(backend)
        self._home_failed = False
        self._home = HomeTimer(settings.home_after_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_error: str | None = None
        self._reset()

    @property
    def lineup(self) -> Lineup:
        """The manager's own lineup (its settings' models, named as the backend names them)."""
        return self.lineups.own

    def _on_loop(self) -> None:
        if self._loop is not asyncio.get_running_loop():
            self._loop = asyncio.get_running_loop()
            self._reset()

    def _reset(self) -> None:
        # A new event loop (a second asyncio.run, a notebook kernel): tasks and futures
        # of the old one are dead, so the queue starts empty and residency is read again.
        self._queue = LeaseQueue(self.settings.batch_limit)
        self._swap_task: asyncio.Task[None] | None = None
        self._swap_model: str | None = None
        self._home.forget()
        self._released = asyncio.Event()
        self._pumped = asyncio.Event()  # every change of leases, waiters and swaps pumps
        self._prefetcher.forget_tasks()
        self._held.read_at = float("-inf")

    # -- lineups -------------------------------------------------------------------------

    def register(self, lineup: Lineup) -> Lineup:
        """Serve `lineup` too; return it as it will be served (names resolved, specs pinned).

        Raises:
            PolicyError: It names another upstream than this manager drives.
        """
        if not lineup.upstream.same_as(self.upstream):
            raise PolicyError(
                f"This scheduler drives {self.upstream.describe()}, not "
                f"{lineup.upstream.describe()}: one scheduler drives one upstream (one GPU)."
            )
        return self.lineups.register(lineup.resolved(self.backend.canonical))

    def for_lineup(self, lineup: Lineup) -> LineupView:
        """This manager, serving `lineup`'s roles (registered now)."""
        return LineupView(self, self.register(lineup))

    async def for_models(self, brain: str = "", executor: str = "") -> ModelManager | LineupView:
        """This manager for other models (empty names: the own lineup's)."""
        wanted = self.lineup.with_models(brain, executor).resolved(self.backend.canonical)
        return self if wanted == self.lineup else self.for_lineup(wanted)

    async def spec_for(self, model: str) -> ModelSpec:
        """The spec a plain client's request for `model` is served with.

        A model no lineup names is pinned with the scheduler's default runner options,
        once the backend confirms it has it.

        Raises:
            ModelNotFoundError: The backend does not have `model` (the message names the fix).
        """
        name = self.backend.canonical(model)
        pinned = self.lineups.pinned.get(name)
        if pinned is not None:
            return pinned
        await self.backend.facts(name)
        default = {"num_ctx": DEFAULT_NUM_CTX, "num_gpu": ALL_LAYERS_ON_GPU}
        return self.lineups.pin(ModelSpec(name, default, self.lineup.brain.keep_alive))

    # -- leases --------------------------------------------------------------------------

    async def ensure(self, role: str) -> None:
        """Make `role`'s model resident under the policy (waiting for any swap it needs)."""
        async with self.use(role):
            pass

    def use(self, role: str) -> AbstractAsyncContextManager[BaseChatModel]:
        """Hold a lease on `role`'s model of the own lineup (see `lease`)."""
        return self.lease(self.lineup.spec(check_role(role)))

    @asynccontextmanager
    async def lease(self, spec: ModelSpec) -> AsyncIterator[BaseChatModel]:
        """Hold a lease on `spec`'s model and yield a chat model bound to its pinned options.

        While the lease is held no swap evicts the model. Raises the backend's clear
        errors (server unreachable, model not pulled, too large for the budget).
        """
        pinned = self.lineups.pin(spec)
        model = pinned.model
        self._on_loop()
        if self._swap_task is None and self._held.age() > self.fresh_s:
            await self.refresh()
        ticket, granted = self._queue.enter(model)
        self._pump()
        try:
            await granted
        except asyncio.CancelledError:
            if self._queue.withdraw(ticket, granted):
                self._release(model)
            self._pump()
            raise
        try:
            yield self._chats.for_spec(pinned)
        finally:
            self._release(model)

    def _release(self, model: str) -> None:
        self._queue.release(model)
        self._released.set()
        self._pump()

    def _pump(self) -> None:
        """Admit what can run now, start the swap the oldest waiter needs, arm the home timer."""
        admission = self._queue.admit(self._held.servable())
        if admission.next_model is not None and self._swap_task is None:
            self._start_swap(admission.next_model, "request")
        self._home.arm(self._home_due, self._go_home)
        self._pumped.set()

    def set_home_role(self, role: HomeRole) -> None:
        """Keep `role`'s model home from now on (`none`: none); a return home may start."""
        self.lineups.set_home_role(role)
        self._on_loop()
        self._pump()

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

    def _start_swap(self, model: str, reason: str) -> None:
        self._swap_model = model
        self._swap_task = asyncio.get_running_loop().create_task(
            self._swap(self.lineups.pinned[model], reason), name=f"orquestra-swap-{model}"
        )

    async def refresh(self) -> dict[str, LoadedModel]:
        """Re-read what the server holds, and grant or swap on what is found."""
        self._on_loop()
        try:
            loaded = await self._held.refresh()
        except Exception as exc:
            self.last_error = str(exc)
            raise
        if self._swap_task is None:
            self._pump()
        return loaded

    def forget_residency(self) -> None:
        """Make the next lease re-read what the server holds (it may have restarted)."""
        self._held.read_at = float("-inf")

    async def resident(self, model: str, max_age_s: float | None = None) -> bool:
        """Whether `model` is resident (re-read when stale).

        The server is asked again when the last reading is older than `max_age_s`
        (default: `fresh_s`).
        """
        limit = self.fresh_s if max_age_s is None else max_age_s
        if self._swap_task is None and self._held.age() > limit:
            await self.refresh()
        return model in self._held.loaded

    async def _plan(self, spec: ModelSpec) -> tuple[SwapPlan, int]:
        """Decide, waiting out `Blocked` answers until the leases in the way are released."""
        model = spec.model
        await self._held.refresh()
        if model in self._held.stopping:  # it must leave before it can load again
            await self.backend.wait_unloaded(model, self.settings.unload_timeout_s)
            await self._held.refresh()
        if model in self._held.loaded:
            return SwapPlan(), 0
        size = await footprint(self.backend, self.ledger, spec)
        while True:
            decision = decide(
                SwapRequest(
                    self.lineups.role_of(model),
                    model,
                    size,
                    frozenset(self.lineups.partners(model)),
                ),
                self._held.residents(self._queue.leases_on, self.lineups.role_of),
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

    async def _swap(self, spec: ModelSpec, reason: str) -> None:
        plan = SwapPlan()
        try:
            plan, size = await self._plan(spec)
            if plan.actions:
                self._held.evicting = frozenset(plan.unloads)
                event, self._held.loaded = await self._swapper.run(
                    plan,
                    spec=spec,
                    resident=self._held.loaded,
                    role_of=self.lineups.role_of,
                    leased=self._queue.leased_models(),
                    estimated=size,
                    reason=reason,
                )
                self._log.record(event)
                for partner in self.lineups.partners(spec.model):  # what comes next, read early
                    self._prefetcher.start(partner, self._held.loaded)
            self._home_failed, self.last_error = False, None
        except Exception as exc:
            self.last_error = str(exc)
            self._held.stopping.update(plan.unloads)  # asked to leave; the server decides when
            if reason == "home":
                self._home_failed = True
                log.warning("Could not bring the home model back: %s", exc)
            self._queue.fail(spec.model, exc)
            with suppress(Exception):
                await self._held.refresh()
        finally:
            self._held.evicting = frozenset()
            self._swap_task, self._swap_model = None, None
            self._pump()

    # -- the home model: `HomeTimer` waits while `home_target` names one ---------------

    def _home_target(self) -> str | None:
        return home_target(
            self.lineups.homes(),
            self._held.models(),
            queued=self._queue.waiting,
            leased=self._queue.leased_models(),
            swapping=self._swap_task is not None,
            failed=self._home_failed,
        )

    def _home_due(self) -> bool:
        return self._home_target() is not None

    def _go_home(self) -> None:
        target = self._home_target()
        if target is not None:
            self._start_swap(target, "home")

    async def prefetch(self, role: str) -> None:
        """Start reading `role`'s weights into the page cache in the background.

        Returns at once. Nothing happens when prefetching is off, the model is resident,
        a prefetch of it is running, or its weights are not readable on this machine.
        """
        self.prefetch_model(self.lineup.model(check_role(role)))

    def prefetch_model(self, model: str) -> None:
        """Start reading `model`'s weights into the page cache in the background."""
        self._on_loop()
        self._prefetcher.start(model, self._held.loaded)

    @property
    def prefetched(self) -> dict[str, WarmResult]:
        """Completed prefetches not yet used by a load, by canonical model name."""
        return self._prefetcher.prefetched

    def model_for(self, role: str) -> str:
        """The (canonical) model serving `role` in the own lineup."""
        return self.lineup.model(check_role(role))

    def subscribe(self, listener: SwapListener) -> Callable[[], None]:
        """Call `listener` with every swap event; returns a function that unsubscribes."""
        return self._log.subscribe(listener)

    @property
    def events(self) -> list[SwapEvent]:
        """Swap events so far (the most recent ones)."""
        return self._log.events

    def snapshot(self) -> ManagerStatus:
        """Residency, VRAM and swap figures now, seen from the own lineup."""
        return read_status(
            self.settings,
            self.backend,
            self.probe,
            self.lineups,
            self.upstream,
            self._held,
            self._queue,
            self._log,
            budget=Budget(self.budget_bytes, self.budget_source),
            swapping_to=self._swap_model,
            last_error=self.last_error,
        )

    async def status(self) -> ManagerStatus:
        """`snapshot()`, awaitable like a remote scheduler's."""
        return self.snapshot()

    def get_status(self) -> dict[str, Any]:
        """The status as plain data (the founding design's keys, and more)."""
        return self.snapshot().as_dict()

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


class LineupView:
    """One manager, serving another lineup's roles (what a run naming other models gets)."""

    def __init__(self, manager: ModelManager, lineup: Lineup) -> None:
        self.manager = manager
        self.lineup = lineup
        self.settings = manager.settings

    def use(self, role: str) -> AbstractAsyncContextManager[BaseChatModel]:
        """Hold a lease on `role`'s model of this lineup."""
        return self.manager.lease(self.lineup.spec(check_role(role)))

    async def ensure(self, role: str) -> None:
        """Make `role`'s model of this lineup resident."""
        async with self.use(role):
            pass

    async def prefetch(self, role: str) -> None:
        """Start reading `role`'s weights into the page cache in the background."""
        self.manager.prefetch_model(self.lineup.model(check_role(role)))

    async def for_models(self, brain: str = "", executor: str = "") -> ModelManager | LineupView:
        """The manager for other models (empty names: this lineup's)."""
        wanted = self.lineup.with_models(brain, executor)
        return self if wanted == self.lineup else self.manager.for_lineup(wanted)

    def subscribe(self, listener: SwapListener) -> Callable[[], None]:
        """Call `listener` with every swap event of the manager."""
        return self.manager.subscribe(listener)

    async def status(self) -> ManagerStatus:
        """The manager's status, seen from this lineup."""
        return self.manager.snapshot().for_lineup(self.lineup)

    def get_status(self) -> dict[str, Any]:
        """The status as plain data, seen from this lineup."""
        return self.manager.snapshot().for_lineup(self.lineup).as_dict()

    def busy(self) -> bool:
        """Whether the manager is busy (for any lineup)."""
        return self.manager.busy()

    async def drained(self) -> None:
        """Return once the manager is idle."""
        await self.manager.drained()

    async def aclose(self) -> None:
        """The manager is shared: closing a view closes nothing."""
